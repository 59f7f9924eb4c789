//! The host's stream of changes: pushed to `ao events --follow` and `ao status --watch`,
//! served on a private socket as JSON lines, resumed without gaps or repeats.

use ao_tests::{Fleet, Run, wait_until};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";

/// A fleet whose host probes every 200 ms, so it records itself (a change) that often.
fn fleet() -> Fleet {
    let f = Fleet::new(CAT);
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{config}lifecycle:\n  probeInterval: 200ms\n"),
    )
    .unwrap();
    f
}

/// A command left running, what it prints gathered as it comes.
struct Watching {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Watching {
    fn start(f: &Fleet, args: &[&str]) -> Watching {
        let mut cmd = f.env.command(ao_tests::ao_bin());
        cmd.args(args)
            .current_dir(&f.repo)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("ao starts");
        let gather = |from: Box<dyn std::io::Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let into = text.clone();
            std::thread::spawn(move || {
                let mut lines = BufReader::new(from);
                let mut line = String::new();
                while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                    into.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
            text
        };
        let stdout = gather(Box::new(child.stdout.take().unwrap()));
        let stderr = gather(Box::new(child.stderr.take().unwrap()));
        Watching {
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until what it printed satisfies `check`.
    fn wait(&self, what: &str, check: impl Fn(&str, &str) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !check(&self.stdout(), &self.stderr()) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn socket(f: &Fleet) -> PathBuf {
    f.env.ao_home.join("host.sock")
}

/// Starts the host and waits until its socket listens.
fn start_host(f: &Fleet, socket: &Path) -> Child {
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    wait_until("the host's socket", || {
        UnixStream::connect(socket).ok().map(|_| ())
    });
    host
}

/// A raw client of the socket: its hello sent, its lines read one by one.
struct Raw {
    lines: BufReader<UnixStream>,
}

impl Raw {
    fn connect(socket: &Path, hello: serde_json::Value) -> Raw {
        let mut stream = UnixStream::connect(socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        writeln!(stream, "{hello}").unwrap();
        Raw {
            lines: BufReader::new(stream),
        }
    }

    fn next(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// The next change lines until one satisfies `until`, checking that their sequence
    /// numbers follow `seq` one by one; returns the last.
    fn changes_until(
        &mut self,
        seq: &mut u64,
        until: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        loop {
            let line = self.next();
            assert_eq!(line["type"], "change", "{line}");
            assert_eq!(line["seq"], *seq + 1, "a gap or a repeat: {line}");
            *seq += 1;
            if until(&line["change"]) {
                return line;
            }
        }
    }
}

fn event_ids(json_lines: &str) -> Vec<i64> {
    json_lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| e["id"].as_i64())
        .collect()
}

#[test]
fn events_follow_is_pushed_by_a_host_and_reads_the_store_while_none_runs() {
    let f = fleet();
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    let host = start_host(&f, &socket(&f));
    let follow = Watching::start(&f, &["events", "--follow", "--json", "-n", "0"]);
    follow.wait("the follower on the host's stream", |_, err| {
        err.contains("following the host")
    });
    f.ao(&["session", "kill", "app-1"]).success();
    follow.wait("app-1's kill pushed", |out, _| {
        out.contains("\"status_changed\"") && out.contains("app-1")
    });

    // The host goes: the follower reads the store, and an event meanwhile is not lost.
    f.stop_host(host);
    follow.wait("the follower back on the store", |_, err| {
        err.contains("the host stopped")
    });
    f.ao(&["spawn", "app", "--prompt", "two"]).success();
    follow.wait("app-2's spawn from the store", |out, _| {
        out.contains("\"session_spawned\"") && out.contains("app-2")
    });
    // It comes back: pushed again, nothing shown twice.
    let host = start_host(&f, &socket(&f));
    follow.wait("the follower on the new host's stream", |_, err| {
        err.matches("following the host").count() == 2
    });
    f.ao(&["session", "kill", "app-2"]).success();
    follow.wait("app-2's kill pushed", |out, _| {
        out.lines()
            .any(|l| l.contains("\"status_changed\"") && l.contains("app-2"))
    });
    let ids = event_ids(&follow.stdout());
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids, unique, "in order, each once:\n{}", follow.stdout());
    f.stop_host(host);
}

#[test]
fn without_a_host_events_follow_reads_the_store() {
    let f = fleet();
    let follow = Watching::start(&f, &["events", "--follow", "-n", "0"]);
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    follow.wait("app-1's spawn", |out, _| {
        out.contains("session_spawned") && out.contains("app-1")
    });
    assert!(
        !follow.stderr().contains("following the host"),
        "{}",
        follow.stderr()
    );
}

#[test]
fn status_watch_shows_a_change_the_host_pushes() {
    let f = fleet();
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    let host = start_host(&f, &socket(&f));
    // Refreshed only every hour: what it shows sooner was pushed.
    let watch = Watching::start(&f, &["status", "--watch", "--interval", "3600"]);
    watch.wait("the live table", |out, _| {
        out.contains("changes pushed live") && out.contains("app-1")
    });
    f.ao(&["session", "kill", "app-1"]).success();
    watch.wait("app-1 killed in the last table", |out, _| {
        let last = out.rsplit("SESSION").next().unwrap_or_default();
        last.lines()
            .any(|l| l.starts_with("app-1") && l.contains("killed"))
    });
    f.stop_host(host);
    watch.wait("the table refreshed from the store", |out, _| {
        out.contains("host: not running")
    });
}

#[test]
fn a_socket_client_gets_a_snapshot_then_numbered_changes_and_resumes_without_gaps() {
    let mut f = fleet();
    // A short history, so a client can fall behind it.
    f.env.set("AO_STREAM_KEEP", "40");
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    let socket = socket(&f);
    let host = start_host(&f, &socket);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the socket's mode is {mode:o}");

    let mut raw = Raw::connect(&socket, serde_json::json!({"v": 1}));
    let snapshot = raw.next();
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    assert_eq!(snapshot["v"], 1);
    let epoch = snapshot["epoch"].as_str().unwrap().to_owned();
    let sessions = snapshot["state"]["sessions"].as_array().unwrap();
    assert_eq!(sessions[0]["id"], "app-1", "{snapshot}");
    let mut seq = snapshot["seq"].as_u64().unwrap();
    f.ao(&["session", "kill", "app-1"]).success();
    raw.changes_until(&mut seq, |c| {
        c["kind"] == "session" && c["session"]["status"] == "killed"
    });
    raw.changes_until(&mut seq, |c| {
        c["kind"] == "event" && c["event"]["kind"] == "status_changed"
    });

    // Away while app-2 is spawned; back from where it was: the spawn, none twice.
    drop(raw);
    f.ao(&["spawn", "app", "--prompt", "two"]).success();
    let mut raw = Raw::connect(
        &socket,
        serde_json::json!({"v": 1, "resume": {"epoch": epoch, "seq": seq}}),
    );
    let resumed = raw.next();
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(resumed["seq"], seq);
    raw.changes_until(&mut seq, |c| {
        c["kind"] == "event" && c["event"]["kind"] == "session_spawned"
    });

    // Older than the 40 changes kept (the host records itself every 200 ms): a snapshot.
    let old = seq;
    while seq <= old + 45 {
        raw.changes_until(&mut seq, |_| true);
    }
    drop(raw);
    let mut raw = Raw::connect(
        &socket,
        serde_json::json!({"v": 1, "resume": {"epoch": epoch, "seq": old}}),
    );
    let fresh = raw.next();
    assert_eq!(fresh["type"], "snapshot", "{fresh}");
    assert!(fresh["seq"].as_u64().unwrap() > old + 45, "{fresh}");
    assert_eq!(fresh["state"]["sessions"][1]["id"], "app-2", "{fresh}");
    // Another host's numbers mean nothing here: a snapshot too.
    let mut raw = Raw::connect(
        &socket,
        serde_json::json!({"v": 1, "resume": {"epoch": "1-1", "seq": 1}}),
    );
    assert_eq!(raw.next()["type"], "snapshot");
    // A newer client is told why not.
    let mut raw = Raw::connect(&socket, serde_json::json!({"v": 99}));
    let error = raw.next();
    assert_eq!(error["type"], "error", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("the client asked for version 99"),
        "{error}"
    );
    f.stop_host(host);
    assert!(!socket.exists(), "the socket outlived its host");
}

#[test]
fn a_home_too_long_for_a_socket_gets_a_private_directory_elsewhere() {
    let mut f = fleet();
    let root = f.env.root();
    f.env.ao_home = root.join("h".repeat(90)).join("ao-home");
    let run = root.join("run");
    std::fs::create_dir(&run).unwrap();
    f.env.set("XDG_RUNTIME_DIR", &run);
    f.ao(&["spawn", "app", "--prompt", "one"]).success();
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    let dir = wait_until("the socket's directory", || {
        std::fs::read_dir(&run)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.join("host.sock").exists())
    });
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.len() == 19
            && name.starts_with("ao-")
            && name[3..].chars().all(|c| c.is_ascii_hexdigit()),
        "{name}"
    );
    let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(
        dir_mode & 0o777,
        0o700,
        "the directory's mode is {dir_mode:o}"
    );
    let sock = std::fs::metadata(dir.join("host.sock")).unwrap();
    assert!(sock.file_type().is_socket());
    assert_eq!(sock.permissions().mode() & 0o777, 0o600);
    assert!(!f.env.ao_home.join("host.sock").exists());
    // Clients find it by the same rule.
    let follow = Watching::start(&f, &["events", "--follow", "-n", "0"]);
    follow.wait("the follower on the host's stream", |_, err| {
        err.contains("following the host")
    });
    f.ao(&["session", "kill", "app-1"]).success();
    follow.wait("app-1's kill pushed", |out, _| {
        out.contains("status_changed") && out.contains("app-1")
    });
    f.stop_host(host);
    assert!(!dir.exists(), "the socket's directory outlived its host");
}

/// Runs `ao ARGS` with a `tmux` first on its PATH (not the host's) that logs its calls:
/// what it printed, and the tmux calls it made.
fn logging_tmux(f: &Fleet, args: &[&str]) -> (String, String) {
    let shim = f.env.root().join("status-shim");
    let calls = f.env.root().join("status-tmux-calls");
    if !shim.join("tmux").exists() {
        ao_tests::wrap_program(&shim, "tmux", |real| {
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec {real} \"$@\"\n",
                calls.display()
            )
        });
    }
    let _ = std::fs::remove_file(&calls);
    let mut cmd = f.env.command(ao_tests::ao_bin());
    cmd.args(args)
        .current_dir(&f.repo)
        .env("PATH", ao_tests::path_with(&shim));
    let run = Run::of(cmd, &f.repo);
    run.success();
    let called = std::fs::read_to_string(&calls).unwrap_or_default();
    (run.stdout, called)
}

/// While a host probes, `ao status` shows the quiet sessions as the host last saw them,
/// with no call to tmux, and probes one that works; `--refresh` probes them all.
#[test]
fn status_beside_a_probing_host_asks_tmux_only_of_the_agents_at_work() {
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    // Quiet for half a second: idle. Not nudged when idle: `cat` would echo the nudge,
    // and a session at work again is rightly probed by `ao status` itself.
    std::fs::write(
        &file,
        format!(
            "{config}readyThresholdMs: 500\nlifecycle:\n  probeInterval: 200ms\nreactions:\n  agent-idle:\n    auto: false\n"
        ),
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "first"]).success();
    f.ao(&["spawn", "app", "--prompt", "second"]).success();
    let host = f.ao_child(&["start", "--no-orchestrator", "--no-dashboard"]);
    // The host probed within the last two seconds (before its first probe, or when a
    // loaded machine held it back, `ao status` probes by itself and reads the same).
    let host_fresh = || {
        let said = f.ao(&["status"]).stdout;
        said.split("last probe ")
            .nth(1)
            .and_then(|rest| rest.split('s').next())
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n <= 2)
    };
    wait_until("both idle, as the host saw them", || {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&f.ao(&["status", "--json"]).stdout).ok()?;
        let idle = list.len() == 2 && list.iter().all(|s| s["activity"] == "idle");
        (idle && host_fresh()).then_some(())
    });
    let status = |args: &[&str]| logging_tmux(&f, args);
    let (out, called) = status(&["status"]);
    assert!(out.contains("app-1") && out.contains("app-2"), "{out}");
    assert!(out.contains("host: running"), "{out}");
    assert_eq!(
        called,
        "",
        "ao status called tmux for idle sessions:\n{out}\n{}",
        f.ao(&["events"]).stdout
    );
    // One agent asks (it says so itself): seen by the host, then probed by `ao status`
    // itself, alone.
    f.ao(&[
        "report",
        "needs-input",
        "--session",
        "app-2",
        "--note",
        "Proceed?",
    ])
    .success();
    wait_until("app-2 asking, as the host saw it", || {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&f.ao(&["status", "--json"]).stdout).ok()?;
        let asking = list
            .iter()
            .any(|s| s["id"] == "app-2" && s["activity"] == "waiting_input");
        (asking && host_fresh()).then_some(())
    });
    let (_, called) = status(&["status", "--json"]);
    assert!(
        called.lines().all(|l| l.contains("=app-2")) && !called.is_empty(),
        "{called}\n{}\n{}",
        f.ao(&["status"]).stdout,
        f.ao(&["events"]).stdout
    );
    let (_, called) = status(&["status", "--refresh"]);
    assert!(called.contains("list-panes -a"), "{called}");
    f.stop_host(host);
}

