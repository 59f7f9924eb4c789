//! Removing a session's workspace, the one way `kill`, `cleanup` and every undo do it:
//! only when the path is that session's own checkout. A row naming the repository's
//! main checkout, its git directory, a directory holding the repository, a directory
//! that is no worktree of it, or another session's worktree (a row an older import
//! wrote, say) removes nothing, and says what the path is.

use super::orchestrator::CHECKOUT;
use super::{Manager, ManagerError};
use crate::git::WorktreePlace;
use crate::model::{Session, SessionId};
use crate::plugin::WorkspaceSpec;
use crate::store::SessionFilter;
use std::path::{Path, PathBuf};

/// How a workspace is removed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Removal {
    /// As `kill` and `cleanup` do: refused by the plugin while it holds unsaved work,
    /// unless `force`.
    Destroy {
        /// Remove it whatever it holds.
        force: bool,
    },
    /// As an undo does: whatever it holds, and the branch the spawn created if no
    /// commit would be lost.
    Discard {
        /// Whether the spawn created the branch.
        created_branch: bool,
    },
}

/// Why a workspace is not a session's to remove, in the user's words: what the path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotOurs(pub String);

impl Manager {
    /// Why `s`'s workspace at `spec.path` is not `s`'s to remove; `None` when it is
    /// (or nothing is there).
    pub(crate) async fn workspace_not_ours(
        &self,
        s: &Session,
        spec: &WorkspaceSpec,
    ) -> Result<Option<NotOurs>, ManagerError> {
        // The project's own checkout (an orchestrator's) is never removed: its
        // workspace removes nothing.
        if s.workspace == CHECKOUT || spec.path.symlink_metadata().is_err() {
            return Ok(None);
        }
        let path = &spec.path;
        let place = match crate::git::worktree_place(&spec.repo_path, path).await {
            Ok(place) => place,
            Err(e) => {
                return Ok(Some(NotOurs(format!(
                    "ao cannot tell whether {} is a worktree of {}: {e}",
                    path.display(),
                    spec.repo_path.display()
                ))));
            }
        };
        let describe = || NotOurs(place.describe(path, &spec.repo_path));
        if place.is_the_repository() {
            return Ok(Some(describe()));
        }
        // ao marks each workspace it makes with its session (in the checkout's git
        // directory); an adopted one has no mark, and the rows say whose it is.
        let mark = crate::config::session_mark(path);
        match &mark {
            Some(m) if m.session != s.id.to_string() => {
                return Ok(Some(NotOurs(format!(
                    "{} is the worktree of session {}",
                    path.display(),
                    m.session
                ))));
            }
            Some(m) if canonical(&m.home) != canonical(&self.home) => {
                return Ok(Some(NotOurs(format!(
                    "{} is the worktree of session {} of the ao home {}",
                    path.display(),
                    m.session,
                    m.home.display()
                ))));
            }
            Some(_) => {}
            None => {
                if let Some(other) = self.holder_of(path, &s.id)? {
                    return Ok(Some(NotOurs(format!(
                        "{} is the worktree of session {other}",
                        path.display()
                    ))));
                }
            }
        }
        let ours = place == WorktreePlace::Linked
            // A checkout ao made that git lists nowhere: a clone.
            || mark.is_some()
            || crate::git::holds_nothing(path);
        Ok((!ours).then(describe))
    }

    /// Removes `s`'s workspace as `how` says, unless it is not `s`'s: then nothing is
    /// removed, and the answer says why.
    pub(crate) async fn remove_workspace(
        &self,
        s: &Session,
        spec: &WorkspaceSpec,
        how: Removal,
    ) -> Result<Option<NotOurs>, ManagerError> {
        if let Some(why) = self.workspace_not_ours(s, spec).await? {
            return Ok(Some(why));
        }
        let workspace = self.workspace(&s.workspace)?;
        match how {
            Removal::Destroy { force } => workspace.destroy(spec, force).await?,
            Removal::Discard { created_branch } => workspace.discard(spec, created_branch).await?,
        }
        Ok(None)
    }

    /// The session other than `except` whose workspace is `path`, among those not
    /// archived (the project's own checkout is nobody's).
    pub(crate) fn holder_of(
        &self,
        path: &Path,
        except: &SessionId,
    ) -> Result<Option<SessionId>, ManagerError> {
        let path = canonical(path);
        let rows = self.store().sessions(&SessionFilter {
            project: None,
            include_archived: false,
        })?;
        Ok(rows
            .into_iter()
            .find(|r| {
                r.id != *except
                    && r.workspace != CHECKOUT
                    && r.workspace_path.as_deref().map(canonical) == Some(path.clone())
            })
            .map(|r| r.id))
    }
}

/// `path` with its links resolved, where it exists.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}
