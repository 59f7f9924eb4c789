//! The `opencode` agent: opencode (`opencode`), and the `kilo` agent: Kilo Code's CLI
//! (`kilo`, npm `@kilocode/cli`), a CLI built from opencode that takes the same config,
//! plugins and flags under its own names (`KILO_CONFIG_CONTENT`, `~/.config/kilo`).
//!
//! - Launch: the interactive TUI in the worktree with the task as `--prompt`. ao's
//!   settings go in through `OPENCODE_CONFIG_CONTENT`, merged over the user's own config
//!   without writing to it: a reporter plugin (a small ES module in the session's own
//!   directory), the permission mode, and the rules file as an instruction.
//! - Activity: the reporter sends each change of the session's state (busy, idle, a
//!   permission question) to `ao hook opencode`; the terminal is read only before its
//!   first report.
//! - Session info: the reporter keeps the session's id, title, tokens and cost in a file.
//! - Restore: `opencode --session ID`.

use super::{from_report, from_terminal, model_args, screen_line, write_file};
use ao_core::config::{AgentConfig, Permission};
use ao_core::model::{Activity, Timestamp};
use ao_core::plugin::{
    ActivityContext, ActivityReport, Agent, AgentSessionInfo, LaunchContext, LaunchSpec,
    PluginError, PromptDelivery,
};
use ao_core::registry::{AgentCli, Factory, PluginEntry, SectionRef};
use ao_core::store::AgentReport;
use async_trait::async_trait;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The reporter plugin, with `__AO_HOOK__` and `__AO_SUMMARY__` to fill in.
const REPORTER: &str = include_str!("assets/opencode-reporter.js");

/// What differs between opencode and the CLIs built from it.
#[derive(Debug)]
pub struct Flavor {
    /// The agent's name.
    name: &'static str,
    /// The CLI, its program and how to install it.
    cli: AgentCli,
    /// The names its process may have once it runs (its launcher may be a Node.js
    /// script that keeps node's name, and its binary have a name of its own).
    process_names: &'static [&'static str],
    /// The variable it reads inline config from, merged over the user's files.
    config_var: &'static str,
    /// The variable that turns off its self-update.
    no_update_var: &'static str,
}

/// opencode.
pub const OPENCODE: Flavor = Flavor {
    name: "opencode",
    cli: AgentCli {
        name: "opencode",
        program: "opencode",
        install: "npm install -g opencode-ai",
    },
    process_names: &["opencode"],
    config_var: "OPENCODE_CONFIG_CONTENT",
    no_update_var: "OPENCODE_DISABLE_AUTOUPDATE",
};

/// Kilo Code's CLI.
pub const KILO: Flavor = Flavor {
    name: "kilo",
    cli: AgentCli {
        name: "Kilo Code CLI",
        program: "kilo",
        install: "npm install -g @kilocode/cli",
    },
    process_names: &["kilo", "node", ".kilo"],
    config_var: "KILO_CONFIG_CONTENT",
    no_update_var: "KILO_DISABLE_AUTOUPDATE",
};

