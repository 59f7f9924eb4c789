//! ao's built-in plugins, one module per plugin, and the registry that lists them.

use ao_core::plugin::Slot;
use ao_core::registry::{Origin, PluginEntry, PluginManifest, PluginRegistry, SectionValidator};

pub mod agent;
pub mod github;
pub mod launch;
pub mod notifier;
pub mod runtime;
pub mod scm;
pub mod tracker;
pub mod workspace;

/// The version every built-in reports: ao's own.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A registry holding every built-in plugin.
pub fn builtin_registry() -> PluginRegistry {
    let mut registry = PluginRegistry::new();
    for entry in [
        runtime::tmux::entry(),
        runtime::process::entry(),
        agent::claude_code::entry(),
        agent::codex::entry(),
        agent::aider::entry(),
        agent::opencode::entry(&agent::opencode::OPENCODE),
        agent::opencode::entry(&agent::opencode::KILO),
        agent::gemini::entry(),
        agent::qwen_code::entry(),
        agent::copilot::entry(),
        agent::cline::entry(),
        agent::command::entry(),
        workspace::worktree::entry(),
        workspace::clone::entry(),
        tracker::github::entry(),
        tracker::prompt::entry(),
        scm::github::entry(),
        notifier::desktop::entry(),
        notifier::webhook::entry(),
        notifier::slack::entry(),
        notifier::discord::entry(),
        notifier::ntfy::entry(),
    ]
    .into_iter()
    .chain(agent::preset::entries())
    {
        registry.register(entry);
    }
    registry
}

/// A built-in's registry entry whose implementation this build does not include yet:
/// its name and settings are known and checked, and `ao plugin ls` says it is not
/// available.
fn planned(
    slot: Slot,
    name: &str,
    description: &str,
    validate: Option<SectionValidator>,
) -> PluginEntry {
    PluginEntry {
        manifest: PluginManifest {
            name: name.to_owned(),
            version: VERSION.to_owned(),
            slot,
            description: description.to_owned(),
        },
        origin: Origin::BuiltIn,
        validate,
        factory: None,
        untested: None,
    }
}

/// A built-in's registry entry with its implementation.
fn available(
    slot: Slot,
    name: &str,
    description: &str,
    validate: Option<SectionValidator>,
    factory: ao_core::registry::Factory,
) -> PluginEntry {
    PluginEntry {
        factory: Some(factory),
        ..planned(slot, name, description, validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_has_its_default_plugin() {
        let registry = builtin_registry();
        for (slot, name) in [
            (Slot::Runtime, "tmux"),
            (Slot::Agent, "claude-code"),
            (Slot::Workspace, "worktree"),
            (Slot::Tracker, "github"),
            (Slot::Scm, "github"),
            (Slot::Notifier, "desktop"),
        ] {
            assert!(registry.get(slot, name).is_some(), "{slot} {name}");
        }
    }
}
