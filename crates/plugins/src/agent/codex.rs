//! The `codex` agent: OpenAI Codex CLI (codex).

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(Slot::Agent, "codex", "OpenAI Codex CLI (codex)", None)
}