/// opencode, or a CLI built from it.
#[derive(Debug)]
pub struct OpenCode(pub &'static Flavor);

impl Default for OpenCode {
    fn default() -> Self {
        OpenCode(&OPENCODE)
    }
}

impl OpenCode {
    /// The CLI is found on PATH; `agentConfig.command` belongs to the `command` agent.
    fn program(&self) -> String {
        self.0.cli.program.into()
    }

    /// The environment every start and resume share: the reporter, permissions, rules.
    fn env(&self, ctx: &LaunchContext) -> Result<BTreeMap<String, String>, PluginError> {
        let name = self.0.name;
        let config_var = self.0.config_var;
        let reporter = ctx.scratch_dir.join("ao-opencode-reporter.js");
        let script = REPORTER
            .replace("__AO_HOOK__", &json!(ctx.hook_command).to_string())
            .replace(
                "__AO_SUMMARY__",
                &json!(summary_path(&ctx.scratch_dir)).to_string(),
            );
        write_file(name, &reporter, &script)?;
        let mut env: BTreeMap<String, String> = ctx.config.env.clone().into_iter().collect();
        // The user's own inline config, if any, is kept; ao's settings go over it.
        let mut config = env
            .get(config_var)
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        push(
            &mut config,
            "plugin",
            json!(format!("file://{}", reporter.to_string_lossy())),
        );
        config["permission"] = permission(ctx.permissions());
        if let Some(rules) = &ctx.rules {
            let file = ctx.scratch_dir.join("rules.md");
            write_file(name, &file, rules)?;
            push(&mut config, "instructions", json!(file.to_string_lossy()));
        }
        env.insert(config_var.into(), config.to_string());
        // A session's binary is not replaced under it.
        env.entry(self.0.no_update_var.into())
            .or_insert_with(|| "1".into());
        Ok(env)
    }
}

/// Appends to an array setting, creating it.
fn push(config: &mut Value, key: &str, value: Value) {
    match config[key].as_array_mut() {
        Some(list) => list.push(value),
        None => config[key] = json!([value]),
    }
}

/// The project's permission mode as opencode's `permission` setting.
fn permission(p: Permission) -> Value {
    match p {
        Permission::Permissionless => json!({"*": "allow"}),
        Permission::Default => json!({"edit": "ask", "bash": "ask", "webfetch": "ask"}),
        Permission::AutoEdit => json!({"edit": "allow", "bash": "ask", "webfetch": "ask"}),
        Permission::Suggest => json!({"edit": "deny", "bash": "ask", "webfetch": "ask"}),
    }
}

fn summary_path(scratch: &Path) -> PathBuf {
    scratch.join("opencode-session.json")
}

/// The TUI's footer under its input box, drawn once it takes input.
const INPUT_FOOTER: &str = "ctrl+p commands";

/// The reporter's first report, sent as opencode loads (no session yet).
fn is_start(r: &AgentReport) -> bool {
    r.activity == Activity::Ready && r.agent_session_id.is_none()
}

/// What a question on the screen asks, before the reporter has said anything.
fn dialog(screen: &str) -> Option<String> {
    screen
        .contains("Permission required")
        .then(|| screen_line(screen, &["Permission required"]))
        .flatten()
}

#[async_trait]
impl Agent for OpenCode {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        let mut argv = vec![self.program()];
        argv.extend(model_args("--model", ctx.config.model.as_ref()));
        if !ctx.prompt.is_empty() {
            // One argv element: the task is never parsed by a shell or as an option.
            argv.push(format!("--prompt={}", ctx.prompt));
        }
        Ok(LaunchSpec {
            argv,
            env: self.env(ctx)?,
            prompt: PromptDelivery::Inline,
            agent_session_id: None,
        })
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        super::process_names(config, self.0.process_names)
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        let screen = ctx.recent_output.as_deref().unwrap_or_default();
        // Refused for a usage or rate limit, opencode waits out the provider's
        // retry-after with its turn open: "… usage limit … [retrying in 1m 8s attempt #1]".
        if let Some((line, wait_ms)) = usage_limit(screen) {
            return Ok(super::limited(
                ao_core::plugin::ActivitySource::Terminal,
                line,
                Some(ctx.now + wait_ms),
            ));
        }
        match &ctx.report {
            // The reporter loads before the TUI takes input: until its input box is up
            // the agent is still starting.
            Some(r) if is_start(r) && !screen.contains(INPUT_FOOTER) => {
                return Ok(from_terminal(Activity::Active, None));
            }
            Some(r) => return Ok(from_report(r, ctx.idle_after_ms, ctx.now)),
            None => {}
        }
        Ok(match dialog(screen) {
            Some(q) => from_terminal(Activity::WaitingInput, Some(q)),
            None if screen.contains("esc interrupt") => from_terminal(Activity::Active, None),
            None => from_terminal(Activity::Ready, None),
        })
    }

    fn confirms_start(&self) -> bool {
        true
    }

    fn confirms_delivery(&self) -> bool {
        true
    }

    fn wants_terminal(&self, ctx: &ActivityContext) -> bool {
        // A turn in progress may be one a usage limit holds: only the screen says so.
        ctx.report
            .as_ref()
            .is_none_or(|r| is_start(r) || r.activity == Activity::Active)
    }

    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        let summary: Value = std::fs::read_to_string(summary_path(&ctx.scratch_dir))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let from_report = ctx.report.as_ref().and_then(|r| r.agent_session_id.clone());
        Ok(AgentSessionInfo {
            agent_session_id: summary["id"].as_str().map(str::to_owned).or(from_report),
            summary: summary["title"].as_str().map(str::to_owned),
            tokens: summary["tokens"].as_u64(),
            cost_usd: summary["cost"].as_f64(),
        })
    }

    fn restore(&self, ctx: &LaunchContext, agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        let id = agent_session_id?;
        let mut argv = vec![self.program()];
        argv.extend(model_args("--model", ctx.config.model.as_ref()));
        argv.push(format!("--session={id}"));
        Some(LaunchSpec {
            argv,
            env: self.env(ctx).ok()?,
            prompt: PromptDelivery::Inline,
            agent_session_id: Some(id.to_owned()),
        })
    }

    fn hook_report(&self, args: &[String], stdin: &str, now: Timestamp) -> Option<AgentReport> {
        let payload: Value = serde_json::from_str(stdin).unwrap_or(Value::Null);
        let (activity, detail) = match args.first()?.as_str() {
            "start" | "idle" => (Activity::Ready, None),
            "busy" => (Activity::Active, None),
            "permission" => {
                let what = payload["permission"].as_str().unwrap_or("a tool");
                let patterns: Vec<&str> = payload["patterns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let detail = match payload["question"].as_str() {
                    Some(q) => q.to_owned(),
                    None if patterns.is_empty() => format!("asks permission to use {what}"),
                    None => format!("asks permission to use {what}: {}", patterns.join(" ")),
                };
                (Activity::WaitingInput, Some(detail))
            }
            _ => return None,
        };
        Some(AgentReport {
            activity,
            detail,
            at: now,
            agent_session_id: payload["sessionID"].as_str().map(str::to_owned),
            log_path: None,
        })
    }
}

