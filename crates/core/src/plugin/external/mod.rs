//! External plugins: shared libraries built against ao-plugin-sdk.
//!
//! Each `plugins:` entry is loaded with libloading, its entry symbol, ABI version, table
//! size and slot are checked before any call, its slot is checked against every place
//! the config names it, and it is created from the entry's `config:`. A plugin that
//! passes is registered like a built-in of its slot; one that does not is refused with a
//! sentence saying why, and ao goes on without it. Libraries are never unloaded.

mod agent;
mod instance;
mod library;
mod slots;

pub use instance::EventSink;

use crate::config::de::{Ctx, from_node};
use crate::config::{EnvLookup, LoadedConfig, PluginSource, expand_path};
use crate::plugin::Slot;
use crate::registry::{Factory, Origin, PluginEntry, PluginManifest, PluginRegistry, SectionRef};
use crate::store::Store;
use instance::Instance;
use serde::Serialize;
use serde_json::Value;
use slots::External;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What became of one `plugins:` entry.
#[derive(Debug, Clone, Serialize)]
pub struct ExternalStatus {
    /// The name the config gives it.
    pub name: String,
    /// The library, resolved.
    pub path: Option<PathBuf>,
    /// Loaded, refused, disabled or ignored.
    #[serde(flatten)]
    pub state: ExternalState,
}

/// The state of an external plugin.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ExternalState {
    /// Loaded, checked and created: usable like a built-in.
    Loaded {
        /// The slot it fills.
        slot: Slot,
        /// Its own name.
        plugin: String,
        /// Its own version.
        version: String,
        /// Its description.
        description: String,
        /// The ao-plugin-sdk version it was built with.
        sdk_version: String,
    },
    /// Not loaded, and why.
    Refused {
        /// One sentence.
        why: String,
    },
    /// `enabled: false`.
    Disabled,
    /// A package-registry plugin, which ao does not load.
    Ignored,
}

/// Events about plugins go into the store at `home` (the event log every `ao` shares).
pub fn store_events(home: PathBuf) -> EventSink {
    Arc::new(move |event| {
        if let Err(e) = Store::open(&home).and_then(|mut s| s.append_event(&event)) {
            tracing::warn!("cannot record that {}: {e}", event.message);
        }
    })
}

/// Where the config names a plugin: its slot and the key, for messages.
fn uses(loaded: &LoadedConfig, env: EnvLookup<'_>) -> Vec<(String, Slot, String)> {
    let mut uses = Vec::new();
    for p in loaded.projects(env) {
        for (slot, name, key) in [
            (Slot::Runtime, &p.runtime, "runtime"),
            (Slot::Agent, &p.agent, "agent"),
            (Slot::Workspace, &p.workspace, "workspace"),
            (Slot::Tracker, &p.tracker, "tracker"),
            (Slot::Scm, &p.scm, "scm"),
        ] {
            uses.push((name.clone(), slot, format!("projects.{}.{key}", p.id)));
        }
    }
    for (key, section) in &loaded.config.notifiers {
        let name = section.plugin.clone().unwrap_or_else(|| key.clone());
        uses.push((name, Slot::Notifier, format!("notifiers.{key}")));
    }
    for key in loaded.config.runtimes.keys() {
        uses.push((key.clone(), Slot::Runtime, format!("runtimes.{key}")));
    }
    uses
}

/// A plugin's own settings where it is named, as JSON, without the `plugin` key.
fn section_json(section: &SectionRef<'_>) -> Value {
    let Some(node) = section.node else {
        return Value::Null;
    };
    let mut value = from_node::<Value>(node, &Ctx::new(section.file)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("plugin");
    }
    value
}

fn factory(slot: Slot, inst: Arc<Instance>) -> Factory {
    let made = move |section: &SectionRef<'_>| {
        Arc::new(External {
            inst: inst.clone(),
            section: section_json(section),
        })
    };
    match slot {
        Slot::Runtime => Factory::Runtime(Arc::new(move |s| Ok(made(s)))),
        Slot::Agent => Factory::Agent(Arc::new(move |s| Ok(made(s)))),
        Slot::Workspace => Factory::Workspace(Arc::new(move |s| Ok(made(s)))),
        Slot::Tracker => Factory::Tracker(Arc::new(move |s| Ok(made(s)))),
        Slot::Scm => Factory::Scm(Arc::new(move |s| Ok(made(s)))),
        Slot::Notifier => Factory::Notifier(Arc::new(move |s| Ok(made(s)))),
    }
}

/// Loads every enabled `plugins:` entry into `registry`; refused ones are recorded in the
/// registry with why. Returns what became of each entry, in config order.
pub fn load(
    loaded: &LoadedConfig,
    registry: &mut PluginRegistry,
    env: EnvLookup<'_>,
    events: EventSink,
) -> Vec<ExternalStatus> {
    let base = loaded.base_dir();
    let uses = uses(loaded, env);
    let mut out = Vec::new();
    for p in &loaded.config.plugins {
        let path = p.path.as_deref().map(|s| expand_path(s, &base, env));
        let state = if matches!(p.source, Some(PluginSource::Npm | PluginSource::Registry)) {
            ExternalState::Ignored
        } else if !p.enabled {
            ExternalState::Disabled
        } else {
            let timeout = Duration::from_millis(
                p.timeout_ms
                    .unwrap_or(ao_plugin_sdk::abi::DEFAULT_TIMEOUT_MS)
                    .max(1),
            );
            match load_one(p, path.as_ref(), &uses, timeout, events.clone(), &base) {
                Ok((inst, state, manifest)) => {
                    if let ExternalState::Loaded { slot, .. } = &state {
                        registry.register(PluginEntry {
                            manifest,
                            origin: Origin::External(path.clone().unwrap_or_default()),
                            validate: None,
                            factory: Some(factory(*slot, inst)),
                            untested: None,
                            cli: None,
                        });
                    }
                    state
                }
                Err(why) => {
                    registry.refuse(&p.name, &why);
                    ExternalState::Refused { why }
                }
            }
        };
        out.push(ExternalStatus {
            name: p.name.clone(),
            path,
            state,
        });
    }
    out
}

fn load_one(
    p: &crate::config::ExternalPlugin,
    path: Option<&PathBuf>,
    uses: &[(String, Slot, String)],
    timeout: Duration,
    events: EventSink,
    config_dir: &std::path::Path,
) -> Result<(Arc<Instance>, ExternalState, PluginManifest), String> {
    let path = path.ok_or_else(|| "it has no `path`".to_owned())?;
    let lib = library::open(path)?;
    if let Some((_, slot, key)) = uses
        .iter()
        .find(|(name, slot, _)| *name == p.name && *slot != lib.slot)
    {
        return Err(format!(
            "it is a {} plugin, but `{key}` names it as a {slot}",
            lib.slot
        ));
    }
    let config = p.config.clone().unwrap_or(Value::Null);
    let inst = Instance::create(
        &p.name,
        lib,
        &config,
        timeout,
        events,
        config_dir.to_owned(),
    )
    .map_err(|why| format!("it refused to start: {why}"))?;
    let manifest = PluginManifest {
        name: p.name.clone(),
        version: lib.version(),
        slot: lib.slot,
        description: lib.description(),
    };
    let state = ExternalState::Loaded {
        slot: lib.slot,
        plugin: lib.name(),
        version: lib.version(),
        description: lib.description(),
        sdk_version: lib.sdk_version(),
    };
    Ok((Arc::new(inst), state, manifest))
}
