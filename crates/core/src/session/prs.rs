//! Sessions' pull requests: finding each session's PR by its branch, reading them all in
//! one batched poll per scm (only the changed ones in full), keeping the last reading in
//! the store (what `ao status` shows without network), and merging one guarded by the
//! head SHA it was checked at.

use super::{Manager, ManagerError};
use crate::config::ResolvedProject;
use crate::model::{PrRef, Session, SessionId, SessionStatus, StatusReason, now_ms};
use crate::plugin::{CheckState, MergeMethod, MergeParams, PrState, PrStatus, ReviewDecision, Scm};
use crate::registry::Factory;
use crate::store::{Change, PrSnapshot, SessionFilter};
use std::collections::HashMap;
use std::sync::Arc;

/// What one poll did.
#[derive(Debug, Default)]
pub struct RefreshReport {
    /// Sessions whose PR was read anew.
    pub read: usize,
    /// Sessions whose PR was unchanged since the last reading.
    pub unchanged: usize,
    /// Sessions whose PR could not be read, with why (their last reading is kept, stale).
    pub failed: Vec<(SessionId, String)>,
    /// Sessions whose PR was found by its branch in this poll.
    pub detected: Vec<SessionId>,
}

/// A PR's CI as a whole: `passing`, `failing`, `pending` or `none` (no checks).
pub fn ci_rollup(status: &PrStatus) -> &'static str {
    if status.checks.is_empty() {
        "none"
    } else if status.checks.iter().any(|c| c.state == CheckState::Failed) {
        "failing"
    } else if status.checks.iter().any(|c| c.state == CheckState::Pending) {
        "pending"
    } else {
        "passing"
    }
}

/// The review verdict as `ao status` words it.
pub fn review_word(status: &PrStatus) -> &'static str {
    match status.review {
        ReviewDecision::Approved => "approved",
        ReviewDecision::ChangesRequested => "changes_requested",
        ReviewDecision::Pending => "pending",
    }
}

/// What stands between a PR and its merge, each in a few words; empty when it can merge.
pub fn blockers(status: &PrStatus) -> Vec<String> {
    let mut out = Vec::new();
    match status.state {
        PrState::Merged => out.push("it is merged already".to_owned()),
        PrState::Closed => out.push("it is closed".to_owned()),
        PrState::Open => {}
    }
    if status.draft {
        out.push("it is a draft".into());
    }
    let failing: Vec<&str> = status
        .checks
        .iter()
        .filter(|c| c.state == CheckState::Failed)
        .map(|c| c.name.as_str())
        .collect();
    if !failing.is_empty() {
        out.push(format!("checks failing: {}", failing.join(", ")));
    }
    let pending: Vec<&str> = status
        .checks
        .iter()
        .filter(|c| c.state == CheckState::Pending)
        .map(|c| c.name.as_str())
        .collect();
    if !pending.is_empty() {
        out.push(format!("checks pending: {}", pending.join(", ")));
    }
    match status.review {
        ReviewDecision::Approved => {}
        ReviewDecision::ChangesRequested => out.push("a reviewer asked for changes".into()),
        ReviewDecision::Pending => out.push("no approving review yet".into()),
    }
    if status.conflicts {
        out.push("it conflicts with its base".into());
    }
    if status.behind_base {
        out.push("its branch is behind its base".into());
    }
    if out.is_empty() && !status.mergeable {
        out.push("GitHub does not consider it mergeable yet".into());
    }
    out
}

impl Manager {
    /// The project's scm, told its repository.
    pub(crate) fn scm(&self, project: &ResolvedProject) -> Result<Arc<dyn Scm>, ManagerError> {
        self.build(
            crate::plugin::Slot::Scm,
            &project.scm,
            &["projects", &project.id, "scm"],
            project.repo.as_deref(),
            |f| match f {
                Factory::Scm(b) => Some(b),
                _ => None,
            },
        )
    }

