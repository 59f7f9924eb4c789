//! The attention zones: what a human should do about each session, if anything. Which
//! zone is a pure function of the session as the stream shows it and its pull request's
//! last reading, so every view of the fleet (the dashboard's board, `ao tui`) groups the
//! same sessions the same way.

use crate::config::AttentionZones;
use crate::model::{Activity, SessionStatus, StatusReason};
use crate::plugin::{CheckRun, CheckState, PrState, ReviewDecision};
use crate::store::PrSnapshot;
use crate::stream::SessionState;
use serde::Serialize;

/// Where a session stands, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
    /// The zones a view shows, in order.
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

    /// Its name, as the views title it.
    pub fn name(self) -> &'static str {
        match self {
            Zone::Merge => "merge",
            Zone::Action => "action",
            Zone::Respond => "respond",
            Zone::Review => "review",
            Zone::Pending => "pending",
            Zone::Working => "working",
            Zone::Done => "done",
        }
    }
}

/// The zone of a session on a view of `zones`.
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

/// CI on a head, summed up: `failed` if any check failed, else `pending` if any is
/// pending, else `passed`; `none` without checks.
pub fn ci(checks: &[CheckRun]) -> &'static str {
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

/// A review decision in one word: `approved`, `changes_requested` or `pending`.
pub fn review(decision: ReviewDecision) -> &'static str {
    match decision {
        ReviewDecision::Approved => "approved",
        ReviewDecision::ChangesRequested => "changes_requested",
        ReviewDecision::Pending => "pending",
    }
}

/// The question a session's agent asks, while it asks one.
pub fn question(s: &SessionState) -> Option<&str> {
    let asks = matches!(
        s.session.activity,
        Some(Activity::WaitingInput | Activity::Blocked)
    );
    s.activity_detail.as_deref().filter(|_| asks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Session, SessionId};

    /// A live session `app-1` of `status` and `activity`, as the stream shows it.
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
            assert!(Zone::shown(AttentionZones::Detailed).contains(&want));
            assert!(Zone::shown(AttentionZones::Simple).contains(&folded));
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
    fn the_question_shows_only_while_the_agent_asks() {
        let mut s = session(SessionStatus::NeedsInput, Some(Activity::WaitingInput));
        s.activity_detail = Some("Allow edit?".into());
        assert_eq!(question(&s), Some("Allow edit?"));
        s.session.activity = Some(Activity::Active);
        assert_eq!(question(&s), None);
    }
}
