//! Both of the reference's config formats: one file with `projects:`, and a global
//! registry beside a flat, behaviour-only file in each repository.

use ao_tests::{Run, TestEnv};
use std::path::{Path, PathBuf};

/// A repository with an origin and a flat `agent-orchestrator.yaml` holding `behaviour`.
fn repo_with_flat_file(env: &TestEnv, name: &str, behaviour: &str) -> PathBuf {
    let repo = env.repo_with_origin(name, "main");
    std::fs::write(repo.join("agent-orchestrator.yaml"), behaviour).unwrap();
    std::fs::write(repo.join(".git/info/exclude"), "agent-orchestrator.yaml\n").unwrap();
    std::fs::create_dir_all(repo.join("src/deep")).unwrap();
    repo
}

const BEHAVIOUR: &str =
    "agent: command\nagentConfig:\n  command: [cat]\ntracker:\n  plugin: prompt\n";

fn ao(env: &TestEnv, cwd: &Path, args: &[&str]) -> Run {
    env.ao(cwd, args)
}

fn kill_tmux(socket: &Path) {
    let _ = std::process::Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .arg("kill-server")
        .output();
}

#[test]
fn a_flat_file_in_a_registered_repository_takes_its_identity_from_the_registry() {
    let env = TestEnv::new();
    let repo = repo_with_flat_file(&env, "webapp", BEHAVIOUR);
    let socket = env.root().join("tmux.sock");
    // The registry at its default place, ~/.agent-orchestrator/config.yaml.
    let registry = env.home.join(".agent-orchestrator").join("config.yaml");
    std::fs::create_dir_all(registry.parent().unwrap()).unwrap();
    std::fs::write(
        &registry,
        format!(
            "port: 3000\nruntimes:\n  tmux:\n    socket: {}\nprojects:\n  webapp:\n    projectId: webapp\n    path: {}\n    repo:\n      owner: acme\n      name: webapp\n      platform: github\n      originUrl: https://github.com/acme/webapp.git\n    defaultBranch: main\n    sessionPrefix: web\n    source: cli\n    registeredAt: 1714000000000\n    displayName: Web App\n",
            socket.display(),
            repo.display()
        ),
    )
    .unwrap();
    // From deep inside the repository, its own flat file is found first.
    let deep = repo.join("src/deep");
    ao(&env, &deep, &["config", "validate"])
        .success()
        .stdout_has("is valid: 1 project");
    ao(
        &env,
        &deep,
        &["spawn", "webapp", "--prompt", "from the registry"],
    )
    .success()
    .stdout_has("web-1");
    let list = ao(&env, &deep, &["session", "ls", "--json"]);
    list.success();
    let sessions: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(sessions[0]["project"], "webapp");
    kill_tmux(&socket);
}

#[test]
fn a_flat_file_no_registry_lists_is_a_project_of_its_own() {
    let env = TestEnv::new();
    let socket = env.root().join("tmux.sock");
    let repo = repo_with_flat_file(
        &env,
        "my-service",
        &format!(
            "{BEHAVIOUR}runtimes:\n  tmux:\n    socket: {}\n",
            socket.display()
        ),
    );
    let check = ao(&env, &repo.join("src"), &["config", "validate"]);
    check
        .success()
        .stdout_has("is valid: 1 project")
        .stderr_has("no registry lists it, so it is one project of its own, `my-service`")
        .stderr_has(&format!("`ao project add {}`", repo.display()));
    // Ordinary commands do not repeat that note.
    let ls = ao(&env, &repo, &["session", "ls"]);
    ls.success();
    assert!(
        !ls.stderr.contains("one project of its own"),
        "{}",
        ls.explain()
    );
    ao(&env, &repo, &["spawn", "my-service", "--prompt", "alone"])
        .success()
        .stdout_has("ms-1");
    kill_tmux(&socket);
}