    /// Every session's last PR reading.
    pub fn pr_snapshots(&self) -> Result<HashMap<SessionId, PrSnapshot>, ManagerError> {
        Ok(self.store().pr_snapshots()?)
    }

    /// One poll of the PRs of the project's (or every project's) live sessions: PRs not
    /// known yet are looked up by branch, then every PR is read in one batched call per
    /// scm, only the changed ones in full. A PR that cannot be read keeps its last
    /// reading, marked stale.
    pub async fn refresh_prs(&self, project: Option<&str>) -> Result<RefreshReport, ManagerError> {
        let sessions: Vec<Session> = self
            .store()
            .sessions(&SessionFilter {
                project: project.map(str::to_owned),
                include_archived: false,
            })?
            .into_iter()
            .filter(|s| !s.branch.is_empty())
            .collect();
        let mut report = RefreshReport::default();
        // Projects that name the same scm section share one instance and one batch.
        let mut groups: Vec<(String, Arc<dyn Scm>, Vec<Session>)> = Vec::new();
        for s in sessions {
            let Ok(p) = self.project(&s.project) else {
                continue;
            };
            let key = format!(
                "{}|{:?}",
                p.scm,
                self.config
                    .tree
                    .at(&["projects", &p.id, "scm"])
                    .map(|n| format!("{n:?}"))
            );
            match groups.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, _, list)) => list.push(s),
                None => match self.scm(&p) {
                    Ok(scm) => groups.push((key, scm, vec![s])),
                    Err(e) => report.failed.push((s.id.clone(), e.to_string())),
                },
            }
        }
        let snapshots = self.store().pr_snapshots()?;
        for (_, scm, list) in groups {
            // Branches without a known PR, by repository.
            let mut by_repo: HashMap<(String, String), Vec<usize>> = HashMap::new();
            for (i, s) in list.iter().enumerate() {
                if s.pr.is_none()
                    && !s.status.is_terminal()
                    && let Some((owner, repo)) = self
                        .project(&s.project)
                        .ok()
                        .and_then(|p| p.repo)
                        .and_then(|r| r.split_once('/').map(|(o, n)| (o.to_owned(), n.to_owned())))
                {
                    by_repo.entry((owner, repo)).or_default().push(i);
                }
            }
            let mut list = list;
            for ((owner, repo), idx) in by_repo {
                let branches: Vec<String> = idx.iter().map(|&i| list[i].branch.clone()).collect();
                match scm.detect_prs(&owner, &repo, &branches).await {
                    Ok(found) => {
                        for (&i, pr) in idx.iter().zip(found) {
                            let Some(pr) = pr else { continue };
                            let id = list[i].id.clone();
                            let number = pr.number;
                            let url = pr.url.clone();
                            list[i] = self.update(&id, |row| {
                                row.pr = Some(pr);
                                vec![Change::new(
                                    crate::model::EventKind::PrDetected { number },
                                    crate::model::Priority::Info,
                                    format!("pull request #{number} found for its branch: {url}"),
                                )]
                            })?;
                            report.detected.push(id);
                        }
                    }
                    Err(e) => {
                        for &i in &idx {
                            report.failed.push((list[i].id.clone(), e.to_string()));
                        }
                    }
                }
            }
            let with_pr: Vec<&Session> = list.iter().filter(|s| s.pr.is_some()).collect();
            if with_pr.is_empty() {
                continue;
            }
            let prs: Vec<PrRef> = with_pr.iter().filter_map(|s| s.pr.clone()).collect();
            let known: Vec<Option<String>> = with_pr
                .iter()
                .map(|s| {
                    snapshots
                        .get(&s.id)
                        .filter(|snap| {
                            !snap.stale
                                && snap.status.pr.number == s.pr.as_ref().map_or(0, |p| p.number)
                        })
                        .map(|snap| snap.status.fingerprint.clone())
                })
                .collect();
            let results = scm.enrich(&prs, &known).await;
            let at = now_ms();
            for (s, r) in with_pr.iter().zip(results) {
                let mut store = self.store();
                match r {
                    Ok(Some(status)) => {
                        store.record_pr_snapshot(&s.id, &status, at)?;
                        report.read += 1;
                    }
                    Ok(None) => {
                        store.confirm_pr_snapshot(&s.id, at)?;
                        report.unchanged += 1;
                    }
                    Err(e) => {
                        store.mark_pr_stale(&s.id, &e.to_string())?;
                        report.failed.push((s.id.clone(), e.to_string()));
                    }
                }
            }
        }
        Ok(report)
    }

    /// Merges a session's PR: reads it now, refuses with its blockers unless it can be
    /// merged, and merges only the head it checked (a branch that moves in between is
    /// refused by the scm).
    pub async fn merge(
        &self,
        id: &str,
        method: MergeMethod,
        delete_branch: bool,
    ) -> Result<PrStatus, ManagerError> {
        let s = self.session(id)?;
        let Some(pr) = s.pr.clone() else {
            // Perhaps it was opened since the last poll.
            self.refresh_prs(Some(&s.project)).await?;
            let s = self.session(id)?;
            if s.pr.is_none() {
                return Err(ManagerError::refused(
                    format!(
                        "{id} has no pull request (none for its branch {})",
                        s.branch
                    ),
                    "the agent opens one with `gh pr create`; `ao status --refresh` looks again",
                ));
            }
            return Box::pin(self.merge(id, method, delete_branch)).await;
        };
        let project = self.project(&s.project)?;
        let scm = self.scm(&project)?;
        let mut results = scm.enrich(std::slice::from_ref(&pr), &[None]).await;
        let status = match results.pop() {
            Some(Ok(Some(status))) => status,
            Some(Err(e)) => {
                return Err(ManagerError::refused(
                    format!(
                        "{id}: its pull request #{} could not be read, so it was not merged: {e}",
                        pr.number
                    ),
                    "try again once GitHub answers",
                ));
            }
            _ => {
                return Err(ManagerError::plain(format!(
                    "{id}: its pull request #{} could not be read, so it was not merged",
                    pr.number
                )));
            }
        };
        self.store().record_pr_snapshot(&s.id, &status, now_ms())?;
        let blockers = blockers(&status);
        if !blockers.is_empty() {
            return Err(ManagerError::refused(
                format!(
                    "{id}: pull request #{} was not merged: {}",
                    pr.number,
                    blockers.join("; ")
                ),
                "`ao status --refresh` shows it again once that changes",
            ));
        }
        scm.merge(&MergeParams {
            pr: pr.clone(),
            method,
            head_sha: status.head_sha.clone(),
            delete_branch,
        })
        .await?;
        let merged = PrStatus {
            state: PrState::Merged,
            mergeable: false,
            ..status
        };
        self.store().record_pr_snapshot(&s.id, &merged, now_ms())?;
        let number = pr.number;
        let sha = merged.head_sha.clone();
        self.update(&s.id, |row| {
            row.status = SessionStatus::Merged;
            row.status_reason = Some(StatusReason::User);
            vec![Change::new(
                crate::model::EventKind::PrMerged {
                    number,
                    sha: sha.clone(),
                },
                crate::model::Priority::Info,
                format!("pull request #{number} merged at {sha}"),
            )]
        })?;
        Ok(merged)
    }
}

/// `SessionView`'s fields from a PR snapshot.
pub fn snapshot_fields(snap: &PrSnapshot) -> serde_json::Value {
    let st = &snap.status;
    serde_json::json!({
        "pr": { "number": st.pr.number, "url": st.pr.url, "state": match st.state { PrState::Open => "open", PrState::Merged => "merged", PrState::Closed => "closed" } },
        "ci": ci_rollup(st),
        "failed_checks": st.checks.iter().filter(|c| c.state == CheckState::Failed).map(|c| c.name.clone()).collect::<Vec<_>>(),
        "review": review_word(st),
        "unresolved_threads": st.unresolved_threads.len(),
        "mergeable": st.mergeable,
        "stale": snap.stale,
        "fetched_at": snap.fetched_at,
    })
}
