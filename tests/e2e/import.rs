//! `ao import`: the reference system's running sessions, as it records and runs them
//! (JSON records under `~/.agent-orchestrator/projects/<id>/sessions/`, a tmux session
//! on the default server with the agent typed into its shell, a git worktree), adopted
//! with their agents still running.

use ao_tests::{Fleet, Run, wait_until};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The tmux server the reference uses (the default one, private to this test through
/// `TMUX_TMPDIR`), killed at the end.
struct DefaultTmux<'a>(&'a Fleet);

impl DefaultTmux<'_> {
    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = self.0.env.command("tmux");
        cmd.args(args);
        Run::of(cmd, &self.0.repo)
    }

    /// A session made as the reference makes one: a shell in the worktree, with the
    /// agent's command typed into it.
    fn reference_session(&self, name: &str, cwd: &Path, typed: Option<&str>) {
        let env = format!("AO_SESSION_ID={name}");
        self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-c",
            cwd.to_str().unwrap(),
            "-e",
            &env,
        ])
        .success();
        if let Some(command) = typed {
            self.run(&["send-keys", "-t", name, command, "Enter"])
                .success();
            wait_until("the typed agent to run", || {
                (self.foreground(name) == command.split(' ').next().unwrap()).then_some(())
            });
        }
    }

    fn format(&self, name: &str, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", &format!("={name}:"), format])
            .stdout
            .trim()
            .to_owned()
    }

    fn foreground(&self, name: &str) -> String {
        self.format(name, "#{pane_current_command}")
    }

    fn has(&self, name: &str) -> bool {
        self.run(&["has-session", "-t", &format!("={name}")]).code == 0
    }
}

impl Drop for DefaultTmux<'_> {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// A worktree of the project's repository on a new branch, where the reference puts them.
fn worktree(f: &Fleet, base: &Path, id: &str, branch: &str) -> PathBuf {
    let path = base.join("worktrees").join(id);
    f.env.git(
        &f.repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            branch,
            path.to_str().unwrap(),
            "main",
        ],
    );
    path
}

/// A record as the reference writes it: the fields it keeps, and a lifecycle.
fn record(id: &str, worktree: &Path, branch: &str, agent: &str, state: &str) -> Value {
    json!({
        "worktree": worktree,
        "branch": branch,
        "tmuxName": id,
        "project": "app",
        "agent": agent,
        "createdAt": "2026-11-30T09:15:00.000Z",
        "runtimeHandle": { "id": id, "runtimeName": "tmux", "data": { "createdAt": 1796030100000u64, "workspacePath": worktree } },
        "lifecycle": {
            "version": 2,
            "session": { "kind": "worker", "state": state, "reason": "task_in_progress", "startedAt": "2026-11-30T09:15:02.000Z", "completedAt": null, "terminatedAt": null, "lastTransitionAt": "2026-11-30T09:20:00.000Z" },
            "pr": { "state": "none", "reason": "not_created", "number": null, "url": null, "lastObservedAt": null },
            "runtime": { "state": "alive", "reason": "process_running", "lastObservedAt": "2026-11-30T09:20:00.000Z", "handle": null, "tmuxName": id }
        }
    })
}

