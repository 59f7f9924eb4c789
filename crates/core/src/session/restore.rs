//! `ao session restore`: starts an ended or archived session again, journaled like a
//! spawn so that a restore that is killed is found and undone.

use super::failpoint::step;
use super::recover::{has_ref, local_base};
use super::{Manager, ManagerError};
use crate::model::{Activity, EventKind, Priority, Session, SessionStatus, WorkspaceClaim};
use crate::plugin::Liveness;
use crate::store::Change;

impl Manager {
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
        if let Some(pid) = s.restore_pid {
            if Self::owner_alive(pid) {
                return Err(ManagerError::refused(
                    format!("{} is being restored by ao process {pid}", s.id),
                    "wait for it to finish; `ao status` shows it",
                ));
            }
            self.undo_restore(&s).await?;
            s = self.session(id)?;
        }
        let project = self.project(&s.project)?.for_session(&s.id);
        let probe = self.probe(&s).await?;
        if probe.liveness == Liveness::Alive && !s.status.is_terminal() && s.archived_at.is_none() {
            return Err(ManagerError::refused(
                format!("{} is running", s.id),
                format!("`ao attach {}` opens it", s.id),
            ));
        }
        if let Some(max) = project.max_sessions.filter(|_| !s.id.is_orchestrator()) {
            let live: Vec<String> = self
                .store()
                .sessions(&crate::store::SessionFilter {
                    project: Some(project.id.clone()),
                    include_archived: false,
                })?
                .into_iter()
                .filter(|o| o.id != s.id && !o.status.is_terminal() && !o.id.is_orchestrator())
                .map(|o| o.id.to_string())
                .collect();
            if live.len() >= max as usize {
                return Err(ManagerError::refused(
                    format!(
                        "project `{}` already has {} live session{} (maxSessions {max}): {}",
                        project.id,
                        live.len(),
                        if live.len() == 1 { "" } else { "s" },
                        live.join(", ")
                    ),
                    "kill or clean up one of them first",
                ));
            }
        }
        let plugins = self.plugins_for(&s.agent, &s.workspace, &project.runtime)?;
        let mut spec = self.workspace_spec(&project, &s);
        spec.base_branch = local_base(&project);
        let existed = spec.path.join(".git").exists();
        if !existed
            && !crate::git::local_branch_exists(&project.path, &s.branch)
            && !has_ref(&project.path, &format!("refs/remotes/origin/{}", s.branch))
        {
            return Err(ManagerError::refused(
                format!(
                    "{}'s branch {} is gone (deleted outside ao), locally and on origin, and so is its workspace: there is no work to restore it from",
                    s.id, s.branch
                ),
                format!(
                    "recreate the branch (`git branch {} <commit>`) and restore again, or spawn a new session",
                    s.branch
                ),
            ));
        }
        // From here on the row says this process is restoring it (claimed on the latest
        // row: an `ao status` elsewhere may just have marked it killed).
        s = self.update(&s.id, |row| {
            row.restore_pid = Some(std::process::id());
            Vec::new()
        })?;
        step("restore-claimed")?;
        match self
            .restore_steps(&project, &plugins, &mut s, existed)
            .await
        {
            Ok(()) => Ok(s),
            Err(e) => {
                if let Some(h) = s.runtime.take() {
                    let _ = plugins.runtime.destroy(&h).await;
                }
                s.restore_pid = None;
                self.commit(&mut s, Vec::new())?;
                Err(e
                    .during(super::Op::Restore, &s.id, "")
                    .redacted(|t| self.config.redact(t)))
            }
        }
    }

    async fn restore_steps(
        &self,
        project: &crate::config::ResolvedProject,
        plugins: &super::plugins::Plugins,
        s: &mut Session,
        existed: bool,
    ) -> Result<(), ManagerError> {
        if let Some(old) = &s.runtime
            && let Ok(r) = self.runtime(&old.runtime)
        {
            r.destroy(old).await?;
        }
        s.runtime = None;
        s.runtime_plugin = project.runtime.clone();
        self.commit(s, Vec::new())?;
        let mut spec = self.workspace_spec(project, s);
        spec.base_branch = local_base(project);
        if !existed {
            // Claimed as a spawn claims it, so an interrupted restore removes only the
            // directory it made, and a half-made checkout with it.
            s.workspace_claim = WorkspaceClaim::Pending;
            self.commit(s, Vec::new())?;
            let _ = crate::git::run(&project.path, &["worktree", "prune"]).await;
            super::spawn::make_workspace_dir(s, &spec.path)?;
            s.workspace_claim = WorkspaceClaim::Recreating;
            self.commit(s, Vec::new())?;
        }
        let info = plugins.workspace.restore(&spec).await?;
        self.mark_workspace(s, &info.path);
        s.workspace_path = Some(info.path.clone());
        s.workspace_claim = WorkspaceClaim::Made;
        self.commit(s, Vec::new())?;
        step("restore-workspace")?;
        if !existed {
            self.run_post_create(plugins, &spec, &info).await?;
        }
        let task = s.prompt.clone().unwrap_or_default();
        let ctx = self.launch_context(project, s, &task)?;
        let (launch, resumed, ctx) =
            match plugins.agent.restore(&ctx, s.agent_session_id.as_deref()) {
                Some(l) => (l, true, ctx),
                // An agent that cannot resume starts afresh: told it is picking up its own
                // earlier work, not given the task as if new (it would do it again).
                None => {
                    let prompt = if task.is_empty() {
                        task
                    } else {
                        resume_prompt(&task, &s.branch, &info.path, &project.default_branch).await
                    };
                    let ctx = self.launch_context(project, s, &prompt)?;
                    (plugins.agent.launch(&ctx)?, false, ctx)
                }
            };
        let prompt = ctx.prompt.clone();
        let question = self
            .start_agent(
                project,
                plugins,
                s,
                &ctx,
                launch,
                !resumed && !prompt.is_empty(),
            )
            .await?
            .question;
        step("restore-started")?;
        let from = s.status;
        s.restore_pid = None;
        s.archived_at = None;
        s.status = SessionStatus::Working;
        s.status_reason = None;
        s.activity = Some(if question.is_some() {
            Activity::WaitingInput
        } else {
            Activity::Active
        });
        let restored = Change::new(
            EventKind::StatusChanged {
                from,
                to: SessionStatus::Working,
            },
            Priority::Info,
            format!("{} restored", s.id),
        );
        self.commit(s, vec![restored])
    }
}

/// What an agent that cannot resume its own session is told when its session starts
/// again: that it is resuming, what the task was, and where its earlier work is. ao's
/// words make one line, so an agent that reads a line at a time reads them whole.
async fn resume_prompt(
    task: &str,
    branch: &str,
    workspace: &std::path::Path,
    default_branch: &str,
) -> String {
    let range = format!("{default_branch}..HEAD");
    let commits = crate::git::run(workspace, &["log", "--format=%h %s", "-10", &range])
        .await
        .unwrap_or_default();
    let commits: Vec<&str> = commits
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let done = if commits.is_empty() {
        "It has no commits of its own yet; look at the working tree for changes not committed."
            .to_owned()
    } else {
        format!("Its latest commits: {}.", commits.join("; "))
    };
    format!(
        "You are resuming earlier work, not starting it: this session was stopped and started again. Your earlier work is in this worktree, on branch {branch}. {done} Continue from where it stands; do not redo what is already done. The task was: {task}"
    )
}
