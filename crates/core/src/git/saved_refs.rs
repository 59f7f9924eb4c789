//! Saved work's refs: `refs/ao/saved/<name>/<n>` of a project's repository, each a
//! commit [`super::stash_commit`] built. A new one takes the next number and never moves
//! an existing ref; nothing of ao deletes them.

use super::{GitError, command, run};
use std::path::{Path, PathBuf};

/// Where saved work is kept: `refs/ao/saved/<name>/<n>`.
pub const SAVED_REFS: &str = "refs/ao/saved";

/// Points a new `refs/ao/saved/<name>/<n>` of `repo` at `commit`, which `checkout` made,
/// `n` one more than the highest there; an existing ref is never moved. Returns the
/// ref's full name.
pub async fn keep(
    repo: &Path,
    checkout: &Path,
    name: &str,
    commit: &str,
) -> Result<String, GitError> {
    // A worktree's objects are the repository's; a clone's (a `clone` workspace) are its
    // own, and are pushed over with the ref.
    let shared = common_dir(repo).await? == common_dir(checkout).await?;
    let mut n = saved_refs(repo, Some(name))
        .await?
        .iter()
        .filter_map(|r| r.n)
        .max()
        .unwrap_or(0);
    loop {
        n += 1;
        let reference = format!("{SAVED_REFS}/{name}/{n}");
        // Only if no such ref exists (the empty old value), so a racing save takes the
        // next number instead of overwriting this one.
        let args: Vec<String> = if shared {
            ["update-ref", "--no-deref", &reference, commit, ""]
                .map(String::from)
                .to_vec()
        } else {
            vec![
                "push".into(),
                "--quiet".into(),
                "--no-verify".into(),
                format!("--force-with-lease={reference}:"),
                repo.to_string_lossy().into_owned(),
                format!("{commit}:{reference}"),
            ]
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let dir = if shared { repo } else { checkout };
        let out = command(dir, &args).run().await?;
        if out.success() {
            return Ok(reference);
        }
        let taken = super::output(repo, &["rev-parse", "-q", "--verify", &reference])
            .await?
            .success();
        if !taken || n > 10_000 {
            return Err(GitError::Failed {
                args: args.join(" "),
                message: out.message(),
            });
        }
    }
}

/// The git directory `dir`'s repository shares among its worktrees, canonical.
async fn common_dir(dir: &Path) -> Result<PathBuf, GitError> {
    let common = run(dir, &["rev-parse", "--git-common-dir"]).await?;
    let common = dir.join(common.trim());
    Ok(common.canonicalize().unwrap_or(common))
}

/// One ref of saved work.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SavedRef {
    /// Its full name, `refs/ao/saved/<name>/<n>`.
    pub reference: String,
    /// The `<name>` part (a session's id).
    pub name: String,
    /// The `<n>` part.
    #[serde(skip)]
    pub n: Option<u64>,
    /// When it was saved (the commit's time), in seconds since the epoch.
    pub saved_at: i64,
}

/// The refs of saved work in `repo`, all or those of `name`, oldest number first.
pub async fn saved_refs(repo: &Path, name: Option<&str>) -> Result<Vec<SavedRef>, GitError> {
    let prefix = match name {
        Some(n) => format!("{SAVED_REFS}/{n}/"),
        None => format!("{SAVED_REFS}/"),
    };
    let out = run(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname)%09%(committerdate:unix)",
            &prefix,
        ],
    )
    .await?;
    let mut refs: Vec<SavedRef> = out
        .lines()
        .filter_map(|line| {
            let (reference, at) = line.split_once('\t')?;
            let rest = reference.strip_prefix(SAVED_REFS)?.strip_prefix('/')?;
            let (name, n) = rest.rsplit_once('/')?;
            Some(SavedRef {
                reference: reference.to_owned(),
                name: name.to_owned(),
                n: n.parse().ok(),
                saved_at: at.parse().unwrap_or(0),
            })
        })
        .collect();
    refs.sort_by(|a, b| (&a.name, a.n).cmp(&(&b.name, b.n)));
    Ok(refs)
}

/// The paths a saved ref holds: tracked changes against its first parent, then the
/// untracked files of its third.
pub async fn saved_paths(repo: &Path, reference: &str) -> Result<Vec<String>, GitError> {
    let base = format!("{reference}^1");
    let mut paths: Vec<String> = run(repo, &["diff", "--name-only", "-z", &base, reference])
        .await?
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let untracked = format!("{reference}^3");
    if super::output(repo, &["rev-parse", "-q", "--verify", &untracked])
        .await?
        .success()
    {
        let listed = run(repo, &["ls-tree", "-r", "-z", "--name-only", &untracked]).await?;
        paths.extend(
            listed
                .split('\0')
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}