#[test]
fn a_registry_entry_and_its_flat_file_disagreeing_on_the_default_branch_is_an_error() {
    let mut env = TestEnv::new();
    let repo = repo_with_flat_file(
        &env,
        "webapp",
        &format!("{BEHAVIOUR}defaultBranch: develop\n"),
    );
    let registry = env.root().join("registry.yaml");
    std::fs::write(
        &registry,
        format!(
            "projects:\n  webapp:\n    path: {}\n    defaultBranch: main\n",
            repo.display()
        ),
    )
    .unwrap();
    env.set("AO_GLOBAL_CONFIG", &registry);
    let run = ao(&env, &repo, &["config", "validate"]);
    run.code(2).stderr_has(&format!(
        "{}:6:16: error: defaultBranch here is `develop`, but the project's entry (line 4) says `main`",
        repo.join("agent-orchestrator.yaml").display()
    ));
}

#[test]
fn the_one_file_format_merges_the_flat_file_at_a_projects_path() {
    let mut env = TestEnv::new();
    let socket = env.root().join("tmux.sock");
    let repo = repo_with_flat_file(&env, "api", BEHAVIOUR);
    let config = env.root().join("fleet.yaml");
    std::fs::write(
        &config,
        format!(
            "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  api:\n    path: {}\n    repo: acme/api\n",
            socket.display(),
            repo.display()
        ),
    )
    .unwrap();
    env.set("AO_CONFIG_PATH", &config);
    // The agent and tracker come from the repository's own file.
    ao(&env, &env.root(), &["spawn", "api", "--prompt", "merged"])
        .success()
        .stdout_has("api-1");
    let list = ao(&env, &env.root(), &["session", "ls", "--json"]);
    list.success();
    let sessions: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(sessions[0]["agent"], "command");
    kill_tmux(&socket);
}

#[test]
fn registry_paths_that_leave_home_or_repeat_are_refused() {
    let mut env = TestEnv::new();
    let repo = env.plain_repo(&env.home.join("code").join("one"));
    let registry = env.root().join("registry.yaml");
    std::fs::write(
        &registry,
        format!(
            "projects:\n  escape:\n    path: ~/../etc\n    source: cli\n  one:\n    path: {}\n    source: cli\n  again:\n    path: ~/code/one\n    source: cli\n",
            repo.display()
        ),
    )
    .unwrap();
    env.set("AO_CONFIG_PATH", &registry);
    let run = ao(&env, &env.root(), &["config", "validate"]);
    run.code(2)
        .stderr_has("project `escape`: path ~/../etc leaves your home directory through `..`")
        .stderr_has("project `again` has the same path as project `one` (line 6)");
}

