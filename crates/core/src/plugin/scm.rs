use super::PluginError;
use crate::model::{PrRef, RepoId};
use async_trait::async_trait;

pub use ao_plugin_sdk::scm::{
    CheckRun, CheckState, MergeMethod, MergeParams, PrState, PrStatus, ReviewDecision, ReviewThread,
};

/// Where pull requests live. One instance may serve every project on its host: each call
/// names the repository. The scm alone knows how its repositories and pull requests are
/// written (`parse_repo`, `parse_pr_url`, `pr_ref`) and what it is called
/// (`display_name`): ao's core knows no scm's addresses or name.
#[async_trait]
pub trait Scm: Send + Sync {
    /// The scm's name as messages say it ("GitHub").
    fn display_name(&self) -> String {
        "the scm".to_owned()
    }
    /// The repository a project's `repo` names, or why it names none of this scm's (one
    /// sentence, for the user). The default takes the last part of a path as the name
    /// and everything before it as the owner.
    fn parse_repo(&self, text: &str) -> Result<RepoId, String> {
        RepoId::from_path(text).ok_or_else(|| format!("`{text}` is not OWNER/NAME"))
    }
    /// The pull request a web address names, when it is one of this scm's.
    fn parse_pr_url(&self, url: &str) -> Option<PrRef> {
        let _ = url;
        None
    }
    /// Pull request `number` of `repo`, with its web address (empty when the scm cannot
    /// say it).
    fn pr_ref(&self, repo: &RepoId, number: u64) -> PrRef {
        PrRef::new(repo, number, "")
    }
    /// For each branch of `repo`, the pull request whose head it is, if any, in order, in
    /// as few requests as possible.
    async fn detect_prs(
        &self,
        repo: &RepoId,
        branches: &[String],
    ) -> Result<Vec<Option<PrRef>>, PluginError>;
    /// The state of many pull requests in as few requests as possible: a result per PR,
    /// in order, so one that fails spoils nothing else. `known` holds each PR's last
    /// fingerprint where there is one; a PR still at it may be answered `None`
    /// (unchanged) without its full read.
    async fn enrich(
        &self,
        prs: &[PrRef],
        known: &[Option<String>],
    ) -> Vec<Result<Option<PrStatus>, PluginError>>;
    /// Merges a pull request if its head is still `merge.head_sha`.
    async fn merge(&self, merge: &MergeParams) -> Result<(), PluginError>;
    /// Closes a pull request without merging.
    async fn close(&self, pr: &PrRef) -> Result<(), PluginError>;
    /// Hands the scm what an earlier process read of a PR (its last snapshot), so what it
    /// fetches once per check and head (a failed job's log) is not fetched again.
    fn remember(&self, status: &PrStatus) {
        let _ = status;
    }
    /// Whether `repo` runs CI at all: a check run or status on any of the last 10
    /// commits of its default branch, or CI configuration in its tree. `None` when the
    /// scm cannot tell (external plugins): ao then takes it that the repository does.
    async fn runs_ci(&self, repo: &RepoId) -> Result<Option<bool>, PluginError> {
        let _ = repo;
        Ok(None)
    }
    /// What is left of the scm's request budget, as it last said; None when it does not
    /// say (external plugins).
    fn budget(&self) -> Option<Budget> {
        None
    }
}

/// An scm's request budget as it last reported it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    /// Points or requests left in this window.
    pub remaining: u64,
    /// The window's size.
    pub limit: u64,
    /// When the window resets, in seconds since 1970.
    pub reset: i64,
}
