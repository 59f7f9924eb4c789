use crate::config::{LoadedConfig, ResolvedProject};
use crate::exec::{pid_alive, process_name};
use crate::model::{
    Activity, Event, EventKind, Priority, RuntimeHandle, Session, SessionId, SessionStatus,
    StatusReason, now_ms,
};
use crate::plugin::{
    ActivityContext, ActivityReport, ActivitySource, Agent, AgentSessionInfo, Liveness,
    PluginError, Probe, Runtime, Slot, Tracker, Workspace, WorkspaceSpec,
};
use crate::registry::{Factory, PluginRegistry, SectionRef};
use crate::store::{SessionFilter, Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a session command failed, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A plugin failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The user asked for something that cannot be done; the hint says what to do.
    #[error("{message}")]
    Refused {
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: Option<String>,
    },
}

impl ManagerError {
    pub(crate) fn refused(message: impl Into<String>, hint: impl Into<String>) -> ManagerError {
        ManagerError::Refused {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// What the user can do about it, if anything is known.
    pub fn hint(&self) -> Option<String> {
        match self {
            ManagerError::Store(e) => e.hint().map(str::to_owned),
            ManagerError::Refused { hint, .. } => hint.clone(),
            ManagerError::Plugin(_) => None,
        }
    }
}

/// What a spawn works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// An issue of the project's tracker (id, `#N` or URL).
    Issue(String),
    /// Free text given with `--prompt`.
    Prompt(String),
    /// Nothing yet: the agent starts without a task.
    Nothing,
}

/// One `ao spawn` call.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    /// The project id.
    pub project: String,
    /// One session per task.
    pub tasks: Vec<Task>,
    /// Another agent plugin than the project's.
    pub agent: Option<String>,
    /// A branch name instead of the tracker's (one task only).
    pub branch: Option<String>,
    /// Wait for a free slot under `maxSessions` instead of refusing.
    pub wait: bool,
}

/// How `ao session kill` treats the workspace.
#[derive(Debug, Clone, Copy, Default)]
pub struct KillOptions {
    /// Leave the workspace where it is.
    pub keep_workspace: bool,
    /// Delete it even with uncommitted or unpushed work.
    pub force: bool,
}

/// A session as `ao status` shows it: the stored record plus what the probe saw.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// The record.
    #[serde(flatten)]
    pub session: Session,
    /// `alive`, `exited`, `gone` or `unknown`; `None` when nothing was probed.
    pub runtime_state: Option<&'static str>,
    /// What the agent asks (for `waiting_input`) or other detail of its activity.
    pub activity_detail: Option<String>,
    /// Where the activity reading came from: `hook`, `session-log` or `terminal`.
    pub activity_source: Option<&'static str>,
}

/// One session `cleanup` handled or left alone.
#[derive(Debug, Clone, Serialize)]
pub struct CleanupItem {
    /// The session.
    pub session: SessionId,
    /// What was (or would be) done, or why it was skipped.
    pub detail: String,
}

/// What `cleanup` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanupReport {
    /// Sessions archived, with what was removed.
    pub cleaned: Vec<CleanupItem>,
    /// Sessions left alone, and why.
    pub skipped: Vec<CleanupItem>,
    /// Interrupted spawns that were undone first.
    pub recovered: Vec<String>,
}

/// The plugins of one project.
pub(crate) struct Plugins {
    pub runtime: Arc<dyn Runtime>,
    pub agent: Arc<dyn Agent>,
    pub workspace: Arc<dyn Workspace>,
}

/// Runs session commands for one config and one store.
pub struct Manager {
    pub(crate) config: LoadedConfig,
    pub(crate) registry: PluginRegistry,
    pub(crate) home: PathBuf,
    pub(crate) store: Mutex<Store>,
    pub(crate) env: fn(&str) -> Option<String>,
    /// How long a spawn or send waits for the agent to be ready.
    pub ready_timeout: Duration,
    /// The `ao` binary the agents' hooks call back (`ao hook`).
    pub ao_exe: PathBuf,
}

/// How long a spawn or send waits for the agent by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often readiness is checked while waiting.
pub(crate) const POLL: Duration = Duration::from_millis(5);

fn liveness_name(l: Liveness) -> &'static str {
    match l {
        Liveness::Alive => "alive",
        Liveness::Exited => "exited",
        Liveness::Gone => "gone",
        Liveness::Unknown => "unknown",
    }
}

