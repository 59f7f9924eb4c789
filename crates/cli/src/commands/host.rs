//! `ao start` and `ao stop`: the supervising host, in the foreground or detached, with
//! its log in `$AO_HOME/logs/host.log` (rotated at 10 MiB, three kept).

use super::session::{block_on, manager, user};
use crate::error::UserError;
use ao_core::until::wait_until;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The log grows to this before it is rotated.
const LOG_LIMIT: u64 = 10 * 1024 * 1024;
/// Rotated logs kept (`host.log.1` newest).
const LOG_KEEP: u32 = 3;
/// Set in a detached host's environment: it logs to its file only.
const DETACHED_ENV: &str = "AO_HOST_DETACHED";

/// Where the host logs.
pub fn log_path(home: &Path) -> PathBuf {
    home.join("logs").join("host.log")
}

/// The host's log file, rotated when it passes [`LOG_LIMIT`], and a copy of every line
/// to stderr when the host runs in the foreground.
#[derive(Clone)]
struct HostLog {
    inner: Arc<Mutex<LogFile>>,
    echo: bool,
}

struct LogFile {
    path: PathBuf,
    file: Option<std::fs::File>,
    size: u64,
}

impl LogFile {
    fn open(path: &Path) -> std::io::Result<LogFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut log = LogFile {
            path: path.to_owned(),
            file: Some(file),
            size,
        };
        if log.size >= LOG_LIMIT {
            log.rotate();
        }
        Ok(log)
    }

    /// host.log.2 → .3, .1 → .2, host.log → .1, and a new host.log.
    fn rotate(&mut self) {
        self.file = None;
        let name = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        for n in (1..LOG_KEEP).rev() {
            let _ = std::fs::rename(name(n), name(n + 1));
        }
        let _ = std::fs::rename(&self.path, name(1));
        self.file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .ok();
        self.size = 0;
    }
}

impl Write for HostLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if log.size + buf.len() as u64 > LOG_LIMIT {
            log.rotate();
        }
        if let Some(f) = log.file.as_mut() {
            f.write_all(buf)?;
        }
        log.size += buf.len() as u64;
        if self.echo {
            let _ = std::io::stderr().write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for HostLog {
    type Writer = HostLog;
    fn make_writer(&'a self) -> HostLog {
        self.clone()
    }
}

/// The host's level: `RUST_LOG` or `AO_LOG` (a level: error, warn, info, debug, trace;
/// in `RUST_LOG`'s `target=level` form, the last level given), info by default.
fn host_level() -> tracing::Level {
    ["RUST_LOG", "AO_LOG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find_map(|v| {
            v.split(',')
                .rev()
                .find_map(|d| d.rsplit('=').next()?.trim().parse::<tracing::Level>().ok())
        })
        .unwrap_or(tracing::Level::INFO)
}

/// `ao start`'s dashboard flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct DashboardFlags {
    /// `--port N`.
    pub port: Option<u16>,
    /// `--no-dashboard`.
    pub no_dashboard: bool,
}

/// The dashboard's settings, or the refusal of an unsafe or wrong one (before anything
/// starts); `None` with `--no-dashboard`.
fn dashboard_settings(
    m: &ao_core::session::Manager,
    home: &Path,
    flags: DashboardFlags,
) -> anyhow::Result<Option<ao_web::Settings>> {
    if flags.no_dashboard {
        return Ok(None);
    }
    let file = &m.config().file;
    let base = file.parent().unwrap_or(Path::new("."));
    ao_web::Settings::of(&m.config().config, flags.port, home, base)
        .map(Some)
        .map_err(|e| UserError::usage(e.to_string()).hint(e.hint()).into())
}

/// Serves the dashboard beside the host, saying where; one that cannot listen is said,
/// and the host runs on without it; a certificate that cannot be used is refused.
fn serve_dashboard(
    settings: ao_web::Settings,
    echo: bool,
) -> Result<Option<ao_web::Running>, UserError> {
    let say = |line: String, warn: bool| {
        if warn {
            tracing::warn!("{line}");
        } else {
            tracing::info!("{line}");
        }
        if echo {
            eprintln!("{line}");
        }
    };
    // The session page's actions, each on a manager over the config as it is then (a
    // reload replaces the host's), with the CLI's words for a refusal.
    let ops = ao_web::Ops {
        manager: Arc::new(|| super::session::manager().map_err(|e| format!("{e:#}"))),
        hint: crate::error::manager_hint,
    };
    match ao_web::start(settings, ops) {
        Ok(running) => {
            let on = running
                .listening_on()
                .map(|a| format!(" (listening on {a})"))
                .unwrap_or_default();
            say(
                format!(
                    "dashboard: {}{on}; `ao dashboard` prints a login link",
                    running.url()
                ),
                false,
            );
            Ok(Some(running))
        }
        Err(e @ ao_web::ServeError::Tls(_)) => Err(UserError::usage(e.to_string()).hint(e.hint())),
        Err(e) => {
            say(format!("{e}; {}", e.hint()), true);
            Ok(None)
        }
    }
}

