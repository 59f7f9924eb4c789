//! `ao tui` driven as a person would: inside tmux, keys sent, the screen read back,
//! against real sessions (the `command` agent running `cat`) and a real host.

use ao_tests::github::{FakeGitHub, FakeThread, TOKEN};
use ao_tests::{Fleet, Run, wait_until};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Child;

const CAT: &str = "    agent: command\n    agentConfig:\n      command: [cat]\n";

/// A fleet whose host probes every 200 ms, so an agent that ends is seen at once.
fn fleet() -> Fleet {
    let f = Fleet::new(CAT);
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{config}lifecycle:\n  probeInterval: 200ms\n"),
    )
    .unwrap();
    f
}

fn start_host(f: &Fleet) -> Child {
    let host = f.ao_child(&["start", "--no-orchestrator", "--no-dashboard"]);
    let socket = f.env.ao_home.join("host.sock");
    wait_until("the host's socket", || {
        UnixStream::connect(&socket).ok().map(|_| ())
    });
    host
}

/// `ao tui` in a tmux server of its own (not the fleet's), in a shell that reports how
/// it ended and the terminal's modes after it.
struct Tui<'a> {
    f: &'a Fleet,
    socket: PathBuf,
}

impl<'a> Tui<'a> {
    fn start(f: &'a Fleet, args: &str, width: u16, height: u16) -> Tui<'a> {
        let ao = ao_tests::ao_bin();
        // After ao: its exit code, then whether the terminal is back in cooked mode with
        // echo (raw mode turns both off).
        let script = format!(
            "'{}' tui {args}; echo \"exit=$?\"; stty -a | tr ' ;' '\\n\\n' | grep -x -e -icanon -e icanon -e -echo -e echo | tr '\\n' ' '; echo; exec sleep 600",
            ao.display()
        );
        Tui::run(f, &script, width, height)
    }

    /// A terminal of `width` x `height` running `script` in `sh`.
    fn run(f: &'a Fleet, script: &str, width: u16, height: u16) -> Tui<'a> {
        let t = Tui {
            f,
            socket: f.env.root().join("tui-tmux.sock"),
        };
        let (w, h) = (width.to_string(), height.to_string());
        let repo = f.repo.to_str().unwrap();
        t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            &w,
            "-y",
            &h,
            "-c",
            repo,
            "--",
            "sh",
            "-c",
            script,
        ])
        .success();
        t
    }

    fn tmux(&self, args: &[&str]) -> Run {
        let mut cmd = self.f.env.command("tmux");
        cmd.arg("-S").arg(&self.socket).args(args);
        Run::of(cmd, &self.f.env.root())
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "tui"]).stdout
    }

    /// Waits until the screen satisfies `check`, then returns it.
    fn wait(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; the screen shows:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    }

    fn shows(&self, text: &str) -> String {
        self.wait(&format!("{text:?} on screen"), |s| s.contains(text))
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend_from_slice(keys);
        self.tmux(&args).success();
    }

    fn typed(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "tui", "-l", text]).success();
    }

    fn pane(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "tui", format])
            .stdout
            .trim()
            .to_owned()
    }

    /// The pid of `ao tui` (the shell's child).
    fn ao_pid(&self) -> i32 {
        let shell = self.pane("#{pane_pid}");
        wait_until("ao tui's process", || {
            let children =
                std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).ok()?;
            children.split_whitespace().next()?.parse().ok()
        })
    }

    /// Checks that ao ended with `code` and gave the terminal back as it was.
    fn restored(&self, code: i32) {
        // The shell prints the modes on the line after the exit code: wait for both.
        let exit = format!("exit={code}");
        let screen = self.wait(&format!("{exit:?} and the terminal's modes"), |s| {
            s.contains(&exit) && s.contains("icanon")
        });
        assert!(
            screen.contains("icanon") && !screen.contains("-icanon"),
            "{screen}"
        );
        assert!(
            screen.contains(" echo") && !screen.contains("-echo"),
            "{screen}"
        );
        assert_eq!(
            self.pane("#{alternate_on}"),
            "0",
            "still on the alternate screen"
        );
        assert_eq!(
            self.pane("#{mouse_any_flag}"),
            "0",
            "mouse reporting left on"
        );
        assert_eq!(self.pane("#{cursor_flag}"), "1", "the cursor left hidden");
    }
}

