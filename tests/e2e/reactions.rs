//! The host's loop around a pull request, end to end: real tmux, a real git remote, the
//! fake GitHub, a real D-Bus session bus with a recording notification server, and an
//! agent (a scripted program) that really commits and pushes.

use ao_tests::dbus::DesktopBus;
use ao_tests::github::{FakeGitHub, FakeThread, Fault, TOKEN};
use ao_tests::{Fleet, wait_until};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The agent: logs every line it is given to `received`; on its first (the task) it
/// commits and pushes its branch; on a CI failure it commits a fix and pushes again.
const AGENT: &str = r#"#!/bin/bash
received="$1"
first=1
commit() { git -c user.name=agent -c user.email=agent@ao.invalid commit -q -am "$1" || git -c user.name=agent -c user.email=agent@ao.invalid commit -q -m "$1"; }
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$received"
  if [ "$first" = 1 ]; then
    first=0
    echo "login works" > login.txt
    git add login.txt
    commit "Fix the login"
    git push -q origin HEAD 2>> "$received.err"
  fi
  case "$line" in
    *"CI fails on your pull request"*)
      echo "and builds" >> login.txt
      commit "Fix the build"
      git push -q origin HEAD 2>> "$received.err"
      ;;
  esac
done
"#;

struct Loop {
    f: Fleet,
    gh: FakeGitHub,
    bus: DesktopBus,
    received: PathBuf,
    remote: PathBuf,
}

impl Loop {
    fn new(reactions: &str) -> Loop {
        let gh = FakeGitHub::start();
        gh.repo("acme/app");
        let bus = DesktopBus::start();
        let mut f = Fleet::new("");
        let agent = f.env.root().join("agent.sh");
        std::fs::write(&agent, AGENT).unwrap();
        let received = f.env.root().join("received.log");
        let config = format!(
            "runtimes:\n  tmux:\n    socket: {}\nlifecycle:\n  probeInterval: 200ms\n  pollInterval: 1s\nprojects:\n  app:\n    path: {}\n    repo: acme/app\n    tracker:\n      plugin: github\n    agent: command\n    agentConfig:\n      command: [bash, {}, {}]\nreactions:\n{reactions}",
            f.socket.display(),
            f.repo.display(),
            agent.display(),
            received.display(),
        );
        std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
        f.env.set("GH_TOKEN", TOKEN);
        f.env.set("GITHUB_API_URL", &gh.url);
        f.env.set("DBUS_SESSION_BUS_ADDRESS", &bus.address);
        let remote = f.env.root().join("repo-origin.git");
        gh.remote("acme/app", &remote);
        Loop {
            f,
            gh,
            bus,
            received,
            remote,
        }
    }

    fn received(&self) -> String {
        std::fs::read_to_string(&self.received).unwrap_or_default()
    }

    /// Waits until the agent has received `text`.
    fn wait_received(&self, text: &str) {
        wait_until(&format!("the agent to receive {text:?}"), || {
            self.received().contains(text).then_some(())
        });
    }

    /// The commit `branch` points at in the remote, once it is there.
    fn remote_head(&self, branch: &str) -> Option<String> {
        ao_tests::branch_head(&self.remote, branch)
    }

    /// Spawns the session; once its agent pushed, opens its pull request as `gh pr
    /// create` would. Returns the branch and the PR's number.
    fn spawn_with_pr(&self) -> (String, u64) {
        self.f
            .ao(&["spawn", "app", "--prompt", "Fix the login"])
            .success();
        let branch = self.f.sessions()[0]["branch"].as_str().unwrap().to_owned();
        wait_until("the agent to push its branch", || self.remote_head(&branch));
        let pr = self
            .gh
            .open_pr("acme/app", &branch, "main", "Fix the login");
        (branch, pr)
    }

    fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        let run = self.f.ao(&["events", "--kind", kind, "--json"]);
        run.success();
        serde_json::from_str(&run.stdout).unwrap()
    }

    /// The reaction `key` ran exactly once, and still once after three more passes of the
    /// host, each of which would have said it again had it been going to.
    fn assert_said_once_over_passes(&self, key: &str) {
        let mut seen = std::collections::HashSet::new();
        seen.insert(last_probe(&self.f));
        wait_until("three more passes of the host", || {
            seen.insert(last_probe(&self.f));
            (seen.len() > 3).then_some(())
        });
        let ran: Vec<_> = self
            .events("reaction_ran")
            .into_iter()
            .filter(|e| e["reaction"] == key)
            .collect();
        let at: Vec<_> = ran.iter().map(|e| e["at"].clone()).collect();
        assert_eq!(ran.len(), 1, "`{key}` said {} times, at {at:?}", ran.len());
    }
}