impl Manager {
    /// A manager over `config`, with plugins from `registry` and the store in `home`.
    pub fn new(
        config: LoadedConfig,
        registry: PluginRegistry,
        home: PathBuf,
        env: fn(&str) -> Option<String>,
    ) -> Result<Manager, ManagerError> {
        let store = Store::open(&home)?;
        Ok(Manager {
            config,
            registry,
            home,
            store: Mutex::new(store),
            env,
            ready_timeout: READY_TIMEOUT,
            ao_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ao")),
        })
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The config this manager runs.
    pub fn config(&self) -> &LoadedConfig {
        &self.config
    }

    /// The project, resolved, or a refusal naming the projects there are.
    pub fn project(&self, id: &str) -> Result<ResolvedProject, ManagerError> {
        self.config.project(id, &self.env).ok_or_else(|| {
            let known: Vec<&str> = self
                .config
                .config
                .projects
                .keys()
                .map(String::as_str)
                .collect();
            ManagerError::refused(
                format!(
                    "there is no project `{id}` in {}",
                    self.config.file.display()
                ),
                format!("projects are: {}", known.join(", ")),
            )
        })
    }

    /// The session's own directory under `$AO_HOME`.
    pub fn data_dir(&self, id: &SessionId) -> PathBuf {
        self.home.join("sessions").join(id.to_string())
    }

    /// Where the project's workspaces go.
    pub(crate) fn workspace_root(&self, project: &ResolvedProject) -> PathBuf {
        project
            .worktree_dir
            .clone()
            .unwrap_or_else(|| self.home.join("worktrees").join(&project.id))
    }

    fn build<T: ?Sized>(
        &self,
        slot: Slot,
        name: &str,
        section: &[&str],
        pick: impl Fn(&Factory) -> Option<&crate::registry::Build<T>>,
    ) -> Result<Arc<T>, ManagerError> {
        if let Some(why) = self.registry.refusal(name) {
            return Err(ManagerError::refused(
                format!("the {slot} plugin `{name}` was not loaded: {why}"),
                "fix the plugin or its entry under `plugins:`; `ao plugin ls` shows every plugin's state",
            ));
        }
        let entry = self.registry.get(slot, name).ok_or_else(|| {
            ManagerError::refused(
                format!("there is no {slot} plugin `{name}`"),
                format!(
                    "plugins of this slot: {}",
                    self.registry.names(slot).join(", ")
                ),
            )
        })?;
        let Some(build) = entry.factory.as_ref().and_then(&pick) else {
            return Err(ManagerError::refused(
                format!("the {slot} plugin `{name}` is not in this build of ao yet"),
                format!(
                    "choose another {slot}; available: {}",
                    self.available(slot).join(", ")
                ),
            ));
        };
        let node = self.config.tree.at(section);
        let section_ref = SectionRef {
            file: &self.config.file,
            node,
            loc: node.map(|n| n.loc).unwrap_or_default(),
        };
        Ok(build(&section_ref)?)
    }

    fn available(&self, slot: Slot) -> Vec<String> {
        self.registry
            .entries()
            .into_iter()
            .filter(|e| e.manifest.slot == slot && e.is_available())
            .map(|e| e.manifest.name.clone())
            .collect()
    }

    pub(crate) fn runtime(&self, name: &str) -> Result<Arc<dyn Runtime>, ManagerError> {
        self.build(Slot::Runtime, name, &["runtimes", name], |f| match f {
            Factory::Runtime(b) => Some(b),
            _ => None,
        })
    }

    pub(crate) fn agent(&self, name: &str) -> Result<Arc<dyn Agent>, ManagerError> {
        self.build(Slot::Agent, name, &[], |f| match f {
            Factory::Agent(b) => Some(b),
            _ => None,
        })
    }

    pub(crate) fn workspace(&self, name: &str) -> Result<Arc<dyn Workspace>, ManagerError> {
        self.build(Slot::Workspace, name, &[], |f| match f {
            Factory::Workspace(b) => Some(b),
            _ => None,
        })
    }

    pub(crate) fn tracker(
        &self,
        project: &ResolvedProject,
    ) -> Result<Arc<dyn Tracker>, ManagerError> {
        self.build(
            Slot::Tracker,
            &project.tracker,
            &["projects", &project.id, "tracker"],
            |f| match f {
                Factory::Tracker(b) => Some(b),
                _ => None,
            },
        )
    }

    pub(crate) fn plugins_for(
        &self,
        agent: &str,
        workspace: &str,
        runtime: &str,
    ) -> Result<Plugins, ManagerError> {
        Ok(Plugins {
            runtime: self.runtime(runtime)?,
            agent: self.agent(agent)?,
            workspace: self.workspace(workspace)?,
        })
    }

    /// The workspace spec of an existing session.
    pub(crate) fn workspace_spec(&self, project: &ResolvedProject, s: &Session) -> WorkspaceSpec {
        WorkspaceSpec {
            session: s.id.clone(),
            project: project.id.clone(),
            repo_path: project.path.clone(),
            branch: s.branch.clone(),
            base_branch: project.default_branch.clone(),
            default_branch: project.default_branch.clone(),
            path: s
                .workspace_path
                .clone()
                .unwrap_or_else(|| self.workspace_root(project).join(s.id.to_string())),
            copy: project.copy.clone(),
            symlinks: project.symlinks.clone(),
            post_create: project.post_create.clone(),
        }
    }

    /// One session by id, or a refusal that says how to find ids.
    pub fn session(&self, id: &str) -> Result<Session, ManagerError> {
        let parsed: SessionId = id.parse().map_err(|e: crate::model::SessionIdError| {
            ManagerError::refused(e.to_string(), "`ao session ls --all` lists them")
        })?;
        self.store().session(&parsed)?.ok_or_else(|| {
            ManagerError::refused(
                format!("there is no session `{id}`"),
                "`ao session ls --all` lists them",
            )
        })
    }

    pub(crate) fn event(&self, s: &Session, kind: EventKind, priority: Priority, message: String) {
        let event = Event {
            id: 0,
            at: now_ms(),
            project: s.project.clone(),
            session: Some(s.id.clone()),
            priority,
            kind,
            message,
        };
        if let Err(e) = self.store().append_event(&event) {
            tracing::warn!("could not record an event: {e}");
        }
    }

    /// Moves a session to `status`, saves it, and records the change as an event.
    pub(crate) fn transition(
        &self,
        s: &mut Session,
        status: SessionStatus,
        reason: Option<StatusReason>,
        activity: Activity,
        message: String,
    ) -> Result<(), ManagerError> {
        let from = s.status;
        s.status = status;
        s.status_reason = reason;
        s.activity = Some(activity);
        s.updated_at = now_ms();
        self.save(s)?;
        self.event(
            s,
            EventKind::StatusChanged { from, to: status },
            Priority::Info,
            message,
        );
        Ok(())
    }

    pub(crate) fn save(&self, s: &Session) -> Result<(), ManagerError> {
        self.store().update_session(s)?;
        Ok(())
    }

    /// Whether the `ao` process `pid` that holds a spawn still runs it.
    pub(crate) fn spawner_alive(pid: u32) -> bool {
        if pid == std::process::id() {
            return true;
        }
        if !pid_alive(pid) {
            return false;
        }
        // A pid reused by another program after a crash is not a spawn in progress.
        match (process_name(pid), process_name(std::process::id())) {
            (Some(theirs), Some(ours)) => theirs == ours,
            _ => true,
        }
    }

    /// Sessions (archived too with `all`), refreshed by one probe per runtime: a runtime
    /// that is gone marks its session killed (`runtime_lost`) at once; a failed probe
    /// changes nothing.
    pub async fn status(
        &self,
        project: Option<&str>,
        all: bool,
    ) -> Result<Vec<SessionView>, ManagerError> {
        if let Some(p) = project {
            self.project(p)?;
        }
        let sessions = self.store().sessions(&SessionFilter {
            project: project.map(str::to_owned),
            include_archived: all,
        })?;
        let mut by_runtime: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, s) in sessions.iter().enumerate() {
            if let Some(h) = &s.runtime
                && s.archived_at.is_none()
                && !s.status.is_terminal()
                && s.spawn_pid.is_none()
            {
                by_runtime.entry(h.runtime.clone()).or_default().push(i);
            }
        }
        let mut probes: Vec<Option<Probe>> = vec![None; sessions.len()];
        for (runtime, idx) in by_runtime {
            let handles: Vec<RuntimeHandle> = idx
                .iter()
                .filter_map(|&i| sessions[i].runtime.clone())
                .collect();
            let found = match self.runtime(&runtime) {
                Ok(r) => r.probe_all(&handles).await.unwrap_or_else(|e| {
                    tracing::warn!("probe failed: {e}");
                    vec![Probe::unknown(); handles.len()]
                }),
                Err(_) => vec![Probe::unknown(); handles.len()],
            };
            for (&i, p) in idx.iter().zip(found) {
                probes[i] = Some(p);
            }
        }
        let mut views = Vec::with_capacity(sessions.len());
        for (mut s, probe) in sessions.into_iter().zip(probes) {
            let mut reading = None;
            if let Some(p) = &probe {
                reading = self.observe(&mut s, p).await?;
            }
            views.push(SessionView {
                runtime_state: probe.map(|p| liveness_name(p.liveness)),
                activity_detail: reading.as_ref().and_then(|r| r.detail.clone()),
                activity_source: reading.map(|r| match r.source {
                    ActivitySource::Hook => "hook",
                    ActivitySource::SessionLog => "session-log",
                    ActivitySource::Terminal => "terminal",
                }),
                session: s,
            });
        }
        Ok(views)
    }

