//! The GitHub client of one host (see the module above for what it handles itself).

use super::auth;
use super::endpoint::{Endpoints, split_origin};
use octocrab::Octocrab;
use serde_json::Value;
use std::sync::{Arc, Mutex};

use std::time::Duration;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a request is sent when GitHub fails (5xx, time-out, connection).
const ATTEMPTS: u32 = 3;
/// The longest `retry-after` of the secondary rate limit ao waits out.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(10);

/// A whole answer: status, headers and body text.
type Answer = (u16, http::HeaderMap, String);

/// Reads the answer to `$response` (an octocrab request) to the end.
macro_rules! read {
    ($client:expr, $response:expr) => {
        async {
            let response = $response.await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = $client.body_to_string(response).await?;
            Ok::<Answer, octocrab::Error>((status, headers, text))
        }
    };
}

/// A failed GitHub request, as one sentence that says what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubError {
    /// The status GitHub answered with, when it answered.
    pub status: Option<u16>,
    /// The sentence.
    pub message: String,
    /// How long GitHub asked ao to wait (its secondary rate limit's `retry-after`).
    pub retry_after_ms: Option<u64>,
}

impl std::fmt::Display for GitHubError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl GitHubError {
    fn new(status: Option<u16>, message: impl Into<String>) -> GitHubError {
        GitHubError {
            status,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// As a plugin error of `plugin`.
    pub fn plugin(self, plugin: &str) -> ao_core::plugin::PluginError {
        ao_core::plugin::PluginError::failed(plugin, self.message)
    }
}

/// The rate limit as GitHub last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Which budget (`core`, `graphql`).
    pub resource: String,
    /// Requests or points left.
    pub remaining: u64,
    /// The budget per window.
    pub limit: u64,
    /// When the window resets, in seconds since 1970.
    pub reset: i64,
}

/// A REST answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status (200, 304, ...).
    pub status: u16,
    /// The `ETag` to send as `If-None-Match` next time.
    pub etag: Option<String>,
    /// The token's OAuth scopes, when GitHub says (classic tokens).
    pub scopes: Option<String>,
    /// The next page's address, from the `Link` header.
    pub next: Option<String>,
    /// The body, parsed (`null` for a 304).
    pub body: Value,
}

/// A GraphQL answer: the data GitHub could resolve, and an error for each part it could
/// not (a missing item, a field the token cannot see).
#[derive(Debug, Clone)]
pub struct Graphql {
    /// `data`.
    pub data: Value,
    /// `errors`.
    pub errors: Vec<GraphqlError>,
}

/// One entry of a GraphQL reply's `errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlError {
    /// GitHub's message.
    pub message: String,
    /// GitHub's `type` (`NOT_FOUND`, `FORBIDDEN`), when given.
    pub kind: Option<String>,
    /// Where in the data it applies.
    pub path: Vec<Value>,
}

/// The clients of one host, made once a token is found.
struct Clients {
    rest: Octocrab,
    graphql: Octocrab,
    graphql_path: String,
    source: auth::Source,
}

/// One GitHub host: its addresses, and its clients once first used.
pub struct GitHub {
    endpoints: Endpoints,
    timeout: Duration,
    clients: tokio::sync::OnceCell<Clients>,
    rate: Mutex<Option<RateLimit>>,
}

/// Installs ring as rustls's crypto provider, once per process, before any client.
fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Already installed by someone else is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn client(base: &str, token: &auth::Token, timeout: Duration) -> Result<Octocrab, GitHubError> {
    install_crypto();
    use octocrab::secrecy::ExposeSecret;
    Octocrab::builder()
        .base_uri(base)
        .map_err(|e| {
            GitHubError::new(
                None,
                format!("the GitHub API address `{base}` is not valid: {e}"),
            )
        })?
        .personal_token(token.secret.expose_secret().to_owned())
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(timeout))
        .build()
        .map_err(|e| GitHubError::new(None, format!("cannot set up the GitHub client: {e}")))
}

impl GitHub {
    /// The host at `endpoints`; nothing is sent until the first request.
    pub fn new(endpoints: Endpoints) -> Arc<GitHub> {
        GitHub::with_timeout(endpoints, REQUEST_TIMEOUT)
    }

