//! The command surface: usage errors, completions, plugin listing.

use ao_tests::TestEnv;

#[test]
fn bad_usage_exits_2() {
    let env = TestEnv::new();
    let run = env.ao(&env.root(), &["no-such-command"]);
    run.code(2).stderr_has("no-such-command");
}

#[test]
fn completions_name_the_commands() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = env.ao(&env.root(), &["completions", shell]);
        run.success().stdout_has("doctor");
    }
}

#[test]
fn plugin_ls_lists_every_built_in_by_slot() {
    let env = TestEnv::new();
    let run = env.ao(&env.root(), &["plugin", "ls", "--json"]);
    run.success();
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).expect("JSON");
    let has = |slot: &str, name: &str| list.iter().any(|p| p["slot"] == slot && p["name"] == name);
    for (slot, name) in [
        ("runtime", "tmux"),
        ("runtime", "process"),
        ("agent", "claude-code"),
        ("agent", "codex"),
        ("agent", "aider"),
        ("agent", "opencode"),
        ("agent", "command"),
        ("workspace", "worktree"),
        ("workspace", "clone"),
        ("tracker", "github"),
        ("scm", "github"),
        ("notifier", "desktop"),
        ("notifier", "slack"),
        ("notifier", "webhook"),
        ("notifier", "discord"),
    ] {
        assert!(
            has(slot, name),
            "{slot} {name} missing from\n{}",
            run.stdout
        );
    }
    assert!(
        list.iter()
            .all(|p| p["version"] == env!("CARGO_PKG_VERSION"))
    );
    let table = env.ao(&env.root(), &["plugin", "ls"]);
    table.success().stdout_has("SLOT").stdout_has("claude-code");
}

#[test]
fn config_schema_prints_json_schema() {
    let env = TestEnv::new();
    let run = env.ao(&env.root(), &["config", "schema"]);
    run.success();
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(schema["required"], serde_json::json!(["projects"]));
    assert!(schema["properties"]["projects"].is_object());
}

#[test]
fn a_config_named_by_a_bare_file_name_resolves_paths_beside_it() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "projects:\n  app:\n    path: .\n",
    )
    .unwrap();
    env.ao(&repo, &["config", "validate", "agent-orchestrator.yaml"])
        .success()
        .stdout_has("is valid");
}