/// A host started for some projects only is not taken to have seen the others: `ao
/// status` probes their sessions itself, quiet or not.
#[test]
fn status_probes_the_projects_a_scoped_host_does_not_watch() {
    let f = Fleet::new("");
    let web = f.env.repo_with_origin("web", "main");
    let project = |id: &str, path: &Path| {
        format!(
            "  {id}:\n    path: {}\n    agent: command\n    agentConfig:\n      command: [cat]\n",
            path.display()
        )
    };
    std::fs::write(
        f.repo.join("agent-orchestrator.yaml"),
        format!(
            "runtimes:\n  tmux:\n    socket: {}\nreadyThresholdMs: 500\nlifecycle:\n  probeInterval: 200ms\nprojects:\n{}{}",
            f.socket.display(),
            project("app", &f.repo),
            project("web", &web),
        ),
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "first"]).success();
    f.ao(&["spawn", "web", "--prompt", "second"]).success();
    // Both quiet, as a probe without a host found them.
    wait_until("both idle", || {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&f.ao(&["status", "--json"]).stdout).ok()?;
        (list.len() == 2 && list.iter().all(|s| s["activity"] == "idle")).then_some(())
    });
    let host = f.ao_child(&["start", "app", "--no-orchestrator", "--no-dashboard"]);
    wait_until("the host's probe", || {
        let out = f.ao(&["status"]).stdout;
        (out.contains("last probe ") && !out.contains("last probe not yet")).then_some(())
    });
    // The host's own first looks at app-1 may find its terminal just touched (its
    // watcher attaching): only once the host's probes read it quiet again is it the
    // host's to show as seen.
    wait_until("app-1 quiet as the host probes it", || {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&f.ao(&["status", "-p", "app", "--json"]).stdout).ok()?;
        (list.len() == 1 && list[0]["activity"] == "idle").then_some(())
    });
    let called = |args: &[&str]| logging_tmux(&f, args).1;
    assert_eq!(
        called(&["status", "-p", "app"]),
        "",
        "app is the host's to probe"
    );
    assert!(
        called(&["status", "-p", "web"]).contains("list-panes"),
        "web is no host's: ao status probes it"
    );
    assert!(
        called(&["status"]).contains("list-panes"),
        "the whole fleet is not the host's: ao status probes it"
    );
    f.stop_host(host);
}
