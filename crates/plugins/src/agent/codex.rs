//! The `codex` agent: OpenAI's Codex CLI (`codex`).
//!
//! - Launch: the interactive CLI with the task as its first prompt (after `--`), without
//!   the shared background server (`--no-daemon`, so the session's processes end with
//!   it), the project's permission mode, rules as `developer_instructions`, and ao's
//!   notify program (`-c notify=[ao, hook, codex]`), all as `-c` overrides: nothing is
//!   written into the user's files.
//! - Activity: the notify program reports each finished turn; the rollout file under
//!   `$CODEX_HOME/sessions` tells a turn in progress; the terminal shows dialogs.
//! - Restore: `codex resume ID`.

use super::{from_report, from_terminal, model_args, screen_line};
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

const NAME: &str = "codex";

/// The CLI this agent runs, described once: its registry entry carries it.
pub const CLI: AgentCli = AgentCli {
    name: "OpenAI Codex CLI",
    program: "codex",
    install: "npm install -g @openai/codex",
};

/// Codex.
#[derive(Debug, Default)]
pub struct Codex;

/// A TOML string (JSON's escapes are TOML's too).
fn toml_string(s: &str) -> String {
    json!(s).to_string()
}

impl Codex {
    /// The CLI is found on PATH; `agentConfig.command` belongs to the `command` agent.
    fn program(_config: &AgentConfig) -> String {
        CLI.program.into()
    }

    fn common_args(ctx: &LaunchContext) -> Vec<String> {
        let notify: Vec<String> = ctx.hook_command.iter().map(|w| toml_string(w)).collect();
        let mut args = vec![
            "--no-daemon".into(),
            "-c".into(),
            format!("notify=[{}]", notify.join(",")),
        ];
        match ctx.permissions() {
            Permission::Permissionless => {
                args.push("--dangerously-bypass-approvals-and-sandbox".into());
                // Trust for this worktree only, for this run only.
                args.extend([
                    "-c".into(),
                    format!(
                        "projects={{{}={{trust_level=\"trusted\"}}}}",
                        toml_string(&ctx.workspace.to_string_lossy())
                    ),
                ]);
            }
            Permission::Default => {}
            Permission::AutoEdit => args.extend([
                "--sandbox".into(),
                "workspace-write".into(),
                "--ask-for-approval".into(),
                "on-request".into(),
            ]),
            Permission::Suggest => args.extend([
                "--sandbox".into(),
                "read-only".into(),
                "--ask-for-approval".into(),
                "on-request".into(),
            ]),
        }
        args.extend(model_args("--model", ctx.config.model.as_ref()));
        if let Some(rules) = &ctx.rules {
            args.extend([
                "-c".into(),
                format!("developer_instructions={}", toml_string(rules)),
            ]);
        }
        args
    }
}

/// `$CODEX_HOME`, else `~/.codex`.
fn codex_home() -> Option<PathBuf> {
    std::env::var_os("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))
}

/// Sub-directories, newest name first.
fn dirs_desc(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v.reverse();
    v
}

/// The rollout file of a session: by its id when known, else the newest whose first line
/// says it ran in `workspace`. Only the three newest day directories are searched.
fn find_rollout(workspace: &Path, id: Option<&str>) -> Option<PathBuf> {
    find_rollout_in(&codex_home()?, workspace, id)
}

/// [`find_rollout`] under the Codex home `home`.
fn find_rollout_in(home: &Path, workspace: &Path, id: Option<&str>) -> Option<PathBuf> {
    let root = home.join("sessions");
    let mut days = Vec::new();
    'outer: for year in dirs_desc(&root) {
        for month in dirs_desc(&year) {
            for day in dirs_desc(&month) {
                days.push(day);
                if days.len() == 3 {
                    break 'outer;
                }
            }
        }
    }
    let want = workspace.to_string_lossy();
    for day in days {
        for file in dirs_desc(&day) {
            let name = file.file_name()?.to_string_lossy().into_owned();
            if !name.ends_with(".jsonl") {
                continue;
            }
            match id {
                Some(id) if name.ends_with(&format!("{id}.jsonl")) => return Some(file),
                Some(_) => {}
                None => {
                    let first = std::fs::read_to_string(&file)
                        .ok()
                        .and_then(|t| t.lines().next().map(str::to_owned))
                        .and_then(|l| serde_json::from_str::<Value>(&l).ok());
                    if first.is_some_and(|v| v["payload"]["cwd"].as_str() == Some(&want)) {
                        return Some(file);
                    }
                }
            }
        }
    }
    None
}

