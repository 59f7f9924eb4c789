//! The `command` agent: any CLI given in agentConfig.

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(Slot::Agent, "command", "any CLI given in agentConfig", None)
}
