//! The git operations sessions need. Mutations (fetch, worktree, branch) go through the
//! `git` CLI, so hooks, credentials and config behave as the user's own git does; cheap
//! reads use git2 in process.

use crate::exec::{Cmd, ExecError, Output};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod save;
mod saved_refs;
pub use save::{SaveError, Stash, UncommittedFile, stash_commit, uncommitted_files};
pub use saved_refs::{SAVED_REFS, SavedRef, keep, saved_paths, saved_refs};

/// How long a fetch may take before ao works from the local branch instead.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed git command, with git's own message.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be run, or did not finish.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// git ran and failed.
    #[error("`git {args}` failed: {message}")]
    Failed {
        /// The arguments, for the message.
        args: String,
        /// git's own message.
        message: String,
    },
}

fn command<'a>(dir: &Path, args: &[&str]) -> Cmd<'a> {
    Cmd::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
}

/// Runs git in `dir` and returns its output whatever its exit code.
pub async fn output(dir: &Path, args: &[&str]) -> Result<Output, GitError> {
    Ok(command(dir, args).run().await?)
}

/// Runs git in `dir`; a non-zero exit is an error carrying git's message.
pub async fn run(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = output(dir, args).await?;
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            message: out.message(),
        })
    }
}

/// The ref new branches start from, and why it is not the freshly fetched one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRef {
    /// `origin/<defaultBranch>` after a fetch, else the local `<defaultBranch>`.
    pub reference: String,
    /// Set when ao could not fetch: the user's new branches start from older code.
    pub warning: Option<String>,
}

