//! The command line, defined once: help, parsing and completions all come from here.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Run a fleet of AI coding agents, each on one issue in its own git worktree and tmux session.
#[derive(Debug, Parser)]
#[command(name = "ao", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write agent-orchestrator.yaml for the git repository in DIR.
    Init(InitArgs),
    /// Check or describe the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Check tmux, git, the agent CLIs, GitHub auth and the store; say what to fix.
    Doctor(DoctorArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// `ao init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Ask nothing; use what was detected.
    #[arg(long)]
    pub auto: bool,
    /// Overwrite an existing agent-orchestrator.yaml.
    #[arg(long)]
    pub force: bool,
    /// A directory inside the repository (default: the current one).
    pub dir: Option<PathBuf>,
}

/// `ao config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate a config file; errors carry file:line:column.
    Validate {
        /// The file (default: the one ao would use here).
        file: Option<PathBuf>,
        /// Print the diagnostics as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of agent-orchestrator.yaml.
    Schema,
}

/// `ao plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List built-in and external plugins with slot, version and status.
    Ls {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ao doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ao completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
