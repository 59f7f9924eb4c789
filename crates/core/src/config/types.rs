//! The shape of `agent-orchestrator.yaml`. The JSON Schema under `schema/` is generated
//! from these types, and their doc comments are its descriptions.

use super::duration::{ConfigDuration, EscalateAfter};
use crate::model::Priority;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The configuration of ao: projects, their plugins, notifications and reactions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "ao configuration (agent-orchestrator.yaml)")]
pub struct Config {
    /// Where editors find this schema.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// Plugins every project uses unless it names its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// The projects, keyed by project id (letters, digits, `-` and `_`).
    pub projects: BTreeMap<String, ProjectConfig>,
    /// Notification channels, keyed by the name used in `notificationRouting`.
    #[serde(default)]
    pub notifiers: BTreeMap<String, PluginSection>,
    /// Which notifiers hear events of each priority (urgent, action, warning, info).
    #[serde(default)]
    pub notification_routing: BTreeMap<String, Vec<String>>,
    /// How long the same notification (one session, one event or reaction) is not sent
    /// again: `5m` (the default), `30s`, `1h`; `0` sends every one.
    #[serde(default)]
    pub notification_dedup_window: Option<String>,
    /// Automatic responses to session events, for every project (projects may override).
    #[serde(default)]
    pub reactions: BTreeMap<String, ReactionConfig>,
    /// External plugins loaded from shared libraries.
    #[serde(default)]
    pub plugins: Vec<ExternalPlugin>,
    /// Settings of runtime plugins, keyed by the runtime's name (ao's own key), e.g.
    /// `tmux: { socket: ao }` to keep sessions on a tmux server of their own.
    #[serde(default)]
    pub runtimes: BTreeMap<String, PluginSection>,
    /// Milliseconds a session may stay `ready` before it is shown as `idle` (default 300000).
    #[serde(default)]
    pub ready_threshold_ms: Option<u64>,
    /// Where workspaces go, as `defaults.worktreeDir` (the reference format writes it at
    /// the top level).
    #[serde(default)]
    pub worktree_dir: Option<String>,
    /// The reference format's state directory; ao keeps its state in `$AO_HOME` instead.
    #[serde(default)]
    pub data_dir: Option<String>,
    /// The port the dashboard listens on, served by `ao start` (default 3000; `ao start
    /// --port` overrides it).
    #[serde(default)]
    pub port: Option<u32>,
    /// The reference format's terminal WebSocket port (read, not used: ao's terminals
    /// share `port`).
    #[serde(default)]
    pub terminal_port: Option<u32>,
    /// The reference format's direct terminal WebSocket port (read, not used: ao's
    /// terminals share `port`).
    #[serde(default)]
    pub direct_terminal_port: Option<u32>,
    /// Keeping the machine awake while agents work: the host holds the system's idle
    /// inhibitor while any agent is active.
    #[serde(default)]
    pub power: Option<PowerConfig>,
    /// The dashboard `ao start` serves on `port`: where it listens, its token, its zones.
    #[serde(default)]
    pub dashboard: Option<DashboardConfig>,
    /// What happens to a session after its pull request merges.
    #[serde(default)]
    pub lifecycle: Option<LifecycleConfig>,
    /// The order projects are listed in (read, not used by ao yet).
    #[serde(default)]
    pub project_order: Vec<String>,
}

/// `power:` of the reference format.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PowerConfig {
    /// Keep the machine from sleeping while any agent works (`systemd-inhibit` on Linux,
    /// `caffeinate` on macOS; default false).
    #[serde(default)]
    pub prevent_idle_sleep: Option<bool>,
}

/// The dashboard's port when `port` is not set.
pub const DASHBOARD_PORT: u32 = 3000;
/// The address the dashboard listens on when `dashboard.host` is not set.
pub const DASHBOARD_HOST: &str = "127.0.0.1";

/// `dashboard:`: the web dashboard `ao start` serves on `port`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DashboardConfig {
    /// How sessions are grouped on the board: `simple` (the default: respond and review
    /// folded into one "action" zone) or `detailed` (six zones).
    #[serde(default)]
    pub attention_zones: Option<AttentionZones>,
    /// ao's own: the address the dashboard listens on, `127.0.0.1` by default. Any other
    /// than a loopback address needs `token`, and is best reached through a tunnel or VPN.
    #[serde(default)]
    pub host: Option<String>,
    /// ao's own: the bearer token scripts send (`Authorization: Bearer ...`); required to
    /// listen beyond loopback. Write it as `${AO_DASHBOARD_TOKEN}`, not in the file.
    #[serde(default)]
    pub token: Option<SecretText>,
    /// ao's own: further names the dashboard answers to, as a browser reaches it through a
    /// tunnel or VPN (`myhost.tailnet.ts.net`, `localhost:8080`); any other `Host` is
    /// refused, so a page whose name was rebound to this machine cannot reach it.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// ao's own: serve over HTTPS with this certificate, as any address beyond loopback
    /// requires (plain HTTP across a network is refused).
    #[serde(default)]
    pub tls: Option<DashboardTls>,
}

