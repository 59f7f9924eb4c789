//! `ao session kill`: ends the agent and removes the workspace, refusing while work would
//! be lost; a session still spawning is cancelled, and its spawn undoes itself.

use super::removal::{NotOurs, Removal};
use super::status::in_flight;
use super::wait::Backoff;
use super::{Manager, ManagerError};
use crate::model::{Activity, EventKind, Priority, Session, SessionStatus, StatusReason, now_ms};
use crate::store::Change;
use serde::Serialize;
use std::time::{Duration, Instant};

/// How `ao session kill` treats the workspace.
#[derive(Debug, Clone, Copy, Default)]
pub struct KillOptions {
    /// Leave the workspace where it is.
    pub keep_workspace: bool,
    /// Delete it even with uncommitted or unpushed work.
    pub force: bool,
}

/// What `ao session kill` did.
#[derive(Debug, Clone, Serialize)]
pub struct KillReport {
    /// The session as it is now (as it was, for a cancelled spawn: its row is gone).
    pub session: Session,
    /// What was done, in order, in the user's words.
    pub done: Vec<String>,
    /// Whether the session was still spawning: the spawn stopped and undid itself.
    pub cancelled_spawn: bool,
}

/// How long a kill waits for a spawn in progress to stop and undo itself.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(60);

impl Manager {
    /// Ends the session's runtime, removes (or keeps) its workspace, marks it killed.
    /// With work that would be lost, refuses before touching anything unless forced. A
    /// session still spawning is cancelled: its spawn is told to stop, undoes what it
    /// made, and the kill reports that.
    pub async fn kill(&self, id: &str, opts: KillOptions) -> Result<KillReport, ManagerError> {
        // The orchestrator's workspace is the project's own checkout: never removed.
        let opts = match self.session(id) {
            Ok(s) if s.workspace == super::orchestrator::CHECKOUT => KillOptions {
                keep_workspace: true,
                ..opts
            },
            _ => opts,
        };
        let s = self.session(id)?;
        if let Some(pid) = s.spawn_pid {
            if let Some(report) = self.cancel_spawn(&s, pid).await? {
                return Ok(report);
            }
            // The spawn finished first: kill the session it made.
            return Box::pin(self.kill(id, opts)).await;
        }
        if let Some(pid) = s.restore_pid
            && Self::owner_alive(pid)
        {
            return Err(ManagerError::refused(
                format!("{} is being restored by ao process {pid}", s.id),
                "wait for `ao session restore` to finish, then kill it",
            ));
        }
        let project = self.project(&s.project)?;
        let spec = self.workspace_spec(&project, &s);
        let has_workspace = spec.path.exists();
        if s.status.is_terminal() && (opts.keep_workspace || !has_workspace) {
            let reason = s
                .status_reason
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Ok(KillReport {
                done: vec![format!(
                    "was already {}{reason}; nothing was changed",
                    s.status
                )],
                session: s,
                cancelled_spawn: false,
            });
        }
        if !opts.keep_workspace
            && has_workspace
            && let Some(NotOurs(why)) = self.workspace_not_ours(&s, &spec).await?
        {
            return Err(refuse_removal(&s, &why));
        }
        if !opts.keep_workspace && !opts.force && has_workspace {
            let lost = crate::git::unsaved_work(&spec.path, &project.default_branch)
                .await
                .map_err(|e| {
                    ManagerError::refused(e.to_string(), "pass --force to remove it anyway")
                })?;
            if !lost.is_empty() {
                return Err(ManagerError::refused(
                    format!(
                        "{}'s workspace {} holds work that would be lost: {}; nothing was changed",
                        s.id,
                        spec.path.display(),
                        lost.join("; ")
                    ),
                    "commit and push it, pass --keep-workspace to keep it, or --force to delete it",
                ));
            }
        }
        let mut done = Vec::new();
        if let Some(h) = &s.runtime {
            self.runtime(&h.runtime)?.destroy(h).await?;
            done.push(format!("ended {} session {}", h.runtime, h.id));
        }
        match (opts.keep_workspace, has_workspace) {
            (true, true) => done.push(format!("workspace kept at {}", spec.path.display())),
            (false, true) => {
                // Ignored files go with the checkout without counting as unsaved work;
                // say which, except those ao itself put there.
                let mut ours = project.copy.clone();
                ours.extend(project.symlinks.iter().cloned());
                let ignored = crate::git::ignored_files(&spec.path, &ours)
                    .await
                    .unwrap_or_default();
                let removal = Removal::Destroy { force: true };
                if let Some(NotOurs(why)) = self.remove_workspace(&s, &spec, removal).await? {
                    // It changed hands since the check above.
                    return Err(ManagerError::plain(format!(
                        "refusing to remove {}'s workspace: {why}; its agent was ended, and the directory is left as it is",
                        s.id
                    )));
                }
                done.push(format!("removed {}", spec.path.display()));
                if !ignored.is_empty() {
                    done.push(format!(
                        "with the files git ignores there: {}",
                        crate::git::summarize_paths(&ignored)
                    ));
                }
            }
            (_, false) => done.push(format!(
                "workspace {} was already gone (deleted outside ao)",
                spec.path.display()
            )),
        }
        if crate::git::local_branch_exists(&project.path, &s.branch) {
            let unpushed =
                crate::git::unpushed_commits(&project.path, &s.branch, &project.default_branch)
                    .await
                    .unwrap_or_default();
            if unpushed.is_empty() {
                done.push(format!("branch {} kept", s.branch));
            } else {
                done.push(format!(
                    "branch {} kept, with {} commit{} not pushed yet: {}",
                    s.branch,
                    unpushed.len(),
                    if unpushed.len() == 1 { "" } else { "s" },
                    crate::git::summarize_paths(&unpushed)
                ));
            }
        } else {
            done.push(format!(
                "branch {} was already gone (deleted outside ao)",
                s.branch
            ));
        }
        let session = self.update(&s.id, |row| {
            let from = row.status;
            row.status = SessionStatus::Killed;
            row.status_reason = Some(StatusReason::User);
            row.activity = Some(Activity::Exited);
            vec![Change::new(
                EventKind::StatusChanged {
                    from,
                    to: SessionStatus::Killed,
                },
                Priority::Info,
                format!("{} killed by the user", row.id),
            )]
        })?;
        Ok(KillReport {
            session,
            done,
            cancelled_spawn: false,
        })
    }

