//! The `clone` workspace: a `git clone --reference` per session.

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Workspace,
        "clone",
        "a local clone per session, for tools that dislike worktrees",
        None,
    )
}
