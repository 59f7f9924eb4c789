//! The board: every live session as a card in its attention zone (`ao_core::zones`, the
//! same for the dashboard and `ao tui`), decided by the host once for every page.

use ao_core::config::AttentionZones;
use ao_core::model::{Activity, SessionStatus, StatusReason};
use ao_core::plugin::PrState;
use ao_core::store::PrSnapshot;
use ao_core::stream::{SessionState, State};
use ao_core::zones::{self, Zone};
use serde::Serialize;

/// One card, as the page draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Card {
    /// The session id.
    pub id: String,
    /// Its project.
    pub project: String,
    /// Its zone on this board.
    pub zone: Zone,
    /// Its status (`ao status`'s word).
    pub status: SessionStatus,
    /// Why, where the status alone does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<StatusReason>,
    /// The tracker's issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// The branch.
    pub branch: String,
    /// The agent plugin.
    pub agent: String,
    /// What the agent does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<Activity>,
    /// What it asks, when it waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// When a usage limit it waits on lifts (milliseconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_resets_at: Option<i64>,
    /// Its pull request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr: Option<PrChip>,
    /// When it was created (milliseconds since the epoch).
    pub created_at: i64,
}

/// A pull request as a card shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrChip {
    /// Its number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// Open, merged or closed, from the last reading (open when not read yet).
    pub state: &'static str,
    /// CI on its head: `passed`, `failed`, `pending` or `none`.
    pub ci: &'static str,
    /// The review: `approved`, `changes_requested` or `pending`.
    pub review: &'static str,
    /// Whether it conflicts with its base.
    pub conflicts: bool,
}

/// The card of `s` on a board of `zones`.
pub fn card(s: &SessionState, pr: Option<&PrSnapshot>, zones: AttentionZones) -> Card {
    let session = &s.session;
    let chip = session.pr.as_ref().map(|r| {
        let reading = pr.map(|p| &p.status);
        PrChip {
            number: r.number,
            url: r.url.clone(),
            state: match reading.map(|r| r.state) {
                Some(PrState::Merged) => "merged",
                Some(PrState::Closed) => "closed",
                _ => "open",
            },
            ci: reading.map(|r| zones::ci(&r.checks)).unwrap_or("none"),
            review: reading.map_or("pending", |r| zones::review(r.review)),
            conflicts: reading.is_some_and(|r| r.conflicts),
        }
    });
    Card {
        id: session.id.to_string(),
        project: session.project.clone(),
        zone: zones::zone(s, pr, zones),
        status: session.status,
        reason: session.status_reason,
        issue: session.issue.clone(),
        branch: session.branch.clone(),
        agent: session.agent.clone(),
        activity: session.activity,
        question: zones::question(s).map(str::to_owned),
        limit_resets_at: s.limit.as_ref().and_then(|l| l.resets_at),
        pr: chip,
        created_at: session.created_at,
    }
}

/// Every card of `state`, oldest session first.
pub fn cards(state: &State, zones: AttentionZones) -> Vec<Card> {
    state
        .sessions
        .iter()
        .map(|s| card(s, state.pull_requests.get(&s.session.id), zones))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ao_core::model::{Session, SessionId};

    fn session(status: SessionStatus, activity: Option<Activity>) -> SessionState {
        let json = serde_json::json!({
            "id": "app-1", "project": "app", "issue": null, "branch": "b",
            "workspace_path": null, "runtime": null, "agent": "command",
            "workspace": "worktree", "runtime_plugin": "tmux", "created_branch": true,
            "spawn_pid": null, "prompt": null, "agent_session_id": null, "pr": null,
            "status": status, "status_reason": null, "activity": activity,
            "created_at": 1, "updated_at": 1, "archived_at": null,
        });
        let session: Session = serde_json::from_value(json).unwrap();
        assert_eq!(session.id, SessionId::new("app", 1));
        SessionState {
            session,
            activity_detail: None,
            limit: None,
            report: None,
            agent_exit: None,
        }
    }

    #[test]
    fn a_card_shows_the_question_only_while_the_agent_asks() {
        let mut s = session(SessionStatus::NeedsInput, Some(Activity::WaitingInput));
        s.activity_detail = Some("Allow edit?".into());
        let c = card(&s, None, AttentionZones::Simple);
        assert_eq!(c.question.as_deref(), Some("Allow edit?"));
        s.session.activity = Some(Activity::Active);
        assert_eq!(card(&s, None, AttentionZones::Simple).question, None);
    }
}
