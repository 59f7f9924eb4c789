//! Presets of the `command` agent for CLIs that no test here can run: each names the
//! CLI's program, how it takes the task, and the flags for the project's permission
//! mode, so `agent: crush` (or `amp`, `auggie`, `cursor`) works with no
//! `agentConfig.command`. What ao reads of them is what it reads of any command: the
//! screen, active while it changes, then ready, then idle; there is no resume.
//! `agentConfig.command` still wins when given, and `promptDelivery` and `processName`
//! override the preset's.
//!
//! They are presets, not plugins of their own, because each one's CLI cannot be installed
//! or cannot work here (`Preset::untested` says why), so no test shows its states,
//! dialogs or resume; `ao plugin ls` and the README say so.

use super::command::{CommandAgent, PROMPT_PLACEHOLDER};
use ao_core::config::{AgentConfig, Permission, PromptMode};
use ao_core::plugin::{
    ActivityContext, ActivityReport, Agent, AgentSessionInfo, LaunchContext, LaunchSpec,
    PluginError,
};
use ao_core::registry::{AgentCli, Factory, PluginEntry, SectionRef};
use async_trait::async_trait;
use std::sync::Arc;

/// One CLI's preset.
#[derive(Debug)]
pub struct Preset {
    /// The agent's name in `agent:`.
    pub name: &'static str,
    /// The CLI, as its users call it, its program on PATH and how to install it.
    pub cli: AgentCli,
    /// The arguments that start it with the task; [`PROMPT_PLACEHOLDER`] stands for the
    /// task. Without it, ao types the task in once the CLI runs.
    pub task_args: &'static [&'static str],
    /// The flags for `permissions: permissionless`.
    pub permissionless: &'static [&'static str],
    /// The flags for `permissions: suggest` (read-only or planning).
    pub suggest: &'static [&'static str],
    /// The flag that takes `agentConfig.model`, if it has one.
    pub model_flag: Option<&'static str>,
    /// Why no test here runs it.
    pub untested: &'static str,
}

/// The presets ao ships.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "crush",
        cli: AgentCli {
            name: "Crush",
            program: "crush",
            install: "npm install -g @charmland/crush",
        },
        task_args: &[],
        permissionless: &["--yolo"],
        suggest: &[],
        model_flag: None,
        untested: "its npm package downloads the CLI from GitHub at install, which this \
                   project's test machines cannot reach",
    },
    Preset {
        name: "amp",
        cli: AgentCli {
            name: "Amp",
            program: "amp",
            install: "npm install -g @ampcode/cli",
        },
        task_args: &[],
        permissionless: &[],
        suggest: &[],
        model_flag: None,
        untested: "it works only through Amp's own service, with an Amp login",
    },
    Preset {
        name: "auggie",
        cli: AgentCli {
            name: "Auggie",
            program: "auggie",
            install: "npm install -g @augmentcode/auggie",
        },
        task_args: &["--instruction", PROMPT_PLACEHOLDER],
        permissionless: &[],
        suggest: &["--ask"],
        model_flag: Some("--model"),
        untested: "it works only through Augment's own service, with an Augment login",
    },
    Preset {
        name: "cursor",
        cli: AgentCli {
            name: "Cursor CLI",
            program: "agent",
            install: "the installer on cursor.com (Cursor CLI is not in a package registry)",
        },
        task_args: &["--", PROMPT_PLACEHOLDER],
        permissionless: &["--force", "--sandbox", "disabled"],
        suggest: &[],
        model_flag: Some("--model"),
        untested: "it installs from Cursor's own site and works only with a Cursor login",
    },
];

/// The preset called `name`, if there is one.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

impl Preset {
    /// The command agent's config for a session: the project's own `command` when it
    /// gives one, else the preset's.
    fn config(&self, ctx: &LaunchContext) -> AgentConfig {
        let mut config = ctx.config.clone();
        if config.command.as_ref().is_some_and(|c| !c.is_empty()) {
            return config;
        }
        let mut argv = vec![self.cli.program.to_owned()];
        let flags = match ctx.permissions() {
            Permission::Permissionless => self.permissionless,
            Permission::Suggest => self.suggest,
            Permission::Default | Permission::AutoEdit => &[],
        };
        argv.extend(flags.iter().map(|f| (*f).to_owned()));
        if let (Some(flag), Some(model)) = (self.model_flag, config.model.as_ref()) {
            argv.extend([flag.to_owned(), model.clone()]);
        }
        argv.extend(self.task_args.iter().map(|a| (*a).to_owned()));
        if config.prompt_delivery.is_none() {
            config.prompt_delivery = Some(if self.task_args.is_empty() {
                PromptMode::PostLaunch
            } else {
                PromptMode::Argument
            });
        }
        config.command = Some(argv);
        config
    }
}

