//! The `cline` agent: Cline's CLI (`cline`, npm `cline`).
//!
//! - Launch: its terminal UI (`-i`) with the task after `--`, in `--yolo` mode, and the
//!   model. Its provider is the user's (`cline auth`). Only `permissions:
//!   permissionless` is taken: in every other mode Cline 3 runs the session inside a
//!   background hub it shares between all its sessions, which outlives the terminal ao
//!   kills, so a killed session would keep working; `--yolo` runs it in the terminal's
//!   own process. The project's rules go in `.clinerules/ao-rules.md` in the session's
//!   worktree, kept out of git through the repository's `info/exclude`.
//! - Activity: the session's record (`~/.cline/data/sessions/ID/ID.json`, or under
//!   `CLINE_DATA_DIR`), found by its working directory, says `running`, `pending` (a
//!   question), `idle`; before it exists, the screen.
//! - Restore: `cline -i --yolo --id ID`.

use super::{from_terminal, model_args, screen_line, write_file};
use ao_core::config::{AgentConfig, Permission};
use ao_core::model::{Activity, Timestamp};
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

const NAME: &str = "cline";

/// The CLI this agent runs, described once: its registry entry carries it.
pub const CLI: AgentCli = AgentCli {
    name: "Cline CLI",
    program: "cline",
    install: "npm install -g cline",
};

/// The rules file in the session's worktree.
const RULES_FILE: &str = ".clinerules/ao-rules.md";

/// The file in the session's directory that keeps the sessions directory the CLI was
/// started with, and, once found, the session's id.
const STATE_FILE: &str = "cline-state.json";

/// Cline.
#[derive(Debug, Default)]
pub struct Cline;

impl Cline {
    fn spec(ctx: &LaunchContext, resume: Option<&str>) -> Result<LaunchSpec, PluginError> {
        if ctx.permissions() != Permission::Permissionless {
            return Err(PluginError::Refused {
                plugin: NAME.into(),
                message: format!(
                    "project `{}` asks for permissions: {}, but Cline runs such a session in its shared background hub, which goes on after ao kills the session's terminal; only permissions: permissionless (its --yolo mode) runs in the terminal's own process. Set agentConfig.permissions: permissionless for this project, or use another agent",
                    ctx.project,
                    match ctx.permissions() {
                        Permission::Default => "default",
                        Permission::AutoEdit => "auto-edit",
                        Permission::Suggest => "suggest",
                        Permission::Permissionless => "permissionless",
                    }
                ),
            });
        }
        let mut argv = vec![CLI.program.to_owned(), "-i".into(), "--yolo".into()];
        argv.extend(model_args("--model", ctx.config.model.as_ref()));
        if let Some(id) = resume {
            argv.push(format!("--id={id}"));
        }
        if let Some(rules) = ctx.rules.as_deref().filter(|r| !r.trim().is_empty()) {
            let file = ctx.workspace.join(RULES_FILE);
            if file.parent().is_some_and(|d| d.exists() && !d.is_dir()) {
                return Err(PluginError::Refused {
                    plugin: NAME.into(),
                    message: format!(
                        "the worktree's .clinerules is a file, so ao cannot add the project's rules beside it ({}); move those rules into .clinerules/ (a directory), or drop agentRules for this project",
                        ctx.workspace.display()
                    ),
                });
            }
            write_file(NAME, &file, rules)?;
            super::exclude_from_git(&ctx.workspace, RULES_FILE);
        }
        let mut env: BTreeMap<String, String> = ctx.config.env.clone().into_iter().collect();
        // No subscription notice over the screen, and no update under a running session.
        env.insert("CLINE_DISABLE_CLINE_PASS_NOTICE".into(), "1".into());
        env.entry("CLINE_NO_AUTO_UPDATE".into())
            .or_insert_with(|| "1".into());
        if let Some(dir) = sessions_dir(&env) {
            let state = serde_json::json!({"sessions": dir, "id": resume});
            write_file(NAME, &ctx.scratch_dir.join(STATE_FILE), &state.to_string())?;
        }
        if !ctx.prompt.is_empty() && resume.is_none() {
            // After `--`, so a task that starts with `-` is not an option.
            argv.extend(["--".to_owned(), ctx.prompt.clone()]);
        }
        Ok(LaunchSpec {
            argv,
            env,
            prompt: PromptDelivery::Inline,
            agent_session_id: resume.map(str::to_owned),
        })
    }
}

/// Where the CLI keeps its sessions: `CLINE_DATA_DIR` (the project's or ao's) or
/// `~/.cline/data`, then `sessions`.
fn sessions_dir(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    let data = env
        .get("CLINE_DATA_DIR")
        .cloned()
        .or_else(|| std::env::var("CLINE_DATA_DIR").ok())
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".cline/data")))?;
    Some(data.join("sessions"))
}

