//! `ao status`: every session refreshed by one probe per runtime, and what its agent is
//! doing; the decision of what a probe means is [`apply_probe`], a pure function.

use super::{Manager, ManagerError};
use crate::model::EventKind;
use crate::model::{Activity, Priority, RuntimeHandle, Session, SessionStatus, now_ms};
use crate::plugin::{
    ActivityContext, ActivityReport, ActivitySource, AgentSessionInfo, Liveness, Probe,
};
use crate::store::{Change, SessionFilter};
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// What is wrong with the session that ao did not do: its workspace deleted by hand.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The usage limit its agent waits on, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<crate::store::AgentLimit>,
    /// What its agent last said of itself (`ao report`), when it said anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<crate::store::SelfReport>,
    /// How its agent ended, when it ended by itself (`done (agent_finished)`, `killed
    /// (agent_exited)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_exit: Option<AgentExit>,
}

/// How a session's agent ended by itself: what the runtime showed when ao saw it end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgentExit {
    /// Its exit code, when the runtime tells.
    pub code: Option<i32>,
    /// Its last lines of output.
    pub output: String,
    /// When ao saw it end (0 until recorded).
    pub at: crate::model::Timestamp,
}

/// How many of an ended agent's last lines are kept with its session.
const EXIT_OUTPUT_LINES: usize = 20;

/// Ends `row` because its agent ended by itself, as `exit` tells: `done (agent_finished)`
/// for exit code 0, else `killed (agent_exited)` (the lifecycle's decision), with an
/// `agent_ended` event that keeps the exit code and the last lines of output.
pub(crate) fn end_by_agent(row: &mut Session, exit: &AgentExit) -> Vec<Change> {
    let d = crate::lifecycle::agent_ended(exit.code);
    row.status = d.status;
    row.status_reason = d.reason;
    row.activity = Some(Activity::Exited);
    let (priority, message) = match exit.code {
        Some(0) => (
            Priority::Info,
            format!("{}: its agent finished (exit code 0)", row.id),
        ),
        code => (
            Priority::Warning,
            format!(
                "{}: its agent exited{}; `ao session restore {}` starts it again",
                row.id,
                code.map(|c| format!(" with code {c}")).unwrap_or_default(),
                row.id
            ),
        ),
    };
    let lines: Vec<&str> = exit.output.trim_end().lines().collect();
    let output = lines[lines.len().saturating_sub(EXIT_OUTPUT_LINES)..].join("\n");
    vec![Change::new(
        EventKind::AgentEnded {
            exit_code: exit.code,
            output,
        },
        priority,
        message,
    )]
}

fn liveness_name(l: Liveness) -> &'static str {
    match l {
        Liveness::Alive => "alive",
        Liveness::Exited => "exited",
        Liveness::Gone => "gone",
        Liveness::Unknown => "unknown",
    }
}

/// Whether a session is being made or started again by an `ao` process right now, so
/// nothing else decides about it.
pub(crate) fn in_flight(s: &Session) -> bool {
    s.spawn_pid.is_some() || s.restore_pid.is_some()
}

