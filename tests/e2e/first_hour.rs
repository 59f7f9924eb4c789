//! A new user's first hour: `ao attach` from wherever their terminal is, and every `ao`
//! command the README's shell blocks show, run here, with every config the README and
//! the repository show validating.

use ao_tests::{Run, TestEnv, ao_bin, wait_for};
use std::path::PathBuf;
use std::time::Duration;

/// A repository with project `app` (the `command` agent running `cat`, tasks from
/// prompts) and `socket_line` under `runtimes.tmux` (empty: ao uses the default server).
/// The default tmux server is the test's own: `TMUX_TMPDIR` is set to a directory of it.
fn attach_env(socket_line: &str) -> (TestEnv, PathBuf) {
    let mut env = TestEnv::new();
    let tmpdir = env.root().join("tt");
    std::fs::create_dir_all(&tmpdir).unwrap();
    env.set("TMUX_TMPDIR", &tmpdir);
    let repo = env.repo_with_origin("app", "main");
    let runtimes = if socket_line.is_empty() {
        String::new()
    } else {
        format!("runtimes:\n  tmux:\n    {socket_line}\n")
    };
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        format!(
            "{runtimes}projects:\n  app:\n    path: .\n    agent: command\n    tracker: prompt\n    agentConfig:\n      command: [cat]\n"
        ),
    )
    .unwrap();
    std::fs::write(repo.join(".git/info/exclude"), "agent-orchestrator.yaml\n").unwrap();
    (env, repo)
}

/// tmux with `server` (`-L NAME` or `-S PATH`; none for the default) in the test's
/// environment.
fn tmux(env: &TestEnv, server: &[&str], args: &[&str]) -> Run {
    let mut cmd = env.command("tmux");
    cmd.args(server).args(args);
    Run::of(cmd, &env.root())
}

/// Kills the named tmux servers when the test ends, however it ends.
struct Servers<'a> {
    env: &'a TestEnv,
    servers: Vec<Vec<String>>,
}

impl Drop for Servers<'_> {
    fn drop(&mut self) {
        for s in &self.servers {
            let s: Vec<&str> = s.iter().map(String::as_str).collect();
            let _ = tmux(self.env, &s, &["kill-server"]);
        }
    }
}

