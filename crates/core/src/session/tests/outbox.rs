//! The outbox across a crash: for each kind of effect (a message to the agent, a
//! notification, a merge), the host dies at each step (the effect recorded due and not
//! taken; taken and not done; done and not settled) and a host started again over the
//! same home does it once in outcome. The crash is the pass's future dropped where a fake
//! hangs; the restarted manager runs in the same process, so what the dead one took is
//! taken again once its lease runs out, as it would be at once were its pid gone.

use super::{clock, pass};
use crate::fakes::{Fleet, RuntimeOp, ScmOp, Scripted, check};
use crate::model::EventKind;
use crate::plugin::CheckState::{Failed, Passed};
use crate::plugin::Notification;
use crate::session::KillOptions;
use crate::session::outbox::NotifyEffect;
use std::time::Duration;

/// Past the lease of an effect taken by a process that still lives.
const PAST_LEASE: Duration = Duration::from_secs(181);

/// Retries that never run out, so each firing of `ci-failed` is a message.
const NO_ESCALATION: &str = "reactions:\n  ci-failed:\n    retries: 10\n    escalateAfter: 10";

const AUTO_MERGE: &str = "reactions:\n  approved-and-green:\n    auto: true\n    action: auto-merge\nlifecycle:\n  autoCleanupOnMerge: false";

/// Runs a pass until `reached` says it got to where the host dies, and drops it there,
/// as SIGKILL would. Fails the test if the pass ends first, or never gets there.
async fn die_in_pass(fleet: &Fleet, at: &str, reached: impl Fn() -> bool) {
    let got_there = async {
        while !reached() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::select! {
        ended = fleet.pass() => panic!("the pass ended before {at}: {ended:?}"),
        got = tokio::time::timeout(Duration::from_secs(10), got_there) => {
            assert!(got.is_ok(), "the pass never got to {at}");
        }
    }
}

/// The host's pass up to its effects recorded due, none taken: the host dies there.
async fn die_with_effects_due(fleet: &Fleet) {
    fleet.probe().await.unwrap();
    fleet.poll().await.unwrap();
    fleet
        .manager()
        .decide_reactions(fleet.since(), &[])
        .await
        .unwrap();
}

/// The outbox's effects of `kind`, oldest first: (state, times taken, outcome).
fn effects(fleet: &Fleet, kind: &str) -> Vec<(String, u32, Option<String>)> {
    let mut all = fleet.manager().store().intents(1_000).unwrap();
    all.reverse();
    all.into_iter()
        .filter(|i| i.kind == kind)
        .map(|i| (i.state, i.attempts, i.outcome))
        .collect()
}

/// The (state, times taken) of each effect of `kind`, oldest first.
fn states(fleet: &Fleet, kind: &str) -> Vec<(String, u32)> {
    effects(fleet, kind)
        .into_iter()
        .map(|(state, n, _)| (state, n))
        .collect()
}

/// How many times the event log says `reaction` ran.
fn ran(fleet: &Fleet, reaction: &str) -> usize {
    fleet
        .events(None)
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::ReactionRan { reaction: r, .. } if r == reaction))
        .count()
}

/// How many notifications titled with `ends` reached the human.
fn told(fleet: &Fleet, ends: &str) -> usize {
    let titles = fleet.fakes.notifier.titles();
    titles.iter().filter(|t| t.ends_with(ends)).count()
}

fn state(s: &str, n: u32) -> (String, u32) {
    (s.to_owned(), n)
}

// --- a message to the agent (`ci-failed`) ---

