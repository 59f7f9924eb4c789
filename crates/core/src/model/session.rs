use super::{Activity, SessionStatus, StatusReason, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A session's id: `<sessionPrefix>-<n>`, unique in the store; the project's one
/// orchestrator session is `<sessionPrefix>-orchestrator` (number 0, which no worker
/// gets).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId {
    prefix: String,
    n: u64,
}

/// Why a string is not a session id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a session id; ids look like `app-3` (the project's sessionPrefix, a dash, a number from 1) or `app-orchestrator`"
)]
pub struct SessionIdError(pub String);

impl SessionId {
    /// Builds an id from a validated prefix and a number.
    pub fn new(prefix: &str, n: u64) -> SessionId {
        SessionId {
            prefix: prefix.to_owned(),
            n,
        }
    }

    /// The id of the orchestrator session of the project with this prefix.
    pub fn orchestrator(prefix: &str) -> SessionId {
        SessionId::new(prefix, 0)
    }

    /// Whether this is a project's orchestrator session.
    pub fn is_orchestrator(&self) -> bool {
        self.n == 0
    }

    /// The project's session prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The number after the prefix.
    pub fn number(&self) -> u64 {
        self.n
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_orchestrator() {
            write!(f, "{}-orchestrator", self.prefix)
        } else {
            write!(f, "{}-{}", self.prefix, self.n)
        }
    }
}

impl FromStr for SessionId {
    type Err = SessionIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SessionIdError(s.to_owned());
        let (prefix, n) = s.rsplit_once('-').ok_or_else(bad)?;
        if !crate::config::is_valid_prefix(prefix) || n.is_empty() || n.starts_with('+') {
            return Err(bad());
        }
        if n == "orchestrator" {
            return Ok(SessionId::orchestrator(prefix));
        }
        // Worker numbers start at 1: 0 is the orchestrator's, spelled by name.
        let n = n.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(bad)?;
        Ok(SessionId::new(prefix, n))
    }
}

impl TryFrom<String> for SessionId {
    type Error = SessionIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.to_string()
    }
}

pub use ao_plugin_sdk::runtime::RuntimeHandle;

/// How much of its workspace path a session owns, so that undoing a spawn removes only
/// what that spawn made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceClaim {
    /// Nothing yet: whatever is at the path belongs to someone else.
    #[default]
    None,
    /// The spawn is about to create the directory: an empty directory there may be the
    /// spawn's own (it died between making it and recording that), anything more is not.
    Pending,
    /// The spawn made the directory: it and everything in it are the session's.
    Made,
    /// A restore made the directory and is filling it: it is the session's, and an
    /// interrupted restore removes it as unfinished (the branch holds the work).
    Recreating,
}

impl WorkspaceClaim {
    /// The value in the store.
    pub fn as_i64(self) -> i64 {
        match self {
            WorkspaceClaim::None => 0,
            WorkspaceClaim::Pending => 1,
            WorkspaceClaim::Made => 2,
            WorkspaceClaim::Recreating => 3,
        }
    }

    /// From the store's value.
    pub fn from_i64(v: i64) -> Option<WorkspaceClaim> {
        match v {
            0 => Some(WorkspaceClaim::None),
            1 => Some(WorkspaceClaim::Pending),
            2 => Some(WorkspaceClaim::Made),
            3 => Some(WorkspaceClaim::Recreating),
            _ => None,
        }
    }
}
pub use ao_plugin_sdk::scm::{PrRef, RepoId};