fn write(dir: &Path, name: &str, value: &Value) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(name),
        serde_json::to_string_pretty(value).unwrap() + "\n",
    )
    .unwrap();
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                // The worktrees are git's; the records are what the reference owns here.
                if p.file_name().is_some_and(|n| n != "worktrees") {
                    todo.push(p);
                }
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn the_references_live_sessions_are_adopted_with_their_agents_running() {
    let mut f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let tmpdir = f.env.root().join("rt");
    std::fs::create_dir_all(&tmpdir).unwrap();
    f.env.set("TMUX_TMPDIR", &tmpdir);
    f.env.set("SHELL", "/bin/sh");
    let tmux = DefaultTmux(&f);
    let base = f.env.home.join(".agent-orchestrator/projects/app");
    let sessions = base.join("sessions");

    // Two live workers: one with a pull request (lifecycle form), one asking a question
    // (the older flat form: a stored status, the handle as a JSON string).
    let wt1 = worktree(&f, &base, "app-1", "feat/one");
    let mut r1 = record("app-1", &wt1, "feat/one", "claude-code", "working");
    r1["pr"] = json!("https://github.com/acme/app/pull/5");
    r1["lifecycle"]["pr"] = json!({ "state": "open", "reason": "review_pending", "number": 5, "url": "https://github.com/acme/app/pull/5", "lastObservedAt": null });
    r1["issue"] = json!("12");
    write(&sessions, "app-1.json", &r1);
    tmux.reference_session("app-1", &wt1, Some("cat"));
    let wt2 = worktree(&f, &base, "app-2", "feat/two");
    let r2 = json!({
        "worktree": wt2, "branch": "feat/two", "status": "needs_input", "tmuxName": "app-2",
        "project": "app", "agent": "codex", "userPrompt": "Tidy the docs",
        "runtimeHandle": serde_json::to_string(&json!({ "id": "app-2", "runtimeName": "tmux", "data": {} })).unwrap(),
    });
    write(&sessions, "app-2.json", &r2);
    tmux.reference_session("app-2", &wt2, Some("cat"));
    // The orchestrator, in the project's own checkout.
    let mut orch = record(
        "app-orchestrator",
        &f.repo,
        "main",
        "claude-code",
        "working",
    );
    orch["role"] = json!("orchestrator");
    orch["lifecycle"]["session"]["kind"] = json!("orchestrator");
    write(&sessions, "app-orchestrator.json", &orch);
    tmux.reference_session("app-orchestrator", &f.repo, Some("cat"));

    // One the reference named after the project's directory, not its id.
    let wt11 = worktree(&f, &base, "rep-11", "feat/eleven");
    write(
        &sessions,
        "rep-11.json",
        &record("rep-11", &wt11, "feat/eleven", "aider", "working"),
    );
    tmux.reference_session("rep-11", &wt11, Some("cat"));

    // What cannot be adopted, each for its own reason.
    let wt3 = worktree(&f, &base, "app-3", "feat/three");
    write(
        &sessions,
        "app-3.json",
        &record("app-3", &wt3, "feat/three", "aider", "working"),
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "app-3",
        "-c",
        wt3.to_str().unwrap(),
        "sleep 600",
    ])
    .success();
    tmux.run(&["set-option", "-t", "app-3", "remain-on-exit", "on"])
        .success();
    let sleeper = tmux.format("app-3", "#{pane_pid}");
    std::process::Command::new("kill")
        .arg(&sleeper)
        .status()
        .unwrap();
    wait_until("app-3's pane to die", || {
        (tmux.format("app-3", "#{pane_dead}") == "1").then_some(())
    });
    let gone = base.join("worktrees/app-4");
    write(
        &sessions,
        "app-4.json",
        &record("app-4", &gone, "feat/four", "claude-code", "working"),
    );
    tmux.reference_session("app-4", &f.repo, Some("cat"));
    let wt5 = worktree(&f, &base, "app-5", "feat/five");
    write(
        &sessions,
        "app-5.json",
        &record("app-5", &wt5, "feat/five", "in-house-agent", "working"),
    );
    tmux.reference_session("app-5", &wt5, Some("cat"));
    let wt6 = worktree(&f, &base, "app-6", "feat/six");
    let mut r6 = record("app-6", &wt6, "feat/six", "claude-code", "terminated");
    r6["lifecycle"]["session"]["reason"] = json!("manually_killed");
    write(&sessions, "app-6.json", &r6);
    let wt7 = worktree(&f, &base, "app-7", "feat/seven");
    write(
        &sessions,
        "app-7.json",
        &record("app-7", &wt7, "feat/seven", "claude-code", "working"),
    );
    tmux.reference_session("app-7", &wt7, None);
    std::fs::write(sessions.join("app-8.json"), "").unwrap();
    std::fs::write(sessions.join("app-9.json"), "{\"worktree\": ").unwrap();

    let files_before = tree(&f.env.home.join(".agent-orchestrator"));
    let pid = |name: &str| tmux.format(name, "#{pane_pid}");
    let pids_before = (pid("app-1"), pid("app-2"));

    // A dry run says all of it and adopts nothing.
    let dry = f.ao(&["import", "--dry-run"]);
    insta::assert_snapshot!("import_dry_run", f.env.normalize(&dry.stdout));
    dry.success()
        .stdout_has("would adopt app-1 (project app, claude-code on feat/one, tmux session app-1, pull request #5)")
        .stdout_has("would adopt app-2 (project app, codex on feat/two, tmux session app-2)")
        .stdout_has("would adopt app-orchestrator (project app, claude-code on main, tmux session app-orchestrator)")
        .stdout_has("4 would be adopted, 7 would not, 0 were adopted before");
    assert!(f.sessions().is_empty(), "a dry run adopted something");
    // Each comes in with the status the reference gave it (ao's readings take over).
    let planned = f.ao(&["import", "--dry-run", "--json"]);
    planned.success();
    let planned: Value = serde_json::from_str(&planned.stdout).unwrap();
    let statuses: Vec<(String, String)> = planned["adopted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["session"].as_str().unwrap().to_owned(),
                a["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("app-1".to_owned(), "review_pending".to_owned()),
            ("app-2".to_owned(), "needs_input".to_owned()),
            ("app-orchestrator".to_owned(), "working".to_owned()),
            ("rep-11".to_owned(), "working".to_owned()),
        ]
    );

    let run = f.ao(&["import"]);
    insta::assert_snapshot!("import", f.env.normalize(&run.stdout));
    run.success()
        .stdout_has("adopted app-1 (project app, claude-code on feat/one, tmux session app-1, pull request #5)")
        .stdout_has("not adopted: app-3: its tmux pane `app-3` is dead")
        .stdout_has(&format!(
            "not adopted: app-4: its worktree {} is gone",
            gone.display()
        ))
        .stdout_has("not adopted: app-5: its agent `in-house-agent` has no ao plugin")
        .stdout_has("not adopted: app-6: the reference ended it (killed); nothing runs to adopt")
        .stdout_has("not adopted: app-7: its agent has exited: only its shell")
        .stdout_has("not adopted: app-8: is empty (a spawn the reference had not finished)")
        .stdout_has("not adopted: app-9: is not JSON")
        .stdout_has("4 adopted, 7 not adopted, 0 adopted before")
        .stdout_has("note: project `app` names its new sessions app-N, and the reference named them rep-N: set `sessionPrefix: rep` under projects.app to keep one naming");

    // ao has them now, as they were, with nothing restarted.
    let list = f.sessions();
    let by_id = |id: &str| -> Value {
        list.iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {list:?}"))
    };
    let one = by_id("app-1");
    assert_eq!(one["branch"], "feat/one");
    assert_eq!(one["agent"], "claude-code");
    assert_eq!(one["issue"], "12");
    assert_eq!(one["pr"]["number"], 5);
    assert_eq!(one["workspace_path"], json!(wt1));
    assert_eq!(by_id("app-2")["prompt"], "Tidy the docs");
    assert_eq!(by_id("app-orchestrator")["workspace"], "checkout");
    let status = f.ao(&["status", "--json"]);
    status.success();
    let views: Vec<Value> = serde_json::from_str(&status.stdout).unwrap();
    for id in ["app-1", "app-2"] {
        let v = views
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {views:?}"));
        assert!(
            !["killed", "errored", "done"].contains(&v["status"].as_str().unwrap()),
            "{v}"
        );
    }
    assert_eq!((pid("app-1"), pid("app-2")), pids_before);
    assert_eq!(tmux.foreground("app-1"), "cat");
    f.ao(&["send", "--no-wait", "app-2", "hello from ao"])
        .success();
    wait_until("the message in app-2", || {
        f.ao(&["session", "output", "app-2"])
            .stdout
            .contains("hello from ao")
            .then_some(())
    });
    // The reference's files are as they were; its tmux sessions all still run.
    assert_eq!(tree(&f.env.home.join(".agent-orchestrator")), files_before);
    for name in ["app-3", "app-4", "app-5", "app-7"] {
        assert!(tmux.has(name), "{name} was stopped");
    }

    // Twice adopts nothing twice; ao's own next session takes a new id.
    f.ao(&["import"])
        .success()
        .stdout_has("app-1: adopted by an earlier import")
        .stdout_has("0 adopted, 7 not adopted, 4 adopted before");
    f.ao(&["spawn", "app", "--prompt", "new work"])
        .success()
        .stdout_has("app-10");
    // And an adopted session is ao's to end like its own.
    f.ao(&["session", "kill", "app-1"]).success();
    assert!(!tmux.has("app-1"));
    assert!(!wt1.exists());
}

