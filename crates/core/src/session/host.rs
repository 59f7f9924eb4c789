//! The supervising host's loops (`ao start`): one per `$AO_HOME`, held by a lock file
//! that names its pid. It probes every session on one interval (the runtime, the agent's
//! hooks) and polls their pull requests on another (the two-level poll, stretched as the
//! budget runs low), and records when it last did each, so `ao status` can say so.
//! After each probe and poll it decides the reactions, and does their effects from the
//! outbox as they fall due ([`super::outbox`]).

use super::{Manager, ManagerError};
use crate::model::now_ms;
use std::path::PathBuf;
use std::time::Duration;

/// How often the host probes, unless `lifecycle.probeInterval` says otherwise.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How often the host polls pull requests, unless `lifecycle.pollInterval` says otherwise.
pub const POLL_INTERVAL: Duration = Duration::from_secs(30);

/// How long the periodic poll waits while webhooks bring every change, unless
/// `lifecycle.webhookPollInterval` says otherwise.
pub const WEBHOOK_POLL_INTERVAL: Duration = Duration::from_secs(300);

/// How long a verified delivery waits for the rest of its burst before its pull
/// requests are read.
const NUDGE_GATHER: Duration = Duration::from_millis(250);

/// How often the host looks at its config's files for an edit.
const CONFIG_LOOK: Duration = Duration::from_secs(1);

/// Why [`Manager::run_host`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEnd {
    /// `stop` resolved.
    Stopped,
    /// A file of its config changed: load it again and run on (see
    /// [`Manager::adopt_config`], [`Manager::refuse_config`]), watching for edits
    /// since the files looked like this (seen before they are read again, so an edit
    /// made while the host reloads is not missed).
    ConfigChanged(super::FilesSeen),
}

/// The shortest time between two decidings of the reactions.
const DECIDE_GAP: Duration = Duration::from_secs(1);

