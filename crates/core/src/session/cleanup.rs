//! `ao session cleanup`: archives finished sessions and removes their workspaces, never
//! one that holds unsaved work.

use super::removal::{NotOurs, Removal};
use super::status::in_flight;
use super::{Manager, ManagerError};
use crate::model::{Activity, SessionId, SessionStatus, StatusReason, now_ms};
use serde::Serialize;

/// One session `cleanup` handled or left alone.
#[derive(Debug, Clone, Serialize)]
pub struct CleanupItem {
    /// The session.
    pub session: SessionId,
    /// What was (or would be) done, or why it was skipped.
    pub detail: String,
}

/// What `cleanup` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanupReport {
    /// Sessions archived, with what was removed.
    pub cleaned: Vec<CleanupItem>,
    /// Sessions left alone, and why.
    pub skipped: Vec<CleanupItem>,
    /// Interrupted spawns that were undone first.
    pub recovered: Vec<String>,
}

impl Manager {
    /// Archives sessions that are finished: killed, merged or done, whose runtime is
    /// dead, or whose issue is completed. A workspace holding unsaved work is skipped,
    /// and its session with it. Branches are kept.
    pub async fn cleanup(
        &self,
        project: Option<&str>,
        dry_run: bool,
    ) -> Result<CleanupReport, ManagerError> {
        let mut report = CleanupReport {
            recovered: if dry_run {
                Vec::new()
            } else {
                self.recover().await?
            },
            ..CleanupReport::default()
        };
        let views = self.status(project, false).await?;
        for view in views {
            let s = view.session;
            if in_flight(&s) {
                continue;
            }
            let Ok(resolved) = self.project(&s.project) else {
                // Its workspace says which config it was spawned with.
                let theirs = s
                    .workspace_path
                    .as_deref()
                    .and_then(crate::config::session_mark)
                    .map(|m| m.config)
                    .filter(|c| *c != self.config.file);
                report.skipped.push(CleanupItem {
                    session: s.id.clone(),
                    detail: match theirs {
                        Some(config) => format!(
                            "it belongs to project `{}` of another config, {}; clean it up with that one (AO_CONFIG_PATH={})",
                            s.project,
                            config.display(),
                            config.display()
                        ),
                        None => format!(
                            "project `{}` is not in this config ({})",
                            s.project,
                            self.config.file.display()
                        ),
                    },
                });
                continue;
            };
            let why = if s.status.is_terminal() {
                Some(match s.status_reason {
                    Some(r) => format!("{} ({r})", s.status),
                    None => s.status.to_string(),
                })
            } else if matches!(view.runtime_state, Some("exited" | "gone")) {
                Some("its agent has exited".to_owned())
            } else if let Some(issue) = &s.issue {
                match self.tracker(&resolved) {
                    Ok(t) => match t.is_completed(issue).await {
                        Ok(true) => Some(format!("issue {issue} is completed")),
                        _ => None,
                    },
                    Err(_) => None,
                }
            } else {
                None
            };
            let Some(why) = why else {
                continue;
            };
            self.clean_one(s, &resolved, why, dry_run, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Archives one finished session (`why` says how it finished) and removes its
    /// workspace, unless that holds unsaved work.
    async fn clean_one(
        &self,
        mut s: crate::model::Session,
        resolved: &crate::config::ResolvedProject,
        why: String,
        dry_run: bool,
        report: &mut CleanupReport,
    ) -> Result<(), ManagerError> {
        let spec = self.workspace_spec(resolved, &s);
        // The orchestrator's is the project's own checkout: left as it is.
        let has_workspace = spec.path.exists() && s.workspace != super::orchestrator::CHECKOUT;
        if has_workspace && let Some(NotOurs(not_ours)) = self.workspace_not_ours(&s, &spec).await?
        {
            report.skipped.push(CleanupItem {
                session: s.id.clone(),
                detail: format!("{why}, but ao does not remove its workspace: {not_ours}"),
            });
            return Ok(());
        }
        if has_workspace {
            let lost = crate::git::unsaved_work(&spec.path, &resolved.default_branch)
                .await
                .unwrap_or_default();
            if !lost.is_empty() {
                report.skipped.push(CleanupItem {
                    session: s.id.clone(),
                    detail: format!(
                        "{why}, but {} holds work that would be lost: {}",
                        spec.path.display(),
                        lost.join("; ")
                    ),
                });
                return Ok(());
            }
        }
        let mut done = vec![why];
        if has_workspace {
            let verb = if dry_run { "would remove" } else { "removed" };
            done.push(format!("{verb} {}", spec.path.display()));
        }
        let verb = if dry_run { "would keep" } else { "kept" };
        done.push(format!("{verb} branch {}", s.branch));
        if !dry_run {
            if let Some(h) = &s.runtime
                && let Ok(r) = self.runtime(&h.runtime)
            {
                r.destroy(h).await?;
            }
            if has_workspace
                && let Some(NotOurs(not_ours)) = self
                    .remove_workspace(&s, &spec, Removal::Destroy { force: false })
                    .await?
            {
                // It changed hands since the check above.
                report.skipped.push(CleanupItem {
                    session: s.id.clone(),
                    detail: format!(
                        "{}, but ao does not remove its workspace: {not_ours}",
                        done[0]
                    ),
                });
                return Ok(());
            }
            let _ = std::fs::remove_dir_all(self.data_dir(&s.id));
            s = self.update(&s.id, |row| {
                if !row.status.is_terminal() {
                    row.status = SessionStatus::Killed;
                    row.status_reason = Some(StatusReason::Cleanup);
                }
                row.activity = Some(Activity::Exited);
                row.archived_at = Some(now_ms());
                Vec::new()
            })?;
        }
        report.cleaned.push(CleanupItem {
            session: s.id.clone(),
            detail: done.join("; "),
        });
        Ok(())
    }

    /// Archives one merged or ended session now (the host's cleanup after a merge).
    pub(crate) async fn cleanup_session(
        &self,
        s: &crate::model::Session,
    ) -> Result<CleanupReport, ManagerError> {
        let resolved = self.project(&s.project)?;
        let why = match s.status_reason {
            Some(r) => format!("{} ({r})", s.status),
            None => s.status.to_string(),
        };
        let mut report = CleanupReport::default();
        self.clean_one(s.clone(), &resolved, why, false, &mut report)
            .await?;
        Ok(report)
    }
}
