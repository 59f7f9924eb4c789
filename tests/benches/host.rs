//! The host's cost on an idle fleet (run: `cargo bench -p ao-tests --bench host`), each
//! figure with its target and a verdict; `cargo bench` fails when a target is missed.
//! Targets are meant for a quiet machine. Sessions of the `command` agent running `cat`,
//! each with an open pull request across 5 repositories on the fake GitHub, nothing
//! changing, the host at its default intervals (probe 5 s, poll 30 s), measured once every
//! agent is idle (quiet for `readyThresholdMs`, set to a minute so the fleet settles
//! sooner) over three windows of 60 s, each figure the median of the three:
//!
//! - its CPU, as a share of one core over the window (with the tmux processes it ran:
//!   information only);
//! - its resident memory, the most seen in the window (sampled every second);
//! - the tmux processes it started per probe (counted by a `tmux` first on its PATH): at
//!   most 1;
//! - what the unchanged fleet cost on GitHub per poll (a poll: the requests of one burst):
//!   at most 1 GraphQL request and 2 points per 100 pull requests (read in one aliased
//!   batch across the repositories), and no REST request;
//!
//! then, the host still running, `ao status` (median of 10): under 50 ms; and a check
//! fails on a pull request just after a poll (the worst moment), three times, one PR after
//! another: the time until its agent's screen shows the check's log, at most one poll
//! interval plus 1 s.
//!
//! The fleet has 100 sessions, where the host must stay under 0.2% of a core and 20 MB.
//! `AO_BENCH_SESSIONS=1000 cargo bench -p ao-tests --bench host` measures 1,000 instead
//! (opt-in: about 15 minutes on two cores, 3 of them spawning; any multiple of 5 is
//! taken), against the targets for 1,000: under 1% of a core and 40 MB (a fleet of more
//! than 100 is held to those). There the failing check's way is shown, not judged: the
//! fake GitHub runs git for every pull request it reads, and takes most of a poll
//! interval to answer one poll of 1,000 (the figure of a poll's span says how long).
//!
//! `AO_BENCH_HOLD=DIR` holds the fleet once it is set up, before the host starts: the
//! bench writes the fleet's environment to `DIR/env.sh` (source it to run `ao` or a
//! profiler such as heaptrack against the same fleet while the fake GitHub answers) and
//! measures once `DIR/go` exists.
//!
//! `cargo test` runs it as a quick pass: 1 session in each repository, one 6 s window
//! at 1 s intervals and one failing check, nothing judged; it ignores `AO_BENCH_SESSIONS`.

use ao_tests::Fleet;
use ao_tests::bench::{self, Bench, Target, Unit};
use ao_tests::github::{FakeGitHub, Logged};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Sets the fleet's size.
const SIZE_ENV: &str = "AO_BENCH_SESSIONS";

/// Spawns and pushes at once while the fleet is set up.
const SETUP_AT_ONCE: usize = 6;

/// The fleet's size: `AO_BENCH_SESSIONS`, or 100.
fn fleet_size() -> Result<usize, String> {
    let Ok(text) = std::env::var(SIZE_ENV) else {
        return Ok(100);
    };
    text.trim()
        .parse()
        .ok()
        .filter(|n: &usize| *n > 0 && n.is_multiple_of(5))
        .ok_or_else(|| {
            format!(
                "{SIZE_ENV}={text:?} is not a number of sessions for the five repositories; give a positive multiple of 5, like 1000"
            )
        })
}

/// What the host may cost with `sessions` sessions: the figures for 100, or for 1,000
/// above 100.
struct Targets {
    cpu: f64,
    rss_mb: f64,
    /// Pull requests in hundreds, rounded up: GraphQL requests allowed per poll.
    hundreds: f64,
}

impl Targets {
    fn of(sessions: usize) -> Targets {
        let (cpu, rss_mb) = if sessions <= 100 {
            (0.2, 20.0)
        } else {
            (1.0, 40.0)
        };
        Targets {
            cpu,
            rss_mb,
            hundreds: sessions.div_ceil(100) as f64,
        }
    }
}

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

/// Runs `job(i)` for every `i` below `n`, `SETUP_AT_ONCE` at a time.
fn side_by_side(n: usize, job: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..SETUP_AT_ONCE {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    job(i);
                }
            });
        }
    });
}

/// When the host last finished a poll, as it recorded it in the store (ms since the
/// epoch).
fn last_poll(db: &rusqlite::Connection) -> Option<i64> {
    let state: String = db
        .query_row("SELECT value FROM scm_state WHERE key = 'host'", [], |r| {
            r.get(0)
        })
        .ok()?;
    serde_json::from_str::<serde_json::Value>(&state).ok()?["last_poll"].as_i64()
}

