//! The session manager's core: the config, the store, a session's paths, and the single
//! write path every state change goes through.

use super::ManagerError;
use crate::config::{LoadedConfig, ResolvedProject};
use crate::exec::{pid_alive, process_name};
use crate::model::{Session, SessionId};
use crate::plugin::WorkspaceSpec;
use crate::registry::PluginRegistry;
use crate::store::{Change, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Set by [`Manager::interrupt`]: spawns in progress stop and undo themselves.
    pub(crate) interrupted: std::sync::atomic::AtomicBool,
    /// The plugin instances built so far, kept as long as the manager (the host's whole
    /// life): by slot, name, what their config section says and repository.
    pub(crate) instances: super::plugins::Instances,
    /// Whether instances are kept: only in the host, which runs one tokio runtime for its
    /// life (a client made on one runtime must not serve another's `block_on`).
    pub(crate) keep_instances: std::sync::atomic::AtomicBool,
    /// When each session's agent last showed activity, as the last probe saw it: a pull
    /// request read between probes is decided with the same view of the agent.
    pub(crate) last_active:
        Mutex<std::collections::HashMap<SessionId, Option<crate::model::Timestamp>>>,
    /// When this manager last merged a pull request in each repository (by
    /// `react::repo_key`): a reading from before it is no ground for the next merge there.
    pub(crate) merged_in: Mutex<std::collections::HashMap<String, crate::model::Timestamp>>,
    /// Each project as resolved the first time it was asked for: the config does not
    /// change under a manager (an edit makes a new one), and the host asks for every
    /// session's project in every pass.
    pub(crate) resolved: Mutex<std::collections::HashMap<String, Arc<ResolvedProject>>>,
}

