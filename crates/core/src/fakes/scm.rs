//! An scm whose pull requests the test opens and changes: their checks, reviews, threads
//! and heads. Each change gives the PR a new fingerprint, so a poll reads it in full; an
//! unchanged one is answered "unchanged". A merge is refused when the head moved, as
//! GitHub's 409 does.

use super::FAKE;
use super::script::{Scripted, Scripts, lock, perform};
use crate::model::{PrRef, RepoId};
use crate::plugin::{
    CheckRun, CheckState, MergeParams, PluginError, PrState, PrStatus, ReviewDecision,
    ReviewThread, Scm,
};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};

/// The fake scm's operations, to script and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScmOp {
    /// `detect_prs`.
    DetectPrs,
    /// `enrich` (the whole batch).
    Enrich,
    /// `merge`.
    Merge,
    /// `close`.
    Close,
    /// `runs_ci`.
    RunsCi,
}

#[derive(Debug)]
struct Pr {
    status: PrStatus,
    version: u64,
}

#[derive(Debug)]
struct State {
    prs: Vec<Pr>,
    merges: Vec<MergeParams>,
    closed: Vec<PrRef>,
    runs_ci: Option<bool>,
    scripts: Scripts<ScmOp>,
}

impl Default for State {
    fn default() -> State {
        State {
            prs: Vec::new(),
            merges: Vec::new(),
            closed: Vec::new(),
            runs_ci: Some(true),
            scripts: Scripts::default(),
        }
    }
}

impl State {
    fn pr(&mut self, pr: &PrRef) -> Option<&mut Pr> {
        self.prs.iter_mut().find(|p| same(&p.status.pr, pr))
    }
}

fn same(a: &PrRef, b: &PrRef) -> bool {
    a.number == b.number && a.repo_id().same(&b.repo_id())
}

/// Where the fake scm's pull requests are on the web.
const URL: &str = "https://scm.example/";

fn url(repo: &RepoId, number: u64) -> String {
    format!("{URL}{repo}/pull/{number}")
}

/// A check named `name` in `state`, required.
pub fn check(name: &str, state: CheckState) -> CheckRun {
    CheckRun {
        id: name.to_owned(),
        name: name.to_owned(),
        required: true,
        state,
        url: Some(format!("https://ci.example/{name}")),
        log_excerpt: (state == CheckState::Failed).then(|| format!("{name} failed")),
    }
}

/// An unresolved review thread `id` a human wrote.
pub fn thread(id: &str, body: &str) -> ReviewThread {
    ReviewThread {
        id: id.to_owned(),
        is_bot: false,
        path: Some("src/lib.rs".into()),
        line: Some(1),
        body: body.to_owned(),
        author: Some("reviewer".into()),
    }
}

/// An scm in memory; clones share their pull requests.
#[derive(Debug, Clone, Default)]
pub struct FakeScm {
    state: Arc<Mutex<State>>,
}

impl FakeScm {
    /// Opens a pull request in `repo` (`owner/name`) from `branch`, numbered after the
    /// repository's last: open, no checks, no review, head `<branch>@1`.
    pub fn open(&self, repo: &str, branch: &str) -> PrRef {
        let repo = RepoId::from_path(repo).unwrap_or_else(|| panic!("`{repo}` is not OWNER/NAME"));
        let mut state = lock(&self.state);
        let number = state
            .prs
            .iter()
            .filter(|p| p.status.pr.repo_id().same(&repo))
            .map(|p| p.status.pr.number)
            .max()
            .unwrap_or(0)
            + 1;
        let pr = self.pr_ref(&repo, number);
        let mut status = PrStatus {
            pr: pr.clone(),
            state: PrState::Open,
            head_sha: format!("{branch}@1"),
            head_branch: branch.to_owned(),
            cross_repository: false,
            title: format!("work on {branch}"),
            draft: false,
            updated_at: crate::model::now_ms(),
            fingerprint: String::new(),
            checks: Vec::new(),
            review: ReviewDecision::Pending,
            unresolved_threads: Vec::new(),
            mergeable: false,
            conflicts: false,
            behind_base: false,
        };
        status.fingerprint = format!("{number}@1");
        state.prs.push(Pr { status, version: 1 });
        pr
    }

    /// Changes a pull request (its checks, review, head, state); the change gives it a
    /// new fingerprint.
    pub fn edit(&self, pr: &PrRef, change: impl FnOnce(&mut PrStatus)) {
        let mut state = lock(&self.state);
        let p = state
            .pr(pr)
            .unwrap_or_else(|| panic!("the fake scm has no pull request {}", pr.url));
        change(&mut p.status);
        p.version += 1;
        p.status.fingerprint = format!("{}@{}", p.status.pr.number, p.version);
        p.status.updated_at = crate::model::now_ms();
    }

    /// Pushes a new head `sha` whose checks are `checks`.
    pub fn push(&self, pr: &PrRef, sha: &str, checks: Vec<CheckRun>) {
        self.edit(pr, |st| {
            st.head_sha = sha.to_owned();
            st.checks = checks;
        });
    }

    /// Approved, every check passed, mergeable: what auto-merge waits for.
    pub fn approve_green(&self, pr: &PrRef) {
        self.edit(pr, |st| {
            st.review = ReviewDecision::Approved;
            st.checks = vec![check("build", CheckState::Passed)];
            st.mergeable = true;
        });
    }

    /// The pull request as the scm has it now.
    pub fn status(&self, pr: &PrRef) -> Option<PrStatus> {
        lock(&self.state).pr(pr).map(|p| p.status.clone())
    }

