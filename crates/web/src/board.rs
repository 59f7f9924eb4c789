//! The board: every live session as a card in an attention zone. Which zone is a pure
//! function of the session and its pull request's last reading, so the host decides it
//! once and every page shows the same.

use ao_core::config::AttentionZones;
use ao_core::model::{Activity, SessionStatus, StatusReason};
use ao_core::plugin::{CheckState, PrState, ReviewDecision};
use ao_core::store::PrSnapshot;
use ao_core::stream::{SessionState, State};
use serde::Serialize;

/// Where a card stands on the board, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    /// Approved and green: a human may merge.
    Merge,
    /// Respond and review together (`attentionZones: simple`).
    Action,
    /// The agent waits on a human: a question, stuck, errored, exited, limited.
    Respond,
    /// The pull request needs work: CI failing, changes requested, conflicts.
    Review,
    /// Waiting on reviewers or CI.
    Pending,
    /// The agent works.
    Working,
    /// Merged, finished or ended.
    Done,
}

impl Zone {
    /// The zones a board shows, in order.
    pub fn shown(zones: AttentionZones) -> &'static [Zone] {
        match zones {
            AttentionZones::Simple => &[
                Zone::Merge,
                Zone::Action,
                Zone::Pending,
                Zone::Working,
                Zone::Done,
            ],
            AttentionZones::Detailed => &[
                Zone::Merge,
                Zone::Respond,
                Zone::Review,
                Zone::Pending,
                Zone::Working,
                Zone::Done,
            ],
        }
    }
}

/// The zone of a session: what a human should do about it, if anything.
pub fn zone(s: &SessionState, pr: Option<&PrSnapshot>, zones: AttentionZones) -> Zone {
    let detailed = detailed_zone(s, pr);
    match (zones, detailed) {
        (AttentionZones::Simple, Zone::Respond | Zone::Review) => Zone::Action,
        _ => detailed,
    }
}

fn detailed_zone(s: &SessionState, pr: Option<&PrSnapshot>) -> Zone {
    let session = &s.session;
    match session.status {
        SessionStatus::Merged | SessionStatus::Done => return Zone::Done,
        // An agent that ended by itself, or was lost, waits on a human to restore it.
        SessionStatus::Killed => {
            return match session.status_reason {
                Some(
                    StatusReason::AgentExited
                    | StatusReason::RuntimeLost
                    | StatusReason::SpawnFailed,
                ) => Zone::Respond,
                _ => Zone::Done,
            };
        }
        _ => {}
    }
    if matches!(
        session.activity,
        Some(Activity::WaitingInput | Activity::Blocked | Activity::Limited | Activity::Exited)
    ) || s.limit.is_some()
    {
        return Zone::Respond;
    }
    let reading = pr.map(|p| &p.status);
    match session.status {
        SessionStatus::NeedsInput | SessionStatus::Stuck | SessionStatus::Errored => Zone::Respond,
        SessionStatus::CiFailed | SessionStatus::ChangesRequested => Zone::Review,
        _ if reading.is_some_and(|r| r.state == PrState::Open && r.conflicts) => Zone::Review,
        SessionStatus::Mergeable | SessionStatus::Approved => Zone::Merge,
        SessionStatus::PrOpen | SessionStatus::ReviewPending => Zone::Pending,
        SessionStatus::Spawning | SessionStatus::Working => Zone::Working,
        // Every status is named above; these are the terminal ones, returned earlier.
        SessionStatus::Merged | SessionStatus::Done | SessionStatus::Killed => Zone::Done,
    }
}

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
    let asks = matches!(
        session.activity,
        Some(Activity::WaitingInput | Activity::Blocked)
    );
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
            ci: reading.map(|r| ci(&r.checks)).unwrap_or("none"),
            review: match reading.map(|r| r.review) {
                Some(ReviewDecision::Approved) => "approved",
                Some(ReviewDecision::ChangesRequested) => "changes_requested",
                _ => "pending",
            },
            conflicts: reading.is_some_and(|r| r.conflicts),
        }
    });
    Card {
        id: session.id.to_string(),
        project: session.project.clone(),
        zone: zone(s, pr, zones),
        status: session.status,
        reason: session.status_reason,
        issue: session.issue.clone(),
        branch: session.branch.clone(),
        agent: session.agent.clone(),
        activity: session.activity,
        question: s.activity_detail.clone().filter(|_| asks),
        limit_resets_at: s.limit.as_ref().and_then(|l| l.resets_at),
        pr: chip,
        created_at: session.created_at,
    }
}

/// CI on a head, summed up: any failed check fails it, any pending one keeps it pending.
fn ci(checks: &[ao_core::plugin::CheckRun]) -> &'static str {
    if checks.is_empty() {
        "none"
    } else if checks.iter().any(|c| c.state == CheckState::Failed) {
        "failed"
    } else if checks.iter().any(|c| c.state == CheckState::Pending) {
        "pending"
    } else {
        "passed"
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
    fn every_status_has_a_zone_and_simple_folds_respond_and_review() {
        use SessionStatus::*;
        let detailed = |st, a| zone(&session(st, a), None, AttentionZones::Detailed);
        let simple = |st, a| zone(&session(st, a), None, AttentionZones::Simple);
        for (status, want) in [
            (Spawning, Zone::Working),
            (Working, Zone::Working),
            (PrOpen, Zone::Pending),
            (ReviewPending, Zone::Pending),
            (CiFailed, Zone::Review),
            (ChangesRequested, Zone::Review),
            (Approved, Zone::Merge),
            (Mergeable, Zone::Merge),
            (NeedsInput, Zone::Respond),
            (Stuck, Zone::Respond),
            (Errored, Zone::Respond),
            (Merged, Zone::Done),
            (Done, Zone::Done),
            (Killed, Zone::Done),
        ] {
            assert_eq!(detailed(status, None), want, "{status}");
            let folded = match want {
                Zone::Respond | Zone::Review => Zone::Action,
                z => z,
            };
            assert_eq!(simple(status, None), folded, "{status}");
        }
        // An agent that asks is the human's to answer, whatever the PR says.
        for a in [
            Activity::WaitingInput,
            Activity::Blocked,
            Activity::Limited,
            Activity::Exited,
        ] {
            assert_eq!(detailed(PrOpen, Some(a)), Zone::Respond, "{a:?}");
        }
        assert_eq!(detailed(Working, Some(Activity::Active)), Zone::Working);
        let mut exited = session(Killed, None);
        exited.session.status_reason = Some(StatusReason::AgentExited);
        assert_eq!(zone(&exited, None, AttentionZones::Detailed), Zone::Respond);
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
