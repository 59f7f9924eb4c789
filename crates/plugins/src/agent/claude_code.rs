//! The `claude-code` agent: Claude Code (claude).

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(Slot::Agent, "claude-code", "Claude Code (claude)", None)
}
