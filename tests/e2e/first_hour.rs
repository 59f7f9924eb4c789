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
            let clients = client_sessions(&env, &server);
            if clients == ["app-1"] {
                return Some(());
            }
            let (dead, screen) = pane(&env, &server, "mine");
            assert!(
                !dead && clients.len() < 2,
                "ao attach did not switch the client (clients: {clients:?}); its pane shows:\n{screen}"
            );
            None
        },
    );
}
