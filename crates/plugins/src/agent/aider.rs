//! The `aider` agent: Aider (`aider`).
//!
//! - Launch: interactive aider in the worktree. `--message` would answer once and exit,
//!   so the task is typed in once aider shows its input prompt, and the spawn waits until
//!   aider logs it. Aider's chat and input histories go to the session's own directory,
//!   rules are a read-only file in the chat (`--read`), and aider's notification command
//!   is ao's hook. Its repository-map cache (`.aider.tags.cache.*`) is kept out of git
//!   through the repository's `info/exclude`, not its tracked `.gitignore`.
//! - Activity: the screen tells a question (`(Y)es/(N)o`) and the input prompt apart;
//!   the chat history shows a task taken and when aider last wrote; the notification
//!   hook says when it last waited for the user.
//! - Restore: aider has no session to resume; it starts afresh with the session's chat
//!   history restored (`--restore-chat-history`), so it knows the task and the work so far.

use super::{from_terminal, model_args, shell_word, write_file};
use ao_core::config::{AgentConfig, Permission};
use ao_core::model::{Activity, Timestamp};
use ao_core::plugin::{
    ActivityContext, ActivityReport, ActivitySource, Agent, AgentSessionInfo, LaunchContext,
    LaunchSpec, PluginError, PromptDelivery,
};
use ao_core::registry::{AgentCli, Factory, PluginEntry, SectionRef};
use ao_core::store::AgentReport;
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const NAME: &str = "aider";

/// The CLI this agent runs, described once: its registry entry carries it.
pub const CLI: AgentCli = AgentCli {
    name: "Aider",
    program: "aider",
    install: "pip install aider-chat",
};

/// The chat history aider keeps for a session, in the session's own directory.
const CHAT_HISTORY: &str = "aider-chat.md";

/// Aider.
#[derive(Debug, Default)]
pub struct Aider;

impl Aider {
    /// The CLI is found on PATH; `agentConfig.command` belongs to the `command` agent.
    fn program(_config: &AgentConfig) -> String {
        CLI.program.into()
    }

    fn argv(ctx: &LaunchContext, restore: bool) -> Result<Vec<String>, PluginError> {
        let scratch = &ctx.scratch_dir;
        std::fs::create_dir_all(scratch).map_err(|e| {
            PluginError::failed(NAME, format!("cannot create {}: {e}", scratch.display()))
        })?;
        exclude_aider_files(&ctx.workspace);
        let hook: Vec<String> = ctx
            .hook_command
            .iter()
            .chain(std::iter::once(&"notify".to_owned()))
            .map(|w| shell_word(w))
            .collect();
        let mut argv = vec![
            Self::program(&ctx.config),
            // Offline and unattended: no update check, release notes, analytics question,
            // .gitignore edit or model-warning question.
            "--no-check-update".into(),
            "--no-show-release-notes".into(),
            "--no-analytics".into(),
            "--no-gitignore".into(),
            "--no-show-model-warnings".into(),
            "--notifications".into(),
            "--notifications-command".into(),
            hook.join(" "),
            "--chat-history-file".into(),
            scratch.join(CHAT_HISTORY).to_string_lossy().into_owned(),
            "--input-history-file".into(),
            scratch
                .join("aider-input.history")
                .to_string_lossy()
                .into_owned(),
        ];
        match ctx.permissions() {
            Permission::Permissionless => argv.push("--yes-always".into()),
            Permission::Default | Permission::AutoEdit => {}
            Permission::Suggest => argv.push("--dry-run".into()),
        }
        argv.extend(model_args("--model", ctx.config.model.as_ref()));
        if let Some(rules) = &ctx.rules {
            let file = scratch.join("rules.md");
            write_file(NAME, &file, rules)?;
            argv.extend(["--read".into(), file.to_string_lossy().into_owned()]);
        }
        if restore {
            argv.push("--restore-chat-history".into());
        }
        Ok(argv)
    }
}

/// Adds aider's own files to the repository's `info/exclude`, so its caches are not
/// untracked work in the session's worktree.
fn exclude_aider_files(workspace: &Path) {
    super::exclude_from_git(workspace, ".aider*");
}

/// What the screen shows at its last line.
#[derive(Debug, PartialEq, Eq)]
enum Screen {
    /// A yes/no question waits for an answer.
    Question(String),
    /// The input prompt, empty.
    Prompt,
    /// Anything else: starting, streaming, running a command.
    Busy,
}

fn read_screen(screen: &str) -> Screen {
    let mut lines = screen.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(last) = lines.next_back() else {
        return Screen::Busy;
    };
    if last.contains("(Y)es/(N)o") && last.ends_with(':') {
        let question = last.split(" (Y)es/(N)o").next().unwrap_or(last);
        // The line above names what it asks about (a file, a command).
        let subject = lines
            .next_back()
            .filter(|l| l.chars().count() <= 120 && !l.starts_with('─'));
        return Screen::Question(match subject {
            Some(s) => format!("{question} ({s})"),
            None => question.to_owned(),
        });
    }
    // `>`, or the mode's name before it (`ask>`, `architect>`, `multi>`).
    let prompt = last.strip_suffix('>').is_some_and(|mode| {
        mode.chars()
            .all(|c| c.is_ascii_lowercase() || c == '-' || c == ' ')
            && mode.len() <= 20
    });
    if prompt { Screen::Prompt } else { Screen::Busy }
}

