//! What an agent says of itself: `ao acknowledge` and `ao report STATE`, run by the
//! agent from inside its session (its rules tell it to). A report weighs below facts (a
//! dead process, a merged pull request still decide) and above what the terminal
//! suggests; a `pr-created` report with the PR's address attaches it at once.

use super::{Manager, ManagerError};
use crate::model::{Activity, EventKind, Priority, now_ms};
use crate::store::{Change, SelfReport};

/// The states an agent reports, as the reference names them.
pub const REPORT_STATES: &[&str] = &[
    "started",
    "working",
    "waiting",
    "needs_input",
    "fixing_ci",
    "addressing_reviews",
    "pr_created",
    "draft_pr_created",
    "ready_for_review",
    "completed",
];

/// A reported state in its snake_case form (hyphens accepted), or None.
pub fn report_state(text: &str) -> Option<&'static str> {
    let t = text.trim().to_ascii_lowercase().replace('-', "_");
    REPORT_STATES.iter().copied().find(|s| *s == t)
}

/// What a reported state says of the agent's activity.
pub fn report_activity(state: &str) -> Activity {
    match state {
        "waiting" | "completed" | "ready_for_review" => Activity::Ready,
        "needs_input" => Activity::WaitingInput,
        _ => Activity::Active,
    }
}

impl Manager {
    /// Records what session `id`'s agent says of itself; with a pull request (its
    /// address, or its number in the project's repository), the session owns it now.
    pub fn report(
        &self,
        id: &str,
        state: &str,
        note: Option<String>,
        pr_url: Option<&str>,
        pr_number: Option<u64>,
    ) -> Result<(), ManagerError> {
        let s = self.session(id)?;
        let pr = match (pr_url, pr_number) {
            (None, None) => None,
            _ => self.reported_pr(&self.project(&s.project)?, pr_url, pr_number)?,
        };
        let said = note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        // The row is left alone unless a pull request is attached: an agent reports
        // while its spawn may still be writing it.
        self.store().append_event(&crate::model::Event {
            id: 0,
            at: now_ms(),
            project: s.project.clone(),
            session: Some(s.id.clone()),
            priority: Priority::Info,
            kind: EventKind::Reported {
                state: state.to_owned(),
            },
            message: format!("{} reports {state}{said}", s.id),
        })?;
        if let Some(pr) = pr.filter(|pr| s.pr.as_ref().map(|p| p.number) != Some(pr.number)) {
            self.update(&s.id, |row| {
                if row.pr.as_ref().map(|p| p.number) == Some(pr.number) {
                    return Vec::new();
                }
                row.pr = Some(pr.clone());
                vec![Change::new(
                    EventKind::PrDetected { number: pr.number },
                    Priority::Info,
                    format!(
                        "pull request #{} reported by its agent: {}",
                        pr.number, pr.url
                    ),
                )]
            })?;
        }
        // Last, so whoever reads the report finds its pull request attached already.
        self.store().record_self_report(
            &s.id,
            &SelfReport {
                state: state.to_owned(),
                note,
                at: now_ms(),
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_with_hyphens() {
        assert_eq!(report_state("pr-created"), Some("pr_created"));
        assert_eq!(report_state("Fixing_CI"), Some("fixing_ci"));
        assert_eq!(report_state("done"), None);
        assert_eq!(report_activity("needs_input"), Activity::WaitingInput);
        assert_eq!(report_activity("completed"), Activity::Ready);
    }
}
