//! The `claude-code` agent: Claude Code (`claude`).
//!
//! - Launch: the interactive CLI with the task as its first prompt (after `--`), a session
//!   id chosen by ao (`--session-id`), the project's permission mode, rules through
//!   `--append-system-prompt-file`, and ao's hooks through `--settings FILE`. Both files
//!   live in the session's own directory under `$AO_HOME`, never in the user's repository.
//! - Activity: the hooks call `ao hook claude-code EVENT` with the event on standard
//!   input; until the first one arrives (first-run dialogs) the transcript, then the
//!   terminal, tell.
//! - Restore: `claude --resume ID`.

use super::{from_report, from_terminal, hook_settings, model_args, screen_line, write_file};
use ao_core::config::{AgentConfig, Permission};
use ao_core::model::{Activity, Timestamp};
use ao_core::plugin::{
    ActivityContext, ActivityReport, ActivitySource, Agent, AgentSessionInfo, LaunchContext,
    LaunchSpec, PluginError, PromptDelivery,
};
use ao_core::registry::{AgentCli, Factory, PluginEntry, SectionRef};
use ao_core::store::AgentReport;
use async_trait::async_trait;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const NAME: &str = "claude-code";

/// The CLI this agent runs, described once: its registry entry carries it.
pub const CLI: AgentCli = AgentCli {
    name: "Claude Code",
    program: "claude",
    install: "npm install -g @anthropic-ai/claude-code",
};

/// The hook events ao listens to.
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

/// Claude Code.
#[derive(Debug, Default)]
pub struct ClaudeCode;

impl ClaudeCode {
    /// The CLI is found on PATH; `agentConfig.command` belongs to the `command` agent.
    fn program(_config: &AgentConfig) -> String {
        CLI.program.into()
    }

    /// The flags every start and resume share: hooks, permissions, model, rules.
    fn common_args(&self, ctx: &LaunchContext) -> Result<Vec<String>, PluginError> {
        let settings = ctx.scratch_dir.join("claude-settings.json");
        write_file(
            NAME,
            &settings,
            &hook_settings(&ctx.hook_command, EVENTS, 10, None).to_string(),
        )?;
        let mut args = vec!["--settings".into(), path_arg(&settings)];
        match ctx.permissions() {
            Permission::Permissionless => {
                args.push("--dangerously-skip-permissions".into());
                trust_folder(&ctx.workspace)?;
            }
            // Claude Code's own default no longer asks; `manual` is the mode that does.
            Permission::Default => args.extend(["--permission-mode".into(), "manual".into()]),
            Permission::AutoEdit => {
                args.extend(["--permission-mode".into(), "acceptEdits".into()]);
            }
            Permission::Suggest => args.extend(["--permission-mode".into(), "plan".into()]),
        }
        args.extend(model_args("--model", ctx.config.model.as_ref()));
        if let Some(rules) = &ctx.rules {
            let file = ctx.scratch_dir.join("rules.md");
            write_file(NAME, &file, rules)?;
            args.extend(["--append-system-prompt-file".into(), path_arg(&file)]);
        }
        Ok(args)
    }
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Marks the session's own worktree as trusted in `~/.claude.json`, where Claude Code
/// records the folders its user trusted, so a permissionless session does not stop at
/// the trust dialog. Nothing else in the file changes.
fn trust_folder(workspace: &Path) -> Result<(), PluginError> {
    let Some(home) = std::env::var_os("HOME") else {
        return Ok(());
    };
    let file = PathBuf::from(home).join(".claude.json");
    let mut config: Value = match std::fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            PluginError::failed(
                NAME,
                format!("{} is not valid JSON ({e}); left as it is", file.display()),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => {
            return Err(PluginError::failed(
                NAME,
                format!("cannot read {}: {e}", file.display()),
            ));
        }
    };
    let key = workspace.to_string_lossy().into_owned();
    let Some(root) = config.as_object_mut() else {
        return Ok(());
    };
    let projects = root.entry("projects").or_insert_with(|| json!({}));
    let Some(projects) = projects.as_object_mut() else {
        return Ok(());
    };
    let entry = projects.entry(key).or_insert_with(|| json!({}));
    if entry["hasTrustDialogAccepted"] == json!(true) {
        return Ok(());
    }
    if let Some(e) = entry.as_object_mut() {
        e.insert("hasTrustDialogAccepted".into(), json!(true));
    }
    // Written beside and renamed over, so a reader never sees half a file.
    let tmp = file.with_extension(format!("json.ao-{}", std::process::id()));
    let text = serde_json::to_string_pretty(&config).unwrap_or_default();
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &file))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            PluginError::failed(NAME, format!("cannot update {}: {e}", file.display()))
        })
}

