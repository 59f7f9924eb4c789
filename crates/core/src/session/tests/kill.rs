//! Nothing after a kill: a message decided before it is not sent after it, and the
//! killed session's pull request moves nothing (no message, merge or notice), however it
//! changes.

use super::{clock, pass};
use crate::fakes::{Fleet, RuntimeOp, ScmOp, check, thread};
use crate::model::SessionStatus;
use crate::plugin::CheckState::Failed;
use crate::plugin::ReviewDecision;
use crate::session::KillOptions;

const KEEP: KillOptions = KillOptions {
    keep_workspace: true,
    force: false,
};

#[tokio::test(flavor = "current_thread")]
async fn a_message_decided_before_a_kill_is_not_sent_after_it() {
    let _clock = clock();
    let fleet = Fleet::new();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    let id = s.id.to_string();
    fleet
        .fakes
        .scm
        .push(&pr, "h1", vec![check("build", Failed)]);
    fleet.probe().await.unwrap();
    fleet.poll().await.unwrap();
    // Decided and due, then the user kills the session before the host does it.
    let m = fleet.manager();
    m.decide_reactions(fleet.since(), &[]).await.unwrap();
    let due = m.store().pending_intents().unwrap();
    assert!(
        due.iter().any(|i| i.owner == id && i.kind == "send"),
        "{due:#?}"
    );
    m.kill(&id, KEEP).await.unwrap();
    // Its runtime is not asked anything more, and the host says why.
    let asked = fleet.fakes.runtime.all_calls();
    let lines = m.perform_ready(fleet.dispatcher()).await.unwrap();
    assert_eq!(fleet.fakes.runtime.all_calls(), asked, "{lines:#?}");
    assert_eq!(
        lines,
        [format!("{id}: `ci-failed` not sent: the session has ended")]
    );
    assert!(m.store().pending_intents().unwrap().is_empty(), "settled");
    pass(&fleet).await;
    assert_eq!(fleet.fakes.runtime.calls(RuntimeOp::Send), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_killed_sessions_pull_request_moves_nothing() {
    let _clock = clock();
    let fleet = Fleet::builder()
        .config(
            "reactions:\n  approved-and-green:\n    auto: true\n    action: auto-merge\nlifecycle:\n  autoCleanupOnMerge: false",
        )
        .build();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    let id = s.id.to_string();
    pass(&fleet).await;
    fleet.manager().kill(&id, KEEP).await.unwrap();
    assert_eq!(fleet.fakes.runtime.destroyed(), vec![id.clone()]);
    let told = fleet.fakes.notifier.delivered().len();

    // Its pull request fails CI, gets asked for changes, then is approved and green.
    let scm = &fleet.fakes.scm;
    scm.edit(&pr, |st| {
        st.head_sha = "h2".into();
        st.checks = vec![check("build", Failed)];
        st.review = ReviewDecision::ChangesRequested;
        st.unresolved_threads = vec![thread("t1", "rename this")];
    });
    pass(&fleet).await;
    pass(&fleet).await;
    scm.edit(&pr, |st| st.unresolved_threads.clear());
    scm.approve_green(&pr);
    pass(&fleet).await;
    pass(&fleet).await;

    assert_eq!(
        fleet.fakes.runtime.calls(RuntimeOp::Send),
        0,
        "nothing typed"
    );
    assert_eq!(scm.calls(ScmOp::Merge), 0, "nothing merged");
    let after: Vec<String> = fleet.fakes.notifier.titles()[told..].to_vec();
    assert!(after.is_empty(), "nothing told: {after:#?}");
    assert_eq!(fleet.session(&s.id).status, SessionStatus::Killed);
}
