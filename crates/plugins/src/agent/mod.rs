//! Agents: the AI coding CLIs.

pub mod aider;
pub mod claude_code;
pub mod codex;
pub mod command;
pub mod opencode;