/// `dashboard.tls`: the certificate the dashboard serves HTTPS with.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DashboardTls {
    /// The certificate chain, a PEM file (`~` is your home; a relative path is relative
    /// to the config file's directory).
    pub cert: String,
    /// Its private key, a PEM file.
    pub key: String,
}

/// A value never shown: its `Debug` prints `<hidden>`, and only [`SecretText::expose`]
/// reads it.
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SecretText(String);

impl SecretText {
    /// A secret holding `text`.
    pub fn new(text: impl Into<String>) -> SecretText {
        SecretText(text.into())
    }

    /// The secret itself, for the one place that compares it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// How the dashboard groups sessions on its board.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttentionZones {
    /// Merge, action (respond and review together), pending, working, done.
    #[default]
    Simple,
    /// Merge, respond, review, pending, working, done.
    Detailed,
}

/// `lifecycle:`: the host's intervals and its cleanup after a merge.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Clean a session up once its pull request is merged (default true).
    #[serde(default)]
    pub auto_cleanup_on_merge: Option<bool>,
    /// How long a merged session's agent may stay idle before that cleanup, in
    /// milliseconds: 0 (at once) or at least 10000 (default 300000).
    #[serde(default)]
    pub merge_cleanup_idle_grace_ms: Option<u64>,
    /// ao's own: how often the host probes every session (runtime, hooks): `5s` default.
    #[serde(default)]
    pub probe_interval: Option<String>,
    /// ao's own: how often the host polls the pull requests: `30s` default, longer as
    /// the scm's budget runs low.
    #[serde(default)]
    pub poll_interval: Option<String>,
    /// ao's own: how long the host waits before it tries an urgent or action
    /// notification that no notifier delivered again: `30s` default, four times longer
    /// each next time, four deliveries in all.
    #[serde(default)]
    pub notify_retry_delay: Option<String>,
    /// ao's own: how long a pull request's head with no checks yet is given for its CI to
    /// start before auto-merge decides without it: `2m` default, counted from when ao first
    /// saw the head.
    #[serde(default)]
    pub ci_grace_period: Option<String>,
    /// ao's own: how long the periodic poll of pull requests waits while the scm's
    /// webhooks bring every change (`scm.webhook` on every project, deliveries arriving):
    /// `5m` default.
    #[serde(default)]
    pub webhook_poll_interval: Option<String>,
}

/// Which agent plays a role (`orchestrator` or `worker`) by default.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleDefaults {
    /// The agent plugin for the role.
    #[serde(default)]
    pub agent: Option<String>,
}

/// The agent of one role of a project (`orchestrator` or `worker`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleAgentConfig {
    /// The agent plugin for the role.
    #[serde(default)]
    pub agent: Option<String>,
    /// Settings of that agent.
    #[serde(default)]
    pub agent_config: Option<AgentConfig>,
}

/// What happens to a project's orchestrator session when `ao start` runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OrchestratorSessionStrategy {
    /// Keep the one that runs, or start the one that ended again (resuming its
    /// conversation where the agent can).
    Reuse,
    /// End it and start a new one.
    Delete,
    /// Start a new one without resuming the old; the old one is ended too, since a
    /// project has one orchestrator.
    Ignore,
    /// An older name of `delete`.
    DeleteNew,
    /// An older name of `ignore`.
    IgnoreNew,
    /// An older name of `delete`.
    KillPrevious,
}

/// What happens to an issue's opencode session when it is spawned again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OpencodeIssueSessionStrategy {
    /// Continue the issue's earlier opencode session.
    Reuse,
    /// Delete it and start a new one.
    Delete,
    /// Leave it and start a new one.
    Ignore,
}

