//! Nothing lost, nothing orphaned: what a hostile user did to ao (shared paths, kills
//! mid-spawn and mid-restore, concurrent spawns, damaged stores, files deleted by hand),
//! each case reproduced, with what the user sees checked.

use ao_tests::{Fleet, Run, ao_bin, wait_until};
use std::path::{Path, PathBuf};
use std::process::Child;

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";

fn session<'a>(list: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    list.iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no session {id} in {list:#?}"))
}

fn finish(child: Child) -> (bool, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pid_alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // A zombie (state Z) has ended.
    !stat.is_empty()
        && stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
}

/// The store's table rows of `sql`, read straight from the file (read-only, so the test
/// never creates it); nothing while ao has not made the store yet.
fn store_rows(f: &Fleet, sql: &str) -> Vec<String> {
    let path = f.env.ao_home.join("ao.db");
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return Vec::new();
    };
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    // Before ao's first command has migrated it, the store has no tables yet.
    let Ok(mut stmt) = conn.prepare(sql) else {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap_or(0);
        assert_eq!(tables, 0, "`{sql}` failed on a migrated store");
        return Vec::new();
    };
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A second ao beside the fleet's: its own AO_HOME and tmux server, the same repository
/// and the same `worktreeDir`.
fn second_ao(f: &Fleet, worktree_dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let home = f.env.root().join("ao-home-2");
    let socket = f.env.root().join("tmux-2.sock");
    let config = f.env.root().join("second.yaml");
    std::fs::write(
        &config,
        format!(
            "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: {}\n    tracker:\n      plugin: prompt\n{CAT}    worktreeDir: {}\n",
            socket.display(),
            f.repo.display(),
            worktree_dir.display()
        ),
    )
    .unwrap();
    (home, socket, config)
}

#[test]
fn an_undo_never_removes_a_directory_the_spawn_did_not_make() {
    let f = Fleet::new("");
    let wt = f.env.root().join("shared-worktrees");
    let yaml = format!("{CAT}    worktreeDir: {}\n", wt.display());
    let config = std::fs::read_to_string(f.repo.join("agent-orchestrator.yaml")).unwrap();
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config + &yaml).unwrap();
    f.ao(&["spawn", "app", "--prompt", "first"])
        .success()
        .stdout_has("app-1");
    let precious = wt.join("app-1").join("precious.txt");
    std::fs::write(&precious, "uncommitted work\n").unwrap();

    // Another ao on the same worktreeDir finds app-1's path taken and moves on.
    let (home, socket, config) = second_ao(&f, &wt);
    let second = |args: &[&str]| {
        let mut cmd = f.env.command(ao_bin());
        cmd.args(args)
            .current_dir(&f.repo)
            .env("AO_HOME", &home)
            .env("AO_CONFIG_PATH", &config);
        Run::of(cmd, &f.repo)
    };
    second(&["spawn", "app", "--prompt", "second"])
        .success()
        .stdout_has("app-2");
    assert_eq!(
        std::fs::read_to_string(&precious).unwrap(),
        "uncommitted work\n"
    );
    assert!(
        f.worktrees()
            .contains(&wt.join("app-1").display().to_string())
    );

    // A directory of the user's own at the next path is left alone too.
    std::fs::create_dir_all(wt.join("app-3")).unwrap();
    std::fs::write(wt.join("app-3").join("mine.txt"), "mine\n").unwrap();
    second(&["spawn", "app", "--prompt", "third"])
        .success()
        .stdout_has("app-4");
    assert_eq!(
        std::fs::read_to_string(wt.join("app-3").join("mine.txt")).unwrap(),
        "mine\n"
    );
    let mut kill = f.env.command("tmux");
    kill.arg("-S").arg(&socket).arg("kill-server");
    let _ = kill.output();
}

#[test]
fn a_spawn_killed_while_claiming_its_workspace_leaves_nothing() {
    let f = Fleet::new(CAT);
    for step in ["claim", "dir"] {
        let mut cmd = f.env.command(ao_bin());
        cmd.args(["spawn", "app", "--prompt", "crash"])
            .current_dir(&f.repo)
            .env("AO_FAILPOINT", step);
        let run = Run::of(cmd, &f.repo);
        assert_ne!(run.code, 0, "step {step}: {}", run.explain());
        f.ao(&["status"]).success();
        let root = f.env.ao_home.join("worktrees").join("app");
        let left: Vec<_> = std::fs::read_dir(&root)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "step {step}: {left:?} left in {root:?}");
        assert!(f.sessions().is_empty(), "step {step}");
    }
}

