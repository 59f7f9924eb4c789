use super::PluginError;
use async_trait::async_trait;

/// An issue from a tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The tracker's id (`12` for GitHub issue #12).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its body text.
    pub body: String,
    /// Its web address, if it has one.
    pub url: Option<String>,
    /// Its labels.
    pub labels: Vec<String>,
}

/// Which issues `list` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueFilter {
    /// Only issues with all of these labels.
    pub labels: Vec<String>,
    /// At most this many.
    pub limit: Option<usize>,
}

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
