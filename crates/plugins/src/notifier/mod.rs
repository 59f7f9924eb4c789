//! Notifiers: where the human hears about events.

pub mod desktop;
pub mod discord;
#[cfg(feature = "http-notifiers")]
pub mod http;
pub mod ntfy;
#[cfg(feature = "http-notifiers")]
pub mod payload;
pub mod slack;
pub mod webhook;

use ao_core::config::{Diagnostic, Loc};
use ao_core::registry::SectionRef;
use serde::de::DeserializeOwned;

/// An error when a required setting is missing or empty.
fn require(
    section: &SectionRef<'_>,
    value: Option<&str>,
    key: &str,
    plugin: &str,
    example: &str,
) -> Option<Diagnostic> {
    match value {
        Some(v) if !v.trim().is_empty() => None,
        _ => {
            let loc = section
                .node
                .and_then(|n| n.entry(key).map(|e| e.value.loc))
                .unwrap_or(section.loc);
            Some(
                Diagnostic::error(
                    section.file,
                    if loc == Loc::default() {
                        section.loc
                    } else {
                        loc
                    },
                    format!("the {plugin} notifier needs `{key}`"),
                )
                .with_hint(format!("add `{key}: {example}`")),
            )
        }
    }
}

/// Checks a notifier's settings as `T`, then that `key` (read by `get`) is set.
fn validate_required<T: DeserializeOwned>(
    section: &SectionRef<'_>,
    plugin: &str,
    key: &str,
    example: &str,
    get: fn(&T) -> Option<&str>,
) -> Vec<Diagnostic> {
    let (options, mut diags) = section.deserialize::<T>(&[]);
    if let Some(options) = options {
        diags.extend(require(section, get(&options), key, plugin, example));
    }
    diags
}
