//! The agent slot: one AI coding CLI.

use crate::export::{Dispatch, params, result, unknown_method};
use crate::{Context, Error, Plugin, Slot, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// What the agent inside a session is doing right now, as far as ao can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// The model is producing output or a tool is running.
    Active,
    /// The agent finished its turn and waits for the next instruction.
    Ready,
    /// Ready for longer than the configured threshold.
    Idle,
    /// The agent asks the human something (a permission prompt, a first-run dialog).
    WaitingInput,
    /// The agent cannot go on by itself (an error it reported).
    Blocked,
    /// The agent's provider refuses it for a usage or rate limit: it waits for the limit
    /// to lift (the report's `resets_at`, when the CLI says).
    Limited,
    /// The agent's process has ended.
    Exited,
}

impl Activity {
    /// Every activity, for listings and round-trip tests.
    pub const ALL: [Activity; 7] = [
        Activity::Active,
        Activity::Ready,
        Activity::Idle,
        Activity::WaitingInput,
        Activity::Blocked,
        Activity::Limited,
        Activity::Exited,
    ];

    /// The name used in the store, `--json` output and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Active => "active",
            Activity::Ready => "ready",
            Activity::Idle => "idle",
            Activity::WaitingInput => "waiting_input",
            Activity::Blocked => "blocked",
            Activity::Limited => "limited",
            Activity::Exited => "exited",
        }
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Activity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Activity::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown activity `{s}`"))
    }
}

/// What an agent plugin is told when a session launches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchContext {
    /// The session being launched (`app-3`).
    pub session: String,
    /// The project id.
    pub project: String,
    /// The session's workspace, where the agent starts.
    pub workspace: PathBuf,
    /// The task.
    pub prompt: String,
    /// The project's `agentConfig`, as written (camelCase keys).
    #[serde(default)]
    pub config: Value,
    /// The project's rules (`agentRules` plus `agentRulesFile`), if any.
    #[serde(default)]
    pub rules: Option<String>,
    /// A directory the plugin may write files into that is neither the user's
    /// repository nor shared with another session.
    pub scratch_dir: PathBuf,
    /// The argv that reports a hook event to ao (`ao hook <agent>`); append the event.
    #[serde(default)]
    pub hook_command: Vec<String>,
}

/// How the task reaches the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptDelivery {
    /// It is already in the argv.
    Inline,
    /// Pasted into the agent once it is ready, then submitted and confirmed.
    PostLaunch,
    /// Written to this file, which the launch pipes into the agent's standard input.
    StdinFile(PathBuf),
}

/// The command line that starts (or resumes) an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchSpec {
    /// One argument per element; user text is an argument, never part of a shell string.
    pub argv: Vec<String>,
    /// Environment added to the agent's own.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How the prompt is delivered.
    pub prompt: PromptDelivery,
    /// The CLI's own session id, when ao chooses it at launch.
    #[serde(default)]
    pub agent_session_id: Option<String>,
}

/// The latest report of an agent's hooks (what `ao hook` recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentReport {
    /// What the agent said it is doing.
    pub activity: Activity,
    /// The question it asks (for `waiting_input`), or other detail.
    #[serde(default)]
    pub detail: Option<String>,
    /// When it reported.
    pub at: Timestamp,
    /// The CLI's own session id, once known.
    #[serde(default)]
    pub agent_session_id: Option<String>,
    /// The CLI's session log, once known.
    #[serde(default)]
    pub log_path: Option<String>,
}

/// What an agent plugin needs to judge activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityContext {
    /// The session (`app-3`).
    pub session: String,
    /// Its workspace.
    pub workspace: PathBuf,
    /// The directory the plugin was given at launch.
    pub scratch_dir: PathBuf,
    /// The agent CLI's own session id, if known.
    #[serde(default)]
    pub agent_session_id: Option<String>,
    /// When the agent was last started (spawn or restore), if known.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// What the agent's hooks last reported through `ao hook`.
    #[serde(default)]
    pub report: Option<AgentReport>,
    /// The terminal's last lines, when the plugin asked for them (`wants_terminal`).
    #[serde(default)]
    pub recent_output: Option<String>,
    /// How long `ready` may last before it is `idle`, in milliseconds.
    pub idle_after_ms: u64,
    /// Now.
    pub now: Timestamp,
    /// When the agent's screen last changed, when the runtime knows it.
    #[serde(default)]
    pub last_output_at: Option<Timestamp>,
}

