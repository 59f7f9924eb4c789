//! The agent plugins against the real CLIs (Claude Code, Codex, Aider, opencode), each talking to the
//! scripted model server on loopback, in real worktrees and a real tmux server. Each
//! test skips, loudly, only when its CLI is not installed.

use ao_tests::model::{Scenario, Step};
use ao_tests::{AgentFleet, agent_cli, wait_until};

fn text(t: &str) -> Step {
    Step {
        text: Some(t.into()),
        ..Step::default()
    }
}

fn held(t: &str) -> Step {
    Step {
        hold: true,
        ..text(t)
    }
}

fn shell(c: &str) -> Step {
    Step {
        shell: Some(c.into()),
        ..Step::default()
    }
}

fn scenario(steps: Vec<Step>) -> Scenario {
    Scenario {
        steps,
        ..Scenario::default()
    }
}

/// The conversation the codex, aider and opencode tests hold: a task answered in a held
/// stream, then `work` when asked to write the file (with `reply` after it, if any), then
/// an answer to the question asked after a restore.
fn conversation(work: Step, reply: Option<Step>) -> Vec<Step> {
    let mut steps = vec![
        Step {
            when: Some("Say what you see".into()),
            ..held("Looking at the code")
        },
        Step {
            when: Some("Now write the file".into()),
            ..work
        },
    ];
    steps.extend(reply);
    steps.push(Step {
        when: Some("What did I ask first".into()),
        ..text("You asked me to say what I see.")
    });
    steps
}

/// After a restore: asks what the first task was, and checks the model's request (the
/// scenario's `step`) carries the conversation from before the restore.
fn ask_after_restore(f: &AgentFleet, step: usize) {
    f.ao(&["send", "app-1", "What did I ask first"]).success();
    let asked = ao_tests::wait_until("the question after restore reached the model", || {
        f.model
            .requests()
            .into_iter()
            .find(|r| r.step == Some(step))
    });
    let body = asked.body.to_string();
    assert!(
        body.contains("Say what you see"),
        "the restored session does not carry the first task: {body}"
    );
}

/// Asks for out.txt, expects the agent to ask `question` first, answers with `keys`, and
/// waits until the file holds what the model wrote and the turn has ended.
fn write_after_asking(f: &AgentFleet, question: &str, keys: &[&str]) {
    f.ao(&["send", "app-1", "Now write the file"]).success();
    let s = f.wait_activity("app-1", "waiting_input");
    assert_eq!(s["activity_detail"], question, "{s:#}");
    f.keys("app-1", keys);
    let out = f.fleet.worktree("app-1").join("out.txt");
    ao_tests::wait_until("hello in out.txt", || {
        (std::fs::read_to_string(&out).ok()? == "hello\n").then_some(())
    });
    f.wait_turn_ended("app-1");
}

/// Ends the CLI with `keys` (pressed twice where given twice), waits for `exited` and
/// for its process to be gone (a CLI's exit hook may report a moment before it is).
fn exit_cli(f: &AgentFleet, keys: &[&str]) {
    for k in keys {
        f.keys("app-1", &[k]);
    }
    f.wait_activity("app-1", "exited");
    // Its hooks can say so a moment before the process ends; once the terminal shows it
    // ended, the session is over (done, agent_finished for exit code 0; else killed,
    // agent_exited) and restore may start it again.
    ao_tests::wait_until("the CLI's process to end", || {
        matches!(
            f.status("app-1")["status_reason"].as_str(),
            Some("agent_finished" | "agent_exited")
        )
        .then_some(())
    });
}

/// One reading of a session's activity in `ao status --json`, taken while a test watched.
struct Sample {
    /// When the reading ended, since the watch began.
    at: std::time::Duration,
    activity: String,
    source: String,
    detail: String,
    /// Steps the model had taken when the reading began.
    steps: usize,
}

impl std::fmt::Debug for Sample {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            out,
            "{:>6} ms  {} ({}) {:?} after {} model steps",
            self.at.as_millis(),
            self.activity,
            self.source,
            self.detail,
            self.steps
        )
    }
}

/// Reads the session's activity from `ao status --json` as often as it can, two readers
/// at once (so a window shorter than one reading is still seen), while `act` runs, until
/// a reading satisfies `done` (within 90 s). Returns the readings in the order they
/// ended, up to that first one.
fn watch_activity(
    f: &AgentFleet,
    id: &str,
    done: impl Fn(&Sample) -> bool + Sync,
    act: impl FnOnce(),
) -> Vec<Sample> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    let start = std::time::Instant::now();
    let samples = Mutex::new(Vec::new());
    let over = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while !over.load(Ordering::SeqCst) {
                    assert!(
                        start.elapsed() < std::time::Duration::from_secs(90),
                        "{id} never reached the end of the watch; readings:\n{:#?}\nscreen:\n{}",
                        samples.lock().unwrap(),
                        f.screen(id)
                    );
                    let steps = f.model.steps_taken();
                    let s = f.status(id);
                    let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
                    let sample = Sample {
                        at: start.elapsed(),
                        activity: text("activity"),
                        source: text("activity_source"),
                        detail: text("activity_detail"),
                        steps,
                    };
                    if done(&sample) {
                        over.store(true, Ordering::SeqCst);
                    }
                    samples.lock().unwrap().push(sample);
                }
            });
        }
        // A failing `act` ends the watch too.
        struct EndOnPanic<'a>(&'a AtomicBool);
        impl Drop for EndOnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
        }
        let _end = EndOnPanic(&over);
        act();
    });
    let mut all = samples.into_inner().unwrap();
    all.sort_by_key(|s| s.at);
    let end = all
        .iter()
        .position(&done)
        .expect("the watch ended on a reading");
    all.truncate(end + 1);
    all
}

/// Asserts that no reading before the last one says the turn ended (`ready` or `idle`).
fn assert_never_ready(samples: &[Sample], what: &str) {
    let ready: Vec<&Sample> = samples[..samples.len() - 1]
        .iter()
        .filter(|s| s.activity == "ready" || s.activity == "idle")
        .collect();
    eprintln!(
        "{what}: {} readings in {} ms, {} of them ready or idle",
        samples.len(),
        samples.last().map_or(0, |s| s.at.as_millis()),
        ready.len()
    );
    assert!(
        ready.is_empty(),
        "{what}, the session read as its turn ended {} times; readings:\n{samples:#?}",
        ready.len()
    );
}

/// Claude Code in permissionless mode writing done.txt, set up as a user running ao as
/// root in a sandbox would: the sandbox marked (root may bypass permissions only there)
/// and the bypass mode's one-time warning accepted.
fn permissionless_claude() -> AgentFleet {
    permissionless(
        "claude-code",
        scenario(vec![shell("echo done > done.txt"), text("Done.")]),
    )
}

/// `agent` in permissionless mode on `scenario`, set up as a user running ao as root
/// in a sandbox would (Claude Code's bypass warning accepted, the sandbox marked).
fn permissionless(agent: &str, scenario: Scenario) -> AgentFleet {
    let f = AgentFleet::new(agent, scenario, "      permissions: permissionless\n");
    let settings = f.fleet.env.home.join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"skipDangerousModePermissionPrompt": true}"#).unwrap();
    f.add_env("IS_SANDBOX", "1");
    f
}

/// Gives project `app` (whose agent is `agent`) rules the model can be seen to get.
fn give_rules(f: &AgentFleet, agent: &str) {
    let file = f.fleet.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        config.replace(
            &format!("    agent: {agent}\n"),
            &format!("    agent: {agent}\n    agentRules: \"The magic word is PINEAPPLE.\"\n"),
        ),
    )
    .unwrap();
}

