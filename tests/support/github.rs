//! A stateful fake GitHub on loopback, for the tests of ao's GitHub plugins: the real
//! octocrab client in ao talks to it over HTTP as it would to api.github.com.
//!
//! - It holds repositories (with issues, labels, assignees, milestones, pull requests by
//!   number) that a test creates and changes while ao runs.
//! - REST: `GET /rate_limit`, `/user`, `/repos/{owner}/{name}`, with GitHub's headers
//!   (`x-ratelimit-*`, `x-oauth-scopes`, `etag`; `If-None-Match` gets a 304 that costs
//!   nothing).
//! - GraphQL: every query is parsed and validated against GitHub's published schema
//!   (`shared/github/schema.graphql`) by a real GraphQL implementation (apollo-compiler)
//!   and executed by it against the fake's state, so a reply has exactly the shape the
//!   query asked for. A query that does not validate gets GitHub's kind of answer (200,
//!   `errors` with the message and position) and is recorded: tests assert none was sent.
//!   `rateLimit { cost }` is computed as GitHub documents it.
//! - Both address layouts answer: github.com's (`/repos`, `/graphql`) and an Enterprise
//!   host's (`/api/v3/repos`, `/api/graphql`).
//! - Faults a test injects: a status (5xx storms), a hang, a secondary rate limit with
//!   `retry-after`, a body that is not JSON. Every request is counted.

use apollo_compiler::executable::{Field, Selection};
use apollo_compiler::resolvers::{Execution, FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The token the fake accepts unless a test says otherwise.
pub const TOKEN: &str = "ghp_fakeTokenForAoTests0123456789abcdef";

/// GitHub's schema, parsed and checked once per test process. GitHub's own file has two
/// fields defined twice (on `EnterpriseOwnerInfo`); any other problem fails.
fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = crate::shared_dir().join("github").join("schema.graphql");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        match Schema::parse_and_validate(text, "schema.graphql") {
            Ok(s) => s,
            Err(e) => {
                let unexpected: Vec<String> = e
                    .errors
                    .iter()
                    .map(|d| d.error.to_string())
                    .filter(|m| {
                        !(m.contains("duplicate definitions")
                            && m.contains("EnterpriseOwnerInfo"))
                    })
                    .collect();
                assert!(
                    unexpected.is_empty(),
                    "GitHub's schema has problems besides its known duplicate fields: {unexpected:?}"
                );
                Valid::assume_valid(e.partial)
            }
        }
    })
}

/// One issue.
#[derive(Debug, Clone)]
pub struct FakeIssue {
    /// Its number.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: String,
    /// Open or closed.
    pub open: bool,
    /// Its labels.
    pub labels: Vec<String>,
    /// Its assignees' logins.
    pub assignees: Vec<String>,
    /// Its milestone's number.
    pub milestone: Option<u64>,
}

/// One pull request (part of the numbers issues share).
#[derive(Debug, Clone)]
pub struct FakePull {
    /// Its number.
    pub number: u64,
    /// Its title.
    pub title: String,
}

/// One repository.
#[derive(Debug, Clone, Default)]
pub struct FakeRepo {
    /// `owner/name`.
    pub full_name: String,
    /// Its issues.
    pub issues: Vec<FakeIssue>,
    /// Its pull requests.
    pub pulls: Vec<FakePull>,
    /// Its milestones: number and title.
    pub milestones: Vec<(u64, String)>,
    /// Whether the token may see it (false: GitHub answers as if it did not exist).
    pub hidden: bool,
}

impl FakeRepo {
    fn next_number(&self) -> u64 {
        let issues = self.issues.iter().map(|i| i.number);
        let pulls = self.pulls.iter().map(|p| p.number);
        issues.chain(pulls).max().unwrap_or(0) + 1
    }
}

