//! A stateful fake GitHub on loopback, for the tests of ao's GitHub plugins: the real
//! octocrab client in ao talks to it over HTTP as it would to api.github.com.
//!
//! - It holds repositories (with issues, labels, assignees, milestones) that a test
//!   creates and changes while ao runs, and pull requests on the test's real bare git
//!   remote: head SHAs are read from it, conflicts and "behind base" computed by git, and a
//!   merge really moves the remote's base branch. Checks and commit statuses (with job
//!   logs behind GitHub's redirect), reviews and review threads (resolved, outdated) are
//!   set by the test. A rename leaves the old name answering, as GitHub's does.
//! - REST: `GET /rate_limit`, `/user`, `/repos/{owner}/{name}`, merge, close, branch
//!   deletion and job logs, with GitHub's headers (`x-ratelimit-*`, `x-oauth-scopes`,
//!   `etag`; `If-None-Match` gets a 304 that costs nothing).
//! - GraphQL: every query is parsed and validated against GitHub's published schema
//!   (`tests/fixtures/github/schema.graphql`) by a real GraphQL implementation (apollo-compiler)
//!   and executed by it against the fake's state, so a reply has exactly the shape the
//!   query asked for. A query that does not validate gets GitHub's kind of answer (200,
//!   `errors` with the message and position) and is recorded: tests assert none was sent.
//!   `rateLimit { cost }` is computed as GitHub documents it.
//! - Both address layouts answer: github.com's (`/repos`, `/graphql`) and an Enterprise
//!   host's (`/api/v3/repos`, `/api/graphql`).
//! - Faults a test injects: a status (5xx storms), a hang, a secondary rate limit with
//!   `retry-after`, a body that is not JSON. Every request is logged, with when it arrived.

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
use std::time::{Duration, Instant};

/// The token the fake accepts unless a test says otherwise.
pub const TOKEN: &str = "ghp_fakeTokenForAoTests0123456789abcdef";

/// GitHub's schema, parsed and checked once per test process. GitHub's own file has two
/// fields defined twice (on `EnterpriseOwnerInfo`); any other problem fails.
fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = crate::fixtures_dir().join("github").join("schema.graphql");
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
#[derive(Debug, Clone, Default)]
pub struct FakePull {
    /// Its number.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its head branch (in the repository's remote).
    pub head: String,
    /// Its base branch.
    pub base: String,
    /// `OPEN`, `CLOSED` or `MERGED`.
    pub state: String,
    /// Whether it is a draft.
    pub draft: bool,
    /// `APPROVED`, `CHANGES_REQUESTED`, `REVIEW_REQUIRED`, or none.
    pub review: Option<String>,
    /// Its review threads.
    pub threads: Vec<FakeThread>,
    /// When it last changed, seconds since 1970.
    pub updated_at: i64,
    /// Whether its head branch is in a fork.
    pub from_fork: bool,
}

/// One review thread.
#[derive(Debug, Clone, Default)]
pub struct FakeThread {
    /// Its node id.
    pub id: String,
    /// The file.
    pub path: String,
    /// The line.
    pub line: Option<u32>,
    /// The first comment.
    pub body: String,
    /// Its author's login.
    pub author: String,
    /// Whether a bot wrote it.
    pub bot: bool,
    /// Resolved.
    pub resolved: bool,
    /// Outdated by newer commits.
    pub outdated: bool,
}

/// One CI check on a commit: a check run (GitHub Actions) or a commit status.
#[derive(Debug, Clone)]
pub struct FakeCheck {
    /// The check run's id (its job's, for Actions).
    pub id: u64,
    /// The commit.
    pub sha: String,
    /// Its name.
    pub name: String,
    /// `QUEUED`, `IN_PROGRESS` or `COMPLETED`.
    pub status: String,
    /// For a completed one: `SUCCESS`, `FAILURE`, `CANCELLED`, `TIMED_OUT`, `SKIPPED`, `NEUTRAL`.
    pub conclusion: Option<String>,
    /// Required by branch protection.
    pub required: bool,
    /// A commit status (a StatusContext) rather than a check run.
    pub status_context: bool,
    /// Its job's log.
    pub log: String,
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
    /// The bare git repository that is its remote (branches, merges).
    pub remote: Option<std::path::PathBuf>,
    /// CI checks by commit.
    pub checks: Vec<FakeCheck>,
    /// Where a rename sends its old name (`owner/old` to `owner/new`).
    pub renamed_to: Option<String>,
    /// Whether the last commits of its default branch have checks (it runs CI).
    pub default_branch_checked: bool,
    /// Whether it has a `.github/workflows` directory.
    pub workflows: bool,
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
    /// Carry the request out (a merge merges), then wait this long before answering: an
    /// answer lost on its way back.
    AnswerAfter(Duration),
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
    /// For GraphQL: the query's cost in rate-limit points, as GitHub computes it.
    pub cost: u64,
    /// When it arrived (its headers and body read).
    pub at: Instant,
}

