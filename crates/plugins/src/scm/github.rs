//! The `github` scm: pull requests, checks and reviews on GitHub.

use ao_core::config::Diagnostic;
use ao_core::plugin::Slot;
use ao_core::registry::{PluginEntry, SectionRef};
use serde::Deserialize;

/// The scm's own settings.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GithubScmOptions {
    /// A GitHub Enterprise host, e.g. `github.example.com` (default github.com).
    #[serde(default)]
    pub host: Option<String>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    // The reference's webhook receiver belongs to its dashboard server; ao polls in batches.
    section.deserialize::<GithubScmOptions>(&["webhook"]).1
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Scm,
        "github",
        "GitHub pull requests, checks and reviews (default)",
        Some(validate),
    )
}
