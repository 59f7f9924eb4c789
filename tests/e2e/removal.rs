//! What `ao session kill`, `ao session cleanup` and the undo of an interrupted spawn or
//! restore remove: only the worktree that is the session's own, never the repository's
//! main checkout or git directory, nor another session's worktree, whatever a session's
//! row says (a row an older ao's import wrote, say).

use ao_tests::Fleet;
use std::path::Path;

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";

/// Points session `id`'s row at the workspace `path`, setting the columns in `set` too.
fn point(f: &Fleet, id: &str, path: &Path, set: &str) {
    let db = rusqlite::Connection::open(f.env.ao_home.join("ao.db")).unwrap();
    let sql = format!("UPDATE sessions SET workspace_path = ?1{set} WHERE id = ?2");
    let rows = db
        .execute(&sql, rusqlite::params![path.to_str().unwrap(), id])
        .unwrap();
    assert_eq!(rows, 1, "no row {id}");
}

/// The id of a process that has ended.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn kill_cleanup_and_undo_remove_only_the_sessions_own_worktree() {
    let f = Fleet::new(CAT);
    for n in 1..=5 {
        f.ao(&["spawn", "app", "--prompt", &format!("task {n}")])
            .success();
    }
    let ours = f.worktree("app-1");
    let git_dir = f.repo.join(".git");
    let repo = f.repo.display().to_string();
    let intact = |what: &str, run: &ao_tests::Run| {
        assert!(
            git_dir.join("HEAD").is_file(),
            "{what} deleted the repository's git directory:\n{}",
            run.explain()
        );
        assert!(
            f.repo.join("README.md").is_file(),
            "{what} emptied the main checkout:\n{}",
            run.explain()
        );
        assert!(
            ours.join("README.md").is_file(),
            "{what} removed app-1's worktree:\n{}",
            run.explain()
        );
    };
    point(&f, "app-2", &ours, "");
    point(&f, "app-3", &git_dir, "");
    point(&f, "app-4", &f.repo, "");

    // A kill refuses, changing nothing: the agent still runs.
    let kill = f.ao(&["session", "kill", "app-2"]);
    intact("a kill of app-2", &kill);
    kill.code(1).stderr_has(&format!(
        "refusing to remove app-2's workspace: {} is the worktree of session app-1; nothing was changed",
        ours.display()
    ));
    let kill = f.ao(&["session", "kill", "--force", "app-3"]);
    intact("a forced kill of app-3", &kill);
    kill.code(1).stderr_has(&format!(
        "refusing to remove app-3's workspace: {} is the git directory of {repo}; nothing was changed",
        git_dir.display()
    ));
    let kill = f.ao(&["session", "kill", "--force", "app-4"]);
    intact("a forced kill of app-4", &kill);
    kill.code(1).stderr_has(&format!(
        "refusing to remove app-4's workspace: {repo} is the repository's main checkout; nothing was changed"
    ));
    let running = f.tmux_sessions();
    for id in ["app-2", "app-3", "app-4"] {
        assert!(running.iter().any(|s| s == id), "{id} ended: {running:?}");
    }

    // Ended, they are left by cleanup, which says why.
    for id in ["app-2", "app-3"] {
        f.ao(&["session", "kill", "--keep-workspace", id]).success();
    }
    let cleanup = f.ao(&["session", "cleanup"]);
    intact("cleanup", &cleanup);
    cleanup
        .success()
        .stdout_has(&format!(
            "{} is the worktree of session app-1",
            ours.display()
        ))
        .stdout_has(&format!(
            "{} is the git directory of {repo}",
            git_dir.display()
        ));

    // The undo of a spawn (app-4) and of a restore (app-5) that died half-way.
    point(
        &f,
        "app-4",
        &f.repo,
        &format!(
            ", spawn_pid = {}, workspace_claim = 2, status = 'spawning'",
            dead_pid()
        ),
    );
    point(
        &f,
        "app-5",
        &ours,
        &format!(", restore_pid = {}, workspace_claim = 3", dead_pid()),
    );
    // `ao status` finds and undoes them.
    let ls = f.ao(&["status"]);
    intact("undoing an interrupted spawn and restore", &ls);
    let said = format!("{}{}", ls.stdout, ls.stderr);
    for text in [
        format!("kept the workspace: {repo} is the repository's main checkout"),
        format!(
            "kept the workspace: {} is the worktree of session app-1",
            ours.display()
        ),
    ] {
        assert!(said.contains(&text), "{text:?} not in\n{}", ls.explain());
    }
}

