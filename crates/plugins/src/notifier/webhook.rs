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
    /// A secret (normally `${VAR}`): the body's HMAC-SHA256 keyed by it goes in the
    /// `X-AO-Signature-256` header as `sha256=<hex>`.
    #[serde(default)]
    pub secret: Option<String>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    let mut diags = super::validate_required::<WebhookOptions>(
        section,
        "webhook",
        "url",
        "https://example.com/hook",
        |o| o.url.as_deref(),
    );
    diags.extend(super::check_address(
        section,
        "url",
        "webhook",
        "https://example.com/hook",
    ));
    diags
}

#[cfg(feature = "http-notifiers")]
mod imp {
    use super::WebhookOptions;
    use crate::notifier::http::{Poster, Retry, signature};
    use ao_core::plugin::{Notification, Notifier, PluginError};
    use ao_core::registry::SectionRef;
    use async_trait::async_trait;
    use std::sync::Arc;
    use std::time::Duration;

    struct Webhook {
        poster: Poster,
        options: WebhookOptions,
    }

    #[async_trait]
    impl Notifier for Webhook {
        async fn notify(&self, n: &Notification) -> Result<(), PluginError> {
            let body = serde_json::to_vec(&crate::notifier::payload::webhook(n))
                .map_err(|e| PluginError::failed("webhook", e.to_string()))?;
            let mut headers: Vec<(String, String)> =
                vec![("content-type".into(), "application/json".into())];
            headers.extend(
                self.options
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            if let Some(secret) = self.options.secret.as_deref().filter(|s| !s.is_empty()) {
                headers.push((
                    "x-ao-signature-256".into(),
                    format!("sha256={}", signature(secret, &body)),
                ));
            }
            let retry = Retry {
                retries: self.options.retries.unwrap_or(2),
                delay: Duration::from_millis(self.options.retry_delay_ms.unwrap_or(1000)),
            };
            self.poster
                .post(
                    self.options.url.as_deref().unwrap_or(""),
                    &headers,
                    body,
                    retry,
                )
                .await
        }
    }

    pub(super) fn build(section: &SectionRef<'_>) -> Result<Arc<dyn Notifier>, PluginError> {
        let (options, _) = section.deserialize::<WebhookOptions>(&[]);
        let options = options
            .ok_or_else(|| PluginError::failed("webhook", "its section could not be read"))?;
        Ok(Arc::new(Webhook {
            poster: Poster::new("webhook")?,
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
            "webhook",
            "events POSTed as JSON to a URL",
            Some(validate),
            ao_core::registry::Factory::Notifier(std::sync::Arc::new(imp::build)),
        )
    }
    #[cfg(not(feature = "http-notifiers"))]
    {
        crate::planned(
            Slot::Notifier,
            "webhook",
            "events POSTed as JSON to a URL",
            Some(validate),
        )
    }
}
