//! Notifications: routing by priority, every notifier at once with its own time-out,
//! every outcome recorded, through `ao notify` and `ao doctor --test-notify`, with the
//! example file notifier and the misbehaving test notifier (real plugin libraries).

use crate::plugins::lib;
use ao_tests::Fleet;

/// A fleet with two file notifiers (`urgent.jsonl`, `info.jsonl` beside the config) and
/// `extra` appended to the config.
fn notify_fleet(extra: &str) -> Fleet {
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{config}plugins:\n  - name: file-notifier\n    path: {}\n  - name: misbehaving\n    path: {}\nnotifiers:\n  loud:\n    plugin: file-notifier\n    path: urgent.jsonl\n  quiet:\n    plugin: file-notifier\n    path: info.jsonl\n{extra}",
            lib("ao-example-file-notifier"),
            lib("ao-test-plugin-misbehaving"),
        ),
    )
    .unwrap();
    f
}

fn lines(f: &Fleet, file: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(f.repo.join(file))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `notified` events in the store, as (notifier, outcome).
fn notified(f: &Fleet) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open_with_flags(
        f.env.ao_home.join("ao.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare("SELECT json_extract(payload, '$.notifier'), json_extract(payload, '$.outcome') FROM events WHERE kind = 'notified' ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn notify_routes_by_priority_and_records_every_outcome() {
    let f = notify_fleet("notificationRouting:\n  urgent: [loud, quiet]\n  info: [quiet]\n");
    f.ao(&[
        "notify",
        "--priority",
        "urgent",
        "CI is red",
        "build failed on main",
    ])
    .success()
    .stdout_has("ok    loud   delivered in")
    .stdout_has("ok    quiet  delivered in");
    f.ao(&["notify", "-p", "info", "FYI"]).success();
    let loud = lines(&f, "urgent.jsonl");
    assert_eq!(loud.len(), 1);
    assert_eq!(loud[0]["title"], "CI is red");
    assert_eq!(lines(&f, "info.jsonl").len(), 2);
    // Nothing routes warnings: said, and a failure.
    f.ao(&["notify", "-p", "warning", "Nobody hears this"])
        .code(1)
        .stderr_has("nothing was sent: no notifier hears warning events");
    assert_eq!(
        notified(&f),
        [
            ("loud".into(), "delivered".into()),
            ("quiet".into(), "delivered".into()),
            ("quiet".into(), "delivered".into())
        ]
    );
    // `ao notify` is never held back as a repeat.
    f.ao(&["notify", "-p", "info", "FYI"]).success();
    assert_eq!(lines(&f, "info.jsonl").len(), 3);
}

#[test]
fn a_hanging_notifier_is_cut_off_at_its_own_time_out_and_the_others_deliver() {
    let f = notify_fleet(
        "  stuck:\n    plugin: misbehaving\n    mode: hang\n    timeoutMs: 300\ndefaults:\n  notifiers: [stuck, loud]\n",
    );
    let run = f.ao(&["notify", "Needs you", "a question is waiting"]);
    run.success()
        .stdout_has("FAIL  stuck  failed after 300 ms: no answer within 300 ms")
        .stdout_has("ok    loud   delivered in");
    assert_eq!(lines(&f, "urgent.jsonl").len(), 1);
    assert_eq!(
        notified(&f),
        [
            ("stuck".into(), "timed_out".into()),
            ("loud".into(), "delivered".into())
        ]
    );
    // Only failures: exit 1, each said.
    std::fs::write(
        f.repo.join("agent-orchestrator.yaml"),
        std::fs::read_to_string(f.repo.join("agent-orchestrator.yaml"))
            .unwrap()
            .replace("notifiers: [stuck, loud]", "notifiers: [stuck]"),
    )
    .unwrap();
    f.ao(&["notify", "Needs you"])
        .code(1)
        .stdout_has("FAIL  stuck")
        .stderr_has("no notifier delivered it");
}

#[test]
fn a_bad_time_out_or_dedup_window_is_refused_where_it_is_written() {
    let f = notify_fleet(
        "  stuck:\n    plugin: misbehaving\n    timeoutMs: soon\nnotificationDedupWindow: 5 minutes\n",
    );
    let run = f.ao(&["config", "validate"]);
    run.code(2)
        .stderr_has("`timeoutMs` must be a whole number of milliseconds above 0")
        .stderr_has("notificationDedupWindow `5 minutes` is not a duration");
}

#[test]
fn notify_names_its_session_and_refuses_an_unknown_one() {
    let f = notify_fleet("defaults:\n  notifiers: [loud]\n");
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    f.ao(&["notify", "--session", "app-1", "About app-1"])
        .success();
    let loud = lines(&f, "urgent.jsonl");
    assert_eq!(loud[0]["session"], "app-1");
    assert_eq!(loud[0]["project"], "app");
    f.ao(&["notify", "--session", "app-9", "Nobody"])
        .code(1)
        .stderr_has("there is no session app-9");
    f.ao(&["session", "kill", "app-1"]).success();
}

mod http {
    use super::*;
    use ao_tests::receiver::{Gate, Receiver, Reply};
    use std::time::Duration;

    /// A fleet whose notifiers are `sections` (YAML under `notifiers:`, indented two
    /// spaces), all of them hearing urgent events.
    fn http_fleet(sections: &str, urgent: &[&str]) -> Fleet {
        let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
        let file = f.repo.join("agent-orchestrator.yaml");
        let config = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            format!(
                "{config}notifiers:\n{sections}notificationRouting:\n  urgent: [{}]\n",
                urgent.join(", ")
            ),
        )
        .unwrap();
        f
    }

    #[test]
    fn a_webhook_posts_the_documented_payload_signed_with_its_secret() {
        let r = Receiver::start();
        let mut f = http_fleet(
            &format!(
                "  hook:\n    plugin: webhook\n    url: {}/hooks/ao\n    headers:\n      X-Team: agents\n    secret: ${{HOOK_SECRET}}\n",
                r.url
            ),
            &["hook"],
        );
        f.env.set("HOOK_SECRET", "s3cret-value");
        f.ao(&["spawn", "app", "--prompt", "work"]).success();
        f.ao(&[
            "notify",
            "-p",
            "urgent",
            "-s",
            "app-1",
            "app-1 needs input",
            "It asks to run npm test",
        ])
        .success()
        .stdout_has("ok    hook  delivered in");
        let got = r.received();
        assert_eq!(got.len(), 1);
        let req = &got[0];
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "/hooks/ao")
        );
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("x-team"), Some("agents"));
        let body = req.json();
        let mut pinned = body.clone();
        pinned["event"]["at"] = serde_json::json!("[at]");
        insta::assert_snapshot!(
            "webhook_payload_v1",
            serde_json::to_string_pretty(&pinned).unwrap()
        );
        assert_eq!(body["version"], 1);
        assert_eq!(body["title"], "app-1 needs input");
        assert_eq!(body["text"], "It asks to run npm test");
        assert_eq!(body["attach"], "ao attach app-1");
        assert_eq!(body["event"]["session"], "app-1");
        assert_eq!(body["event"]["project"], "app");
        assert_eq!(body["event"]["priority"], "urgent");
        assert_eq!(body["event"]["kind"], "manual");
        // The signature is HMAC-SHA256 of the exact body, keyed by the secret.
        let expected = {
            let key = ring_hmac(b"s3cret-value", req.body.as_bytes());
            format!("sha256={key}")
        };
        assert_eq!(req.header("x-ao-signature-256"), Some(expected.as_str()));
        f.ao(&["session", "kill", "app-1"]).success();
    }

    /// HMAC-SHA256, computed here without ao's code (RFC 2104 over SHA-256 from the
    /// system's `openssl`), so the test checks ao rather than repeating it.
    fn ring_hmac(key: &[u8], body: &[u8]) -> String {
        let mut child = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-mac", "HMAC", "-macopt"])
            .arg(format!("key:{}", String::from_utf8_lossy(key)))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(body).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .rsplit(' ')
            .next()
            .unwrap()
            .trim()
            .to_owned()
    }

    #[test]
    fn a_webhook_retries_429_and_5xx_honouring_retry_after_and_then_says_what_happened() {
        let r = Receiver::start();
        let f = http_fleet(
            &format!(
                "  hook:\n    plugin: webhook\n    url: {}/hooks/token-ABC123\n    retries: 2\n    retryDelayMs: 50\n",
                r.url
            ),
            &["hook"],
        );
        r.reply([
            Reply::Status(
                429,
                vec![("retry-after".into(), "1".into())],
                "slow down".into(),
            ),
            Reply::Status(500, Vec::new(), "oops".into()),
        ]);
        f.ao(&["notify", "-p", "urgent", "Retry me"]).success();
        let got = r.received();
        assert_eq!(got.len(), 3, "429, 500, then 200");
        // No sooner than the 429's Retry-After (1 s) asked, then the doubled delay.
        let waited = got[1].at.duration_since(got[0].at);
        assert!(
            waited >= Duration::from_secs(1),
            "retried {waited:?} after a 429 that said Retry-After: 1"
        );
        let waited = got[2].at.duration_since(got[1].at);
        assert!(
            waited >= Duration::from_millis(100),
            "retried {waited:?} after a 500, with retryDelayMs 50 doubled once"
        );
        // Three failures: said, without the URL and its token.
        r.reply([
            Reply::Status(503, Vec::new(), "down".into()),
            Reply::Status(503, Vec::new(), "down".into()),
            Reply::Status(503, Vec::new(), "down for maintenance".into()),
        ]);
        let run = f.ao(&["notify", "-p", "urgent", "Fail me"]);
        run.code(1)
            .stdout_has("FAIL  hook  failed after")
            .stdout_has("ms: answered 503: down for maintenance");
        assert!(!run.stdout.contains("ABC123") && !run.stderr.contains("ABC123"));
        // A 4xx is not retried.
        let before = r.received().len();
        r.reply([Reply::Status(404, Vec::new(), "no such hook".into())]);
        f.ao(&["notify", "-p", "urgent", "Gone"])
            .code(1)
            .stdout_has("answered 404: no such hook");
        assert_eq!(r.received().len(), before + 1);
        // An error page: its status and one line, not the page.
        let page = "<!DOCTYPE html>\n<html><head><title>403 Forbidden</title>\n<style>h1 { color: red }</style></head>\n<body><h1>Forbidden</h1><p>You don't have permission.</p></body></html>\n";
        r.reply([Reply::Status(403, Vec::new(), page.into())]);
        let run = f.ao(&["notify", "-p", "urgent", "Refused"]);
        run.code(1).stdout_has("answered 403: Forbidden\n");
        assert!(
            !run.stdout.contains("<") && !run.stdout.contains("permission"),
            "the page is printed:\n{}",
            run.explain()
        );
    }

    #[test]
    fn slack_discord_and_ntfy_get_their_own_formats() {
        let r = Receiver::start();
        let f = http_fleet(
            &format!(
                "  slack:\n    plugin: slack\n    webhook: {0}/slack\n    channel: \"#agents\"\n  discord:\n    plugin: discord\n    webhook: {0}/discord\n    username: ao\n  phone:\n    plugin: ntfy\n    server: {0}\n    topic: ao-test-topic\n    token: tk_secret\n",
                r.url
            ),
            &["slack", "discord", "phone"],
        );
        f.ao(&[
            "notify",
            "-p",
            "urgent",
            "CI failed on app-1",
            "build: 3 tests failed",
        ])
        .success();
        let got = r.received();
        let by = |path: &str| {
            got.iter()
                .find(|g| g.path == path)
                .unwrap_or_else(|| panic!("{path}: {got:?}"))
                .clone()
        };
        let slack = by("/slack").json();
        assert_eq!(slack["text"], "CI failed on app-1: build: 3 tests failed");
        assert_eq!(slack["channel"], "#agents");
        assert_eq!(slack["blocks"][0]["text"]["text"], "CI failed on app-1");
        assert_eq!(slack["blocks"][1]["text"]["text"], "build: 3 tests failed");
        let discord = by("/discord").json();
        assert_eq!(discord["username"], "ao");
        assert_eq!(discord["embeds"][0]["title"], "CI failed on app-1");
        assert_eq!(discord["embeds"][0]["description"], "build: 3 tests failed");
        assert_eq!(discord["embeds"][0]["color"], 0xd73a49);
        let phone = by("/ao-test-topic");
        assert_eq!(phone.header("title"), Some("CI failed on app-1"));
        assert_eq!(phone.header("priority"), Some("5"));
        assert_eq!(phone.header("tags"), Some("rotating_light,ao"));
        assert_eq!(phone.header("authorization"), Some("Bearer tk_secret"));
        assert_eq!(phone.body, "build: 3 tests failed");
    }

    #[test]
    fn a_slack_that_never_answers_delays_no_other_notifier() {
        let r = Receiver::start();
        let healthy = Receiver::start();
        let bus = ao_tests::dbus::DesktopBus::start();
        let mut f = http_fleet(
            &format!(
                "  slack:\n    plugin: slack\n    webhook: {}/slack\n    timeoutMs: 500\n  hook:\n    plugin: webhook\n    url: {}/hook\n  desktop:\n    plugin: desktop\n",
                r.url, healthy.url
            ),
            &["slack", "hook", "desktop"],
        );
        f.env.set("DBUS_SESSION_BUS_ADDRESS", &bus.address);
        r.reply([Reply::Never(Duration::from_secs(30))]);
        let run = f.ao(&["notify", "-p", "urgent", "Both at once"]);
        run.success()
            .stdout_has("FAIL  slack    failed after 500 ms: no answer within 500 ms")
            .stdout_has("ok    hook     delivered in")
            .stdout_has("ok    desktop  delivered in");
        assert_eq!(healthy.received().len(), 1);
        assert_eq!(bus.shown().len(), 1);
    }

    /// Every routed notifier is called at once, end to end: the second webhook is
    /// delivered while the first one's request is still held open, unanswered (called one
    /// after the other, the second would wait for the first's answer or its 30 s
    /// time-out).
    #[test]
    fn a_webhook_held_unanswered_holds_back_no_other_notifier() {
        let held = Receiver::start();
        let other = Receiver::start();
        let gate = Gate::new();
        held.reply([Reply::Held(gate.clone())]);
        let f = http_fleet(
            &format!(
                "  held:\n    plugin: webhook\n    url: {}/held\n    timeoutMs: 30000\n  other:\n    plugin: webhook\n    url: {}/other\n",
                held.url, other.url
            ),
            &["held", "other"],
        );
        let child = f.ao_child(&["notify", "-p", "urgent", "Both at once"]);
        // Both arrive while the first is held unanswered (its request may reach its
        // receiver after the second's, on a loaded machine).
        ao_tests::wait_until(
            "the second webhook's delivery while the first is held",
            || (other.received().len() == 1 && held.received().len() == 1).then_some(()),
        );
        gate.open();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("ok    held   delivered in")
                && stdout.contains("ok    other  delivered in"),
            "{stdout}"
        );
    }

    #[test]
    fn notifier_sections_are_checked_where_they_are_written() {
        let f = http_fleet(
            "  phone:\n    plugin: ntfy\n    server: https://ntfy.example.com\n",
            &["phone"],
        );
        f.ao(&["config", "validate"])
            .code(2)
            .stderr_has("the ntfy notifier needs `topic`");
    }
}

