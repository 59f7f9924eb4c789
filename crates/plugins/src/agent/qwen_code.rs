//! The `qwen-code` agent: Qwen Code (`qwen`, npm `@qwen-code/qwen-code`).
//!
//! - Launch: the interactive CLI with the task as its first prompt
//!   (`--prompt-interactive=TASK`), a session id chosen by ao (`--session-id`), the
//!   project's permission mode as `--approval-mode`, and the model. Its endpoint and key
//!   come from the environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `OPENAI_MODEL`), never
//!   the command line. ao's hooks come from a settings file in the session's own directory
//!   under `$AO_HOME`, read as the CLI's "system defaults"
//!   (`QWEN_CODE_SYSTEM_DEFAULTS_PATH`), whose hooks are added to the user's own; it also
//!   turns off the follow-up suggestions no one reads in an ao session (the user's own
//!   settings still win). The project's rules reach the model as a `SessionStart` hook's
//!   `additionalContext`.
//!   Nothing is written in the user's repository.
//! - Activity: its hooks take Claude Code's events and input, and call `ao hook qwen-code
//!   EVENT`; before the first one, its transcript
//!   (`~/.qwen/projects/<cwd>/chats/<id>.jsonl`), then the terminal, tell.
//! - Restore: `qwen --resume ID`.

use super::{from_terminal, hook_settings, model_args, rules_hook_output, screen_line, write_file};
use ao_core::config::{AgentConfig, Permission};
use ao_core::model::{Activity, Timestamp};
use ao_core::plugin::{
    ActivityContext, ActivityReport, Agent, AgentSessionInfo, LaunchContext, LaunchSpec,
    PluginError, PromptDelivery,
};
use ao_core::registry::{AgentCli, Factory, PluginEntry, SectionRef};
use ao_core::store::AgentReport;
use async_trait::async_trait;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const NAME: &str = "qwen-code";

/// The CLI this agent runs, described once: its registry entry carries it.
pub const CLI: AgentCli = AgentCli {
    name: "Qwen Code",
    program: "qwen",
    install: "npm install -g @qwen-code/qwen-code",
};

/// The hook events ao listens to (Claude Code's names).
const EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "SessionEnd",
];

/// The variable naming the settings file the CLI reads below all others.
const DEFAULTS_ENV: &str = "QWEN_CODE_SYSTEM_DEFAULTS_PATH";

/// Qwen Code.
#[derive(Debug, Default)]
pub struct QwenCode;

impl QwenCode {
    fn program() -> String {
        CLI.program.into()
    }

    fn spec(
        ctx: &LaunchContext,
        mut argv: Vec<String>,
        id: &str,
    ) -> Result<LaunchSpec, PluginError> {
        let settings = ctx.scratch_dir.join("qwen-settings.json");
        let rules_file = ctx.scratch_dir.join("qwen-rules.json");
        let rules = ctx.rules.as_deref().filter(|r| !r.trim().is_empty());
        if let Some(rules) = rules {
            write_file(NAME, &rules_file, &rules_hook_output(rules))?;
        }
        let mut defaults = hook_settings(
            &ctx.hook_command,
            EVENTS,
            10,
            rules.map(|_| rules_file.as_path()),
        );
        // No one reads the next-prompt guesses it would otherwise ask the model for after
        // every turn (the user's own settings still decide, being above these).
        defaults["ui"] = serde_json::json!({"enableFollowupSuggestions": false});
        write_file(NAME, &settings, &defaults.to_string())?;
        let mode = match ctx.permissions() {
            Permission::Permissionless => "yolo",
            Permission::AutoEdit => "auto-edit",
            Permission::Default => "default",
            Permission::Suggest => "plan",
        };
        argv.push(format!("--approval-mode={mode}"));
        argv.extend(model_args("--model", ctx.config.model.as_ref()));
        let mut env: std::collections::BTreeMap<String, String> =
            ctx.config.env.clone().into_iter().collect();
        env.insert(DEFAULTS_ENV.into(), settings.to_string_lossy().into_owned());
        Ok(LaunchSpec {
            argv,
            env,
            prompt: PromptDelivery::Inline,
            agent_session_id: Some(id.to_owned()),
        })
    }
}

/// Where Qwen Code keeps the transcript of session `id` run in `workspace`: its project
/// directory is the path with every character but letters and digits made `-`.
fn transcript_path(workspace: &Path, id: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let dir: String = workspace
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Some(
        PathBuf::from(home)
            .join(".qwen/projects")
            .join(dir)
            .join("chats")
            .join(format!("{id}.jsonl")),
    )
}

/// The transcript's user and assistant entries, in order.
fn entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|e| e["type"] == "user" || e["type"] == "assistant")
                .collect()
        })
        .unwrap_or_default()
}

/// What a dialog on the screen asks, if one is showing.
fn dialog(screen: &str) -> Option<String> {
    const QUESTIONS: &[&[&str]] = &[
        &["Do you trust this folder?"],
        &["Connect a Provider"],
        &[
            "Allow execution of",
            "Apply this change?",
            "Allow execution",
        ],
        &["Do you want to proceed?"],
    ];
    QUESTIONS.iter().find_map(|q| screen_line(screen, q))
}

/// Whether the screen shows the CLI at work.
fn working(screen: &str) -> bool {
    screen.contains("esc to cancel")
}