/// Where Claude Code keeps a session's transcript.
fn transcript_path(workspace: &Path, session_id: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let dir: String = workspace
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Some(
        PathBuf::from(home)
            .join(".claude/projects")
            .join(dir)
            .join(format!("{session_id}.jsonl")),
    )
}

/// The id of the newest transcript Claude Code keeps for `workspace` (written since
/// `since`, when known): the session of an agent ao did not start itself (adopted by
/// `ao import`), whose id ao did not choose.
fn newest_transcript(workspace: &Path, since: Option<Timestamp>) -> Option<String> {
    let dir = transcript_path(workspace, "x")?.parent()?.to_owned();
    let mut newest: Option<(std::time::SystemTime, String)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        let at = modified
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        if since.is_some_and(|s| at < s) || newest.as_ref().is_some_and(|(t, _)| *t >= modified) {
            continue;
        }
        let stem = path.file_stem()?.to_string_lossy().into_owned();
        newest = Some((modified, stem));
    }
    newest.map(|(_, id)| id)
}

/// The transcript's entries (a bounded tail is enough for the last state; the whole file
/// for totals).
fn transcript(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The text of the transcript's last turn when it ended on a rate-limit API error
/// (`isApiErrorMessage`, `error: "rate_limit"`), read from the file's tail only.
fn rate_limit_turn(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))
        .ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    let tail = String::from_utf8_lossy(&tail);
    let last = tail
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "assistant" || e["type"] == "user")?;
    if last["type"] != "assistant"
        || last["isApiErrorMessage"] != true
        || last["error"] != "rate_limit"
    {
        return None;
    }
    Some(
        last["message"]["content"][0]["text"]
            .as_str()
            .unwrap_or("API Error: rate limit")
            .to_owned(),
    )
}

