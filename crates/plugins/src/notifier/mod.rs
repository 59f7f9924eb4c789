//! Notifiers: where the human hears about events.

pub mod dashboard;
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

/// An error when the address under `key` (already `${VAR}`-expanded) is not an http or
/// https address with a host: found when the file is read, not when a notification
/// fails to go out. A value from the environment is never shown.
fn check_address(
    section: &SectionRef<'_>,
    key: &str,
    plugin: &str,
    example: &str,
) -> Option<Diagnostic> {
    let node = section.node?.get(key)?;
    let value = node.as_str().filter(|v| !v.trim().is_empty())?;
    let problem = address_problem(value)?;
    let what = format!("the {plugin} notifier's `{key}` must be an http or https address");
    let (message, hint) = if node.secret {
        (
            format!("{what}: the value from the environment (not shown) is not one"),
            format!("check the variable's value: a full address such as {example}"),
        )
    } else {
        (
            format!("{what}: `{value}` {problem}"),
            format!("give the full address, e.g. `{key}: {example}`"),
        )
    };
    Some(Diagnostic::error(section.file, node.loc, message).with_hint(hint))
}

/// What keeps `url` from being an address ao can POST to, if anything.
fn address_problem(url: &str) -> Option<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("has no `https://`".into());
    };
    let scheme_is_word = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_is_word {
        return Some("is not a web address".into());
    }
    if !["http", "https"].contains(&scheme.to_ascii_lowercase().as_str()) {
        return Some(format!("is an `{scheme}` address"));
    }
    if url.chars().any(char::is_whitespace) {
        return Some("holds a space".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // `host`, `host:port`, `[v6]` or `[v6]:port`.
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => return Some("lacks the `]` of its IPv6 host".into()),
        },
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if let Some(port) = port.filter(|p| !p.is_empty() && p.parse::<u16>().is_err()) {
        return Some(format!("has a port that is not a number (`{port}`)"));
    }
    if host.is_empty() {
        return Some("names no host".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::address_problem;

    #[test]
    fn only_http_and_https_addresses_with_a_host_pass() {
        for ok in [
            "https://hooks.slack.com/services/T0/B1/x",
            "http://127.0.0.1:8080/hook",
            "HTTPS://example.com",
            "https://user:pw@example.com:443/x?y#z",
            "http://[::1]:9000/hook",
            "http://[::1]/hook",
        ] {
            assert_eq!(address_problem(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("not a url at all", "has no `https://`"),
            ("ntfy.sh", "has no `https://`"),
            ("ftp://example.com/x", "is an `ftp` address"),
            ("http//example.com", "has no `https://`"),
            ("https://[::1/x", "lacks the `]` of its IPv6 host"),
            ("https:///x", "names no host"),
            (
                "https://example.com:http/x",
                "has a port that is not a number (`http`)",
            ),
            ("https://exa mple.com", "holds a space"),
        ] {
            assert_eq!(address_problem(bad).as_deref(), Some(why), "{bad}");
        }
    }
}
