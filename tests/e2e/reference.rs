//! Files written for the reference system load unchanged: every sample loads with warnings
//! only, and every key its schema allows is either supported or warned about by name.

use ao_core::config::reference::{PLUGIN_SECTION_KEYS, unsupported_key};
use ao_tests::{Fleet, TestEnv, fixtures_dir};
use serde_json::Value;

/// A HOME holding the clones the samples point at (`~/my-app`, `~/frontend`, `~/backend`).
fn env_for_samples() -> TestEnv {
    let mut env = TestEnv::new();
    for name in ["my-app", "frontend", "backend"] {
        env.plain_repo(&env.home.join(name));
    }
    env.set("SLACK_WEBHOOK_URL", "https://hooks.slack.invalid/T000/B000");
    env
}

#[test]
fn every_reference_sample_loads_with_warnings_only() {
    let env = env_for_samples();
    let dir = fixtures_dir().join("reference").join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let run = env.ao(&env.root(), &["config", "validate", path.to_str().unwrap()]);
        run.success().stdout_has("is valid");
        assert!(!run.stderr.contains("error:"), "{}", run.explain());
        seen += 1;
    }
    assert!(
        seen >= 6,
        "expected the reference samples in {}",
        dir.display()
    );
}

#[test]
fn unsupported_reference_keys_and_plugins_are_named_in_warnings() {
    let env = env_for_samples();
    let examples = fixtures_dir().join("reference").join("examples");
    let full = env.ao(
        &env.root(),
        &[
            "config",
            "validate",
            examples
                .join("agent-orchestrator.yaml.example")
                .to_str()
                .unwrap(),
        ],
    );
    // Its `port` is the dashboard's, which `ao start` serves: no warning.
    full.success();
    assert!(
        !full.stderr.contains("`port` is read"),
        "{}",
        full.explain()
    );
    let linear = env.ao(
        &env.root(),
        &[
            "config",
            "validate",
            examples.join("linear-team.yaml").to_str().unwrap(),
        ],
    );
    linear
        .success()
        .stderr_has("ao has no tracker plugin `linear` yet");
}

/// The reference schema's definitions and the ao struct each one maps to.
const DEF_TO_STRUCT: &[(&str, &str)] = &[
    ("projectConfig", "ProjectConfig"),
    ("defaultPlugins", "Defaults"),
    ("agentSpecificConfig", "AgentConfig"),
    ("reactionConfig", "ReactionConfig"),
    ("installedPluginConfig", "ExternalPlugin"),
];

