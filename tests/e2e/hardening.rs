//! Hardening: no secret on a command line, a tmux server ao never crashes, branch names
//! and paths that cannot break the repository, private files, signals, and what kill
//! deletes with a worktree.

use ao_tests::{Fleet, Run, ao_bin, wait_until};
use std::process::Child;

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";

fn finish(child: Child) -> (Option<i32>, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every process's command line on the machine, NUL-separated arguments as spaces.
fn command_lines() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .collect()
}

#[test]
fn no_environment_value_reaches_any_command_line() {
    let secret = "sekrit-5b1d0c-token";
    let mut f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [sh, -c, 'echo \"agent has $API_TOKEN\"; exec cat']\n      processName: cat\n      env:\n        API_TOKEN: ${AO_TEST_TOKEN}\n",
    );
    f.env.set("AO_TEST_TOKEN", secret);
    // This spawn starts the tmux server, whose command line lives as long as it does.
    f.ao(&["spawn", "app", "--prompt", "go"]).success();
    wait_until("the agent to print its environment", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains(&format!("agent has {secret}"))
            .then_some(())
    });
    let leaks: Vec<String> = command_lines()
        .into_iter()
        .filter(|c| c.contains(secret))
        .collect();
    assert!(leaks.is_empty(), "on a command line: {leaks:?}");
}

/// The agent of the traced fleet: writes the token it was given to `RECEIVED.env`, every
/// line it is given to `RECEIVED`; on its first line (the task) it commits and pushes.
const TRACED_AGENT: &str = r#"#!/bin/bash
received="$1"
printf '%s\n' "$API_TOKEN" > "$received.env"
first=1
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$received"
  if [ "$first" = 1 ]; then
    first=0
    echo "login works" > login.txt
    git add login.txt
    git -c user.name=agent -c user.email=agent@ao.invalid commit -q -m "Fix the login"
    git push -q origin HEAD 2>> "$received.err"
  fi
done
"#;

/// `strace -f`, recording into `trace` every exec of the program put after it and of all
/// its descendants, each with its whole argv.
fn traced(env: &ao_tests::TestEnv, trace: &std::path::Path) -> std::process::Command {
    let mut cmd = env.command("strace");
    cmd.args(["-f", "-e", "trace=execve,execveat", "-s", "65535", "-o"])
        .arg(trace)
        .arg("--");
    cmd
}

/// The exec lines of a trace, as strace wrote them (`PID execve("/usr/bin/git",
/// ["git", "fetch", ...], 0x... /* N vars */) = 0`).
fn execs(trace: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(trace)
        .unwrap_or_else(|e| panic!("no trace at {}: {e}", trace.display()))
        .lines()
        .filter(|l| l.contains(" execve(") || l.contains(" execveat("))
        .map(str::to_owned)
        .collect()
}

/// Whether some exec in `lines` ran `program` with `arg` among its arguments.
fn ran(lines: &[String], program: &str, arg: &str) -> bool {
    lines
        .iter()
        .any(|l| l.contains(&format!("[\"{program}\", ")) && l.contains(&format!("\"{arg}\"")))
}