/// What ao knows of the session from its launch.
fn state(scratch: &Path) -> Value {
    std::fs::read_to_string(scratch.join(STATE_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// The session's record: the one with this id, or, before its id is known, the newest
/// started in `workspace` since `since` (its id is then kept for the next readings).
fn record(ctx: &ActivityContext) -> Option<(String, Value)> {
    let mut known = state(&ctx.scratch_dir);
    let dir = PathBuf::from(known["sessions"].as_str()?);
    let id = ctx
        .agent_session_id
        .clone()
        .or_else(|| known["id"].as_str().map(str::to_owned));
    if let Some(id) =
        id.filter(|i| !i.is_empty() && !i.contains(['/', '\\']) && !i.starts_with('.'))
    {
        let text = std::fs::read_to_string(dir.join(&id).join(format!("{id}.json"))).ok()?;
        return Some((id, serde_json::from_str(&text).ok()?));
    }
    let workspace = ctx.workspace.to_string_lossy();
    let since = ctx.started_at.unwrap_or(0);
    let mut best: Option<(Timestamp, String, Value)> = None;
    for entry in std::fs::read_dir(&dir).ok()?.flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        let Ok(text) = std::fs::read_to_string(entry.path().join(format!("{id}.json"))) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let started = v["started_at"]
            .as_str()
            .and_then(ao_core::model::time::parse_rfc3339)
            .unwrap_or(0);
        // A second of slack: the CLI notes its start a moment after ao does.
        if v["cwd"] != *workspace || started + 1000 < since {
            continue;
        }
        if best.as_ref().is_none_or(|(t, _, _)| started > *t) {
            best = Some((started, id, v));
        }
    }
    let (_, id, v) = best?;
    known["id"] = Value::String(id.clone());
    let _ = std::fs::write(ctx.scratch_dir.join(STATE_FILE), known.to_string());
    Some((id, v))
}

/// What a dialog on the screen asks, if one is showing: its first-run choice of a
/// provider, or a tool's approval.
fn dialog(screen: &str) -> Option<String> {
    screen_line(screen, &["Connect a model provider to get started"])
        .or_else(|| screen_line(screen, &["Approve tool call?", "Cline needs permission"]))
}

#[async_trait]
impl Agent for Cline {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        Self::spec(ctx, None)
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        // npm's `cline` is the CLI's own binary, linked in at install.
        super::process_names(config, &[CLI.program, "node"])
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        let screen = ctx.recent_output.as_deref().unwrap_or_default();
        let Some((_, v)) = record(ctx) else {
            return Ok(match dialog(screen) {
                Some(q) => from_terminal(Activity::WaitingInput, Some(q)),
                None => from_terminal(Activity::Active, None),
            });
        };
        let activity = match v["status"].as_str().unwrap_or_default() {
            "running" => Activity::Active,
            "pending" => Activity::WaitingInput,
            _ => Activity::Ready,
        };
        let activity = match activity {
            Activity::Ready
                if ctx
                    .last_output_at
                    .is_some_and(|t| ctx.now - t >= ctx.idle_after_ms as i64) =>
            {
                Activity::Idle
            }
            a => a,
        };
        let detail = (activity == Activity::WaitingInput)
            .then(|| dialog(screen))
            .flatten();
        Ok(ActivityReport {
            activity,
            source: ActivitySource::SessionLog,
            last_at: ctx.last_output_at,
            detail,
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
        // Its record says neither what a question asks nor when the screen last moved.
        true
    }

    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        let Some((id, v)) = record(ctx) else {
            return Ok(AgentSessionInfo::default());
        };
        let meta = &v["metadata"];
        let usage = &meta["usage"];
        let tokens = usage["inputTokens"].as_u64().unwrap_or(0)
            + usage["outputTokens"].as_u64().unwrap_or(0);
        Ok(AgentSessionInfo {
            agent_session_id: Some(id),
            summary: meta["title"].as_str().map(|t| {
                t.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect()
            }),
            tokens: (tokens > 0).then_some(tokens),
            cost_usd: meta["totalCost"].as_f64().filter(|c| *c > 0.0),
        })
    }

    fn restore(&self, ctx: &LaunchContext, agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        Self::spec(ctx, Some(agent_session_id?)).ok()
    }
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Agent>, PluginError> {
    Ok(Arc::new(Cline))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::agent(
        NAME,
        CLI,
        ", permissionless only",
        Factory::Agent(Arc::new(build)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(permissions: Permission) -> LaunchContext {
        LaunchContext {
            session: "app-1".parse().unwrap(),
            project: "app".into(),
            workspace: std::env::temp_dir().join("ao-cline-test-ws"),
            prompt: "-fix it".into(),
            config: AgentConfig {
                permissions: Some(permissions),
                ..AgentConfig::default()
            },
            rules: None,
            scratch_dir: std::env::temp_dir().join("ao-cline-test"),
            hook_command: vec!["ao".into(), "hook".into(), "cline".into()],
        }
    }

    #[test]
    fn a_mode_that_would_run_in_the_hub_is_refused_with_the_way_out() {
        let err = Cline.launch(&ctx(Permission::Default)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("permissions: permissionless"), "{text}");
        let spec = Cline.launch(&ctx(Permission::Permissionless)).unwrap();
        assert_eq!(spec.argv, ["cline", "-i", "--yolo", "--", "-fix it"]);
    }

    #[test]
    fn its_approval_question_is_read_from_the_screen() {
        let screen = " Cline needs permission\n Approve tool call?\n run_commands\n";
        assert_eq!(dialog(screen).as_deref(), Some("Cline needs permission"));
        assert_eq!(dialog("❯ Ask anything..."), None);
        let first_run = "   Welcome to Cline\n   Connect a model provider to get started.\n │ ☺ Sign in with Cline │";
        assert_eq!(
            dialog(first_run).as_deref(),
            Some("Connect a model provider to get started.")
        );
    }
}
