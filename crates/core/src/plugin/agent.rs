use super::PluginError;
use crate::config::{AgentConfig, Permission};
use crate::model::{SessionId, Timestamp};
use crate::store::AgentReport;
use async_trait::async_trait;
use std::path::PathBuf;

/// What an agent plugin is told when a session launches.
#[derive(Debug, Clone)]
pub struct LaunchContext {
    /// The session being launched.
    pub session: SessionId,
    /// The project id.
    pub project: String,
    /// The session's workspace, where the agent starts.
    pub workspace: PathBuf,
    /// The task.
    pub prompt: String,
    /// The project's `agentConfig`.
    pub config: AgentConfig,
    /// The project's rules (inline `agentRules` plus `agentRulesFile`), if any.
    pub rules: Option<String>,
    /// A directory the plugin may write files into (rules, hook settings) that is
    /// neither the user's repository nor shared with another session.
    pub scratch_dir: PathBuf,
    /// The argv that reports a hook event to ao (`ao hook <agent>`); the plugin appends
    /// the event. The agent's environment carries the session id.
    pub hook_command: Vec<String>,
}

impl LaunchContext {
    /// The permission mode the project asked for.
    pub fn permissions(&self) -> Permission {
        self.config.permissions.unwrap_or_default()
    }
}

pub use ao_plugin_sdk::agent::{LaunchSpec, PromptDelivery};

/// What an agent plugin needs to judge activity.
#[derive(Debug, Clone)]
pub struct ActivityContext {
    /// The session.
    pub session: SessionId,
    /// Its workspace.
    pub workspace: PathBuf,
    /// The directory the plugin was given at launch (`LaunchContext::scratch_dir`).
    pub scratch_dir: PathBuf,
    /// The agent CLI's own session id, if known.
    pub agent_session_id: Option<String>,
    /// When the agent was last started (spawn or restore), if known: a session log older
    /// than that belongs to an earlier run.
    pub started_at: Option<Timestamp>,
    /// What the agent's hooks last reported through `ao hook`.
    pub report: Option<AgentReport>,
    /// The terminal's last lines, when the plugin asked for them (`wants_terminal`).
    pub recent_output: Option<String>,
    /// How long `ready` may last before it is `idle`, in milliseconds.
    pub idle_after_ms: u64,
    /// Now, in ms since the epoch.
    pub now: Timestamp,
    /// When the agent's screen last changed, when the runtime knows it.
    pub last_output_at: Option<Timestamp>,
}

pub use ao_plugin_sdk::agent::{ActivityReport, ActivitySource, AgentSessionInfo, Choice};

/// One AI coding CLI.
#[async_trait]
pub trait Agent: Send + Sync {
    /// The argv and environment that start the agent on a task.
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError>;
    /// The process name the runtime should see in the foreground once the agent runs,
    /// so ao never types into a shell.
    fn process_names(&self, config: &AgentConfig) -> Vec<String>;
    /// What the agent is doing now: hooks first, then its session log, then the terminal.
    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError>;
    /// What the CLI records about its session.
    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError>;
    /// The argv that resumes the session, or `None` to start afresh with `launch`.
    fn restore(&self, ctx: &LaunchContext, agent_session_id: Option<&str>) -> Option<LaunchSpec>;
    /// Whether the agent shows it has started (a hook, its session log, or a dialog on the
    /// screen), so a spawn waits for that and catches a CLI that quits just after start.
    fn confirms_start(&self) -> bool {
        false
    }
    /// Whether the agent's readings show when it takes typed input (`active`, a question,
    /// or anything newer than the typing). If so, a task typed in after launch
    /// (`PromptDelivery::PostLaunch`) waits for the agent to read `ready` first, and both
    /// that task and `ao send` are confirmed taken.
    fn confirms_delivery(&self) -> bool {
        false
    }
    /// Whether `activity` needs the terminal's last lines this time (one runtime call
    /// per session, so only when hooks and logs cannot tell).
    fn wants_terminal(&self, _ctx: &ActivityContext) -> bool {
        false
    }
    /// Reads one call of the agent's hook (`ao hook <agent> ARGS...`, the hook's input on
    /// standard input) into a report; `None` for events that say nothing of activity.
    fn hook_report(&self, _args: &[String], _stdin: &str, _now: Timestamp) -> Option<AgentReport> {
        None
    }
    /// Explains a start that failed, from the agent's last output: what happened and the
    /// ways out, when the plugin recognises it.
    fn diagnose(&self, _output: &str, _config: &AgentConfig) -> Option<String> {
        None
    }
    /// For a dialog on `screen` that the config has already answered for this session
    /// (such as trusting the session's own worktree when `permissions` allows all), how
    /// to answer it; `None` for any other dialog, which is the user's to answer.
    fn own_dialog(
        &self,
        _screen: &str,
        _workspace: &std::path::Path,
        _config: &AgentConfig,
    ) -> Option<DialogAnswer> {
        None
    }
}

/// How to answer a dialog: move with `next` until `choice` is the selected option, then
/// press `confirm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogAnswer {
    /// The option to choose, as its line on the screen reads.
    pub choice: String,
    /// The line that marks the selected option, e.g. `❯ Yes, I trust this folder`.
    pub selected: String,
    /// The key that moves the selection (tmux key name), e.g. `Down`.
    pub next: String,
    /// The key that confirms it, e.g. `Enter`.
    pub confirm: String,
}
