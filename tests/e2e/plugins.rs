//! External plugins through the real `ao` binary: the example notifier and tracker
//! loaded and used like built-ins, every way a library can be refused with the message
//! the user sees, and a plugin that panics or hangs disabled while ao goes on.

use ao_core::config::load_file;
use ao_core::model::{Event, EventKind, Priority};
use ao_core::plugin::external::{self, ExternalState};
use ao_core::plugin::{Notification, PluginError, Slot};
use ao_core::registry::{Factory, SectionRef};
use ao_tests::{Fleet, plugin_lib, wait_until};
use std::path::Path;
use std::sync::{Arc, Mutex};

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";

/// A fleet whose config gets `extra` appended (top-level keys: `plugins:`, `notifiers:`)
/// and, with `tracker`, the project's tracker section replaced by it.
fn fleet(tracker: Option<&str>, extra: &str) -> Fleet {
    let f = Fleet::new(CAT);
    let file = f.repo.join("agent-orchestrator.yaml");
    let mut config = std::fs::read_to_string(&file).unwrap();
    if let Some(t) = tracker {
        config = config.replace("    tracker:\n      plugin: prompt\n", t);
    }
    config.push_str(extra);
    std::fs::write(&file, config).unwrap();
    f
}

/// A fleet whose project takes its issues from the example file tracker, reading
/// `ISSUES.md` with `issues` in it.
fn file_tracker_fleet(issues: &str) -> Fleet {
    let f = fleet(
        Some("    tracker:\n      plugin: file-tracker\n      file: ISSUES.md\n"),
        &format!(
            "plugins:\n  - name: file-tracker\n    path: {}\n",
            lib("ao-example-file-tracker")
        ),
    );
    std::fs::write(f.repo.join("ISSUES.md"), issues).unwrap();
    f
}

/// A plugin library's path, built once per run.
pub(crate) fn lib(package: &str) -> String {
    plugin_lib(package).display().to_string()
}

fn plugin_ls(f: &Fleet) -> Vec<serde_json::Value> {
    let run = f.ao(&["plugin", "ls", "--json"]);
    run.success();
    serde_json::from_str(&run.stdout).unwrap()
}

fn row<'a>(rows: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in `ao plugin ls`: {rows:#?}"))
}

/// Asserts the store holds a `plugin_disabled` event whose message has `text`.
fn assert_disabled_event(f: &Fleet, text: &str) {
    let events = events(&f.env.ao_home);
    assert!(
        events
            .iter()
            .any(|(kind, message)| kind == "plugin_disabled" && message.contains(text)),
        "{events:?}"
    );
}