/// Default plugins; each project may name its own instead.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Defaults {
    /// Where sessions run: `tmux` or `process`.
    #[serde(default = "default_runtime")]
    pub runtime: String,
    /// The AI coding CLI: `claude-code`, `codex`, `aider`, `opencode`, `gemini`, `qwen-code`,
    /// `copilot`, `kilo`, `cline` or `command`, or a preset of `command`: `crush`, `amp`, `auggie`, `cursor`.
    #[serde(default = "default_agent")]
    pub agent: String,
    /// How sessions are isolated: `worktree` or `clone`.
    #[serde(default = "default_workspace")]
    pub workspace: String,
    /// Where issues come from when a project names no tracker; `none` is no tracker
    /// (sessions take their task from `--prompt`).
    #[serde(default = "default_tracker")]
    pub tracker: String,
    /// Where pull requests live when a project names no scm.
    #[serde(default = "default_scm")]
    pub scm: String,
    /// Notifiers used when `notificationRouting` does not name any for a priority.
    #[serde(default)]
    pub notifiers: Vec<String>,
    /// Where workspaces go (ao's own key): `<worktreeDir>/<project>/<session>`; default
    /// `$AO_HOME/worktrees`. `~` expands.
    #[serde(default)]
    pub worktree_dir: Option<String>,
    /// The orchestrator role's agent, for projects that name none.
    #[serde(default)]
    pub orchestrator: Option<RoleDefaults>,
    /// The worker role's agent, for projects that name none.
    #[serde(default)]
    pub worker: Option<RoleDefaults>,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            runtime: default_runtime(),
            agent: default_agent(),
            workspace: default_workspace(),
            tracker: default_tracker(),
            scm: default_scm(),
            notifiers: Vec::new(),
            worktree_dir: None,
            orchestrator: None,
            worker: None,
        }
    }
}

fn default_runtime() -> String {
    "tmux".into()
}
fn default_agent() -> String {
    "claude-code".into()
}
fn default_workspace() -> String {
    "worktree".into()
}
fn default_tracker() -> String {
    "github".into()
}
fn default_scm() -> String {
    "github".into()
}
fn default_branch() -> String {
    "main".into()
}

/// One repository that agents work on.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectConfig {
    /// A display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The repository on the project's scm, as the scm names it (`owner/name`; groups
    /// may nest); a registry writes it as a mapping
    /// (`owner`, `name`, `platform`, `originUrl`), read the same way.
    #[serde(default, deserialize_with = "repo_name")]
    #[schemars(with = "Option<RepoRef>")]
    pub repo: Option<String>,
    /// The local clone; `~` expands, and a relative path is relative to this file.
    pub path: String,
    /// The branch sessions start from and pull requests target.
    #[serde(default = "default_branch")]
    pub default_branch: String,
    /// Session ids are `<sessionPrefix>-<n>` (default: the project id).
    #[serde(default)]
    pub session_prefix: Option<String>,
    /// This project's runtime plugin, instead of `defaults.runtime`.
    #[serde(default)]
    pub runtime: Option<String>,
    /// This project's agent plugin, instead of `defaults.agent`.
    #[serde(default)]
    pub agent: Option<String>,
    /// This project's workspace plugin, instead of `defaults.workspace`.
    #[serde(default)]
    pub workspace: Option<String>,
    /// The issue tracker: `plugin:` and the plugin's own settings (`none`: no tracker).
    #[serde(default)]
    pub tracker: Option<PluginSection>,
    /// Where pull requests live: `plugin:` and the plugin's own settings.
    #[serde(default)]
    pub scm: Option<PluginSection>,
    /// Files or directories of the repository symlinked into each workspace (relative paths).
    #[serde(default)]
    pub symlinks: Vec<String>,
    /// Files of the repository copied into each workspace (relative paths), e.g. `.env`.
    #[serde(default)]
    pub copy: Vec<String>,
    /// Shell commands run in order in each new workspace; a failing one fails the spawn.
    #[serde(default)]
    pub post_create: Vec<String>,
    /// Settings passed to the agent.
    #[serde(default)]
    pub agent_config: AgentConfig,
    /// Rules given to every agent of this project.
    #[serde(default)]
    pub agent_rules: Option<String>,
    /// A file of rules, relative to the project's path.
    #[serde(default)]
    pub agent_rules_file: Option<String>,
    /// Reaction overrides for this project.
    #[serde(default)]
    pub reactions: BTreeMap<String, ReactionConfig>,
    /// At most this many live sessions at once.
    #[serde(default)]
    pub max_sessions: Option<u32>,
    /// Where this project's workspaces go (ao's own key): `<worktreeDir>/<session>`.
    /// `~` expands; a relative path is relative to this file.
    #[serde(default)]
    pub worktree_dir: Option<String>,
    /// The orchestrator agent of this project (`ao start` runs it as `<prefix>-orchestrator`).
    #[serde(default)]
    pub orchestrator: Option<RoleAgentConfig>,
    /// The worker agents of this project (every spawned session).
    #[serde(default)]
    pub worker: Option<RoleAgentConfig>,
    /// Rules for the orchestrator agent, after ao's own account of its commands.
    #[serde(default)]
    pub orchestrator_rules: Option<String>,
    /// What `ao start` does with an earlier orchestrator session (default reuse).
    #[serde(default)]
    pub orchestrator_session_strategy: Option<OrchestratorSessionStrategy>,
    /// Whether opencode continues an issue's earlier session (read, not used by ao yet).
    #[serde(default)]
    pub opencode_issue_session_strategy: Option<OpencodeIssueSessionStrategy>,
    /// How an issue is split into sub-tasks (read, not used by ao yet).
    #[serde(default)]
    pub decomposer: Option<serde_json::Value>,
    /// The reference format's storage key (ao keeps its state in `$AO_HOME`).
    #[serde(default)]
    pub storage_key: Option<String>,
    /// The clone URL of the repository, as the reference format records it.
    #[serde(default)]
    pub origin_url: Option<String>,
    /// Why the reference system could not resolve the project (ignored by ao).
    #[serde(default)]
    pub resolve_error: Option<String>,
    /// The project's id as the registry records it (the key under `projects:` is used).
    #[serde(default)]
    pub project_id: Option<String>,
    /// A display name, as the registry records it (`name` is the same).
    #[serde(default)]
    pub display_name: Option<String>,
    /// How the registry entry was made (`ao project add`, a clone).
    #[serde(default)]
    pub source: Option<String>,
    /// When the registry entry was made, in milliseconds since 1970.
    #[serde(default)]
    pub registered_at: Option<u64>,
}

