//! Session benchmarks (run: `cargo bench -p ao-tests --bench sessions`), each figure with
//! its target and a verdict; `cargo bench` fails when a target is missed. Targets are
//! meant for a quiet machine.
//!
//! - `ao spawn` with the `command` agent running `cat`, against the floor: the same
//!   repository's `git fetch` from its local origin, `git worktree add` and
//!   `tmux new-session`, run by hand. Median of 20 each, taken in turn (floor, spawn,
//!   floor, ...) so a drift of the machine's speed weighs on both alike; ao may add at
//!   most 20 ms (it printed "spawn overhead over floor: X ms (target 20 ms): ok|over").
//! - `ao status` with 100 live sessions in the store and in tmux: median of 10, under
//!   30 ms; and the number of processes it starts with 10 sessions and with 100, which
//!   must not grow with the sessions.
//!
//! `cargo test` runs it as a quick pass: one run of each, with 2 and 4 sessions, nothing
//! judged.

use ao_tests::bench::{self, Bench, Target, Unit};
use ao_tests::{Fleet, Run};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";

fn timed(f: impl FnOnce() -> Run) -> Duration {
    let start = Instant::now();
    let run = f();
    let took = start.elapsed();
    run.success();
    took
}

/// What `ao spawn` may add to its floor, in milliseconds.
const SPAWN_OVERHEAD_TARGET: f64 = 20.0;

fn spawn_vs_floor(b: &mut Bench) {
    let runs = b.runs(20);
    let f = Fleet::new(CAT);
    let mut floor = Vec::new();
    let mut spawn = Vec::new();
    for i in 0..runs {
        let path = f.env.root().join(format!("floor-{i}"));
        let branch = format!("floor-{i}");
        let start = Instant::now();
        let mut git = f.env.command("git");
        // Without auto-maintenance, as ao fetches, so the floor is the true minimum.
        git.args(["-c", "maintenance.auto=false", "-c", "gc.auto=0"])
            .args(["fetch", "--quiet", "origin", "main"])
            .current_dir(&f.repo);
        Run::of(git, &f.repo).success();
        let mut git = f.env.command("git");
        git.args(["worktree", "add", "--quiet", "-b", &branch])
            .arg(&path)
            .arg("origin/main")
            .current_dir(&f.repo);
        Run::of(git, &f.repo).success();
        f.tmux(&[
            "new-session",
            "-d",
            "-s",
            &branch,
            "-c",
            path.to_str().unwrap(),
            "--",
            "cat",
        ])
        .success();
        floor.push(start.elapsed());
        f.tmux(&["kill-session", "-t", &branch]).success();

        spawn.push(timed(|| {
            f.ao(&["spawn", "app", "--prompt", "benchmark task"])
        }));
        f.ao(&["session", "kill", &format!("app-{}", i + 1)])
            .success();
    }
    let added = bench::ms(bench::median(&spawn)) - bench::ms(bench::median(&floor));
    b.median(
        "floor (git fetch + worktree add + tmux new-session by hand)",
        floor.into_iter().map(bench::ms),
        Unit::Ms,
        Target::None,
    );
    b.median(
        "ao spawn (command agent running cat)",
        spawn.into_iter().map(bench::ms),
        Unit::Ms,
        Target::None,
    );
    b.figure(
        "what ao spawn adds to its floor (the medians' difference)",
        added,
        Unit::Ms,
        Target::AtMost(SPAWN_OVERHEAD_TARGET),
    );
    b.note(&format!(
        "spawn overhead over floor: {added:.1} ms (target {SPAWN_OVERHEAD_TARGET:.0} ms): {}",
        if b.quick() {
            "not judged (quick pass)"
        } else if added <= SPAWN_OVERHEAD_TARGET {
            "ok"
        } else {
            "over"
        }
    ));
}

/// How many processes `ao status` starts, counted by a `tmux` and `git` on PATH that log
/// each call before running the real one.
fn processes_started(f: &Fleet) -> usize {
    let shim_dir = f.env.root().join("shim");
    let log = f.env.root().join("calls.log");
    std::fs::create_dir_all(&shim_dir).unwrap();
    for tool in ["tmux", "git"] {
        let real = which(tool);
        let script = format!(
            "#!/bin/sh\necho {tool} >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real
        );
        let path = shim_dir.join(tool);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let _ = std::fs::remove_file(&log);
    let mut cmd = f.env.command(ao_tests::ao_bin());
    let path = format!("{}:{}", shim_dir.display(), std::env::var("PATH").unwrap());
    cmd.arg("status").current_dir(&f.repo).env("PATH", path);
    Run::of(cmd, &f.repo).success();
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .count()
}

fn which(tool: &str) -> String {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|d| std::path::Path::new(d).join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} is not on PATH"))
        .display()
        .to_string()
}

fn status_with_100(b: &mut Bench) {
    let f = Fleet::new(CAT);
    let sizes = if b.quick() { [2, 4] } else { [10, 100] };
    let most = sizes[1];
    let mut counts = Vec::new();
    for target in sizes {
        let have = f.sessions().len();
        for _ in have..target {
            f.ao(&["spawn", "app", "--prompt", "t"]).success();
        }
        counts.push((target, processes_started(&f)));
    }
    assert_eq!(f.tmux_sessions().len(), most);
    let mut times = Vec::new();
    for _ in 0..b.runs(10) {
        times.push(timed(|| f.ao(&["status"])));
    }
    let out = f.ao(&["status"]);
    assert_eq!(
        out.stdout.matches(" working ").count(),
        most,
        "{}",
        out.stdout
    );
    b.median(
        &format!("ao status with {most} live sessions"),
        times.into_iter().map(bench::ms),
        Unit::Ms,
        Target::Under(30.0),
    );
    let [(few, at_few), (many, at_many)] = [counts[0], counts[1]];
    b.figure(
        &format!("processes ao status starts with {few} sessions"),
        at_few as f64,
        Unit::Count("process"),
        Target::None,
    );
    b.figure(
        &format!("processes ao status starts with {many} sessions (no more than with {few})"),
        at_many as f64,
        Unit::Count("process"),
        Target::AtMost(at_few as f64),
    );
}

fn main() -> ExitCode {
    // Asked to list its tests (an IDE's test discovery): it has none of libtest's.
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let mut b = Bench::start("sessions");
    spawn_vs_floor(&mut b);
    status_with_100(&mut b);
    b.finish()
}
