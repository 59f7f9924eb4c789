//! The store shared by every ao process.

use ao_tests::{Run, TestEnv, bin_dir};
use std::collections::BTreeSet;

#[test]
fn twenty_processes_reserving_at_once_never_share_an_id() {
    let env = TestEnv::new();
    let home = env.ao_home.to_str().unwrap().to_owned();
    let program = bin_dir().join("reserve-ids");
    let children: Vec<_> = (0..20)
        .map(|_| {
            let mut cmd = env.command(&program);
            cmd.args([&home, "app", "app", "5"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().expect("reserve-ids starts")
        })
        .collect();
    let mut ids = BTreeSet::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a reserving process failed: {stderr}");
        assert!(
            !stderr.contains("locked"),
            "a lock error reached the user: {stderr}"
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            assert!(
                ids.insert(line.to_owned()),
                "id {line} was handed out twice"
            );
        }
    }
    let expected: BTreeSet<String> = (1..=100).map(|n| format!("app-{n}")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn a_store_written_by_a_newer_ao_is_refused_with_a_clear_message() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "projects:\n  app:\n    path: .\n",
    )
    .unwrap();
    // Create the store, then pretend a newer ao migrated it.
    drop(ao_core::store::Store::open(&env.ao_home).unwrap());
    let conn = rusqlite::Connection::open(env.ao_home.join("ao.db")).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let run: Run = env.ao(&repo, &["doctor"]);
    run.code(1)
        .stdout_has("FAIL  store")
        .stdout_has("schema version 999, newer than this ao understands")
        .stdout_has("upgrade ao");
}
