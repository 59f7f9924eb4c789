//! Trackers: where tasks come from.

pub mod github;
pub mod prompt;
