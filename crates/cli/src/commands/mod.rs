//! One module per command.

mod completions;
mod config;
mod doctor;
mod hook;
mod init;
mod plugin;
mod session;

use crate::cli::{Cli, Command};
use crate::error::UserError;
use ao_core::config::{LoadedConfig, find_config, process_env};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Config(cmd) => config::run(cmd),
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Doctor(args) => doctor::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Spawn(args) => session::spawn(args),
        Command::Status(args) => session::status(args),
        Command::Send(args) => session::send(args),
        Command::Attach { session } => session::attach(&session),
        Command::Session(cmd) => session::run(cmd),
        Command::Hook { agent, args } => Ok(hook::run(&agent, &args)),
        Command::Launch { file } => {
            let message = ao_plugins::launch::exec_launch_file(&file);
            eprintln!("{message}");
            Ok(ExitCode::from(127))
        }
    }
}

/// The working directory, or a clear error.
fn cwd() -> anyhow::Result<PathBuf> {
    std::env::current_dir()
        .map_err(|e| UserError::failed(format!("cannot read the current directory: {e}")).into())
}

/// Finds the config the way every command does.
fn locate_config() -> anyhow::Result<PathBuf> {
    find_config(&cwd()?, &process_env).map_err(|e| {
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
