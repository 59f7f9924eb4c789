//! Sessions' pull requests: finding each session's PR by its branch, reading them all in
//! one batched poll per scm (only the changed ones in full), keeping the last reading in
//! the store (what `ao status` shows without network), and merging one guarded by the
//! head SHA it was checked at ([`merge`]). No scm is asked while it is paused
//! ([`breaker`]).

mod breaker;
mod merge;
#[cfg(test)]
mod tests;

use super::{Manager, ManagerError};
use crate::config::ResolvedProject;
use crate::model::time::utc_clock as clock;
use crate::model::{PrRef, RepoId, Session, SessionId, now_ms};
use crate::plugin::{CheckState, PrState, PrStatus, ReviewDecision, Scm};
use crate::registry::Factory;
use crate::store::{Change, PrSnapshot, SessionFilter};
use breaker::ScmKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

/// The longest a command waits for one answer of the scm (`ao status --refresh`, each
/// step of `ao session merge`, the CI lookup): past it, the last reading is shown and said
/// to be the last.
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

/// When a reading was taken, as "the last reading is from" says it: a clock time for one
/// of the last day, with its date when older.
fn reading_time(at: i64) -> String {
    const DAY_MS: i64 = 86_400_000;
    if (0..DAY_MS).contains(&(now_ms() - at)) {
        crate::model::time::utc_clock_seen_at(at, at)
    } else {
        clock(at)
    }
}

/// What a command says when the scm did not answer within `deadline`, with the time of
/// `last`, the oldest reading it shows.
fn no_answer(scm_name: &str, deadline: std::time::Duration, last: Option<i64>) -> String {
    format!(
        "{scm_name} did not answer within {} s; {}",
        deadline.as_secs(),
        match last {
            Some(at) => format!("the last reading is from {}", reading_time(at)),
            None => "nothing was read yet".to_owned(),
        }
    )
}

/// The scms a poll has not finished with yet, each with its key, its name and its
/// sessions: what a poll cut off by its deadline left unanswered.
#[derive(Default)]
struct Unfinished(Mutex<Vec<(ScmKey, String, Vec<SessionId>)>>);

impl Unfinished {
    fn add(&self, key: &ScmKey, scm_name: String, sessions: Vec<SessionId>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((key.clone(), scm_name, sessions));
    }

