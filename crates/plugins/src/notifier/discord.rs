//! The `discord` notifier: messages through a Discord webhook.

use ao_core::config::Diagnostic;
use ao_core::plugin::Slot;
use ao_core::registry::{PluginEntry, SectionRef};
use serde::Deserialize;

/// The notifier's own settings.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscordOptions {
    /// The webhook URL, usually `${DISCORD_WEBHOOK_URL}`.
    #[serde(default)]
    pub webhook: Option<String>,
    /// The name messages are posted under.
    #[serde(default)]
    pub username: Option<String>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    super::validate_required::<DiscordOptions>(
        section,
        "discord",
        "webhook",
        "${DISCORD_WEBHOOK_URL}",
        |o| o.webhook.as_deref(),
    )
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Notifier,
        "discord",
        "Discord messages through a webhook",
        Some(validate),
    )
}
