//! GitHub's webhooks, received by the dashboard's server: each project's `scm.webhook`
//! (the reference format's keys) gives a path, the environment variable of its secret and
//! the headers to read. A delivery is verified (HMAC-SHA256 of the body against the
//! secret, compared in constant time), dropped when its id was seen, refused when larger
//! than `maxBodyBytes`, and turned into an [`ao_core::session::Nudge`] naming the pull
//! requests it is about, which the host reads at once. Its signature is its
//! authentication: the one route without a cookie, so GitHub can reach it through a
//! tunnel while the rest stays private.

use ao_core::config::Config;
use ao_core::session::Nudge;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Mutex;

/// The reference's route.
pub const DEFAULT_PATH: &str = "/api/webhooks/github";
/// Where the secret is, unless `secretEnvVar` says.
pub const DEFAULT_SECRET_ENV: &str = "GITHUB_WEBHOOK_SECRET";
/// The largest body, unless `maxBodyBytes` says: 5 MiB.
pub const DEFAULT_MAX_BODY: usize = 5 * 1024 * 1024;
/// Delivery ids remembered, to drop GitHub's repeats.
const SEEN: usize = 4096;

/// One path that receives deliveries, and everything needed to check them.
#[derive(Clone)]
pub struct Route {
    /// Where (`/api/webhooks/github`).
    pub path: String,
    /// The secrets of the projects that receive here (one matching is enough); empty
    /// when none is set, and then every delivery is refused.
    secrets: Vec<ring::hmac::Key>,
    /// The variables the secrets come from, for the log.
    pub secret_vars: Vec<String>,
    /// The projects it serves.
    pub projects: Vec<String>,
    /// The headers of the signature, the event, the delivery id (lower case).
    pub signature_header: String,
    pub event_header: String,
    pub delivery_header: String,
    /// The largest body accepted.
    pub max_body: usize,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("path", &self.path)
            .field("secrets", &format!("<{} hidden>", self.secrets.len()))
            .field("secret_vars", &self.secret_vars)
            .field("projects", &self.projects)
            .field("max_body", &self.max_body)
            .finish()
    }
}

/// The routes `config`'s projects ask for, reading secrets through `env`; and what is
/// wrong with them, to log (a secret that is not set).
pub fn routes(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> (Vec<Route>, Vec<String>) {
    let mut routes: Vec<Route> = Vec::new();
    let mut notes = Vec::new();
    for (id, project) in &config.projects {
        let Some(w) = project
            .scm
            .as_ref()
            .and_then(|s| s.options.get("webhook"))
            .filter(|w| w.get("enabled").and_then(Value::as_bool) != Some(false))
        else {
            continue;
        };
        let text = |key: &str, default: &str| {
            w.get(key)
                .and_then(Value::as_str)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        let mut path = text("path", DEFAULT_PATH);
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        let var = text("secretEnvVar", DEFAULT_SECRET_ENV);
        let secret = env(&var).filter(|s| !s.is_empty());
        if secret.is_none() {
            notes.push(format!(
                "project {id}'s webhook at {path}: ${var} is not set, so its deliveries are refused; set it to the secret the GitHub webhook was made with"
            ));
        }
        let max_body = w
            .get("maxBodyBytes")
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
            .map_or(DEFAULT_MAX_BODY, |n| n as usize);
        let route = match routes.iter_mut().find(|r| r.path == path) {
            Some(r) => r,
            None => {
                routes.push(Route {
                    path: path.clone(),
                    secrets: Vec::new(),
                    secret_vars: Vec::new(),
                    projects: Vec::new(),
                    signature_header: text("signatureHeader", "x-hub-signature-256")
                        .to_ascii_lowercase(),
                    event_header: text("eventHeader", "x-github-event").to_ascii_lowercase(),
                    delivery_header: text("deliveryHeader", "x-github-delivery")
                        .to_ascii_lowercase(),
                    max_body,
                });
                routes.last_mut().expect("just pushed")
            }
        };
        route.projects.push(id.clone());
        route.max_body = route.max_body.max(max_body);
        if let Some(secret) = secret
            && !route.secret_vars.contains(&var)
        {
            route.secret_vars.push(var);
            route.secrets.push(ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                secret.as_bytes(),
            ));
        }
    }
    (routes, notes)
}

/// Why a delivery was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No signature, a malformed one, or one no secret makes: 401.
    Unverified(&'static str),
    /// Larger than the route takes: 413.
    TooLarge(usize),
    /// Its body is not the JSON of an event: 400.
    Malformed(String),
}

/// What became of a delivery taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// Its pull requests are read now.
    Nudged(Nudge),
    /// Its id was seen before: nothing done again.
    Repeat,
    /// Verified, but about nothing ao follows (a `ping`, an issue, a release).
    Ignored(String),
}

