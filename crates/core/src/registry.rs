//! The plugin registry: resolves plugins by slot and name, and forwards each plugin's own
//! config section to it so the plugin validates its own keys, with positions in the file.
//!
//! Core knows no concrete plugin: `ao-plugins` fills the registry with the built-ins, and
//! the dylib loader adds external ones.

use crate::config::de::{Ctx, from_node};
use crate::config::{Diagnostic, Loc, Node};
use crate::plugin::{Agent, Notifier, PluginError, Runtime, Scm, Slot, Tracker, Workspace};
pub use ao_plugin_sdk::PluginManifest;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;

/// A plugin's config section as written, with its position, handed to the plugin.
#[derive(Debug, Clone, Copy)]
pub struct SectionRef<'a> {
    /// The config file.
    pub file: &'a Path,
    /// The section (a mapping), or `None` when the config has none for this plugin.
    pub node: Option<&'a Node>,
    /// Where the plugin was named, for messages about the section as a whole.
    pub loc: Loc,
    /// The project's repository (`owner/name`) when the section is one project's and the
    /// project names one: trackers and scms work on it.
    pub repo: Option<&'a str>,
}

impl SectionRef<'_> {
    /// Deserializes the plugin's own settings (every key but `plugin`) into `T`, which
    /// should be a struct: unknown keys are errors with a "did you mean", and
    /// `reference_keys` are keys of the reference format the plugin ignores with a warning.
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        reference_keys: &[&str],
    ) -> (Option<T>, Vec<Diagnostic>) {
        let mut own = self.node.cloned().unwrap_or(Node {
            value: crate::config::Value::Map(Vec::new()),
            loc: self.loc,
            secret: false,
        });
        if let crate::config::Value::Map(entries) = &mut own.value {
            entries.retain(|e| e.key != "plugin");
        }
        let ctx = Ctx::with_reference_keys(self.file, reference_keys);
        let result = from_node::<T>(&own, &ctx);
        let mut diags = ctx.into_diagnostics();
        match result {
            Ok(value) => (Some(value), diags),
            Err(e) => {
                diags.push(e);
                (None, diags)
            }
        }
    }
}

/// Checks a plugin's own config section and returns what is wrong with it.
pub type SectionValidator = fn(&SectionRef<'_>) -> Vec<Diagnostic>;

/// A function that builds one plugin instance of kind `T` from its config section.
pub type Build<T> = Arc<dyn Fn(&SectionRef<'_>) -> Result<Arc<T>, PluginError> + Send + Sync>;

/// Builds a plugin instance from its config section.
#[derive(Clone)]
pub enum Factory {
    /// A runtime.
    Runtime(Build<dyn Runtime>),
    /// An agent.
    Agent(Build<dyn Agent>),
    /// A workspace.
    Workspace(Build<dyn Workspace>),
    /// A tracker.
    Tracker(Build<dyn Tracker>),
    /// An scm.
    Scm(Build<dyn Scm>),
    /// A notifier.
    Notifier(Build<dyn Notifier>),
}

impl Factory {
    /// The slot this factory fills.
    pub fn slot(&self) -> Slot {
        match self {
            Factory::Runtime(_) => Slot::Runtime,
            Factory::Agent(_) => Slot::Agent,
            Factory::Workspace(_) => Slot::Workspace,
            Factory::Tracker(_) => Slot::Tracker,
            Factory::Scm(_) => Slot::Scm,
            Factory::Notifier(_) => Slot::Notifier,
        }
    }
}

/// Where a registered plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into ao.
    BuiltIn,
    /// Loaded from a shared library.
    External(std::path::PathBuf),
}

/// The CLI an agent plugin runs, described once, in the agent's registry entry: the
/// plugin launches `program`, and `ao doctor`, `ao init` and a spawn's hints read both
/// from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentCli {
    /// The CLI as its users call it (`Claude Code`).
    pub name: &'static str,
    /// The program on PATH (`claude`).
    pub program: &'static str,
    /// How to install it (`npm install -g @anthropic-ai/claude-code`).
    pub install: &'static str,
}