/// Effects the host does at once (each on its own session).
pub const ACTS_AT_ONCE: usize = 8;

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
    /// The projects it watches (`ao start PROJECT...`); empty: every project.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
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

    /// The running host's state, when it watches `project` (every project: None) and
    /// probed them all lately, within two of its probe intervals and 5 s: what it saw
    /// is then as fresh as a probe would be.
    pub fn host_probing(&self, project: Option<&str>) -> Option<HostState> {
        let (probe, _) = self.intervals();
        let fresh = 2 * probe.as_millis() as i64 + 5_000;
        self.host_state()
            .filter(|h| {
                h.projects.is_empty() || project.is_some_and(|p| h.projects.iter().any(|w| w == p))
            })
            .filter(|h| h.last_probe.is_some_and(|t| now_ms() - t <= fresh))
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

    /// How long the periodic poll may wait while webhooks bring the changes
    /// (`lifecycle.webhookPollInterval`, default 5 minutes).
    fn webhook_poll_interval(&self) -> Duration {
        self.config
            .config
            .lifecycle
            .as_ref()
            .and_then(|l| l.webhook_poll_interval.as_deref())
            .and_then(crate::notify::parse_duration)
            .filter(|d| !d.is_zero())
            .unwrap_or(WEBHOOK_POLL_INTERVAL)
    }

    /// How many live sessions (of `projects`, every project when empty) have an agent
    /// at work now, as the last probe saw them.
    fn agents_at_work(&self, projects: &[String]) -> usize {
        let Ok(sessions) = self
            .store()
            .sessions_shared(&crate::store::SessionFilter::default())
        else {
            return 0;
        };
        sessions
            .iter()
            .filter(|s| projects.is_empty() || projects.contains(&s.project))
            .filter(|s| !s.status.is_terminal())
            .filter(|s| s.activity == Some(crate::model::Activity::Active))
            .count()
    }

    /// Reads the pull requests a batch of verified deliveries names, at once, each once.
    async fn read_nudged(&self, batch: &[std::sync::Arc<super::Nudge>], projects: &[String]) {
        let mut ids: Vec<crate::model::SessionId> = Vec::new();
        for n in batch {
            self.record_delivery(n);
            match self.sessions_nudged(n, projects) {
                Ok(found) if found.is_empty() => tracing::debug!(
                    "webhook delivery {} ({} on {}) names no live session's pull request",
                    n.delivery,
                    n.event,
                    n.repo
                ),
                Ok(found) => ids.extend(found),
                Err(e) => tracing::warn!("webhook delivery {}: {e}", n.delivery),
            }
        }
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return;
        }
        match self.refresh_nudged(&ids, projects).await {
            Ok(report) => {
                for (id, why) in report.failed {
                    tracing::warn!("{id}: pull request not read after a webhook: {why}");
                }
            }
            Err(e) => tracing::warn!("reading the pull requests a webhook named: {e}"),
        }
    }

    fn record_host(&self, state: &HostState) {
        if let Ok(v) = serde_json::to_string(state) {
            let _ = self.store().set_scm_state("host", &v);
        }
    }

    /// Runs the host until `stop` resolves, over `projects` (every project when empty),
    /// as four loops that wait on nothing of each other's: the probe (every session's
    /// runtime and agent, each probe interval), the poll (their pull requests, each poll
    /// interval, stretched as the budget runs low), the deciding (after each probe and
    /// poll: the reactions, recorded as due in the outbox) and the acts (each due effect,
    /// up to [`ACTS_AT_ONCE`] at once, one at a time per session, each with its own
    /// deadline). A hung scm delays no probe, and a hung agent no other session's
    /// message. Whatever fails is logged and tried again at its next turn; nothing ends
    /// the host but `stop`, or an edit of its config's files (then it returns
    /// [`HostEnd::ConfigChanged`] for its caller to load the config again and run on).
    /// Acts in flight when it ends may finish for up to 10 s; the rest stay due for the
    /// next run, and none is recorded done that was not.
    pub async fn run_host(
        &self,
        projects: &[String],
        stop: impl std::future::Future<Output = ()>,
        files: super::FilesSeen,
    ) -> HostEnd {
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
        let state = std::cell::RefCell::new(HostState {
            pid: std::process::id(),
            started_at: now_ms(),
            projects: projects.to_vec(),
            ..HostState::default()
        });
        self.record_host(&state.borrow());
        // Every change pushed to `ao events --follow`, `ao status --watch` and the
        // dashboard (`crate::stream`); it stops when this function returns.
        let _stream = crate::stream::Service::start(&self.home)
            .map_err(|e| tracing::warn!("{e}; changes are not pushed"))
            .ok();
        if let Err(e) = self.prune_settled() {
            tracing::warn!("could not forget old settled effects: {e}");
        }
        // Nothing of this process's is in flight yet: what it holds (a run before a
        // reload, cut off) is due again.
        if let Err(e) = self.store().release_intents(std::process::id()) {
            tracing::warn!("could not take back this process's effects: {e}");
        }
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
        let decide_now = tokio::sync::Notify::new();
        let act_now = tokio::sync::Notify::new();
        let stopping = std::cell::Cell::new(false);

        let keep_awake = self
            .config
            .config
            .power
            .as_ref()
            .and_then(|p| p.prevent_idle_sleep)
            .unwrap_or(false);
        let mut awake = crate::power::Awake::default();
        let probe = async {
            loop {
                let started = tokio::time::Instant::now();
                let mut probed = true;
                for scope in &scopes {
                    if let Err(e) = self.probe_pass(*scope).await {
                        tracing::warn!("probe failed: {e}");
                        probed = false;
                    }
                }
                // Only a whole probe counts: `ao status` trusts what it saw.
                if probed {
                    state.borrow_mut().last_probe = Some(now_ms());
                }
                if keep_awake {
                    let working = self.agents_at_work(projects);
                    match awake.hold(working) {
                        Some(crate::power::Change::Held(n)) => tracing::info!(
                            "power.preventIdleSleep: the machine stays awake while {n} agent(s) work"
                        ),
                        Some(crate::power::Change::Released) => tracing::info!(
                            "power.preventIdleSleep: no agent works; the machine may sleep"
                        ),
                        Some(crate::power::Change::Cannot(why)) => {
                            tracing::warn!("power.preventIdleSleep: {why}")
                        }
                        None => {}
                    }
                }
                self.record_host(&state.borrow());
                decide_now.notify_one();
                tokio::time::sleep_until(started + probe_every).await;
            }
        };
        let poll = async {
            // Said once, when they become true, and again when they change.
            let mut unread = super::said::Said::default();
            let mut noted = super::said::Said::default();
            // Verified webhook deliveries: each read at once; while they arrive for
            // every project watched, the periodic poll is only a safety net.
            let mut nudges = super::nudge::listen();
            // When a verified delivery last came for each project.
            let mut pushed_at: std::collections::HashMap<String, i64> = Default::default();
            let pushed_every = self.webhook_poll_interval().as_millis() as i64;
            let pushed = self.pushed_projects(projects);
            loop {
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
                for (_, n) in noted.read(notes.into_iter().map(|n| (n.clone(), n))).new {
                    tracing::warn!("{n}");
                }
                let news = unread.read(failed.into_iter().map(|(id, why)| (id.to_string(), why)));
                for (ids, why) in news.new {
                    tracing::warn!("{ids}: pull request not read: {why}");
                }
                state.borrow_mut().last_poll = Some(now_ms());
                self.record_host(&state.borrow());
                decide_now.notify_one();
                let budget = self
                    .scm_budgets()
                    .ok()
                    .and_then(|b| b.into_iter().min_by_key(|b| b.remaining));
                let wait =
                    super::poll_interval(poll_every.as_millis() as i64, budget.as_ref(), now_ms());
                // Counted from when the poll began, not when it ended: the interval is
                // the one configured, however long a poll takes.
                let wait = Duration::from_millis(wait.max(0) as u64);
                loop {
                    // Stretched only while every project watched hears from its webhook.
                    let stretched = pushed.as_ref().is_some_and(|all| {
                        all.iter().all(|p| {
                            pushed_at
                                .get(p)
                                .is_some_and(|at| now_ms() - at < pushed_every)
                        })
                    });
                    let next = polled
                        + if stretched {
                            wait.max(Duration::from_millis(pushed_every as u64))
                        } else {
                            wait
                        };
                    tokio::select! {
                        _ = tokio::time::sleep_until(next) => break,
                        got = nudges.recv() => match got {
                            Ok(n) => {
                                // A push's checks report together: the rest of a burst is
                                // read with it, once.
                                tokio::time::sleep(NUDGE_GATHER).await;
                                let mut batch = vec![n];
                                let mut lagged = false;
                                loop {
                                    match nudges.try_recv() {
                                        Ok(n) => batch.push(n),
                                        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                                            lagged = true;
                                            break;
                                        }
                                        Err(_) => break,
                                    }
                                }
                                for n in &batch {
                                    for p in self.delivered_for(n) {
                                        pushed_at.insert(p, n.at);
                                    }
                                }
                                if lagged {
                                    break;
                                }
                                self.read_nudged(&batch, projects).await;
                                decide_now.notify_one();
                            }
                            // More than the queue holds: everything is read now.
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                                tokio::time::sleep_until(next).await;
                                break;
                            }
                        }
                    }
                }
            }
        };
        let decide = async {
            loop {
                decide_now.notified().await;
                match self.decide_reactions(since, projects).await {
                    Ok(lines) => {
                        for l in lines {
                            tracing::info!("{l}");
                        }
                    }
                    Err(e) => tracing::warn!("reactions failed: {e}"),
                }
                // What the probe or the poll and this pass read is freed: given back.
                crate::mem::give_back();
                act_now.notify_one();
                // Not again within a second, however often probes and polls end.
                tokio::time::sleep(DECIDE_GAP).await;
            }
        };
        let edited = async {
            loop {
                tokio::time::sleep(CONFIG_LOOK).await;
                if super::FilesSeen::of(&self.config) != files {
                    // Written in more than one go, perhaps: read once it rests.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return super::FilesSeen::of(&self.config);
                }
            }
        };
        let acts = self.run_acts(&dispatcher, &act_now, &stopping);
        tokio::pin!(stop, acts);
        let end = tokio::select! {
            _ = &mut stop => HostEnd::Stopped,
            seen = edited => HostEnd::ConfigChanged(seen),
            _ = async { tokio::join!(probe, poll, decide) } => HostEnd::Stopped,
            _ = &mut acts => HostEnd::Stopped,
        };
        // The acts in flight may finish; no new one starts.
        stopping.set(true);
        act_now.notify_one();
        if tokio::time::timeout(Duration::from_secs(10), &mut acts)
            .await
            .is_err()
        {
            tracing::warn!(
                "acts in flight did not finish within 10 s; they stay due for the next host"
            );
        }
        if end == HostEnd::Stopped {
            tracing::info!("host stopped");
        }
        end
    }

    /// The host's acts: each effect ready in the outbox, up to [`ACTS_AT_ONCE`] at once and
    /// one at a time per session, looked for when `wake` is notified and every second
    /// (for retries falling due). Once `stopping` is set, starts none and returns when
    /// those in flight are done.
    async fn run_acts(
        &self,
        notify: &crate::notify::Dispatcher,
        wake: &tokio::sync::Notify,
        stopping: &std::cell::Cell<bool>,
    ) {
        use futures_util::StreamExt;
        let mut running = futures_util::stream::FuturesUnordered::new();
        let mut busy = std::collections::HashSet::new();
        loop {
            if !stopping.get() {
                match self.ready_intents() {
                    Ok(ready) => {
                        for i in ready {
                            if running.len() >= ACTS_AT_ONCE {
                                break;
                            }
                            if !busy.insert(i.owner.clone()) {
                                continue;
                            }
                            let owner = i.owner;
                            running.push(async move {
                                let out = self.perform(notify, i.id).await;
                                (owner, out)
                            });
                        }
                    }
                    Err(e) => tracing::warn!("the outbox could not be read: {e}"),
                }
            } else if running.is_empty() {
                return;
            }
            tokio::select! {
                Some((owner, out)) = running.next(), if !running.is_empty() => {
                    busy.remove(&owner);
                    match out {
                        Ok(Some(line)) => tracing::info!("{line}"),
                        Ok(None) => {}
                        Err(e) => tracing::warn!("{owner}: {e}"),
                    }
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)), if !stopping.get() => {}
            }
        }
    }
}
