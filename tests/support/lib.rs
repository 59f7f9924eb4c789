//! Test support for ao's end-to-end suites: a hermetic environment per test (fake HOME,
//! private AO_HOME, no user git config), real git repositories with a local bare origin,
//! and a runner for the real `ao` binary that shows everything when a test fails.

pub mod bench;
pub mod dbus;
pub mod github;
pub mod model;
pub mod receiver;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The directory holding the workspace's binaries (`ao`, `reserve-ids`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // target/<profile>/deps/e2e-<hash> -> target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_owned()
}

/// The `ao` binary under test, built once per test run from the current sources.
///
/// `cargo test` builds a package's binaries only for that package's own integration
/// tests, so this suite (its own workspace member) builds `ao` itself, with the same
/// cargo, profile and target directory; without that it would test a stale binary.
pub fn ao_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = bin_dir();
            cargo_build(&["-p", "ao-cli", "--bin", "ao"], None);
            let bin = dir.join(format!("ao{}", std::env::consts::EXE_SUFFIX));
            assert!(
                bin.is_file(),
                "{} is missing after the build",
                bin.display()
            );
            bin
        })
        .clone()
}

/// Runs `cargo build ARGS` (of `manifest`'s package, if given) with the test's own cargo,
/// profile and target directory, from the repository's root; fails the test if it fails.
pub fn cargo_build(args: &[&str], manifest: Option<&Path>) {
    let dir = bin_dir();
    let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
    let target_dir = dir.parent().expect("target/<profile> has a parent");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // What cargo set for this test crate is not this build's: a build script that
    // watches such a variable (ring watches CARGO_MANIFEST_DIR) would rebuild everything
    // above it on every run.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if matches!(
            key.as_ref(),
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_BIN_NAME"
                | "CARGO_MANIFEST_LINKS"
        ) || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.args(["build", "--quiet", "--locked"]).args(args);
    if let Some(m) = manifest {
        cmd.arg("--manifest-path").arg(m);
    }
    cmd.arg("--profile")
        .arg(if profile == "debug" { "dev" } else { profile })
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(repo_root());
    let run = Run::of(cmd, &repo_root());
    assert_eq!(
        run.code,
        0,
        "cargo build {args:?} failed\n{}",
        run.explain()
    );
}

/// The plugin libraries the tests load (the examples and `tests/plugins/`), built once
/// per test run; returns the path of the one whose crate is `package`.
pub fn plugin_lib(package: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut args = Vec::new();
        for p in PLUGIN_PACKAGES {
            args.extend(["-p", p]);
        }
        cargo_build(&args, None);
    });
    assert!(
        PLUGIN_PACKAGES.contains(&package),
        "{package} is not one of the plugin packages the suite builds"
    );
    let lib = bin_dir().join(format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    ));
    assert!(
        lib.is_file(),
        "{} is missing after the build",
        lib.display()
    );
    lib
}

/// The plugin crates [`plugin_lib`] builds.
pub const PLUGIN_PACKAGES: &[&str] = &[
    "ao-example-file-notifier",
    "ao-example-file-tracker",
    "ao-test-plugin-misbehaving",
    "ao-test-plugin-abi-mismatch",
    "ao-test-plugin-no-entry",
    "ao-test-plugin-tmux-runtime",
    "ao-test-plugin-line-agent",
    "ao-test-plugin-old-scm",
];

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The tests' fixtures in the repository (`tests/fixtures`: GitHub's schema, the reference's
/// config schema and samples), each with its license; see the README there.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The directory every test's home lives in: `<target>/ao-tests`, with no directory
/// above it that other users can write to. Agent CLIs rightly ignore settings kept under
/// such a directory (Gemini CLI does), and a test's home must be as private as a user's.
/// A target directory under a world-writable one (a clone in `/tmp`) is refused, saying
/// what to do. Mode 0711: no one else lists or writes it, and the tests that act as an
/// ordinary user (`setpriv`) can still reach a test home they were given, as a user
/// reaches their own; each test's own directory is 0700.
pub fn tests_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = bin_dir()
            .parent()
            .expect("target/<profile> has a parent")
            .canonicalize()
            .expect("the target directory exists");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for dir in target.ancestors() {
                let mode = std::fs::metadata(dir).map(|m| m.permissions().mode());
                assert!(
                    mode.map_or(true, |m| m & 0o002 == 0),
                    "the build's target directory {} lies under {}, which every user can write \
                     to; test homes must be private (agent CLIs ignore settings kept there). \
                     Clone ao elsewhere, or set CARGO_TARGET_DIR to a directory outside it",
                    target.display(),
                    dir.display()
                );
            }
        }
        let dir = target.join("ao-tests");
        std::fs::create_dir_all(&dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        }
        dir
    })
    .clone()
}