/// The sessions the clients of `server` show.
fn client_sessions(env: &TestEnv, server: &[&str]) -> Vec<String> {
    tmux(env, server, &["list-clients", "-F", "#{client_session}"])
        .stdout
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether the pane of `session` on `server` has exited, and its screen.
fn pane(env: &TestEnv, server: &[&str], session: &str) -> (bool, String) {
    let target = format!("={session}:");
    let dead = tmux(
        env,
        server,
        &["display-message", "-p", "-t", &target, "#{pane_dead}"],
    );
    let screen = tmux(
        env,
        server,
        &["capture-pane", "-p", "-J", "-S", "-100", "-t", &target],
    )
    .stdout;
    (dead.stdout.trim() == "1", screen)
}

#[test]
fn attach_inside_the_users_own_tmux_server_attaches_a_nested_client() {
    // ao's sessions on the default server; the user's terminal in a server of their own.
    let (env, repo) = attach_env("");
    let user = ["-L", "other"];
    let _servers = Servers {
        env: &env,
        servers: vec![vec![], user.map(String::from).to_vec()],
    };
    env.ao(&repo, &["spawn", "app", "--prompt", "hello"])
        .success()
        .stdout_has("app-1");
    let ao = ao_bin();
    let repo_dir = repo.to_str().unwrap();
    tmux(
        &env,
        &user,
        &[
            "-f",
            "/dev/null",
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "new-session",
            "-d",
            "-s",
            "mine",
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            repo_dir,
            "--",
            ao.to_str().unwrap(),
            "attach",
            "app-1",
        ],
    )
    .success();
    wait_for(
        "a client of ao's tmux server on app-1",
        Duration::from_secs(20),
        || {
            if client_sessions(&env, &[]) == ["app-1"] {
                return Some(());
            }
            let (dead, screen) = pane(&env, &user, "mine");
            assert!(!dead, "ao attach exited; the user's pane shows:\n{screen}");
            None
        },
    );
    // Detached, the user's pane shows how to detach the nested client with the keys.
    tmux(&env, &[], &["detach-client", "-s", "=app-1"]).success();
    let screen = wait_for("ao attach to end", Duration::from_secs(20), || {
        let (dead, screen) = pane(&env, &user, "mine");
        dead.then_some(screen)
    });
    assert!(screen.contains("C-b C-b d"), "{screen}");
    assert!(screen.contains("[detached"), "{screen}");

    // What ao reads of its sessions does not depend on the server this terminal is in.
    let socket = tmux(&env, &user, &["display-message", "-p", "#{socket_path}"]);
    let mut cmd = env.command(ao_bin());
    cmd.args(["status", "--json"])
        .current_dir(&repo)
        .env("TMUX", format!("{},1,0", socket.stdout.trim()));
    let status = Run::of(cmd, &repo);
    status.success();
    assert!(
        !status.stdout.contains("runtime_lost"),
        "{}",
        status.explain()
    );
    assert!(status.stdout.contains("\"app-1\""), "{}", status.explain());
}

#[test]
fn attach_inside_aos_own_tmux_server_switches_the_client() {
    let (env, repo) = attach_env("");
    let socket = env.root().join("ao.sock");
    std::fs::write(
        repo.join("agent-orchestrator.yaml"),
        format!(
            "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: .\n    agent: command\n    tracker: prompt\n    agentConfig:\n      command: [cat]\n",
            socket.display()
        ),
    )
    .unwrap();
    let server = ["-S", socket.to_str().unwrap()];
    let _servers = Servers {
        env: &env,
        servers: vec![server.map(String::from).to_vec()],
    };
    env.ao(&repo, &["spawn", "app", "--prompt", "hello"])
        .success();
    // A shell of the user's in ao's own server, with a client attached to it.
    let gate = env.root().join("gate");
    let ao = ao_bin();
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.05; done; exec '{}' attach app-1",
        gate.display(),
        ao.display()
    );
    tmux(
        &env,
        &server,
        &[
            "new-session",
            "-d",
            "-s",
            "mine",
            "-c",
            repo.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
            ";",
            "set-option",
            "-t",
            "=mine:",
            "remain-on-exit",
            "on",
        ],
    )
    .success();
    let outer = ao_tests::Tmux::new(&env);
    outer.start(
        "terminal",
        &repo,
        &[
            "env",
            "-u",
            "TMUX",
            "tmux",
            "-S",
            socket.to_str().unwrap(),
            "attach-session",
            "-t",
            "=mine",
        ],
    );
    wait_for("the user's client on mine", Duration::from_secs(20), || {
        (client_sessions(&env, &server) == ["mine"]).then_some(())
    });
    std::fs::write(&gate, "").unwrap();
    wait_for(
        "the one client switched to app-1",
        Duration::from_secs(20),
        || {
            // The pane first: once ao has ended there, the switch it made is seen after.
            let (dead, screen) = pane(&env, &server, "mine");
            let clients = client_sessions(&env, &server);
            if clients == ["app-1"] {
                return Some(());
            }
            assert!(
                !dead && clients.len() < 2,
                "ao attach did not switch the client (clients: {clients:?}); its pane shows:\n{screen}"
            );
            None
        },
    );
}

// The README: every command of its shell blocks runs here.

/// The README's text.
fn readme() -> String {
    std::fs::read_to_string(ao_tests::repo_root().join("README.md")).unwrap()
}

/// The fenced blocks of `text` in language `lang`, in order.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(tag)) => {
                current = (tag.trim() == lang).then(String::new).or(Some(
                    // A block of another language: read to its end, then dropped.
                    "\u{0}".to_owned(),
                ))
            }
            (Some(block), Some(_)) => {
                if !block.starts_with('\u{0}') {
                    out.push(std::mem::take(block));
                }
                current = None;
            }
            (Some(block), None) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// A line without its trailing `# comment` (a `#` outside quotes after a space).
fn without_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if prev.is_whitespace() => return line[..i].trim_end(),
            _ => {}
        }
        prev = c;
    }
    line.trim_end()
}

/// The commands of a shell block, each as written: comments dropped, `&&` chains split.
fn shell_commands(block: &str) -> Vec<String> {
    block
        .lines()
        .map(without_comment)
        .flat_map(|l| l.split("&&"))
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect()
}

/// A command's words, as a shell splits simple quoting.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in command.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (Some(q), _) if c == q => quote = None,
            (None, c) if c.is_whitespace() => out.extend(word.take()),
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    out
}

