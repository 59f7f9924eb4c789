//! `ao doctor` says what is missing and fails when something required is.

use ao_tests::TestEnv;
use std::path::{Path, PathBuf};

/// A PATH directory holding links to the named real tools, plus a fake `claude`.
fn path_with(env: &TestEnv, tools: &[&str], with_claude: bool) -> PathBuf {
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in tools {
        let real = ao_tests_which(tool)
            .unwrap_or_else(|| panic!("{tool} must be installed for this test"));
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    if with_claude {
        let script = bin.join("claude");
        std::fs::write(&script, "#!/bin/sh\necho '9.9.9 (Claude Code)'\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn ao_tests_which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn project(env: &TestEnv) -> PathBuf {
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "projects:\n  app:\n    path: .\n",
    )
    .unwrap();
    repo
}

fn run_with_path(env: &mut TestEnv, repo: &Path, bin: &Path) -> ao_tests::Run {
    env.set("PATH", bin);
    env.ao(repo, &["doctor"])
}

#[test]
fn fails_and_says_how_to_fix_a_missing_tmux_and_agent() {
    let mut env = TestEnv::new();
    let repo = project(&env);
    let bin = path_with(&env, &["git"], false);
    let run = run_with_path(&mut env, &repo, &bin);
    run.code(1)
        .stdout_has("FAIL  tmux")
        .stdout_has("apt-get install tmux")
        .stdout_has("FAIL  agent claude-code")
        .stdout_has("npm install -g @anthropic-ai/claude-code");
}

#[test]
fn passes_when_everything_required_is_there() {
    let mut env = TestEnv::new();
    let repo = project(&env);
    // Tests run as root: say this is a sandbox, as a user running ao as root would.
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "projects:\n  app:\n    path: .\n    agentConfig:\n      env:\n        IS_SANDBOX: \"1\"\n",
    )
    .unwrap();
    let bin = path_with(&env, &["git", "tmux"], true);
    let gh = ao_tests::github::FakeGitHub::start();
    env.set("GH_TOKEN", ao_tests::github::TOKEN);
    env.set("GITHUB_API_URL", &gh.url);
    let run = run_with_path(&mut env, &repo, &bin);
    run.success()
        .stdout_has("ok    config")
        .stdout_has("claude: 9.9.9 (Claude Code)")
        .stdout_has("token from $GH_TOKEN")
        .stdout_has("ok    github api")
        .stdout_has("ok    store");
    assert!(!run.stdout.contains("FAIL"), "{}", run.explain());
}

#[test]
fn without_a_config_it_points_at_ao_init() {
    let mut env = TestEnv::new();
    env.set("XDG_CONFIG_HOME", env.root().join("xdg"));
    let run = env.ao(&env.root(), &["doctor", "--json"]);
    run.code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(report["ok"], false);
    let config = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "config")
        .unwrap();
    assert_eq!(config["status"], "fail");
    assert_eq!(config["fix"], "run `ao init` in your repository");
    // A look outside any repository leaves nothing behind.
    let db = env.ao_home.join("ao.db");
    assert!(!db.exists(), "ao doctor made {}", db.display());
    let store = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "store")
        .unwrap();
    assert_eq!(store["status"], "ok");
    assert!(
        store["detail"].as_str().unwrap().starts_with("none yet"),
        "{store}"
    );
}

#[test]
fn predicts_that_the_agent_cannot_run() {
    let mut env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "projects:\n  app:\n    path: .\n  tools:\n    path: .\n    sessionPrefix: t\n    agent: command\n    agentConfig:\n      command: [toy-agent-not-installed]\n",
    )
    .unwrap();
    let bin = path_with(&env, &["git", "tmux"], true);
    env.set("GH_TOKEN", "x");
    let run = run_with_path(&mut env, &repo, &bin);
    run.code(1)
        .stdout_has("FAIL  agent command (tools)")
        .stdout_has("`toy-agent-not-installed` is not on PATH");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        run.stdout_has("FAIL  agent claude-code (app)")
            .stdout_has("refuses permissions: permissionless")
            .stdout_has("IS_SANDBOX");
    }
}
