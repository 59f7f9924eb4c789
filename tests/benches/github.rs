//! The PR poll's cost on GitHub, printed as figures (run: `cargo bench -p ao-tests
//! --bench github`): 100 sessions with open PRs across 5 repositories on the fake GitHub,
//! with a warm store (one poll done):
//!
//! - `ao status --refresh` when nothing changed: GraphQL requests, REST requests, and
//!   the GraphQL cost in points as the fake computes it by GitHub's formula;
//! - the same when every PR changed (a check added to each);
//! - the wall time of each, and `ao status` without `--refresh` (median of 10).
//!
//! `cargo test` runs it as a quick check: 2 sessions in each of the 5 repositories.

use ao_tests::github::FakeGitHub;
use ao_tests::{Fleet, Run};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// What one `ao status --refresh` asked of GitHub, and how long it took.
fn refresh(f: &Fleet, gh: &FakeGitHub) -> (usize, usize, u64, Vec<String>, Duration) {
    let before = gh.requests().len();
    let start = Instant::now();
    f.ao(&["status", "--refresh"]).success();
    let took = start.elapsed();
    let new = gh.requests()[before..].to_vec();
    let graphql = new.iter().filter(|r| r.operation.is_some()).count();
    let rest = new.len() - graphql;
    let cost = new.iter().map(|r| r.cost).sum();
    let ops = new.iter().filter_map(|r| r.operation.clone()).collect();
    (graphql, rest, cost, ops, took)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let per_repo = if ao_tests::bench_quick() { 2 } else { 20 };
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
    let n = sessions.len();
    // Warm: the first poll finds every PR and reads it.
    let (g0, r0, c0, _, t0) = refresh(&f, &gh);
    // Nothing changed.
    let (g1, r1, c1, ops1, t1) = refresh(&f, &gh);
    // Every PR changed.
    for (repo, pr) in &prs {
        gh.check(repo, *pr, "build", Some("SUCCESS"), true, "");
    }
    let (g2, r2, c2, ops2, t2) = refresh(&f, &gh);
    let light = ops2.iter().filter(|o| *o == "LightPoll").count();
    let full = ops2.iter().filter(|o| *o == "FullPoll").count();
    let mut plain = Vec::new();
    for _ in 0..10 {
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
    println!("github: {n} sessions with open PRs in 5 repositories");
    println!(
        "github: first poll (finds and reads every PR): {g0} GraphQL + {r0} REST requests, {c0} points, {}",
        ms(t0)
    );
    println!(
        "github: nothing changed: {g1} GraphQL ({}) + {r1} REST requests, {c1} points, {} (target: at most 2 GraphQL, 1 conditional REST per repository, 2 points)",
        ops1.join(", "),
        ms(t1)
    );
    println!(
        "github: every PR changed: {light} light + {full} full GraphQL queries, {r2} REST requests, {c2} points, {} (target: at most 2 light + 2 full)",
        ms(t2)
    );
    let _ = g2;
    println!(
        "github: ao status without --refresh: median {} of 10 (target: under 30 ms)",
        ms(median(plain))
    );
}
