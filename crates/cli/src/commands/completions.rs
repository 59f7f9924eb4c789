//! `ao completions SHELL`.

use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;
use std::process::ExitCode;

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "ao",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}
