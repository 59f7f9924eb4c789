//! The `gemini` agent: Gemini CLI (`gemini`, npm `@google/gemini-cli`).
//!
//! - Launch: the interactive CLI with the task as its first prompt
//!   (`--prompt-interactive=TASK`), a session id chosen by ao (`--session-id`), the
//!   project's permission mode as `--approval-mode`, the model, and `--skip-trust` (the
//!   session's own worktree trusted for that session only). ao's hooks come from a
//!   settings file in the session's own directory under `$AO_HOME`, read as the CLI's
//!   "system defaults" (`GEMINI_CLI_SYSTEM_DEFAULTS_PATH`): the lowest of its settings
//!   layers, whose hooks are added to the user's own. The project's rules reach the model
//!   through the CLI's own context mechanism: a `SessionStart` hook whose output carries
//!   them as `additionalContext`. Nothing is written in the user's repository.
//! - Activity: the hooks call `ao hook gemini EVENT` with the event on standard input;
//!   until the first one (first-run dialogs) the session file
//!   (`~/.gemini/tmp/<project>/chats/session-*.jsonl`), then the terminal, tell.
//! - Restore: `gemini --resume ID`.

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

const NAME: &str = "gemini";

/// The CLI this agent runs, described once: its registry entry carries it.
pub const CLI: AgentCli = AgentCli {
    name: "Gemini CLI",
    program: "gemini",
    install: "npm install -g @google/gemini-cli",
};

/// The hook events ao listens to.
const EVENTS: &[&str] = &[
    "SessionStart",
    "BeforeAgent",
    "BeforeTool",
    "AfterTool",
    "Notification",
    "AfterAgent",
    "SessionEnd",
];

/// The variable naming the settings file the CLI reads below all others.
const DEFAULTS_ENV: &str = "GEMINI_CLI_SYSTEM_DEFAULTS_PATH";

/// Environment variables to add to the agent's.
type Env = Vec<(String, String)>;

/// Gemini CLI.
#[derive(Debug, Default)]
pub struct Gemini;

impl Gemini {
    fn program() -> String {
        CLI.program.into()
    }

    /// The flags every start and resume share (permissions, model), and the environment
    /// that installs ao's hooks and the rules.
    fn common(ctx: &LaunchContext) -> Result<(Vec<String>, Env), PluginError> {
        let settings = ctx.scratch_dir.join("gemini-settings.json");
        if let Some(dir) = open_to_others(&settings) {
            return Err(PluginError::Refused {
                plugin: NAME.into(),
                message: format!(
                    "Gemini CLI ignores a settings file under a directory other users can write to ({}), so ao's hooks and the project's rules would not reach it; keep ao's home ({}) in a private directory (AO_HOME)",
                    dir.display(),
                    ctx.scratch_dir.display()
                ),
            });
        }
        let rules_file = ctx.scratch_dir.join("gemini-rules.json");
        let rules = ctx.rules.as_deref().filter(|r| !r.trim().is_empty());
        if let Some(rules) = rules {
            write_file(NAME, &rules_file, &rules_hook_output(rules))?;
        }
        // Its hook timeouts are in milliseconds.
        let hooks = hook_settings(
            &ctx.hook_command,
            EVENTS,
            10_000,
            rules.map(|_| rules_file.as_path()),
        );
        write_file(NAME, &settings, &hooks.to_string())?;
        // The session's own worktree is trusted for this session only (nothing is
        // written to the user's list of trusted folders). Answering the CLI's trust
        // dialog instead restarts it with the same arguments: the task runs again, and
        // the session id it was given is refused as taken.
        let mut args = vec!["--skip-trust".to_owned()];
        let mode = match ctx.permissions() {
            Permission::Permissionless => "yolo",
            Permission::AutoEdit => "auto_edit",
            Permission::Default => "default",
            Permission::Suggest => "plan",
        };
        args.push(format!("--approval-mode={mode}"));
        args.extend(model_args("--model", ctx.config.model.as_ref()));
        let env = vec![(
            DEFAULTS_ENV.to_owned(),
            settings.to_string_lossy().into_owned(),
        )];
        Ok((args, env))
    }

