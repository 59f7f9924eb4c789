//! The dashboard `ao start` serves: `ao dashboard`'s one-time login, the checks that keep
//! other sites' pages out, the board's snapshot and its server-sent events, and the board
//! in a real browser.

use ao_tests::github::{FakeGitHub, FakeThread, TOKEN as TOKEN_GH};
use ao_tests::{Fleet, wait_until};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";
/// The bearer token of the fleets that set one, given through the environment.
const TOKEN: &str = "scr1pt-t0ken-for-tests";

/// A fleet whose host probes every 200 ms, with `extra` at the top level of its config.
fn fleet(extra: &str) -> Fleet {
    let mut f = Fleet::new(CAT);
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{config}lifecycle:\n  probeInterval: 200ms\n{extra}"),
    )
    .unwrap();
    f.env.set("AO_DASHBOARD_TOKEN", TOKEN);
    f
}

/// The host, serving on a free port; its address once it is published.
struct Host {
    child: Option<Child>,
    addr: String,
}

impl Host {
    fn start(f: &Fleet) -> Host {
        Host::start_with(f, &["--no-orchestrator"])
    }

    /// `ao start --port 0` with `args` besides.
    fn start_with(f: &Fleet, args: &[&str]) -> Host {
        let mut all = vec!["start", "--port", "0"];
        all.extend_from_slice(args);
        let child = f.ao_child(&all);
        let pid = child.id();
        let file = f.env.ao_home.join("dashboard").join("url.json");
        let addr = wait_until("the dashboard's address", || {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()?;
            (v["pid"] == pid).then(|| {
                let url = v["url"].as_str().unwrap();
                url.split_once("://").unwrap().1.to_owned()
            })
        });
        Host {
            child: Some(child),
            addr,
        }
    }