/// Where each command of the README's shell blocks runs in this suite, in the README's
/// order, or why it does not run.
const README_COMMANDS: &[(&str, &str)] = &[
    (
        "cargo install --locked --path crates/cli",
        "not run: installs ao itself; this suite runs the ao cargo built",
    ),
    ("cd /path/to/your/repo", "run as the tests' own repository"),
    ("ao init", "readme_quick_start_without_an_account"),
    ("ao doctor", "readme_quick_start_without_an_account"),
    (
        "cargo test --workspace",
        "not run: it is what runs this test",
    ),
    (
        "ao start --detach",
        "dashboard::an_address_beyond_loopback_needs_a_token_and_tls, on a free port (--port 0) beside other tests",
    ),
    (
        "ao dashboard",
        "dashboard::ao_start_serves_the_dashboard_and_ao_dashboard_logs_in_once",
    ),
    (
        "ao import --dry-run",
        "readme_switching_adopts_a_live_session",
    ),
    ("ao import", "readme_switching_adopts_a_live_session"),
    (
        "export GITHUB_WEBHOOK_SECRET=...",
        "not run: the reader's own secret; dashboard::a_signed_webhook_delivery_moves_a_session_and_others_are_refused sets one",
    ),
    (
        "ao start --detach",
        "dashboard::a_signed_webhook_delivery_moves_a_session_and_others_are_refused, on a free port",
    ),
    (
        "gh webhook forward --repo=acme/app --events=pull_request,pull_request_review,pull_request_review_thread,check_run,status,issue_comment --url=http://127.0.0.1:3000/api/webhooks/github --secret=\"$GITHUB_WEBHOOK_SECRET\"",
        "not run: GitHub's CLI forwards from github.com, which tests cannot reach; dashboard::a_signed_webhook_delivery_moves_a_session_and_others_are_refused posts signed deliveries to the same path",
    ),
    (
        "cargo build --release -p ao-example-file-tracker -p ao-example-file-notifier",
        "readme_external_plugins, built in the profile the suite builds plugins in",
    ),
    (
        "ao spawn app --prompt \"Fix the flaky login test\"",
        "readme_first_session_with_any_cli",
    ),
    ("ao status", "readme_first_session_with_any_cli"),
    (
        "ao send app-1 \"Also update the changelog\"",
        "readme_first_session_with_any_cli",
    ),
    ("ao attach app-1", "readme_first_session_with_any_cli"),
    ("ao session kill app-1", "readme_first_session_with_any_cli"),
];

#[test]
fn every_command_of_the_readmes_shell_blocks_is_run_or_says_why_not() {
    let shown: Vec<String> = blocks(&readme(), "sh")
        .iter()
        .flat_map(|b| shell_commands(b))
        .collect();
    let listed: Vec<&str> = README_COMMANDS.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        shown, listed,
        "the README's shell blocks changed: run each new command in a test here (or say why not) and list it in README_COMMANDS"
    );
}

/// The shell block of the README holding `marker`, as its commands.
fn readme_block_with(marker: &str) -> Vec<String> {
    let block = blocks(&readme(), "sh")
        .into_iter()
        .find(|b| b.contains(marker))
        .unwrap_or_else(|| panic!("no shell block of the README holds {marker:?}"));
    shell_commands(&block)
}

/// The YAML block of the README holding `marker`.
fn readme_yaml_with(marker: &str) -> String {
    blocks(&readme(), "yaml")
        .into_iter()
        .find(|b| b.contains(marker))
        .unwrap_or_else(|| panic!("no YAML block of the README holds {marker:?}"))
}

/// Runs `ao ...` as the README writes it (its words after `ao`).
fn ao_as_written(env: &TestEnv, cwd: &std::path::Path, command: &str) -> Run {
    let words = words(command);
    assert_eq!(words[0], "ao", "{command}");
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    env.ao(cwd, &args)
}

/// An executable `name` in `dir` that runs `body` with sh.
fn script(dir: &std::path::Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A directory with git, tmux and sh and no agent CLI, for a PATH of only these.
fn bin_without_agents(env: &TestEnv) -> PathBuf {
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "tmux", "sh", "cat"] {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} is not on PATH"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bin
}

