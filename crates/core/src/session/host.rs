//! The supervising host's loops (`ao start`): one per `$AO_HOME`, held by a lock file
//! that names its pid. It probes every session on one interval (the runtime, the agent's
//! hooks) and polls their pull requests on another (the two-level poll, stretched as the
//! budget runs low), and records when it last did each, so `ao status` can say so.
//! After each probe it runs the reactions ([`Manager::react`]).

use super::{Manager, ManagerError};
use crate::model::now_ms;
use std::path::PathBuf;
use std::time::Duration;

/// How often the host probes, unless `lifecycle.probeInterval` says otherwise.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How often the host polls pull requests, unless `lifecycle.pollInterval` says otherwise.
pub const POLL_INTERVAL: Duration = Duration::from_secs(30);

/// The shortest time from one pass's start to a pass that a poll falling due brings
/// forward.
const POLL_GAP: Duration = Duration::from_secs(1);

/// What the host records of itself, for `ao status` and `ao stop`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct HostState {
    /// Its process.
    pub pid: u32,
    /// When it started.
    pub started_at: i64,
    /// When it last probed the sessions.
    pub last_probe: Option<i64>,
    /// When it last polled the pull requests.
    pub last_poll: Option<i64>,
}

/// The host's lock: the file names the host's pid, and (on unix) the host holds an
/// exclusive `flock` on it while it runs, so two `ao start` at once cannot both win and
/// a host that died (even by SIGKILL) holds nothing. Removed when the host ends.
pub struct HostLock {
    path: PathBuf,
    _file: std::fs::File,
}

impl Drop for HostLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Takes the exclusive lock on `file` without waiting; false when another holds it.
#[cfg(unix)]
fn try_lock(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function borrows.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_file: &std::fs::File) -> bool {
    true
}

/// Whether nobody holds `file`'s exclusive lock (taking and dropping a shared one).
#[cfg(unix)]
fn try_lock_shared(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function borrows.
    unsafe {
        let free = libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) == 0;
        if free {
            libc::flock(file.as_raw_fd(), libc::LOCK_UN);
        }
        free
    }
}

#[cfg(not(unix))]
fn try_lock_shared(_file: &std::fs::File) -> bool {
    false
}

impl Manager {
    fn lock_path(&self) -> PathBuf {
        self.home.join("host.lock")
    }

    /// The pid of the host that runs for this `$AO_HOME`, if one does.
    pub fn running_host(&self) -> Option<u32> {
        let path = self.lock_path();
        let text = std::fs::read_to_string(&path).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        // Nobody holds the lock: whatever runs under that pid now is not a host.
        if let Ok(file) = std::fs::File::open(&path)
            && try_lock_shared(&file)
        {
            return None;
        }
        crate::exec::pid_alive(pid).then_some(pid)
    }

    /// Whether some process holds the host lock, recorded its pid or not yet (a host that
    /// has just started).
    pub fn host_lock_held(&self) -> bool {
        std::fs::File::open(self.lock_path()).is_ok_and(|file| !try_lock_shared(&file))
    }

    /// What the running host last recorded, if a host runs.
    pub fn host_state(&self) -> Option<HostState> {
        let pid = self.running_host()?;
        let (v, _) = self.store().scm_state("host").ok()??;
        // An earlier host's record is not this one's.
        serde_json::from_str::<HostState>(&v)
            .ok()
            .filter(|h| h.pid == pid)
    }

