//! The `slack` notifier: messages through a Slack incoming webhook.

use ao_core::config::Diagnostic;
use ao_core::plugin::Slot;
use ao_core::registry::{PluginEntry, SectionRef};
use serde::Deserialize;

/// The notifier's own settings.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlackOptions {
    /// The incoming-webhook URL, usually `${SLACK_WEBHOOK_URL}`.
    #[serde(default)]
    pub webhook: Option<String>,
    /// The channel, e.g. `#agent-updates`.
    #[serde(default)]
    pub channel: Option<String>,
    /// The name messages are posted under.
    #[serde(default)]
    pub username: Option<String>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    super::validate_required::<SlackOptions>(
        section,
        "slack",
        "webhook",
        "${SLACK_WEBHOOK_URL}",
        |o| o.webhook.as_deref(),
    )
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Notifier,
        "slack",
        "Slack messages through an incoming webhook",
        Some(validate),
    )
}
