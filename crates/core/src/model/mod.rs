//! The plain data ao reasons about: sessions, their status and activity, events.

mod event;
mod session;
mod status;
pub mod time;

pub use ao_plugin_sdk::agent::Activity;
pub use event::{Event, EventKind, Priority};
#[cfg(test)]
pub(crate) use session::sample_session as session_sample;
pub use session::{
    Origin, PrRef, RepoId, RuntimeHandle, Session, SessionId, SessionIdError, WorkspaceClaim,
};
pub use status::{SessionStatus, StatusReason};

/// Milliseconds since the Unix epoch; ao stores every time this way.
pub use ao_plugin_sdk::Timestamp;

pub use time::now_ms;
