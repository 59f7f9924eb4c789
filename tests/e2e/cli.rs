//! The command surface: usage errors, completions, plugin listing.

use ao_tests::{Fleet, TestEnv, wait_until};

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";

#[test]
fn bad_usage_exits_2() {
    let env = TestEnv::new();
    let run = env.ao(&env.root(), &["no-such-command"]);
    run.code(2).stderr_has("no-such-command");
}

/// What bash offers when Tab is pressed after `words` (the last one is being typed),
/// with the script `ao completions bash` prints sourced, as a user's shell would.
fn bash_offers(f: &Fleet, words: &[&str]) -> Vec<String> {
    let script = f.env.root().join("ao.bash");
    let run = f.ao(&["completions", "bash"]);
    run.success();
    std::fs::write(&script, &run.stdout).unwrap();
    let mut cmd = f.env.command("bash");
    cmd.current_dir(&f.repo).arg("-c")
        .arg(r#"source "$1" && shift && COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && COMP_TYPE=9 && _clap_complete_ao ao "${COMP_WORDS[COMP_CWORD]}" "" ; printf '%s\n' "${COMPREPLY[@]}""#)
        .arg("bash")
        .arg(&script)
        .arg("ao")
        .args(words);
    let run = ao_tests::Run::of(cmd, &f.repo);
    run.success();
    run.stdout
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn completion_offers_commands_and_the_fleets_own_ids() {
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    assert!(bash_offers(&f, &["sess"]).contains(&"session".to_owned()));
    assert_eq!(bash_offers(&f, &["spawn", "a"]), ["app"]);
    assert_eq!(bash_offers(&f, &["spawn", ""])[0], "app");
    assert_eq!(bash_offers(&f, &["status", "--project", "a"]), ["app"]);
    // No session yet: nothing to offer, and no store made by asking.
    let offers = bash_offers(&f, &["session", "kill", ""]);
    assert!(offers.iter().all(|o| o.starts_with("--")), "{offers:?}");
    assert!(!f.env.ao_home.join("ao.db").exists());
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    f.ao(&["spawn", "app", "--prompt", "two"]).success();
    assert_eq!(
        bash_offers(&f, &["session", "kill", "a"]),
        ["app-1", "app-2"]
    );
    assert_eq!(bash_offers(&f, &["send", "app-2"]), ["app-2"]);
    assert_eq!(bash_offers(&f, &["attach", "app-"]), ["app-1", "app-2"]);
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let run = f.ao(&["completions", shell]);
        run.success().stdout_has("AO_COMPLETE");
    }
    f.ao(&["session", "kill", "app-1"]).success();
    f.ao(&["session", "kill", "app-2"]).success();
}

#[test]
fn plugin_ls_lists_every_built_in_by_slot() {
    let env = TestEnv::new();
    let run = env.ao(&env.root(), &["plugin", "ls", "--json"]);
    run.success();
    let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).expect("JSON");
    let has = |slot: &str, name: &str| list.iter().any(|p| p["slot"] == slot && p["name"] == name);
    for (slot, name) in [
        ("runtime", "tmux"),
        ("runtime", "process"),
        ("agent", "claude-code"),
        ("agent", "codex"),
        ("agent", "aider"),
        ("agent", "opencode"),
        ("agent", "command"),
        ("workspace", "worktree"),
        ("workspace", "clone"),
        ("tracker", "github"),
        ("scm", "github"),
        ("notifier", "desktop"),
        ("notifier", "slack"),
        ("notifier", "webhook"),
        ("notifier", "discord"),
    ] {
        assert!(
            has(slot, name),
            "{slot} {name} missing from\n{}",
            run.stdout
        );
    }
    assert!(
        list.iter()
            .all(|p| p["version"] == env!("CARGO_PKG_VERSION"))
    );
    let table = env.ao(&env.root(), &["plugin", "ls"]);
    table.success().stdout_has("SLOT").stdout_has("claude-code");
}

#[test]
fn config_schema_prints_json_schema() {
    let env = TestEnv::new();
    let run = env.ao(&env.root(), &["config", "schema"]);
    run.success();
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(schema["required"], serde_json::json!(["projects"]));
    assert!(schema["properties"]["projects"].is_object());
}

