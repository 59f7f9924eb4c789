//! The `ntfy` notifier (ao's own, beyond the reference): phone push through an ntfy server
//! (`https://ntfy.sh` or your own), priority and tags from the event.

use ao_core::config::Diagnostic;
use ao_core::plugin::Slot;
use ao_core::registry::{PluginEntry, SectionRef};
use serde::Deserialize;

/// The notifier's own settings.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NtfyOptions {
    /// The server (default `https://ntfy.sh`).
    #[serde(default)]
    pub server: Option<String>,
    /// The topic to publish to (anyone who knows it can read it on ntfy.sh: make it long).
    #[serde(default)]
    pub topic: Option<String>,
    /// An access token for a protected topic, normally `${NTFY_TOKEN}`.
    #[serde(default)]
    pub token: Option<String>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    let mut diags = super::validate_required::<NtfyOptions>(
        section,
        "ntfy",
        "topic",
        "ao-alerts-<something long and random>",
        |o| o.topic.as_deref(),
    );
    diags.extend(super::check_address(
        section,
        "server",
        "ntfy",
        "https://ntfy.sh",
    ));
    diags
}

#[cfg(feature = "http-notifiers")]
mod imp {
    use super::NtfyOptions;
    use crate::notifier::http::{Poster, Retry};
    use ao_core::plugin::{Notification, Notifier, PluginError};
    use ao_core::registry::SectionRef;
    use async_trait::async_trait;
    use std::sync::Arc;
    use std::time::Duration;

    struct Ntfy {
        poster: Poster,
        url: String,
        token: Option<String>,
    }

    #[async_trait]
    impl Notifier for Ntfy {
        async fn notify(&self, n: &Notification) -> Result<(), PluginError> {
            let mut headers = crate::notifier::payload::ntfy_headers(n);
            if let Some(t) = &self.token {
                headers.push(("authorization".into(), format!("Bearer {t}")));
            }
            self.poster
                .post(
                    &self.url,
                    &headers,
                    crate::notifier::payload::ntfy_body(n).into_bytes(),
                    Retry {
                        retries: 2,
                        delay: Duration::from_secs(1),
                    },
                )
                .await
        }
    }

    pub(super) fn build(section: &SectionRef<'_>) -> Result<Arc<dyn Notifier>, PluginError> {
        let (options, _) = section.deserialize::<NtfyOptions>(&[]);
        let o =
            options.ok_or_else(|| PluginError::failed("ntfy", "its section could not be read"))?;
        let server = o
            .server
            .as_deref()
            .unwrap_or("https://ntfy.sh")
            .trim_end_matches('/');
        let topic = o.topic.unwrap_or_default();
        Ok(Arc::new(Ntfy {
            poster: Poster::new("ntfy")?,
            url: format!("{server}/{topic}"),
            token: o.token.filter(|t| !t.is_empty()),
        }))
    }
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    #[cfg(feature = "http-notifiers")]
    {
        crate::available(
            Slot::Notifier,
            "ntfy",
            "phone push through an ntfy server (ntfy.sh or your own)",
            Some(validate),
            ao_core::registry::Factory::Notifier(std::sync::Arc::new(imp::build)),
        )
    }
    #[cfg(not(feature = "http-notifiers"))]
    {
        crate::planned(
            Slot::Notifier,
            "ntfy",
            "phone push through an ntfy server",
            Some(validate),
        )
    }
}