/// Points the fleet's default tmux server (the reference's) at a directory of its own.
fn private_default_tmux(f: &mut Fleet) {
    let tmpdir = f.env.root().join("rt");
    std::fs::create_dir_all(&tmpdir).unwrap();
    f.env.set("TMUX_TMPDIR", &tmpdir);
    f.env.set("SHELL", "/bin/sh");
}

#[test]
fn a_record_naming_the_repository_or_another_sessions_worktree_is_not_adopted() {
    let mut f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    private_default_tmux(&mut f);
    let tmux = DefaultTmux(&f);
    let base = f.env.home.join(".agent-orchestrator/projects/app");
    let sessions = base.join("sessions");
    // ao's own session, app-1.
    f.ao(&["spawn", "app", "--prompt", "ours"]).success();
    let ours = f.worktree("app-1");
    assert!(ours.is_dir());

    // Records naming the repository's git directory, its main checkout (for a worker),
    // a directory inside its git directory, ao's own session's worktree, and a
    // worktree that an earlier record names too; each with a live agent.
    let git_dir = f.repo.join(".git");
    let shared = worktree(&f, &base, "app-8", "feat/eight");
    let admin = git_dir.join("worktrees/app-8");
    let hostile: [(&str, &Path); 5] = [
        ("app-5", &git_dir),
        ("app-6", &f.repo),
        ("app-7", &ours),
        ("app-9", &shared),
        ("app-10", &admin),
    ];
    write(
        &sessions,
        "app-8.json",
        &record("app-8", &shared, "feat/eight", "aider", "working"),
    );
    tmux.reference_session("app-8", &shared, Some("cat"));
    for (id, path) in hostile {
        write(
            &sessions,
            &format!("{id}.json"),
            &record(id, path, "main", "aider", "working"),
        );
        tmux.reference_session(id, &f.repo, Some("cat"));
    }

    let run = f.ao(&["import"]);
    // Whatever was adopted is ended as a user would end it, plainly, then forced.
    for (id, _) in hostile {
        f.ao(&["session", "kill", id]);
        f.ao(&["session", "kill", "--force", id]);
    }
    assert!(
        git_dir.join("HEAD").is_file(),
        "the repository's git directory was deleted:\n{}",
        run.explain()
    );
    assert!(
        f.repo.join("README.md").is_file(),
        "the main checkout lost its files"
    );
    assert!(
        ours.join("README.md").is_file(),
        "app-1's worktree was removed"
    );
    assert!(
        shared.join("README.md").is_file(),
        "app-8's worktree was removed"
    );
    assert!(
        admin.join("gitdir").is_file(),
        "git's record of app-8's worktree was removed"
    );
    f.env.git(&f.repo, &["log", "--oneline"]);

    let repo = f.repo.display();
    run.success()
        .stdout_has("adopted app-8 (project app")
        .stdout_has(&format!(
            "not adopted: app-5: its worktree {} is the git directory of {repo}",
            git_dir.display()
        ))
        .stdout_has(&format!(
            "not adopted: app-6: its worktree {repo} is the repository's main checkout"
        ))
        .stdout_has(&format!(
            "not adopted: app-7: its worktree {} is the worktree of session app-1",
            ours.display()
        ))
        .stdout_has(&format!(
            "not adopted: app-9: its worktree {} is the worktree of session app-8",
            shared.display()
        ))
        .stdout_has(&format!(
            "not adopted: app-10: its worktree {} is inside the git directory of {repo}",
            admin.display()
        ))
        .stdout_has("1 adopted, 5 not adopted, 0 adopted before");
    // Every agent of the reference still runs.
    for name in ["app-5", "app-6", "app-7", "app-9", "app-10"] {
        assert!(tmux.has(name), "{name} was stopped");
    }
}

