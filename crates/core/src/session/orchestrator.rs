//! A project's orchestrator session, `<prefix>-orchestrator`: the one agent the human
//! talks to, which runs ao to spawn and steer the workers. It works in the project's own
//! checkout (it writes no code), which ao neither makes nor removes, and it does not
//! count toward `maxSessions`. `ao start` starts it, or keeps, restores or replaces the
//! one there is, as the project's `orchestratorSessionStrategy` says.

use super::{Manager, ManagerError};
use crate::config::{OrchestratorSessionStrategy, ResolvedProject};
use crate::model::{Activity, EventKind, Priority, Session, SessionId, SessionStatus, now_ms};
use crate::plugin::{CommandOutput, PluginError, Workspace, WorkspaceInfo, WorkspaceSpec};
use crate::store::Change;
use async_trait::async_trait;
use std::path::Path;

/// The workspace kind of an orchestrator session: the project's own checkout.
pub const CHECKOUT: &str = "checkout";

/// The project's own checkout as a workspace: there already, never made, never removed.
pub(crate) struct InPlace;

#[async_trait]
impl Workspace for InPlace {
    async fn create(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        Ok(WorkspaceInfo {
            path: spec.repo_path.clone(),
            branch: current_branch(&spec.repo_path),
            created_branch: false,
        })
    }

    async fn post_create(
        &self,
        _spec: &WorkspaceSpec,
        _info: &WorkspaceInfo,
    ) -> Result<Vec<CommandOutput>, PluginError> {
        Ok(Vec::new())
    }

    async fn destroy(&self, _spec: &WorkspaceSpec, _force: bool) -> Result<(), PluginError> {
        Ok(())
    }

    async fn list(
        &self,
        _project: &str,
        _repo_path: &Path,
    ) -> Result<Vec<WorkspaceInfo>, PluginError> {
        Ok(Vec::new())
    }

    async fn restore(&self, spec: &WorkspaceSpec) -> Result<WorkspaceInfo, PluginError> {
        self.create(spec).await
    }

    async fn discard(&self, _spec: &WorkspaceSpec, _created: bool) -> Result<(), PluginError> {
        Ok(())
    }
}

/// The branch the checkout at `repo` is on (empty when detached or unreadable).
fn current_branch(repo: &Path) -> String {
    git2::Repository::open(repo)
        .ok()
        .and_then(|r| {
            r.head()
                .ok()
                .and_then(|h| h.shorthand().ok().map(str::to_owned))
        })
        .filter(|b| b != "HEAD")
        .unwrap_or_default()
}

/// What `ao start` did with a project's orchestrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrchestratorAction {
    /// There was none: started.
    Started,
    /// One runs: kept (`reuse`).
    Kept,
    /// One had ended: started again, resuming its conversation where the agent can
    /// (`reuse`).
    Restored,
    /// One was there: ended and a new one started (`delete`, `ignore` and their older
    /// names).
    Replaced,
}

impl std::fmt::Display for OrchestratorAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OrchestratorAction::Started => "started",
            OrchestratorAction::Kept => "already running, kept",
            OrchestratorAction::Restored => "restored",
            OrchestratorAction::Replaced => "replaced by a new one",
        })
    }
}

/// What the orchestrator is told of its job and of ao's commands, in ao's words, then
/// the project's `orchestratorRules`.
pub fn orchestrator_rules(p: &ResolvedProject) -> String {
    let id = &p.id;
    let mut text = format!(
        "You are the orchestrator of project `{id}` ({path}). You do not write code yourself: \
you run ao, which gives each task to a worker agent in its own git worktree and branch, \
and you keep the human, who talks to you here, informed.

ao's commands (run them in your shell; `--json` gives output to read):
- `ao issue ls {id}`: the project's open issues, with the session working on each.
- `ao spawn {id} ISSUE...` or `ao spawn {id} --prompt \"TASK\"`: starts a worker per issue \
or task and prints the new session ids; `ao spawn {id} --label L` starts one per open issue \
with that label; `--dry-run` says which without starting any.
- `ao spawn {id} --claim-pr N` starts a worker on an existing pull request's branch (a \
human's PR handed over); `ao session claim-pr SESSION N` gives one to a running worker.
- `ao status --json`: every session with its status, branch, pull request, CI, review and \
activity.
- `ao send SESSION \"TEXT\"`: types a message to a worker (answer its question, redirect it).
- `ao session info SESSION` and `ao session output SESSION -n 50`: what a worker is doing \
and its last screen.
- `ao session kill SESSION`, `ao session restore SESSION`, `ao session cleanup`: end a \
worker, start it again, archive the finished ones.
- `ao events --session SESSION`: what happened to it: status changes, reactions, \
notifications.

The host (`ao start`) already gives the workers their failing checks and review comments \
and merges where the config allows it. Step in when a worker is stuck or asks something, \
and when the human asks you to. Never work in a worker's worktree yourself.",
        path = p.path.display()
    );
    if let Some(rules) = p
        .orchestrator_rules
        .as_deref()
        .filter(|r| !r.trim().is_empty())
    {
        text.push_str("\n\nThe project's rules for you:\n");
        text.push_str(rules);
    }
    text
}