#[test]
fn readme_quick_start_without_an_account() {
    // A machine with no agent CLI and no GitHub login: `ao init` on a terminal offers
    // the command agent, and `ao doctor` then finds all it needs.
    let mut env = TestEnv::new();
    let bin = bin_without_agents(&env);
    script(&bin, "my-agent", "exec cat");
    env.set("PATH", &bin);
    let repo = env.repo_with_origin("your-repo", "main");
    let commands: Vec<String> = readme_block_with("ao init")
        .into_iter()
        .filter(|c| c.starts_with("ao "))
        .collect();
    assert_eq!(commands, ["ao init", "ao doctor"]);
    let terminal = ao_tests::Tmux::new(&env);
    let ao = ao_bin();
    terminal.start("init", &repo, &[ao.to_str().unwrap(), "init"]);
    terminal.wait_for("init", "Project id [your-repo]:");
    terminal.type_line("init", "");
    terminal.wait_for("init", "[command]:");
    terminal.type_line("init", "");
    terminal.wait_for("init", "The agent's command line");
    terminal.type_line("init", "my-agent");
    terminal.wait_for("init", "Default branch [main]:");
    terminal.type_line("init", "");
    terminal.wait_for("init", "Next: `ao doctor`");
    let doctor = ao_as_written(&env, &repo, &commands[1]);
    doctor.success();
    assert!(!doctor.stdout.contains("FAIL"), "{}", doctor.explain());
}

#[test]
fn readme_first_session_with_any_cli() {
    // The README's config as it is, `my-agent` a CLI on PATH, and ao's sessions on the
    // default tmux server (the README names no socket), private to this test.
    let (mut env, repo) = attach_env("");
    let bin = env.root().join("agent-bin");
    script(&bin, "my-agent", "exec cat");
    env.set("PATH", ao_tests::path_with(&bin));
    let config = readme_yaml_with("command: [my-agent]");
    std::fs::write(repo.join("agent-orchestrator.yaml"), config).unwrap();
    let _servers = Servers {
        env: &env,
        servers: vec![vec![]],
    };
    let commands = readme_block_with("ao spawn app");
    for command in &commands {
        if command.starts_with("ao attach") {
            // It needs a terminal: a pane of the user's own tmux, detached with C-b d.
            let terminal = ao_tests::Tmux::new(&env);
            let mut argv = vec![ao_bin().to_str().unwrap().to_owned()];
            argv.extend(words(command).into_iter().skip(1));
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            terminal.start("attach", &repo, &argv);
            wait_for("the attached client", Duration::from_secs(20), || {
                (client_sessions(&env, &[]) == ["app-1"]).then_some(())
            });
            terminal.wait_for("attach", "Fix the flaky login test");
            let target = "=attach:";
            for key in ["C-b", "d"] {
                let mut cmd = env.command("tmux");
                cmd.arg("-S").arg(env.root().join("tmux.sock")).args([
                    "send-keys",
                    "-t",
                    target,
                    key,
                ]);
                Run::of(cmd, &repo).success();
            }
            terminal.wait_for("attach", "[detached");
            continue;
        }
        let run = ao_as_written(&env, &repo, command);
        run.success();
        if command.starts_with("ao spawn") {
            run.stdout_has("app-1");
        }
        if command == "ao status" {
            run.stdout_has("app-1");
        }
    }
    assert!(
        commands.iter().any(|c| c.starts_with("ao attach")),
        "{commands:?}"
    );
    // Killed: its tmux session and worktree are gone.
    assert_eq!(
        tmux(&env, &[], &["has-session", "-t", "=app-1"]).code,
        1,
        "app-1's tmux session outlived its kill"
    );
    assert!(!env.ao_home.join("worktrees/app/app-1").exists());
}

