//! Every malformed config gets one clear message with file:line:column and a hint.
//! The messages are snapshots (`INSTA_UPDATE=always` or `cargo insta review` refreshes them).

use ao_tests::TestEnv;

/// Writes `yaml` as agent-orchestrator.yaml in a git repo and returns `ao config validate`'s
/// stderr, which must fail with exit code 2.
fn invalid(env: &TestEnv, yaml: &str) -> String {
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(repo.join("agent-orchestrator.yaml"), yaml).unwrap();
    let run = env.ao(&repo, &["config", "validate"]);
    run.code(2);
    assert!(
        run.stdout.is_empty(),
        "nothing on stdout\n{}",
        run.explain()
    );
    env.normalize(&run.stderr)
}

macro_rules! case {
    ($name:ident, $yaml:expr) => {
        #[test]
        fn $name() {
            let env = TestEnv::new();
            insta::assert_snapshot!(invalid(&env, $yaml));
        }
    };
    ($name:ident, $yaml:expr, env: $($k:literal = $v:literal),+) => {
        #[test]
        fn $name() {
            let mut env = TestEnv::new();
            $(env.set($k, $v);)+
            insta::assert_snapshot!(invalid(&env, $yaml));
        }
    };
}

case!(
    bad_yaml,
    "projects:\n  app:\n    path: .\n    postCreate: [npm ci\n"
);
case!(not_a_mapping, "- just\n- a list\n");
case!(
    wrong_type,
    "projects:\n  app:\n    path: .\n    maxSessions: lots\n"
);
case!(
    list_where_text_belongs,
    "projects:\n  app:\n    path: .\n    defaultBranch: [main]\n"
);
/// Writes `yaml` and returns what `ao config validate` warns: the file loads (exit 0),
/// and under `--strict` the same warnings fail it (exit 2).
fn warned(env: &TestEnv, yaml: &str) -> String {
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(repo.join("agent-orchestrator.yaml"), yaml).unwrap();
    let run = env.ao(&repo, &["config", "validate"]);
    run.code(0).stdout_has("is valid");
    let strict = env.ao(&repo, &["config", "validate", "--strict"]);
    strict.code(2).stderr_has("(an error under --strict)");
    env.normalize(&run.stderr)
}

#[test]
fn unknown_keys_are_warnings_all_reported_with_suggestions_for_typos_only() {
    let env = TestEnv::new();
    insta::assert_snapshot!(warned(
        &env,
        "projects:\n  app:\n    path: .\n    sesionPrefix: app\n    defaultbranch: main\n    colour: blue\nreactons: {}\nruntime: tmux\n"
    ));
}

#[test]
fn every_wrong_value_of_a_file_is_reported_in_one_run() {
    let env = TestEnv::new();
    insta::assert_snapshot!(invalid(
        &env,
        "projects:\n  app:\n    path: .\n    maxSessions: lots\n    colour: blue\n  web:\n    path: [not, a, path]\n    defaultBranch: [main]\nreactions:\n  ci-failed:\n    action: shout\n"
    ));
}
case!(missing_path, "projects:\n  app:\n    repo: acme/app\n");
case!(
    path_does_not_exist,
    "projects:\n  app:\n    path: ./nowhere\n"
);
case!(path_is_not_a_git_repo, "projects:\n  app:\n    path: ~/\n");
case!(
    duplicate_session_prefix,
    "projects:\n  web:\n    path: .\n    sessionPrefix: app\n  api:\n    path: .\n    sessionPrefix: app\n"
);
case!(
    bad_session_prefix,
    "projects:\n  app:\n    path: .\n    sessionPrefix: \"my app\"\n"
);
case!(
    unset_variable,
    "projects:\n  app:\n    path: .\nnotifiers:\n  slack:\n    plugin: slack\n    webhook: ${AO_TEST_UNSET_WEBHOOK}\n"
);
case!(
    malformed_placeholder,
    "projects:\n  app:\n    path: ${HOME\n"
);
case!(
    secret_from_environment_is_never_printed,
    "projects:\n  app:\n    path: .\n    maxSessions: ${AO_TEST_SECRET}\n",
    env: "AO_TEST_SECRET" = "hunter2-s3cr3t"
);
/// A plugin name ao does not know is a warning, with the name meant where it is a typo:
/// the file loads, and only a command that needs the plugin fails.
#[test]
fn unknown_plugin() {
    let env = TestEnv::new();
    insta::assert_snapshot!(warned(
        &env,
        "defaults:\n  agent: claude-cod\nprojects:\n  app:\n    path: .\n    runtime: screen\n    tracker: githb\n"
    ));
}

