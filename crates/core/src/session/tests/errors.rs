//! The host acts on the kind of failure it met, not on its words: a message that failed
//! for now (the runtime busy, not answering) is the outbox's to try again, as the same
//! attempt of its reaction; one that failed for good gives its items back to the
//! reaction, which decides again and counts another attempt.

use super::{clock, pass};
use crate::fakes::{Fleet, RuntimeOp, Scripted, check};
use crate::plugin::CheckState::Failed;
use std::time::Duration;

/// Retries that never run out, so each firing is a send, not an escalation.
const NO_ESCALATION: &str = "reactions:\n  ci-failed:\n    retries: 10\n    escalateAfter: 10";

fn attempts(fleet: &Fleet, id: &str) -> u32 {
    fleet
        .manager()
        .store()
        .reaction_state(id, "ci-failed")
        .unwrap()
        .map_or(0, |r| r.attempts)
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_that_failed_for_now_is_tried_again_as_the_same_attempt() {
    let clock = clock();
    let fleet = Fleet::builder()
        .project("app", "o/app", NO_ESCALATION)
        .build();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    let id = s.id.to_string();
    let runtime = &fleet.fakes.runtime;
    runtime.script(
        RuntimeOp::Send,
        [Scripted::Transient {
            message: "the terminal server is restarting".into(),
            retry_after_ms: Some(5_000),
        }],
    );
    fleet
        .fakes
        .scm
        .push(&pr, "h1", vec![check("build", Failed)]);
    let lines = pass(&fleet).await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("for now") && l.contains("tried again in 5 s")),
        "{lines:#?}"
    );
    assert!(runtime.sent_to(&id).is_empty());
    // Not due yet: nothing more is tried.
    pass(&fleet).await;
    assert_eq!(runtime.calls(RuntimeOp::Send), 1);
    clock.advance(Duration::from_secs(6));
    pass(&fleet).await;
    let sent = runtime.sent_to(&id);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].contains("- build"), "{}", sent[0]);
    assert_eq!(attempts(&fleet, &id), 1, "one attempt of the reaction");
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_that_failed_for_good_is_decided_again_as_another_attempt() {
    let _clock = clock();
    let fleet = Fleet::builder()
        .project("app", "o/app", NO_ESCALATION)
        .build();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    let id = s.id.to_string();
    let runtime = &fleet.fakes.runtime;
    runtime.script(
        RuntimeOp::Send,
        [Scripted::Fails("the pane is gone".into())],
    );
    fleet
        .fakes
        .scm
        .push(&pr, "h1", vec![check("build", Failed)]);
    pass(&fleet).await;
    pass(&fleet).await;
    assert_eq!(runtime.sent_to(&id).len(), 1);
    assert_eq!(
        attempts(&fleet, &id),
        2,
        "the reaction counted the failed one"
    );
}