/// A repository as a registry records it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum RepoRef {
    /// `owner/name`.
    Name(String),
    /// The registry's mapping.
    Identity {
        /// The owner (user or organisation).
        owner: String,
        /// The repository's name.
        name: String,
        /// `github`, `gitlab` or `bitbucket`.
        #[serde(default)]
        platform: Option<String>,
        /// The clone URL.
        #[serde(default, rename = "originUrl")]
        origin_url: Option<String>,
    },
}

fn repo_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<RepoRef>::deserialize(d)? {
        None => None,
        Some(RepoRef::Name(name)) => Some(name),
        Some(RepoRef::Identity { owner, name, .. }) => Some(format!("{owner}/{name}")),
    })
}

/// A plugin choice with the plugin's own settings beside `plugin`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct PluginSection {
    /// The plugin's name: a built-in one, or the `name` of an entry in `plugins`.
    #[serde(default)]
    pub plugin: Option<String>,
    /// The plugin's own settings; the plugin validates them.
    #[serde(flatten)]
    pub options: BTreeMap<String, serde_json::Value>,
}

/// How the agent may act without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Never asks (each CLI's own bypass flag). `skip` is accepted as the same.
    #[default]
    #[serde(alias = "skip")]
    Permissionless,
    /// The CLI's own default prompting.
    Default,
    /// Edits files without asking, asks before running commands.
    AutoEdit,
    /// Only suggests; asks before every change.
    Suggest,
}

/// Settings for the agent CLI. Keys ao does not know are kept and handed to the agent
/// plugin, as the reference format does.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentConfig {
    /// permissionless (default), default, auto-edit or suggest.
    #[serde(default)]
    pub permissions: Option<Permission>,
    /// The model the agent uses.
    #[serde(default)]
    pub model: Option<String>,
    /// Extra environment for the agent's process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// For the `command` agent: the CLI to run, one argument per element, or one line
    /// that ao splits into words as a shell would (without running a shell). An element
    /// `{prompt}` is replaced by the task when `promptDelivery` is `argument`.
    #[serde(default, deserialize_with = "command_words")]
    #[schemars(with = "Option<CommandLine>")]
    pub command: Option<Vec<String>>,
    /// For the `command` agent: how the task reaches it (ao's own key).
    #[serde(default)]
    pub prompt_delivery: Option<PromptMode>,
    /// For the `command` agent: the process name seen in the terminal once it runs
    /// (default: the file name of the command's first element) (ao's own key).
    #[serde(default)]
    pub process_name: Option<String>,
    /// For the `command` agent: text that shows on its screen once it is ready for its
    /// task (e.g. its prompt, `> `); ao types the task only after it appears (ao's own
    /// key). Use it for a CLI that sets up its terminal after starting, which would
    /// otherwise lose what is typed before.
    #[serde(default)]
    pub ready_pattern: Option<String>,
    /// The orchestrator agent's model (the workers use `model`).
    #[serde(default)]
    pub orchestrator_model: Option<String>,
    /// The reference format's opencode session id (ao records each session's own).
    #[serde(default)]
    pub opencode_session_id: Option<String>,
    /// Keys for the agent plugin that ao itself does not read.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// `agentConfig.command`: a list of arguments, or one command line.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum CommandLine {
    /// One argument per element.
    Words(Vec<String>),
    /// One line, split into words as a shell splits them.
    Line(String),
}