/// A failure to answer the next request(s) with.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and GitHub's kind of error body.
    Status(u16),
    /// Wait this long before answering at all.
    Hang(Duration),
    /// GitHub's secondary rate limit: 403 with `retry-after` seconds.
    SecondaryLimit(u64),
    /// A 200 whose body is not JSON.
    NotJson,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Logged {
    /// `GET`, `POST`.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The GraphQL operation's name, for a GraphQL request.
    pub operation: Option<String>,
    /// The status answered.
    pub status: u16,
}

#[derive(Debug)]
struct State {
    repos: BTreeMap<String, FakeRepo>,
    token: String,
    scopes: Option<String>,
    faults: VecDeque<Fault>,
    log: Vec<Logged>,
    invalid: Vec<String>,
    core_remaining: u64,
    graphql_remaining: u64,
    reset: i64,
}

/// The fake GitHub server; it stops with the test process.
pub struct FakeGitHub {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Default for FakeGitHub {
    fn default() -> Self {
        Self::start()
    }
}

impl FakeGitHub {
    /// Starts it on a free loopback port.
    pub fn start() -> FakeGitHub {
        schema();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake GitHub");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            repos: BTreeMap::new(),
            token: TOKEN.to_owned(),
            scopes: Some("repo, read:org".to_owned()),
            faults: VecDeque::new(),
            log: Vec::new(),
            invalid: Vec::new(),
            core_remaining: 5000,
            graphql_remaining: 5000,
            reset: 4_102_444_800,
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        FakeGitHub { url, state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds a repository `owner/name`.
    pub fn repo(&self, full_name: &str) {
        self.with(|s| {
            s.repos.insert(
                full_name.to_owned(),
                FakeRepo {
                    full_name: full_name.to_owned(),
                    ..FakeRepo::default()
                },
            )
        });
    }

    /// Makes a repository invisible to the token (a private repository it has no access to).
    pub fn hide(&self, full_name: &str) {
        self.with(|s| s.repos.get_mut(full_name).expect("a repo").hidden = true);
    }

    /// Opens an issue and returns its number.
    pub fn issue(&self, repo: &str, title: &str, body: &str, labels: &[&str]) -> u64 {
        self.with(|s| {
            let r = s.repos.get_mut(repo).expect("a repo");
            let number = r.next_number();
            r.issues.push(FakeIssue {
                number,
                title: title.to_owned(),
                body: body.to_owned(),
                open: true,
                labels: labels.iter().map(|l| l.to_string()).collect(),
                assignees: Vec::new(),
                milestone: None,
            });
            number
        })
    }

    /// Changes an issue.
    pub fn edit_issue(&self, repo: &str, number: u64, f: impl FnOnce(&mut FakeIssue)) {
        self.with(|s| {
            let r = s.repos.get_mut(repo).expect("a repo");
            f(r.issues
                .iter_mut()
                .find(|i| i.number == number)
                .expect("an issue"))
        });
    }

    /// Adds a milestone and returns its number.
    pub fn milestone(&self, repo: &str, title: &str) -> u64 {
        self.with(|s| {
            let r = s.repos.get_mut(repo).expect("a repo");
            let number = r.milestones.len() as u64 + 1;
            r.milestones.push((number, title.to_owned()));
            number
        })
    }

    /// Opens a pull request (sharing the issues' numbers) and returns its number.
    pub fn pull(&self, repo: &str, title: &str) -> u64 {
        self.with(|s| {
            let r = s.repos.get_mut(repo).expect("a repo");
            let number = r.next_number();
            r.pulls.push(FakePull {
                number,
                title: title.to_owned(),
            });
            number
        })
    }

    /// Answers the next `n` requests with `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.with(|s| s.faults.extend(std::iter::repeat_n(fault, n)));
    }

    /// Accepts only this token from now on.
    pub fn accept_token(&self, token: &str) {
        self.with(|s| s.token = token.to_owned());
    }

    /// The scopes the token reports (`x-oauth-scopes`); None for a fine-grained token.
    pub fn scopes(&self, scopes: Option<&str>) {
        self.with(|s| s.scopes = scopes.map(str::to_owned));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.with(|s| s.log.clone())
    }

    /// The GraphQL queries that did not validate against GitHub's schema, with why.
    pub fn invalid_queries(&self) -> Vec<String> {
        self.with(|s| s.invalid.clone())
    }

    /// The GraphQL points left in this window.
    pub fn graphql_remaining(&self) -> u64 {
        self.with(|s| s.graphql_remaining)
    }
}

/// Validates `query` against GitHub's schema; the messages when it is not valid.
pub fn validate(query: &str) -> Result<(), Vec<String>> {
    ExecutableDocument::parse_and_validate(schema(), query, "query.graphql")
        .map(|_| ())
        .map_err(|e| e.errors.iter().map(|d| d.error.to_string()).collect())
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Other",
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let Some(req) = read_request(&stream) else {
        return;
    };
    let fault = state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .faults
        .pop_front();
    let operation = serde_json::from_str::<Value>(&req.body)
        .ok()
        .and_then(|b| b["query"].as_str().map(operation_name));
    let answer = match fault {
        Some(Fault::Hang(d)) => {
            std::thread::sleep(d);
            return;
        }
        Some(Fault::Status(status)) => Answer::json(
            status,
            json!({ "message": reason(status), "documentation_url": "https://docs.github.com/rest" }),
        ),
        Some(Fault::SecondaryLimit(after)) => {
            let mut a = Answer::json(
                403,
                json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits" }),
            );
            a.headers.push(("retry-after".into(), after.to_string()));
            a
        }
        Some(Fault::NotJson) => Answer {
            status: 200,
            headers: vec![("content-type".into(), "text/html".into())],
            body: "<html><body>Unicorn! Something went wrong.</body></html>".into(),
        },
        None => route(&req, state),
    };
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    s.log.push(Logged {
        method: req.method.clone(),
        path: req.path.clone(),
        operation,
        status: answer.status,
    });
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        answer.status,
        reason(answer.status),
        answer.body.len()
    );
    if !answer
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("content-type: application/json; charset=utf-8\r\n");
    }
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let is_graphql = req.path.ends_with("graphql");
    let (resource, remaining) = if is_graphql {
        ("graphql", s.graphql_remaining)
    } else {
        ("core", s.core_remaining)
    };
    head.push_str(&format!(
        "x-ratelimit-limit: 5000\r\nx-ratelimit-remaining: {remaining}\r\nx-ratelimit-used: {}\r\nx-ratelimit-reset: {}\r\nx-ratelimit-resource: {resource}\r\nx-github-request-id: FAKE:{}\r\n",
        5000 - remaining,
        s.reset,
        s.log.len()
    ));
    if answer.status != 401
        && let Some(scopes) = &s.scopes
    {
        head.push_str(&format!("x-oauth-scopes: {scopes}\r\n"));
    }
    drop(s);
    head.push_str("\r\n");
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(answer.body.as_bytes());
}

