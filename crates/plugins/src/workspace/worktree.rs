//! The `worktree` workspace: a git worktree per session.

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Workspace,
        "worktree",
        "a git worktree and branch per session (default)",
        None,
    )
}
