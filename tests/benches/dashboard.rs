//! What the dashboard costs and how fast it shows a change (run: `cargo bench -p ao-tests
//! --bench dashboard`), each figure with its target and a verdict. 100 idle sessions
//! (the `command` agent running `cat`) across 5 repositories on the fake GitHub, one
//! pull request in each repository, the host at its default intervals serving the
//! dashboard, and one page open on its stream (a client of `/api/events`, as a browser's
//! board is):
//!
//! - the host's resident memory, dashboard included, with the page open: under 40 MB;
//! - its CPU over a 60 s window while nothing changes, as a share of one core: under 1%;
//! - the board's first load on loopback (the page, its stylesheet and script, and the
//!   board's snapshot, one after another): under 200 ms, the median of 20;
//! - the page's own JavaScript and CSS (xterm.js aside): under 100 KB;
//! - from a session's row committed to the store to its card on the page's stream: under
//!   500 ms, the median of 20 (the host's watcher looks every 100 ms);
//! - from a signed GitHub `check_run` delivery of a failed check to its log in the agent's
//!   terminal: under 2 s, the median of 5 (one per pull request).
//!
//! `cargo test` runs it as a quick pass: 1 session in each repository, 3 changes, a 5 s
//! window, nothing judged.

use ao_core::model::SessionId;
use ao_core::store::Store;
use ao_tests::bench::{Bench, Target, Unit, cpu_ns, pause, rss_kb};
use ao_tests::github::FakeGitHub;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-webhook-secret";

/// One HTTP/1.1 request, read to its end: (status, head, body).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, body)
}