/// A spawn killed after it claimed its workspace's path and before it made the
/// directory: whatever appears at that path meanwhile (another ao's worktree, the user's
/// own directory) is not the spawn's, and its undo leaves it and every file in it.
#[test]
fn an_undo_of_an_unfinished_claim_leaves_a_directory_that_appeared_there() {
    let f = Fleet::new(CAT);
    let mut cmd = f.env.command(ao_bin());
    cmd.args(["spawn", "app", "--prompt", "crash"])
        .current_dir(&f.repo)
        .env("AO_FAILPOINT", "claim");
    let run = Run::of(cmd, &f.repo);
    assert_ne!(run.code, 0, "{}", run.explain());
    let path = f.worktree("app-1");
    assert!(
        !path.exists(),
        "the spawn made {} before its claim",
        path.display()
    );
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("mine.txt"), "not the spawn's\n").unwrap();
    // The next command finds the interrupted spawn and undoes it.
    f.ao(&["status"]).success();
    assert!(f.sessions().is_empty(), "{:?}", f.sessions());
    assert_eq!(
        std::fs::read_to_string(path.join("mine.txt"))
            .ok()
            .as_deref(),
        Some("not the spawn's\n"),
        "the undo removed a directory the spawn never made"
    );
}

#[test]
fn kill_during_a_spawn_cancels_it_and_reports_what_was_undone() {
    let f = Fleet::new("");
    let gate = f.hold_spawns_in_post_create();
    let child = f.ao_child(&["spawn", "app", "--prompt", "slow"]);
    // Not merely `spawning` (so is a spawn that has made nothing yet): in postCreate,
    // with its worktree and branch made.
    f.wait_spawn_in_post_create();
    let kill = f.ao(&["session", "kill", "app-1"]);
    kill.success()
        .stdout_has("app-1 was still spawning; the spawn was cancelled and undone")
        .stdout_has(&format!("removed {}", f.worktree("app-1").display()))
        .stdout_has("deleted branch feat/slow-app-1");
    let (ok, _, stderr) = finish(child);
    assert!(!ok, "the cancelled spawn reported success");
    assert!(
        stderr.contains("cancelled by `ao session kill`"),
        "{stderr}"
    );
    // Nothing of it is left, and no agent ever ran (in the main checkout or anywhere).
    std::fs::write(&gate, "").unwrap();
    assert_nothing_left(&f, "after the undo");
    assert!(f.sessions().is_empty(), "{:?}", f.sessions());
}

#[test]
fn a_tmux_session_in_flight_when_spawn_is_killed_never_lands() {
    let mut f = Fleet::new(CAT);
    // A tmux that takes 0.6 s over `new-session`, saying when it has begun.
    let marker = f.env.root().join("new-session.pid");
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v tmux"])
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&real.stdout).trim().to_owned();
    f.env.script_on_path(
        "slow-tmux",
        "tmux",
        &format!(
            "#!/bin/sh\ncase \" $* \" in *\" new-session \"*) echo $$ > '{}.tmp'; mv '{}.tmp' '{}'; sleep 0.6;; esac\nexec {real} \"$@\"\n",
            marker.display(),
            marker.display(),
            marker.display()
        ),
    );

    let mut child = f.ao_child(&["spawn", "app", "--prompt", "in flight"]);
    let pid: u32 = wait_until("tmux new-session to begin", || {
        std::fs::read_to_string(&marker)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    });
    child.kill().unwrap();
    let _ = child.wait();
    f.ao(&["status"]).success();
    // The creation can land only while that tmux client lives: wait until it is gone.
    wait_until("the tmux client to end", || (!pid_alive(pid)).then_some(()));
    f.ao(&["status"]).success();
    assert_nothing_left(&f, "after the undo");
    assert!(f.sessions().is_empty(), "{:?}", f.sessions());
}

#[test]
fn max_sessions_holds_across_processes_spawning_at_once() {
    let f = Fleet::new(&format!("{CAT}    maxSessions: 3\n"));
    let children: Vec<Child> = (0..10)
        .map(|i| f.ao_child(&["spawn", "app", "--prompt", &format!("task {i}")]))
        .collect();
    let mut started = 0;
    for child in children {
        let (ok, _, stderr) = finish(child);
        if ok {
            started += 1;
        } else {
            assert!(
                stderr.contains("(maxSessions 3)")
                    && stderr.contains("already has 3 live or starting sessions"),
                "{stderr}"
            );
        }
    }
    assert_eq!(started, 3);
    assert_eq!(f.tmux_sessions().len(), 3, "{:?}", f.tmux_sessions());
}

