//! The session manager: spawn, status, send, kill, cleanup and restore, over the plugins
//! a project names and the one store every `ao` command shares.
//!
//! Every step of a spawn is recorded in the store before it is taken, so a spawn that
//! fails is undone, and one that was killed is found and undone by the next command
//! (`recover`), never mistaken for a spawn still running.

mod failpoint;
mod manager;
mod send;
mod spawn;

pub use failpoint::{FAILPOINT_ENV, failpoint};
pub use manager::{
    CleanupItem, CleanupReport, KillOptions, Manager, ManagerError, SessionView, SpawnRequest, Task,
};
pub use spawn::SpawnOutcome;