/// The task's request carried the rules [`give_rules`] gave.
fn assert_rules_reached_the_model(f: &AgentFleet) {
    let task = f
        .model
        .requests()
        .into_iter()
        .find(|r| r.step == Some(0))
        .unwrap();
    assert!(task.body.to_string().contains("PINEAPPLE"), "{}", task.body);
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Claude Code in its asking mode: the folder-trust dialog, a streaming turn, a finished
/// turn, a permission prompt, idle, exit and resume, each as `ao status` shows it.
#[test]
fn claude_code_states_through_hooks() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "claude-code",
        scenario(vec![
            held("Looking at the code"),
            shell("echo hello > out.txt"),
            text("I wrote out.txt."),
        ]),
        "      permissions: default\n",
    );
    f.set_ready_threshold_ms(4000);
    // It starts, but stops at a dialog: the spawn says so rather than plain success.
    f.ao(&["spawn", "app", "--prompt", "Say what you see"])
        .success()
        .stdout_has("app-1")
        .stderr_has("app-1 started, but waits for an answer before it can work");
    // First run in a new folder: Claude Code asks whether to trust it.
    let s = f.wait_activity("app-1", "waiting_input");
    let detail = s["activity_detail"].as_str().unwrap_or_default();
    assert!(detail.contains("trust"), "{s:#}");
    f.press_until("app-1", &["Down"], "❯ Yes, I trust this folder");
    f.keys("app-1", &["Enter"]);
    // The model streams: active, told by the hooks.
    f.wait_hold("app-1");
    let s = f.wait_activity("app-1", "active");
    assert_eq!(s["activity_source"], "hook", "{s:#}");
    f.model.release();
    let s = f.wait_activity("app-1", "ready");
    assert_eq!(s["activity_source"], "hook", "{s:#}");
    let info = f.agent_info("app-1");
    assert_eq!(info["agent_session_id"], s["agent_session_id"], "{info:#}");
    assert_eq!(info["summary"], "Say what you see", "{info:#}");
    // A command needs permission: waiting_input with the question.
    f.ao(&["send", "app-1", "Now write the file"]).success();
    let s = f.wait_activity("app-1", "waiting_input");
    assert_eq!(
        s["activity_detail"], "asks permission to use Bash: echo hello > out.txt",
        "{s:#}"
    );
    f.press_until_gone("app-1", &["Enter"], "Do you want to proceed?");
    // The command runs, then the turn ends (the readings in between are the subject of
    // claude_code_never_reads_ready_between_an_answered_question_and_its_turns_end).
    let out = f.fleet.worktree("app-1").join("out.txt");
    wait_until("out.txt written", || out.exists().then_some(()));
    f.wait_turn_ended("app-1");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    // Ready past the threshold is idle.
    f.wait_activity("app-1", "idle");
    let id = f.status("app-1")["agent_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The CLI ends: exited.
    exit_cli(&f, &["C-d", "C-d"]);
    // Restore resumes the same conversation.
    f.ao(&["session", "restore", "app-1"]).success();
    let argv = wait_until("the resumed agent to run", || {
        let argv = f.agent_argv("app-1");
        argv.windows(2)
            .any(|w| w[0] == "--resume" && w[1] == id)
            .then_some(argv)
    });
    assert!(!argv.iter().any(|a| a.contains("__launch")), "{argv:?}");
    f.wait_turn_ended("app-1");
}

/// Claude Code's permission question answered "Yes": from the answer until the turn
/// ends, no reading of `ao status` says it ended (between the answer and its next hook
/// the CLI's screen rests a moment). Refused (Esc: no hook follows), the turn is over
/// once the screen shows it.
#[test]
fn claude_code_never_reads_ready_between_an_answered_question_and_its_turns_end() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "claude-code",
        scenario(vec![
            shell("echo hello > out.txt"),
            text("I wrote out.txt."),
            shell("echo again > again.txt"),
        ]),
        "      permissions: default\n",
    );
    f.ao(&["spawn", "app", "--prompt", "Write the file"])
        .success();
    f.wait_activity("app-1", "waiting_input");
    f.press_until("app-1", &["Down"], "❯ Yes, I trust this folder");
    f.keys("app-1", &["Enter"]);
    wait_until("the permission question", || {
        f.screen("app-1")
            .contains("Do you want to proceed?")
            .then_some(())
    });
    let samples = watch_activity(
        &f,
        "app-1",
        // The turn's end, told by its hook.
        |s| s.source == "hook" && (s.activity == "ready" || s.activity == "idle"),
        || f.keys("app-1", &["Enter"]),
    );
    assert_never_ready(&samples, "from the answer to the turn's end");
    let out = f.fleet.worktree("app-1").join("out.txt");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    // Refused: no hook follows; the screen tells that the turn is over.
    f.ao(&["send", "app-1", "Write again"]).success();
    wait_until("the second question", || {
        f.screen("app-1")
            .contains("Do you want to proceed?")
            .then_some(())
    });
    f.press_until_gone("app-1", &["Escape"], "Do you want to proceed?");
    let s = f.wait_turn_ended("app-1");
    assert_eq!(
        s["activity_source"],
        "terminal",
        "{s:#}\n{}",
        f.screen("app-1")
    );
    assert!(!f.fleet.worktree("app-1").join("again.txt").exists());
}

/// With `permissions: permissionless` ao trusts the session's own worktree for Claude
/// Code, and the task runs with no dialog and no permission prompt.
#[test]
fn claude_code_permissionless_pretrusts_only_its_worktree() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let f = permissionless_claude();
    f.ao(&["spawn", "app", "--prompt", "Mark it done"])
        .success();
    // Until Claude Code has asked the model about its task, the session is not `ready`:
    // its start is not the end of a turn.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = f.status("app-1");
        // Read after the status, so a request seen here came after that reading.
        if f.model.requests().iter().any(|r| r.step.is_some()) {
            break;
        }
        assert_ne!(
            s["activity"], "ready",
            "ready before it took its task: {s:#}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no request for the task"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    f.wait_activity("app-1", "ready");
    let done = f.fleet.worktree("app-1").join("done.txt");
    ao_tests::wait_until("done.txt", || done.exists().then_some(()));
    let claude: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.fleet.env.home.join(".claude.json")).unwrap(),
    )
    .unwrap();
    let projects = claude["projects"].as_object().unwrap();
    let trusted: Vec<&String> = projects
        .iter()
        .filter(|(_, v)| v["hasTrustDialogAccepted"] == true)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        trusted,
        vec![&f.fleet.worktree("app-1").display().to_string()]
    );
}

/// As root, Claude Code refuses its bypass flag unless a sandbox is marked; ao reports it
/// with both ways out, leaves nothing behind, and types nothing anywhere.
#[test]
fn claude_code_refusing_root_bypass_is_explained() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    if !is_root() {
        ao_tests::skip(
            "claude_code_refusing_root_bypass_is_explained needs root (Claude Code refuses only root)",
        );
        return;
    }
    let f = AgentFleet::new(
        "claude-code",
        scenario(vec![text("never")]),
        "      permissions: permissionless\n",
    );
    let run = f.ao(&["spawn", "app", "--prompt", "Anything"]);
    run.code(1)
        .stderr_has("cannot be used with root/sudo privileges")
        .stderr_has("run ao as an ordinary user")
        .stderr_has("IS_SANDBOX");
    assert!(f.fleet.tmux_sessions().is_empty());
    assert_eq!(f.fleet.worktrees().len(), 1);
    assert_eq!(f.model.requests().len(), 0, "nothing reached the model");
}

/// A first-run dialog (an API key the user has not approved) is waiting_input with the
/// dialog's question, not a silent hang.
#[test]
fn claude_code_api_key_dialog_is_waiting_input() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "claude-code",
        scenario(vec![text("Hi")]),
        "      permissions: default\n",
    );
    std::fs::write(
        f.fleet.env.home.join(".claude.json"),
        r#"{"hasCompletedOnboarding": true}"#,
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "Hello"]).success();
    let mut seen = Vec::new();
    // The trust dialog comes first, then the API key.
    for _ in 0..2 {
        let s = f.wait_activity("app-1", "waiting_input");
        let detail = s["activity_detail"].as_str().unwrap_or_default().to_owned();
        if detail.contains("API key") {
            seen.push(detail);
            break;
        }
        assert!(detail.contains("trust"), "{s:#}");
        f.press_until("app-1", &["Down"], "❯ Yes, I trust this folder");
        f.keys("app-1", &["Enter"]);
        ao_tests::wait_until("the trust dialog to close", || {
            (!f.screen("app-1").contains("trust this folder")).then_some(())
        });
    }
    assert_eq!(seen, vec!["Do you want to use this API key?"]);
}

/// Claude Code's onboarding on a machine where it never ran, offline: its first-run
/// check cannot reach Anthropic and the CLI quits. The spawn fails saying so and how to
/// finish the setup, with nothing left behind and nothing typed anywhere.
#[test]
fn claude_code_onboarding_offline_is_explained() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "claude-code",
        scenario(vec![text("Hi")]),
        "      permissions: default\n",
    );
    std::fs::write(f.fleet.env.home.join(".claude.json"), "{}").unwrap();
    f.ao(&["spawn", "app", "--prompt", "Hello"])
        .code(1)
        .stderr_has("Unable to connect to Anthropic services")
        .stderr_has("run `claude` once by hand to finish its setup");
    assert!(f.fleet.tmux_sessions().is_empty());
    assert_eq!(f.fleet.worktrees().len(), 1);
    assert_eq!(f.model.requests().len(), 0, "nothing reached the model");
}