#[derive(Debug)]
struct State {
    repos: BTreeMap<String, FakeRepo>,
    token: String,
    scopes: Option<String>,
    faults: VecDeque<Fault>,
    /// Faults for the next request of a method whose path ends so: (method, end, fault).
    aimed: Vec<(String, String, Fault)>,
    log: Vec<Logged>,
    invalid: Vec<String>,
    core_remaining: u64,
    graphql_remaining: u64,
    reset: i64,
    last_cost: u64,
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
            aimed: Vec::new(),
            log: Vec::new(),
            invalid: Vec::new(),
            core_remaining: 5000,
            graphql_remaining: 5000,
            reset: 4_102_444_800,
            last_cost: 0,
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

    /// Says whether a repository runs CI: checks on its default branch's last commits,
    /// and a `.github/workflows` directory.
    pub fn repo_ci(&self, full_name: &str, default_branch_checked: bool, workflows: bool) {
        self.with(|s| {
            let r = s.repos.get_mut(full_name).expect("a repo");
            r.default_branch_checked = default_branch_checked;
            r.workflows = workflows;
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
        self.open_pr(repo, &format!("pr-{title}"), "main", title)
    }

    /// Makes `remote` (a bare repository) the repository's remote.
    pub fn remote(&self, repo: &str, remote: &std::path::Path) {
        self.with(|s| s.repos.get_mut(repo).expect("a repo").remote = Some(remote.to_owned()));
    }

    /// Opens a pull request from `head` into `base`, as `gh pr create` would after a push,
    /// and returns its number.
    pub fn open_pr(&self, repo: &str, head: &str, base: &str, title: &str) -> u64 {
        self.with(|s| {
            let r = s.repos.get_mut(repo).expect("a repo");
            let number = r.next_number();
            r.pulls.push(FakePull {
                number,
                title: title.to_owned(),
                head: head.to_owned(),
                base: base.to_owned(),
                state: "OPEN".into(),
                review: Some("REVIEW_REQUIRED".into()),
                updated_at: now(),
                ..FakePull::default()
            });
            number
        })
    }

    /// Changes a pull request (its `updated_at` moves).
    pub fn edit_pr(&self, repo: &str, number: u64, f: impl FnOnce(&mut FakePull)) {
        self.with(|s| {
            let r = s.repos.get_mut(repo).expect("a repo");
            let pr = r
                .pulls
                .iter_mut()
                .find(|p| p.number == number)
                .expect("a pull request");
            f(pr);
            pr.updated_at = now();
        });
    }

    /// Adds a review thread (its id made here) and returns its id.
    pub fn thread(&self, repo: &str, number: u64, thread: FakeThread) -> String {
        let id = format!("PRRT_{number}_{}", now_nanos());
        let thread = FakeThread {
            id: id.clone(),
            ..thread
        };
        self.edit_pr(repo, number, |p| p.threads.push(thread));
        id
    }

    /// Sets a check on the pull request's current head: by name, replacing one of the
    /// same name on that commit. Returns the check's id.
    pub fn check(
        &self,
        repo: &str,
        number: u64,
        name: &str,
        conclusion: Option<&str>,
        required: bool,
        log: &str,
    ) -> u64 {
        let sha = self.head_sha(repo, number);
        self.with(|s| {
            let r = s.repos.get_mut(repo).expect("a repo");
            let id = 1000 + r.checks.len() as u64;
            r.checks.retain(|c| !(c.sha == sha && c.name == name));
            r.checks.push(FakeCheck {
                id,
                sha,
                name: name.to_owned(),
                status: if conclusion.is_some() {
                    "COMPLETED"
                } else {
                    "IN_PROGRESS"
                }
                .into(),
                conclusion: conclusion.map(str::to_owned),
                required,
                status_context: false,
                log: log.to_owned(),
            });
            if let Some(p) = r.pulls.iter_mut().find(|p| p.number == number) {
                p.updated_at = now();
            }
            id
        })
    }

    /// Sets a commit status (a `StatusContext`, as an outside CI posts it) on the pull
    /// request's current head.
    pub fn status(
        &self,
        repo: &str,
        number: u64,
        context: &str,
        state: Option<&str>,
        required: bool,
    ) {
        let id = self.check(repo, number, context, state, required, "");
        self.with(|s| {
            let r = s.repos.get_mut(repo).expect("a repo");
            if let Some(c) = r.checks.iter_mut().find(|c| c.id == id) {
                c.status_context = true;
            }
        });
    }

    /// The commit the pull request's head branch points at in the remote.
    pub fn head_sha(&self, repo: &str, number: u64) -> String {
        self.with(|s| {
            let r = s.repos.get(repo).expect("a repo");
            let p = r
                .pulls
                .iter()
                .find(|p| p.number == number)
                .expect("a pull request");
            branch_sha(r, &p.head).unwrap_or_default()
        })
    }

    /// Renames a repository; the old name still answers, as GitHub's redirect does.
    pub fn rename(&self, from: &str, to: &str) {
        self.with(|s| {
            let mut r = s.repos.remove(from).expect("a repo");
            r.full_name = to.to_owned();
            s.repos.insert(to.to_owned(), r);
            s.repos.insert(
                from.to_owned(),
                FakeRepo {
                    full_name: from.to_owned(),
                    renamed_to: Some(to.to_owned()),
                    ..FakeRepo::default()
                },
            );
        });
    }

    /// Answers the next `n` requests with `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.with(|s| s.faults.extend(std::iter::repeat_n(fault, n)));
    }

    /// Answers the next `method` request whose path ends with `end` with `fault`, whatever
    /// comes before it.
    pub fn fail_on(&self, method: &str, end: &str, fault: Fault) {
        self.with(|s| s.aimed.push((method.to_owned(), end.to_owned(), fault)));
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

    /// Sets the GraphQL points left in this window (of 5000), as the next answers say.
    pub fn set_graphql_remaining(&self, remaining: u64) {
        self.with(|s| s.graphql_remaining = remaining.min(5000));
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn iso(t: i64) -> String {
    ao_core::model::time::utc_rfc3339(t * 1000)
}

type GitAnswers = std::collections::HashMap<(std::path::PathBuf, Vec<String>), Option<String>>;

thread_local! {
    /// While one GraphQL query is answered, each git question's answer, asked once: a
    /// query reads (it changes no ref), and a poll of 100 pull requests would otherwise
    /// start some 1,300 git processes, slow enough under load to pass ao's deadline.
    static GIT_ANSWERS: std::cell::RefCell<Option<GitAnswers>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with each git question asked at most once.
fn with_git_answers_kept<T>(f: impl FnOnce() -> T) -> T {
    struct Forget;
    impl Drop for Forget {
        fn drop(&mut self) {
            GIT_ANSWERS.with(|a| *a.borrow_mut() = None);
        }
    }
    GIT_ANSWERS.with(|a| *a.borrow_mut() = Some(GitAnswers::new()));
    let _forget = Forget;
    f()
}

/// `git --git-dir REMOTE args`, its output when it succeeds; inside
/// `with_git_answers_kept`, asked of git once.
fn git(remote: &std::path::Path, args: &[&str]) -> Option<String> {
    let key = (
        remote.to_owned(),
        args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>(),
    );
    if let Some(kept) = GIT_ANSWERS.with(|a| a.borrow().as_ref().and_then(|m| m.get(&key).cloned()))
    {
        return kept;
    }
    let answer = git_now(remote, args);
    GIT_ANSWERS.with(|a| {
        if let Some(m) = a.borrow_mut().as_mut() {
            m.insert(key, answer.clone());
        }
    });
    answer
}

fn git_now(remote: &std::path::Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(remote)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "GitHub")
        .env("GIT_AUTHOR_EMAIL", "noreply@github.com")
        .env("GIT_COMMITTER_NAME", "GitHub")
        .env("GIT_COMMITTER_EMAIL", "noreply@github.com")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn branch_sha(r: &FakeRepo, branch: &str) -> Option<String> {
    git(
        r.remote.as_deref()?,
        &[
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}"),
        ],
    )
}

/// Whether the head can merge into the base without conflicts, and whether the base has
/// moved on since the head branched.
fn merge_state(r: &FakeRepo, p: &FakePull) -> (bool, bool) {
    let (Some(remote), Some(head), Some(base)) = (
        r.remote.as_deref(),
        branch_sha(r, &p.head),
        branch_sha(r, &p.base),
    ) else {
        return (false, false);
    };
    let conflicts = git(remote, &["merge-tree", "--write-tree", &base, &head]).is_none();
    let behind = git(remote, &["merge-base", "--is-ancestor", &base, &head]).is_none();
    (conflicts, behind)
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
        204 => "No Content",
        302 => "Found",
        304 => "Not Modified",
        405 => "Method Not Allowed",
        409 => "Conflict",
        422 => "Unprocessable Entity",
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
    let at = Instant::now();
    let fault = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        let path = req.path.split('?').next().unwrap_or("");
        match s
            .aimed
            .iter()
            .position(|(m, end, _)| *m == req.method && path.ends_with(end.as_str()))
        {
            Some(i) => Some(s.aimed.remove(i).2),
            None => s.faults.pop_front(),
        }
    };
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
        Some(Fault::AnswerAfter(d)) => {
            let answer = route(&req, state);
            std::thread::sleep(d);
            answer
        }
        None => route(&req, state),
    };
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let cost = std::mem::take(&mut s.last_cost);
    s.log.push(Logged {
        method: req.method.clone(),
        path: req.path.clone(),
        operation,
        status: answer.status,
        cost,
        at,
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
    if let Some(answer) = rest_pulls(req, &mut s, path) {
        return answer;
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

/// Merging, closing, deleting a branch, and job logs behind GitHub's redirect.
fn rest_pulls(req: &Request, s: &mut State, path: &str) -> Option<Answer> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let body: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
    match (req.method.as_str(), parts.as_slice()) {
        ("PUT", ["repos", owner, name, "pulls", n, "merge"]) => {
            let r = s.repos.get_mut(&format!("{owner}/{name}"))?;
            let n: u64 = n.parse().ok()?;
            let remote = r.remote.clone();
            let pr = r.pulls.iter().find(|p| p.number == n)?.clone();
            if pr.state != "OPEN" {
                return Some(Answer::json(
                    405,
                    json!({ "message": "Pull Request is not mergeable" }),
                ));
            }
            let head = branch_sha(r, &pr.head).unwrap_or_default();
            if body["sha"].as_str().is_some_and(|sha| sha != head) {
                return Some(Answer::json(
                    409,
                    json!({ "message": "Head branch was modified. Review and try the merge again." }),
                ));
            }
            let (conflicts, _) = merge_state(r, &pr);
            let base = branch_sha(r, &pr.base).unwrap_or_default();
            let (Some(remote), false) = (remote, conflicts) else {
                return Some(Answer::json(
                    405,
                    json!({ "message": "Pull Request is not mergeable" }),
                ));
            };
            let tree = git(&remote, &["merge-tree", "--write-tree", &base, &head])?;
            let tree = tree.lines().next()?.to_owned();
            let message = format!("{} (#{n})", pr.title);
            let commit = match body["merge_method"].as_str().unwrap_or("merge") {
                "merge" => git(
                    &remote,
                    &[
                        "commit-tree",
                        &tree,
                        "-p",
                        &base,
                        "-p",
                        &head,
                        "-m",
                        &format!("Merge pull request #{n} from {}", pr.head),
                    ],
                )?,
                // Squash and rebase both leave the base one commit further here.
                _ => git(
                    &remote,
                    &["commit-tree", &tree, "-p", &base, "-m", &message],
                )?,
            };
            git(
                &remote,
                &[
                    "update-ref",
                    &format!("refs/heads/{}", pr.base),
                    &commit,
                    &base,
                ],
            )?;
            let p = r.pulls.iter_mut().find(|p| p.number == n)?;
            p.state = "MERGED".into();
            p.updated_at = now();
            Some(Answer::json(
                200,
                json!({ "sha": commit, "merged": true, "message": "Pull Request successfully merged" }),
            ))
        }
        ("PATCH", ["repos", owner, name, "pulls", n]) => {
            let r = s.repos.get_mut(&format!("{owner}/{name}"))?;
            let n: u64 = n.parse().ok()?;
            let p = r.pulls.iter_mut().find(|p| p.number == n)?;
            if body["state"] == "closed" && p.state == "OPEN" {
                p.state = "CLOSED".into();
                p.updated_at = now();
            }
            Some(Answer::json(
                200,
                json!({ "number": n, "state": p.state.to_ascii_lowercase() }),
            ))
        }
        ("DELETE", ["repos", owner, name, "git", "refs", "heads", branch @ ..]) => {
            let r = s.repos.get(&format!("{owner}/{name}"))?;
            let branch = branch.join("/");
            let remote = r.remote.clone()?;
            match git(
                &remote,
                &["update-ref", "-d", &format!("refs/heads/{branch}")],
            ) {
                Some(_) => Some(Answer {
                    status: 204,
                    headers: Vec::new(),
                    body: String::new(),
                }),
                None => Some(Answer::json(
                    422,
                    json!({ "message": "Reference does not exist" }),
                )),
            }
        }
        ("GET", ["repos", owner, name, "actions", "jobs", id, "logs"]) => {
            let host = req.header("host").unwrap_or("127.0.0.1");
            Some(Answer {
                status: 302,
                headers: vec![(
                    "location".into(),
                    format!("http://{host}/_logs/{owner}/{name}/{id}"),
                )],
                body: String::new(),
            })
        }
        ("GET", ["_logs", owner, name, id]) => {
            let r = s.repos.get(&format!("{owner}/{name}"))?;
            let id: u64 = id.parse().ok()?;
            let c = r.checks.iter().find(|c| c.id == id)?;
            Some(Answer {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: c.log.clone(),
            })
        }
        _ => None,
    }
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
    s.last_cost = cost;
    let root = QueryRoot { s, cost };
    let response = with_git_answers_kept(|| {
        Execution::new(schema(), &document)
            .raw_variable_values(&variables)
            .execute_sync(&root)
    });
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
                let repo = self.s.repos.get(&full).and_then(|r| match &r.renamed_to {
                    Some(to) => self.s.repos.get(to),
                    None => Some(r),
                });
                match repo.filter(|r| !r.hidden) {
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

/// A repository's default branch (`defaultBranchRef`): its last commits, each with a
/// passed check when the repository runs CI.
struct BranchRef(bool);

impl ObjectValue for BranchRef {
    fn type_name(&self) -> &str {
        "Ref"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "target" => Ok(ResolvedValue::object(BranchCommit(self.0))),
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

/// A commit of a default branch: its history, or its checks.
struct BranchCommit(bool);

impl ObjectValue for BranchCommit {
    fn type_name(&self) -> &str {
        "Commit"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "history" => {
                let items = (0..10)
                    .map(|i| {
                        let c: Box<dyn ObjectValue + 'a> = Box::new(BranchCommit(self.0));
                        (format!("cursor:{i}"), c)
                    })
                    .collect();
                Ok(ResolvedValue::object(Connection::page(
                    "CommitHistoryConnection",
                    items,
                    info,
                )))
            }
            "statusCheckRollup" if self.0 => Ok(ResolvedValue::object(Fields(
                "StatusCheckRollup",
                json!({ "state": "SUCCESS" }),
            ))),
            "statusCheckRollup" => Ok(ResolvedValue::null()),
            _ => Err(self.unknown_field_error(info)),
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
            "defaultBranchRef" => Ok(ResolvedValue::object(BranchRef(r.default_branch_checked))),
            "object" => {
                let path = arg(info, "expression");
                if r.workflows && path.as_str() == Some("HEAD:.github/workflows") {
                    Ok(ResolvedValue::object(Fields("Tree", json!({}))))
                } else {
                    Ok(ResolvedValue::null())
                }
            }
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
                    Ok(ResolvedValue::object(PullObject(r, p)))
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
                    // GitHub's `IssueFilters`: a filter left out filters nothing, `null`
                    // means none (no assignee, no milestone), `*` any, a value that one.
                    // An input field whose variable is not given reads as `null` here
                    // (apollo-compiler's way), so a query that means "no filter" must
                    // leave the field out.
                    .filter(|i| match filter.get("assignee") {
                        None => true,
                        Some(Value::Null) => i.assignees.is_empty(),
                        Some(a) if a == "*" => !i.assignees.is_empty(),
                        Some(a) => i.assignees.iter().any(|x| a == x.as_str()),
                    })
                    .filter(|i| match filter.get("milestoneNumber") {
                        None => true,
                        Some(Value::Null) => i.milestone.is_none(),
                        Some(n) if n == "*" => i.milestone.is_some(),
                        Some(n) => i
                            .milestone
                            .is_some_and(|m| n.as_str() == Some(m.to_string().as_str())),
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
            "pullRequest" => match r.pulls.iter().find(|p| p.number == number()) {
                Some(p) => Ok(ResolvedValue::object(PullObject(r, p))),
                None => Err(FieldError {
                    message: format!(
                        "Could not resolve to a PullRequest with the number of {}.",
                        number()
                    ),
                }),
            },
            "pullRequests" => {
                let head = arg(info, "headRefName");
                let states = arg(info, "states");
                let mut all: Vec<&FakePull> = r
                    .pulls
                    .iter()
                    .filter(|p| head.as_str().is_none_or(|h| p.head == h))
                    .filter(|p| {
                        states.as_array().is_none_or(|st| {
                            st.iter().any(|s| s.as_str() == Some(p.state.as_str()))
                        })
                    })
                    .collect();
                // Newest first, as ordered by creation descending.
                all.sort_by_key(|p| std::cmp::Reverse(p.number));
                let items = all
                    .into_iter()
                    .map(|p| {
                        (
                            format!("cursor:{}", p.number),
                            Box::new(PullObject(r, p)) as Box<dyn ObjectValue + 'a>,
                        )
                    })
                    .collect();
                Ok(ResolvedValue::object(Connection::page(
                    "PullRequestConnection",
                    items,
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

fn failing(conclusion: Option<&str>) -> bool {
    matches!(
        conclusion,
        Some("FAILURE" | "TIMED_OUT" | "CANCELLED" | "ACTION_REQUIRED" | "STARTUP_FAILURE")
    )
}

struct PullObject<'s>(&'s FakeRepo, &'s FakePull);

impl PullObject<'_> {
    fn checks(&self) -> Vec<&FakeCheck> {
        let sha = branch_sha(self.0, &self.1.head).unwrap_or_default();
        self.0.checks.iter().filter(|c| c.sha == sha).collect()
    }

    fn merge_state_status(&self) -> &'static str {
        let p = self.1;
        let (conflicts, behind) = merge_state(self.0, p);
        let checks = self.checks();
        let required_bad = checks
            .iter()
            .any(|c| c.required && (c.status != "COMPLETED" || failing(c.conclusion.as_deref())));
        let other_bad = checks.iter().any(|c| failing(c.conclusion.as_deref()));
        if p.draft {
            "DRAFT"
        } else if conflicts {
            "DIRTY"
        } else if behind {
            "BEHIND"
        } else if required_bad || p.review.as_deref() != Some("APPROVED") {
            "BLOCKED"
        } else if other_bad {
            "UNSTABLE"
        } else {
            "CLEAN"
        }
    }
}

impl ObjectValue for PullObject<'_> {
    fn type_name(&self) -> &str {
        "PullRequest"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let (r, p) = (self.0, self.1);
        match info.field_name() {
            "number" => Ok(leaf(json!(p.number))),
            "title" => Ok(leaf(json!(p.title))),
            "url" => Ok(leaf(json!(format!(
                "https://github.com/{}/pull/{}",
                r.full_name, p.number
            )))),
            "state" => Ok(leaf(json!(p.state))),
            "closed" => Ok(leaf(json!(p.state != "OPEN"))),
            "merged" => Ok(leaf(json!(p.state == "MERGED"))),
            "isDraft" => Ok(leaf(json!(p.draft))),
            "headRefName" => Ok(leaf(json!(p.head))),
            "baseRefName" => Ok(leaf(json!(p.base))),
            "isCrossRepository" => Ok(leaf(json!(p.from_fork))),
            "headRefOid" => Ok(leaf(json!(branch_sha(r, &p.head).unwrap_or_default()))),
            "updatedAt" => Ok(leaf(json!(iso(p.updated_at)))),
            "reviewDecision" => Ok(leaf(json!(p.review))),
            "mergeable" => Ok(leaf(json!(if merge_state(r, p).0 {
                "CONFLICTING"
            } else {
                "MERGEABLE"
            }))),
            "mergeStateStatus" => Ok(leaf(json!(self.merge_state_status()))),
            "reviewThreads" => {
                let items = p
                    .threads
                    .iter()
                    .map(|t| {
                        (
                            format!("cursor:{}", t.id),
                            Box::new(ThreadObject(t)) as Box<dyn ObjectValue + 'a>,
                        )
                    })
                    .collect();
                Ok(ResolvedValue::object(Connection::page(
                    "PullRequestReviewThreadConnection",
                    items,
                    info,
                )))
            }
            "commits" => {
                let sha = branch_sha(r, &p.head).unwrap_or_default();
                let commit = Box::new(PrCommit(sha, self.checks())) as Box<dyn ObjectValue + 'a>;
                Ok(ResolvedValue::object(Connection::page(
                    "PullRequestCommitConnection",
                    vec![("cursor:head".into(), commit)],
                    info,
                )))
            }
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

/// A pull request's head commit (`commits(last: 1)`), with its checks.
struct PrCommit<'s>(String, Vec<&'s FakeCheck>);

impl ObjectValue for PrCommit<'_> {
    fn type_name(&self) -> &str {
        "PullRequestCommit"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "commit" => Ok(ResolvedValue::object(CommitObject(&self.0, &self.1))),
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

struct CommitObject<'s>(&'s str, &'s [&'s FakeCheck]);

impl ObjectValue for CommitObject<'_> {
    fn type_name(&self) -> &str {
        "Commit"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "oid" => Ok(leaf(json!(self.0))),
            "statusCheckRollup" => {
                if self.1.is_empty() {
                    return Ok(ResolvedValue::null());
                }
                Ok(ResolvedValue::object(Rollup(self.1)))
            }
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

struct Rollup<'s>(&'s [&'s FakeCheck]);

impl ObjectValue for Rollup<'_> {
    fn type_name(&self) -> &str {
        "StatusCheckRollup"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "state" => {
                let state = if self.0.iter().any(|c| failing(c.conclusion.as_deref())) {
                    "FAILURE"
                } else if self.0.iter().any(|c| c.status != "COMPLETED") {
                    "PENDING"
                } else {
                    "SUCCESS"
                };
                Ok(leaf(json!(state)))
            }
            "contexts" => {
                let items = self
                    .0
                    .iter()
                    .map(|c| {
                        let o: Box<dyn ObjectValue + 'a> = if c.status_context {
                            Box::new(Fields(
                                "StatusContext",
                                json!({
                                    "context": c.name,
                                    "state": if failing(c.conclusion.as_deref()) { "FAILURE" } else if c.status == "COMPLETED" { "SUCCESS" } else { "PENDING" },
                                    "targetUrl": format!("https://ci.example.com/{}", c.id),
                                    "isRequired": c.required,
                                }),
                            ))
                        } else {
                            Box::new(Fields(
                                "CheckRun",
                                json!({
                                    "databaseId": c.id,
                                    "name": c.name,
                                    "status": c.status,
                                    "conclusion": c.conclusion,
                                    "detailsUrl": format!("https://github.com/actions/runs/1/job/{}", c.id),
                                    "isRequired": c.required,
                                }),
                            ))
                        };
                        (format!("cursor:{}", c.id), o)
                    })
                    .collect();
                Ok(ResolvedValue::object(Connection::page(
                    "StatusCheckRollupContextConnection",
                    items,
                    info,
                )))
            }
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

struct ThreadObject<'s>(&'s FakeThread);

impl ObjectValue for ThreadObject<'_> {
    fn type_name(&self) -> &str {
        "PullRequestReviewThread"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let t = self.0;
        match info.field_name() {
            "id" => Ok(leaf(json!(t.id))),
            "isResolved" => Ok(leaf(json!(t.resolved))),
            "isOutdated" => Ok(leaf(json!(t.outdated))),
            "path" => Ok(leaf(json!(t.path))),
            "line" => Ok(leaf(json!(t.line))),
            "comments" => {
                let author = Fields(
                    if t.bot { "Bot" } else { "User" },
                    json!({ "login": t.author }),
                );
                let comment = Box::new(Comment(t, author)) as Box<dyn ObjectValue + 'a>;
                Ok(ResolvedValue::object(Connection::page(
                    "PullRequestReviewCommentConnection",
                    vec![("cursor:1".into(), comment)],
                    info,
                )))
            }
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

struct Comment<'s>(&'s FakeThread, Fields);

impl ObjectValue for Comment<'_> {
    fn type_name(&self) -> &str {
        "PullRequestReviewComment"
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        match info.field_name() {
            "body" => Ok(leaf(json!(self.0.body))),
            "path" => Ok(leaf(json!(self.0.path))),
            "line" => Ok(leaf(json!(self.0.line))),
            "author" => Ok(ResolvedValue::object(Borrowed(&self.1))),
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
