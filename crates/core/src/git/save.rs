//! Saving a checkout's uncommitted work before it is deleted: a commit shaped as git's
//! own stash makes it (`stash -u`: the worktree's state with HEAD, the index and the
//! untracked files as its parents), kept on a ref of its own, `refs/ao/saved/<name>/<n>`,
//! so the user's stash list is never touched and `git stash apply <ref>` brings it back.
//! Built with plumbing only, each value a separate argument, on private index files:
//! the checkout itself is not changed.

use super::{GitError, command, run};
use std::path::{Path, PathBuf};

/// One path of a checkout that is not in a commit, and how it differs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UncommittedFile {
    /// The path, relative to the checkout.
    pub path: String,
    /// How it differs, in words: `modified`, `added`, `untracked`, `staged, modified`.
    pub how: String,
}

/// Why uncommitted work could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The index holds unresolved conflicts, which git cannot write as a tree.
    #[error("{} unresolved conflicts (a merge, rebase or cherry-pick stopped there)", conflict_words(.0))]
    Conflicts(Vec<String>),
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] GitError),
}

fn conflict_words(paths: &[String]) -> String {
    match paths {
        [one] => format!("{one} has"),
        _ => format!("{} have", super::summarize_paths(paths)),
    }
}

/// The stash-shaped commit holding a checkout's uncommitted work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stash {
    /// The commit (its first parent HEAD, the second the index, a third the untracked files).
    pub commit: String,
    /// What it holds, in `git status` order.
    pub files: Vec<UncommittedFile>,
    /// The commits HEAD has that no branch or remote-tracking ref holds (made on a
    /// detached HEAD), `sha subject` each: kept as the commit's first parent.
    pub commits: Vec<String>,
}

/// What `git status` says of `checkout`: tracked changes, staged or not, and untracked
/// files (each one, not their directories); ignored files are not listed.
pub async fn uncommitted_files(checkout: &Path) -> Result<Vec<UncommittedFile>, GitError> {
    let args = [
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignore-submodules=none",
    ];
    // A look only: git is not to rewrite the index while it reads it.
    let out = command(checkout, &args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .run()
        .await?;
    if !out.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            message: out.message(),
        });
    }
    Ok(parse_status(&out.stdout))
}

/// The entries of `git status --porcelain=v1 -z`.
fn parse_status(out: &str) -> Vec<UncommittedFile> {
    let mut files = Vec::new();
    let mut fields = out.split('\0').filter(|f| !f.is_empty());
    while let Some(entry) = fields.next() {
        let (Some(code), Some(path)) = (entry.get(..2), entry.get(3..)) else {
            continue;
        };
        let mut code = code.chars();
        let (x, y) = (code.next().unwrap_or(' '), code.next().unwrap_or(' '));
        let mut how: Vec<String> = Vec::new();
        if (x, y) == ('?', '?') {
            how.push("untracked".into());
        } else if is_conflict(x, y) {
            how.push("conflicted".into());
        } else {
            match x {
                'A' => how.push("added".into()),
                'M' | 'T' => how.push("staged".into()),
                'D' => how.push("deleted".into()),
                'R' | 'C' => {
                    // The source path follows as a field of its own.
                    let from = fields.next().unwrap_or_default();
                    let verb = if x == 'R' { "renamed" } else { "copied" };
                    how.push(format!("{verb} from {from}"));
                }
                _ => {}
            }
            match y {
                'M' | 'T' => how.push("modified".into()),
                'D' => how.push("deleted".into()),
                _ => {}
            }
        }
        files.push(UncommittedFile {
            path: path.to_owned(),
            how: how.join(", "),
        });
    }
    files
}

/// Whether a `git status` code is an unmerged path's.
fn is_conflict(x: char, y: char) -> bool {
    x == 'U' || y == 'U' || (x, y) == ('A', 'A') || (x, y) == ('D', 'D')
}