fn events(home: &Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(home.join("ao.db")).unwrap();
    let mut st = db
        .prepare("SELECT kind, message FROM events ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The example notifier receives `ao doctor --test-notify`'s event in its file, and both
/// examples are listed as loaded with slot, version and path.
#[test]
fn the_file_notifier_receives_the_test_notification() {
    let f = fleet(
        None,
        &format!(
            "plugins:\n  - name: file-notifier\n    path: {}\n  - name: file-tracker\n    path: {}\nnotifiers:\n  log:\n    plugin: file-notifier\n    path: events.jsonl\n",
            lib("ao-example-file-notifier"),
            lib("ao-example-file-tracker"),
        ),
    );
    let rows = plugin_ls(&f);
    let n = row(&rows, "file-notifier");
    assert_eq!(n["slot"], "notifier", "{n:#}");
    assert_eq!(n["status"], "loaded", "{n:#}");
    assert_eq!(n["version"], "0.1.0", "{n:#}");
    assert_eq!(n["origin"], lib("ao-example-file-notifier"), "{n:#}");
    assert_eq!(row(&rows, "file-tracker")["slot"], "tracker");

    let run = f.ao(&["doctor", "--test-notify"]);
    run.stdout_has("plugin file-notifier")
        .stdout_has("notify log")
        .stdout_has("delivered in");
    // The section's `path` is relative to the config's directory.
    let line = std::fs::read_to_string(f.repo.join("events.jsonl")).unwrap();
    let event: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(event["kind"], "test", "{line}");
    assert_eq!(event["title"], "ao test notification", "{line}");
    assert!(event["message"].as_str().unwrap().contains("--test-notify"));
}

/// An issue of the example file tracker becomes a spawned session's task and branch.
#[test]
fn an_issue_of_the_file_tracker_becomes_a_sessions_task() {
    let f = file_tracker_fleet(
        "## 12 Fix the login bug\nlabels: bug\nThe form rejects plus signs.\n\n## 13 (done) Old work\n",
    );
    f.ao(&["spawn", "app", "12"]).success().stdout_has("app-1");
    let s = &f.sessions()[0];
    assert_eq!(s["branch"], "feat/issue-12", "{s:#}");
    assert_eq!(s["issue"], "12", "{s:#}");
    assert_eq!(
        s["prompt"], "Issue 12: Fix the login bug\n\nThe form rejects plus signs.",
        "{s:#}"
    );
    wait_until("the task on the agent's terminal", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("The form rejects plus signs.")
            .then_some(())
    });
    // An issue that is not in the file: the tracker's own message, nothing spawned.
    f.ao(&["spawn", "app", "99"])
        .code(1)
        .stderr_has("there is no issue `99`")
        .stderr_has("its issues: 12, 13");
    assert_eq!(f.tmux_sessions(), ["app-1"]);
}

/// Every way a library is refused, each with its own message; ao lists and reports them
/// and keeps working with everything else.
#[test]
fn refused_plugins_say_why_and_ao_keeps_running() {
    let f = fleet(
        Some("    tracker:\n      plugin: wrong-abi\n"),
        &format!(
            "plugins:
  - name: not-a-library
    path: ISSUES.md
  - name: missing
    path: no/such/libplugin.so
  - name: no-entry
    path: {}
  - name: wrong-abi
    path: {}
  - name: tracker-as-notifier
    path: {}
  - name: refuses-to-start
    path: {}
    config: {{ init: fail }}
  - name: later
    path: not/built/yet.so
    enabled: false
  - name: old-scm
    path: {}
notifiers:
  wrong-slot:
    plugin: tracker-as-notifier
",
            lib("ao-test-plugin-no-entry"),
            lib("ao-test-plugin-abi-mismatch"),
            lib("ao-example-file-tracker"),
            lib("ao-test-plugin-misbehaving"),
            lib("ao-test-plugin-old-scm"),
        ),
    );
    std::fs::write(f.repo.join("ISSUES.md"), "## 1 Not a library\n").unwrap();
    let rows = plugin_ls(&f);
    let status = |name: &str| row(&rows, name)["status"].as_str().unwrap().to_owned();
    assert!(
        status("not-a-library").contains("is not a shared library ao can load"),
        "{rows:#?}"
    );
    assert!(
        status("missing").contains("there is no file at"),
        "{rows:#?}"
    );
    assert!(
        status("no-entry").contains("has no `ao_plugin_entry` symbol: it is not an ao plugin"),
        "{rows:#?}"
    );
    assert!(
        status("wrong-abi").contains("was built for plugin ABI 99, but this ao speaks ABI 1"),
        "{rows:#?}"
    );
    assert!(
        status("old-scm").contains("is an scm plugin built with ao-plugin-sdk 0.1.0, whose scm messages this ao no longer reads")
            && status("old-scm").contains("rebuild it against ao-plugin-sdk 0.3.0"),
        "{rows:#?}"
    );
    assert!(
        status("tracker-as-notifier")
            .contains("it is a tracker plugin, but `notifiers.wrong-slot` names it as a notifier"),
        "{rows:#?}"
    );
    assert!(
        status("refuses-to-start").contains("it refused to start: told to fail at start"),
        "{rows:#?}"
    );
    assert_eq!(status("later"), "disabled (enabled: false)");
    // The built-ins are still there.
    assert_eq!(row(&rows, "tmux")["status"], "available");

    // Doctor fails, naming each; other commands warn and go on.
    f.ao(&["doctor"])
        .code(1)
        .stdout_has("plugin wrong-abi")
        .stdout_has("plugin no-entry");
    f.ao(&["session", "ls"])
        .success()
        .stderr_has("plugin `wrong-abi` was not loaded: ");
    // A session that needs a refused plugin is refused with the reason, not a crash.
    f.ao(&["spawn", "app", "1"])
        .code(1)
        .stderr_has("the tracker plugin `wrong-abi` was not loaded")
        .stderr_has("plugin ABI 99");
    // A prompt needs no tracker: the rest of ao works.
    f.ao(&["spawn", "app", "--prompt", "still works"])
        .success()
        .stdout_has("app-1");
}

/// A plugin that panics in a call is disabled with an event saying why, and the other
/// notifiers of the same run are delivered.
#[test]
fn a_panicking_plugin_is_disabled_and_the_rest_go_on() {
    // The same library twice, as two plugins: `steady` must not share `misbehaving`'s fate.
    let f = fleet(
        None,
        &format!(
            "plugins:\n  - name: misbehaving\n    path: {0}\n  - name: steady\n    path: {0}\nnotifiers:\n  loud:\n    plugin: misbehaving\n    mode: panic\n  steady:\n    plugin: steady\n    mode: ok\n    record: steady.txt\n",
            lib("ao-test-plugin-misbehaving")
        ),
    );
    let run = f.ao(&["doctor", "--test-notify"]);
    run.code(1)
        .stdout_has("FAIL  notify loud")
        .stdout_has("misbehaving is disabled: panicked: told to panic on test at ")
        .stdout_has("ok    notify steady");
    // Delivered for real: the notification is in the file its section names.
    let record = f.repo.join("steady.txt");
    let got = std::fs::read_to_string(&record)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", record.display(), run.explain()));
    assert_eq!(
        got,
        "A test notification from `ao doctor --test-notify`: this notifier works."
    );
    // The panic's message went into the report, not onto ao's standard error.
    assert!(!run.stderr.contains("panicked at"), "{}", run.explain());
    assert_disabled_event(
        &f,
        "plugin `misbehaving` is disabled: panicked: told to panic",
    );
}

/// A plugin that never returns is cut off at its time-out, disabled, and ao exits.
#[test]
fn a_hanging_plugin_times_out_and_ao_still_exits() {
    let f = fleet(
        None,
        &format!(
            "plugins:\n  - name: misbehaving\n    path: {}\n    timeoutMs: 300\nnotifiers:\n  stuck:\n    plugin: misbehaving\n    mode: hang\n",
            lib("ao-test-plugin-misbehaving")
        ),
    );
    f.ao(&["doctor", "--test-notify"])
        .code(1)
        .stdout_has("notify stuck")
        .stdout_has("failed after")
        .stdout_has("no answer within 300 ms");
    assert_disabled_event(&f, "did not answer within 300 ms");
}

/// In one process (the host's case): a plugin that timed out or panicked stays disabled
/// for every later call, through every section that names it, with one event.
#[test]
fn a_disabled_plugin_stays_disabled_for_the_rest_of_the_process() {
    for (mode, first_error) in [("hang", "Timeout"), ("panic", "Disabled")] {
        let f = fleet(
            None,
            &format!(
                "plugins:\n  - name: misbehaving\n    path: {}\n    timeoutMs: 200\nnotifiers:\n  bad:\n    plugin: misbehaving\n    mode: {mode}\n  good:\n    plugin: misbehaving\n    mode: ok\n",
                lib("ao-test-plugin-misbehaving")
            ),
        );
        let env = |k: &str| std::env::var(k).ok();
        let mut registry = ao_plugins::builtin_registry();
        let loaded = load_file(&f.repo.join("agent-orchestrator.yaml"), &registry, &env).unwrap();
        let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
        let sink = seen.clone();
        let statuses = external::load(
            &loaded,
            &mut registry,
            &env,
            Arc::new(move |e| sink.lock().unwrap().push(e)),
        );
        assert!(
            matches!(statuses[0].state, ExternalState::Loaded { .. }),
            "{statuses:?}"
        );
        let notifier = |key: &str| {
            let Some(Factory::Notifier(build)) = registry
                .get(Slot::Notifier, "misbehaving")
                .and_then(|e| e.factory.clone())
            else {
                panic!("misbehaving is not a notifier in the registry");
            };
            let node = loaded.tree.at(&["notifiers", key]);
            build(&SectionRef {
                file: &loaded.file,
                node,
                loc: node.unwrap().loc,
                repo: None,
            })
            .unwrap()
        };
        let test = Notification {
            title: "t".into(),
            event: Event {
                id: 0,
                at: 0,
                project: String::new(),
                session: None,
                priority: Priority::Info,
                kind: EventKind::Test,
                message: "m".into(),
            },
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (bad, good) = (notifier("bad"), notifier("good"));
        let first = rt.block_on(bad.notify(&test)).unwrap_err();
        let kind = match &first {
            PluginError::Timeout { .. } => "Timeout",
            PluginError::Disabled { .. } => "Disabled",
            _ => "other",
        };
        assert_eq!(kind, first_error, "{mode}: {first}");
        for n in [&bad, &good] {
            let again = rt.block_on(n.notify(&test)).unwrap_err();
            assert!(
                matches!(&again, PluginError::Disabled { plugin, .. } if plugin == "misbehaving"),
                "{mode}: {again}"
            );
        }
        let events = seen.lock().unwrap();
        assert_eq!(events.len(), 1, "{mode}: {events:?}");
        assert_eq!(
            events[0].kind,
            EventKind::PluginDisabled {
                plugin: "misbehaving".into()
            }
        );
    }
}

/// The plugin template builds on its own, as a user's copy would, and works in ao.
#[test]
fn the_plugin_template_builds_on_its_own_and_loads() {
    let manifest = ao_tests::repo_root().join("examples/plugin-template/Cargo.toml");
    ao_tests::cargo_build(&[], Some(&manifest));
    let lib = ao_tests::bin_dir().join(format!(
        "{}ao_plugin_template{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let f = fleet(
        None,
        &format!(
            "plugins:\n  - name: command-notifier\n    path: {}\nnotifiers:\n  script:\n    plugin: command-notifier\n    command: [sh, -c, 'cat > got.json']\n",
            lib.display()
        ),
    );
    f.ao(&["doctor", "--test-notify"])
        .stdout_has("notify script")
        .stdout_has("delivered in");
    let got: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.repo.join("got.json")).unwrap()).unwrap();
    assert_eq!(got["event"]["kind"], "test", "{got:#}");
    assert_eq!(got["title"], "ao test notification", "{got:#}");
}

/// An external runtime carries a whole session like the built-in one: spawn (waiting
/// until the agent is the pane's process), status, send, output, kill.
#[test]
fn an_external_runtime_runs_a_session_end_to_end() {
    let f = Fleet::new(CAT);
    let socket = f.env.root().join("plugin-tmux.sock");
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    let config = config.replace(
        "    agent: command\n",
        "    runtime: my-tmux\n    agent: command\n",
    );
    std::fs::write(
        &file,
        format!(
            "{config}plugins:\n  - name: my-tmux\n    path: {}\n",
            lib("ao-test-plugin-tmux-runtime")
        )
        .replacen(
            "runtimes:\n",
            &format!("runtimes:\n  my-tmux:\n    socket: {}\n", socket.display()),
            1,
        ),
    )
    .unwrap();
    let tmux = |args: &[&str]| {
        let mut cmd = f.env.command("tmux");
        cmd.arg("-S").arg(&socket).args(args);
        ao_tests::Run::of(cmd, &f.env.root())
    };
    f.ao(&["spawn", "app", "--prompt", "hello from the task"])
        .success()
        .stdout_has("app-1");
    assert_eq!(
        tmux(&[
            "list-panes",
            "-t",
            "=app-1:",
            "-F",
            "#{pane_current_command}"
        ])
        .stdout
        .trim(),
        "cat"
    );
    let s = &f.sessions()[0];
    assert_eq!(s["runtime"]["runtime"], "my-tmux", "{s:#}");
    wait_until("the task on the session's terminal", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("hello from the task")
            .then_some(())
    });
    f.ao(&["status"]).success().stdout_has("working");
    f.ao(&["send", "app-1", "a second message"]).success();
    wait_until("the message on the session's terminal", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("a second message")
            .then_some(())
    });
    f.ao(&["session", "kill", "app-1", "--force"]).success();
    let gone = tmux(&["has-session", "-t", "=app-1"]);
    tmux(&["kill-server"]);
    assert_ne!(gone.code, 0, "{}", gone.explain());
}

