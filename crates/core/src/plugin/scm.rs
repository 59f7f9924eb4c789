use super::PluginError;
use crate::model::PrRef;
use async_trait::async_trait;

pub use ao_plugin_sdk::scm::{
    CheckRun, CheckState, MergeMethod, PrState, PrStatus, ReviewDecision, ReviewThread,
};

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