impl Drop for Tui<'_> {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The screen with what changes from run to run (ages, pids, the budget) replaced.
fn normalized(screen: &str) -> String {
    screen
        .lines()
        .map(|l| {
            let mut words: Vec<String> = Vec::new();
            for w in l.split(' ') {
                let age = w
                    .strip_suffix(['s', 'm', 'h', 'd'])
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
                // The `command` agent's activity is guessed from its terminal, and may
                // move between these while the screen is read.
                let activity = ["active", "ready", "idle"].contains(&w);
                words.push(match (age, activity) {
                    (true, _) => "AGE".into(),
                    (_, true) => "ACTIVITY".into(),
                    _ => w.to_owned(),
                });
            }
            let line = words.join(" ");
            match line.find("(pid ") {
                Some(at) => {
                    let end = line[at..].find(')').map_or(line.len(), |e| at + e);
                    format!("{}(pid PID{}", &line[..at], &line[end..])
                }
                None => line,
            }
            .trim_end()
            .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn tui_shows_the_zones_live_and_a_change_moves_a_row_without_a_key() {
    let f = fleet();
    f.ao(&["spawn", "app", "--prompt", "first task"]).success();
    f.ao(&["spawn", "app", "--prompt", "second task"]).success();
    let host = start_host(&f);
    let tui = Tui::start(&f, "", 80, 24);
    let screen = tui.wait("both sessions working, live", |s| {
        s.contains("WORKING (2)") && s.contains("host: live")
    });
    assert!(screen.contains("> app-1"), "{screen}");
    // The preview shows the selected agent's terminal: cat echoes its task.
    tui.shows("first task");
    let screen = tui.screen();
    insta::assert_snapshot!("tui_two_working", normalized(&screen));

    // app-2's agent ends behind ao's back: the host sees it, the row moves to the zone
    // that needs a human, with no key pressed.
    f.tmux(&["kill-session", "-t", "=app-2"]).success();
    let screen = tui.wait("app-2 moved to the action zone", |s| {
        s.contains("ACTION (1)") && s.contains("WORKING (1)")
    });
    let action = screen.find("ACTION (1)").unwrap();
    let working = screen.find("WORKING (1)").unwrap();
    let app2 = screen.find("app-2").unwrap();
    assert!(action < app2 && app2 < working, "{screen}");

    // app-1's agent asks (it says so itself): its question shows on its row, and `y`
    // answers it in the agent's terminal.
    f.ao(&[
        "report",
        "needs-input",
        "--session",
        "app-1",
        "--note",
        "Proceed? (y/n)",
    ])
    .success();
    tui.wait("app-1 asking", |s| s.contains("ACTION (2)"));
    tui.keys(&["y"]);
    tui.shows("app-1: answered y");
    wait_until("the answer in the agent's terminal", || {
        let out = f.ao(&["session", "output", "app-1"]).stdout;
        out.lines().any(|l| l.trim() == "y").then_some(())
    });

    tui.keys(&["q"]);
    tui.restored(0);
    f.stop_host(host);
}

#[test]
fn tui_sends_a_line_and_refuses_to_kill_over_unsaved_work() {
    let f = fleet();
    f.ao(&["spawn", "app", "--prompt", "the task"]).success();
    // Without a host, the store is read, and the status line says so.
    let tui = Tui::start(&f, "-p app", 80, 24);
    tui.wait("the session, read from the store", |s| {
        s.contains("app-1") && s.contains("host: not running; the store is read every second")
    });

    tui.keys(&["s"]);
    tui.shows("send to app-1:");
    tui.typed("hello from the tui");
    tui.keys(&["Enter"]);
    tui.shows("app-1: ");
    let output = || f.ao(&["session", "output", "app-1"]).stdout;
    wait_until("the line in the agent's terminal", || {
        output().contains("hello from the tui").then_some(())
    });
    // The preview follows the agent's terminal.
    tui.wait("the line in the preview", |s| {
        s.matches("hello from the tui").count() >= 1 && !s.contains("send to app-1:")
    });

    // A resize redraws the whole frame at the new size: the status line on the last row.
    for (w, h) in [("100", "30"), ("80", "24")] {
        tui.tmux(&["resize-window", "-t", "tui", "-x", w, "-y", h])
            .success();
        let rows: usize = h.parse().unwrap();
        tui.wait(&format!("the frame redrawn at {w}x{h}"), |s| {
            let lines: Vec<&str> = s.lines().collect();
            lines.len() == rows
                && lines[rows - 1].starts_with(" host: not running")
                && lines[0].starts_with("WORKING (1)")
        });
    }

    // Unsaved work in its worktree: `k` is refused with the CLI's words, and nothing is
    // killed.
    std::fs::write(f.worktree("app-1").join("notes.txt"), "not committed\n").unwrap();
    let cli = f.ao(&["session", "kill", "app-1"]);
    assert_ne!(cli.code, 0, "{}", cli.explain());
    let refusal = cli
        .stderr
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("error: ")
        .to_owned();
    tui.keys(&["k"]);
    tui.shows("kill app-1? y does it");
    tui.keys(&["y"]);
    let first_words: String = refusal.chars().take(40).collect();
    tui.shows(&first_words);
    assert_eq!(f.tmux_sessions(), ["app-1"]);

    // Enter attaches this terminal to the session; detaching comes back to the list.
    tui.keys(&["Enter"]);
    tui.wait("the session attached", |s| {
        !s.contains("host: not running") && s.contains("hello from the tui")
    });
    tui.keys(&["C-b", "d"]);
    tui.shows("app-1: detached");
    tui.shows("host: not running");

    // SIGTERM from outside gives the terminal back.
    // SAFETY: a plain signal to the ao this test started.
    unsafe { libc::kill(tui.ao_pid(), libc::SIGTERM) };
    tui.restored(143);
}

/// A fleet whose project `app` (agent `cat`) has its repository `acme/app` on the fake
/// GitHub, polled every second, probed every 200 ms.
fn github_fleet(gh: &FakeGitHub) -> Fleet {
    gh.repo("acme/app");
    let mut f = Fleet::new("");
    let config = format!(
        "runtimes:\n  tmux:\n    socket: {}\nlifecycle:\n  probeInterval: 200ms\n  pollInterval: 1s\nprojects:\n  app:\n    path: {}\n    repo: acme/app\n    tracker:\n      plugin: prompt\n    agent: command\n    agentConfig:\n      command: [cat]\n",
        f.socket.display(),
        f.repo.display(),
    );
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    f.env.set("GH_TOKEN", TOKEN);
    f.env.set("GITHUB_API_URL", &gh.url);
    gh.remote("acme/app", &f.env.root().join("repo-origin.git"));
    f
}

/// The first line of what the CLI said on failing, without its `error: `.
fn refusal(run: &Run) -> String {
    assert_ne!(run.code, 0, "{}", run.explain());
    let first = run.stderr.lines().next().unwrap_or_default();
    first
        .trim_start_matches("error: ")
        .chars()
        .take(40)
        .collect()
}

#[test]
fn tui_shows_a_pull_request_and_merges_opens_restores_spawns_and_clicks() {
    let gh = FakeGitHub::start();
    let f = github_fleet(&gh);
    f.ao(&["spawn", "app", "--prompt", "Fix the login"])
        .success();
    let work = f.worktree("app-1");
    f.env
        .git(&work, &["commit", "-q", "--allow-empty", "-m", "fix"]);
    f.env.git(&work, &["push", "-q", "origin", "HEAD"]);
    let branch = f.env.git(&work, &["branch", "--show-current"]);
    let pr = gh.open_pr("acme/app", branch.trim(), "main", "Fix the login");
    gh.check(
        "acme/app",
        pr,
        "build",
        Some("FAILURE"),
        true,
        "compiling\nerror: expected `;` at src/main.rs:3",
    );
    gh.thread(
        "acme/app",
        pr,
        FakeThread {
            path: "src/lib.rs".into(),
            line: Some(7),
            body: "Rename this\nand test it".into(),
            author: "rev".into(),
            ..FakeThread::default()
        },
    );
    let host = start_host(&f);
    let tui = Tui::start(&f, "", 120, 30);
    tui.wait("app-1 with its pull request", |s| {
        s.contains("app-1") && s.contains(&format!("#{pr}"))
    });

    // `p`: the pull request's failing checks and open threads instead of the terminal;
    // `p` again: the terminal.
    tui.keys(&["p"]);
    let screen = tui.wait("the pull request's panel", |s| {
        s.contains("failing checks (1)") && s.contains("open threads (1)")
    });
    assert!(screen.contains("✗ build (required)"), "{screen}");
    assert!(
        screen.contains("error: expected `;` at src/main.rs:3"),
        "{screen}"
    );
    assert!(screen.contains("src/lib.rs:7 rev: Rename this"), "{screen}");
    tui.keys(&["p"]);
    tui.wait("the terminal again", |s| {
        !s.contains("failing checks") && s.contains("Fix the login")
    });

    // `o`: the pull request's address.
    tui.keys(&["o"]);
    tui.shows(&format!(
        "pull request (copied): https://github.com/acme/app/pull/{pr}"
    ));

    // `m`: refused as the CLI refuses it (its check fails), and nothing merged.
    let cli = refusal(&f.ao(&["session", "merge", "app-1"]));
    tui.keys(&["m"]);
    tui.shows("merge the pull request of app-1? y does it");
    tui.keys(&["y"]);
    tui.shows(&cli);

    // `r` on a running session: refused with the CLI's words.
    let cli = refusal(&f.ao(&["session", "restore", "app-1"]));
    tui.keys(&["r"]);
    tui.shows(&cli);

    // `c`: a task typed in spawns a session, which joins the list.
    tui.keys(&["c"]);
    tui.shows("spawn in app (issue, label:NAME or a task): ");
    tui.typed("Write the docs");
    tui.keys(&["Enter"]);
    let screen = tui.wait("app-2 in the list", |s| s.contains("app-2"));
    // A click on its row selects it: the preview is its terminal.
    let (row, _) = screen
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("app-2"))
        .unwrap();
    let (x, y) = (5, row + 1);
    let click = format!("\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m");
    tui.typed(&click);
    tui.wait("app-2's terminal in the preview", |s| {
        s.contains("─ app-2 ") || s.contains(" app-2 ─")
    });

    // Fixed and approved: `m` on app-1 merges it, as `ao session merge` would.
    gh.check("acme/app", pr, "build", Some("SUCCESS"), true, "");
    gh.edit_pr("acme/app", pr, |p| p.review = Some("APPROVED".into()));
    tui.keys(&["Up"]);
    tui.wait("app-1 selected", |s| s.contains(" app-1 ─"));
    tui.keys(&["m"]);
    tui.shows("merge the pull request of app-1? y does it");
    tui.keys(&["y"]);
    tui.shows(&format!("app-1: merged pull request #{pr}"));

    tui.keys(&["q"]);
    tui.restored(0);
    f.stop_host(host);
}

/// Inside a tmux client of ao's own server, Enter switches that client to the session,
/// tmux's status line says which key comes back, and that key (prefix L) does.
#[test]
fn tui_inside_aos_tmux_switches_to_a_session_and_its_key_comes_back() {
    let f = fleet();
    f.ao(&["spawn", "app", "--prompt", "first task"]).success();
    // The outer terminal's tmux takes C-a, so C-b reaches the client of ao's server.
    let ao = ao_tests::ao_bin();
    let script = format!(
        "env -u TMUX tmux -S '{}' new-session -s ao-tui \"'{}' tui\"",
        f.socket.display(),
        ao.display()
    );
    let tui = Tui::run(&f, &script, 100, 30);
    tui.tmux(&["set", "-g", "prefix", "C-a"]).success();
    tui.wait("the list, in a client of ao's server", |s| {
        s.contains("WORKING (1)") && s.contains("app-1")
    });
    tui.keys(&["Enter"]);
    // The status line's message follows the switch: both are waited for.
    tui.wait("the client switched to app-1, saying the way back", |s| {
        s.contains("first task")
            && !s.contains("WORKING (1)")
            && s.contains("C-b L (tmux's last session) comes back to ao tui")
    });
    tui.keys(&["C-b", "L"]);
    tui.wait("the list again, saying how it came back", |s| {
        s.contains("WORKING (1)") && s.contains("app-1: switched to it; C-b L")
    });
    tui.keys(&["q"]);
}