/// When the host last probed (each probe is followed by a pass of the reactions), from
/// its record in the store.
fn last_probe(f: &Fleet) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        f.env.ao_home.join("ao.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let state: String = conn
        .query_row("SELECT value FROM scm_state WHERE key = 'host'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    state["last_probe"].as_i64().unwrap_or(0)
}

fn thread(path: &str, line: u32, body: &str) -> FakeThread {
    FakeThread {
        path: path.into(),
        line: Some(line),
        body: body.into(),
        author: "rev".into(),
        ..FakeThread::default()
    }
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn the_host_carries_a_pull_request_from_a_failing_check_to_its_merge() {
    let l = Loop::new("  approved-and-green:\n    auto: true\n    action: auto-merge\n");
    let host = l.f.ao_child(&["start", "--no-orchestrator"]);
    let (branch, pr) = l.spawn_with_pr();
    wait_until("the host to find the pull request", || {
        l.f.ao(&["status", "--json"])
            .stdout
            .contains(&format!("\"number\": {pr}"))
            .then_some(())
    });

    // A check fails: the agent gets its name, its address and its log's tail.
    let first_head = l.remote_head(&branch).unwrap();
    let failed_at = Instant::now();
    l.gh.check(
        "acme/app",
        pr,
        "build",
        Some("FAILURE"),
        true,
        "compiling login\nerror[E0308]: mismatched types in login.rs:3\n",
    );
    l.wait_received("error[E0308]: mismatched types in login.rs:3");
    eprintln!(
        "a failing check reached the agent {} ms after it failed (poll interval 1000 ms)",
        failed_at.elapsed().as_millis()
    );
    let text = l.received();
    assert!(text.contains("CI fails on your pull request."), "{text}");
    assert!(text.contains("- build ("), "{text}");

    // The agent pushes a fix; the check passes on the new head.
    let fixed = wait_until("the agent to push a fix", || {
        l.remote_head(&branch).filter(|h| *h != first_head)
    });
    l.gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");

    // A reviewer asks for changes with two threads: the agent gets both, once.
    let t1 =
        l.gh.thread("acme/app", pr, thread("login.rs", 3, "Name this variable"));
    l.gh.thread(
        "acme/app",
        pr,
        thread("login.rs", 9, "Handle the empty password"),
    );
    l.gh.edit_pr("acme/app", pr, |p| {
        p.review = Some("CHANGES_REQUESTED".into())
    });
    l.wait_received("login.rs:9 rev: Handle the empty password");
    l.wait_received("login.rs:3 rev: Name this variable");

    // One resolved, one new: only the new one goes.
    l.gh.edit_pr("acme/app", pr, |p| {
        p.threads.iter_mut().find(|t| t.id == t1).unwrap().resolved = true
    });
    l.gh.thread("acme/app", pr, thread("auth.rs", 1, "Add a test"));
    l.wait_received("auth.rs:1 rev: Add a test");
    let text = l.received();
    assert_eq!(count(&text, "Name this variable"), 1, "{text}");
    assert_eq!(count(&text, "Handle the empty password"), 1, "{text}");
    assert_eq!(count(&text, "error[E0308]"), 1, "{text}");

    // Approved: auto-merge merges the head it checked, and says so on the desktop.
    l.gh.edit_pr("acme/app", pr, |p| {
        p.review = Some("APPROVED".into());
        for t in &mut p.threads {
            t.resolved = true;
        }
    });
    let merged = wait_until("the host to merge", || {
        l.events("pr_merged").into_iter().next()
    });
    assert_eq!(merged["sha"], fixed.as_str(), "{merged}");
    let mut state = String::new();
    l.gh.edit_pr("acme/app", pr, |p| state = p.state.clone());
    assert_eq!(state, "MERGED");
    // Squashed: main is one commit further, holding the agent's work.
    let main = l.remote_head("main").unwrap();
    let log = l.f.env.git(&l.remote, &["log", "--format=%s", "-1", &main]);
    assert_eq!(log.trim(), format!("Fix the login (#{pr})"));
    wait_until("the merge on the desktop", || {
        l.bus
            .shown()
            .into_iter()
            .find(|n| n.summary.contains(&format!("pull request #{pr} merged")))
    });

    // Cleaned up after the merge, once its agent went quiet (its screen still for 10 s):
    // its session archived, which cleanup does last, after removing its worktree.
    let s = wait_until("the merged session to be archived", || {
        l.f.sessions()
            .into_iter()
            .find(|s| !s["archived_at"].is_null())
    });
    assert_eq!(s["status"], "merged");
    assert!(!l.f.worktree("app-1").exists());
    assert!(l.f.tmux_sessions().is_empty(), "{:?}", l.f.tmux_sessions());
    // The project is complete: said once, in the events, and not again in the passes
    // after it.
    wait_until("all-complete", || {
        let e = l.events("reaction_ran");
        e.iter()
            .any(|e| e["reaction"] == "all-complete")
            .then_some(())
    });
    l.assert_said_once_over_passes("all-complete");
    l.f.stop_host(host);
}

#[test]
fn a_host_killed_on_the_way_to_an_escalation_carries_its_count_and_repeats_nothing() {
    let l = Loop::new("  changes-requested:\n    retries: 2\n");
    let mut host = l.f.ao_child(&["start", "--no-orchestrator"]);
    let (_branch, pr) = l.spawn_with_pr();
    wait_until("the host to find the pull request", || {
        l.f.ao(&["status", "--json"])
            .stdout
            .contains(&format!("\"number\": {pr}"))
            .then_some(())
    });
    l.gh.thread("acme/app", pr, thread("a.rs", 1, "First thread"));
    l.gh.edit_pr("acme/app", pr, |p| {
        p.review = Some("CHANGES_REQUESTED".into())
    });
    l.wait_received("a.rs:1 rev: First thread");
    // SIGKILL: no clean stop.
    host.kill().unwrap();
    host.wait().unwrap();
    let mut host = l.f.ao_child(&["start", "--no-orchestrator"]);
    // The new host has run passes over the same PR: nothing sent again.
    let probes = |f: &Fleet| f.ao(&["status"]).stdout.contains("host: running");
    wait_until("the new host", || probes(&l.f).then_some(()));
    // The first thread's run is on record, written by whichever host finished it (the
    // killed one may have delivered it and died before writing).
    wait_until("the first run on record", || {
        l.events("reaction_ran")
            .iter()
            .any(|e| e["reaction"] == "changes-requested")
            .then_some(())
    });
    let before = l.events("reaction_ran").len();
    l.gh.thread("acme/app", pr, thread("b.rs", 2, "Second thread"));
    l.wait_received("b.rs:2 rev: Second thread");
    assert_eq!(count(&l.received(), "First thread"), 1, "{}", l.received());
    let ran: Vec<_> = l
        .events("reaction_ran")
        .into_iter()
        .filter(|e| e["reaction"] == "changes-requested")
        .collect();
    assert_eq!(
        ran.iter()
            .map(|e| e["attempt"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2],
        "the count carried over the kill: {ran:?}"
    );
    assert_eq!(l.events("reaction_ran").len(), before + 1);
    // A third thread is past the two retries: the human gets the escalation, the agent
    // nothing more.
    l.gh.thread("acme/app", pr, thread("c.rs", 3, "Third thread"));
    let shown = wait_until("the escalation on the desktop", || {
        l.bus
            .shown()
            .into_iter()
            .find(|n| n.summary.contains("(escalated)"))
    });
    assert_eq!(shown.summary, "app-1: changes were requested (escalated)");
    assert!(shown.body.contains("ran 2 times"), "{}", shown.body);
    let escalated = l.events("escalated");
    assert_eq!(escalated.len(), 1, "{escalated:?}");
    assert!(!l.received().contains("Third thread"));
    host.kill().unwrap();
    host.wait().unwrap();
    // Started again, it does not escalate twice.
    host = l.f.ao_child(&["start", "--no-orchestrator"]);
    wait_until("the new host", || probes(&l.f).then_some(()));
    l.f.ao(&["status", "--refresh"]).success();
    assert_eq!(l.events("escalated").len(), 1);
    l.f.stop_host(host);
}

#[test]
fn a_branch_that_conflicts_with_main_gets_its_conflicting_files() {
    let l = Loop::new("");
    let host = l.f.ao_child(&["start", "--no-orchestrator"]);
    let (_branch, pr) = l.spawn_with_pr();
    // main moves on with another login.txt.
    let other = l.f.env.root().join("other");
    l.f.env.git(
        l.f.env.root().as_path(),
        &[
            "clone",
            "-q",
            &l.remote.display().to_string(),
            &other.display().to_string(),
        ],
    );
    std::fs::write(other.join("login.txt"), "login is different on main\n").unwrap();
    l.f.env.git(&other, &["add", "login.txt"]);
    l.f.env
        .git(&other, &["commit", "-q", "-m", "Change login on main"]);
    l.f.env.git(&other, &["push", "-q", "origin", "HEAD:main"]);
    l.gh.edit_pr("acme/app", pr, |_| {});
    l.wait_received("Conflicting with origin/main:");
    l.wait_received("- login.txt");
    assert!(
        l.received()
            .contains("Your branch conflicts with the default branch."),
        "{}",
        l.received()
    );
    l.f.stop_host(host);
}

#[test]
fn an_urgent_notification_no_notifier_took_is_tried_again_then_given_up() {
    use ao_tests::receiver::{Receiver, Reply};
    let r = Receiver::start();
    let down = || Reply::Status(503, Vec::new(), "down".into());
    // The first exit: refused once, then taken. The second: refused every time.
    r.reply([down(), Reply::Status(200, Vec::new(), String::new())]);
    let f = Fleet::new(
        "    agent: command\n    agentConfig:\n      command: [sh, -c, 'read task; sleep 1; exit 3']\n",
    );
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{config}lifecycle:\n  probeInterval: 200ms\n  notifyRetryDelay: 300ms\nnotifiers:\n  hook:\n    plugin: webhook\n    url: {}/hook\n    retries: 0\nnotificationRouting:\n  urgent: [hook]\n",
            r.url
        ),
    )
    .unwrap();
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    f.ao(&["spawn", "app", "--prompt", "exit soon"]).success();
    wait_until("the exit notified on the second delivery", || {
        (r.received().len() == 2).then_some(())
    });
    let body = r.received()[1].json();
    assert_eq!(body["title"], "app-1: its agent exited", "{body}");
    let outcomes = |f: &Fleet| -> Vec<String> {
        let run = f.ao(&["events", "--kind", "notified", "--json"]);
        let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
        list.iter()
            .map(|e| e["outcome"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(outcomes(&f), ["failed", "delivered"]);
    r.reply((0..4).map(|_| down()));
    f.ao(&["spawn", "app", "--prompt", "exit soon"]).success();
    let gave_up = wait_until("ao to give up on the second", || {
        let run = f.ao(&["events", "--kind", "notify_gave_up", "--json"]);
        let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
        list.into_iter().next()
    });
    assert_eq!(gave_up["attempts"], 4, "{gave_up}");
    assert!(
        gave_up["message"]
            .as_str()
            .unwrap()
            .contains("gave up on \"app-2: its agent exited\" after 4 deliveries"),
        "{gave_up}"
    );
    assert_eq!(
        r.received().len(),
        6,
        "two for the first, four for the second"
    );
    f.stop_host(host);
}

#[test]
fn two_hosts_started_at_once_leave_one_running_and_a_left_lock_is_taken_over() {
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    // A lock left behind that names a live process which is not a host (this test).
    let lock = f.env.ao_home.join("host.lock");
    std::fs::create_dir_all(&f.env.ao_home).unwrap();
    std::fs::write(&lock, std::process::id().to_string()).unwrap();
    assert!(!f.ao(&["status"]).stdout.contains("host: running"));
    f.ao(&["stop"]).success().stdout_has("no host runs for");
    let mut children = vec![
        f.ao_child(&["start", "--no-orchestrator"]),
        f.ao_child(&["start", "--no-orchestrator"]),
    ];
    let refused = wait_until("one of the two hosts to refuse", || {
        children
            .iter_mut()
            .position(|c| matches!(c.try_wait(), Ok(Some(_))))
    });
    let out = children.remove(refused).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a host already runs for"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let winner = children.pop().unwrap();
    let pid = winner.id();
    wait_until("the winner in ao status", || {
        f.ao(&["status"])
            .stdout
            .contains(&format!("host: running (pid {pid})"))
            .then_some(())
    });
    f.stop_host(winner);
}

/// Two hosts racing: one has taken the lock and not yet written its pid (the file is
/// empty, as it is for that moment in every start). Here the test holds the lock the way
/// that host would, so the race is not left to chance: a second `ao start` must refuse,
/// trusting the lock and not the file's text.
#[test]
fn a_host_that_holds_the_lock_before_writing_its_pid_keeps_a_second_one_out() {
    use std::os::fd::AsRawFd;
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    std::fs::create_dir_all(&f.env.ao_home).unwrap();
    let lock = std::fs::File::create(f.env.ao_home.join("host.lock")).unwrap();
    // SAFETY: flock on a descriptor this test owns for the whole test.
    let held = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(held, 0, "the test could not take the lock");
    let mut second = f.ao_child(&["start", "--no-orchestrator"]);
    let ended = ao_tests::wait_for(
        "the second host to end",
        std::time::Duration::from_secs(20),
        || {
            let ended = second.try_wait().unwrap();
            if ended.is_none() && f.ao(&["status"]).stdout.contains("host: running") {
                // It runs beside the lock's holder: stop it before failing.
                let _ = second.kill();
                panic!("a second host started beside one holding the lock");
            }
            ended
        },
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(second.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(ended.code(), Some(1), "{stderr}");
    assert!(stderr.contains("a host already runs for"), "{stderr}");
    drop(lock);
}

#[test]
fn a_fleet_merged_and_cleaned_up_in_one_pass_is_still_complete() {
    let l = Loop::new(
        "  approved-and-green:\n    auto: true\n    action: auto-merge\n    mergeMethod: merge\n",
    );
    let file = l.f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file)
        .unwrap()
        .replace("lifecycle:\n", "lifecycle:\n  mergeCleanupIdleGraceMs: 0\n");
    std::fs::write(&file, config).unwrap();
    let (_branch, pr) = l.spawn_with_pr();
    l.gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    l.gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    let host = l.f.ao_child(&["start", "--no-orchestrator"]);
    wait_until("all-complete", || {
        l.events("reaction_ran")
            .iter()
            .any(|e| e["reaction"] == "all-complete")
            .then_some(())
    });
    l.assert_said_once_over_passes("all-complete");
    // Merged with a merge commit, as `mergeMethod: merge` asks.
    let main = l.remote_head("main").unwrap();
    let subject = l.f.env.git(&l.remote, &["log", "--format=%s", "-1", &main]);
    assert!(subject.starts_with("Merge pull request #"), "{subject}");
    assert!(!l.f.worktree("app-1").exists());
    l.f.stop_host(host);
}

/// Starts a host for `l` that dies (SIGKILL) at outbox step `step`, waits for it to die
/// there, and starts a clean one.
fn host_killed_at(l: &mut Loop, step: &str, trigger: impl FnOnce(&Loop)) -> std::process::Child {
    l.f.env.set("AO_FAILPOINT", step);
    let mut host = l.f.ao_child(&["start", "--no-orchestrator"]);
    l.f.env.set("AO_FAILPOINT", "");
    trigger(l);
    let status = wait_until(&format!("the host to die at {step}"), || {
        host.try_wait().unwrap()
    });
    assert!(
        !status.success(),
        "the host was to die at {step}: {status:?}"
    );
    l.f.ao_child(&["start", "--no-orchestrator"])
}

/// Waits until the session's pull request is known to ao.
fn wait_pr_known(l: &Loop, pr: u64) {
    wait_until("the host to find the pull request", || {
        l.f.ao(&["status", "--json"])
            .stdout
            .contains(&format!("\"number\": {pr}"))
            .then_some(())
    });
}

#[test]
fn a_host_killed_at_any_step_of_a_merge_merges_once_and_says_so_once() {
    for step in ["outbox-due", "outbox-merge", "outbox-settle"] {
        let mut l = Loop::new("  approved-and-green:\n    auto: true\n    action: auto-merge\n");
        let first = l.f.ao_child(&["start", "--no-orchestrator"]);
        let (_branch, pr) = l.spawn_with_pr();
        wait_pr_known(&l, pr);
        l.f.stop_host(first);
        let host = host_killed_at(&mut l, step, |l| {
            l.gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
            l.gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
        });
        wait_until(&format!("[{step}] the merge notice on the desktop"), || {
            l.bus
                .shown()
                .into_iter()
                .find(|n| n.summary.contains(&format!("pull request #{pr} merged")))
        });
        // Three more passes of the new host: nothing more happens.
        l.assert_said_once_over_passes("approved-and-green");
        let merges =
            l.gh.requests()
                .into_iter()
                .filter(|r| r.method == "PUT" && r.path.ends_with("/merge"))
                .count();
        assert_eq!(merges, 1, "[{step}] merge requests sent");
        let shown: Vec<_> = l
            .bus
            .shown()
            .into_iter()
            .filter(|n| n.summary.contains("merged"))
            .collect();
        assert_eq!(shown.len(), 1, "[{step}] merge notices: {shown:?}");
        assert_eq!(l.events("pr_merged").len(), 1, "[{step}]");
        l.f.stop_host(host);
    }
}

#[test]
fn a_host_killed_at_any_step_of_a_message_gets_it_to_the_agent_once() {
    for step in ["outbox-due", "outbox-send", "outbox-settle"] {
        let mut l = Loop::new("");
        let first = l.f.ao_child(&["start", "--no-orchestrator"]);
        let (_branch, pr) = l.spawn_with_pr();
        wait_pr_known(&l, pr);
        l.f.stop_host(first);
        let host = host_killed_at(&mut l, step, |l| {
            l.gh.check(
                "acme/app",
                pr,
                "build",
                Some("FAILURE"),
                true,
                "error[E0308]: mismatched types in login.rs:3\n",
            );
        });
        l.wait_received("error[E0308]: mismatched types in login.rs:3");
        l.assert_said_once_over_passes("ci-failed");
        let text = l.received();
        assert_eq!(
            count(&text, "CI fails on your pull request"),
            1,
            "[{step}] {text}"
        );
        l.f.stop_host(host);
    }
}

#[test]
fn a_host_killed_at_any_step_of_a_notification_delivers_it_once() {
    for step in ["outbox-due", "outbox-notify", "outbox-settle"] {
        let mut l = Loop::new("  approved-and-green:\n    action: notify\n");
        let first = l.f.ao_child(&["start", "--no-orchestrator"]);
        let (_branch, pr) = l.spawn_with_pr();
        wait_pr_known(&l, pr);
        l.f.stop_host(first);
        let host = host_killed_at(&mut l, step, |l| {
            l.gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
            l.gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
        });
        wait_until(&format!("[{step}] the notice on the desktop"), || {
            l.bus
                .shown()
                .into_iter()
                .find(|n| n.summary.contains("approved and green"))
        });
        l.assert_said_once_over_passes("approved-and-green");
        let shown: Vec<_> = l
            .bus
            .shown()
            .into_iter()
            .filter(|n| n.summary.contains("approved and green"))
            .collect();
        assert_eq!(shown.len(), 1, "[{step}] notices: {shown:?}");
        l.f.stop_host(host);
    }
}

/// The events' messages, oldest first.
fn event_messages(f: &Fleet) -> Vec<String> {
    let run = f.ao(&["events", "--json"]);
    run.success();
    serde_json::from_str::<Vec<serde_json::Value>>(&run.stdout)
        .unwrap()
        .into_iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_host_applies_a_valid_config_edit_refuses_an_invalid_one_and_keeps_a_removed_projects_sessions()
 {
    let f = Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let other = f.env.repo_with_origin("other", "main");
    let file = f.repo.join("agent-orchestrator.yaml");
    let base = std::fs::read_to_string(&file).unwrap();
    let with_other = format!(
        "{base}  other:\n    path: {}\n    tracker:\n      plugin: prompt\n    agent: command\n    agentConfig:\n      command: [cat]\n",
        other.display()
    );
    std::fs::write(
        &file,
        format!("{with_other}lifecycle:\n  probeInterval: 200ms\n"),
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "keep going"]).success();
    let host = f.ao_child(&["start", "--no-orchestrator"]);
    wait_until("the host", || {
        f.ao(&["status"])
            .stdout
            .contains("host: running")
            .then_some(())
    });

    // A valid edit: applied, and said.
    std::fs::write(
        &file,
        format!("{with_other}lifecycle:\n  probeInterval: 300ms\nreactions:\n  agent-stuck:\n    threshold: 10m\n"),
    )
    .unwrap();
    // A reload lets the acts in flight finish (up to 10 s) and starts the host's loops
    // and stream again: on a loaded machine, more than the usual 20 s.
    let said = ao_tests::wait_for("the edit applied", Duration::from_secs(60), || {
        event_messages(&f)
            .into_iter()
            .find(|m| m.starts_with("config reloaded from"))
    });
    assert!(said.contains("`lifecycle` changed"), "{said}");
    assert!(said.contains("`reactions` changed"), "{said}");
    assert!(!said.contains("project"), "{said}");

    // An invalid one: refused with its place, the running config kept.
    std::fs::write(
        &file,
        format!("{with_other}lifecycle:\n  probeInterval: 300ms\nreactions:\n  agent-stuck:\n    retries: lots\n"),
    )
    .unwrap();
    let refused = wait_until("the edit refused", || {
        event_messages(&f)
            .into_iter()
            .find(|m| m.starts_with("the edited config was not applied"))
    });
    let lines = with_other.lines().count() + 5;
    assert!(
        refused.contains(&format!("agent-orchestrator.yaml:{lines}:")),
        "line {lines}: {refused}"
    );
    // Still running, on the config it had (`ao status` itself cannot load the file).
    let mut host = host;
    assert!(host.try_wait().unwrap().is_none(), "the host ended");

    // The project removed: its session runs on, not in the config, with no reactions.
    let without_app = with_other.replacen(
        &format!(
            "  app:\n    path: {}\n    tracker:\n      plugin: prompt\n    agent: command\n    agentConfig:\n      command: [cat]\n",
            f.repo.display()
        ),
        "",
        1,
    );
    assert_ne!(without_app, with_other);
    std::fs::write(&file, &without_app).unwrap();
    let removed = wait_until("the project's removal applied", || {
        event_messages(&f)
            .into_iter()
            .find(|m| m.starts_with("config reloaded from") && m.contains("project `app` removed"))
    });
    assert!(removed.contains("its sessions run on"), "{removed}");
    assert_eq!(f.tmux_sessions().len(), 1, "{:?}", f.tmux_sessions());
    let status = f.ao(&["status"]);
    status.success();
    assert!(status.stdout.contains("app-1"), "{}", status.stdout);
    assert!(
        status.stdout.contains("not in the config"),
        "{}",
        status.stdout
    );
    // It can still be killed: its agent ended, its workspace kept, since what is unsaved
    // there cannot be told without its project.
    let workspace = f.sessions()[0]["workspace_path"]
        .as_str()
        .map(std::path::PathBuf::from)
        .expect("a workspace");
    let kill = f.ao(&["session", "kill", "app-1"]);
    kill.success()
        .stdout_has(&format!("workspace kept at {}", workspace.display()))
        .stdout_has("its project `app` is not in the config");
    assert!(f.tmux_sessions().is_empty(), "{:?}", f.tmux_sessions());
    assert!(workspace.join(".git").exists(), "the workspace was removed");
    assert_eq!(f.sessions()[0]["status"], "killed");
    f.stop_host(host);
}

#[test]
fn ao_stop_during_a_merge_whose_answer_is_lost_leaves_it_merged_and_told_once() {
    let l = Loop::new("  approved-and-green:\n    auto: true\n    action: auto-merge\n");
    let host = l.f.ao_child(&["start", "--no-orchestrator"]);
    let (_branch, pr) = l.spawn_with_pr();
    wait_pr_known(&l, pr);
    // GitHub merges, and its answer is lost on the way back.
    l.gh.fail_on("PUT", "/merge", Fault::AnswerAfter(Duration::from_secs(60)));
    l.gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    l.gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    wait_until("GitHub to merge", || {
        let mut state = String::new();
        l.gh.edit_pr("acme/app", pr, |p| state = p.state.clone());
        (state == "MERGED").then_some(())
    });
    // Stopped while the merge waits for its answer: the host ends without saying the
    // merge happened unless it found out.
    l.f.stop_host(host);
    let host = l.f.ao_child(&["start", "--no-orchestrator"]);
    wait_until("the merge notice on the desktop", || {
        l.bus
            .shown()
            .into_iter()
            .find(|n| n.summary.contains(&format!("pull request #{pr} merged")))
    });
    l.assert_said_once_over_passes("approved-and-green");
    let merges =
        l.gh.requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with("/merge"))
            .count();
    assert!(merges <= 1, "merge requests answered: {merges}");
    let shown: Vec<_> = l
        .bus
        .shown()
        .into_iter()
        .filter(|n| n.summary.contains("merged"))
        .collect();
    assert_eq!(shown.len(), 1, "merge notices: {shown:?}");
    assert_eq!(l.events("pr_merged").len(), 1);
    l.f.stop_host(host);
}