/// `ao start [PROJECT...] [--detach] [--port N] [--no-dashboard]`.
pub fn start(
    projects: &[String],
    detach: bool,
    orchestrators: bool,
    flags: DashboardFlags,
) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    for p in projects {
        m.project(p).map_err(user)?;
    }
    let home = super::home();
    let dashboard = dashboard_settings(&m, &home, flags)?;
    if detach {
        return start_detached(&m, projects, &home, orchestrators, flags);
    }
    let _lock = m.lock_host().map_err(user)?;
    // Before the host's threads start (its log, its stream, its dashboard).
    ao_core::mem::one_arena();
    let log = log_path(&home);
    let detached = std::env::var_os(DETACHED_ENV).is_some();
    match LogFile::open(&log) {
        Ok(file) => {
            let writer = HostLog {
                inner: Arc::new(Mutex::new(file)),
                echo: !detached,
            };
            let _ = tracing_subscriber::fmt()
                .with_max_level(host_level())
                .with_writer(writer)
                .with_ansi(false)
                .try_init();
        }
        Err(e) => eprintln!(
            "warning: cannot write the host's log {}: {e}",
            log.display()
        ),
    }
    // Served for the whole of this process, across reloads of its config (the page
    // follows each run's stream); its own settings are read once, here.
    let _dashboard = match dashboard {
        Some(d) => serve_dashboard(d, !detached)?,
        None => None,
    };
    if !detached {
        eprintln!(
            "ao host watching {} (pid {}); log: {}; Ctrl-C or `ao stop` ends it",
            if projects.is_empty() {
                home.display().to_string()
            } else {
                projects.join(", ")
            },
            std::process::id(),
            log.display()
        );
    }
    let signal = block_on(async {
        // Handlers first: `ao stop` while the orchestrators start ends the host cleanly.
        let signal = crate::signals::watch();
        if orchestrators {
            let ids: Vec<String> = if projects.is_empty() {
                m.config().config.projects.keys().cloned().collect()
            } else {
                projects.to_vec()
            };
            start_orchestrators(&m, ids, detached).await;
        }
        // The signal, kept across the host's runs (one per config it runs on).
        let (tx, mut rx) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            let s = signal.await;
            let _ = tx.send(Some(s));
        });
        let mut m = m;
        // The config's files as they were when it was read; each run watches for edits
        // since, so one made while the host reloads is seen by the next run.
        let mut files = ao_core::session::FilesSeen::of(m.config());
        loop {
            let mut stopped = rx.clone();
            let end = m
                .run_host(
                    projects,
                    async move {
                        let _ = stopped.wait_for(Option::is_some).await;
                    },
                    files,
                )
                .await;
            match end {
                ao_core::session::HostEnd::Stopped => break,
                ao_core::session::HostEnd::ConfigChanged(seen) => files = seen,
            }
            let before: Vec<String> = m.config().config.projects.keys().cloned().collect();
            m = reload(m);
            // A project the edit added gets its orchestrator, as at the start (a host
            // that watches all projects; one given projects watches those alone).
            if orchestrators && projects.is_empty() {
                let added = m
                    .config()
                    .config
                    .projects
                    .keys()
                    .filter(|id| !before.contains(id))
                    .cloned()
                    .collect();
                start_orchestrators(&m, added, detached).await;
            }
        }
        *rx.borrow_and_update()
    })?;
    let how = signal.map(|s| format!(" ({})", s.name)).unwrap_or_default();
    tracing::info!("ao host stopped{how}");
    if !detached {
        eprintln!("ao host stopped{how}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts (or keeps) the orchestrator of each project of `ids`, and says what became of
/// each in the log (and on the terminal, unless detached).
async fn start_orchestrators(m: &ao_core::session::Manager, ids: Vec<String>, detached: bool) {
    for id in ids {
        let line = match m.ensure_orchestrator(&id).await {
            Ok((action, s)) => {
                format!("{}: {action}; `ao orchestrator {id}` attaches to it", s.id)
            }
            Err(e) => format!("project `{id}`: its orchestrator did not start: {e}"),
        };
        tracing::info!("{line}");
        if !detached {
            eprintln!("{line}");
        }
    }
}

/// The host's manager after an edit of its config: a new one over the edited config
/// (which says what changed), or, when the edit does not load, the one running (the
/// refusal said with its file:line in the log and the events).
fn reload(m: Arc<ao_core::session::Manager>) -> Arc<ao_core::session::Manager> {
    match super::session::manager() {
        Ok(new) => {
            match new.adopt_config(m.config()) {
                Ok(lines) => lines.iter().for_each(|l| tracing::info!("{l}")),
                Err(e) => tracing::warn!("{e}"),
            }
            new
        }
        Err(e) => {
            let why = match e.downcast_ref::<ao_core::config::ConfigError>() {
                Some(config) => config
                    .diagnostics
                    .iter()
                    .map(|d| crate::ui::render_diagnostic(d, &crate::ui::Paint::plain()))
                    .collect::<Vec<_>>()
                    .join("\n"),
                None => format!("{e:#}"),
            };
            match m.refuse_config(&why) {
                Ok(line) => tracing::warn!("{line}"),
                Err(e) => tracing::warn!("{e}"),
            }
            m
        }
    }
}

/// Starts the host in the background, in a session of its own, and waits until it holds
/// its lock (or says why it could not).
fn start_detached(
    m: &ao_core::session::Manager,
    projects: &[String],
    home: &Path,
    orchestrators: bool,
    flags: DashboardFlags,
) -> anyhow::Result<ExitCode> {
    if let Some(e) = other_host(m, home) {
        return Err(e.into());
    }
    let log = log_path(home);
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| UserError::failed(format!("cannot make {}: {e}", dir.display())))?;
    }
    // What the host cannot log itself (a panic, an error before its log opens).
    let early = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| UserError::failed(format!("cannot write {}: {e}", log.display())))?;
    let exe = std::env::current_exe()
        .map_err(|e| UserError::failed(format!("cannot find ao's own binary: {e}")))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("start").args(projects);
    if !orchestrators {
        cmd.arg("--no-orchestrator");
    }
    if flags.no_dashboard {
        cmd.arg("--no-dashboard");
    }
    if let Some(port) = flags.port {
        cmd.arg("--port").arg(port.to_string());
    }
    cmd.env(DETACHED_ENV, "1")
        .env("AO_HOME", home)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(early);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own session: the terminal closing does not end it.
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
    }
    let logged_before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| UserError::failed(format!("cannot start the host: {e}")))?;
    let pid = child.id();
    // It holds its lock, or it ended first.
    let started = wait_until("the host's lock", Duration::from_secs(10), || {
        if m.running_host() == Some(pid) {
            return Some(None);
        }
        child.try_wait().ok().flatten().map(Some)
    });
    match started {
        Ok(None) => {
            println!("host started (pid {pid}); log: {}", log.display());
            // What became of the orchestrators: the host records itself once they are
            // started (an agent CLI may take a while).
            let _ = wait_until("the host's record", Duration::from_secs(60), || {
                m.host_state().map(|_| ())
            });
            let text = std::fs::read(&log).unwrap_or_default();
            let text = String::from_utf8_lossy(&text[(logged_before as usize).min(text.len())..])
                .into_owned();
            // Log entries start with their time; a message's further lines do not.
            let mut entries: Vec<String> = Vec::new();
            for line in text.lines() {
                match entries.last_mut() {
                    Some(e) if !line.starts_with(|c: char| c.is_ascii_digit()) => {
                        e.push('\n');
                        e.push_str(line);
                    }
                    _ => entries.push(line.to_owned()),
                }
            }
            let said = |e: &&String| e.contains("orchestrator") || e.contains("dashboard");
            for e in entries.iter().filter(said) {
                // Without the log's time and target.
                println!("{}", e.split_once(": ").map(|(_, s)| s).unwrap_or(e));
            }
            println!("`ao status` shows it; `ao stop` ends it");
            Ok(ExitCode::SUCCESS)
        }
        Ok(Some(status)) => {
            // Another `ao start` took the lock between the check above and this host's start.
            if let Some(e) = other_host(m, home) {
                return Err(e.into());
            }
            Err(
                UserError::failed(format!("the host exited at once ({status})"))
                    .hint(format!("its log says why: {}", log.display()))
                    .into(),
            )
        }
        Err(_) => Err(UserError::failed(format!(
            "the host (pid {pid}) did not take its lock within 10 s"
        ))
        .hint(format!("its log may say why: {}", log.display()))
        .into()),
    }
}