/// One plugin the registry knows.
#[derive(Clone)]
pub struct PluginEntry {
    /// Name, version, slot, description.
    pub manifest: PluginManifest,
    /// Built in or external.
    pub origin: Origin,
    /// Checks the plugin's config section; `None` means it takes no settings.
    pub validate: Option<SectionValidator>,
    /// Builds instances; `None` while this build of ao does not include the plugin's
    /// implementation yet (its name and settings are still known and checked).
    pub factory: Option<Factory>,
    /// Why no test of ao's runs what this plugin drives, when none does (a preset for a
    /// CLI that cannot be installed or used where ao is tested).
    pub untested: Option<String>,
    /// For an agent that runs a CLI of its own: that CLI.
    pub cli: Option<AgentCli>,
}

impl PluginEntry {
    /// Whether ao can run this plugin.
    pub fn is_available(&self) -> bool {
        self.factory.is_some()
    }
}

/// All plugins ao knows, by slot and name.
#[derive(Clone, Default)]
pub struct PluginRegistry {
    entries: Vec<PluginEntry>,
    /// External plugins that could not be loaded: name and why.
    refused: Vec<(String, String)>,
}

impl PluginRegistry {
    /// An empty registry.
    pub fn new() -> PluginRegistry {
        PluginRegistry::default()
    }

    /// Adds a plugin; a later entry with the same slot and name replaces an earlier one.
    pub fn register(&mut self, entry: PluginEntry) {
        if let Some(f) = &entry.factory {
            debug_assert_eq!(f.slot(), entry.manifest.slot, "factory slot mismatch");
        }
        self.entries.retain(|e| {
            !(e.manifest.slot == entry.manifest.slot && e.manifest.name == entry.manifest.name)
        });
        self.entries.push(entry);
    }

    /// Records an external plugin that could not be loaded, and why.
    pub fn refuse(&mut self, name: &str, why: &str) {
        self.refused.push((name.to_owned(), why.to_owned()));
    }

    /// Why the external plugin `name` was refused, if it was.
    pub fn refusal(&self, name: &str) -> Option<&str> {
        self.refused
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, why)| why.as_str())
    }

    /// The plugin of `slot` called `name`.
    pub fn get(&self, slot: Slot, name: &str) -> Option<&PluginEntry> {
        self.entries
            .iter()
            .find(|e| e.manifest.slot == slot && e.manifest.name == name)
    }

    /// Every plugin, by slot then name.
    pub fn entries(&self) -> Vec<&PluginEntry> {
        let mut all: Vec<&PluginEntry> = self.entries.iter().collect();
        all.sort_by(|a, b| {
            (a.manifest.slot, &a.manifest.name).cmp(&(b.manifest.slot, &b.manifest.name))
        });
        all
    }

    /// The CLI the agent plugin `name` runs, when it runs one of its own.
    pub fn agent_cli(&self, name: &str) -> Option<&AgentCli> {
        self.get(Slot::Agent, name)?.cli.as_ref()
    }

    /// The agents that run a CLI of their own and are tested with it (not presets), in
    /// the order they were registered: the order `ao init` prefers them in.
    pub fn agent_clis(&self) -> Vec<(&str, &AgentCli)> {
        self.entries
            .iter()
            .filter(|e| e.manifest.slot == Slot::Agent && e.untested.is_none())
            .filter_map(|e| Some((e.manifest.name.as_str(), e.cli.as_ref()?)))
            .collect()
    }

    /// The names of the plugins of one slot.
    pub fn names(&self, slot: Slot) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| e.manifest.slot == slot)
            .map(|e| e.manifest.name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// Forwards a section to its plugin's validator.
    pub fn validate_section(
        &self,
        slot: Slot,
        name: &str,
        section: &SectionRef<'_>,
    ) -> Vec<Diagnostic> {
        let Some(entry) = self.get(slot, name) else {
            return Vec::new();
        };
        match entry.validate {
            Some(validate) => validate(section),
            None => no_settings(name, section),
        }
    }
}

/// The diagnostics for a plugin that takes no settings but was given some.
fn no_settings(name: &str, section: &SectionRef<'_>) -> Vec<Diagnostic> {
    let Some(node) = section.node else {
        return Vec::new();
    };
    node.entries()
        .iter()
        .filter(|e| e.key != "plugin")
        .map(|e| {
            Diagnostic::warning(
                section.file,
                e.key_loc,
                format!(
                    "unknown key `{}`: the {name} plugin takes no settings; it is ignored",
                    e.key
                ),
            )
            .with_hint("remove it")
        })
        .collect()
}