    fn spec(
        ctx: &LaunchContext,
        mut argv: Vec<String>,
        id: &str,
    ) -> Result<LaunchSpec, PluginError> {
        let (args, env) = Self::common(ctx)?;
        argv.extend(args);
        let mut all: std::collections::BTreeMap<String, String> =
            ctx.config.env.clone().into_iter().collect();
        all.extend(env);
        Ok(LaunchSpec {
            argv,
            env: all,
            prompt: PromptDelivery::Inline,
            agent_session_id: Some(id.to_owned()),
        })
    }
}

/// The first directory holding `file` (or above it) that users other than its owner may
/// write to, which the CLI refuses to read settings under.
fn open_to_others(file: &Path) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mut dir = file.parent();
        while let Some(d) = dir {
            if let Ok(m) = std::fs::metadata(d)
                && m.mode() & 0o022 != 0
            {
                return Some(d.to_owned());
            }
            dir = d.parent();
        }
        None
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
}

/// The session file of session `id`: the newest `session-*-<first 8 of id>.jsonl` under
/// `~/.gemini/tmp/*/chats/` whose first line names it (a resumed session starts a new
/// file holding the whole conversation).
fn session_file(id: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let short: String = id.chars().take(8).collect();
    let suffix = format!("-{short}.jsonl");
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    let projects = std::fs::read_dir(PathBuf::from(home).join(".gemini/tmp")).ok()?;
    for project in projects.flatten() {
        let Ok(chats) = std::fs::read_dir(project.path().join("chats")) else {
            continue;
        };
        for f in chats.flatten() {
            let path = f.path();
            let name = f.file_name().to_string_lossy().into_owned();
            if !name.starts_with("session-") || !name.ends_with(&suffix) {
                continue;
            }
            let Ok(modified) = f.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            if newest.as_ref().is_some_and(|(t, _)| *t >= modified) {
                continue;
            }
            let first = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.lines().next().map(str::to_owned))
                .and_then(|l| serde_json::from_str::<Value>(&l).ok());
            if first.is_some_and(|v| v["sessionId"] == id) {
                newest = Some((modified, path));
            }
        }
    }
    newest.map(|(_, p)| p)
}

/// The conversation's messages, in order, each once (the file appends a message again
/// when it grows, e.g. by its tool calls).
fn messages(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut out: Vec<Value> = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let mut add = |m: &Value| {
            if !matches!(m["type"].as_str(), Some("user" | "gemini")) {
                return;
            }
            match out.iter_mut().find(|o| o["id"] == m["id"]) {
                Some(o) => *o = m.clone(),
                None => out.push(m.clone()),
            }
        };
        if let Some(list) = v["$set"]["messages"].as_array() {
            list.iter().for_each(&mut add);
        } else {
            add(&v);
        }
    }
    out
}

/// The text of a user message (its parts' texts), if it is one the user typed.
fn user_text(m: &Value) -> Option<String> {
    let text: String = m["content"]
        .as_array()?
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect();
    // The CLI's own context and the hooks' (ao's rules) come as user messages too.
    (!text.is_empty()
        && !text.starts_with("<session_context>")
        && !text.starts_with("<hook_context>"))
    .then_some(text)
}

/// What a dialog on the screen asks, if one is showing.
fn dialog(screen: &str) -> Option<String> {
    const QUESTIONS: &[&[&str]] = &[
        &[
            "Allow execution of",
            "Apply this change?",
            "Allow execution",
        ],
        &["Do you want to proceed?"],
    ];
    first_run_dialog(screen).or_else(|| QUESTIONS.iter().find_map(|q| screen_line(screen, q)))
}

