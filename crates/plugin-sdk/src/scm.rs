//! The scm slot: where pull requests live.

use crate::export::{Dispatch, params, result, unknown_method};
use crate::{Context, Error, Plugin, Slot};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A pull request a session opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrRef {
    /// Its number in the repository.
    pub number: u64,
    /// Its web address.
    pub url: String,
}

/// A pull request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrState {
    /// Open.
    Open,
    /// Merged.
    Merged,
    /// Closed without merging.
    Closed,
}

/// One CI check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Queued or running.
    Pending,
    /// Passed (or skipped, or neutral).
    Passed,
    /// Failed, timed out or was cancelled.
    Failed,
}

/// One CI check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    /// Its name, as the reviewer sees it.
    pub name: String,
    /// Its outcome.
    pub state: CheckState,
    /// Where its log is.
    #[serde(default)]
    pub url: Option<String>,
    /// The tail of its log or its summary, for failures.
    #[serde(default)]
    pub log_excerpt: Option<String>,
}

/// The review verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// No verdict yet.
    Pending,
    /// Approved.
    Approved,
    /// A reviewer asked for changes.
    ChangesRequested,
}

/// An unresolved review thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewThread {
    /// The file it is on.
    #[serde(default)]
    pub path: Option<String>,
    /// The line it is on.
    #[serde(default)]
    pub line: Option<u32>,
    /// The comments' text.
    pub body: String,
    /// Its author.
    #[serde(default)]
    pub author: Option<String>,
}

/// Everything the host needs to know about one pull request, from one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrStatus {
    /// Which pull request.
    pub pr: PrRef,
    /// Open, merged or closed.
    pub state: PrState,
    /// Its checks.
    #[serde(default)]
    pub checks: Vec<CheckRun>,
    /// The review verdict.
    pub review: ReviewDecision,
    /// Unresolved threads only.
    #[serde(default)]
    pub unresolved_threads: Vec<ReviewThread>,
    /// Whether the host could merge it now.
    #[serde(default)]
    pub mergeable: bool,
    /// Whether it conflicts with its base.
    #[serde(default)]
    pub conflicts: bool,
    /// Whether its base moved on since it branched.
    #[serde(default)]
    pub behind_base: bool,
}

/// How to merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    /// A merge commit.
    Merge,
    /// One squashed commit.
    Squash,
    /// Rebased commits.
    Rebase,
}

/// An scm plugin.
pub trait Scm: Plugin {
    /// The pull request whose head is `branch`, if any.
    fn detect_pr(&self, cx: &Context, branch: &str) -> Result<Option<PrRef>, Error>;
    /// The state of many pull requests in as few requests as possible, one per PR, in order.
    fn enrich(&self, cx: &Context, prs: &[PrRef]) -> Result<Vec<PrStatus>, Error>;
    /// Merges a pull request.
    fn merge(&self, cx: &Context, pr: &PrRef, method: MergeMethod) -> Result<(), Error>;
    /// Closes a pull request without merging.
    fn close(&self, cx: &Context, pr: &PrRef) -> Result<(), Error>;
}

/// The method names.
pub mod method {
    /// `detect_pr`: [`super::BranchParams`] → a [`super::PrRef`] or `null`.
    pub const DETECT_PR: &str = "detect_pr";
    /// `enrich`: [`super::PrsParams`] → a list of [`super::PrStatus`].
    pub const ENRICH: &str = "enrich";
    /// `merge`: [`super::MergeParams`] → `null`.
    pub const MERGE: &str = "merge";
    /// `close`: [`super::PrParams`] → `null`.
    pub const CLOSE: &str = "close";
}

/// Parameters naming a branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchParams {
    /// The branch.
    pub branch: String,
}

/// Parameters naming pull requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrsParams {
    /// The pull requests.
    pub prs: Vec<PrRef>,
}

/// Parameters naming one pull request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrParams {
    /// The pull request.
    pub pr: PrRef,
}

/// Parameters of `merge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergeParams {
    /// The pull request.
    pub pr: PrRef,
    /// How.
    pub method: MergeMethod,
}

/// The dispatcher [`crate::export_plugin!`] uses for an scm.
#[doc(hidden)]
pub struct AsScm<T>(pub T);

impl<T: Scm> Dispatch for AsScm<T> {
    const SLOT: Slot = Slot::Scm;

    fn create(config: Value) -> Result<Self, Error> {
        T::init(config).map(AsScm)
    }

    fn dispatch(&self, m: &str, cx: &Context, p: Value) -> Result<Value, Error> {
        let s = &self.0;
        match m {
            method::DETECT_PR => result(s.detect_pr(cx, &params::<BranchParams>(m, p)?.branch)?),
            method::ENRICH => result(s.enrich(cx, &params::<PrsParams>(m, p)?.prs)?),
            method::MERGE => {
                let q: MergeParams = params(m, p)?;
                result(s.merge(cx, &q.pr, q.method)?)
            }
            method::CLOSE => result(s.close(cx, &params::<PrParams>(m, p)?.pr)?),
            _ => Err(unknown_method(Self::SLOT, m)),
        }
    }
}
