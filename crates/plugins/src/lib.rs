//! ao's built-in plugins, one module per plugin, and the registry that lists them.

use ao_core::plugin::Slot;
use ao_core::registry::{
    AgentCli, Origin, PluginEntry, PluginManifest, PluginRegistry, SectionValidator,
};

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
        workspace::worktree::entry(),
        workspace::clone::entry(),
        tracker::github::entry(),
        tracker::prompt::entry(),
        scm::github::entry(),
        notifier::desktop::entry(),
        notifier::dashboard::entry(),
        notifier::webhook::entry(),
        notifier::slack::entry(),
        notifier::discord::entry(),
        notifier::ntfy::entry(),
    ]
    .into_iter()
    .chain(agent::entries())
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
        cli: None,
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

/// A built-in agent's registry entry, for the CLI it runs: its description (`ao plugin
/// ls`) is made from the CLI's name and program, then `note`.
fn agent(
    name: &str,
    cli: AgentCli,
    note: &str,
    factory: ao_core::registry::Factory,
) -> PluginEntry {
    let description = format!("{} ({}){note}", cli.name, cli.program);
    PluginEntry {
        cli: Some(cli),
        ..available(Slot::Agent, name, &description, None, factory)
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

    #[test]
    fn every_agent_but_the_command_agent_names_its_program_and_how_to_install_it() {
        let registry = builtin_registry();
        let agents: Vec<&PluginEntry> = registry
            .entries()
            .into_iter()
            .filter(|e| e.manifest.slot == Slot::Agent)
            .collect();
        assert!(agents.len() > 10, "{}", agents.len());
        for entry in agents {
            let name = &entry.manifest.name;
            // The command agent runs whatever agentConfig.command names.
            if name == "command" {
                assert!(entry.cli.is_none());
                continue;
            }
            let cli = entry.cli.unwrap_or_else(|| panic!("{name} names no CLI"));
            assert!(!cli.name.is_empty(), "{name}");
            assert!(
                !cli.program.is_empty() && !cli.program.contains(char::is_whitespace),
                "{name}: program {:?}",
                cli.program
            );
            assert!(!cli.install.is_empty(), "{name}: no install hint");
            assert_eq!(registry.agent_cli(name), Some(&cli));
            assert!(
                entry
                    .manifest
                    .description
                    .contains(&format!("({})", cli.program)),
                "{name}: {}",
                entry.manifest.description
            );
        }
    }

    #[test]
    fn init_prefers_the_agents_in_their_registration_order() {
        let registry = builtin_registry();
        let order: Vec<(&str, &str)> = registry
            .agent_clis()
            .into_iter()
            .map(|(agent, cli)| (agent, cli.program))
            .collect();
        assert_eq!(
            order,
            [
                ("claude-code", "claude"),
                ("codex", "codex"),
                ("aider", "aider"),
                ("opencode", "opencode"),
                ("gemini", "gemini"),
                ("qwen-code", "qwen"),
                ("copilot", "copilot"),
                ("kilo", "kilo"),
                ("cline", "cline"),
            ]
        );
    }
}