/// How long a spawn or send waits for the agent by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl Manager {
    /// A manager over `config`, with plugins from `registry` and the store in `home`.
    /// Refuses a store that is new or empty while sessions of an earlier store still
    /// exist (their worktrees, their directories): starting afresh over them would hand
    /// out their ids again.
    pub fn new(
        config: LoadedConfig,
        registry: PluginRegistry,
        home: PathBuf,
        env: fn(&str) -> Option<String>,
    ) -> Result<Manager, ManagerError> {
        let store = Store::open(&home)?;
        let manager = Manager {
            config,
            registry,
            home,
            store: Mutex::new(store),
            env,
            ready_timeout: READY_TIMEOUT,
            ao_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ao")),
            interrupted: std::sync::atomic::AtomicBool::new(false),
            instances: Default::default(),
            keep_instances: std::sync::atomic::AtomicBool::new(false),
            last_active: Default::default(),
            merged_in: Default::default(),
            resolved: Default::default(),
        };
        manager.refuse_lost_store()?;
        Ok(manager)
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The config this manager runs.
    pub fn config(&self) -> &LoadedConfig {
        &self.config
    }

    /// The agent plugins a spawn may name, by name.
    pub fn agent_names(&self) -> Vec<String> {
        self.registry
            .entries()
            .into_iter()
            .filter(|e| e.manifest.slot == crate::plugin::Slot::Agent && e.is_available())
            .map(|e| e.manifest.name.clone())
            .collect()
    }

    /// The project, resolved, or a refusal naming the projects there are.
    pub fn project(&self, id: &str) -> Result<ResolvedProject, ManagerError> {
        self.resolved_project(id).map(|p| (*p).clone())
    }

    /// [`Manager::project`], shared: resolved once per manager.
    pub(crate) fn resolved_project(&self, id: &str) -> Result<Arc<ResolvedProject>, ManagerError> {
        if let Some(p) = self
            .resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            return Ok(p.clone());
        }
        let p = Arc::new(self.config.project(id, &self.env).ok_or_else(|| {
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
        })?);
        self.resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), p.clone());
        Ok(p)
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

    /// Writes the caller's copy `s` of a session (a spawn's or restore's journal) over
    /// its row, with `changes` recorded in the same transaction, if nobody changed the
    /// row since `s` was read; `s` becomes the stored row. A row changed meanwhile is
    /// never overwritten: a kill's request to stop reads as [`ManagerError::Cancelled`].
    pub(crate) fn commit(&self, s: &mut Session, changes: Vec<Change>) -> Result<(), ManagerError> {
        let mine = s.clone();
        let written = self
            .store()
            .modify_session(&s.id, Some(s.version), move |row| {
                *row = Session {
                    version: row.version,
                    ..mine
                };
                changes
            });
        match written {
            Ok(row) => {
                *s = row;
                Ok(())
            }
            Err(StoreError::Stale { .. } | StoreError::NoSession(_))
                if self.cancel_requested(&s.id) =>
            {
                Err(ManagerError::Cancelled)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Applies `change` to the session's latest row (re-deciding on fresh state rather
    /// than overwriting it), with the events it returns, in one transaction.
    pub(crate) fn update(
        &self,
        id: &SessionId,
        change: impl FnOnce(&mut Session) -> Vec<Change>,
    ) -> Result<Session, ManagerError> {
        Ok(self.store().modify_session(id, None, change)?)
    }

    /// Tells every spawn in progress in this process to stop where it is and undo what it
    /// made (the user pressed Ctrl-C, or the process was told to end); spawns waiting for
    /// a slot give up.
    pub fn interrupt(&self) {
        self.interrupted
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn is_interrupted(&self) -> bool {
        self.interrupted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Marks a session's workspace as this config's and store's, so `ao` run from a shell
    /// in it finds them without `AO_HOME`.
    pub(crate) fn mark_workspace(&self, s: &Session, workspace: &Path) {
        // The project's own checkout is nobody's session.
        if s.workspace == super::orchestrator::CHECKOUT {
            return;
        }
        let mark = crate::config::SessionMark {
            config: self.config.file.clone(),
            home: self.home.clone(),
            session: s.id.to_string(),
        };
        if let Err(e) = crate::config::write_session_mark(workspace, &mark) {
            tracing::warn!("could not mark {} as {}'s: {e}", workspace.display(), s.id);
        }
    }

    /// Whether `ao session kill` asked the spawn of `id` to stop (or already undid it).
    pub(crate) fn cancel_requested(&self, id: &SessionId) -> bool {
        match self.store().session(id) {
            Ok(Some(row)) => row.cancel_requested_at.is_some(),
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Whether the `ao` process `pid` that holds a spawn or restore still runs it.
    pub(crate) fn owner_alive(pid: u32) -> bool {
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

    /// A new or empty store is refused while ao's worktrees or session directories from
    /// an earlier store exist: the store was lost or replaced, and a fresh one would
    /// give their ids, paths and branches to new sessions.
    fn refuse_lost_store(&self) -> Result<(), ManagerError> {
        if !self.store().is_empty()? {
            return Ok(());
        }
        let mut found = Vec::new();
        let sessions = self.home.join("sessions");
        if non_empty_dir(&sessions) {
            found.push(sessions);
        }
        // Only ao's own directories under AO_HOME count: a worktreeDir elsewhere may be
        // shared with another ao, whose worktrees say nothing about this store.
        let roots = [self.home.join("worktrees")];
        for root in roots {
            // Worktrees sit at <root>/<session id>, or <root>/<project>/<session id>.
            let has_session_dirs = std::fs::read_dir(&root)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.parse::<SessionId>().is_ok()
                        || (e.path().is_dir()
                            && std::fs::read_dir(e.path())
                                .into_iter()
                                .flatten()
                                .flatten()
                                .any(|e| {
                                    e.file_name().to_string_lossy().parse::<SessionId>().is_ok()
                                }))
                });
            if has_session_dirs && !found.contains(&root) {
                found.push(root);
            }
        }
        // Looked at again: a spawn of another process may have reserved its id, and made
        // its directories, since the first look. Its directories come only after its id,
        // so an empty store now means they are an earlier store's.
        if found.is_empty() || !self.store().is_empty()? {
            return Ok(());
        }
        let path = self.store().path().to_owned();
        Err(ManagerError::refused(
            format!(
                "the store {} holds no sessions, but sessions of an earlier store are still here: {}; starting afresh would reuse their ids and paths",
                path.display(),
                found
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "put back the store you had (ao.db from a backup), or save any work in those worktrees, end their tmux sessions and move the directories away, then run ao again",
        ))
    }
}

fn non_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}
