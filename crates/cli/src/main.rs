//! `ao`: run a fleet of AI coding agents, each in its own git worktree and tmux session.

mod cli;
mod commands;
mod complete;
mod detect;
mod error;
mod signals;
mod ui;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Output piped into `head` or `true` ends ao quietly, as it ends other Unix tools,
    // instead of a panic about a broken pipe.
    #[cfg(unix)]
    // SAFETY: restores the default action of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    commands::completions::answer_if_asked();
    let args = cli::Cli::parse();
    // The host sets up its own log.
    if !matches!(args.command, cli::Command::Start { .. }) {
        init_tracing();
    }
    match commands::run(args) {
        Ok(code) => code,
        Err(err) => error::report(&err),
    }
}

/// Logs go to stderr, at the level `AO_LOG` names (error, warn, info, debug, trace).
fn init_tracing() {
    let level = std::env::var("AO_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::WARN);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(ui::colour_enabled_stderr())
        .init();
}
