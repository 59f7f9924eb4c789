//! Pushes from the scm (a verified webhook delivery): which pull requests changed, so
//! the host reads those at once instead of waiting for its next poll. A delivery names
//! its repository and some of: PR numbers, head commits, branches. The receiver (the
//! dashboard's server, in the same process) hands each to [`nudge`]; the running host
//! listens ([`listen`]), finds the live sessions it means ([`Manager::sessions_nudged`])
//! and reads only their pull requests ([`Manager::refresh_nudged`]).

use super::{Manager, ManagerError, RefreshReport};
use crate::model::SessionId;
use crate::store::SessionFilter;
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use tokio::sync::broadcast;

/// What one delivery says changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Nudge {
    /// The repository, as the scm names it (`owner/name`).
    pub repo: String,
    /// Pull request numbers it names.
    #[serde(default)]
    pub prs: Vec<u64>,
    /// Head commits it names (a status or a check on a commit).
    #[serde(default)]
    pub shas: Vec<String>,
    /// Branches it names (a push, a pull request's head).
    #[serde(default)]
    pub branches: Vec<String>,
    /// The scm's name of the event (`check_run`, `pull_request`, ...).
    pub event: String,
    /// The scm's id of the delivery.
    #[serde(default)]
    pub delivery: String,
    /// When it arrived (milliseconds since 1970).
    pub at: i64,
    /// The projects whose secret verified it: it is about their sessions only (every
    /// project's, when empty).
    #[serde(default)]
    pub projects: Vec<String>,
}

/// Deliveries not yet taken by the host, at most; more and it reads everything.
const QUEUE: usize = 256;

static NUDGES: LazyLock<broadcast::Sender<Arc<Nudge>>> =
    LazyLock::new(|| broadcast::channel(QUEUE).0);

/// Hands a verified delivery to the host of this process; false when none listens.
pub fn nudge(n: Nudge) -> bool {
    NUDGES.send(Arc::new(n)).is_ok()
}

/// The host's end: every delivery from now on.
pub(crate) fn listen() -> broadcast::Receiver<Arc<Nudge>> {
    NUDGES.subscribe()
}

/// The prefix of where the host records the last verified delivery of a project.
pub const LAST_DELIVERY: &str = "webhook:last";

impl Manager {
    /// The live sessions (of `projects`, every project when empty) whose pull request
    /// `n` names: by number or head commit in its repository, or by branch.
    pub fn sessions_nudged(
        &self,
        n: &Nudge,
        projects: &[String],
    ) -> Result<Vec<SessionId>, ManagerError> {
        let snapshots = self.store().pr_snapshots_shared()?;
        let sessions = self.store().sessions_shared(&SessionFilter::default())?;
        let mut out = Vec::new();
        for s in sessions.iter() {
            if s.id.is_orchestrator()
                || s.status.is_terminal()
                || (!projects.is_empty() && !projects.contains(&s.project))
                || (!n.projects.is_empty() && !n.projects.contains(&s.project))
            {
                continue;
            }
            let Ok(p) = self.resolved_project(&s.project) else {
                continue;
            };
            let same_repo = p
                .repo
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(&n.repo));
            if !same_repo {
                continue;
            }
            let by_number = s.pr.as_ref().is_some_and(|pr| n.prs.contains(&pr.number));
            let by_head = snapshots
                .get(&s.id)
                .is_some_and(|snap| n.shas.contains(&snap.status.head_sha));
            let by_branch = n.branches.contains(&s.branch);
            if by_number || by_head || by_branch {
                out.push(s.id.clone());
            }
        }
        Ok(out)
    }

    /// Reads the pull requests of `sessions` only (finding one for a branch that has
    /// none yet), and moves the sessions of `projects` (every project when empty) as a
    /// poll would.
    pub async fn refresh_nudged(
        &self,
        sessions: &[SessionId],
        projects: &[String],
    ) -> Result<RefreshReport, ManagerError> {
        let only: HashSet<SessionId> = sessions.iter().cloned().collect();
        self.refresh_only(&only, projects).await
    }

    /// The projects `n` is a delivery of: those it may be about (the projects whose
    /// secret signed it) whose repository it names. Only these count as hearing from
    /// their webhook.
    pub(crate) fn delivered_for(&self, n: &Nudge) -> Vec<String> {
        self.config
            .config
            .projects
            .iter()
            .filter(|(id, _)| n.projects.is_empty() || n.projects.contains(id))
            .filter(|(_, p)| {
                p.repo
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(&n.repo))
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Records `n` as the last verified delivery of each project it is a delivery of.
    pub(crate) fn record_delivery(&self, n: &Nudge) {
        let Ok(v) = serde_json::to_string(n) else {
            return;
        };
        for p in self.delivered_for(n) {
            let _ = self.store().set_scm_state(&last_delivery_key(&p), &v);
        }
    }

    /// The last verified delivery for `project` any host recorded.
    pub fn last_delivery(&self, project: &str) -> Option<Nudge> {
        let (v, _) = self.store().scm_state(&last_delivery_key(project)).ok()??;
        serde_json::from_str(&v).ok()
    }

    /// The projects of `projects` (every project when empty), when every one receives
    /// its scm's webhooks (`scm.webhook` set and not `enabled: false`): only then may
    /// the periodic poll stretch while deliveries arrive.
    pub(crate) fn pushed_projects(&self, projects: &[String]) -> Option<Vec<String>> {
        let config = &self.config.config;
        let ids: Vec<String> = config
            .projects
            .keys()
            .filter(|id| projects.is_empty() || projects.contains(id))
            .cloned()
            .collect();
        let all = !ids.is_empty()
            && ids.iter().all(|id| {
                config.projects[id]
                    .scm
                    .as_ref()
                    .and_then(|s| s.options.get("webhook"))
                    .is_some_and(|w| w.get("enabled").and_then(|e| e.as_bool()) != Some(false))
            });
        all.then_some(ids)
    }
}

/// Where the host records the last verified delivery for `project`, for `ao doctor`.
pub fn last_delivery_key(project: &str) -> String {
    format!("{LAST_DELIVERY}:{project}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nudge_reaches_each_listener_and_none_is_said_when_nobody_listens() {
        let n = Nudge {
            repo: "acme/app".into(),
            prs: vec![3],
            event: "check_run".into(),
            at: 1,
            ..Nudge::default()
        };
        let mut rx = listen();
        assert!(nudge(n.clone()));
        assert_eq!(*rx.try_recv().unwrap(), n);
        drop(rx);
        // Another test's listener may be open at the same time; without one the send
        // says so.
        if NUDGES.receiver_count() == 0 {
            assert!(!nudge(n));
        }
    }
}