/// Builds the stash commit of `checkout`'s uncommitted work, without any ref pointing
/// at it yet; `None` when there is nothing uncommitted. `what` ends the commit's message
/// (`On <branch>: <what>`), as `git stash push -m` would.
pub async fn stash_commit(checkout: &Path, what: &str) -> Result<Option<Stash>, SaveError> {
    let files = uncommitted_files(checkout).await?;
    let commits = commits_on_no_branch(checkout).await;
    if files.is_empty() && commits.is_empty() {
        return Ok(None);
    }
    let conflicts: Vec<String> = files
        .iter()
        .filter(|f| f.how == "conflicted")
        .map(|f| f.path.clone())
        .collect();
    if !conflicts.is_empty() {
        return Err(SaveError::Conflicts(conflicts));
    }
    let ident = Identity::of(checkout).await;
    let branch = match run(checkout, &["symbolic-ref", "--short", "-q", "HEAD"]).await {
        Ok(b) if !b.trim().is_empty() => b.trim().to_owned(),
        _ => "(no branch)".to_owned(),
    };
    let (head, on) = match run(checkout, &["rev-parse", "-q", "--verify", "HEAD^{commit}"]).await {
        Ok(head) => {
            let head = head.trim().to_owned();
            let subject = run(checkout, &["log", "-1", "--format=%h %s", &head]).await?;
            let on = format!("{branch}: {}", subject.trim());
            (head, on)
        }
        // Its branch has no commit (deleted outside ao): the work is saved against an
        // empty commit, so that applying it adds every file.
        Err(_) => {
            let empty = command(checkout, &["mktree"])
                .stdin(b"")
                .run()
                .await
                .map_err(GitError::from)?;
            if !empty.success() {
                return Err(GitError::Failed {
                    args: "mktree".into(),
                    message: empty.message(),
                }
                .into());
            }
            let message = format!("{branch} had no commit: an empty base for the saved work");
            let base = ident
                .commit(checkout, empty.stdout.trim(), &[], &message)
                .await?;
            (base, format!("{branch}: (no commit)"))
        }
    };
    // Everything is read from a copy of the index: the checkout's own is neither
    // changed nor locked (an `index.lock` a killed agent's git left does not matter).
    let scratch = Scratch::new(checkout).await?;
    let index_file = scratch.path("index");
    // Relative to the checkout, where git ran.
    let own_index = checkout.join(
        run(checkout, &["rev-parse", "--git-path", "index"])
            .await?
            .trim(),
    );
    if own_index.exists() {
        std::fs::copy(&own_index, &index_file).map_err(|e| GitError::Failed {
            args: "rev-parse --git-path index".into(),
            message: format!(
                "could not copy the index {} to {}: {e}",
                own_index.display(),
                index_file.display()
            ),
        })?;
    }

    let index_tree = tree_of_index(checkout, &index_file).await?;
    let index = ident
        .commit(checkout, &index_tree, &[&head], &format!("index on {on}"))
        .await?;

    let untracked = in_index(
        checkout,
        &index_file,
        &["ls-files", "-z", "--others", "--exclude-standard"],
    )
    .await?;
    let untracked = if untracked.is_empty() {
        None
    } else {
        let file = scratch.path("untracked");
        update_index(checkout, &file, &untracked).await?;
        let tree = tree_of_index(checkout, &file).await?;
        let message = format!("untracked files on {on}");
        Some(ident.commit(checkout, &tree, &[], &message).await?)
    };

    // The worktree's tracked files: the index, then every path whose file differs from
    // it, as the worktree has it (deleted ones removed).
    let changed = in_index(checkout, &index_file, &["diff-files", "--name-only", "-z"]).await?;
    if !changed.is_empty() {
        update_index(checkout, &index_file, &changed).await?;
    }
    let worktree_tree = tree_of_index(checkout, &index_file).await?;
    let mut parents = vec![head.as_str(), index.as_str()];
    if let Some(u) = &untracked {
        parents.push(u);
    }
    let commit = ident
        .commit(
            checkout,
            &worktree_tree,
            &parents,
            &format!("On {branch}: {what}"),
        )
        .await?;
    Ok(Some(Stash {
        commit,
        files,
        commits,
    }))
}

/// The commits of `checkout`'s HEAD that no branch or remote-tracking ref holds, newest
/// first, `sha subject` each; none when HEAD has no commit.
pub(super) async fn commits_on_no_branch(checkout: &Path) -> Vec<String> {
    let args = [
        "log",
        "--format=%h %s",
        "HEAD",
        "--not",
        "--branches",
        "--remotes",
    ];
    run(checkout, &args)
        .await
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Who the saved commits are by: the user's own identity, or, when git knows none, the
/// fallback `git stash` itself uses, so saving never fails for want of a name.
struct Identity {
    fallback: bool,
}

impl Identity {
    async fn of(checkout: &Path) -> Identity {
        let known = |var| async move {
            super::output(checkout, &["var", var])
                .await
                .is_ok_and(|o| o.success())
        };
        Identity {
            fallback: !(known("GIT_AUTHOR_IDENT").await && known("GIT_COMMITTER_IDENT").await),
        }
    }

    async fn commit(
        &self,
        checkout: &Path,
        tree: &str,
        parents: &[&str],
        message: &str,
    ) -> Result<String, GitError> {
        let mut args = vec!["commit-tree", "--no-gpg-sign", tree];
        for p in parents {
            args.extend(["-p", p]);
        }
        args.extend(["-m", message]);
        let mut cmd = command(checkout, &args);
        if self.fallback {
            for (k, v) in [
                ("GIT_AUTHOR_NAME", "ao"),
                ("GIT_AUTHOR_EMAIL", "ao@localhost"),
                ("GIT_COMMITTER_NAME", "ao"),
                ("GIT_COMMITTER_EMAIL", "ao@localhost"),
            ] {
                cmd = cmd.env(k, v);
            }
        }
        let out = cmd.run().await?;
        if !out.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                message: out.message(),
            });
        }
        Ok(out.stdout.trim().to_owned())
    }
}