/// What one probe (and the agent's activity reading) means for a session, applied to
/// `row`: a runtime that is gone ends the session (`killed`, `runtime_lost`), an agent
/// that exited ends it as `exit` tells (see [`end_by_agent`]), a live one shows its
/// agent's activity. Ended, archived and in-flight sessions are left as they are, and an
/// unknown probe changes nothing.
pub fn apply_probe(
    row: &mut Session,
    liveness: Liveness,
    activity: Option<Activity>,
    agent_session_id: Option<String>,
    exit: Option<&AgentExit>,
) -> Vec<Change> {
    if row.status.is_terminal() || row.archived_at.is_some() || in_flight(row) {
        return Vec::new();
    }
    if row.agent_session_id.is_none() && agent_session_id.is_some() {
        row.agent_session_id = agent_session_id;
    }
    match liveness {
        Liveness::Gone => {
            use crate::lifecycle::{AgentFact, Decision, Observation, Policy, PrFact, transition};
            let prev = Decision {
                status: row.status,
                reason: row.status_reason,
            };
            let obs = Observation {
                agent: AgentFact::Gone,
                pr: PrFact::Unknown,
            };
            let d = transition(prev, &obs, &Policy::default(), now_ms());
            let message = format!(
                "{}: its runtime is gone; marked {} ({})",
                row.id,
                d.status,
                d.reason.map_or("", |r| r.as_str())
            );
            return end(row, d, message);
        }
        // Its agent has ended: the session no longer takes a slot, its workspace stays,
        // and `ao session restore` starts it again.
        Liveness::Exited => return end_by_agent(row, exit.unwrap_or(&AgentExit::default())),
        Liveness::Alive => {
            if let Some(a) = activity {
                row.activity = Some(a);
            }
        }
        Liveness::Unknown => {}
    }
    Vec::new()
}

/// Ends a session as the lifecycle decided (`d`), with a warning that says so.
fn end(row: &mut Session, d: crate::lifecycle::Decision, message: String) -> Vec<Change> {
    let from = row.status;
    row.status = d.status;
    row.status_reason = d.reason;
    row.activity = Some(Activity::Exited);
    vec![Change::new(
        EventKind::StatusChanged { from, to: d.status },
        Priority::Warning,
        message,
    )]
}

/// Moves `row` to the status [`crate::lifecycle::transition`] decides from `obs`, with a
/// `status_changed` event whose message ends with `why`; nothing when it stays.
pub(crate) fn decide(
    row: &mut Session,
    obs: &crate::lifecycle::Observation,
    policy: &crate::lifecycle::Policy,
    now: crate::model::Timestamp,
    why: &str,
) -> Vec<Change> {
    use crate::lifecycle::{Decision, transition};
    let prev = Decision {
        status: row.status,
        reason: row.status_reason,
    };
    let d = transition(prev, obs, policy, now);
    if d == prev {
        return Vec::new();
    }
    let from = row.status;
    row.status = d.status;
    row.status_reason = d.reason;
    vec![Change::new(
        EventKind::StatusChanged { from, to: d.status },
        match d.status {
            SessionStatus::CiFailed | SessionStatus::ChangesRequested => Priority::Warning,
            SessionStatus::Mergeable => Priority::Action,
            SessionStatus::NeedsInput | SessionStatus::Stuck => Priority::Urgent,
            _ => Priority::Info,
        },
        format!("{from} → {}{why}", d.status),
    )]
}

/// What the lifecycle knows of a session's pull request from its last reading.
fn pr_fact(s: &Session, snapshot: Option<&crate::store::PrSnapshot>) -> crate::lifecycle::PrFact {
    use crate::lifecycle::PrFact;
    match (&s.pr, snapshot) {
        (None, _) => PrFact::None,
        (Some(p), Some(snap)) if !snap.stale && snap.status.pr.number == p.number => {
            PrFact::Read(Box::new(snap.status.clone()))
        }
        _ => PrFact::Unknown,
    }
}

/// What a probe reads once for all its sessions, instead of once for each.
struct PassReads {
    /// Each session's last self-report (`ao report`), by id.
    reports: std::collections::HashMap<String, crate::store::SelfReport>,
    /// Each session's hooks' last report (`ao hook`), by id.
    hooks: std::collections::HashMap<String, crate::store::AgentReport>,
}

impl Manager {
    /// Sessions (archived too with `all`), refreshed by one probe per runtime: a runtime
    /// that is gone marks its session killed (`runtime_lost`) at once; a failed probe
    /// changes nothing.
    pub async fn status(
        &self,
        project: Option<&str>,
        all: bool,
    ) -> Result<Vec<SessionView>, ManagerError> {
        self.status_with(project, all, false, true).await
    }

