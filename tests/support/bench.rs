//! How every benchmark reports: each figure with its unit, its target and a verdict (`ok`
//! or `MISSED`), judged on the median of several runs; then a last line naming what was
//! missed, and a failing exit when anything was.
//!
//! Targets are meant for a quiet machine: under load (other builds, other tests) a
//! figure may miss for the load's sake, so the report says the load it ran under. The
//! quick pass (`cargo test`, CI) measures each figure once and judges nothing, so it
//! checks that each benchmark still runs and never fails for the machine's load.

use std::process::ExitCode;
use std::time::Duration;

/// The unit a figure is in, which also says how it is printed.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Seconds.
    S,
    /// Percent of one core.
    Percent,
    /// Megabytes (MiB).
    Mb,
    /// Kilobytes (KiB).
    Kb,
    /// A count of things, named in the singular (`"request"`, `"process"`).
    Count(&'static str),
}

impl Unit {
    /// The suffix after the number, and the decimals a measured value is shown with.
    fn parts(self, v: f64) -> (String, usize) {
        match self {
            Unit::Ms => (" ms".into(), 1),
            Unit::Us => (" µs".into(), 1),
            Unit::S => (" s".into(), 2),
            Unit::Percent => ("%".into(), 2),
            Unit::Mb => (" MB".into(), 1),
            Unit::Kb => (" KB".into(), 1),
            Unit::Count(one) if v == 1.0 => (format!(" {one}"), 2),
            Unit::Count(one) => match one.strip_suffix('y') {
                Some(stem) => (format!(" {stem}ies"), 2),
                None if one.ends_with('s') => (format!(" {one}es"), 2),
                None => (format!(" {one}s"), 2),
            },
        }
    }

    fn show(self, v: f64) -> String {
        let (suffix, decimals) = self.parts(v);
        // Whole values (counts, round targets) without decimals.
        let decimals = if v.fract() == 0.0 { 0 } else { decimals };
        format!("{v:.decimals$}{suffix}")
    }
}

/// What a figure must be: a bound and the direction it is compared in, or nothing.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Strictly below the value.
    Under(f64),
    /// The value or below.
    AtMost(f64),
    /// Information only: no target.
    None,
}

impl Target {
    fn met(self, v: f64) -> bool {
        match self {
            Target::Under(t) => v < t,
            Target::AtMost(t) => v <= t,
            Target::None => true,
        }
    }

    fn show(self, unit: Unit) -> Option<String> {
        match self {
            Target::Under(t) => Some(format!("under {}", unit.show(t))),
            Target::AtMost(t) => Some(format!("at most {}", unit.show(t))),
            Target::None => None,
        }
    }
}

/// Nanoseconds of CPU used by every thread of `pid`, from their `schedstat` (Linux).
pub fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

/// The resident memory of `pid`, in kB (Linux).
pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Commits `marker` as session `id`'s issue (a change every watcher of the fleet shows)
/// and returns the moment just before the commit, from which to time its arrival.
pub fn commit_marker(
    store: &mut ao_core::store::Store,
    id: &ao_core::model::SessionId,
    marker: &str,
) -> std::time::Instant {
    let at = std::time::Instant::now();
    store
        .modify_session(id, None, |s| {
            s.issue = Some(marker.to_owned());
            Vec::new()
        })
        .unwrap();
    at
}

/// A pause of 100 to 300 ms, different each time (`i` counts them), so that changes fall
/// at every moment of a watcher's turn.
pub fn pause(i: usize) -> Duration {
    let jitter = (ao_core::model::now_ms() as u64 ^ (i as u64).wrapping_mul(0x9e37_79b9)) % 200;
    Duration::from_millis(100 + jitter)
}

/// Milliseconds in `d`.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Microseconds in `d`.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The median of `v` (of an even count, the upper of the two middle values).
pub fn median<T: Copy + PartialOrd>(v: &[T]) -> T {
    assert!(!v.is_empty(), "the median of no runs");
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

/// The one-minute load average and the number of cores, for the report.
fn load() -> String {
    let avg = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("load average {avg} on {cores} cores")
}

/// One benchmark's report: prints figures as they come and the verdict at the end.
pub struct Bench {
    name: &'static str,
    quick: bool,
    judged: usize,
    missed: Vec<String>,
}

impl Bench {
    /// Starts the report of benchmark `name`, saying how it will be judged.
    pub fn start(name: &'static str) -> Bench {
        let quick = crate::bench_quick();
        if quick {
            println!("{name}: quick pass: each figure measured once, nothing judged");
        } else {
            println!(
                "{name}: targets are meant for a quiet machine; starting at {}",
                load()
            );
        }
        Bench {
            name,
            quick,
            judged: 0,
            missed: Vec::new(),
        }
    }

    /// Whether this is the quick pass (`cargo test`), not `cargo bench`.
    pub fn quick(&self) -> bool {
        self.quick
    }

    /// How many runs to measure: `n` for `cargo bench`, one in the quick pass.
    pub fn runs(&self, n: usize) -> usize {
        if self.quick { 1 } else { n }
    }

    /// Prints a line of context (no figure, no verdict).
    pub fn note(&self, text: &str) {
        println!("{}: {text}", self.name);
    }

    /// Reports the median of `runs` as figure `what`, judged against `target`.
    pub fn median(
        &mut self,
        what: &str,
        runs: impl IntoIterator<Item = f64>,
        unit: Unit,
        target: Target,
    ) {
        let runs: Vec<f64> = runs.into_iter().collect();
        let label = if runs.len() == 1 {
            format!("{what}, 1 run")
        } else {
            format!("{what}, median of {}", runs.len())
        };
        self.figure(&label, median(&runs), unit, target);
    }

    /// Reports `value` as figure `what`, judged against `target`.
    pub fn figure(&mut self, what: &str, value: f64, unit: Unit, target: Target) {
        let shown = unit.show(value);
        let Some(bound) = target.show(unit) else {
            println!("{}: {what}: {shown} (no target)", self.name);
            return;
        };
        if self.quick {
            println!(
                "{}: {what}: {shown} (target: {bound}; quick pass: not judged)",
                self.name
            );
            return;
        }
        self.judged += 1;
        let verdict = if target.met(value) {
            "ok"
        } else {
            self.missed
                .push(format!("{what} ({shown}, target {bound})"));
            "MISSED"
        };
        println!("{}: {what}: {shown} (target: {bound}) {verdict}", self.name);
    }

    /// Ends the report: its last line names every missed target, and the exit fails
    /// when there is one (never in the quick pass, which judges nothing).
    pub fn finish(self) -> ExitCode {
        let name = self.name;
        if self.quick {
            println!("{name}: quick pass done (figures not judged)");
            return ExitCode::SUCCESS;
        }
        let at = load();
        if self.judged == 0 {
            println!("{name}: no figure has a target (information only), ending at {at}");
            ExitCode::SUCCESS
        } else if self.missed.is_empty() {
            println!(
                "{name}: all {} targets met, ending at {at} (targets are meant for a quiet machine)",
                self.judged
            );
            ExitCode::SUCCESS
        } else {
            println!(
                "{name}: MISSED {} of {} targets, ending at {at} (targets are meant for a quiet machine): {}",
                self.missed.len(),
                self.judged,
                self.missed.join("; ")
            );
            ExitCode::FAILURE
        }
    }
}