#[test]
fn config_show_gives_each_value_in_force_with_its_file_and_line() {
    let mut env = TestEnv::new();
    let repo = repo_with_flat_file(
        &env,
        "webapp",
        "agent: command\nagentConfig:\n  command: [cat]\n  env:\n    TOKEN: ${AO_TEST_SECRET}\ntracker:\n  plugin: prompt\nreactions:\n  ci-failed:\n    retries: 5\n",
    );
    env.set("AO_TEST_SECRET", "sekrit-show-value");
    let registry = env.home.join(".agent-orchestrator").join("config.yaml");
    std::fs::create_dir_all(registry.parent().unwrap()).unwrap();
    std::fs::write(
        &registry,
        format!(
            "readyThresholdMs: 1000\nprojects:\n  webapp:\n    path: {}\n    sessionPrefix: web\n",
            repo.display()
        ),
    )
    .unwrap();
    let run = env.ao(&repo, &["config", "show"]);
    run.success();
    assert!(
        !run.stdout.contains("sekrit-show-value"),
        "{}",
        run.explain()
    );
    let lines: Vec<String> = env
        .normalize(&run.stdout)
        .lines()
        .filter(|l| !l.contains(".reactions.") || l.contains("ci-failed"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
    let json = env.ao(&repo, &["config", "show", "--json"]);
    json.success();
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let token = value["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "projects.webapp.agentConfig.env.TOKEN")
        .unwrap();
    assert_eq!(token["value"], "<from $AO_TEST_SECRET>");
    assert_eq!(token["origin"]["line"], 5);
    assert_eq!(value["files"].as_array().unwrap().len(), 2);
}

#[test]
fn project_add_ls_and_rm_edit_the_registry_and_keep_the_rest_of_it() {
    let mut env = TestEnv::new();
    let socket = env.root().join("tmux.sock");
    let repo = repo_with_flat_file(&env, "shop-front", BEHAVIOUR);
    let registry = env.root().join("registry.yaml");
    let original = format!(
        "# my registry, by hand\nport: 3000 # the dashboard\nruntimes:\n  tmux:\n    socket: {}\nprojects:\n  # an old one\n  legacy:\n    path: /nowhere/legacy\n    someday: maybe\n",
        socket.display()
    );
    std::fs::write(&registry, &original).unwrap();
    env.set("AO_GLOBAL_CONFIG", &registry);
    ao(
        &env,
        &env.root(),
        &["project", "add", repo.join("src").to_str().unwrap()],
    )
    .success()
    .stdout_has("registered project `shop-front`");
    let text = std::fs::read_to_string(&registry).unwrap();
    assert!(text.starts_with(&original), "{text}");
    assert!(
        text.contains("  shop-front:\n    projectId: \"shop-front\"\n"),
        "{text}"
    );
    assert!(text.contains("    sessionPrefix: \"sf\"\n"), "{text}");
    let ls = ao(&env, &env.root(), &["project", "ls", "--json"]);
    ls.success();
    let listed: Vec<serde_json::Value> = serde_json::from_str(&ls.stdout).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["id"], "shop-front");
    assert_eq!(listed[1]["defaultBranch"], "main");
    // The repository's flat file now takes its identity from the new entry.
    ao(
        &env,
        &repo,
        &["spawn", "shop-front", "--prompt", "registered"],
    )
    .success()
    .stdout_has("sf-1");
    // Twice is refused, by id and by path.
    ao(
        &env,
        &env.root(),
        &["project", "add", repo.to_str().unwrap()],
    )
    .code(1)
    .stderr_has("already has a project `shop-front`");
    ao(
        &env,
        &env.root(),
        &["project", "add", repo.to_str().unwrap(), "--id", "other"],
    )
    .code(1)
    .stderr_has("is already registered, as project `shop-front`");
    ao(&env, &env.root(), &["project", "rm", "shop-front"])
        .success()
        .stdout_has("removed project `shop-front`");
    assert_eq!(std::fs::read_to_string(&registry).unwrap(), original);
    ao(&env, &env.root(), &["project", "rm", "nope"])
        .code(1)
        .stderr_has("no project `nope`")
        .stderr_has("its projects: legacy");
    kill_tmux(&socket);
}

#[test]
fn with_no_file_nearby_the_registry_is_found() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.home.join("code").join("site"));
    let registry = env
        .home
        .join(".config")
        .join("agent-orchestrator")
        .join("config.yaml");
    std::fs::create_dir_all(registry.parent().unwrap()).unwrap();
    std::fs::write(
        &registry,
        format!("projects:\n  site:\n    path: {}\n", repo.display()),
    )
    .unwrap();
    // From a directory with no agent-orchestrator.yaml above it.
    let elsewhere = env.root().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    ao(&env, &elsewhere, &["config", "show"])
        .success()
        .stdout_has(&format!("{}:3", registry.display()))
        .stdout_has("projects.site.path");
}

/// A plugin ao lacks named in a repository's flat file, under a registry, is reported at
/// its line in that flat file, by `ao config validate` and by the spawn that needs it.
#[test]
fn a_plugin_ao_lacks_in_a_flat_file_is_reported_at_its_line_there() {
    let env = TestEnv::new();
    let repo = repo_with_flat_file(
        &env,
        "webapp",
        "tracker: none\nagent: custom\nagentConfig:\n  command: [cat]\n",
    );
    let registry = env.home.join(".agent-orchestrator").join("config.yaml");
    std::fs::create_dir_all(registry.parent().unwrap()).unwrap();
    std::fs::write(
        &registry,
        format!(
            "projects:\n  webapp:\n    projectId: webapp\n    path: {}\n    defaultBranch: main\n",
            repo.display()
        ),
    )
    .unwrap();
    let flat = format!("{}:2:8", repo.join("agent-orchestrator.yaml").display());
    ao(&env, &repo, &["config", "validate"])
        .success()
        .stderr_has(&format!("{flat}: warning: "));
    ao(&env, &repo, &["spawn", "webapp", "--prompt", "work"])
        .code(1)
        .stderr_has("agent plugin `custom`")
        .stderr_has(&flat);
}