    fn stop(mut self, f: &Fleet) -> String {
        f.ao(&["stop"]).success();
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// One HTTP/1.1 request to `addr`, with `headers` (a `Host` of the server's own unless
/// given), read to its end.
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    request_with(addr, method, path, headers, b"")
}

/// [`request`] with a body.
fn request_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // A server may answer (413) before it reads all of a large body.
    let _ = s.write_all(body);
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// `ao dashboard`'s login link.
fn login_link(f: &Fleet) -> String {
    let run = f.ao(&["dashboard", "--no-qr", "--no-open"]);
    run.success();
    run.stdout
        .split_whitespace()
        .find(|w| w.contains("/login?token="))
        .unwrap_or_else(|| panic!("no login link in {}", run.stdout))
        .to_owned()
}

/// Logs in with a fresh link: the session cookie (`ao_session=...`).
fn log_in(f: &Fleet, host: &Host) -> String {
    let link = login_link(f);
    let path = &link[link.find("/login").unwrap()..];
    let a = request(&host.addr, "GET", path, &[]);
    assert_eq!(a.status, 303, "{a:?}");
    let cookie = a.header("set-cookie").unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[test]
fn ao_start_serves_the_dashboard_and_ao_dashboard_logs_in_once() {
    let f = fleet("");
    // No host: `ao dashboard` says how to start one.
    f.ao(&["dashboard"])
        .code(1)
        .stderr_has("no host runs for")
        .stderr_has("`ao start`");
    let host = Host::start(&f);
    f.ao(&["status"])
        .success()
        .stdout_has(&format!("dashboard: http://{}", host.addr));
    // The link, as text and as a QR code.
    let run = f.ao(&["dashboard", "--no-open"]);
    run.success()
        .stdout_has(&format!("dashboard: http://{}", host.addr))
        .stdout_has("/login?token=");
    assert!(
        run.stdout.contains('█') || run.stdout.contains('▀'),
        "{}",
        run.stdout
    );
    // A login link works once, and gives a session cookie a script cannot read and no
    // other site's request carries.
    let link = login_link(&f);
    let token = link.rsplit('=').next().unwrap().to_owned();
    let path = &link[link.find("/login").unwrap()..];
    let first = request(&host.addr, "GET", path, &[]);
    assert_eq!(first.status, 303, "{first:?}");
    let cookie = first.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let again = request(&host.addr, "GET", path, &[]);
    assert_eq!(again.status, 401, "{again:?}");
    assert!(again.body.contains("ao dashboard"), "{}", again.body);
    // Logged in, the board; not logged in, how to log in.
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = request(&host.addr, "GET", "/", &[("Cookie", &cookie)]);
    assert!(page.body.contains("/assets/board.js"), "{}", page.body);
    let anon = request(&host.addr, "GET", "/", &[]);
    assert!(anon.body.contains("ao dashboard") && !anon.body.contains("board.js"));
    // The snapshot, with the session in its zone.
    f.ao(&["spawn", "app", "--prompt", "hello"]).success();
    let board = wait_until("the session on the board", || {
        let a = request(&host.addr, "GET", "/api/board", &[("Cookie", &cookie)]);
        let v: serde_json::Value = serde_json::from_str(&a.body).ok()?;
        (v["cards"][0]["status"] == "working").then_some(v)
    });
    assert_eq!(board["zones"], "simple");
    assert_eq!(board["cards"][0]["zone"], "working", "{board:#}");
    assert_eq!(board["cards"][0]["id"], "app-1");
    // No token is said anywhere: not in the host's output nor its log.
    let said = host.stop(&f);
    let log = std::fs::read_to_string(f.env.ao_home.join("logs/host.log")).unwrap();
    for text in [&said, &log] {
        assert!(!text.contains(&token) && !text.contains(TOKEN), "{text}");
    }
    assert!(log.contains("dashboard: http://"), "{log}");
    // Stopped, it is gone: `ao status` shows no address.
    assert!(!f.ao(&["status"]).stdout.contains("dashboard:"));
}

#[test]
fn each_attack_on_the_dashboard_is_refused() {
    let f = fleet("dashboard:\n  token: ${AO_DASHBOARD_TOKEN}\n");
    let host = Host::start(&f);
    let cookie = log_in(&f, &host);
    let c = ("Cookie", cookie.as_str());
    let own = format!("http://{}", host.addr);
    let get = |path: &str, headers: &[(&str, &str)]| request(&host.addr, "GET", path, headers);
    let post = |path: &str, headers: &[(&str, &str)]| request(&host.addr, "POST", path, headers);
    // DNS rebinding: another name that resolves here, with the browser's cookie for it.
    let rebound = get("/api/board", &[("Host", "evil.example:80"), c]);
    assert_eq!(rebound.status, 421, "{rebound:?}");
    // Another site's page reading the board, or its stream, with the cookie.
    let evil = ("Origin", "http://evil.example");
    assert_eq!(get("/api/board", &[evil, c]).status, 403);
    assert_eq!(get("/api/events", &[evil, c]).status, 403);
    // ... or posting: with another origin, or none.
    assert_eq!(post("/logout", &[evil, c]).status, 403);
    assert_eq!(post("/logout", &[c]).status, 403);
    // No login, a made-up cookie, a wrong token.
    assert_eq!(get("/api/board", &[]).status, 401);
    assert_eq!(
        get("/api/board", &[("Cookie", "ao_session=00")]).status,
        401
    );
    let wrong = format!("Bearer {TOKEN}x");
    assert_eq!(get("/api/board", &[("Authorization", &wrong)]).status, 401);
    // What passes: the page's own origin, and a script's bearer token.
    let bearer = format!("Bearer {TOKEN}");
    let script = get("/api/board", &[("Authorization", &bearer)]);
    assert_eq!(script.status, 200, "{script:?}");
    assert!(!script.body.contains(TOKEN) && !script.head.contains(TOKEN));
    let page = get("/", &[c]);
    assert!(!page.body.contains(TOKEN));
    assert_eq!(post("/logout", &[("Origin", &own), c]).status, 303);
    // Logged out, the cookie opens nothing.
    assert_eq!(get("/api/board", &[c]).status, 401);
    // Every answer forbids framing and sniffing.
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    host.stop(&f);
}

#[test]
fn an_address_beyond_loopback_needs_a_token_and_tls() {
    let f = fleet("dashboard:\n  host: 0.0.0.0\n");
    f.ao(&["start", "--no-orchestrator", "--port", "0"])
        .code(2)
        .stderr_has("which other machines can reach, and dashboard.token is not set")
        .stderr_has("AO_DASHBOARD_TOKEN");
    f.ao(&["start", "--detach", "--no-orchestrator", "--port", "0"])
        .code(2)
        .stderr_has("dashboard.token is not set");
    // A token, but plain HTTP: refused too.
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{config}  token: ${{AO_DASHBOARD_TOKEN}}\n")).unwrap();
    f.ao(&["start", "--no-orchestrator", "--port", "0"])
        .code(2)
        .stderr_has("over plain HTTP")
        .stderr_has("dashboard.tls");
    // `--no-dashboard` runs the host without it.
    let host = f.ao_child(&["start", "--no-orchestrator", "--no-dashboard"]);
    wait_until("the host", || {
        f.ao(&["status"])
            .stdout
            .contains("host: running")
            .then_some(())
    });
    f.ao(&["dashboard"])
        .code(1)
        .stderr_has("serves no dashboard");
    f.stop_host(host);
}

/// Server-sent events read as they come.
struct Events {
    lines: BufReader<TcpStream>,
}

/// One server-sent event.
#[derive(Debug, Clone)]
struct Sse {
    name: String,
    id: String,
    data: serde_json::Value,
}

impl Events {
    fn open(host: &Host, cookie: &str, last: Option<&str>) -> Events {
        let mut s = TcpStream::connect(&host.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let resume = last
            .map(|l| format!("Last-Event-ID: {l}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "GET /api/events HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n{resume}\r\n",
            host.addr
        )
        .unwrap();
        let mut lines = BufReader::new(s);
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        assert!(line.contains(" 200 "), "{line}");
        while line != "\r\n" {
            line.clear();
            lines.read_line(&mut line).unwrap();
        }
        Events { lines }
    }

    /// The next event (keep-alives and chunk sizes skipped).
    fn next(&mut self) -> Sse {
        let (mut name, mut id, mut data) = (String::new(), String::new(), String::new());
        loop {
            let mut line = String::new();
            assert!(
                self.lines.read_line(&mut line).unwrap() > 0,
                "the stream ended"
            );
            let line = line.trim_end();
            if let Some(v) = line.strip_prefix("event: ") {
                name = v.into();
            } else if let Some(v) = line.strip_prefix("id: ") {
                id = v.into();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = v.into();
            } else if line.is_empty() && !name.is_empty() {
                return Sse {
                    name,
                    id,
                    data: serde_json::from_str(&data).unwrap(),
                };
            }
        }
    }

    /// Events until one satisfies `want`, which is returned.
    fn until(&mut self, what: &str, want: impl Fn(&Sse) -> bool) -> Sse {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            assert!(std::time::Instant::now() < deadline, "no event: {what}");
            let e = self.next();
            if want(&e) {
                return e;
            }
        }
    }
}

fn card_of<'a>(e: &'a Sse, id: &str, field: &str) -> Option<&'a str> {
    (e.name == "card" && e.data["id"] == id).then(|| e.data[field].as_str())?
}

#[test]
fn the_board_streams_each_change_and_resumes_after_the_last_event() {
    let f = fleet("dashboard:\n  attentionZones: detailed\n");
    let host = Host::start(&f);
    let cookie = log_in(&f, &host);
    let mut events = Events::open(&host, &cookie, None);
    let first = events.next();
    assert_eq!(first.name, "snapshot");
    assert_eq!(first.data["zones"], "detailed");
    assert_eq!(first.data["cards"], serde_json::json!([]));
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    let working = events.until("app-1 working", |e| {
        card_of(e, "app-1", "status") == Some("working")
    });
    assert_eq!(working.data["zone"], "working");
    // Away from here on: a second session starts, the first is killed.
    drop(events);
    f.ao(&["spawn", "app", "--prompt", "two"]).success();
    f.ao(&["session", "kill", "app-1"]).success();
    // Back with the last id seen: no snapshot, only what changed since, in order.
    let mut events = Events::open(&host, &cookie, Some(&working.id));
    let next = events.next();
    assert_ne!(next.name, "snapshot", "{next:?}");
    let seq = |e: &Sse| e.id.rsplit('/').next().unwrap().parse::<u64>().unwrap();
    assert!(seq(&next) > seq(&working), "{next:?} after {working:?}");
    events.until("app-1 done", |e| {
        card_of(e, "app-1", "zone") == Some("done")
    });
    events.until("app-2 on the board", |e| {
        card_of(e, "app-2", "zone").is_some()
    });
    // From another stream (a restarted host's), a snapshot.
    let mut other = Events::open(&host, &cookie, Some("1-1/5"));
    assert_eq!(other.next().name, "snapshot");
    // The host runs on under an edited config, with a stream of its own: an open page
    // starts over from its snapshot, on the same connection, with the same login.
    let config = f.repo.join("agent-orchestrator.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}# edited\n")).unwrap();
    let epoch = |e: &Sse| e.id.rsplit_once('/').unwrap().0.to_owned();
    let fresh = events.until("a snapshot of the reloaded host", |e| e.name == "snapshot");
    assert_ne!(epoch(&fresh), epoch(&working));
    let ids: Vec<&serde_json::Value> = fresh.data["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, ["app-1", "app-2"], "{:#}", fresh.data);
    host.stop(&f);
}

/// chromedriver on a free port, ended on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// chromedriver, once it answers; `None` (the test skipped, or failed in CI) when it
    /// or the browser is not installed.
    fn start(f: &Fleet) -> Option<Driver> {
        let found = |p: &str| std::path::Path::new(p).exists();
        if !found(BROWSER) || !found("/usr/bin/chromedriver") {
            ao_tests::skip(
                "chromium or chromedriver is not installed (apt-get install chromium chromium-driver)",
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = f.env.root().join("chromedriver.log");
        let mut cmd = f.env.command("/usr/bin/chromedriver");
        cmd.arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let driver = Driver {
            child: cmd.spawn().expect("chromedriver starts"),
            port,
        };
        wait_until("chromedriver to answer", || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        Some(driver)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BROWSER: &str = "/usr/bin/chromium";

/// A headless browser session of `driver` in a 1280×900 window, its profile under the
/// test's root.
async fn browser(f: &Fleet, driver: &Driver) -> fantoccini::Client {
    let profile = f.env.root().join("chromium-profile");
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": BROWSER,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }
    });
    connect(driver, caps).await
}

/// A headless browser session of `driver` as a phone: a 390×844 screen, touch.
async fn phone(f: &Fleet, driver: &Driver) -> fantoccini::Client {
    let profile = f.env.root().join("chromium-phone");
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": BROWSER,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=390,844",
                format!("--user-data-dir={}", profile.display()),
            ],
            "mobileEmulation": {
                "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0, "touch": true },
            },
        }
    });
    connect(driver, caps).await
}

