use super::PluginError;
use crate::model::SessionId;
use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// What a workspace plugin is asked to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceSpec {
    /// The session it is for.
    pub session: SessionId,
    /// The project id.
    pub project: String,
    /// The user's repository.
    pub repo_path: PathBuf,
    /// The branch the session works on.
    pub branch: String,
    /// The ref new work starts from (`origin/main` after a fetch, else `main`).
    pub base_branch: String,
    /// The project's default branch, for judging which commits are unpushed when the
    /// repository has no remote.
    pub default_branch: String,
    /// Where the checkout goes.
    pub path: PathBuf,
    /// Files copied from the repository (relative paths).
    pub copy: Vec<String>,
    /// Files symlinked from the repository (relative paths).
    pub symlinks: Vec<String>,
    /// Commands run in the checkout after creation, in order.
    pub post_create: Vec<String>,
}

pub use ao_plugin_sdk::workspace::{CommandOutput, WorkspaceInfo};

/// How a session's checkout is isolated: a git worktree (default) or a clone.
#[async_trait]
pub trait Workspace: Send + Sync {
    /// Creates the checkout on its branch, reusing an existing branch, never resetting it.
    async fn create(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError>;
    /// Copies, symlinks and runs the post-create commands; the first failing one fails.
    async fn post_create(
        &self,
        spec: &WorkspaceSpec,
        info: &WorkspaceInfo,
    ) -> Result<Vec<CommandOutput>, PluginError>;
    /// Removes the checkout; refuses with [`PluginError::Refused`] while it holds
    /// uncommitted changes or unpushed commits, unless `force`.
    async fn destroy(&self, spec: &WorkspaceSpec, force: bool) -> Result<(), PluginError>;
    /// The checkouts this plugin manages for a project.
    async fn list(
        &self,
        project: &str,
        repo_path: &Path,
    ) -> Result<Vec<WorkspaceInfo>, PluginError>;
    /// Recreates a missing checkout from its branch.
    async fn restore(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError>;
    /// Undoes a `create` that a spawn could not finish: removes the checkout whatever it
    /// holds (nothing of the user's is in it yet) and, if `created_branch`, deletes the
    /// branch as long as no commit would be lost.
    async fn discard(&self, spec: &WorkspaceSpec, created_branch: bool) -> Result<(), PluginError>;
}
