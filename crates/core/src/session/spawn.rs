//! Spawn and restore: the flow in DESIGN.md, each step recorded before it is taken.

use super::failpoint::failpoint;
use super::manager::{Manager, ManagerError, Plugins, SpawnRequest, Task, indent, local_base};
use crate::config::ResolvedProject;
use crate::model::{Activity, EventKind, Priority, Session, SessionStatus, now_ms};
use crate::plugin::{
    Issue, LaunchContext, LaunchSpec, Liveness, PromptDelivery, Runtime, RuntimeSpec, WorkspaceSpec,
};
use crate::store::SessionFilter;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What one `ao spawn` call did: one result per task, in the order given, and the
/// warnings the user should read.
#[derive(Debug)]
pub struct SpawnOutcome {
    /// Per task: the new session, or why it was not made.
    pub results: Vec<(Task, Result<Session, ManagerError>)>,
    /// Interrupted spawns undone, a fetch that failed, and the like.
    pub warnings: Vec<String>,
}

fn step(name: &str) -> Result<(), ManagerError> {
    failpoint(name).map_err(|m| ManagerError::Refused {
        message: m,
        hint: None,
    })
}

/// The ref new branches start from, once this call's fetch has finished.
type Base = tokio::sync::watch::Receiver<Option<crate::git::BaseRef>>;

