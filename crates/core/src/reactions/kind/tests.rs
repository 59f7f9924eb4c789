//! The definitions' own checks: every key parses back to its reaction, every reaction
//! has its defaults and words, and each condition fires on its session's shape alone.

use super::*;
use crate::model::{PrRef, SessionId};
use crate::plugin::{CheckRun, ReviewDecision, ReviewThread};
use std::collections::{HashMap, HashSet};

#[test]
fn every_key_parses_to_its_reaction_and_back() {
    for &k in ReactionKind::ALL {
        assert_eq!(ReactionKind::parse(k.key()), Some(k), "{k:?}");
        assert_eq!(k.to_string(), k.key());
    }
    for unknown in ["ci-fail", "CI-FAILED", "", "agent_stuck"] {
        assert_eq!(ReactionKind::parse(unknown), None, "{unknown}");
    }
    let unique: HashSet<&str> = ReactionKind::ALL.iter().map(|k| k.key()).collect();
    assert_eq!(unique.len(), ReactionKind::ALL.len());
    // The order the config check lists them in.
    assert_eq!(
        keys(),
        [
            "pr-closed",
            "ci-failed",
            "changes-requested",
            "bugbot-comments",
            "merge-conflicts",
            "approved-and-green",
            "agent-idle",
            "agent-stuck",
            "agent-needs-input",
            "agent-exited",
            "all-complete",
        ]
    );
    let by_key: Vec<&str> = ReactionKind::by_key().iter().map(|k| k.key()).collect();
    let mut sorted = keys().to_vec();
    sorted.sort_unstable();
    assert_eq!(by_key, sorted);
}

#[test]
fn every_reaction_has_defaults_words_and_its_own_parts() {
    for &k in ReactionKind::ALL {
        let d = k.defaults();
        assert!(d.auto.is_some() && d.action.is_some(), "{k}");
        // A send-to-agent reaction always has something to say.
        if d.action == Some(ReactionAction::SendToAgent) {
            assert!(d.message.is_some(), "{k}");
        }
        assert!(!k.what().is_empty(), "{k}");
    }
    let having = |part: fn(&Definition) -> bool| -> Vec<ReactionKind> {
        ReactionKind::ALL
            .iter()
            .copied()
            .filter(|k| part(k.definition()))
            .collect()
    };
    use ReactionKind::*;
    assert_eq!(having(|d| d.merges), [ApprovedAndGreen]);
    assert_eq!(having(|d| d.lists_conflicts), [MergeConflicts]);
    assert_eq!(having(|d| d.orchestrator), [AgentNeedsInput, AgentExited]);
    assert_eq!(
        having(|d| d.review_check),
        [ChangesRequested, BugbotComments]
    );
    assert_eq!(having(|d| d.keeps_count_while.is_some()), [AgentIdle]);
    assert_eq!(
        having(|d| matches!(d.condition, Condition::Project(_))),
        [AllComplete]
    );
}

fn session(status: SessionStatus) -> Session {
    Session {
        status,
        ..crate::model::session_sample(&SessionId::new("app", 1))
    }
}

fn pr() -> PrStatus {
    PrStatus {
        pr: PrRef {
            owner: "o".into(),
            repo: "r".into(),
            number: 7,
            url: "https://github.com/o/r/pull/7".into(),
        },
        state: PrState::Open,
        head_sha: "abc".into(),
        head_branch: String::new(),
        cross_repository: false,
        title: String::new(),
        draft: false,
        updated_at: 0,
        fingerprint: String::new(),
        checks: Vec::new(),
        review: ReviewDecision::Pending,
        unresolved_threads: Vec::new(),
        mergeable: false,
        conflicts: false,
        behind_base: false,
    }
}