    /// Whether repositories run CI, as `runs_ci` answers (`None`: cannot tell).
    pub fn set_runs_ci(&self, runs: Option<bool>) {
        lock(&self.state).runs_ci = runs;
    }

    /// Every merge done, in order.
    pub fn merges(&self) -> Vec<MergeParams> {
        lock(&self.state).merges.clone()
    }

    /// Every pull request closed, in order.
    pub fn closed(&self) -> Vec<PrRef> {
        lock(&self.state).closed.clone()
    }

    /// The next calls of `op` go as `calls` say, in order; later ones as before.
    pub fn script(&self, op: ScmOp, calls: impl IntoIterator<Item = Scripted>) {
        lock(&self.state).scripts.push(op, calls);
    }

    /// Every call of `op` after the scripted ones goes as `then` says.
    pub fn script_always(&self, op: ScmOp, then: Scripted) {
        lock(&self.state).scripts.always(op, then);
    }

    /// How many calls of `op` reached the scm, whatever became of them.
    pub fn calls(&self, op: ScmOp) -> usize {
        lock(&self.state).scripts.calls(op)
    }

    fn take(&self, op: ScmOp) -> Scripted {
        lock(&self.state).scripts.take(op)
    }

    fn merge_now(&self, m: &MergeParams) -> Result<(), PluginError> {
        let mut state = lock(&self.state);
        let p = state
            .pr(&m.pr)
            .ok_or_else(|| PluginError::failed(FAKE, format!("no pull request {}", m.pr.url)))?;
        if p.status.state != PrState::Open {
            return Err(PluginError::failed(
                FAKE,
                format!("pull request #{} is not open", m.pr.number),
            ));
        }
        if p.status.head_sha != m.head_sha {
            return Err(PluginError::failed(
                FAKE,
                format!(
                    "head branch was modified: the head is {}, not {}",
                    p.status.head_sha, m.head_sha
                ),
            ));
        }
        p.status.state = PrState::Merged;
        p.status.mergeable = false;
        p.version += 1;
        p.status.fingerprint = format!("{}@{}", p.status.pr.number, p.version);
        state.merges.push(m.clone());
        Ok(())
    }
}

#[async_trait]
impl Scm for FakeScm {
    async fn detect_prs(
        &self,
        repo: &RepoId,
        branches: &[String],
    ) -> Result<Vec<Option<PrRef>>, PluginError> {
        let scripted = self.take(ScmOp::DetectPrs);
        perform(scripted, FAKE, || {
            let state = lock(&self.state);
            Ok(branches
                .iter()
                .map(|b| {
                    state
                        .prs
                        .iter()
                        .rev()
                        .find(|p| p.status.pr.repo_id().same(repo) && &p.status.head_branch == b)
                        .map(|p| p.status.pr.clone())
                })
                .collect())
        })
        .await
    }

    async fn enrich(
        &self,
        prs: &[PrRef],
        known: &[Option<String>],
    ) -> Vec<Result<Option<PrStatus>, PluginError>> {
        let scripted = self.take(ScmOp::Enrich);
        let read = perform(scripted, FAKE, || {
            let mut state = lock(&self.state);
            Ok(prs
                .iter()
                .enumerate()
                .map(|(i, pr)| match state.pr(pr) {
                    None => Err(PluginError::failed(
                        FAKE,
                        format!("no pull request {}", pr.url),
                    )),
                    Some(p)
                        if known.get(i).and_then(Option::as_ref) == Some(&p.status.fingerprint) =>
                    {
                        Ok(None)
                    }
                    Some(p) => Ok(Some(p.status.clone())),
                })
                .collect::<Vec<_>>())
        })
        .await;
        match read {
            Ok(each) => each,
            Err(e) => prs
                .iter()
                .map(|_| {
                    Err(match &e {
                        PluginError::Transient {
                            message,
                            retry_after_ms,
                            ..
                        } => PluginError::Transient {
                            plugin: FAKE.into(),
                            message: message.clone(),
                            retry_after_ms: *retry_after_ms,
                        },
                        PluginError::Failed { message, .. } => PluginError::failed(FAKE, message),
                        other => PluginError::failed(FAKE, other.to_string()),
                    })
                })
                .collect(),
        }
    }

    async fn merge(&self, merge: &MergeParams) -> Result<(), PluginError> {
        let scripted = self.take(ScmOp::Merge);
        perform(scripted, FAKE, || self.merge_now(merge)).await
    }

    async fn close(&self, pr: &PrRef) -> Result<(), PluginError> {
        let scripted = self.take(ScmOp::Close);
        perform(scripted, FAKE, || {
            let mut state = lock(&self.state);
            let p = state
                .pr(pr)
                .ok_or_else(|| PluginError::failed(FAKE, format!("no pull request {}", pr.url)))?;
            p.status.state = PrState::Closed;
            p.version += 1;
            p.status.fingerprint = format!("{}@{}", p.status.pr.number, p.version);
            state.closed.push(pr.clone());
            Ok(())
        })
        .await
    }

    fn pr_ref(&self, repo: &RepoId, number: u64) -> PrRef {
        PrRef::new(repo, number, url(repo, number))
    }

    fn parse_pr_url(&self, text: &str) -> Option<PrRef> {
        let (repo, number) = text.strip_prefix(URL)?.split_once("/pull/")?;
        let repo = RepoId::from_path(repo)?;
        let number = number.parse().ok()?;
        Some(self.pr_ref(&repo, number))
    }

    async fn runs_ci(&self, _repo: &RepoId) -> Result<Option<bool>, PluginError> {
        let scripted = self.take(ScmOp::RunsCi);
        perform(scripted, FAKE, || Ok(lock(&self.state).runs_ci)).await
    }
}