/// A question the CLI asks before it works at all (trust, how to sign in), its line.
/// No hook tells of it, and its `SessionStart` hook can run before it is drawn.
fn first_run_dialog(screen: &str) -> Option<String> {
    const QUESTIONS: &[&[&str]] = &[
        &[
            "Do you trust the files in this folder?",
            "Do you trust the following folders",
        ],
        &["How would you like to authenticate"],
        &["Enter Gemini API Key"],
    ];
    QUESTIONS.iter().find_map(|q| screen_line(screen, q))
}

/// The usage limit the CLI stopped on, when its dialog shows: what it says, and when
/// access comes back ("Access resets at 8:53 PM UTC.").
fn usage_limit(screen: &str, now: Timestamp) -> Option<(String, Option<Timestamp>)> {
    let line = screen_line(screen, &["Usage limit reached"])?;
    let resets = screen.lines().find_map(|l| {
        let rest = l.split("Access resets at ").nth(1)?;
        let clock = rest.trim_end_matches(|c: char| c == '│' || c == '.' || c.is_whitespace());
        super::next_clock_time(clock, now)
    });
    Some((line, resets))
}

/// Whether the screen shows the CLI at work.
fn working(screen: &str) -> bool {
    screen.contains("esc to cancel")
}

/// Whether the CLI's last turn ended on a refused question (or another cancel): its
/// "Request cancelled." below the last message typed to it, which the screen echoes as
/// a line starting with `> `. One above it belongs to an earlier turn.
fn refused(screen: &str) -> bool {
    let lines: Vec<&str> = screen.lines().collect();
    let cancelled = lines.iter().rposition(|l| l.contains("Request cancelled."));
    let typed = lines.iter().rposition(|l| l.starts_with("> "));
    match (cancelled, typed) {
        (Some(c), Some(t)) => c > t,
        (cancelled, _) => cancelled.is_some(),
    }
}

/// How ao reads the CLI's screen.
const SIGNS: super::ScreenSigns = super::ScreenSigns {
    dialog,
    working,
    refused,
};