    /// The host's probe: [`Manager::status`] of the live sessions, its findings stored
    /// and nothing shown (the views, with their checks of each workspace, are not made).
    pub(crate) async fn probe_pass(&self, project: Option<&str>) -> Result<(), ManagerError> {
        self.status_with(project, false, false, false).await?;
        Ok(())
    }

    /// Sessions as [`Manager::status`] shows them, for when a host probes them every
    /// few seconds: only the agents doing something (working, asking, blocked,
    /// limited: what the host may not have seen yet, and what only a probe can say)
    /// are probed; the quiet ones (ready, idle) are shown as the host last saw them,
    /// and what their hooks last said. At 1,000 idle sessions this is a read of the
    /// store instead of a probe of every terminal.
    pub async fn status_seen(
        &self,
        project: Option<&str>,
        all: bool,
    ) -> Result<Vec<SessionView>, ManagerError> {
        self.status_with(project, all, true, true).await
    }

    async fn status_with(
        &self,
        project: Option<&str>,
        all: bool,
        quiet_as_seen: bool,
        views_wanted: bool,
    ) -> Result<Vec<SessionView>, ManagerError> {
        if let Some(p) = project {
            self.project(p)?;
        }
        // Read before the sessions: a report is recorded after the pull request it
        // names is attached, so no report shown is newer than the row beside it.
        let reports = self.store().self_reports()?;
        let sessions = self.store().sessions(&SessionFilter {
            project: project.map(str::to_owned),
            include_archived: all,
        })?;
        let mut by_runtime: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, s) in sessions.iter().enumerate() {
            if let Some(h) = &s.runtime
                && s.archived_at.is_none()
                && !s.status.is_terminal()
                && !in_flight(s)
                && !(quiet_as_seen && matches!(s.activity, Some(Activity::Ready | Activity::Idle)))
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
        // Read once for all, after the probe as each session's own read was.
        let reads = PassReads {
            reports,
            hooks: self.store().agent_reports()?,
        };
        let mut views = Vec::with_capacity(sessions.len());
        let snapshots = if sessions.iter().any(|s| s.pr.is_some()) {
            self.store().pr_snapshots_shared()?
        } else {
            Default::default()
        };
        let mut limits = self.store().limits()?;
        // Sessions no probe looked at (those whose agent ended by itself still follow
        // their pull request): decided from its last reading.
        let mut sessions = sessions;
        for (i, s) in sessions.iter_mut().enumerate() {
            if probes[i].is_none() {
                let id = s.id.clone();
                self.decide_reading(s, snapshots.get(&id))?;
            }
        }
        for (mut s, probe) in sessions.into_iter().zip(probes) {
            let mut reading = None;
            if let Some(p) = &probe {
                let id = s.id.clone();
                reading = self.observe(&mut s, p, snapshots.get(&id), &reads).await?;
                // The limit table follows the readings, written only when they change.
                let key = s.id.to_string();
                match reading.as_ref().filter(|r| r.activity == Activity::Limited) {
                    Some(r) => {
                        let detail = r.detail.clone().unwrap_or_default();
                        let known = limits.get(&key);
                        // A countdown re-read each probe is the same limit.
                        // So is a clock time re-read after it passed (it names tomorrow now).
                        let now = now_ms();
                        let moved = |l: &crate::store::AgentLimit| match (l.resets_at, r.resets_at)
                        {
                            (Some(a), Some(b)) => {
                                (a - b).abs() > 60_000 && !(a < now && b - a >= 23 * 3_600_000)
                            }
                            (a, b) => a != b,
                        };
                        if known.is_none_or(moved) {
                            self.store()
                                .set_limit(&key, &s.agent, &detail, r.resets_at)?;
                            limits = self.store().limits()?;
                        }
                    }
                    None if reading.is_some() && limits.contains_key(&key) => {
                        self.store().clear_limit(&key)?;
                        limits.remove(&key);
                    }
                    None => {}
                }
            }
            // An ended session waits on nothing.
            if s.status.is_terminal() && limits.contains_key(&s.id.to_string()) {
                self.store().clear_limit(&s.id.to_string())?;
                limits.remove(&s.id.to_string());
            }
            if !views_wanted {
                continue;
            }
            // Not probed: what its hooks say it does, while that is its activity.
            let hooked = || {
                reads
                    .hooks
                    .get(&s.id.to_string())
                    .filter(|h| Some(h.activity) == s.activity && h.activity != Activity::Exited)
                    .and_then(|h| h.detail.clone())
            };
            let detail = match &reading {
                Some(r) => r.detail.clone(),
                None if quiet_as_seen => hooked(),
                None => None,
            };
            let mut view = self.view(s, &limits, &reads.reports)?;
            view.runtime_state = probe.map(|p| liveness_name(p.liveness));
            view.activity_detail = detail;
            view.activity_source = reading.map(|r| match r.source {
                ActivitySource::Hook => "hook",
                ActivitySource::SessionLog => "session-log",
                ActivitySource::Report => "report",
                ActivitySource::Terminal => "terminal",
            });
            views.push(view);
        }
        Ok(views)
    }