fn command_words<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    use serde::de::Error;
    match Option::<CommandLine>::deserialize(d)? {
        None => Ok(None),
        Some(CommandLine::Words(words)) => Ok(Some(words)),
        Some(CommandLine::Line(line)) => shell_words::split(&line).map(Some).map_err(|e| {
            D::Error::custom(format!(
                "this command line cannot be split into words ({e}); close its quotes, or give it as a list"
            ))
        }),
    }
}

/// How the `command` agent receives its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PromptMode {
    /// Typed in (bracketed paste, then Enter) once the agent runs.
    #[default]
    PostLaunch,
    /// As the last argument, or in place of an argument `{prompt}`.
    Argument,
    /// Written to a file that becomes the agent's standard input.
    Stdin,
}

/// What a reaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReactionAction {
    /// Send a message (with the failing checks, the review threads) to the agent.
    SendToAgent,
    /// Notify the human.
    Notify,
    /// Merge the pull request.
    AutoMerge,
}

/// An automatic response to a session event.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReactionConfig {
    /// Whether it runs by itself.
    #[serde(default)]
    pub auto: Option<bool>,
    /// send-to-agent, notify or auto-merge.
    #[serde(default)]
    pub action: Option<ReactionAction>,
    /// The message sent to the agent, before the details ao adds.
    #[serde(default)]
    pub message: Option<String>,
    /// The priority of the notification it sends.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// How many times it is tried again.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Hand over to the human after this many attempts or this long.
    #[serde(default)]
    pub escalate_after: Option<EscalateAfter>,
    /// How long before the event counts (for agent-stuck).
    #[serde(default)]
    pub threshold: Option<ConfigDuration>,
    /// Whether the notification includes the agent's summary.
    #[serde(default)]
    pub include_summary: Option<bool>,
    /// ao's own, for `action: auto-merge`: how to merge (default `squash`).
    #[serde(default)]
    pub merge_method: Option<MergeMethodSetting>,
    /// ao's own, for `approved-and-green`: whether auto-merge needs a check that passed on
    /// the pull request's head (default true). `false` lets ao merge in a repository that
    /// runs no CI at all; a repository with CI always needs a passed check.
    #[serde(default)]
    pub require_checks: Option<bool>,
}

/// How `auto-merge` merges a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethodSetting {
    /// A merge commit.
    Merge,
    /// One squashed commit.
    Squash,
    /// The commits rebased onto the base.
    Rebase,
}

/// Where an external plugin comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PluginSource {
    /// A shared library on disk (the only kind ao loads).
    Local,
    /// A package registry (reference format; not loaded by ao).
    Registry,
    /// An npm package (reference format; not loaded by ao).
    Npm,
}

/// An external plugin built as a shared library against ao-plugin-sdk.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalPlugin {
    /// The name projects and notifiers use to pick it.
    pub name: String,
    /// Where it comes from; ao loads `local` libraries.
    #[serde(default)]
    pub source: Option<PluginSource>,
    /// The shared library (`.so`, `.dylib`); `~` expands, relative to this file.
    #[serde(default)]
    pub path: Option<String>,
    /// Set false to keep the entry without loading it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Settings handed to the plugin when it starts.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// How long each call of the plugin may take, in milliseconds (ao's own key; default
    /// 10000). A plugin that takes longer is disabled for the rest of the process.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The reference format's npm package (ao loads shared libraries by `path`).
    #[serde(default)]
    pub package: Option<String>,
    /// The reference format's package version.
    #[serde(default)]
    pub version: Option<String>,
}

fn yes() -> bool {
    true
}