    /// Applies one probe to a session, asks its agent what it is doing while it runs, and
    /// saves what changed.
    async fn observe(
        &self,
        s: &mut Session,
        probe: &Probe,
    ) -> Result<Option<ActivityReport>, ManagerError> {
        let before = (s.status, s.status_reason, s.activity);
        let before_agent_id = s.agent_session_id.clone();
        let mut reading = None;
        match probe.liveness {
            Liveness::Gone => {
                s.status = SessionStatus::Killed;
                s.status_reason = Some(StatusReason::RuntimeLost);
                s.activity = Some(Activity::Exited);
            }
            Liveness::Exited => s.activity = Some(Activity::Exited),
            Liveness::Alive => {
                if let Some(report) = self.agent_activity(s).await {
                    s.activity = Some(report.activity);
                    reading = Some(report);
                }
            }
            Liveness::Unknown => {}
        }
        if before_agent_id != s.agent_session_id {
            s.updated_at = now_ms();
            self.save(s)?;
        }
        if before != (s.status, s.status_reason, s.activity) {
            s.updated_at = now_ms();
            self.save(s)?;
            if s.status_reason == Some(StatusReason::RuntimeLost) && before.1 != s.status_reason {
                self.event(
                    s,
                    EventKind::StatusChanged {
                        from: before.0,
                        to: s.status,
                    },
                    Priority::Warning,
                    format!(
                        "{}: its runtime is gone; marked killed (runtime_lost)",
                        s.id
                    ),
                );
            }
        }
        Ok(reading)
    }