/// Every command ao runs, and every process of the tmux server, is recorded exactly
/// (strace, every exec with its whole argv) through a spawn, a send, a host pass whose
/// reaction sends a failing check's log to the agent, a kill and a restore; no argv
/// holds a value from the environment or the GitHub token, though the agent got its
/// token. A scan of running processes would miss a short-lived child's command line.
#[test]
fn no_secret_is_on_the_command_line_of_any_process_ao_runs() {
    use ao_tests::github::FakeGitHub;
    let strace = std::process::Command::new("strace").arg("-V").output();
    if !strace.is_ok_and(|o| o.status.success()) {
        ao_tests::skip("strace is not installed (apt-get install strace)");
        return;
    }
    let secret = "sekrit-e1f7a2-token";
    let gh_token = "ghp_sekritGitHubTokenOfThisTest0123456789";
    let gh = FakeGitHub::start();
    gh.repo("acme/app");
    gh.accept_token(gh_token);
    let mut f = Fleet::new("");
    let root = f.env.root();
    let agent = root.join("agent.sh");
    std::fs::write(&agent, TRACED_AGENT).unwrap();
    let received = root.join("received.log");
    let remote = root.join("repo-origin.git");
    gh.remote("acme/app", &remote);
    std::fs::write(
        f.repo.join("agent-orchestrator.yaml"),
        format!(
            "runtimes:\n  tmux:\n    socket: {}\nlifecycle:\n  probeInterval: 200ms\n  pollInterval: 1s\nprojects:\n  app:\n    path: {}\n    repo: acme/app\n    tracker:\n      plugin: github\n    agent: command\n    agentConfig:\n      command: [bash, {}, {}]\n      env:\n        API_TOKEN: ${{AO_TEST_TOKEN}}\n    postCreate:\n      - 'echo \"deploying with ${{AO_TEST_TOKEN}}\" > /dev/null'\n",
            f.socket.display(),
            f.repo.display(),
            agent.display(),
            received.display(),
        ),
    )
    .unwrap();
    f.env.set("AO_TEST_TOKEN", secret);
    f.env.set("GH_TOKEN", gh_token);
    f.env.set("GITHUB_API_URL", &gh.url);
    let trace = |name: &str| root.join(format!("{name}.trace"));
    let ao = |name: &str, args: &[&str]| {
        let mut cmd = traced(&f.env, &trace(name));
        cmd.arg(ao_bin()).args(args).current_dir(&f.repo);
        Run::of(cmd, &f.repo)
    };
    let received_text = || std::fs::read_to_string(&received).unwrap_or_default();
    let wait_received = |text: &str| {
        wait_until(&format!("the agent to receive {text:?}"), || {
            received_text().contains(text).then_some(())
        })
    };

    // The tmux server, traced for its whole life: it runs every agent.
    let mut server = traced(&f.env, &trace("tmux-server"));
    server
        .arg("tmux")
        .arg("-S")
        .arg(&f.socket)
        .args([
            "new-session",
            "-d",
            "-s",
            "keepalive",
            "sleep",
            "2147483647",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut server = server.spawn().expect("strace starts");
    wait_until("the traced tmux server", || {
        (f.tmux(&["has-session", "-t", "=keepalive"]).code == 0).then_some(())
    });

    ao("spawn", &["spawn", "app", "--prompt", "Fix the login"]).success();
    let branch = f.sessions()[0]["branch"].as_str().unwrap().to_owned();
    wait_until("the agent to push its branch", || {
        ao_tests::branch_head(&remote, &branch)
    });
    let pr = gh.open_pr("acme/app", &branch, "main", "Fix the login");
    ao("send", &["send", "app-1", "a word from the user"]).success();
    wait_received("a word from the user");

    // A host pass: the failing check's log reaches the agent through a reaction.
    let mut host = traced(&f.env, &trace("host"));
    host.arg(ao_bin())
        .args(["start", "--no-orchestrator"])
        .current_dir(&f.repo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let host = host.spawn().expect("strace starts");
    wait_until("the host to find the pull request", || {
        f.ao(&["status", "--json"])
            .stdout
            .contains(&format!("\"number\": {pr}"))
            .then_some(())
    });
    gh.check(
        "acme/app",
        pr,
        "build",
        Some("FAILURE"),
        true,
        "error[E0308]: mismatched types in login.rs:3\n",
    );
    wait_received("error[E0308]: mismatched types in login.rs:3");
    f.stop_host(host);

    ao("kill", &["session", "kill", "app-1"]).success();
    ao("restore", &["session", "restore", "app-1"]).success();
    wait_received("You are resuming earlier work");
    f.tmux(&["kill-server"]).success();
    assert!(server.wait().unwrap().success());

    let agent_env = std::fs::read_to_string(root.join("received.log.env")).unwrap();
    assert_eq!(
        agent_env.lines().last(),
        Some(secret),
        "the agent got its token"
    );
    let mut seen = Vec::new();
    for (name, must_run) in [
        ("spawn", &[("tmux", "new-session"), ("git", "worktree")][..]),
        ("send", &[("tmux", "load-buffer")]),
        ("host", &[("tmux", "list-panes"), ("tmux", "load-buffer")]),
        ("kill", &[("tmux", "kill-session"), ("git", "worktree")]),
        ("restore", &[("tmux", "new-session"), ("git", "worktree")]),
        ("tmux-server", &[("bash", &agent.display().to_string())]),
    ] {
        let lines = execs(&trace(name));
        for (program, arg) in must_run {
            assert!(
                ran(&lines, program, arg),
                "the {name} trace shows no `{program} … {arg}`: {lines:#?}"
            );
        }
        seen.extend(lines);
    }
    for value in [secret, gh_token] {
        let leaks: Vec<&String> = seen.iter().filter(|l| l.contains(value)).collect();
        assert!(leaks.is_empty(), "on a command line: {leaks:#?}");
    }
}

#[test]
fn typing_into_a_dead_pane_never_crashes_the_tmux_server() {
    use ao_core::plugin::Runtime;
    let f = Fleet::new(CAT);
    let socket = f.socket.to_str().unwrap();
    f.tmux(&["new-session", "-d", "-s", "bystander", "sleep", "1000"])
        .success();
    f.tmux(&[
        "new-session",
        "-d",
        "-s",
        "app-1",
        "sleep",
        "0.2",
        ";",
        "set-option",
        "-w",
        "-t",
        "=app-1:",
        "remain-on-exit",
        "on",
    ])
    .success();
    wait_until("the pane to die", || {
        let panes = f.tmux(&["list-panes", "-t", "=app-1:", "-F", "#{pane_dead}"]);
        (panes.stdout.trim() == "1").then_some(())
    });
    let runtime = ao_plugins::runtime::tmux::TmuxRuntime::new(Some(socket));
    let handle = ao_core::model::RuntimeHandle {
        runtime: "tmux".into(),
        id: "app-1".into(),
        data: serde_json::json!({ "socket": socket }),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sent = rt.block_on(runtime.send(&handle, "hello"));
    let err = sent.expect_err("typing into a dead pane must fail");
    assert!(
        err.to_string().contains("has exited; nothing was typed"),
        "{err}"
    );
    rt.block_on(runtime.submit(&handle)).unwrap();
    // The server lives on, with the bystander and no buffer left behind.
    let sessions = f.tmux_sessions();
    assert!(sessions.contains(&"bystander".to_owned()), "{sessions:?}");
    assert_eq!(f.tmux(&["list-buffers"]).stdout, "");
}

#[test]
fn branch_names_that_would_break_the_repository_are_refused() {
    let f = Fleet::new(CAT);
    for (branch, says) in [
        ("origin/main", "would shadow the remote `origin`'s branches"),
        ("refs/heads/foo", "starts with `refs/`"),
        ("@", "is not a valid git branch name"),
        ("HEAD", "is not a valid git branch name"),
        ("-x", "is not a valid git branch name"),
        ("a..b", "is not a valid git branch name"),
        ("a b", "is not a valid git branch name"),
    ] {
        f.ao(&[
            "spawn",
            "app",
            &format!("--branch={branch}"),
            "--prompt",
            "x",
        ])
        .code(1)
        .stderr_has(says);
    }
    assert_eq!(f.branches(), ["main"]);
    // A later spawn works, which it did not after `origin/main` was accepted.
    f.ao(&["spawn", "app", "--branch", "feat/ok", "--prompt", "x"])
        .success();
    f.ao(&["spawn", "app", "--prompt", "y"]).success();
}

#[test]
fn ao_home_and_the_store_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fleet::new(CAT);
    let mut cmd = f.env.command("sh");
    cmd.args([
        "-c",
        "umask 022; exec \"$0\" spawn app --prompt 'a private task'",
    ])
    .arg(ao_bin())
    .current_dir(&f.repo);
    Run::of(cmd, &f.repo).success();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let home = &f.env.ao_home;
    assert_eq!(mode(home), 0o700);
    assert_eq!(mode(&home.join("sessions")), 0o700);
    assert_eq!(mode(&home.join("ao.db")), 0o600);
    for extra in ["ao.db-wal", "ao.db-shm"] {
        if home.join(extra).exists() {
            assert_eq!(mode(&home.join(extra)), 0o600, "{extra}");
        }
    }
    // Another local user, who can reach the directory above, reads nothing of it.
    std::fs::set_permissions(f.env.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for args in [
        vec!["cat", home.join("ao.db").to_str().unwrap()],
        vec!["ls", home.join("sessions").to_str().unwrap()],
    ] {
        let mut cmd = f.env.command("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(&args);
        let run = Run::of(cmd, &f.env.root());
        assert_ne!(run.code, 0, "another user read it\n{}", run.explain());
        assert!(
            run.stderr.contains("Permission denied"),
            "{}",
            run.explain()
        );
    }
}

#[test]
fn a_signal_during_spawn_undoes_it_at_once_and_says_so() {
    let f = Fleet::new("");
    f.hold_spawns_in_post_create();
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let child = f.ao_child(&["spawn", "app", "--prompt", "slow"]);
        let pid = child.id().to_string();
        f.wait_spawn_in_post_create();
        let mut kill = f.env.command("kill");
        kill.args([&format!("-{signal}"), &pid]);
        Run::of(kill, &f.repo).success();
        let (exit, _, stderr) = finish(child);
        assert_eq!(exit, Some(code), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "ao spawn was interrupted by SIG{signal}; everything it had made is undone"
            )) && stderr.contains("(undone: removed"),
            "SIG{signal}: {stderr}"
        );
        // Undone by the spawn itself: nothing is left for the next command to find.
        assert!(f.sessions().is_empty(), "SIG{signal}: {:?}", f.sessions());
        assert!(f.tmux_sessions().is_empty());
        assert_eq!(f.worktrees().len(), 1, "{:?}", f.worktrees());
        assert_eq!(f.branches(), ["main"]);
    }
}

#[test]
fn kill_names_the_ignored_files_it_deletes_with_the_worktree() {
    let f = Fleet::new(&format!("{CAT}    copy: [.env]\n"));
    std::fs::write(f.repo.join(".env"), "KEY=1\n").unwrap();
    std::fs::write(
        f.repo.join(".git/info/exclude"),
        "agent-orchestrator.yaml\n.env\n*.log\n",
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "build"]).success();
    std::fs::write(f.worktree("app-1").join("build.log"), "hours of output\n").unwrap();
    let kill = f.ao(&["session", "kill", "app-1"]);
    kill.success()
        .stdout_has("with the files git ignores there: build.log");
    // ao copied .env there itself; that is not news.
    assert!(!kill.stdout.contains(".env"), "{}", kill.explain());
}

#[test]
fn an_empty_message_is_refused_in_words() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "go"]).success();
    let run = f.ao(&["send", "app-1", ""]);
    run.code(2)
        .stderr_has("the message is empty; nothing was sent");
    assert!(!run.stderr.contains("buffer"), "{}", run.explain());
}

