use super::PluginError;
use crate::model::PrRef;
use async_trait::async_trait;

/// A pull request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrState {
    /// Open.
    Open,
    /// Merged.
    Merged,
    /// Closed without merging.
    Closed,
}

/// One CI check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    /// Queued or running.
    Pending,
    /// Passed (or skipped, or neutral).
    Passed,
    /// Failed, timed out or was cancelled.
    Failed,
}

/// One CI check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRun {
    /// Its name, as the reviewer sees it.
    pub name: String,
    /// Its outcome.
    pub state: CheckState,
    /// Where its log is.
    pub url: Option<String>,
    /// The tail of its log or its summary, for failures.
    pub log_excerpt: Option<String>,
}

/// The review verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    /// No verdict yet.
    Pending,
    /// Approved.
    Approved,
    /// A reviewer asked for changes.
    ChangesRequested,
}

/// An unresolved review thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewThread {
    /// The file it is on.
    pub path: Option<String>,
    /// The line it is on.
    pub line: Option<u32>,
    /// The comments' text.
    pub body: String,
    /// Its author.
    pub author: Option<String>,
}

/// Everything the host needs to know about one pull request, from one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrStatus {
    /// Which pull request.
    pub pr: PrRef,
    /// Open, merged or closed.
    pub state: PrState,
    /// Its checks.
    pub checks: Vec<CheckRun>,
    /// The review verdict.
    pub review: ReviewDecision,
    /// Unresolved threads only.
    pub unresolved_threads: Vec<ReviewThread>,
    /// Whether the host could merge it now.
    pub mergeable: bool,
    /// Whether it conflicts with its base.
    pub conflicts: bool,
    /// Whether its base moved on since it branched.
    pub behind_base: bool,
}

/// How to merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    /// A merge commit.
    Merge,
    /// One squashed commit.
    Squash,
    /// Rebased commits.
    Rebase,
}

/// Where pull requests live.
#[async_trait]
pub trait Scm: Send + Sync {
    /// The pull request whose head is `branch`, if any.
    async fn detect_pr(&self, branch: &str) -> Result<Option<PrRef>, PluginError>;
    /// The state of many pull requests in as few requests as possible.
    async fn enrich(&self, prs: &[PrRef]) -> Result<Vec<PrStatus>, PluginError>;
    /// Merges a pull request.
    async fn merge(&self, pr: &PrRef, method: MergeMethod) -> Result<(), PluginError>;
    /// Closes a pull request without merging.
    async fn close(&self, pr: &PrRef) -> Result<(), PluginError>;
}