/// One agent working on one task in its own workspace and runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// `<prefix>-<n>`.
    pub id: SessionId,
    /// The project id from the config.
    pub project: String,
    /// The tracker's issue id, if the task came from one.
    pub issue: Option<String>,
    /// The git branch the agent works on.
    pub branch: String,
    /// The session's checkout.
    pub workspace_path: Option<PathBuf>,
    /// Where the agent runs.
    pub runtime: Option<RuntimeHandle>,
    /// The agent plugin's name.
    pub agent: String,
    /// The workspace plugin's name.
    pub workspace: String,
    /// The runtime plugin's name (known before the runtime exists).
    pub runtime_plugin: String,
    /// Whether the spawn created `branch` (so undoing the spawn deletes it).
    pub created_branch: bool,
    /// The `ao spawn` process that is still creating this session; `None` once spawned.
    pub spawn_pid: Option<u32>,
    /// The `ao session restore` process that is starting this session again.
    #[serde(default)]
    pub restore_pid: Option<u32>,
    /// When `ao session kill` asked the spawn in progress to stop and undo itself.
    #[serde(default)]
    pub cancel_requested_at: Option<Timestamp>,
    /// What of the workspace path this session made, and so may remove.
    #[serde(default)]
    pub workspace_claim: WorkspaceClaim,
    /// Bumped by every write; a writer whose copy is older is refused.
    #[serde(default)]
    pub version: u64,
    /// The task as the agent received it, for a restore that cannot resume.
    pub prompt: Option<String>,
    /// The agent CLI's own session id, for resuming.
    pub agent_session_id: Option<String>,
    /// When the agent was last started (by spawn or restore).
    #[serde(default)]
    pub agent_started_at: Option<Timestamp>,
    /// The pull request, once there is one.
    pub pr: Option<PrRef>,
    /// Where the session stands.
    pub status: SessionStatus,
    /// Why, where the status alone does not say.
    pub status_reason: Option<StatusReason>,
    /// What the agent is doing, as last observed.
    pub activity: Option<Activity>,
    /// When the session was created.
    pub created_at: Timestamp,
    /// When any of the above last changed.
    pub updated_at: Timestamp,
    /// When cleanup archived it; archived sessions are hidden unless asked for.
    pub archived_at: Option<Timestamp>,
}

/// Where a new session's agent and checkout come from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The project.
    pub project: String,
    /// Its branch.
    pub branch: String,
    /// Its agent plugin.
    pub agent: String,
    /// Its workspace plugin (or the orchestrator's `checkout`).
    pub workspace: String,
    /// Its runtime plugin.
    pub runtime: String,
    /// Where its checkout is (or will be).
    pub workspace_path: std::path::PathBuf,
}

impl Session {
    /// A session this process is starting now (`spawning`, `spawn_pid` this process),
    /// with nothing made for it yet.
    pub fn starting(id: SessionId, origin: Origin, now: Timestamp) -> Session {
        Session {
            id,
            project: origin.project,
            issue: None,
            branch: origin.branch,
            workspace_path: Some(origin.workspace_path),
            runtime: None,
            agent: origin.agent,
            agent_session_id: None,
            agent_started_at: None,
            pr: None,
            status: SessionStatus::Spawning,
            status_reason: None,
            activity: None,
            created_at: now,
            updated_at: now,
            archived_at: None,
            workspace: origin.workspace,
            runtime_plugin: origin.runtime,
            created_branch: false,
            spawn_pid: Some(std::process::id()),
            restore_pid: None,
            cancel_requested_at: None,
            workspace_claim: WorkspaceClaim::None,
            version: 0,
            prompt: None,
        }
    }
}

/// A working session with plain values, for unit tests.
#[cfg(test)]
pub(crate) fn sample_session(id: &SessionId) -> Session {
    Session {
        id: id.clone(),
        project: "app".into(),
        issue: None,
        branch: "b".into(),
        workspace_path: None,
        runtime: None,
        agent: "command".into(),
        agent_session_id: None,
        agent_started_at: None,
        pr: None,
        status: SessionStatus::Working,
        status_reason: None,
        activity: None,
        created_at: 1,
        updated_at: 1,
        archived_at: None,
        workspace: "worktree".into(),
        runtime_plugin: "tmux".into(),
        created_branch: true,
        spawn_pid: None,
        restore_pid: None,
        cancel_requested_at: None,
        workspace_claim: WorkspaceClaim::Made,
        version: 0,
        prompt: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_parse_and_print() {
        let id: SessionId = "app-12".parse().unwrap();
        assert_eq!(id.prefix(), "app");
        assert_eq!(id.number(), 12);
        assert_eq!(id.to_string(), "app-12");
        let id: SessionId = "my-app-3".parse().unwrap();
        assert_eq!(id.prefix(), "my-app");
        for bad in ["app", "app-", "-3", "app-x", "app-+3", "a b-1"] {
            assert!(bad.parse::<SessionId>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn session_ids_serialize_as_strings() {
        let id = SessionId::new("fe", 7);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"fe-7\"");
        let back: SessionId = serde_json::from_str("\"fe-7\"").unwrap();
        assert_eq!(back, id);
    }
}