/// The plugin names real configs of the reference format carry that ao has no plugin
/// for load, each said once with what ao does instead; `tracker: none` is no tracker.
#[test]
fn plugin_names_of_the_reference_format_ao_lacks_are_warnings() {
    let env = TestEnv::new();
    insta::assert_snapshot!(warned(
        &env,
        "defaults:\n  notifiers: [dashboard]\nprojects:\n  app:\n    path: .\n    agent: custom\n    workspace: local\n    tracker: none\n    agentConfig:\n      command: [my-agent]\nnotifiers:\n  board:\n    plugin: dashboard\nnotificationRouting:\n  urgent: [board, desktop]\n"
    ));
}
case!(
    bad_duration,
    "projects:\n  app:\n    path: .\nreactions:\n  agent-stuck:\n    threshold: 10 minutes\n"
);
#[test]
fn unknown_reaction() {
    let env = TestEnv::new();
    insta::assert_snapshot!(warned(
        &env,
        "projects:\n  app:\n    path: .\n    reactions:\n      approved-and-gren: {auto: true}\nreactions:\n  ci-faild:\n    retries: 2\n  send-to-orchestrator:\n    auto: true\n"
    ));
}

case!(
    a_reaction_action_ao_does_not_know,
    "projects:\n  app:\n    path: .\nreactions:\n  ci-failed:\n    action: send-to-orchestrator\n"
);
case!(
    bad_enum_value,
    "projects:\n  app:\n    path: .\n    agentConfig:\n      permissions: yolo\n"
);
case!(
    paths_outside_the_repository,
    "projects:\n  app:\n    path: .\n    copy: [/etc/passwd]\n    symlinks: [../other/.env]\n"
);
case!(
    plugin_section_checks_its_own_keys,
    "projects:\n  app:\n    path: .\nnotifiers:\n  hook:\n    plugin: webhook\n    ulr: https://example.invalid\n"
);
#[test]
fn unknown_notifier_in_routing() {
    let env = TestEnv::new();
    insta::assert_snapshot!(warned(
        &env,
        "projects:\n  app:\n    path: .\nnotificationRouting:\n  urgent: [desktp]\n"
    ));
}

#[test]
fn secret_values_appear_nowhere_in_the_output() {
    let mut env = TestEnv::new();
    env.set("AO_TEST_SECRET", "hunter2-s3cr3t");
    let stderr = invalid(
        &env,
        "projects:\n  app:\n    path: .\n    agentConfig:\n      permissions: ${AO_TEST_SECRET}\n",
    );
    assert!(!stderr.contains("hunter2"), "the secret leaked:\n{stderr}");
    assert!(
        stderr.contains(":5:20:"),
        "the position is still given:\n{stderr}"
    );
}

case!(
    a_key_given_twice,
    "projects:\n  app:\n    path: .\n  app:\n    path: .\n"
);
case!(
    an_alias_bomb,
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
);
case!(
    worktree_dir_inside_the_repository,
    "projects:\n  app:\n    path: .\n    worktreeDir: ./worktrees\n"
);
case!(
    worktree_dir_is_the_repository,
    "projects:\n  app:\n    path: .\n    worktreeDir: .\n"
);
case!(
    worktree_dir_inside_dot_git,
    "defaults:\n  worktreeDir: .git/ao\nprojects:\n  app:\n    path: .\n"
);

/// `ao config validate` of something that is not a config file at all.
fn not_a_file(env: &TestEnv, path: &std::path::Path) -> String {
    let run = env.ao(&env.root(), &["config", "validate", path.to_str().unwrap()]);
    run.code(2);
    env.normalize(&run.stderr)
}

#[test]
fn a_directory_a_device_and_a_looping_link_are_named_for_what_they_are() {
    let env = TestEnv::new();
    let dir = env.root().join("a-directory");
    std::fs::create_dir(&dir).unwrap();
    let link = env.root().join("loop.yaml");
    std::os::unix::fs::symlink(&link, &link).unwrap();
    insta::assert_snapshot!(format!(
        "{}{}{}",
        not_a_file(&env, &dir),
        not_a_file(&env, std::path::Path::new("/dev/zero")),
        not_a_file(&env, &link)
    ));
    // The same through AO_CONFIG_PATH, where it used to say "does not exist".
    let mut env = env;
    env.set("AO_CONFIG_PATH", "/dev/zero");
    env.ao(&env.root(), &["status"])
        .code(2)
        .stderr_has("AO_CONFIG_PATH names /dev/zero, which is not a regular file");
}
case!(
    a_webhook_section_of_the_reference_is_read_and_checked,
    "projects:\n  app:\n    path: .\n    scm:\n      plugin: github\n      webhook:\n        enabled: true\n        maxBodyBytes: 0\n        secretEnvVr: GH_SECRET\n"
);

