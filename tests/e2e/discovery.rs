//! Config discovery: AO_CONFIG_PATH, then the working directory and its parents, then
//! $AO_HOME/config.yaml, then $XDG_CONFIG_HOME/agent-orchestrator/config.yaml.

use ao_tests::TestEnv;
use std::path::Path;

fn write_config(path: &Path, repo: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("projects:\n  app:\n    path: {}\n", repo.display()),
    )
    .unwrap();
}

fn found(env: &TestEnv, cwd: &Path) -> String {
    let run = env.ao(cwd, &["config", "validate"]);
    run.success();
    env.normalize(
        run.stdout
            .split(" is valid")
            .next()
            .unwrap()
            .trim_start_matches("ok "),
    )
}

#[test]
fn follows_the_documented_order() {
    let mut env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("repo"));
    let deep = repo.join("src").join("deep");
    std::fs::create_dir_all(&deep).unwrap();
    let xdg = env.root().join("xdg");
    env.set("XDG_CONFIG_HOME", &xdg);

    write_config(&xdg.join("agent-orchestrator").join("config.yaml"), &repo);
    assert_eq!(
        found(&env, &deep),
        "[ROOT]/xdg/agent-orchestrator/config.yaml"
    );

    write_config(&env.ao_home.join("config.yaml"), &repo);
    assert_eq!(found(&env, &deep), "[ROOT]/ao-home/config.yaml");

    write_config(&repo.join("agent-orchestrator.yml"), &repo);
    assert_eq!(found(&env, &deep), "[ROOT]/repo/agent-orchestrator.yml");

    write_config(&repo.join("src").join("agent-orchestrator.yaml"), &repo);
    assert_eq!(
        found(&env, &deep),
        "[ROOT]/repo/src/agent-orchestrator.yaml"
    );

    let explicit = env.root().join("elsewhere.yaml");
    write_config(&explicit, &repo);
    env.set("AO_CONFIG_PATH", &explicit);
    assert_eq!(found(&env, &deep), "[ROOT]/elsewhere.yaml");
}

#[test]
fn says_where_it_looked_when_nothing_is_found() {
    let mut env = TestEnv::new();
    env.set("XDG_CONFIG_HOME", env.root().join("xdg"));
    let run = env.ao(&env.root(), &["config", "validate"]);
    run.code(2)
        .stderr_has("no agent-orchestrator.yaml")
        .stderr_has("ao init");
    env.set("AO_CONFIG_PATH", env.root().join("missing.yaml"));
    let run = env.ao(&env.root(), &["config", "validate"]);
    run.code(2)
        .stderr_has("AO_CONFIG_PATH names")
        .stderr_has("missing.yaml");
}

#[test]
fn home_and_relative_paths_expand() {
    let env = TestEnv::new();
    env.plain_repo(&env.home.join("src").join("app"));
    let dir = env.root().join("cfg");
    std::fs::create_dir_all(&dir).unwrap();
    env.plain_repo(&env.root().join("sibling"));
    std::fs::write(
        dir.join("agent-orchestrator.yaml"),
        "projects:\n  a:\n    path: ~/src/app\n  b:\n    path: ../sibling\n",
    )
    .unwrap();
    env.ao(&dir, &["config", "validate"])
        .success()
        .stdout_has("2 projects");
    // From elsewhere, named relative to the working directory: `../sibling` is still
    // beside the config (from `home/src`, relative to the working directory, it would be
    // `home/sibling`, which does not exist).
    let elsewhere = env.home.join("src");
    env.ao(
        &elsewhere,
        &["config", "validate", "../../cfg/agent-orchestrator.yaml"],
    )
    .success()
    .stdout_has("2 projects");
    // And a missing one is named where it was looked for: beside the config.
    std::fs::write(
        dir.join("agent-orchestrator.yaml"),
        "projects:\n  b:\n    path: ../nowhere\n",
    )
    .unwrap();
    env.ao(
        &elsewhere,
        &["config", "validate", "../../cfg/agent-orchestrator.yaml"],
    )
    .code(2)
    .stderr_has(&format!(
        "path {} does not exist",
        env.root().join("cfg/../nowhere").display()
    ));
}