/// A hermetic environment: a temporary directory holding HOME and AO_HOME.
pub struct TestEnv {
    /// Keeps the directory alive.
    pub tmp: tempfile::TempDir,
    /// The fake home directory.
    pub home: PathBuf,
    /// `$AO_HOME`.
    pub ao_home: PathBuf,
    /// Extra environment for every command.
    pub env: Vec<(String, OsString)>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// A fresh environment.
    pub fn new() -> TestEnv {
        let tmp = tempfile::Builder::new()
            .prefix("ao-test-")
            .tempdir_in(tests_dir())
            .unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let home = root.join("home");
        let ao_home = root.join("ao-home");
        std::fs::create_dir_all(&home).unwrap();
        TestEnv {
            tmp,
            home,
            ao_home,
            env: Vec::new(),
        }
    }

    /// The temporary root.
    pub fn root(&self) -> PathBuf {
        self.home.parent().unwrap().to_owned()
    }

    /// Sets an environment variable for every later command.
    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.env.push((key.to_owned(), value.into()));
    }

    /// A command with the hermetic environment: cleared, then HOME, AO_HOME, PATH and
    /// git settings that ignore the machine's own config.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("AO_HOME", &self.ao_home)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "ao test")
            .env("GIT_AUTHOR_EMAIL", "test@ao.invalid")
            .env("GIT_COMMITTER_NAME", "ao test")
            .env("GIT_COMMITTER_EMAIL", "test@ao.invalid")
            .env("NO_COLOR", "1")
            .env("LANG", "C.UTF-8")
            // The test homes live inside the repository's target directory: ao's walk
            // up for a config, and git's (ao's and the git CLI's) for a repository, must
            // not reach ao's own.
            .env("AO_CONFIG_CEILING_DIRECTORIES", tests_dir())
            .env("GIT_CEILING_DIRECTORIES", tests_dir())
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `ao args` in `cwd`.
    pub fn ao(&self, cwd: &Path, args: &[&str]) -> Run {
        let mut cmd = self.command(ao_bin());
        cmd.args(args).current_dir(cwd);
        Run::of(cmd, cwd)
    }

    /// Runs git in `cwd` and fails the test if git fails.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        let mut cmd = self.command("git");
        cmd.args(args).current_dir(cwd);
        let run = Run::of(cmd, cwd);
        run.success();
        run.stdout
    }

    /// A git repository `name` under the root, with one commit on `branch` pushed to a
    /// bare `origin` beside it whose HEAD names `branch`.
    pub fn repo_with_origin(&self, name: &str, branch: &str) -> PathBuf {
        let root = self.root();
        let origin = root.join(format!("{name}-origin.git"));
        self.git(
            &root,
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                branch,
                origin.to_str().unwrap(),
            ],
        );
        let work = root.join(name);
        self.git(&root, &["init", "-q", "-b", branch, work.to_str().unwrap()]);
        std::fs::write(work.join("README.md"), "hello\n").unwrap();
        self.git(&work, &["add", "."]);
        self.git(&work, &["commit", "-q", "-m", "first"]);
        self.git(
            &work,
            &["remote", "add", "origin", origin.to_str().unwrap()],
        );
        self.git(&work, &["push", "-q", "origin", branch]);
        work
    }

    /// A git repository with one commit and no remote, at `path`.
    pub fn plain_repo(&self, path: &Path) -> PathBuf {
        std::fs::create_dir_all(path).unwrap();
        self.git(path, &["init", "-q", "-b", "main"]);
        std::fs::write(path.join("README.md"), "hello\n").unwrap();
        self.git(path, &["add", "."]);
        self.git(path, &["commit", "-q", "-m", "first"]);
        path.to_owned()
    }

    /// Writes an executable `name` with `body` into a directory of its own under the
    /// root and puts that directory first on PATH for every later command.
    pub fn script_on_path(&mut self, dir: &str, name: &str, body: &str) -> PathBuf {
        let bin = self.root().join(dir);
        std::fs::create_dir_all(&bin).unwrap();
        let script = bin.join(name);
        std::fs::write(&script, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        self.set("PATH", path);
        script
    }

    /// Replaces the temporary root in `text` with `[ROOT]`, for snapshots.
    pub fn normalize(&self, text: &str) -> String {
        text.replace(self.root().to_str().unwrap(), "[ROOT]")
    }
}

