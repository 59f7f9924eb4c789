//! `ao init` in real repositories.

use ao_tests::TestEnv;
use std::path::Path;

fn config(repo: &Path) -> String {
    std::fs::read_to_string(repo.join("agent-orchestrator.yaml")).expect("ao init wrote the file")
}

#[test]
fn writes_a_valid_commented_config_and_the_schema() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin("rocket", "main");
    env.git(
        &repo,
        &[
            "remote",
            "set-url",
            "origin",
            "https://github.com/acme/rocket.git",
        ],
    );
    let run = env.ao(&repo, &["init", "--auto"]);
    run.success().stdout_has("wrote").stdout_has("acme/rocket");
    let text = config(&repo);
    let schema = env
        .ao_home
        .join("schema")
        .join("agent-orchestrator.schema.json");
    assert!(
        text.starts_with(&format!(
            "# yaml-language-server: $schema={}\n",
            schema.display()
        )),
        "modeline first:\n{text}"
    );
    assert!(schema.is_file());
    assert!(text.contains("repo: \"acme/rocket\""), "{text}");
    assert!(text.contains("  rocket:"), "{text}");
    env.ao(&repo, &["config", "validate"])
        .success()
        .stdout_has("1 project");
    assert!(
        !env.ao(&repo, &["config", "validate"])
            .stderr
            .contains("warning")
    );
}

#[test]
fn detects_owner_and_repo_from_every_url_form() {
    let env = TestEnv::new();
    for (i, (url, slug, host)) in [
        ("https://github.com/acme/one.git", "acme/one", None),
        ("ssh://git@github.com/acme/two.git", "acme/two", None),
        ("git@github.com:acme/three.git", "acme/three", None),
        (
            "git@github.corp.example:team/four.git",
            "team/four",
            Some("github.corp.example"),
        ),
        (
            "https://github.corp.example:8443/team/five",
            "team/five",
            Some("github.corp.example"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let repo = env.plain_repo(&env.root().join(format!("r{i}")));
        env.git(&repo, &["remote", "add", "origin", url]);
        env.ao(&repo, &["init", "--auto"]).success();
        let text = config(&repo);
        assert!(
            text.contains(&format!("repo: \"{slug}\"")),
            "{url}:\n{text}"
        );
        if let Some(host) = host {
            assert!(
                text.contains(&format!("host: \"{host}\"")),
                "{url} is GitHub Enterprise:\n{text}"
            );
        }
        env.ao(&repo, &["config", "validate"]).success();
    }
}

#[test]
fn default_branch_comes_from_origin_head() {
    let env = TestEnv::new();
    let upstream = env.repo_with_origin("up", "trunk");
    let origin = upstream.parent().unwrap().join("up-origin.git");
    let clone = env.root().join("clone");
    env.git(
        &env.root(),
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    env.ao(&clone, &["init", "--auto"])
        .success()
        .stdout_has("trunk (from origin/HEAD)");
    assert!(config(&clone).contains("defaultBranch: \"trunk\""));
}

#[test]
fn still_writes_a_usable_file_without_a_remote_or_on_a_detached_head() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("solo"));
    let head = env.git(&repo, &["rev-parse", "HEAD"]);
    env.git(&repo, &["checkout", "-q", head.trim()]);
    let run = env.ao(&repo, &["init", "--auto"]);
    run.success()
        .stdout_has("repo           not detected: no `origin` remote")
        .stdout_has("HEAD is detached");
    assert!(config(&repo).contains("defaultBranch: \"main\""));
    env.ao(&repo, &["config", "validate"]).success();
}

#[test]
fn a_non_github_remote_is_named_and_the_file_still_works() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("lab"));
    env.git(
        &repo,
        &["remote", "add", "origin", "git@gitlab.com:group/lab.git"],
    );
    env.ao(&repo, &["init", "--auto"])
        .success()
        .stdout_has("not a GitHub host");
    let text = config(&repo);
    assert!(text.contains("plugin: prompt"), "{text}");
    env.ao(&repo, &["config", "validate"]).success();
}

