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
