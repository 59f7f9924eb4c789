//! `ao spawn`: the flow in DESIGN.md, each step recorded in the session's row (its
//! journal) before it is taken, so a failed, cancelled or killed spawn is undone.

use super::failpoint::step;
use super::plugins::Plugins;
use super::recover::local_base;
use super::{Manager, ManagerError, Op};
use crate::config::ResolvedProject;
use crate::model::{
    Activity, EventKind, Priority, Session, SessionId, SessionStatus, WorkspaceClaim, now_ms,
};
use crate::plugin::Issue;
use crate::store::{Change, Reserved, SessionFilter};
use crate::until::Deadline;
use std::sync::Arc;
use std::time::Duration;

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
    /// An existing pull request (number, `#N` or address) the one new session takes
    /// over, working on its branch.
    pub claim_pr: Option<String>,
    /// Told, once per task, that it waits for a slot (with `wait`), and why.
    pub on_wait: Option<fn(&str)>,
}

/// What one `ao spawn` call did: one result per task, in the order given, and the
/// warnings the user should read.
#[derive(Debug)]
pub struct SpawnOutcome {
    /// Per task: the new session, or why it was not made.
    pub results: Vec<(Task, Result<Session, ManagerError>)>,
    /// Interrupted spawns undone, a fetch that failed, and the like.
    pub warnings: Vec<String>,
}

/// The ref new branches start from, once this call's fetch has finished.
type Base = tokio::sync::watch::Receiver<Option<crate::git::BaseRef>>;

/// A session's task, resolved: the issue (if any), the prompt and the branch.
struct Resolved {
    issue: Option<Issue>,
    prompt: String,
    branch: Option<String>,
}

/// How often a spawn waiting with `--wait` looks for a free slot.
const WAIT_POLL: Duration = Duration::from_millis(250);