/// `ao spawn P 12 13 14`: one session per issue, started together, each on its own
/// branch with its own task.
#[test]
fn several_issues_spawn_one_session_each() {
    let f = file_tracker_fleet("## 12 First\n## 13 Second\n## 14 Third\n");
    let run = f.ao(&["spawn", "app", "12", "#13", "14", "--json"]);
    run.success();
    let results: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(results.len(), 3, "{}", run.stdout);
    let mut sessions: Vec<(String, String, String)> = f
        .sessions()
        .iter()
        .map(|s| {
            (
                s["issue"].as_str().unwrap().to_owned(),
                s["branch"].as_str().unwrap().to_owned(),
                s["prompt"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    sessions.sort();
    assert_eq!(
        sessions,
        [
            (
                "12".into(),
                "feat/issue-12".into(),
                "Issue 12: First".into()
            ),
            (
                "13".into(),
                "feat/issue-13".into(),
                "Issue 13: Second".into()
            ),
            (
                "14".into(),
                "feat/issue-14".into(),
                "Issue 14: Third".into()
            ),
        ]
    );
    let mut live = f.tmux_sessions();
    live.sort();
    assert_eq!(live, ["app-1", "app-2", "app-3"]);
}

/// A fleet whose project runs the test agent plugin, which ignores its first
/// `miss_enter` Enters.
fn line_agent_fleet(miss_enter: u32) -> Fleet {
    let f = Fleet::new("    agent: line-agent\n");
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{config}plugins:\n  - name: line-agent\n    path: {}\n    config: {{ missEnter: {miss_enter} }}\n",
            lib("ao-test-plugin-line-agent")
        ),
    )
    .unwrap();
    f
}

/// An external agent whose terminal misses the first Enter: the spawn sees the task was
/// not taken, presses Enter again, and the task arrives once; `ao send` then goes
/// straight through, and `ao session info` reads the plugin's session info.
#[test]
fn an_external_agent_that_misses_an_enter_still_gets_its_task_once() {
    let f = line_agent_fleet(1);
    f.ao(&["spawn", "app", "--prompt", "first task"])
        .success()
        .stdout_has("app-1");
    let screen = f.tmux(&["capture-pane", "-p", "-t", "app-1"]).stdout;
    assert!(screen.contains("(missed an Enter)"), "{screen}");
    assert_eq!(screen.matches("took: first task").count(), 1, "{screen}");
    f.ao(&["send", "app-1", "second"]).success();
    wait_until("the message taken", || {
        f.tmux(&["capture-pane", "-p", "-t", "app-1"])
            .stdout
            .contains("took: second")
            .then_some(())
    });
    let run = f.ao(&["session", "info", "app-1", "--json"]);
    let info: serde_json::Value = serde_json::from_str(&run.success().stdout).unwrap();
    assert_eq!(info["agent_info"]["summary"], "first task", "{info:#}");
    assert_eq!(info["activity"], "ready", "{info:#}");
}

/// An agent that never takes its task fails the spawn with its screen, after Enter was
/// pressed again, and the spawn is undone.
#[test]
fn a_task_never_taken_fails_the_spawn_and_is_undone() {
    let f = line_agent_fleet(99);
    let run = f.ao(&["spawn", "app", "--prompt", "lost task"]);
    run.code(1)
        .stderr_has("the task was typed in but the agent did not take it within 15 s, even with Enter pressed again");
    // The agent's screen in the message shows each Enter it got: the first and two more.
    assert_eq!(
        run.stderr.matches("(missed an Enter)").count(),
        3,
        "{}",
        run.explain()
    );
    // Undone: no tmux session, worktree, branch or record.
    assert!(f.tmux_sessions().is_empty());
    assert_eq!(f.worktrees().len(), 1);
    assert_eq!(f.branches(), ["main"]);
    assert!(f.sessions().is_empty(), "{:?}", f.sessions());
}