    /// A session as `ao status` shows it, without what only a probe knows: what is wrong
    /// with it, its limit, its agent's report and how its agent ended.
    fn view(
        &self,
        s: Session,
        limits: &std::collections::HashMap<String, crate::store::AgentLimit>,
        reports: &std::collections::HashMap<String, crate::store::SelfReport>,
    ) -> Result<SessionView, ManagerError> {
        let mut problems = Vec::new();
        if s.archived_at.is_none() && !self.config.config.projects.contains_key(&s.project) {
            problems.push(format!(
                "not in the config: its project `{}` is not in {}; it runs on, with no reactions (`ao session kill` ends it; put the project back to restore or clean it up)",
                s.project,
                self.config.file.display(),
            ));
        }
        if let Some(path) = &s.workspace_path
            && !s.status.is_terminal()
            && s.archived_at.is_none()
            && !in_flight(&s)
            && !path.exists()
        {
            problems.push(workspace_gone(&s, path));
        }
        let agent_exit = if crate::lifecycle::ended_by_agent(crate::lifecycle::Decision {
            status: s.status,
            reason: s.status_reason,
        }) {
            self.agent_exit(&s.id)?
        } else {
            None
        };
        Ok(SessionView {
            runtime_state: None,
            activity_detail: None,
            activity_source: None,
            problems,
            limit: limits.get(&s.id.to_string()).cloned(),
            report: reports.get(&s.id.to_string()).cloned(),
            agent_exit,
            session: s,
        })
    }

    /// Decides every session of `project` (every project: None) from its pull request's
    /// last reading and its agent as the last probe saw it: what the poll runs once it
    /// has read, so a reading moves its session at once, by the same rules and on the
    /// same view of the agent as the probe's.
    pub(crate) fn decide_readings(&self, project: Option<&str>) -> Result<(), ManagerError> {
        let snapshots = self.store().pr_snapshots_shared()?;
        let sessions = self.store().sessions_shared(&SessionFilter {
            project: project.map(str::to_owned),
            include_archived: false,
        })?;
        for s in sessions {
            // Copied only when its reading may move it.
            if s.pr.is_none() {
                continue;
            }
            let mut s = Session::clone(&s);
            let id = s.id.clone();
            self.decide_reading(&mut s, snapshots.get(&id))?;
        }
        Ok(())
    }

