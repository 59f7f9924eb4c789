//! A manager over the fakes: a temporary `$AO_HOME`, a real git repository per project
//! (config validation wants one; nothing else of git is used), a small config naming the
//! fakes in every slot, and the host's pass (probe, poll, react) to drive by hand.
//!
//! Install a [`super::FakeClock`] before building a fleet, and run the test on a
//! current-thread runtime (`#[tokio::test(flavor = "current_thread")]`), so every "now"
//! the manager reads is the test's.

use super::{FAKE, Fakes};
use crate::config::LoadedConfig;
use crate::model::{Event, PrRef, Session, SessionId, Timestamp, now_ms};
use crate::notify::Dispatcher;
use crate::session::{Manager, ManagerError, SpawnRequest, Task};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One project of a fleet's config.
#[derive(Debug, Clone)]
struct Project {
    id: String,
    repo: String,
    yaml: String,
}

/// What a fleet's config holds beyond the fakes: its projects and top-level settings.
#[derive(Debug, Clone, Default)]
pub struct FleetBuilder {
    projects: Vec<Project>,
    config: String,
}

impl FleetBuilder {
    /// Adds project `id` on repository `repo` (`owner/name`), with `yaml` (written at the
    /// left margin) added under its entry: `reactions:`, `maxSessions:`, ...
    pub fn project(mut self, id: &str, repo: &str, yaml: &str) -> FleetBuilder {
        self.projects.push(Project {
            id: id.to_owned(),
            repo: repo.to_owned(),
            yaml: yaml.to_owned(),
        });
        self
    }

    /// Adds `yaml` at the config's top level: `lifecycle:`, `reactions:`,
    /// `notificationDedupWindow:`, ...
    pub fn config(mut self, yaml: &str) -> FleetBuilder {
        self.config.push_str(yaml);
        if !self.config.ends_with('\n') {
            self.config.push('\n');
        }
        self
    }

    /// Writes the repositories and the config, and builds the manager; with no project
    /// added, one: `app` on `o/app`. Panics, saying why, when the config does not load.
    pub fn build(mut self) -> Fleet {
        if self.projects.is_empty() {
            self = self.project("app", "o/app", "");
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().canonicalize().expect("the temporary directory");
        let mut text = format!(
            "defaults:\n  runtime: {FAKE}\n  agent: {FAKE}\n  workspace: {FAKE}\n  tracker: {FAKE}\n  scm: {FAKE}\n  notifiers: [{FAKE}]\nnotifiers:\n  {FAKE}:\n    plugin: {FAKE}\nprojects:\n"
        );
        let mut repos = Vec::new();
        for p in &self.projects {
            let path = root.join("repos").join(&p.id);
            init_repo(&path);
            text.push_str(&format!(
                "  {}:\n    path: {}\n    repo: {}\n",
                p.id,
                path.display(),
                p.repo
            ));
            for line in p.yaml.lines() {
                text.push_str(&format!("    {line}\n"));
            }
            repos.push((p.id.clone(), path));
        }
        text.push_str(&self.config);
        let file = root.join("agent-orchestrator.yaml");
        std::fs::write(&file, &text).expect("the config file");
        let fakes = Fakes::default();
        let loaded = crate::config::load_str(&text, &file, &fakes.registry(), &env)
            .unwrap_or_else(|e| panic!("the fleet's config does not load:\n{e}\n---\n{text}"));
        let home = root.join("home");
        let manager = manager(&loaded, &fakes, &home).expect("a manager over the fakes");
        Fleet {
            dispatcher: manager.dispatcher(),
            manager,
            fakes,
            loaded,
            home,
            repos,
            since: now_ms(),
            _dir: dir,
        }
    }
}

/// A manager over [`Fakes`] in a temporary `$AO_HOME`.
pub struct Fleet {
    /// The fakes it runs on: the world, as the test sets it and reads it.
    pub fakes: Fakes,
    manager: Arc<Manager>,
    dispatcher: Dispatcher,
    loaded: LoadedConfig,
    home: PathBuf,
    repos: Vec<(String, PathBuf)>,
    since: Timestamp,
    _dir: tempfile::TempDir,
}

/// The environment the fleet's manager sees: only `PATH`, which the agent's program is
/// looked up on.
fn env(name: &str) -> Option<String> {
    match name {
        "PATH" => std::env::var(name).ok(),
        _ => None,
    }
}

fn manager(
    loaded: &LoadedConfig,
    fakes: &Fakes,
    home: &Path,
) -> Result<Arc<Manager>, ManagerError> {
    let mut m = Manager::new(loaded.clone(), fakes.registry(), home.to_owned(), env)?;
    // The fake agent runs at once; a spawn that waits longer has gone wrong.
    m.ready_timeout = Duration::from_secs(5);
    Ok(Arc::new(m))
}

/// A repository on `main` with one empty commit, as git2 makes it (no git program).
fn init_repo(path: &Path) {
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(path, &opts).expect("git init");
    let sig = git2::Signature::new("ao tests", "ao@example.invalid", &git2::Time::new(0, 0))
        .expect("a signature");
    let tree = repo
        .index()
        .and_then(|mut i| i.write_tree())
        .and_then(|id| repo.find_tree(id))
        .expect("an empty tree");
    repo.commit(Some("HEAD"), &sig, &sig, "start", &tree, &[])
        .expect("the first commit");
}

impl Fleet {
    /// One project, `app` on `o/app`, and nothing else configured.
    pub fn new() -> Fleet {
        Fleet::builder().build()
    }

