//! The session manager: spawn, status, send, kill, cleanup and restore, over the plugins
//! a project names and the one store every `ao` command shares.
//!
//! Every step of a spawn or restore is recorded in the session's row before it is
//! taken, so one that fails is undone, and one that was killed is found and undone by
//! the next command (`recover`), never mistaken for one still running. Every change to
//! a session goes through one write path ([`Manager::commit`] and `Manager::update`
//! over `Store::modify_session`): checked against the row's version, with its events in
//! the same transaction.

mod claim;
mod cleanup;
mod error;
mod failpoint;
mod host;
mod import;
mod issues;
mod kill;
mod manager;
mod nudge;
mod orchestrator;
mod outbox;
mod plugins;
mod pr_refs;
mod prs;
mod react;
mod recover;
mod reload;
mod removal;
mod report;
mod restore;
mod said;
mod saved;
#[cfg(test)]
mod scm_shape;
mod send;
mod spawn;
mod start;
mod status;
mod terminal;
#[cfg(test)]
mod tests;
mod wait;

pub use claim::Claimed;
pub use cleanup::{CleanupItem, CleanupReport};
pub use error::{ManagerError, NotTakenHow, Op};
pub use failpoint::{FAILPOINT_ENV, failpoint};
pub use host::{HostEnd, HostLock, HostState, POLL_INTERVAL, PROBE_INTERVAL};
pub use import::{Adopted, ImportReport, Skipped};
pub use issues::{IssueRow, free_issues};
pub use kill::{KillOptions, KillReport};
pub use manager::{Manager, READY_TIMEOUT};
pub use nudge::{LAST_DELIVERY, Nudge, last_delivery_key, nudge};
pub use orchestrator::{CHECKOUT, OrchestratorAction, orchestrator_rules};
pub use outbox::{NOTIFY_ATTEMPTS, NOTIFY_BACKOFF};
pub use pr_refs::looks_like_pr;
pub use prs::{
    RefreshReport, SCM_DEADLINE, blockers, ci_rollup, poll_interval, review_word, snapshot_fields,
};
pub use reload::{FilesSeen, config_changes};
pub use report::{REPORT_STATES, report_activity, report_state};
pub use saved::{SavedEntry, SavedWork, apply_command};
pub use send::Sent;
pub use spawn::{SpawnOutcome, SpawnRequest, Task};
pub use status::{AgentExit, SessionView, apply_probe};
pub use terminal::Asked;