/// Codex: the trust dialog, a streaming turn told by its rollout, a finished turn told by
/// its notify program, an approval question, work in the worktree, idle, exit, and a
/// restore that resumes the same thread.
#[test]
fn codex_states_through_notify_and_rollout() {
    if agent_cli("codex", "@openai/codex").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "codex",
        scenario(conversation(
            Step {
                escalate: Some("Write out.txt".into()),
                ..shell("echo hello > out.txt")
            },
            Some(text("I wrote out.txt.")),
        )),
        "      permissions: default\n",
    );
    f.set_ready_threshold_ms(4000);
    f.ao(&["spawn", "app", "--prompt", "Say what you see"])
        .success();
    let s = f.wait_activity("app-1", "waiting_input");
    assert!(
        s["activity_detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Trust this folder"),
        "{s:#}"
    );
    f.keys("app-1", &["Enter"]);
    f.wait_hold("app-1");
    let s = f.wait_activity("app-1", "active");
    assert_eq!(s["activity_source"], "session-log", "{s:#}");
    f.model.release();
    // The rollout may tell a moment before the notify program reports.
    f.wait_turn_ended("app-1");
    ao_tests::wait_until("ready reported by codex's notify program", || {
        let s = f.status("app-1");
        let ended = s["activity"] == "ready" || s["activity"] == "idle";
        (ended && s["activity_source"] == "hook").then_some(())
    });
    let id = f.status("app-1")["agent_session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!id.is_empty());
    let info = f.agent_info("app-1");
    assert_eq!(info["agent_session_id"], id.as_str(), "{info:#}");

    // The command asks to leave the sandbox: Codex asks its user first.
    write_after_asking(&f, "asks permission to run: echo hello > out.txt", &["y"]);
    f.wait_activity("app-1", "idle");

    exit_cli(&f, &["C-c", "C-c"]);
    // Restore resumes the same thread.
    f.ao(&["session", "restore", "app-1"]).success();
    wait_until("codex resume of the same thread", || {
        let argv = f.agent_argv("app-1");
        (argv.iter().any(|a| a == "resume") && argv.last() == Some(&id)).then_some(())
    });
    f.wait_turn_ended("app-1");
    ask_after_restore(&f, 3);
}

/// Codex given a task that runs a command outside its sandbox: from the spawn until its
/// approval question, through the trust dialog, the task's request and the shell call,
/// no reading of `ao status` says the turn ended. Before Codex's notify program reports
/// or its rollout is found, the screen alone once read `ready` in that window
/// (issue 29, item 8).
#[test]
fn codex_with_its_task_pending_never_reads_ready_before_its_approval_question() {
    if agent_cli("codex", "@openai/codex").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "codex",
        scenario(vec![
            Step {
                escalate: Some("Write out.txt".into()),
                ..shell("echo hello > out.txt")
            },
            text("I wrote out.txt."),
        ]),
        "      permissions: default\n",
    );
    f.ao(&["spawn", "app", "--prompt", "Write the file"])
        .success();
    let question = "asks permission to run: echo hello > out.txt";
    let samples = watch_activity(
        &f,
        "app-1",
        |s| s.activity == "waiting_input" && s.detail == question,
        || f.press_until_gone("app-1", &["Enter"], "Trust this folder"),
    );
    assert_never_ready(&samples, "from codex's spawn to its approval question");
    f.press_until_gone("app-1", &["y"], "Would you like to run");
    let out = f.fleet.worktree("app-1").join("out.txt");
    wait_until("hello in out.txt", || {
        (std::fs::read_to_string(&out).ok()? == "hello\n").then_some(())
    });
    f.wait_turn_ended("app-1");
}

/// Codex with no login: its sign-in screen is waiting_input with the screen's question,
/// not a silent hang.
#[test]
fn codex_sign_in_screen_is_waiting_input() {
    if agent_cli("codex", "@openai/codex").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "codex",
        scenario(vec![text("Hi")]),
        "      permissions: default\n",
    );
    std::fs::remove_file(f.fleet.env.home.join(".codex/auth.json")).unwrap();
    f.ao(&["spawn", "app", "--prompt", "Hello"]).success();
    let mut seen = String::new();
    // The trust dialog may come first.
    for _ in 0..2 {
        let s = f.wait_activity("app-1", "waiting_input");
        seen = s["activity_detail"].as_str().unwrap_or_default().to_owned();
        if !seen.contains("Trust this folder") {
            break;
        }
        f.keys("app-1", &["Enter"]);
        ao_tests::wait_until("the trust dialog to close", || {
            (!f.screen("app-1").contains("Trust this folder")).then_some(())
        });
    }
    assert_eq!(
        seen,
        "Choose how you want to use Codex.",
        "{}",
        f.screen("app-1")
    );
    assert_eq!(f.model.requests().len(), 0, "nothing reached the model");
}

/// Aider: the task typed in once its prompt is up and confirmed taken, a streaming turn,
/// a finished turn, a question before an edit, idle, exit, and a restore that starts
/// afresh with the chat history so the model sees the earlier work.
#[test]
fn aider_states_through_its_screen_history_and_notifications() {
    if agent_cli("aider", "aider-chat").is_none() {
        return;
    }
    let edit = "I will create it.\n\nout.txt\n```\nhello\n```\n";
    let f = AgentFleet::new(
        "aider",
        Scenario {
            tools_optional: true,
            ..scenario(conversation(text(edit), None))
        },
        "      permissions: default\n      model: openai/test-model\n",
    );
    f.set_ready_threshold_ms(4000);
    // Spawn returns once aider has taken the task: the model is already streaming.
    f.ao(&["spawn", "app", "--prompt", "Say what you see"])
        .success();
    f.wait_hold("app-1");
    let s = f.wait_activity("app-1", "active");
    assert_eq!(s["activity_source"], "session-log", "{s:#}");
    f.model.release();
    // Its chat history can say the turn ended a moment before its notification reaches
    // ao (on a loaded machine): ready from either, and then from the notification.
    f.wait_activity("app-1", "ready");
    ao_tests::wait_until("ready from aider's notification", || {
        let s = f.status("app-1");
        (s["activity"] == "ready" && s["activity_source"] == "hook").then_some(())
    });
    let info = f.agent_info("app-1");
    assert_eq!(info["summary"], "Say what you see", "{info:#}");
    assert!(
        info["cost_usd"].as_f64().is_some_and(|c| c > 0.0),
        "{info:#}"
    );

    write_after_asking(&f, "Create new file? (out.txt)", &["y", "Enter"]);
    f.wait_activity("app-1", "idle");
    // Aider's caches stay out of the session's changes.
    let changes = f
        .fleet
        .env
        .git(&f.fleet.worktree("app-1"), &["status", "--porcelain"]);
    assert!(!changes.contains(".aider"), "{changes}");

    exit_cli(&f, &["C-d"]);
    f.ao(&["session", "restore", "app-1"]).success();
    f.wait_turn_ended("app-1");
    ask_after_restore(&f, 2);
}

/// opencode: a streaming turn, a finished turn, a permission question and its answer,
/// work in the worktree, the session's id, idle, exit, and a restore that resumes the session.
#[test]
fn opencode_states_through_its_reporter() {
    if agent_cli("opencode", "opencode-ai").is_none() {
        return;
    }
    reporter_states("opencode");
}

/// Kilo Code's CLI, built from opencode, read the same way.
#[test]
fn kilo_states_through_its_reporter() {
    if agent_cli("kilo", "@kilocode/cli").is_none() {
        return;
    }
    reporter_states("kilo");
}

