//! `ao completions SHELL`: a script that completes commands and options, and project and
//! session ids, by asking `ao` itself as the user presses Tab.

use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_complete::env::{Bash, CompleteEnv, Elvish, EnvCompleter, Fish, Powershell, Zsh};
use std::process::ExitCode;

/// The variable the script sets when it calls `ao` back for completions.
pub const VAR: &str = "AO_COMPLETE";

/// Answers a completion call from the script, and exits, when this run is one.
pub fn answer_if_asked() {
    CompleteEnv::with_factory(Cli::command).var(VAR).complete();
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let shell: &dyn EnvCompleter = match args.shell {
        Shell::Bash => &Bash,
        Shell::Elvish => &Elvish,
        Shell::Fish => &Fish,
        Shell::PowerShell => &Powershell,
        Shell::Zsh => &Zsh,
        other => anyhow::bail!("no completion script for {other}"),
    };
    // The script calls this very binary back, so completion matches it.
    let exe = std::env::current_exe()?;
    let mut out = std::io::stdout().lock();
    shell.write_registration(VAR, "ao", "ao", &exe.to_string_lossy(), &mut out)?;
    Ok(ExitCode::SUCCESS)
}
