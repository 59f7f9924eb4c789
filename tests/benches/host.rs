//! The host's cost on an idle fleet (run: `cargo bench -p ao-tests --bench host`), each
//! figure with its target and a verdict; `cargo bench` fails when a target is missed.
//! Targets are meant for a quiet machine. 100 sessions with open pull requests across 5
//! repositories on the fake GitHub, nothing changing, the host at its default intervals
//! (probe 5 s, poll 30 s), measured over three windows of 60 s, each figure the median
//! of the three:
//!
//! - its CPU, as a share of one core over the window: under 1% (with the tmux and git
//!   processes it ran: information only);
//! - its resident memory, the most seen in the window (sampled every second): under
//!   60 MB;
//! - the tmux processes it started per probe cycle (counted by a `tmux` first on its
//!   PATH): at most 1;
//! - what the unchanged fleet cost on GitHub per poll: at most 2 GraphQL requests and
//!   2 points, and no REST request;
//! - then a check fails on a pull request just after a poll (the worst moment), three
//!   times, one PR after another: the time until its agent has the check's name and
//!   log, at most one poll interval plus 1 s.
//!
//! `cargo test` runs it as a quick pass: 1 session in each repository, one 6 s window
//! at 1 s intervals and one failing check, nothing judged.

use ao_tests::bench::{Bench, Target, Unit};
use ao_tests::github::FakeGitHub;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `utime + stime` and `cutime + cstime` of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // After the name: state is 0, utime 11, stime 12, cutime 13, cstime 14.
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    (at(11) + at(12), at(13) + at(14))
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What the host cost in one window of the idle fleet.
struct Window {
    cpu: f64,
    with_children: f64,
    rss_mb: f64,
    tmux_per_cycle: f64,
    graphql_per_poll: f64,
    rest: f64,
    points_per_poll: f64,
}

