//! The `copilot` agent: GitHub Copilot CLI (`copilot`, npm `@github/copilot`).
//!
//! - Launch: the interactive CLI with the task as its first prompt
//!   (`--interactive=TASK`), a session id chosen by ao (`--session-id`), the project's
//!   permission mode as its flags, and the model. Its login, or a model provider of the
//!   user's own (`COPILOT_PROVIDER_BASE_URL` and the rest, in `agentConfig.env`), is the
//!   user's. The project's rules reach it as an instructions file applying to all files
//!   (`.github/instructions/ao-rules.instructions.md`) in a directory of the session's
//!   own, named in `COPILOT_CUSTOM_INSTRUCTIONS_DIRS` beside any the user names. Nothing is written in the user's repository.
//! - Activity: its session's event log (`~/.copilot/session-state/<id>/events.jsonl`, or
//!   under `COPILOT_HOME`) says when a turn starts and ends, when a tool waits for
//!   permission and when the provider refused for a usage limit; before the first event, the screen (its folder-trust dialog).
//! - Restore: `copilot --resume=ID`.

use super::{from_terminal, model_args, screen_line, write_file};
use ao_core::config::{AgentConfig, Permission};
use ao_core::model::Activity;
use ao_core::plugin::{
    ActivityContext, ActivityReport, ActivitySource, Agent, AgentSessionInfo, LaunchContext,
    LaunchSpec, PluginError, PromptDelivery,
};
use ao_core::registry::{AgentCli, Factory, PluginEntry, SectionRef};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const NAME: &str = "copilot";

/// The CLI this agent runs, described once: its registry entry carries it.
pub const CLI: AgentCli = AgentCli {
    name: "GitHub Copilot CLI",
    program: "copilot",
    install: "npm install -g @github/copilot",
};

/// The variable naming extra directories the CLI reads instructions from.
const INSTRUCTIONS_ENV: &str = "COPILOT_CUSTOM_INSTRUCTIONS_DIRS";

/// How much of the end of a long event log is read for the current state.
const TAIL_BYTES: u64 = 256 * 1024;

/// GitHub Copilot CLI.
#[derive(Debug, Default)]
pub struct Copilot;

impl Copilot {
    fn program() -> String {
        CLI.program.into()
    }

    fn spec(
        ctx: &LaunchContext,
        mut argv: Vec<String>,
        id: &str,
    ) -> Result<LaunchSpec, PluginError> {
        let mut env: BTreeMap<String, String> = ctx.config.env.clone().into_iter().collect();
        match ctx.permissions() {
            Permission::Permissionless => {
                argv.push("--allow-all".into());
                // Exactly "true" also trusts the working directory, the session's own
                // worktree, for this run: no trust dialog, nothing remembered.
                env.insert("COPILOT_ALLOW_ALL".into(), "true".into());
            }
            Permission::AutoEdit => argv.push("--allow-tool=write".into()),
            Permission::Default => {}
            Permission::Suggest => argv.push("--plan".into()),
        }
        argv.extend(model_args("--model", ctx.config.model.as_ref()));
        if let Some(home) = copilot_home(&env) {
            write_file(
                NAME,
                &ctx.scratch_dir.join(HOME_FILE),
                &home.to_string_lossy(),
            )?;
        }
        if let Some(rules) = ctx.rules.as_deref().filter(|r| !r.trim().is_empty()) {
            // It reads `.github/instructions/*.instructions.md` of the directories named;
            // `applyTo: "**"` makes them apply to every file.
            let dir = ctx.scratch_dir.join("copilot-instructions");
            write_file(
                NAME,
                &dir.join(".github/instructions/ao-rules.instructions.md"),
                &format!("---\napplyTo: \"**\"\n---\n{rules}\n"),
            )?;
            let dir = dir.to_string_lossy().into_owned();
            let theirs = env
                .get(INSTRUCTIONS_ENV)
                .cloned()
                .or_else(|| std::env::var(INSTRUCTIONS_ENV).ok())
                .filter(|d| !d.trim().is_empty());
            let dirs = match theirs {
                Some(theirs) => format!("{theirs},{dir}"),
                None => dir,
            };
            env.insert(INSTRUCTIONS_ENV.into(), dirs);
        }
        Ok(LaunchSpec {
            argv,
            env,
            prompt: PromptDelivery::Inline,
            agent_session_id: Some(id.to_owned()),
        })
    }
}

