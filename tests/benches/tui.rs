//! What `ao tui` costs and how fast it shows a change (run: `cargo bench -p ao-tests
//! --bench tui`), each figure with its target and a verdict. 100 idle sessions (the
//! `command` agent running `cat`) across 5 repositories on the fake GitHub, the host at
//! its default intervals, `ao tui` in a 120×40 tmux pane:
//!
//! - from a session's row committed to the store (here by the benchmark itself, as any
//!   process would) to the row changed on the TUI's screen (read with capture-pane): at
//!   most 200 ms, the median of 20. The host's watcher looks every 100 ms, so this counts
//!   its wait too;
//! - its resident memory with the 100 sessions shown: under 15 MB;
//! - its CPU while nothing changes but the host's own record, over a 30 s window, as a
//!   share of one core: under 1%.
//!
//! `cargo test` runs it as a quick pass: 1 session in each repository, 3 changes, a 5 s
//! window, nothing judged.

use ao_core::model::SessionId;
use ao_core::store::Store;
use ao_tests::bench::{Bench, Target, Unit, cpu_ns, pause, rss_kb};
use ao_tests::github::FakeGitHub;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let mut b = Bench::start("tui");
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
    host.args(["start", "--no-orchestrator", "--no-dashboard"])
        .current_dir(&f.repo)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut host = host.spawn().unwrap();
    let socket = f.env.ao_home.join("host.sock");
    ao_tests::wait_until("the host's socket", || {
        std::os::unix::net::UnixStream::connect(&socket).ok()
    });

    let tmux_socket = f.env.root().join("tui-tmux.sock");
    let tmux = |args: &[&str]| {
        let mut cmd = f.env.command("tmux");
        cmd.arg("-S").arg(&tmux_socket).args(args);
        ao_tests::Run::of(cmd, &f.env.root())
    };
    let ao = ao_tests::ao_bin();
    let repo = f.repo.to_str().unwrap();
    let ao = ao.to_str().unwrap();
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "tui",
        "-x",
        "120",
        "-y",
        "40",
        "-c",
        repo,
        "--",
        ao,
        "tui",
    ])
    .success();
    let screen = || tmux(&["capture-pane", "-p", "-t", "tui"]).stdout;
    let shown = format!("{n} sessions");
    let first = ao_tests::wait_until("the fleet on the TUI", || {
        let s = screen();
        if !s.contains(&shown) || !s.contains("host: live") {
            return None;
        }
        // The selected row, the first of the list: always on screen.
        let line = s.lines().find(|l| l.starts_with("> "))?;
        line[2..].split_whitespace().next().map(str::to_owned)
    });
    let pid: u32 = {
        let pane = tmux(&["display-message", "-p", "-t", "tui", "#{pane_pid}"]);
        pane.stdout.trim().parse().unwrap()
    };

    let mut store = Store::open(&f.env.ao_home).unwrap();
    let id: SessionId = first.parse().unwrap();
    let mut to_screen = Vec::new();
    for i in 0..changes {
        std::thread::sleep(pause(i));
        let marker = format!("t{i}");
        let at = ao_tests::bench::commit_marker(&mut store, &id, &marker);
        let seen = ao_tests::wait_until("the change on screen", || {
            screen()
                .lines()
                .any(|l| l.starts_with("> ") && l.split_whitespace().nth(2) == Some(&marker))
                .then(Instant::now)
        });
        to_screen.push(seen.duration_since(at));
    }

    // Idle: only the host's own record changes (every probe), and the ages.
    let rss = rss_kb(pid);
    let cpu0 = cpu_ns(pid);
    let start = Instant::now();
    std::thread::sleep(window);
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (cpu_ns(pid) - cpu0) as f64 / 1e9 / elapsed * 100.0;

    b.note(&format!(
        "{n} idle sessions, probe every 5 s, poll every 30 s; {changes} changes; a {} s window; a 120x40 pane",
        window.as_secs()
    ));
    let millis: Vec<f64> = to_screen.iter().map(|d| ao_tests::bench::ms(*d)).collect();
    b.median(
        "from a session's change committed to the TUI's screen showing it",
        millis.clone(),
        Unit::Ms,
        Target::AtMost(200.0),
    );
    b.figure(
        "the slowest of those",
        millis.into_iter().fold(0.0, f64::max),
        Unit::Ms,
        Target::None,
    );
    b.figure(
        "resident memory of ao tui",
        rss as f64 / 1024.0,
        Unit::Mb,
        Target::Under(15.0),
    );
    b.figure(
        "CPU of ao tui, idle fleet, share of one core",
        cpu,
        Unit::Percent,
        Target::Under(1.0),
    );
    tmux(&["send-keys", "-t", "tui", "q"]).success();
    let _ = tmux(&["kill-server"]);
    // The figures are taken; a host slow to stop under load is not the TUI's to judge.
    let _ = f.ao(&["stop"]);
    let _ = host.kill();
    let _ = host.wait();
    b.finish()
}
