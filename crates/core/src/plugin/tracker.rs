use super::PluginError;
use async_trait::async_trait;

pub use ao_plugin_sdk::tracker::{Issue, IssueFilter};

/// Where tasks come from.
#[async_trait]
pub trait Tracker: Send + Sync {
    /// One issue by id, `#N` or URL.
    async fn issue(&self, id: &str) -> Result<Issue, PluginError>;
    /// Whether the issue is closed or otherwise done.
    async fn is_completed(&self, id: &str) -> Result<bool, PluginError>;
    /// The branch a session for this issue works on.
    fn branch_name(&self, issue: &Issue) -> String;
    /// The task text the agent receives.
    fn prompt(&self, issue: &Issue) -> String;
    /// Open issues matching the filter.
    async fn list(&self, filter: &IssueFilter) -> Result<Vec<Issue>, PluginError>;
}
