//! The committed JSON Schema matches the types, and the project's own samples load.

use ao_tests::{TestEnv, repo_root};

#[test]
fn committed_schema_matches_the_config_types() {
    let path = repo_root()
        .join("schema")
        .join("agent-orchestrator.schema.json");
    let generated = ao_core::config::json_schema_text();
    if std::env::var_os("AO_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with the config types: run `AO_BLESS=1 cargo test --workspace schema` and commit it",
        path.display()
    );
}

#[test]
fn the_documented_sample_config_loads() {
    let env = TestEnv::new();
    let root = repo_root();
    // The sample's project path is `.`: the repository itself, a git clone.
    let run = env.ao(
        &root,
        &[
            "config",
            "validate",
            root.join("agent-orchestrator.yaml").to_str().unwrap(),
        ],
    );
    run.success();
    assert!(
        !run.stderr.contains("warning"),
        "the sample should be clean\n{}",
        run.explain()
    );
}

#[test]
fn the_example_configs_load() {
    let env = TestEnv::new();
    env.plain_repo(&env.home.join("code").join("web"));
    env.plain_repo(&env.home.join("code").join("api"));
    let dir = repo_root().join("examples").join("configs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // Every example the README points at is there, so an empty folder cannot pass.
    assert_eq!(names, ["auto-merge.yaml", "multi-project.yaml"]);
    for name in &names {
        let path = dir.join(name);
        let run = env.ao(&env.root(), &["config", "validate", path.to_str().unwrap()]);
        run.success().stdout_has("is valid");
        assert!(!run.stderr.contains("warning"), "{}", run.explain());
    }
}