/// An opencode-built CLI (`agent`) through ao's reporter plugin.
fn reporter_states(agent: &str) {
    let f = AgentFleet::new(
        agent,
        scenario(conversation(
            shell("echo hello > out.txt"),
            Some(text("I wrote out.txt.")),
        )),
        "      permissions: default\n      model: scripted/test-model\n",
    );
    f.set_ready_threshold_ms(4000);
    f.ao(&["spawn", "app", "--prompt", "Say what you see"])
        .success();
    f.wait_hold("app-1");
    let s = f.wait_activity("app-1", "active");
    assert_eq!(s["activity_source"], "hook", "{s:#}");
    f.model.release();
    let s = f.wait_activity("app-1", "ready");
    assert_eq!(s["activity_source"], "hook", "{s:#}");
    let id = s["agent_session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(id.starts_with("ses_"), "{s:#}");
    let info = f.agent_info("app-1");
    assert_eq!(info["agent_session_id"], id.as_str(), "{info:#}");

    write_after_asking(
        &f,
        "asks permission to use bash: echo hello > out.txt",
        &["Enter"],
    );
    f.wait_activity("app-1", "idle");

    exit_cli(&f, &["C-c", "C-c"]);
    f.ao(&["session", "restore", "app-1"]).success();
    f.wait_turn_ended("app-1");
    ask_after_restore(&f, 3);
    assert_eq!(f.status("app-1")["agent_session_id"], id.as_str());
}

/// An agent missing from PATH: spawn fails with the reason; nothing is left and nothing
/// was typed into a shell.
#[test]
fn an_agent_missing_from_path_fails_the_spawn() {
    let mut f = ao_tests::Fleet::new(
        "    agent: claude-code\n    agentConfig:\n      permissions: default\n",
    );
    // A PATH with git and tmux but no `claude`.
    let bin = f.env.root().join("bin-without-claude");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "tmux"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
        std::os::unix::fs::symlink(&path, bin.join(tool)).unwrap();
    }
    f.env.set("PATH", &bin);
    let run = f.ao(&["spawn", "app", "--prompt", "echo typed-into-a-shell"]);
    run.code(1)
        .stderr_has("the agent's program `claude` was not found on PATH")
        .stderr_has("install it (`npm install -g @anthropic-ai/claude-code`)");
    assert!(f.tmux_sessions().is_empty());
    assert_eq!(f.worktrees().len(), 1);
    assert!(
        f.branches().iter().all(|b| b == "main"),
        "{:?}",
        f.branches()
    );
}

/// Another Claude Code running for the same user rewrites `~/.claude.json` from its older
/// copy and drops the trust ao wrote for a new worktree: the trust dialog then shows for
/// that worktree, and ao answers it (that dialog, that folder only) so the session works.
#[test]
fn claude_code_trust_dropped_by_another_claude_is_answered_for_its_own_worktree() {
    let Some(real) = agent_cli("claude", "@anthropic-ai/claude-code") else {
        return;
    };
    let mut f = permissionless_claude();
    // A `claude` that first does what the other process does: drops every project entry.
    let bin = f.fleet.env.root().join("racing-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("claude");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\npython3 -c \"import json,os; p=os.path.expanduser('~/.claude.json'); d=json.load(open(p)); d.pop('projects',None); json.dump(d,open(p,'w'))\"\nexec {} \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    f.fleet.env.set("PATH", path);
    let spawn = f.ao(&["spawn", "app", "--prompt", "Mark it done"]);
    spawn.success();
    assert!(
        !spawn.stderr.contains("waits for an answer"),
        "{}\nscreen:\n{}",
        spawn.explain(),
        f.screen("app-1")
    );
    let done = f.fleet.worktree("app-1").join("done.txt");
    ao_tests::wait_until("done.txt", || done.exists().then_some(()));
}

/// The host's loop with Claude Code: the agent pushes its branch, a check fails on the
/// fake GitHub, the host types the failing check's name and log into Claude Code, and
/// the model (scripted) sees them and has it push a fix.
#[test]
fn claude_code_gets_a_failing_check_from_the_host_and_pushes_a_fix() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let commit = "git -c user.name=agent -c user.email=agent@ao.invalid commit -q";
    let fix = Step {
        when: Some("CI fails on your pull request".into()),
        shell: Some(format!(
            "echo builds >> login.txt && {commit} -am 'Fix the build' && git push -q origin HEAD"
        )),
        ..Step::default()
    };
    let mut f = {
        let f = AgentFleet::new(
            "claude-code",
            scenario(vec![
                shell(&format!(
                    "echo works > login.txt && git add login.txt && {commit} -m 'Fix the login' && git push -q origin HEAD"
                )),
                text("Pushed."),
                fix,
                text("Fixed the build."),
            ]),
            "      permissions: permissionless\n",
        );
        let settings = f.fleet.env.home.join(".claude/settings.json");
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        std::fs::write(&settings, r#"{"skipDangerousModePermissionPrompt": true}"#).unwrap();
        f.add_env("IS_SANDBOX", "1");
        f
    };
    let gh = ao_tests::github::FakeGitHub::start();
    gh.repo("acme/app");
    let remote = f.fleet.env.root().join("repo-origin.git");
    gh.remote("acme/app", &remote);
    let file = f.fleet.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file)
        .unwrap()
        .replace("  app:\n", "  app:\n    repo: acme/app\n")
        + "lifecycle:\n  probeInterval: 300ms\n  pollInterval: 1s\n";
    std::fs::write(&file, config).unwrap();
    f.fleet.env.set("GH_TOKEN", ao_tests::github::TOKEN);
    f.fleet.env.set("GITHUB_API_URL", &gh.url);
    let head = |branch: &str| ao_tests::branch_head(&remote, branch);
    let host = f.fleet.ao_child(&["start", "--no-orchestrator"]);
    f.ao(&["spawn", "app", "--prompt", "Fix the login"])
        .success();
    let branch = f.status("app-1")["branch"].as_str().unwrap().to_owned();
    let first = wait_until("Claude Code to push its branch", || head(&branch));
    let pr = gh.open_pr("acme/app", &branch, "main", "Fix the login");
    f.wait_turn_ended("app-1");
    gh.check(
        "acme/app",
        pr,
        "unit-tests",
        Some("FAILURE"),
        true,
        "running 12 tests\ntest login::rejects_empty ... FAILED\n",
    );
    let asked = wait_until("the failing check to reach the model", || {
        f.model.requests().into_iter().find(|r| r.step == Some(2))
    });
    let body = asked.body.to_string();
    assert!(body.contains("unit-tests"), "{body}");
    assert!(
        body.contains("test login::rejects_empty ... FAILED"),
        "{body}"
    );
    wait_until("Claude Code to push the fix", || {
        head(&branch).filter(|h| *h != first)
    });
    f.fleet.stop_host(host);
}

/// The host with Claude Code stopped at a question (its folder-trust dialog): the session
/// reads `needs_input` and the desktop hears it as urgent, once; answered, it works again.
#[test]
fn claude_code_waiting_for_an_answer_brings_the_human_back_through_the_host() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let bus = ao_tests::dbus::DesktopBus::start();
    let mut f = AgentFleet::new(
        "claude-code",
        scenario(vec![text("Nothing to do.")]),
        "      permissions: default\n",
    );
    f.fleet.env.set("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let file = f.fleet.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap() + "lifecycle:\n  probeInterval: 300ms\n";
    std::fs::write(&file, config).unwrap();
    let host = f.fleet.ao_child(&["start", "--no-orchestrator"]);
    f.ao(&["spawn", "app", "--prompt", "Say what you see"])
        .success();
    let shown = wait_until("the question on the desktop", || {
        bus.shown()
            .into_iter()
            .find(|n| n.summary == "app-1: its agent needs input")
    });
    assert_eq!(shown.urgency, Some(2), "urgent is critical");
    assert!(shown.body.contains("ao attach app-1"), "{}", shown.body);
    assert_eq!(f.status("app-1")["status"], "needs_input");
    f.press_until("app-1", &["Down"], "❯ Yes, I trust this folder");
    f.keys("app-1", &["Enter"]);
    wait_until("the session to work again", || {
        (f.status("app-1")["status"] == "working").then_some(())
    });
    let asked = bus
        .shown()
        .iter()
        .filter(|n| n.summary.contains("needs input"))
        .count();
    assert_eq!(asked, 1);
    f.fleet.stop_host(host);
}

/// Claude Code as the orchestrator: started by `ao start` in the project's checkout with
/// ao's account of its commands and the project's rules in its system prompt; told by
/// the human to start a worker, it runs `ao spawn` and `ao status --json` from its pane,
/// and the worker appears.
#[test]
fn claude_code_as_the_orchestrator_spawns_a_worker_from_its_pane() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let ao = ao_tests::ao_bin();
    let run = Step {
        when: Some("Start a worker for the login fix".into()),
        shell: Some(format!(
            "{ao} spawn app --prompt 'Fix the login' && {ao} status --json",
            ao = ao.display()
        )),
        ..Step::default()
    };
    let f = permissionless(
        "claude-code",
        scenario(vec![run, text("Started app-1 on the login fix.")]),
    );
    let file = f.fleet.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap()
        + "    orchestratorRules: Give every worker one issue only.\n    worker:\n      agent: command\n      agentConfig:\n        command: [cat]\n";
    std::fs::write(&file, config).unwrap();
    let host = f.fleet.ao_child(&["start"]);
    wait_until("the host to start the orchestrator", || {
        f.fleet
            .sessions()
            .iter()
            .any(|s| s["id"] == "app-orchestrator")
            .then_some(())
    });
    f.wait_turn_ended("app-orchestrator");
    f.ao(&[
        "send",
        "app-orchestrator",
        "Start a worker for the login fix",
    ])
    .success();
    let worker = wait_until("the worker the orchestrator spawned", || {
        f.fleet
            .sessions()
            .into_iter()
            .find(|s| s["id"] == "app-1" && s["status"] == "working")
    });
    assert_eq!(worker["agent"], "command", "the workers' agent: {worker}");
    assert_eq!(worker["prompt"], "Fix the login");
    let asked = wait_until("the orchestrator's turn to reach the model", || {
        f.model.requests().into_iter().find(|r| r.step == Some(0))
    });
    let body = asked.body.to_string();
    assert!(
        body.contains("You are the orchestrator of project `app`"),
        "{body}"
    );
    assert!(body.contains("ao spawn app --prompt"), "{body}");
    assert!(body.contains("Give every worker one issue only."), "{body}");
    // The `ao status --json` it ran came back to the model with the worker in it.
    let after = wait_until("the command's output to reach the model", || {
        f.model.requests().into_iter().find(|r| r.step == Some(1))
    });
    assert!(after.body.to_string().contains("app-1"), "{}", after.body);
    let o = f.status("app-orchestrator");
    assert_eq!(o["agent"], "claude-code");
    f.fleet.stop_host(host);
}

