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
    /// The reference format's webhook receiver (read, not used by ao yet: ao polls).
    #[serde(default)]
    pub webhook: Option<WebhookOptions>,
}

/// `scm.webhook` of the reference format.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookOptions {
    /// Whether the receiver runs.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The URL path it listens on.
    #[serde(default)]
    pub path: Option<String>,
    /// The environment variable holding the signing secret.
    #[serde(default)]
    pub secret_env_var: Option<String>,
    /// The header carrying the signature.
    #[serde(default)]
    pub signature_header: Option<String>,
    /// The header naming the event.
    #[serde(default)]
    pub event_header: Option<String>,
    /// The header carrying the delivery id.
    #[serde(default)]
    pub delivery_header: Option<String>,
    /// The largest body accepted, in bytes (more than 0).
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
}

fn validate(section: &SectionRef<'_>) -> Vec<Diagnostic> {
    let (options, mut diags) = section.deserialize::<GithubScmOptions>(&[]);
    if let Some(webhook) = options.and_then(|o| o.webhook) {
        let at = |key: &str| {
            section
                .node
                .and_then(|n| n.get("webhook"))
                .and_then(|w| w.entry(key).map(|e| e.value.loc))
                .unwrap_or(section.loc)
        };
        if webhook.max_body_bytes == Some(0) {
            diags.push(
                Diagnostic::error(
                    section.file,
                    at("maxBodyBytes"),
                    "maxBodyBytes must be more than 0",
                )
                .with_hint("give the largest body to accept, in bytes"),
            );
        }
        let key_loc = section
            .node
            .and_then(|n| n.entry("webhook"))
            .map(|e| e.key_loc)
            .unwrap_or(section.loc);
        // The reference's receiver belongs to its dashboard server; ao polls in batches.
        diags.push(
            Diagnostic::warning(
                section.file,
                key_loc,
                "`webhook` is read, not used by ao yet",
            )
            .with_hint("ao polls GitHub in batches instead of receiving webhooks"),
        );
    }
    diags
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