mod desktop {
    use super::*;
    use ao_tests::dbus::DesktopBus;

    #[test]
    fn the_desktop_shows_title_message_attach_command_and_urgency_on_a_real_bus() {
        let bus = DesktopBus::start();
        let mut f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
        f.env.set("DBUS_SESSION_BUS_ADDRESS", &bus.address);
        // No routing at all: urgent and action go to the desktop.
        f.ao(&["spawn", "app", "--prompt", "work"]).success();
        f.ao(&[
            "notify",
            "-p",
            "urgent",
            "-s",
            "app-1",
            "app-1 needs input",
            "It asks to run npm test",
        ])
        .success()
        .stdout_has("ok    desktop  delivered in");
        f.ao(&["notify", "-p", "action", "Ready to merge"])
            .success();
        f.ao(&["notify", "-p", "info", "Nobody hears this"]).code(1);
        let shown = bus.shown();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(shown[0].app, "ao");
        assert_eq!(shown[0].summary, "app-1 needs input");
        assert_eq!(
            shown[0].body,
            "app-1: It asks to run npm test\nao attach app-1"
        );
        assert_eq!(shown[0].urgency, Some(2), "urgent is critical");
        assert_eq!(shown[1].urgency, Some(1));
        f.ao(&["session", "kill", "app-1"]).success();
    }