/// The refusal for a host that already runs, if one does (or has the lock and is about to
/// record its pid: waited for briefly).
fn other_host(m: &ao_core::session::Manager, home: &Path) -> Option<UserError> {
    // Its pid, or that nobody holds the lock after all.
    let pid = match wait_until("the host's pid", Duration::from_secs(2), || {
        match m.running_host() {
            Some(pid) => Some(Some(pid)),
            None if !m.host_lock_held() => Some(None),
            None => None,
        }
    }) {
        Ok(None) => return None,
        Ok(pid) => pid,
        Err(_) => None,
    };
    Some(
        UserError::failed(format!(
            "a host already runs for {}{}",
            home.display(),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ))
        .hint("`ao stop` ends it; one host watches every project of an AO_HOME"),
    )
}

/// `ao stop [--all]`: ends the running host and waits until it has; with `--all`, every
/// project's orchestrator session too.
pub fn stop(all: bool) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    let code = stop_host(&m)?;
    if all {
        for id in m.config().config.projects.keys() {
            let Ok(p) = m.project(id) else { continue };
            let session = ao_core::model::SessionId::orchestrator(&p.session_prefix).to_string();
            let Ok(s) = m.session(&session) else { continue };
            if s.status.is_terminal() {
                continue;
            }
            let report = block_on(m.kill(&session, ao_core::session::KillOptions::default()))?
                .map_err(user)?;
            println!("{session}: {}", report.done.join("; "));
        }
    }
    Ok(code)
}

