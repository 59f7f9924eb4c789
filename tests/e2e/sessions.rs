//! Sessions end to end: the real `ao`, real git worktrees, a real tmux server.

use ao_tests::{Fleet, wait_until};

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";

fn raw_sink() -> &'static str {
    env!("CARGO_BIN_EXE_raw-sink")
}

fn session<'a>(list: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    list.iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no session {id} in {list:#?}"))
}

#[test]
fn spawn_status_send_kill_cleanup_and_restore() {
    let f = Fleet::new(CAT);
    let run = f.ao(&["spawn", "app", "--prompt", "Fix the login bug"]);
    run.success().stdout_has("app-1");
    // Its own worktree on a fresh branch from origin/main, its own tmux session.
    let wt = f.worktree("app-1");
    assert!(
        f.worktrees().contains(&wt.display().to_string()),
        "{:?}",
        f.worktrees()
    );
    let branch = "feat/fix-the-login-bug-app-1";
    assert_eq!(f.env.git(&wt, &["branch", "--show-current"]).trim(), branch);
    assert_eq!(f.tmux_sessions(), ["app-1"]);
    // The agent is the pane's own process and got the task.
    let pane = f.tmux(&["list-panes", "-t", "app-1", "-F", "#{pane_current_command}"]);
    assert_eq!(pane.stdout.trim(), "cat");
    wait_until("the prompt in the output", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("Fix the login bug")
            .then_some(())
    });
    f.ao(&["status"])
        .success()
        .stdout_has("app-1")
        .stdout_has(branch)
        .stdout_has("working")
        .stdout_has("active");
    f.ao(&["session", "info", "app-1"])
        .success()
        .stdout_has("branch         feat/fix-the-login-bug-app-1")
        .stdout_has(&format!("workspace      {}", wt.display()))
        .stdout_has("task           Fix the login bug");
    f.ao(&["session", "info", "app-9"])
        .code(1)
        .stderr_has("app-9");

    f.ao(&["send", "app-1", "and", "$HOME", "`stays`"])
        .success();
    wait_until("the message in the output", || {
        f.ao(&["session", "output", "app-1", "-n", "5"])
            .stdout
            .contains("and $HOME `stays`")
            .then_some(())
    });

    // Uncommitted work: kill refuses and changes nothing.
    std::fs::write(wt.join("notes.txt"), "mine\n").unwrap();
    f.ao(&["session", "kill", "app-1"])
        .code(1)
        .stderr_has("notes.txt")
        .stderr_has("--force");
    assert_eq!(f.tmux_sessions(), ["app-1"]);
    assert!(wt.join("notes.txt").exists());
    std::fs::remove_file(wt.join("notes.txt")).unwrap();

    f.ao(&["session", "kill", "app-1"]).success();
    assert!(f.tmux_sessions().is_empty());
    assert!(!wt.exists());
    assert!(!f.worktrees().contains(&wt.display().to_string()));
    assert!(
        f.branches().contains(&branch.to_owned()),
        "the branch is kept"
    );
    let list = f.sessions();
    assert_eq!(session(&list, "app-1")["status"], "killed");
    assert_eq!(session(&list, "app-1")["status_reason"], "user");

    // Cleanup archives it; ls hides it, --all shows it.
    f.ao(&["session", "cleanup", "--dry-run"])
        .success()
        .stdout_has("would clean app-1");
    f.ao(&["session", "cleanup"])
        .success()
        .stdout_has("cleaned app-1");
    let ls = f.ao(&["session", "ls"]);
    ls.success();
    assert!(!ls.stdout.contains("app-1"), "{}", ls.explain());
    f.ao(&["session", "ls", "--all"])
        .success()
        .stdout_has("app-1");

    // Restore brings back the worktree on the same branch and the agent with its task.
    f.ao(&["session", "restore", "app-1"]).success();
    assert_eq!(f.env.git(&wt, &["branch", "--show-current"]).trim(), branch);
    assert_eq!(f.tmux_sessions(), ["app-1"]);
    wait_until("the task again", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("Fix the login bug")
            .then_some(())
    });
    let list = f.sessions();
    assert_eq!(session(&list, "app-1")["status"], "working");
    assert!(session(&list, "app-1")["archived_at"].is_null());
}

#[test]
fn a_runtime_that_vanished_is_killed_at_once_and_cleanup_removes_its_worktree() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "task one"]).success();
    f.ao(&["spawn", "app", "--prompt", "task two"]).success();
    f.tmux(&["kill-session", "-t", "=app-1"]).success();
    let status = f.ao(&["status", "--json"]);
    status.success();
    let list: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(session(&list, "app-1")["status"], "killed");
    assert_eq!(session(&list, "app-1")["status_reason"], "runtime_lost");
    assert_eq!(session(&list, "app-2")["status"], "working");
    f.ao(&["session", "cleanup"])
        .success()
        .stdout_has("cleaned app-1");
    assert!(!f.worktree("app-1").exists());
    assert!(f.worktree("app-2").exists(), "a live session is left alone");
    assert_eq!(f.tmux_sessions(), ["app-2"]);
}

#[test]
fn send_delivers_100_kb_of_any_text_intact_to_a_raw_terminal() {
    let f = Fleet::new("");
    let out = f.env.root().join("received");
    let yaml = format!(
        "projects:\n  app:\n    path: {}\n    agent: command\n    tracker:\n      plugin: prompt\n    agentConfig:\n      command: [{}, {}]\n",
        f.repo.display(),
        raw_sink(),
        out.display()
    );
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\n{yaml}",
        f.socket.display()
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    f.ao(&["spawn", "app"]).success();
    // Quotes, $, backticks, tabs, newlines, non-ASCII, and escapes that must go.
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 100 * 1024 {
        text.push_str(&format!(
            "{i}: 'single' \"double\" $HOME ${{X}} `uname` \\ tab\there é ü 日本語 🚀 \u{1b}[31mred\u{1b}[0m\n"
        ));
        i += 1;
    }
    let msg = f.env.root().join("msg.txt");
    std::fs::write(&msg, &text).unwrap();
    f.ao(&["send", "app-1", "--file", msg.to_str().unwrap()])
        .success();
    let clean = text.replace("\u{1b}[31m", "").replace("\u{1b}[0m", "");
    // The file's final newline ends its last line; it is not typed as an extra Enter.
    let clean = clean.strip_suffix('\n').unwrap_or(&clean).to_owned();
    let expected = format!("\u{1b}[200~{}\u{1b}[201~\r", clean.replace('\n', "\r"));
    let got = wait_until("every byte at the agent", || {
        let got = std::fs::read(&out).unwrap_or_default();
        (got.len() >= expected.len()).then_some(got)
    });
    assert!(
        got == expected.as_bytes(),
        "received {} bytes, expected {}; first difference at byte {:?}",
        got.len(),
        expected.len(),
        got.iter()
            .zip(expected.as_bytes())
            .position(|(a, b)| a != b)
    );
}