    /// The agent's activity, layered: its hooks' last report, then its session log, then
    /// (only when the plugin asks) the terminal. Learns the agent's own session id.
    pub(crate) async fn agent_activity(&self, s: &mut Session) -> Option<ActivityReport> {
        let agent = self.agent(&s.agent).ok()?;
        let mut ctx = self.activity_context(s);
        if agent.wants_terminal(&ctx)
            && let Some(handle) = &s.runtime
            && let Ok(runtime) = self.runtime(&handle.runtime)
        {
            ctx.recent_output = runtime.output(handle, 60).await.ok();
        }
        if s.agent_session_id.is_none()
            && let Ok(info) = agent.session_info(&ctx).await
            && info.agent_session_id.is_some()
        {
            s.agent_session_id = info.agent_session_id;
            ctx.agent_session_id = s.agent_session_id.clone();
        }
        agent.activity(&ctx).await.ok()
    }

    /// What an agent plugin is given to read a session's activity and session info.
    fn activity_context(&self, s: &Session) -> ActivityContext {
        ActivityContext {
            session: s.id.clone(),
            workspace: s.workspace_path.clone().unwrap_or_default(),
            scratch_dir: self.data_dir(&s.id).join("agent"),
            agent_session_id: s.agent_session_id.clone(),
            started_at: s.agent_started_at,
            report: self.store().agent_report(&s.id).ok().flatten(),
            recent_output: None,
            idle_after_ms: self.config.config.ready_threshold_ms.unwrap_or(300_000),
            now: now_ms(),
        }
    }

