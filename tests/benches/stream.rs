//! How fast the host's stream shows a change (run: `cargo bench -p ao-tests --bench
//! stream`), each figure with its target and a verdict. 100 idle sessions (the `command`
//! agent running `cat`) across 5 repositories on the fake GitHub, the host at its default
//! intervals, `ao events --follow --json` and `ao status --watch --json` connected to it:
//!
//! - from a commit to the store (an event appended, here by the benchmark itself, as
//!   `ao hook` or any other process would) to `ao events --follow` printing it: at most
//!   200 ms, the median of 20, each at a random moment of the watcher's 100 ms turn;
//! - the same for a session's row changed, to `ao status --watch` printing it: at most
//!   200 ms;
//! - what the stream costs the host while nothing changes but its own record: the CPU
//!   of its stream threads (the watcher, the socket's) over a 30 s window, as a share of
//!   one core: under 0.05%; the host's own, for information.
//!
//! `cargo test` runs it as a quick pass: 1 session in each repository, 3 changes of each
//! kind, a 5 s window, nothing judged.

use ao_core::model::{Event, EventKind, Priority, SessionId, now_ms};
use ao_core::store::Store;
use ao_tests::bench::{Bench, Target, Unit, pause};
use ao_tests::github::FakeGitHub;
use std::io::{BufRead, BufReader};
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Each line a child prints, with when it was read.
type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

fn gather(child: &mut std::process::Child) -> Lines {
    let lines: Lines = Arc::default();
    let into = lines.clone();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            into.lock().unwrap().push((Instant::now(), l));
        }
    });
    lines
}

/// Waits for the first line containing `marker`, and says when it was read.
fn seen(lines: &Lines, marker: &str) -> Instant {
    ao_tests::wait_until(&format!("a line with {marker}"), || {
        lines
            .lock()
            .unwrap()
            .iter()
            .find(|(_, l)| l.contains(marker))
            .map(|(at, _)| *at)
    })
}

/// Nanoseconds of CPU used by `pid`'s threads whose name starts with `prefix` (all of
/// them for an empty prefix), from each thread's `schedstat`.
fn thread_cpu_ns(pid: u32, prefix: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| {
            let name = std::fs::read_to_string(t.path().join("comm")).ok()?;
            if !name.trim_end().starts_with(prefix) {
                return None;
            }
            let stat = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let mut b = Bench::start("stream");
    let quick = b.quick();
    let per_repo = if quick { 1 } else { 20 };
    let changes = b.runs(20).max(3);
    let window = Duration::from_secs(if quick { 5 } else { 30 });
    let gh = FakeGitHub::start();
    let f = ao_tests::five_repo_fleet(
        &gh,
        "",
        |_| "    agent: command\n    agentConfig:\n      command: [cat]\n".to_owned(),
        per_repo,
    );
    let n = f.sessions().len();
    let mut host = f.env.command(ao_tests::ao_bin());
    host.args(["start", "--no-orchestrator"])
        .current_dir(&f.repo)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut host = host.spawn().unwrap();
    let pid = host.id();
    let socket = f.env.ao_home.join("host.sock");
    ao_tests::wait_until("the host's socket", || {
        std::os::unix::net::UnixStream::connect(&socket).ok()
    });
    let client = |args: &[&str]| {
        let mut cmd = f.env.command(ao_tests::ao_bin());
        cmd.args(args)
            .current_dir(&f.repo)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        cmd.spawn().unwrap()
    };
    let mut follow = client(&["events", "--follow", "--json", "-n", "0"]);
    let follow_lines = gather(&mut follow);
    let mut watch = client(&["status", "--watch", "--json"]);
    let watch_lines = gather(&mut watch);
    // Both on the stream: the first change reaches both.
    let mut store = Store::open(&f.env.ao_home).unwrap();
    let id: SessionId = f.sessions()[0]["id"].as_str().unwrap().parse().unwrap();
    let event = |message: String| Event {
        id: 0,
        at: now_ms(),
        project: "p0".into(),
        session: Some(id.clone()),
        priority: Priority::Info,
        kind: EventKind::Manual,
        message,
    };
    store.append_event(&event("bench-warm".into())).unwrap();
    seen(&follow_lines, "bench-warm");
    seen(&watch_lines, &format!("\"id\":\"{id}\""));

    let mut to_follow = Vec::new();
    for i in 0..changes {
        std::thread::sleep(pause(i));
        let marker = format!("bench-event-{i}");
        let at = Instant::now();
        store.append_event(&event(marker.clone())).unwrap();
        to_follow.push(seen(&follow_lines, &marker).duration_since(at));
    }
    let mut to_watch = Vec::new();
    for i in 0..changes {
        std::thread::sleep(pause(i));
        let marker = format!("bench-issue-{i}");
        let at = ao_tests::bench::commit_marker(&mut store, &id, &marker);
        to_watch.push(seen(&watch_lines, &marker).duration_since(at));
    }

    // The idle fleet: only the host's own record changes (every probe).
    let (stream0, all0) = (thread_cpu_ns(pid, "ao-stream"), thread_cpu_ns(pid, ""));
    let start = Instant::now();
    std::thread::sleep(window);
    let elapsed = start.elapsed().as_secs_f64();
    let (stream1, all1) = (thread_cpu_ns(pid, "ao-stream"), thread_cpu_ns(pid, ""));
    let share = |ns: u64| ns as f64 / 1e9 / elapsed * 100.0;

    for mut child in [follow, watch] {
        let _ = child.kill();
        let _ = child.wait();
    }
    f.ao(&["stop"]).success();
    let _ = host.wait();

    b.note(&format!(
        "{n} idle sessions, probe every 5 s, poll every 30 s; {changes} changes of each kind; a {} s window",
        window.as_secs()
    ));
    let millis = |d: &Vec<Duration>| {
        d.iter()
            .map(|d| ao_tests::bench::ms(*d))
            .collect::<Vec<_>>()
    };
    b.median(
        "from an event committed to `ao events --follow` printing it",
        millis(&to_follow),
        Unit::Ms,
        Target::AtMost(200.0),
    );
    b.figure(
        "the slowest of those",
        millis(&to_follow).into_iter().fold(0.0, f64::max),
        Unit::Ms,
        Target::None,
    );
    b.median(
        "from a session's change committed to `ao status --watch` printing it",
        millis(&to_watch),
        Unit::Ms,
        Target::AtMost(200.0),
    );
    b.figure(
        "the slowest of those",
        millis(&to_watch).into_iter().fold(0.0, f64::max),
        Unit::Ms,
        Target::None,
    );
    b.figure(
        "CPU of the host's stream threads, idle fleet, share of one core",
        share(stream1 - stream0),
        Unit::Percent,
        Target::Under(0.05),
    );
    b.figure(
        "CPU of the whole host, idle fleet, share of one core",
        share(all1 - all0),
        Unit::Percent,
        Target::None,
    );
    assert!(
        gh.invalid_queries().is_empty(),
        "{:?}",
        gh.invalid_queries()
    );
    b.finish()
}