#[test]
fn a_piped_prompt_or_message_loses_its_final_newline() {
    let f = Fleet::new(CAT);
    let mut cmd = f.env.command(ao_tests::ao_bin());
    cmd.args(["spawn", "app", "--prompt", "-"])
        .current_dir(&f.repo)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"Fix it\n").unwrap();
    }
    assert!(child.wait_with_output().unwrap().status.success());
    let list = f.sessions();
    assert_eq!(session(&list, "app-1")["prompt"], "Fix it");
    let msg = f.env.root().join("msg.txt");
    std::fs::write(&msg, "second line\n").unwrap();
    f.ao(&["send", "app-1", "--file", msg.to_str().unwrap()])
        .success();
    // cat echoes what it got: the message once, and no empty line after it.
    let out = wait_until("the message at the agent", || {
        let out = f.ao(&["session", "output", "app-1"]).stdout;
        (out.matches("second line").count() >= 2).then_some(out)
    });
    let tail: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("second line"))
        .collect();
    assert_eq!(tail, ["second line", "second line"], "{out}");
}

#[test]
fn an_agent_that_exits_at_once_fails_the_spawn_and_everything_is_undone() {
    let f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [sh, -c, 'echo agent says no; exit 3']\n      processName: never-ready\n",
    );
    f.ao(&["spawn", "app", "--prompt", "do it"])
        .code(1)
        .stderr_has("app-1: spawn failed: the agent exited with exit code 3")
        .stderr_has("agent says no")
        .stderr_has("hint: check the agent's command and settings in the config");
    assert!(f.tmux_sessions().is_empty());
    assert_eq!(f.worktrees().len(), 1, "{:?}", f.worktrees());
    assert_eq!(f.branches(), ["main"]);
    assert!(f.sessions().is_empty());
}

/// Only a failure before the task was delivered fails a spawn: an agent that quits before
/// its task is typed in (with or without an error) is undone, with its output.
#[test]
fn an_agent_that_quits_before_its_task_is_typed_fails_the_spawn() {
    for code in [0, 3] {
        let f = Fleet::new(&format!(
            "    agent: command\n    agentConfig:\n      command: [sh, -c, 'echo agent says no; exit {code}']\n"
        ));
        f.ao(&["spawn", "app", "--prompt", "do it"])
            .code(1)
            .stderr_has("the agent exited")
            .stderr_has("agent says no");
        assert!(f.tmux_sessions().is_empty());
        assert_eq!(f.worktrees().len(), 1, "{:?}", f.worktrees());
        assert_eq!(f.branches(), ["main"]);
        assert!(f.sessions().is_empty());
    }
}

#[test]
fn a_failing_post_create_command_fails_the_spawn_with_its_output() {
    let f = Fleet::new(&format!(
        "{CAT}    postCreate:\n      - echo first ran > first.txt\n      - echo 'install broke' >&2; exit 7\n"
    ));
    f.ao(&["spawn", "app", "--prompt", "do it"])
        .code(1)
        .stderr_has("install broke")
        .stderr_has("exit code 7");
    assert!(f.tmux_sessions().is_empty());
    assert!(!f.worktree("app-1").exists());
    assert_eq!(f.branches(), ["main"]);
    assert!(f.sessions().is_empty());
}

#[test]
fn post_create_copy_and_symlinks_reach_the_worktree() {
    let f = Fleet::new(&format!(
        "{CAT}    copy: [.env]\n    symlinks: [cache]\n    postCreate:\n      - echo built > built.txt\n"
    ));
    std::fs::write(f.repo.join(".env"), "SECRET=1\n").unwrap();
    std::fs::create_dir(f.repo.join("cache")).unwrap();
    std::fs::write(
        f.repo.join(".git/info/exclude"),
        "agent-orchestrator.yaml\n.env\ncache\n",
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "go"]).success();
    let wt = f.worktree("app-1");
    assert_eq!(
        std::fs::read_to_string(wt.join(".env")).unwrap(),
        "SECRET=1\n"
    );
    assert_eq!(
        std::fs::read_link(wt.join("cache")).unwrap(),
        f.repo.join("cache")
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("built.txt")).unwrap(),
        "built\n"
    );
}

#[test]
fn an_existing_branch_is_reused_never_reset() {
    let f = Fleet::new(CAT);
    f.env.git(&f.repo, &["switch", "-q", "-c", "feat/ongoing"]);
    std::fs::write(f.repo.join("work.txt"), "done so far\n").unwrap();
    f.env.git(&f.repo, &["add", "work.txt"]);
    f.env.git(&f.repo, &["commit", "-q", "-m", "work so far"]);
    f.env.git(&f.repo, &["switch", "-q", "main"]);
    f.ao(&[
        "spawn",
        "app",
        "--branch",
        "feat/ongoing",
        "--prompt",
        "go on",
    ])
    .success();
    let wt = f.worktree("app-1");
    assert_eq!(
        std::fs::read_to_string(wt.join("work.txt")).unwrap(),
        "done so far\n"
    );
    // The commit is unpushed but on the branch, which kill keeps: nothing is lost, and
    // kill says what the kept branch holds.
    f.ao(&["session", "kill", "app-1"])
        .success()
        .stdout_has("branch feat/ongoing kept, with 1 commit not pushed yet:")
        .stdout_has("work so far");
    assert!(f.branches().contains(&"feat/ongoing".to_owned()));
    // Killing it again changes nothing, and says so.
    f.ao(&["session", "kill", "app-1"])
        .success()
        .stdout_has("app-1 was already killed (user); nothing was changed");
    // A commit on a detached HEAD is on no branch: that would be lost, so kill refuses.
    f.ao(&["spawn", "app", "--prompt", "detached"]).success();
    let wt = f.worktree("app-2");
    f.env.git(&wt, &["checkout", "-q", "--detach"]);
    f.env
        .git(&wt, &["commit", "-q", "--allow-empty", "-m", "orphan work"]);
    f.ao(&["session", "kill", "app-2"])
        .code(1)
        .stderr_has("1 commit on no branch (a detached HEAD)")
        .stderr_has("orphan work");
    let dry = f.ao(&["session", "cleanup", "--dry-run"]);
    dry.success()
        .stdout_has("would clean app-1: killed (user); would keep branch feat/ongoing");
    assert!(!dry.stdout.contains("removed"), "{}", dry.explain());
}