/// The name of a query's operation (`query Issue(...)` is `Issue`).
fn operation_name(query: &str) -> String {
    query
        .trim_start()
        .strip_prefix("query")
        .or_else(|| query.trim_start().strip_prefix("mutation"))
        .map(|rest| {
            rest.trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .unwrap_or_default()
}

fn route(req: &Request, state: &Mutex<State>) -> Answer {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let token = req.header("authorization").and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("token "))
    });
    let path = req.path.split('?').next().unwrap_or("");
    let path = path.strip_prefix("/api/v3").unwrap_or(path);
    let graphql = matches!(path, "/graphql" | "/api/graphql");
    if token != Some(s.token.as_str()) {
        return Answer::json(
            401,
            if graphql && token.is_none() {
                json!({ "message": "This endpoint requires you to be authenticated.", "documentation_url": "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql" })
            } else {
                json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest" })
            },
        );
    }
    if graphql && req.method == "POST" {
        return graphql_answer(&req.body, &mut s);
    }
    let answer = match (req.method.as_str(), path.trim_end_matches('/')) {
        ("GET", "/rate_limit") => {
            let bucket = |remaining: u64| json!({ "limit": 5000, "remaining": remaining, "used": 5000 - remaining, "reset": s.reset });
            Answer::json(
                200,
                json!({
                    "resources": { "core": bucket(s.core_remaining), "graphql": bucket(s.graphql_remaining) },
                    "rate": bucket(s.core_remaining),
                }),
            )
        }
        ("GET", "/user") => Answer::json(
            200,
            json!({ "login": "ao-tester", "id": 1, "type": "User" }),
        ),
        ("GET", p) if p.starts_with("/repos/") => {
            let full = p.trim_start_matches("/repos/");
            match s.repos.get(full).filter(|r| !r.hidden) {
                Some(r) => Answer::json(
                    200,
                    json!({
                        "full_name": r.full_name,
                        "name": full.split('/').nth(1),
                        "owner": { "login": full.split('/').next() },
                        "private": false,
                        "default_branch": "main",
                        "html_url": format!("https://github.com/{}", r.full_name),
                    }),
                ),
                None => not_found(),
            }
        }
        _ => not_found(),
    };
    if answer.status == 200 {
        // A conditional request whose ETag still matches costs nothing.
        let etag = format!("W/\"{:016x}\"", fnv(&answer.body));
        if req.header("if-none-match") == Some(etag.as_str()) {
            return Answer {
                status: 304,
                headers: vec![("etag".into(), etag)],
                body: String::new(),
            };
        }
        if path != "/rate_limit" {
            s.core_remaining = s.core_remaining.saturating_sub(1);
        }
        let mut answer = answer;
        answer.headers.push(("etag".into(), etag));
        return answer;
    }
    answer
}

