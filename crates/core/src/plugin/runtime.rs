use super::PluginError;
use crate::model::{RuntimeHandle, SessionId};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a runtime needs to start a session's agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSpec {
    /// The session it is for; runtimes name their handle after it.
    pub session: SessionId,
    /// The directory the agent starts in (the workspace).
    pub cwd: PathBuf,
    /// The agent's command line, one argument per element, never a shell string.
    pub argv: Vec<String>,
    /// Environment passed explicitly to the agent.
    pub env: BTreeMap<String, String>,
    /// A file that becomes the agent's standard input, instead of the terminal.
    pub stdin: Option<PathBuf>,
    /// The session's own directory under `$AO_HOME` (logs, launch files).
    pub data_dir: PathBuf,
}

pub use super::pane_watch::{PaneEvent, PaneScreen, PaneWatch, Redraw};
pub use ao_plugin_sdk::runtime::{AttachInfo, Liveness, Probe};

/// Where sessions run: tmux (default) or a detached process.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Starts the agent and returns the handle to find it again.
    async fn create(&self, spec: &RuntimeSpec) -> Result<RuntimeHandle, PluginError>;
    /// Ends it; ending one that is already gone succeeds.
    async fn destroy(&self, handle: &RuntimeHandle) -> Result<(), PluginError>;
    /// Delivers text of any size and content as typed input, then submits it.
    async fn send(&self, handle: &RuntimeHandle, text: &str) -> Result<(), PluginError>;
    /// Submits what is typed (presses Enter), for a message whose Enter the agent missed.
    async fn submit(&self, handle: &RuntimeHandle) -> Result<(), PluginError>;
    /// Presses one key (tmux key names: `Down`, `Enter`), to answer a dialog the config
    /// has answered already; runtimes that cannot say so.
    async fn press(&self, handle: &RuntimeHandle, key: &str) -> Result<(), PluginError> {
        let _ = (handle, key);
        Err(PluginError::failed(
            &handle.runtime,
            "this runtime cannot press keys in the agent's terminal",
        ))
    }
    /// Types `text` into the agent's terminal as its keyboard would, byte for byte (keys,
    /// escape sequences, a paste), with nothing added: a live terminal's keystrokes.
    /// Runtimes that cannot say so.
    async fn input(&self, handle: &RuntimeHandle, text: &str) -> Result<(), PluginError> {
        let _ = text;
        Err(PluginError::failed(
            &handle.runtime,
            "this runtime cannot take keystrokes",
        ))
    }
    /// The last `lines` lines of output.
    async fn output(&self, handle: &RuntimeHandle, lines: usize) -> Result<String, PluginError>;
    /// Whether the runtime and its process still exist.
    async fn is_alive(&self, handle: &RuntimeHandle) -> Result<bool, PluginError>;
    /// How a user attaches to it.
    fn attach_info(&self, handle: &RuntimeHandle) -> AttachInfo;
    /// Probes every handle with as few processes as the runtime allows (one tmux call).
    /// The result has one entry per handle, in order.
    async fn probe_all(&self, handles: &[RuntimeHandle]) -> Result<Vec<Probe>, PluginError>;
    /// The handle of this session's runtime if one exists that ao made for it (for
    /// tmux: marked with the session's `data_dir` at creation), such as one created by an
    /// `ao spawn` that was killed before it recorded it. Something of the same name that
    /// ao did not make for this session is not returned: undoing a spawn must not end it.
    async fn find(
        &self,
        session: &SessionId,
        data_dir: &std::path::Path,
    ) -> Result<Option<RuntimeHandle>, PluginError>;
    /// The names of the runtime's sessions that ao made under `sessions_dir` (the
    /// `sessions/` directory of one ao home), as their marks say; empty for a runtime
    /// that does not mark its sessions.
    async fn marked(&self, sessions_dir: &std::path::Path) -> Result<Vec<String>, PluginError> {
        let _ = sessions_dir;
        Ok(Vec::new())
    }
    /// A live view of the pane: first its whole screen, then its output as it comes, until
    /// the pane ends (see [`PaneWatch`]). Watching never resizes the pane, and the watcher
    /// lives only as long as the returned value. `None`: this runtime cannot be watched.
    async fn watch(&self, handle: &RuntimeHandle) -> Result<Option<PaneWatch>, PluginError> {
        let _ = handle;
        Ok(None)
    }
    /// Whether anything at all uses the session's name in this runtime, so a new session
    /// of that name would collide with it.
    async fn name_taken(
        &self,
        session: &SessionId,
        data_dir: &std::path::Path,
    ) -> Result<bool, PluginError> {
        Ok(self.find(session, data_dir).await?.is_some())
    }
}
