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
    let mut diags = super::validate_required::<SlackOptions>(
        section,
        "slack",
        "webhook",
        "${SLACK_WEBHOOK_URL}",
        |o| o.webhook.as_deref(),
    );
    diags.extend(super::check_address(
        section,
        "webhook",
        "slack",
        "https://hooks.slack.com/services/...",
    ));
    diags
}

#[cfg(feature = "http-notifiers")]
mod imp {
    use super::SlackOptions;
    use crate::notifier::http::Poster;
    use ao_core::plugin::{Notification, Notifier, PluginError};
    use ao_core::registry::SectionRef;
    use async_trait::async_trait;
    use std::sync::Arc;

    struct Slack {
        poster: Poster,
        options: SlackOptions,
    }

    #[async_trait]
    impl Notifier for Slack {
        async fn notify(&self, n: &Notification) -> Result<(), PluginError> {
            let body = crate::notifier::payload::slack(
                n,
                self.options.channel.as_deref(),
                self.options.username.as_deref(),
            );
            self.poster
                .post_chat(self.options.webhook.as_deref().unwrap_or(""), &body)
                .await
        }
    }

    pub(super) fn build(section: &SectionRef<'_>) -> Result<Arc<dyn Notifier>, PluginError> {
        let (options, _) = section.deserialize::<SlackOptions>(&[]);
        let options =
            options.ok_or_else(|| PluginError::failed("slack", "its section could not be read"))?;
        Ok(Arc::new(Slack {
            poster: Poster::new("slack")?,
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
            "slack",
            "Slack messages through an incoming webhook",
            Some(validate),
            ao_core::registry::Factory::Notifier(std::sync::Arc::new(imp::build)),
        )
    }
    #[cfg(not(feature = "http-notifiers"))]
    {
        crate::planned(
            Slot::Notifier,
            "slack",
            "Slack messages through an incoming webhook",
            Some(validate),
        )
    }
}