#[test]
fn issues_without_a_tracker_and_bad_input_are_refused_clearly() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "12"])
        .code(1)
        .stderr_has("no issue `12`")
        .stderr_has("--prompt");
    f.ao(&["spawn", "nope", "--prompt", "x"])
        .code(1)
        .stderr_has("no project `nope`");
    f.ao(&["spawn", "app", "--branch", "bad..name", "--prompt", "x"])
        .code(1)
        .stderr_has("not a valid git branch name");
    f.ao(&["send", "app-9", "hi"])
        .code(1)
        .stderr_has("no session `app-9`");
    assert!(f.sessions().is_empty());
    assert!(f.tmux_sessions().is_empty());
}

#[test]
fn max_sessions_refuses_beyond_the_limit() {
    let f = Fleet::new(&format!("{CAT}    maxSessions: 1\n"));
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    f.ao(&["spawn", "app", "--prompt", "two"])
        .code(1)
        .stderr_has("maxSessions 1")
        .stderr_has("app-1")
        .stderr_has("--wait");
    f.ao(&["session", "kill", "app-1"]).success();
    f.ao(&["spawn", "app", "--prompt", "two"])
        .success()
        .stdout_has("app-2");
}

#[test]
fn a_tmux_name_already_taken_is_skipped() {
    let f = Fleet::new(CAT);
    f.tmux(&["new-session", "-d", "-s", "app-1", "--", "cat"])
        .success();
    f.ao(&["spawn", "app", "--prompt", "x"])
        .success()
        .stdout_has("app-2");
    let mut names = f.tmux_sessions();
    names.sort();
    assert_eq!(names, ["app-1", "app-2"]);
}

#[test]
fn a_long_argument_prompt_launches_intact() {
    let f = Fleet::new("");
    let out = f.env.root().join("received");
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: {}\n    agent: command\n    agentConfig:\n      command: [{}, {}, --task, '{{prompt}}']\n      promptDelivery: argument\n",
        f.socket.display(),
        f.repo.display(),
        raw_sink(),
        out.display()
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    let prompt: String = (0..2000).map(|i| format!("{i} 'q' \"d\" $x; ")).collect();
    assert!(prompt.len() > 20_000);
    f.ao(&["spawn", "app", "--prompt", &prompt]).success();
    let args = std::fs::read_to_string(format!("{}.args", out.display())).unwrap();
    assert_eq!(args, format!("--task\n{prompt}"));
    let pane = f.tmux(&["list-panes", "-t", "app-1", "-F", "#{pane_current_command}"]);
    assert_eq!(pane.stdout.trim(), "raw-sink");
}

#[test]
fn the_process_runtime_outlives_ao_and_takes_input() {
    let f = Fleet::new(&format!("    runtime: process\n{CAT}"));
    f.ao(&["spawn", "app", "--prompt", "hello process"])
        .success();
    wait_until("the prompt in the log", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("hello process")
            .then_some(())
    });
    f.ao(&["send", "app-1", "second line"]).success();
    wait_until("the message in the log", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("second line")
            .then_some(())
    });
    let list = f.sessions();
    let pid: i32 = session(&list, "app-1")["runtime"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let pid = u32::try_from(pid).unwrap();
    assert!(
        ao_core::exec::pid_alive(pid),
        "the agent's process {pid} runs"
    );
    f.ao(&["session", "kill", "app-1"]).success();
    wait_until("the process to end", || {
        (!ao_core::exec::pid_alive(pid)).then_some(())
    });
}

#[test]
fn the_clone_workspace_spawns_and_cleans_up() {
    let f = Fleet::new(&format!("    workspace: clone\n{CAT}"));
    f.ao(&["spawn", "app", "--prompt", "clone me"]).success();
    let wt = f.worktree("app-1");
    assert!(wt.join("README.md").exists());
    assert_eq!(
        f.env.git(&wt, &["branch", "--show-current"]).trim(),
        "feat/clone-me-app-1"
    );
    assert_eq!(f.worktrees().len(), 1, "a clone is not a worktree");
    f.ao(&["session", "kill", "app-1"]).success();
    assert!(!wt.exists());
}

/// Kills `ao spawn` (SIGKILL) at each step and checks that the next command finds and
/// undoes what it left: no tmux session, no worktree, no branch, no row.
#[test]
fn a_spawn_killed_at_any_step_is_undone_by_the_next_command() {
    let f = Fleet::new(CAT);
    for (i, step) in [
        "reserved",
        "row",
        "workspace",
        "post-create",
        "runtime",
        "ready",
        "prompt",
    ]
    .iter()
    .enumerate()
    {
        let mut cmd = f.env.command(ao_tests::ao_bin());
        cmd.args(["spawn", "app", "--prompt", "crash test"])
            .current_dir(&f.repo)
            .env("AO_FAILPOINT", step);
        let run = ao_tests::Run::of(cmd, &f.repo);
        assert_ne!(run.code, 0, "step {step}: {}", run.explain());
        // The next status finds the remains and undoes them.
        let next = if i % 2 == 0 {
            f.ao(&["status"])
        } else {
            f.ao(&["session", "cleanup"])
        };
        next.success();
        if *step != "reserved" {
            assert!(
                next.stderr.contains("undid an interrupted") || next.stdout.contains("undid"),
                "step {step}: {}",
                next.explain()
            );
        }
        assert!(
            f.tmux_sessions().is_empty(),
            "step {step}: {:?}",
            f.tmux_sessions()
        );
        assert_eq!(f.worktrees().len(), 1, "step {step}: {:?}", f.worktrees());
        assert_eq!(f.branches(), ["main"], "step {step}");
        assert!(f.sessions().is_empty(), "step {step}: {:?}", f.sessions());
    }
    // And a spawn after all that works, on a fresh id.
    f.ao(&["spawn", "app", "--prompt", "after"])
        .success()
        .stdout_has("app-8");
}

