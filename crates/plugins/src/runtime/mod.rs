//! Runtimes: where sessions run.

pub mod process;
pub mod tmux;
mod tmux_screen;
mod tmux_watch;