    /// [`Manager::decide_readings`] for one session.
    fn decide_reading(
        &self,
        s: &mut Session,
        snapshot: Option<&crate::store::PrSnapshot>,
    ) -> Result<(), ManagerError> {
        use crate::lifecycle::{AgentFact, Decision, Observation, follows_pr};
        let d = Decision {
            status: s.status,
            reason: s.status_reason,
        };
        if s.pr.is_none() || s.archived_at.is_some() || in_flight(s) || !follows_pr(d) {
            return Ok(());
        }
        let agent = if s.status.is_terminal() {
            AgentFact::Unknown
        } else {
            let seen = self
                .last_active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&s.id)
                .copied();
            match seen {
                Some(last_active_at) => AgentFact::Running {
                    activity: s.activity,
                    last_active_at,
                },
                // Not probed by this process: nothing said of when it was last active.
                None => AgentFact::Running {
                    activity: s.activity,
                    last_active_at: None,
                },
            }
        };
        let obs = Observation {
            agent,
            pr: pr_fact(s, snapshot),
        };
        let why = format!(" (pull request #{})", s.pr.as_ref().map_or(0, |p| p.number));
        let policy = self.policy(s);
        let now = now_ms();
        if decide(&mut s.clone(), &obs, &policy, now, &why).is_empty() {
            return Ok(());
        }
        *s = self.update(&s.id, |row| {
            if in_flight(row) || row.archived_at.is_some() {
                return Vec::new();
            }
            decide(row, &obs, &policy, now, &why)
        })?;
        Ok(())
    }

    /// What the config decides for a session: after how long without activity its agent
    /// counts as stuck (the orchestrator, which waits for the human as a matter of
    /// course, never).
    fn policy(&self, s: &Session) -> crate::lifecycle::Policy {
        let stuck_after_ms = self
            .resolved_project(&s.project)
            .ok()
            .filter(|_| !s.id.is_orchestrator())
            .and_then(|p| {
                p.reaction(crate::reactions::ReactionKind::AgentStuck)
                    .and_then(|r| r.threshold)
                    .map(|d| d.0.as_millis() as i64)
            });
        crate::lifecycle::Policy { stuck_after_ms }
    }

    /// One observation of a session, decided and stored at once: its probe (liveness,
    /// the agent's own session id), what its agent is doing and since when, and its pull
    /// request's last reading (`snapshot`) go through the probe's rules and the
    /// lifecycle's one transition, re-decided on the latest row in one write; nothing is
    /// written when nothing changes.
    async fn observe(
        &self,
        s: &mut Session,
        probe: &Probe,
        snapshot: Option<&crate::store::PrSnapshot>,
        reads: &PassReads,
    ) -> Result<Option<ActivityReport>, ManagerError> {
        use crate::lifecycle::{AgentFact, Observation};
        let mut reading = None;
        let mut learned = s.clone();
        if probe.liveness == Liveness::Alive {
            reading = self
                .agent_activity_at(&mut learned, probe.last_output_at, Some(reads))
                .await;
        }
        let activity = reading.as_ref().map(|r| r.activity);
        let last_active_at = reading
            .as_ref()
            .and_then(|r| r.last_at)
            .or(probe.last_output_at);
        let agent_id = learned.agent_session_id;
        if probe.liveness == Liveness::Alive {
            self.last_active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(s.id.clone(), last_active_at);
        }
        let policy = self.policy(s);
        let pr = pr_fact(s, snapshot);
        let now = now_ms();
        let apply = |row: &mut Session, exit: Option<&AgentExit>| {
            let mut changes = apply_probe(row, probe.liveness, activity, agent_id.clone(), exit);
            if probe.liveness == Liveness::Alive && !row.status.is_terminal() && !in_flight(row) {
                let obs = Observation {
                    agent: AgentFact::Running {
                        activity: row.activity,
                        last_active_at,
                    },
                    pr: pr.clone(),
                };
                changes.extend(decide(row, &obs, &policy, now, ""));
            }
            changes
        };
        // Most probes change nothing: decide on the copy first, write only a change.
        let mut preview = s.clone();
        let changes = apply(&mut preview, None);
        if preview != *s || !changes.is_empty() {
            // An agent that ended is read once more, for how it ended.
            let exit = match probe.liveness {
                Liveness::Exited => self.agent_exit_now(s, None).await,
                _ => None,
            };
            *s = self.update(&s.id, |row| apply(row, exit.as_ref()))?;
        }
        Ok(reading)
    }

    /// The agent's activity, layered: its hooks' last report, then its session log, then
    /// (only when the plugin asks) the terminal. Learns the agent's own session id.
    pub(crate) async fn agent_activity(&self, s: &mut Session) -> Option<ActivityReport> {
        self.agent_activity_at(s, None, None).await
    }

    /// Whether the session's agent is busy right now (probed afresh): its process runs
    /// and reads as active.
    pub(crate) async fn agent_busy(&self, s: &Session) -> bool {
        let Ok(probe) = self.probe(s).await else {
            return false;
        };
        if probe.liveness != Liveness::Alive {
            return false;
        }
        let mut copy = s.clone();
        self.agent_activity_at(&mut copy, probe.last_output_at, None)
            .await
            .is_some_and(|r| r.activity == Activity::Active)
    }

    /// [`Manager::agent_activity`], knowing when the screen last changed; with the
    /// reports a probe read for all its sessions (`reads`), or else reading this one's.
    async fn agent_activity_at(
        &self,
        s: &mut Session,
        last_output_at: Option<crate::model::Timestamp>,
        reads: Option<&PassReads>,
    ) -> Option<ActivityReport> {
        let agent = self.agent(&s.agent).ok()?;
        let key = s.id.to_string();
        let mut ctx = match reads {
            Some(r) => self.activity_context_with(s, r.hooks.get(&key).cloned()),
            None => self.activity_context(s),
        };
        ctx.last_output_at = last_output_at;
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
        let reading = agent.activity(&ctx).await.ok()?;
        // What the agent said of itself outweighs what its screen suggests, until the
        // screen changes after it.
        let own;
        let reports = match reads {
            Some(r) => &r.reports,
            None if reading.source == ActivitySource::Terminal => {
                own = self.store().self_reports().unwrap_or_default();
                &own
            }
            None => return Some(reading),
        };
        if reading.source == ActivitySource::Terminal
            && let Some(r) = reports.get(&key)
            && r.at >= s.agent_started_at.unwrap_or(0)
            && last_output_at.is_none_or(|out| r.at >= out - 1_000)
        {
            return Some(ActivityReport {
                activity: super::report_activity(&r.state),
                source: ActivitySource::Report,
                last_at: Some(r.at),
                detail: r.note.clone(),
                resets_at: None,
                choices: Vec::new(),
            });
        }
        Some(reading)
    }

    /// What an agent plugin is given to read a session's activity and session info.
    fn activity_context(&self, s: &Session) -> ActivityContext {
        self.activity_context_with(s, self.store().agent_report(&s.id).ok().flatten())
    }

    /// [`Manager::activity_context`], with the hooks' last `report` already read.
    fn activity_context_with(
        &self,
        s: &Session,
        report: Option<crate::store::AgentReport>,
    ) -> ActivityContext {
        ActivityContext {
            session: s.id.clone(),
            workspace: s.workspace_path.clone().unwrap_or_default(),
            scratch_dir: self.data_dir(&s.id).join("agent"),
            agent_session_id: s.agent_session_id.clone(),
            started_at: s.agent_started_at,
            report,
            recent_output: None,
            idle_after_ms: self.config.config.ready_threshold_ms.unwrap_or(300_000),
            now: now_ms(),
            last_output_at: None,
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

    /// How the session's agent ended by itself, as recorded when ao saw it end.
    pub fn agent_exit(
        &self,
        id: &crate::model::SessionId,
    ) -> Result<Option<AgentExit>, ManagerError> {
        let kind = EventKind::AgentEnded {
            exit_code: None,
            output: String::new(),
        };
        Ok(match self.store().last_event_of(id, kind.name())? {
            Some((at, EventKind::AgentEnded { exit_code, output })) => Some(AgentExit {
                code: exit_code,
                output,
                at,
            }),
            _ => None,
        })
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
}

/// What to say of a live session whose workspace was deleted outside ao.
pub(crate) fn workspace_gone(s: &Session, path: &std::path::Path) -> String {
    format!(
        "its workspace {} is gone (deleted outside ao); `ao session kill {}` ends it, `ao session restore {}` recreates it from branch {}",
        path.display(),
        s.id,
        s.id,
        s.branch
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SessionId, StatusReason};

    fn working() -> Session {
        Session {
            activity: Some(Activity::Active),
            version: 3,
            ..crate::model::session_sample(&SessionId::new("app", 1))
        }
    }

    #[test]
    fn a_runtime_that_is_gone_ends_the_session_with_a_warning() {
        let mut s = working();
        let changes = apply_probe(&mut s, Liveness::Gone, None, None, None);
        assert_eq!(s.status, SessionStatus::Killed);
        assert_eq!(s.status_reason, Some(StatusReason::RuntimeLost));
        assert_eq!(s.activity, Some(Activity::Exited));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].priority, Priority::Warning);
    }

    #[test]
    fn ended_in_flight_and_unknown_are_left_as_they_are() {
        let mut ended = working();
        ended.status = SessionStatus::Killed;
        let mut spawning = working();
        spawning.spawn_pid = Some(7);
        let mut restoring = working();
        restoring.restore_pid = Some(7);
        for s in [ended, spawning, restoring] {
            let mut after = s.clone();
            let changes = apply_probe(&mut after, Liveness::Gone, Some(Activity::Idle), None, None);
            assert_eq!(after, s);
            assert!(changes.is_empty());
        }
        let mut s = working();
        assert!(apply_probe(&mut s, Liveness::Unknown, None, None, None).is_empty());
        assert_eq!(s, working());
    }

    #[test]
    fn a_live_agent_shows_its_activity_and_its_id_is_learnt_once() {
        let mut s = working();
        apply_probe(
            &mut s,
            Liveness::Alive,
            Some(Activity::Ready),
            Some("x".into()),
            None,
        );
        assert_eq!(s.activity, Some(Activity::Ready));
        assert_eq!(s.agent_session_id.as_deref(), Some("x"));
        apply_probe(&mut s, Liveness::Alive, None, Some("y".into()), None);
        assert_eq!(s.agent_session_id.as_deref(), Some("x"));
        assert_eq!(
            s.activity,
            Some(Activity::Ready),
            "no reading keeps the last"
        );
        let changes = apply_probe(&mut s, Liveness::Exited, None, None, None);
        assert_eq!(
            (s.status, s.status_reason, s.activity),
            (
                SessionStatus::Killed,
                Some(StatusReason::AgentExited),
                Some(Activity::Exited)
            )
        );
        assert_eq!(changes.len(), 1);
    }

    #[test]
    fn an_agent_that_exits_0_has_finished_and_its_end_is_kept() {
        let long: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        for (code, status, reason, priority) in [
            (
                Some(0),
                SessionStatus::Done,
                StatusReason::AgentFinished,
                Priority::Info,
            ),
            (
                Some(3),
                SessionStatus::Killed,
                StatusReason::AgentExited,
                Priority::Warning,
            ),
        ] {
            let mut s = working();
            let exit = AgentExit {
                code,
                output: long.clone(),
                at: 0,
            };
            let changes = apply_probe(&mut s, Liveness::Exited, None, None, Some(&exit));
            assert_eq!((s.status, s.status_reason), (status, Some(reason)));
            assert_eq!(changes.len(), 1);
            assert_eq!(changes[0].priority, priority);
            let EventKind::AgentEnded { exit_code, output } = &changes[0].kind else {
                panic!("{:?}", changes[0].kind);
            };
            assert_eq!(*exit_code, code);
            // The last lines only.
            assert_eq!(output.lines().count(), EXIT_OUTPUT_LINES);
            assert!(output.ends_with("line 30"), "{output}");
            // Ended: a later probe changes nothing.
            let before = s.clone();
            assert!(apply_probe(&mut s, Liveness::Gone, None, None, None).is_empty());
            assert_eq!(s, before);
        }
    }
}