#[test]
fn never_overwrites_without_force() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("keep"));
    std::fs::write(repo.join("agent-orchestrator.yaml"), "# mine\n").unwrap();
    env.ao(&repo, &["init", "--auto"])
        .code(1)
        .stderr_has("already exists")
        .stderr_has("--force");
    assert_eq!(config(&repo), "# mine\n");
    env.ao(&repo, &["init", "--auto", "--force"]).success();
    assert!(config(&repo).contains("projects:"));
}

#[test]
fn runs_from_a_subdirectory_and_writes_at_the_top() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("top"));
    let sub = repo.join("a").join("b");
    std::fs::create_dir_all(&sub).unwrap();
    env.ao(&sub, &["init", "--auto"]).success();
    assert!(repo.join("agent-orchestrator.yaml").is_file());
}

#[test]
fn outside_a_git_repository_it_says_so_and_exits_2() {
    let env = TestEnv::new();
    let dir = env.root().join("plain");
    std::fs::create_dir_all(&dir).unwrap();
    env.ao(&dir, &["init", "--auto"])
        .code(2)
        .stderr_has("not inside a git repository");
    assert!(!dir.join("agent-orchestrator.yaml").exists());
}

#[test]
fn on_a_terminal_it_asks_and_re_asks_until_the_answer_is_valid() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("widgets"));
    env.git(
        &repo,
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/acme/widgets.git",
        ],
    );
    let tmux = ao_tests::Tmux::new(&env);
    let ao = ao_tests::ao_bin();
    tmux.start("init", &repo, &[ao.to_str().unwrap(), "init"]);
    tmux.wait_for("init", "Project id [widgets]:");
    tmux.type_line("init", "bad id!");
    tmux.wait_for("init", "only letters, digits");
    tmux.type_line("init", "wid");
    tmux.wait_for("init", "Agent: claude-code");
    tmux.type_line("init", "codex");
    tmux.wait_for("init", "Default branch [main]:");
    tmux.type_line("init", "");
    tmux.wait_for("init", "Next: `ao doctor`");
    let text = config(&repo);
    assert!(text.contains("  wid:"), "{text}");
    assert!(text.contains("  agent: codex"), "{text}");
    env.ao(&repo, &["config", "validate"]).success();
}

#[test]
fn on_a_terminal_the_command_agent_is_offered_and_asks_for_its_command_line() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("tools"));
    env.git(&repo, &["remote", "add", "origin", "file:///srv/tools.git"]);
    let tmux = ao_tests::Tmux::new(&env);
    let ao = ao_tests::ao_bin();
    tmux.start("init", &repo, &[ao.to_str().unwrap(), "init"]);
    tmux.wait_for("init", "Project id [tools]:");
    tmux.type_line("init", "");
    let screen = tmux.wait_for("init", "Agent: ");
    assert!(screen.contains("command"), "{screen}");
    tmux.type_line("init", "command");
    tmux.wait_for("init", "The agent's command line");
    tmux.type_line("init", "my-agent --mode 'fast and quiet'");
    tmux.wait_for("init", "Default branch [main]:");
    tmux.type_line("init", "");
    tmux.wait_for("init", "Next: `ao doctor`");
    let text = config(&repo);
    assert!(text.contains("  agent: command"), "{text}");
    assert!(
        text.contains(r#"command: "my-agent --mode 'fast and quiet'""#),
        "{text}"
    );
    // The comment says what init saw: an origin whose URL is not host/owner/repo.
    assert!(text.contains("is not a host/owner/repo address"), "{text}");
    assert!(!text.contains("no origin remote was found"), "{text}");
}

/// A directory holding git and tmux and no agent CLI, for a PATH of only these.
fn bin_without_agents(env: &TestEnv) -> std::path::PathBuf {
    let bin = env.root().join("bin-no-agents");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "tmux"] {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} is not on PATH"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bin
}

