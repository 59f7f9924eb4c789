//! Undoing what an `ao spawn` or `ao session restore` left behind: after a failure in
//! process, and after a crash, found by the next command. An undo removes only what the
//! spawn itself made, as its journal (the session row) records it.

use super::removal::{NotOurs, Removal};
use super::{Manager, ManagerError};
use crate::config::ResolvedProject;
use crate::model::{
    Activity, Event, EventKind, Priority, Session, SessionStatus, StatusReason, WorkspaceClaim,
    now_ms,
};
use crate::store::Change;
use std::path::Path;

impl Manager {
    /// Finds what `ao spawn` and `ao session restore` processes that died left behind,
    /// undoes it, and says what it undid. Those whose process still runs are left alone.
    pub async fn recover(&self) -> Result<Vec<String>, ManagerError> {
        self.refuse_lost_store_runtimes().await?;
        let mut notes = Vec::new();
        let reservations = self.store().reservations()?;
        for r in reservations {
            if Self::owner_alive(r.pid) {
                continue;
            }
            self.store().release_reservation(&r.id)?;
            notes.push(format!(
                "{}: released the id reserved by an interrupted `ao spawn`",
                r.id
            ));
        }
        let rows = self.store().sessions_owned()?;
        let gone = |pid: Option<u32>| pid.is_some_and(|p| !Self::owner_alive(p));
        for read in rows {
            let (spawn_gone, restore_gone) = (gone(read.spawn_pid), gone(read.restore_pid));
            if !spawn_gone && !restore_gone {
                continue;
            }
            // Read again once its owner is seen gone: the row as that process left it,
            // which nothing changes any more. A spawn that finished after the list was
            // read is done, not interrupted.
            let Some(s) = self.store().session(&read.id)? else {
                continue;
            };
            if spawn_gone && s.spawn_pid == read.spawn_pid {
                notes.push(match self.undo_spawn(&s).await {
                    Ok(parts) => format!(
                        "{}: undid an interrupted `ao spawn`{}",
                        s.id,
                        listed(&parts)
                    ),
                    Err(e) => format!("{}: could not undo an interrupted `ao spawn`: {e}", s.id),
                });
            } else if restore_gone && s.restore_pid == read.restore_pid {
                notes.push(match self.undo_restore(&s).await {
                    Ok(parts) => format!(
                        "{}: undid an interrupted `ao session restore`{}",
                        s.id,
                        listed(&parts)
                    ),
                    Err(e) => format!(
                        "{}: could not undo an interrupted `ao session restore`: {e}",
                        s.id
                    ),
                });
            }
        }
        Ok(notes)
    }

    /// Removes everything a spawn of `s` made: its runtime, the workspace directory it
    /// created (never one that was there before), the branch it created, its row. Says
    /// what it removed, and records that in the store as the row goes.
    pub(crate) async fn undo_spawn(&self, s: &Session) -> Result<Vec<String>, ManagerError> {
        let mut parts = Vec::new();
        let data_dir = self.data_dir(&s.id);
        if let Ok(runtime) = self.runtime(&s.runtime_plugin) {
            let handle = match &s.runtime {
                Some(h) => Some(h.clone()),
                None => runtime.find(&s.id, &data_dir).await.ok().flatten(),
            };
            if let Some(h) = handle {
                runtime.destroy(&h).await?;
                parts.push(format!("ended {} session {}", h.runtime, h.id));
            }
        }
        if let Ok(project) = self.project(&s.project) {
            let mut spec = self.workspace_spec(&project, s);
            spec.base_branch = local_base(&project);
            match s.workspace_claim {
                WorkspaceClaim::Made | WorkspaceClaim::Recreating => {
                    let had_dir = spec.path.exists();
                    let had_branch = crate::git::local_branch_exists(&project.path, &s.branch);
                    let removal = Removal::Discard {
                        created_branch: s.created_branch,
                    };
                    let kept = self.remove_workspace(s, &spec, removal).await?;
                    match &kept {
                        // Its branch is left as well.
                        Some(NotOurs(why)) => parts.push(format!("kept the workspace: {why}")),
                        None if had_dir => parts.push(format!("removed {}", spec.path.display())),
                        None => {}
                    }
                    if kept.is_none() && had_branch && s.created_branch {
                        if !crate::git::local_branch_exists(&project.path, &s.branch) {
                            parts.push(format!("deleted branch {}", s.branch));
                        } else {
                            // Made by this spawn, but it holds commits now: deleting it
                            // would lose them.
                            parts.push(format!(
                                "kept branch {}: it has commits that {} does not (`git log {}..{}`)",
                                s.branch, spec.base_branch, spec.base_branch, s.branch
                            ));
                        }
                    }
                }
                // Killed between making the directory and recording it: only an empty
                // directory can be the spawn's, and removing one loses nothing.
                WorkspaceClaim::Pending => {
                    if std::fs::remove_dir(&spec.path).is_ok() {
                        parts.push(format!("removed the empty {}", spec.path.display()));
                    }
                }
                WorkspaceClaim::None => {}
            }
        }
        self.end_late_runtime(s, &mut parts).await?;
        let _ = std::fs::remove_dir_all(&data_dir);
        let event = Event {
            id: 0,
            at: now_ms(),
            project: s.project.clone(),
            session: Some(s.id.clone()),
            priority: Priority::Info,
            kind: EventKind::SpawnUndone {
                undone: parts.clone(),
            },
            message: format!("{}: spawn undone{}", s.id, listed(&parts)),
        };
        self.store().delete_session_with(&s.id, &event)?;
        Ok(parts)
    }