/// `body` signed as GitHub signs a delivery (by openssl).
fn signature(body: &[u8]) -> String {
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hex", "-hmac", SECRET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256={}", text.trim().rsplit(' ').next().unwrap())
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let mut b = Bench::start("dashboard");
    let quick = b.quick();
    let per_repo = if quick { 1 } else { 20 };
    let changes = b.runs(20).max(3);
    let loads = b.runs(20).max(3);
    let window = Duration::from_secs(if quick { 5 } else { 60 });
    let gh = FakeGitHub::start();
    let mut f = ao_tests::five_repo_fleet(
        &gh,
        "",
        |_| {
            "    agent: command\n    agentConfig:\n      command: [cat]\n    scm:\n      plugin: github\n      webhook:\n        secretEnvVar: BENCH_WEBHOOK_SECRET\n".to_owned()
        },
        per_repo,
    );
    f.env.set("BENCH_WEBHOOK_SECRET", SECRET);
    let sessions = f.sessions();
    let n = sessions.len();
    // One pull request in each repository, its check running.
    let mut prs = Vec::new();
    for r in 0..5 {
        let project = format!("p{r}");
        let s = sessions
            .iter()
            .find(|s| s["project"] == project.as_str())
            .unwrap();
        let id = s["id"].as_str().unwrap().to_owned();
        let wt = f.env.ao_home.join("worktrees").join(&project).join(&id);
        f.env
            .git(&wt, &["commit", "-q", "--allow-empty", "-m", &id]);
        f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
        let repo = format!("acme/r{r}");
        let pr = gh.open_pr(&repo, s["branch"].as_str().unwrap(), "main", "Benchmark");
        gh.check(&repo, pr, "build", None, true, "");
        prs.push((repo, pr, id));
    }
    let mut host = f.env.command(ao_tests::ao_bin());
    host.args(["start", "--no-orchestrator", "--port", "0"])
        .current_dir(&f.repo)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let host = Stopped(host.spawn().unwrap());
    let pid = host.0.id();
    let published = f.env.ao_home.join("dashboard").join("url.json");
    let addr = ao_tests::wait_until("the dashboard's address", || {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&published).ok()?).ok()?;
        (v["pid"] == pid).then(|| {
            let url = v["url"].as_str().unwrap();
            url.split_once("://").unwrap().1.to_owned()
        })
    });
    // Logged in as a browser is.
    let run = f.ao(&["dashboard", "--no-qr", "--no-open"]);
    run.success();
    let link = run
        .stdout
        .split_whitespace()
        .find(|w| w.contains("/login?token="))
        .unwrap()
        .to_owned();
    let (status, head, _) = request(
        &addr,
        "GET",
        &link[link.find("/login").unwrap()..],
        &[],
        b"",
    );
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let auth = [("Cookie", cookie.as_str())];

    // The board's first load, and the page's own script and style.
    let mut load_ms = Vec::new();
    let mut own_bytes = 0;
    for i in 0..loads {
        let at = Instant::now();
        let mut bytes = 0;
        for path in ["/", "/assets/board.css", "/assets/board.js", "/api/board"] {
            let (status, _, body) = request(&addr, "GET", path, &auth, b"");
            assert_eq!(status, 200, "{path}");
            bytes += body.len();
        }
        load_ms.push(ao_tests::bench::ms(at.elapsed()));
        if i == 0 {
            own_bytes = bytes;
        }
    }
    let mut assets = 0;
    for path in [
        "/assets/board.css",
        "/assets/board.js",
        "/assets/session.css",
        "/assets/session.js",
        "/assets/pages.js",
    ] {
        let (status, _, body) = request(&addr, "GET", path, &auth, b"");
        assert_eq!(status, 200, "{path}");
        assets += body.len();
    }

    // The page, open on the stream.
    let mut page = TcpStream::connect(&addr).unwrap();
    page.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        page,
        "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut page = BufReader::new(page);
    let mut next_data = |want: &str| loop {
        let mut line = String::new();
        page.read_line(&mut line).expect("the stream goes on");
        if line.starts_with("data:") && line.contains(want) {
            return Instant::now();
        }
    };
    next_data("\"cards\"");

    // A change committed to the store, to its card on the page's stream.
    let mut store = Store::open(&f.env.ao_home).unwrap();
    let id: SessionId = sessions[n - 1]["id"].as_str().unwrap().parse().unwrap();
    let mut to_page = Vec::new();
    for i in 0..changes {
        std::thread::sleep(pause(i));
        let marker = format!("bench-change-{i}");
        let at = ao_tests::bench::commit_marker(&mut store, &id, &marker);
        let seen = next_data(&marker);
        to_page.push(ao_tests::bench::ms(seen.duration_since(at)));
    }

    // Idle, the page open: memory and CPU.
    let rss = rss_kb(pid);
    let cpu0 = cpu_ns(pid);
    let start = Instant::now();
    std::thread::sleep(window);
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (cpu_ns(pid) - cpu0) as f64 / 1e9 / elapsed * 100.0;
    let rss_after = rss_kb(pid).max(rss);

    // A failed check, delivered by GitHub, to its log in the agent's terminal.
    let mut to_agent = Vec::new();
    for (i, (repo, pr, id)) in prs.iter().enumerate() {
        let log = format!("error: bench failure {i}");
        gh.check(repo, *pr, "build", Some("FAILURE"), true, &log);
        let body = serde_json::to_vec(&serde_json::json!({
            "action": "completed",
            "repository": { "full_name": repo },
            "check_run": { "head_sha": gh.head_sha(repo, *pr), "pull_requests": [{ "number": pr }] },
        }))
        .unwrap();
        let sig = signature(&body);
        let delivery = format!("bench-{i}");
        let at = Instant::now();
        let (status, head, _) = request(
            &addr,
            "POST",
            "/api/webhooks/github",
            &[
                ("Content-Type", "application/json"),
                ("X-GitHub-Event", "check_run"),
                ("X-GitHub-Delivery", &delivery),
                ("X-Hub-Signature-256", &sig),
            ],
            &body,
        );
        assert_eq!(status, 200, "{head}");
        let reached = ao_tests::wait_until("the failing log in the agent's pane", || {
            let pane = f
                .tmux(&[
                    "capture-pane",
                    "-p",
                    "-J",
                    "-S",
                    "-200",
                    "-t",
                    &format!("={id}:"),
                ])
                .stdout;
            pane.contains(&log).then(Instant::now)
        });
        to_agent.push(reached.duration_since(at).as_secs_f64());
    }

    b.note(&format!(
        "{n} idle sessions, 5 pull requests, probe every 5 s, poll every 30 s, one page open; {changes} changes; a {} s window",
        window.as_secs()
    ));
    b.figure(
        "resident memory of the host with its dashboard, one page open",
        rss_after as f64 / 1024.0,
        Unit::Mb,
        Target::Under(40.0),
    );
    b.figure(
        "CPU of the host with its dashboard, idle fleet, one page open, share of one core",
        cpu,
        Unit::Percent,
        Target::Under(1.0),
    );
    b.median(
        "the board's first load on loopback (page, style, script, snapshot)",
        load_ms,
        Unit::Ms,
        Target::Under(200.0),
    );
    b.figure(
        "the first load's bytes (its snapshot of the fleet included)",
        own_bytes as f64 / 1024.0,
        Unit::Kb,
        Target::None,
    );
    b.figure(
        "the pages' own JavaScript and CSS (xterm.js aside)",
        assets as f64 / 1024.0,
        Unit::Kb,
        Target::Under(100.0),
    );
    b.median(
        "from a session's change committed to its card on the page's stream",
        to_page,
        Unit::Ms,
        Target::Under(500.0),
    );
    b.median(
        "from a signed check_run delivery of a failed check to its log in the agent's terminal",
        to_agent,
        Unit::S,
        Target::Under(2.0),
    );
    let _ = f.ao(&["stop"]);
    drop(host);
    b.finish()
}

/// The host, killed however the benchmark ends (after `ao stop` when it ends well).
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