/// The lines of `text` from the one that starts with `from` up to (not including) the
/// next one that does not start with two spaces.
fn block<'a>(text: &'a str, from: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(from));
    let head: Vec<&str> = lines.next().into_iter().collect();
    head.into_iter()
        .chain(lines.take_while(|l| l.starts_with("  ")))
        .collect()
}

/// The object `refname` names in `repo`, if it exists.
fn resolve(f: &Fleet, refname: &str) -> Option<String> {
    let mut git = f.env.command("git");
    git.args(["rev-parse", "-q", "--verify", refname])
        .current_dir(&f.repo);
    let run = ao_tests::Run::of(git, &f.repo);
    (run.code == 0).then(|| run.stdout.trim().to_owned())
}

#[test]
fn a_forced_kill_saves_uncommitted_work_on_a_ref_that_brings_it_back() {
    let f = Fleet::new(CAT);
    std::fs::write(
        f.repo.join(".git/info/exclude"),
        "agent-orchestrator.yaml\n*.log\n",
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    let wt = f.worktree("app-1");
    let branch = f.sessions()[0]["branch"].as_str().unwrap().to_owned();
    std::fs::write(wt.join("README.md"), "hello, changed\n").unwrap();
    std::fs::write(wt.join("staged.txt"), "staged\n").unwrap();
    f.env.git(&wt, &["add", "staged.txt"]);
    std::fs::create_dir(wt.join("notes")).unwrap();
    std::fs::write(wt.join("notes/new.txt"), "untracked\n").unwrap();
    std::fs::write(wt.join("build.log"), "ignored\n").unwrap();

    let kill = f.ao(&["session", "kill", "--force", "app-1"]);
    kill.success()
        .stdout_has("saved 3 uncommitted files at refs/ao/saved/app-1/1")
        .stdout_has(&format!("removed {}", wt.display()));
    let saved = block(&kill.stdout, "saved at refs/ao/saved/app-1/1:");
    assert_eq!(
        saved,
        [
            "saved at refs/ao/saved/app-1/1:",
            "  README.md (modified)",
            "  notes/new.txt (untracked)",
            "  staged.txt (added)",
        ],
        "{}",
        kill.explain()
    );
    let back = block(&kill.stdout, "to bring them back");
    assert_eq!(
        back,
        [
            &format!("to bring them back, run this in any checkout of branch {branch}:"),
            "  git stash apply refs/ao/saved/app-1/1",
        ],
        "{}",
        kill.explain()
    );
    assert!(!wt.exists(), "{}", kill.explain());
    // The user's own stash list is left as it was.
    assert_eq!(f.env.git(&f.repo, &["stash", "list"]), "");

    // The command, run as printed in a new worktree of the branch, brings each file back.
    let again = f.env.root().join("again");
    f.env.git(
        &f.repo,
        &["worktree", "add", "-q", again.to_str().unwrap(), &branch],
    );
    let argv: Vec<&str> = back[1].split_whitespace().collect();
    let mut apply = f.env.command(argv[0]);
    apply.args(&argv[1..]).current_dir(&again);
    let applied = ao_tests::Run::of(apply, &again);
    applied.success();
    let read = |p: &str| std::fs::read_to_string(again.join(p)).unwrap_or_default();
    assert_eq!(
        read("README.md"),
        "hello, changed\n",
        "{}",
        applied.explain()
    );
    assert_eq!(read("staged.txt"), "staged\n", "{}", applied.explain());
    assert_eq!(
        read("notes/new.txt"),
        "untracked\n",
        "{}",
        applied.explain()
    );
    assert!(
        !again.join("build.log").exists(),
        "an ignored file is not saved"
    );
    f.env.git(
        &f.repo,
        &["worktree", "remove", "--force", again.to_str().unwrap()],
    );

    // A second forced kill saves on the next number; the first is left as it was.
    let first = resolve(&f, "refs/ao/saved/app-1/1").unwrap();
    f.ao(&["session", "restore", "app-1"]).success();
    std::fs::write(wt.join("second.txt"), "second\n").unwrap();
    f.ao(&["session", "kill", "--force", "app-1"])
        .success()
        .stdout_has("saved 1 uncommitted file at refs/ao/saved/app-1/2")
        .stdout_has("  second.txt (untracked)")
        .stdout_has("  git stash apply refs/ao/saved/app-1/2");
    assert_eq!(resolve(&f, "refs/ao/saved/app-1/1"), Some(first));

    // Cleanup archives the session and keeps the refs; ls --all and info show them.
    f.ao(&["session", "cleanup"])
        .success()
        .stdout_has("cleaned app-1");
    for n in [1, 2] {
        let r = format!("refs/ao/saved/app-1/{n}");
        assert!(resolve(&f, &r).is_some(), "cleanup deleted {r}");
    }
    let ls = f.ao(&["session", "ls", "--all"]);
    ls.success()
        .stdout_has("archived")
        .stdout_has("app-1: uncommitted work saved at refs/ao/saved/app-1/1")
        .stdout_has("app-1: uncommitted work saved at refs/ao/saved/app-1/2");
    let json = f.sessions();
    assert_eq!(
        json[0]["saved_work"][1]["reference"], "refs/ao/saved/app-1/2",
        "{json:?}"
    );
    f.ao(&["session", "info", "app-1"])
        .success()
        .stdout_has("refs/ao/saved/app-1/1: README.md, notes/new.txt, staged.txt")
        .stdout_has("refs/ao/saved/app-1/2: second.txt")
        .stdout_has("git stash apply refs/ao/saved/app-1/2");
}

#[test]
fn a_forced_kill_with_nothing_uncommitted_saves_nothing() {
    let f = Fleet::new(CAT);
    std::fs::write(
        f.repo.join(".git/info/exclude"),
        "agent-orchestrator.yaml\n*.log\n",
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    std::fs::write(f.worktree("app-1").join("build.log"), "ignored\n").unwrap();
    let kill = f.ao(&["session", "kill", "--force", "app-1"]);
    kill.success();
    for word in ["saved", "stash"] {
        assert!(!kill.stdout.contains(word), "{}", kill.explain());
    }
    assert_eq!(f.env.git(&f.repo, &["for-each-ref", "refs/ao"]), "");
    let ls = f.ao(&["session", "ls", "--all"]);
    assert!(!ls.stdout.contains("saved"), "{}", ls.explain());
}

#[test]
fn a_forced_kill_that_cannot_save_the_work_removes_nothing() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    let wt = f.worktree("app-1");
    // A merge stopped at a conflict: git cannot write the index as a tree.
    std::fs::write(wt.join("README.md"), "ours\n").unwrap();
    f.env.git(&wt, &["commit", "-qam", "ours"]);
    std::fs::write(f.repo.join("README.md"), "theirs\n").unwrap();
    f.env.git(&f.repo, &["commit", "-qam", "theirs"]);
    let mut merge = f.env.command("git");
    merge.args(["merge", "-q", "main"]).current_dir(&wt);
    assert_ne!(ao_tests::Run::of(merge, &wt).code, 0, "the merge conflicts");

    let kill = f.ao(&["session", "kill", "--force", "app-1"]);
    kill.code(1)
        .stderr_has("could not save the uncommitted work")
        .stderr_has("README.md has unresolved conflicts")
        .stderr_has("nothing was changed")
        .stderr_has("git merge --abort");
    assert!(wt.join("README.md").is_file(), "{}", kill.explain());
    assert_eq!(f.tmux_sessions(), ["app-1"], "{}", kill.explain());
    assert_eq!(f.env.git(&f.repo, &["for-each-ref", "refs/ao"]), "");
}

/// Sends `signal` to `pid` with kill(1).
fn signal(f: &Fleet, signal: &str, pid: &str) {
    let mut kill = f.env.command("kill");
    kill.args([&format!("-{signal}"), pid]);
    ao_tests::Run::of(kill, &f.repo).success();
}

/// Resumes a stopped process when dropped, so a failing test leaves no server stopped.
struct Resume<'a>(&'a Fleet, String);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        signal(self.0, "CONT", &self.1);
    }
}