/// What a rollout says: the session id, whether a turn is in progress, and the last
/// token total.
struct Rollout {
    id: Option<String>,
    in_turn: Option<bool>,
    /// The last turn ended on the usage limit: what Codex said, and when it lifts.
    limit: Option<(String, Option<Timestamp>)>,
    tokens: Option<u64>,
    first_prompt: Option<String>,
    modified: Option<Timestamp>,
}

fn read_rollout(path: &Path) -> Rollout {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut r = Rollout {
        id: None,
        in_turn: None,
        limit: None,
        tokens: None,
        first_prompt: None,
        modified: super::modified_ms(path),
    };
    let mut reset_hint: Option<Timestamp> = None;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let p = &v["payload"];
        match (v["type"].as_str(), p["type"].as_str()) {
            (Some("session_meta"), _) => r.id = p["id"].as_str().map(str::to_owned),
            (Some("event_msg"), Some("task_started")) => {
                r.in_turn = Some(true);
                r.limit = None;
            }
            (Some("event_msg"), Some("task_complete" | "turn_aborted")) => {
                r.in_turn = Some(false);
                // The reset is named relative to when the turn ended.
                let at = v["timestamp"]
                    .as_str()
                    .and_then(ao_core::model::time::parse_rfc3339)
                    .unwrap_or_else(ao_core::model::now_ms);
                r.limit = usage_limit(&p["error"], &reset_hint, at);
            }
            (Some("event_msg"), Some("token_count")) if !p["rate_limits"].is_null() => {
                r.tokens = p["info"]["total_token_usage"]["total_tokens"]
                    .as_u64()
                    .or(r.tokens);
                // Where Codex knows when its window resets (seconds since 1970).
                reset_hint = p["rate_limits"]["primary"]["resets_at"]
                    .as_i64()
                    .map(|s| s * 1000);
            }
            (Some("event_msg"), Some("token_count")) => {
                r.tokens = p["info"]["total_token_usage"]["total_tokens"].as_u64();
            }
            (Some("event_msg"), Some("user_message")) if r.first_prompt.is_none() => {
                r.first_prompt = p["message"].as_str().map(str::to_owned);
            }
            _ => {}
        }
    }
    r
}

/// The usage limit a turn's `error` reports, if it does: its message, and when the
/// limit lifts (from `hint`, else the message's "try again at 3:04 PM", the next such
/// time after the turn ended at `written_at`).
fn usage_limit(
    error: &Value,
    hint: &Option<Timestamp>,
    written_at: Timestamp,
) -> Option<(String, Option<Timestamp>)> {
    let message = error["message"].as_str()?;
    let info = error["codex_error_info"].as_str().unwrap_or_default();
    if info != "usage_limit_exceeded" && !message.contains("usage limit") {
        return None;
    }
    let resets = hint.or_else(|| {
        let at = message.split("try again at ").nth(1)?;
        let clock: String = at
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == ' ')
            .collect();
        // Codex names the minute; the limit lifts within it, so its end is the safe time.
        super::next_clock_time(&clock, written_at).map(|t| t + 59_999)
    });
    Some((message.to_owned(), resets))
}

/// Whether a rollout whose turn is `in_turn` (none yet: `None`) says the CLI rests: its
/// last turn ended, or it has held none and its task is not pending (a CLI started on a
/// task writes its rollout a moment before the task's turn).
fn rests(in_turn: Option<bool>, task_pending: bool) -> bool {
    in_turn.map_or(!task_pending, |in_turn| !in_turn)
}

/// What a dialog on the screen asks, if one is showing.
fn dialog(screen: &str) -> Option<String> {
    if let Some(command) = approval_command(screen) {
        return Some(format!("asks permission to run: {command}"));
    }
    // Near its usage limit Codex offers a cheaper model in a menu: what is typed then
    // would pick an option, so it is a question for the human.
    if screen.contains("enter select")
        && let Some(q) = screen_line(screen, &["for lower credit usage?"])
    {
        return Some(q);
    }
    const QUESTIONS: &[&[&str]] = &[
        &["Trust this folder?", "Do you trust the contents"],
        &["Sign in with ChatGPT", "Choose how you want to use Codex"],
        // Approval questions; their answers stay on screen ("You approved codex to
        // run ..."), so only the question's own wording counts.
        &[
            "Would you like to run",
            "Would you like to make",
            "Allow Codex to",
        ],
    ];
    QUESTIONS.iter().find_map(|q| screen_line(screen, q))
}