/// Where an activity reading came from, most trusted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivitySource {
    /// The agent's own hooks reported it.
    Hook,
    /// Read from the agent's session log.
    SessionLog,
    /// Guessed from the terminal.
    Terminal,
    /// Said by the agent itself (`ao report`), where only the terminal said otherwise.
    Report,
}

impl ActivitySource {
    /// The name shown in `ao status --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivitySource::Hook => "hook",
            ActivitySource::SessionLog => "session-log",
            ActivitySource::Report => "report",
            ActivitySource::Terminal => "terminal",
        }
    }
}

/// An activity reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityReport {
    /// What the agent is doing.
    pub activity: Activity,
    /// How ao knows.
    pub source: ActivitySource,
    /// When the agent last did something, if known.
    #[serde(default)]
    pub last_at: Option<Timestamp>,
    /// The question it asks, for `waiting_input`; what the limit is, for `limited`.
    #[serde(default)]
    pub detail: Option<String>,
    /// For `limited`: when the limit lifts (milliseconds since 1970), if the CLI says.
    #[serde(default)]
    pub resets_at: Option<Timestamp>,
    /// For `waiting_input`: the answers the agent offers, each with the keys that choose
    /// it, where its hook or screen shows them (since SDK 0.3; a plugin that sends none
    /// leaves ao to read a numbered menu off the screen, or the human to type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
}

/// One answer an agent offers to its question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// What the answer says (`Yes, and don't ask again`).
    pub label: String,
    /// What to type to choose it, as a terminal sends it (`1`, `y\r`, `\x1b[B\r`).
    pub keys: String,
}

/// What the agent CLI records about its own session.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentSessionInfo {
    /// The CLI's session id, used to resume.
    #[serde(default)]
    pub agent_session_id: Option<String>,
    /// A one-line summary of the work.
    #[serde(default)]
    pub summary: Option<String>,
    /// Tokens used, where recorded.
    #[serde(default)]
    pub tokens: Option<u64>,
    /// Cost in US dollars, where recorded.
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

/// An agent plugin.
pub trait Agent: Plugin {
    /// The argv and environment that start the agent on a task.
    fn launch(&self, cx: &Context, launch: &LaunchContext) -> Result<LaunchSpec, Error>;
    /// The process names the runtime should see in the foreground once the agent runs
    /// (`config` is the project's `agentConfig`).
    fn process_names(&self, cx: &Context, config: &Value) -> Vec<String>;
    /// What the agent is doing now.
    fn activity(&self, cx: &Context, ctx: &ActivityContext) -> Result<ActivityReport, Error>;
    /// What the CLI records about its session.
    fn session_info(
        &self,
        _cx: &Context,
        ctx: &ActivityContext,
    ) -> Result<AgentSessionInfo, Error> {
        Ok(AgentSessionInfo {
            agent_session_id: ctx.agent_session_id.clone(),
            ..AgentSessionInfo::default()
        })
    }
    /// The argv that resumes the session, or `None` to start afresh with `launch`.
    fn restore(
        &self,
        _cx: &Context,
        _launch: &LaunchContext,
        _agent_session_id: Option<&str>,
    ) -> Option<LaunchSpec> {
        None
    }
    /// Whether the agent shows it has started (a hook, its log, or a dialog).
    fn confirms_start(&self, _cx: &Context) -> bool {
        false
    }
    /// Whether the agent's readings show when it takes typed input.
    fn confirms_delivery(&self, _cx: &Context) -> bool {
        false
    }
    /// Whether `activity` needs the terminal's last lines this time.
    fn wants_terminal(&self, _cx: &Context, _ctx: &ActivityContext) -> bool {
        false
    }
    /// Reads one call of the agent's hook (`ao hook <agent> ARGS...`) into a report.
    fn hook_report(
        &self,
        _cx: &Context,
        _args: &[String],
        _stdin: &str,
        _now: Timestamp,
    ) -> Option<AgentReport> {
        None
    }
    /// Explains a start that failed, from the agent's last output.
    fn diagnose(&self, _cx: &Context, _output: &str, _config: &Value) -> Option<String> {
        None
    }
}

