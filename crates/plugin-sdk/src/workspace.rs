//! The workspace slot: how a session's checkout is isolated.

use crate::export::{Dispatch, params, result, unknown_method};
use crate::{Context, Error, Plugin, Slot};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

/// What a workspace plugin is asked to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSpec {
    /// The session it is for (`app-3`).
    pub session: String,
    /// The project id.
    pub project: String,
    /// The user's repository.
    pub repo_path: PathBuf,
    /// The branch the session works on.
    pub branch: String,
    /// The ref new work starts from (`origin/main` after a fetch, else `main`).
    pub base_branch: String,
    /// The project's default branch.
    pub default_branch: String,
    /// Where the checkout goes.
    pub path: PathBuf,
    /// Files copied from the repository (relative paths).
    #[serde(default)]
    pub copy: Vec<String>,
    /// Files symlinked from the repository (relative paths).
    #[serde(default)]
    pub symlinks: Vec<String>,
    /// Commands run in the checkout after creation, in order.
    #[serde(default)]
    pub post_create: Vec<String>,
}

/// A workspace that exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// Its directory.
    pub path: PathBuf,
    /// Its branch.
    pub branch: String,
    /// Whether `create` made the branch (so a rollback may delete it).
    #[serde(default)]
    pub created_branch: bool,
}

/// The output of one post-create command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The command as configured.
    pub command: String,
    /// Its exit code, `None` if killed by a signal.
    pub code: Option<i32>,
    /// Standard output and error, interleaved.
    pub output: String,
}

/// A workspace plugin.
pub trait Workspace: Plugin {
    /// Creates the checkout on its branch, reusing an existing branch, never resetting it.
    fn create(&self, cx: &Context, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, Error>;
    /// Copies, symlinks and runs the post-create commands; the first failing one fails.
    fn post_create(
        &self,
        cx: &Context,
        spec: &WorkspaceSpec,
        info: &WorkspaceInfo,
    ) -> Result<Vec<CommandOutput>, Error>;
    /// Removes the checkout; refuses ([`Error::refused`]) while it holds uncommitted
    /// changes or unpushed commits, unless `force`.
    fn destroy(&self, cx: &Context, spec: &WorkspaceSpec, force: bool) -> Result<(), Error>;
    /// The checkouts this plugin manages for a project.
    fn list(
        &self,
        cx: &Context,
        project: &str,
        repo_path: &std::path::Path,
    ) -> Result<Vec<WorkspaceInfo>, Error>;
    /// Recreates a missing checkout from its branch.
    fn restore(&self, cx: &Context, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, Error>;
    /// Undoes a `create` a spawn could not finish: removes the checkout and, if
    /// `created_branch`, the branch as long as no commit would be lost.
    fn discard(
        &self,
        cx: &Context,
        spec: &WorkspaceSpec,
        created_branch: bool,
    ) -> Result<(), Error>;
}

/// The method names.
pub mod method {
    /// `create`: [`super::SpecParams`] → [`super::WorkspaceInfo`].
    pub const CREATE: &str = "create";
    /// `post_create`: [`super::PostCreateParams`] → a list of [`super::CommandOutput`].
    pub const POST_CREATE: &str = "post_create";
    /// `destroy`: [`super::DestroyParams`] → `null`.
    pub const DESTROY: &str = "destroy";
    /// `list`: [`super::ListParams`] → a list of [`super::WorkspaceInfo`].
    pub const LIST: &str = "list";
    /// `restore`: [`super::SpecParams`] → [`super::WorkspaceInfo`].
    pub const RESTORE: &str = "restore";
    /// `discard`: [`super::DiscardParams`] → `null`.
    pub const DISCARD: &str = "discard";
}

/// Parameters carrying a spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpecParams {
    /// The spec.
    pub spec: WorkspaceSpec,
}

/// Parameters of `post_create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostCreateParams {
    /// The spec.
    pub spec: WorkspaceSpec,
    /// What `create` returned.
    pub info: WorkspaceInfo,
}

/// Parameters of `destroy`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DestroyParams {
    /// The spec.
    pub spec: WorkspaceSpec,
    /// Remove even unsaved work.
    pub force: bool,
}

/// Parameters of `list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListParams {
    /// The project id.
    pub project: String,
    /// The user's repository.
    pub repo_path: PathBuf,
}

/// Parameters of `discard`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiscardParams {
    /// The spec.
    pub spec: WorkspaceSpec,
    /// Whether the spawn created the branch.
    pub created_branch: bool,
}

/// The dispatcher [`crate::export_plugin!`] uses for a workspace.
#[doc(hidden)]
pub struct AsWorkspace<T>(pub T);

impl<T: Workspace> Dispatch for AsWorkspace<T> {
    const SLOT: Slot = Slot::Workspace;

    fn create(config: Value) -> Result<Self, Error> {
        T::init(config).map(AsWorkspace)
    }

    fn dispatch(&self, m: &str, cx: &Context, p: Value) -> Result<Value, Error> {
        let w = &self.0;
        match m {
            method::CREATE => result(w.create(cx, &params::<SpecParams>(m, p)?.spec)?),
            method::POST_CREATE => {
                let q: PostCreateParams = params(m, p)?;
                result(w.post_create(cx, &q.spec, &q.info)?)
            }
            method::DESTROY => {
                let q: DestroyParams = params(m, p)?;
                result(w.destroy(cx, &q.spec, q.force)?)
            }
            method::LIST => {
                let q: ListParams = params(m, p)?;
                result(w.list(cx, &q.project, &q.repo_path)?)
            }
            method::RESTORE => result(w.restore(cx, &params::<SpecParams>(m, p)?.spec)?),
            method::DISCARD => {
                let q: DiscardParams = params(m, p)?;
                result(w.discard(cx, &q.spec, q.created_branch)?)
            }
            _ => Err(unknown_method(Self::SLOT, m)),
        }
    }
}
