//! Escalation: past its attempts (`ci-failed`: 2) or its time (`changes-requested`: 30
//! minutes), a reaction hands the matter to the human once, instead of acting again.

use super::{clock, pass};
use crate::fakes::{Fleet, check, thread};
use crate::plugin::CheckState::Failed;
use crate::plugin::ReviewDecision;
use std::time::Duration;

/// The titles of the escalations the human got.
fn escalations(fleet: &Fleet) -> Vec<String> {
    fleet
        .fakes
        .notifier
        .titles()
        .into_iter()
        .filter(|t| t.contains("(escalated)"))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_reaction_escalates_after_its_attempts() {
    let _clock = clock();
    let fleet = Fleet::new();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    let id = s.id.to_string();
    // `ci-failed`: 2 retries, escalated after 2 attempts (the defaults).
    for (n, head) in ["h1", "h2"].into_iter().enumerate() {
        fleet
            .fakes
            .scm
            .push(&pr, head, vec![check("build", Failed)]);
        pass(&fleet).await;
        assert_eq!(fleet.fakes.runtime.sent_to(&id).len(), n + 1);
    }
    assert!(escalations(&fleet).is_empty());
    fleet
        .fakes
        .scm
        .push(&pr, "h3", vec![check("build", Failed)]);
    pass(&fleet).await;
    assert_eq!(
        fleet.fakes.runtime.sent_to(&id).len(),
        2,
        "not sent a third time"
    );
    assert_eq!(
        escalations(&fleet),
        vec![format!("{id}: CI fails (escalated)")]
    );
    // Escalated: quiet from then on.
    fleet
        .fakes
        .scm
        .push(&pr, "h4", vec![check("build", Failed)]);
    pass(&fleet).await;
    pass(&fleet).await;
    assert_eq!(fleet.fakes.runtime.sent_to(&id).len(), 2);
    assert_eq!(escalations(&fleet).len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_reaction_escalates_after_its_time() {
    let clock = clock();
    let fleet = Fleet::new();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    let id = s.id.to_string();
    let scm = &fleet.fakes.scm;
    let ask = |t: &str| {
        scm.edit(&pr, |st| {
            st.review = ReviewDecision::ChangesRequested;
            st.unresolved_threads.push(thread(t, &format!("fix {t}")));
        })
    };
    // `changes-requested`: escalated 30 minutes after its first attempt (the default).
    ask("t1");
    pass(&fleet).await;
    clock.advance(Duration::from_secs(20 * 60));
    ask("t2");
    pass(&fleet).await;
    let sent = fleet.fakes.runtime.sent_to(&id);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(
        sent[1].contains("fix t2") && !sent[1].contains("fix t1"),
        "{}",
        sent[1]
    );
    assert!(escalations(&fleet).is_empty());

    clock.advance(Duration::from_secs(11 * 60));
    ask("t3");
    pass(&fleet).await;
    assert_eq!(fleet.fakes.runtime.sent_to(&id).len(), 2, "t3 is not sent");
    assert_eq!(
        escalations(&fleet),
        vec![format!("{id}: changes were requested (escalated)")]
    );
    ask("t4");
    pass(&fleet).await;
    assert_eq!(fleet.fakes.runtime.sent_to(&id).len(), 2);
    assert_eq!(escalations(&fleet).len(), 1);
}
