//! Store behaviour within one process; the many-process tests are end-to-end.

use super::{SessionFilter, Store, StoreError};
use crate::model::{
    Event, EventKind, Priority, Session, SessionId, SessionStatus, StatusReason, now_ms,
};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn reaction_attempts_count_up_and_survive_reopening() {
    let (dir, mut store) = store();
    let id = SessionId::new("app", 1).to_string();
    assert_eq!(
        store
            .record_reaction_attempt(&id, "ci-failed")
            .unwrap()
            .attempts,
        1
    );
    assert_eq!(
        store
            .record_reaction_attempt(&id, "ci-failed")
            .unwrap()
            .attempts,
        2
    );
    store
        .mark_reaction_escalated(&id, "ci-failed", None)
        .unwrap();
    store
        .claim_reaction(&id, "changes-requested", &["thread:T1".into()], None, false)
        .unwrap();
    drop(store);
    let mut store = Store::open(dir.path()).unwrap();
    let state = store.reaction_state(&id, "ci-failed").unwrap().unwrap();
    assert_eq!((state.attempts, state.escalated), (2, true));
    store.reset_reaction(&id, "ci-failed").unwrap();
    assert_eq!(store.reaction_state(&id, "ci-failed").unwrap(), None);
    // What was handed over stays so, across a reset and a reopening.
    store.reset_reaction(&id, "changes-requested").unwrap();
    assert!(store.sent_items(&id).unwrap().contains("thread:T1"));
    store.unclaim_items(&id, &["thread:T1".into()]).unwrap();
    assert!(store.sent_items(&id).unwrap().is_empty());
}

/// Once handed to the human, a reaction stays handed over whatever later claims it
/// (another process's attempt, `ao review-check`): only a reset, when its condition
/// clears, gives it back to ao.
#[test]
fn an_escalated_reaction_stays_escalated_through_later_claims() {
    let (dir, mut store) = store();
    let id = SessionId::new("app", 1).to_string();
    let escalated = store
        .claim_reaction(&id, "ci-failed", &[], None, true)
        .unwrap();
    assert!(escalated.escalated, "{escalated:?}");
    let later = store
        .claim_reaction(&id, "ci-failed", &["ci:abc:build".into()], None, false)
        .unwrap();
    assert_eq!(
        (later.attempts, later.escalated),
        (2, true),
        "a later claim took the escalation back: {later:?}"
    );
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let state = store.reaction_state(&id, "ci-failed").unwrap().unwrap();
    assert!(
        state.escalated,
        "the escalation did not survive reopening: {state:?}"
    );
}

#[test]
fn ids_are_never_reused_and_sessions_round_trip() {
    let (_dir, mut store) = store();
    let a = store.reserve_session_id("app", "app", 1).unwrap();
    let b = store.reserve_session_id("app", "app", 1).unwrap();
    assert_eq!(
        (a.to_string(), b.to_string()),
        ("app-1".into(), "app-2".into())
    );
    store.release_reservation(&b).unwrap();
    assert_eq!(
        store
            .reserve_session_id("app", "app", 1)
            .unwrap()
            .to_string(),
        "app-3"
    );
    let session = Session {
        issue: Some("12".into()),
        branch: "feat/issue-12".into(),
        workspace_path: Some("/tmp/w".into()),
        agent_started_at: Some(5),
        spawn_pid: Some(42),
        prompt: Some("fix it".into()),
        ..sample(&a)
    };
    store.insert_session(&session).unwrap();
    assert_eq!(store.session(&a).unwrap().as_ref(), Some(&session));
    assert!(
        store.reservations().unwrap().iter().all(|r| r.id != a),
        "reservation became the session"
    );
    let archived = store
        .modify_session(&a, Some(0), |s| {
            s.archived_at = Some(5);
            Vec::new()
        })
        .unwrap();
    assert_eq!(archived.version, 1);
    assert!(
        store
            .sessions(&SessionFilter::default())
            .unwrap()
            .is_empty()
    );
    let all = SessionFilter {
        include_archived: true,
        ..SessionFilter::default()
    };
    assert_eq!(store.sessions(&all).unwrap(), vec![archived]);
}