#[test]
fn a_config_named_by_a_bare_file_name_resolves_paths_beside_it() {
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("repo"));
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "projects:\n  app:\n    path: .\n",
    )
    .unwrap();
    env.ao(&repo, &["config", "validate", "agent-orchestrator.yaml"])
        .success()
        .stdout_has("is valid");
    // The same by AO_CONFIG_PATH from a sub-directory: `.` is the config's directory,
    // not the working directory (which is no repository).
    let sub = repo.join("docs");
    std::fs::create_dir_all(&sub).unwrap();
    let mut env = env;
    env.set("AO_CONFIG_PATH", "../agent-orchestrator.yaml");
    env.ao(&sub, &["config", "validate"])
        .success()
        .stdout_has("is valid");
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        "projects:\n  app:\n    path: ./gone\n",
    )
    .unwrap();
    env.ao(&sub, &["config", "validate"])
        .code(2)
        .stderr_has(&format!(
            "path {} does not exist",
            repo.join("gone").display()
        ));
}

/// The names and options the reference's users type, where ao has the behaviour.
#[test]
fn the_reference_command_names_work() {
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    f.ao(&["completion", "bash"])
        .success()
        .stdout_has("_clap_complete_ao");
    f.ao(&["spawn", "app", "--prompt", "x"]).success();
    f.ao(&["session", "kill", "app-1"]).success();
    f.ao(&["session", "cleanup"]).success();
    f.ao(&["session", "ls", "-a"]).success().stdout_has("app-1");
    f.ao(&["session", "attach", "app-1"]).code(1);
    f.ao(&["status", "--watch", "--interval", "0"])
        .code(2)
        .stderr_has("--interval");
    f.ao(&["update"])
        .success()
        .stdout_has(&format!("ao {}", env!("CARGO_PKG_VERSION")))
        .stdout_has("to update: ")
        .stdout_has("cargo install --locked --path");
}

/// `ao send` waits for the agent to be the terminal's foreground process (and fails
/// after `--timeout`); `--no-wait` types at once.
#[test]
fn send_waits_for_the_agent_unless_told_not_to() {
    // The agent reads its task, then becomes another program: never ready again.
    let f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [sh, -c, 'read task; echo \"took $task\"; exec sleep 600']\n      processName: sh\n",
    );
    f.ao(&["spawn", "app", "--prompt", "first"]).success();
    wait_until("the agent to take its task", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("took first")
            .then_some(())
    });
    let waited = f.ao(&["send", "--timeout", "1", "app-1", "waited"]);
    waited.code(1).stderr_has("app-1: not delivered:");
    insta::assert_snapshot!(waited.seen("send --timeout 1 app-1 waited", &f.env.root()));
    f.ao(&["send", "--no-wait", "--timeout", "1", "app-1", "x"])
        .code(2)
        .stderr_has("--timeout");
    f.ao(&["send", "--no-wait", "app-1", "typed-at-once"])
        .success()
        .stdout_has("app-1: typed into its terminal at once, without waiting or checking");
    wait_until("the typed text on the agent's screen", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("typed-at-once")
            .then_some(())
    });
}

/// `ao open`: outside tmux one session at a time; inside tmux a window per session, in
/// the user's own tmux, attached to ao's.
#[test]
fn open_attaches_one_or_opens_a_tmux_window_per_session() {
    let mut f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    f.ao(&["spawn", "app", "--prompt", "two"]).success();
    let outside = f.ao(&["open", "app-1", "app-2"]);
    outside
        .code(2)
        .stderr_has("outside tmux, ao opens one session at a time (2 were given)");
    // The user's own tmux, on a server of its own.
    let user = f.env.root().join("user-tmux.sock");
    let mut cmd = f.env.command("tmux");
    cmd.arg("-S")
        .arg(&user)
        .args(["new-session", "-d", "-s", "mine"]);
    assert!(cmd.status().unwrap().success());
    f.env.set("TMUX", format!("{},1,0", user.display()));
    let inside = f.ao(&["open", "app-1", "app-2"]);
    inside
        .success()
        .stdout_has("app-1: opened in a new tmux window")
        .stdout_has("app-2: opened in a new tmux window");
    let root = f.env.root();
    insta::assert_snapshot!(
        outside.seen("open app-1 app-2", &root)
            + &inside.seen("open app-1 app-2  # inside tmux", &root)
    );
    let mut list = f.env.command("tmux");
    list.arg("-S")
        .arg(&user)
        .args(["list-windows", "-a", "-F", "#{window_name}"]);
    let names = String::from_utf8(list.output().unwrap().stdout).unwrap();
    assert!(
        names.lines().any(|n| n == "app-1") && names.lines().any(|n| n == "app-2"),
        "{names}"
    );
    let mut kill = f.env.command("tmux");
    kill.arg("-S").arg(&user).arg("kill-server");
    let _ = kill.status();
}

