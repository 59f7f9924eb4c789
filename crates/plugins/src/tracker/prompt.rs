//! The `prompt` tracker: ad-hoc tasks given as text, with no issue system behind them.
//! It has no numbered issues; `ao spawn P --prompt TEXT` works with any tracker.

use ao_core::plugin::{Issue, IssueFilter, PluginError, Slot, Tracker};
use ao_core::registry::{Factory, PluginEntry, SectionRef};
use async_trait::async_trait;
use std::sync::Arc;

const NAME: &str = "prompt";

/// The prompt tracker.
#[derive(Debug, Default)]
pub struct PromptTracker;

fn no_issues(id: &str) -> PluginError {
    PluginError::failed(
        NAME,
        format!(
            "there is no issue `{id}`: the prompt tracker holds no issues; give the task with --prompt, or configure a tracker with issues"
        ),
    )
}

#[async_trait]
impl Tracker for PromptTracker {
    async fn issue(&self, id: &str) -> Result<Issue, PluginError> {
        Err(no_issues(id))
    }

    async fn is_completed(&self, _id: &str) -> Result<bool, PluginError> {
        Ok(false)
    }

    fn branch_name(&self, issue: &Issue) -> String {
        format!("feat/issue-{}", issue.id)
    }

    fn prompt(&self, issue: &Issue) -> String {
        if issue.body.is_empty() {
            issue.title.clone()
        } else {
            format!("{}\n\n{}", issue.title, issue.body)
        }
    }

    async fn list(&self, _filter: &IssueFilter) -> Result<Vec<Issue>, PluginError> {
        Err(PluginError::failed(
            NAME,
            "the prompt tracker holds no issues to list; set the project's `tracker: github` (and `repo`) to work on GitHub issues",
        ))
    }
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Tracker>, PluginError> {
    Ok(Arc::new(PromptTracker))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::available(
        Slot::Tracker,
        NAME,
        "ad-hoc tasks from --prompt text",
        None,
        Factory::Tracker(Arc::new(build)),
    )
}
