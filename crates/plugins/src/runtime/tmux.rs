//! The `tmux` runtime: one tmux session per ao session.

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Runtime,
        "tmux",
        "one tmux session per ao session (default)",
        None,
    )
}
