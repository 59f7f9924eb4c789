//! The `webhook` notifier: events POSTed as JSON to a URL.

use ao_core::config::Diagnostic;
use ao_core::plugin::Slot;
use ao_core::registry::{PluginEntry, SectionRef};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The notifier's own settings.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookOptions {
    /// Where events are POSTed.
    #[serde(default)]
    pub url: Option<String>,
    /// Extra request headers (an `Authorization` token, say).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How many times a failed delivery is retried.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Milliseconds between retries.
    #[serde(default)]
    pub retry_delay_ms: Option<u64>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    super::validate_required::<WebhookOptions>(
        section,
        "webhook",
        "url",
        "https://example.com/hook",
        |o| o.url.as_deref(),
    )
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Notifier,
        "webhook",
        "events POSTed as JSON to a URL",
        Some(validate),
    )
}