#[test]
fn readme_switching_adopts_a_live_session() {
    // The reference's session as it runs one: a record, a worktree under its data
    // directory, and a tmux session on the default server with the agent typed into a shell.
    let mut f =
        ao_tests::Fleet::new("    agent: command\n    agentConfig:\n      command: [cat]\n");
    let tmpdir = f.env.root().join("tt");
    std::fs::create_dir_all(&tmpdir).unwrap();
    f.env.set("TMUX_TMPDIR", &tmpdir);
    f.env.set("SHELL", "/bin/sh");
    let _servers = Servers {
        env: &f.env,
        servers: vec![vec![]],
    };
    let base = f.env.home.join(".agent-orchestrator/projects/app");
    let worktree = base.join("worktrees/app-1");
    f.env.git(
        &f.repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "feat/one",
            worktree.to_str().unwrap(),
            "main",
        ],
    );
    let record = serde_json::json!({
        "worktree": worktree, "branch": "feat/one", "status": "working", "tmuxName": "app-1",
        "project": "app", "agent": "codex", "userPrompt": "Tidy the docs",
        "runtimeHandle": { "id": "app-1", "runtimeName": "tmux", "data": {} },
    });
    std::fs::create_dir_all(base.join("sessions")).unwrap();
    std::fs::write(base.join("sessions/app-1.json"), record.to_string()).unwrap();
    let env_line = "AO_SESSION_ID=app-1";
    tmux(
        &f.env,
        &[],
        &[
            "new-session",
            "-d",
            "-s",
            "app-1",
            "-c",
            worktree.to_str().unwrap(),
            "-e",
            env_line,
        ],
    )
    .success();
    tmux(&f.env, &[], &["send-keys", "-t", "=app-1:", "cat", "Enter"]).success();
    wait_for("cat to run in app-1", Duration::from_secs(20), || {
        let now = tmux(
            &f.env,
            &[],
            &[
                "display-message",
                "-p",
                "-t",
                "=app-1:",
                "#{pane_current_command}",
            ],
        );
        (now.stdout.trim() == "cat").then_some(())
    });

    let commands = readme_block_with("ao import");
    assert_eq!(commands, ["ao import --dry-run", "ao import"]);
    ao_as_written(&f.env, &f.repo, &commands[0])
        .success()
        .stdout_has("would adopt app-1");
    assert!(f.sessions().is_empty(), "a dry run adopted something");
    ao_as_written(&f.env, &f.repo, &commands[1])
        .success()
        .stdout_has("adopted app-1");
    let status = f.ao(&["status"]);
    status.success().stdout_has("app-1");
    assert!(!status.stdout.contains("killed"), "{}", status.explain());
}

#[test]
fn readme_external_plugins() {
    let commands = readme_block_with("ao-example-file-tracker");
    assert_eq!(
        commands,
        ["cargo build --release -p ao-example-file-tracker -p ao-example-file-notifier"]
    );
    let tracker = ao_tests::plugin_lib("ao-example-file-tracker");
    let notifier = ao_tests::plugin_lib("ao-example-file-notifier");
    let (env, repo) = attach_env("");
    let _servers = Servers {
        env: &env,
        servers: vec![vec![]],
    };
    // The README's config, with the libraries where this suite builds them, and the
    // agent (which the README leaves at its default) a stand-in: no agent CLI runs here.
    let config = readme_yaml_with("file-tracker")
        .replace(
            "./target/release/libao_example_file_tracker.so",
            tracker.to_str().unwrap(),
        )
        .replace(
            "./target/release/libao_example_file_notifier.so",
            notifier.to_str().unwrap(),
        )
        .replace(
            "    path: .\n",
            "    path: .\n    agent: command\n    agentConfig: { command: [cat] }\n",
        );
    assert!(config.contains("agent: command"), "{config}");
    std::fs::write(repo.join("agent-orchestrator.yaml"), config).unwrap();
    std::fs::write(
        repo.join("ISSUES.md"),
        "## 12 Fix the login bug\nThe form rejects plus signs.\n",
    )
    .unwrap();
    let mut exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).unwrap();
    exclude.push_str("ISSUES.md\nao-events.jsonl\n");
    std::fs::write(repo.join(".git/info/exclude"), exclude).unwrap();

    // "`ao spawn app 12` then works on issue 12 of `ISSUES.md`"
    env.ao(&repo, &["spawn", "app", "12"]).success();
    let info = env.ao(&repo, &["session", "info", "app-1", "--json"]);
    info.success().stdout_has("Fix the login bug");
    // "and `ao doctor --test-notify` appends a test event to `ao-events.jsonl`"
    env.ao(&repo, &["doctor", "--test-notify"])
        .stdout_has("notify events");
    let events = std::fs::read_to_string(repo.join("ao-events.jsonl")).unwrap_or_default();
    assert!(events.contains("test"), "ao-events.jsonl holds:\n{events}");
}