/// The registry entry of `flavor`.
pub fn entry(flavor: &'static Flavor) -> PluginEntry {
    let build = move |_: &SectionRef<'_>| -> Result<Arc<dyn Agent>, PluginError> {
        Ok(Arc::new(OpenCode(flavor)))
    };
    crate::agent(flavor.name, flavor.cli, "", Factory::Agent(Arc::new(build)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_become_states() {
        let at = 7;
        let busy = OpenCode::default()
            .hook_report(&["busy".into()], r#"{"sessionID":"ses_1"}"#, at)
            .unwrap();
        assert_eq!(busy.activity, Activity::Active);
        assert_eq!(busy.agent_session_id.as_deref(), Some("ses_1"));
        let asked = OpenCode::default()
            .hook_report(
                &["permission".into()],
                r#"{"sessionID":"ses_1","permission":"bash","patterns":["echo hi > out.txt"]}"#,
                at,
            )
            .unwrap();
        assert_eq!(asked.activity, Activity::WaitingInput);
        assert_eq!(
            asked.detail.as_deref(),
            Some("asks permission to use bash: echo hi > out.txt")
        );
        assert!(
            OpenCode::default()
                .hook_report(&["other".into()], "", at)
                .is_none()
        );
    }

    #[test]
    fn user_inline_config_is_kept_under_ao_settings() {
        let mut config = json!({"plugin": ["theirs"], "model": "x/y"});
        push(&mut config, "plugin", json!("ours"));
        assert_eq!(config["plugin"], json!(["theirs", "ours"]));
        assert_eq!(config["model"], "x/y");
    }
}

/// The usage or rate limit opencode is waiting out, if its status line shows one: the
/// provider's message, and how long until its retry ("[retrying in 1m 8s attempt #1]").
fn usage_limit(screen: &str) -> Option<(String, i64)> {
    let line = screen.lines().rev().find(|l| l.contains("[retrying in "))?;
    let (before, after) = line.split_once("[retrying in ")?;
    let message = before
        .trim()
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim()
        .to_owned();
    let lower = message.to_ascii_lowercase();
    if !(lower.contains("usage limit") || lower.contains("rate limit")) {
        return None;
    }
    let wait = after.split(" attempt").next()?.trim();
    let mut ms = 0i64;
    for part in wait.split_whitespace() {
        let (n, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit())?);
        let n: i64 = n.parse().ok()?;
        ms += n * match unit {
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1000,
            _ => return None,
        };
    }
    Some((message, ms))
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn a_limit_opencode_waits_out_is_read_with_its_wait() {
        let screen = "  ┃  Build · Test model Scripted\n   ⬝⬝⬝⬝⬝⬝⬝⬝ The usage limit has been reached [retrying in 1m 8s attempt #1]     esc interrupt\n";
        assert_eq!(
            usage_limit(screen),
            Some(("The usage limit has been reached".to_owned(), 68_000))
        );
        // Other errors it retries are not limits.
        assert_eq!(
            usage_limit(
                "⬝⬝ Cannot connect to API: Unable to connect. [retrying in 12s attempt #4]"
            ),
            None
        );
    }
}