/// The wall clock at `at` (ms since the epoch), from `epoch`: an instant and the wall
/// clock then.
fn wall_ms(at: Instant, epoch: (Instant, i64)) -> i64 {
    match at.checked_duration_since(epoch.0) {
        Some(d) => epoch.1 + d.as_millis() as i64,
        None => epoch.1 - (epoch.0 - at).as_millis() as i64,
    }
}

/// What one poll of the host asked of GitHub: the GraphQL requests after the poll before
/// it finished, up to its own end (the host polls one poll at a time).
struct Poll {
    requests: usize,
    points: u64,
    /// From its first request to its last, in seconds.
    span: f64,
}

impl Poll {
    fn between(log: &[Logged], after: i64, until: i64, epoch: (Instant, i64)) -> Poll {
        let mine: Vec<&Logged> = log
            .iter()
            .filter(|r| r.operation.is_some())
            .filter(|r| (after + 1..=until).contains(&wall_ms(r.at, epoch)))
            .collect();
        let span = match (mine.first(), mine.last()) {
            (Some(a), Some(z)) => (z.at - a.at).as_secs_f64(),
            _ => 0.0,
        };
        Poll {
            requests: mine.len(),
            points: mine.iter().map(|r| r.cost).sum(),
            span,
        }
    }
}

/// What the host cost in one window of the idle fleet.
struct Window {
    cpu: f64,
    with_children: f64,
    rss_mb: f64,
    tmux_per_probe: f64,
    rest: f64,
    graphql_per_poll: f64,
    points_per_poll: f64,
}

