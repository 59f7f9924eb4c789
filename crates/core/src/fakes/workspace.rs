//! A workspace that makes plain directories: each checkout is the session's directory
//! with a `.git` file in it (what a linked worktree has), and no git behind it. So ao
//! starts agents there, but cannot tell it is a worktree of the project: a kill or a
//! cleanup that would remove it refuses, and tests keep the workspace
//! (`KillOptions::keep_workspace`, `lifecycle.autoCleanupOnMerge: false`).

use super::FAKE;
use super::script::{Scripted, Scripts, lock, perform};
use crate::plugin::{CommandOutput, PluginError, Workspace, WorkspaceInfo, WorkspaceSpec};
use async_trait::async_trait;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The fake workspace's operations, to script and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkspaceOp {
    /// `create`.
    Create,
    /// `post_create`.
    PostCreate,
    /// `destroy`.
    Destroy,
    /// `restore`.
    Restore,
    /// `discard`.
    Discard,
}

#[derive(Debug, Default)]
struct State {
    made: Vec<WorkspaceSpec>,
    removed: Vec<WorkspaceSpec>,
    scripts: Scripts<WorkspaceOp>,
}

/// A workspace plugin over plain directories; clones share what they made.
#[derive(Debug, Clone, Default)]
pub struct FakeWorkspace {
    state: Arc<Mutex<State>>,
}

impl FakeWorkspace {
    /// The next calls of `op` go as `calls` say, in order; later ones as before.
    pub fn script(&self, op: WorkspaceOp, calls: impl IntoIterator<Item = Scripted>) {
        lock(&self.state).scripts.push(op, calls);
    }

    /// Every call of `op` after the scripted ones goes as `then` says.
    pub fn script_always(&self, op: WorkspaceOp, then: Scripted) {
        lock(&self.state).scripts.always(op, then);
    }

    /// How many calls of `op` reached the plugin, whatever became of them.
    pub fn calls(&self, op: WorkspaceOp) -> usize {
        lock(&self.state).scripts.calls(op)
    }

    /// The checkouts made (created or restored), in order.
    pub fn made(&self) -> Vec<WorkspaceSpec> {
        lock(&self.state).made.clone()
    }

    /// The checkouts removed (destroyed or discarded), in order.
    pub fn removed(&self) -> Vec<WorkspaceSpec> {
        lock(&self.state).removed.clone()
    }

    fn take(&self, op: WorkspaceOp) -> Scripted {
        lock(&self.state).scripts.take(op)
    }

    fn make(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        let cannot = |e: std::io::Error| {
            PluginError::failed(FAKE, format!("cannot make {}: {e}", spec.path.display()))
        };
        std::fs::create_dir_all(&spec.path).map_err(cannot)?;
        std::fs::write(spec.path.join(".git"), "gitdir: fake\n").map_err(cannot)?;
        lock(&self.state).made.push(spec.clone());
        Ok(WorkspaceInfo {
            path: spec.path.clone(),
            branch: spec.branch.clone(),
            created_branch: true,
        })
    }

    fn remove(&self, spec: &WorkspaceSpec) -> Result<(), PluginError> {
        match std::fs::remove_dir_all(&spec.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(PluginError::failed(
                    FAKE,
                    format!("cannot remove {}: {e}", spec.path.display()),
                ));
            }
        }
        lock(&self.state).removed.push(spec.clone());
        Ok(())
    }
}

#[async_trait]
impl Workspace for FakeWorkspace {
    async fn create(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        let scripted = self.take(WorkspaceOp::Create);
        perform(scripted, FAKE, || self.make(spec)).await
    }

    async fn post_create(
        &self,
        _spec: &WorkspaceSpec,
        _info: &WorkspaceInfo,
    ) -> Result<Vec<CommandOutput>, PluginError> {
        let scripted = self.take(WorkspaceOp::PostCreate);
        perform(scripted, FAKE, || Ok(Vec::new())).await
    }

    async fn destroy(&self, spec: &WorkspaceSpec, _force: bool) -> Result<(), PluginError> {
        let scripted = self.take(WorkspaceOp::Destroy);
        perform(scripted, FAKE, || self.remove(spec)).await
    }

    async fn list(
        &self,
        project: &str,
        _repo_path: &Path,
    ) -> Result<Vec<WorkspaceInfo>, PluginError> {
        Ok(lock(&self.state)
            .made
            .iter()
            .filter(|s| s.project == project && s.path.exists())
            .map(|s| WorkspaceInfo {
                path: s.path.clone(),
                branch: s.branch.clone(),
                created_branch: true,
            })
            .collect())
    }

    async fn restore(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        let scripted = self.take(WorkspaceOp::Restore);
        perform(scripted, FAKE, || self.make(spec)).await
    }

    async fn discard(
        &self,
        spec: &WorkspaceSpec,
        _created_branch: bool,
    ) -> Result<(), PluginError> {
        let scripted = self.take(WorkspaceOp::Discard);
        perform(scripted, FAKE, || self.remove(spec)).await
    }
}