    /// Ends the agent an interrupted restore may have started and leaves the session
    /// as it was before (ended), so `ao session restore` can run again.
    pub(crate) async fn undo_restore(&self, s: &Session) -> Result<Vec<String>, ManagerError> {
        let mut parts = Vec::new();
        if let Ok(runtime) = self.runtime(&s.runtime_plugin) {
            let handle = match &s.runtime {
                Some(h) => Some(h.clone()),
                None => runtime
                    .find(&s.id, &self.data_dir(&s.id))
                    .await
                    .ok()
                    .flatten(),
            };
            if let Some(h) = handle {
                runtime.destroy(&h).await?;
                parts.push(format!("ended {} session {}", h.runtime, h.id));
            }
        }
        if let Ok(project) = self.project(&s.project) {
            let spec = self.workspace_spec(&project, s);
            match s.workspace_claim {
                // Recreated from the branch and not finished: it holds nothing the
                // branch does not, and a half checkout would read as lost work.
                WorkspaceClaim::Recreating => {
                    let removal = Removal::Discard {
                        created_branch: false,
                    };
                    parts.push(match self.remove_workspace(s, &spec, removal).await? {
                        Some(NotOurs(why)) => format!("kept the workspace: {why}"),
                        None => format!("removed the unfinished {}", spec.path.display()),
                    });
                }
                WorkspaceClaim::Pending => {
                    if std::fs::remove_dir(&spec.path).is_ok() {
                        parts.push(format!("removed the empty {}", spec.path.display()));
                    }
                }
                WorkspaceClaim::None | WorkspaceClaim::Made => {}
            }
        }
        self.end_late_runtime(s, &mut parts).await?;
        self.update(&s.id, |row| {
            if matches!(
                row.workspace_claim,
                WorkspaceClaim::Recreating | WorkspaceClaim::Pending
            ) {
                row.workspace_claim = WorkspaceClaim::Made;
            }
            row.restore_pid = None;
            row.runtime = None;
            row.activity = Some(Activity::Exited);
            let from = row.status;
            if !row.status.is_terminal() {
                row.status = SessionStatus::Killed;
                row.status_reason = Some(StatusReason::RuntimeLost);
            }
            vec![Change::new(
                EventKind::StatusChanged {
                    from,
                    to: row.status,
                },
                Priority::Warning,
                format!(
                    "{}: an interrupted restore was undone; `ao session restore {}` starts it again",
                    row.id, row.id
                ),
            )]
        })?;
        Ok(parts)
    }
}