    /// With no notifiers configured, `ao doctor --test-notify` tests the `desktop` that
    /// `ao notify` routes urgent and action to, and gets the outcome `ao notify` gets.
    #[test]
    fn doctor_tests_the_default_desktop_that_notify_routes_to() {
        let mut f = Fleet::new("");
        f.env
            .set("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
        f.ao(&["notify", "-p", "urgent", "Anyone?"])
            .code(1)
            .stdout_has("FAIL  desktop  failed after")
            .stdout_has("the desktop's notification service did not take it");
        let run = f.ao(&["doctor", "--test-notify"]);
        run.code(1)
            .stdout_has("urgent, action: desktop (ao's default")
            .stdout_has("warning, info: none")
            .stdout_has("FAIL  notify desktop")
            .stdout_has("the desktop's notification service did not take it");
        assert!(
            !run.stdout.contains("no notifiers are configured"),
            "{}",
            run.explain()
        );
        // On a real bus, delivered there, as `ao notify`'s is.
        let bus = DesktopBus::start();
        f.env.set("DBUS_SESSION_BUS_ADDRESS", &bus.address);
        f.ao(&["doctor", "--test-notify"])
            .stdout_has("ok    notify desktop")
            .stdout_has("delivered in");
        let shown = bus.shown();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert_eq!(shown[0].summary, "ao test notification");
    }

    #[test]
    fn without_a_notification_service_the_desktop_fails_with_why() {
        let mut f = Fleet::new("");
        f.env
            .set("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
        f.ao(&["notify", "-p", "urgent", "Anyone?"])
            .code(1)
            .stdout_has("FAIL  desktop  failed after")
            .stdout_has("the desktop's notification service did not take it");
    }
}

#[test]
fn events_show_what_happened_filtered_and_followed() {
    use std::io::BufRead;
    let f = notify_fleet("defaults:\n  notifiers: [loud]\n");
    f.ao(&["events"]).success().stdout_has("no events yet");
    f.ao(&["spawn", "app", "--prompt", "work"]).success();
    f.ao(&["notify", "-s", "app-1", "About app-1"]).success();
    let run = f.ao(&["events", "--json"]);
    run.success();
    let all: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let kinds: Vec<&str> = all.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"session_spawned"), "{kinds:?}");
    assert!(kinds.contains(&"notified"), "{kinds:?}");
    f.ao(&["events", "--kind", "notified"])
        .success()
        .stdout_has("app-1")
        .stdout_has("notified")
        .stdout_has("loud delivered \"About app-1\"");
    let only = f.ao(&["events", "--kind", "notified", "--json"]);
    let only: Vec<serde_json::Value> = serde_json::from_str(&only.stdout).unwrap();
    assert!(only.iter().all(|e| e["kind"] == "notified"));
    // Following: a new event is printed as it happens.
    let mut child = f.ao_child(&["events", "--follow", "--json", "--kind", "notified"]);
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        })
    };
    // The one already there, then the new one.
    ao_tests::wait_until("the follower's first line", || {
        (lines.lock().unwrap().len() == 1).then_some(())
    });
    f.ao(&["notify", "-s", "app-1", "Later news"]).success();
    ao_tests::wait_until("the new event followed", || {
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("Later news"))
            .then_some(())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    f.ao(&["session", "kill", "app-1"]).success();
}