/// A spawn that is still running (its postCreate waits on a file) is not an orphan:
/// `ao status` and `ao session cleanup` leave it alone, and it finishes.
#[test]
fn a_spawn_in_progress_is_never_taken_for_an_orphan() {
    let f = Fleet::new("");
    let gate = f.env.root().join("gate");
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: {}\n    agent: command\n    agentConfig:\n      command: [cat]\n    postCreate:\n      - while [ ! -e '{}' ]; do sleep 0.05; done\n",
        f.socket.display(),
        f.repo.display(),
        gate.display()
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    let mut cmd = f.env.command(ao_tests::ao_bin());
    cmd.args(["spawn", "app", "--prompt", "slow"])
        .current_dir(&f.repo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_until("the spawn to reach postCreate", || {
        f.sessions()
            .iter()
            .any(|s| s["status"] == "spawning")
            .then_some(())
    });
    f.ao(&["status"]).success().stdout_has("spawning");
    let cleanup = f.ao(&["session", "cleanup"]);
    cleanup.success();
    assert!(!cleanup.stderr.contains("undid"), "{}", cleanup.explain());
    assert!(f.worktree("app-1").exists());
    std::fs::write(&gate, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "app-1");
    assert_eq!(session(&f.sessions(), "app-1")["status"], "working");
}

#[test]
fn spawn_wait_starts_when_a_slot_frees() {
    use std::io::BufRead;
    let f = Fleet::new(&format!("{CAT}    maxSessions: 1\n"));
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    let mut cmd = f.env.command(ao_tests::ao_bin());
    cmd.args(["spawn", "app", "--wait", "--prompt", "two"])
        .env("AO_LOG", "debug")
        .current_dir(&f.repo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push(line);
            }
        })
    };
    let count = |text: &str| {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    };
    // It says it waits, then finds the slot still taken again and again; meanwhile no
    // second session starts, in tmux or in the store.
    wait_until("the spawn to say it waits", || {
        (count("already has 1 live or starting session (maxSessions 1): app-1; waiting for a slot to free") == 1).then_some(())
    });
    wait_until("the waiting spawn to look for a slot three times", || {
        assert_eq!(f.tmux_sessions(), ["app-1"]);
        let ids: Vec<String> = f
            .sessions()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, ["app-1"]);
        (count("app: no slot free yet (app-1)") >= 3).then_some(())
    });
    f.tmux(&["kill-session", "-t", "=app-1"]).success();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{}", lines.lock().unwrap().join("\n"));
    assert_eq!(out.trim(), "app-2");
    assert_eq!(f.tmux_sessions(), ["app-2"]);
}

#[test]
fn attach_and_status_watch_work_in_a_real_terminal() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "visible task"])
        .success();
    let term = ao_tests::Tmux::new(&f.env);
    let ao = ao_tests::ao_bin();
    term.start(
        "watch",
        &f.repo,
        &[ao.to_str().unwrap(), "status", "--watch"],
    );
    term.wait_for("watch", "feat/visible-task-app-1");
    // It refreshes: a session spawned after the first screen shows up on it.
    f.ao(&["spawn", "app", "--prompt", "later task"]).success();
    term.wait_for("watch", "feat/later-task-app-2");
    term.start(
        "attach",
        &f.repo,
        &[ao.to_str().unwrap(), "attach", "app-1"],
    );
    term.wait_for("attach", "visible task");
    // Typing in the attached terminal reaches the agent.
    term.type_line("attach", "typed by hand");
    wait_until("the typed line at the agent", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("typed by hand")
            .then_some(())
    });
}

/// A bash script as the agent: it runs as `bash`, which ao no longer needs to be told.
fn toy_agent(f: &mut Fleet) {
    f.env.script_on_path(
        "agent-bin",
        "my-agent",
        "#!/bin/bash\necho 'my-agent ready'\nwhile read -r line; do\n  [ \"$line\" = quit ] && exit 0\n  echo \"my-agent got: $line\"\ndone\n",
    );
}

/// The README's "A first session with any CLI", as written there.
#[test]
fn the_readmes_first_session_with_any_cli_works_as_written() {
    let mut f = Fleet::new("");
    toy_agent(&mut f);
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: .\n    agent: command\n    tracker: {{ plugin: prompt }}\n    agentConfig:\n      command: [my-agent]          # any CLI; the task is typed in once it runs\n",
        f.socket.display()
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    f.ao(&["spawn", "app", "--prompt", "Fix the flaky login test"])
        .success()
        .stdout_has("app-1");
    wait_until("the task at the agent", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("my-agent got: Fix the flaky login test")
            .then_some(())
    });
    f.ao(&["status"]).success().stdout_has("app-1");
    f.ao(&["send", "app-1", "Also update the changelog"])
        .success();
    wait_until("the message at the agent", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("my-agent got: Also update the changelog")
            .then_some(())
    });
    f.ao(&["session", "kill", "app-1"]).success();
    assert!(f.tmux_sessions().is_empty());
}

#[test]
fn a_quiet_generic_agent_reads_ready_and_one_that_exited_frees_its_slot() {
    let mut f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [my-agent]\n    maxSessions: 1\n",
    );
    toy_agent(&mut f);
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    let status = |f: &Fleet| -> serde_json::Value {
        let run = f.ao(&["status", "--json"]);
        let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
        session(&list, "app-1").clone()
    };
    // Its screen stays still once it has answered: ready, not active forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while status(&f)["activity"] != "ready" {
        assert!(std::time::Instant::now() < deadline, "{}", status(&f));
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    // It quits (exit code 0): the session ends (the table says finished) and frees its
    // slot.
    f.ao(&["send", "app-1", "quit"]).success();
    let s = wait_until("the session to end", || {
        let s = status(&f);
        (s["status_reason"] == "agent_finished").then_some(s)
    });
    assert_eq!(
        (&s["status"], &s["agent_exit"]["code"]),
        (&serde_json::json!("done"), &serde_json::json!(0)),
        "{s:#}"
    );
    f.ao(&["status"]).success().stdout_has("finished");
    f.ao(&["spawn", "app", "--prompt", "two"])
        .success()
        .stdout_has("app-2");
    f.ao(&["session", "restore", "app-1"])
        .code(1)
        .stderr_has("maxSessions");
}

