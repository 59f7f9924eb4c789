//! The git operations sessions need. Mutations (fetch, worktree, branch) go through the
//! `git` CLI, so hooks, credentials and config behave as the user's own git does; cheap
//! reads use git2 in process.

use crate::exec::{Cmd, ExecError, Output};
use std::path::Path;
use std::time::Duration;

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
        .map(|v| std::env::split_paths(&v).filter(|p| p.is_absolute()).collect())
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
    let commits = run(
        checkout,
        &[
            "log",
            "--format=%h %s",
            "HEAD",
            "--not",
            "--branches",
            "--remotes",
        ],
    )
    .await
    .unwrap_or_default();
    let commits: Vec<&str> = commits.lines().filter(|l| !l.is_empty()).collect();
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