/// The CLI's state directory: `COPILOT_HOME` from the project's environment or ao's,
/// else `~/.copilot`.
fn copilot_home(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if let Some(dir) = env
        .get("COPILOT_HOME")
        .cloned()
        .or_else(|| std::env::var("COPILOT_HOME").ok())
        .filter(|d| !d.is_empty())
    {
        return Some(PathBuf::from(dir));
    }
    Some(PathBuf::from(std::env::var_os("HOME")?).join(".copilot"))
}

/// The file in the session's directory that keeps the state directory the CLI was
/// started with, for the readings after it.
const HOME_FILE: &str = "copilot-home";

/// The state directory of the session whose directory is `scratch`.
fn session_home(scratch: &Path) -> Option<PathBuf> {
    std::fs::read_to_string(scratch.join(HOME_FILE))
        .ok()
        .map(|t| PathBuf::from(t.trim_end_matches('\n')))
        .filter(|p| p.is_absolute())
        .or_else(|| copilot_home(&BTreeMap::new()))
}

/// Where session `id` logs its events under the state directory `home`.
fn events_path(home: &Path, id: &str) -> Option<PathBuf> {
    // The id is ao's own uuid or one read from the CLI: never a path.
    if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
        return None;
    }
    Some(home.join("session-state").join(id).join("events.jsonl"))
}

/// The event log of the session `ctx` reads.
fn log_of(ctx: &ActivityContext) -> Option<PathBuf> {
    events_path(
        &session_home(&ctx.scratch_dir)?,
        ctx.agent_session_id.as_deref()?,
    )
}

/// The events of the log's last `TAIL_BYTES`, in order (all of them with `whole`).
fn events(path: &Path, whole: bool) -> Vec<Value> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = if whole {
        0
    } else {
        len.saturating_sub(TAIL_BYTES)
    };
    let mut text = String::new();
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    text.push_str(&String::from_utf8_lossy(&bytes));
    // A read from the middle starts inside a line: skip it.
    let body = if start > 0 {
        text.split_once('\n').map(|(_, rest)| rest).unwrap_or("")
    } else {
        &text
    };
    body.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// What the events say the CLI is doing, and since when; `None` before the first
/// prompt (the CLI may be showing a dialog).
fn state(events: &[Value]) -> Option<(Activity, Option<String>, Option<i64>)> {
    let mut pending: Vec<&Value> = Vec::new();
    let mut activity = None;
    let mut refused: Option<String> = None;
    let mut at = None;
    let mut last_tools = false;
    for e in events {
        let data = &e["data"];
        let next = match e["type"].as_str().unwrap_or_default() {
            "user.message" | "assistant.turn_start" | "tool.execution_start" => {
                Some(Activity::Active)
            }
            "assistant.message" => {
                last_tools = data["toolRequests"]
                    .as_array()
                    .is_some_and(|t| !t.is_empty());
                Some(Activity::Active)
            }
            "permission.requested" => {
                pending.push(data);
                Some(Activity::WaitingInput)
            }
            "permission.completed" => {
                pending.retain(|p| p["requestId"] != data["requestId"]);
                Some(Activity::Active)
            }
            // Its provider refused for a usage or rate limit: the turn is over.
            "session.error" if data["errorType"] == "rate_limit" || data["statusCode"] == 429 => {
                refused = Some(
                    data["message"]
                        .as_str()
                        .unwrap_or("the provider's usage limit")
                        .to_owned(),
                );
                Some(Activity::Limited)
            }
            "assistant.turn_end" if !last_tools => Some(Activity::Ready),
            "assistant.turn_end" => Some(Activity::Active),
            "abort" => Some(Activity::Ready),
            _ => None,
        };
        if let Some(next) = next {
            activity = Some(next);
            at = e["timestamp"]
                .as_str()
                .and_then(ao_core::model::time::parse_rfc3339);
        }
    }
    if let Some(asked) = pending.last() {
        return Some((Activity::WaitingInput, Some(question(asked)), at));
    }
    if activity == Some(Activity::Limited) {
        return Some((Activity::Limited, refused, at));
    }
    // A permission answered, then nothing yet: the tool runs.
    let activity = activity.map(|a| {
        if a == Activity::WaitingInput {
            Activity::Active
        } else {
            a
        }
    })?;
    Some((activity, None, at))
}