/// One call of a hook in Claude Code's shape (its events and their input, which Qwen Code
/// shares) as a report.
pub(crate) fn hook_report(args: &[String], stdin: &str, now: Timestamp) -> Option<AgentReport> {
    let (event, payload) = super::hook_event(args, stdin)?;
    let (activity, detail) = match event.as_str() {
        // A session that starts on a task given on the command line has not done it
        // yet: it is about to work, not waiting. Resumed or taskless, it waits.
        "SessionStart" if super::starts_on_task(&payload) => (Activity::Active, None),
        "SessionStart" | "Stop" => (Activity::Ready, None),
        "UserPromptSubmit" | "PreToolUse" | "PostToolUse" => (Activity::Active, None),
        "PermissionRequest" => {
            let tool = payload["tool_name"].as_str().unwrap_or("a tool");
            let what = payload["tool_input"]["command"]
                .as_str()
                .or_else(|| payload["tool_input"]["file_path"].as_str())
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            (
                Activity::WaitingInput,
                Some(format!("asks permission to use {tool}{what}")),
            )
        }
        "Notification" => match payload["notification_type"].as_str() {
            // A permission prompt is reported by PermissionRequest already; this
            // notification may come after the user answered.
            Some("elicitation_dialog") => (
                Activity::WaitingInput,
                payload["message"].as_str().map(str::to_owned),
            ),
            Some("idle_prompt") => (Activity::Ready, None),
            _ => return None,
        },
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

/// What a dialog on the screen asks, if one is showing.
fn dialog(screen: &str) -> Option<String> {
    const QUESTIONS: &[&[&str]] = &[
        &["one you trust", "trust the files in this folder"],
        &["Do you want to use this API key?"],
        &["Bypass Permissions mode"],
        &[
            "Do you want to proceed?",
            "Do you want to make this edit",
            "Do you want to",
        ],
        &["Select login method", "Choose the text style"],
    ];
    QUESTIONS.iter().find_map(|q| screen_line(screen, q))
}

/// Whether the screen shows Claude Code at work.
fn working(screen: &str) -> bool {
    screen.contains("esc to interrupt")
}

/// How long a screen with no question, no work and no refusal on it must rest, after a
/// permission question with no hook since, before the turn reads as over.
const ANSWERED_QUIET_MS: i64 = 5_000;

/// Whether the last turn ended refused or interrupted: its "What should Claude do
/// instead?" with no message typed to it since (a message sent shows above the input
/// box as `❯ text`; the input box's own line follows a rule).
fn refused(screen: &str) -> bool {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(cut) = lines
        .iter()
        .rposition(|l| l.contains("What should Claude do instead?"))
    else {
        return false;
    };
    !lines[cut + 1..].iter().enumerate().any(|(i, l)| {
        l.strip_prefix('❯')
            .is_some_and(|typed| !typed.trim().is_empty())
            && !lines[cut + i].starts_with('─')
    })
}

/// How ao reads the CLI's screen after its permission question.
const SIGNS: super::ScreenSigns = super::ScreenSigns {
    dialog,
    working,
    refused,
};

#[async_trait]
impl Agent for ClaudeCode {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        let id = super::new_uuid();
        let mut argv = vec![
            Self::program(&ctx.config),
            "--session-id".into(),
            id.clone(),
        ];
        argv.extend(self.common_args(ctx)?);
        let mut spec = super::inline_launch(argv, ctx, Some(id));
        if !ctx.prompt.is_empty() {
            // Its hooks learn that the session starts on a task, so the start itself is
            // not read as a finished turn.
            spec.env.insert(super::TASK_PENDING_ENV.into(), "1".into());
        }
        Ok(spec)
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        let program = Self::program(config);
        let base = Path::new(&program)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or(program);
        let mut names = vec![base.clone(), CLI.program.into()];
        if let Some(n) = &config.process_name {
            names.insert(0, n.clone());
        }
        names.dedup();
        names
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        let screen = ctx.recent_output.as_deref().unwrap_or_default();
        // Held by the usage limit: Claude Code waits (and retries) with its turn open,
        // so its hooks still say active.
        if let Some((line, resets)) = usage_limit(screen, ctx.now) {
            return Ok(super::limited(ActivitySource::Terminal, line, resets));
        }
        // Its retries given up, the turn ended on the limit: the transcript's last
        // entry is an API error whose error is a rate limit (it names no reset). No
        // hook follows such a turn, so the hooks' last word (active) does not count.
        let asking = ctx
            .report
            .as_ref()
            .is_some_and(|r| r.activity == Activity::WaitingInput);
        if !asking
            && let Some(path) = ctx
                .agent_session_id
                .as_deref()
                .or_else(|| {
                    ctx.report
                        .as_ref()
                        .and_then(|r| r.agent_session_id.as_deref())
                })
                .and_then(|id| transcript_path(&ctx.workspace, id))
            && let Some(text) = rate_limit_turn(&path)
        {
            return Ok(super::limited(ActivitySource::SessionLog, text, None));
        }
        if let Some(r) = &ctx.report {
            // A permission question and no hook since: the screen tells what became of
            // it. At work, let through; refused, the turn is over (no hook follows).
            // Otherwise the question stands: its menu not drawn yet, or let through and
            // the work not shown yet (the screen rests a moment first), until the screen
            // has rested for `ANSWERED_QUIET_MS` (a turn that ended with no hook).
            if r.activity == Activity::WaitingInput && ctx.recent_output.is_some() {
                if let Some(activity) = super::reported_question(screen, &SIGNS) {
                    return Ok(from_terminal(activity, None));
                }
                let quiet = ctx
                    .last_output_at
                    .is_some_and(|t| ctx.now - t >= ANSWERED_QUIET_MS);
                if quiet && dialog(screen).is_none() {
                    return Ok(from_terminal(Activity::Ready, None));
                }
                return Ok(from_report(r, ctx.idle_after_ms, ctx.now));
            }
            return Ok(from_report(r, ctx.idle_after_ms, ctx.now));
        }
        // No hook yet: a first-run dialog, or a CLI whose hooks are off.
        if let Some(question) = dialog(screen) {
            return Ok(from_terminal(Activity::WaitingInput, Some(question)));
        }
        if let Some(path) = ctx
            .agent_session_id
            .as_deref()
            .and_then(|id| transcript_path(&ctx.workspace, id))
            && let Some(last) = transcript(&path)
                .into_iter()
                .rev()
                .find(|e| e["type"] == "assistant" || e["type"] == "user")
        {
            let ended = last["type"] == "assistant"
                && last["message"]["stop_reason"].as_str() == Some("end_turn");
            return Ok(super::from_log(ended, last["timestamp"].as_str()));
        }
        Ok(from_terminal(Activity::Active, None))
    }

    fn confirms_start(&self) -> bool {
        true
    }

    fn confirms_delivery(&self) -> bool {
        true
    }

    fn wants_terminal(&self, ctx: &ActivityContext) -> bool {
        // A turn in progress may be one the usage limit holds: only the screen says so.
        ctx.report
            .as_ref()
            .is_none_or(|r| matches!(r.activity, Activity::WaitingInput | Activity::Active))
    }

    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        let id = ctx
            .agent_session_id
            .clone()
            .or_else(|| ctx.report.as_ref().and_then(|r| r.agent_session_id.clone()))
            .or_else(|| newest_transcript(&ctx.workspace, ctx.started_at));
        let path = ctx
            .report
            .as_ref()
            .and_then(|r| r.log_path.clone())
            .map(PathBuf::from)
            .or_else(|| {
                id.as_deref()
                    .and_then(|i| transcript_path(&ctx.workspace, i))
            });
        let entries = path.map(|p| transcript(&p)).unwrap_or_default();
        let mut tokens = 0u64;
        let mut summary = None;
        for e in &entries {
            let usage = &e["message"]["usage"];
            if e["type"] == "assistant" {
                for k in [
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                ] {
                    tokens += usage[k].as_u64().unwrap_or(0);
                }
            }
            if e["type"] == "summary" {
                summary = e["summary"].as_str().map(str::to_owned);
            }
            if summary.is_none()
                && e["type"] == "user"
                && let Some(text) = e["message"]["content"].as_str()
            {
                summary = Some(
                    text.lines()
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(80)
                        .collect(),
                );
            }
        }
        Ok(AgentSessionInfo {
            agent_session_id: id,
            summary,
            tokens: (tokens > 0).then_some(tokens),
            cost_usd: None,
        })
    }

    fn restore(&self, ctx: &LaunchContext, agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        let id = agent_session_id?;
        let mut argv = vec![Self::program(&ctx.config), "--resume".into(), id.to_owned()];
        argv.extend(self.common_args(ctx).ok()?);
        Some(LaunchSpec {
            argv,
            env: ctx.config.env.clone().into_iter().collect(),
            prompt: PromptDelivery::Inline,
            agent_session_id: Some(id.to_owned()),
        })
    }

    fn hook_report(&self, args: &[String], stdin: &str, now: Timestamp) -> Option<AgentReport> {
        hook_report(args, stdin, now)
    }

    fn own_dialog(
        &self,
        screen: &str,
        workspace: &Path,
        config: &AgentConfig,
    ) -> Option<ao_core::plugin::DialogAnswer> {
        // ao trusted this worktree for Claude Code (permissionless) before it started; a
        // Claude process running elsewhere can rewrite ~/.claude.json from its older copy
        // and drop that entry. Then the trust dialog for this very folder is answered as
        // the config already did, and no other dialog or folder.
        let bypass = matches!(
            config.permissions.unwrap_or_default(),
            ao_core::config::Permission::Permissionless
        );
        let folder = workspace.to_string_lossy();
        let names_this_folder = screen
            .lines()
            .skip_while(|l| !l.contains("Accessing workspace:"))
            .skip(1)
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.trim() == folder);
        (bypass && names_this_folder && screen.contains("Yes, I trust this folder")).then(|| {
            ao_core::plugin::DialogAnswer {
                choice: "Yes, I trust this folder".into(),
                selected: "❯ Yes, I trust this folder".into(),
                next: "Down".into(),
                confirm: "Enter".into(),
            }
        })
    }

    fn diagnose(&self, output: &str, _config: &AgentConfig) -> Option<String> {
        if output.contains("cannot be used with root/sudo privileges") {
            return Some(
                "Claude Code refuses its permission-bypass flag (permissions: permissionless) \
                 when run as root. Either run ao as an ordinary user, or, if this machine is \
                 a sandbox, say so in the project's config: agentConfig: { env: { IS_SANDBOX: \"1\" } } \
                 (or choose another `permissions` mode)"
                    .into(),
            );
        }
        if output.contains("Unable to connect to Anthropic services") {
            return Some(
                "Claude Code's first-run check could not reach Anthropic; run `claude` once by \
                 hand to finish its setup, or check ANTHROPIC_BASE_URL in agentConfig.env"
                    .into(),
            );
        }
        None
    }
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Agent>, PluginError> {
    Ok(Arc::new(ClaudeCode))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::agent(NAME, CLI, "", Factory::Agent(Arc::new(build)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After its permission question, until a hook tells more: the question stands until
    /// the screen shows the work or the refusal, or has rested a while.
    #[tokio::test]
    async fn an_answered_question_stands_until_the_screen_shows_work_refusal_or_rest() {
        let asked = AgentReport {
            activity: Activity::WaitingInput,
            detail: Some("asks permission to use Bash: echo hello > out.txt".into()),
            at: 999_000,
            agent_session_id: None,
            log_path: None,
        };
        let rule = "─".repeat(40);
        let let_through =
            format!("❯ Write the file\n  ⎿  $ echo hello > out.txt\n{rule}\n❯ \n{rule}\n");
        let refused = format!(
            "❯ Write the file\n  Did not run 1 call\n  ⎿  Interrupted · What should Claude do instead?\n{rule}\n❯ \n{rule}\n"
        );
        let refused_then_a_draft = format!(
            "❯ Write the file\n  ⎿  Interrupted · What should Claude do instead?\n{rule}\n❯ try another way\n{rule}\n"
        );
        let refused_earlier = format!(
            "❯ Write the file\n  ⎿  Interrupted · What should Claude do instead?\n❯ Write it again\n  ⎿  $ echo hello > out.txt\n{rule}\n❯ \n{rule}\n"
        );
        let cases = [
            // The question stands until the screen shows what became of it.
            (let_through.as_str(), 0, Activity::WaitingInput),
            (refused.as_str(), 0, Activity::Ready),
            (refused_then_a_draft.as_str(), 0, Activity::Ready),
            (refused_earlier.as_str(), 0, Activity::WaitingInput),
            ("  ✻ Running… (esc to interrupt)\n", 0, Activity::Active),
            // A turn that ended with no hook and no refusal shown: over once it rests.
            (let_through.as_str(), ANSWERED_QUIET_MS, Activity::Ready),
            // A question still on the screen stands, however long it waits.
            (
                " Do you want to proceed?\n ❯ 1. Yes\n   2. No\n",
                ANSWERED_QUIET_MS,
                Activity::WaitingInput,
            ),
        ];
        for (screen, quiet_for, want) in cases {
            let mut ctx =
                crate::agent::test_context(Path::new("/nowhere"), Some(asked.clone()), screen);
            ctx.last_output_at = Some(ctx.now - quiet_for);
            let r = ClaudeCode.activity(&ctx).await.unwrap();
            assert_eq!(r.activity, want, "{screen} quiet for {quiet_for} ms");
        }
    }

    #[test]
    fn hook_events_become_reports() {
        let a = ClaudeCode;
        let stdin = r#"{"session_id":"s-1","transcript_path":"/t.jsonl","hook_event_name":"PermissionRequest","tool_name":"Bash","tool_input":{"command":"rm -rf build"}}"#;
        let r = a
            .hook_report(&["PermissionRequest".into()], stdin, 7)
            .unwrap();
        assert_eq!(r.activity, Activity::WaitingInput);
        assert_eq!(
            r.detail.as_deref(),
            Some("asks permission to use Bash: rm -rf build")
        );
        assert_eq!(r.agent_session_id.as_deref(), Some("s-1"));
        let stop = a.hook_report(&["Stop".into()], "{}", 9).unwrap();
        assert_eq!(stop.activity, Activity::Ready);
        assert!(a.hook_report(&["Unknown".into()], "{}", 9).is_none());
    }

    #[test]
    fn hook_commands_quote_ao_path() {
        let v = hook_settings(
            &["/opt/my ao/ao".into(), "hook".into(), NAME.into()],
            EVENTS,
            10,
            None,
        );
        assert_eq!(
            v["hooks"]["Stop"][0]["hooks"][0]["command"],
            "'/opt/my ao/ao' hook claude-code Stop"
        );
    }
}

#[cfg(test)]
mod own_dialog_tests {
    use super::*;

    const SCREEN: &str = "────\n Accessing workspace:\n\n /w/app-1\n\n Quick safety check: Is this a project you created or one you trust?\n\n ❯ No, exit\n   Yes, I trust this folder\n\n Enter to confirm · Esc to cancel\n";

    #[test]
    fn the_trust_dialog_of_its_own_worktree_only_is_answered() {
        let bypass = AgentConfig {
            permissions: Some(ao_core::config::Permission::Permissionless),
            ..AgentConfig::default()
        };
        let a = ClaudeCode;
        let answer = a
            .own_dialog(SCREEN, Path::new("/w/app-1"), &bypass)
            .unwrap();
        assert_eq!(answer.selected, "❯ Yes, I trust this folder");
        assert_eq!(a.own_dialog(SCREEN, Path::new("/w/app-2"), &bypass), None);
        let asking = AgentConfig {
            permissions: Some(ao_core::config::Permission::Default),
            ..AgentConfig::default()
        };
        assert_eq!(a.own_dialog(SCREEN, Path::new("/w/app-1"), &asking), None);
    }
}

/// The usage limit Claude Code shows, if it shows one ("5-hour limit reached · retrying
/// in 25s (3:03pm)", "You've hit your limit · resets 3pm", "Claude usage limit reached.
/// Your limit will reset at 3pm"): the line, and when the limit lifts.
fn usage_limit(screen: &str, now: Timestamp) -> Option<(String, Option<Timestamp>)> {
    let line = screen.lines().rev().find(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("limit reached") || l.contains("hit your limit")
    })?;
    let line = line
        .trim()
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim()
        .to_owned();
    let lower = line.to_ascii_lowercase();
    let resets = if let Some(rest) = lower.split("retrying in ").nth(1) {
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse::<i64>().ok())
            .map(|secs| now + secs * 1000)
    } else {
        ["resets ", "reset at "].iter().find_map(|key| {
            let rest = lower.split(key).nth(1)?;
            let clock: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
                .collect();
            super::next_clock_time(&clock, now)
        })
    };
    Some((line, resets))
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn the_usage_limit_on_screen_is_read_with_its_reset() {
        let now = 1_000_000;
        let (line, at) = usage_limit(
            "❯ Say hello\n\n✻ 5-hour limit reached · retrying in 25s (3:03pm) · attempt 1/10\n",
            now,
        )
        .unwrap();
        assert_eq!(
            line,
            "5-hour limit reached · retrying in 25s (3:03pm) · attempt 1/10"
        );
        assert_eq!(at, Some(now + 25_000));
        assert!(usage_limit("❯ Say hello\n\nHello!", now).is_none());
    }

    /// "resets 3pm" is the next 3 pm in the user's time zone, where Claude Code says it.
    #[test]
    fn the_usage_limit_resets_at_the_clock_time_it_names_in_local_time() {
        use crate::agent::limit_tests::{UTC_PLUS_6, in_time_zone};
        if !in_time_zone(
            "agent::claude_code::limit_tests::the_usage_limit_resets_at_the_clock_time_it_names_in_local_time",
            UTC_PLUS_6,
        ) {
            return;
        }
        // 2026-12-01 19:53 UTC, 01:53 the next day at UTC+6.
        let now = 1_796_154_780_000;
        // 2026-12-02 15:00 at UTC+6: 09:00 UTC.
        let three_pm = 1_796_202_000_000;
        for screen in [
            "You've hit your limit · resets 3pm (Asia/Dhaka)",
            "Claude usage limit reached. Your limit will reset at 3pm",
        ] {
            let (_, at) = usage_limit(screen, now).unwrap();
            assert_eq!(at, Some(three_pm), "{screen}");
        }
        let (_, at) = usage_limit("You've hit your limit · resets 3:30am", now).unwrap();
        // 03:30 at UTC+6 the same local day: 21:30 UTC on the 1st.
        assert_eq!(at, Some(now + (3600 + 37 * 60) * 1000));
    }
}
