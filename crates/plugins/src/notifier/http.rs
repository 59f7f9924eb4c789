//! Posting a notification over HTTP(S), for the webhook, Slack, Discord and ntfy
//! notifiers: one client per notifier, retries on 429 and 5xx that honour `Retry-After`,
//! and messages that never show the URL (webhook URLs carry their tokens).

use ao_core::plugin::PluginError;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// An HTTP client for one notifier.
pub struct Poster {
    plugin: &'static str,
    client: Client<Https, Full<Bytes>>,
}

/// How a notifier retries.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts after the first.
    pub retries: u32,
    /// The pause before a retry when the answer names none.
    pub delay: Duration,
}

/// The longest `Retry-After` honoured; a longer one fails the delivery, saying so.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

impl Poster {
    /// A client for `plugin`'s posts.
    pub fn new(plugin: &'static str) -> Result<Poster, PluginError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| {
                PluginError::failed(plugin, format!("cannot load the system's TLS roots: {e}"))
            })?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Poster {
            plugin,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// POSTs `body` to `url` with `headers`, retrying a 429 or 5xx answer (waiting what
    /// its `Retry-After` says, else `retry.delay`, doubling) up to `retry.retries` times.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        retry: Retry,
    ) -> Result<(), PluginError> {
        let fail = |m: String| PluginError::failed(self.plugin, m);
        let uri: http::Uri = url
            .parse()
            .map_err(|_| fail("its URL is not a valid address".into()))?;
        let mut delay = retry.delay;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = http::Request::post(uri.clone());
            for (k, v) in headers {
                request = request.header(k.as_str(), v.as_str());
            }
            let request = request
                .body(Full::new(Bytes::from(body.clone())))
                .map_err(|e| fail(format!("cannot build the request: {e}")))?;
            let (status, wait, said) = match self.client.request(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .map(|s| Duration::from_millis((s * 1000.0) as u64));
                    let text = response
                        .into_body()
                        .collect()
                        .await
                        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                        .unwrap_or_default();
                    (Some(status), wait, text)
                }
                Err(e) => {
                    let mut why = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        why = s.to_string();
                        source = s.source();
                    }
                    (None, None, why)
                }
            };
            match status {
                Some(200..=299) => return Ok(()),
                Some(s) if (s == 429 || s >= 500) && attempt <= retry.retries => {
                    let pause = wait.unwrap_or(delay);
                    if pause > LONGEST_WAIT {
                        return Err(fail(format!(
                            "answered {s} and asks to wait {} s, longer than ao waits",
                            pause.as_secs()
                        )));
                    }
                    tokio::time::sleep(pause).await;
                    delay *= 2;
                }
                None if attempt <= retry.retries => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Some(s) => {
                    let said = one_line(&said);
                    // An error page's title often repeats the status.
                    let code = s.to_string();
                    let said = said.strip_prefix(&code).map_or(&*said, str::trim_start);
                    return Err(fail(format!(
                        "answered {s}{}{}",
                        if said.is_empty() { "" } else { ": " },
                        said
                    )));
                }
                None => return Err(fail(format!("could not be reached: {said}"))),
            }
        }
    }
}

/// The longest part of an error answer's body ao repeats.
const LONGEST_SAID: usize = 160;

/// What an error answer's body says, in one line: an HTML page's title (or its first line of
/// text), or a plain body's first non-empty line, cut at [`LONGEST_SAID`] characters.
fn one_line(body: &str) -> String {
    let body = body.trim();
    let text = if body.starts_with('<') {
        let lower = body.to_ascii_lowercase();
        let title = lower.find("<title").and_then(|open| {
            let start = open + lower[open..].find('>')? + 1;
            let end = start + lower[start..].find("</title")?;
            Some(&body[start..end])
        });
        match title {
            Some(t) if !t.trim().is_empty() => t.to_owned(),
            _ => without_tags(body),
        }
    } else {
        body.to_owned()
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > LONGEST_SAID {
        let cut: String = line.chars().take(LONGEST_SAID).collect();
        format!("{cut}…")
    } else {
        line
    }
}

/// Markup's text: every `<…>` dropped, each tag ending a line.
fn without_tags(markup: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in markup.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push('\n');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

impl Poster {
    /// POSTs JSON to a chat service's incoming webhook (Slack, Discord): a rate-limit
    /// answer (429 with `Retry-After`) or a 5xx is waited out, twice.
    pub async fn post_chat(&self, url: &str, body: &serde_json::Value) -> Result<(), PluginError> {
        self.post(
            url,
            &[("content-type".into(), "application/json".into())],
            body.to_string().into_bytes(),
            Retry {
                retries: 2,
                delay: Duration::from_secs(1),
            },
        )
        .await
    }
}

/// HMAC-SHA256 of `body` keyed by `secret`, as lowercase hex.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::sign(&key, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn an_error_page_is_said_in_one_line() {
        let page = "<!DOCTYPE html>\n<html><head>\n<title>502 Bad Gateway</title>\n<style>body{}</style></head>\n<body><h1>Bad Gateway</h1>\n<p>The proxy got no answer.</p></body></html>\n";
        assert_eq!(one_line(page), "502 Bad Gateway");
        let untitled = "<html><body>\n  <h1>  Service   down </h1><p>later</p></body></html>";
        assert_eq!(one_line(untitled), "Service down");
        assert_eq!(one_line("no such hook\nsecond line\n"), "no such hook");
        assert_eq!(one_line("  \n"), "");
        let long = "x".repeat(500);
        assert_eq!(one_line(&long).chars().count(), 161);
    }
}
