//! `ao doctor`: checks what ao needs and says what to fix. Exits 1 when something
//! required is missing.

use crate::cli::DoctorArgs;
use crate::detect;
use crate::ui::Paint;
use ao_core::config::{ConfigError, LoadedConfig, find_config, load_file, process_env};
use ao_core::model::{Event, EventKind, Priority, now_ms};
use ao_core::plugin::external::ExternalState;
use ao_core::plugin::{Notification, Slot};
use ao_core::registry::{PluginRegistry, SectionRef};
use ao_core::store::{SCHEMA_VERSION, Store};
use serde::Serialize;
use std::collections::BTreeSet;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    check: String,
    status: Status,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

fn check(name: &str, status: Status, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        check: name.to_owned(),
        status,
        detail: detail.into(),
        fix: fix.map(str::to_owned),
    }
}

/// The GitHub hosts the projects use (their `github` tracker's or scm's section), each
/// with the repositories read on it, checked one host at a time.
fn github_checks(
    loaded: &LoadedConfig,
    projects: &[ao_core::config::ResolvedProject],
) -> Vec<Check> {
    let mut hosts: Vec<(
        ao_plugins::github::endpoint::Endpoints,
        Vec<(String, String)>,
    )> = Vec::new();
    let mut checks = Vec::new();
    for p in projects {
        let slot = if p.tracker == "github" {
            "tracker"
        } else if p.scm == "github" {
            "scm"
        } else {
            continue;
        };
        let node = loaded.tree.at(&["projects", &p.id, slot]);
        let section = SectionRef {
            file: &loaded.file,
            node,
            loc: node.map(|n| n.loc).unwrap_or_default(),
            repo: p.repo.as_deref(),
        };
        let endpoints = match ao_plugins::tracker::github::section_endpoints(&section) {
            Ok(e) => e,
            Err(e) => {
                checks.push(check(
                    "github",
                    Status::Fail,
                    format!("project `{}`: {e}", p.id),
                    None,
                ));
                continue;
            }
        };
        let repos = match hosts.iter_mut().find(|(e, _)| *e == endpoints) {
            Some((_, repos)) => repos,
            None => {
                hosts.push((endpoints, Vec::new()));
                &mut hosts.last_mut().expect("pushed").1
            }
        };
        if let Some(repo) = &p.repo {
            repos.push((p.id.clone(), repo.clone()));
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            checks.push(check(
                "github",
                Status::Fail,
                format!("cannot start ao's async runtime: {e}"),
                None,
            ));
            return checks;
        }
    };
    for (endpoints, repos) in hosts {
        let gh = ao_plugins::github::GitHub::new(endpoints);
        for f in rt.block_on(ao_plugins::github::doctor::check(&gh, &repos)) {
            use ao_plugins::github::doctor::Level;
            checks.push(Check {
                check: f.name,
                status: match f.level {
                    Level::Ok => Status::Ok,
                    Level::Warn => Status::Warn,
                    Level::Fail => Status::Fail,
                },
                detail: f.detail,
                fix: f.fix,
            });
        }
    }
    checks
}

pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let mut registry = ao_plugins::builtin_registry();
    let mut checks = Vec::new();

    // The config decides which tools are required.
    let config: Option<LoadedConfig> = match super::cwd().map(|cwd| find_config(&cwd, &process_env))
    {
        Ok(Ok(path)) => match load_file(&path, &registry, &process_env) {
            Ok(loaded) => {
                let n = loaded.config.projects.len();
                let warnings = loaded.warnings.len();
                checks.push(check(
                    "config",
                    if warnings == 0 {
                        Status::Ok
                    } else {
                        Status::Warn
                    },
                    format!(
                        "{} ({n} project{}{})",
                        path.display(),
                        if n == 1 { "" } else { "s" },
                        if warnings == 0 {
                            String::new()
                        } else {
                            format!(", {warnings} warning(s)")
                        }
                    ),
                    (warnings > 0).then_some("run `ao config validate` to see the warnings"),
                ));
                Some(loaded)
            }
            Err(ConfigError { diagnostics }) => {
                let first = diagnostics
                    .iter()
                    .find(|d| d.is_error())
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                checks.push(check(
                    "config",
                    Status::Fail,
                    format!(
                        "{} does not load: {}",
                        path.display(),
                        first.lines().next().unwrap_or("")
                    ),
                    Some("run `ao config validate` for every error with its line"),
                ));
                None
            }
        },
        _ => {
            checks.push(check(
                "config",
                Status::Fail,
                "no agent-orchestrator.yaml here, in a parent directory, $AO_HOME or $XDG_CONFIG_HOME",
                Some("run `ao init` in your repository"),
            ));
            None
        }
    };
    let projects = config
        .as_ref()
        .map(|c| c.projects(&process_env))
        .unwrap_or_default();

    // External plugins: each loaded and checked, or refused with the reason.
    if let Some(loaded) = &config {
        for s in super::load_externals(loaded, &mut registry) {
            let name = format!("plugin {}", s.name);
            checks.push(match s.state {
                ExternalState::Loaded {
                    slot,
                    version,
                    sdk_version,
                    ..
                } => check(
                    &name,
                    Status::Ok,
                    format!("{slot} {version} (ao-plugin-sdk {sdk_version})"),
                    None,
                ),
                ExternalState::Refused { why } => check(
                    &name,
                    Status::Fail,
                    format!("not loaded: {why}"),
                    Some("fix the plugin or its entry under `plugins:`"),
                ),
                ExternalState::Disabled => {
                    check(&name, Status::Ok, "disabled (enabled: false)", None)
                }
                ExternalState::Ignored => check(
                    &name,
                    Status::Warn,
                    "ignored: ao loads shared libraries, not packages",
                    Some("build it with ao-plugin-sdk and give its `path`"),
                ),
            });
        }
    }

    match detect::which("git") {
        Some(git) => checks.push(check(
            "git",
            Status::Ok,
            detect::version_line(&git, &["--version"]).unwrap_or_else(|| git.display().to_string()),
            None,
        )),
        None => checks.push(check(
            "git",
            Status::Fail,
            "not found on PATH",
            Some("install git"),
        )),
    }

    let tmux_needed = projects.is_empty() || projects.iter().any(|p| p.runtime == "tmux");
    match detect::which("tmux") {
        Some(tmux) => checks.push(check(
            "tmux",
            Status::Ok,
            detect::version_line(&tmux, &["-V"]).unwrap_or_else(|| tmux.display().to_string()),
            None,
        )),
        None => checks.push(check(
            "tmux",
            if tmux_needed {
                Status::Fail
            } else {
                Status::Warn
            },
            "not found on PATH",
            Some("install tmux (apt-get install tmux, or brew install tmux)"),
        )),
    }

    // The `command` agent's program is each project's own.
    for p in projects.iter().filter(|p| p.agent == "command") {
        let name = format!("agent command ({})", p.id);
        match p.agent_config.command.as_ref().and_then(|c| c.first()) {
            None => checks.push(check(
                &name,
                Status::Fail,
                "no agentConfig.command".to_owned(),
                Some("set agentConfig.command to the CLI to run"),
            )),
            Some(program) => {
                match ao_core::exec::find_program(program, std::env::var("PATH").ok().as_deref()) {
                    Some(path) => {
                        checks.push(check(&name, Status::Ok, path.display().to_string(), None))
                    }
                    None => checks.push(check(
                        &name,
                        Status::Fail,
                        format!("`{program}` is not on PATH"),
                        Some("install it, or give its path in agentConfig.command"),
                    )),
                }
            }
        }
    }
    // Claude Code refuses its permission bypass as root unless told it is in a sandbox:
    // say so before a spawn finds out. A Claude Code that is not installed is reported
    // missing below, once.
    let claude_installed = registry
        .agent_cli("claude-code")
        .is_some_and(|cli| detect::which(cli.program).is_some());
    if is_root() && claude_installed {
        for p in projects.iter().filter(|p| p.agent == "claude-code") {
            let bypass = matches!(
                p.agent_config.permissions.unwrap_or_default(),
                ao_core::config::Permission::Permissionless
            );
            let sandbox = p.agent_config.env.contains_key("IS_SANDBOX");
            if bypass && !sandbox {
                checks.push(check(
                    &format!("agent claude-code ({})", p.id),
                    Status::Fail,
                    "ao runs as root, and Claude Code refuses permissions: permissionless (its bypass flag) as root".to_owned(),
                    Some("run ao as an ordinary user, or, on a machine that is a sandbox, set agentConfig: { env: { IS_SANDBOX: \"1\" } } (or choose another permissions mode)"),
                ));
            }
        }
    }
    let agents: BTreeSet<&str> = projects.iter().map(|p| p.agent.as_str()).collect();
    for agent in &agents {
        let Some(cli) = registry.agent_cli(agent) else {
            continue;
        };
        let program = cli.program;
        match detect::which(program) {
            Some(path) => checks.push(check(
                &format!("agent {agent}"),
                Status::Ok,
                detect::version_line(&path, &["--version"])
                    .map(|v| format!("{program}: {v}"))
                    .unwrap_or_else(|| path.display().to_string()),
                None,
            )),
            None => checks.push(check(
                &format!("agent {agent}"),
                Status::Fail,
                format!("`{program}` is not on PATH"),
                Some(cli.install),
            )),
        }
    }

    if let Some(loaded) = &config {
        checks.extend(github_checks(loaded, &projects));
    }

    let home = super::home();
    let db = home.join(ao_core::store::DB_FILE);
    // A look makes no store: the first spawn does.
    let opened = db.exists().then(|| Store::open(&home));
    match &opened {
        None => checks.push(check(
            "store",
            Status::Ok,
            format!("none yet: the first `ao spawn` makes {}", db.display()),
            None,
        )),
        Some(Ok(store)) => checks.push(check(
            "store",
            Status::Ok,
            format!("{} (schema v{SCHEMA_VERSION})", store.path().display()),
            None,
        )),
        Some(Err(e)) => checks.push(Check {
            check: "store".to_owned(),
            status: Status::Fail,
            detail: e.to_string(),
            fix: e.hint().map(str::to_owned),
        }),
    }

    // GitHub's webhooks: each path, its secret, and when a verified delivery last came.
    if let Some(loaded) = &config {
        let (routes, _) = ao_web::webhook::routes(&loaded.config, &|v| std::env::var(v).ok());
        let store = match &opened {
            Some(Ok(store)) => Some(store),
            _ => None,
        };
        for r in &routes {
            // The newest verified delivery of the projects on this path.
            let last = r
                .projects
                .iter()
                .filter_map(|p| {
                    let (v, _) = store?
                        .scm_state(&ao_core::session::last_delivery_key(p))
                        .ok()??;
                    serde_json::from_str::<ao_core::session::Nudge>(&v).ok()
                })
                .max_by_key(|n| n.at);
            let heard = match &last {
                Some(n) => format!(
                    "the last verified delivery: {} on {} at {}",
                    n.event,
                    n.repo,
                    ao_core::model::time::utc_clock(n.at)
                ),
                None => "no verified delivery yet".to_owned(),
            };
            let place = format!("{} ({})", r.path, r.projects.join(", "));
            checks.push(if r.unset.is_empty() {
                check("webhook", Status::Ok, format!("{place}: {heard}"), None)
            } else {
                let vars: Vec<String> = r.unset.iter().map(|v| format!("${v}")).collect();
                check(
                    "webhook",
                    Status::Warn,
                    format!(
                        "{place}: {} not set in this shell, so a host started from it refuses those projects' deliveries; {heard}",
                        vars.join(", ")
                    ),
                    Some("export the secret GitHub's webhook was made with before `ao start`"),
                )
            });
        }
    }

    // Plugins the config uses that this build cannot run yet.
    let mut used: BTreeSet<(Slot, String)> = BTreeSet::new();
    for p in &projects {
        used.insert((Slot::Runtime, p.runtime.clone()));
        used.insert((Slot::Agent, p.agent.clone()));
        used.insert((Slot::Workspace, p.workspace.clone()));
    }
    let missing: Vec<String> = used
        .iter()
        .filter(|(slot, name)| registry.get(*slot, name).is_some_and(|e| !e.is_available()))
        .map(|(slot, name)| format!("{slot} {name}"))
        .collect();
    if !missing.is_empty() {
        checks.push(check(
            "plugins",
            Status::Warn,
            format!("not in this build of ao yet: {}", missing.join(", ")),
            Some("sessions cannot be spawned with them until a later ao release"),
        ));
    }

    if args.test_notify {
        match &config {
            Some(loaded) => checks.extend(test_notify(loaded, &registry)),
            None => checks.push(check(
                "notify",
                Status::Fail,
                "no config, so no notifiers to test",
                Some("run `ao init` in your repository"),
            )),
        }
    }

    // A check quotes config values (a plugin's name, a path): none from the environment.
    if let Some(loaded) = &config {
        for c in &mut checks {
            c.check = loaded.redact(&c.check);
            c.detail = loaded.redact(&c.detail);
            c.fix = c.fix.as_deref().map(|f| loaded.redact(f));
        }
    }
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "ok": !failed, "checks": checks }))?
        );
    } else {
        let paint = Paint::stdout();
        let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
        for c in &checks {
            let tag = match c.status {
                Status::Ok => paint.green("ok  "),
                Status::Warn => paint.yellow("warn"),
                Status::Fail => paint.red("FAIL"),
            };
            println!("{tag}  {:width$}  {}", c.check, c.detail);
            if let Some(fix) = &c.fix {
                println!("      {:width$}  {} {fix}", "", paint.dim("fix:"));
            }
        }
        if failed {
            println!("\nSomething ao needs is missing; fix the FAIL lines above.");
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What `ao notify` would reach, priority by priority, as one check: ao's default
/// routing (`desktop` for urgent and action) included, and the configured notifiers no
/// priority reaches named.
fn routing_check(loaded: &LoadedConfig, dispatcher: &ao_core::notify::Dispatcher) -> Check {
    // Priorities with the same notifiers together, in priority order.
    let mut groups: Vec<(Vec<String>, Vec<&str>)> = Vec::new();
    for p in Priority::ALL {
        let to = dispatcher.route(p);
        match groups.iter_mut().find(|(names, _)| *names == to) {
            Some((_, priorities)) => priorities.push(p.as_str()),
            None => groups.push((to, vec![p.as_str()])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(names, priorities)| {
            let to = if names.is_empty() {
                "none".to_owned()
            } else if dispatcher.routing_is_default() {
                format!(
                    "{} (ao's default: no notificationRouting or defaults.notifiers)",
                    names.join(", ")
                )
            } else {
                names.join(", ")
            };
            format!("{}: {to}", priorities.join(", "))
        })
        .collect();
    let routed = dispatcher.routed();
    let unreached: Vec<&str> = loaded
        .config
        .notifiers
        .keys()
        .filter(|k| !routed.contains(k))
        .map(String::as_str)
        .collect();
    let mut detail = parts.join("; ");
    if routed.is_empty() {
        detail.push_str("; `ao notify` and the host send nothing");
    }
    if !unreached.is_empty() {
        detail.push_str(&format!(
            "; configured, but reached by no priority: {}",
            unreached.join(", ")
        ));
    }
    let warn = routed.is_empty() || !unreached.is_empty();
    check(
        "notify routing",
        if warn { Status::Warn } else { Status::Ok },
        detail,
        warn.then_some(
            "name the notifiers each priority goes to under `notificationRouting` (or all of them in `defaults.notifiers`)",
        ),
    )
}

/// Sends one test event through every notifier `ao notify` would use (the routing in
/// force, ao's default `desktop` included) and every configured one, all at once (each
/// bounded by its own time-out), and reports each one's result: the outcome `ao notify`
/// gets.
fn test_notify(loaded: &LoadedConfig, registry: &PluginRegistry) -> Vec<Check> {
    let dispatcher = ao_core::notify::Dispatcher::new(loaded, registry);
    let mut checks = vec![routing_check(loaded, &dispatcher)];
    let mut names = dispatcher.routed();
    for key in loaded.config.notifiers.keys() {
        if !names.contains(key) {
            names.push(key.clone());
        }
    }
    // A notifier that could not be made ready is reported with what to do; one only not
    // in this build is sent nothing.
    names.retain(|name| {
        let Some(u) = dispatcher.unready().iter().find(|u| &u.name == name) else {
            return true;
        };
        checks.push(if u.planned {
            check(
                &format!("notify {}", u.name),
                Status::Warn,
                format!("{}; nothing sent", u.why),
                None,
            )
        } else {
            check(
                &format!("notify {}", u.name),
                Status::Fail,
                u.why.clone(),
                Some("fix the notifier's section, or its plugin's entry under `plugins:`"),
            )
        });
        false
    });
    let notification = Notification {
        title: "ao test notification".to_owned(),
        event: Event {
            id: 0,
            at: now_ms(),
            project: String::new(),
            session: None,
            priority: Priority::Info,
            kind: EventKind::Test,
            message: "A test notification from `ao doctor --test-notify`: this notifier works."
                .to_owned(),
        },
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            checks.push(check(
                "notify",
                Status::Fail,
                format!("cannot start ao's async runtime: {e}"),
                None,
            ));
            return checks;
        }
    };
    for (name, outcome) in runtime.block_on(dispatcher.send(&notification, &names)) {
        let (ok, line) = super::notify::describe(&outcome);
        checks.push(check(
            &format!("notify {name}"),
            if ok { Status::Ok } else { Status::Fail },
            line,
            None,
        ));
    }
    checks
}

#[cfg(unix)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
fn is_root() -> bool {
    false
}