/// What the chat history says: when aider last wrote it, whether the last thing in it
/// is a task (`#### ...`) with no answer yet, and the first task.
struct History {
    modified: Option<Timestamp>,
    task_pending: bool,
    first_task: Option<String>,
}

fn read_history(path: &Path) -> Option<History> {
    let text = std::fs::read_to_string(path).ok()?;
    let modified = super::modified_ms(path);
    let first_task = text
        .lines()
        .find_map(|l| l.strip_prefix("#### "))
        .map(|t| t.trim_end().to_owned());
    let task_pending = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.starts_with("#### "));
    Some(History {
        modified,
        task_pending,
        first_task,
    })
}

fn history_path(scratch: &Path) -> PathBuf {
    scratch.join(CHAT_HISTORY)
}

fn ready_or_idle(last_at: Option<Timestamp>, ctx: &ActivityContext) -> Activity {
    match last_at {
        Some(t) if ctx.now.saturating_sub(t) >= ctx.idle_after_ms as i64 => Activity::Idle,
        _ => Activity::Ready,
    }
}

/// Tokens and cost of the session so far, from the chat history's usage lines
/// (`> Tokens: 2.3k sent, 45 received. Cost: $0.0024 message, $0.0050 session.`): tokens
/// summed over every message (aider rounds them to thousands), cost as aider last
/// totalled it.
fn usage(history: &str) -> (Option<u64>, Option<f64>) {
    let mut tokens = None;
    let mut cost = None;
    for line in history.lines() {
        let line = line.trim_end();
        let Some(rest) = line.trim_start_matches(['>', ' ']).strip_prefix("Tokens: ") else {
            continue;
        };
        let (counts, costs) = rest.split_once(". Cost: ").unwrap_or((rest, ""));
        let message: f64 = counts
            .split(", ")
            .filter_map(|part| {
                let (n, _) = part.split_once(' ')?;
                let (n, scale) = match n.strip_suffix('k') {
                    Some(n) => (n, 1000.0),
                    None => (n, 1.0),
                };
                Some(n.parse::<f64>().ok()? * scale)
            })
            .sum();
        tokens = Some(tokens.unwrap_or(0) + message.round() as u64);
        if let Some(total) = costs
            .split(", ")
            .find_map(|c| c.trim_end_matches('.').strip_suffix(" session"))
            .and_then(|c| c.trim_start_matches('$').parse::<f64>().ok())
        {
            cost = Some(total);
        }
    }
    (tokens, cost)
}