/// Fetches `origin/<default_branch>` once and names the ref new branches start from:
/// the fetched one, or the local branch (with a warning) offline or without `origin`.
pub async fn fetch_base(repo: &Path, default_branch: &str) -> BaseRef {
    let local = |why: String| {
        let reference = if local_branch_exists(repo, default_branch) {
            default_branch.to_owned()
        } else {
            format!("origin/{default_branch}")
        };
        BaseRef {
            warning: Some(format!(
                "{why}; new branches start from `{reference}` as it is locally"
            )),
            reference,
        }
    };
    let has_origin = git2::Repository::open(repo)
        .map(|r| r.find_remote("origin").is_ok())
        .unwrap_or(false);
    if !has_origin {
        return local(format!("{} has no `origin` remote", repo.display()));
    }
    let refspec = format!("+refs/heads/{default_branch}:refs/remotes/origin/{default_branch}");
    // No repository maintenance on ao's time: that is for the user's own git commands.
    let fetched = command(
        repo,
        &[
            "-c",
            "maintenance.auto=false",
            "-c",
            "gc.auto=0",
            "fetch",
            "--quiet",
            "--no-tags",
            "origin",
            &refspec,
        ],
    )
    .timeout(FETCH_TIMEOUT)
    .run()
    .await;
    match fetched {
        Ok(out) if out.success() => BaseRef {
            reference: format!("origin/{default_branch}"),
            warning: None,
        },
        Ok(out) => local(format!(
            "could not fetch `{default_branch}` from origin ({})",
            first_line(&out.message())
        )),
        Err(e) => local(format!("could not fetch from origin ({e})")),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The git repository containing `dir`, found as the git CLI finds it: walking up, but
/// not into a directory that `GIT_CEILING_DIRECTORIES` lists.
pub fn discover(dir: &Path) -> Result<git2::Repository, git2::Error> {
    let ceilings: Vec<std::path::PathBuf> = std::env::var_os("GIT_CEILING_DIRECTORIES")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| p.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    git2::Repository::open_ext(dir, git2::RepositoryOpenFlags::empty(), &ceilings)
}

/// Whether `refs/heads/<branch>` exists in `repo`.
pub fn local_branch_exists(repo: &Path, branch: &str) -> bool {
    git2::Repository::open(repo)
        .and_then(|r| {
            r.find_reference(&format!("refs/heads/{branch}"))
                .map(|_| ())
        })
        .is_ok()
}

/// Whether `branch` is a name git accepts for a branch.
pub fn is_valid_branch_name(branch: &str) -> bool {
    !branch.starts_with('-') && git2::Branch::name_is_valid(branch).unwrap_or(false)
}

/// Why `branch` cannot be a new session's branch in `repo`, if it cannot: it must pass
/// `git check-ref-format --branch`, and must not look like a ref of another kind, which
/// would make later commands ambiguous (`origin/main` as a local branch shadows the
/// remote's; `refs/heads/x` would become `refs/heads/refs/heads/x`).
pub fn branch_name_problem(repo: &Path, branch: &str) -> Option<String> {
    if branch == "@" || branch == "HEAD" || !is_valid_branch_name(branch) {
        return Some(format!("`{branch}` is not a valid git branch name"));
    }
    if branch.starts_with("refs/") {
        return Some(format!(
            "`{branch}` starts with `refs/`: give the branch's short name (without `refs/heads/`)"
        ));
    }
    let first = branch.split('/').next().unwrap_or(branch);
    let remotes = git2::Repository::open(repo)
        .and_then(|r| r.remotes())
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.ok().flatten().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if branch.contains('/') && remotes.iter().any(|r| r == first) {
        return Some(format!(
            "`{branch}` would shadow the remote `{first}`'s branches (`{branch}` would then mean two refs)"
        ));
    }
    None
}

/// What a checkout holds that deleting it would lose: uncommitted changes (untracked
/// files included), and commits that no branch or remote-tracking ref holds (made on a
/// detached HEAD). Commits on a branch are not lost with the checkout: ao keeps branches.
/// Each entry is one line for a user.
pub async fn unsaved_work(checkout: &Path, _default_branch: &str) -> Result<Vec<String>, GitError> {
    let mut lost = Vec::new();
    let status = run(
        checkout,
        &["status", "--porcelain", "--untracked-files=all"],
    )
    .await?;
    let changes: Vec<&str> = status.lines().filter(|l| !l.is_empty()).collect();
    if !changes.is_empty() {
        lost.push(format!(
            "{} uncommitted change{}: {}",
            changes.len(),
            if changes.len() == 1 { "" } else { "s" },
            summarize(&changes)
        ));
    }
    let commits = save::commits_on_no_branch(checkout).await;
    let commits: Vec<&str> = commits.iter().map(String::as_str).collect();
    if !commits.is_empty() {
        lost.push(format!(
            "{} commit{} on no branch (a detached HEAD): {}",
            commits.len(),
            if commits.len() == 1 { "" } else { "s" },
            summarize(&commits)
        ));
    }
    Ok(lost)
}

/// The commits of `branch` that are on no remote (or, in a repository without remotes,
/// not on `default_branch`), one `sha subject` line each: what a kept branch holds that
/// exists nowhere else yet.
pub async fn unpushed_commits(
    repo: &Path,
    branch: &str,
    default_branch: &str,
) -> Result<Vec<String>, GitError> {
    let remotes = run(repo, &["for-each-ref", "--count=1", "refs/remotes"]).await?;
    let tip = format!("refs/heads/{branch}");
    let base = format!("refs/heads/{default_branch}");
    let mut args = vec!["log", "--format=%h %s", &tip, "--not"];
    if remotes.trim().is_empty() {
        args.push(&base);
    } else {
        args.push("--remotes");
    }
    Ok(run(repo, &args)
        .await?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The files and directories git ignores in `checkout` (a `build.log`, a local `.env`),
/// as paths relative to it, except those under any of `except`.
pub async fn ignored_files(checkout: &Path, except: &[String]) -> Result<Vec<String>, GitError> {
    let out = run(
        checkout,
        &[
            "status",
            "--porcelain",
            "--ignored=matching",
            "--untracked-files=normal",
        ],
    )
    .await?;
    Ok(out
        .lines()
        .filter_map(|l| l.strip_prefix("!! "))
        .map(|p| p.trim_end_matches('/').to_owned())
        .filter(|p| {
            !except.iter().any(|e| {
                let e = e.trim_end_matches('/');
                p == e || p.starts_with(&format!("{e}/"))
            })
        })
        .collect())
}

/// A short list of paths for a message: the first five and how many more.
pub fn summarize_paths(paths: &[String]) -> String {
    let lines: Vec<&str> = paths.iter().map(String::as_str).collect();
    summarize(&lines)
}

fn summarize(lines: &[&str]) -> String {
    let shown: Vec<&str> = lines.iter().take(5).map(|l| l.trim()).collect();
    let more = lines.len().saturating_sub(shown.len());
    let mut s = shown.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

/// Deletes `branch` from `repo` if its tip is contained in `base`, so no commit is lost;
/// returns whether it did.
pub async fn delete_branch_if_merged(
    repo: &Path,
    branch: &str,
    base: &str,
) -> Result<bool, GitError> {
    if !local_branch_exists(repo, branch) {
        return Ok(false);
    }
    let full = format!("refs/heads/{branch}");
    let contained = output(repo, &["merge-base", "--is-ancestor", &full, base])
        .await?
        .success();
    if !contained {
        return Ok(false);
    }
    run(repo, &["branch", "-D", "--", branch]).await?;
    Ok(true)
}

/// The files that conflict when `checkout`'s HEAD is merged with `base` (a ref the
/// checkout's repository knows), as `git merge-tree` finds them without touching the
/// checkout; empty when it merges cleanly.
pub async fn conflicting_files(checkout: &Path, base: &str) -> Result<Vec<String>, GitError> {
    let args = [
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        base,
        "HEAD",
    ];
    let out = output(checkout, &args).await?;
    match out.code {
        // The first line is the merged tree; the names of conflicting files follow.
        Some(0) | Some(1) => Ok(out
            .stdout
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()),
        _ => Err(GitError::Failed {
            args: args.join(" "),
            message: out.message(),
        }),
    }
}

/// Where a path stands among a repository's checkouts, as `git worktree list` sees it:
/// what decides whether ao may adopt it as a session's worktree, or remove it as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorktreePlace {
    /// Nothing is there.
    Absent,
    /// A linked worktree of the repository (one `git worktree add` made).
    Linked,
    /// The repository's main checkout.
    MainCheckout,
    /// The repository's git directory itself.
    GitDir,
    /// A directory inside the repository's git directory.
    InsideGitDir,
    /// A directory that holds the repository's main checkout or its git directory.
    HoldsRepository,
    /// A directory inside the main checkout that is no worktree of its own.
    InsideMainCheckout,
    /// None of the repository's checkouts.
    Elsewhere,
}

impl WorktreePlace {
    /// Whether removing the path would take the repository, or part of it, with it.
    pub fn is_the_repository(self) -> bool {
        matches!(
            self,
            WorktreePlace::MainCheckout
                | WorktreePlace::GitDir
                | WorktreePlace::InsideGitDir
                | WorktreePlace::HoldsRepository
        )
    }

    /// What `path` is, for a user: `/r/.git is the git directory of /r`.
    pub fn describe(self, path: &Path, repo: &Path) -> String {
        let (path, repo) = (path.display(), repo.display());
        match self {
            WorktreePlace::Absent => format!("{path} does not exist"),
            WorktreePlace::Linked => format!("{path} is a worktree of {repo}"),
            WorktreePlace::MainCheckout => format!("{path} is the repository's main checkout"),
            WorktreePlace::GitDir => format!("{path} is the git directory of {repo}"),
            WorktreePlace::InsideGitDir => format!("{path} is inside the git directory of {repo}"),
            WorktreePlace::HoldsRepository => {
                format!("{path} holds the repository {repo}, not a worktree of it")
            }
            WorktreePlace::InsideMainCheckout => {
                format!("{path} is inside the main checkout of {repo}, not a worktree of its own")
            }
            WorktreePlace::Elsewhere => format!("{path} is not a worktree of {repo}"),
        }
    }
}

/// Where `path` stands among the checkouts of the repository at `repo`, by `git
/// worktree list --porcelain` there; symlinks are followed, so a link to the repository
/// is the repository.
pub async fn worktree_place(repo: &Path, path: &Path) -> Result<WorktreePlace, GitError> {
    let path = match path.canonicalize() {
        Ok(p) => p,
        Err(_) if path.symlink_metadata().is_err() => return Ok(WorktreePlace::Absent),
        // A dangling link, or a directory ao may not enter: no checkout ao knows.
        Err(_) => return Ok(WorktreePlace::Elsewhere),
    };
    let opened = git2::Repository::open(repo).map_err(|e| GitError::Failed {
        args: format!("open {}", repo.display()),
        message: e.message().to_owned(),
    })?;
    let git_dir = canonical(opened.commondir());
    let (main, linked) = match run(repo, &["worktree", "list", "--porcelain"]).await {
        Ok(listing) => listed_worktrees(&listing),
        // git refuses to list at all while one record is half written (a `git worktree
        // add` killed before it wrote `commondir`): read the records it lists from.
        Err(_) => (
            git2::Repository::open(&git_dir)
                .ok()
                .and_then(|r| r.workdir().map(canonical)),
            recorded_worktrees(&git_dir),
        ),
    };
    Ok(place_among(&path, main.as_deref(), &git_dir, &linked))
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// The main worktree (none when bare) and the linked ones of a `git worktree list
/// --porcelain` listing, canonical; git lists the main one first.
fn listed_worktrees(listing: &str) -> (Option<PathBuf>, Vec<PathBuf>) {
    let mut blocks = listing.split("\n\n").filter_map(|block| {
        let path = block.lines().find_map(|l| l.strip_prefix("worktree "))?;
        Some((
            canonical(Path::new(path)),
            block.lines().any(|l| l == "bare"),
        ))
    });
    let main = blocks.next().and_then(|(p, bare)| (!bare).then_some(p));
    (main, blocks.map(|(p, _)| p).collect())
}

/// The linked worktrees recorded in `git_dir/worktrees/<id>/gitdir` (each names the
/// worktree's `.git` file, relative to the record or absolute), canonical.
fn recorded_worktrees(git_dir: &Path) -> Vec<PathBuf> {
    let Ok(records) = std::fs::read_dir(git_dir.join("worktrees")) else {
        return Vec::new();
    };
    records
        .flatten()
        .filter_map(|record| {
            let dot_git = std::fs::read_to_string(record.path().join("gitdir")).ok()?;
            let dot_git = record.path().join(dot_git.trim());
            dot_git.parent().map(canonical)
        })
        .collect()
}

/// [`worktree_place`] over what git listed: all paths canonical.
fn place_among(
    path: &Path,
    main: Option<&Path>,
    git_dir: &Path,
    linked: &[PathBuf],
) -> WorktreePlace {
    if path == git_dir {
        WorktreePlace::GitDir
    } else if path.starts_with(git_dir) {
        WorktreePlace::InsideGitDir
    } else if Some(path) == main {
        WorktreePlace::MainCheckout
    } else if linked.iter().any(|l| l == path) {
        WorktreePlace::Linked
    } else if main.is_some_and(|m| m.starts_with(path)) || git_dir.starts_with(path) {
        WorktreePlace::HoldsRepository
    } else if main.is_some_and(|m| path.starts_with(m)) {
        WorktreePlace::InsideMainCheckout
    } else {
        WorktreePlace::Elsewhere
    }
}

/// Whether the directory `dir` holds nothing anyone wrote: it is empty, or holds only the
/// `.git` file `git worktree add` writes before it checks anything out (the directory a
/// spawn claimed, which git had not filled yet).
pub fn holds_nothing(dir: &Path) -> bool {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.all(|e| {
        e.is_ok_and(|e| e.file_name() == ".git" && e.file_type().is_ok_and(|t| t.is_file()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_placed_among_the_repositorys_checkouts() {
        let main = Path::new("/r");
        let git = Path::new("/r/.git");
        let linked = [PathBuf::from("/w/app-1"), PathBuf::from("/r/.trees/app-2")];
        let at = |p: &str| place_among(Path::new(p), Some(main), git, &linked);
        assert_eq!(at("/w/app-1"), WorktreePlace::Linked);
        assert_eq!(at("/r/.trees/app-2"), WorktreePlace::Linked);
        assert_eq!(at("/r"), WorktreePlace::MainCheckout);
        assert_eq!(at("/r/.git"), WorktreePlace::GitDir);
        assert_eq!(at("/r/.git/worktrees/app-1"), WorktreePlace::InsideGitDir);
        assert_eq!(at("/"), WorktreePlace::HoldsRepository);
        assert_eq!(at("/r/src"), WorktreePlace::InsideMainCheckout);
        assert_eq!(at("/w"), WorktreePlace::Elsewhere);
        assert_eq!(at("/w/app-10"), WorktreePlace::Elsewhere);
        // A repository whose git directory lives apart from its checkout.
        let apart = place_among(Path::new("/g"), Some(main), Path::new("/g/repo.git"), &[]);
        assert_eq!(apart, WorktreePlace::HoldsRepository);
        // A bare repository has no main checkout.
        let bare = place_among(Path::new("/w/app-1"), None, Path::new("/b.git"), &linked);
        assert_eq!(bare, WorktreePlace::Linked);
    }

    #[test]
    fn a_listing_and_the_records_name_the_same_worktrees() {
        let listing = "worktree /r\nHEAD abc\nbranch refs/heads/main\n\nworktree /w/app-1\nHEAD def\ndetached\n\n";
        let (main, linked) = listed_worktrees(listing);
        assert_eq!(main.as_deref(), Some(Path::new("/r")));
        assert_eq!(linked, [PathBuf::from("/w/app-1")]);
        let (main, _) = listed_worktrees("worktree /b.git\nbare\n\n");
        assert_eq!(main, None);

        let dir = tempfile::tempdir().unwrap();
        let git_dir = dir.path().join("r/.git");
        let wt = dir.path().join("w/app-1");
        std::fs::create_dir_all(&wt).unwrap();
        for (id, gitdir) in [("app-1", Some(wt.join(".git"))), ("half", None)] {
            let record = git_dir.join("worktrees").join(id);
            std::fs::create_dir_all(&record).unwrap();
            if let Some(g) = gitdir {
                std::fs::write(record.join("gitdir"), format!("{}\n", g.display())).unwrap();
            }
        }
        assert_eq!(recorded_worktrees(&git_dir), [wt.canonicalize().unwrap()]);
    }

    #[test]
    fn only_an_empty_directory_or_a_lone_git_file_holds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(holds_nothing(dir.path()));
        std::fs::write(dir.path().join(".git"), "gitdir: /r/.git/worktrees/x\n").unwrap();
        assert!(holds_nothing(dir.path()));
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        assert!(!holds_nothing(dir.path()));
        let git_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(git_dir.path().join(".git")).unwrap();
        assert!(!holds_nothing(git_dir.path()));
        assert!(!holds_nothing(&dir.path().join("absent")));
    }
}