/// Truncates the store to nothing, as a damaged disk or a careless `> ao.db` would.
fn empty_the_store(f: &Fleet) {
    let db = f.env.ao_home.join("ao.db");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::write(&db, "").unwrap();
}

#[test]
fn an_empty_store_over_an_earlier_stores_sessions_is_refused() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    empty_the_store(&f);
    for args in [&["status"][..], &["spawn", "app", "--prompt", "two"]] {
        f.ao(args)
            .code(1)
            .stderr_has("holds no sessions, but sessions of an earlier store are still here")
            .stderr_has(&f.env.ao_home.join("worktrees").display().to_string())
            .stderr_has("ao.db from a backup");
    }
    assert!(f.worktree("app-1").exists());
    assert_eq!(f.tmux_sessions(), ["app-1"]);
    // With its directories gone too, the earlier store's agent still runs in tmux,
    // marked as this home's: that is said, and nothing starts afresh over it.
    std::fs::remove_dir_all(f.env.ao_home.join("worktrees")).unwrap();
    let _ = std::fs::remove_dir_all(f.env.ao_home.join("sessions"));
    empty_the_store(&f);
    for args in [&["status"][..], &["spawn", "app", "--prompt", "two"]] {
        f.ao(args)
            .code(1)
            .stderr_has("sessions of an earlier store still run: tmux session app-1")
            .stderr_has("ao.db from a backup");
    }
    assert_eq!(f.tmux_sessions(), ["app-1"]);
    // Ended by hand, nothing of the earlier store is left and ao starts afresh.
    f.tmux(&["kill-session", "-t", "=app-1"]).success();
    f.ao(&["spawn", "app", "--prompt", "three"]).success();
}

#[test]
fn a_store_that_is_not_a_database_is_named_with_what_to_do() {
    let f = Fleet::new(CAT);
    f.ao(&["status"]).success();
    empty_the_store(&f);
    std::fs::write(
        f.env.ao_home.join("ao.db"),
        "not a database at all, really\n",
    )
    .unwrap();
    f.ao(&["status"])
        .code(1)
        .stderr_has("is not a database ao can read (damaged or replaced)")
        .stderr_has("backup");
}

#[test]
fn a_read_only_store_changes_nothing_before_it_is_refused() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    // The store belongs to an ordinary user who made it read-only; the repository and
    // the rest are readable to them.
    let nobody = "65534";
    for dir in [f.env.root(), f.env.home.clone()] {
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let db = f.env.ao_home.join("ao.db");
    for p in [f.env.ao_home.clone(), db.clone()] {
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
    let before: Vec<_> = std::fs::read_dir(&f.env.ao_home)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    // That user trusts the repository (it is root's), as `safe.directory` says.
    let gitconfig = f.env.home.join(".gitconfig");
    std::fs::write(&gitconfig, "[safe]\n\tdirectory = *\n").unwrap();
    let mut cmd = f.env.command("setpriv");
    cmd.env("GIT_CONFIG_GLOBAL", &gitconfig)
        .args([
            &format!("--reuid={nobody}"),
            &format!("--regid={nobody}"),
            "--clear-groups",
            "--",
        ])
        .arg(ao_bin())
        .args(["session", "kill", "app-1"])
        .current_dir(&f.repo);
    let run = Run::of(cmd, &f.repo);
    run.code(1)
        .stderr_has(&format!("the store {} cannot be written", db.display()))
        .stderr_has("chmod u+w")
        .stderr_has("nothing was changed");
    // The agent and its worktree are untouched, and no new store files appeared.
    assert_eq!(f.tmux_sessions(), ["app-1"]);
    assert!(f.worktree("app-1").exists());
    let after: Vec<_> = std::fs::read_dir(&f.env.ao_home)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn a_restore_killed_at_any_step_is_undone_and_can_run_again() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "task"]).success();
    f.ao(&["session", "kill", "app-1"]).success();
    for step in [
        "restore-claimed",
        "restore-workspace",
        "runtime",
        "restore-started",
    ] {
        let mut cmd = f.env.command(ao_bin());
        cmd.args(["session", "restore", "app-1"])
            .current_dir(&f.repo)
            .env("AO_FAILPOINT", step);
        let run = Run::of(cmd, &f.repo);
        assert_ne!(run.code, 0, "step {step}: {}", run.explain());
        let next = f.ao(&["status"]);
        next.success()
            .stderr_has("app-1: undid an interrupted `ao session restore`");
        // No agent lives on behind a session that says it has ended.
        assert!(
            f.tmux_sessions().is_empty(),
            "step {step}: {:?}",
            f.tmux_sessions()
        );
        assert_eq!(session(&f.sessions(), "app-1")["status"], "killed");
    }
    f.ao(&["session", "restore", "app-1"]).success();
    assert_eq!(f.tmux_sessions(), ["app-1"]);
    assert_eq!(session(&f.sessions(), "app-1")["status"], "working");
}