    /// A fleet to configure.
    pub fn builder() -> FleetBuilder {
        FleetBuilder::default()
    }

    /// The manager.
    pub fn manager(&self) -> &Arc<Manager> {
        &self.manager
    }

    /// When the fleet started: sessions that ended before it are not reacted to.
    pub fn since(&self) -> Timestamp {
        self.since
    }

    /// The dispatcher over the fake notifier, as the host keeps it.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// `$AO_HOME`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Project `id`'s repository.
    pub fn repo_path(&self, id: &str) -> &Path {
        self.repos
            .iter()
            .find(|(p, _)| p == id)
            .map(|(_, path)| path.as_path())
            .unwrap_or_else(|| panic!("the fleet has no project {id}"))
    }

    /// The repository (`owner/name`) project `id` works on.
    pub fn repo(&self, id: &str) -> String {
        self.loaded
            .config
            .projects
            .get(id)
            .and_then(|p| p.repo.clone())
            .unwrap_or_else(|| panic!("the fleet has no project {id}"))
    }

    /// Spawns a session of `project` on the task `prompt`, through `Manager::spawn`.
    pub async fn spawn(&self, project: &str, prompt: &str) -> Result<Session, ManagerError> {
        let outcome = self
            .manager
            .spawn(SpawnRequest {
                project: project.to_owned(),
                tasks: vec![Task::Prompt(prompt.to_owned())],
                agent: None,
                branch: None,
                wait: false,
                claim_pr: None,
                on_wait: None,
            })
            .await?;
        let (_, made) = outcome
            .results
            .into_iter()
            .next()
            .expect("one result per task");
        made
    }

    /// Spawns a session of `project` and opens a pull request from its branch.
    pub async fn spawn_with_pr(&self, project: &str) -> (Session, PrRef) {
        let s = self
            .spawn(project, "do the work")
            .await
            .unwrap_or_else(|e| panic!("the spawn failed: {e}"));
        let pr = self.fakes.scm.open(&self.repo(project), &s.branch);
        (s, pr)
    }

    /// The host's probe: `ao status` over every project.
    pub async fn probe(&self) -> Result<(), ManagerError> {
        self.manager.status(None, false).await.map(|_| ())
    }

    /// The host's PR poll.
    pub async fn poll(&self) -> Result<(), ManagerError> {
        self.manager.refresh_prs(None).await.map(|_| ())
    }

    /// The host's reactions, once; the lines the host would log.
    pub async fn react(&self) -> Result<Vec<String>, ManagerError> {
        self.manager.react(&self.dispatcher, self.since, &[]).await
    }

    /// One pass of the host: probe, poll, react.
    pub async fn pass(&self) -> Result<Vec<String>, ManagerError> {
        self.probe().await?;
        self.poll().await?;
        self.react().await
    }

    /// A new manager over the same home, config and fakes, as a host started again after
    /// a crash (drop the future of the pass under way first).
    pub fn restart(&mut self) {
        self.manager = manager(&self.loaded, &self.fakes, &self.home)
            .unwrap_or_else(|e| panic!("the manager does not start again: {e}"));
        self.dispatcher = self.manager.dispatcher();
    }

    /// A session as stored now.
    pub fn session(&self, id: &SessionId) -> Session {
        self.manager
            .session(&id.to_string())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The events stored, of one session or all, oldest first.
    pub fn events(&self, session: Option<&SessionId>) -> Vec<Event> {
        self.manager
            .store()
            .events(0, session, 100_000)
            .expect("the events")
    }
}

impl Default for Fleet {
    fn default() -> Fleet {
        Fleet::new()
    }
}
