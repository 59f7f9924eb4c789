//! The PR poll's cost on GitHub (run: `cargo bench -p ao-tests --bench github`), each
//! figure with its target and a verdict; `cargo bench` fails when a target is missed.
//! Targets are meant for a quiet machine. 100 sessions with open PRs across 5
//! repositories on the fake GitHub, with a warm store (one poll done):
//!
//! - `ao status --refresh` when nothing changed: at most 2 GraphQL requests, no REST
//!   request (nothing changed, so there is nothing to read), and at most 2 points of
//!   GraphQL cost as the fake computes it by GitHub's formula; median of 5 polls;
//! - the same when every PR changed (a check added to each): at most 2 light and 2 full
//!   GraphQL queries; median of 5 polls;
//! - the first poll's requests and points, and each poll's wall time, as information;
//! - `ao status` without `--refresh`: under 30 ms, median of 10.
//!
//! `cargo test` runs it as a quick pass: 2 sessions in each of the 5 repositories, each
//! figure measured once, nothing judged.

use ao_tests::bench::{self, Bench, Target, Unit};
use ao_tests::github::FakeGitHub;
use ao_tests::{Fleet, Run};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What one `ao status --refresh` asked of GitHub, and how long it took.
struct Poll {
    graphql: usize,
    rest: usize,
    points: u64,
    operations: Vec<String>,
    took: Duration,
}

impl Poll {
    fn count(&self, operation: &str) -> usize {
        self.operations.iter().filter(|o| *o == operation).count()
    }
}

fn refresh(f: &Fleet, gh: &FakeGitHub) -> Poll {
    let before = gh.requests().len();
    let start = Instant::now();
    f.ao(&["status", "--refresh"]).success();
    let took = start.elapsed();
    let new = gh.requests()[before..].to_vec();
    let graphql = new.iter().filter(|r| r.operation.is_some()).count();
    Poll {
        graphql,
        rest: new.len() - graphql,
        points: new.iter().map(|r| r.cost).sum(),
        operations: new.iter().filter_map(|r| r.operation.clone()).collect(),
        took,
    }
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let mut b = Bench::start("github");
    let per_repo = if b.quick() { 2 } else { 20 };
    let gh = FakeGitHub::start();
    let f = ao_tests::five_repo_fleet(
        &gh,
        "",
        |_| "    agent: command\n    agentConfig:\n      command: [cat]\n".to_owned(),
        per_repo,
    );
    let sessions = f.sessions();
    let mut prs = Vec::new();
    for s in &sessions {
        let repo = format!("acme/r{}", &s["project"].as_str().unwrap()[1..]);
        let branch = s["branch"].as_str().unwrap();
        prs.push((repo.clone(), gh.open_pr(&repo, branch, "main", "Benchmark")));
    }
    b.note(&format!(
        "{} sessions with open PRs in 5 repositories",
        sessions.len()
    ));
    // Warm: the first poll finds every PR and reads it.
    let first = refresh(&f, &gh);
    let polls = b.runs(5);
    let unchanged: Vec<Poll> = (0..polls).map(|_| refresh(&f, &gh)).collect();
    let mut changed = Vec::new();
    for i in 0..polls {
        // Every PR changes: a check of a new name on each.
        for (repo, pr) in &prs {
            gh.check(repo, *pr, &format!("build-{i}"), Some("SUCCESS"), true, "");
        }
        changed.push(refresh(&f, &gh));
    }
    let mut plain = Vec::new();
    for _ in 0..b.runs(10) {
        let start = Instant::now();
        let mut cmd = f.env.command(ao_tests::ao_bin());
        cmd.arg("status").current_dir(&f.repo);
        Run::of(cmd, &f.repo).success();
        plain.push(start.elapsed());
    }
    assert!(
        gh.invalid_queries().is_empty(),
        "{:?}",
        gh.invalid_queries()
    );

    b.figure(
        "first poll (finds and reads every PR): GraphQL requests",
        first.graphql as f64,
        Unit::Count("request"),
        Target::None,
    );
    b.figure(
        "first poll: REST requests",
        first.rest as f64,
        Unit::Count("request"),
        Target::None,
    );
    b.figure(
        "first poll: GraphQL cost",
        first.points as f64,
        Unit::Count("point"),
        Target::None,
    );
    b.figure(
        "first poll: wall time",
        bench::ms(first.took),
        Unit::Ms,
        Target::None,
    );
    b.note(&format!(
        "nothing changed: the queries of one poll: {}",
        unchanged[0].operations.join(", ")
    ));
    b.median(
        "nothing changed: GraphQL requests",
        unchanged.iter().map(|p| p.graphql as f64),
        Unit::Count("request"),
        Target::AtMost(2.0),
    );
    b.median(
        "nothing changed: REST requests",
        unchanged.iter().map(|p| p.rest as f64),
        Unit::Count("request"),
        Target::AtMost(0.0),
    );
    b.median(
        "nothing changed: GraphQL cost",
        unchanged.iter().map(|p| p.points as f64),
        Unit::Count("point"),
        Target::AtMost(2.0),
    );
    b.median(
        "nothing changed: wall time",
        unchanged.iter().map(|p| bench::ms(p.took)),
        Unit::Ms,
        Target::None,
    );
    b.median(
        "every PR changed: light GraphQL queries",
        changed.iter().map(|p| p.count("LightPoll") as f64),
        Unit::Count("query"),
        Target::AtMost(2.0),
    );
    b.median(
        "every PR changed: full GraphQL queries",
        changed.iter().map(|p| p.count("FullPoll") as f64),
        Unit::Count("query"),
        Target::AtMost(2.0),
    );
    b.median(
        "every PR changed: REST requests",
        changed.iter().map(|p| p.rest as f64),
        Unit::Count("request"),
        Target::None,
    );
    b.median(
        "every PR changed: GraphQL cost",
        changed.iter().map(|p| p.points as f64),
        Unit::Count("point"),
        Target::None,
    );
    b.median(
        "every PR changed: wall time",
        changed.iter().map(|p| bench::ms(p.took)),
        Unit::Ms,
        Target::None,
    );
    b.median(
        "ao status without --refresh",
        plain.into_iter().map(bench::ms),
        Unit::Ms,
        Target::Under(30.0),
    );
    b.finish()
}