#[async_trait]
impl Agent for Gemini {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        let id = super::new_uuid();
        super::note_task(NAME, &ctx.scratch_dir, &ctx.prompt)?;
        let mut argv = vec![Self::program(), "--session-id".into(), id.clone()];
        if !ctx.prompt.is_empty() {
            // One argument with `=`, so a task that starts with `-` is not an option.
            argv.push(format!("--prompt-interactive={}", ctx.prompt));
        }
        let mut spec = Self::spec(ctx, argv, &id)?;
        if !ctx.prompt.is_empty() {
            // Its hooks learn that the session starts on a task, so the start itself is
            // not read as a finished turn.
            spec.env.insert(super::TASK_PENDING_ENV.into(), "1".into());
        }
        Ok(spec)
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        // The CLI is a Node.js program that keeps node's process name.
        super::process_names(config, &[CLI.program, "node"])
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        let screen = ctx.recent_output.as_deref().unwrap_or_default();
        // Refused for its quota, the CLI stops mid-turn on a dialog that says until when.
        if let Some((line, resets)) = usage_limit(screen, ctx.now) {
            return Ok(super::limited(
                ao_core::plugin::ActivitySource::Terminal,
                line,
                resets,
            ));
        }
        if let Some(r) = &ctx.report {
            // Its start hook said it is about to work, and then, before any turn, it
            // asked how to sign in (or to trust the folder): it waits on that question.
            // (Later, such words on the screen are a turn's text, not a question.)
            if r.activity == Activity::Active
                && !working(screen)
                && let Some(question) = first_run_dialog(screen)
                && ctx
                    .agent_session_id
                    .as_deref()
                    .and_then(session_file)
                    .is_none_or(|p| messages(&p).is_empty())
            {
                return Ok(from_terminal(Activity::WaitingInput, Some(question)));
            }
            return Ok(super::after_hook(r, ctx, &SIGNS));
        }
        // No hook yet: a first-run dialog, or hooks that did not load.
        if let Some(question) = dialog(screen) {
            return Ok(from_terminal(Activity::WaitingInput, Some(question)));
        }
        if let Some(last) = ctx
            .agent_session_id
            .as_deref()
            .and_then(session_file)
            .and_then(|p| messages(&p).pop())
        {
            let ended = last["type"] == "gemini"
                && last["toolCalls"].as_array().is_none_or(|c| c.is_empty());
            return Ok(super::from_log(ended, last["timestamp"].as_str()));
        }
        let activity = super::screen_alone(working(screen), super::started_on_task(ctx));
        Ok(from_terminal(activity, None))
    }

    fn confirms_start(&self) -> bool {
        true
    }

    fn confirms_delivery(&self) -> bool {
        true
    }

    fn wants_terminal(&self, ctx: &ActivityContext) -> bool {
        // A turn in progress may be one its quota stopped: only the screen says so.
        ctx.report
            .as_ref()
            .is_none_or(|r| matches!(r.activity, Activity::WaitingInput | Activity::Active))
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
            .filter(|p| p.exists())
            .or_else(|| id.as_deref().and_then(session_file));
        let list = path.map(|p| messages(&p)).unwrap_or_default();
        let tokens: u64 = list
            .iter()
            .filter(|m| m["type"] == "gemini")
            .filter_map(|m| m["tokens"]["total"].as_u64())
            .sum();
        let summary = list
            .iter()
            .filter(|m| m["type"] == "user")
            .find_map(user_text)
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
        // Resumed, it starts on no task.
        if let Err(e) = super::note_task(NAME, &ctx.scratch_dir, "") {
            tracing::warn!("{e}");
        }
        let argv = vec![Self::program(), "--resume".into(), id.to_owned()];
        Self::spec(ctx, argv, id).ok()
    }

    fn hook_report(&self, args: &[String], stdin: &str, now: Timestamp) -> Option<AgentReport> {
        let (event, payload) = super::hook_event(args, stdin)?;
        let (activity, detail) = match event.as_str() {
            // A session that starts on a task given on the command line has not done it
            // yet: it is about to work, not waiting. Resumed or taskless, it waits.
            "SessionStart" if super::starts_on_task(&payload) => (Activity::Active, None),
            "SessionStart" | "AfterAgent" => (Activity::Ready, None),
            "BeforeAgent" | "BeforeTool" | "AfterTool" => (Activity::Active, None),
            "Notification" if payload["notification_type"] == "ToolPermission" => {
                let details = &payload["details"];
                let what = details["command"]
                    .as_str()
                    .or_else(|| details["fileName"].as_str())
                    .or_else(|| details["filePath"].as_str())
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                let title = details["title"]
                    .as_str()
                    .or_else(|| payload["message"].as_str())
                    .unwrap_or("a tool");
                (
                    Activity::WaitingInput,
                    Some(format!("asks permission ({title}){what}")),
                )
            }
            "SessionEnd" => (Activity::Exited, None),
            _ => return None,
        };
        Some(AgentReport {
            activity,
            detail,
            at: now,
            agent_session_id: payload["session_id"].as_str().map(str::to_owned),
            log_path: payload["transcript_path"].as_str().map(str::to_owned),
        })
    }

    fn diagnose(&self, output: &str, _config: &AgentConfig) -> Option<String> {
        if output.contains("Skipping system defaults file") {
            return Some(
                "Gemini CLI skipped ao's settings file because a directory above it is writable by other users; keep ao's home (AO_HOME) in a private directory"
                    .into(),
            );
        }
        if output.contains("API key not valid") {
            return Some(
                "Gemini CLI's API key was refused: set GEMINI_API_KEY in agentConfig.env (or your environment)"
                    .into(),
            );
        }
        None
    }
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Agent>, PluginError> {
    Ok(Arc::new(Gemini))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::agent(NAME, CLI, "", Factory::Agent(Arc::new(build)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_quota_dialog_reads_as_a_limit_until_the_time_it_names() {
        let screen = "│ Usage limit reached for all Pro models.           │\n│ Access resets at 8:53 PM UTC.                     │\n│ ● 1. Keep trying │";
        // 2026-12-01 19:53:00 UTC.
        let now = 1_796_154_780_000;
        let (line, resets) = usage_limit(screen, now).unwrap();
        assert_eq!(line, "Usage limit reached for all Pro models.");
        assert_eq!(resets, Some(now + 3600 * 1000));
        assert_eq!(usage_limit("> Say hi", now), None);
    }

    /// "8:53 PM UTC" is 20:53 UTC whatever the user's time zone.
    #[test]
    fn its_quota_dialog_in_utc_is_read_as_utc_outside_utc() {
        use crate::agent::limit_tests::{UTC_PLUS_6, in_time_zone};
        if !in_time_zone(
            "agent::gemini::tests::its_quota_dialog_in_utc_is_read_as_utc_outside_utc",
            UTC_PLUS_6,
        ) {
            return;
        }
        let screen = "│ Usage limit reached for all Pro models.           │\n│ Access resets at 8:53 PM UTC.                     │\n│ ● 1. Keep trying │";
        // 2026-12-01 19:53:00 UTC, 01:53 the next day at UTC+6.
        let now = 1_796_154_780_000;
        let (_, resets) = usage_limit(screen, now).unwrap();
        assert_eq!(resets, Some(now + 3600 * 1000), "20:53 UTC, an hour on");
    }

    #[test]
    fn hook_events_become_reports() {
        let a = Gemini;
        let stdin = r#"{"session_id":"s-1","transcript_path":"/t.jsonl","hook_event_name":"Notification","notification_type":"ToolPermission","message":"Tool Confirm Shell Command requires execution","details":{"type":"exec","title":"Confirm Shell Command","command":"echo hello > out.txt"}}"#;
        let r = a.hook_report(&["Notification".into()], stdin, 7).unwrap();
        assert_eq!(r.activity, Activity::WaitingInput);
        assert_eq!(
            r.detail.as_deref(),
            Some("asks permission (Confirm Shell Command): echo hello > out.txt")
        );
        assert_eq!(r.agent_session_id.as_deref(), Some("s-1"));
        assert_eq!(r.log_path.as_deref(), Some("/t.jsonl"));
        let done = a.hook_report(&["AfterAgent".into()], "{}", 9).unwrap();
        assert_eq!(done.activity, Activity::Ready);
        assert!(a.hook_report(&["PreCompress".into()], "{}", 9).is_none());
    }

    /// The CLI's screen (0.61) between its permission hook and the question's dialog:
    /// the command's box drawn as pending, no question yet.
    const NOT_DRAWN: &str = "> Write the file
╭──────────────────────────────────╮
│ o  Shell echo hello > out.txt    │
│                                  │
╰──────────────────────────────────╯
 ⠴ Executing Hooks: ao hook gemini SessionStart (1/2)
                                       ? for shortcuts
────────────────────────────────────
 Shift+Tab to accept edits
────────────────────────────────────
 >   Type your message or @path/to/file
────────────────────────────────────
 workspace (/directory)      branch
";

    /// The question drawn.
    const ASKING: &str = "> Write the file
╭──────────────────────────────────╮
│ ? Shell  echo hello > out.txt    │
│ Allow execution of [Shell]?      │
│ ● 1. Allow once                  │
│   3. No, suggest changes (esc)   │
╰──────────────────────────────────╯
";

    /// The question refused (Esc): no hook follows.
    const REFUSED: &str = "> Write the file
╭──────────────────────────────────╮
│ -  Shell echo hello > out.txt    │
╰──────────────────────────────────╯
ℹ Request cancelled.
                                       ? for shortcuts
 >   Type your message or @path/to/file
";

    /// A later turn's question not drawn yet, below an earlier refusal.
    const NOT_DRAWN_AFTER_A_REFUSAL: &str = "> Write the file
│ -  Shell echo hello > out.txt    │
ℹ Request cancelled.
> Try again
│ o  Shell echo hello > out.txt    │
 >   Type your message or @path/to/file
";

    /// Its start hook, on a task, can run before it asks how to sign in: the question
    /// on the screen stands over the hook's "about to work".
    #[tokio::test]
    async fn a_sign_in_question_after_the_start_hook_waits_for_the_human() {
        // What its `SessionStart` hook reports when the CLI starts on a task.
        let started = AgentReport {
            activity: Activity::Active,
            detail: None,
            at: 999_000,
            agent_session_id: Some("s-1".into()),
            log_path: None,
        };
        let screen = "│ ? Get started                                  │
│   How would you like to authenticate for this project?   │
│     1. Sign in with Google                     │
│   ● 2. Use Gemini API Key                      │
│   (Use Enter to select)                        │
";
        let ctx = crate::agent::test_context(Path::new("/nowhere"), Some(started), screen);
        let r = Gemini.activity(&ctx).await.unwrap();
        assert_eq!(
            (r.activity, r.detail.as_deref()),
            (
                Activity::WaitingInput,
                Some("How would you like to authenticate for this project?")
            )
        );
    }

    #[tokio::test]
    async fn a_question_its_hook_reported_stands_until_the_screen_shows_it_answered() {
        let question = Gemini
            .hook_report(
                &["Notification".into()],
                r#"{"notification_type":"ToolPermission","details":{"title":"Confirm Shell Command","command":"echo hello > out.txt"}}"#,
                999_000,
            )
            .unwrap();
        let asks = (
            Activity::WaitingInput,
            Some("asks permission (Confirm Shell Command): echo hello > out.txt".to_owned()),
        );
        let cases = [
            // The hook runs before the CLI draws its question.
            (NOT_DRAWN, asks.clone()),
            (NOT_DRAWN_AFTER_A_REFUSAL, asks.clone()),
            (ASKING, asks.clone()),
            (REFUSED, (Activity::Ready, None)),
            (
                "> Write the file\n ⠏ Running (esc to cancel, 2s)\n",
                (Activity::Active, None),
            ),
        ];
        for (screen, want) in cases {
            let ctx =
                crate::agent::test_context(Path::new("/nowhere"), Some(question.clone()), screen);
            let r = Gemini.activity(&ctx).await.unwrap();
            assert_eq!((r.activity, r.detail), want, "{screen}");
        }
    }

    #[test]
    fn hooks_quote_ao_path_and_print_the_rules() {
        let v = hook_settings(
            &["/opt/my ao/ao".into(), "hook".into(), NAME.into()],
            EVENTS,
            10_000,
            Some(Path::new("/h/s/gemini rules.json")),
        );
        assert_eq!(
            v["hooks"]["AfterAgent"][0]["hooks"][0]["command"],
            "'/opt/my ao/ao' hook gemini AfterAgent"
        );
        assert_eq!(
            v["hooks"]["SessionStart"][1]["hooks"][0]["command"],
            "cat '/h/s/gemini rules.json'"
        );
    }

    #[test]
    fn a_session_file_reads_as_its_messages_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("session.jsonl");
        std::fs::write(
            &f,
            [
                r#"{"sessionId":"x","kind":"main"}"#,
                r#"{"$set":{"messages":[{"id":"c","type":"user","content":[{"text":"<session_context>..."}]}]}}"#,
                r#"{"id":"u1","timestamp":"2026-12-01T17:28:59.226Z","type":"user","content":[{"text":"Say what you see"}]}"#,
                r#"{"id":"g1","type":"gemini","content":"","tokens":{"total":150}}"#,
                r#"{"id":"g1","type":"gemini","content":"","tokens":{"total":150},"toolCalls":[{"name":"run_shell_command"}]}"#,
            ]
            .join("\n"),
        )
        .unwrap();
        let m = messages(&f);
        assert_eq!(m.len(), 3);
        assert_eq!(m[2]["toolCalls"][0]["name"], "run_shell_command");
        assert_eq!(user_text(&m[1]).as_deref(), Some("Say what you see"));
        assert_eq!(user_text(&m[0]), None);
    }
}