/// The delivery ids seen lately, oldest first.
#[derive(Default)]
pub struct Seen(Mutex<VecDeque<String>>);

impl Seen {
    /// Whether `id` is new; remembered now.
    fn first(&self, id: &str) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if id.is_empty() {
            return true;
        }
        if seen.iter().any(|s| s == id) {
            return false;
        }
        if seen.len() == SEEN {
            seen.pop_front();
        }
        seen.push_back(id.to_owned());
        true
    }
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under one of `keys`,
/// compared in constant time.
fn verified(keys: &[ring::hmac::Key], header: Option<&str>, body: &[u8]) -> Result<(), Refused> {
    let header = header.ok_or(Refused::Unverified("no signature"))?;
    let hex = header
        .strip_prefix("sha256=")
        .ok_or(Refused::Unverified("the signature is not sha256=<hex>"))?;
    let tag = decode_hex(hex).ok_or(Refused::Unverified("the signature is not sha256=<hex>"))?;
    if keys.is_empty() {
        return Err(Refused::Unverified(
            "no secret is set for this path, so nothing can be verified",
        ));
    }
    if keys
        .iter()
        .any(|k| ring::hmac::verify(k, body, &tag).is_ok())
    {
        Ok(())
    } else {
        Err(Refused::Unverified("the signature does not match"))
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks one delivery to `route` and says what it is about. `header` reads a request
/// header by its lower-case name.
pub fn take(
    route: &Route,
    seen: &Seen,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    now: i64,
) -> Result<Taken, Refused> {
    if body.len() > route.max_body {
        return Err(Refused::TooLarge(route.max_body));
    }
    verified(
        &route.secrets,
        header(&route.signature_header).as_deref(),
        body,
    )?;
    let delivery = header(&route.delivery_header).unwrap_or_default();
    if !seen.first(&delivery) {
        return Ok(Taken::Repeat);
    }
    let event = header(&route.event_header).unwrap_or_default();
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| Refused::Malformed(format!("the body is not JSON: {e}")))?;
    let mut n = about(&event, &payload);
    if n.repo.is_empty() || (n.prs.is_empty() && n.shas.is_empty() && n.branches.is_empty()) {
        return Ok(Taken::Ignored(event));
    }
    n.event = event;
    n.delivery = delivery;
    n.at = now;
    Ok(Taken::Nudged(n))
}

/// What a GitHub event's payload names: its repository, and the pull requests (by
/// number, head commit or branch) it may have changed.
fn about(event: &str, p: &Value) -> Nudge {
    let mut n = Nudge {
        repo: str_at(p, &["repository", "full_name"]).unwrap_or_default(),
        ..Nudge::default()
    };
    let number = |v: &Value| v.get("number").and_then(Value::as_u64);
    let pr = |v: &Value, n: &mut Nudge| {
        if let Some(num) = number(v) {
            n.prs.push(num);
        }
        if let Some(b) = str_at(v, &["head", "ref"]) {
            n.branches.push(b);
        }
        if let Some(sha) = str_at(v, &["head", "sha"]) {
            n.shas.push(sha);
        }
    };
    match event {
        "pull_request"
        | "pull_request_review"
        | "pull_request_review_comment"
        | "pull_request_review_thread" => {
            if let Some(v) = p.get("pull_request") {
                pr(v, &mut n);
            }
        }
        "check_run" | "check_suite" => {
            let run = p.get(event).unwrap_or(&Value::Null);
            for v in run
                .get("pull_requests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(num) = number(v) {
                    n.prs.push(num);
                }
            }
            if let Some(sha) = str_at(run, &["head_sha"]) {
                n.shas.push(sha);
            }
            if let Some(b) = str_at(run, &["head_branch"]) {
                n.branches.push(b);
            }
        }
        "status" => {
            if let Some(sha) = str_at(p, &["sha"]) {
                n.shas.push(sha);
            }
            for b in p
                .get("branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = str_at(b, &["name"]) {
                    n.branches.push(name);
                }
            }
        }
        "issue_comment" => {
            // A comment on a pull request's conversation (an issue's is not one).
            if let Some(issue) = p.get("issue").filter(|i| i.get("pull_request").is_some())
                && let Some(num) = number(issue)
            {
                n.prs.push(num);
            }
        }
        "push" => {
            if let Some(b) =
                str_at(p, &["ref"]).and_then(|r| r.strip_prefix("refs/heads/").map(str::to_owned))
            {
                n.branches.push(b);
            }
        }
        _ => {}
    }
    n.prs.sort_unstable();
    n.prs.dedup();
    n.shas.dedup();
    n.branches.dedup();
    n
}

fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    let mut at = v;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str().map(str::to_owned)
}

/// The signature header's value for `body` under `secret`, as GitHub makes it (for tests
/// and for scripts that send their own deliveries).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(webhook: Value) -> Config {
        serde_json::from_value(serde_json::json!({
            "projects": {
                "app": { "path": "/x", "repo": "acme/app", "scm": { "plugin": "github", "webhook": webhook } },
                "web": { "path": "/y", "repo": "acme/web" },
            }
        }))
        .unwrap()
    }

    fn route(secret: Option<&str>) -> Route {
        let s = secret.map(str::to_owned);
        let (mut routes, notes) = routes(&config(serde_json::json!({})), &move |v| {
            (v == DEFAULT_SECRET_ENV).then(|| s.clone()).flatten()
        });
        assert_eq!(notes.is_empty(), secret.is_some(), "{notes:?}");
        assert_eq!(routes.len(), 1);
        routes.remove(0)
    }

    fn headers<'a>(pairs: &'a [(&'a str, String)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_reference_defaults_and_only_projects_that_ask() {
        let r = route(Some("s3cret"));
        assert_eq!(r.path, DEFAULT_PATH);
        assert_eq!(r.projects, ["app"]);
        assert_eq!(r.max_body, DEFAULT_MAX_BODY);
        assert_eq!(
            (
                r.signature_header.as_str(),
                r.event_header.as_str(),
                r.delivery_header.as_str()
            ),
            ("x-hub-signature-256", "x-github-event", "x-github-delivery")
        );
        assert!(!format!("{r:?}").contains("s3cret"));
        let (off, _) = routes(&config(serde_json::json!({ "enabled": false })), &|_| None);
        assert!(off.is_empty());
        let (none, notes) = routes(&config(serde_json::json!({ "path": "hooks/gh" })), &|_| {
            None
        });
        assert_eq!(none[0].path, "/hooks/gh");
        assert!(
            notes[0].contains("$GITHUB_WEBHOOK_SECRET is not set"),
            "{notes:?}"
        );
    }

    #[test]
    fn only_a_signed_delivery_is_taken_once_and_names_its_pull_requests() {
        let r = route(Some("s3cret"));
        let seen = Seen::default();
        let body = serde_json::to_vec(&serde_json::json!({
            "action": "completed",
            "repository": { "full_name": "acme/app" },
            "check_run": { "head_sha": "abc", "pull_requests": [{ "number": 7 }, { "number": 7 }] },
        }))
        .unwrap();
        let good = [
            ("x-hub-signature-256", sign("s3cret", &body)),
            ("x-github-event", "check_run".to_owned()),
            ("x-github-delivery", "d-1".to_owned()),
        ];
        let Taken::Nudged(n) = take(&r, &seen, &headers(&good), &body, 5).unwrap() else {
            panic!("not taken")
        };
        assert_eq!((n.repo.as_str(), n.prs.as_slice()), ("acme/app", &[7][..]));
        assert_eq!(
            (n.shas, n.event, n.delivery, n.at),
            (
                vec!["abc".to_owned()],
                "check_run".to_owned(),
                "d-1".to_owned(),
                5
            )
        );
        // GitHub's repeat of the same delivery does nothing again.
        assert_eq!(
            take(&r, &seen, &headers(&good), &body, 6),
            Ok(Taken::Repeat)
        );
        // Signed with another secret, unsigned, or the body changed: refused.
        let mut wrong = good.clone();
        wrong[0].1 = sign("guess", &body);
        wrong[2].1 = "d-2".into();
        assert_eq!(
            take(&r, &seen, &headers(&wrong), &body, 6),
            Err(Refused::Unverified("the signature does not match"))
        );
        assert_eq!(
            take(&r, &seen, &headers(&good[1..]), &body, 6),
            Err(Refused::Unverified("no signature"))
        );
        let mut changed = body.clone();
        changed.push(b' ');
        let mut fresh = good.clone();
        fresh[2].1 = "d-3".into();
        assert!(matches!(
            take(&r, &seen, &headers(&fresh), &changed, 6),
            Err(Refused::Unverified(_))
        ));
        // With no secret set, nothing is taken.
        let blind = route(None);
        assert!(matches!(
            take(&blind, &Seen::default(), &headers(&fresh), &body, 6),
            Err(Refused::Unverified(_))
        ));
        // Too large: refused before anything else.
        let small = Route { max_body: 10, ..r };
        assert_eq!(
            take(&small, &seen, &headers(&fresh), &body, 6),
            Err(Refused::TooLarge(10))
        );
    }

    #[test]
    fn each_event_names_what_it_changed() {
        let of = |event: &str, p: Value| about(event, &p);
        let repo = serde_json::json!({ "full_name": "acme/app" });
        let pr = of(
            "pull_request",
            serde_json::json!({ "repository": repo, "pull_request": { "number": 3, "head": { "ref": "feat/x", "sha": "s1" } } }),
        );
        assert_eq!(
            (pr.prs, pr.branches, pr.shas),
            (vec![3], vec!["feat/x".to_owned()], vec!["s1".to_owned()])
        );
        let status = of(
            "status",
            serde_json::json!({ "repository": repo, "sha": "s2", "branches": [{ "name": "feat/y" }] }),
        );
        assert_eq!(
            (status.shas, status.branches),
            (vec!["s2".to_owned()], vec!["feat/y".to_owned()])
        );
        let comment = of(
            "issue_comment",
            serde_json::json!({ "repository": repo, "issue": { "number": 4, "pull_request": {} } }),
        );
        assert_eq!(comment.prs, [4]);
        let on_issue = of(
            "issue_comment",
            serde_json::json!({ "repository": repo, "issue": { "number": 5 } }),
        );
        assert!(on_issue.prs.is_empty());
        let push = of(
            "push",
            serde_json::json!({ "repository": repo, "ref": "refs/heads/feat/z" }),
        );
        assert_eq!(push.branches, ["feat/z"]);
        assert!(
            of("ping", serde_json::json!({ "repository": repo }))
                .prs
                .is_empty()
        );
    }
}
