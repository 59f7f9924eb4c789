//! The poll's budget and pause, a refresh cut off by its deadline, and merges the scm does
//! not answer, over the fakes and a fake clock.

use super::*;
use crate::fakes::{FakeClock, Fleet, ScmOp, Scripted};
use crate::plugin::{Budget, MergeMethod};
use std::time::Duration;

/// When these tests' clock starts: 2027-01-15 08:00 UTC.
const START: i64 = 1_800_000_000_000;

/// A deadline that a hung fake runs out at once.
const SHORT: Duration = Duration::from_millis(50);

/// A fleet with one session whose pull request has been read once.
async fn fleet_with_pr() -> (Fleet, Session, PrRef) {
    let fleet = Fleet::new();
    let (s, pr) = fleet.spawn_with_pr("app").await;
    fleet.poll().await.expect("the first poll");
    (fleet, s, pr)
}

#[test]
fn the_poll_stretches_as_the_budget_runs_low() {
    let b = |remaining| Budget {
        remaining,
        limit: 5000,
        reset: 2_000,
    };
    assert_eq!(poll_interval(30_000, None, 0), 30_000);
    assert_eq!(poll_interval(30_000, Some(&b(4000)), 0), 30_000);
    assert_eq!(poll_interval(30_000, Some(&b(1000)), 0), 60_000);
    assert_eq!(poll_interval(30_000, Some(&b(100)), 0), 120_000);
    // None left: until the window resets (2000 s), never sooner than the base.
    assert_eq!(poll_interval(30_000, Some(&b(0)), 1_000_000), 1_000_000);
    assert_eq!(poll_interval(30_000, Some(&b(0)), 1_990_000), 30_000);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refresh_cut_off_names_the_scm_and_its_oldest_reading() {
    let clock = FakeClock::install(START);
    let fleet = Fleet::new();
    let (a, _) = fleet.spawn_with_pr("app").await;
    let (b, _) = fleet.spawn_with_pr("app").await;
    fleet.poll().await.unwrap();
    // b's reading is renewed an hour later; a's is not.
    clock.advance(Duration::from_secs(3600));
    fleet
        .manager()
        .store()
        .confirm_pr_snapshot(&b.id, now_ms())
        .unwrap();
    clock.advance(Duration::from_secs(60));
    fleet
        .fakes
        .scm
        .script_always(ScmOp::Enrich, Scripted::Hangs);
    let report = fleet
        .manager()
        .refresh_prs_within(None, SHORT)
        .await
        .unwrap();
    let said = "the scm did not answer within 0 s; the last reading is from 08:00 UTC";
    assert_eq!(report.notes, [said]);
    let snapshots = fleet.manager().pr_snapshots().unwrap();
    for id in [&a.id, &b.id] {
        assert!(snapshots[id].stale, "{id}'s reading is not marked stale");
        assert_eq!(snapshots[id].error.as_deref(), Some(said));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn refreshes_cut_off_in_a_row_open_the_breaker() {
    let _clock = FakeClock::install(START);
    let (fleet, _, _) = fleet_with_pr().await;
    let scm = &fleet.fakes.scm;
    scm.script_always(ScmOp::Enrich, Scripted::Hangs);
    let mut notes = Vec::new();
    for _ in 0..3 {
        notes = fleet
            .manager()
            .refresh_prs_within(None, SHORT)
            .await
            .unwrap()
            .notes;
    }
    assert_eq!(
        notes.last().map(String::as_str),
        Some("3 polls in a row failed: the scm is not asked again until 08:05 UTC")
    );
    let asked = scm.calls(ScmOp::Enrich);
    let report = fleet
        .manager()
        .refresh_prs_within(None, SHORT)
        .await
        .unwrap();
    assert_eq!(
        scm.calls(ScmOp::Enrich),
        asked,
        "asked while the breaker was open"
    );
    assert_eq!(
        report.notes,
        [
            "the scm is not asked until 08:05 UTC after 3 failed polls in a row (the last reading is shown)"
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_the_scm_carried_out_but_did_not_answer_is_merged() {
    let _clock = FakeClock::install(START);
    let (fleet, s, pr) = fleet_with_pr().await;
    fleet.fakes.scm.approve_green(&pr);
    fleet
        .fakes
        .scm
        .script(ScmOp::Merge, [Scripted::WorksThenHangs]);
    let merged = fleet
        .manager()
        .merge_within(
            &s.id.to_string(),
            MergeMethod::Squash,
            false,
            None,
            None,
            SHORT,
        )
        .await
        .expect("merged, as read again");
    assert_eq!(merged.state, PrState::Merged);
    assert_eq!(
        fleet.session(&s.id).status,
        crate::model::SessionStatus::Merged
    );
    assert_eq!(fleet.fakes.scm.merges().len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_the_scm_did_not_answer_or_carry_out_is_said_not_merged() {
    let _clock = FakeClock::install(START);
    let (fleet, s, pr) = fleet_with_pr().await;
    fleet.fakes.scm.approve_green(&pr);
    let id = s.id.to_string();
    let merge = || {
        fleet
            .manager()
            .merge_within(&id, MergeMethod::Squash, false, None, None, SHORT)
    };
    fleet.fakes.scm.script(ScmOp::Merge, [Scripted::Hangs]);
    let e = merge().await.unwrap_err().to_string();
    assert_eq!(
        e,
        "app-1: pull request #1 was not merged: the scm did not answer the merge within 0 s; read again, it is still open"
    );
    // Nor the read after it: not known, and said so.
    fleet.fakes.scm.script(ScmOp::Merge, [Scripted::Hangs]);
    fleet
        .fakes
        .scm
        .script(ScmOp::Enrich, [Scripted::Works, Scripted::Hangs]);
    let e = merge().await.unwrap_err().to_string();
    assert_eq!(
        e,
        "app-1: whether pull request #1 was merged is not known: the scm did not answer the merge within 0 s, and the scm did not answer when it was read again"
    );
    assert!(fleet.fakes.scm.merges().is_empty());
    assert_ne!(
        fleet.session(&s.id).status,
        crate::model::SessionStatus::Merged
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_retry_after_stops_polls_merges_and_the_ci_lookup_until_it_lifts() {
    let clock = FakeClock::install(START);
    let (fleet, s, pr) = fleet_with_pr().await;
    let scm = &fleet.fakes.scm;
    scm.approve_green(&pr);
    scm.script(
        ScmOp::Enrich,
        [Scripted::Transient {
            message: "slow down".into(),
            retry_after_ms: Some(120_000),
        }],
    );
    fleet.poll().await.unwrap();
    let asked = (scm.calls(ScmOp::Enrich), scm.calls(ScmOp::RunsCi));
    let report = fleet.manager().refresh_prs(None).await.unwrap();
    assert_eq!(
        report.notes,
        [
            "the scm is not asked until 08:02 UTC: it asked ao to wait 120 s (the last reading is shown)"
        ]
    );
    let id = s.id.to_string();
    let e = fleet
        .manager()
        .merge(&id, MergeMethod::Squash, false)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "app-1: pull request #1 was not merged: the scm is not asked until 08:02 UTC: it asked ao to wait 120 s"
    );
    assert_eq!(e.hint().as_deref(), Some("try again after 08:02 UTC"));
    let reading = scm.status(&pr).unwrap();
    let held = fleet.manager().ci_holds(&s, &reading, false).await.unwrap();
    assert_eq!(
        held.as_deref(),
        Some("the scm is not asked until 08:02 UTC: it asked ao to wait 120 s")
    );
    assert_eq!((scm.calls(ScmOp::Enrich), scm.calls(ScmOp::RunsCi)), asked);
    assert_eq!(scm.calls(ScmOp::Merge), 0);
    // Once it lifts, the scm is asked again.
    clock.advance(Duration::from_secs(121));
    fleet
        .manager()
        .merge(&id, MergeMethod::Squash, false)
        .await
        .expect("merged once the wait is over");
    assert_eq!(scm.merges().len(), 1);
}

#[test]
fn two_processes_changing_a_shared_value_at_once_lose_neither_change() {
    let home = tempfile::tempdir().unwrap();
    crate::store::Store::open(home.path()).unwrap();
    let count = |home: std::path::PathBuf| {
        std::thread::spawn(move || {
            let mut store = crate::store::Store::open(&home).unwrap();
            for _ in 0..100 {
                store
                    .update_scm_state("count", |v| {
                        (v.and_then(|v| v.parse::<u32>().ok()).unwrap_or(0) + 1).to_string()
                    })
                    .unwrap();
            }
        })
    };
    let a = count(home.path().to_owned());
    let b = count(home.path().to_owned());
    a.join().unwrap();
    b.join().unwrap();
    let store = crate::store::Store::open(home.path()).unwrap();
    assert_eq!(store.scm_state("count").unwrap().unwrap().0, "200");
}