/// The command of a "Would you like to run the following command?" question: the line
/// after it that starts with `$ `.
fn approval_command(screen: &str) -> Option<String> {
    let mut lines = screen.lines();
    lines.find(|l| l.contains("Would you like to run the following command?"))?;
    lines
        .take(8)
        .find_map(|l| l.trim().strip_prefix("$ ").map(|c| c.trim().to_owned()))
}

#[async_trait]
impl Agent for Codex {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        super::note_task(NAME, &ctx.scratch_dir, &ctx.prompt)?;
        let mut argv = vec![Self::program(&ctx.config)];
        argv.extend(Self::common_args(ctx));
        Ok(super::inline_launch(argv, ctx, None))
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        // The npm package's `codex` is a node script that runs the native binary.
        super::process_names(config, &[CLI.program, "node"])
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        let screen = ctx.recent_output.as_deref().unwrap_or_default();
        if let Some(question) = dialog(screen) {
            return Ok(from_terminal(Activity::WaitingInput, Some(question)));
        }
        let id = ctx.agent_session_id.as_deref().or_else(|| {
            ctx.report
                .as_ref()
                .and_then(|r| r.agent_session_id.as_deref())
        });
        let rollout = find_rollout(&ctx.workspace, id).map(|p| read_rollout(&p));
        // The last turn ended on the usage limit, and none has started since.
        if let Some(log) = &rollout
            && log.in_turn == Some(false)
            && let Some((message, resets)) = &log.limit
        {
            return Ok(super::limited(
                ActivitySource::SessionLog,
                message.clone(),
                *resets,
            ));
        }
        match (&ctx.report, rollout) {
            // The notify program spoke after the rollout's last write: the turn ended.
            (Some(r), Some(log)) if log.in_turn == Some(true) => {
                if log.modified.is_some_and(|m| r.at >= m) {
                    Ok(from_report(r, ctx.idle_after_ms, ctx.now))
                } else {
                    Ok(ActivityReport {
                        activity: Activity::Active,
                        source: ActivitySource::SessionLog,
                        last_at: log.modified,
                        detail: None,
                        resets_at: None,
                        choices: Vec::new(),
                    })
                }
            }
            (Some(r), _) => Ok(from_report(r, ctx.idle_after_ms, ctx.now)),
            (None, Some(log)) => {
                let ready = rests(log.in_turn, super::started_on_task(ctx));
                // A resumed thread's log predates this run of the agent.
                let last_at = log.modified.max(ctx.started_at);
                let idle =
                    ready && last_at.is_some_and(|m| ctx.now - m >= ctx.idle_after_ms as i64);
                Ok(ActivityReport {
                    activity: match (ready, idle) {
                        (_, true) => Activity::Idle,
                        (true, false) => Activity::Ready,
                        (false, _) => Activity::Active,
                    },
                    source: ActivitySource::SessionLog,
                    last_at,
                    detail: None,
                    resets_at: None,
                    choices: Vec::new(),
                })
            }
            // Neither yet: the screen, but a task the CLI was started on is under way.
            (None, None) => Ok(from_terminal(
                super::screen_alone(
                    screen.contains("esc to interrupt"),
                    super::started_on_task(ctx),
                ),
                None,
            )),
        }
    }

    fn confirms_start(&self) -> bool {
        true
    }

    fn confirms_delivery(&self) -> bool {
        true
    }

    fn wants_terminal(&self, ctx: &ActivityContext) -> bool {
        // Approval questions and first-run dialogs show only on the screen (the rollout
        // does not record them); a finished turn the notify program reported, with
        // nothing written since, needs no look.
        let Some(report) = ctx
            .report
            .as_ref()
            .filter(|r| r.activity == Activity::Ready)
        else {
            return true;
        };
        let id = ctx
            .agent_session_id
            .as_deref()
            .or(report.agent_session_id.as_deref());
        find_rollout(&ctx.workspace, id)
            .and_then(|p| super::modified_ms(&p))
            .is_some_and(|m| m > report.at)
    }

    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        let id = ctx.agent_session_id.as_deref().or_else(|| {
            ctx.report
                .as_ref()
                .and_then(|r| r.agent_session_id.as_deref())
        });
        let Some(log) = find_rollout(&ctx.workspace, id).map(|p| read_rollout(&p)) else {
            return Ok(AgentSessionInfo {
                agent_session_id: id.map(str::to_owned),
                ..AgentSessionInfo::default()
            });
        };
        Ok(AgentSessionInfo {
            agent_session_id: log.id.or(id.map(str::to_owned)),
            summary: log.first_prompt.map(|p| {
                p.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect()
            }),
            tokens: log.tokens,
            cost_usd: None,
        })
    }

    fn restore(&self, ctx: &LaunchContext, agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        let id = agent_session_id?;
        // Resumed, it starts on no task.
        if let Err(e) = super::note_task(NAME, &ctx.scratch_dir, "") {
            tracing::warn!("{e}");
        }
        let mut argv = vec![Self::program(&ctx.config), "resume".into()];
        argv.extend(Self::common_args(ctx));
        argv.push(id.to_owned());
        Some(LaunchSpec {
            argv,
            env: ctx.config.env.clone().into_iter().collect(),
            prompt: PromptDelivery::Inline,
            agent_session_id: Some(id.to_owned()),
        })
    }

    fn hook_report(&self, args: &[String], _stdin: &str, now: Timestamp) -> Option<AgentReport> {
        turn_report(args, &codex_home()?, now)
    }
}