/// Session names tmux would read as its own syntax if ao let them through: a command
/// list breaking out of double quotes (the rest of the line a comment), the same out of
/// single quotes, and one ending in `;`. Each runs `touch <dir>/<step>-<n>` if it does.
/// tmux runs the injected command only when the one before it succeeds, so
/// [`lay_trap`] gives that one what it needs.
fn hostile_names(dir: &Path, step: &str) -> Vec<String> {
    let marker = |n: u32| dir.join(format!("{step}-{n}")).display().to_string();
    vec![
        format!("{step}\";run-shell \"touch {}\";#", marker(1)),
        format!("{step}';run-shell 'touch {}';#", marker(2)),
        format!("{step}\" ; run-shell \"touch {}\" ;", marker(3)),
    ]
}

/// Makes a paste of the buffer ao's `send` would name `ao-<step>` (cut short at the
/// first quote of a name from [`hostile_names`]) succeed on the server `tmux` runs on.
fn lay_trap(tmux: impl Fn(&[&str]) -> Run, step: &str) {
    tmux(&["set-buffer", "-b", &format!("ao-{step}"), "x"]).success();
}

/// `name` as one argument of a tmux command line (a final `;` would end the command).
fn tmux_arg(name: &str) -> String {
    match name.strip_suffix(';') {
        Some(rest) => format!("{rest}\\;"),
        None => name.to_owned(),
    }
}