#[test]
fn small_rough_edges_say_what_to_do() {
    let f = Fleet::new(CAT);
    // No host, no dashboard: said in words, with what to do.
    f.ao(&["dashboard"])
        .code(1)
        .stderr_has("nothing serves the dashboard")
        .stderr_has("ao start");
    f.ao(&["start", "nope"]).code(1).stderr_has("nope");
    // Detached: it says where it logs, `ao status` sees it, `ao stop` ends it.
    let log = f.env.ao_home.join("logs").join("host.log");
    f.ao(&["start", "--detach", "--no-orchestrator"])
        .success()
        .stdout_has("host started (pid")
        .stdout_has(&log.display().to_string());
    f.ao(&["status"]).success().stdout_has("host: running (pid");
    f.ao(&["start", "--detach", "--no-orchestrator"])
        .code(1)
        .stderr_has("a host already runs for");
    f.ao(&["stop"])
        .success()
        .stdout_has("stopped the host (pid");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("host started: probing every"), "{text}");
    assert!(text.contains("ao host stopped (SIGTERM)"), "{text}");
    f.ao(&["stop"]).success().stdout_has("no host runs for");
    // Attaching with no terminal says how to attach by hand.
    f.ao(&["spawn", "app", "--prompt", "x"]).success();
    f.ao(&["attach", "app-1"])
        .code(1)
        .stderr_has("ao attach needs a terminal")
        .stderr_has("attach-session -t =app-1");
    // A repository with no commits yet is named as such.
    let empty = f.env.root().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    f.env.git(&empty, &["init", "-q", "-b", "main"]);
    std::fs::write(
        empty.join("agent-orchestrator.yaml"),
        "projects:\n  e:\n    path: .\n    agent: command\n    agentConfig:\n      command: [cat]\n    tracker: prompt\n",
    )
    .unwrap();
    f.env
        .ao(&empty, &["spawn", "e", "--prompt", "x"])
        .code(1)
        .stderr_has("has no commits yet")
        .stderr_has("git commit --allow-empty");
}

#[test]
fn an_undo_that_keeps_a_branch_says_why_and_a_restore_says_it_resumes() {
    // A postCreate that commits, then fails: the branch the spawn made now holds work.
    let f = Fleet::new(&format!(
        "{CAT}    postCreate:\n      - git commit -q --allow-empty -m 'work in progress' && exit 4\n"
    ));
    f.ao(&["spawn", "app", "--prompt", "keep me"])
        .code(1)
        .stderr_has("kept branch feat/keep-me-app-1: it has commits that origin/main does not");
    assert!(f.branches().contains(&"feat/keep-me-app-1".to_owned()));

    // An agent with no way to resume is told it is resuming, not given the task anew.
    let g = Fleet::new(CAT);
    g.ao(&["spawn", "app", "--prompt", "Write the changelog"])
        .success();
    let wt = g.worktree("app-1");
    std::fs::write(wt.join("CHANGELOG.md"), "done\n").unwrap();
    g.env.git(&wt, &["add", "."]);
    g.env.git(&wt, &["commit", "-q", "-m", "changelog written"]);
    g.tmux(&["kill-session", "-t", "=app-1"]).success();
    g.ao(&["status"]).success();
    g.ao(&["session", "restore", "app-1"]).success();
    let out = wait_until("the resume message", || {
        let out = g.ao(&["session", "output", "app-1", "-n", "40"]).stdout;
        out.contains("The task was:").then_some(out)
    });
    assert!(out.contains("You are resuming earlier work"), "{out}");
    assert!(out.contains("changelog written"), "{out}");
    assert!(out.contains("Write the changelog"), "{out}");
}

#[test]
fn inside_a_sessions_workspace_ao_finds_its_config_and_store() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "where am I"]).success();
    let wt = f.worktree("app-1");
    // A shell in the worktree, with no AO_HOME: the session's own config and store.
    let mut cmd = f.env.command(ao_tests::ao_bin());
    cmd.env_remove("AO_HOME")
        .args(["status", "--json"])
        .current_dir(wt.join("."));
    let run = ao_tests::Run::of(cmd, &wt);
    run.success();
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(session(&list, "app-1")["status"], "working");
    // Nothing of that shows in the worktree itself.
    assert_eq!(f.env.git(&wt, &["status", "--porcelain"]), "");

    // Another config's cleanup says whose session it is.
    let other = f.env.root().join("other.yaml");
    std::fs::write(
        &other,
        format!("projects:\n  web:\n    path: {}\n", f.repo.display()),
    )
    .unwrap();
    f.ao(&["session", "kill", "app-1"]).success();
    let mut cmd = f.env.command(ao_tests::ao_bin());
    cmd.env("AO_CONFIG_PATH", &other)
        .args(["session", "cleanup"])
        .current_dir(&f.repo);
    let run = ao_tests::Run::of(cmd, &f.repo);
    run.success()
        .stdout_has("project `app` is not in this config");
}

/// A `command` agent, the Python program `body`, in a fleet; `got` is where the program
/// writes what it read.
fn python_agent(body: &str, agent_config: &str) -> (Fleet, std::path::PathBuf) {
    let f = Fleet::new("");
    let got = f.env.root().join("got.txt");
    let agent = f.env.root().join("agent.py");
    std::fs::write(
        &agent,
        body.replace("GOT", &format!("{:?}", got.display().to_string())),
    )
    .unwrap();
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: {}\n    tracker: prompt\n    agent: command\n    agentConfig:\n      command: [python3, {}]\n{agent_config}",
        f.socket.display(),
        f.repo.display(),
        agent.display()
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    (f, got)
}

/// Prints, pauses, then sets its terminal to raw mode (Python's `tty.setraw` flushes
/// what was typed and not yet read), prompts, and keeps the line it reads.
const LATE_RAW_AGENT: &str = "import os, sys, time, tty\nprint('booting...', flush=True)\ntime.sleep(0.5)\ntty.setraw(0)\nsys.stdout.write('ready> ')\nsys.stdout.flush()\nbuf = b''\nwhile not buf.endswith(b'\\r'):\n    buf += os.read(0, 1024)\nopen(GOT, 'wb').write(buf)\ntime.sleep(600)\n";

/// With `readyPattern`, ao types only once the agent shows it is ready.
#[test]
fn ready_pattern_waits_for_an_agent_that_sets_up_its_terminal_late() {
    let (f, got) = python_agent(LATE_RAW_AGENT, "      readyPattern: 'ready> '\n");
    f.ao(&["spawn", "app", "--prompt", "the task, intact"])
        .success();
    let text = wait_until("the task at the agent", || {
        std::fs::read_to_string(&got).ok()
    });
    assert!(text.contains("the task, intact"), "{text:?}");
}

