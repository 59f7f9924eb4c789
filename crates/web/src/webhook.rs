//! GitHub's webhooks, received by the dashboard's server: each project's `scm.webhook`
//! (the reference format's keys) gives a path, the environment variable of its secret and
//! the headers to read. A delivery is verified (HMAC-SHA256 of the body against the
//! secret, compared in constant time), dropped when its id was taken before, refused when
//! larger than `maxBodyBytes`, and turned into an [`ao_core::session::Nudge`] naming the
//! pull requests it is about (of the projects whose secret verified it), which the host
//! reads at once. Its signature is its authentication: the one route without a cookie,
//! so GitHub can reach it through a tunnel while the rest stays private.

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
    /// The secrets of the projects that receive here, each with the projects it is
    /// theirs (one matching is enough, and the delivery is then about those projects
    /// only); empty when none is set, and then every delivery is refused.
    secrets: Vec<(ring::hmac::Key, Vec<String>)>,
    /// The variables the secrets come from, in the order of `secrets`.
    pub secret_vars: Vec<String>,
    /// The variables named for a secret that are not set.
    pub unset: Vec<String>,
    /// The projects it serves.
    pub projects: Vec<String>,
    /// The header of the signature (lower case).
    pub signature_header: String,
    /// The header naming the event (lower case).
    pub event_header: String,
    /// The header of the delivery's id (lower case).
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
/// wrong with them, to log (a secret that is not set, a path that is not one).
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
        // A plain path: a router's pattern (`{x}`, `*x`, `:x`) is not one.
        if let Some(c) = path
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "/-._~".contains(*c)))
        {
            notes.push(format!(
                "project {id}'s webhook path {path:?} has `{c}`: it receives nothing; use letters, digits and / - . _ ~ only"
            ));
            continue;
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
        let route = match routes.iter().position(|r| r.path == path) {
            Some(i) => &mut routes[i],
            None => {
                routes.push(Route {
                    path: path.clone(),
                    secrets: Vec::new(),
                    secret_vars: Vec::new(),
                    unset: Vec::new(),
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
        if secret.is_none() && !route.unset.contains(&var) {
            route.unset.push(var.clone());
        }
        if let Some(secret) = secret {
            match route.secret_vars.iter().position(|v| *v == var) {
                Some(i) => route.secrets[i].1.push(id.clone()),
                None => {
                    route.secret_vars.push(var);
                    route.secrets.push((
                        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
                        vec![id.clone()],
                    ));
                }
            }
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
    /// Its pull requests are to be read now.
    Nudged(Nudge),
    /// Its id was taken before: nothing done again.
    Repeat,
    /// Verified, but about nothing ao follows (a `ping`, an issue, a release).
    Ignored(String),
}

/// The delivery ids taken lately, oldest first.
#[derive(Default)]
pub struct Seen(Mutex<VecDeque<String>>);

impl Seen {
    /// Whether `id` was taken before.
    fn knows(&self, id: &str) -> bool {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        !id.is_empty() && seen.iter().any(|s| s == id)
    }

    /// Remembers `id` as taken: only once it was (a delivery refused, or not handed
    /// on, may come again as GitHub's "Redeliver" sends it, and is taken then).
    pub fn taken(&self, id: &str) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if id.is_empty() || seen.iter().any(|s| s == id) {
            return;
        }
        if seen.len() == SEEN {
            seen.pop_front();
        }
        seen.push_back(id.to_owned());
    }
}

/// The tag of a signature header (`sha256=<hex>`), or why it is none.
fn tag_of(header: Option<&str>) -> Result<Vec<u8>, Refused> {
    let header = header.ok_or(Refused::Unverified("no signature"))?;
    let hex = header
        .strip_prefix("sha256=")
        .ok_or(Refused::Unverified("the signature is not sha256=<hex>"))?;
    decode_hex(hex).ok_or(Refused::Unverified("the signature is not sha256=<hex>"))
}

const NO_SECRET: Refused =
    Refused::Unverified("no secret is set for this path, so nothing can be verified");

/// What is refused before the body is read: a delivery with no signature that could
/// match, or to a path with no secret.
pub fn precheck(route: &Route, header: &dyn Fn(&str) -> Option<String>) -> Result<(), Refused> {
    tag_of(header(&route.signature_header).as_deref())?;
    if route.secrets.is_empty() {
        return Err(NO_SECRET);
    }
    Ok(())
}

/// The projects whose secret makes `header` (`sha256=<hex>`) the HMAC-SHA256 of `body`
/// (ring compares in constant time).
fn verified<'a>(
    keys: &'a [(ring::hmac::Key, Vec<String>)],
    header: Option<&str>,
    body: &[u8],
) -> Result<&'a [String], Refused> {
    let tag = tag_of(header)?;
    if keys.is_empty() {
        return Err(NO_SECRET);
    }
    keys.iter()
        .find(|(k, _)| ring::hmac::verify(k, body, &tag).is_ok())
        .map(|(_, projects)| projects.as_slice())
        .ok_or(Refused::Unverified("the signature does not match"))
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
/// header by its lower-case name. The caller tells `seen` once it has taken it.
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
    let projects = verified(
        &route.secrets,
        header(&route.signature_header).as_deref(),
        body,
    )?;
    let delivery = header(&route.delivery_header).unwrap_or_default();
    if seen.knows(&delivery) {
        return Ok(Taken::Repeat);
    }
    let event = header(&route.event_header).unwrap_or_default();
    let payload = payload(header("content-type").as_deref(), body)?;
    let mut n = about(&event, &payload);
    if n.repo.is_empty() || (n.prs.is_empty() && n.shas.is_empty() && n.branches.is_empty()) {
        return Ok(Taken::Ignored(event));
    }
    n.event = event;
    n.delivery = delivery;
    n.at = now;
    n.projects = projects.to_vec();
    Ok(Taken::Nudged(n))
}

/// The event's JSON: the body, or its `payload` field when GitHub sends the form
/// encoding (the webhook's content type `application/x-www-form-urlencoded`).
fn payload(content_type: Option<&str>, body: &[u8]) -> Result<Value, Refused> {
    let form = content_type.is_some_and(|t| {
        t.trim_start()
            .starts_with("application/x-www-form-urlencoded")
    });
    let json = if form {
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| Refused::Malformed(format!("the form body cannot be read: {e}")))?;
        fields
            .into_iter()
            .find(|(k, _)| k == "payload")
            .map(|(_, v)| v.into_bytes())
            .ok_or_else(|| Refused::Malformed("the form body has no `payload`".into()))?
    } else {
        body.to_vec()
    };
    serde_json::from_slice(&json).map_err(|e| {
        Refused::Malformed(format!(
            "the body is not the JSON of an event ({e}); the webhook's content type should be application/json"
        ))
    })
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
            // A suite names its branch; a run, through its suite.
            if let Some(b) = str_at(run, &["head_branch"])
                .or_else(|| str_at(run, &["check_suite", "head_branch"]))
            {
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

    fn headers<'a>(pairs: &'a [(&'static str, String)]) -> impl Fn(&str) -> Option<String> + 'a {
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
        let names = [&r.signature_header, &r.event_header, &r.delivery_header];
        assert_eq!(
            names,
            ["x-hub-signature-256", "x-github-event", "x-github-delivery"]
        );
        assert!(!format!("{r:?}").contains("s3cret"));
        let off = routes(&config(serde_json::json!({ "enabled": false })), &|_| None);
        assert!(off.0.is_empty());
        let none = routes(&config(serde_json::json!({ "path": "hooks/gh" })), &|_| {
            None
        });
        assert_eq!(none.0[0].path, "/hooks/gh");
        assert!(
            none.1[0].contains("$GITHUB_WEBHOOK_SECRET is not set"),
            "{:?}",
            none.1
        );
        // A router's pattern is not a path.
        let bad = routes(
            &config(serde_json::json!({ "path": "/hooks/{x}" })),
            &|_| None,
        );
        assert!(bad.0.is_empty());
        assert!(bad.1[0].contains("has `{`"), "{:?}", bad.1);
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
            (n.shas.as_slice(), n.event.as_str()),
            (&["abc".to_owned()][..], "check_run")
        );
        assert_eq!(
            (n.delivery.as_str(), n.at, n.projects.as_slice()),
            ("d-1", 5, &["app".to_owned()][..])
        );
        // Not told taken (the host did not get it): GitHub's redelivery is taken then.
        assert!(matches!(
            take(&r, &seen, &headers(&good), &body, 6),
            Ok(Taken::Nudged(_))
        ));
        // Taken: its repeat does nothing again.
        seen.taken("d-1");
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
        // Refused before the body is read: no signature, or no secret to check one.
        assert_eq!(
            precheck(&r, &headers(&good[1..])),
            Err(Refused::Unverified("no signature"))
        );
        assert_eq!(precheck(&r, &headers(&good)), Ok(()));
        assert_eq!(precheck(&route(None), &headers(&good)), Err(NO_SECRET));
        assert_eq!(
            take(&route(None), &Seen::default(), &headers(&fresh), &body, 6),
            Err(NO_SECRET)
        );
        // The form encoding carries the same event in its `payload`.
        let text = String::from_utf8(body.clone()).unwrap();
        let form = serde_urlencoded::to_string([("payload", text)]).unwrap();
        let formed = [
            ("x-hub-signature-256", sign("s3cret", form.as_bytes())),
            ("x-github-event", "check_run".to_owned()),
            ("x-github-delivery", "d-form".to_owned()),
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
        ];
        assert!(matches!(
            take(&r, &seen, &headers(&formed), form.as_bytes(), 6),
            Ok(Taken::Nudged(n)) if n.prs == [7]
        ));
        // Too large: refused before anything else.
        let small = Route { max_body: 10, ..r };
        assert_eq!(
            take(&small, &seen, &headers(&fresh), &body, 6),
            Err(Refused::TooLarge(10))
        );
    }

    #[test]
    fn a_delivery_is_about_the_projects_whose_secret_signed_it() {
        let cfg: Config = serde_json::from_value(serde_json::json!({
            "projects": {
                "app": { "path": "/x", "repo": "acme/app", "scm": { "plugin": "github", "webhook": { "secretEnvVar": "A" } } },
                "web": { "path": "/y", "repo": "acme/web", "scm": { "plugin": "github", "webhook": { "secretEnvVar": "W" } } },
            }
        }))
        .unwrap();
        let (routes, _) = routes(&cfg, &|v| Some(format!("secret-{v}")));
        assert_eq!(routes.len(), 1, "one shared path");
        let body = br#"{"repository":{"full_name":"acme/web"},"pull_request":{"number":2}}"#;
        let signed = [
            ("x-hub-signature-256", sign("secret-A", body)),
            ("x-github-event", "pull_request".to_owned()),
        ];
        let Ok(Taken::Nudged(n)) = take(&routes[0], &Seen::default(), &headers(&signed), body, 1)
        else {
            panic!("not taken")
        };
        // Signed with app's secret: about app's sessions only, whatever it names.
        assert_eq!(n.projects, ["app"]);
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
        let run = of(
            "check_run",
            serde_json::json!({ "repository": repo, "check_run": { "head_sha": "s3", "pull_requests": [], "check_suite": { "head_branch": "feat/fork" } } }),
        );
        assert_eq!(
            (run.shas, run.branches),
            (vec!["s3".to_owned()], vec!["feat/fork".to_owned()])
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
