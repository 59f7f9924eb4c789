//! What every request passes before any route sees it: its `Host` is one this server
//! answers to (a page whose name was rebound to 127.0.0.1 is not), its `Origin`, when it
//! has one, is this server (a page on another site cannot read or drive it), and
//! anything that acts or reads the fleet comes from a logged-in browser or a script with
//! the bearer token. A mutating request from a browser must carry this server's origin.

use crate::login::{Sessions, same_secret};
use ao_core::config::SecretText;
use axum::http::{HeaderMap, Method, StatusCode, header};

/// The cookie a login sets.
pub const COOKIE: &str = "ao_session";

/// The names this server answers to, each with its port (`127.0.0.1:3000`).
#[derive(Debug, Clone)]
pub struct Allowed {
    /// `host:port` values a request's `Host` may carry; `None`: any (a server bound to
    /// every address, where the token guards instead).
    hosts: Option<Vec<String>>,
    /// Names given in the config (a tunnel's), matched with or without a port.
    extra: Vec<String>,
}

impl Allowed {
    /// The names of a server bound to `ip` on `port`.
    pub fn for_bind(ip: std::net::IpAddr, port: u16, extra: &[String]) -> Allowed {
        let extra = extra.iter().map(|n| n.to_ascii_lowercase()).collect();
        if ip.is_unspecified() {
            return Allowed { hosts: None, extra };
        }
        let mut names = vec![match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        }];
        if ip.is_loopback() {
            names.extend(["localhost", "127.0.0.1", "[::1]"].map(String::from));
        }
        names.dedup();
        Allowed {
            hosts: Some(names.iter().map(|n| format!("{n}:{port}")).collect()),
            extra,
        }
    }

    fn host(&self, value: &str) -> bool {
        let value = value.to_ascii_lowercase();
        let name = value.rsplit_once(':').map_or(value.as_str(), |(n, _)| n);
        self.hosts.as_ref().is_none_or(|h| h.contains(&value))
            || self.extra.iter().any(|e| *e == value || *e == name)
    }

    fn origin(&self, value: &str, host: &str) -> bool {
        // This server as the browser reached it: the Host it sent, over HTTP, or HTTPS
        // through a tunnel that ends TLS in front of it.
        let value = value.to_ascii_lowercase();
        let authority = value
            .strip_prefix("http://")
            .or_else(|| value.strip_prefix("https://"));
        authority == Some(host.to_ascii_lowercase().as_str()) && self.host(host)
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` is missing or not this server's (DNS rebinding).
    Host,
    /// `Origin` is another site's, or missing on a browser's mutating request.
    Origin,
    /// Neither a session cookie nor the bearer token.
    Login,
}

impl Refusal {
    /// The status and a sentence for the body, which names no value the request sent.
    pub fn answer(self) -> (StatusCode, &'static str) {
        match self {
            Refusal::Host => (
                StatusCode::MISDIRECTED_REQUEST,
                "this server answers only to its own address (the Host header names another)\n",
            ),
            Refusal::Origin => (
                StatusCode::FORBIDDEN,
                "refused: the request comes from another site's page\n",
            ),
            Refusal::Login => (
                StatusCode::UNAUTHORIZED,
                "log in first: `ao dashboard` prints a login link; scripts send `Authorization: Bearer` with dashboard.token\n",
            ),
        }
    }
}

/// How a request is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Nobody (public routes only).
    Anonymous,
    /// A browser with a session cookie.
    Browser,
    /// A script with the bearer token.
    Script,
}

/// Who sent the request, or why it is refused before any route sees it; `needs_login`
/// for routes that read or act on the fleet.
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    allowed: &Allowed,
    sessions: &Sessions,
    token: Option<&SecretText>,
    needs_login: bool,
) -> Result<Who, Refusal> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| allowed.host(h))
        .ok_or(Refusal::Host)?;
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""));
    if let Some(o) = origin
        && !allowed.origin(o, host)
    {
        return Err(Refusal::Origin);
    }
    let who = if bearer(headers).is_some_and(|b| token.is_some_and(|t| same_secret(b, t.expose())))
    {
        Who::Script
    } else if cookie(headers).is_some_and(|c| sessions.knows(c)) {
        Who::Browser
    } else {
        Who::Anonymous
    };
    let mutating = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    // A browser sends its origin with every mutating request; one without it is not a
    // page of this server's (a script has the token instead).
    if mutating && origin.is_none() && who != Who::Script {
        return Err(Refusal::Origin);
    }
    if (needs_login || mutating) && who == Who::Anonymous {
        return Err(Refusal::Login);
    }
    Ok(who)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The session cookie's value, if the request has one.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn each_attack_is_refused() {
        let allowed = Allowed::for_bind(
            [127, 0, 0, 1].into(),
            3000,
            &["board.tail1.ts.net".to_owned()],
        );
        let sessions = Sessions::default();
        let c = sessions.open().unwrap();
        let token = SecretText::new("s3cret");
        let run = |m: Method, h: &[(header::HeaderName, &str)], login: bool| {
            check(&m, &headers(h), &allowed, &sessions, Some(&token), login)
        };
        let host = (header::HOST, "127.0.0.1:3000");
        let cookie = format!("{COOKIE}={c}");
        let cookie = (header::COOKIE, cookie.as_str());
        // DNS rebinding: a page of evil.example whose name now points here.
        assert_eq!(
            run(
                Method::GET,
                &[(header::HOST, "evil.example:3000"), cookie.clone()],
                true
            ),
            Err(Refusal::Host)
        );
        assert_eq!(run(Method::GET, &[], false), Err(Refusal::Host));
        // Another site's page, with the browser's cookie or not.
        let evil = (header::ORIGIN, "http://evil.example");
        assert_eq!(
            run(
                Method::GET,
                &[host.clone(), evil.clone(), cookie.clone()],
                true
            ),
            Err(Refusal::Origin)
        );
        assert_eq!(
            run(Method::POST, &[host.clone(), evil, cookie.clone()], true),
            Err(Refusal::Origin)
        );
        // A mutating request without an origin, cookie or not.
        assert_eq!(
            run(Method::POST, &[host.clone(), cookie.clone()], true),
            Err(Refusal::Origin)
        );
        // No login, a wrong cookie, a wrong token.
        assert_eq!(
            run(Method::GET, std::slice::from_ref(&host), true),
            Err(Refusal::Login)
        );
        assert_eq!(
            run(
                Method::GET,
                &[host.clone(), (header::COOKIE, "ao_session=00")],
                true
            ),
            Err(Refusal::Login)
        );
        assert_eq!(
            run(
                Method::GET,
                &[host.clone(), (header::AUTHORIZATION, "Bearer s3cret!")],
                true
            ),
            Err(Refusal::Login)
        );
        // What passes.
        let mine = (header::ORIGIN, "http://127.0.0.1:3000");
        assert_eq!(
            run(Method::POST, &[host.clone(), mine, cookie.clone()], true),
            Ok(Who::Browser)
        );
        assert_eq!(
            run(
                Method::POST,
                &[host.clone(), (header::AUTHORIZATION, "Bearer s3cret")],
                true
            ),
            Ok(Who::Script)
        );
        assert_eq!(run(Method::GET, &[host], false), Ok(Who::Anonymous));
        // Through a tunnel named in the config, over HTTPS.
        let tunnel = (header::HOST, "board.tail1.ts.net");
        assert_eq!(
            run(
                Method::POST,
                &[
                    tunnel.clone(),
                    (header::ORIGIN, "https://board.tail1.ts.net"),
                    cookie.clone()
                ],
                true
            ),
            Ok(Who::Browser)
        );
        assert_eq!(
            run(
                Method::POST,
                &[
                    tunnel,
                    (header::ORIGIN, "https://evil.tail1.ts.net"),
                    cookie.clone()
                ],
                true
            ),
            Err(Refusal::Origin)
        );
        assert_eq!(
            run(
                Method::GET,
                &[(header::HOST, "localhost:3001"), cookie.clone()],
                true
            ),
            Err(Refusal::Host)
        );
        assert_eq!(
            run(
                Method::GET,
                &[(header::HOST, "localhost:3000"), cookie],
                true
            ),
            Ok(Who::Browser)
        );
    }
}