#[test]
fn events_append_and_read_back_in_order() {
    let (_dir, mut store) = store();
    let event = |message: &str| Event {
        id: 0,
        at: now_ms(),
        project: "app".into(),
        session: Some(SessionId::new("app", 1)),
        priority: Priority::Urgent,
        kind: EventKind::StatusChanged {
            from: SessionStatus::Working,
            to: SessionStatus::NeedsInput,
        },
        message: message.into(),
    };
    let first = store.append_event(&event("one")).unwrap();
    store.append_event(&event("two")).unwrap();
    let all = store.events(0, None, 10).unwrap();
    assert_eq!(
        all.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert_eq!(all[0].kind, event("x").kind);
    assert_eq!(store.events(first, None, 10).unwrap().len(), 1);
}

#[test]
fn a_store_from_a_newer_ao_is_refused() {
    let (dir, store) = store();
    store.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(store);
    match Store::open(dir.path()) {
        Err(StoreError::TooNew { found: 99, .. }) => {}
        Err(other) => panic!("expected TooNew, got {other}"),
        Ok(_) => panic!("expected TooNew, got a store"),
    }
}

/// A store holding one working session, `app-1`, at version 0.
fn store_with_session() -> (tempfile::TempDir, Store, SessionId) {
    let (dir, mut store) = store();
    let id = store.reserve_session_id("app", "app", 1).unwrap();
    store.insert_session(&sample(&id)).unwrap();
    (dir, store, id)
}

fn sample(id: &SessionId) -> Session {
    crate::model::session_sample(id)
}

#[test]
fn a_stale_writer_is_refused_and_changes_nothing() {
    let (_dir, mut store, id) = store_with_session();
    // Two writers read version 0; the first wins, the second is refused.
    store
        .modify_session(&id, Some(0), |s| {
            s.status = SessionStatus::Killed;
            s.status_reason = Some(StatusReason::User);
            Vec::new()
        })
        .unwrap();
    let stale = store.modify_session(&id, Some(0), |s| {
        s.status = SessionStatus::Working;
        Vec::new()
    });
    assert!(
        matches!(
            stale,
            Err(StoreError::Stale {
                expected: 0,
                found: 1,
                ..
            })
        ),
        "{stale:?}"
    );
    let row = store.session(&id).unwrap().unwrap();
    assert_eq!((row.status, row.version), (SessionStatus::Killed, 1));
    // A writer on fresh state sees the newer row.
    let fresh = store
        .modify_session(&id, None, |s| {
            assert_eq!(s.status, SessionStatus::Killed);
            Vec::new()
        })
        .unwrap();
    assert_eq!(fresh.version, 1, "no change, no write");
}

#[test]
fn a_status_change_writes_its_event_in_the_same_transaction() {
    let (_dir, mut store, id) = store_with_session();
    store
        .modify_session(&id, Some(0), |s| {
            s.status = SessionStatus::Killed;
            s.status_reason = Some(StatusReason::RuntimeLost);
            Vec::new()
        })
        .unwrap();
    let events = store.events(0, Some(&id), 10).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0].kind,
        EventKind::StatusChanged {
            from: SessionStatus::Working,
            to: SessionStatus::Killed
        }
    );
    assert_eq!(events[0].message, "app-1: working -> killed (runtime_lost)");
    // A row that is gone is said to be gone.
    let undone = Event {
        id: 0,
        at: now_ms(),
        project: "app".into(),
        session: Some(id.clone()),
        priority: Priority::Info,
        kind: EventKind::SpawnUndone { undone: vec![] },
        message: "undone".into(),
    };
    assert!(store.delete_session_with(&id, &undone).unwrap());
    assert!(matches!(
        store.modify_session(&id, None, |_| Vec::new()),
        Err(StoreError::NoSession(_))
    ));
}