#[async_trait]
impl Agent for Aider {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        Ok(LaunchSpec {
            argv: Self::argv(ctx, false)?,
            env: ctx.config.env.clone().into_iter().collect(),
            prompt: if ctx.prompt.is_empty() {
                PromptDelivery::Inline
            } else {
                PromptDelivery::PostLaunch
            },
            agent_session_id: None,
        })
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        // A Python entry script: the process is named after the script, and the terminal
        // may name it after its interpreter.
        let mut names = vec![
            CLI.program.to_owned(),
            "python3".to_owned(),
            "python".to_owned(),
        ];
        if let Some(n) = &config.process_name {
            names.insert(0, n.clone());
        }
        names
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        // Refused for a rate or usage limit, aider retries by itself and says so; it
        // does not say when the limit lifts.
        if let Some(line) = ctx.recent_output.as_deref().and_then(rate_limited) {
            return Ok(super::limited(ActivitySource::Terminal, line, None));
        }
        let screen = ctx.recent_output.as_deref().map(read_screen);
        if let Some(Screen::Question(q)) = &screen {
            return Ok(from_terminal(Activity::WaitingInput, Some(q.clone())));
        }
        let history = read_history(&history_path(&ctx.scratch_dir));
        let logged = history.as_ref().and_then(|h| h.modified);
        let hook = ctx.report.as_ref().map(|r| r.at);
        // The newer of the two says what aider did last.
        let hook_newest = hook.is_some_and(|h| logged.is_none_or(|l| h >= l));
        let last_at = hook.max(logged);
        let pending = history.as_ref().is_some_and(|h| h.task_pending);
        let (activity, source) = match screen {
            Some(Screen::Prompt) => (
                ready_or_idle(last_at, ctx),
                if hook_newest {
                    ActivitySource::Hook
                } else if logged.is_some() {
                    ActivitySource::SessionLog
                } else {
                    ActivitySource::Terminal
                },
            ),
            // A task is logged and aider has not waited for the user since.
            _ if pending && !hook_newest => (Activity::Active, ActivitySource::SessionLog),
            Some(_) => (Activity::Active, ActivitySource::Terminal),
            None if hook_newest => (ready_or_idle(last_at, ctx), ActivitySource::Hook),
            None => (Activity::Active, ActivitySource::SessionLog),
        };
        Ok(ActivityReport {
            activity,
            source,
            last_at,
            detail: None,
            resets_at: None,
            choices: Vec::new(),
        })
    }

    fn confirms_start(&self) -> bool {
        true
    }

    fn confirms_delivery(&self) -> bool {
        true
    }

    fn wants_terminal(&self, _ctx: &ActivityContext) -> bool {
        // Only the screen tells a question from the input prompt.
        true
    }

    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        let path = history_path(&ctx.scratch_dir);
        let history = read_history(&path);
        let (tokens, cost_usd) = std::fs::read_to_string(&path)
            .ok()
            .map(|t| usage(&t))
            .unwrap_or_default();
        Ok(AgentSessionInfo {
            agent_session_id: None,
            summary: history
                .and_then(|h| h.first_task)
                .map(|t| t.chars().take(80).collect()),
            tokens,
            cost_usd,
        })
    }

    fn restore(&self, ctx: &LaunchContext, _agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        // Without a history there is nothing to restore: start afresh on the task.
        if !history_path(&ctx.scratch_dir).exists() {
            return None;
        }
        Some(LaunchSpec {
            argv: Self::argv(ctx, true).ok()?,
            env: ctx.config.env.clone().into_iter().collect(),
            prompt: PromptDelivery::Inline,
            agent_session_id: None,
        })
    }

    fn hook_report(&self, args: &[String], _stdin: &str, now: Timestamp) -> Option<AgentReport> {
        // Aider runs its notification command when it waits for the user after a model
        // call: at its prompt or at a question, which the screen tells apart.
        (args.first().map(String::as_str) == Some("notify")).then_some(AgentReport {
            activity: Activity::Ready,
            detail: None,
            at: now,
            agent_session_id: None,
            log_path: None,
        })
    }
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Agent>, PluginError> {
    Ok(Arc::new(Aider))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::agent(NAME, CLI, "", Factory::Agent(Arc::new(build)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_tells_question_prompt_and_work_apart() {
        let q = "Tokens: 769 sent\nout.txt\nCreate new file? (Y)es/(N)o [Yes]:\n\n";
        assert_eq!(
            read_screen(q),
            Screen::Question("Create new file? (out.txt)".into())
        );
        let answered = "Create new file? (Y)es/(N)o [Yes]: y\nApplied edit to out.txt\n";
        assert_eq!(read_screen(answered), Screen::Busy);
        assert_eq!(
            read_screen("Aider v0.86.2\n────\nout.txt\n>\n\n"),
            Screen::Prompt
        );
        assert_eq!(read_screen("ask>"), Screen::Prompt);
        assert_eq!(read_screen("> write hello to out.txt"), Screen::Busy);
        assert_eq!(read_screen(""), Screen::Busy);
    }

    #[test]
    fn history_tells_a_pending_task() {
        let dir = std::env::temp_dir().join(format!("ao-aider-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join(CHAT_HISTORY);
        std::fs::write(&f, "# aider chat started\n\n#### write hello  \n").unwrap();
        let h = read_history(&f).unwrap();
        assert!(h.task_pending);
        assert_eq!(h.first_task.as_deref(), Some("write hello"));
        std::fs::write(&f, "#### write hello  \n\nDone.\n\n> Tokens: 1 sent  \n").unwrap();
        assert!(!read_history(&f).unwrap().task_pending);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn usage_sums_tokens_and_keeps_the_session_cost() {
        let history = "#### hi  \n\n> Tokens: 2.3k sent, 45 received. Cost: $0.0024 message, $0.0024 session.  \n\n#### more  \n\n> Tokens: 769 sent, 5 received. Cost: $0.00078 message, $0.0032 session.  \n";
        assert_eq!(usage(history), (Some(2345 + 774), Some(0.0032)));
        assert_eq!(usage("> Tokens: 1 sent  \n"), (Some(1), None));
        assert_eq!(usage("#### hi\n"), (None, None));
    }
}

/// The rate-limit error aider shows while it retries ("litellm.RateLimitError: …",
/// "The API provider has rate limited you …", "Retrying in 4.0 seconds..."), when that is
/// the last thing on its screen.
fn rate_limited(screen: &str) -> Option<String> {
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if !tail.iter().any(|l| l.contains("rate limited you")) {
        return None;
    }
    lines
        .iter()
        .rev()
        .find(|l| l.contains("RateLimitError"))
        .map(|l| l.trim_start_matches("litellm.").to_string())
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn a_rate_limit_aider_retries_reads_as_limited_until_an_answer_follows() {
        let retrying = "> Say hello\n\nlitellm.RateLimitError: RateLimitError: OpenAIException - The usage limit has been reached\nThe API provider has rate limited you. Try again later or check your quotas.\nRetrying in 4.0 seconds...\n";
        assert_eq!(
            rate_limited(retrying).as_deref(),
            Some(
                "RateLimitError: RateLimitError: OpenAIException - The usage limit has been reached"
            )
        );
        let answered = format!("{retrying}Hello!\nTokens: 2.6k sent, 2 received.\n\n>\n");
        assert_eq!(rate_limited(&answered), None);
        assert_eq!(rate_limited("> Say hello\n\nHello!\n"), None);
    }
}
