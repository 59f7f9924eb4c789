//! The host waits on nothing slow (run: `cargo bench -p ao-tests --bench stalls`), each
//! figure with its target and a verdict. Five sessions, one per repository, on the fake
//! GitHub, each agent a program that logs the lines it is given and exits (code 3) on
//! the line `exit`:
//!
//! - one session's message hangs for 45 s (a `tmux` first on the host's PATH holds its
//!   `load-buffer`); meanwhile a check fails on another session's pull request, three
//!   times, one after another: the time until that agent has the check's log, at most
//!   one poll interval plus 1 s;
//! - then GitHub stops answering at all (every request hangs): an agent exits, three
//!   times, one after another: the time until the host has recorded its session ended
//!   (read from the store, so nothing but the host probes), at most one probe interval
//!   plus 1 s.
//!
//! `cargo test` runs it as a quick pass (1 s probes, 2 s polls, a 10 s hang, one run of
//! each), nothing judged.

use ao_tests::bench::{Bench, Target, Unit};
use ao_tests::github::{FakeGitHub, Fault};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The agent: logs each line to a file named after its worktree; `exit` ends it.
const AGENT: &str = r#"while IFS= read -r l; do
  [ "$l" = exit ] && exit 3
  printf '%s\n' "$l" >> "$1/$(basename "$PWD")"
done
"#;

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let mut b = Bench::start("stalls");
    let quick = b.quick();
    let (probe, poll, hang) = if quick { (1, 2, 10) } else { (5, 10, 45) };
    let gh = FakeGitHub::start();
    let f = ao_tests::five_repo_fleet(
        &gh,
        &format!("lifecycle:\n  probeInterval: {probe}s\n  pollInterval: {poll}s\n"),
        |root| {
            let received = root.join("received");
            std::fs::create_dir_all(&received).unwrap();
            let agent = root.join("agent.sh");
            std::fs::write(&agent, AGENT).unwrap();
            format!(
                "    agent: command\n    agentConfig:\n      command: [bash, {}, {}]\n",
                agent.display(),
                received.display()
            )
        },
        1,
    );
    let root = f.env.root();
    let received = root.join("received");
    // (repo, PR, session id), p0-1 .. p4-1.
    let mut prs = Vec::new();
    for s in &f.sessions() {
        let p = s["project"].as_str().unwrap();
        let id = s["id"].as_str().unwrap().to_owned();
        let repo = format!("acme/r{}", &p[1..]);
        let wt = f.env.ao_home.join("worktrees").join(p).join(&id);
        std::fs::write(wt.join("work.txt"), &id).unwrap();
        f.env.git(&wt, &["add", "work.txt"]);
        f.env.git(&wt, &["commit", "-q", "-m", "work"]);
        f.env.git(&wt, &["push", "-q", "origin", "HEAD"]);
        let pr = gh.open_pr(&repo, s["branch"].as_str().unwrap(), "main", "Benchmark");
        gh.check(&repo, pr, "build", Some("SUCCESS"), true, "");
        prs.push((repo, pr, id));
    }
    prs.sort_by(|a, b| a.2.cmp(&b.2));
    f.ao(&["status", "--refresh"]).success();

    // The hung session's tmux session, by its name's end.
    let hung = prs[0].2.clone();
    let hung_tmux = f
        .tmux_sessions()
        .into_iter()
        .find(|n| n.ends_with(&hung))
        .expect("the first session's tmux session");
    let shim = root.join("shim");
    let started = root.join("hung-send-started");
    ao_tests::wrap_program(&shim, "tmux", |real| {
        format!(
            "#!/bin/sh\ncase \"$*\" in *load-buffer*{hung_tmux}*) : > '{}'; sleep {hang};; esac\nexec {real} \"$@\"\n",
            started.display()
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
    ao_tests::wait_until("the host's first poll", || {
        let out = f.ao(&["status"]).stdout;
        (out.contains("last poll ") && !out.contains("last poll not yet")).then_some(())
    });

    // One session's message hangs.
    let (repo, pr, _) = &prs[0];
    gh.check(repo, *pr, "build", Some("FAILURE"), true, "error: hung\n");
    ao_tests::wait_for(
        "the hung session's message to start",
        Duration::from_secs(poll + 15),
        || started.exists().then_some(()),
    );
    let hung_at = Instant::now();
    let mut reached = Vec::new();
    for (repo, pr, id) in prs[1..].iter().take(b.runs(3)) {
        let failed_at = Instant::now();
        gh.check(
            repo,
            *pr,
            "build",
            Some("FAILURE"),
            true,
            "error: the benchmark broke it\n",
        );
        let file = received.join(id);
        ao_tests::wait_for(
            &format!("{id}'s agent to have its failing check"),
            Duration::from_secs(poll + 15),
            || {
                std::fs::read_to_string(&file)
                    .is_ok_and(|t| t.contains("the benchmark broke it"))
                    .then_some(())
            },
        );
        reached.push(failed_at.elapsed().as_secs_f64());
    }
    let within_hang = hung_at.elapsed().as_secs() < hang;
    b.note(&format!(
        "another session's message hung {hang} s; the failing checks reached their agents while it hung: {within_hang}"
    ));
    b.median(
        "from a check failing to its agent having its log, while another session's message hangs",
        reached,
        Unit::S,
        Target::AtMost(poll as f64 + 1.0),
    );

    // GitHub stops answering; agents exit.
    gh.fail_next(1_000_000, Fault::Hang(Duration::from_secs(3600)));
    // A poll in flight, hanging.
    std::thread::sleep(Duration::from_secs(poll + 1));
    let store = ao_core::store::Store::open(&f.env.ao_home).unwrap();
    let mut noticed = Vec::new();
    for (_, _, id) in prs[1..].iter().take(b.runs(3)) {
        let name = f
            .tmux_sessions()
            .into_iter()
            .find(|n| n.ends_with(id.as_str()))
            .expect("the session's tmux session");
        let sid: ao_core::model::SessionId = id.parse().unwrap();
        let exited_at = Instant::now();
        f.tmux(&["send-keys", "-t", &format!("={name}:"), "exit", "Enter"]);
        ao_tests::wait_for(
            &format!("the host to record {id} ended"),
            Duration::from_secs(probe + 15),
            || {
                store
                    .session(&sid)
                    .unwrap()
                    .filter(|s| s.status.is_terminal())
                    .map(|_| ())
            },
        );
        noticed.push(exited_at.elapsed().as_secs_f64());
    }
    b.median(
        "from an agent exiting to the host recording it, GitHub not answering",
        noticed,
        Unit::S,
        Target::AtMost(probe as f64 + 1.0),
    );
    f.ao(&["stop"]).success();
    let _ = host.wait();
    b.finish()
}