/// Waits for typed input to arrive, then sets its terminal to raw mode, which discards it
/// unread (as a CLI that sets up its terminal as the text arrives does), prompts, and
/// keeps the line it reads next. Every first task typed into it is lost, on any machine
/// at any load: no sleep decides it.
const DISCARDING_AGENT: &str = "import os, select, sys, tty\nprint('booting...', flush=True)\nselect.select([0], [], [])\ntty.setraw(0)\nsys.stdout.write('ready> ')\nsys.stdout.flush()\nbuf = b''\nwhile not buf.endswith(b'\\r'):\n    buf += os.read(0, 1024)\nopen(GOT, 'wb').write(buf)\nimport time\ntime.sleep(600)\n";

/// Without `readyPattern` too: the task typed while the agent still sets up its
/// terminal is discarded by it, ao sees it leave the terminal unread, and types it again
/// once the terminal settles. Before, 5 of 5 such tasks were lost with spawn reporting
/// success.
#[test]
fn a_task_an_agent_discards_unread_is_typed_again() {
    let (f, got) = python_agent(DISCARDING_AGENT, "");
    f.ao(&["spawn", "app", "--prompt", "the task, intact"])
        .success();
    let text = wait_until("the task at the agent", || {
        std::fs::read_to_string(&got).ok()
    });
    assert_eq!(text, "the task, intact\r");
    f.ao(&["session", "kill", "app-1"]).success();
}

/// Spawn reports success only once the agent has read its task: an agent that never
/// reads its terminal fails the spawn with its screen, and nothing is left behind.
#[test]
fn a_task_the_agent_never_reads_fails_the_spawn() {
    let (f, _got) = python_agent(
        "import time\nprint('busy with something else', flush=True)\ntime.sleep(600)\n",
        "",
    );
    f.ao(&["spawn", "app", "--prompt", "the task"])
        .code(1)
        .stderr_has("the task was typed in but the agent has not read it within 15 s (it waits, unread, at its terminal)")
        .stderr_has("busy with something else");
    assert!(f.tmux_sessions().is_empty(), "{:?}", f.tmux_sessions());
    assert!(f.worktrees().len() == 1, "{:?}", f.worktrees());
}

/// An agent that discards every input unread: ao types the task three times, then says
/// what happened and how to make typing wait, instead of reporting success.
#[test]
fn an_agent_that_keeps_discarding_its_input_fails_the_spawn() {
    let (f, _got) = python_agent(
        "import sys, termios, time\nprint('flushing', flush=True)\nwhile True:\n    time.sleep(0.2)\n    termios.tcflush(0, termios.TCIFLUSH)\n",
        "",
    );
    f.ao(&["spawn", "app", "--prompt", "the task"])
        .code(1)
        .stderr_has("the agent discarded its task unread 3 times")
        .stderr_has("set agentConfig.readyPattern");
    assert!(f.tmux_sessions().is_empty(), "{:?}", f.tmux_sessions());
}

/// An agent reporting on itself from inside its session (`ao acknowledge`, `ao report`):
/// `ao status` shows what it said over what its screen suggests, and a `pr-created`
/// report with an address attaches the pull request at once.
#[test]
fn an_agent_reports_on_itself_and_ao_status_shows_it() {
    let ao = ao_tests::ao_bin();
    let f = Fleet::new("");
    let script = f.env.root().join("reporter.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/bash\nread task\n'{ao}' acknowledge --note 'got it'\n'{ao}' report working --note 'reading the code'\nwhile IFS= read -r line; do\n  case \"$line\" in\n    pr) '{ao}' report pr-created --pr-url https://github.com/acme/app/pull/7 ;;\n    done) '{ao}' report completed --note 'all done' ;;\n  esac\ndone\n",
            ao = ao.display()
        ),
    )
    .unwrap();
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap()
        + &format!(
            "    agent: command\n    agentConfig:\n      command: [bash, {}]\n",
            script.display()
        );
    std::fs::write(&file, config).unwrap();
    f.ao(&["spawn", "app", "--prompt", "Fix the login"])
        .success();
    let status = |f: &Fleet| -> serde_json::Value {
        let run = f.ao(&["status", "--json"]);
        run.success();
        serde_json::from_str::<Vec<serde_json::Value>>(&run.stdout).unwrap()[0].clone()
    };
    let s = ao_tests::wait_until("the agent's report", || {
        let s = status(&f);
        (s["report"]["state"] == "working").then_some(s)
    });
    assert_eq!(s["report"]["note"], "reading the code");
    assert_eq!(s["activity_source"], "report", "{s:#}");
    assert_eq!(s["activity"], "active");
    f.ao(&["send", "app-1", "pr"]).success();
    let s = ao_tests::wait_until("the reported pull request", || {
        let s = status(&f);
        (s["report"]["state"] == "pr_created").then_some(s)
    });
    assert_eq!(s["pr"]["number"], 7, "{s:#}");
    f.ao(&["send", "app-1", "done"]).success();
    let s = ao_tests::wait_until("completed", || {
        let s = status(&f);
        (s["report"]["state"] == "completed").then_some(s)
    });
    assert_eq!(s["activity"], "ready", "{s:#}");
    let run = f.ao(&["events", "--kind", "reported", "--json"]);
    let events: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let states: Vec<&str> = events
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["started", "working", "pr_created", "completed"]);
    // Outside a session, and with a state ao does not know, it says what to do.
    let outside = f.ao(&["report", "working"]);
    outside.code(2).stderr_has("AO_SESSION_ID is not set");
    let bogus = f.ao(&["report", "bogus", "-s", "app-1"]);
    bogus
        .code(2)
        .stderr_has("`bogus` is not a state ao knows")
        .stderr_has("fixing-ci");
    let by_hand = f.ao(&["report", "fixing-ci", "-s", "app-1", "--note", "one test"]);
    by_hand.success();
    let root = f.env.root();
    insta::assert_snapshot!(
        outside.seen("report working", &root)
            + &bogus.seen("report bogus -s app-1", &root)
            + &by_hand.seen("report fixing-ci -s app-1 --note \"one test\"", &root)
    );
}

/// A one-shot agent: reads its task from its terminal, writes it to `done.txt` in its
/// workspace, says so, and exits with `code` (as `aider --message` or `claude -p` do as
/// `command` agents).
fn one_shot(code: i32) -> String {
    format!(
        "import sys\ntask = sys.stdin.readline().strip()\nopen('done.txt', 'w').write(task + '\\n')\nprint('wrote done.txt for: ' + task, flush=True)\nsys.exit({code})\n"
    )
}