    /// The same, with another limit on how long one request may take.
    pub fn with_timeout(endpoints: Endpoints, timeout: Duration) -> Arc<GitHub> {
        Arc::new(GitHub {
            endpoints,
            timeout,
            clients: tokio::sync::OnceCell::new(),
            rate: Mutex::new(None),
        })
    }

    /// The host's addresses.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The rate limit as last reported.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate.lock().ok().and_then(|r| r.clone())
    }

    /// The clients, made once a token is found. A failure to find one is not kept: a
    /// host that lives on asks again next time (after `gh auth login`, say).
    async fn clients(&self) -> Result<&Clients, GitHubError> {
        self.clients
            .get_or_try_init(|| async {
                let host = &self.endpoints.host;
                let Some(token) = auth::find(host).await else {
                    return Err(GitHubError::new(
                        None,
                        format!(
                            "no GitHub token for {host}: set GH_TOKEN (or GITHUB_TOKEN), or run `gh auth login{}`",
                            if host == "github.com" {
                                String::new()
                            } else {
                                format!(" --hostname {host}")
                            }
                        ),
                    ));
                };
                let (origin, path) = split_origin(&self.endpoints.graphql);
                Ok(Clients {
                    rest: client(&self.endpoints.rest, &token, self.timeout)?,
                    graphql: client(origin, &token, self.timeout)?,
                    graphql_path: path.to_owned(),
                    source: token.source,
                })
            })
            .await
    }

    /// Where the token came from, once one was found.
    pub async fn token_source(&self) -> Result<auth::Source, GitHubError> {
        Ok(self.clients().await?.source.clone())
    }

    /// `GET path` (relative to the REST base, or an absolute `next` address GitHub gave),
    /// with `If-None-Match: etag` when given. A 304 is a reply, not an error.
    pub async fn get(&self, path: &str, etag: Option<&str>) -> Result<Reply, GitHubError> {
        let clients = self.clients().await?;
        // A next-page address is absolute; it is sent by its path, so the token goes too.
        let path = if path.starts_with("http") {
            let (_, p) = split_origin(path);
            p.strip_prefix(split_origin(&self.endpoints.rest).1.trim_end_matches('/'))
                .unwrap_or(p)
                .to_owned()
        } else {
            path.to_owned()
        };
        let what = format!("GET {path}");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            http::HeaderValue::from_static("2022-11-28"),
        );
        if let Some(tag) = etag
            && let Ok(v) = http::HeaderValue::from_str(tag)
        {
            headers.insert(http::header::IF_NONE_MATCH, v);
        }
        let client = &clients.rest;
        self.send(&what, || {
            let headers = headers.clone();
            let path = path.clone();
            async move {
                read!(
                    client,
                    client._get_with_headers(path.as_str(), Some(headers))
                )
                .await
            }
        })
        .await
    }

    /// `PUT`, `PATCH` or `DELETE` `path` (relative to the REST base) with a JSON body. A
    /// write is sent once: it is not retried after a failure, since it may have taken.
    pub async fn write(
        &self,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Result<Reply, GitHubError> {
        let clients = self.clients().await?;
        let client = &clients.rest;
        let what = format!("{method} {path}");
        self.send_once(&what, || {
            let path = path.to_owned();
            async move {
                match method {
                    "PUT" => read!(client, client._put(path.as_str(), Some(body))).await,
                    "PATCH" => read!(client, client._patch(path.as_str(), Some(body))).await,
                    _ => read!(client, client._delete(path.as_str(), Some(body))).await,
                }
            }
        })
        .await
    }

    /// Sends a GraphQL query to the host's GraphQL address and returns its data and its
    /// errors. A reply with errors and no data at all is an error.
    pub async fn graphql(&self, query: &str, variables: Value) -> Result<Graphql, GitHubError> {
        let clients = self.clients().await?;
        let body = serde_json::json!({ "query": query, "variables": variables });
        let client = &clients.graphql;
        let path = clients.graphql_path.clone();
        let reply = self
            .send("a GraphQL query", || {
                let body = body.clone();
                let path = path.clone();
                async move { read!(client, client._post(path.as_str(), Some(&body))).await }
            })
            .await?;
        let errors: Vec<GraphqlError> = reply.body["errors"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|e| GraphqlError {
                        message: e["message"].as_str().unwrap_or("(no message)").to_owned(),
                        kind: e["type"].as_str().map(str::to_owned),
                        path: e["path"].as_array().cloned().unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let data = reply.body["data"].clone();
        if data.is_null() {
            let said = if errors.is_empty() {
                "no data and no errors".to_owned()
            } else {
                errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(GitHubError::new(
                Some(reply.status),
                format!("GitHub's GraphQL API refused the query: {said}"),
            ));
        }
        if let Some(rate) = data.get("rateLimit").filter(|r| r.is_object()) {
            self.note_rate(RateLimit {
                resource: "graphql".into(),
                remaining: rate["remaining"].as_u64().unwrap_or(0),
                limit: rate["limit"].as_u64().unwrap_or(0),
                reset: rate["resetAt"]
                    .as_str()
                    .and_then(parse_rfc3339)
                    .unwrap_or_default(),
            });
        }
        Ok(Graphql { data, errors })
    }

    fn note_rate(&self, rate: RateLimit) {
        if let Ok(mut r) = self.rate.lock() {
            *r = Some(rate);
        }
    }

    /// Sends a request (made anew for each attempt) and reads its answer: retries 5xx
    /// answers, time-outs and connection failures (3 attempts in all) and a secondary
    /// rate limit whose `retry-after` is short; turns every other failure into a sentence.
    async fn send<F, Fut>(&self, what: &str, request: F) -> Result<Reply, GitHubError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = octocrab::Result<Answer>>,
    {
        self.send_up_to(ATTEMPTS, what, request).await
    }

    async fn send_once<F, Fut>(&self, what: &str, request: F) -> Result<Reply, GitHubError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = octocrab::Result<Answer>>,
    {
        self.send_up_to(1, what, request).await
    }

    async fn send_up_to<F, Fut>(
        &self,
        attempts: u32,
        what: &str,
        request: F,
    ) -> Result<Reply, GitHubError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = octocrab::Result<Answer>>,
    {
        let host = &self.endpoints.host;
        let mut last = String::new();
        let mut waited_out = false;
        let mut attempt = 0;
        while attempt < attempts {
            attempt += 1;
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(250 << (attempt - 2))).await;
            }
            let (status, headers, text) = match tokio::time::timeout(self.timeout, request()).await
            {
                Err(_) => {
                    last = format!("no answer within {} ms", self.timeout.as_millis());
                    continue;
                }
                Ok(Err(e)) => {
                    last = transport_error(&e);
                    continue;
                }
                Ok(Ok(r)) => r,
            };
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            if let (Some(remaining), Some(limit)) = (
                header("x-ratelimit-remaining").and_then(|v| v.parse().ok()),
                header("x-ratelimit-limit").and_then(|v| v.parse().ok()),
            ) {
                self.note_rate(RateLimit {
                    resource: header("x-ratelimit-resource").unwrap_or_else(|| "core".into()),
                    remaining,
                    limit,
                    reset: header("x-ratelimit-reset")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_default(),
                });
            }
            if status >= 500 {
                last = format!("{status} {}", reason(status));
                continue;
            }
            let plain = header("content-type").is_some_and(|t| t.starts_with("text/plain"));
            let body: Value = if status == 304 || text.trim().is_empty() {
                Value::Null
            } else if plain {
                // A job's log, say: text, kept as it is.
                Value::String(text)
            } else {
                match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(_) => {
                        return Err(GitHubError::new(
                            Some(status),
                            format!(
                                "{host} answered {what} with something that is not JSON (status {status}): {}; check `apiUrl` and that {} is a GitHub API",
                                excerpt(&text),
                                self.endpoints.rest
                            ),
                        ));
                    }
                }
            };
            let said = body["message"].as_str().unwrap_or("").to_owned();
            let secondary = said.to_ascii_lowercase().contains("secondary rate limit")
                || (matches!(status, 403 | 429) && header("retry-after").is_some());
            if secondary {
                let after = header("retry-after")
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .unwrap_or(Duration::from_secs(60));
                if !waited_out && after <= LONGEST_RETRY_AFTER {
                    waited_out = true;
                    tracing::info!(
                        "{host}: secondary rate limit; waiting {} s",
                        after.as_secs()
                    );
                    tokio::time::sleep(after).await;
                    attempt -= 1;
                    continue;
                }
                return Err(GitHubError {
                    retry_after_ms: Some(after.as_millis() as u64),
                    ..GitHubError::new(
                        Some(status),
                        format!(
                            "{host} is limiting ao's requests (its secondary rate limit, for too many requests at once); try again in {} s",
                            after.as_secs()
                        ),
                    )
                });
            }
            match status {
                200..=299 | 304 => {
                    return Ok(Reply {
                        status,
                        etag: header("etag"),
                        scopes: header("x-oauth-scopes"),
                        next: header("link").as_deref().and_then(next_link),
                        body,
                    });
                }
                401 => {
                    let source = self
                        .clients
                        .get()
                        .map(|c| c.source.to_string())
                        .unwrap_or_else(|| "the environment".into());
                    return Err(GitHubError::new(
                        Some(401),
                        format!(
                            "{host} rejected the token from {source} ({}): it is wrong, expired or revoked; set a valid GH_TOKEN, or run `gh auth login`",
                            if said.is_empty() { "401" } else { &said }
                        ),
                    ));
                }
                403 if header("x-ratelimit-remaining").as_deref() == Some("0") => {
                    let reset = header("x-ratelimit-reset")
                        .and_then(|v| v.parse::<i64>().ok())
                        .map(|t| format!(" until {}", clock(t)))
                        .unwrap_or_default();
                    return Err(GitHubError::new(
                        Some(403),
                        format!(
                            "the token's GitHub rate limit on {host} is used up{reset}; wait, or use another token"
                        ),
                    ));
                }
                _ => {
                    return Err(GitHubError::new(
                        Some(status),
                        format!(
                            "{host} answered {what} with {status} {}{}",
                            reason(status),
                            if said.is_empty() {
                                String::new()
                            } else {
                                format!(": {said}")
                            }
                        ),
                    ));
                }
            }
        }
        Err(GitHubError::new(
            None,
            format!(
                "{host} did not answer {what}{} ({last}); it may be down or unreachable from here, try again later",
                if attempts > 1 {
                    format!(" after {attempts} attempts")
                } else {
                    String::new()
                }
            ),
        ))
    }
}

