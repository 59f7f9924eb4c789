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
    let mut diags = super::validate_required::<DiscordOptions>(
        section,
        "discord",
        "webhook",
        "${DISCORD_WEBHOOK_URL}",
        |o| o.webhook.as_deref(),
    );
    diags.extend(super::check_address(
        section,
        "webhook",
        "discord",
        "https://discord.com/api/webhooks/...",
    ));
    diags
}

#[cfg(feature = "http-notifiers")]
mod imp {
    use super::DiscordOptions;
    use crate::notifier::http::Poster;
    use ao_core::plugin::{Notification, Notifier, PluginError};
    use ao_core::registry::SectionRef;
    use async_trait::async_trait;
    use std::sync::Arc;

    struct Discord {
        poster: Poster,
        options: DiscordOptions,
    }

    #[async_trait]
    impl Notifier for Discord {
        async fn notify(&self, n: &Notification) -> Result<(), PluginError> {
            let body = crate::notifier::payload::discord(n, self.options.username.as_deref());
            self.poster
                .post_chat(self.options.webhook.as_deref().unwrap_or(""), &body)
                .await
        }
    }

    pub(super) fn build(section: &SectionRef<'_>) -> Result<Arc<dyn Notifier>, PluginError> {
        let (options, _) = section.deserialize::<DiscordOptions>(&[]);
        let options = options
            .ok_or_else(|| PluginError::failed("discord", "its section could not be read"))?;
        Ok(Arc::new(Discord {
            poster: Poster::new("discord")?,
            options,
        }))
    }
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    #[cfg(feature = "http-notifiers")]
    {
        crate::available(
            Slot::Notifier,
            "discord",
            "Discord messages through a webhook",
            Some(validate),
            ao_core::registry::Factory::Notifier(std::sync::Arc::new(imp::build)),
        )
    }
    #[cfg(not(feature = "http-notifiers"))]
    {
        crate::planned(
            Slot::Notifier,
            "discord",
            "Discord messages through a webhook",
            Some(validate),
        )
    }
}
