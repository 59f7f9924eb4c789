//! `ci-failed`: each failing check goes to the agent once per head, and a message that
//! did not reach the agent hands its checks back for the next pass.

use super::{clock, pass};
use crate::fakes::{Fleet, RuntimeOp, Scripted, check};
use crate::plugin::CheckState::{Failed, Passed};

/// Retries that never run out, so each firing is a send, not an escalation.
const NO_ESCALATION: &str = "reactions:\n  ci-failed:\n    retries: 10\n    escalateAfter: 10";

#[tokio::test(flavor = "current_thread")]
async fn one_send_per_failing_check_per_head() {
    let _clock = clock();
    let fleet = Fleet::builder()
        .project("app", "o/app", NO_ESCALATION)
        .build();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    let id = s.id.to_string();
    let scm = &fleet.fakes.scm;
    scm.push(
        &pr,
        "h1",
        vec![
            check("build", Failed),
            check("lint", Failed),
            check("test", Passed),
        ],
    );
    pass(&fleet).await;
    let sent = fleet.fakes.runtime.sent_to(&id);
    assert_eq!(sent.len(), 1, "one message for both checks: {sent:#?}");
    assert!(
        sent[0].contains("- build") && sent[0].contains("- lint"),
        "{}",
        sent[0]
    );
    assert!(!sent[0].contains("- test"), "{}", sent[0]);

    // The same head, unchanged or read again in full: nothing goes again.
    pass(&fleet).await;
    scm.edit(&pr, |st| st.title = "read me again".into());
    pass(&fleet).await;
    assert_eq!(fleet.fakes.runtime.sent_to(&id).len(), 1);

    // Another check failing on that head: it alone goes.
    scm.edit(&pr, |st| st.checks.push(check("docs", Failed)));
    pass(&fleet).await;
    let sent = fleet.fakes.runtime.sent_to(&id);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(
        sent[1].contains("- docs") && !sent[1].contains("- build"),
        "{}",
        sent[1]
    );

    // A new head failing the same check: it goes again, for that head.
    scm.push(&pr, "h2", vec![check("build", Failed)]);
    pass(&fleet).await;
    pass(&fleet).await;
    let sent = fleet.fakes.runtime.sent_to(&id);
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert!(sent[2].contains("- build"), "{}", sent[2]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_send_gives_its_items_back() {
    let _clock = clock();
    let fleet = Fleet::builder()
        .project("app", "o/app", NO_ESCALATION)
        .build();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    let id = s.id.to_string();
    let runtime = &fleet.fakes.runtime;
    runtime.script(
        RuntimeOp::Send,
        [Scripted::Fails("the terminal is busy".into())],
    );
    fleet
        .fakes
        .scm
        .push(&pr, "h1", vec![check("build", Failed)]);
    let lines = pass(&fleet).await;
    assert_eq!(runtime.calls(RuntimeOp::Send), 1, "tried once");
    assert!(runtime.sent_to(&id).is_empty(), "and not delivered");
    assert!(
        lines.iter().any(|l| l.contains("the terminal is busy")),
        "the host says why: {lines:#?}"
    );

    // Given back: the next pass sends the same check, and only once.
    pass(&fleet).await;
    pass(&fleet).await;
    let sent = runtime.sent_to(&id);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].contains("- build"), "{}", sent[0]);
    assert_eq!(runtime.calls(RuntimeOp::Send), 2);
}
