//! Usage limits: the human is told once per agent (not again within the dedup window),
//! a limited agent gets no reactions, and it is told to continue once the limit lifts,
//! once.

use super::{clock, pass};
use crate::fakes::{Fleet, RuntimeOp, check};
use crate::model::{Activity, EventKind, SessionStatus};
use crate::plugin::CheckState::Failed;
use crate::session::react::CONTINUE_AFTER_LIMIT;
use std::time::Duration;

const HOUR: i64 = 3_600_000;

/// The usage-limit notices the human got, and the limits the event log tells of.
fn notices(fleet: &Fleet) -> (usize, usize) {
    let told = fleet
        .fakes
        .notifier
        .titles()
        .iter()
        .filter(|t| t.contains("usage limit"))
        .count();
    let logged = fleet
        .events(None)
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Limited { .. }))
        .count();
    (told, logged)
}

#[tokio::test(flavor = "current_thread")]
async fn a_limit_is_told_once_per_agent_within_the_dedup_window() {
    let clock = clock();
    let fleet = Fleet::new();
    let a = fleet.spawn("app", "one").await.unwrap();
    let b = fleet.spawn("app", "two").await.unwrap();
    let agent = &fleet.fakes.agent;
    let limit_both = || {
        for s in [&a, &b] {
            agent.limited(&s.id, Some(clock.now() + HOUR));
        }
    };
    limit_both();
    pass(&fleet).await;
    assert_eq!(notices(&fleet), (1, 1), "one agent, one notice");
    assert_eq!(
        fleet.fakes.notifier.titles(),
        vec!["fake hit its usage limit".to_owned()]
    );
    pass(&fleet).await;
    assert_eq!(notices(&fleet), (1, 1));

    // The limit goes and comes back within the dedup window (5 minutes): the same limit.
    for s in [&a, &b] {
        agent.active(&s.id);
    }
    pass(&fleet).await;
    clock.advance(Duration::from_secs(60));
    limit_both();
    pass(&fleet).await;
    assert_eq!(notices(&fleet), (1, 1), "not again within the window");

    // And again after the window: a new limit, told.
    for s in [&a, &b] {
        agent.active(&s.id);
    }
    pass(&fleet).await;
    clock.advance(Duration::from_secs(10 * 60));
    limit_both();
    pass(&fleet).await;
    assert_eq!(notices(&fleet), (2, 2));
}

#[tokio::test(flavor = "current_thread")]
async fn a_limited_agent_gets_no_reactions() {
    let clock = clock();
    let fleet = Fleet::new();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    fleet
        .fakes
        .agent
        .limited(&s.id, Some(clock.now() + 10 * HOUR));
    fleet
        .fakes
        .scm
        .push(&pr, "h1", vec![check("build", Failed)]);
    pass(&fleet).await;
    assert_eq!(fleet.session(&s.id).status, SessionStatus::CiFailed);
    // Quiet for longer than the stuck threshold: held, not stuck.
    clock.advance(Duration::from_secs(20 * 60));
    pass(&fleet).await;
    assert_eq!(fleet.session(&s.id).activity, Some(Activity::Limited));
    assert_eq!(
        fleet.fakes.runtime.calls(RuntimeOp::Send),
        0,
        "nothing typed"
    );
    assert_eq!(
        fleet.fakes.notifier.titles(),
        vec!["fake hit its usage limit".to_owned()],
        "told of the limit alone"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn continue_is_sent_once_the_limit_lifts() {
    let clock = clock();
    let fleet = Fleet::new();
    let s = fleet.spawn("app", "task").await.unwrap();
    let id = s.id.to_string();
    let resets_at = clock.now() + 10 * 60_000;
    fleet.fakes.agent.limited(&s.id, Some(resets_at));
    pass(&fleet).await;
    clock.advance(Duration::from_secs(5 * 60));
    pass(&fleet).await;
    assert!(
        fleet.fakes.runtime.sent_to(&id).is_empty(),
        "not before it lifts"
    );

    clock.set(resets_at + 6_000);
    pass(&fleet).await;
    assert_eq!(fleet.fakes.runtime.sent_to(&id), vec![CONTINUE_AFTER_LIMIT]);
    // Its screen still shows the limit for a while: told once.
    for _ in 0..3 {
        clock.advance(Duration::from_secs(30));
        pass(&fleet).await;
    }
    assert_eq!(fleet.fakes.runtime.sent_to(&id).len(), 1);
}
