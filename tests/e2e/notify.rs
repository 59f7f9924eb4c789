//! Notifications: routing by priority, every notifier at once with its own time-out,
//! every outcome recorded, through `ao notify` and `ao doctor --test-notify`, with the
//! example file notifier and the misbehaving test notifier (real plugin libraries).

use ao_tests::{Fleet, plugin_lib};

fn lib(package: &str) -> String {
    plugin_lib(package).display().to_string()
}

/// A fleet with two file notifiers (`urgent.jsonl`, `info.jsonl` beside the config) and
/// `extra` appended to the config.
fn notify_fleet(extra: &str) -> Fleet {
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{config}plugins:\n  - name: file-notifier\n    path: {}\n  - name: misbehaving\n    path: {}\nnotifiers:\n  loud:\n    plugin: file-notifier\n    path: urgent.jsonl\n  quiet:\n    plugin: file-notifier\n    path: info.jsonl\n{extra}",
            lib("ao-example-file-notifier"),
            lib("ao-test-plugin-misbehaving"),
        ),
    )
    .unwrap();
    f
}

fn lines(f: &Fleet, file: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(f.repo.join(file))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `notified` events in the store, as (notifier, outcome).
fn notified(f: &Fleet) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open_with_flags(
        f.env.ao_home.join("ao.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare("SELECT json_extract(payload, '$.notifier'), json_extract(payload, '$.outcome') FROM events WHERE kind = 'notified' ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn notify_routes_by_priority_and_records_every_outcome() {
    let f = notify_fleet("notificationRouting:\n  urgent: [loud, quiet]\n  info: [quiet]\n");
    f.ao(&[
        "notify",
        "--priority",
        "urgent",
        "CI is red",
        "build failed on main",
    ])
    .success()
    .stdout_has("ok    loud   delivered in")
    .stdout_has("ok    quiet  delivered in");
    f.ao(&["notify", "-p", "info", "FYI"]).success();
    let loud = lines(&f, "urgent.jsonl");
    assert_eq!(loud.len(), 1);
    assert_eq!(loud[0]["title"], "CI is red");
    assert_eq!(lines(&f, "info.jsonl").len(), 2);
    // Nothing routes warnings: said, and a failure.
    f.ao(&["notify", "-p", "warning", "Nobody hears this"])
        .code(1)
        .stderr_has("nothing was sent: no notifier hears warning events");
    assert_eq!(
        notified(&f),
        [
            ("loud".into(), "delivered".into()),
            ("quiet".into(), "delivered".into()),
            ("quiet".into(), "delivered".into())
        ]
    );
    // `ao notify` is never held back as a repeat.
    f.ao(&["notify", "-p", "info", "FYI"]).success();
    assert_eq!(lines(&f, "info.jsonl").len(), 3);
}

#[test]
fn a_hanging_notifier_is_cut_off_at_its_own_time_out_and_the_others_deliver() {
    let f = notify_fleet(
        "  stuck:\n    plugin: misbehaving\n    mode: hang\n    timeoutMs: 300\ndefaults:\n  notifiers: [stuck, loud]\n",
    );
    let run = f.ao(&["notify", "Needs you", "a question is waiting"]);
    run.success()
        .stdout_has("FAIL  stuck  failed after 300 ms: no answer within 300 ms")
        .stdout_has("ok    loud   delivered in");
    assert_eq!(lines(&f, "urgent.jsonl").len(), 1);
    assert_eq!(
        notified(&f),
        [
            ("stuck".into(), "timed_out".into()),
            ("loud".into(), "delivered".into())
        ]
    );
    // Only failures: exit 1, each said.
    std::fs::write(
        f.repo.join("agent-orchestrator.yaml"),
        std::fs::read_to_string(f.repo.join("agent-orchestrator.yaml"))
            .unwrap()
            .replace("notifiers: [stuck, loud]", "notifiers: [stuck]"),
    )
    .unwrap();
    f.ao(&["notify", "Needs you"])
        .code(1)
        .stdout_has("FAIL  stuck")
        .stderr_has("no notifier delivered it");
}

#[test]
fn a_bad_time_out_or_dedup_window_is_refused_where_it_is_written() {
    let f = notify_fleet(
        "  stuck:\n    plugin: misbehaving\n    timeoutMs: soon\nnotificationDedupWindow: 5 minutes\n",
    );
    let run = f.ao(&["config", "validate"]);
    run.code(2)
        .stderr_has("`timeoutMs` must be a whole number of milliseconds above 0")
        .stderr_has("notificationDedupWindow `5 minutes` is not a duration");
}

#[test]
fn notify_names_its_session_and_refuses_an_unknown_one() {
    let f = notify_fleet("defaults:\n  notifiers: [loud]\n");
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    f.ao(&["notify", "--session", "app-1", "About app-1"])
        .success();
    let loud = lines(&f, "urgent.jsonl");
    assert_eq!(loud[0]["session"], "app-1");
    assert_eq!(loud[0]["project"], "app");
    f.ao(&["notify", "--session", "app-9", "Nobody"])
        .code(1)
        .stderr_has("there is no session app-9");
    f.ao(&["session", "kill", "app-1"]).success();
}