    /// Takes the host lock, or says which live host holds it. A lock a dead host left
    /// behind is taken over.
    pub fn lock_host(&self) -> Result<HostLock, ManagerError> {
        let held = |pid: Option<u32>| {
            ManagerError::refused(
                format!(
                    "a host already runs for {}{}",
                    self.home.display(),
                    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
                ),
                "`ao stop` ends it; one host watches every project of an AO_HOME",
            )
        };
        if let Some(pid) = self.running_host() {
            return Err(held(Some(pid)));
        }
        let path = self.lock_path();
        let cannot = |e: std::io::Error| {
            ManagerError::plain(format!(
                "cannot write the host lock {}: {e}",
                path.display()
            ))
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        if !try_lock(&file) {
            return Err(held(self.running_host()));
        }
        use std::io::Write;
        file.set_len(0).map_err(cannot)?;
        file.write_all(std::process::id().to_string().as_bytes())
            .map_err(cannot)?;
        Ok(HostLock { path, _file: file })
    }

    fn intervals(&self) -> (Duration, Duration) {
        let lc = self.config.config.lifecycle.as_ref();
        let pick = |v: Option<&String>, default| {
            v.and_then(|v| crate::notify::parse_duration(v))
                .filter(|d| !d.is_zero())
                .unwrap_or(default)
        };
        (
            pick(lc.and_then(|l| l.probe_interval.as_ref()), PROBE_INTERVAL),
            pick(lc.and_then(|l| l.poll_interval.as_ref()), POLL_INTERVAL),
        )
    }

    fn record_host(&self, state: &HostState) {
        if let Ok(v) = serde_json::to_string(state) {
            let _ = self.store().set_scm_state("host", &v);
        }
    }

    /// Runs the host's loops until `stop` resolves, over `projects` (every project when
    /// empty). Each probe and poll that fails is logged and tried again at its next turn;
    /// nothing ends the host but `stop`. A pass under way when `stop` comes is finished
    /// (for at most 10 s), so a reaction it claimed is done, not cut off.
    pub async fn run_host(&self, projects: &[String], stop: impl std::future::Future<Output = ()>) {
        // One runtime for the host's life: its plugin instances (and their clients) are kept.
        self.keep_instances
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let (probe_every, poll_every) = self.intervals();
        // Sessions that ended since the last host looked are still reacted to; those
        // that ended before any host ran are not.
        let since = self
            .store()
            .scm_state("host")
            .ok()
            .flatten()
            .and_then(|(v, _)| serde_json::from_str::<HostState>(&v).ok())
            .and_then(|h| h.last_probe)
            .unwrap_or_else(now_ms);
        let mut state = HostState {
            pid: std::process::id(),
            started_at: now_ms(),
            ..HostState::default()
        };
        self.record_host(&state);
        let dispatcher = self.dispatcher();
        for u in dispatcher.unready() {
            tracing::warn!("notifier {u:?} is not ready; it delivers nothing");
        }
        tracing::info!(
            "host started: probing every {} ms, polling every {} ms",
            probe_every.as_millis(),
            poll_every.as_millis()
        );
        let scopes: Vec<Option<&str>> = if projects.is_empty() {
            vec![None]
        } else {
            projects.iter().map(|p| Some(p.as_str())).collect()
        };
        tokio::pin!(stop);
        let mut next_poll = tokio::time::Instant::now();
        // Said once, when they become true, and again when they change.
        let mut unread = super::said::Said::default();
        let mut noted = super::said::Said::default();
        loop {
            let started = tokio::time::Instant::now();
            let pass = async {
                for scope in &scopes {
                    if let Err(e) = self.status(*scope, false).await {
                        tracing::warn!("probe failed: {e}");
                    }
                }
                state.last_probe = Some(now_ms());
                if tokio::time::Instant::now() >= next_poll {
                    let polled = tokio::time::Instant::now();
                    let (mut notes, mut failed) = (Vec::new(), Vec::new());
                    for scope in &scopes {
                        match self.refresh_prs(*scope).await {
                            Ok(report) => {
                                notes.extend(report.notes);
                                failed.extend(report.failed);
                            }
                            Err(e) => notes.push(format!("poll failed: {e}")),
                        }
                    }
                    let news = noted.read(notes.into_iter().map(|n| (n.clone(), n)));
                    for (_, n) in news.new {
                        tracing::warn!("{n}");
                    }
                    let news =
                        unread.read(failed.into_iter().map(|(id, why)| (id.to_string(), why)));
                    for (ids, why) in news.new {
                        tracing::warn!("{ids}: pull request not read: {why}");
                    }
                    state.last_poll = Some(now_ms());
                    let budget = self
                        .scm_budgets()
                        .ok()
                        .and_then(|b| b.into_iter().min_by_key(|b| b.remaining));
                    let wait = super::poll_interval(
                        poll_every.as_millis() as i64,
                        budget.as_ref(),
                        now_ms(),
                    );
                    // Counted from when the poll began, not when it ended: the interval
                    // is the one configured, however long a poll takes.
                    next_poll = polled + Duration::from_millis(wait.max(0) as u64);
                }
                match self.react(&dispatcher, since, projects).await {
                    Ok(lines) => {
                        for l in lines {
                            tracing::info!("{l}");
                        }
                    }
                    Err(e) => tracing::warn!("reactions failed: {e}"),
                }
                self.record_host(&state);
            };
            {
                tokio::pin!(pass);
                tokio::select! {
                    _ = &mut stop => {
                        if tokio::time::timeout(Duration::from_secs(10), &mut pass).await.is_err() {
                            tracing::warn!("the pass under way did not finish within 10 s; stopped anyway");
                        }
                        break;
                    }
                    _ = &mut pass => {}
                }
            }
            // The next pass at the next probe, or sooner when a poll falls due before it
            // (a poll waiting for the probe after it came up to a probe interval late),
            // though not within a second of this pass's start: an interval shorter than
            // that does not make the host run pass after pass.
            let wake = (started + probe_every).min(next_poll.max(started + POLL_GAP));
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
        tracing::info!("host stopped");
    }
}
