//! The `process` runtime: the agent as a detached child with its output in a log file.

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Runtime,
        "process",
        "a detached process group, output to a log file",
        None,
    )
}