/// A session's task, resolved: the issue (if any), the prompt and the branch.
struct Resolved {
    issue: Option<Issue>,
    prompt: String,
    branch: Option<String>,
}

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
            if !crate::git::is_valid_branch_name(b) {
                return Err(ManagerError::refused(
                    format!("`{b}` is not a valid git branch name"),
                    "use letters, digits, `-`, `_`, `.` and `/`, e.g. feat/login",
                ));
            }
        }
        let agent_name = req.agent.clone().unwrap_or_else(|| project.agent.clone());
        let plugins =
            Arc::new(self.plugins_for(&agent_name, &project.workspace, &project.runtime)?);
        let mut resolved = Vec::new();
        let mut results: Vec<Option<Result<Session, ManagerError>>> = Vec::new();
        let needs_tracker = req.tasks.iter().any(|t| matches!(t, Task::Issue(_)));
        let tracker = if needs_tracker {
            Some(self.tracker(&project).map_err(|e| {
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
                        Ok(issue) => Ok(Resolved {
                            prompt: t.prompt(&issue),
                            branch: Some(
                                req.branch.clone().unwrap_or_else(|| t.branch_name(&issue)),
                            ),
                            issue: Some(issue),
                        }),
                        Err(e) => Err(ManagerError::from(e)),
                    }
                }
                Task::Prompt(text) => Ok(Resolved {
                    issue: None,
                    prompt: text.clone(),
                    branch: req.branch.clone(),
                }),
                Task::Nothing => Ok(Resolved {
                    issue: None,
                    prompt: String::new(),
                    branch: req.branch.clone(),
                }),
            };
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
        let mut warnings = self.recover().await?;

        let mut pending = resolved.into_iter();
        let mut pending_left = pending.len();
        while pending_left > 0 {
            let free = self.free_slots(&project).await?;
            if free == 0 {
                if !req.wait {
                    let live = self.live_ids(&project.id)?;
                    for (i, _) in pending.by_ref() {
                        results[i] = Some(Err(ManagerError::refused(
                            format!(
                                "project `{}` already has {} live session{} (maxSessions {}): {}",
                                project.id,
                                live.len(),
                                if live.len() == 1 { "" } else { "s" },
                                project.max_sessions.unwrap_or(0),
                                live.join(", ")
                            ),
                            "kill or clean up one of them, or pass --wait to start when a slot frees",
                        )));
                    }
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            let mut set = tokio::task::JoinSet::new();
            for (i, r) in pending.by_ref().take(free) {
                pending_left -= 1;
                let me = Arc::clone(self);
                let project = project.clone();
                let plugins = Arc::clone(&plugins);
                let base = base.clone();
                let agent = agent_name.clone();
                set.spawn(
                    async move { (i, me.spawn_one(&project, &plugins, &agent, r, &base).await) },
                );
            }
            while let Some(joined) = set.join_next().await {
                let (i, r) = joined.map_err(|e| ManagerError::Refused {
                    message: format!("a spawn task failed: {e}"),
                    hint: None,
                })?;
                results[i] = Some(r);
            }
        }
        if let Ok(fetched) = base.clone().wait_for(Option::is_some).await {
            warnings.extend(fetched.as_ref().and_then(|b| b.warning.clone()));
        }
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

    /// The project's live sessions (not ended, not archived), spawning ones included.
    fn live_ids(&self, project: &str) -> Result<Vec<String>, ManagerError> {
        Ok(self
            .store()
            .sessions(&SessionFilter {
                project: Some(project.to_owned()),
                include_archived: false,
            })?
            .into_iter()
            .filter(|s| !s.status.is_terminal())
            .map(|s| s.id.to_string())
            .collect())
    }

    /// How many more sessions the project may start now (after a probe, so a dead
    /// runtime frees its slot).
    async fn free_slots(&self, project: &ResolvedProject) -> Result<usize, ManagerError> {
        let Some(max) = project.max_sessions else {
            return Ok(usize::MAX);
        };
        self.status(Some(&project.id), false).await?;
        let reserved = self
            .store()
            .reservations()?
            .into_iter()
            .filter(|r| r.project == project.id)
            .count();
        let live = self.live_ids(&project.id)?.len() + reserved;
        Ok((max as usize).saturating_sub(live))
    }

    async fn spawn_one(
        &self,
        project: &ResolvedProject,
        plugins: &Plugins,
        agent: &str,
        task: Resolved,
        base: &Base,
    ) -> Result<Session, ManagerError> {
        let pid = std::process::id();
        // An id whose name the runtime already uses (a tmux session of that name) is
        // skipped; ids are never reused, so the skipped one stays spent.
        let mut id = None;
        for _ in 0..100 {
            let candidate =
                self.store()
                    .reserve_session_id(&project.id, &project.session_prefix, pid)?;
            step("reserved")?;
            let taken = plugins
                .runtime
                .find(&candidate, &self.data_dir(&candidate))
                .await?
                .is_some();
            if !taken {
                id = Some(candidate);
                break;
            }
            self.store().release_reservation(&candidate)?;
        }
        let id = id.ok_or_else(|| {
            ManagerError::refused(
                "the runtime already has sessions under the next 100 ids",
                "end the stray sessions, or give the project another sessionPrefix",
            )
        })?;
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
        let now = now_ms();
        let mut s = Session {
            id: id.clone(),
            project: project.id.clone(),
            issue: task.issue.as_ref().map(|i| i.id.clone()),
            workspace_path: Some(self.workspace_root(project).join(id.to_string())),
            created_branch: !crate::git::local_branch_exists(&project.path, &branch),
            branch,
            runtime: None,
            agent: agent.to_owned(),
            workspace: project.workspace.clone(),
            runtime_plugin: project.runtime.clone(),
            agent_session_id: None,
            agent_started_at: None,
            pr: None,
            status: SessionStatus::Spawning,
            status_reason: None,
            activity: None,
            created_at: now,
            updated_at: now,
            archived_at: None,
            spawn_pid: Some(pid),
            prompt: (!task.prompt.is_empty()).then(|| task.prompt.clone()),
        };
        if let Err(e) = self.store().insert_session(&s) {
            self.store().release_reservation(&id)?;
            return Err(e.into());
        }
        match self.spawn_steps(project, plugins, &mut s, base).await {
            Ok(()) => Ok(s),
            Err(e) => {
                let undone = self.undo_spawn(&s).await;
                let note = match undone {
                    Ok(parts) if parts.is_empty() => String::new(),
                    Ok(parts) => format!("\n(undone: {})", parts.join(", ")),
                    Err(u) => format!("\n(undoing it also failed: {u})"),
                };
                Err(match e {
                    ManagerError::Refused { message, hint } => ManagerError::Refused {
                        message: format!("{id}: spawn failed: {message}{note}"),
                        hint,
                    },
                    ManagerError::Plugin(p) => ManagerError::Refused {
                        message: format!("{id}: spawn failed: {p}{note}"),
                        hint: None,
                    },
                    e => e,
                })
            }
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
        spec.base_branch = base
            .clone()
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|b| b.as_ref().map(|b| b.reference.clone()))
            .unwrap_or_else(|| local_base(project));
        let info = plugins.workspace.create(&spec).await?;
        if s.created_branch != info.created_branch {
            s.created_branch = info.created_branch;
            self.save(s)?;
        }
        step("workspace")?;
        self.run_post_create(plugins, &spec, &info).await?;
        step("post-create")?;
        let prompt = s.prompt.clone().unwrap_or_default();
        let ctx = self.launch_context(project, s, &prompt)?;
        let launch = plugins.agent.launch(&ctx)?;
        self.start_agent(project, plugins, s, &ctx, launch, !prompt.is_empty())
            .await?;
        step("prompt")?;
        s.status = SessionStatus::Working;
        s.spawn_pid = None;
        s.activity = Some(Activity::Active);
        s.updated_at = now_ms();
        self.save(s)?;
        self.event(
            s,
            EventKind::SessionSpawned,
            Priority::Info,
            format!("{} spawned on {}", s.id, s.branch),
        );
        Ok(())
    }

    async fn run_post_create(
        &self,
        plugins: &Plugins,
        spec: &WorkspaceSpec,
        info: &crate::plugin::WorkspaceInfo,
    ) -> Result<(), ManagerError> {
        let outputs = plugins.workspace.post_create(spec, info).await?;
        if !outputs.is_empty() {
            let dir = self.data_dir(&spec.session);
            let mut log = String::new();
            for o in &outputs {
                log.push_str(&format!("$ {}\n{}\n", o.command, o.output.trim_end()));
            }
            let _ = std::fs::create_dir_all(&dir)
                .and_then(|_| std::fs::write(dir.join("post-create.log"), log));
        }
        Ok(())
    }

    fn launch_context(
        &self,
        project: &ResolvedProject,
        s: &Session,
        prompt: &str,
    ) -> Result<LaunchContext, ManagerError> {
        let mut rules = project.agent_rules.clone().unwrap_or_default();
        if let Some(file) = &project.agent_rules_file
            && let Ok(text) = std::fs::read_to_string(file)
        {
            if !rules.is_empty() {
                rules.push_str("\n\n");
            }
            rules.push_str(&text);
        }
        Ok(LaunchContext {
            session: s.id.clone(),
            project: project.id.clone(),
            workspace: s.workspace_path.clone().unwrap_or_default(),
            prompt: prompt.to_owned(),
            config: project.agent_config.clone(),
            rules: (!rules.is_empty()).then_some(rules),
            scratch_dir: self.data_dir(&s.id).join("agent"),
            hook_command: vec![
                self.ao_exe.to_string_lossy().into_owned(),
                "hook".into(),
                s.agent.clone(),
            ],
        })
    }

    /// Starts the agent in the runtime, waits until it runs, and delivers the prompt
    /// when it is typed in after launch.
    async fn start_agent(
        &self,
        project: &ResolvedProject,
        plugins: &Plugins,
        s: &mut Session,
        ctx: &LaunchContext,
        launch: LaunchSpec,
        deliver: bool,
    ) -> Result<(), ManagerError> {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for key in ["PATH", "HOME", "LANG", "USER"] {
            if let Some(v) = (self.env)(key) {
                env.insert(key.to_owned(), v);
            }
        }
        env.extend(launch.env.clone());
        env.insert("AO_SESSION_ID".into(), s.id.to_string());
        env.insert("AO_PROJECT_ID".into(), project.id.clone());
        env.insert("AO_HOME".into(), self.home.to_string_lossy().into_owned());
        // `ao` run inside the session (its hooks, the agent itself) finds the same config.
        env.insert(
            "AO_CONFIG_PATH".into(),
            self.config.file.to_string_lossy().into_owned(),
        );
        let spec = RuntimeSpec {
            session: s.id.clone(),
            cwd: ctx.workspace.clone(),
            argv: launch.argv.clone(),
            env,
            stdin: match &launch.prompt {
                PromptDelivery::StdinFile(f) => Some(f.clone()),
                _ => None,
            },
            data_dir: self.data_dir(&s.id),
        };
        if let Some(program) = launch.argv.first()
            && crate::exec::find_program(program, spec_path(&spec.env)).is_none()
        {
            return Err(ManagerError::Refused {
                message: format!("the agent's program `{program}` was not found on PATH"),
                hint: Some(format!(
                    "install it, or give its path in agentConfig.command; PATH is {}",
                    spec_path(&spec.env).unwrap_or("unset")
                )),
            });
        }
        // Reports from an earlier run of the agent say nothing about this one.
        self.store().clear_agent_report(&s.id)?;
        let handle = plugins.runtime.create(&spec).await?;
        s.runtime = Some(handle.clone());
        if launch.agent_session_id.is_some() {
            s.agent_session_id = launch.agent_session_id.clone();
        }
        s.updated_at = now_ms();
        s.agent_started_at = Some(s.updated_at);
        self.save(s)?;
        step("runtime")?;
        let names = plugins.agent.process_names(&ctx.config);
        let post_launch = launch.prompt == PromptDelivery::PostLaunch;
        self.wait_ready(plugins.runtime.as_ref(), &handle, &names, !post_launch)
            .await
            .map_err(|e| match e {
                ManagerError::Refused { message, hint } => ManagerError::Refused {
                    hint: plugins.agent.diagnose(&message, &ctx.config).or(hint),
                    message,
                },
                e => e,
            })?;
        if plugins.agent.confirms_start() {
            self.confirm_start(plugins, s, &handle, &ctx.config).await?;
        }
        step("ready")?;
        if post_launch && deliver && plugins.agent.confirms_delivery() {
            self.await_input_prompt(plugins, s, &handle).await?;
            let typed_at = now_ms();
            plugins.runtime.send(&handle, &ctx.prompt).await?;
            self.confirm_taken(s, plugins.runtime.as_ref(), &handle, typed_at, "task")
                .await?;
        } else if post_launch && deliver {
            plugins.runtime.send(&handle, &ctx.prompt).await?;
            // Delivered into a process that is still the agent, not a shell left behind.
            let probe = self.probe(s).await?;
            if matches!(probe.liveness, Liveness::Exited | Liveness::Gone) {
                let out = plugins
                    .runtime
                    .output(&handle, 40)
                    .await
                    .unwrap_or_default();
                return Err(ManagerError::Refused {
                    message: format!(
                        "the agent exited as the task arrived; its last output:\n{}",
                        indent(&out)
                    ),
                    hint: None,
                });
            }
        }
        Ok(())
    }

    /// Before a task is typed in: waits until the agent reads `ready` (its input prompt is
    /// up). An agent asking a question first, quitting, or never showing its prompt fails
    /// the spawn with nothing typed.
    async fn await_input_prompt(
        &self,
        plugins: &Plugins,
        s: &mut Session,
        handle: &crate::model::RuntimeHandle,
    ) -> Result<(), ManagerError> {
        let deadline = std::time::Instant::now() + self.ready_timeout;
        loop {
            self.fail_if_exited(
                plugins.runtime.as_ref(),
                s,
                handle,
                "before it took the task",
            )
            .await?;
            match self.agent_activity(s).await {
                Some(r) if matches!(r.activity, Activity::Ready | Activity::Idle) => return Ok(()),
                Some(r) if r.activity == Activity::WaitingInput => {
                    return Err(ManagerError::Refused {
                        message: format!(
                            "the agent asks a question before taking its task: {}; nothing was typed",
                            r.detail.as_deref().unwrap_or("(no text)")
                        ),
                        hint: Some(
                            "answer it once by running the agent by hand in the repository, or change agentConfig so it is not asked, then spawn again"
                                .into(),
                        ),
                    });
                }
                _ => {}
            }
            if std::time::Instant::now() >= deadline {
                let out = plugins.runtime.output(handle, 40).await.unwrap_or_default();
                return Err(ManagerError::Refused {
                    message: format!(
                        "the agent did not show its input prompt within {} s; nothing was typed; its screen:\n{}",
                        self.ready_timeout.as_secs(),
                        indent(&out)
                    ),
                    hint: Some("check that the agent starts by hand in the workspace".into()),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Fails with the agent's last output when its process has ended.
    pub(crate) async fn fail_if_exited(
        &self,
        runtime: &dyn Runtime,
        s: &Session,
        handle: &crate::model::RuntimeHandle,
        when: &str,
    ) -> Result<(), ManagerError> {
        let probe = self.probe(s).await?;
        if !matches!(probe.liveness, Liveness::Exited | Liveness::Gone) {
            return Ok(());
        }
        let out = runtime.output(handle, 40).await.unwrap_or_default();
        let code = probe
            .exit_code
            .map(|c| format!(" with exit code {c}"))
            .unwrap_or_default();
        Err(ManagerError::Refused {
            message: format!(
                "the agent exited{code} {when}; its last output:\n{}",
                indent(&out)
            ),
            hint: Some("check the agent's command and settings in the config".into()),
        })
    }

    /// Waits until the agent shows it has started (a hook, its session log, a dialog); an
    /// agent that quits meanwhile fails the spawn with its output and the plugin's
    /// explanation.
    async fn confirm_start(
        &self,
        plugins: &Plugins,
        s: &mut Session,
        handle: &crate::model::RuntimeHandle,
        config: &crate::config::AgentConfig,
    ) -> Result<(), ManagerError> {
        let deadline = std::time::Instant::now() + self.ready_timeout;
        loop {
            let probe = self.probe(s).await?;
            if matches!(probe.liveness, Liveness::Exited | Liveness::Gone) {
                let output = plugins.runtime.output(handle, 40).await.unwrap_or_default();
                let code = probe
                    .exit_code
                    .map(|c| format!(" with exit code {c}"))
                    .unwrap_or_default();
                return Err(ManagerError::Refused {
                    hint: plugins.agent.diagnose(&output, config).or_else(|| {
                        Some("check the agent's command and settings in the config".into())
                    }),
                    message: format!(
                        "the agent exited{code} as it started; its last output:\n{}",
                        indent(&output)
                    ),
                });
            }
            if let Some(r) = self.agent_activity(s).await
                && (r.source != crate::plugin::ActivitySource::Terminal
                    || r.activity == Activity::WaitingInput)
            {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                // Running, just quiet: status tells the rest.
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Starts an ended or archived session again: its workspace (recreated from its
    /// branch if missing, with postCreate rerun), then its agent, resumed where the agent
    /// can resume, else started afresh on the session's task.
    pub async fn restore(&self, id: &str) -> Result<Session, ManagerError> {
        let mut s = self.session(id)?;
        if s.spawn_pid.is_some() {
            return Err(ManagerError::refused(
                format!("{} is still being spawned", s.id),
                "wait for `ao spawn` to finish; `ao status` shows it",
            ));
        }
        let project = self.project(&s.project)?;
        let probe = self.probe(&s).await?;
        if probe.liveness == Liveness::Alive && !s.status.is_terminal() && s.archived_at.is_none() {
            return Err(ManagerError::refused(
                format!("{} is running", s.id),
                format!("`ao attach {}` opens it", s.id),
            ));
        }
        let plugins = self.plugins_for(&s.agent, &s.workspace, &project.runtime)?;
        if let Some(old) = &s.runtime
            && let Ok(r) = self.runtime(&old.runtime)
        {
            r.destroy(old).await?;
        }
        s.runtime = None;
        s.runtime_plugin = project.runtime.clone();
        let mut spec = self.workspace_spec(&project, &s);
        spec.base_branch = local_base(&project);
        let existed = spec.path.join(".git").exists();
        let info = plugins.workspace.restore(&spec).await?;
        s.workspace_path = Some(info.path.clone());
        if !existed {
            self.run_post_create(&plugins, &spec, &info).await?;
        }
        let prompt = s.prompt.clone().unwrap_or_default();
        let ctx = self.launch_context(&project, &s, &prompt)?;
        let (launch, resumed) = match plugins.agent.restore(&ctx, s.agent_session_id.as_deref()) {
            Some(l) => (l, true),
            None => (plugins.agent.launch(&ctx)?, false),
        };
        if let Err(e) = self
            .start_agent(
                &project,
                &plugins,
                &mut s,
                &ctx,
                launch,
                !resumed && !prompt.is_empty(),
            )
            .await
        {
            if let Some(h) = s.runtime.take() {
                let _ = plugins.runtime.destroy(&h).await;
            }
            self.save(&s)?;
            return Err(match e {
                ManagerError::Refused { message, hint } => ManagerError::Refused {
                    message: format!("{}: restore failed: {message}", s.id),
                    hint,
                },
                ManagerError::Plugin(p) => ManagerError::Refused {
                    message: format!("{}: restore failed: {p}", s.id),
                    hint: None,
                },
                e => e,
            });
        }
        s.archived_at = None;
        let message = format!("{} restored", s.id);
        self.transition(
            &mut s,
            SessionStatus::Working,
            None,
            Activity::Active,
            message,
        )?;
        Ok(s)
    }
}

fn spec_path(env: &BTreeMap<String, String>) -> Option<&str> {
    env.get("PATH").map(String::as_str)
}
