//! The tracker slot: where issues come from.

use crate::export::{Dispatch, params, result, unknown_method};
use crate::{Context, Error, Plugin, Slot};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An issue from a tracker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// The tracker's id (`12` for GitHub issue #12).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its body text.
    #[serde(default)]
    pub body: String,
    /// Its web address, if it has one.
    #[serde(default)]
    pub url: Option<String>,
    /// Its labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// `open` or `closed`, when the tracker says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The logins (or names) of the people it is assigned to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<String>,
    /// Its milestone's title, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
}

/// Which issues `list` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueFilter {
    /// Only issues with all of these labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Only issues assigned to this login (`none`: to nobody; `*`: to anybody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Only issues of this milestone, by title or number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    /// At most this many.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The branch a session for an issue works on unless the tracker says otherwise:
/// `feat/issue-<id>`, with anything but letters, digits, `-`, `_` and `.` made `-`.
pub fn default_branch_name(issue: &Issue) -> String {
    let id: String = issue
        .id
        .trim_start_matches('#')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("feat/issue-{}", id.trim_matches('-'))
}

/// The task an agent receives for an issue unless the tracker says otherwise: the title,
/// then the body, then the address.
pub fn default_prompt(issue: &Issue) -> String {
    let mut text = issue.title.clone();
    if !issue.body.trim().is_empty() {
        text.push_str("\n\n");
        text.push_str(issue.body.trim());
    }
    if let Some(url) = &issue.url {
        text.push_str("\n\n");
        text.push_str(url);
    }
    text
}

/// A tracker plugin.
pub trait Tracker: Plugin {
    /// One issue by id (as the user typed it: `12`, `#12`, an address).
    fn issue(&self, cx: &Context, id: &str) -> Result<Issue, Error>;
    /// Whether the issue is closed or otherwise done.
    fn is_completed(&self, cx: &Context, id: &str) -> Result<bool, Error>;
    /// The branch a session for the issue works on.
    fn branch_name(&self, _cx: &Context, issue: &Issue) -> String {
        default_branch_name(issue)
    }
    /// The task text the agent receives.
    fn prompt(&self, _cx: &Context, issue: &Issue) -> String {
        default_prompt(issue)
    }
    /// Open issues matching the filter.
    fn list(&self, cx: &Context, filter: &IssueFilter) -> Result<Vec<Issue>, Error>;
}

/// The method names.
pub mod method {
    /// [`super::Tracker::issue`]: params [`super::IdParams`], result [`super::Issue`].
    pub const ISSUE: &str = "issue";
    /// [`super::Tracker::is_completed`]: params [`super::IdParams`], result a bool.
    pub const IS_COMPLETED: &str = "is_completed";
    /// [`super::Tracker::branch_name`]: params [`super::IssueParams`], result a string.
    pub const BRANCH_NAME: &str = "branch_name";
    /// [`super::Tracker::prompt`]: params [`super::IssueParams`], result a string.
    pub const PROMPT: &str = "prompt";
    /// [`super::Tracker::list`]: params [`super::IssueFilter`], result a list of issues.
    pub const LIST: &str = "list";
}

/// Parameters naming an issue by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdParams {
    /// The issue's id.
    pub id: String,
}

/// Parameters carrying an issue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueParams {
    /// The issue.
    pub issue: Issue,
}

/// The dispatcher [`crate::export_plugin!`] uses for a tracker.
#[doc(hidden)]
pub struct AsTracker<T>(pub T);

impl<T: Tracker> Dispatch for AsTracker<T> {
    const SLOT: Slot = Slot::Tracker;

    fn create(config: Value) -> Result<Self, Error> {
        T::init(config).map(AsTracker)
    }

    fn dispatch(&self, m: &str, cx: &Context, p: Value) -> Result<Value, Error> {
        let t = &self.0;
        match m {
            method::ISSUE => result(t.issue(cx, &params::<IdParams>(m, p)?.id)?),
            method::IS_COMPLETED => result(t.is_completed(cx, &params::<IdParams>(m, p)?.id)?),
            method::BRANCH_NAME => result(t.branch_name(cx, &params::<IssueParams>(m, p)?.issue)),
            method::PROMPT => result(t.prompt(cx, &params::<IssueParams>(m, p)?.issue)),
            method::LIST => result(t.list(cx, &params::<IssueFilter>(m, p)?)?),
            _ => Err(unknown_method(Self::SLOT, m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_branch_names_are_valid_and_readable() {
        let issue = |id: &str| Issue {
            id: id.into(),
            title: "t".into(),
            body: String::new(),
            ..Issue::default()
        };
        assert_eq!(default_branch_name(&issue("12")), "feat/issue-12");
        assert_eq!(default_branch_name(&issue("#12")), "feat/issue-12");
        assert_eq!(
            default_branch_name(&issue("PROJ 7/x")),
            "feat/issue-PROJ-7-x"
        );
    }
}