/// What went wrong on the way, without octocrab's chain of wrappers.
fn transport_error(e: &octocrab::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// At most 200 characters of a body, on one line.
fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        cut.push('…');
    }
    format!("`{cut}`")
}

/// The `rel="next"` address of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// `2026-12-01T10:00:00Z` as seconds since 1970.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    ao_core::model::time::parse_rfc3339(text).map(|ms| ms / 1000)
}

/// Seconds since 1970 as `HH:MM UTC`.
fn clock(t: i64) -> String {
    ao_core::model::time::utc_clock(t * 1000)
}

/// A repository's `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    /// The owner.
    pub owner: String,
    /// The name.
    pub name: String,
}

impl RepoName {
    /// Parses `owner/name`.
    pub fn parse(text: &str) -> Option<RepoName> {
        let (owner, name) = text.trim().trim_end_matches(".git").split_once('/')?;
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        (ok(owner) && ok(name)).then(|| RepoName {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_the_next_page() {
        let link = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
        assert_eq!(next_link(r#"<https://x?page=1>; rel="prev""#), None);
    }

    #[test]
    fn times_and_repositories() {
        assert_eq!(parse_rfc3339("1970-01-02T00:00:01Z"), Some(86401));
        assert_eq!(parse_rfc3339("2026-12-01T10:30:00Z"), Some(1_796_121_000));
        // A moment gone carries its date.
        assert_eq!(clock(1_796_121_000), "2026-12-01 10:30 UTC");
        assert_eq!(
            RepoName::parse("acme/app.git"),
            Some(RepoName {
                owner: "acme".into(),
                name: "app".into()
            })
        );
        assert_eq!(RepoName::parse("acme"), None);
        assert_eq!(RepoName::parse("a/b c"), None);
    }

    #[test]
    fn bodies_are_cut_for_messages() {
        let long = "x".repeat(300);
        assert_eq!(excerpt(&long).chars().count(), 203);
        assert_eq!(excerpt("<html>\n  <b>oops</b>"), "`<html> <b>oops</b>`");
    }
}