/// The parse of a row is kept, and a row changed by anyone, in any column, by any
/// connection, with or without a new version, is parsed again.
#[test]
fn a_kept_parse_of_a_session_sees_every_change_of_its_row() {
    let (dir, mut store, id) = store_with_session();
    let first = store.session(&id).unwrap().unwrap();
    assert_eq!(store.sessions(&SessionFilter::default()).unwrap(), [first]);
    // Through this connection's write path.
    store
        .modify_session(&id, None, |s| {
            s.branch = "moved".into();
            Vec::new()
        })
        .unwrap();
    assert_eq!(store.session(&id).unwrap().unwrap().branch, "moved");
    // By another connection, behind the write path's back: no new version.
    let other = rusqlite::Connection::open(dir.path().join(super::DB_FILE)).unwrap();
    other
        .execute(
            "UPDATE sessions SET prompt = 'changed by hand' WHERE id = ?1",
            [id.to_string()],
        )
        .unwrap();
    let listed = store.sessions(&SessionFilter::default()).unwrap();
    assert_eq!(listed[0].prompt.as_deref(), Some("changed by hand"));
    assert_eq!(
        store.session(&id).unwrap().unwrap().prompt.as_deref(),
        Some("changed by hand")
    );
    // A row made unreadable is said to be, not served from what was kept.
    other
        .execute(
            "UPDATE sessions SET status = 'nonsense' WHERE id = ?1",
            [id.to_string()],
        )
        .unwrap();
    assert!(matches!(
        store.session(&id),
        Err(StoreError::Corrupt { what: "status", .. })
    ));
}

/// The parse of a pull request's reading is kept, and a new reading (by this or another
/// connection) or a deleted one is seen at once.
#[test]
fn a_kept_parse_of_a_reading_sees_every_new_reading() {
    let (dir, mut store, id) = store_with_session();
    let status = |sha: &str| -> crate::plugin::PrStatus {
        serde_json::from_value(serde_json::json!({
            "pr": {"number": 1, "url": "u"},
            "state": "open",
            "head_sha": sha,
            "checks": [],
            "review": "pending",
            "unresolved_threads": [],
            "mergeable": true
        }))
        .unwrap()
    };
    store.record_pr_snapshot(&id, &status("a"), 1).unwrap();
    assert_eq!(store.pr_snapshots().unwrap()[&id].status.head_sha, "a");
    store.record_pr_snapshot(&id, &status("b"), 2).unwrap();
    let read = store.pr_snapshots().unwrap();
    assert_eq!(
        (read[&id].status.head_sha.as_str(), read[&id].fetched_at),
        ("b", 2)
    );
    store
        .confirm_pr_snapshots(std::slice::from_ref(&id), 3)
        .unwrap();
    assert_eq!(store.pr_snapshots().unwrap()[&id].fetched_at, 3);
    store.mark_pr_stale(&id, "timed out").unwrap();
    assert!(store.pr_snapshots().unwrap()[&id].stale);
    let mut other = Store::open(dir.path()).unwrap();
    other.record_pr_snapshot(&id, &status("c"), 4).unwrap();
    assert_eq!(store.pr_snapshots().unwrap()[&id].status.head_sha, "c");
    other.mark_pr_stale(&id, "no answer").unwrap();
    let read = store.pr_snapshots().unwrap();
    assert_eq!(
        (read[&id].stale, read[&id].error.as_deref()),
        (true, Some("no answer"))
    );
    // A read inside a transaction is not kept, and leaves the kept one true: the next
    // read outside sees the reading it saw, not the one kept before it.
    other.record_pr_snapshot(&id, &status("d"), 5).unwrap();
    store.conn.execute_batch("BEGIN").unwrap();
    assert_eq!(store.pr_snapshots().unwrap()[&id].status.head_sha, "d");
    store.conn.execute_batch("COMMIT").unwrap();
    assert_eq!(store.pr_snapshots().unwrap()[&id].status.head_sha, "d");
    let raw = rusqlite::Connection::open(dir.path().join(super::DB_FILE)).unwrap();
    raw.execute("DELETE FROM pr_snapshots", []).unwrap();
    assert!(store.pr_snapshots().unwrap().is_empty());
    assert!(
        store.parsed.borrow().readings.is_empty(),
        "a deleted reading is forgotten"
    );
}

#[test]
fn the_column_count_is_the_columns_named() {
    assert_eq!(
        super::sessions::COLUMNS.split(',').count(),
        super::sessions::COLUMN_COUNT
    );
}

