//! The `github` tracker: GitHub issues of the project's `repo`.

use ao_core::config::Diagnostic;
use ao_core::plugin::Slot;
use ao_core::registry::{PluginEntry, SectionRef};
use serde::Deserialize;

/// The tracker's own settings.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GithubTrackerOptions {
    /// A GitHub Enterprise host, e.g. `github.example.com` (default github.com).
    #[serde(default)]
    pub host: Option<String>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    // Keys the reference's Linear-style trackers take are meaningless here, and say so.
    section.deserialize::<GithubTrackerOptions>(&[]).1
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Tracker,
        "github",
        "GitHub issues of the project's repo (default)",
        Some(validate),
    )
}
