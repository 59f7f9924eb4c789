//! `ao session kill`: ends the agent and removes the workspace, refusing while work would
//! be lost; forced, it saves the uncommitted work on a ref first. A session still
//! spawning is cancelled, and its spawn undoes itself. A runtime that does not answer
//! is never left with a kill it may carry out later unrecorded.

use super::removal::{NotOurs, Removal};
use super::saved::{SavedWork, refuse_unsaved};
use super::status::in_flight;
use super::{Manager, ManagerError};
use crate::model::{
    Activity, EventKind, Priority, RuntimeHandle, Session, SessionStatus, StatusReason, now_ms,
};
use crate::plugin::{Liveness, PluginError};
use crate::store::Change;
use crate::until::Deadline;
use serde::Serialize;
use std::time::Duration;

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
    /// The uncommitted work a forced kill saved before removing the workspace.
    pub saved: Option<SavedWork>,
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
        if self.config.project(&s.project, &self.env).is_none() {
            return self.kill_outside_config(s).await;
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
                saved: None,
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
                return Err(ManagerError::UnsavedWork {
                    session: s.id.to_string(),
                    path: spec.path.clone(),
                    files: lost,
                });
            }
        }
        if let Some(h) = &s.runtime {
            self.runtime_answers(&s, h).await?;
        }
        let removing = !opts.keep_workspace && has_workspace;
        if removing && opts.force {
            // Asked before anything is ended: work that cannot be saved stops the kill.
            if let Err(e) = self.try_saving(&s, &spec.path).await {
                return Err(refuse_unsaved(&s, &spec.path, &e, false));
            }
        }
        let mut done = Vec::new();
        if let Some(h) = &s.runtime {
            done.push(
                self.end_runtime(&s, h, has_workspace.then_some(&spec.path))
                    .await?,
            );
        }
        let mut saved = None;
        match (opts.keep_workspace, has_workspace) {
            (true, true) => done.push(format!("workspace kept at {}", spec.path.display())),
            (false, true) => {
                // Now that the agent has ended, what it wrote last is saved too (and,
                // unforced, what it wrote after the check above found nothing).
                match self.save_work(&s, &spec).await {
                    Ok(Some(work)) => {
                        done.push(format!("saved {} at {}", work.summary(), work.reference));
                        saved = Some(work);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let e = refuse_unsaved(&s, &spec.path, &e, true);
                        self.record_killed(&s, format!("{} killed by the user; {e}", s.id))?;
                        return Err(e);
                    }
                }
                // Ignored files go with the checkout without counting as unsaved work;
                // say which, except those ao itself put there.
                let mut ours = project.copy.clone();
                ours.extend(project.symlinks.iter().cloned());
                let ignored = crate::git::ignored_files(&spec.path, &ours)
                    .await
                    .unwrap_or_default();
                let removal = Removal::Destroy { force: true };
                let kept = |e: ManagerError| match &saved {
                    Some(w) => e.context(
                        "",
                        &format!(
                            " (its uncommitted work was saved first at {}: `{}` brings it back)",
                            w.reference, w.apply
                        ),
                    ),
                    None => e,
                };
                let removed = self
                    .remove_workspace(&s, &spec, removal)
                    .await
                    .map_err(kept)?;
                if let Some(NotOurs(why)) = removed {
                    // It changed hands since the check above.
                    return Err(kept(ManagerError::plain(format!(
                        "refusing to remove {}'s workspace: {why}; its agent was ended, and the directory is left as it is",
                        s.id
                    ))));
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
        let session = self.record_killed(&s, format!("{} killed by the user", s.id))?;
        Ok(KillReport {
            session,
            done,
            cancelled_spawn: false,
            saved,
        })
    }

    /// Ends `s`'s runtime session `h`, and says so. A runtime that does not answer is
    /// refused with the session recorded as killed (see [`Manager::unanswered_kill`]).
    async fn end_runtime(
        &self,
        s: &Session,
        h: &RuntimeHandle,
        workspace: Option<&std::path::PathBuf>,
    ) -> Result<String, ManagerError> {
        match self.runtime(&h.runtime)?.destroy(h).await {
            Ok(()) => Ok(format!("ended {} session {}", h.runtime, h.id)),
            Err(PluginError::Timeout { millis, .. }) => {
                Err(self.unanswered_kill(s, h, millis, workspace)?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Kills a session whose project an edit took out of the config: its agent is ended,
    /// and its workspace is kept whatever was asked, since without the project ao cannot
    /// tell what in it is not saved (its default branch, its files copied in).
    async fn kill_outside_config(&self, s: Session) -> Result<KillReport, ManagerError> {
        if s.status.is_terminal() {
            return Ok(KillReport {
                done: vec![format!("was already {}; nothing was changed", s.status)],
                session: s,
                cancelled_spawn: false,
                saved: None,
            });
        }
        let mut done = Vec::new();
        let workspace = s.workspace_path.clone().filter(|p| p.exists());
        if let Some(h) = &s.runtime {
            self.runtime_answers(&s, h).await?;
            done.push(self.end_runtime(&s, h, workspace.as_ref()).await?);
        }
        // The orchestrator's workspace is the project's own checkout: not ao's to remove.
        if let Some(path) = workspace.filter(|_| s.workspace != super::orchestrator::CHECKOUT) {
            done.push(format!(
                "workspace kept at {}: its project `{}` is not in the config, so ao cannot tell what there is unsaved (put the project back and kill it again to remove it, or remove it with `git worktree remove`)",
                path.display(),
                s.project
            ));
        }
        let session = self.record_killed(&s, format!("{} killed by the user", s.id))?;
        Ok(KillReport {
            session,
            done,
            cancelled_spawn: false,
            saved: None,
        })
    }

    /// Records `s` as killed by the user, with `message` as the event's words.
    fn record_killed(&self, s: &Session, message: String) -> Result<Session, ManagerError> {
        self.update(&s.id, |row| {
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
                message,
            )]
        })
    }

    /// Refuses the kill, with nothing changed, when `s`'s runtime does not say whether
    /// its session runs: a tmux server that is stopped or hung would take the kill
    /// into its queue and carry it out whenever it answers again, long after ao gave
    /// up on it and said it failed. Its look is harmless if it is carried out later.
    async fn runtime_answers(&self, s: &Session, h: &RuntimeHandle) -> Result<(), ManagerError> {
        let probe = self
            .runtime(&h.runtime)?
            .probe_all(std::slice::from_ref(h))
            .await;
        let unanswered = match probe {
            Ok(probes) => probes
                .first()
                .is_none_or(|p| p.liveness == Liveness::Unknown),
            Err(PluginError::Timeout { .. }) => true,
            Err(_) => false,
        };
        if !unanswered {
            return Ok(());
        }
        Err(ManagerError::refused(
            format!(
                "{} did not say whether {}'s session {} still runs (a {} server that is stopped or hung does not answer); nothing was changed",
                h.runtime, s.id, h.id, h.runtime
            ),
            "find out why it does not answer (`ao status` shows the session as `unknown` meanwhile), then run the kill again",
        ))
    }

    /// The kill of `s` whose runtime took the order to end it and did not answer in
    /// `millis`: the order may still be carried out whenever it answers, so the kill is
    /// recorded now, and the workspace (at `workspace`) kept, since the agent may run yet.
    fn unanswered_kill(
        &self,
        s: &Session,
        h: &RuntimeHandle,
        millis: u64,
        workspace: Option<&std::path::PathBuf>,
    ) -> Result<ManagerError, ManagerError> {
        let said = format!(
            "{} did not answer within {} s when told to end {}'s session {}",
            h.runtime,
            millis.div_ceil(1000),
            s.id,
            h.id
        );
        self.record_killed(
            s,
            format!(
                "{} killed by the user; {said}, so it ends when that server answers again",
                s.id
            ),
        )?;
        let kept = workspace
            .map(|p| format!("; its workspace is kept at {}", p.display()))
            .unwrap_or_default();
        Ok(ManagerError::refused(
            format!(
                "{said} (a {} server that is stopped or hung does not answer); {} is recorded as killed, and its session ends when that server answers again{kept}",
                h.runtime, s.id
            ),
            format!(
                "once {} answers, `ao session kill {}` ends the session if it still runs{}",
                h.runtime,
                s.id,
                if workspace.is_some() {
                    " and removes the workspace"
                } else {
                    ""
                }
            ),
        ))
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
                saved: None,
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
        let mut wait = Deadline::after(CANCEL_TIMEOUT).pausing_at_most(super::wait::LONGEST_LOOK);
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
            if wait.passed() {
                return Err(ManagerError::refused(
                    format!(
                        "{}'s spawn (ao process {pid}) did not stop within {} s",
                        s.id,
                        CANCEL_TIMEOUT.as_secs()
                    ),
                    "it stops at its next step; run the kill again, `ao status` shows it",
                ));
            }
            wait.pause().await;
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