/// Gives ao session `id`'s row the tmux session `name` (as a store an older import
/// wrote could hold), and starts a tmux session of that name on the fleet's server.
fn rename_tmux_session(f: &Fleet, id: &str, name: &str) {
    f.tmux(&["new-session", "-d", "-s", &tmux_arg(name), "--", "cat", "-"])
        .success();
    let db = rusqlite::Connection::open(f.env.ao_home.join("ao.db")).unwrap();
    let handle: String = db
        .query_row("SELECT runtime FROM sessions WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    let mut handle: Value = serde_json::from_str(&handle).unwrap();
    handle["id"] = json!(name);
    db.execute(
        "UPDATE sessions SET runtime = ?1 WHERE id = ?2",
        [handle.to_string(), id.to_owned()],
    )
    .unwrap();
}

/// When the host last probed (a pass of the reactions follows each probe).
fn last_probe(f: &Fleet) -> i64 {
    let db = rusqlite::Connection::open(f.env.ao_home.join("ao.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let state: Option<String> = db
        .query_row("SELECT value FROM scm_state WHERE key = 'host'", [], |r| {
            r.get(0)
        })
        .ok();
    let state: Value = state
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    state["last_probe"].as_i64().unwrap_or(0)
}

/// The marker files commands smuggled in names created.
fn markers_in(dir: &Path) -> Vec<String> {
    let mut ran: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ran.sort();
    ran
}

#[test]
fn a_tmux_session_name_from_a_record_never_runs_as_a_tmux_command() {
    let mut f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let config = f.repo.join("agent-orchestrator.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "readyThresholdMs: 100\nlifecycle:\n  probeInterval: 200ms\nreactions:\n  agent-idle:\n    auto: true\n    action: send-to-agent\n    message: nudge\n{text}"
        ),
    )
    .unwrap();
    private_default_tmux(&mut f);
    let tmux = DefaultTmux(&f);
    let markers = f.env.root().join("markers");
    std::fs::create_dir_all(&markers).unwrap();
    // ao's own sessions: app-1 to app-3 get the names below; app-4 keeps its own.
    for n in 1..=4 {
        f.ao(&["spawn", "app", "--prompt", &format!("task {n}")])
            .success();
    }

    // Records of live agents whose tmux sessions bear the names.
    let base = f.env.home.join(".agent-orchestrator/projects/app");
    let names = hostile_names(&markers, "import");
    for (n, name) in (5..).zip(&names) {
        let id = format!("app-{n}");
        let wt = worktree(&f, &base, &id, &format!("feat/{id}"));
        let mut r = record(&id, &wt, &format!("feat/{id}"), "aider", "working");
        r["tmuxName"] = json!(name);
        r["runtimeHandle"]["id"] = json!(name);
        r["lifecycle"]["runtime"]["tmuxName"] = json!(name);
        write(&base.join("sessions"), &format!("{id}.json"), &r);
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            &tmux_arg(name),
            "-c",
            wt.to_str().unwrap(),
            "--",
            "cat",
            "-",
        ])
        .success();
    }
    lay_trap(|a| tmux.run(a), "import");
    let import = f.ao(&["import"]);
    for id in ["app-5", "app-6", "app-7"] {
        f.ao(&["send", "--no-wait", id, "hello"]);
        f.ao(&["session", "kill", "--force", id]);
    }

    // Rows that hold such names (an older import's): sent to, read, by the host's
    // reactions, and killed.
    let ids = ["app-1", "app-2", "app-3"];
    lay_trap(|a| f.tmux(a), "send");
    for (id, name) in ids.iter().zip(hostile_names(&markers, "send")) {
        rename_tmux_session(&f, id, &name);
        f.ao(&["send", "--no-wait", id, "hello"]);
        f.ao(&["session", "output", id]);
    }
    for (id, name) in ids.iter().zip(hostile_names(&markers, "host")) {
        rename_tmux_session(&f, id, &name);
    }
    lay_trap(|a| f.tmux(a), "host");
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    wait_until(
        "the host to nudge app-4 (an idle agent), or run a name",
        || {
            let nudged = f
                .ao(&["session", "output", "app-4"])
                .stdout
                .contains("nudge");
            (nudged || !markers_in(&markers).is_empty()).then_some(())
        },
    );
    if markers_in(&markers).is_empty() {
        let mut passes = std::collections::HashSet::new();
        wait_until("two more passes of the host", || {
            passes.insert(last_probe(&f));
            (passes.len() > 2).then_some(())
        });
    }
    f.stop_host(host);
    lay_trap(|a| f.tmux(a), "kill");
    for (id, name) in ids.iter().zip(hostile_names(&markers, "kill")) {
        rename_tmux_session(&f, id, &name);
        f.ao(&["session", "kill", "--force", id]);
    }

    let ran = markers_in(&markers);
    assert!(
        ran.is_empty(),
        "tmux ran commands from session names: {ran:?}\n{}",
        import.explain()
    );
    for (n, name) in (5..).zip(&names) {
        import.stdout_has(&format!(
            "not adopted: app-{n}: its tmux session name {name:?} is not one ao makes or adopts"
        ));
    }
}