/// Writes `config` as `agent-orchestrator.yaml` of a fresh repository, makes the
/// repositories its `path: ~/...` lines name, and runs `ao config validate --strict`.
fn validates_strictly(env: &TestEnv, name: &str, config: &str) {
    for line in config.lines() {
        if let Some(path) = without_comment(line).trim().strip_prefix("path: ~/")
            && !path.contains('/') | path.starts_with("code/")
        {
            let dir = env.home.join(path);
            if !dir.exists() {
                env.plain_repo(&dir);
            }
        }
    }
    let repo = env.plain_repo(&env.root().join(name));
    std::fs::write(repo.join("agent-orchestrator.yaml"), config).unwrap();
    let run = env.ao(&repo, &["config", "validate", "--strict"]);
    assert_eq!(run.code, 0, "{name} does not validate:\n{}", run.explain());
    // A fragment to add to a file of your own is a project of its own here, and ao
    // says so; nothing else is said.
    let warnings = run
        .stderr
        .lines()
        .filter(|l| l.contains("warning") && !l.contains("has no `projects:`"))
        .count();
    assert_eq!(warnings, 0, "{name}:\n{}", run.explain());
}

#[test]
fn the_sample_configs_and_the_readmes_validate() {
    let mut env = TestEnv::new();
    env.set("SLACK_WEBHOOK_URL", "https://hooks.slack.invalid/T0/B0/x");
    let root = ao_tests::repo_root();
    // The sample at the repository's root, where it is (its project is this checkout).
    let sample = root.join("agent-orchestrator.yaml");
    let run = env.ao(
        &root,
        &["config", "validate", "--strict", sample.to_str().unwrap()],
    );
    run.success();
    assert!(!run.stderr.contains("warning"), "{}", run.explain());
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("examples/configs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        validates_strictly(&env, &name, &std::fs::read_to_string(&path).unwrap());
        checked += 1;
    }
    assert!(checked >= 2, "examples/configs holds {checked} configs");
    for (i, block) in blocks(&readme(), "yaml").iter().enumerate() {
        validates_strictly(&env, &format!("readme-{i}"), block);
    }
    let template =
        std::fs::read_to_string(root.join("examples/plugin-template/README.md")).unwrap();
    for (i, block) in blocks(&template, "yaml").iter().enumerate() {
        validates_strictly(&env, &format!("template-{i}"), block);
    }
}

/// A value of each key the README says ao reads but does not act on, where it goes:
/// at the top, in a project, or in its scm section.
fn reference_key(key: &str) -> (&'static str, String) {
    let (place, value) = match key {
        "port" => ("top", "3000"),
        "terminalPort" => ("top", "3001"),
        "directTerminalPort" => ("top", "3002"),
        "dashboard" => ("top", "{ attentionZones: simple }"),
        "power" => ("top", "{ preventIdleSleep: true }"),
        "projectOrder" => ("top", "[app]"),
        "decomposer" => ("project", "{ enabled: false }"),
        "opencodeIssueSessionStrategy" => ("project", "reuse"),
        "webhook" => ("scm", "{ enabled: true }"),
        "lifecycle" => ("top", "{ probeInterval: 5s }"),
        "orchestrator" => ("project", "{ agent: codex }"),
        other => panic!(
            "the README names `{other}` as read and not used: give it a value in reference_key"
        ),
    };
    (place, format!("{key}: {value}"))
}