    /// Stops the spawn of `s` that process `pid` runs: asks it to stop and waits until it
    /// has undone itself (or undoes it here when that process is gone). `None` when the
    /// spawn had already finished, so the session is there to be killed.
    async fn cancel_spawn(
        &self,
        s: &Session,
        pid: u32,
    ) -> Result<Option<KillReport>, ManagerError> {
        let cancelled = |done| {
            Some(KillReport {
                session: s.clone(),
                done,
                cancelled_spawn: true,
            })
        };
        if !Self::owner_alive(pid) {
            return Ok(cancelled(self.undo_spawn(s).await?));
        }
        let asked = self.update(&s.id, |row| {
            if row.spawn_pid.is_some() && row.cancel_requested_at.is_none() {
                row.cancel_requested_at = Some(now_ms());
            }
            Vec::new()
        });
        match asked {
            Err(ManagerError::Store(crate::store::StoreError::NoSession(_))) => {}
            Err(e) => return Err(e),
            Ok(row) if !in_flight(&row) => return Ok(None),
            Ok(_) => {}
        }
        let deadline = Instant::now() + CANCEL_TIMEOUT;
        let mut backoff = Backoff::new();
        loop {
            let row = self.store().session(&s.id)?;
            match row {
                None => return Ok(cancelled(self.undone_parts(s))),
                Some(row) if row.spawn_pid.is_none() => return Ok(None),
                Some(row) if !Self::owner_alive(pid) => {
                    return Ok(cancelled(self.undo_spawn(&row).await?));
                }
                Some(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(ManagerError::refused(
                    format!(
                        "{}'s spawn (ao process {pid}) did not stop within {} s",
                        s.id,
                        CANCEL_TIMEOUT.as_secs()
                    ),
                    "it stops at its next step; run the kill again, `ao status` shows it",
                ));
            }
            backoff.pause().await;
        }
    }

    /// What the undo of `s`'s spawn recorded that it removed.
    fn undone_parts(&self, s: &Session) -> Vec<String> {
        let events = self
            .store()
            .events(0, Some(&s.id), 10_000)
            .unwrap_or_default();
        events
            .into_iter()
            .rev()
            .find_map(|e| match e.kind {
                EventKind::SpawnUndone { undone } => Some(undone),
                _ => None,
            })
            .unwrap_or_default()
    }
}

/// The refusal of a kill whose workspace is not the session's to remove.
fn refuse_removal(s: &Session, why: &str) -> ManagerError {
    ManagerError::refused(
        format!(
            "refusing to remove {}'s workspace: {why}; nothing was changed",
            s.id
        ),
        "ao removes only the worktree a session works in; pass --keep-workspace to end the session and leave that directory as it is",
    )
}