/// The reads of every owner's reactions at once say what the reads of each say.
#[test]
fn every_owners_reactions_read_at_once_are_each_owners() {
    let (_dir, mut store) = store();
    for (owner, reaction, items) in [
        ("app-1", "ci-failed", vec!["check:build@a".to_owned()]),
        ("app-1", "changes-requested", vec!["thread:T1".to_owned()]),
        ("app-2", "agent-stuck", vec![]),
    ] {
        store
            .claim_reaction(owner, reaction, &items, None, false)
            .unwrap();
    }
    let states = store.all_reaction_states().unwrap();
    let sent = store.all_sent_items().unwrap();
    for owner in ["app-1", "app-2", "app-3"] {
        assert_eq!(
            states.get(owner).cloned().unwrap_or_default(),
            store.reaction_states(owner).unwrap(),
            "{owner}"
        );
        assert_eq!(
            sent.get(owner).cloned().unwrap_or_default(),
            store.sent_items(owner).unwrap(),
            "{owner}"
        );
    }
}

#[test]
fn one_unreadable_agent_report_costs_only_its_own_session() {
    let (_dir, mut store) = store();
    let (good, bad) = (SessionId::new("app", 1), SessionId::new("app", 2));
    for id in [&good, &bad] {
        store
            .record_agent_report(
                id,
                &super::AgentReport {
                    activity: crate::model::Activity::Active,
                    detail: None,
                    at: now_ms(),
                    agent_session_id: None,
                    log_path: None,
                },
            )
            .unwrap();
    }
    // As a newer ao might write it: an activity this one does not know.
    store
        .conn
        .execute(
            "UPDATE agent_reports SET activity = 'daydreaming' WHERE session = ?1",
            [bad.to_string()],
        )
        .unwrap();
    let reports = store.agent_reports().unwrap();
    assert!(reports.contains_key(&good.to_string()), "{reports:?}");
    assert!(!reports.contains_key(&bad.to_string()), "{reports:?}");
}

/// The sessions a read keeps are given again only while nothing was committed: after
/// this connection's write, another connection's commit, and not from inside a
/// transaction that is then rolled back.
#[test]
fn kept_reads_of_the_sessions_follow_every_commit() {
    let (dir, mut store) = store();
    let all = SessionFilter {
        include_archived: true,
        ..SessionFilter::default()
    };
    let a = store.reserve_session_id("app", "app", 1).unwrap();
    store.insert_session(&sample(&a)).unwrap();
    let statuses = |store: &Store, filter: &SessionFilter| -> Vec<SessionStatus> {
        store
            .sessions(filter)
            .unwrap()
            .iter()
            .map(|s| s.status)
            .collect()
    };
    assert_eq!(
        statuses(&store, &SessionFilter::default()),
        [SessionStatus::Working]
    );
    assert_eq!(statuses(&store, &all), [SessionStatus::Working]);
    // This connection's own write.
    store
        .modify_session(&a, None, |s| {
            s.status = SessionStatus::PrOpen;
            Vec::new()
        })
        .unwrap();
    assert_eq!(
        statuses(&store, &SessionFilter::default()),
        [SessionStatus::PrOpen]
    );
    assert_eq!(statuses(&store, &all), [SessionStatus::PrOpen]);
    // Another connection's commit (another process, as the CLI is to the host).
    let mut other = Store::open(dir.path()).unwrap();
    other
        .modify_session(&a, None, |s| {
            s.status = SessionStatus::Stuck;
            Vec::new()
        })
        .unwrap();
    let b = other.reserve_session_id("app", "app", 1).unwrap();
    other.insert_session(&sample(&b)).unwrap();
    assert_eq!(
        statuses(&store, &SessionFilter::default()),
        [SessionStatus::Stuck, SessionStatus::Working]
    );
    let of_project = SessionFilter {
        project: Some("other".into()),
        ..SessionFilter::default()
    };
    assert!(store.sessions(&of_project).unwrap().is_empty());
    // Read inside a transaction that is rolled back: not kept.
    let tx = store.conn.unchecked_transaction().unwrap();
    tx.execute(
        "UPDATE sessions SET status = 'merged' WHERE id = ?1",
        [a.to_string()],
    )
    .unwrap();
    assert_eq!(
        statuses(&store, &SessionFilter::default())[0],
        SessionStatus::Merged
    );
    tx.rollback().unwrap();
    assert_eq!(
        statuses(&store, &SessionFilter::default()),
        [SessionStatus::Stuck, SessionStatus::Working]
    );
}