/// The pid of the fleet's tmux server.
fn tmux_server_pid(f: &Fleet) -> String {
    let run = f.tmux(&["display-message", "-p", "#{pid}"]);
    run.success();
    run.stdout.trim().to_owned()
}

#[test]
fn a_kill_that_a_stopped_tmux_does_not_answer_changes_nothing_then_or_later() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    let pid = tmux_server_pid(&f);
    let resume = Resume(&f, pid.clone());
    signal(&f, "STOP", &pid);
    let kill = f.ao(&["session", "kill", "app-1"]);
    drop(resume);
    kill.code(1)
        .stderr_has("tmux did not say whether app-1's session app-1 still runs")
        .stderr_has("nothing was changed");
    // tmux has read what the kill sent it before it answers this: nothing ends later.
    assert_eq!(f.tmux_sessions(), ["app-1"], "{}", kill.explain());
    assert!(f.worktree("app-1").is_dir());
    assert_eq!(f.sessions()[0]["status"], "working");
    f.ao(&["session", "kill", "app-1"]).success();
    assert!(f.tmux_sessions().is_empty());
}

#[test]
fn a_kill_whose_tmux_stops_answering_half_way_is_recorded_and_finished_later() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    let pid = tmux_server_pid(&f);
    let resume = Resume(&f, pid.clone());
    // A `tmux` first on PATH that stops the server just as it is told to end a session:
    // it answered ao's look a moment before, and then says nothing.
    let bin = f.env.root().join("stopping-tmux");
    ao_tests::wrap_program(&bin, "tmux", |real| {
        format!(
            "#!/bin/sh\ncase \" $* \" in *' kill-session '*) kill -STOP {pid};; esac\nexec {real} \"$@\"\n"
        )
    });
    let mut kill = f.env.command(ao_tests::ao_bin());
    kill.args(["session", "kill", "app-1"])
        .current_dir(&f.repo)
        .env("PATH", ao_tests::path_with(&bin));
    let kill = ao_tests::Run::of(kill, &f.repo);
    drop(resume);
    let wt = f.worktree("app-1");
    kill.code(1)
        .stderr_has("tmux did not answer within 30 s when told to end app-1's session app-1")
        .stderr_has("app-1 is recorded as killed")
        .stderr_has(&format!("its workspace is kept at {}", wt.display()))
        .stderr_has("ao session kill app-1");
    assert!(wt.is_dir());
    let row = &f.sessions()[0];
    assert_eq!(row["status"], "killed", "{row}");
    assert_eq!(row["status_reason"], "user", "{row}");
    // The kill run again, tmux answering, finishes it.
    f.ao(&["session", "kill", "app-1"])
        .success()
        .stdout_has(&format!("removed {}", wt.display()));
    assert!(f.tmux_sessions().is_empty());
    assert!(!wt.exists());
}

