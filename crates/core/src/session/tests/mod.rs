//! The manager and the host's pass, unit-tested over the in-memory fakes
//! ([`crate::fakes`]) and a fake clock: each rule of the host's reactions by what the
//! world sees (what reached the agent, what was merged, what the human was told).

mod ci;
mod errors;
mod escalation;
mod fleet;
mod kill;
mod limits;
mod merge;
mod outbox;
mod stuck;

use crate::fakes::{FakeClock, Fleet};
use crate::model::{EventKind, SessionId, SessionStatus};

/// When every test's clock starts: 2027-01-15, a time no real clock of a test shows.
const START: i64 = 1_800_000_000_000;

/// The fake clock, installed on this thread at [`START`].
fn clock() -> FakeClock {
    FakeClock::install(START)
}

/// The statuses session `id` moved to, in order.
fn moves(fleet: &Fleet, id: &SessionId) -> Vec<SessionStatus> {
    fleet
        .events(Some(id))
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::StatusChanged { to, .. } => Some(to),
            _ => None,
        })
        .collect()
}

/// Runs one pass of the host, failing the test if it fails.
async fn pass(fleet: &Fleet) -> Vec<String> {
    fleet
        .pass()
        .await
        .unwrap_or_else(|e| panic!("the pass failed: {e}"))
}