#[test]
fn the_keys_the_readme_and_the_sample_call_unused_are_warned_of_and_no_others() {
    let text = readme().replace('\n', " ");
    let start = text
        .find("Keys of the reference format that ao reads but does not act on yet (")
        .expect("the README says which keys ao reads and does not act on");
    let list = &text[start..];
    let list = &list[list.find('(').unwrap()..list.find(')').unwrap()];
    let keys: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
    assert!(keys.len() >= 5, "{list}");
    let env = TestEnv::new();
    let repo = env.plain_repo(&env.root().join("app"));
    let mut top = String::new();
    let mut project = String::new();
    let mut scm = String::new();
    for key in &keys {
        let (place, line) = reference_key(key);
        match place {
            "top" => top.push_str(&format!("{line}\n")),
            "project" => project.push_str(&format!("    {line}\n")),
            _ => scm.push_str(&format!("      {line}\n")),
        }
    }
    // And the keys it says ao acts on.
    if !keys.contains(&"lifecycle") {
        top.push_str("lifecycle:\n  probeInterval: 5s\n  autoCleanupOnMerge: true\n");
    }
    if !keys.contains(&"orchestrator") {
        project.push_str(
            "    orchestrator:\n      agent: codex\n    orchestratorSessionStrategy: reuse\n",
        );
    }
    let config = format!(
        "{top}projects:\n  app:\n    path: .\n    tracker: prompt\n{project}    scm:\n      plugin: github\n{scm}"
    );
    std::fs::write(repo.join("agent-orchestrator.yaml"), &config).unwrap();
    let run = env.ao(&repo, &["config", "validate"]);
    run.success();
    for key in &keys {
        assert!(
            run.stderr
                .contains(&format!("`{key}` is read, not used by ao yet")),
            "{key}:\n{config}\n{}",
            run.explain()
        );
    }
    let warnings = run.stderr.lines().filter(|l| l.contains("warning")).count();
    assert_eq!(warnings, keys.len(), "{config}\n{}", run.explain());

    // The sample's own list: each key it shows commented out there, set, is warned of
    // as it says (worktreeDir is used).
    let sample =
        std::fs::read_to_string(ao_tests::repo_root().join("agent-orchestrator.yaml")).unwrap();
    let from = sample
        .find("# Keys of the reference format")
        .expect("the sample lists the reference's keys");
    let mut set = String::new();
    let mut named = Vec::new();
    for line in sample[from..].lines() {
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, value)) = rest.split_once(": ") else {
            continue;
        };
        if key.chars().all(|c| c.is_ascii_alphanumeric()) && !key.is_empty() {
            set.push_str(&format!("{key}: {}\n", without_comment(value)));
            named.push(key.to_owned());
        }
    }
    assert!(named.len() >= 4, "{named:?}");
    // Its header names some of them: each is one the README names.
    let header = sample.replace("\n# ", " ");
    let header = &header[header
        .find("does not act on yet (")
        .expect("the sample's header says which keys ao does not act on")..];
    let header = &header[header.find('(').unwrap() + 1..header.find([';', ')']).unwrap()];
    for key in header.split(", ").filter(|k| *k != "...") {
        assert!(
            keys.contains(&key),
            "the sample's header names `{key}`; the README: {keys:?}"
        );
    }
    let config = format!("{set}projects:\n  app:\n    path: .\n    tracker: prompt\n");
    std::fs::write(repo.join("agent-orchestrator.yaml"), &config).unwrap();
    let run = env.ao(&repo, &["config", "validate"]);
    run.success();
    for key in &named {
        let said = run.stderr.contains(&format!("`{key}` is read, not used"));
        assert_eq!(
            said,
            key != "worktreeDir",
            "{key}:\n{config}\n{}",
            run.explain()
        );
    }
}

#[test]
fn every_option_the_readmes_table_names_is_in_the_commands_help() {
    let text = readme();
    let table = &text[text.find("## What works today").unwrap()..];
    let table = &table[..table.find("\n### ").unwrap()];
    let env = TestEnv::new();
    let root = env.root();
    let mut helps: std::collections::HashMap<Vec<String>, Option<String>> = Default::default();
    let mut help = |path: &[String]| -> Option<String> {
        helps
            .entry(path.to_vec())
            .or_insert_with(|| {
                let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
                args.push("--help");
                let run = env.ao(&root, &args);
                (run.code == 0).then_some(run.stdout)
            })
            .clone()
    };
    let is_word = |t: &str| {
        t.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && t.chars().all(|c| c.is_ascii_lowercase() || c == '-')
    };
    let mut checked = 0;
    for row in table.lines().filter(|l| l.starts_with("| `ao ")) {
        let cell = row.split(" | ").next().unwrap();
        for usage in cell.split('`').skip(1).step_by(2) {
            let usage = usage.replace("\\|", "|");
            let tokens: Vec<&str> = usage.split_whitespace().skip(1).collect();
            let path: Vec<String> = tokens
                .iter()
                .take_while(|t| is_word(t))
                .map(|t| t.to_string())
                .collect();
            assert!(
                help(&path).is_some(),
                "`ao {}` in the README's table is no command",
                path.join(" ")
            );
            // An option may belong to a sibling the same usage names (`ls | add PATH [--id ID]`).
            let mut places = vec![path.clone(), path[..1].to_vec()];
            for t in tokens.iter().filter(|t| is_word(t)) {
                places.push(vec![path[0].clone(), t.to_string()]);
            }
            let texts: Vec<String> = places.iter().filter_map(|p| help(p)).collect();
            for option in usage
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|t| t.starts_with('-') && t.len() > 1 && t != &"-")
            {
                let shown = texts.iter().any(|h| {
                    h.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                        .any(|w| w == option)
                });
                assert!(
                    shown,
                    "the README's table names `{option}` for `{usage}`, which its help lacks"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} options checked");
}