fn not_found() -> Answer {
    Answer::json(
        404,
        json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404" }),
    )
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn graphql_answer(body: &str, s: &mut State) -> Answer {
    let Ok(request) = serde_json::from_str::<Value>(body) else {
        return Answer::json(
            400,
            json!({ "message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql" }),
        );
    };
    let query = request["query"].as_str().unwrap_or("");
    let document = match ExecutableDocument::parse_and_validate(schema(), query, "query.graphql") {
        Ok(d) => d,
        Err(e) => {
            let errors: Vec<Value> = e
                .errors
                .iter()
                .map(|d| {
                    let at = d
                        .line_column_range()
                        .map(|r| json!([{ "line": r.start.line, "column": r.start.column }]))
                        .unwrap_or(json!([]));
                    json!({ "message": d.error.to_string(), "locations": at, "extensions": { "code": "invalidQuery" } })
                })
                .collect();
            s.invalid.push(format!(
                "{}: {}",
                operation_name(query),
                errors
                    .iter()
                    .map(|e| e["message"].as_str().unwrap_or("").to_owned())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
            return Answer::json(200, json!({ "errors": errors }));
        }
    };
    let variables: JsonMap =
        serde_json::from_value(request["variables"].clone()).unwrap_or_default();
    let cost = query_cost(&document, &request["variables"]);
    s.graphql_remaining = s.graphql_remaining.saturating_sub(cost);
    let root = QueryRoot { s, cost };
    let response = Execution::new(schema(), &document)
        .raw_variable_values(&variables)
        .execute_sync(&root);
    match response {
        Ok(r) => {
            let mut body = serde_json::to_value(&r).unwrap_or(Value::Null);
            // In GitHub's words: its message as it is, and its `type`.
            for e in body["errors"].as_array_mut().into_iter().flatten() {
                let message = e["message"].as_str().unwrap_or("");
                let message = message
                    .strip_prefix("resolver error: ")
                    .unwrap_or(message)
                    .to_owned();
                if message.starts_with("Could not resolve") {
                    e["type"] = json!("NOT_FOUND");
                }
                e["message"] = json!(message);
            }
            Answer::json(200, body)
        }
        Err(e) => Answer::json(
            200,
            json!({ "errors": [{ "message": e.message().to_string() }] }),
        ),
    }
}

/// The query's cost as GitHub documents it: each connection field needs as many
/// requests as its parents' page sizes multiply to; the sum over all, divided by 100 and
/// rounded, at least 1.
fn query_cost(document: &Valid<ExecutableDocument>, variables: &Value) -> u64 {
    fn size(field: &Field, variables: &Value) -> Option<u64> {
        field
            .arguments
            .iter()
            .find(|a| a.name == "first" || a.name == "last")
            .and_then(|a| match a.value.as_ref() {
                apollo_compiler::ast::Value::Int(i) => i.as_str().parse().ok(),
                apollo_compiler::ast::Value::Variable(v) => variables[v.as_str()].as_u64(),
                _ => None,
            })
    }
    fn walk(
        doc: &ExecutableDocument,
        selections: &[Selection],
        parents: u64,
        variables: &Value,
        requests: &mut u64,
    ) {
        for sel in selections {
            match sel {
                Selection::Field(f) => {
                    let inner = match size(f, variables) {
                        Some(n) => {
                            *requests += parents;
                            parents * n
                        }
                        None => parents,
                    };
                    walk(doc, &f.selection_set.selections, inner, variables, requests);
                }
                Selection::InlineFragment(i) => walk(
                    doc,
                    &i.selection_set.selections,
                    parents,
                    variables,
                    requests,
                ),
                Selection::FragmentSpread(spread) => {
                    if let Some(frag) = doc.fragments.get(&spread.fragment_name) {
                        walk(
                            doc,
                            &frag.selection_set.selections,
                            parents,
                            variables,
                            requests,
                        )
                    }
                }
            }
        }
    }
    let mut requests = 0;
    for op in document.operations.iter() {
        walk(
            document,
            &op.selection_set.selections,
            1,
            variables,
            &mut requests,
        );
    }
    ((requests as f64 / 100.0).round() as u64).max(1)
}

fn leaf<'a>(v: Value) -> ResolvedValue<'a> {
    ResolvedValue::leaf(serde_json::from_value::<JsonValue>(v).unwrap_or(JsonValue::Null))
}

fn arg(info: &ResolveInfo<'_>, name: &str) -> Value {
    info.arguments()
        .get(name)
        .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
        .unwrap_or(Value::Null)
}

struct QueryRoot<'s> {
    s: &'s State,
    cost: u64,
}

impl ObjectValue for QueryRoot<'_> {
    fn type_name(&self) -> &str {
        "Query"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "repository" => {
                let full = format!(
                    "{}/{}",
                    arg(info, "owner").as_str().unwrap_or(""),
                    arg(info, "name").as_str().unwrap_or("")
                );
                match self.s.repos.get(&full).filter(|r| !r.hidden) {
                    Some(r) => Ok(ResolvedValue::object(RepoObject(r))),
                    // GitHub answers a repository it cannot show with null and an error.
                    None => Err(FieldError {
                        message: format!(
                            "Could not resolve to a Repository with the name '{full}'."
                        ),
                    }),
                }
            }
            "rateLimit" => Ok(ResolvedValue::object(Fields(
                "RateLimit",
                json!({
                    "cost": self.cost,
                    "limit": 5000,
                    "remaining": self.s.graphql_remaining,
                    "used": 5000 - self.s.graphql_remaining,
                    "nodeCount": 0,
                    "resetAt": "2100-01-01T00:00:00Z",
                }),
            ))),
            "viewer" => Ok(ResolvedValue::object(Fields(
                "User",
                json!({ "login": "ao-tester" }),
            ))),
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

/// An object whose fields are plain values (leaves) of a JSON object.
struct Fields(&'static str, Value);

impl ObjectValue for Fields {
    fn type_name(&self) -> &str {
        self.0
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match self.1.get(info.field_name()) {
            Some(v) => Ok(leaf(v.clone())),
            None => Err(self.unknown_field_error(info)),
        }
    }
}

struct RepoObject<'s>(&'s FakeRepo);

impl<'s> RepoObject<'s> {
    fn issue_by(&self, number: u64) -> Option<&'s FakeIssue> {
        self.0.issues.iter().find(|i| i.number == number)
    }
}

impl ObjectValue for RepoObject<'_> {
    fn type_name(&self) -> &str {
        "Repository"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let r = self.0;
        let number = || arg(info, "number").as_u64().unwrap_or(0);
        match info.field_name() {
            "nameWithOwner" => Ok(leaf(json!(r.full_name))),
            "url" => Ok(leaf(json!(format!("https://github.com/{}", r.full_name)))),
            "issue" => match self.issue_by(number()) {
                Some(i) => Ok(ResolvedValue::object(IssueObject(r, i))),
                // GitHub: null, and an error for it.
                None => Err(FieldError {
                    message: format!(
                        "Could not resolve to an Issue with the number of {}.",
                        number()
                    ),
                }),
            },
            "issueOrPullRequest" => {
                let n = number();
                if let Some(i) = self.issue_by(n) {
                    Ok(ResolvedValue::object(IssueObject(r, i)))
                } else if let Some(p) = r.pulls.iter().find(|p| p.number == n) {
                    Ok(ResolvedValue::object(Fields(
                        "PullRequest",
                        json!({
                            "number": p.number,
                            "title": p.title,
                            "url": format!("https://github.com/{}/pull/{}", r.full_name, p.number),
                        }),
                    )))
                } else {
                    Err(FieldError {
                        message: format!(
                            "Could not resolve to an issue or pull request with the number of {n}."
                        ),
                    })
                }
            }
            "issues" => {
                let states = arg(info, "states");
                let labels = arg(info, "labels");
                let filter = arg(info, "filterBy");
                let mut all: Vec<&FakeIssue> = r
                    .issues
                    .iter()
                    .filter(|i| match states.as_array() {
                        Some(st) => st.iter().any(|s| (s == "OPEN") == i.open),
                        None => true,
                    })
                    .filter(|i| match labels.as_array() {
                        // GitHub: issues with any of the labels.
                        Some(ls) => ls
                            .iter()
                            .any(|l| i.labels.iter().any(|il| Some(il.as_str()) == l.as_str())),
                        None => true,
                    })
                    .filter(|i| match filter["assignee"].as_str() {
                        None => true,
                        Some("*") => !i.assignees.is_empty(),
                        Some("none") => i.assignees.is_empty(),
                        Some(a) => i.assignees.iter().any(|x| x == a),
                    })
                    .filter(|i| match filter["milestoneNumber"].as_str() {
                        None => true,
                        Some("*") => i.milestone.is_some(),
                        Some("none") => i.milestone.is_none(),
                        Some(n) => i.milestone.map(|m| m.to_string()).as_deref() == Some(n),
                    })
                    .collect();
                all.sort_by_key(|i| i.number);
                let page: Vec<(String, Box<dyn ObjectValue + 'a>)> = all
                    .into_iter()
                    .map(|i| {
                        (
                            format!("cursor:{}", i.number),
                            Box::new(IssueObject(r, i)) as Box<dyn ObjectValue + 'a>,
                        )
                    })
                    .collect();
                Ok(ResolvedValue::object(Connection::page(
                    "IssueConnection",
                    page,
                    info,
                )))
            }
            "milestones" => {
                let q = arg(info, "query");
                let items: Vec<(String, Box<dyn ObjectValue + 'a>)> = r
                    .milestones
                    .iter()
                    .filter(|(_, t)| q.as_str().is_none_or(|q| t.contains(q)))
                    .map(|(n, t)| {
                        (
                            format!("cursor:{n}"),
                            Box::new(Fields("Milestone", json!({ "number": n, "title": t })))
                                as Box<dyn ObjectValue + 'a>,
                        )
                    })
                    .collect();
                Ok(ResolvedValue::object(Connection::page(
                    "MilestoneConnection",
                    items,
                    info,
                )))
            }
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

struct IssueObject<'s>(&'s FakeRepo, &'s FakeIssue);

impl ObjectValue for IssueObject<'_> {
    fn type_name(&self) -> &str {
        "Issue"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let (r, i) = (self.0, self.1);
        match info.field_name() {
            "number" => Ok(leaf(json!(i.number))),
            "title" => Ok(leaf(json!(i.title))),
            "body" => Ok(leaf(json!(i.body))),
            "url" => Ok(leaf(json!(format!(
                "https://github.com/{}/issues/{}",
                r.full_name, i.number
            )))),
            "state" => Ok(leaf(json!(if i.open { "OPEN" } else { "CLOSED" }))),
            "closed" => Ok(leaf(json!(!i.open))),
            "labels" => {
                let items = i
                    .labels
                    .iter()
                    .map(|l| {
                        (
                            format!("cursor:{l}"),
                            Box::new(Fields("Label", json!({ "name": l })))
                                as Box<dyn ObjectValue + 'a>,
                        )
                    })
                    .collect();
                Ok(ResolvedValue::object(Connection::page(
                    "LabelConnection",
                    items,
                    info,
                )))
            }
            "assignees" => {
                let items = i
                    .assignees
                    .iter()
                    .map(|a| {
                        (
                            format!("cursor:{a}"),
                            Box::new(Fields("User", json!({ "login": a })))
                                as Box<dyn ObjectValue + 'a>,
                        )
                    })
                    .collect();
                Ok(ResolvedValue::object(Connection::page(
                    "UserConnection",
                    items,
                    info,
                )))
            }
            "milestone" => Ok(ResolvedValue::nullable_object(
                i.milestone
                    .and_then(|n| r.milestones.iter().find(|(m, _)| *m == n))
                    .map(|(n, t)| Fields("Milestone", json!({ "number": n, "title": t }))),
            )),
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

/// An object resolved through a reference to it.
struct Borrowed<'x>(&'x dyn ObjectValue);

impl ObjectValue for Borrowed<'_> {
    fn type_name(&self) -> &str {
        self.0.type_name()
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        self.0.resolve_field(info)
    }
}

/// One page of a connection, cut by `first` and `after` as GitHub does.
struct Connection<'a> {
    type_name: &'static str,
    nodes: Vec<Box<dyn ObjectValue + 'a>>,
    total: usize,
    has_next: bool,
    end_cursor: Option<String>,
}

impl<'a> Connection<'a> {
    fn page(
        type_name: &'static str,
        items: Vec<(String, Box<dyn ObjectValue + 'a>)>,
        info: &ResolveInfo<'_>,
    ) -> Connection<'a> {
        let total = items.len();
        let first = arg(info, "first").as_u64().unwrap_or(100) as usize;
        let after = arg(info, "after");
        let start = match after.as_str() {
            Some(c) => items
                .iter()
                .position(|(cursor, _)| cursor == c)
                .map(|p| p + 1)
                .unwrap_or(total),
            None => 0,
        };
        let mut page: Vec<(String, Box<dyn ObjectValue + 'a>)> =
            items.into_iter().skip(start).collect();
        let has_next = page.len() > first;
        page.truncate(first);
        let end_cursor = page.last().map(|(c, _)| c.clone());
        Connection {
            type_name,
            nodes: page.into_iter().map(|(_, n)| n).collect(),
            total,
            has_next,
            end_cursor,
        }
    }
}

impl ObjectValue for Connection<'_> {
    fn type_name(&self) -> &str {
        self.type_name
    }

    fn resolve_field<'b>(
        &'b self,
        info: &'b ResolveInfo<'b>,
    ) -> Result<ResolvedValue<'b>, FieldError> {
        match info.field_name() {
            "totalCount" => Ok(leaf(json!(self.total))),
            "pageInfo" => Ok(ResolvedValue::object(Fields(
                "PageInfo",
                json!({
                    "hasNextPage": self.has_next,
                    "hasPreviousPage": false,
                    "endCursor": self.end_cursor,
                    "startCursor": null,
                }),
            ))),
            "nodes" => Ok(ResolvedValue::List(Box::new(
                self.nodes
                    .iter()
                    .map(|n| Ok(ResolvedValue::object(Borrowed(n.as_ref())))),
            ))),
            _ => Err(self.unknown_field_error(info)),
        }
    }
}