fn properties(schema: &Value) -> Vec<String> {
    schema["properties"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_key_of_the_reference_schema_is_known_to_ao() {
    let text = std::fs::read_to_string(fixtures_dir().join("reference").join("config.schema.json"))
        .unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let ours = ao_core::config::json_schema();
    let mut unknown = Vec::new();
    let mut check = |keys: Vec<String>, ours: &Value, owner: &str| {
        let supported = properties(ours);
        for key in keys {
            if !supported.contains(&key) && unsupported_key(owner, &key).is_none() {
                unknown.push(format!("{owner}.{key}"));
            }
        }
    };
    check(properties(&reference), &ours, "Config");
    for (def, owner) in DEF_TO_STRUCT {
        // A definition renamed on either side would otherwise compare nothing with nothing.
        assert!(
            !properties(&reference["$defs"][def]).is_empty(),
            "the reference schema has no definition `{def}` with properties"
        );
        assert!(
            !properties(&ours["$defs"][owner]).is_empty(),
            "ao's schema has no definition `{owner}` with properties"
        );
        check(
            properties(&reference["$defs"][def]),
            &ours["$defs"][owner],
            owner,
        );
    }
    // Plugin sections: `plugin` is ao's; npm `package` and JavaScript `path` are warned about.
    for def in ["trackerConfig", "scmConfig", "notifierConfig"] {
        assert!(
            !properties(&reference["$defs"][def]).is_empty(),
            "the reference schema has no definition `{def}` with properties"
        );
        for key in properties(&reference["$defs"][def]) {
            let known =
                key == "plugin" || PLUGIN_SECTION_KEYS.contains(&key.as_str()) || key == "webhook";
            if !known {
                unknown.push(format!("{def}.{key}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "reference keys ao neither supports nor warns about: {unknown:?}"
    );
}

/// The file the reference's own `ao init` wrote for months, starting with top-level
/// `dataDir`, `worktreeDir` and `port`, with the other keys of its format ao reads.
#[test]
fn the_reference_init_template_and_its_keys_load_and_say_what_they_do() {
    let env = env_for_samples();
    let file = env.root().join("agent-orchestrator.yaml");
    std::fs::write(
        &file,
        "dataDir: ~/.agent-orchestrator\nworktreeDir: ~/.worktrees\nport: 3000\nterminalPort: 3001\npower:\n  preventIdleSleep: true\ndashboard:\n  attentionZones: detailed\nlifecycle:\n  autoCleanupOnMerge: true\n  mergeCleanupIdleGraceMs: 0\nprojectOrder: [my-app]\ndefaults:\n  runtime: tmux\n  agent: claude-code\n  workspace: worktree\n  notifiers: []\n  orchestrator:\n    agent: claude-code\nprojects:\n  my-app:\n    repo: owner/my-app\n    path: ~/my-app\n    defaultBranch: main\n    sessionPrefix: app\n    orchestrator:\n      agent: codex\n      agentConfig:\n        model: o3\n    orchestratorRules: Plan first.\n    orchestratorSessionStrategy: kill-previous\n    opencodeIssueSessionStrategy: reuse\n    agentConfig:\n      permissions: skip\n      orchestratorModel: opus\n",
    )
    .unwrap();
    let run = env.ao(&env.root(), &["config", "validate", file.to_str().unwrap()]);
    run.success().stdout_has("is valid");
    assert!(!run.stderr.contains("error:"), "{}", run.explain());
    assert!(!run.stderr.contains("unknown key"), "{}", run.explain());
    for key in [
        "terminalPort",
        "projectOrder",
        "opencodeIssueSessionStrategy",
    ] {
        run.stderr_has(&format!("warning: `{key}` is read, not used by ao yet"));
    }
    run.stderr_has("the dashboard's terminals share `port`");
    // The dashboard's own keys are used: `ao start` serves it; the host keeps the
    // machine awake.
    for key in ["port", "dashboard", "power"] {
        assert!(
            !run.stderr.contains(&format!("`{key}` is read, not used")),
            "{}",
            run.explain()
        );
    }
    run.stderr_has("`dataDir` is read, not used: ao keeps its state in $AO_HOME");
    // The host cleans merged sessions up and runs the orchestrator: those keys are used.
    for key in [
        "lifecycle",
        "orchestrator",
        "orchestratorRules",
        "orchestratorSessionStrategy",
        "orchestratorModel",
    ] {
        assert!(
            !run.stderr.contains(&format!("`{key}`")),
            "{}",
            run.explain()
        );
    }
    // The top-level worktreeDir is used: no warning, and ordinary commands stay quiet
    // about dataDir.
    assert!(!run.stderr.contains("`worktreeDir`"), "{}", run.explain());
    let mut env = env;
    env.set("AO_CONFIG_PATH", &file);
    let ls = env.ao(&env.root(), &["session", "ls"]);
    ls.success();
    assert!(!ls.stderr.contains("dataDir"), "{}", ls.explain());
}

#[test]
fn a_merge_grace_in_seconds_by_mistake_is_refused() {
    let env = env_for_samples();
    let file = env.root().join("agent-orchestrator.yaml");
    std::fs::write(
        &file,
        "lifecycle:\n  mergeCleanupIdleGraceMs: 300\nprojects:\n  my-app:\n    path: ~/my-app\n",
    )
    .unwrap();
    env.ao(&env.root(), &["config", "validate", file.to_str().unwrap()])
        .code(2)
        .stderr_has("mergeCleanupIdleGraceMs is 300")
        .stderr_has("at least 10000");
}

#[test]
fn a_top_level_worktree_dir_places_the_worktrees() {
    let f = ao_tests::Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let dir = f.env.root().join("wt");
    let config = std::fs::read_to_string(f.repo.join("agent-orchestrator.yaml")).unwrap();
    std::fs::write(
        f.repo.join("agent-orchestrator.yaml"),
        format!("worktreeDir: {}\n{config}", dir.display()),
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "go"]).success();
    assert!(dir.join("app").join("app-1").join(".git").exists());
}

#[test]
fn agent_config_keeps_unknown_keys_and_takes_a_command_line() {
    let f = ao_tests::Fleet::new(
        "    agent: command\n    agentConfig:\n      command: \"sh -c 'echo \\\"split into words\\\"; exec cat'\"\n      processName: cat\n      fancyOption: 3\n",
    );
    let check = f.ao(&["config", "validate"]);
    check
        .success()
        .stderr_has("`agentConfig.fancyOption` is not used by the `command` agent; it is ignored");
    f.ao(&["spawn", "app", "--prompt", "go"]).success();
    ao_tests::wait_until("the agent's own output", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("split into words")
            .then_some(())
    });
    // Another agent's project with a `command` is told it is not used.
    let other =
        ao_tests::Fleet::new("    agent: codex\n    agentConfig:\n      command: [toy-agent]\n");
    other
        .ao(&["config", "validate"])
        .success()
        .stderr_has("`agentConfig.command` is for the `command` agent");
    // A line that cannot be split is an error at its place.
    let broken = ao_tests::Fleet::new(
        "    agent: command\n    agentConfig:\n      command: \"sh -c 'unclosed\"\n",
    );
    broken
        .ao(&["config", "validate"])
        .code(2)
        .stderr_has("cannot be split into words");
}

/// A file that loads without warnings still loads after an unknown key is put into any
/// mapping whose keys are fixed (not a mapping of names such as `projects`, `notifiers`,
/// `reactions` or `env`), with exactly one warning more, at that key.
#[test]
fn an_unknown_key_anywhere_is_one_warning_more_and_nothing_else() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("repo"));
    let text = format!(
        "defaults:\n  runtime: tmux\n  agent: command\n  notifiers: [events]\nreadyThresholdMs: 1000\nruntimes:\n  tmux:\n    socket: ao\nnotifiers:\n  events:\n    plugin: webhook\n    url: https://hooks.example.invalid/x\nnotificationRouting:\n  urgent: [events]\nreactions:\n  ci-failed:\n    auto: true\n    retries: 3\nprojects:\n  app:\n    path: {}\n    defaultBranch: main\n    sessionPrefix: app\n    tracker:\n      plugin: prompt\n    agentConfig:\n      command: [cat]\n      permissions: default\n    reactions:\n      agent-stuck:\n        threshold: 5m\n    postCreate: [echo hi]\n",
        repo.display()
    );
    let registry = ao_plugins::builtin_registry();
    let file = repo.join("agent-orchestrator.yaml");
    let lookup = |_: &str| None;
    let base = ao_core::config::load_str(&text, &file, &registry, &lookup)
        .unwrap_or_else(|e| panic!("the fixture loads: {e}"));
    assert!(base.warnings.is_empty(), "{:?}", base.warnings);
    // Every block mapping of fixed keys, by the line and indentation of its first key.
    let names = [
        "projects",
        "notifiers",
        "reactions",
        "runtimes",
        "notificationRouting",
        "env",
    ];
    let lines: Vec<&str> = text.lines().collect();
    let mut places = vec![(0usize, 0usize)];
    for (i, line) in lines.iter().enumerate() {
        let Some(key) = line.trim_start().strip_suffix(':') else {
            continue;
        };
        // A mapping of names: its own keys are names, so its values are the fixed ones.
        if names.contains(&key) {
            continue;
        }
        let child = lines[i + 1].len() - lines[i + 1].trim_start().len();
        places.push((i + 1, child));
    }
    assert!(places.len() >= 8, "{places:?}");
    for (at, indent) in places {
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edited.insert(at, format!("{}zzNotAKey: 1", " ".repeat(indent)));
        let edited = edited.join("\n") + "\n";
        let loaded = ao_core::config::load_str(&edited, &file, &registry, &lookup)
            .unwrap_or_else(|e| panic!("with an unknown key at line {}:\n{edited}\n{e}", at + 1));
        let extra: Vec<_> = loaded.warnings.iter().collect();
        assert_eq!(extra.len(), 1, "at line {}:\n{edited}\n{extra:#?}", at + 1);
        assert_eq!(extra[0].line as usize, at + 1, "{extra:#?}");
        assert!(extra[0].message.contains("zzNotAKey"), "{extra:#?}");
    }
}

/// A fleet whose config is `project` under `projects.app` (four spaces in), then `rest`.
fn fleet_with(project: &str, rest: &str) -> Fleet {
    let f = Fleet::new("");
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: {}\n{project}{rest}",
        f.socket.display(),
        f.repo.display()
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    f
}

/// A config naming an agent or a workspace ao has no plugin for loads with a warning at
/// its line; a spawn, which needs the plugin, fails before it makes anything, saying
/// which plugin, where it is named, and what to write instead.
#[test]
fn a_plugin_ao_lacks_fails_only_the_spawn_that_needs_it_saying_where_and_what_to_do() {
    for (name, project) in [
        (
            "agent_custom",
            "    agent: custom\n    agentConfig:\n      command: [cat]\n",
        ),
        (
            "workspace_local",
            "    workspace: local\n    agent: command\n    agentConfig:\n      command: [cat]\n",
        ),
    ] {
        let f = fleet_with(project, "");
        let root = f.env.root();
        f.ao(&["config", "validate"])
            .success()
            .stdout_has("is valid: 1 project, 1 warning")
            .stderr_has("agent-orchestrator.yaml:7:");
        let spawn = f.ao(&["spawn", "app", "--prompt", "work"]);
        insta::assert_snapshot!(
            format!("spawn_with_{name}"),
            spawn.seen("spawn app --prompt work", &root)
        );
        assert!(f.sessions().is_empty(), "{}", spawn.explain());
        assert_eq!(f.worktrees().len(), 1, "{:?}", f.worktrees());
        assert!(f.tmux_sessions().is_empty());
    }
}

/// `tracker: none` is no tracker: tasks come from `--prompt`, and what needs issues says
/// the project has no tracker and what to set.
#[test]
fn tracker_none_takes_tasks_from_prompts_and_lists_no_issues() {
    let f = fleet_with(
        "    tracker: none\n    agent: command\n    agentConfig:\n      command: [cat]\n",
        "",
    );
    let root = f.env.root();
    let validate = f.ao(&["config", "validate"]);
    validate.success().stdout_has("is valid: 1 project\n");
    f.ao(&["config", "validate", "--strict"]).success();
    f.ao(&["spawn", "app", "--prompt", "work"])
        .success()
        .stdout_has("app-1");
    let issues = f.ao(&["issue", "ls", "app"]);
    let by_number = f.ao(&["spawn", "app", "12"]);
    insta::assert_snapshot!(format!(
        "{}{}{}",
        validate.seen("config validate", &root),
        issues.seen("issue ls app", &root),
        by_number.seen("spawn app 12", &root)
    ));
    assert_eq!(f.sessions().len(), 1);
}

/// The reference's `dashboard` notifier: a notification routed to it is delivered into
/// the event log, where the dashboard's pages show it, and the other notifiers still get it.
#[test]
fn a_notification_routed_to_the_dashboard_is_kept_for_its_pages() {
    use ao_tests::receiver::Receiver;
    let r = Receiver::start();
    let f = fleet_with(
        "    agent: command\n    agentConfig:\n      command: [cat]\n",
        &format!(
            "notifiers:\n  hook:\n    plugin: webhook\n    url: {}/hook\nnotificationRouting:\n  urgent: [dashboard, hook]\n  info: [dashboard]\n",
            r.url
        ),
    );
    let validate = f.ao(&["config", "validate"]);
    validate.success();
    assert!(
        !validate.stderr.contains("dashboard"),
        "{}",
        validate.stderr
    );
    let both = f.ao(&["notify", "-p", "urgent", "app-1 needs input"]);
    both.success()
        .stdout_has("ok    dashboard  delivered in")
        .stdout_has("ok    hook       delivered in");
    assert_eq!(r.received().len(), 1, "{}", both.explain());
    f.ao(&["notify", "-p", "info", "all done"]).success();
    let log = f.ao(&["events", "--json"]);
    let all: Vec<serde_json::Value> = serde_json::from_str(&log.stdout).expect("a JSON list");
    let kept: Vec<&serde_json::Value> = all
        .iter()
        .filter(|e| e["kind"] == "notified" && e["notifier"] == "dashboard")
        .collect();
    assert_eq!(kept.len(), 2, "{}", log.stdout);
    assert!(
        kept.iter()
            .any(|e| e["message"].as_str().unwrap().contains("all done")),
        "{kept:?}"
    );
}