/// A finished command, with everything needed to explain a failure.
pub struct Run {
    /// The command line.
    pub command: String,
    /// Where it ran.
    pub cwd: PathBuf,
    /// Its exit code (-1 if killed).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Runs `cmd` to completion.
    pub fn of(mut cmd: Command, cwd: &Path) -> Run {
        let command = format!("{:?}", cmd);
        let out: Output = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
        Run {
            command,
            cwd: cwd.to_owned(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// What the user saw of `ao <shown>`, for a snapshot: the command line, its output,
    /// then its errors and exit code, with `root` (a test's temporary root) as `[ROOT]`.
    pub fn seen(&self, shown: &str, root: &Path) -> String {
        let text = format!(
            "$ ao {shown}\n{}{}[exit {}]\n",
            self.stdout, self.stderr, self.code
        );
        text.replace(root.to_str().unwrap(), "[ROOT]")
    }

    /// Everything about the run, for a failing assertion.
    pub fn explain(&self) -> String {
        let listing = std::fs::read_dir(&self.cwd)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        format!(
            "command: {}\ncwd: {}\ncwd holds: {listing}\nexit code: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.cwd.display(),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// Asserts exit code 0.
    pub fn success(&self) -> &Run {
        self.code(0)
    }

    /// Asserts the exit code.
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit code\n{}", self.explain());
        self
    }

    /// Asserts that stdout contains `text`.
    pub fn stdout_has(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n{}",
            self.explain()
        );
        self
    }

    /// Asserts that stderr contains `text`.
    pub fn stderr_has(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n{}",
            self.explain()
        );
        self
    }
}

/// A tmux server on a private socket, for driving terminal programs in tests.
pub struct Tmux<'a> {
    env: &'a TestEnv,
    socket: PathBuf,
}

impl<'a> Tmux<'a> {
    /// A server whose socket lives in the test's directory; it is killed on drop.
    pub fn new(env: &'a TestEnv) -> Tmux<'a> {
        Tmux {
            env,
            socket: env.root().join("tmux.sock"),
        }
    }

    fn tmux(&self, args: &[&str]) -> Run {
        let mut cmd = self.env.command("tmux");
        cmd.arg("-S").arg(&self.socket).args(args);
        Run::of(cmd, &self.env.root())
    }

    /// Starts `argv` as the only pane of session `name`, in `cwd`; the pane stays after
    /// the program exits so its last screen can be read.
    pub fn start(&self, name: &str, cwd: &Path, argv: &[&str]) {
        let mut args = vec![
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "120",
            "-y",
            "40",
            "-c",
        ];
        let cwd = cwd.to_str().unwrap();
        args.push(cwd);
        args.push("--");
        args.extend_from_slice(argv);
        self.tmux(&args).success();
        self.tmux(&["set-option", "-t", name, "remain-on-exit", "on"])
            .success();
    }

    /// The visible screen of session `name`.
    pub fn screen(&self, name: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-t", name]).stdout
    }

    /// Waits until the screen shows `text`, for at most 10 s, then fails showing the screen.
    pub fn wait_for(&self, name: &str, text: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let screen = self.screen(name);
            if screen.contains(text) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {text:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Types `text` and presses Enter.
    pub fn type_line(&self, name: &str, text: &str) {
        if !text.is_empty() {
            self.tmux(&["send-keys", "-t", name, "-l", text]).success();
        }
        self.tmux(&["send-keys", "-t", name, "Enter"]).success();
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// Whether a benchmark binary runs as a quick check rather than for its figures: `cargo
/// bench` passes `--bench`; `cargo test` (which runs the benchmarks too) does not, and
/// gets one short iteration of each, so a broken benchmark fails the tests.
pub fn bench_quick() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// Waits until `check` returns something, for at most 20 s, then fails saying `what`.
pub fn wait_until<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_for(what, std::time::Duration::from_secs(20), check)
}

/// [`wait_until`] with a deadline of `within`.
pub fn wait_for<T>(
    what: &str,
    within: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// A repository with an origin, a config whose project `app` uses the `command` agent,
/// and a private tmux server for its sessions (killed on drop).
pub struct Fleet {
    /// The environment.
    pub env: TestEnv,
    /// The project's repository.
    pub repo: PathBuf,
    /// The tmux server's socket.
    pub socket: PathBuf,
    /// The ao processes [`Fleet::ao_child`] started, stopped with the fleet: a test that
    /// fails with a host running leaves none behind.
    children: std::sync::Mutex<Vec<u32>>,
}

impl Fleet {
    /// `project_yaml` is added under `projects.app` (indented by four spaces already).
    pub fn new(project_yaml: &str) -> Fleet {
        let env = TestEnv::new();
        let repo = env.repo_with_origin("repo", "main");
        let socket = env.root().join("ao-tmux.sock");
        let config = format!(
            "runtimes:\n  tmux:\n    socket: {}\nprojects:\n  app:\n    path: {}\n    tracker:\n      plugin: prompt\n{project_yaml}",
            socket.display(),
            repo.display()
        );
        std::fs::write(repo.join("agent-orchestrator.yaml"), config).unwrap();
        // Ignored, so the config itself is not work a worktree could lose.
        std::fs::write(repo.join(".git/info/exclude"), "agent-orchestrator.yaml\n").unwrap();
        Fleet {
            env,
            repo,
            socket,
            children: Default::default(),
        }
    }

    /// Runs `ao args` in the repository.
    pub fn ao(&self, args: &[&str]) -> Run {
        self.env.ao(&self.repo, args)
    }

    /// Makes the project's spawns run `cat` and hold in `postCreate` until the returned
    /// file exists, so a test can act while a spawn is under way.
    pub fn hold_spawns_in_post_create(&self) -> PathBuf {
        let gate = self.env.root().join("gate");
        let file = self.repo.join("agent-orchestrator.yaml");
        let config = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            format!(
                "{config}    agent: command\n    agentConfig:\n      command: [cat]\n    postCreate:\n      - touch '{}'; while [ ! -e '{}' ]; do sleep 0.05; done\n",
                self.post_create_reached().display(),
                gate.display()
            ),
        )
        .unwrap();
        gate
    }

    /// Where a spawn held by [`Fleet::hold_spawns_in_post_create`] says it got there.
    fn post_create_reached(&self) -> PathBuf {
        self.env.root().join("in-post-create")
    }

    /// Waits until a spawn held by [`Fleet::hold_spawns_in_post_create`] runs its
    /// postCreate (its worktree and branch made), and forgets it for the next one.
    pub fn wait_spawn_in_post_create(&self) {
        let reached = self.post_create_reached();
        wait_until("the spawn to reach postCreate", || {
            std::fs::remove_file(&reached).ok()
        });
    }

    /// Starts `ao args` in the repository without waiting, its output captured.
    pub fn ao_child(&self, args: &[&str]) -> std::process::Child {
        let mut cmd = self.env.command(ao_bin());
        cmd.args(args)
            .current_dir(&self.repo)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("ao starts");
        if let Ok(mut children) = self.children.lock() {
            children.push(child.id());
        }
        child
    }

    /// Runs tmux against the fleet's server.
    pub fn tmux(&self, args: &[&str]) -> Run {
        let mut cmd = self.env.command("tmux");
        cmd.arg("-S").arg(&self.socket).args(args);
        Run::of(cmd, &self.env.root())
    }

    /// `ao stop`s the host `host` runs and checks it ended cleanly.
    pub fn stop_host(&self, host: std::process::Child) {
        self.ao(&["stop"]).success();
        let out = host.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The tmux sessions on the fleet's server.
    pub fn tmux_sessions(&self) -> Vec<String> {
        let run = self.tmux(&["list-sessions", "-F", "#{session_name}"]);
        run.stdout.lines().map(str::to_owned).collect()
    }

    /// `git worktree list` of the repository, one path per line.
    pub fn worktrees(&self) -> Vec<String> {
        self.env
            .git(&self.repo, &["worktree", "list", "--porcelain"])
            .lines()
            .filter_map(|l| l.strip_prefix("worktree ").map(str::to_owned))
            .collect()
    }

    /// The local branches of the repository.
    pub fn branches(&self) -> Vec<String> {
        self.env
            .git(&self.repo, &["branch", "--format=%(refname:short)"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Where session `id`'s worktree goes by default.
    pub fn worktree(&self, id: &str) -> PathBuf {
        self.env.ao_home.join("worktrees").join("app").join(id)
    }

    /// `ao session ls --all --json`, parsed.
    pub fn sessions(&self) -> Vec<serde_json::Value> {
        let run = self.ao(&["session", "ls", "--all", "--json"]);
        run.success();
        serde_json::from_str(&run.stdout).unwrap()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let mut children = self.children.lock().map(|c| c.clone()).unwrap_or_default();
        // And a host started detached (`ao start --detach`), by the pid its lock records.
        if let Some(host) = std::fs::read_to_string(self.env.ao_home.join("host.lock"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            children.push(host);
        }
        for pid in children {
            // Only while that pid is still an ao of this fleet (its environment names the
            // fleet's home), not a process that took the number since.
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let home = format!("AO_HOME={}", self.env.ao_home.display());
            if environ.split(|b| *b == 0).any(|var| var == home.as_bytes()) {
                // SAFETY: a plain signal to a process this fleet started.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        let _ = self.tmux(&["kill-server"]);
    }
}

/// Set (to anything but `0`) where a missing agent CLI must fail its tests rather than
/// skip them; `.ci/run` sets it.
pub const REQUIRE_AGENTS_ENV: &str = "AO_REQUIRE_AGENTS";

/// Why tests were skipped in this run, printed when the test process ends.
static SKIPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

extern "C" fn print_skipped() {
    let all = SKIPPED.lock().map(|s| s.clone()).unwrap_or_default();
    let mut reasons: Vec<String> = Vec::new();
    for why in &all {
        let n = all.iter().filter(|c| *c == why).count();
        let line = if n == 1 {
            why.clone()
        } else {
            format!("{why} (x{n})")
        };
        if !reasons.contains(&line) {
            reasons.push(line);
        }
    }
    if !all.is_empty() {
        // After the harness's own summary, where a person reading the run sees it.
        eprintln!(
            "\n!!!! {} test{} SKIPPED: {}\n!!!! .ci/run installs every agent CLI and runs as root; set {REQUIRE_AGENTS_ENV}=1 to make a skip fail instead.\n",
            all.len(),
            if all.len() == 1 { " was" } else { "s were" },
            reasons.join("; ")
        );
    }
}

/// Records that a test does not run here, and why: counted and printed when the run
/// ends, where a person sees it (libtest hides a passing test's output). With
/// `AO_REQUIRE_AGENTS` set, the test fails instead.
pub fn skip(why: &str) {
    let required = std::env::var(REQUIRE_AGENTS_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "{why}, and {REQUIRE_AGENTS_ENV} says every test must run"
    );
    let mut skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    if skipped.is_empty() {
        // SAFETY: registers a plain function to run at exit; it only prints.
        unsafe {
            libc::atexit(print_skipped);
        }
    }
    skipped.push(why.to_owned());
}

/// The commit `branch` points at in the (bare) repository `repo`, once it is there.
pub fn branch_head(repo: &Path, branch: &str) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "rev-parse",
            "-q",
            "--verify",
            &format!("refs/heads/{branch}"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Writes an executable `dir/name` that stands in for the program `name` first on PATH:
/// `script` is given the real program's path and returns the script's text.
pub fn wrap_program(dir: &Path, name: &str, script: impl FnOnce(&str) -> String) {
    let real = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .expect("sh runs");
    let real = String::from_utf8_lossy(&real.stdout).trim().to_owned();
    assert!(!real.is_empty(), "{name} is not on PATH");
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, script(&real)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// `PATH` with `dir` first.
pub fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The benchmarks' fleet: projects `p0`..`p4`, each its own repository `acme/rN` on the
/// fake GitHub (the remote wired to its origin), with `top_yaml` (top-level config
/// lines), the lines `agent_yaml` makes (under each project, indented four spaces; given
/// the fleet's root for files of its own), and `per_repo` sessions spawned in each.
pub fn five_repo_fleet(
    gh: &github::FakeGitHub,
    top_yaml: &str,
    agent_yaml: impl FnOnce(&Path) -> String,
    per_repo: usize,
) -> Fleet {
    let mut f = Fleet::new("");
    let agent_yaml = agent_yaml(&f.env.root());
    let mut config = format!(
        "runtimes:\n  tmux:\n    socket: {}\n{top_yaml}projects:\n",
        f.socket.display()
    );
    for r in 0..5 {
        let repo = f.env.repo_with_origin(&format!("r{r}"), "main");
        gh.repo(&format!("acme/r{r}"));
        gh.remote(
            &format!("acme/r{r}"),
            &f.env.root().join(format!("r{r}-origin.git")),
        );
        config.push_str(&format!(
            "  p{r}:\n    path: {}\n    repo: acme/r{r}\n    tracker: prompt\n{agent_yaml}",
            repo.display()
        ));
    }
    std::fs::write(f.repo.join("agent-orchestrator.yaml"), config).unwrap();
    f.env.set("GH_TOKEN", github::TOKEN);
    f.env.set("GITHUB_API_URL", &gh.url);
    for r in 0..5 {
        for _ in 0..per_repo {
            f.ao(&["spawn", &format!("p{r}"), "--prompt", "benchmark task"])
                .success();
        }
    }
    f
}

/// An agent CLI on PATH, or `None` when it is missing: then the test is skipped (see
/// [`skip`]), or, with `AO_REQUIRE_AGENTS` set, fails.
pub fn agent_cli(program: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        skip(&format!("`{program}` (package {package}) is not on PATH"));
    }
    found
}

/// A fleet whose project `app` runs a real agent CLI against the scripted model server,
/// with the CLI's per-user setup done in the test's own HOME as its user would have done
/// it once (onboarding finished, API key approved or logged in).
pub struct AgentFleet {
    /// The fleet.
    pub fleet: Fleet,
    /// The scripted model.
    pub model: model::ModelServer,
}

/// The API key the agents send to the scripted model.
pub const TEST_KEY: &str = "sk-ao-test-key";

impl AgentFleet {
    /// `agent` is `claude-code`, `codex`, `aider`, `opencode`, `gemini`, `qwen-code`, `copilot`, `kilo` or `cline`; `agent_config` holds extra `agentConfig` lines
    /// (indented by six spaces).
    pub fn new(agent: &str, scenario: model::Scenario, agent_config: &str) -> AgentFleet {
        let model = model::ModelServer::start(scenario);
        let env_lines = match agent {
            "claude-code" => format!(
                "        ANTHROPIC_BASE_URL: {}\n        ANTHROPIC_API_KEY: {TEST_KEY}\n        DISABLE_AUTOUPDATER: \"1\"\n        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: \"1\"\n",
                model.url
            ),
            "aider" => format!(
                "        OPENAI_API_BASE: {}/v1\n        OPENAI_API_KEY: {TEST_KEY}\n        LITELLM_LOCAL_MODEL_COST_MAP: \"True\"\n",
                model.url
            ),
            "opencode" => "        OPENCODE_DISABLE_MODELS_FETCH: \"1\"\n".to_owned(),
            "kilo" => "        KILO_DISABLE_MODELS_FETCH: \"1\"\n".to_owned(),
            "copilot" => format!(
                "        COPILOT_OFFLINE: \"true\"\n        COPILOT_PROVIDER_BASE_URL: {}/v1\n        COPILOT_PROVIDER_API_KEY: {TEST_KEY}\n        COPILOT_MODEL: test-model\n",
                model.url
            ),
            "qwen-code" => format!(
                "        OPENAI_API_KEY: {TEST_KEY}\n        OPENAI_BASE_URL: {}/v1\n        OPENAI_MODEL: test-model\n",
                model.url
            ),
            "gemini" => format!(
                "        GEMINI_API_KEY: {TEST_KEY}\n        GOOGLE_GEMINI_BASE_URL: {}\n",
                model.url
            ),
            _ => format!("        OPENAI_API_KEY: {TEST_KEY}\n"),
        };
        let fleet = Fleet::new(&format!(
            "    agent: {agent}\n    agentConfig:\n{agent_config}      env:\n{env_lines}"
        ));
        let home = &fleet.env.home;
        match agent {
            // Its endpoint, key and model come from the environment: nothing to set up.
            "qwen-code" | "copilot" => {}
            "cline" => {
                // The scripted model as an OpenAI-compatible provider, set up as its
                // user would: `cline auth`.
                let url = format!("{}/v1", model.url);
                let mut auth = fleet.env.command("cline");
                auth.args([
                    "auth",
                    "-p",
                    "openai",
                    "-k",
                    TEST_KEY,
                    "-m",
                    "test-model",
                    "-b",
                    &url,
                ]);
                Run::of(auth, &fleet.env.root()).success();
            }
            "gemini" => {
                // The user chose the API key at the CLI's first run.
                let dir = home.join(".gemini");
                std::fs::create_dir_all(&dir).unwrap();
                let settings =
                    serde_json::json!({"security": {"auth": {"selectedType": "gemini-api-key"}}});
                std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
            }
            "claude-code" => {
                let config = serde_json::json!({
                    "hasCompletedOnboarding": true,
                    "customApiKeyResponses": {"approved": [TEST_KEY], "rejected": []},
                });
                std::fs::write(home.join(".claude.json"), config.to_string()).unwrap();
            }
            "aider" => {
                // Aider's model catalogue, as its daily download would have left it, with
                // the scripted model in it.
                let dir = home.join(".aider").join("caches");
                std::fs::create_dir_all(&dir).unwrap();
                let catalogue = serde_json::json!({"test-model": {
                    "max_input_tokens": 128000, "max_output_tokens": 8192,
                    "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002,
                    "litellm_provider": "openai", "mode": "chat"}});
                std::fs::write(
                    dir.join("model_prices_and_context_window.json"),
                    catalogue.to_string(),
                )
                .unwrap();
            }
            "opencode" | "kilo" => {
                // The scripted model as an OpenAI-compatible provider in the user's config.
                // Snapshots (its undo history) off: on a loaded machine their first one
                // is slow, and Kilo Code then asks whether to turn them off, a question no
                // test is about.
                let dir = home.join(".config").join(agent);
                std::fs::create_dir_all(&dir).unwrap();
                let config = serde_json::json!({
                    "provider": {"scripted": {
                        "npm": "@ai-sdk/openai-compatible",
                        "name": "Scripted",
                        "options": {"baseURL": format!("{}/v1", model.url), "apiKey": TEST_KEY},
                        "models": {"test-model": {"name": "Test model"}}}},
                    "share": "disabled",
                    "snapshot": false,
                });
                std::fs::write(dir.join(format!("{agent}.json")), config.to_string()).unwrap();
            }
            _ => {
                let dir = home.join(".codex");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(
                    dir.join("config.toml"),
                    format!(
                        "openai_base_url = \"{}/v1\"\ncheck_for_update_on_startup = false\n\n[analytics]\nenabled = false\n",
                        model.url
                    ),
                )
                .unwrap();
                let mut login = fleet.env.command("codex");
                login
                    .args(["login", "--with-api-key"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = login.spawn().expect("codex login runs");
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(TEST_KEY.as_bytes())
                    .unwrap();
                let out = child.wait_with_output().unwrap();
                assert!(
                    out.status.success(),
                    "codex login failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        AgentFleet { fleet, model }
    }

    /// Runs `ao args`.
    pub fn ao(&self, args: &[&str]) -> Run {
        self.fleet.ao(args)
    }

    /// Adds a variable to the project's `agentConfig.env`.
    pub fn add_env(&self, key: &str, value: &str) {
        let file = self.fleet.repo.join("agent-orchestrator.yaml");
        let config = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            config.replace(
                "      env:\n",
                &format!("      env:\n        {key}: \"{value}\"\n"),
            ),
        )
        .unwrap();
    }

    /// Sets `readyThresholdMs`, after which a finished turn shows as idle.
    pub fn set_ready_threshold_ms(&self, ms: u64) {
        let file = self.fleet.repo.join("agent-orchestrator.yaml");
        let config = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("readyThresholdMs: {ms}\n{config}")).unwrap();
    }

    /// The session's entry in `ao status --json`.
    pub fn status(&self, id: &str) -> serde_json::Value {
        let run = self.ao(&["status", "--json"]);
        run.success();
        let list: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
        list.into_iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not in `ao status --json`:\n{}", run.stdout))
    }

    /// What the agent CLI records about the session, from `ao session info --json`, once
    /// it counts tokens (a CLI may write its usage a moment after the turn ends).
    pub fn agent_info(&self, id: &str) -> serde_json::Value {
        wait_until("tokens in `ao session info`", || {
            let run = self.ao(&["session", "info", id, "--json"]);
            run.success();
            let info: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
            let agent = info["agent_info"].clone();
            agent["tokens"]
                .as_u64()
                .is_some_and(|t| t > 0)
                .then_some(agent)
        })
    }

    /// Waits until `ao status` shows `activity` for the session; returns its entry.
    pub fn wait_activity(&self, id: &str, activity: &str) -> serde_json::Value {
        self.wait_activity_in(id, &[activity])
    }

    /// Waits until the agent's turn has ended: `ready`, or on a slow machine already
    /// `idle` (past `readyThresholdMs`) by the time `ao status` looks.
    pub fn wait_turn_ended(&self, id: &str) -> serde_json::Value {
        self.wait_activity_in(id, &["ready", "idle"])
    }

    fn wait_activity_in(&self, id: &str, activities: &[&str]) -> serde_json::Value {
        let activity = activities.join("` or `");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let last = self.status(id);
            if activities.iter().any(|a| last["activity"] == *a) {
                return last;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "{id} never showed `{activity}` in `ao status`; last: {last:#}\nscreen:\n{}",
                    self.screen(id)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits until the model holds a stream open for the session.
    pub fn wait_hold(&self, id: &str) {
        if !self.model.wait_hold(std::time::Duration::from_secs(60)) {
            panic!(
                "no held stream; requests: {:?}\nscreen:\n{}",
                self.model
                    .requests()
                    .iter()
                    .map(|r| (&r.path, r.step))
                    .collect::<Vec<_>>(),
                self.screen(id)
            );
        }
    }

    /// Presses `keys` until the screen shows `until` (a dialog may ignore keys for a moment
    /// after it is drawn).
    pub fn press_until(&self, id: &str, keys: &[&str], until: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.screen(id).contains(until) {
            assert!(
                std::time::Instant::now() < deadline,
                "pressing {keys:?} never showed {until:?}:\n{}",
                self.screen(id)
            );
            self.keys(id, keys);
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Answers the question on the screen that shows `text`: waits for it to be drawn
    /// (an agent's hooks or logs can report it a moment before its screen does), then
    /// presses `keys` until it is gone.
    pub fn press_until_gone(&self, id: &str, keys: &[&str], text: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.screen(id).contains(text) {
            assert!(
                std::time::Instant::now() < deadline,
                "the question {text:?} was never drawn:\n{}",
                self.screen(id)
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        while self.screen(id).contains(text) {
            assert!(
                std::time::Instant::now() < deadline,
                "pressing {keys:?} never closed {text:?}:\n{}",
                self.screen(id)
            );
            self.keys(id, keys);
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }

    /// The command line of the agent running as the session's pane process (after
    /// `ao __launch` has exec'd it), one element per argument.
    pub fn agent_argv(&self, id: &str) -> Vec<String> {
        let pid = self
            .fleet
            .tmux(&["display", "-p", "-t", id, "#{pane_pid}"])
            .stdout;
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap_or_default();
        String::from_utf8_lossy(&cmdline)
            .split('\0')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The session's terminal.
    pub fn screen(&self, id: &str) -> String {
        self.fleet.tmux(&["capture-pane", "-p", "-t", id]).stdout
    }

    /// Presses keys in the session's terminal (tmux key names), as its user would.
    pub fn keys(&self, id: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", id];
        args.extend_from_slice(keys);
        self.fleet.tmux(&args).success();
    }
}