/// A fleet whose one session's pull request fails `build` at head `h1`.
async fn failing_ci() -> (Fleet, String) {
    let fleet = Fleet::builder()
        .project("app", "o/app", NO_ESCALATION)
        .build();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    fleet
        .fakes
        .scm
        .push(&pr, "h1", vec![check("build", Failed)]);
    (fleet, s.id.to_string())
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_due_when_the_host_died_is_typed_once() {
    let _clock = clock();
    let (mut fleet, id) = failing_ci().await;
    die_with_effects_due(&fleet).await;
    assert_eq!(states(&fleet, "send"), [state("due", 0)]);

    fleet.restart();
    for _ in 0..3 {
        pass(&fleet).await;
    }
    assert_eq!(fleet.fakes.runtime.sent_to(&id).len(), 1);
    assert_eq!(states(&fleet, "send"), [state("done", 1)]);
    assert_eq!(ran(&fleet, "ci-failed"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_taken_and_not_typed_when_the_host_died_is_typed_after() {
    let clock = clock();
    let (mut fleet, id) = failing_ci().await;
    let runtime = fleet.fakes.runtime.clone();
    runtime.script(RuntimeOp::Send, [Scripted::Hangs]);
    die_in_pass(&fleet, "the message typed", || {
        runtime.calls(RuntimeOp::Send) == 1
    })
    .await;
    assert!(runtime.sent_to(&id).is_empty());
    assert_eq!(states(&fleet, "send"), [state("running", 1)]);

    fleet.restart();
    clock.advance(PAST_LEASE);
    for _ in 0..3 {
        pass(&fleet).await;
    }
    // Its terminal does not show it: typed, once.
    assert_eq!(runtime.sent_to(&id).len(), 1);
    assert_eq!(states(&fleet, "send"), [state("done", 2)]);
    assert_eq!(ran(&fleet, "ci-failed"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_typed_and_not_settled_when_the_host_died_is_not_typed_again() {
    let clock = clock();
    let (mut fleet, id) = failing_ci().await;
    let runtime = fleet.fakes.runtime.clone();
    runtime.script(RuntimeOp::Send, [Scripted::WorksThenHangs]);
    die_in_pass(&fleet, "the message typed", || {
        !runtime.sent_to(&id).is_empty()
    })
    .await;
    assert_eq!(states(&fleet, "send"), [state("running", 1)]);

    fleet.restart();
    clock.advance(PAST_LEASE);
    for _ in 0..3 {
        pass(&fleet).await;
    }
    // Its terminal shows it: delivered, and not typed again.
    assert_eq!(runtime.sent_to(&id).len(), 1);
    assert_eq!(runtime.calls(RuntimeOp::Send), 1);
    let (st, _, outcome) = &effects(&fleet, "send")[0];
    assert_eq!(st, "done");
    assert!(
        outcome
            .as_deref()
            .is_some_and(|o| o.contains("terminal shows it")),
        "{outcome:?}"
    );
    assert_eq!(ran(&fleet, "ci-failed"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_not_typed_is_typed_after_though_an_earlier_one_like_it_shows() {
    let clock = clock();
    let (mut fleet, id) = failing_ci().await;
    pass(&fleet).await;
    let runtime = fleet.fakes.runtime.clone();
    assert_eq!(runtime.sent_to(&id).len(), 1);

    // The same check fails on the next head: the same words, for the agent again. The
    // host dies before it types them.
    let pr = fleet.session(&id.parse().unwrap()).pr.unwrap();
    fleet
        .fakes
        .scm
        .push(&pr, "h2", vec![check("build", Failed)]);
    runtime.script(RuntimeOp::Send, [Scripted::Hangs]);
    die_in_pass(&fleet, "the second message typed", || {
        runtime.calls(RuntimeOp::Send) == 2
    })
    .await;

    fleet.restart();
    clock.advance(PAST_LEASE);
    for _ in 0..3 {
        pass(&fleet).await;
    }
    // The terminal shows the first message, not this one: this one is typed too.
    let sent = runtime.sent_to(&id);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sent[0], sent[1]);
    assert_eq!(states(&fleet, "send"), [state("done", 1), state("done", 2)]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_for_a_session_killed_while_due_is_dropped_and_never_typed() {
    let _clock = clock();
    let (mut fleet, id) = failing_ci().await;
    die_with_effects_due(&fleet).await;
    fleet.restart();
    // Killed while no host runs (`ao session kill`); then the host starts again.
    fleet
        .manager()
        .kill(
            &id,
            KillOptions {
                keep_workspace: true,
                force: false,
            },
        )
        .await
        .unwrap();
    let lines = pass(&fleet).await;
    assert_eq!(
        lines,
        [format!("{id}: `ci-failed` not sent: the session has ended")]
    );
    pass(&fleet).await;
    assert_eq!(fleet.fakes.runtime.calls(RuntimeOp::Send), 0);
    assert_eq!(
        effects(&fleet, "send"),
        [(
            "dropped".to_owned(),
            1,
            Some("dropped: the session ended before it was sent".to_owned())
        )]
    );
    assert_eq!(ran(&fleet, "ci-failed"), 0, "the log says it did not go");
}

// --- a notification (`approved-and-green`, which notifies by default) ---

const APPROVED: &str = ": approved and green";

/// A fleet whose one session's pull request is approved and green.
async fn approved() -> Fleet {
    let fleet = Fleet::new();
    let (_, pr) = fleet.spawn_with_pr("app").await;
    fleet.fakes.scm.approve_green(&pr);
    fleet
}

#[tokio::test(flavor = "current_thread")]
async fn a_notification_due_when_the_host_died_is_delivered_once() {
    let _clock = clock();
    let mut fleet = approved().await;
    die_with_effects_due(&fleet).await;
    assert_eq!(states(&fleet, "notify"), [state("due", 0)]);

    fleet.restart();
    for _ in 0..3 {
        pass(&fleet).await;
    }
    assert_eq!(told(&fleet, APPROVED), 1);
    assert_eq!(states(&fleet, "notify"), [state("done", 1)]);
    assert_eq!(ran(&fleet, "approved-and-green"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_notification_taken_and_not_delivered_when_the_host_died_is_delivered_after() {
    let clock = clock();
    let mut fleet = approved().await;
    let notifier = fleet.fakes.notifier.clone();
    notifier.script([Scripted::Hangs]);
    die_in_pass(&fleet, "the notifier", || notifier.calls() == 1).await;
    assert!(notifier.delivered().is_empty());
    assert_eq!(states(&fleet, "notify"), [state("running", 1)]);

    fleet.restart();
    clock.advance(PAST_LEASE);
    for _ in 0..3 {
        pass(&fleet).await;
    }
    assert_eq!(told(&fleet, APPROVED), 1);
    assert_eq!(states(&fleet, "notify"), [state("done", 2)]);
    assert_eq!(ran(&fleet, "approved-and-green"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_notification_delivered_and_not_settled_when_the_host_died_is_not_delivered_again() {
    let clock = clock();
    let mut fleet = approved().await;
    die_with_effects_due(&fleet).await;
    // The host takes it and delivers it (the dispatcher records the delivery), then dies
    // before it settles it: no step of that awaits anything a test could stop.
    {
        let m = fleet.manager();
        let i = m.store().pending_intents().unwrap().remove(0);
        let now = clock.now();
        let pid = std::process::id();
        let taken = m
            .store()
            .take_intent(i.id, pid, now, now + 180_000, |_| false)
            .unwrap();
        assert!(taken.is_some());
        let e: NotifyEffect = serde_json::from_str(&i.payload).unwrap();
        let n = Notification {
            title: e.title,
            event: e.event,
        };
        let report = fleet
            .dispatcher()
            .notify(&m.store, &n, Some(&e.key), m.dedup_window())
            .await
            .unwrap();
        assert!(report.delivered());
    }
    assert_eq!(told(&fleet, APPROVED), 1);

    fleet.restart();
    clock.advance(PAST_LEASE);
    for _ in 0..3 {
        pass(&fleet).await;
    }
    // Its delivery is on record: not delivered again.
    assert_eq!(told(&fleet, APPROVED), 1);
    assert_eq!(fleet.fakes.notifier.calls(), 1);
    assert_eq!(states(&fleet, "notify"), [state("done", 2)]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_notification_whose_notifier_never_answered_is_delivered_again() {
    let clock = clock();
    let mut fleet = approved().await;
    let notifier = fleet.fakes.notifier.clone();
    notifier.script([Scripted::WorksThenHangs]);
    die_in_pass(&fleet, "the delivery", || !notifier.delivered().is_empty()).await;

    fleet.restart();
    clock.advance(PAST_LEASE);
    for _ in 0..3 {
        pass(&fleet).await;
    }
    // No notifier can be asked what it delivered: one that never answered may not have,
    // so it goes again. Twice rather than never; not a third time.
    assert_eq!(told(&fleet, APPROVED), 2);
    assert_eq!(notifier.calls(), 2);
    assert_eq!(states(&fleet, "notify"), [state("done", 2)]);
}

// --- a merge (`approved-and-green` with `action: auto-merge`) ---

const MERGED: &str = ": pull request #1 merged";

/// A fleet that auto-merges, whose one session's pull request is approved and green;
/// the pull request's head.
async fn mergeable() -> (Fleet, crate::model::PrRef, String) {
    let fleet = Fleet::builder().config(AUTO_MERGE).build();
    let (_, pr) = fleet.spawn_with_pr("app").await;
    fleet.fakes.scm.approve_green(&pr);
    let head = fleet.fakes.scm.status(&pr).unwrap().head_sha;
    (fleet, pr, head)
}

/// The heads merged at the scm, in order.
fn merged_heads(fleet: &Fleet) -> Vec<String> {
    let merges = fleet.fakes.scm.merges();
    merges.into_iter().map(|m| m.head_sha).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_due_when_the_host_died_is_merged_once_and_told_once() {
    let _clock = clock();
    let (mut fleet, _, head) = mergeable().await;
    die_with_effects_due(&fleet).await;
    assert_eq!(states(&fleet, "merge"), [state("due", 0)]);

    fleet.restart();
    for _ in 0..3 {
        pass(&fleet).await;
    }
    assert_eq!(merged_heads(&fleet), [head.as_str()]);
    assert_eq!(told(&fleet, MERGED), 1);
    assert_eq!(
        effects(&fleet, "merge"),
        [("done".to_owned(), 1, Some(format!("merged at {head}")))]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_taken_and_not_asked_when_the_host_died_is_merged_after() {
    let clock = clock();
    let (mut fleet, _, head) = mergeable().await;
    let scm = fleet.fakes.scm.clone();
    scm.script(ScmOp::Merge, [Scripted::Hangs]);
    die_in_pass(&fleet, "the merge", || scm.calls(ScmOp::Merge) == 1).await;
    assert!(scm.merges().is_empty());
    assert_eq!(states(&fleet, "merge"), [state("running", 1)]);

    fleet.restart();
    clock.advance(PAST_LEASE);
    for _ in 0..3 {
        pass(&fleet).await;
    }
    // Read again: the same head, still green and approved: merged by the same effect.
    assert_eq!(merged_heads(&fleet), [head.as_str()]);
    assert_eq!(told(&fleet, MERGED), 1);
    assert_eq!(
        effects(&fleet, "merge"),
        [("done".to_owned(), 2, Some(format!("merged at {head}")))]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_done_and_not_settled_when_the_host_died_is_recorded_and_told_once() {
    let clock = clock();
    let (mut fleet, _, head) = mergeable().await;
    let scm = fleet.fakes.scm.clone();
    scm.script(ScmOp::Merge, [Scripted::WorksThenHangs]);
    die_in_pass(&fleet, "the merge", || !scm.merges().is_empty()).await;
    assert_eq!(states(&fleet, "merge"), [state("running", 1)]);
    assert_eq!(told(&fleet, MERGED), 0);

    fleet.restart();
    clock.advance(PAST_LEASE);
    for _ in 0..3 {
        pass(&fleet).await;
    }
    // Read again: merged at the head decided on: done, and the human told, once.
    assert_eq!(merged_heads(&fleet), [head.as_str()]);
    assert_eq!(scm.calls(ScmOp::Merge), 1);
    assert_eq!(told(&fleet, MERGED), 1);
    assert_eq!(
        effects(&fleet, "merge"),
        [("done".to_owned(), 2, Some(format!("merged at {head}")))]
    );
    assert_eq!(ran(&fleet, "approved-and-green"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_whose_head_moved_while_it_was_due_is_dropped_saying_why() {
    let _clock = clock();
    let (mut fleet, pr, head) = mergeable().await;
    die_with_effects_due(&fleet).await;
    // A push while no host runs: the new head green too.
    fleet
        .fakes
        .scm
        .push(&pr, "h2", vec![check("build", Passed)]);

    fleet.restart();
    let lines = pass(&fleet).await;
    assert!(
        merged_heads(&fleet).is_empty(),
        "not merged on the old head's decision"
    );
    let why = format!("its head moved from {head} to h2 since the merge was decided");
    assert!(lines.iter().any(|l| l.contains(&why)), "{lines:#?}");
    assert!(
        fleet.events(None).iter().any(|e| e.message.contains(&why)),
        "the event log says why"
    );
    let (st, _, outcome) = &effects(&fleet, "merge")[0];
    assert_eq!(st, "dropped");
    assert!(
        outcome.as_deref().is_some_and(|o| o.contains(&why)),
        "{outcome:?}"
    );

    // Decided again on the new head, whose CI ran: merged there, once.
    for _ in 0..3 {
        pass(&fleet).await;
    }
    assert_eq!(merged_heads(&fleet), ["h2"]);
    assert_eq!(told(&fleet, MERGED), 1);
}