/// How ao reads the CLI's screen. A refused question needs no reading: its `Stop` hook
/// reports it.
const SIGNS: super::ScreenSigns = super::ScreenSigns {
    dialog,
    working,
    refused: |_| false,
};

#[async_trait]
impl Agent for QwenCode {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        let id = super::new_uuid();
        let mut argv = vec![Self::program(), "--session-id".into(), id.clone()];
        if !ctx.prompt.is_empty() {
            // One argument with `=`, so a task that starts with `-` is not an option.
            argv.push(format!("--prompt-interactive={}", ctx.prompt));
        }
        let mut spec = Self::spec(ctx, argv, &id)?;
        if !ctx.prompt.is_empty() {
            spec.env.insert(super::TASK_PENDING_ENV.into(), "1".into());
        }
        Ok(spec)
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        // A Node.js program that keeps node's process name.
        super::process_names(config, &[CLI.program, "node"])
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        let screen = ctx.recent_output.as_deref().unwrap_or_default();
        if let Some(r) = &ctx.report {
            return Ok(super::after_hook(r, ctx, &SIGNS));
        }
        if let Some(question) = dialog(screen) {
            return Ok(from_terminal(Activity::WaitingInput, Some(question)));
        }
        if let Some(last) = ctx
            .agent_session_id
            .as_deref()
            .and_then(|id| transcript_path(&ctx.workspace, id))
            .and_then(|p| entries(&p).pop())
        {
            let calls = last["message"]["parts"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["functionCall"].is_object()));
            let ended = last["type"] == "assistant" && !calls;
            return Ok(super::from_log(ended, last["timestamp"].as_str()));
        }
        Ok(super::from_screen(working(screen)))
    }

    fn confirms_start(&self) -> bool {
        true
    }

    fn confirms_delivery(&self) -> bool {
        true
    }

    fn wants_terminal(&self, ctx: &ActivityContext) -> bool {
        ctx.report
            .as_ref()
            .is_none_or(|r| matches!(r.activity, Activity::WaitingInput))
    }

    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        let id = ctx
            .agent_session_id
            .clone()
            .or_else(|| ctx.report.as_ref().and_then(|r| r.agent_session_id.clone()));
        let path = ctx
            .report
            .as_ref()
            .and_then(|r| r.log_path.clone())
            .map(PathBuf::from)
            .or_else(|| {
                id.as_deref()
                    .and_then(|i| transcript_path(&ctx.workspace, i))
            });
        let list = path.map(|p| entries(&p)).unwrap_or_default();
        let tokens: u64 = list
            .iter()
            .filter(|e| e["type"] == "assistant")
            .filter_map(|e| e["usageMetadata"]["totalTokenCount"].as_u64())
            .sum();
        let summary = list
            .iter()
            .filter(|e| e["type"] == "user" && e["provenance"] == "real_user")
            .find_map(|e| {
                let text: String = e["message"]["parts"]
                    .as_array()?
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect();
                (!text.is_empty()).then_some(text)
            })
            .map(|t| {
                t.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect()
            });
        Ok(AgentSessionInfo {
            agent_session_id: id,
            summary,
            tokens: (tokens > 0).then_some(tokens),
            cost_usd: None,
        })
    }

    fn restore(&self, ctx: &LaunchContext, agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        let id = agent_session_id?;
        let argv = vec![Self::program(), "--resume".into(), id.to_owned()];
        Self::spec(ctx, argv, id).ok()
    }

    fn hook_report(&self, args: &[String], stdin: &str, now: Timestamp) -> Option<AgentReport> {
        super::claude_code::hook_report(args, stdin, now)
    }
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Agent>, PluginError> {
    Ok(Arc::new(QwenCode))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::agent(NAME, CLI, "", Factory::Agent(Arc::new(build)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_hooks_read_as_claude_codes() {
        let a = QwenCode;
        let stdin = r#"{"session_id":"s-1","transcript_path":"/t.jsonl","hook_event_name":"PermissionRequest","tool_name":"run_shell_command","tool_input":{"command":"echo hello > out.txt"}}"#;
        let r = a
            .hook_report(&["PermissionRequest".into()], stdin, 7)
            .unwrap();
        assert_eq!(r.activity, Activity::WaitingInput);
        assert_eq!(
            r.detail.as_deref(),
            Some("asks permission to use run_shell_command: echo hello > out.txt")
        );
        let idle = a
            .hook_report(
                &["Notification".into()],
                r#"{"notification_type":"idle_prompt"}"#,
                9,
            )
            .unwrap();
        assert_eq!(idle.activity, Activity::Ready);
    }

    #[test]
    fn its_dialogs_are_questions() {
        let auth = "  │ Connect a Provider          │\n  │ › Alibaba ModelStudio │";
        assert_eq!(dialog(auth).as_deref(), Some("Connect a Provider"));
        let shell = "│ Allow execution of: 'echo hi'? │\n│ › 1. Allow once │";
        assert_eq!(
            dialog(shell).as_deref(),
            Some("Allow execution of: 'echo hi'?")
        );
        assert_eq!(dialog("  > Type your message or @path/to/file"), None);
    }

    #[test]
    fn the_transcript_lives_under_the_sanitized_path() {
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(
            transcript_path(Path::new("/tmp/gem/repo"), "abc").unwrap(),
            PathBuf::from(home).join(".qwen/projects/-tmp-gem-repo/chats/abc.jsonl")
        );
    }
}