/// An agent that takes its task and exits 0 has done its work: the spawn succeeds, the
/// session is `done (agent_finished)` with its exit code and last output, its worktree
/// keeps the file it wrote, and its `maxSessions` slot is free. Before, the spawn failed
/// ("the agent exited … as its task arrived") and its undo removed the worktree.
#[test]
fn a_one_shot_agent_that_finishes_is_done_and_its_work_is_kept() {
    let (f, _) = python_agent(&one_shot(0), "    maxSessions: 1\n");
    let run = f.ao(&["spawn", "app", "--prompt", "add the file"]);
    run.success().stdout_has("app-1");
    // Said by the spawn when the agent has ended by then, else by `ao status` once it has.
    if run.stderr.contains("after it took its task") {
        run.stderr_has("app-1's agent finished (exit code 0) after it took its task");
    }
    wait_until("the agent's end seen", || {
        f.ao(&["status"]).stdout.contains("finished").then_some(())
    });
    let file = f.worktree("app-1").join("done.txt");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_default(),
        "add the file\n",
        "{}",
        run.explain()
    );
    let s = session(&f.sessions(), "app-1").clone();
    assert_eq!(
        (&s["status"], &s["status_reason"], &s["agent_exit"]["code"]),
        (
            &serde_json::json!("done"),
            &serde_json::json!("agent_finished"),
            &serde_json::json!(0)
        ),
        "{s:#}"
    );
    f.ao(&["session", "info", "app-1"])
        .success()
        .stdout_has("done (agent_finished)")
        .stdout_has("exit code      0")
        .stdout_has("wrote done.txt for: add the file");
    f.ao(&["status"]).success().stdout_has("finished");
    // Nothing was undone, and the slot is free for the next session.
    let run = f.ao(&["events", "--session", "app-1", "--json"]);
    assert!(!run.stdout.contains("spawn_undone"), "{}", run.stdout);
    f.ao(&["spawn", "app", "--prompt", "another one"])
        .success()
        .stdout_has("app-2");
    // Its worktree holds its branch: a spawn on that branch is told so.
    let branch = s["branch"].as_str().unwrap();
    f.ao(&["spawn", "app", "--prompt", "more", "--branch", branch])
        .code(1)
        .stderr_has(&format!(
            "branch {branch} is checked out in app-1's workspace"
        ));
}

/// An agent that takes its task and exits with an error is over too, never undone: the
/// session is `killed (agent_exited)` with its exit code, shown by `status` and `info`,
/// and what it wrote stays.
#[test]
fn a_one_shot_agent_that_fails_after_its_task_is_killed_with_its_exit_code() {
    let (f, _) = python_agent(&one_shot(3), "");
    let run = f.ao(&["spawn", "app", "--prompt", "add the file"]);
    run.success().stdout_has("app-1");
    // The spawn says how the agent ended when it has ended by then (on a loaded machine it
    // may end just after); either way `ao status` and `info` say so once it has.
    if run.stderr.contains("after it took its task") {
        run.stderr_has("app-1's agent exited with code 3 after it took its task")
            .stderr_has("wrote done.txt for: add the file");
    }
    wait_until("the agent's exit seen", || {
        f.ao(&["status"])
            .stdout
            .contains("exited (3)")
            .then_some(())
    });
    assert!(
        f.worktree("app-1").join("done.txt").exists(),
        "{}",
        run.explain()
    );
    let s = session(&f.sessions(), "app-1").clone();
    assert_eq!(
        (&s["status"], &s["status_reason"], &s["agent_exit"]["code"]),
        (
            &serde_json::json!("killed"),
            &serde_json::json!("agent_exited"),
            &serde_json::json!(3)
        ),
        "{s:#}"
    );
    f.ao(&["status"]).success().stdout_has("exited (3)");
    f.ao(&["session", "info", "app-1"])
        .success()
        .stdout_has("killed (agent_exited)")
        .stdout_has("exit code      3")
        .stdout_has("wrote done.txt for: add the file");
}