#[test]
fn what_was_deleted_outside_ao_is_said() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    let wt = f.worktree("app-1");
    std::fs::remove_dir_all(&wt).unwrap();
    let gone = format!(
        "its workspace {} is gone (deleted outside ao)",
        wt.display()
    );
    f.ao(&["status"])
        .success()
        .stdout_has(&format!("app-1: {gone}"));
    f.ao(&["send", "app-1", "hello"])
        .code(1)
        .stderr_has("app-1: not delivered")
        .stderr_has(&gone);
    f.ao(&["session", "kill", "app-1"])
        .success()
        .stdout_has(&format!(
            "workspace {} was already gone (deleted outside ao)",
            wt.display()
        ));

    f.ao(&["spawn", "app", "--prompt", "two"]).success();
    f.env
        .git(&f.repo, &["update-ref", "-d", "refs/heads/feat/two-app-2"]);
    f.ao(&["session", "kill", "app-2", "--force"])
        .success()
        .stdout_has("branch feat/two-app-2 was already gone (deleted outside ao)");
    f.ao(&["session", "restore", "app-2"])
        .code(1)
        .stderr_has("branch feat/two-app-2 is gone (deleted outside ao)")
        .stderr_has("git branch feat/two-app-2");
    assert!(f.tmux_sessions().is_empty());
}

