//! The `prompt` tracker: ad-hoc tasks given as text, no issue system behind them.

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Tracker,
        "prompt",
        "ad-hoc tasks from --prompt text",
        None,
    )
}