#[test]
fn a_tracker_or_scm_given_by_name_alone_is_that_plugin() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "projects:\n  app:\n    path: .\n    tracker: prompt\n    scm: github\n",
    )
    .unwrap();
    env.ao(&repo, &["config", "validate"])
        .success()
        .stdout_has("is valid");
}
/// The dashboard on an address other machines reach, without a token, then without TLS:
/// `ao config validate` warns (as `ao start` refuses to serve it), never showing a token.
#[test]
fn a_dashboard_open_to_other_machines_is_warned_of_without_a_token_then_tls() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("repo"));
    let file = repo.join("agent-orchestrator.yaml");
    let projects = "projects:\n  app:\n    path: .\n    tracker: prompt\n";
    std::fs::write(&file, format!("dashboard:\n  host: 0.0.0.0\n{projects}")).unwrap();
    let run = env.ao(&repo, &["config", "validate"]);
    run.success().stderr_has("agent-orchestrator.yaml:2:9: warning: `ao start` refuses to serve the dashboard on 0.0.0.0, which other machines can reach, while dashboard.token is not set");
    env.ao(&repo, &["config", "validate", "--strict"]).code(2);
    std::fs::write(
        &file,
        format!("dashboard:\n  host: 192.168.1.5\n  token: t0ken-s3cret\n{projects}"),
    )
    .unwrap();
    let run = env.ao(&repo, &["config", "validate"]);
    run.success().stderr_has("over plain HTTP");
    assert!(!run.stderr.contains("t0ken-s3cret"), "{}", run.explain());
}
case!(
    a_tracker_that_is_neither_a_name_nor_a_mapping,
    "projects:\n  app:\n    path: .\n    tracker: [prompt]\n"
);

/// A value from the environment is never printed in a warning either: not as the agent
/// `agentConfig.command` does not apply to, nor in a path, nor as a plugin's name, in
/// `ao config validate`, `ao doctor` or `ao spawn`.
#[test]
fn secret_values_appear_in_no_warning() {
    let mut env = TestEnv::new();
    let token = "tok-hunter2-s3cr3t";
    env.set("AO_TEST_TOKEN", token);
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "plugins:\n  - name: ${AO_TEST_TOKEN}\n    path: ./no-such-plugin.so\n  - name: npm-${AO_TEST_TOKEN}\n    source: npm\nprojects:\n  app:\n    path: .\n    agent: ${AO_TEST_TOKEN}\n    agentRulesFile: rules/${AO_TEST_TOKEN}.md\n    agentConfig:\n      command: [sh]\n",
    )
    .unwrap();
    let validate = env.ao(&repo, &["config", "validate"]);
    validate.success();
    let doctor = env.ao(&repo, &["doctor"]);
    let spawn = env.ao(&repo, &["spawn", "app", "--prompt", "hello"]);
    for run in [&validate, &doctor, &spawn] {
        assert!(
            !run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"),
            "the token leaked:\n{}",
            run.explain()
        );
    }
    insta::assert_snapshot!(env.normalize(&validate.stderr));
}
case!(
    notifier_addresses_are_http_or_https,
    "projects:\n  app:\n    path: .\nnotifiers:\n  hook:\n    plugin: webhook\n    url: \"not a url at all\"\n  slack:\n    plugin: slack\n    webhook: ftp://hooks.example.com/T0/B1\n  discord:\n    plugin: discord\n    webhook: https:///api/webhooks/1\n  ntfy:\n    plugin: ntfy\n    topic: ao-alerts\n    server: ntfy.sh\n  fine:\n    plugin: webhook\n    url: http://127.0.0.1:8080/hook\n"
);
case!(
    a_notifier_address_from_the_environment_is_checked_unseen,
    "projects:\n  app:\n    path: .\nnotifiers:\n  hook:\n    plugin: webhook\n    url: ${AO_TEST_HOOK}\n",
    env: "AO_TEST_HOOK" = "ftp://hunter2-s3cr3t.example/hook"
);
