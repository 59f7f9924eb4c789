//! The host's cost on an idle fleet, printed as figures (run: `cargo bench -p ao-tests
//! --bench host`): 100 sessions with open pull requests across 5 repositories on the
//! fake GitHub, nothing changing, the host at its default intervals (probe 5 s, poll
//! 30 s) for 60 s:
//!
//! - its CPU, as a share of one core over the window (its own, and with the tmux and git
//!   processes it ran);
//! - its resident memory, the most seen (sampled every second);
//! - the tmux processes it started per probe cycle (counted by a `tmux` first on its
//!   PATH);
//! - what the fleet cost on GitHub over the window;
//! - then a check fails on one pull request: the time until its agent has the check's
//!   name and log (target: at most one poll interval plus 1 s).
//!
//! `cargo test` runs it as a quick check: 1 session in each repository, a 6 s window
//! at 1 s intervals.

use ao_tests::github::FakeGitHub;
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

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let quick = ao_tests::bench_quick();
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
    let calls_before = std::fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .count();
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
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc_sysconf(2) } as f64; // _SC_CLK_TCK
    let own = (own1 - own0) as f64 / hz / elapsed * 100.0;
    let with_kids = ((own1 - own0) + (kids1 - kids0)) as f64 / hz / elapsed * 100.0;
    let tmux_calls: Vec<String> = std::fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .skip(calls_before)
        .map(str::to_owned)
        .collect();
    let cycles = (elapsed / probe as f64).round().max(1.0);
    let new = gh.requests()[requests_before..].to_vec();
    let graphql = new.iter().filter(|r| r.operation.is_some()).count();
    let points: u64 = new.iter().map(|r| r.cost).sum();
    let polls = (elapsed / poll as f64).floor().max(1.0);

    println!(
        "host: {n} idle sessions with open PRs, probe every {probe} s, poll every {poll} s, {elapsed:.0} s window"
    );
    println!(
        "host: CPU {own:.2}% of one core (with its tmux and git children {with_kids:.2}%) (target: under 1%)"
    );
    println!(
        "host: resident memory at most {:.1} MB (target: under 60 MB)",
        rss_max as f64 / 1024.0
    );
    println!(
        "host: {} tmux processes in {cycles:.0} probe cycles: {:.1} per cycle (target: 1); calls: {:?}",
        tmux_calls.len(),
        tmux_calls.len() as f64 / cycles,
        tmux_calls.iter().take(3).collect::<Vec<_>>()
    );
    println!(
        "host: GitHub over the window: {} requests ({graphql} GraphQL), {points} points, in about {polls:.0} polls",
        new.len()
    );
    // A check fails: how long until its agent has it.
    let (repo, pr, id) = prs[0].clone();
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
    let reached = loop {
        if std::fs::read_to_string(&file).is_ok_and(|t| t.contains("the benchmark broke it")) {
            break Some(failed_at.elapsed());
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    f.ao(&["stop"]).success();
    let _ = host.wait();

    match reached {
        Some(t) => println!(
            "host: a failing check reached its agent after {:.2} s (target: at most {poll} s + 1 s)",
            t.as_secs_f64()
        ),
        None => {
            let log =
                std::fs::read_to_string(f.env.ao_home.join("logs/host.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "a failing check did not reach its agent within {} s; the host's log ends:\n{}",
                poll + 15,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        }
    }
    assert!(
        gh.invalid_queries().is_empty(),
        "{:?}",
        gh.invalid_queries()
    );
}

unsafe extern "C" {
    #[link_name = "sysconf"]
    fn libc_sysconf(name: i32) -> i64;
}
