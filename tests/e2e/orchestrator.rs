//! The orchestrator session `ao start` runs per project: in the project's own checkout,
//! outside `maxSessions`, with its own agent, and each `orchestratorSessionStrategy` on
//! an existing one.

use ao_tests::{Fleet, wait_until};

/// A project whose orchestrator says who it is and whose workers are `cat`.
fn fleet(extra: &str) -> Fleet {
    Fleet::new(&format!(
        "    agent: command\n    agentConfig:\n      command: [cat]\n    orchestrator:\n      agent: command\n      agentConfig:\n        command: [sh, -c, 'echo I am the orchestrator; exec cat']\n        processName: cat\n{extra}"
    ))
}

fn orchestrator(f: &Fleet) -> Option<serde_json::Value> {
    f.sessions()
        .into_iter()
        .find(|s| s["id"] == "app-orchestrator")
}

/// `ao start` in the foreground until its orchestrator is up, then `ao stop`; returns
/// what it said.
fn start_and_stop(f: &Fleet) -> String {
    let host = f.ao_child(&["start"]);
    wait_until("the host to run", || {
        f.ao(&["status"])
            .stdout
            .contains("host: running")
            .then_some(())
    });
    f.ao(&["stop"]).success();
    let out = host.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn pane_pid(f: &Fleet) -> String {
    let pid = f
        .tmux(&["list-panes", "-t", "=app-orchestrator", "-F", "#{pane_pid}"])
        .stdout
        .trim()
        .to_owned();
    assert!(!pid.is_empty(), "no orchestrator pane");
    pid
}

#[test]
fn ao_start_runs_the_orchestrator_in_the_checkout_outside_max_sessions() {
    let f = fleet("    maxSessions: 1\n");
    // Work of the user's in the checkout: never touched.
    std::fs::write(f.repo.join("notes.txt"), "mine\n").unwrap();
    let said = start_and_stop(&f);
    assert!(
        said.contains("app-orchestrator: started; `ao orchestrator app` attaches to it"),
        "{said}"
    );
    let o = orchestrator(&f).expect("the orchestrator session");
    assert_eq!(o["status"], "working", "{o}");
    assert_eq!(
        o["workspace_path"].as_str().map(std::path::PathBuf::from),
        Some(f.repo.clone()),
        "{o}"
    );
    assert_eq!(o["workspace"], "checkout");
    // Its own agent, not the workers'.
    wait_until("the orchestrator's agent on its screen", || {
        f.ao(&["session", "output", "app-orchestrator"])
            .stdout
            .contains("I am the orchestrator")
            .then_some(())
    });
    // It survives the host's stop, and takes no worker's slot.
    assert_eq!(f.tmux_sessions(), ["app-orchestrator"]);
    f.ao(&["spawn", "app", "--prompt", "one worker"]).success();
    f.ao(&["spawn", "app", "--prompt", "a second"])
        .code(1)
        .stderr_has("maxSessions");
    // Killing it ends its agent and leaves the checkout as it was.
    f.ao(&["session", "kill", "app-orchestrator"])
        .success()
        .stdout_has("workspace kept at");
    assert_eq!(
        std::fs::read_to_string(f.repo.join("notes.txt")).unwrap(),
        "mine\n"
    );
    assert!(f.repo.join(".git").exists());
    assert!(!f.tmux_sessions().contains(&"app-orchestrator".to_owned()));
    // Cleaned up like any ended session, still without touching the checkout.
    f.ao(&["session", "cleanup"]).success();
    assert_eq!(
        std::fs::read_to_string(f.repo.join("notes.txt")).unwrap(),
        "mine\n"
    );
}

#[test]
fn reuse_keeps_a_running_orchestrator_and_restores_an_ended_one() {
    let f = fleet("");
    start_and_stop(&f);
    let first = pane_pid(&f);
    let said = start_and_stop(&f);
    assert!(
        said.contains("app-orchestrator: already running, kept"),
        "{said}"
    );
    assert_eq!(pane_pid(&f), first, "the same agent");
    f.tmux(&["kill-session", "-t", "=app-orchestrator"]);
    let said = start_and_stop(&f);
    assert!(said.contains("app-orchestrator: restored"), "{said}");
    assert_ne!(pane_pid(&f), first);
    assert_eq!(orchestrator(&f).unwrap()["status"], "working");
}

#[test]
fn every_other_strategy_replaces_the_orchestrator_with_a_new_one() {
    for strategy in [
        "delete",
        "ignore",
        "delete-new",
        "ignore-new",
        "kill-previous",
    ] {
        let f = fleet(&format!("    orchestratorSessionStrategy: {strategy}\n"));
        start_and_stop(&f);
        let first = pane_pid(&f);
        let said = start_and_stop(&f);
        assert!(
            said.contains("app-orchestrator: replaced by a new one"),
            "{strategy}: {said}"
        );
        assert_ne!(pane_pid(&f), first, "{strategy}: a new agent");
        assert_eq!(f.tmux_sessions(), ["app-orchestrator"], "{strategy}");
        let sessions = f.sessions();
        assert_eq!(
            sessions
                .iter()
                .filter(|s| s["id"] == "app-orchestrator")
                .count(),
            1,
            "{strategy}: {sessions:?}"
        );
    }
}

#[test]
fn no_orchestrator_starts_none_and_ao_orchestrator_says_how_to_get_one() {
    let f = fleet("");
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    wait_until("the host to run", || {
        f.ao(&["status"])
            .stdout
            .contains("host: running")
            .then_some(())
    });
    f.stop_host(host);
    assert!(orchestrator(&f).is_none());
    f.ao(&["orchestrator"])
        .code(1)
        .stderr_has("project `app` has no orchestrator session")
        .stderr_has("`ao start` starts it");
    f.ao(&["orchestrator", "nope"]).code(1).stderr_has("nope");
    // `workspace: checkout` is the orchestrator's alone.
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap() + "    workspace: checkout\n";
    std::fs::write(&file, config).unwrap();
    f.ao(&["config", "validate"])
        .code(2)
        .stderr_has("`workspace: checkout` is the orchestrator's own");
}

#[test]
fn a_detached_host_says_what_became_of_the_orchestrator() {
    let f = fleet("");
    f.ao(&["start", "--detach"])
        .success()
        .stdout_has("host started (pid")
        .stdout_has("app-orchestrator: started; `ao orchestrator app` attaches to it");
    f.ao(&["stop"]).success();
    f.ao(&["start", "--detach"])
        .success()
        .stdout_has("app-orchestrator: already running, kept");
    f.ao(&["stop"]).success();
}

#[test]
fn stop_all_ends_the_host_and_the_orchestrators_and_leaves_the_checkout() {
    let f = fleet("");
    std::fs::write(f.repo.join("notes.txt"), "mine\n").unwrap();
    let host = f.ao_child(&["start"]);
    wait_until("the orchestrator", || {
        orchestrator(&f).filter(|o| o["status"] == "working")
    });
    f.ao(&["stop", "--all"])
        .success()
        .stdout_has("stopped the host (pid")
        .stdout_has("app-orchestrator: ended tmux session app-orchestrator");
    assert!(host.wait_with_output().unwrap().status.success());
    assert!(f.tmux_sessions().is_empty(), "{:?}", f.tmux_sessions());
    assert_eq!(
        std::fs::read_to_string(f.repo.join("notes.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(orchestrator(&f).unwrap()["status"], "killed");
}

/// A project a config edit adds to a running host gets its orchestrator, as the projects
/// at the start did.
#[test]
fn a_project_added_while_the_host_runs_gets_its_orchestrator() {
    let f = fleet("");
    let host = f.ao_child(&["start"]);
    wait_until("the first orchestrator", || orchestrator(&f));
    let other = f.env.repo_with_origin("other", "main");
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{config}  other:\n    path: {}\n    agent: command\n    agentConfig:\n      command: [cat]\n    orchestrator:\n      agent: command\n      agentConfig:\n        command: [sh, -c, 'echo I lead other; exec cat']\n        processName: cat\n",
            other.display()
        ),
    )
    .unwrap();
    let added = wait_until("the added project's orchestrator at work", || {
        f.sessions()
            .into_iter()
            .find(|s| s["id"] == "other-orchestrator" && s["status"] == "working")
    });
    assert_eq!(
        added["workspace_path"]
            .as_str()
            .map(std::path::PathBuf::from),
        Some(other.clone()),
        "{added}"
    );
    f.stop_host(host);
}