/// The host, stopped however the benchmark ends (`ao stop` first when it ends well).
struct Host(std::process::Child);

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How one figure is read from a window.
type Of = fn(&Window) -> f64;

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let mut b = Bench::start("host");
    let quick = b.quick();
    let sessions = if quick {
        5
    } else {
        match fleet_size() {
            Ok(n) => n,
            Err(why) => {
                eprintln!("host: {why}");
                return ExitCode::FAILURE;
            }
        }
    };
    if !quick && std::env::var_os(SIZE_ENV).is_none() {
        b.note(&format!(
            "100 sessions; the fleet of 1,000 is opt-in: {SIZE_ENV}=1000 cargo bench -p ao-tests --bench host"
        ));
    }
    let targets = Targets::of(sessions);
    let (probe, poll, window) = if quick {
        (1, 2, Duration::from_secs(6))
    } else {
        (5, 30, Duration::from_secs(60))
    };
    let gh = FakeGitHub::start();
    // Built first: the setup's time is the spawns'.
    ao_tests::ao_bin();
    let setup = Instant::now();
    let f = ao_tests::five_repo_fleet(
        &gh,
        // A quiet agent is idle after a minute instead of five, so the fleet settles
        // sooner after its spawns.
        &format!(
            "readyThresholdMs: 60000\nlifecycle:\n  probeInterval: {probe}s\n  pollInterval: {poll}s\n"
        ),
        |_| "    agent: command\n    agentConfig:\n      command: [cat]\n".to_owned(),
        0,
    );
    let prs = open_prs(&f, &gh, sessions);
    b.note(&format!(
        "{sessions} sessions spawned, each with its own commit and pull request, in {:.0} s",
        setup.elapsed().as_secs_f64()
    ));
    // Warm: one poll finds and reads every PR.
    f.ao(&["status", "--refresh"]).success();
    hold(&f);

    // A `tmux` first on the host's PATH that counts its calls.
    let root = f.env.root();
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
        .env("PATH", ao_tests::path_with(&shim))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut host = Host(host.spawn().unwrap());
    let pid = host.0.id();
    // Its first pass (which reads every PR once more) is not the idle fleet.
    ao_tests::wait_for(
        "the host's first pass",
        Duration::from_secs(20 + sessions as u64 / 5),
        || {
            let out = f.ao(&["status"]).stdout;
            (out.contains("last poll ") && !out.contains("last poll not yet")).then_some(())
        },
    );
    // An idle fleet: every agent quiet long enough to be idle, so no session's row
    // changes any more (until then, each probe writes the sessions that just went
    // from ready to idle).
    if !quick {
        let settled = Instant::now();
        ao_tests::wait_for("every session idle", Duration::from_secs(600), || {
            let out = f.ao(&["status", "--json"]).stdout;
            let list: Vec<serde_json::Value> = serde_json::from_str(&out).ok()?;
            (list.len() == sessions && list.iter().all(|s| s["activity"] == "idle")).then_some(())
        });
        b.note(&format!(
            "every session idle {:.0} s after the host's first pass",
            settled.elapsed().as_secs_f64()
        ));
    }
    std::thread::sleep(Duration::from_secs(probe));
    let tmux_calls = || {
        std::fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let db = rusqlite::Connection::open_with_flags(
        f.env.ao_home.join("ao.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let epoch = (Instant::now(), ao_core::model::now_ms());
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut windows = Vec::new();
    let mut spans = Vec::new();
    for _ in 0..b.runs(3) {
        let calls_before = tmux_calls().len();
        let (own0, kids0) = cpu_ticks(pid);
        let start = Instant::now();
        let mut rss_max = 0;
        let mut polled = last_poll(&db);
        let mut polls = Vec::new();
        while start.elapsed() < window {
            rss_max = rss_max.max(rss_kib(pid));
            std::thread::sleep(Duration::from_secs(1));
            // The polls that ended in the window, each whole.
            let now = last_poll(&db);
            if let (Some(after), Some(until)) = (polled, now)
                && until != after
            {
                polls.push(Poll::between(&gh.requests(), after, until, epoch));
            }
            polled = now;
        }
        let end = Instant::now();
        let elapsed = (end - start).as_secs_f64();
        let (own1, kids1) = cpu_ticks(pid);
        let new_calls = tmux_calls()[calls_before..].to_vec();
        if windows.is_empty() {
            b.note(&format!(
                "its first tmux calls in the window: {:?}",
                new_calls.iter().take(3).collect::<Vec<_>>()
            ));
        }
        // A window holds as many probes as fit, or one more when it starts just before
        // one: count the more, so a host at exactly one call per probe never exceeds 1.
        let probes = (elapsed / probe as f64).ceil();
        let rest = gh
            .requests()
            .iter()
            .filter(|r| r.operation.is_none() && r.at >= start && r.at < end)
            .count();
        if polls.is_empty() {
            b.note("no poll ended in the window");
        }
        let per_poll =
            |of: fn(&Poll) -> f64| polls.iter().map(of).sum::<f64>() / polls.len() as f64;
        spans.extend(polls.iter().map(|p| p.span));
        windows.push(Window {
            cpu: (own1 - own0) as f64 / hz / elapsed * 100.0,
            with_children: ((own1 - own0) + (kids1 - kids0)) as f64 / hz / elapsed * 100.0,
            rss_mb: rss_max as f64 / 1024.0,
            tmux_per_probe: new_calls.len() as f64 / probes,
            rest: rest as f64,
            graphql_per_poll: per_poll(|p| p.requests as f64),
            points_per_poll: per_poll(|p| p.points as f64),
        });
    }
    b.note(&format!(
        "{sessions} idle sessions with open PRs, probe every {probe} s, poll every {poll} s, {} window(s) of {} s; {} GitHub GraphQL points of 5000 left",
        windows.len(),
        window.as_secs(),
        gh.graphql_remaining()
    ));
    let figures: [(&str, Of, Unit, Target); 7] = [
        (
            "CPU, share of one core",
            |w| w.cpu,
            Unit::Percent,
            Target::Under(targets.cpu),
        ),
        (
            "CPU with the tmux processes it started",
            |w| w.with_children,
            Unit::Percent,
            Target::None,
        ),
        (
            "resident memory, the most seen",
            |w| w.rss_mb,
            Unit::Mb,
            Target::Under(targets.rss_mb),
        ),
        (
            "tmux processes per probe",
            |w| w.tmux_per_probe,
            Unit::Count("process"),
            Target::AtMost(1.0),
        ),
        (
            "GitHub GraphQL requests per poll of the unchanged fleet",
            |w| w.graphql_per_poll,
            Unit::Count("request"),
            Target::AtMost(targets.hundreds),
        ),
        (
            "GitHub GraphQL cost per poll",
            |w| w.points_per_poll,
            Unit::Count("point"),
            Target::AtMost(2.0 * targets.hundreds),
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
    if !spans.is_empty() {
        b.median(
            "a poll of the unchanged fleet, from its first request to its last (the fake GitHub's time included)",
            spans,
            Unit::S,
            Target::None,
        );
    }

    // `ao status` beside the running host.
    let mut status = Vec::new();
    for _ in 0..b.runs(10) {
        let start = Instant::now();
        let run = f.ao(&["status"]);
        status.push(bench::ms(start.elapsed()));
        run.success();
    }
    b.median(
        &format!("ao status of {sessions} sessions with the host running"),
        status,
        Unit::Ms,
        Target::Under(50.0),
    );

    // A check fails just after a poll ended, the worst moment for it: how long until its
    // agent has it. The first waits for a poll; each next one fails right after the
    // reaction to the one before, which comes just after a poll too.
    let polled = last_poll(&db);
    ao_tests::wait_for(
        "the host's next poll",
        Duration::from_secs(2 * poll + 15),
        || (last_poll(&db) != polled).then_some(()),
    );
    // Above 100 sessions a poll takes the fake GitHub most of an interval to answer.
    let within = Duration::from_secs(if sessions > 100 {
        4 * poll
    } else {
        2 * poll + 15
    });
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
        let screen = || {
            f.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", &id])
                .stdout
        };
        while !screen().contains("the benchmark broke it") && failed_at.elapsed() < within {
            std::thread::sleep(Duration::from_millis(250));
        }
        reached.push(failed_at.elapsed().as_secs_f64());
        if failed_at.elapsed() >= within {
            let log =
                std::fs::read_to_string(f.env.ao_home.join("logs/host.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            let asked = gh
                .requests()
                .iter()
                .filter(|r| r.at >= failed_at)
                .filter_map(|r| r.operation.clone())
                .collect::<Vec<_>>();
            b.note(&format!(
                "a failing check did not reach {id} within {} s; GitHub was asked {asked:?} since, {} points are left; its screen:\n{}\nthe host's log ends:\n{}",
                within.as_secs(),
                gh.graphql_remaining(),
                screen().trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
            break;
        }
    }
    f.ao(&["stop"]).success();
    let _ = host.0.wait();
    // Judged at 100 sessions: above, the fake GitHub's own time to answer a poll (git run
    // for every pull request it reads) is most of what it measures.
    b.median(
        "from a check failing to its agent's screen showing its log",
        reached,
        Unit::S,
        if sessions > 100 {
            Target::None
        } else {
            Target::AtMost(poll as f64 + 1.0)
        },
    );
    assert!(
        gh.invalid_queries().is_empty(),
        "{:?}",
        gh.invalid_queries()
    );
    b.finish()
}

/// Spawns `sessions` sessions over the five projects (several at once), gives each its
/// own commit, pushed, and an open pull request whose check passed; returns (repo, PR,
/// session id) of each.
fn open_prs(f: &Fleet, gh: &FakeGitHub, sessions: usize) -> Vec<(String, u64, String)> {
    let spawned = std::sync::Mutex::new(Vec::new());
    side_by_side(sessions, |i| {
        let run = f.ao(&[
            "spawn",
            &format!("p{}", i % 5),
            "--prompt",
            "benchmark task",
        ]);
        run.success();
        spawned.lock().unwrap().push(run.stdout.trim().to_owned());
    });
    let list = f.sessions();
    let lost: Vec<String> = spawned
        .into_inner()
        .unwrap()
        .into_iter()
        .filter(|id| !list.iter().any(|s| s["id"] == id.as_str()))
        .collect();
    assert!(lost.is_empty(), "spawned, then lost: {lost:?}");
    let prs = std::sync::Mutex::new(Vec::new());
    side_by_side(list.len(), |i| {
        let s = &list[i];
        let (p, id) = (s["project"].as_str().unwrap(), s["id"].as_str().unwrap());
        let repo = format!("acme/r{}", &p[1..]);
        let wt = f.env.ao_home.join("worktrees").join(p).join(id);
        // Each its own head commit, so a check on one PR is on that PR only.
        f.env.git(&wt, &["commit", "-q", "--allow-empty", "-m", id]);
        f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
        let pr = gh.open_pr(&repo, s["branch"].as_str().unwrap(), "main", "Benchmark");
        gh.check(&repo, pr, "build", Some("SUCCESS"), true, "");
        prs.lock().unwrap().push((repo, pr, id.to_owned()));
    });
    let mut prs = prs.into_inner().unwrap();
    prs.sort_by_key(|(repo, pr, _)| (repo.clone(), *pr));
    prs
}

/// With `AO_BENCH_HOLD=DIR`, writes `DIR/env.sh` (the fleet's environment, to source in a
/// shell and run ao or a profiler against the fleet while the fake GitHub still answers)
/// and waits until `DIR/go` exists before measuring.
fn hold(f: &Fleet) {
    let Some(dir) = std::env::var_os("AO_BENCH_HOLD").map(std::path::PathBuf::from) else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = f.env.command("true");
    let mut script = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            script.push_str(&format!(
                "export {}='{}'\n",
                k.to_string_lossy(),
                v.to_string_lossy()
            ));
        }
    }
    script.push_str(&format!("cd '{}'\n", f.repo.display()));
    std::fs::write(dir.join("env.sh"), script).unwrap();
    eprintln!(
        "host: holding the fleet; source {} and create {} to go on",
        dir.join("env.sh").display(),
        dir.join("go").display()
    );
    while !dir.join("go").exists() {
        std::thread::sleep(Duration::from_secs(1));
    }
}