    fn done(&self, key: &ScmKey) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(k, _, _)| k != key);
    }

    fn take(&self) -> Vec<(ScmKey, String, Vec<SessionId>)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Manager {
    /// What project `project`'s scm calls itself, for words about its pull requests;
    /// "the scm" when it has none that builds.
    pub fn scm_name(&self, project: &str) -> String {
        self.project(project)
            .and_then(|p| self.scm(&p))
            .map_or_else(|_| "the scm".to_owned(), |scm| scm.display_name())
    }

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
    /// reading, marked stale; an scm that is paused is not asked.
    pub async fn refresh_prs(&self, project: Option<&str>) -> Result<RefreshReport, ManagerError> {
        self.refresh_prs_tracked(project, &Unfinished::default())
            .await
    }

    /// [`Manager::refresh_prs`], leaving in `unfinished` the scms it is not done with.
    async fn refresh_prs_tracked(
        &self,
        project: Option<&str>,
        unfinished: &Unfinished,
    ) -> Result<RefreshReport, ManagerError> {
        let report = self.read_prs(project, unfinished, None).await?;
        // What was read moves its sessions at once, by the probe's rules and on the
        // agents as the last probe saw them (see [`Manager::decide_readings`]).
        self.decide_readings(project)?;
        Ok(report)
    }

    /// The pull requests of the sessions of `only`, read at once (a webhook named
    /// them), and those sessions moved as a poll would move them.
    pub(crate) async fn refresh_only(
        &self,
        only: &std::collections::HashSet<SessionId>,
        projects: &[String],
    ) -> Result<RefreshReport, ManagerError> {
        let report = self
            .read_prs(None, &Unfinished::default(), Some(only))
            .await?;
        if projects.is_empty() {
            self.decide_readings(None)?;
        }
        for p in projects {
            self.decide_readings(Some(p))?;
        }
        Ok(report)
    }

    /// Reads the pull requests of `project` (every project: None; of the sessions of
    /// `only` when given) and stores each reading, deciding nothing.
    async fn read_prs(
        &self,
        project: Option<&str>,
        unfinished: &Unfinished,
        only: Option<&std::collections::HashSet<SessionId>>,
    ) -> Result<RefreshReport, ManagerError> {
        let sessions: Vec<Session> = self
            .store()
            .sessions(&SessionFilter {
                project: project.map(str::to_owned),
                include_archived: false,
            })?
            .into_iter()
            // The orchestrator's branch is the checkout's: no pull request of its own.
            .filter(|s| !s.branch.is_empty() && !s.id.is_orchestrator())
            .filter(|s| only.is_none_or(|o| o.contains(&s.id)))
            .collect();
        let mut report = RefreshReport::default();
        // Projects that name the same scm section share one instance and one batch.
        let mut groups: Vec<(ScmKey, Arc<dyn Scm>, Vec<Session>)> = Vec::new();
        for s in sessions {
            let Ok(p) = self.project(&s.project) else {
                continue;
            };
            let key = self.scm_key(&p);
            match groups.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, _, list)) => list.push(s),
                None => match self.scm(&p) {
                    Ok(scm) => groups.push((key, scm, vec![s])),
                    Err(e) => report.failed.push((s.id.clone(), e.to_string())),
                },
            }
        }
        for (key, scm, list) in &groups {
            let ids = list.iter().map(|s| s.id.clone()).collect();
            unfinished.add(key, scm.display_name(), ids);
        }
        let snapshots = self.store().pr_snapshots_shared()?;
        for (key, scm, list) in groups {
            self.poll_scm(&key, scm.as_ref(), list, &snapshots, &mut report)
                .await?;
            unfinished.done(&key);
        }
        Ok(report)
    }

    /// One poll of the pull requests of `list`, the sessions of the scm of `key`.
    async fn poll_scm(
        &self,
        key: &ScmKey,
        scm: &dyn Scm,
        list: Vec<Session>,
        snapshots: &HashMap<SessionId, PrSnapshot>,
        report: &mut RefreshReport,
    ) -> Result<(), ManagerError> {
        let name = scm.display_name();
        if let Some(pause) = self.scm_pause(key)? {
            let why = format!("{} (the last reading is shown)", pause.sentence(&name));
            report.notes.push(why.clone());
            for s in list.iter().filter(|s| s.pr.is_some()) {
                self.store().mark_pr_stale(&s.id, &why)?;
            }
            return Ok(());
        }
        let (failures_before, read_before) = (report.failed.len(), report.read + report.unchanged);
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
            match self.project_repo(&project, scm) {
                Ok(Some(repo)) => by_repo.entry(repo).or_default().push(i),
                Ok(None) => {}
                Err(e) => report.failed.push((s.id.clone(), e.to_string())),
            }
        }
        let mut list = list;
        for (repo, idx) in by_repo {
            // Asked to wait by an earlier lookup: nothing more is sent.
            if self.scm_pause(key)?.is_some() {
                break;
            }
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
                    self.scm_heard(key, scm, Some(&e))?;
                    for &i in &idx {
                        report.failed.push((list[i].id.clone(), e.to_string()));
                    }
                }
            }
        }
        let with_pr: Vec<&Session> = list.iter().filter(|s| s.pr.is_some()).collect();
        // Asked to wait while looking up branches: nothing more is sent.
        if let Some(pause) = self.scm_pause(key)? {
            let why = pause.sentence(&name);
            for s in &with_pr {
                self.store().mark_pr_stale(&s.id, &why)?;
            }
            self.scm_heard(key, scm, None)?;
            return Ok(());
        }
        if !with_pr.is_empty() {
            self.read_known(key, scm, &with_pr, snapshots, report)
                .await?;
        }
        // The whole poll failed (nothing read, something failed): counted; enough in a
        // row open the breaker. Anything read closes it.
        let failed_now = report.failed.len() > failures_before;
        let read_now = report.read + report.unchanged > read_before;
        if let Some(note) = self.scm_polled(key, &name, failed_now, read_now)? {
            report.notes.push(note);
        }
        self.scm_heard(key, scm, None)?;
        Ok(())
    }

    /// Reads the known pull requests of `with_pr` in one batch, only the changed ones in
    /// full, and stores each reading.
    async fn read_known(
        &self,
        key: &ScmKey,
        scm: &dyn Scm,
        with_pr: &[&Session],
        snapshots: &HashMap<SessionId, PrSnapshot>,
        report: &mut RefreshReport,
    ) -> Result<(), ManagerError> {
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
        for s in with_pr {
            if let Some(snap) = snapshots.get(&s.id) {
                scm.remember(&snap.status);
            }
        }
        // When it was asked, not answered: a reading is as old as the question.
        let at = now_ms();
        let results = scm.enrich(&prs, &known).await;
        // Confirmed together at the end: one commit for all that did not change.
        let mut unchanged = Vec::new();
        for (s, r) in with_pr.iter().zip(results) {
            match r {
                Ok(Some(status)) => {
                    self.store().record_pr_snapshot(&s.id, &status, at)?;
                    report.read += 1;
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
                    // A session gone meanwhile (cleaned up) fails alone: the rest of the
                    // poll, and its confirmations below, go on.
                    if old != status.pr {
                        let moved = status.pr.clone();
                        if let Err(e) = self.update(&s.id, |row| {
                            row.pr = Some(moved);
                            Vec::new()
                        }) {
                            report.failed.push((s.id.clone(), e.to_string()));
                        }
                    }
                }
                Ok(None) => {
                    unchanged.push(s.id.clone());
                    report.unchanged += 1;
                }
                Err(e) => {
                    self.scm_heard(key, scm, Some(&e))?;
                    self.store().mark_pr_stale(&s.id, &e.to_string())?;
                    report.failed.push((s.id.clone(), e.to_string()));
                }
            }
        }
        self.store().confirm_pr_snapshots(&unchanged, at)?;
        Ok(())
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

    /// [`Manager::refresh_prs`] within `deadline`: past it, the poll is given up and
    /// counted failed for each scm it had not finished with (as the breaker counts any
    /// failed poll); every reading it did not renew is kept, marked stale, and a note says
    /// since when: the time of the oldest reading shown.
    pub async fn refresh_prs_within(
        &self,
        project: Option<&str>,
        deadline: std::time::Duration,
    ) -> Result<RefreshReport, ManagerError> {
        let started = now_ms();
        let unfinished = Unfinished::default();
        if let Ok(done) =
            tokio::time::timeout(deadline, self.refresh_prs_tracked(project, &unfinished)).await
        {
            return done;
        }
        let snapshots = self.store().pr_snapshots_shared()?;
        let mut report = RefreshReport::default();
        for (key, name, sessions) in unfinished.take() {
            let stale: Vec<(&SessionId, i64)> = sessions
                .iter()
                .filter_map(|id| snapshots.get(id).map(|snap| (id, snap.fetched_at)))
                .filter(|(_, at)| *at < started)
                .collect();
            let why = no_answer(&name, deadline, stale.iter().map(|(_, at)| *at).min());
            for (id, _) in &stale {
                self.store().mark_pr_stale(id, &why)?;
            }
            report.notes.push(why);
            if let Some(note) = self.scm_polled(&key, &name, true, false)? {
                report.notes.push(note);
            }
        }
        // What was read before the deadline moves its sessions.
        self.decide_readings(project)?;
        Ok(report)
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
        "stale_reason": snap.error,
        "fetched_at": snap.fetched_at,
    })
}