/// An agent at its provider's usage limit, under the host: `ao status` shows it limited
/// with the reset time (not stuck, ready or idle), the human is told once, new sessions
/// for that agent wait, and after the reset the agent goes on: Claude Code retries by
/// itself; Codex, whose turn ended on the limit, is told to continue by ao.
fn limited_then_resumed(agent: &str, program: &str, package: &str) {
    if agent_cli(program, package).is_none() {
        return;
    }
    let r = ao_tests::receiver::Receiver::start();
    let f = permissionless(
        agent,
        scenario(vec![
            Step {
                limit: Some(20),
                ..Step::default()
            },
            text("Back at work."),
        ]),
    );
    let file = f.fleet.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap()
        + &format!(
            "lifecycle:\n  probeInterval: 300ms\nnotifiers:\n  hook:\n    plugin: webhook\n    url: {}/hook\nnotificationRouting:\n  action: [hook]\n  urgent: [hook]\n",
            r.url
        );
    std::fs::write(&file, config).unwrap();
    let host = f.fleet.ao_child(&["start", "--no-orchestrator"]);
    f.ao(&["spawn", "app", "--prompt", "Say hello"]).success();
    let s = f.wait_activity("app-1", "limited");
    let resets = s["limit"]["resets_at"].as_i64().expect("a reset time");
    let now = ao_core::model::now_ms();
    assert!(resets > now && resets < now + 90_000, "{s:#}");
    assert_eq!(s["status"], "working", "not stuck: {s:#}");
    f.ao(&["status"]).success().stdout_has("limited until");
    // Told once, for the agent, not per session.
    let told = wait_until("the limit notified", || {
        r.received()
            .into_iter()
            .find(|m| m.body.contains("hit its usage limit"))
    });
    assert!(
        told.body.contains(&format!("{agent} hit its usage limit")),
        "{}",
        told.body
    );
    // New sessions for it wait.
    f.ao(&["spawn", "app", "--prompt", "Another"])
        .code(1)
        .stderr_has(&format!("{agent} is at its usage limit (app-1 reported it"))
        .stderr_has("hint: --wait waits for the limit to lift; --agent picks another agent");
    // After the reset it works again.
    let back = wait_until_long("the agent past its limit", || {
        let s = f.status("app-1");
        (s["activity"] != "limited" && s.get("limit").is_none()).then_some(s)
    });
    assert_ne!(back["status"], "stuck");
    let answered = wait_until_long("the model asked again", || {
        f.model.requests().into_iter().find(|r| r.step == Some(1))
    });
    if agent == "codex" {
        assert!(
            answered
                .body
                .to_string()
                .contains("Your usage limit has reset"),
            "ao told Codex to continue: {}",
            answered.body
        );
    }
    let notices = r
        .received()
        .iter()
        .filter(|m| m.body.contains("hit its usage limit"))
        .count();
    assert_eq!(notices, 1);
    f.fleet.stop_host(host);
}

/// [`wait_until`] for two and a half minutes: a usage limit takes its time to lift, and
/// Codex names its reset only to the minute (ao waits for the minute's end).
fn wait_until_long<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    ao_tests::wait_for(what, std::time::Duration::from_secs(150), check)
}

#[test]
fn claude_code_at_its_usage_limit_reads_limited_and_goes_on_after_the_reset() {
    limited_then_resumed("claude-code", "claude", "@anthropic-ai/claude-code");
}

#[test]
fn codex_at_its_usage_limit_reads_limited_and_is_told_to_continue_after_the_reset() {
    limited_then_resumed("codex", "codex", "@openai/codex");
}

/// Codex near its plan's limit offers a cheaper model in a menu: ao reads that as a
/// question for the human (anything typed would pick an option), never types into it.
#[test]
fn codex_offering_a_cheaper_model_at_its_limit_waits_for_the_human() {
    if agent_cli("codex", "@openai/codex").is_none() {
        return;
    }
    let f = permissionless(
        "codex",
        scenario(vec![
            Step {
                limit: Some(5),
                limit_usage_headers: true,
                ..Step::default()
            },
            text("Back at work."),
        ]),
    );
    let file = f.fleet.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap() + "lifecycle:\n  probeInterval: 300ms\n";
    std::fs::write(&file, config).unwrap();
    let host = f.fleet.ao_child(&["start", "--no-orchestrator"]);
    f.ao(&["spawn", "app", "--prompt", "Say hello"]).success();
    let s = f.wait_activity("app-1", "waiting_input");
    assert!(
        s["activity_detail"]
            .as_str()
            .is_some_and(|d| d.contains("for lower credit usage?")),
        "{s:#}"
    );
    assert_eq!(s["status"], "needs_input", "{s:#}");
    // Until well past the reset (5 s, and ao's 5 s grace), nothing is typed into the
    // menu: the model is not asked again. Watched throughout, failing at once if it is.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::time::Instant::now() < until {
        assert!(
            f.model.requests().iter().all(|r| r.step != Some(1)),
            "ao typed into Codex's menu"
        );
        assert_eq!(f.status("app-1")["activity"], "waiting_input");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    f.fleet.stop_host(host);
}

/// Aider refused for its usage limit retries by itself and says so, without a reset
/// time: it reads `limited`, and the human is told once.
#[test]
fn aider_at_its_usage_limit_reads_limited_while_it_retries() {
    if agent_cli("aider", "aider-chat").is_none() {
        return;
    }
    let f = permissionless(
        "aider",
        Scenario {
            steps: (0..30)
                .map(|_| Step {
                    limit: Some(90),
                    ..Step::default()
                })
                .collect(),
            tools_optional: true,
            ..Scenario::default()
        },
    );
    f.ao(&["spawn", "app", "--prompt", "Say hello"]).success();
    let s = f.wait_activity("app-1", "limited");
    assert!(
        s["activity_detail"]
            .as_str()
            .is_some_and(|d| d.contains("The usage limit has been reached")),
        "{s:#}"
    );
    assert!(
        s["limit"]["resets_at"].is_null(),
        "aider names no reset: {s:#}"
    );
    f.ao(&["status"]).success().stdout_has("limited");
    f.ao(&["spawn", "app", "--prompt", "Another"])
        .code(1)
        .stderr_has("aider is at its usage limit (app-1 reported it)");
}

/// opencode refused for its usage limit waits out the provider's retry-after with its
/// turn open and says so: it reads `limited` until then, with that time as the reset.
#[test]
fn opencode_at_its_usage_limit_reads_limited_until_its_retry() {
    if agent_cli("opencode", "opencode-ai").is_none() {
        return;
    }
    limited_until_retry("opencode");
}

/// Kilo Code, built from opencode, waits out a limit the same way.
#[test]
fn kilo_at_its_usage_limit_reads_limited_until_its_retry() {
    if agent_cli("kilo", "@kilocode/cli").is_none() {
        return;
    }
    limited_until_retry("kilo");
}

/// An opencode-built CLI (`agent`) refused for its usage limit.
fn limited_until_retry(agent: &str) {
    let f = AgentFleet::new(
        agent,
        scenario(vec![
            Step {
                limit: Some(90),
                ..Step::default()
            },
            text("Back."),
        ]),
        "      permissions: permissionless\n      model: scripted/test-model\n",
    );
    f.ao(&["spawn", "app", "--prompt", "Say hello"]).success();
    let s = f.wait_activity("app-1", "limited");
    assert_eq!(
        s["activity_detail"], "The usage limit has been reached",
        "{s:#}"
    );
    let resets = s["limit"]["resets_at"].as_i64().expect("a reset time");
    let now = ao_core::model::now_ms();
    assert!(resets > now + 30_000 && resets < now + 95_000, "{s:#}");
    f.ao(&["status"]).success().stdout_has("limited until");
}