/// What Codex's `notify` program call (`args`) reports, with the Codex home `home`: the
/// end of a turn of the session's own thread is `ready`.
fn turn_report(args: &[String], home: &Path, now: Timestamp) -> Option<AgentReport> {
    // notify passes one JSON argument.
    let payload: Value = args
        .iter()
        .rev()
        .find_map(|a| serde_json::from_str(a).ok())?;
    if payload["type"] != "agent-turn-complete" {
        return None;
    }
    // Codex also runs side threads (a title for the task) that notify too; only the
    // session's own thread keeps a rollout.
    let thread = payload["thread-id"].as_str()?;
    let cwd = payload["cwd"].as_str()?;
    find_rollout_in(home, Path::new(cwd), Some(thread))?;
    Some(AgentReport {
        activity: Activity::Ready,
        detail: None,
        at: now,
        agent_session_id: Some(thread.to_owned()),
        log_path: None,
    })
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Agent>, PluginError> {
    Ok(Arc::new(Codex))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::agent(NAME, CLI, "", Factory::Agent(Arc::new(build)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_becomes_ready() {
        let home = tempfile::tempdir().unwrap();
        let day = home.path().join("sessions/2026/12/01");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::write(day.join("rollout-2026-12-01T10-00-00-t-1.jsonl"), "{}\n").unwrap();
        let turn = |thread: &str| {
            format!(
                r#"{{"type":"agent-turn-complete","thread-id":"{thread}","turn-id":"u","cwd":"/w"}}"#
            )
        };
        // The end of a turn of the thread with the rollout: ready, with the thread's id.
        let report = turn_report(&[turn("t-1")], home.path(), 5).expect("a report");
        assert_eq!(report.activity, Activity::Ready);
        assert_eq!(report.at, 5);
        assert_eq!(report.agent_session_id.as_deref(), Some("t-1"));
        // A thread without a rollout (a side thread): not the session's.
        assert!(turn_report(&[turn("t-2")], home.path(), 5).is_none());
        // Another notification: nothing.
        assert!(turn_report(&[r#"{"type":"other"}"#.into()], home.path(), 5).is_none());
    }

    #[test]
    fn notify_program_is_a_toml_array() {
        assert_eq!(toml_string(r#"/a "b"/ao"#), r#""/a \"b\"/ao""#);
    }

    #[test]
    fn an_answered_approval_is_no_question() {
        let screen = "› Now write the file\n✔ You approved codex to run echo hi > out.txt this time\n• Ran echo hi > out.txt\n";
        assert_eq!(dialog(screen), None);
    }

    #[test]
    fn an_approval_question_names_its_command() {
        let screen = "• Running echo hi > out.txt\n\n  Would you like to run the following command?\n\n  Reason: Write it\n\n  $ echo hi > out.txt\n\n› 1. Yes, proceed (y)\n";
        assert_eq!(
            dialog(screen).as_deref(),
            Some("asks permission to run: echo hi > out.txt")
        );
    }
}

#[cfg(test)]
mod task_tests {
    use super::*;

    /// Started on a task, Codex writes its rollout a moment before the task's turn, and
    /// its screen rests between the start and the turn: neither says it is ready.
    #[test]
    fn a_pending_task_is_never_ready_on_an_empty_rollout_or_the_screen() {
        assert!(!rests(None, true));
        assert!(rests(None, false));
        assert!(!rests(Some(true), false));
        assert!(rests(Some(false), true), "its turn ended");
        assert_eq!(super::super::screen_alone(false, true), Activity::Active);
    }
}