#[test]
fn output_cut_short_by_a_closed_pipe_ends_ao_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let f = Fleet::new(CAT);
    for args in [&["config", "schema"][..], &["completions", "bash"]] {
        // A pipe whose reader is gone before ao writes: every write fails at once.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut cmd = f.env.command(ao_bin());
        cmd.args(args)
            .current_dir(&f.repo)
            .stdout(writer)
            .stderr(std::process::Stdio::piped());
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert!(
            out.status.success() || out.status.signal() == Some(13),
            "{args:?}: {:?}",
            out.status
        );
    }
}

#[test]
fn a_value_from_the_environment_is_never_printed_in_an_error() {
    let token = "sekrit-7c3a91-token";
    // A path and an agent name from the environment, both wrong.
    let mut env = ao_tests::TestEnv::new();
    env.set("AO_TEST_PATH", format!("/nowhere/{token}"));
    env.set("AO_TEST_AGENT", token);
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "projects:\n  app:\n    path: ${AO_TEST_PATH}\n    agent: ${AO_TEST_AGENT}\n",
    )
    .unwrap();
    let run = env.ao(&repo, &["config", "validate"]);
    run.code(2)
        .stderr_has("path (a value from the environment) does not exist")
        .stderr_has("unknown agent plugin `(a value from the environment)`");
    assert!(!run.stderr.contains(token), "{}", run.explain());

    // A postCreate command carrying a token, failing and echoing it.
    let mut f = Fleet::new(&format!(
        "{CAT}    postCreate:\n      - echo \"deploying with ${{AO_TEST_TOKEN}}\"; exit 3\n"
    ));
    f.env.set("AO_TEST_TOKEN", token);
    let run = f.ao(&["spawn", "app", "--prompt", "go"]);
    run.code(1).stderr_has("exit code 3").stderr_has("***");
    assert!(!run.stderr.contains(token), "{}", run.explain());
}