/// `git write-tree` of the index file `index`.
async fn tree_of_index(checkout: &Path, index: &Path) -> Result<String, GitError> {
    Ok(in_index(checkout, index, &["write-tree"])
        .await?
        .trim()
        .to_owned())
}

/// Runs git in `checkout` on the index file `index`; a non-zero exit is an error.
async fn in_index(checkout: &Path, index: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = command(checkout, args)
        .env("GIT_INDEX_FILE", index)
        .run()
        .await?;
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            message: out.message(),
        })
    }
}

/// Adds the NUL-separated `paths` to the index file `index` as the worktree has them,
/// removing those the worktree no longer has.
async fn update_index(checkout: &Path, index: &Path, paths: &str) -> Result<(), GitError> {
    let args = ["update-index", "-z", "--add", "--remove", "--stdin"];
    let out = command(checkout, &args)
        .env("GIT_INDEX_FILE", index)
        .stdin(paths.as_bytes())
        .run()
        .await?;
    if out.success() {
        Ok(())
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            message: out.message(),
        })
    }
}

/// A private directory for the index files a save builds, in the checkout's own git
/// directory (a path git resolves, so it is on the same file system as the index);
/// removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    async fn new(checkout: &Path) -> Result<Scratch, GitError> {
        let dir = run(checkout, &["rev-parse", "--absolute-git-dir"]).await?;
        let dir = Path::new(dir.trim()).join(format!("ao-save-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| GitError::Failed {
            args: "rev-parse --absolute-git-dir".into(),
            message: format!("could not make {}: {e}", dir.display()),
        })?;
        Ok(Scratch(dir))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::{keep, saved_paths, saved_refs};

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t.invalid")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn work_is_saved_as_a_stash_on_a_new_number_and_nothing_is_moved() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        git(repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("a.txt"), "a\n").unwrap();
        git(repo, &["add", "a.txt"]);
        git(repo, &["commit", "-qm", "one"]);
        assert_eq!(stash_commit(repo, "test").await.unwrap(), None);

        std::fs::write(repo.join("a.txt"), "changed\n").unwrap();
        std::fs::write(repo.join("new.txt"), "new\n").unwrap();
        let stash = stash_commit(repo, "test").await.unwrap().unwrap();
        // The shape `git stash` reads: HEAD, the index, the untracked files.
        let parents = git(repo, &["rev-list", "--parents", "-n1", &stash.commit]);
        assert_eq!(parents.split(' ').count(), 4, "{parents}");
        assert_eq!(
            git(repo, &["show", &format!("{}:a.txt", stash.commit)]),
            "changed"
        );
        assert_eq!(
            git(repo, &["show", &format!("{}^3:new.txt", stash.commit)]),
            "new"
        );
        // The checkout is as it was.
        assert_eq!(git(repo, &["status", "--porcelain"]), "M a.txt\n?? new.txt");

        // A number someone else took is passed over, never moved.
        let head = git(repo, &["rev-parse", "HEAD"]);
        git(repo, &["update-ref", "refs/ao/saved/app-1/2", &head]);
        let first = keep(repo, repo, "app-1", &stash.commit).await.unwrap();
        assert_eq!(first, "refs/ao/saved/app-1/3");
        assert_eq!(git(repo, &["rev-parse", "refs/ao/saved/app-1/2"]), head);
        let refs = saved_refs(repo, Some("app-1")).await.unwrap();
        let names: Vec<&str> = refs.iter().map(|r| r.reference.as_str()).collect();
        assert_eq!(names, ["refs/ao/saved/app-1/2", "refs/ao/saved/app-1/3"]);
        assert_eq!(
            saved_paths(repo, &first).await.unwrap(),
            ["a.txt", "new.txt"]
        );
        assert_eq!(git(repo, &["stash", "list"]), "");
    }

    #[test]
    fn status_entries_are_described_in_words() {
        let out = " M README.md\0A  new.rs\0MM both.rs\0R  to.rs\0from.rs\0?? notes/a.txt\0 D gone.rs\0UU clash.rs\0";
        let seen: Vec<(String, String)> = parse_status(out)
            .into_iter()
            .map(|f| (f.path, f.how))
            .collect();
        let want = [
            ("README.md", "modified"),
            ("new.rs", "added"),
            ("both.rs", "staged, modified"),
            ("to.rs", "renamed from from.rs"),
            ("notes/a.txt", "untracked"),
            ("gone.rs", "deleted"),
            ("clash.rs", "conflicted"),
        ]
        .map(|(p, h)| (p.to_owned(), h.to_owned()));
        assert_eq!(seen, want);
    }
}