/// Claude Code that gave up its retries (here after one, `CLAUDE_CODE_MAX_RETRIES=1`)
/// ends its turn on the limit: its transcript's last turn is a rate-limit API error, and
/// the session reads `limited` (with no reset, which it does not name).
#[test]
fn claude_code_that_gave_up_on_its_limit_reads_limited_from_its_transcript() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let f = permissionless(
        "claude-code",
        scenario(
            (0..4)
                .map(|_| Step {
                    limit: Some(600),
                    ..Step::default()
                })
                .collect(),
        ),
    );
    f.add_env("CLAUDE_CODE_MAX_RETRIES", "1");
    f.ao(&["spawn", "app", "--prompt", "Say hello"]).success();
    let s = f.wait_activity("app-1", "limited");
    assert_eq!(s["activity_source"], "session-log", "{s:#}");
    assert!(
        s["activity_detail"]
            .as_str()
            .is_some_and(|d| d.contains("exceed your account's rate limit")),
        "{s:#}"
    );
    assert_eq!(s["status"], "working");
}

/// A Claude Code the reference started (a shell in tmux on the default server, the
/// command typed into it, a record under `~/.agent-orchestrator`) is adopted by `ao
/// import` while it runs: ao finds its transcript, reads its turns from it, and its next
/// message is delivered and answered, the same process throughout.
#[test]
fn claude_code_started_by_the_reference_is_adopted_and_driven_without_a_restart() {
    if agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let mut f = permissionless(
        "claude-code",
        scenario(vec![
            Step {
                when: Some("Say what you see".into()),
                ..text("I see a README.")
            },
            Step {
                when: Some("Now say goodbye".into()),
                ..text("Goodbye from the adopted session.")
            },
        ]),
    );
    let tmpdir = f.fleet.env.root().join("rt");
    std::fs::create_dir_all(&tmpdir).unwrap();
    f.fleet.env.set("TMUX_TMPDIR", &tmpdir);
    f.fleet.env.set("SHELL", "/bin/sh");
    let env = &f.fleet.env;
    let tmux = |args: &[&str]| {
        let mut cmd = env.command("tmux");
        cmd.args(args);
        ao_tests::Run::of(cmd, &f.fleet.repo)
    };
    struct KillServer<'a>(&'a dyn Fn(&[&str]) -> ao_tests::Run);
    impl Drop for KillServer<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["kill-server"]);
        }
    }
    let _server = KillServer(&tmux);

    // The reference's worktree, record and tmux session.
    let base = env.home.join(".agent-orchestrator/projects/app");
    let wt = base.join("worktrees/app-1");
    env.git(
        &f.fleet.repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "feat/readme",
            wt.to_str().unwrap(),
            "main",
        ],
    );
    let claude_json = env.home.join(".claude.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&claude_json).unwrap()).unwrap();
    state["projects"][wt.to_str().unwrap()] = serde_json::json!({"hasTrustDialogAccepted": true});
    std::fs::write(&claude_json, state.to_string()).unwrap();
    let sessions = base.join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let record = serde_json::json!({
        "worktree": wt, "branch": "feat/readme", "status": "working", "tmuxName": "app-1",
        "project": "app", "agent": "claude-code",
        "runtimeHandle": { "id": "app-1", "runtimeName": "tmux", "data": {} },
    });
    std::fs::write(sessions.join("app-1.json"), record.to_string()).unwrap();
    let mut args: Vec<String> = [
        "new-session",
        "-d",
        "-s",
        "app-1",
        "-c",
        wt.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    for (k, v) in [
        ("AO_SESSION_ID", "app-1".to_owned()),
        ("ANTHROPIC_BASE_URL", f.model.url.clone()),
        ("ANTHROPIC_API_KEY", ao_tests::TEST_KEY.to_owned()),
        ("DISABLE_AUTOUPDATER", "1".to_owned()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
        ("IS_SANDBOX", "1".to_owned()),
    ] {
        args.push("-e".into());
        args.push(format!("{k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tmux(&args).success();
    // As the reference launches it: PATH exported again (a login shell resets it), then
    // the agent's command line.
    let launch = format!(
        "export PATH='{}'; claude --dangerously-skip-permissions 'Say what you see'",
        std::env::var("PATH").unwrap()
    );
    tmux(&["send-keys", "-t", "app-1", &launch, "Enter"]).success();
    let screen = || tmux(&["capture-pane", "-p", "-t", "app-1"]).stdout;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !screen().contains("I see a README.") {
        assert!(
            std::time::Instant::now() < deadline,
            "the reference's Claude Code never answered:\n{}",
            screen()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let foreground = |what: &str| {
        tmux(&["display-message", "-p", "-t", "=app-1:", what])
            .stdout
            .trim()
            .to_owned()
    };
    let pane_pid = foreground("#{pane_pid}");
    assert_eq!(foreground("#{pane_current_command}"), "claude");

    f.ao(&["import"])
        .success()
        .stdout_has("adopted app-1 (project app, claude-code on feat/readme, tmux session app-1)");
    // ao reads its turns from the transcript it found for the worktree.
    let s = f.wait_turn_ended("app-1");
    assert_eq!(s["activity_source"], "session-log", "{s:#}");
    let transcript = std::fs::read_dir(
        env.home.join(".claude/projects").join(
            wt.to_str()
                .unwrap()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
        ),
    )
    .unwrap()
    .flatten()
    .find(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
    .expect("a transcript");
    let id = transcript
        .path()
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let info = f.agent_info("app-1");
    assert_eq!(info["agent_session_id"], id.as_str(), "{info:#}");
    // A message through ao is delivered (confirmed taken) and answered.
    f.ao(&["send", "app-1", "Now say goodbye"]).success();
    wait_until("the answer on the adopted session's screen", || {
        screen()
            .contains("Goodbye from the adopted session.")
            .then_some(())
    });
    f.wait_turn_ended("app-1");
    assert_eq!(foreground("#{pane_pid}"), pane_pid);
    assert_eq!(foreground("#{pane_current_command}"), "claude");
}

/// Gemini CLI in its asking mode: the project's rules reaching the model, a streaming
/// turn, a finished turn, a permission question, idle, exit and
/// resume, each as `ao status` shows it.
#[test]
fn gemini_states_through_hooks() {
    if agent_cli("gemini", "@google/gemini-cli").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "gemini",
        scenario(vec![
            held("Looking at the code"),
            shell("echo hello > out.txt"),
            text("I wrote out.txt."),
        ]),
        "      permissions: default\n",
    );
    f.set_ready_threshold_ms(4000);
    give_rules(&f, "gemini");
    // The session's worktree is trusted for the session: no trust dialog.
    f.ao(&["spawn", "app", "--prompt", "Say what you see"])
        .success()
        .stdout_has("app-1");
    // The model streams: active, told by the hooks; the rules came with the task.
    f.wait_hold("app-1");
    let s = f.wait_activity("app-1", "active");
    assert_eq!(s["activity_source"], "hook", "{s:#}");
    assert_rules_reached_the_model(&f);
    f.model.release();
    let s = f.wait_activity("app-1", "ready");
    assert_eq!(s["activity_source"], "hook", "{s:#}");
    let info = f.agent_info("app-1");
    assert_eq!(info["agent_session_id"], s["agent_session_id"], "{info:#}");
    assert_eq!(info["summary"], "Say what you see", "{info:#}");
    // A command needs permission: waiting_input with the question.
    f.ao(&["send", "app-1", "Now write the file"]).success();
    let s = f.wait_activity("app-1", "waiting_input");
    assert_eq!(
        s["activity_detail"], "asks permission (Confirm Shell Command): echo hello > out.txt",
        "{s:#}"
    );
    f.press_until_gone("app-1", &["Enter"], "Allow execution of");
    f.wait_turn_ended("app-1");
    let out = f.fleet.worktree("app-1").join("out.txt");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    // Ready past the threshold is idle.
    f.wait_activity("app-1", "idle");
    let id = f.status("app-1")["agent_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The CLI ends: exited.
    exit_cli(&f, &["C-d", "C-d"]);
    // Restore resumes the same conversation.
    f.ao(&["session", "restore", "app-1"]).success();
    wait_until("the resumed agent to run", || {
        let argv = f.agent_argv("app-1");
        argv.windows(2)
            .any(|w| w[0] == "--resume" && w[1] == id)
            .then_some(argv)
    });
    f.wait_turn_ended("app-1");
}

/// Gemini CLI given a task whose command needs permission: from the spawn until the
/// question, no reading of `ao status` says the turn ended. Its hook reports the
/// question a moment before its screen draws it, and that moment once read as an
/// answered question and an idle screen: `ready` (issue 29, item 7). Refused (no hook
/// follows), the question is over once the screen shows it.
#[test]
fn gemini_never_reads_ready_before_its_permission_question() {
    if agent_cli("gemini", "@google/gemini-cli").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "gemini",
        scenario(vec![shell("echo hello > out.txt")]),
        "      permissions: default\n",
    );
    f.ao(&["spawn", "app", "--prompt", "Write the file"])
        .success();
    let samples = watch_activity(
        &f,
        "app-1",
        |s| s.activity == "waiting_input" && s.source == "hook",
        || {},
    );
    assert_never_ready(&samples, "from gemini's spawn to its permission question");
    assert_eq!(
        samples.last().unwrap().detail,
        "asks permission (Confirm Shell Command): echo hello > out.txt"
    );
    // Refused, the question is over though no hook says so: the screen shows it.
    f.press_until_gone("app-1", &["Escape"], "Allow execution of");
    let s = f.wait_turn_ended("app-1");
    assert_eq!(s["activity_source"], "terminal", "{s:#}");
    assert!(!f.fleet.worktree("app-1").join("out.txt").exists());
}

/// A Gemini CLI that was never told how to authenticate asks at its first start: the
/// session waits for the human, with the question.
#[test]
fn gemini_asking_how_to_authenticate_waits_for_the_human() {
    if agent_cli("gemini", "@google/gemini-cli").is_none() {
        return;
    }
    let f = AgentFleet::new("gemini", scenario(vec![text("Hello.")]), "");
    std::fs::remove_file(f.fleet.env.home.join(".gemini/settings.json")).unwrap();
    f.ao(&["spawn", "app", "--prompt", "Say hello"])
        .success()
        .stderr_has("app-1 started, but waits for an answer before it can work");
    let s = f.wait_activity("app-1", "waiting_input");
    assert_eq!(
        s["activity_detail"], "How would you like to authenticate for this project?",
        "{s:#}"
    );
    assert_eq!(s["status"], "needs_input", "{s:#}");
    assert!(
        f.model.requests().iter().all(|r| r.step.is_none()),
        "the task went out before the question was answered"
    );
}

/// With `permissions: permissionless` (its yolo mode) Gemini CLI runs the task's
/// command with no question, and `ao status` sees the turn end.
#[test]
fn gemini_permissionless_runs_the_task_without_asking() {
    if agent_cli("gemini", "@google/gemini-cli").is_none() {
        return;
    }
    let f = permissionless(
        "gemini",
        scenario(vec![shell("echo done > done.txt"), text("Done.")]),
    );
    f.ao(&["spawn", "app", "--prompt", "Mark it done"])
        .success();
    let done = f.fleet.worktree("app-1").join("done.txt");
    wait_until("done.txt", || done.exists().then_some(()));
    let s = f.wait_turn_ended("app-1");
    assert_eq!(s["activity_source"], "hook", "{s:#}");
    assert!(
        f.agent_argv("app-1")
            .iter()
            .any(|a| a == "--approval-mode=yolo"),
        "{:?}",
        f.agent_argv("app-1")
    );
    // Nothing of ao's is left in the user's repository.
    assert_eq!(
        f.fleet
            .env
            .git(&f.fleet.worktree("app-1"), &["status", "--porcelain"])
            .trim(),
        "?? done.txt"
    );
}

/// Qwen Code in its asking mode: the project's rules reaching the model, a streaming
/// turn, a finished turn, a permission question, exit and resume, each as `ao status`
/// shows it.
#[test]
fn qwen_code_states_through_hooks() {
    if agent_cli("qwen", "@qwen-code/qwen-code").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "qwen-code",
        scenario(vec![
            held("Looking at the code"),
            shell("echo hello > out.txt"),
            text("I wrote out.txt."),
        ]),
        "      permissions: default\n",
    );
    give_rules(&f, "qwen-code");
    f.ao(&["spawn", "app", "--prompt", "Say what you see"])
        .success()
        .stdout_has("app-1");
    f.wait_hold("app-1");
    let s = f.wait_activity("app-1", "active");
    assert_eq!(s["activity_source"], "hook", "{s:#}");
    assert_rules_reached_the_model(&f);
    f.model.release();
    let s = f.wait_turn_ended("app-1");
    assert_eq!(s["activity_source"], "hook", "{s:#}");
    let info = f.agent_info("app-1");
    assert_eq!(info["agent_session_id"], s["agent_session_id"], "{info:#}");
    assert_eq!(info["summary"], "Say what you see", "{info:#}");
    f.ao(&["send", "app-1", "Now write the file"]).success();
    let s = f.wait_activity("app-1", "waiting_input");
    assert_eq!(
        s["activity_detail"], "asks permission to use run_shell_command: echo hello > out.txt",
        "{s:#}"
    );
    f.press_until_gone("app-1", &["Enter"], "Allow execution of");
    f.wait_turn_ended("app-1");
    let out = f.fleet.worktree("app-1").join("out.txt");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    let id = f.status("app-1")["agent_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Ctrl+D twice: the second counts only once the first one's hint is up. A press the
    // CLI ignored is pressed again; one whose hint is drawn late (on a loaded machine)
    // may have been the second already, so the CLI's exit is what is waited for.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut pressed: Option<std::time::Instant> = None;
    while f.status("app-1")["activity"] != "exited" {
        assert!(
            std::time::Instant::now() < deadline,
            "Ctrl+D twice never ended it:\n{}",
            f.screen("app-1")
        );
        let since = pressed.map(|p| p.elapsed());
        let hint = f.screen("app-1").contains("Press Ctrl+D again to exit");
        let ignored = since.is_none_or(|s| s >= std::time::Duration::from_secs(3));
        if ignored || (hint && since.is_some_and(|s| s >= std::time::Duration::from_millis(500))) {
            f.keys("app-1", &["C-d"]);
            pressed = Some(std::time::Instant::now());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    exit_cli(&f, &[]);
    f.ao(&["session", "restore", "app-1"]).success();
    wait_until("the resumed agent to run", || {
        let argv = f.agent_argv("app-1");
        argv.windows(2)
            .any(|w| w[0] == "--resume" && w[1] == id)
            .then_some(argv)
    });
    f.wait_turn_ended("app-1");
}

/// A Qwen Code with no provider set up asks for one at its first start: the session
/// waits for the human, with the question, and the task waits with it.
#[test]
fn qwen_code_asking_for_a_provider_waits_for_the_human() {
    if agent_cli("qwen", "@qwen-code/qwen-code").is_none() {
        return;
    }
    let f = AgentFleet::new("qwen-code", scenario(vec![text("Hello.")]), "");
    let file = f.fleet.repo.join("agent-orchestrator.yaml");
    let config: String = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("OPENAI_"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, config).unwrap();
    f.ao(&["spawn", "app", "--prompt", "Say hello"])
        .success()
        .stderr_has("app-1 started, but waits for an answer before it can work");
    let s = f.wait_activity("app-1", "waiting_input");
    assert_eq!(s["activity_detail"], "Connect a Provider", "{s:#}");
    assert_eq!(s["status"], "needs_input", "{s:#}");
    assert!(
        f.model.requests().iter().all(|r| r.step.is_none()),
        "the task went out before the question was answered"
    );
}

/// `agent: cursor`, a preset of the command agent for a CLI no test here can install:
/// ao starts the preset's program with the permission mode's flags, the model and the
/// task as one argument, and `ao doctor` names what is missing and how to install it.
/// (The program here is a stand-in that records its arguments.)
#[test]
fn a_preset_starts_its_cli_with_the_task_and_doctor_names_it() {
    let bin = tempfile::tempdir().unwrap();
    let args = bin.path().join("args");
    let agent = bin.path().join("agent");
    std::fs::write(
        &agent,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$ARGS_FILE\"\nexec cat\n",
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut f = ao_tests::Fleet::new(&format!(
        "    agent: cursor\n    agentConfig:\n      model: m-1\n      env:\n        ARGS_FILE: {}\n",
        args.display()
    ));
    f.ao(&["doctor"])
        .stdout_has("`agent` is not on PATH")
        .stdout_has("the installer on cursor.com");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    f.env.set("PATH", path);
    f.ao(&["spawn", "app", "--prompt=--fix the 'bug'; now"])
        .success();
    let got = wait_until("the CLI's arguments", || {
        std::fs::read_to_string(&args).ok()
    });
    assert_eq!(
        got,
        "--force\n--sandbox\ndisabled\n--model\nm-1\n--\n--fix the 'bug'; now\n"
    );
    f.ao(&["plugin", "ls"])
        .success()
        .stdout_has("available, untested");
}

/// GitHub Copilot CLI in its asking mode, on a model provider of the user's own: its
/// folder-trust question, the project's rules reaching the model, a streaming turn, a
/// finished turn, a permission question, exit and resume, each as `ao status` shows it.
#[test]
fn copilot_states_through_its_event_log() {
    if agent_cli("copilot", "@github/copilot").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "copilot",
        scenario(vec![
            held("Looking at the code"),
            shell("echo hello > out.txt"),
            text("I wrote out.txt."),
        ]),
        "      permissions: default\n",
    );
    give_rules(&f, "copilot");
    // Asking mode: the CLI asks whether to trust the folder first, and the human answers.
    f.ao(&["spawn", "app", "--prompt", "Say what you see"])
        .success()
        .stderr_has("app-1 started, but waits for an answer before it can work");
    let s = f.wait_activity("app-1", "waiting_input");
    assert_eq!(
        s["activity_detail"], "Do you trust the files in this folder?",
        "{s:#}"
    );
    f.press_until_gone(
        "app-1",
        &["Enter"],
        "Do you trust the files in this folder?",
    );
    f.wait_hold("app-1");
    // The screen says active until its event log has the task; then the log tells.
    wait_until("the event log to say active", || {
        let s = f.status("app-1");
        (s["activity"] == "active" && s["activity_source"] == "session-log").then_some(())
    });
    assert_rules_reached_the_model(&f);
    f.model.release();
    let s = f.wait_turn_ended("app-1");
    assert_eq!(s["activity_source"], "session-log", "{s:#}");
    let info = f.agent_info("app-1");
    assert_eq!(info["agent_session_id"], s["agent_session_id"], "{info:#}");
    assert_eq!(info["summary"], "Say what you see", "{info:#}");
    f.ao(&["send", "app-1", "Now write the file"]).success();
    let s = f.wait_activity("app-1", "waiting_input");
    assert_eq!(
        s["activity_detail"], "asks permission to run: echo hello > out.txt",
        "{s:#}"
    );
    f.press_until_gone("app-1", &["Enter"], "Do you want to run this command?");
    f.wait_turn_ended("app-1");
    let out = f.fleet.worktree("app-1").join("out.txt");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    let id = f.status("app-1")["agent_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    exit_cli(&f, &["C-d"]);
    f.ao(&["session", "restore", "app-1"]).success();
    wait_until("the resumed agent to run", || {
        let argv = f.agent_argv("app-1");
        argv.contains(&format!("--resume={id}")).then_some(argv)
    });
}

/// With `permissions: permissionless` GitHub Copilot CLI trusts the session's worktree
/// for that run and runs the task's command with no question.
#[test]
fn copilot_permissionless_runs_the_task_without_asking() {
    if agent_cli("copilot", "@github/copilot").is_none() {
        return;
    }
    let f = permissionless(
        "copilot",
        scenario(vec![shell("echo done > done.txt"), text("Done.")]),
    );
    f.ao(&["spawn", "app", "--prompt", "Mark it done"])
        .success();
    let done = f.fleet.worktree("app-1").join("done.txt");
    wait_until("done.txt", || done.exists().then_some(()));
    let s = f.wait_turn_ended("app-1");
    assert_eq!(s["activity_source"], "session-log", "{s:#}");
    assert!(
        f.agent_argv("app-1").iter().any(|a| a == "--allow-all"),
        "{:?}",
        f.agent_argv("app-1")
    );
}

/// Cline in its only mode ao takes, permissionless (`--yolo`): the project's rules reach
/// the model, a streaming turn reads active and its end ready from the session's record,
/// a second task typed with `ao send` runs its command, and exit and restore resume the
/// session. The session runs in its terminal's own process: no background hub is left.
#[test]
fn cline_states_through_its_session_record() {
    if agent_cli("cline", "cline").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "cline",
        scenario(vec![
            held("Looking at the code"),
            shell("echo hello > out.txt"),
            text("I wrote out.txt."),
        ]),
        "      permissions: permissionless\n",
    );
    give_rules(&f, "cline");
    f.ao(&["spawn", "app", "--prompt", "Say what you see"])
        .success()
        .stdout_has("app-1");
    f.wait_hold("app-1");
    wait_until("the session record to say active", || {
        let s = f.status("app-1");
        (s["activity"] == "active" && s["activity_source"] == "session-log").then_some(())
    });
    assert_rules_reached_the_model(&f);
    f.model.release();
    let s = f.wait_turn_ended("app-1");
    assert_eq!(s["activity_source"], "session-log", "{s:#}");
    let info = f.agent_info("app-1");
    assert_eq!(info["summary"], "Say what you see", "{info:#}");
    let id = info["agent_session_id"].as_str().unwrap().to_owned();
    // The rules file stays out of the session's work.
    let worktree = f.fleet.worktree("app-1");
    let status = std::process::Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(&worktree)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "");
    f.ao(&["send", "app-1", "Now write the file"]).success();
    let out = worktree.join("out.txt");
    wait_until("out.txt", || out.exists().then_some(()));
    f.wait_turn_ended("app-1");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    exit_cli(&f, &["C-c", "C-c"]);
    f.ao(&["session", "restore", "app-1"]).success();
    wait_until("the resumed agent to run", || {
        let argv = f.agent_argv("app-1");
        argv.contains(&format!("--id={id}")).then_some(argv)
    });
    let hubs = std::process::Command::new("pgrep")
        .args(["-f", "cline-hub-daemon"])
        .output()
        .unwrap();
    assert!(hubs.stdout.is_empty(), "a Cline hub was started");
}

/// Cline asked for any mode but permissionless is refused before anything starts, with
/// the reason and the way out.
#[test]
fn cline_in_an_asking_mode_is_refused_with_the_way_out() {
    if agent_cli("cline", "cline").is_none() {
        return;
    }
    let f = AgentFleet::new(
        "cline",
        scenario(vec![text("Hello.")]),
        "      permissions: default\n",
    );
    f.ao(&["spawn", "app", "--prompt", "Say hello"])
        .code(1)
        .stderr_has(
            "only permissions: permissionless (its --yolo mode) runs in the terminal's own process",
        );
    assert!(f.fleet.tmux_sessions().is_empty());
}

/// Gemini CLI refused for its quota stops on a dialog naming when access comes back: the
/// session reads `limited` until that time.
#[test]
fn gemini_at_its_usage_limit_reads_limited_until_access_resets() {
    if agent_cli("gemini", "@google/gemini-cli").is_none() {
        return;
    }
    // It retries a refused request a few times before it says so.
    let f = permissionless(
        "gemini",
        scenario(
            (0..10)
                .map(|_| Step {
                    limit: Some(3600),
                    ..Step::default()
                })
                .collect(),
        ),
    );
    f.ao(&["spawn", "app", "--prompt", "Say hello"]).success();
    let s = f.wait_activity("app-1", "limited");
    assert!(
        s["activity_detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("Usage limit reached")),
        "{s:#}"
    );
    let resets = s["limit"]["resets_at"].as_i64().expect("a reset time");
    let now = ao_core::model::now_ms();
    // The dialog names the minute: within a minute of an hour from now.
    assert!(
        resets > now + 3_600_000 - 120_000 && resets < now + 3_600_000 + 60_000,
        "{s:#}"
    );
    f.ao(&["status"]).success().stdout_has("limited until");
}

/// GitHub Copilot CLI refused for a usage limit ends the turn on the error, which its
/// event log records: the session reads `limited` with the provider's message.
#[test]
fn copilot_at_its_usage_limit_reads_limited_from_its_event_log() {
    if agent_cli("copilot", "@github/copilot").is_none() {
        return;
    }
    let f = permissionless(
        "copilot",
        scenario(
            (0..10)
                .map(|_| Step {
                    limit: Some(600),
                    ..Step::default()
                })
                .collect(),
        ),
    );
    f.ao(&["spawn", "app", "--prompt", "Say hello"]).success();
    let s = f.wait_activity("app-1", "limited");
    assert_eq!(s["activity_source"], "session-log", "{s:#}");
    assert_eq!(
        s["activity_detail"], "429 The usage limit has been reached",
        "{s:#}"
    );
}

/// A Cline with no provider set up asks for one at its first start: the session waits
/// for the human, with the question, and the task waits with it.
#[test]
fn cline_asking_for_a_provider_waits_for_the_human() {
    if agent_cli("cline", "cline").is_none() {
        return;
    }
    let f = permissionless("cline", scenario(vec![text("Hello.")]));
    std::fs::remove_file(f.fleet.env.home.join(".cline/data/settings/providers.json")).unwrap();
    f.ao(&["spawn", "app", "--prompt", "Say hello"])
        .success()
        .stderr_has("app-1 started, but waits for an answer before it can work");
    let s = f.wait_activity("app-1", "waiting_input");
    assert_eq!(
        s["activity_detail"], "Connect a model provider to get started.",
        "{s:#}"
    );
    assert_eq!(s["status"], "needs_input", "{s:#}");
    assert!(
        f.model.requests().iter().all(|r| r.step.is_none()),
        "the task went out before the question was answered"
    );
}
