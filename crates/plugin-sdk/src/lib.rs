//! ao-plugin-sdk: what an external ao plugin builds against.
//!
//! A plugin is a Rust library built as a `cdylib`. It implements one slot's trait
//! ([`notifier::Notifier`], [`tracker::Tracker`], [`runtime::Runtime`],
//! [`workspace::Workspace`], [`scm::Scm`] or [`agent::Agent`]) as ordinary synchronous
//! Rust, plus [`Plugin::init`], and exports it with [`export_plugin!`]:
//!
//! ```ignore
//! use ao_plugin_sdk::{Context, Error, Plugin, export_plugin};
//! use ao_plugin_sdk::notifier::{Notification, Notifier};
//!
//! struct Log;
//!
//! impl Plugin for Log {
//!     fn init(_config: serde_json::Value) -> Result<Self, Error> {
//!         Ok(Log)
//!     }
//! }
//!
//! impl Notifier for Log {
//!     fn notify(&self, cx: &Context, n: &Notification) -> Result<(), Error> {
//!         eprintln!("{}: {}", n.title, n.event.message);
//!         Ok(())
//!     }
//! }
//!
//! export_plugin!(notifier: Log, name: "log", description: "Prints events");
//! ```
//!
//! and names it in `agent-orchestrator.yaml`:
//!
//! ```yaml
//! plugins:
//!   - name: log
//!     path: ./target/release/liblog.so
//! notifiers:
//!   mine: { plugin: log }
//! ```
//!
//! **Build with `panic = "unwind"`** (Rust's default). Every entry point catches panics
//! and reports them, and ao disables the plugin and keeps running; a plugin built with
//! `panic = "abort"` would take ao down with it, so [`export_plugin!`] refuses to compile
//! under it.
//!
//! Across the boundary everything is JSON ([`abi`]): a plugin built against this SDK keeps
//! loading into a newer ao as long as [`abi::ABI_VERSION`] is the same, and fields are
//! only ever added, each optional.

pub mod abi;
pub mod agent;
mod error;
#[doc(hidden)]
pub mod export;
pub mod notifier;
pub mod runtime;
pub mod scm;
pub mod tracker;
pub mod workspace;

pub use abi::ABI_VERSION;
pub use error::{Error, ErrorKind};
pub use serde_json;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Milliseconds since the Unix epoch; ao passes every time this way.
pub type Timestamp = i64;

/// The version of this SDK, recorded in every plugin built with it.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What every plugin is: something ao creates once from its `plugins:` entry's `config`.
pub trait Plugin: Send + Sync + Sized + 'static {
    /// Creates the plugin from the `config:` of its `plugins:` entry (`null` when none).
    /// An error refuses the plugin, with the error's message shown to the user.
    fn init(config: serde_json::Value) -> Result<Self, Error>;
}

/// What every call carries besides its parameters.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The plugin's own section of the config where it is named (a project's
    /// `tracker:`, a notifier's entry under `notifiers:`), without the `plugin` key;
    /// `null` when there is none.
    pub config: serde_json::Value,
    /// The directory of ao's config file, which relative paths in settings are
    /// relative to.
    pub config_dir: Option<std::path::PathBuf>,
}

impl Context {
    /// A string setting of the section.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(serde_json::Value::as_str)
    }

    /// A path setting of the section, made absolute against the config's directory.
    pub fn path_setting(&self, key: &str) -> Option<std::path::PathBuf> {
        let p = std::path::PathBuf::from(self.setting(key)?);
        Some(match &self.config_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        })
    }
}

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
    pub const fn as_str(self) -> &'static str {
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

impl FromStr for Slot {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slot::ALL
            .into_iter()
            .find(|slot| slot.as_str() == s)
            .ok_or_else(|| format!("unknown slot `{s}`"))
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
    fn slot_names_round_trip_through_json_and_text() {
        for slot in Slot::ALL {
            let json = serde_json::to_string(&slot).unwrap();
            assert_eq!(json, format!("\"{}\"", slot.as_str()));
            assert_eq!(serde_json::from_str::<Slot>(&json).unwrap(), slot);
            assert_eq!(slot.as_str().parse::<Slot>().unwrap(), slot);
        }
        assert!("tracktor".parse::<Slot>().is_err());
    }
}