impl Manager {
    /// Starts the project's orchestrator, or keeps, restores or replaces the one there is
    /// as its `orchestratorSessionStrategy` says.
    pub async fn ensure_orchestrator(
        &self,
        project: &str,
    ) -> Result<(OrchestratorAction, Session), ManagerError> {
        let p = self.project(project)?;
        let id = SessionId::orchestrator(&p.session_prefix);
        let Some(old) = self.store().session(&id)? else {
            return Ok((
                OrchestratorAction::Started,
                self.start_orchestrator(&p).await?,
            ));
        };
        if super::status::in_flight(&old) {
            return Err(ManagerError::refused(
                format!("{id} is being started by another ao process"),
                "wait for it; `ao status` shows it",
            ));
        }
        let live = !old.status.is_terminal() && old.archived_at.is_none();
        match p.orchestrator_strategy {
            OrchestratorSessionStrategy::Reuse => {
                if live && self.probe(&old).await?.liveness == crate::plugin::Liveness::Alive {
                    return Ok((OrchestratorAction::Kept, old));
                }
                let s = self.restore(&id.to_string()).await?;
                Ok((OrchestratorAction::Restored, s))
            }
            _ => {
                if let Some(h) = &old.runtime {
                    self.runtime(&h.runtime)?.destroy(h).await?;
                }
                let ended = crate::model::Event {
                    id: 0,
                    at: now_ms(),
                    project: p.id.clone(),
                    session: Some(id.clone()),
                    priority: Priority::Info,
                    kind: EventKind::StatusChanged {
                        from: old.status,
                        to: SessionStatus::Killed,
                    },
                    message: format!(
                        "{id} ended by `ao start` (orchestratorSessionStrategy: {:?}) for a new one",
                        p.orchestrator_strategy
                    ),
                };
                self.store().delete_session_with(&id, &ended)?;
                let _ = std::fs::remove_dir_all(self.data_dir(&id));
                Ok((
                    OrchestratorAction::Replaced,
                    self.start_orchestrator(&p).await?,
                ))
            }
        }
    }

    /// Starts a new orchestrator session in the project's checkout, with no task: it
    /// waits for the human.
    async fn start_orchestrator(&self, p: &ResolvedProject) -> Result<Session, ManagerError> {
        let id = SessionId::orchestrator(&p.session_prefix);
        let role = p.for_session(&id);
        let plugins = self.plugins_for(&role.agent, CHECKOUT, &role.runtime)?;
        // Never the session's checkout (its claim stays none): nothing ever removes it.
        let mut s = Session::starting(
            id.clone(),
            crate::model::Origin {
                project: p.id.clone(),
                branch: current_branch(&p.path),
                agent: role.agent.clone(),
                workspace: CHECKOUT.into(),
                runtime: role.runtime.clone(),
                workspace_path: p.path.clone(),
            },
            now_ms(),
        );
        self.store().note_prefix(&p.session_prefix)?;
        self.store().insert_session(&s)?;
        let started = async {
            let ctx = self.launch_context(&role, &s, "")?;
            let launch = plugins.agent.launch(&ctx)?;
            self.start_agent(&role, &plugins, &mut s, &ctx, launch, false)
                .await
        }
        .await;
        let question = match started {
            Ok(started) => started.question,
            Err(e) => {
                let _ = self.undo_spawn(&s).await;
                return Err(e
                    .during(super::Op::StartOrchestrator, &id, "")
                    .redacted(|t| self.config.redact(t)));
            }
        };
        s.status = SessionStatus::Working;
        s.spawn_pid = None;
        s.activity = Some(if question.is_some() {
            Activity::WaitingInput
        } else {
            Activity::Ready
        });
        let spawned = Change::new(
            EventKind::SessionSpawned,
            Priority::Info,
            format!("{id} (the orchestrator) started in {}", p.path.display()),
        );
        self.commit(&mut s, vec![spawned])?;
        Ok(s)
    }
}