/// The value `ao config show --json` gives `key`.
fn setting(env: &TestEnv, repo: &Path, key: &str) -> String {
    let run = env.ao(repo, &["config", "show", "--json"]);
    run.success();
    let shown: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    shown["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .and_then(|s| s["value"].as_str())
        .unwrap_or_else(|| panic!("no setting {key}:\n{}", run.stdout))
        .to_owned()
}

#[test]
fn the_github_tracker_is_written_only_for_an_origin_on_github() {
    let env = TestEnv::new();
    let solo = env.plain_repo(&env.root().join("solo"));
    let local = env.plain_repo(&env.root().join("local"));
    env.git(
        &local,
        &["remote", "add", "origin", "file:///srv/local.git"],
    );
    let hub = env.plain_repo(&env.root().join("hub"));
    env.git(
        &hub,
        &["remote", "add", "origin", "https://github.com/acme/hub.git"],
    );
    for (repo, project, tracker) in [
        (&solo, "solo", "prompt"),
        (&local, "local", "prompt"),
        (&hub, "hub", "github"),
    ] {
        env.ao(repo, &["init", "--auto"]).success();
        assert_eq!(
            setting(&env, repo, &format!("projects.{project}.tracker.plugin")),
            tracker,
            "{}",
            config(repo)
        );
    }
}

#[test]
fn with_no_agent_cli_on_path_doctor_names_the_missing_cli_once() {
    let mut env = TestEnv::new();
    let bin = bin_without_agents(&env);
    env.set("PATH", &bin);
    let repo = env.plain_repo(&env.root().join("bare-machine"));
    let run = env.ao(&repo, &["init", "--auto"]);
    run.success()
        .stdout_has("no agent CLI found on PATH")
        .stdout_has("`command`");
    let doctor = env.ao(&repo, &["doctor"]);
    doctor.code(1);
    let fails: Vec<&str> = doctor
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert_eq!(fails.len(), 1, "one thing is missing\n{}", doctor.explain());
    assert!(
        fails[0].contains("`claude` is not on PATH"),
        "{}",
        doctor.explain()
    );
    assert!(!doctor.stdout.contains("root"), "{}", doctor.explain());
}

#[test]
fn on_a_terminal_with_no_agent_cli_it_offers_the_command_agent() {
    let mut env = TestEnv::new();
    let bin = bin_without_agents(&env);
    std::fs::write(bin.join("my-agent"), "#!/bin/sh\nexec cat\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("my-agent"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    env.set("PATH", &bin);
    let repo = env.plain_repo(&env.root().join("tryout"));
    let tmux = ao_tests::Tmux::new(&env);
    let ao = ao_tests::ao_bin();
    tmux.start("init", &repo, &[ao.to_str().unwrap(), "init"]);
    tmux.wait_for("init", "Project id [tryout]:");
    tmux.type_line("init", "");
    let screen = tmux.wait_for("init", "Agent: ");
    assert!(screen.contains("[command]:"), "{screen}");
    assert!(screen.contains("needs no account"), "{screen}");
    tmux.type_line("init", "");
    tmux.wait_for("init", "The agent's command line");
    tmux.type_line("init", "my-agent --yes");
    tmux.wait_for("init", "Default branch [main]:");
    tmux.type_line("init", "");
    let screen = tmux.wait_for("init", "Next: `ao doctor`");
    assert!(
        screen.contains("agent          command (runs `my-agent --yes`)"),
        "{screen}"
    );
    assert!(!screen.contains("no agent CLI found"), "{screen}");
    assert_eq!(setting(&env, &repo, "projects.tryout.agent"), "command");
    assert_eq!(
        setting(&env, &repo, "projects.tryout.tracker.plugin"),
        "prompt"
    );
    let doctor = env.ao(&repo, &["doctor"]);
    doctor.success();
    assert!(!doctor.stdout.contains("FAIL"), "{}", doctor.explain());
}
