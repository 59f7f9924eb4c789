//! The surface external ao plugins build against.
//!
//! ao's core depends on these types so that a plugin built as a shared library and a
//! built-in plugin describe themselves the same way. Everything here is plain data that
//! crosses the plugin boundary as JSON, so it only ever grows by adding optional fields.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The version of the plugin ABI; a library built against another version is refused.
pub const ABI_VERSION: u32 = 1;

/// The six kinds of plugin ao has; a plugin fills exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    /// Where a session runs (tmux, a detached process).
    Runtime,
    /// The AI coding CLI inside a session.
    Agent,
    /// How a session's checkout is isolated (worktree, clone).
    Workspace,
    /// Where issues come from.
    Tracker,
    /// Where pull requests live.
    Scm,
    /// Where the human hears about events.
    Notifier,
}

impl Slot {
    /// Every slot, in the order ao lists them.
    pub const ALL: [Slot; 6] = [
        Slot::Runtime,
        Slot::Agent,
        Slot::Workspace,
        Slot::Tracker,
        Slot::Scm,
        Slot::Notifier,
    ];

    /// The slot's name as written in config and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Runtime => "runtime",
            Slot::Agent => "agent",
            Slot::Workspace => "workspace",
            Slot::Tracker => "tracker",
            Slot::Scm => "scm",
            Slot::Notifier => "notifier",
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginManifest {
    /// The name a config file uses to pick the plugin.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The slot it fills.
    pub slot: Slot,
    /// One line for `ao plugin ls`.
    #[serde(default)]
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_round_trip_through_json() {
        for slot in Slot::ALL {
            let json = serde_json::to_string(&slot).unwrap();
            assert_eq!(json, format!("\"{}\"", slot.as_str()));
            assert_eq!(serde_json::from_str::<Slot>(&json).unwrap(), slot);
        }
    }
}