impl Manager {
    /// Spawns one session per task of `req`, in parallel, within the project's
    /// `maxSessions`; the rest are refused, or with `wait` start as slots free up.
    pub async fn spawn(self: &Arc<Self>, req: SpawnRequest) -> Result<SpawnOutcome, ManagerError> {
        let project = self.project(&req.project)?;
        if let Some(b) = &req.branch {
            if req.tasks.len() > 1 {
                return Err(ManagerError::refused(
                    "--branch names one branch, but several sessions were asked for",
                    "spawn them one at a time, or leave out --branch",
                ));
            }
            if let Some(problem) = crate::git::branch_name_problem(&project.path, b) {
                return Err(ManagerError::refused(
                    problem,
                    "use letters, digits, `-`, `_`, `.` and `/`, e.g. feat/login",
                ));
            }
        }
        let claim = match &req.claim_pr {
            None => None,
            Some(_) if req.tasks.len() > 1 => {
                return Err(ManagerError::refused(
                    "--claim-pr hands one pull request to one session, but several were asked for",
                    "spawn one session with --claim-pr, and the others without it",
                ));
            }
            Some(_) if req.branch.is_some() => {
                return Err(ManagerError::refused(
                    "--claim-pr works on the pull request's own branch, so --branch cannot name another",
                    "leave out --branch",
                ));
            }
            Some(text) => {
                let (status, holders) = self.claimable_pr(&project, text, None).await?;
                self.fetch_pr_branch(&project, &status).await?;
                Some((status, holders))
            }
        };
        let branch = claim
            .as_ref()
            .map(|(status, _)| status.head_branch.clone())
            .or_else(|| req.branch.clone());
        let unborn = git2::Repository::open(&project.path)
            .is_ok_and(|r| matches!(r.head(), Err(e) if e.code() == git2::ErrorCode::UnbornBranch));
        if unborn {
            return Err(ManagerError::refused(
                format!(
                    "the repository of project `{}` ({}) has no commits yet, and a session's branch starts from one",
                    project.id,
                    project.path.display()
                ),
                "make a first commit (`git commit --allow-empty -m start`), then spawn again",
            ));
        }
        let agent_name = req.agent.clone().unwrap_or_else(|| project.agent.clone());
        // New sessions for an agent held by its usage limit wait for it to lift.
        while let Some(l) = self.agent_limit(&agent_name)? {
            let held = ManagerError::LimitHeld {
                agent: agent_name.clone(),
                reported_by: l.session.to_string(),
                resets_at: l.resets_at,
            };
            let Some(at) = l.resets_at.filter(|_| req.wait) else {
                return Err(held);
            };
            if let Some(tell) = req.on_wait {
                tell(&format!("{held}; waiting"));
            }
            let wait = (at - crate::model::now_ms()).clamp(100, 60_000) as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        let plugins =
            Arc::new(self.plugins_for(&agent_name, &project.workspace, &project.runtime)?);
        let mut resolved = Vec::new();
        let mut results: Vec<Option<Result<Session, ManagerError>>> = Vec::new();
        let needs_tracker = req.tasks.iter().any(|t| matches!(t, Task::Issue(_)));
        let tracker = if needs_tracker {
            Some(self.tracker(&project).map_err(|e| {
                // `tracker: none` says so itself, and what to set.
                if project.tracker == crate::config::unknown_plugin::NO_TRACKER {
                    return e;
                }
                ManagerError::refused(
                    format!(
                        "project `{}` has no tracker that can read issues: {e}",
                        project.id
                    ),
                    "give the task as text with --prompt, or configure a tracker under the project's `tracker:`",
                )
            })?)
        } else {
            None
        };
        for task in &req.tasks {
            let r = match task {
                Task::Issue(id) => {
                    let t = tracker.as_ref().expect("built above");
                    match t.issue(id).await {
                        Ok(issue) if issue.state.as_deref() == Some("closed") => {
                            Err(ManagerError::refused(
                                format!(
                                    "issue #{} ({}) is closed: there is nothing left to work on",
                                    issue.id, issue.title
                                ),
                                "reopen it first, or give the task as text with --prompt",
                            ))
                        }
                        Ok(issue) => Ok(Resolved {
                            prompt: t.prompt(&issue),
                            branch: Some(branch.clone().unwrap_or_else(|| t.branch_name(&issue))),
                            issue: Some(issue),
                        }),
                        Err(e) => Err(ManagerError::from(e)),
                    }
                }
                Task::Prompt(text) => Ok(Resolved {
                    issue: None,
                    prompt: text.clone(),
                    branch: branch.clone(),
                }),
                Task::Nothing => Ok(Resolved {
                    issue: None,
                    prompt: claim
                        .as_ref()
                        .map(|(status, _)| super::claim::claim_task(status))
                        .unwrap_or_default(),
                    branch: branch.clone(),
                }),
            };
            // Git keeps a branch in one worktree: say which session holds it.
            let r = r.and_then(|r| match &r.branch {
                Some(b) => self.branch_free(&project, b, None).map(|()| r),
                None => Ok(r),
            });
            match r {
                Ok(r) => {
                    resolved.push((results.len(), r));
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        // The one fetch of this call runs while ids are reserved and recorded; each
        // session waits for it just before its workspace is made.
        let (base_tx, base) = tokio::sync::watch::channel(None);
        let (repo, branch) = (project.path.clone(), project.default_branch.clone());
        tokio::spawn(async move {
            let fetched = crate::git::fetch_base(&repo, &branch).await;
            let _ = base_tx.send(Some(fetched));
        });
        // On this one thread the fetch starts only when this task first waits: let it
        // start git now, so the fetch runs while the rest is done.
        tokio::task::yield_now().await;
        let mut warnings = self.recover().await?;

        let mut set = tokio::task::JoinSet::new();
        for (i, r) in resolved {
            let mut told_wait = false;
            let id = loop {
                if self.is_interrupted() {
                    results[i] = Some(Err(ManagerError::Interrupted));
                    break None;
                }
                if project.max_sessions.is_some() {
                    // A probe first, so a session whose runtime died frees its slot.
                    self.status(Some(&project.id), false).await?;
                }
                match self.reserve_id(&project, &plugins).await {
                    Ok(Reserved::Id(id)) => break Some(id),
                    Ok(Reserved::Full(_)) if self.is_interrupted() => {
                        results[i] = Some(Err(ManagerError::Interrupted));
                        break None;
                    }
                    Ok(Reserved::Full(taken)) if req.wait => {
                        if !told_wait {
                            told_wait = true;
                            if let Some(tell) = req.on_wait {
                                tell(&format!(
                                    "{}; waiting for a slot to free",
                                    full(&project, &taken)
                                ));
                            }
                        }
                        tracing::debug!("{}: no slot free yet ({})", project.id, taken.join(", "));
                        tokio::time::sleep(WAIT_POLL).await;
                    }
                    Ok(Reserved::Full(taken)) => {
                        results[i] = Some(Err(full(&project, &taken)));
                        break None;
                    }
                    Err(e) => {
                        results[i] = Some(Err(e));
                        break None;
                    }
                }
            };
            let Some(id) = id else { continue };
            let me = Arc::clone(self);
            let project = project.clone();
            let plugins = Arc::clone(&plugins);
            let base = base.clone();
            let agent = agent_name.clone();
            set.spawn(async move {
                (
                    i,
                    me.spawn_one(id, &project, &plugins, &agent, r, &base).await,
                )
            });
        }
        while let Some(joined) = set.join_next().await {
            let (i, r) =
                joined.map_err(|e| ManagerError::plain(format!("a spawn task failed: {e}")))?;
            results[i] = Some(match (r, &claim) {
                (Ok(s), Some((status, holders))) => self.attach_claimed(&s, status, holders, true),
                (r, _) => r,
            });
        }
        if let Ok(fetched) = base.clone().wait_for(Option::is_some).await {
            warnings.extend(fetched.as_ref().and_then(|b| b.warning.clone()));
        }
        let warnings = warnings.iter().map(|w| self.config.redact(w)).collect();
        Ok(SpawnOutcome {
            results: req
                .tasks
                .into_iter()
                .zip(results)
                .map(|(t, r)| (t, r.expect("every task has a result")))
                .collect(),
            warnings,
        })
    }

    /// Reserves the project's next free id within `maxSessions` (counted and reserved in
    /// one transaction). An id whose name the runtime already uses (a tmux session of
    /// that name) or whose workspace path is taken is skipped; ids are never reused, so
    /// a skipped one stays spent.
    async fn reserve_id(
        &self,
        project: &ResolvedProject,
        plugins: &Plugins,
    ) -> Result<Reserved, ManagerError> {
        let pid = std::process::id();
        for _ in 0..100 {
            let reserved = self.store().reserve_session_id_within(
                &project.id,
                &project.session_prefix,
                pid,
                project.max_sessions,
            )?;
            let Reserved::Id(candidate) = reserved else {
                return Ok(reserved);
            };
            step("reserved")?;
            let path = self.workspace_root(project).join(candidate.to_string());
            let taken = path.symlink_metadata().is_ok()
                || plugins
                    .runtime
                    .name_taken(&candidate, &self.data_dir(&candidate))
                    .await?;
            if !taken {
                return Ok(Reserved::Id(candidate));
            }
            self.store().release_reservation(&candidate)?;
        }
        Err(ManagerError::refused(
            "the next 100 session ids are all taken (a runtime session or a workspace directory of that name exists)",
            "end the stray sessions or move the directories away, or give the project another sessionPrefix",
        ))
    }

    async fn spawn_one(
        &self,
        id: SessionId,
        project: &ResolvedProject,
        plugins: &Plugins,
        agent: &str,
        task: Resolved,
        base: &Base,
    ) -> Result<Session, ManagerError> {
        let branch = match task.branch {
            Some(b) => b,
            None if !task.prompt.is_empty() => {
                let slug = crate::text::slug(&task.prompt, 40);
                if slug.is_empty() {
                    format!("feat/{id}")
                } else {
                    format!("feat/{slug}-{id}")
                }
            }
            None => format!("session/{id}"),
        };
        let created_branch = !crate::git::local_branch_exists(&project.path, &branch);
        let mut s = Session {
            issue: task.issue.as_ref().map(|i| i.id.clone()),
            created_branch,
            prompt: (!task.prompt.is_empty()).then(|| task.prompt.clone()),
            ..Session::starting(
                id.clone(),
                crate::model::Origin {
                    project: project.id.clone(),
                    branch,
                    agent: agent.to_owned(),
                    workspace: project.workspace.clone(),
                    runtime: project.runtime.clone(),
                    workspace_path: self.workspace_root(project).join(id.to_string()),
                },
                now_ms(),
            )
        };
        if let Err(e) = self.store().insert_session(&s) {
            self.store().release_reservation(&id)?;
            return Err(e.into());
        }
        let outcome = {
            let steps = self.spawn_steps(project, plugins, &mut s, base);
            tokio::select! {
                r = steps => r,
                stop = self.until_stopped(&id) => Err(stop),
            }
        };
        match outcome {
            Ok(()) => Ok(s),
            Err(e) => {
                let note = match self.undo_spawn(&s).await {
                    Ok(parts) if parts.is_empty() => String::new(),
                    Ok(parts) => format!("\n(undone: {})", parts.join(", ")),
                    Err(u) => format!("\n(undoing it also failed: {u})"),
                };
                Err(e
                    .during(Op::Spawn, &id, &note)
                    .redacted(|t| self.config.redact(t)))
            }
        }
    }

    /// Returns once this spawn must stop: `ao session kill` asked it to, or this process
    /// was interrupted.
    async fn until_stopped(&self, id: &SessionId) -> ManagerError {
        let mut wait = Deadline::none().pausing_at_most(super::wait::LONGEST_LOOK);
        loop {
            if self.is_interrupted() {
                return ManagerError::Interrupted;
            }
            if self.cancel_requested(id) {
                return ManagerError::Cancelled;
            }
            wait.pause().await;
        }
    }

    async fn spawn_steps(
        &self,
        project: &ResolvedProject,
        plugins: &Plugins,
        s: &mut Session,
        base: &Base,
    ) -> Result<(), ManagerError> {
        step("row")?;
        let mut spec = self.workspace_spec(project, s);
        // The workspace directory is claimed in three recorded steps, so an undo removes
        // it only when this spawn made it: the intent, the directory (which must not be
        // there yet), then the fact that it is this session's. They need no base, so
        // they are done while the fetch runs.
        s.workspace_claim = WorkspaceClaim::Pending;
        self.commit(s, Vec::new())?;
        step("claim")?;
        make_workspace_dir(s, &spec.path)?;
        step("dir")?;
        s.workspace_claim = WorkspaceClaim::Made;
        self.commit(s, Vec::new())?;
        spec.base_branch = base
            .clone()
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|b| b.as_ref().map(|b| b.reference.clone()))
            .unwrap_or_else(|| local_base(project));
        let info = match plugins.workspace.create(&spec).await {
            Ok(info) => info,
            // Another spawn may have taken the branch since this one looked.
            Err(e) => {
                return Err(self
                    .branch_free(project, &s.branch, Some(&s.id))
                    .err()
                    .unwrap_or(e.into()));
            }
        };
        self.mark_workspace(s, &info.path);
        if s.created_branch != info.created_branch {
            s.created_branch = info.created_branch;
            self.commit(s, Vec::new())?;
        }
        step("workspace")?;
        self.run_post_create(plugins, &spec, &info).await?;
        step("post-create")?;
        let prompt = s.prompt.clone().unwrap_or_default();
        let ctx = self.launch_context(project, s, &prompt)?;
        let launch = plugins.agent.launch(&ctx)?;
        let started = self
            .start_agent(project, plugins, s, &ctx, launch, !prompt.is_empty())
            .await?;
        let question = started.question;
        step("prompt")?;
        // The task is delivered: from here on nothing is undone. A one-shot agent may have
        // done its work and exited already; its session is recorded as over.
        let exit = self.agent_exit_now(s, started.typed_then_seen).await;
        // A program that could not be run at all (exit codes 126, 127) took no task,
        // however quickly it was seen running: the spawn failed, and is undone.
        if let Some(e) = exit.as_ref().filter(|e| matches!(e.code, Some(126 | 127))) {
            return Err(ManagerError::AgentExited {
                code: e.code,
                when: "before it was ready".into(),
                diagnosis: plugins.agent.diagnose(&e.output, &ctx.config),
                output: e.output.clone(),
            });
        }
        s.status = SessionStatus::Working;
        s.spawn_pid = None;
        s.activity = Some(if question.is_some() {
            Activity::WaitingInput
        } else {
            Activity::Active
        });
        let mut changes = vec![Change::new(
            EventKind::SessionSpawned,
            Priority::Info,
            format!("{} spawned on {}", s.id, s.branch),
        )];
        if let Some(exit) = &exit {
            changes.extend(super::status::end_by_agent(s, exit));
        }
        self.commit(s, changes)?;
        Ok(())
    }
}

impl Manager {
    /// Refuses `branch` when another session of the project (not `except`) holds it: a
    /// live one works on it, and an ended one whose worktree is still there keeps it
    /// checked out (git lets a branch be in one worktree only). The refusal names the
    /// session and what to do.
    fn branch_free(
        &self,
        project: &ResolvedProject,
        branch: &str,
        except: Option<&SessionId>,
    ) -> Result<(), ManagerError> {
        let sessions = self.store().sessions(&SessionFilter {
            project: Some(project.id.clone()),
            include_archived: true,
        })?;
        for other in sessions {
            // The orchestrator's branch is the project's own checkout's.
            if other.branch != branch || Some(&other.id) == except || other.id.is_orchestrator() {
                continue;
            }
            let id = &other.id;
            let status = match other.status_reason {
                Some(r) => format!("{} ({r})", other.status),
                None => other.status.to_string(),
            };
            // A linked worktree's `.git` is a file; a clone's is a directory of its own.
            let worktree = other
                .workspace_path
                .as_deref()
                .filter(|p| p.join(".git").is_file());
            let live = !other.status.is_terminal() && other.archived_at.is_none();
            if live {
                return Err(ManagerError::refused(
                    format!(
                        "{id} works on branch {branch} already ({status}{})",
                        other
                            .workspace_path
                            .as_deref()
                            .map(|p| format!(", in {}", p.display()))
                            .unwrap_or_default()
                    ),
                    format!(
                        "give this session a branch of its own with --branch NAME, or carry on in {id} (`ao send {id} ...`, `ao attach {id}`); `ao session kill {id}` ends it"
                    ),
                ));
            }
            if let Some(path) = worktree {
                return Err(ManagerError::refused(
                    format!(
                        "branch {branch} is checked out in {id}'s workspace {} ({id} is {status})",
                        path.display()
                    ),
                    format!(
                        "give this session a branch of its own with --branch NAME; `ao session restore {id}` carries on there, or `ao session kill {id}` removes that workspace (the branch stays)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Makes the session's workspace directory, which must not exist yet: whatever is at
/// that path belongs to someone else and is left exactly as it is.
pub(crate) fn make_workspace_dir(s: &Session, path: &std::path::Path) -> Result<(), ManagerError> {
    let cannot =
        |e: std::io::Error| ManagerError::plain(format!("cannot create {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(cannot)?;
    }
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(ManagerError::refused(
            format!(
                "{} already exists and is not {}'s; it was left as it is",
                path.display(),
                s.id
            ),
            "move it away, or give this ao a worktreeDir of its own",
        )),
        Err(e) => Err(cannot(e)),
    }
}

/// The refusal for a project at its `maxSessions`.
fn full(project: &ResolvedProject, taken: &[String]) -> ManagerError {
    ManagerError::ProjectFull {
        project: project.id.to_string(),
        max: project.max_sessions.unwrap_or(0),
        taken: taken.to_vec(),
    }
}
