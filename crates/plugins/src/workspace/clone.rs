//! The `clone` workspace: a local clone per session, for tools that dislike worktrees.
//! `git clone --reference` borrows the repository's objects, so a clone costs little
//! disk and no download; the clone's `origin` is the repository's own `origin`.

use super::{existing_checkout, git_failed, post_create, prepare_path, refuse_unsaved};
use ao_core::git;
use ao_core::plugin::{CommandOutput, PluginError, Slot, Workspace, WorkspaceInfo, WorkspaceSpec};
use ao_core::registry::{Factory, PluginEntry, SectionRef};
use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;

const NAME: &str = "clone";

/// The clone workspace.
#[derive(Debug, Default)]
pub struct CloneWorkspace;

fn failed(message: impl Into<String>) -> PluginError {
    PluginError::failed(NAME, message)
}

async fn run(dir: &Path, args: &[&str]) -> Result<String, PluginError> {
    git::run(dir, args).await.map_err(|e| git_failed(NAME, e))
}

async fn ok(dir: &Path, args: &[&str]) -> Result<bool, PluginError> {
    Ok(git::output(dir, args)
        .await
        .map_err(|e| git_failed(NAME, e))?
        .success())
}

#[async_trait]
impl Workspace for CloneWorkspace {
    async fn create(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        prepare_path(NAME, spec)?;
        let repo = spec.repo_path.to_string_lossy().into_owned();
        let path = spec.path.to_string_lossy().into_owned();
        // Clone the repository itself (offline, instant with --reference), then point
        // `origin` where the repository's own origin points.
        run(
            &spec.repo_path,
            &[
                "clone",
                "--quiet",
                "--no-checkout",
                "--reference",
                &repo,
                &repo,
                &path,
            ],
        )
        .await?;
        let origin_url = git::run(&spec.repo_path, &["remote", "get-url", "origin"])
            .await
            .ok()
            .map(|u| u.trim().to_owned());
        let work = &spec.path;
        let branch = spec.branch.as_str();
        // The clone's remote-tracking refs are the repository's local branches; keep them
        // as `local`, and give `origin` the real origin's refs as the repository has them.
        run(work, &["remote", "rename", "origin", "local"]).await?;
        if let Some(url) = &origin_url {
            run(work, &["remote", "add", "origin", url]).await?;
            run(
                work,
                &[
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    &repo,
                    "+refs/remotes/origin/*:refs/remotes/origin/*",
                ],
            )
            .await?;
        }
        let local_ref = format!("refs/remotes/local/{branch}");
        let origin_ref = format!("refs/remotes/origin/{branch}");
        let base = if spec.base_branch.starts_with("origin/") {
            spec.base_branch.clone()
        } else {
            format!("local/{}", spec.base_branch)
        };
        let checkout: Vec<&str> =
            if ok(work, &["show-ref", "--verify", "--quiet", &local_ref]).await? {
                vec!["checkout", "--quiet", "-b", branch, &local_ref]
            } else if ok(work, &["show-ref", "--verify", "--quiet", &origin_ref]).await? {
                vec!["checkout", "--quiet", "--track", "-b", branch, &origin_ref]
            } else {
                vec!["checkout", "--quiet", "--no-track", "-b", branch, &base]
            };
        if let Err(e) = run(work, &checkout).await {
            let _ = std::fs::remove_dir_all(work);
            return Err(e);
        }
        Ok(WorkspaceInfo {
            path: spec.path.clone(),
            branch: branch.to_owned(),
            // The branch lives in the clone only; the repository gains none.
            created_branch: false,
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
        remove(spec)
    }

    async fn list(
        &self,
        _project: &str,
        _repo_path: &Path,
    ) -> Result<Vec<WorkspaceInfo>, PluginError> {
        // Clones are not registered anywhere; the store knows them.
        Ok(Vec::new())
    }

    async fn restore(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        if let Some(info) = existing_checkout(spec) {
            return Ok(info);
        }
        self.create(spec).await
    }

    async fn discard(
        &self,
        spec: &WorkspaceSpec,
        _created_branch: bool,
    ) -> Result<(), PluginError> {
        remove(spec)
    }
}

fn remove(spec: &WorkspaceSpec) -> Result<(), PluginError> {
    if spec.path.exists() {
        std::fs::remove_dir_all(&spec.path)
            .map_err(|e| failed(format!("cannot remove {}: {e}", spec.path.display())))?;
    }
    Ok(())
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Workspace>, PluginError> {
    Ok(Arc::new(CloneWorkspace))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::available(
        Slot::Workspace,
        NAME,
        "a local clone per session, for tools that dislike worktrees",
        None,
        Factory::Workspace(Arc::new(build)),
    )
}
