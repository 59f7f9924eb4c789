//! Sessions' pull requests: finding each session's PR by its branch, reading them all in
//! one batched poll per scm (only the changed ones in full), keeping the last reading in
//! the store (what `ao status` shows without network), and merging one guarded by the
//! head SHA it was checked at.

use super::{Manager, ManagerError};
use crate::config::ResolvedProject;
use crate::model::time::utc_clock as clock;
use crate::model::{PrRef, RepoId, Session, SessionId, SessionStatus, StatusReason, now_ms};
use crate::plugin::{CheckState, MergeMethod, MergeParams, PrState, PrStatus, ReviewDecision, Scm};
use crate::registry::Factory;
use crate::store::{Change, PrSnapshot, SessionFilter};
use std::collections::HashMap;
use std::sync::Arc;

/// Polls in a row that failed for the scm as a whole before ao stops asking for a while.
const BREAKER_FAILURES: u32 = 3;
/// How long ao stops asking then.
const BREAKER_OPEN_MS: i64 = 5 * 60 * 1000;

/// An scm's failure count and pause, kept in the store so every process honours it.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Breaker {
    failures: u32,
    open_until: i64,
    /// Why it is open when the scm itself asked ao to wait (its `retry-after`), rather
    /// than after failed polls.
    #[serde(default)]
    asked: Option<String>,
}

impl Breaker {
    /// Opens it for as long as `e` asks, when `e` is the scm asking ao to wait.
    fn honour(&mut self, e: &crate::plugin::PluginError, now: i64) {
        if let crate::plugin::PluginError::Transient {
            retry_after_ms: Some(ms),
            ..
        } = e
        {
            let until = now + *ms as i64;
            if until > self.open_until {
                self.open_until = until;
                self.asked = Some(format!("it asked ao to wait {} s", ms / 1000));
            }
        }
    }
}

/// How long to wait between polls, from `base`: longer as the budget runs low, so a
/// fleet never spends its last requests (a quarter left: twice as long; a tenth: four
/// times; none: until the window resets).
pub fn poll_interval(base_ms: i64, budget: Option<&crate::plugin::Budget>, now_ms: i64) -> i64 {
    let Some(b) = budget.filter(|b| b.limit > 0) else {
        return base_ms;
    };
    let left = b.remaining as f64 / b.limit as f64;
    if b.remaining == 0 {
        (b.reset * 1000 - now_ms).max(base_ms)
    } else if left < 0.1 {
        base_ms * 4
    } else if left < 0.25 {
        base_ms * 2
    } else {
        base_ms
    }
}