/// A second spawn on a branch another session works on is refused naming that session
/// and what to do, not with git's "already used by worktree at …"; nothing of it is left.
#[test]
fn a_branch_another_session_works_on_is_refused_naming_it() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "one", "--branch", "feat/shared"])
        .success()
        .stdout_has("app-1");
    let run = f.ao(&["spawn", "app", "--prompt", "two", "--branch", "feat/shared"]);
    run.code(1);
    assert!(
        !run.stderr.contains("already used by worktree"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!(run.seen("spawn app --prompt two --branch feat/shared", &f.env.root()));
    assert_eq!(f.worktrees().len(), 2, "{:?}", f.worktrees());
    assert_eq!(f.sessions().len(), 1);
    assert_eq!(f.tmux_sessions(), ["app-1"]);
}

/// A one-shot agent that commits, pushes and exits: its pull request, opened on its way
/// out, is still found by its branch and still drives its session, which stays out of
/// `maxSessions` until the merge makes it `merged`.
#[test]
fn a_finished_agents_pull_request_still_drives_its_session() {
    use ao_tests::github::{FakeGitHub, TOKEN};
    let gh = FakeGitHub::start();
    gh.repo("acme/app");
    let mut f = Fleet::new("");
    gh.remote("acme/app", &f.env.root().join("repo-origin.git"));
    let script = f.env.root().join("one-shot.sh");
    std::fs::write(
        &script,
        "#!/bin/bash\nread -r task\necho \"$task\" > fix.txt\ngit add fix.txt\ngit -c user.name=agent -c user.email=agent@ao.invalid commit -q -m \"$task\"\ngit push -q origin HEAD\necho pushed\n",
    )
    .unwrap();
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: {}\n    repo: acme/app\n    tracker: prompt\n    maxSessions: 1\n    agent: command\n    agentConfig:\n      command: [bash, {}]\n",
        f.socket.display(),
        f.repo.display(),
        script.display()
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    f.env.set("GH_TOKEN", TOKEN);
    f.env.set("GITHUB_API_URL", &gh.url);
    f.ao(&["spawn", "app", "--prompt", "Fix the login"])
        .success();
    let status = |f: &Fleet, refresh: bool| {
        let run = f.ao(if refresh {
            &["status", "--refresh", "--json"][..]
        } else {
            &["status", "--json"][..]
        });
        run.success();
        let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
        session(&list, "app-1").clone()
    };
    // It ends once it has pushed (while the spawn returns, or just after).
    let s = wait_until("the agent to finish", || {
        let s = status(&f, false);
        (s["status_reason"] == "agent_finished").then_some(s)
    });
    assert_eq!(s["agent_exit"]["code"], 0, "{s:#}");
    let branch = s["branch"].as_str().unwrap().to_owned();
    let pr = gh.open_pr("acme/app", &branch, "main", "Fix the login");
    let s = status(&f, true);
    assert_eq!(s["pr"]["number"], pr, "{s:#}");
    assert_eq!(
        (&s["status"], &s["status_reason"]),
        (
            &serde_json::json!("done"),
            &serde_json::json!("agent_finished")
        ),
        "{s:#}"
    );
    gh.edit_pr("acme/app", pr, |p| p.state = "MERGED".into());
    let s = status(&f, true);
    assert_eq!(s["status"], "merged", "{s:#}");
    f.ao(&["events", "--kind", "status_changed"])
        .success()
        .stdout_has(&format!("done → merged (pull request #{pr})"));
}

/// A task given at launch (`promptDelivery: argument`) is delivered once the agent's
/// program runs: one that writes its file and exits at once, with an error, keeps its
/// work; only a program that could not be run (exit code 127) fails the spawn.
#[test]
fn a_one_shot_agent_given_its_task_at_launch_keeps_its_work_whatever_its_exit() {
    let f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [sh, -c, 'echo \"$1\" > done.txt; echo wrote it; exit 3', sh, '{prompt}']\n      promptDelivery: argument\n",
    );
    f.ao(&["spawn", "app", "--prompt", "the task"])
        .success()
        .stdout_has("app-1");
    let s = wait_until("the agent's end recorded", || {
        let s = session(&f.sessions(), "app-1").clone();
        (s["status_reason"] == "agent_exited").then_some(s)
    });
    assert_eq!(s["agent_exit"]["code"], 3, "{s:#}");
    assert_eq!(
        std::fs::read_to_string(f.worktree("app-1").join("done.txt")).unwrap(),
        "the task\n"
    );
    let f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [sh, -c, 'echo cannot run it; exit 127', sh, '{prompt}']\n      promptDelivery: argument\n",
    );
    f.ao(&["spawn", "app", "--prompt", "the task"])
        .code(1)
        .stderr_has("the agent exited with exit code 127")
        .stderr_has("cannot run it");
    assert_eq!(f.worktrees().len(), 1, "{:?}", f.worktrees());
    assert!(f.sessions().is_empty());
}

/// The host takes a one-shot agent's end for what it is: one that finished (exit 0) is
/// no alarm, one that failed is told once; neither is restarted or sent anything.
#[test]
fn the_host_tells_of_a_failed_one_shot_once_and_of_a_finished_one_not_at_all() {
    let r = ao_tests::receiver::Receiver::start();
    // Exits with the code its task names.
    let (f, _) = python_agent(
        "import sys\ntask = sys.stdin.readline().strip()\nprint('exiting with ' + task, flush=True)\nsys.exit(int(task))\n",
        "",
    );
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{config}lifecycle:\n  probeInterval: 200ms\nnotifiers:\n  hook:\n    plugin: webhook\n    url: {}/hook\nnotificationRouting:\n  urgent: [hook]\n  action: [hook]\n  warning: [hook]\n",
            r.url
        ),
    )
    .unwrap();
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    f.ao(&["spawn", "app", "--prompt", "0"]).success();
    wait_until("app-1 finished", || {
        (session(&f.sessions(), "app-1")["status_reason"] == "agent_finished").then_some(())
    });
    f.ao(&["spawn", "app", "--prompt", "3"]).success();
    // The host's passes saw app-1 ended before app-2 was even spawned.
    wait_until("app-2's exit told", || {
        (!r.received().is_empty()).then_some(())
    });
    let titles: Vec<String> = r
        .received()
        .iter()
        .map(|m| m.json()["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(titles, ["app-2: its agent exited"]);
    let run = f.ao(&["events", "--kind", "reaction_ran", "--json"]);
    let ran: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    // Of the sessions' reactions (a project's own, `all-complete`, has none).
    let ran: Vec<(&str, &str)> = ran
        .iter()
        .filter_map(|e| Some((e["session"].as_str()?, e["reaction"].as_str()?)))
        .collect();
    assert_eq!(ran, [("app-2", "agent-exited")]);
    // Both stay as they ended.
    let list = f.sessions();
    assert_eq!(session(&list, "app-1")["status"], "done");
    assert_eq!(session(&list, "app-2")["status"], "killed");
    f.stop_host(host);
}

/// `power.preventIdleSleep`: while an agent works the host holds the idle inhibitor
/// (`systemd-inhibit`; here a stand-in first on PATH that records how it was called and
/// runs what it wraps, since no logind runs here), and lets it go once none works.
#[test]
fn the_host_keeps_the_machine_awake_only_while_an_agent_works() {
    let mut f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [sh, -c, 'read task; while :; do echo \"$task\"; sleep 0.2; done']\n",
    );
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{config}power:\n  preventIdleSleep: true\nlifecycle:\n  probeInterval: 200ms\n"),
    )
    .unwrap();
    let log = f.env.root().join("inhibit.log");
    f.env.script_on_path(
        "inhibit-bin",
        "systemd-inhibit",
        &format!(
            "#!/bin/sh\necho \"$$ $*\" >> '{}'\nwhile [ $# -gt 0 ]; do case \"$1\" in --*) shift;; *) break;; esac; done\n\"$@\"\n",
            log.display()
        ),
    );
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    let host = f.ao_child(&["start", "--no-orchestrator", "--no-dashboard"]);
    let line = wait_until("the inhibitor taken while app-1 works", || {
        std::fs::read_to_string(&log).ok().filter(|l| !l.is_empty())
    });
    let (pid, args) = line.trim().split_once(' ').unwrap();
    assert_eq!(
        args,
        "--what=idle --who=ao --why=ao's agents are at work --mode=block cat"
    );
    let alive = |pid: &str| std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive(pid), "the inhibitor ended while the agent works");
    // No agent works once the only one is killed: the inhibitor is let go.
    f.ao(&["session", "kill", "app-1"]).success();
    wait_until("the inhibitor let go", || (!alive(pid)).then_some(()));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().lines().count(),
        1,
        "taken again with no agent at work"
    );
    f.stop_host(host);
}