/// A preset at work: the command agent, started as the preset says.
#[derive(Debug)]
struct PresetAgent(&'static Preset);

#[async_trait]
impl Agent for PresetAgent {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        let ctx = LaunchContext {
            config: self.0.config(ctx),
            ..ctx.clone()
        };
        CommandAgent.launch(&ctx)
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        CommandAgent.process_names(config)
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        CommandAgent.activity(ctx).await
    }

    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        CommandAgent.session_info(ctx).await
    }

    fn restore(&self, _ctx: &LaunchContext, _agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        None
    }
}

/// The registry entries, one per preset.
pub fn entries() -> Vec<PluginEntry> {
    PRESETS
        .iter()
        .map(|p| {
            let build = move |_: &SectionRef<'_>| -> Result<Arc<dyn Agent>, PluginError> {
                Ok(Arc::new(PresetAgent(p)))
            };
            PluginEntry {
                untested: Some(p.untested.to_owned()),
                ..crate::agent(
                    p.name,
                    p.cli,
                    ": a preset of the command agent",
                    Factory::Agent(Arc::new(build)),
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ao_core::plugin::PromptDelivery;
    use std::path::PathBuf;

    fn ctx(config: AgentConfig) -> LaunchContext {
        LaunchContext {
            session: "app-1".parse().unwrap(),
            project: "app".into(),
            workspace: PathBuf::from("/w"),
            prompt: "--fix the bug".into(),
            config,
            rules: None,
            scratch_dir: std::env::temp_dir().join("ao-preset-test"),
            hook_command: vec!["ao".into(), "hook".into()],
        }
    }

    fn launch(name: &str, config: AgentConfig) -> LaunchSpec {
        PresetAgent(preset(name).unwrap())
            .launch(&ctx(config))
            .unwrap()
    }

    #[test]
    fn the_task_is_one_argument_after_the_presets_words() {
        let spec = launch(
            "cursor",
            AgentConfig {
                model: Some("m-1".into()),
                ..AgentConfig::default()
            },
        );
        // permissionless is the default mode.
        assert_eq!(
            spec.argv,
            [
                "agent",
                "--force",
                "--sandbox",
                "disabled",
                "--model",
                "m-1",
                "--",
                "--fix the bug"
            ]
        );
        assert!(matches!(spec.prompt, PromptDelivery::Inline));
    }

    #[test]
    fn a_cli_that_takes_no_task_argument_gets_it_typed_in() {
        let spec = launch(
            "crush",
            AgentConfig {
                permissions: Some(Permission::Default),
                ..AgentConfig::default()
            },
        );
        assert_eq!(spec.argv, ["crush"]);
        assert!(matches!(spec.prompt, PromptDelivery::PostLaunch));
        let spec = launch(
            "auggie",
            AgentConfig {
                permissions: Some(Permission::Suggest),
                ..AgentConfig::default()
            },
        );
        assert_eq!(
            spec.argv,
            ["auggie", "--ask", "--instruction", "--fix the bug"]
        );
    }

    #[test]
    fn the_projects_own_command_wins() {
        let spec = launch(
            "amp",
            AgentConfig {
                command: Some(vec!["amp-wrapper".into(), "--fast".into()]),
                ..AgentConfig::default()
            },
        );
        assert_eq!(spec.argv, ["amp-wrapper", "--fast"]);
        assert!(matches!(spec.prompt, PromptDelivery::PostLaunch));
    }

    #[test]
    fn every_preset_says_why_it_is_untested() {
        for entry in entries() {
            assert!(entry.untested.as_deref().is_some_and(|w| !w.is_empty()));
            assert!(entry.is_available(), "{}", entry.manifest.name);
        }
    }
}