/// A small deterministic random source for the soak tests (xorshift), seeded from
/// `AO_SOAK_SEED` or the clock; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("AO_SOAK_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("soak seed: AO_SOAK_SEED={seed}");
        Rng(seed)
    }

    /// A fraction in [0, 1).
    fn fraction(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Asserts that nothing of an undone spawn is left: no tmux session, no worktree, no
/// directory under the worktree root, no branch, no row that is not ended, no
/// reservation, no session directory without its row.
fn assert_nothing_left(f: &Fleet, when: &str) {
    assert!(
        f.tmux_sessions().is_empty(),
        "{when}: {}",
        f.tmux(&[
            "list-panes",
            "-a",
            "-F",
            "#{session_name} mark=#{@ao_data_dir} #{pane_current_command} dead=#{pane_dead}"
        ])
        .stdout
    );
    assert_eq!(f.worktrees().len(), 1, "{when}: {:?}", f.worktrees());
    let root = f.env.ao_home.join("worktrees").join("app");
    let dirs: Vec<_> = std::fs::read_dir(&root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(dirs.is_empty(), "{when}: {dirs:?} in {}", root.display());
    assert_eq!(f.branches(), ["main"], "{when}");
    let open = store_rows(f, "SELECT id FROM sessions WHERE status != 'killed'");
    assert!(open.is_empty(), "{when}: rows {open:?}");
    let held = store_rows(f, "SELECT id FROM reservations");
    assert!(held.is_empty(), "{when}: reservations {held:?}");
    let rows = store_rows(f, "SELECT id FROM sessions");
    let data: Vec<String> = std::fs::read_dir(f.env.ao_home.join("sessions"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for d in data {
        assert!(
            rows.contains(&d),
            "{when}: session directory {d} has no row"
        );
    }
}

/// Ends a session whose spawn or restore finished before the kill, as a user would, and
/// drops its branch, so the next round starts clean.
fn end_landed(f: &Fleet) -> usize {
    let mut landed = 0;
    for s in f.sessions() {
        if s["status"] != "killed" {
            let id = s["id"].as_str().unwrap();
            f.ao(&["session", "kill", id, "--force"]).success();
            landed += 1;
        }
        let branch = s["branch"].as_str().unwrap();
        if f.branches().iter().any(|b| b == branch) {
            f.env.git(&f.repo, &["branch", "-D", "-q", branch]);
        }
    }
    landed
}

/// A restore killed between its `tmux new-session` and the commands chained after it:
/// tmux made the session but dropped the rest with the dead client, so the session has
/// no mark. The next command's undo still recognises it (its pane on ao's placeholder)
/// and ends it, so nothing runs for a session marked killed.
#[test]
fn a_restore_killed_right_after_tmux_made_its_session_leaves_nothing_running() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "to restore"]).success();
    let id = f.sessions()[0]["id"].as_str().unwrap().to_owned();
    f.ao(&["session", "kill", &id]).success();
    // A `tmux` first on PATH that runs a `new-session` chain only up to its first `;`
    // and then kills the `ao` that ran it: what tmux does when that client dies there.
    let bin = f.env.root().join("cut-tmux");
    ao_tests::wrap_program(&bin, "tmux", |real| {
        format!(
            "#!/bin/bash\nargs=(\"$@\")\nfor i in \"${{!args[@]}}\"; do\n  if [ \"${{args[$i]}}\" = ';' ] && [[ \" $* \" == *' new-session '* ]]; then\n    {real} \"${{args[@]:0:$i}}\"; kill -9 $PPID; exit 1\n  fi\ndone\nexec {real} \"$@\"\n"
        )
    });
    let mut restore = f.env.command(ao_bin());
    restore
        .args(["session", "restore", &id])
        .current_dir(&f.repo)
        .env("PATH", ao_tests::path_with(&bin));
    let run = Run::of(restore, &f.repo);
    assert_eq!(run.code, -1, "the restore was killed: {}", run.stderr);
    assert_eq!(f.tmux_sessions(), [id.as_str()], "tmux made the session");
    let next = f.ao(&["status"]);
    next.success();
    assert!(
        next.stderr.contains("undid an interrupted")
            && next.stderr.contains(&format!("ended tmux session {id}")),
        "{}",
        next.stderr
    );
    assert!(
        f.tmux_sessions().is_empty(),
        "left running: {:?}",
        f.tmux_sessions()
    );
    assert_eq!(session(&f.sessions(), &id)["status"], "killed");
}

/// SIGKILLs `ao spawn` 200 times and `ao session restore` 20 times, at random moments
/// spread over the whole command; after each, the next command must leave nothing.
#[test]
fn soak_random_kills_during_spawn_and_restore_leave_nothing_behind() {
    let f = Fleet::new(CAT);
    let mut rng = Rng::new();
    // How long a spawn takes here (the quickest of three), so the kills spread over all
    // of it.
    let mut span = std::time::Duration::MAX;
    for i in 0..3 {
        let started = std::time::Instant::now();
        f.ao(&["spawn", "app", "--prompt", &format!("measure {i}")])
            .success();
        span = span.min(started.elapsed());
        end_landed(&f);
    }
    let (mut landed, mut undone) = (0, 0);
    for i in 0..200 {
        let mut child = f.ao_child(&["spawn", "app", "--prompt", &format!("soak {i}")]);
        // The stimulus, not a wait: a kill at a random moment of the spawn.
        std::thread::sleep(span.mul_f64(rng.fraction()));
        let _ = child.kill();
        let _ = child.wait();
        let next = f.ao(&["status"]);
        next.success();
        if next.stderr.contains("undid an interrupted") {
            undone += 1;
        }
        landed += end_landed(&f);
        assert_nothing_left(&f, &format!("spawn kill {i}, after: {}", next.stderr));
    }
    eprintln!("spawn: 200 kills, {undone} spawns undone, {landed} had finished first");

    f.ao(&["spawn", "app", "--prompt", "to restore"]).success();
    let id = f.sessions().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    f.ao(&["session", "kill", &id]).success();
    let started = std::time::Instant::now();
    f.ao(&["session", "restore", &id]).success();
    let span = started.elapsed();
    f.ao(&["session", "kill", &id]).success();
    let (mut restored, mut undone) = (0, 0);
    for i in 0..20 {
        let mut child = f.ao_child(&["session", "restore", &id]);
        std::thread::sleep(span.mul_f64(rng.fraction()));
        let _ = child.kill();
        let _ = child.wait();
        let next = f.ao(&["status"]);
        next.success();
        if next.stderr.contains("undid an interrupted") {
            undone += 1;
        }
        let s = session(&f.sessions(), &id).clone();
        if s["status"] == "working" {
            restored += 1;
            f.ao(&["session", "kill", &id]).success();
        }
        assert!(
            f.tmux_sessions().is_empty(),
            "restore kill {i}: {:?}",
            f.tmux_sessions()
        );
        assert_eq!(
            session(&f.sessions(), &id)["status"],
            "killed",
            "restore kill {i}"
        );
        assert!(store_rows(&f, "SELECT id FROM sessions WHERE restore_pid IS NOT NULL").is_empty());
    }
    eprintln!("restore: 20 kills, {undone} restores undone, {restored} had finished first");
    f.ao(&["session", "restore", &id]).success();
    assert_eq!(f.tmux_sessions(), [id.as_str()]);
}

/// Ten `ao spawn --wait` under `maxSessions: 3`, twenty `ao status` and a killer, all at
/// once: never more than three sessions live or starting, and no change lost (every
/// kill stays a kill, every spawn is recorded, each with its events once).
#[test]
fn soak_concurrent_spawns_statuses_and_kills_hold_the_limit_and_lose_nothing() {
    let f = Fleet::new(&format!("{CAT}    maxSessions: 3\n"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let mut spawns: Vec<Child> = (0..10)
        .map(|i| f.ao_child(&["spawn", "app", "--wait", "--prompt", &format!("task {i}")]))
        .collect();
    let mut statuses: Vec<Child> = (0..20).map(|_| f.ao_child(&["status"])).collect();
    let mut killed = std::collections::BTreeSet::new();
    let mut spawned = Vec::new();
    let mut most_live = 0;
    while !spawns.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the spawns never finished"
        );
        let live = store_rows(
            &f,
            "SELECT id FROM sessions WHERE archived_at IS NULL AND status != 'killed' \
             UNION ALL SELECT id FROM reservations",
        );
        let tmux = f.tmux_sessions().len();
        most_live = most_live.max(live.len());
        assert!(live.len() <= 3, "more than maxSessions at once: {live:?}");
        assert!(tmux <= 3, "{tmux} tmux sessions at once");
        // Kill one working session, freeing a slot for a waiting spawn.
        if let Some(id) = store_rows(&f, "SELECT id FROM sessions WHERE status = 'working'")
            .into_iter()
            .find(|id| !killed.contains(id))
            && f.ao(&["session", "kill", &id]).code == 0
        {
            killed.insert(id);
        }
        let mut running = Vec::new();
        for mut child in spawns.drain(..) {
            if child.try_wait().unwrap().is_some() {
                let (ok, stdout, stderr) = finish(child);
                assert!(ok, "a waiting spawn failed: {stderr}");
                spawned.push(stdout.trim().to_owned());
            } else {
                running.push(child);
            }
        }
        spawns = running;
    }
    for child in statuses.drain(..) {
        let (ok, _, stderr) = finish(child);
        assert!(ok, "a status failed: {stderr}");
    }
    assert_eq!(spawned.len(), 10, "{spawned:?}");
    assert!(most_live >= 1);
    // Every kill is still a kill: no concurrent writer put a session back.
    let list = f.sessions();
    for id in &killed {
        assert_eq!(session(&list, id)["status"], "killed", "{id}");
        let kills = store_rows(
            &f,
            &format!(
                "SELECT message FROM events WHERE session = '{id}' AND message = '{id} killed by the user'"
            ),
        );
        assert_eq!(kills.len(), 1, "{id}: {kills:?}");
    }
    for id in &spawned {
        assert!(list.iter().any(|s| s["id"] == id.as_str()), "{id} lost");
        let events = store_rows(
            &f,
            &format!("SELECT kind FROM events WHERE session = '{id}' AND kind = 'session_spawned'"),
        );
        assert_eq!(events.len(), 1, "{id}: {events:?}");
    }
    eprintln!(
        "concurrency: 10 spawns, 20 statuses, {} kills, at most {most_live} live at once",
        killed.len()
    );
}

/// Many spawns into one repository at once: git does not guard its worktree records
/// against concurrent `git worktree add`, so without ao taking turns one reads another's
/// half-written record and fails ("failed to read .git/worktrees/…/commondir").
#[test]
fn spawns_into_one_repository_at_once_all_get_their_worktree() {
    let f = Fleet::new(CAT);
    let children: Vec<Child> = (0..12)
        .map(|i| f.ao_child(&["spawn", "app", "--prompt", &format!("parallel {i}")]))
        .collect();
    for child in children {
        let (ok, _, stderr) = finish(child);
        assert!(ok, "a spawn failed: {stderr}");
    }
    assert_eq!(f.tmux_sessions().len(), 12);
    assert_eq!(f.worktrees().len(), 13);
}