#[test]
fn status_says_whether_a_host_watches() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "x"]).success();
    f.ao(&["status"])
        .success()
        .stdout_has("host: not running (`ao start` watches");
    f.ao(&["start", "--detach", "--no-orchestrator"]).success();
    f.ao(&["status"]).success().stdout_has("host: running (pid");
    f.ao(&["stop"]).success();
    let run = f.ao(&["status"]);
    run.success().stdout_has("host: not running");
    assert!(!run.stdout.contains("host: running"), "{}", run.explain());
}

#[test]
fn a_start_that_loses_the_race_for_the_lock_says_a_host_runs() {
    let f = Fleet::new(CAT);
    // Another `ao start` has taken the lock and not yet written its pid: the moment two
    // starts race through.
    let lock = f.env.ao_home.join("host.lock");
    std::fs::create_dir_all(&f.env.ao_home).unwrap();
    let mut holder = f
        .env
        .command("flock")
        .arg("--exclusive")
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    wait_until("flock holds the host lock", || {
        let probe = f
            .env
            .command("flock")
            .args(["--shared", "--nonblock"])
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap();
        (!probe.success()).then_some(())
    });
    let run = f.ao(&["start", "--detach", "--no-orchestrator"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    run.code(1).stderr_has("a host already runs for");
    assert!(!run.stderr.contains("exited at once"), "{}", run.explain());
}

/// An agent that reads a line at a time gets the whole resume message in one line.
#[test]
fn a_restore_tells_a_line_reading_agent_it_resumes_in_one_line() {
    let f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [sh, -c, 'while read -r line; do printf \"got[%s]\\n\" \"$line\"; done']\n      processName: sh\n",
    );
    f.ao(&["spawn", "app", "--prompt", "Write the changelog"])
        .success();
    let wt = f.worktree("app-1");
    for subject in ["changelog started", "changelog written"] {
        std::fs::write(wt.join("CHANGELOG.md"), subject).unwrap();
        f.env.git(&wt, &["add", "."]);
        f.env.git(&wt, &["commit", "-q", "-m", subject]);
    }
    f.tmux(&["kill-session", "-t", "=app-1"]).success();
    f.ao(&["status"]).success();
    f.ao(&["session", "restore", "app-1"]).success();
    let line = wait_until("the resume message, read", || {
        let out = f.ao(&["session", "output", "app-1", "-n", "40"]).stdout;
        out.lines()
            .find(|l| l.starts_with("got[You are resuming"))
            .map(str::to_owned)
    });
    for part in [
        "changelog started",
        "changelog written",
        "do not redo",
        "The task was: Write the changelog]",
    ] {
        assert!(
            line.contains(part),
            "{part:?} is not on the line read: {line}"
        );
    }
}

/// `ao send` says what it did with the message.
#[test]
fn send_says_what_it_did() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "first"]).success();
    f.ao(&["send", "app-1", "second"])
        .success()
        .stdout_has("app-1: typed into the agent's terminal\n");
    wait_until("the message on the agent's screen", || {
        f.ao(&["session", "output", "app-1"])
            .stdout
            .contains("second")
            .then_some(())
    });
}

/// Sending to a session whose agent exited says so in the words `ao status` uses.
#[test]
fn send_to_an_agent_that_exited_says_it_exited() {
    let f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [sh, -c, 'read task; exit 3']\n      processName: sh\n",
    );
    f.ao(&["spawn", "app", "--prompt", "once"]).success();
    wait_until("the agent's exit seen", || {
        f.ao(&["status"])
            .stdout
            .contains("exited (3)")
            .then_some(())
    });
    let run = f.ao(&["send", "app-1", "more"]);
    run.code(1)
        .stderr_has("app-1 has no running agent: its agent exited")
        .stderr_has("ao session restore app-1");
    assert!(!run.stderr.contains("is killed"), "{}", run.explain());
}