impl Manager {
    /// A `tmux new-session` sent just before a spawn or restore died can land a moment
    /// after the first look (a tmux server starting up takes it in after answering
    /// others): unless `parts` says a runtime was ended already, looks once more (the
    /// workspace's removal gave it that moment) and ends what it finds.
    async fn end_late_runtime(
        &self,
        s: &Session,
        parts: &mut Vec<String>,
    ) -> Result<(), ManagerError> {
        if parts.iter().any(|p| p.starts_with("ended ")) {
            return Ok(());
        }
        let Ok(runtime) = self.runtime(&s.runtime_plugin) else {
            return Ok(());
        };
        if let Ok(Some(h)) = runtime.find(&s.id, &self.data_dir(&s.id)).await {
            runtime.destroy(&h).await?;
            parts.insert(0, format!("ended {} session {}", h.runtime, h.id));
        }
        Ok(())
    }

    /// With a store that never handed out an id, the runtime sessions ao marked as this
    /// home's are an earlier store's: refuses, naming them, rather than start afresh.
    async fn refuse_lost_store_runtimes(&self) -> Result<(), ManagerError> {
        if !self.store().is_empty()? {
            return Ok(());
        }
        let sessions_dir = self.home.join("sessions");
        let mut runtimes: Vec<String> = self
            .config
            .config
            .projects
            .keys()
            .filter_map(|id| self.config.project(id, &self.env))
            .map(|p| p.runtime)
            .collect();
        runtimes.sort();
        runtimes.dedup();
        let mut found = Vec::new();
        for name in runtimes {
            if let Ok(runtime) = self.runtime(&name)
                && let Ok(names) = runtime.marked(&sessions_dir).await
            {
                found.extend(names.into_iter().map(|n| format!("{name} session {n}")));
            }
        }
        // Looked at again, as in `refuse_lost_store`: another process's spawn may have
        // reserved its id and started its runtime since the first look.
        if found.is_empty() || !self.store().is_empty()? {
            return Ok(());
        }
        Err(ManagerError::refused(
            format!(
                "the store {} holds no sessions, but sessions of an earlier store still run: {}; starting afresh would reuse their ids",
                self.store().path().display(),
                found.join(", ")
            ),
            "put back the store you had (ao.db from a backup), or save their work and end them (`tmux kill-session -t NAME`), then run ao again",
        ))
    }
}

fn listed(parts: &[String]) -> String {
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// The ref a project's branches start from, without fetching: `origin/<default>` when
/// it exists locally, else `<default>`.
pub(crate) fn local_base(project: &ResolvedProject) -> String {
    let remote = format!("origin/{}", project.default_branch);
    if has_ref(&project.path, &format!("refs/remotes/{remote}")) {
        remote
    } else {
        project.default_branch.clone()
    }
}

pub(crate) fn has_ref(repo: &Path, name: &str) -> bool {
    git2::Repository::open(repo)
        .and_then(|r| r.find_reference(name).map(|_| ()))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use crate::fakes::{Fleet, Gate, RuntimeOp, Scripted};

    /// The id of a process that has ended.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    /// A spawn that finishes while another command recovers (its row read in flight,
    /// its process gone by the time it is looked at) finished: its session stays.
    #[tokio::test(flavor = "current_thread")]
    async fn a_spawn_that_finished_while_another_command_recovered_is_not_undone() {
        let fleet = Fleet::new();
        let crashed = fleet.spawn("app", "one").await.unwrap();
        let finished = fleet.spawn("app", "two").await.unwrap();
        let m = fleet.manager();
        // Both in flight as the recovery reads them; the first one's process died.
        let gone = dead_pid();
        for s in [&crashed, &finished] {
            m.update(&s.id, |row| {
                row.spawn_pid = Some(gone);
                Vec::new()
            })
            .unwrap();
        }
        let gate = Gate::new();
        fleet
            .fakes
            .runtime
            .script(RuntimeOp::Destroy, [Scripted::Waits(gate.clone())]);
        let finish = async {
            // While the first is undone, the second's spawn records that it is done, and
            // its process ends.
            gate.reached().await;
            m.update(&finished.id, |row| {
                row.spawn_pid = None;
                Vec::new()
            })
            .unwrap();
            gate.open();
        };
        let (notes, ()) = tokio::join!(m.recover(), finish);
        let notes = notes.unwrap();
        assert!(
            m.store().session(&crashed.id).unwrap().is_none(),
            "{notes:?}"
        );
        assert!(
            m.store().session(&finished.id).unwrap().is_some(),
            "a finished spawn was undone: {notes:?}"
        );
        assert_eq!(fleet.fakes.runtime.destroyed(), [crashed.id.to_string()]);
    }
}