/// An `ao` process that is ended if the test gives up on it.
struct Bounded(Option<std::process::Child>);

impl Bounded {
    /// Runs `ao args` in the repository with at most `memory` bytes of address space, so
    /// an `ao` reading without end fails instead of taking the machine's memory.
    fn start(f: &Fleet, args: &[&str], memory: u64) -> Bounded {
        use std::os::unix::process::CommandExt;
        let mut cmd = f.env.command(ao_tests::ao_bin());
        cmd.args(args)
            .current_dir(&f.repo)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: memory,
                    rlim_max: memory,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Bounded(Some(cmd.spawn().expect("ao starts")))
    }

    /// Waits for it to end (failing, saying `what`, if it does not), and its output.
    fn finish(mut self, what: &str) -> std::process::Output {
        let child = self.0.as_mut().unwrap();
        wait_until(what, || child.try_wait().unwrap());
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_record_that_is_no_regular_file_or_too_large_is_skipped_unread() {
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let base = f.env.home.join(".agent-orchestrator/projects/app");
    let sessions = base.join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    // Read to its end, /dev/zero is endless; a large record is refused before reading.
    std::os::unix::fs::symlink("/dev/zero", sessions.join("app-2.json")).unwrap();
    let padding = " ".repeat(2 << 20);
    std::fs::write(sessions.join("app-3.json"), format!("{{{padding}}}")).unwrap();
    std::fs::create_dir(sessions.join("app-4.json")).unwrap();
    let wt = worktree(&f, &base, "app-5", "feat/five");
    write(
        &sessions,
        "app-5.json",
        &record("app-5", &wt, "feat/five", "aider", "working"),
    );
    let dry = Bounded::start(&f, &["import", "--dry-run"], 2 << 30)
        .finish("ao import --dry-run to finish beside /dev/zero");
    let said = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.status.success(),
        "{:?}\n{said}\n{}",
        dry.status,
        String::from_utf8_lossy(&dry.stderr)
    );
    let device = "not adopted: app-2: is a character device, not a regular file; ao reads only regular files";
    assert!(said.contains(device), "{device:?} not in\n{said}");

    // Opened to read, a FIFO waits for a writer that never comes.
    for fifo in [sessions.join("app-1.json"), base.join("orchestrator.json")] {
        let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the file.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    }
    let dry = Bounded::start(&f, &["import", "--dry-run"], 2 << 30)
        .finish("ao import --dry-run to finish beside a FIFO");
    let said = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(dry.status.success(), "{:?}\n{said}", dry.status);
    for line in [
        "not adopted: app-1: is a FIFO, not a regular file; ao reads only regular files",
        "not adopted: app-2: is a character device, not a regular file; ao reads only regular files",
        "not adopted: app-3: holds 2097154 bytes, more than the 1048576 a record may",
        "not adopted: app-4: is a directory, not a regular file; ao reads only regular files",
        "not adopted: orchestrator: is a FIFO, not a regular file; ao reads only regular files",
        // Read as ever: its agent is not there.
        "not adopted: app-5: no tmux session `app-5` runs",
    ] {
        assert!(said.contains(line), "{line:?} not in\n{said}");
    }
}
