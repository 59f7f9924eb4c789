//! The `command` agent: any CLI given in `agentConfig.command`, with the task typed in
//! after launch, passed as an argument, or fed to its standard input from a file.

use ao_core::config::{AgentConfig, PromptMode};
use ao_core::plugin::{
    ActivityContext, ActivityReport, ActivitySource, Agent, AgentSessionInfo, LaunchContext,
    LaunchSpec, PluginError, PromptDelivery, Slot,
};
use ao_core::registry::{Factory, PluginEntry, SectionRef};
use async_trait::async_trait;
use std::sync::Arc;

const NAME: &str = "command";

/// The command agent. It knows nothing of the CLI's insides, so its activity is what the
/// terminal shows: exited or active.
#[derive(Debug, Default)]
pub struct CommandAgent;

/// The argument replaced by the task in `argument` mode.
pub const PROMPT_PLACEHOLDER: &str = "{prompt}";

#[async_trait]
impl Agent for CommandAgent {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        let Some(command) = ctx.config.command.as_ref().filter(|c| !c.is_empty()) else {
            return Err(PluginError::failed(
                NAME,
                format!(
                    "project `{}` gives no `agentConfig.command` for the command agent",
                    ctx.project
                ),
            ));
        };
        let mut argv = command.clone();
        let mode = ctx.config.prompt_delivery.unwrap_or_default();
        let prompt = match mode {
            PromptMode::PostLaunch => PromptDelivery::PostLaunch,
            PromptMode::Argument => {
                match argv.iter_mut().find(|a| a.as_str() == PROMPT_PLACEHOLDER) {
                    Some(slot) => *slot = ctx.prompt.clone(),
                    None => argv.push(ctx.prompt.clone()),
                }
                PromptDelivery::Inline
            }
            PromptMode::Stdin => {
                let file = ctx.scratch_dir.join("prompt.txt");
                std::fs::create_dir_all(&ctx.scratch_dir)
                    .and_then(|_| std::fs::write(&file, &ctx.prompt))
                    .map_err(|e| {
                        PluginError::failed(NAME, format!("cannot write {}: {e}", file.display()))
                    })?;
                PromptDelivery::StdinFile(file)
            }
        };
        Ok(LaunchSpec {
            argv,
            env: ctx.config.env.clone().into_iter().collect(),
            prompt,
            agent_session_id: None,
        })
    }

    /// Only `processName` when given: the agent is the pane's own process, so ao knows it
    /// started once the launcher has handed over, whatever it is called (a script runs
    /// as its interpreter, a symlink under its target's name).
    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        config.process_name.iter().cloned().collect()
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        // A generic CLI gives no signal of its own, but its screen does: output means
        // it works; a screen quiet for a while means it waits (ready), then idles.
        use ao_core::model::Activity;
        let quiet = ctx.last_output_at.map(|at| ctx.now.saturating_sub(at));
        let activity = match quiet {
            Some(q) if q >= ctx.idle_after_ms as i64 => Activity::Idle,
            Some(q) if q >= QUIET_MS => Activity::Ready,
            _ => Activity::Active,
        };
        Ok(ActivityReport {
            activity,
            source: ActivitySource::Terminal,
            last_at: ctx.last_output_at,
            detail: None,
            resets_at: None,
            choices: Vec::new(),
        })
    }

    async fn session_info(&self, _ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        Ok(AgentSessionInfo::default())
    }

    fn restore(&self, _ctx: &LaunchContext, _agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        None
    }
}

/// How long a generic agent's screen stays still before the agent reads `ready`.
const QUIET_MS: i64 = 10_000;

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Agent>, PluginError> {
    Ok(Arc::new(CommandAgent))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::available(
        Slot::Agent,
        NAME,
        "any CLI given in agentConfig.command",
        None,
        Factory::Agent(Arc::new(build)),
    )
}