/// The method names.
pub mod method {
    /// `launch`: [`super::LaunchParams`] → [`super::LaunchSpec`].
    pub const LAUNCH: &str = "launch";
    /// `process_names`: [`super::ConfigParams`] → a list of strings.
    pub const PROCESS_NAMES: &str = "process_names";
    /// `activity`: [`super::ActivityParams`] → [`super::ActivityReport`].
    pub const ACTIVITY: &str = "activity";
    /// `session_info`: [`super::ActivityParams`] → [`super::AgentSessionInfo`].
    pub const SESSION_INFO: &str = "session_info";
    /// `restore`: [`super::RestoreParams`] → a [`super::LaunchSpec`] or `null`.
    pub const RESTORE: &str = "restore";
    /// `confirms_start`: `null` → a bool.
    pub const CONFIRMS_START: &str = "confirms_start";
    /// `confirms_delivery`: `null` → a bool.
    pub const CONFIRMS_DELIVERY: &str = "confirms_delivery";
    /// `wants_terminal`: [`super::ActivityParams`] → a bool.
    pub const WANTS_TERMINAL: &str = "wants_terminal";
    /// `hook_report`: [`super::HookParams`] → an [`super::AgentReport`] or `null`.
    pub const HOOK_REPORT: &str = "hook_report";
    /// `diagnose`: [`super::DiagnoseParams`] → a string or `null`.
    pub const DIAGNOSE: &str = "diagnose";
}

/// Parameters of `launch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchParams {
    /// The launch.
    pub launch: LaunchContext,
}

/// Parameters carrying the project's `agentConfig`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigParams {
    /// `agentConfig` as written.
    #[serde(default)]
    pub config: Value,
}

/// Parameters carrying an activity context.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityParams {
    /// The context.
    pub ctx: ActivityContext,
}

/// Parameters of `restore`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreParams {
    /// The launch.
    pub launch: LaunchContext,
    /// The CLI's own session id, if known.
    #[serde(default)]
    pub agent_session_id: Option<String>,
}

/// Parameters of `hook_report`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookParams {
    /// The hook's arguments.
    pub args: Vec<String>,
    /// The hook's standard input.
    #[serde(default)]
    pub stdin: String,
    /// Now.
    pub now: Timestamp,
}

/// Parameters of `diagnose`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiagnoseParams {
    /// The agent's last output.
    pub output: String,
    /// `agentConfig` as written.
    #[serde(default)]
    pub config: Value,
}

/// The dispatcher [`crate::export_plugin!`] uses for an agent.
#[doc(hidden)]
pub struct AsAgent<T>(pub T);

impl<T: Agent> Dispatch for AsAgent<T> {
    const SLOT: Slot = Slot::Agent;

    fn create(config: Value) -> Result<Self, Error> {
        T::init(config).map(AsAgent)
    }

    fn dispatch(&self, m: &str, cx: &Context, p: Value) -> Result<Value, Error> {
        let a = &self.0;
        let ctx = |p: Value| params::<ActivityParams>(m, p).map(|q| q.ctx);
        match m {
            method::LAUNCH => result(a.launch(cx, &params::<LaunchParams>(m, p)?.launch)?),
            method::PROCESS_NAMES => {
                result(a.process_names(cx, &params::<ConfigParams>(m, p)?.config))
            }
            method::ACTIVITY => result(a.activity(cx, &ctx(p)?)?),
            method::SESSION_INFO => result(a.session_info(cx, &ctx(p)?)?),
            method::RESTORE => {
                let q: RestoreParams = params(m, p)?;
                result(a.restore(cx, &q.launch, q.agent_session_id.as_deref()))
            }
            method::CONFIRMS_START => result(a.confirms_start(cx)),
            method::CONFIRMS_DELIVERY => result(a.confirms_delivery(cx)),
            method::WANTS_TERMINAL => result(a.wants_terminal(cx, &ctx(p)?)),
            method::HOOK_REPORT => {
                let q: HookParams = params(m, p)?;
                result(a.hook_report(cx, &q.args, &q.stdin, q.now))
            }
            method::DIAGNOSE => {
                let q: DiagnoseParams = params(m, p)?;
                result(a.diagnose(cx, &q.output, &q.config))
            }
            _ => Err(unknown_method(Self::SLOT, m)),
        }
    }
}
