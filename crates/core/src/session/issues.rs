//! A project's open issues as its tracker lists them, each with the session working on
//! it: `ao issue ls`, and `ao spawn --label`'s choice of what to start.

use super::{Manager, ManagerError};
use crate::model::SessionId;
use crate::plugin::{Issue, IssueFilter};
use crate::store::SessionFilter;

/// One open issue, and the live session working on it, if any.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssueRow {
    /// The issue.
    #[serde(flatten)]
    pub issue: Issue,
    /// The session on it that is not over (not killed, done or merged, not archived).
    pub session: Option<SessionId>,
}

/// Of `rows`, the issues no live session works on, at most `limit` (what `ao spawn
/// --label` starts), and those a session works on already.
pub fn free_issues(rows: Vec<IssueRow>, limit: Option<usize>) -> (Vec<IssueRow>, Vec<IssueRow>) {
    let (busy, mut free): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.session.is_some());
    if let Some(n) = limit {
        free.truncate(n);
    }
    (free, busy)
}

impl Manager {
    /// The open issues of `project` that match `filter`, in the tracker's order, each
    /// with its live session.
    pub async fn issues(
        &self,
        project: &str,
        filter: &IssueFilter,
    ) -> Result<Vec<IssueRow>, ManagerError> {
        let project = self.project(project)?;
        let tracker = self.tracker(&project)?;
        let issues = tracker.list(filter).await?;
        let sessions = self.store().sessions(&SessionFilter {
            project: Some(project.id.clone()),
            include_archived: false,
        })?;
        Ok(issues
            .into_iter()
            .map(|issue| {
                let session = sessions
                    .iter()
                    .find(|s| {
                        !s.status.is_terminal()
                            && s.issue.as_deref().map(|i| i.trim_start_matches('#'))
                                == Some(issue.id.as_str())
                    })
                    .map(|s| s.id.clone());
                IssueRow { issue, session }
            })
            .collect())
    }
}