async fn connect(driver: &Driver, caps: serde_json::Value) -> fantoccini::Client {
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    fantoccini::ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session")
}

/// Waits until the page has an element matching `css`.
async fn wait_for_element(page: &fantoccini::Client, what: &str, css: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = page
            .find_all(fantoccini::Locator::Css(css))
            .await
            .is_ok_and(|e| !e.is_empty());
        if found {
            return;
        }
        if std::time::Instant::now() > deadline {
            let html = page.source().await.unwrap_or_default();
            panic!("timed out waiting for {what} ({css}); the page:\n{html}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where tests leave what a person may want to look at (screenshots).
fn artefacts() -> std::path::PathBuf {
    let dir = ao_tests::tests_dir()
        .parent()
        .unwrap()
        .join("test-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fleet whose projects `app` and `web` (agent `cat`) have their repositories
/// `acme/app` and `acme/web` on the fake GitHub, polled every second; `app` takes its
/// issues from GitHub.
fn github_fleet(gh: &FakeGitHub) -> Fleet {
    github_fleet_with(gh, "")
}

/// [`github_fleet`] with `top` added to the config's top level.
fn github_fleet_with(gh: &FakeGitHub, top: &str) -> Fleet {
    github_fleet_polled(gh, top, "1s", "")
}

/// [`github_fleet_with`], polling every `poll`, with `app_scm` (lines of the `scm:`
/// section of project `app`, indented 6) added.
fn github_fleet_polled(gh: &FakeGitHub, top: &str, poll: &str, app_scm: &str) -> Fleet {
    gh.repo("acme/app");
    gh.repo("acme/web");
    let mut f = Fleet::new("");
    let web = f.env.repo_with_origin("web", "main");
    let project = |id: &str, path: &std::path::Path, tracker: &str, scm: &str| {
        let scm = if scm.is_empty() {
            String::new()
        } else {
            format!("    scm:\n      plugin: github\n{scm}")
        };
        format!(
            "  {id}:\n    path: {}\n    repo: acme/{id}\n    tracker:\n      plugin: {tracker}\n{scm}    agent: command\n    agentConfig:\n      command: [cat]\n",
            path.display()
        )
    };
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\nlifecycle:\n  probeInterval: 200ms\n  pollInterval: {poll}\n{top}projects:\n{}{}",
        f.socket.display(),
        project("app", &f.repo, "github", app_scm),
        project("web", &web, "prompt", ""),
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    f.env.set("GH_TOKEN", TOKEN_GH);
    f.env.set("GITHUB_API_URL", &gh.url);
    gh.remote("acme/app", &f.env.root().join("repo-origin.git"));
    f
}

/// Spawns a session whose branch is pushed with a commit and has a pull request, its
/// check `build` running; returns the PR's number.
fn spawn_with_pr(f: &Fleet, gh: &FakeGitHub, id: &str, task: &str) -> u64 {
    f.ao(&["spawn", "app", "--prompt", task]).success();
    let work = f.worktree(id);
    f.env
        .git(&work, &["commit", "-q", "--allow-empty", "-m", task]);
    f.env.git(&work, &["push", "-q", "origin", "HEAD"]);
    let branch = f.env.git(&work, &["branch", "--show-current"]);
    let pr = gh.open_pr("acme/app", branch.trim(), "main", task);
    gh.check("acme/app", pr, "build", None, true, "");
    pr
}

#[test]
fn in_a_browser_each_card_is_in_its_zone_and_moves_without_a_reload() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh);
    let Some(driver) = Driver::start(&f) else {
        return;
    };
    let host = Host::start(&f);
    let pr = spawn_with_pr(&f, &gh, "app-1", "Fix the login");
    f.ao(&["spawn", "app", "--prompt", "Add a page"]).success();
    f.ao(&["spawn", "app", "--prompt", "Old idea"]).success();
    f.ao(&["session", "kill", "app-3"]).success();
    f.ao(&["spawn", "web", "--prompt", "Restyle"]).success();
    let link = login_link(&f);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = browser(&f, &driver).await;
        page.goto(&link).await.unwrap();
        // Logged in and on the board: each session in its zone, the PR with its chips.
        wait_for_element(
            &page,
            "app-1 pending",
            "#zone-pending .card[data-id='app-1']",
        )
        .await;
        wait_for_element(
            &page,
            "app-2 working",
            "#zone-working .card[data-id='app-2']",
        )
        .await;
        wait_for_element(&page, "app-3 done", "#zone-done .card[data-id='app-3']").await;
        let url = page.current_url().await.unwrap();
        assert_eq!(url.path(), "/", "{url}");
        assert!(
            url.query().is_none(),
            "the login token stays in the address bar: {url}"
        );
        let text = |css: &'static str| {
            let page = page.clone();
            async move {
                page.find(fantoccini::Locator::Css(css))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let card = text(".card[data-id='app-1']").await;
        let number = format!("#{pr}");
        for want in [
            number.as_str(),
            "CI pending",
            "review pending",
            "feat/",
            "command",
        ] {
            assert!(card.contains(want), "{want:?} not in {card:?}");
        }
        wait_for_element(
            &page,
            "web-1 working",
            "#zone-working .card[data-id='web-1']",
        )
        .await;
        // Filtered by project: only that project's cards show.
        let shown = |id: &'static str| {
            let page = page.clone();
            async move {
                page.find(fantoccini::Locator::Css(&format!(".card[data-id='{id}']")))
                    .await
                    .unwrap()
                    .is_displayed()
                    .await
                    .unwrap()
            }
        };
        page.find(fantoccini::Locator::Css("#project option[value='web']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(shown("web-1").await && !shown("app-2").await);
        page.find(fantoccini::Locator::Css("#project option[value='']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(shown("web-1").await && shown("app-2").await);
        // A mark on this page: still there after the move, so nothing reloaded it.
        page.execute("window.aoMark = 31; return null;", vec![])
            .await
            .unwrap();
        // The check fails on GitHub: the card moves to the action zone by itself.
        gh.check(
            "acme/app",
            pr,
            "build",
            Some("FAILURE"),
            true,
            "error: it broke",
        );
        wait_for_element(
            &page,
            "app-1 moved to action",
            "#zone-action .card[data-id='app-1']",
        )
        .await;
        assert!(text(".card[data-id='app-1']").await.contains("CI failed"));
        let mark = page.execute("return window.aoMark;", vec![]).await.unwrap();
        assert_eq!(mark, serde_json::json!(31), "the page was reloaded");
        assert_eq!(text("#live").await, "live");
        let png = page.screenshot().await.unwrap();
        std::fs::write(artefacts().join("dashboard-board.png"), png).unwrap();
        page.close().await.unwrap();
    });
    host.stop(&f);
    assert!(
        gh.invalid_queries().is_empty(),
        "{:?}",
        gh.invalid_queries()
    );
}

/// A self-signed certificate for 127.0.0.1 made by openssl: (cert, key).
fn certificate(f: &Fleet) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (f.env.root().join("cert.pem"), f.env.root().join("key.pem"));
    let mut cmd = f.env.command("openssl");
    cmd.args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
    ])
    .args(["-nodes", "-days", "1", "-subj", "/CN=ao-test"])
    .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
    // A server's own certificate, not a CA's (rustls refuses a CA as the server).
    .args(["-addext", "basicConstraints=critical,CA:FALSE"])
    .arg("-keyout")
    .arg(&key)
    .arg("-out")
    .arg(&cert);
    ao_tests::Run::of(cmd, &f.env.root()).success();
    (cert, key)
}

/// One HTTPS request to `addr`, trusting only `cert`.
fn request_tls(addr: &str, cert: &std::path::Path, path: &str, headers: &[(&str, &str)]) -> Answer {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    tls.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    // A peer that closes without close_notify is an error to rustls; what came is kept.
    let _ = tls.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    Answer {
        status: head.split(' ').nth(1).unwrap().parse().unwrap(),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

#[test]
fn with_dashboard_tls_it_serves_https_beyond_loopback() {
    let f = fleet("");
    let (cert, key) = certificate(&f);
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{config}dashboard:\n  host: 0.0.0.0\n  token: ${{AO_DASHBOARD_TOKEN}}\n  tls:\n    cert: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let host = Host::start(&f);
    let run = f.ao(&["dashboard", "--no-qr", "--no-open"]);
    run.success()
        .stdout_has(&format!("https://{}/login?token=", host.addr))
        .stdout_has("listening on 0.0.0.0:");
    let link = login_link(&f);
    let path = &link[link.find("/login").unwrap()..];
    let login = request_tls(&host.addr, &cert, path, &[]);
    assert_eq!(login.status, 303, "{login:?}");
    let cookie = login.header("set-cookie").unwrap();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let bearer = format!("Bearer {TOKEN}");
    let board = request_tls(
        &host.addr,
        &cert,
        "/api/board",
        &[("Authorization", &bearer)],
    );
    assert_eq!(board.status, 200, "{board:?}");
    // Plain HTTP gets no answer.
    let mut plain = TcpStream::connect(&host.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may drop the connection before all of it is written: no error then.
    let req = format!("GET /api/board HTTP/1.1\r\nHost: {}\r\n\r\n", host.addr);
    let _ = plain.write_all(req.as_bytes());
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("HTTP/1.1 200"));
    host.stop(&f);
    // A key that is not one: `ao start` refuses, saying which file.
    std::fs::write(&key, "not a key\n").unwrap();
    f.ao(&["start", "--no-orchestrator", "--port", "0"])
        .code(2)
        .stderr_has("dashboard.tls: the key")
        .stderr_has(&key.display().to_string());
}

#[test]
fn the_terminal_socket_and_the_session_actions_are_refused_to_other_sites() {
    let f = fleet("");
    let host = Host::start(&f);
    f.ao(&["spawn", "app", "--prompt", "hello"]).success();
    let cookie = log_in(&f, &host);
    let c = ("Cookie", cookie.as_str());
    let own = format!("http://{}", host.addr);
    let upgrade = [
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let ws = |extra: &[(&str, &str)]| {
        let mut h = upgrade.to_vec();
        h.extend_from_slice(extra);
        request(&host.addr, "GET", "/api/sessions/app-1/terminal", &h)
    };
    // Without the cookie, even from the page's own origin.
    let anonymous = ws(&[("Origin", &own)]);
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    assert!(anonymous.body.contains("log in first"), "{anonymous:?}");
    // Another site's page, with the browser's cookie (cross-site WebSocket hijacking).
    let hijack = ws(&[("Origin", "http://evil.example"), c]);
    assert_eq!(hijack.status, 403, "{hijack:?}");
    assert!(hijack.body.contains("another site's page"), "{hijack:?}");
    // A browser's socket always says its origin: one without is not this server's page.
    assert_eq!(ws(&[c]).status, 403);
    // The session page and its facts need the login; the actions, the page's origin too.
    let get = |path: &str, headers: &[(&str, &str)]| request(&host.addr, "GET", path, headers);
    let post = |path: &str, headers: &[(&str, &str)]| request(&host.addr, "POST", path, headers);
    assert!(get("/session/app-1", &[]).body.contains("ao dashboard"));
    assert_eq!(get("/api/sessions/app-1", &[]).status, 401);
    assert_eq!(get("/api/sessions/app-1", &[c]).status, 200);
    for action in ["kill", "restore", "send"] {
        let path = format!("/api/sessions/app-1/{action}");
        assert_eq!(post(&path, &[("Origin", &own)]).status, 401, "{action}");
        let evil = post(&path, &[("Origin", "http://evil.example"), c]);
        assert_eq!(evil.status, 403, "{action}");
        assert_eq!(post(&path, &[c]).status, 403, "{action}");
    }
    // Nothing of it reached the session.
    assert!(f.tmux_sessions().iter().any(|s| s.contains("app-1")));
    host.stop(&f);
}

/// The rows the page's terminal shows (trailing blanks dropped), read from xterm.js's
/// buffer.
async fn terminal_rows(page: &fantoccini::Client) -> Vec<String> {
    let js = "const t = window.aoTerm; if (!t) return [];
        const b = t.buffer.active; const out = [];
        for (let i = 0; i < t.rows; i++) { const l = b.getLine(b.baseY + i); out.push(l ? l.translateToString(true) : ''); }
        return out;";
    let got = page.execute(js, vec![]).await.unwrap();
    let mut rows: Vec<String> = got
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    while rows.last().is_some_and(String::is_empty) {
        rows.pop();
    }
    rows
}

/// The pane's rows as `tmux capture-pane -p` shows them, trailing blanks dropped.
fn pane_rows(f: &Fleet) -> Vec<String> {
    let run = f.tmux(&["capture-pane", "-p", "-t", "=app-1:"]);
    let mut rows: Vec<String> = run
        .stdout
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect();
    while rows.last().is_some_and(String::is_empty) {
        rows.pop();
    }
    rows
}

/// Waits until the page's terminal shows what `tmux capture-pane` shows, and `want` holds
/// of it.
async fn terminal_matches(
    page: &fantoccini::Client,
    f: &Fleet,
    what: &str,
    want: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let pane = pane_rows(f);
        let shown = terminal_rows(page).await;
        if shown == pane && want(&pane) {
            return shown;
        }
        if std::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}: the page shows {shown:#?}\nthe pane {pane:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn in_a_browser_the_session_page_shows_the_pane_types_into_it_and_refuses_a_kill() {
    let f = fleet("");
    let Some(driver) = Driver::start(&f) else {
        return;
    };
    let host = Host::start(&f);
    f.ao(&["spawn", "app", "--prompt", "hello from the task"])
        .success();
    wait_until("cat to echo its task", || {
        (pane_rows(&f)
            .iter()
            .filter(|l| l.contains("hello from the task"))
            .count()
            >= 2)
            .then_some(())
    });
    let size_before = f
        .tmux(&[
            "display-message",
            "-p",
            "-t",
            "=app-1:",
            "#{window_width}x#{window_height}",
        ])
        .stdout;
    // Unsaved work in the worktree: the CLI refuses to kill over it.
    std::fs::write(f.worktree("app-1").join("draft.txt"), "not committed").unwrap();
    let refused = f.ao(&["session", "kill", "app-1"]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    let cli_says = refused
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or_else(|| panic!("no error line: {}", refused.stderr))
        .to_owned();
    let link = login_link(&f);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = browser(&f, &driver).await;
        page.goto(&link).await.unwrap();
        // From the board, the card's link opens the session's page.
        wait_for_element(&page, "app-1's card", ".card[data-id='app-1'] a.id").await;
        page.find(fantoccini::Locator::Css(".card[data-id='app-1'] a.id"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_element(&page, "the terminal", "#terminal .xterm").await;
        assert_eq!(page.current_url().await.unwrap().path(), "/session/app-1");
        // The terminal's text is the pane's.
        terminal_matches(&page, &f, "the agent's screen", |rows| {
            rows.iter().any(|l| l.contains("hello from the task"))
        })
        .await;
        // The pane's 220 columns fill the terminal's box in a 1280-pixel window: as
        // large a font as fits, and nothing to scroll sideways.
        let fitted = page
            .execute(
                "const b = document.querySelector('#terminal');
                 return [window.aoTerm.options.fontSize, window.aoTerm.cols, window.aoFit().cols,
                         b.scrollWidth, b.clientWidth];",
                vec![],
            )
            .await
            .unwrap();
        let n = |i: usize| fitted[i].as_f64().unwrap();
        assert_eq!(n(1), 220.0, "{fitted}");
        assert!(
            n(2) >= 220.0 && n(2) <= 226.0,
            "the pane does not fill the box: {fitted}"
        );
        assert!(n(0) >= 9.0, "a font too small to read: {fitted}");
        assert!(n(3) <= n(4), "the terminal scrolls sideways: {fitted}");
        let text = |css: &'static str| {
            let page = page.clone();
            async move {
                page.find(fantoccini::Locator::Css(css))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        assert!(text("#branch").await.contains("feat/"));
        assert_eq!(text("#status").await, "working");
        // Read-only: keys typed before taking control go nowhere.
        let keys = page
            .find(fantoccini::Locator::Css(".xterm-helper-textarea"))
            .await
            .unwrap();
        keys.send_keys("not sent\u{E007}").await.unwrap();
        page.find(fantoccini::Locator::Css("#control"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        keys.send_keys("typed in the page\u{E007}").await.unwrap();
        // The tty echoes the line, then cat prints it back.
        let rows = terminal_matches(&page, &f, "the typed line in the pane", |rows| {
            rows.iter()
                .filter(|l| l.contains("typed in the page"))
                .count()
                >= 2
        })
        .await;
        assert!(!rows.iter().any(|l| l.contains("not sent")), "{rows:#?}");
        // Viewing and typing never resized the agent's window.
        let size_after = f
            .tmux(&[
                "display-message",
                "-p",
                "-t",
                "=app-1:",
                "#{window_width}x#{window_height}",
            ])
            .stdout;
        assert_eq!(size_before, size_after);
        // The send box: `ao send`'s line reaches the agent too.
        page.find(fantoccini::Locator::Css("#line"))
            .await
            .unwrap()
            .send_keys("sent with the button")
            .await
            .unwrap();
        page.find(fantoccini::Locator::Css("#send button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        terminal_matches(&page, &f, "the sent line in the pane", |rows| {
            rows.iter()
                .filter(|l| l.contains("sent with the button"))
                .count()
                >= 2
        })
        .await;
        wait_for_element(&page, "the send's answer", "#said[data-ok='true']").await;
        let png = page.screenshot().await.unwrap();
        std::fs::write(artefacts().join("dashboard-session.png"), png).unwrap();
        // Kill, confirmed: refused over the unsaved work, in the CLI's words.
        let kill = page.find(fantoccini::Locator::Css("#kill")).await.unwrap();
        kill.clone().click().await.unwrap();
        kill.click().await.unwrap();
        wait_for_element(&page, "the refusal", "#said[data-ok='false']").await;
        let said = text("#said").await;
        assert!(
            said.contains(&cli_says),
            "{said:?} does not say {cli_says:?}"
        );
        page.close().await.unwrap();
    });
    // The session stays, its work with it.
    assert!(f.worktree("app-1").join("draft.txt").exists());
    let status = f.ao(&["status", "--json"]);
    assert!(status.stdout.contains("\"app-1\""), "{}", status.stdout);
    assert!(!status.stdout.contains("\"killed\""), "{}", status.stdout);
    host.stop(&f);
}

/// What the page's element `css` reads.
async fn text_of(page: &fantoccini::Client, css: &str) -> String {
    page.find(fantoccini::Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until the page's element `css` reads something `check` accepts; returns it.
async fn wait_for_text(
    page: &fantoccini::Client,
    what: &str,
    css: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = match page.find(fantoccini::Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if check(&got) {
            return got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what} ({css}); it reads {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Presses the button `css` twice: the second press confirms.
async fn press_confirmed(page: &fantoccini::Client, css: &str) {
    let b = page.find(fantoccini::Locator::Css(css)).await.unwrap();
    b.clone().click().await.unwrap();
    assert!(b.text().await.unwrap().starts_with("confirm"));
    b.click().await.unwrap();
}

/// Whether the page is wider than its window (a phone would scroll it sideways).
async fn scrolls_sideways(page: &fantoccini::Client) -> serde_json::Value {
    page.execute(
        "const d = document.documentElement; \
         return d.scrollWidth > window.innerWidth ? [d.scrollWidth, window.innerWidth] : null;",
        vec![],
    )
    .await
    .unwrap()
}

/// On a phone: the board fits the screen, and the session page's PR card says what
/// blocks the merge, lists the open threads, refuses the merge in the CLI's words while
/// blocked, and merges the checked head once CI passed and a reviewer approved.
#[test]
fn on_a_phone_the_pr_card_says_what_blocks_and_its_button_merges() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh);
    let Some(driver) = Driver::start(&f) else {
        return;
    };
    let host = Host::start(&f);
    let pr = spawn_with_pr(&f, &gh, "app-1", "Fix the login");
    gh.thread(
        "acme/app",
        pr,
        FakeThread {
            path: "src/lib.rs".into(),
            line: Some(7),
            body: "Rename this".into(),
            author: "rev".into(),
            ..FakeThread::default()
        },
    );
    let link = login_link(&f);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = phone(&f, &driver).await;
        page.goto(&link).await.unwrap();
        wait_for_element(
            &page,
            "app-1 pending",
            "#zone-pending .card[data-id='app-1']",
        )
        .await;
        let size = page
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap();
        assert_eq!(size, serde_json::json!([390, 844]));
        assert_eq!(scrolls_sideways(&page).await, serde_json::Value::Null);
        let png = page.screenshot().await.unwrap();
        std::fs::write(artefacts().join("dashboard-phone-board.png"), png).unwrap();
        page.find(fantoccini::Locator::Css(".card[data-id='app-1'] a.id"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // Blocked: what blocks it, and the open thread.
        let blockers = wait_for_text(&page, "the blockers", "#blockers", |t| {
            t.contains("checks pending: build")
        })
        .await;
        assert!(blockers.contains("no approving review yet"), "{blockers}");
        let threads = wait_for_text(&page, "the open thread", "#threads", |t| {
            t.contains("Rename this")
        })
        .await;
        assert!(threads.contains("src/lib.rs:7 rev:"), "{threads}");
        press_confirmed(&page, "#merge").await;
        wait_for_element(&page, "the refusal", "#said[data-ok='false']").await;
        let said = text_of(&page, "#said").await;
        assert!(said.contains("checks pending: build"), "{said}");
        // CI passes and a reviewer approves: nothing blocks, and the button merges.
        gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
        gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
        wait_for_element(&page, "the merge ready", "#merge[data-ready]").await;
        assert_eq!(text_of(&page, "#blockers").await, "");
        assert_eq!(scrolls_sideways(&page).await, serde_json::Value::Null);
        let png = page.screenshot().await.unwrap();
        std::fs::write(artefacts().join("dashboard-phone-session.png"), png).unwrap();
        press_confirmed(&page, "#merge").await;
        wait_for_element(&page, "the merge's answer", "#said[data-ok='true']").await;
        let said = text_of(&page, "#said").await;
        assert!(
            said.contains(&format!("app-1: merged pull request #{pr} at ")),
            "{said}"
        );
        page.close().await.unwrap();
    });
    let mut state = String::new();
    gh.edit_pr("acme/app", pr, |p| state = p.state.clone());
    assert_eq!(state, "MERGED");
    host.stop(&f);
}

/// From the dashboard alone: the spawn form spawns a task, the issues page spawns an
/// issue with its button and more by label, the pull requests page lists the PRs, and
/// the events page follows the log live, with the dashboard notifier's notification
/// shown on the page.
#[test]
fn in_a_browser_the_fleet_pages_spawn_list_and_follow() {
    let gh = FakeGitHub::start();
    let f = github_fleet_with(&gh, "notificationRouting:\n  info: [dashboard]\n");
    let Some(driver) = Driver::start(&f) else {
        return;
    };
    let footer = gh.issue("acme/app", "Fix the footer", "It overlaps.", &["bug"]);
    let header = gh.issue("acme/app", "Fix the header", "Too tall.", &["bug"]);
    let docs = gh.issue("acme/app", "Write the docs", "All of them.", &["docs"]);
    // With the projects' orchestrators.
    let host = Host::start_with(&f, &[]);
    let pr = spawn_with_pr(&f, &gh, "app-1", "Fix the login");
    let link = login_link(&f);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = browser(&f, &driver).await;
        page.goto(&link).await.unwrap();
        wait_for_element(&page, "the board", ".card[data-id='app-1']").await;
        // Each project's orchestrator has a link to its terminal.
        wait_for_element(
            &page,
            "app's orchestrator",
            "#orchestrators a[data-id='app-orchestrator']",
        )
        .await;
        wait_for_element(
            &page,
            "web's orchestrator",
            "#orchestrators a[data-id='web-orchestrator']",
        )
        .await;
        page.find(fantoccini::Locator::Css(
            "#orchestrators a[data-id='app-orchestrator']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        wait_for_element(&page, "the orchestrator's terminal", "#terminal .xterm").await;
        assert_eq!(
            page.current_url().await.unwrap().path(),
            "/session/app-orchestrator"
        );
        page.back().await.unwrap();
        wait_for_element(&page, "the board again", ".card[data-id='app-1']").await;
        let click = |css: String| {
            let page = page.clone();
            async move {
                page.find(fantoccini::Locator::Css(&css))
                    .await
                    .unwrap()
                    .click()
                    .await
                    .unwrap();
            }
        };
        // The pull requests page, from the board's navigation.
        click(".nav a[href='/prs']".into()).await;
        let row = wait_for_text(&page, "app-1's PR", "#prs tbody tr[data-id='app-1']", |t| {
            t.contains(&format!("#{pr}"))
        })
        .await;
        assert!(row.contains("CI pending"), "{row}");
        // The spawn form: a task as text, in project app.
        click(".nav a[href='/spawn']".into()).await;
        wait_for_element(
            &page,
            "the form's projects",
            "#spawn select[name=project] option[value='app']",
        )
        .await;
        page.find(fantoccini::Locator::Css("#spawn textarea[name=prompt]"))
            .await
            .unwrap()
            .send_keys("Tidy the changelog")
            .await
            .unwrap();
        click("#spawn button".into()).await;
        let said = wait_for_text(&page, "the spawn's answer", "#said[data-ok='true']", |t| {
            t.contains("spawned")
        })
        .await;
        assert!(said.contains("spawned app-2"), "{said}");
        // The issues page: each open issue, a spawn button on the free ones.
        click(".nav a[href='/issues']".into()).await;
        let css = format!("#issues tr[data-issue='{footer}'] button.spawn-issue");
        wait_for_element(&page, "the footer issue's button", &css).await;
        let listed = text_of(&page, "#issues tbody").await;
        for title in ["Fix the footer", "Fix the header", "Write the docs"] {
            assert!(listed.contains(title), "{title} not in {listed}");
        }
        click(css).await;
        wait_for_text(
            &page,
            "the footer issue's session",
            &format!("#issues tr[data-issue='{footer}'] td:last-child"),
            |t| t == "app-3",
        )
        .await;
        // By label, at most 1: the one free `bug` issue left, not the one taken.
        page.find(fantoccini::Locator::Css("#issue-filter input[name=label]"))
            .await
            .unwrap()
            .send_keys("bug")
            .await
            .unwrap();
        page.find(fantoccini::Locator::Css("#by-label input[name=limit]"))
            .await
            .unwrap()
            .clear()
            .await
            .unwrap();
        page.find(fantoccini::Locator::Css("#by-label input[name=limit]"))
            .await
            .unwrap()
            .send_keys("1")
            .await
            .unwrap();
        click("#by-label button".into()).await;
        wait_for_text(
            &page,
            "the header issue's session",
            &format!("#issues tr[data-issue='{header}'] td:last-child"),
            |t| t == "app-4",
        )
        .await;
        assert!(text_of(&page, "#said").await.contains("spawned app-4"));
        assert!(
            page.find(fantoccini::Locator::Css(&format!(
                "#issues tr[data-issue='{docs}']"
            )))
            .await
            .is_err(),
            "the docs issue is not labelled bug"
        );
        // The events page: the log, then a new entry and the dashboard's notification live.
        click(".nav a[href='/events']".into()).await;
        wait_for_text(&page, "the spawns in the log", "#log", |t| {
            t.contains("app-4")
        })
        .await;
        page.execute("window.aoMark = 31; return null;", vec![])
            .await
            .unwrap();
        f.ao(&["notify", "-p", "info", "the release is out"])
            .success();
        let toast = wait_for_text(&page, "the notification", "#toasts", |t| {
            t.contains("the release is out")
        })
        .await;
        assert_eq!(toast, "the release is out");
        wait_for_text(
            &page,
            "the notification in the log",
            "#log li:first-child",
            |t| t.contains("the release is out"),
        )
        .await;
        let mark = page.execute("return window.aoMark;", vec![]).await.unwrap();
        assert_eq!(mark, serde_json::json!(31), "the page was reloaded");
        let png = page.screenshot().await.unwrap();
        std::fs::write(artefacts().join("dashboard-events.png"), png).unwrap();
        page.close().await.unwrap();
    });
    let status = f.ao(&["status", "--json"]);
    for id in ["app-2", "app-3", "app-4"] {
        assert!(
            status.stdout.contains(&format!("\"{id}\"")),
            "{id}: {}",
            status.stdout
        );
    }
    assert!(!status.stdout.contains("\"app-5\""), "{}", status.stdout);
    host.stop(&f);
}

/// `body` signed as GitHub signs a delivery: `sha256=` and the HMAC-SHA256 (by openssl).
fn github_signature(secret: &str, body: &[u8]) -> String {
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hex", "-hmac", secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256={}", text.trim().rsplit(' ').next().unwrap())
}

/// GitHub pushes instead of ao polling: with a poll of an hour, a signed `pull_request`
/// delivery attaches the PR to its session and a signed `check_run` one brings the
/// failure to the agent, both through a tunnel's Host, without a cookie; an unsigned,
/// a wrongly signed and a too large delivery are refused and change nothing, a repeat is
/// taken once; `ao doctor` says when the last verified delivery came.
#[test]
fn a_signed_webhook_delivery_moves_a_session_and_others_are_refused() {
    let gh = FakeGitHub::start();
    let mut f = github_fleet_polled(
        &gh,
        "",
        "1h",
        "      webhook:\n        secretEnvVar: APP_HOOK_SECRET\n        maxBodyBytes: 4096\n",
    );
    f.env.set("APP_HOOK_SECRET", "s3cret-for-hooks");
    let host = Host::start(&f);
    let pr = spawn_with_pr(&f, &gh, "app-1", "Fix the login");
    let branch = f
        .env
        .git(&f.worktree("app-1"), &["branch", "--show-current"]);
    let deliver = |event: &str, id: &str, body: &serde_json::Value, sign: Option<&str>| {
        let body = serde_json::to_vec(body).unwrap();
        let signature = sign.map(|secret| github_signature(secret, &body));
        let mut headers = vec![
            ("Host", "hooks.tunnel.example"),
            ("Content-Type", "application/json"),
            ("X-GitHub-Event", event),
            ("X-GitHub-Delivery", id),
        ];
        if let Some(s) = &signature {
            headers.push(("X-Hub-Signature-256", s));
        }
        request_with(&host.addr, "POST", "/api/webhooks/github", &headers, &body)
    };
    let pr_of = |f: &Fleet| -> Option<u64> {
        let v: serde_json::Value =
            serde_json::from_str(&f.ao(&["status", "--json"]).stdout).ok()?;
        v.as_array()?
            .iter()
            .find(|s| s["id"] == "app-1")?
            .get("pr")?
            .get("number")?
            .as_u64()
    };
    // The first poll ran before the PR was opened; the next is an hour away.
    assert_eq!(pr_of(&f), None);
    let opened = serde_json::json!({
        "action": "opened",
        "repository": { "full_name": "acme/app" },
        "pull_request": { "number": pr, "head": { "ref": branch.trim(), "sha": gh.head_sha("acme/app", pr) } },
    });
    // Refused: unsigned, signed with another secret. Nothing moves.
    let a = deliver("pull_request", "d-0", &opened, None);
    assert_eq!(a.status, 401, "{a:?}");
    assert!(a.body.contains("no signature"), "{a:?}");
    let a = deliver("pull_request", "d-0", &opened, Some("a guess"));
    assert_eq!(a.status, 401, "{a:?}");
    assert!(a.body.contains("does not match"), "{a:?}");
    let big = serde_json::json!({ "repository": { "full_name": "acme/app" }, "padding": "x".repeat(5000) });
    let a = deliver("pull_request", "d-big", &big, Some("s3cret-for-hooks"));
    assert_eq!(a.status, 413, "{a:?}");
    assert_eq!(pr_of(&f), None, "a refused delivery changed something");
    // Signed: taken, through the tunnel's Host and without a cookie.
    let a = deliver("pull_request", "d-1", &opened, Some("s3cret-for-hooks"));
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains("taken"), "{a:?}");
    // Attached, and read whole: its check still running.
    wait_until("the PR attached and read by the delivery", || {
        let v: serde_json::Value =
            serde_json::from_str(&f.ao(&["status", "--json"]).stdout).ok()?;
        let s = v.as_array()?.iter().find(|s| s["id"] == "app-1")?.clone();
        (s["pr"]["number"] == pr && s["ci"] == "pending").then_some(())
    });
    // GitHub's repeat of a delivery is taken once.
    let a = deliver("pull_request", "d-1", &opened, Some("s3cret-for-hooks"));
    assert_eq!(
        (a.status, a.body.trim()),
        (200, "a repeat of a delivery already taken")
    );
    // The check fails; the delivery brings its log to the agent.
    gh.check(
        "acme/app",
        pr,
        "build",
        Some("FAILURE"),
        true,
        "error: the webhook saw it",
    );
    let failed = serde_json::json!({
        "action": "completed",
        "repository": { "full_name": "acme/app" },
        "check_run": { "head_sha": gh.head_sha("acme/app", pr), "pull_requests": [{ "number": pr }] },
    });
    let a = deliver("check_run", "d-2", &failed, Some("s3cret-for-hooks"));
    assert_eq!(a.status, 200, "{a:?}");
    wait_until("the failing log in the agent's pane", || {
        let pane = f
            .tmux(&["capture-pane", "-p", "-J", "-S", "-200", "-t", "=app-1:"])
            .stdout;
        pane.contains("error: the webhook saw it").then_some(())
    });
    wait_until("ao doctor to name the last delivery", || {
        f.ao(&["doctor"])
            .stdout
            .contains(
                "/api/webhooks/github (app): the last verified delivery: check_run on acme/app at",
            )
            .then_some(())
    });
    host.stop(&f);
}

/// On a phone: an agent that asks with a numbered menu gets one button per answer on its
/// page (read off its screen, as no plugin offers them), and the button types that
/// answer; a stale answer (the question gone) is refused.
#[test]
fn on_a_phone_an_agents_question_is_answered_with_its_button() {
    let ao = ao_tests::ao_bin();
    let mut f = Fleet::new("");
    let script = f.env.root().join("asker.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/bash\nread task\nprintf 'Deploy %s to staging?\\n\\u276f 1. Yes\\n  2. No, and tell me why\\n' \"$task\"\n'{ao}' report needs-input --note 'Deploy to staging?'\nread -r -n 1 answer\necho\necho \"answered $answer\"\n'{ao}' report working --note 'deploying'\nexec cat\n",
            ao = ao.display()
        ),
    )
    .unwrap();
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap()
        + &format!(
            "    agent: command\n    agentConfig:\n      command: [bash, {}]\nlifecycle:\n  probeInterval: 200ms\n",
            script.display()
        );
    std::fs::write(&file, config).unwrap();
    f.env.set("AO_DASHBOARD_TOKEN", TOKEN);
    let Some(driver) = Driver::start(&f) else {
        return;
    };
    let host = Host::start(&f);
    f.ao(&["spawn", "app", "--prompt", "the build"]).success();
    // An answer chosen for another question is not typed into this one.
    wait_until("app-1 asking", || {
        let run = f.ao(&["status", "--json"]);
        run.stdout.contains("\"waiting_input\"").then_some(())
    });
    let cookie = log_in(&f, &host);
    let origin = format!("http://{}", host.addr);
    let answer = |body: &[u8]| {
        request_with(
            &host.addr,
            "POST",
            "/api/sessions/app-1/answer",
            &[
                ("Cookie", &cookie),
                ("Origin", &origin),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    };
    let a = answer(br#"{"keys":"1","fingerprint":"of-another-question"}"#);
    assert_eq!(a.status, 409, "{a:?}");
    assert!(
        a.body
            .contains("app-1 asks another question now: Deploy to staging?"),
        "{a:?}"
    );
    let link = login_link(&f);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = phone(&f, &driver).await;
        page.goto(&link).await.unwrap();
        wait_for_element(&page, "app-1's card", ".card[data-id='app-1'] a.id").await;
        page.find(fantoccini::Locator::Css(".card[data-id='app-1'] a.id"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_element(
            &page,
            "the answer buttons",
            "#choices button[data-keys='2']",
        )
        .await;
        let offered = text_of(&page, "#choices").await;
        assert!(
            offered.contains("Yes") && offered.contains("No, and tell me why"),
            "{offered}"
        );
        assert_eq!(text_of(&page, "#question").await, "Deploy to staging?");
        assert_eq!(scrolls_sideways(&page).await, serde_json::Value::Null);
        let png = page.screenshot().await.unwrap();
        std::fs::write(artefacts().join("dashboard-phone-question.png"), png).unwrap();
        page.find(fantoccini::Locator::Css("#choices button[data-keys='1']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&page, "the answer's result", "#said[data-ok='true']", |t| {
            t.contains("answered app-1: Yes")
        })
        .await;
        page.close().await.unwrap();
    });
    wait_until("the agent's answer in its pane", || {
        let pane = f.tmux(&["capture-pane", "-p", "-t", "=app-1:"]).stdout;
        pane.contains("answered 1").then_some(())
    });
    // The question is gone: an answer to it now is refused, and nothing is typed.
    wait_until("the agent at work again", || {
        let run = f.ao(&["status", "--json"]);
        run.stdout.contains("\"deploying\"").then_some(())
    });
    let a = answer(br#"{"keys":"2","fingerprint":"from-an-old-question"}"#);
    assert_eq!(a.status, 409, "{a:?}");
    assert!(a.body.contains("app-1 asks nothing now"), "{a:?}");
    host.stop(&f);
}

/// A real agent CLI (Claude Code against the scripted model) asks permission to run a
/// command; its page shows the question with the CLI's own answers as buttons, read off
/// its screen, and the "Yes" button lets it run: the file is written and the turn ends.
#[test]
fn in_a_browser_a_real_clis_permission_question_is_answered_with_its_button() {
    use ao_tests::model::{Scenario, Step};
    if ao_tests::agent_cli("claude", "@anthropic-ai/claude-code").is_none() {
        return;
    }
    let steps = vec![
        Step {
            shell: Some("echo hello > out.txt".into()),
            ..Step::default()
        },
        Step {
            text: Some("I wrote out.txt.".into()),
            ..Step::default()
        },
    ];
    let mut a = ao_tests::AgentFleet::new(
        "claude-code",
        Scenario {
            steps,
            ..Scenario::default()
        },
        "      permissions: default\n",
    );
    a.fleet.env.set("AO_DASHBOARD_TOKEN", TOKEN);
    let Some(driver) = Driver::start(&a.fleet) else {
        return;
    };
    let host = Host::start(&a.fleet);
    a.ao(&["spawn", "app", "--prompt", "Write hello to out.txt"])
        .success();
    // The first run in a new folder asks to trust it: answered at its terminal.
    a.wait_activity("app-1", "waiting_input");
    a.press_until("app-1", &["Down"], "❯ Yes, I trust this folder");
    a.keys("app-1", &["Enter"]);
    let link = login_link(&a.fleet);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = browser(&a.fleet, &driver).await;
        page.goto(&link).await.unwrap();
        wait_for_element(&page, "app-1's card", ".card[data-id='app-1'] a.id").await;
        page.goto(&format!("http://{}/session/app-1", host.addr))
            .await
            .unwrap();
        // The permission prompt: the CLI's numbered answers as buttons.
        wait_for_element(
            &page,
            "the answer buttons",
            "#choices button[data-keys='1']",
        )
        .await;
        let offered = text_of(&page, "#choices").await;
        assert!(offered.contains("Yes"), "{offered}");
        assert!(offered.contains("No"), "{offered}");
        let png = page.screenshot().await.unwrap();
        std::fs::write(artefacts().join("dashboard-claude-permission.png"), png).unwrap();
        page.find(fantoccini::Locator::Css("#choices button[data-keys='1']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&page, "the answer's result", "#said[data-ok='true']", |t| {
            t.contains("answered app-1: Yes")
        })
        .await;
        page.close().await.unwrap();
    });
    // The command runs, then the turn ends.
    let out = a.fleet.worktree("app-1").join("out.txt");
    wait_until("out.txt written", || out.exists().then_some(()));
    a.wait_turn_ended("app-1");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    host.stop(&a.fleet);
}
