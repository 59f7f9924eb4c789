//! The `worktree` workspace: a git worktree and branch per session.

use super::{existing_checkout, git_failed, post_create, prepare_path, refuse_unsaved};
use ao_core::git::{self, WorktreePlace};
use ao_core::plugin::{CommandOutput, PluginError, Slot, Workspace, WorkspaceInfo, WorkspaceSpec};
use ao_core::registry::{Factory, PluginEntry, SectionRef};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const NAME: &str = "worktree";

/// The worktree workspace.
#[derive(Debug, Default)]
pub struct WorktreeWorkspace;

fn failed(message: impl Into<String>) -> PluginError {
    PluginError::failed(NAME, message)
}

/// The worktrees git knows for `repo`, with their branches (`None` when detached).
async fn worktrees(repo: &Path) -> Result<Vec<(PathBuf, Option<String>)>, PluginError> {
    let text = git::run(repo, &["worktree", "list", "--porcelain"])
        .await
        .map_err(|e| git_failed(NAME, e))?;
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut path = None;
        let mut branch = None;
        for line in block.lines() {
            if let Some(p) = line.strip_prefix("worktree ") {
                path = Some(PathBuf::from(p));
            } else if let Some(b) = line.strip_prefix("branch refs/heads/") {
                branch = Some(b.to_owned());
            }
        }
        if let Some(path) = path {
            out.push((path, branch));
        }
    }
    Ok(out)
}

#[async_trait]
impl Workspace for WorktreeWorkspace {
    async fn create(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        prepare_path(NAME, spec)?;
        let path = spec.path.to_string_lossy().into_owned();
        let branch = spec.branch.as_str();
        let remote = format!("refs/remotes/origin/{branch}");
        let remote_exists = git2::Repository::open(&spec.repo_path)
            .and_then(|r| r.find_reference(&remote).map(|_| ()))
            .is_ok();
        let start = format!("origin/{branch}");
        let (args, created_branch): (Vec<&str>, bool) =
            if git::local_branch_exists(&spec.repo_path, branch) {
                // The work continues on the existing branch, never reset.
                (vec!["worktree", "add", "--quiet", &path, branch], false)
            } else if remote_exists {
                (
                    vec![
                        "worktree", "add", "--quiet", "--track", "-b", branch, &path, &start,
                    ],
                    true,
                )
            } else {
                (
                    vec![
                        "worktree",
                        "add",
                        "--quiet",
                        "--no-track",
                        "-b",
                        branch,
                        &path,
                        &spec.base_branch,
                    ],
                    true,
                )
            };
        // git does not guard its worktree records against another `git worktree add` in
        // the same repository at the same moment (one reads the other's half-written
        // record and fails): ao's worktree changes to one repository take turns.
        let _turn = RepoLock::acquire(&spec.repo_path).await?;
        let mut out = git::output(&spec.repo_path, &args)
            .await
            .map_err(|e| git_failed(NAME, e))?;
        if !out.success()
            && out
                .stderr
                .contains("missing but already registered worktree")
        {
            // A worktree deleted by hand at this path is still registered: forget it
            // (git prunes only what is missing) and add again.
            git::run(&spec.repo_path, &["worktree", "prune"])
                .await
                .map_err(|e| git_failed(NAME, e))?;
            // The failed attempt may already have created the branch.
            let again: Vec<&str> =
                if created_branch && git::local_branch_exists(&spec.repo_path, branch) {
                    vec!["worktree", "add", "--quiet", &path, branch]
                } else {
                    args.clone()
                };
            out = git::output(&spec.repo_path, &again)
                .await
                .map_err(|e| git_failed(NAME, e))?;
        }
        if !out.success() {
            return Err(failed(format!(
                "git could not add a worktree for `{branch}` at {}: {}",
                spec.path.display(),
                out.message()
            )));
        }
        Ok(WorkspaceInfo {
            path: spec.path.clone(),
            branch: branch.to_owned(),
            created_branch,
        })
    }

    async fn post_create(
        &self,
        spec: &WorkspaceSpec,
        info: &WorkspaceInfo,
    ) -> Result<Vec<CommandOutput>, PluginError> {
        post_create(NAME, spec, info).await
    }

    async fn destroy(&self, spec: &WorkspaceSpec, force: bool) -> Result<(), PluginError> {
        refuse_unsaved(NAME, spec, force).await?;
        remove(spec).await
    }

    async fn list(
        &self,
        _project: &str,
        repo_path: &Path,
    ) -> Result<Vec<WorkspaceInfo>, PluginError> {
        let main = repo_path
            .canonicalize()
            .unwrap_or_else(|_| repo_path.to_owned());
        Ok(worktrees(repo_path)
            .await?
            .into_iter()
            .filter(|(p, _)| p != &main)
            .map(|(path, branch)| WorkspaceInfo {
                path,
                branch: branch.unwrap_or_default(),
                created_branch: false,
            })
            .collect())
    }