#[test]
fn a_forced_kill_of_a_clone_keeps_its_work_in_the_projects_repository() {
    let f = Fleet::new(&format!("    workspace: clone\n{CAT}"));
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    let wt = f.worktree("app-1");
    std::fs::write(wt.join("README.md"), "changed in the clone\n").unwrap();
    f.ao(&["session", "kill", "--force", "app-1"])
        .success()
        .stdout_has("  README.md (modified)")
        .stdout_has("  git stash apply refs/ao/saved/app-1/1");
    assert!(!wt.exists());
    // The clone's own objects went to the repository with the ref.
    let shown = f
        .env
        .git(&f.repo, &["show", "refs/ao/saved/app-1/1:README.md"]);
    assert_eq!(shown, "changed in the clone\n");
}

#[test]
fn a_forced_kill_keeps_commits_made_on_a_detached_head() {
    let f = Fleet::new(CAT);
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    let wt = f.worktree("app-1");
    f.env.git(&wt, &["checkout", "-q", "--detach"]);
    std::fs::write(wt.join("README.md"), "detached work\n").unwrap();
    f.env.git(&wt, &["commit", "-qam", "on no branch"]);
    let kill = f.ao(&["session", "kill", "--force", "app-1"]);
    kill.success()
        .stdout_has("saved 1 commit on no branch at refs/ao/saved/app-1/1")
        .stdout_has(" on no branch (on no branch)")
        .stdout_has("  git branch NAME refs/ao/saved/app-1/1^1");
    assert!(
        !kill.stdout.contains("git stash apply"),
        "{}",
        kill.explain()
    );
    f.env
        .git(&f.repo, &["branch", "rescued", "refs/ao/saved/app-1/1^1"]);
    let shown = f.env.git(&f.repo, &["show", "rescued:README.md"]);
    assert_eq!(shown, "detached work\n");
}
