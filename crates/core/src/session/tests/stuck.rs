//! No flap: a stuck agent stays stuck when only its pull request changes (a PR reading
//! says nothing of the agent), so `agent-stuck` fires once.

use super::{clock, moves, pass};
use crate::fakes::{Fleet, check};
use crate::model::{Activity, SessionStatus};
use crate::plugin::CheckState::Passed;
use std::time::Duration;

#[tokio::test(flavor = "current_thread")]
async fn a_stuck_session_whose_pr_changes_stays_stuck_and_is_told_once() {
    let clock = clock();
    let fleet = Fleet::new();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    fleet
        .fakes
        .scm
        .push(&pr, "h1", vec![check("build", Passed)]);
    pass(&fleet).await;
    assert_eq!(fleet.session(&s.id).status, SessionStatus::ReviewPending);

    // Quiet for longer than `agent-stuck`'s threshold (10 minutes).
    let quiet_since = clock.now();
    fleet
        .fakes
        .agent
        .reads(&s.id, Activity::Idle, Some(quiet_since));
    clock.advance(Duration::from_secs(11 * 60));
    pass(&fleet).await;
    assert_eq!(fleet.session(&s.id).status, SessionStatus::Stuck);
    let stuck = |fleet: &Fleet| {
        fleet
            .fakes
            .notifier
            .titles()
            .into_iter()
            .filter(|t| t.contains("stuck"))
            .count()
    };
    assert_eq!(stuck(&fleet), 1);

    // Its pull request changes, pass after pass, past the dedup window: still stuck, and
    // not told again.
    let mut seen = Vec::new();
    for sha in ["h2", "h3", "h4"] {
        fleet.fakes.scm.push(&pr, sha, vec![check("build", Passed)]);
        clock.advance(Duration::from_secs(6 * 60));
        pass(&fleet).await;
        seen.push(fleet.session(&s.id).status);
        pass(&fleet).await;
        seen.push(fleet.session(&s.id).status);
    }
    assert_eq!(stuck(&fleet), 1, "{:#?}", fleet.fakes.notifier.titles());
    assert!(
        seen.iter().all(|st| *st == SessionStatus::Stuck),
        "{seen:?}"
    );
    let moved = moves(&fleet, &s.id);
    assert_eq!(
        moved.iter().filter(|m| **m == SessionStatus::Stuck).count(),
        1,
        "into stuck once: {moved:?}"
    );
}
