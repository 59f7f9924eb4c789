//! Workspaces: how a session's checkout is isolated.

pub mod clone;
pub mod worktree;
