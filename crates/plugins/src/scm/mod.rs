//! Scms: where pull requests live.

pub mod github;