    /// One session as `status` shows it, with what its agent CLI records about its own
    /// session (id, summary, tokens, cost).
    pub async fn info(&self, id: &str) -> Result<(SessionView, AgentSessionInfo), ManagerError> {
        let s = self.session(id)?;
        let view = self
            .status(Some(&s.project), true)
            .await?
            .into_iter()
            .find(|v| v.session.id == s.id)
            .ok_or_else(|| {
                ManagerError::refused(
                    format!("no session {id}"),
                    "`ao session ls --all` lists them",
                )
            })?;
        let agent = self.agent(&view.session.agent)?;
        let info = agent
            .session_info(&self.activity_context(&view.session))
            .await
            .unwrap_or_default();
        Ok((view, info))
    }

    /// Probes one session's runtime.
    pub(crate) async fn probe(&self, s: &Session) -> Result<Probe, ManagerError> {
        let Some(handle) = &s.runtime else {
            return Ok(Probe {
                liveness: Liveness::Gone,
                ..Probe::unknown()
            });
        };
        let runtime = self.runtime(&handle.runtime)?;
        Ok(runtime
            .probe_all(std::slice::from_ref(handle))
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(Probe::unknown))
    }

    /// Waits until the agent's own process is the terminal's foreground process. Fails
    /// with the agent's last output if it exits or is gone, and after the time-out.
    pub(crate) async fn wait_ready(
        &self,
        runtime: &dyn Runtime,
        handle: &RuntimeHandle,
        names: &[String],
        accept_exit_ok: bool,
    ) -> Result<(), ManagerError> {
        let deadline = Instant::now() + self.ready_timeout;
        let mut last = None;
        let mut code_wait: Option<Instant> = None;
        loop {
            let probe = runtime
                .probe_all(std::slice::from_ref(handle))
                .await?
                .into_iter()
                .next()
                .unwrap_or_else(Probe::unknown);
            match probe.liveness {
                Liveness::Alive => {
                    let fg = probe.foreground.clone().unwrap_or_default();
                    if names.is_empty() || names.contains(&fg) {
                        return Ok(());
                    }
                    last = Some(fg);
                }
                Liveness::Exited if accept_exit_ok && probe.exit_code == Some(0) => return Ok(()),
                // A terminal can report its process gone a moment before the exit code
                // is known; wait briefly for the code, which says what happened.
                Liveness::Exited
                    if probe.exit_code.is_none()
                        && code_wait.get_or_insert_with(Instant::now).elapsed()
                            < Duration::from_millis(500) => {}
                Liveness::Exited | Liveness::Gone => {
                    let output = runtime.output(handle, 40).await.unwrap_or_default();
                    let code = probe
                        .exit_code
                        .map(|c| format!(" with exit code {c}"))
                        .unwrap_or_default();
                    return Err(ManagerError::Refused {
                        message: format!(
                            "the agent exited{code} before it was ready; its last output:\n{}",
                            indent(&output)
                        ),
                        hint: Some("check the agent's command and settings in the config".into()),
                    });
                }
                Liveness::Unknown => {}
            }
            if Instant::now() >= deadline {
                let output = runtime.output(handle, 40).await.unwrap_or_default();
                return Err(ManagerError::Refused {
                    message: format!(
                        "the agent was not running after {} s (the terminal's foreground process is `{}`, expected {}); its last output:\n{}",
                        self.ready_timeout.as_secs(),
                        last.unwrap_or_default(),
                        names.join(" or "),
                        indent(&output)
                    ),
                    hint: Some(
                        "nothing was typed into it; check that the agent starts by hand in the workspace"
                            .into(),
                    ),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(crate) fn live_handle(&self, s: &Session) -> Result<RuntimeHandle, ManagerError> {
        match (
            &s.runtime,
            s.status.is_terminal() || s.archived_at.is_some(),
        ) {
            (Some(h), false) => Ok(h.clone()),
            _ => Err(ManagerError::refused(
                format!("{} is {} and has no running agent", s.id, s.status),
                format!("`ao session restore {}` starts it again", s.id),
            )),
        }
    }

    /// The session's recent output.
    pub async fn output(&self, id: &str, lines: usize) -> Result<String, ManagerError> {
        let s = self.session(id)?;
        let Some(handle) = &s.runtime else {
            return Err(ManagerError::refused(
                format!("{} never started a runtime", s.id),
                "`ao session restore` starts it",
            ));
        };
        let runtime = self.runtime(&handle.runtime)?;
        runtime.output(handle, lines).await.map_err(|e| {
            ManagerError::refused(
                format!("cannot read the output of {}: {e}", s.id),
                "its runtime may be gone; `ao status` shows it",
            )
        })
    }

    /// How to attach a terminal to the session.
    pub fn attach_info(&self, id: &str) -> Result<crate::plugin::AttachInfo, ManagerError> {
        let s = self.session(id)?;
        let handle = self.live_handle(&s)?;
        Ok(self.runtime(&handle.runtime)?.attach_info(&handle))
    }

    /// Ends the session's runtime, removes (or keeps) its workspace, marks it killed.
    /// With work that would be lost, refuses before touching anything unless forced.
    pub async fn kill(&self, id: &str, opts: KillOptions) -> Result<Session, ManagerError> {
        let mut s = self.session(id)?;
        let project = self.project(&s.project)?;
        let spec = self.workspace_spec(&project, &s);
        if !opts.keep_workspace && !opts.force && spec.path.exists() {
            let lost = crate::git::unsaved_work(&spec.path, &project.default_branch)
                .await
                .map_err(|e| {
                    ManagerError::refused(e.to_string(), "pass --force to remove it anyway")
                })?;
            if !lost.is_empty() {
                return Err(ManagerError::refused(
                    format!(
                        "{}'s workspace {} holds work that would be lost: {}; nothing was changed",
                        s.id,
                        spec.path.display(),
                        lost.join("; ")
                    ),
                    "commit and push it, pass --keep-workspace to keep it, or --force to delete it",
                ));
            }
        }
        if let Some(h) = &s.runtime {
            self.runtime(&h.runtime)?.destroy(h).await?;
        }
        if !opts.keep_workspace {
            self.workspace(&s.workspace)?.destroy(&spec, true).await?;
        }
        let message = format!("{} killed by the user", s.id);
        self.transition(
            &mut s,
            SessionStatus::Killed,
            Some(StatusReason::User),
            Activity::Exited,
            message,
        )?;
        Ok(s)
    }

    /// Archives sessions that are finished: killed, merged or done, whose runtime is
    /// dead, or whose issue is completed. A workspace holding unsaved work is skipped,
    /// and its session with it. Branches are kept.
    pub async fn cleanup(
        &self,
        project: Option<&str>,
        dry_run: bool,
    ) -> Result<CleanupReport, ManagerError> {
        let mut report = CleanupReport {
            recovered: if dry_run {
                Vec::new()
            } else {
                self.recover().await?
            },
            ..CleanupReport::default()
        };
        let views = self.status(project, false).await?;
        for view in views {
            let mut s = view.session;
            if s.spawn_pid.is_some() {
                continue;
            }
            let Ok(resolved) = self.project(&s.project) else {
                report.skipped.push(CleanupItem {
                    session: s.id.clone(),
                    detail: format!("project `{}` is no longer in the config", s.project),
                });
                continue;
            };
            let why = if s.status.is_terminal() {
                Some(match s.status_reason {
                    Some(r) => format!("{} ({r})", s.status),
                    None => s.status.to_string(),
                })
            } else if matches!(view.runtime_state, Some("exited" | "gone")) {
                Some("its agent has exited".to_owned())
            } else if let Some(issue) = &s.issue {
                match self.tracker(&resolved) {
                    Ok(t) => match t.is_completed(issue).await {
                        Ok(true) => Some(format!("issue {issue} is completed")),
                        _ => None,
                    },
                    Err(_) => None,
                }
            } else {
                None
            };
            let Some(why) = why else {
                continue;
            };
            let spec = self.workspace_spec(&resolved, &s);
            let has_workspace = spec.path.exists();
            if has_workspace {
                let lost = crate::git::unsaved_work(&spec.path, &resolved.default_branch)
                    .await
                    .unwrap_or_default();
                if !lost.is_empty() {
                    report.skipped.push(CleanupItem {
                        session: s.id.clone(),
                        detail: format!(
                            "{why}, but {} holds work that would be lost: {}",
                            spec.path.display(),
                            lost.join("; ")
                        ),
                    });
                    continue;
                }
            }
            let mut done = vec![why];
            if has_workspace {
                done.push(format!("removed {}", spec.path.display()));
            }
            done.push(format!("kept branch {}", s.branch));
            if !dry_run {
                if let Some(h) = &s.runtime
                    && let Ok(r) = self.runtime(&h.runtime)
                {
                    r.destroy(h).await?;
                }
                if has_workspace {
                    self.workspace(&s.workspace)?.destroy(&spec, false).await?;
                }
                let _ = std::fs::remove_dir_all(self.data_dir(&s.id));
                let (status, reason) = if s.status.is_terminal() {
                    (s.status, s.status_reason)
                } else {
                    (SessionStatus::Killed, Some(StatusReason::Cleanup))
                };
                s.archived_at = Some(now_ms());
                let message = format!("{} archived by cleanup", s.id);
                self.transition(&mut s, status, reason, Activity::Exited, message)?;
            }
            report.cleaned.push(CleanupItem {
                session: s.id.clone(),
                detail: done.join("; "),
            });
        }
        Ok(report)
    }

    /// Finds what `ao spawn` processes that died left behind, undoes it, and says what
    /// it undid. Spawns whose process still runs are left alone.
    pub async fn recover(&self) -> Result<Vec<String>, ManagerError> {
        let mut notes = Vec::new();
        let reservations = self.store().reservations()?;
        for r in reservations {
            if Self::spawner_alive(r.pid) {
                continue;
            }
            // A reserved id may already name a runtime if the row was never written.
            self.store().release_reservation(&r.id)?;
            notes.push(format!(
                "{}: released the id reserved by an interrupted `ao spawn`",
                r.id
            ));
        }
        let spawning: Vec<Session> = self
            .store()
            .sessions(&SessionFilter {
                project: None,
                include_archived: false,
            })?
            .into_iter()
            .filter(|s| s.spawn_pid.is_some_and(|p| !Self::spawner_alive(p)))
            .collect();
        for s in spawning {
            let undone = self.undo_spawn(&s).await;
            match undone {
                Ok(parts) => notes.push(format!(
                    "{}: undid an interrupted `ao spawn`{}",
                    s.id,
                    if parts.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", parts.join(", "))
                    }
                )),
                Err(e) => notes.push(format!(
                    "{}: could not undo an interrupted `ao spawn`: {e}",
                    s.id
                )),
            }
        }
        Ok(notes)
    }

    /// Removes everything a spawn of `s` created: runtime, workspace, created branch, row.
    pub(crate) async fn undo_spawn(&self, s: &Session) -> Result<Vec<String>, ManagerError> {
        let mut parts = Vec::new();
        let data_dir = self.data_dir(&s.id);
        if let Ok(runtime) = self.runtime(&s.runtime_plugin) {
            let handle = match &s.runtime {
                Some(h) => Some(h.clone()),
                None => runtime.find(&s.id, &data_dir).await.ok().flatten(),
            };
            if let Some(h) = handle {
                runtime.destroy(&h).await?;
                parts.push(format!("ended {} session {}", h.runtime, h.id));
            }
        }
        if let Ok(project) = self.project(&s.project) {
            let mut spec = self.workspace_spec(&project, s);
            spec.base_branch = local_base(&project);
            let had_dir = spec.path.exists();
            let had_branch = crate::git::local_branch_exists(&project.path, &s.branch);
            self.workspace(&s.workspace)?
                .discard(&spec, s.created_branch)
                .await?;
            if had_dir {
                parts.push(format!("removed {}", spec.path.display()));
            }
            if had_branch
                && s.created_branch
                && !crate::git::local_branch_exists(&project.path, &s.branch)
            {
                parts.push(format!("deleted branch {}", s.branch));
            }
        }
        let _ = std::fs::remove_dir_all(&data_dir);
        self.store().delete_session(&s.id)?;
        Ok(parts)
    }
}

/// The ref a project's branches start from, without fetching: `origin/<default>` when
/// it exists locally, else `<default>`.
pub(crate) fn local_base(project: &ResolvedProject) -> String {
    let remote = format!("origin/{}", project.default_branch);
    if has_ref(&project.path, &format!("refs/remotes/{remote}")) {
        remote
    } else {
        project.default_branch.clone()
    }
}

fn has_ref(repo: &Path, name: &str) -> bool {
    git2::Repository::open(repo)
        .and_then(|r| r.find_reference(name).map(|_| ()))
        .is_ok()
}

/// Indents output under a message.
pub(crate) fn indent(text: &str) -> String {
    let t = text.trim_end();
    if t.is_empty() {
        return "    (no output)".into();
    }
    t.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