fn stop_host(m: &ao_core::session::Manager) -> anyhow::Result<ExitCode> {
    let Some(pid) = m.running_host() else {
        println!("no host runs for {}", super::home().display());
        return Ok(ExitCode::SUCCESS);
    };
    #[cfg(unix)]
    // SAFETY: kill with a pid read from the host's own lock, and a plain signal.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    if wait_until("the host's end", Duration::from_secs(15), || {
        m.running_host().is_none().then_some(())
    })
    .is_err()
    {
        return Err(UserError::failed(format!(
            "the host (pid {pid}) did not end within 15 s of SIGTERM"
        ))
        .hint(format!(
            "`kill -9 {pid}` ends it; the next `ao start` takes over its lock"
        ))
        .into());
    }
    println!("stopped the host (pid {pid})");
    Ok(ExitCode::SUCCESS)
}

/// `ao orchestrator [PROJECT]`: attaches to the project's orchestrator session.
pub fn orchestrator(project: Option<&str>) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    let ids: Vec<String> = m.config().config.projects.keys().cloned().collect();
    let id = match (project, ids.as_slice()) {
        (Some(p), _) => p.to_owned(),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(UserError::usage(format!(
                "the config has {} projects; say whose orchestrator: {}",
                ids.len(),
                ids.join(", ")
            ))
            .hint("`ao orchestrator PROJECT`")
            .into());
        }
    };
    let p = m.project(&id).map_err(user)?;
    let session = ao_core::model::SessionId::orchestrator(&p.session_prefix).to_string();
    if m.session(&session).is_err() {
        return Err(
            UserError::failed(format!("project `{id}` has no orchestrator session"))
                .hint("`ao start` starts it (unless --no-orchestrator)")
                .into(),
        );
    }
    super::session::attach(&session)
}

/// `ao update`: which ao this is, and how this install updates itself. It changes
/// nothing: an install from a clone updates from that clone.
pub fn update() -> anyhow::Result<ExitCode> {
    let version = env!("CARGO_PKG_VERSION");
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "ao".into());
    println!("ao {version} ({exe})");
    // The checkout this binary was built from, when it is still there.
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = cli
        .parent()
        .and_then(Path::parent)
        .filter(|r| r.join(".git").exists());
    match root {
        Some(root) => {
            let there = std::fs::read_to_string(root.join("Cargo.toml"))
                .ok()
                .and_then(|t| {
                    t.lines().find_map(|l| {
                        l.strip_prefix("version = ")
                            .map(|v| v.trim_matches('"').to_owned())
                    })
                });
            if let Some(v) = there.filter(|v| v != version && !v.is_empty()) {
                println!(
                    "the checkout it was built from, {}, is at {v} now",
                    root.display()
                );
            }
            println!(
                "to update: git -C {root} pull && cargo install --locked --path {root}/crates/cli",
                root = root.display()
            );
        }
        None => println!(
            "to update: in a clone of ao's repository, git pull && cargo install --locked --path crates/cli"
        ),
    }
    Ok(ExitCode::SUCCESS)
}