/// The longest a command waits for the scm (`ao status --refresh`, `ao session merge`):
/// past it, the last reading is shown and said to be the last.
pub const SCM_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

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
    /// What the user should know (a repository renamed on the scm).
    pub notes: Vec<String>,
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
/// `scm_name` is what the scm calls itself ([`Scm::display_name`]).
pub fn blockers(status: &PrStatus, scm_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    match status.state {
        PrState::Merged => out.push("it is merged already".to_owned()),
        PrState::Closed => out.push("it is closed".to_owned()),
        PrState::Open => {}
    }
    if status.draft {
        out.push("it is a draft".into());
    }
    let named = |state: CheckState| {
        status
            .checks
            .iter()
            .filter(|c| c.state == state)
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (state, what) in [
        (CheckState::Failed, "failing"),
        (CheckState::Pending, "pending"),
    ] {
        let names = named(state);
        if !names.is_empty() {
            out.push(format!("checks {what}: {names}"));
        }
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
        out.push(format!("{scm_name} does not consider it mergeable yet"));
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
        let report = self.read_prs(project).await?;
        // What was read moves its sessions at once, by the probe's rules and on the
        // agents as the last probe saw them (see [`Manager::decide_readings`]).
        self.decide_readings(project)?;
        Ok(report)
    }

    /// Reads the pull requests of `project` (every project: None) and stores each
    /// reading, deciding nothing.
    async fn read_prs(&self, project: Option<&str>) -> Result<RefreshReport, ManagerError> {
        let sessions: Vec<Session> = self
            .store()
            .sessions(&SessionFilter {
                project: project.map(str::to_owned),
                include_archived: false,
            })?
            .into_iter()
            // The orchestrator's branch is the checkout's: no pull request of its own.
            .filter(|s| !s.branch.is_empty() && !s.id.is_orchestrator())
            .collect();
        let mut report = RefreshReport::default();
        // Projects that name the same scm section share one instance and one batch.
        let mut groups: Vec<(String, Arc<dyn Scm>, Vec<Session>)> = Vec::new();
        for s in sessions {
            let Ok(p) = self.project(&s.project) else {
                continue;
            };
            // What the section says, not where: identical sections are one scm.
            let key = format!(
                "{}|{}",
                p.scm,
                self.config
                    .tree
                    .at(&["projects", &p.id, "scm"])
                    .map(super::plugins::meaning)
                    .unwrap_or_default()
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
        for (key, scm, list) in groups {
            let breaker_key = format!("breaker:{:016x}", fnv(&key));
            let mut breaker: Breaker = self
                .store()
                .scm_state(&breaker_key)?
                .and_then(|(v, _)| serde_json::from_str(&v).ok())
                .unwrap_or_default();
            let now = now_ms();
            if breaker.open_until > now {
                let why = match &breaker.asked {
                    Some(asked) => format!(
                        "{} is not asked until {}: {asked} (the last reading is shown)",
                        scm.display_name(),
                        clock(breaker.open_until)
                    ),
                    None => format!(
                        "{} is not asked until {} after {} failed polls in a row (the last reading is shown)",
                        scm.display_name(),
                        clock(breaker.open_until),
                        breaker.failures
                    ),
                };
                report.notes.push(why.clone());
                for s in list.iter().filter(|s| s.pr.is_some()) {
                    self.store().mark_pr_stale(&s.id, &why)?;
                }
                continue;
            }
            let (failures_before, read_before) =
                (report.failed.len(), report.read + report.unchanged);
            // Branches without a known PR, by repository (as the scm reads the project's).
            let mut by_repo: HashMap<RepoId, Vec<usize>> = HashMap::new();
            for (i, s) in list.iter().enumerate() {
                // A session whose agent ended by itself is looked for too: a one-shot
                // agent may have opened its PR on its way out.
                if s.pr.is_some()
                    || !crate::lifecycle::follows_pr(crate::lifecycle::Decision {
                        status: s.status,
                        reason: s.status_reason,
                    })
                {
                    continue;
                }
                let Ok(project) = self.project(&s.project) else {
                    continue;
                };
                match self.project_repo(&project, scm.as_ref()) {
                    Ok(Some(repo)) => by_repo.entry(repo).or_default().push(i),
                    Ok(None) => {}
                    Err(e) => report.failed.push((s.id.clone(), e.to_string())),
                }
            }
            let mut list = list;
            for (repo, idx) in by_repo {
                let branches: Vec<String> = idx.iter().map(|&i| list[i].branch.clone()).collect();
                match scm.detect_prs(&repo, &branches).await {
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
                        breaker.honour(&e, now_ms());
                        for &i in &idx {
                            report.failed.push((list[i].id.clone(), e.to_string()));
                        }
                    }
                }
            }
            let with_pr: Vec<&Session> = list.iter().filter(|s| s.pr.is_some()).collect();
            // Asked to wait while looking up branches: nothing more is sent.
            let asked_to_wait = breaker.open_until > now_ms();
            if with_pr.is_empty() || asked_to_wait {
                if asked_to_wait {
                    let why = breaker.asked.clone().unwrap_or_default();
                    for s in &with_pr {
                        self.store().mark_pr_stale(&s.id, &why)?;
                    }
                    self.store().set_scm_state(
                        &breaker_key,
                        &serde_json::to_string(&breaker).unwrap_or_default(),
                    )?;
                }
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
            for s in &with_pr {
                if let Some(snap) = snapshots.get(&s.id) {
                    scm.remember(&snap.status);
                }
            }
            // When it was asked, not answered: a reading is as old as the question.
            let at = now_ms();
            let results = scm.enrich(&prs, &known).await;
            for (s, r) in with_pr.iter().zip(results) {
                let mut store = self.store();
                match r {
                    Ok(Some(status)) => {
                        store.record_pr_snapshot(&s.id, &status, at)?;
                        report.read += 1;
                        drop(store);
                        let old = s.pr.clone().unwrap_or_else(|| status.pr.clone());
                        let (was, is) = (old.repo_id(), status.pr.repo_id());
                        if !was.same(&is) {
                            report.notes.push(format!(
                                "{was} is now {is} (renamed): {}'s pull request #{} is followed there; set the project's `repo` to {is}",
                                s.id, old.number
                            ));
                        }
                        // The scm's own reference from now on: where the repository
                        // is now, and the address it gives.
                        if old != status.pr {
                            let moved = status.pr.clone();
                            self.update(&s.id, |row| {
                                row.pr = Some(moved);
                                Vec::new()
                            })?;
                        }
                    }
                    Ok(None) => {
                        store.confirm_pr_snapshot(&s.id, at)?;
                        report.unchanged += 1;
                    }
                    Err(e) => {
                        breaker.honour(&e, at);
                        store.mark_pr_stale(&s.id, &e.to_string())?;
                        report.failed.push((s.id.clone(), e.to_string()));
                    }
                }
            }
            // The whole poll failed (nothing read, something failed): count it; enough
            // in a row open the breaker. Anything read closes it.
            let failed_now = report.failed.len() > failures_before;
            let read_now = report.read + report.unchanged > read_before;
            if failed_now && !read_now {
                breaker.failures += 1;
                if breaker.failures >= BREAKER_FAILURES
                    && now_ms() + BREAKER_OPEN_MS > breaker.open_until
                {
                    breaker.open_until = now_ms() + BREAKER_OPEN_MS;
                    breaker.asked = None;
                    let note = format!(
                        "{} polls in a row failed: {} is not asked again until {}",
                        breaker.failures,
                        scm.display_name(),
                        clock(breaker.open_until)
                    );
                    tracing::warn!("{note}");
                    report.notes.push(note);
                }
            } else if read_now && breaker.open_until <= now_ms() {
                breaker = Breaker::default();
            }
            let mut store = self.store();
            store.set_scm_state(
                &breaker_key,
                &serde_json::to_string(&breaker).unwrap_or_default(),
            )?;
            if let Some(budget) = scm.budget() {
                store.set_scm_state(
                    &format!("budget:{:016x}", fnv(&key)),
                    &serde_json::to_string(&budget).unwrap_or_default(),
                )?;
            }
        }
        Ok(report)
    }

    /// Moves a claimed session to the status its fresh PR reading decides (the
    /// lifecycle's one transition function), through the single write path with a
    /// `status_changed` event. The poll does not: it stores the reading, and the next
    /// probe decides from it and from the agent together.
    pub(crate) fn apply_pr(&self, s: &Session, status: &PrStatus) -> Result<(), ManagerError> {
        use crate::lifecycle::{AgentFact, Observation, Policy, PrFact};
        let obs = Observation {
            agent: AgentFact::Running {
                activity: s.activity,
                last_active_at: None,
            },
            pr: PrFact::Read(Box::new(status.clone())),
        };
        let why = format!(" (pull request #{})", status.pr.number);
        let now = now_ms();
        let decide =
            |row: &mut Session| super::status::decide(row, &obs, &Policy::default(), now, &why);
        if decide(&mut s.clone()).is_empty() {
            return Ok(());
        }
        self.update(&s.id, decide)?;
        Ok(())
    }

    /// The last request budget each scm reported, from any process.
    pub fn scm_budgets(&self) -> Result<Vec<crate::plugin::Budget>, ManagerError> {
        Ok(self
            .store()
            .scm_states("budget:")?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_str(&v).ok())
            .collect())
    }

    /// [`Manager::refresh_prs`] within `deadline`: past it, the poll is given up, every
    /// reading it did not renew is kept and marked stale, and a note says since when.
    pub async fn refresh_prs_within(
        &self,
        project: Option<&str>,
        deadline: std::time::Duration,
    ) -> Result<RefreshReport, ManagerError> {
        let started = now_ms();
        if let Ok(done) = tokio::time::timeout(deadline, self.refresh_prs(project)).await {
            return done;
        }
        let snapshots = self.store().pr_snapshots()?;
        let mut last = None;
        let mut stale = Vec::new();
        for s in self.store().sessions(&SessionFilter {
            project: project.map(str::to_owned),
            include_archived: false,
        })? {
            if let Some(snap) = snapshots.get(&s.id)
                && snap.fetched_at < started
            {
                last = last.max(Some(snap.fetched_at));
                stale.push(s.id);
            }
        }
        let why = format!(
            "the scm did not answer within {} s; {}",
            deadline.as_secs(),
            match last {
                Some(at) => format!("the last reading is from {}", clock(at)),
                None => "nothing was read yet".to_owned(),
            }
        );
        for id in &stale {
            self.store().mark_pr_stale(id, &why)?;
        }
        Ok(RefreshReport {
            notes: vec![why],
            ..RefreshReport::default()
        })
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
        self.merge_as(id, method, delete_branch, None, None).await
    }

    /// Merges a session's PR for the host: as [`Manager::merge`], and only when CI vouches
    /// for the head it reads now ([`Manager::ci_holds`]; `require_checks` as the reaction
    /// says): a head pushed since the reaction decided is not merged on the old one's CI.
    pub async fn auto_merge(
        &self,
        id: &str,
        method: MergeMethod,
        require_checks: bool,
    ) -> Result<PrStatus, ManagerError> {
        self.merge_as(id, method, false, Some(require_checks), None)
            .await
    }

    /// The host's merge of head `head_sha`, decided earlier (perhaps by a host that has
    /// since stopped): merged already at that head is the merge done (recorded now, if
    /// it was not); a head that moved is refused; otherwise [`Manager::auto_merge`].
    pub(crate) async fn merge_decided(
        &self,
        id: &str,
        method: MergeMethod,
        require_checks: bool,
        head_sha: &str,
    ) -> Result<PrStatus, ManagerError> {
        self.merge_as(id, method, false, Some(require_checks), Some(head_sha))
            .await
    }

    /// What holds a session's auto-merge back, from its PR reading `pr`: checks running,
    /// failing, or none on the head (see [`crate::ci`]); `None` when CI vouches for it.
    pub async fn ci_holds(
        &self,
        s: &Session,
        pr: &PrStatus,
        require_checks: bool,
    ) -> Result<Option<String>, ManagerError> {
        use crate::ci::{Seen, Verdict};
        let now = now_ms();
        // A reading from before ao kept first sightings (or from another path): seen now.
        self.store().note_head_seen(&s.id, &pr.head_sha)?;
        let seen = Seen {
            head_seen_at: self
                .store()
                .head_seen_at(&s.id, &pr.head_sha)?
                .unwrap_or(now),
            now,
            grace_ms: self.ci_grace_ms(),
            require_checks,
        };
        let verdict = match crate::ci::verdict(pr, &seen) {
            Verdict::NoChecks => {
                // Asked only where the answer can let it merge.
                let runs = if require_checks {
                    None
                } else {
                    // Not known (the scm cannot tell, or failed to): held, and said so.
                    match self.project(&s.project).and_then(|p| self.scm(&p)) {
                        Ok(scm) => scm.runs_ci(&pr.pr.repo_id()).await.unwrap_or(None),
                        Err(_) => None,
                    }
                };
                crate::ci::no_checks(pr, &seen, runs)
            }
            v => v,
        };
        Ok(match verdict {
            Verdict::Green => None,
            Verdict::Wait(why) | Verdict::Failing(why) => Some(why),
            Verdict::NoChecks => Some("no check ran on its head".into()),
        })
    }

    /// `lifecycle.ciGracePeriod` in milliseconds.
    fn ci_grace_ms(&self) -> i64 {
        self.config
            .config
            .lifecycle
            .as_ref()
            .and_then(|l| l.ci_grace_period.as_deref())
            .and_then(crate::notify::parse_duration)
            .map_or(crate::ci::CI_GRACE_PERIOD_MS, |d| d.as_millis() as i64)
    }

    async fn merge_as(
        &self,
        id: &str,
        method: MergeMethod,
        delete_branch: bool,
        ci: Option<bool>,
        decided_at: Option<&str>,
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
                    "once its agent opens one, `ao status --refresh` finds it",
                ));
            }
            return Box::pin(self.merge_as(id, method, delete_branch, ci, decided_at)).await;
        };
        let project = self.project(&s.project)?;
        let scm = self.scm(&project)?;
        let read = scm.enrich(std::slice::from_ref(&pr), &[None]);
        let Ok(mut results) = tokio::time::timeout(SCM_DEADLINE, read).await else {
            return Err(ManagerError::refused(
                format!(
                    "{id}: its pull request #{} was not merged: the scm did not answer within {} s",
                    pr.number,
                    SCM_DEADLINE.as_secs()
                ),
                "try again once it answers; `ao status --refresh` reads it again",
            ));
        };
        let status = match results.pop() {
            Some(Ok(Some(status))) => status,
            Some(Err(e)) => {
                return Err(ManagerError::refused(
                    format!(
                        "{id}: its pull request #{} could not be read, so it was not merged: {e}",
                        pr.number
                    ),
                    format!("try again once {} answers", scm.display_name()),
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
        // Merged at the head decided on: the merge asked for earlier went through.
        let done =
            decided_at.is_some_and(|h| status.state == PrState::Merged && status.head_sha == h);
        if let Some(head) = decided_at
            && !done
            && status.state == PrState::Open
            && status.head_sha != head
        {
            return Err(ManagerError::refused(
                format!(
                    "{id}: pull request #{} was not merged: its head moved from {head} to {} since the merge was decided",
                    pr.number, status.head_sha
                ),
                "the host decides again on the new head once its CI has run",
            ));
        }
        let mut blockers = if done {
            Vec::new()
        } else {
            blockers(&status, &scm.display_name())
        };
        if blockers.is_empty()
            && !done
            && let Some(require_checks) = ci
            && let Some(why) = self.ci_holds(&s, &status, require_checks).await?
        {
            blockers.push(why);
        }
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
        if !done {
            scm.merge(&MergeParams {
                pr: pr.clone(),
                method,
                head_sha: status.head_sha.clone(),
                delete_branch,
            })
            .await?;
        }
        let merged = PrStatus {
            state: PrState::Merged,
            mergeable: false,
            ..status
        };
        self.store().record_pr_snapshot(&s.id, &merged, now_ms())?;
        let number = pr.number;
        let sha = merged.head_sha.clone();
        self.update(&s.id, |row| {
            if row.status == SessionStatus::Merged {
                return Vec::new();
            }
            row.status = SessionStatus::Merged;
            // Who merged: the user (`ao session merge`) or the host's auto-merge.
            row.status_reason = Some(if ci.is_some() {
                StatusReason::AutoMerge
            } else {
                StatusReason::User
            });
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

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
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
        "stale_reason": snap.error,
        "fetched_at": snap.fetched_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Budget;

    #[test]
    fn the_poll_stretches_as_the_budget_runs_low() {
        let b = |remaining| Budget {
            remaining,
            limit: 5000,
            reset: 2_000,
        };
        assert_eq!(poll_interval(30_000, None, 0), 30_000);
        assert_eq!(poll_interval(30_000, Some(&b(4000)), 0), 30_000);
        assert_eq!(poll_interval(30_000, Some(&b(1000)), 0), 60_000);
        assert_eq!(poll_interval(30_000, Some(&b(100)), 0), 120_000);
        // None left: until the window resets (2000 s), never sooner than the base.
        assert_eq!(poll_interval(30_000, Some(&b(0)), 1_000_000), 1_000_000);
        assert_eq!(poll_interval(30_000, Some(&b(0)), 1_990_000), 30_000);
    }
}