/// A restore that fails says why, without the values from the environment: a postCreate
/// rerun for the recreated worktree that fails echoing a token, and an agent that exits
/// at once printing the token its `agentConfig.env` gave it.
#[test]
fn a_failed_restore_never_prints_a_value_from_the_environment() {
    let token = "sekrit-4d2e88-token";
    let mut f = Fleet::new(CAT);
    f.env.set("AO_TEST_TOKEN", token);
    f.ao(&["spawn", "app", "--prompt", "go"]).success();
    f.ao(&["session", "kill", "app-1"]).success();
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    let no_secret = |run: &Run| {
        assert!(
            !run.stdout.contains(token) && !run.stderr.contains(token),
            "{}",
            run.explain()
        );
    };

    std::fs::write(
        &file,
        format!(
            "{config}    postCreate:\n      - echo \"deploying with ${{AO_TEST_TOKEN}}\"; exit 3\n"
        ),
    )
    .unwrap();
    let run = f.ao(&["session", "restore", "app-1"]);
    run.code(1)
        .stderr_has("app-1: restore failed: worktree: postCreate")
        .stderr_has("failed (exit code 3)")
        .stderr_has("deploying with ***");
    no_secret(&run);

    std::fs::write(
        &file,
        config.replace(
            "      command: [cat]\n",
            "      command: [sh, -c, 'echo \"agent has $API_TOKEN\"; exit 4']\n      env:\n        API_TOKEN: ${AO_TEST_TOKEN}\n",
        ),
    )
    .unwrap();
    let run = f.ao(&["session", "restore", "app-1"]);
    run.code(1)
        .stderr_has("app-1: restore failed: the agent exited")
        .stderr_has("agent has ***");
    no_secret(&run);
}

/// A test that fails with a host running leaves no host behind: the fleet stops the ao
/// processes it started when it goes.
#[test]
fn a_fleet_dropped_with_a_host_running_stops_it() {
    let f = Fleet::new(CAT);
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    let pid = host.id();
    wait_until("the host to run", || {
        f.ao(&["status"])
            .stdout
            .contains(&format!("host: running (pid {pid})"))
            .then_some(())
    });
    let detached = Fleet::new(CAT);
    detached
        .ao(&["start", "--detach", "--no-orchestrator"])
        .success();
    let lock = detached.env.ao_home.join("host.lock");
    let other: u32 = wait_until("the detached host's pid", || {
        std::fs::read_to_string(&lock).ok()?.trim().parse().ok()
    });
    drop(f);
    drop(detached);
    let gone = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie nobody has reaped yet.
        stat.is_empty()
            || stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    };
    wait_until("the detached host to be gone", || gone(other).then_some(()));
    wait_until("the host to be gone", || gone(pid).then_some(()));
    drop(host);
}