/// The permission a pending request asks for, as `ao status` shows it.
fn question(data: &Value) -> String {
    let request = &data["permissionRequest"];
    if let Some(command) = request["fullCommandText"].as_str() {
        return format!("asks permission to run: {command}");
    }
    let what = ["fileName", "path", "url", "intention"]
        .iter()
        .find_map(|k| request[*k].as_str());
    match (request["kind"].as_str(), what) {
        (Some(kind), Some(what)) => format!("asks permission ({kind}): {what}"),
        (Some(kind), None) => format!("asks permission ({kind})"),
        _ => "asks permission".to_owned(),
    }
}

/// What a dialog on the screen asks, if one is showing.
fn dialog(screen: &str) -> Option<String> {
    const QUESTIONS: &[&[&str]] = &[
        &["Do you trust the files in this folder?"],
        &["Do you want to run this command?"],
        &["Do you want to"],
    ];
    QUESTIONS.iter().find_map(|q| screen_line(screen, q))
}

#[async_trait]
impl Agent for Copilot {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        let id = super::new_uuid();
        let mut argv = vec![Self::program(), format!("--session-id={id}")];
        if !ctx.prompt.is_empty() {
            // One argument with `=`, so a task that starts with `-` is not an option.
            argv.push(format!("--interactive={}", ctx.prompt));
        }
        Self::spec(ctx, argv, &id)
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        // Its launcher is a Node.js script that keeps node's process name.
        super::process_names(config, &[CLI.program, "node"])
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        let screen = ctx.recent_output.as_deref().unwrap_or_default();
        let read = log_of(ctx).and_then(|p| state(&events(&p, false)));
        match read {
            Some((Activity::Limited, detail, _)) => Ok(super::limited(
                ActivitySource::SessionLog,
                detail.unwrap_or_default(),
                None,
            )),
            Some((activity, detail, at)) => {
                let activity = match activity {
                    Activity::Ready
                        if at.is_some_and(|t| ctx.now - t >= ctx.idle_after_ms as i64) =>
                    {
                        Activity::Idle
                    }
                    a => a,
                };
                Ok(ActivityReport {
                    activity,
                    source: ActivitySource::SessionLog,
                    last_at: at,
                    detail,
                    resets_at: None,
                    choices: Vec::new(),
                })
            }
            None => Ok(match dialog(screen) {
                Some(question) => from_terminal(Activity::WaitingInput, Some(question)),
                None => from_terminal(Activity::Active, None),
            }),
        }
    }

    fn confirms_start(&self) -> bool {
        true
    }

    fn confirms_delivery(&self) -> bool {
        true
    }

    fn wants_terminal(&self, ctx: &ActivityContext) -> bool {
        log_of(ctx)
            .and_then(|p| state(&events(&p, false)))
            .is_none()
    }

    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        let id = ctx.agent_session_id.clone();
        let list = log_of(ctx).map(|p| events(&p, true)).unwrap_or_default();
        let summary = list
            .iter()
            .find(|e| e["type"] == "user.message")
            .and_then(|e| e["data"]["content"].as_str())
            .and_then(|t| t.lines().next())
            .map(|l| l.chars().take(80).collect());
        let usage: Vec<&Value> = list
            .iter()
            .filter(|e| e["type"] == "session.usage_record")
            .map(|e| &e["data"]["usage"])
            .collect();
        let tokens: u64 = usage
            .iter()
            .map(|u| {
                u["inputTokens"].as_u64().unwrap_or(0) + u["outputTokens"].as_u64().unwrap_or(0)
            })
            .sum();
        let cost: f64 = usage.iter().filter_map(|u| u["cost"].as_f64()).sum();
        Ok(AgentSessionInfo {
            agent_session_id: id,
            summary,
            tokens: (tokens > 0).then_some(tokens),
            cost_usd: (cost > 0.0).then_some(cost),
        })
    }

    fn restore(&self, ctx: &LaunchContext, agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        let id = agent_session_id?;
        let argv = vec![Self::program(), format!("--resume={id}")];
        Self::spec(ctx, argv, id).ok()
    }
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Agent>, PluginError> {
    Ok(Arc::new(Copilot))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::agent(NAME, CLI, "", Factory::Agent(Arc::new(build)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(kind: &str, data: Value) -> Value {
        json!({"type": kind, "data": data, "timestamp": "2026-12-01T19:10:36.436Z"})
    }

    #[test]
    fn a_turn_reads_active_then_waiting_then_ready() {
        let mut log = vec![ev("session.start", json!({}))];
        assert_eq!(
            state(&log),
            None,
            "before the first prompt the screen tells"
        );
        log.push(ev("user.message", json!({"content": "Write it"})));
        log.push(ev(
            "assistant.message",
            json!({"toolRequests": [{"name": "bash"}]}),
        ));
        log.push(ev(
            "permission.requested",
            json!({"requestId": "r1", "permissionRequest": {"kind": "shell", "fullCommandText": "echo hi > out.txt"}}),
        ));
        let (a, detail, at) = state(&log).unwrap();
        assert_eq!(a, Activity::WaitingInput);
        assert_eq!(
            detail.as_deref(),
            Some("asks permission to run: echo hi > out.txt")
        );
        assert!(at.is_some());
        log.push(ev("permission.completed", json!({"requestId": "r1"})));
        assert_eq!(state(&log).unwrap().0, Activity::Active);
        // The turn that asked for a tool ends, and the next one starts.
        log.push(ev("assistant.turn_end", json!({})));
        assert_eq!(state(&log).unwrap().0, Activity::Active);
        log.push(ev("assistant.turn_start", json!({})));
        log.push(ev("assistant.message", json!({"toolRequests": []})));
        log.push(ev("assistant.turn_end", json!({})));
        assert_eq!(state(&log).unwrap().0, Activity::Ready);
    }

    #[test]
    fn a_refusal_for_a_limit_reads_limited_until_the_next_prompt() {
        let mut log = vec![
            ev("user.message", json!({"content": "Say hi"})),
            ev("assistant.turn_start", json!({})),
            ev("assistant.turn_end", json!({})),
            ev(
                "session.error",
                json!({"errorType": "rate_limit", "statusCode": 429, "message": "429 The usage limit has been reached"}),
            ),
        ];
        let (a, detail, _) = state(&log).unwrap();
        assert_eq!(a, Activity::Limited);
        assert_eq!(
            detail.as_deref(),
            Some("429 The usage limit has been reached")
        );
        log.push(ev("user.message", json!({"content": "again"})));
        assert_eq!(state(&log).unwrap().0, Activity::Active);
    }

    #[test]
    fn an_id_that_is_a_path_names_no_log() {
        let home = Path::new("/c");
        assert_eq!(
            events_path(home, "abc"),
            Some(PathBuf::from("/c/session-state/abc/events.jsonl"))
        );
        assert_eq!(events_path(home, "../x"), None);
        assert_eq!(events_path(home, "a/b"), None);
    }
}
