//! One module per command.

pub mod completions;
mod config;
mod dashboard;
mod doctor;
mod events;
mod hook;
mod host;
mod init;
mod notify;
mod plugin;
mod project;
mod session;
pub mod tui;

use crate::cli::{Cli, Command};
use crate::error::UserError;
use ao_core::config::{LoadedConfig, ao_home, find_config, load_file, process_env};
use ao_core::plugin::external::{self, ExternalState, ExternalStatus};
use ao_core::registry::PluginRegistry;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Config(cmd) => config::run(cmd),
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Project(cmd) => project::run(cmd),
        Command::Doctor(args) => doctor::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Notify(args) => notify::run(args),
        Command::Events(args) => events::run(args),
        Command::Spawn(args) => session::spawn(args),
        Command::BatchSpawn { project, issues } => session::batch_spawn(project, issues),
        Command::Update => host::update(),
        Command::ReviewCheck { project, dry_run } => session::review_check(project, dry_run),
        Command::Import {
            dry_run,
            from,
            json,
        } => session::import(from, dry_run, json),
        Command::Acknowledge { session, note } => {
            session::report(session, "started", note, None, None)
        }
        Command::Report {
            state,
            session,
            note,
            pr_url,
            pr_number,
        } => {
            let Some(known) = ao_core::session::report_state(&state) else {
                return Err(
                    UserError::usage(format!("`{state}` is not a state ao knows"))
                        .hint(format!(
                            "states: {}",
                            ao_core::session::REPORT_STATES
                                .iter()
                                .map(|s| s.replace('_', "-"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                        .into(),
                );
            };
            session::report(session, known, note, pr_url, pr_number)
        }
        Command::Status(args) => session::status(args),
        Command::Send(args) => session::send(args),
        Command::Attach { session } => session::attach(&session),
        Command::Session(cmd) => session::run(cmd),
        Command::Issue(cmd) => session::issue(cmd),
        Command::Hook { agent, args } => Ok(hook::run(&agent, &args)),
        Command::Start {
            projects,
            detach,
            no_orchestrator,
            port,
            no_dashboard,
        } => host::start(
            &projects,
            detach,
            !no_orchestrator,
            host::DashboardFlags { port, no_dashboard },
        ),
        Command::Orchestrator { project } => host::orchestrator(project.as_deref()),
        Command::Stop { all } => host::stop(all),
        Command::Open { sessions } => session::open(&sessions),
        Command::Dashboard { no_qr, no_open } => dashboard::run(no_qr, no_open),
        Command::Tui(args) => tui::run(args),
        Command::Launch { file } => {
            let message = ao_plugins::launch::exec_launch_file(&file);
            eprintln!("{message}");
            Ok(ExitCode::from(127))
        }
    }
}

/// ao's home: `$AO_HOME`; inside a session's workspace, the home it was spawned with;
/// else `~/.agent-orchestrator`.
pub fn home() -> PathBuf {
    if std::env::var_os("AO_HOME").is_none_or(|h| h.is_empty())
        && let Ok(cwd) = std::env::current_dir()
        && let Some(mark) = ao_core::config::session_mark(&cwd)
    {
        return mark.home;
    }
    ao_home(&process_env)
}

/// The working directory, or a clear error.
fn cwd() -> anyhow::Result<PathBuf> {
    std::env::current_dir()
        .map_err(|e| UserError::failed(format!("cannot read the current directory: {e}")).into())
}

/// Finds the config the way every command does.
pub fn locate_config() -> anyhow::Result<PathBuf> {
    let cwd = cwd()?;
    // Inside a session's workspace, the config it was spawned with comes before any file
    // found walking up (a committed one would point `path: .` at the worktree itself).
    if std::env::var_os("AO_CONFIG_PATH").is_none()
        && let Some(mark) = ao_core::config::session_mark(&cwd)
        && mark.config.is_file()
    {
        return Ok(mark.config);
    }
    find_config(&cwd, &process_env).map_err(|e| {
        UserError::usage(e.to_string())
            .hint("run `ao init` in your repository, or set AO_CONFIG_PATH to the file")
            .into()
    })
}

fn print_warnings(loaded: &LoadedConfig) {
    let paint = crate::ui::Paint::stderr();
    for w in &loaded.warnings {
        eprintln!("{}", crate::ui::render_diagnostic(w, &paint));
    }
}

/// A config with its external plugins loaded into the registry beside the built-ins, as
/// every command that runs plugins needs it. Config warnings and plugins that were not
/// loaded are reported on standard error.
pub(crate) fn load_with_plugins(
    path: &Path,
) -> anyhow::Result<(LoadedConfig, PluginRegistry, Vec<ExternalStatus>)> {
    let mut registry = ao_plugins::builtin_registry();
    let loaded = load_file(path, &registry, &process_env)?;
    print_warnings(&loaded);
    let statuses = load_externals(&loaded, &mut registry);
    let paint = crate::ui::Paint::stderr();
    for s in &statuses {
        if let ExternalState::Refused { why } = &s.state {
            eprintln!(
                "{} plugin `{}` was not loaded: {}",
                paint.yellow("warning:"),
                loaded.redact(&s.name),
                loaded.redact(why)
            );
        }
    }
    Ok((loaded, registry, statuses))
}

/// Loads the config's external plugins into `registry`; events about them go to the store.
fn load_externals(loaded: &LoadedConfig, registry: &mut PluginRegistry) -> Vec<ExternalStatus> {
    external::load(
        loaded,
        registry,
        &process_env,
        external::store_events(home()),
    )
}