/// How one figure is read from a window.
type Of = fn(&Window) -> f64;

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let mut b = Bench::start("host");
    let quick = b.quick();
    let per_repo = if quick { 1 } else { 20 };
    let (probe, poll, window) = if quick {
        (1, 2, Duration::from_secs(6))
    } else {
        (5, 30, Duration::from_secs(60))
    };
    let gh = FakeGitHub::start();
    let f = ao_tests::five_repo_fleet(
        &gh,
        &format!("lifecycle:\n  probeInterval: {probe}s\n  pollInterval: {poll}s\n"),
        |root| {
            // An agent that logs each line it is given, to a file named after its session.
            let received = root.join("received");
            std::fs::create_dir_all(&received).unwrap();
            let agent = root.join("agent.sh");
            std::fs::write(
                &agent,
                "while IFS= read -r l; do printf '%s\\n' \"$l\" >> \"$1/$(basename \"$PWD\")\"; done\n",
            )
            .unwrap();
            format!(
                "    agent: command\n    agentConfig:\n      command: [bash, {}, {}]\n",
                agent.display(),
                received.display()
            )
        },
        per_repo,
    );
    let root = f.env.root();
    let received = root.join("received");
    let mut prs = Vec::new();
    for s in &f.sessions() {
        let p = s["project"].as_str().unwrap();
        let repo = format!("acme/r{}", &p[1..]);
        let wt = f
            .env
            .ao_home
            .join("worktrees")
            .join(p)
            .join(s["id"].as_str().unwrap());
        // Each its own head commit, so a check on one PR is on that PR only.
        std::fs::write(wt.join("work.txt"), s["id"].as_str().unwrap()).unwrap();
        f.env.git(&wt, &["add", "work.txt"]);
        f.env.git(&wt, &["commit", "-q", "-m", "work"]);
        f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
        let branch = s["branch"].as_str().unwrap();
        let pr = gh.open_pr(&repo, branch, "main", "Benchmark");
        gh.check(&repo, pr, "build", Some("SUCCESS"), true, "");
        prs.push((repo, pr, s["id"].as_str().unwrap().to_owned()));
    }
    let n = prs.len();
    // Warm: one poll finds and reads every PR.
    f.ao(&["status", "--refresh"]).success();

    // A `tmux` first on the host's PATH that counts its calls.
    let shim = root.join("shim");
    let calls = root.join("tmux-calls");
    ao_tests::wrap_program(&shim, "tmux", |real| {
        format!(
            "#!/bin/sh\necho \"$1 $2 $3\" >> '{}'\nexec {real} \"$@\"\n",
            calls.display()
        )
    });
    let mut host = f.env.command(ao_tests::ao_bin());
    host.args(["start", "--no-orchestrator"])
        .current_dir(&f.repo)
        .env(
            "PATH",
            format!(
                "{}:{}",
                shim.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut host = host.spawn().unwrap();
    let pid = host.id();
    // Its first pass (which reads every PR once more) is not the idle fleet.
    ao_tests::wait_until("the host's first pass", || {
        let out = f.ao(&["status"]).stdout;
        (out.contains("last poll ") && !out.contains("last poll not yet")).then_some(())
    });
    std::thread::sleep(Duration::from_secs(probe));
    let tmux_calls = || {
        std::fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc_sysconf(2) } as f64; // _SC_CLK_TCK
    let mut windows = Vec::new();
    for _ in 0..b.runs(3) {
        let calls_before = tmux_calls().len();
        let requests_before = gh.requests().len();
        let (own0, kids0) = cpu_ticks(pid);
        let start = Instant::now();
        let mut rss_max = 0;
        while start.elapsed() < window {
            rss_max = rss_max.max(rss_kib(pid));
            std::thread::sleep(Duration::from_secs(1));
        }
        let elapsed = start.elapsed().as_secs_f64();
        let (own1, kids1) = cpu_ticks(pid);
        let new_calls = tmux_calls()[calls_before..].to_vec();
        if windows.is_empty() {
            b.note(&format!(
                "its first tmux calls in the window: {:?}",
                new_calls.iter().take(3).collect::<Vec<_>>()
            ));
        }
        // A window holds as many cycles as fit, or one more when it starts just before
        // one: count the more, so a host at exactly one call per cycle never exceeds 1.
        let cycles = (elapsed / probe as f64).ceil();
        let polls = (elapsed / poll as f64).ceil();
        let new = gh.requests()[requests_before..].to_vec();
        let graphql = new.iter().filter(|r| r.operation.is_some()).count();
        let points: u64 = new.iter().map(|r| r.cost).sum();
        windows.push(Window {
            cpu: (own1 - own0) as f64 / hz / elapsed * 100.0,
            with_children: ((own1 - own0) + (kids1 - kids0)) as f64 / hz / elapsed * 100.0,
            rss_mb: rss_max as f64 / 1024.0,
            tmux_per_cycle: new_calls.len() as f64 / cycles,
            graphql_per_poll: graphql as f64 / polls,
            rest: (new.len() - graphql) as f64,
            points_per_poll: points as f64 / polls,
        });
    }
    b.note(&format!(
        "{n} idle sessions with open PRs, probe every {probe} s, poll every {poll} s, {} window(s) of {} s",
        windows.len(),
        window.as_secs()
    ));
    let figures: [(&str, Of, Unit, Target); 7] = [
        (
            "CPU, share of one core",
            |w| w.cpu,
            Unit::Percent,
            Target::Under(1.0),
        ),
        (
            "CPU with its tmux and git children",
            |w| w.with_children,
            Unit::Percent,
            Target::None,
        ),
        (
            "resident memory, the most seen",
            |w| w.rss_mb,
            Unit::Mb,
            Target::Under(60.0),
        ),
        (
            "tmux processes per probe cycle",
            |w| w.tmux_per_cycle,
            Unit::Count("process"),
            Target::AtMost(1.0),
        ),
        (
            "GitHub GraphQL requests per poll of the unchanged fleet",
            |w| w.graphql_per_poll,
            Unit::Count("request"),
            Target::AtMost(2.0),
        ),
        (
            "GitHub GraphQL cost per poll",
            |w| w.points_per_poll,
            Unit::Count("point"),
            Target::AtMost(2.0),
        ),
        (
            "GitHub REST requests in the window (nothing changed: nothing to read)",
            |w| w.rest,
            Unit::Count("request"),
            Target::AtMost(0.0),
        ),
    ];
    for (what, of, unit, target) in figures {
        b.median(what, windows.iter().map(of), unit, target);
    }

    // A check fails just after a poll, the worst moment for it: how long until its agent
    // has it. The first waits for a poll; each next one fails right after the reaction
    // to the one before, which comes just after a poll too.
    let polled = gh.requests().len();
    ao_tests::wait_for(
        "the host's next poll",
        Duration::from_secs(2 * poll + 15),
        || {
            (gh.requests()[polled..]
                .iter()
                .any(|r| r.operation.is_some()))
            .then_some(())
        },
    );
    // Let that poll finish reading the pull requests.
    std::thread::sleep(Duration::from_secs(1));
    let mut reached = Vec::new();
    for (repo, pr, id) in prs.iter().take(b.runs(3)).cloned() {
        let failed_at = Instant::now();
        gh.check(
            &repo,
            pr,
            "build",
            Some("FAILURE"),
            true,
            "error: the benchmark broke it\n",
        );
        let file = received.join(&id);
        let deadline = Instant::now() + Duration::from_secs(poll + 15);
        loop {
            if std::fs::read_to_string(&file).is_ok_and(|t| t.contains("the benchmark broke it")) {
                reached.push(failed_at.elapsed().as_secs_f64());
                break;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(f.env.ao_home.join("logs/host.log"))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                panic!(
                    "a failing check did not reach its agent within {} s; the host's log ends:\n{}",
                    poll + 15,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    f.ao(&["stop"]).success();
    let _ = host.wait();
    b.median(
        "from a check failing to its agent having its name and log",
        reached,
        Unit::S,
        Target::AtMost(poll as f64 + 1.0),
    );
    assert!(
        gh.invalid_queries().is_empty(),
        "{:?}",
        gh.invalid_queries()
    );
    b.finish()
}

unsafe extern "C" {
    #[link_name = "sysconf"]
    fn libc_sysconf(name: i32) -> i64;
}
