//! The `aider` agent: Aider (aider).

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(Slot::Agent, "aider", "Aider (aider)", None)
}
