//! A tracker over issues the test adds.

use super::FAKE;
use super::script::{Scripted, Scripts, lock, perform};
use crate::plugin::{Issue, IssueFilter, PluginError, Tracker};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The fake tracker's operations, to script and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TrackerOp {
    /// `issue`.
    Issue,
    /// `is_completed`.
    IsCompleted,
    /// `list`.
    List,
}

#[derive(Debug, Default)]
struct State {
    issues: BTreeMap<String, Issue>,
    scripts: Scripts<TrackerOp>,
}

/// A tracker in memory; clones share their issues.
#[derive(Debug, Clone, Default)]
pub struct FakeTracker {
    state: Arc<Mutex<State>>,
}

impl FakeTracker {
    /// Adds (or replaces) an issue, by its id.
    pub fn add(&self, issue: Issue) {
        lock(&self.state).issues.insert(issue.id.clone(), issue);
    }

    /// An open issue `id` with a title and a body.
    pub fn add_open(&self, id: &str, title: &str, body: &str) {
        self.add(Issue {
            id: id.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            state: Some("open".into()),
            ..Issue::default()
        });
    }

    /// Closes issue `id`.
    pub fn close(&self, id: &str) {
        if let Some(i) = lock(&self.state).issues.get_mut(id) {
            i.state = Some("closed".into());
        }
    }

    /// The next calls of `op` go as `calls` say, in order; later ones as before.
    pub fn script(&self, op: TrackerOp, calls: impl IntoIterator<Item = Scripted>) {
        lock(&self.state).scripts.push(op, calls);
    }

    /// Every call of `op` after the scripted ones goes as `then` says.
    pub fn script_always(&self, op: TrackerOp, then: Scripted) {
        lock(&self.state).scripts.always(op, then);
    }

    /// How many calls of `op` reached the tracker, whatever became of them.
    pub fn calls(&self, op: TrackerOp) -> usize {
        lock(&self.state).scripts.calls(op)
    }

    fn take(&self, op: TrackerOp) -> Scripted {
        lock(&self.state).scripts.take(op)
    }

    fn find(&self, id: &str) -> Result<Issue, PluginError> {
        let id = id.trim_start_matches('#');
        lock(&self.state)
            .issues
            .get(id)
            .cloned()
            .ok_or_else(|| PluginError::failed(FAKE, format!("there is no issue #{id}")))
    }
}

#[async_trait]
impl Tracker for FakeTracker {
    async fn issue(&self, id: &str) -> Result<Issue, PluginError> {
        let scripted = self.take(TrackerOp::Issue);
        perform(scripted, FAKE, || self.find(id)).await
    }

    async fn is_completed(&self, id: &str) -> Result<bool, PluginError> {
        let scripted = self.take(TrackerOp::IsCompleted);
        perform(scripted, FAKE, || {
            Ok(self.find(id)?.state.as_deref() == Some("closed"))
        })
        .await
    }

    fn branch_name(&self, issue: &Issue) -> String {
        format!("feat/issue-{}", issue.id)
    }

    fn prompt(&self, issue: &Issue) -> String {
        format!("{}\n\n{}", issue.title, issue.body)
    }

    async fn list(&self, filter: &IssueFilter) -> Result<Vec<Issue>, PluginError> {
        let scripted = self.take(TrackerOp::List);
        perform(scripted, FAKE, || {
            let state = lock(&self.state);
            let open = state.issues.values().filter(|i| {
                i.state.as_deref() != Some("closed")
                    && filter.labels.iter().all(|l| i.labels.contains(l))
                    && filter
                        .assignee
                        .as_ref()
                        .is_none_or(|a| i.assignees.contains(a))
                    && filter
                        .milestone
                        .as_ref()
                        .is_none_or(|m| i.milestone.as_ref() == Some(m))
            });
            Ok(open
                .take(filter.limit.unwrap_or(usize::MAX))
                .cloned()
                .collect())
        })
        .await
    }
}