    async fn restore(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        if let Some(info) = existing_checkout(spec) {
            return Ok(info);
        }
        // A worktree whose directory was deleted by hand is still registered.
        {
            let _turn = RepoLock::acquire(&spec.repo_path).await?;
            let _ = git::run(&spec.repo_path, &["worktree", "prune"]).await;
        }
        self.create(spec).await
    }

    async fn discard(&self, spec: &WorkspaceSpec, created_branch: bool) -> Result<(), PluginError> {
        remove(spec).await?;
        if created_branch {
            git::delete_branch_if_merged(&spec.repo_path, &spec.branch, &spec.base_branch)
                .await
                .map_err(|e| git_failed(NAME, e))?;
        }
        Ok(())
    }
}

/// Removes the worktree and git's record of it; the branch stays. Only a linked worktree
/// of the repository, or a directory holding nothing yet: never the repository's main
/// checkout or git directory, whatever path a caller gives.
async fn remove(spec: &WorkspaceSpec) -> Result<(), PluginError> {
    let _turn = RepoLock::acquire(&spec.repo_path).await?;
    if spec.path.exists() {
        let place = git::worktree_place(&spec.repo_path, &spec.path)
            .await
            .map_err(|e| git_failed(NAME, e))?;
        let removable = place == WorktreePlace::Linked
            || (!place.is_the_repository() && git::holds_nothing(&spec.path));
        if !removable {
            return Err(PluginError::Refused {
                plugin: NAME.to_owned(),
                message: format!(
                    "{}; ao removes only a linked worktree of the repository",
                    place.describe(&spec.path, &spec.repo_path)
                ),
            });
        }
        let path = spec.path.to_string_lossy().into_owned();
        let out = git::output(
            &spec.repo_path,
            &["worktree", "remove", "--force", "--force", &path],
        )
        .await
        .map_err(|e| git_failed(NAME, e))?;
        if !out.success() {
            if spec.path.exists() {
                // A worktree git cannot remove (half made), or a directory holding
                // nothing yet: as checked above, nothing of anyone else's.
                std::fs::remove_dir_all(&spec.path)
                    .map_err(|e| failed(format!("cannot remove {}: {e}", spec.path.display())))?;
            }
            // A `git worktree add` killed half-way leaves its worktree locked
            // ("initializing"), and prune keeps locked worktrees.
            let _ = git::output(&spec.repo_path, &["worktree", "unlock", &path]).await;
            drop_unfinished_admin_dir(spec);
        }
    }
    git::run(&spec.repo_path, &["worktree", "prune"])
        .await
        .map_err(|e| git_failed(NAME, e))?;
    Ok(())
}

/// Removes git's record of this worktree when `git worktree add` was killed before it
/// wrote where the worktree is: git can neither prune nor unlock such a record, and
/// while it is there every `git branch -D` in the repository fails.
fn drop_unfinished_admin_dir(spec: &WorkspaceSpec) {
    let Some(name) = spec.path.file_name() else {
        return;
    };
    let Ok(repo) = git2::Repository::open(&spec.repo_path) else {
        return;
    };
    let admin = repo.commondir().join("worktrees").join(name);
    let ours = match std::fs::read_to_string(admin.join("gitdir")) {
        Ok(gitdir) => Path::new(gitdir.trim()) == spec.path.join(".git"),
        Err(_) => admin.is_dir(),
    };
    if ours && !spec.path.exists() {
        let _ = std::fs::remove_dir_all(&admin);
    }
}

/// A turn at changing one repository's worktrees, across every ao process: an exclusive
/// `flock` on a file in the repository's git directory, released when dropped.
struct RepoLock {
    _file: std::fs::File,
}

impl RepoLock {
    async fn acquire(repo: &Path) -> Result<RepoLock, PluginError> {
        let git_dir = git2::Repository::open(repo)
            .map(|r| r.commondir().to_owned())
            .map_err(|e| failed(format!("cannot open {}: {}", repo.display(), e.message())))?;
        let path = git_dir.join("ao-worktrees.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| failed(format!("cannot open {}: {e}", path.display())))?;
        let mut wait = ao_core::until::Deadline::after(std::time::Duration::from_secs(120));
        loop {
            if try_lock(&file) {
                return Ok(RepoLock { _file: file });
            }
            if wait.passed() {
                return Err(failed(format!(
                    "another ao process has been changing the worktrees of {} for 2 minutes ({} is locked)",
                    repo.display(),
                    path.display()
                )));
            }
            wait.pause().await;
        }
    }
}

#[cfg(unix)]
fn try_lock(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file this process owns; the lock goes with the file.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_file: &std::fs::File) -> bool {
    true
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Workspace>, PluginError> {
    Ok(Arc::new(WorktreeWorkspace))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::available(
        Slot::Workspace,
        NAME,
        "a git worktree and branch per session (default)",
        None,
        Factory::Workspace(Arc::new(build)),
    )
}