/// For each reaction of a session, a session (and PR reading) on which it fires.
fn shapes() -> Vec<(ReactionKind, Session, Option<PrStatus>)> {
    use ReactionKind::*;
    let ended = |status, reason| Session {
        status_reason: Some(reason),
        ..session(status)
    };
    let failing = PrStatus {
        checks: vec![CheckRun {
            id: "build".into(),
            name: "build".into(),
            required: true,
            state: CheckState::Failed,
            url: None,
            log_excerpt: None,
        }],
        ..pr()
    };
    let flagged = PrStatus {
        unresolved_threads: vec![ReviewThread {
            id: "B1".into(),
            is_bot: true,
            path: None,
            line: None,
            body: "fix".into(),
            author: None,
        }],
        ..pr()
    };
    let conflicting = PrStatus {
        conflicts: true,
        ..pr()
    };
    let idle = Session {
        activity: Some(Activity::Idle),
        ..session(SessionStatus::Working)
    };
    vec![
        (
            PrClosed,
            ended(SessionStatus::Done, StatusReason::PrClosed),
            None,
        ),
        (CiFailed, session(SessionStatus::CiFailed), Some(failing)),
        (
            ChangesRequested,
            session(SessionStatus::ChangesRequested),
            Some(pr()),
        ),
        (
            BugbotComments,
            session(SessionStatus::PrOpen),
            Some(flagged),
        ),
        (
            MergeConflicts,
            session(SessionStatus::PrOpen),
            Some(conflicting),
        ),
        (
            ApprovedAndGreen,
            session(SessionStatus::Mergeable),
            Some(pr()),
        ),
        (AgentIdle, idle, None),
        (AgentStuck, session(SessionStatus::Stuck), None),
        (AgentNeedsInput, session(SessionStatus::NeedsInput), None),
        (
            AgentExited,
            ended(SessionStatus::Killed, StatusReason::AgentExited),
            None,
        ),
    ]
}

/// The reactions whose condition holds for `session` with `pr`.
fn firing(session: &Session, pr: Option<&PrStatus>, ended_recently: bool) -> Vec<ReactionKind> {
    let (states, sent) = (HashMap::new(), HashSet::new());
    let subject = Subject {
        session,
        pr,
        states: &states,
        sent: &sent,
        ended_recently,
    };
    ReactionKind::ALL
        .iter()
        .copied()
        .filter(|k| match k.definition().condition {
            Condition::Session(holds) => holds(&subject).is_some(),
            Condition::Project(_) => false,
        })
        .collect()
}

#[test]
fn each_condition_holds_on_its_own_session_shape_and_on_no_other() {
    let shapes = shapes();
    let covered: Vec<ReactionKind> = shapes.iter().map(|(k, ..)| *k).collect();
    let of_sessions: Vec<ReactionKind> = ReactionKind::ALL
        .iter()
        .copied()
        .filter(|k| matches!(k.definition().condition, Condition::Session(_)))
        .collect();
    assert_eq!(covered, of_sessions, "a shape for every session reaction");
    for (kind, session, pr) in &shapes {
        assert_eq!(firing(session, pr.as_ref(), true), [*kind], "{kind}");
    }
    // A plain working session with an open, quiet PR: nothing.
    assert!(firing(&session(SessionStatus::PrOpen), Some(&pr()), true).is_empty());
    // An ended session is reacted to only when it ended lately.
    for (kind, session, pr) in &shapes {
        let later = firing(session, pr.as_ref(), false);
        let ends = matches!(kind, ReactionKind::PrClosed | ReactionKind::AgentExited);
        assert_eq!(later.is_empty(), ends, "{kind}");
    }
    // A closed pull request's reading triggers none of the PR's reactions.
    for (kind, session, pr) in &shapes {
        let Some(pr) = pr else { continue };
        let closed = PrStatus {
            state: PrState::Closed,
            ..pr.clone()
        };
        assert!(firing(session, Some(&closed), true).is_empty(), "{kind}");
    }
}

#[test]
fn all_complete_holds_over_a_project_whose_sessions_all_ended() {
    let Condition::Project(holds) = ReactionKind::AllComplete.definition().condition else {
        panic!("all-complete is a project's reaction")
    };
    let merged = session(SessionStatus::Merged);
    let working = session(SessionStatus::Working);
    assert!(holds(&[&merged]));
    assert!(!holds(&[&merged, &working]));
}
