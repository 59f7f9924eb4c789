//! The runtime slot: where a session's agent runs.

use crate::export::{Dispatch, params, result, unknown_method};
use crate::{Context, Error, Plugin, Slot};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How to find a session's runtime again: which runtime plugin, and its own handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeHandle {
    /// The runtime plugin's name (`tmux`, `process`). For an external runtime ao sets it
    /// to the name the config gives the plugin; the plugin may leave it empty.
    #[serde(default)]
    pub runtime: String,
    /// The runtime's own identifier (a tmux session name, a process group id).
    pub id: String,
    /// Anything else the runtime needs to find it (a tmux socket, a log path).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

/// What a runtime needs to start a session's agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSpec {
    /// The session it is for (`app-3`); runtimes name their handle after it.
    pub session: String,
    /// The directory the agent starts in (the workspace).
    pub cwd: PathBuf,
    /// The agent's command line, one argument per element, never a shell string.
    pub argv: Vec<String>,
    /// Environment passed explicitly to the agent.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A file that becomes the agent's standard input, instead of the terminal.
    #[serde(default)]
    pub stdin: Option<PathBuf>,
    /// The session's own directory under ao's home (logs, launch files).
    pub data_dir: PathBuf,
}

/// Whether a runtime is alive, as far as one probe could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    /// It exists and its process runs.
    Alive,
    /// It exists but its process has exited (its last output can still be read).
    Exited,
    /// It does not exist.
    Gone,
    /// The probe failed or timed out: nothing is known, and nothing may be concluded.
    Unknown,
}

/// One session's state from a batched probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// Alive, exited, gone or unknown.
    pub liveness: Liveness,
    /// The name of the pane's foreground process, when the runtime knows it (a runtime
    /// may leave it out of a probe of many sessions, where it is costly; a probe of one
    /// session names it).
    #[serde(default)]
    pub foreground: Option<String>,
    /// The agent's process id, when the runtime knows it.
    #[serde(default)]
    pub pid: Option<u32>,
    /// The agent's exit code once it has exited, when the runtime knows it.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// When the agent's screen last changed, when the runtime knows it.
    #[serde(default)]
    pub last_output_at: Option<crate::Timestamp>,
    /// The agent's terminal device (`/dev/pts/3`), when it has one: ao reads its mode
    /// and unread input to know when typing is safe and when the agent has read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<PathBuf>,
}

impl Probe {
    /// A probe that learned nothing.
    pub fn unknown() -> Probe {
        Probe {
            liveness: Liveness::Unknown,
            foreground: None,
            pid: None,
            exit_code: None,
            last_output_at: None,
            terminal: None,
        }
    }
}

/// How a user attaches a terminal to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachInfo {
    /// The command that attaches, one argument per element.
    pub argv: Vec<String>,
    /// A sentence for users when there is nothing to attach to (a log file instead).
    #[serde(default)]
    pub note: Option<String>,
}

/// A runtime plugin.
pub trait Runtime: Plugin {
    /// Starts the agent and returns the handle to find it again.
    fn create(&self, cx: &Context, spec: &RuntimeSpec) -> Result<RuntimeHandle, Error>;
    /// Ends it; ending one that is already gone succeeds.
    fn destroy(&self, cx: &Context, handle: &RuntimeHandle) -> Result<(), Error>;
    /// Delivers text of any size and content as typed input, then submits it.
    fn send(&self, cx: &Context, handle: &RuntimeHandle, text: &str) -> Result<(), Error>;
    /// Submits what is typed (presses Enter).
    fn submit(&self, cx: &Context, handle: &RuntimeHandle) -> Result<(), Error>;
    /// The last `lines` lines of output.
    fn output(&self, cx: &Context, handle: &RuntimeHandle, lines: usize) -> Result<String, Error>;
    /// Whether the runtime and its process still exist.
    fn is_alive(&self, cx: &Context, handle: &RuntimeHandle) -> Result<bool, Error>;
    /// How a user attaches to it.
    fn attach_info(&self, cx: &Context, handle: &RuntimeHandle) -> AttachInfo;
    /// Probes every handle, one entry per handle, in order. By default, one
    /// [`Runtime::is_alive`] each.
    fn probe_all(&self, cx: &Context, handles: &[RuntimeHandle]) -> Result<Vec<Probe>, Error> {
        Ok(handles
            .iter()
            .map(|h| match self.is_alive(cx, h) {
                Ok(true) => Probe {
                    liveness: Liveness::Alive,
                    ..Probe::unknown()
                },
                Ok(false) => Probe {
                    liveness: Liveness::Gone,
                    ..Probe::unknown()
                },
                Err(_) => Probe::unknown(),
            })
            .collect())
    }
    /// What this runtime has under the session's name, if anything (a session an
    /// interrupted spawn created, or a name a new session must not collide with).
    fn find(
        &self,
        _cx: &Context,
        _session: &str,
        _data_dir: &std::path::Path,
    ) -> Result<Option<RuntimeHandle>, Error> {
        Ok(None)
    }
}

/// The method names and their parameters.
pub mod method {
    /// `create`: [`super::RuntimeSpec`] → [`super::RuntimeHandle`].
    pub const CREATE: &str = "create";
    /// `destroy`: [`super::HandleParams`] → `null`.
    pub const DESTROY: &str = "destroy";
    /// `send`: [`super::SendParams`] → `null`.
    pub const SEND: &str = "send";
    /// `submit`: [`super::HandleParams`] → `null`.
    pub const SUBMIT: &str = "submit";
    /// `output`: [`super::OutputParams`] → a string.
    pub const OUTPUT: &str = "output";
    /// `is_alive`: [`super::HandleParams`] → a bool.
    pub const IS_ALIVE: &str = "is_alive";
    /// `attach_info`: [`super::HandleParams`] → [`super::AttachInfo`].
    pub const ATTACH_INFO: &str = "attach_info";
    /// `probe_all`: [`super::HandlesParams`] → a list of [`super::Probe`].
    pub const PROBE_ALL: &str = "probe_all";
    /// `find`: [`super::FindParams`] → a [`super::RuntimeHandle`] or `null`.
    pub const FIND: &str = "find";
}

/// Parameters naming one handle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandleParams {
    /// The handle.
    pub handle: RuntimeHandle,
}

/// Parameters of `send`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendParams {
    /// The handle.
    pub handle: RuntimeHandle,
    /// The text.
    pub text: String,
}

/// Parameters of `output`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputParams {
    /// The handle.
    pub handle: RuntimeHandle,
    /// How many lines.
    pub lines: usize,
}

/// Parameters of `probe_all`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandlesParams {
    /// The handles.
    pub handles: Vec<RuntimeHandle>,
}

/// Parameters of `find`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FindParams {
    /// The session's id.
    pub session: String,
    /// The session's own directory.
    pub data_dir: PathBuf,
}

/// The dispatcher [`crate::export_plugin!`] uses for a runtime.
#[doc(hidden)]
pub struct AsRuntime<T>(pub T);

impl<T: Runtime> Dispatch for AsRuntime<T> {
    const SLOT: Slot = Slot::Runtime;

    fn create(config: Value) -> Result<Self, Error> {
        T::init(config).map(AsRuntime)
    }

    fn dispatch(&self, m: &str, cx: &Context, p: Value) -> Result<Value, Error> {
        let r = &self.0;
        let handle = |p: Value| params::<HandleParams>(m, p).map(|h| h.handle);
        match m {
            method::CREATE => result(r.create(cx, &params(m, p)?)?),
            method::DESTROY => result(r.destroy(cx, &handle(p)?)?),
            method::SEND => {
                let s: SendParams = params(m, p)?;
                result(r.send(cx, &s.handle, &s.text)?)
            }
            method::SUBMIT => result(r.submit(cx, &handle(p)?)?),
            method::OUTPUT => {
                let o: OutputParams = params(m, p)?;
                result(r.output(cx, &o.handle, o.lines)?)
            }
            method::IS_ALIVE => result(r.is_alive(cx, &handle(p)?)?),
            method::ATTACH_INFO => result(r.attach_info(cx, &handle(p)?)),
            method::PROBE_ALL => result(r.probe_all(cx, &params::<HandlesParams>(m, p)?.handles)?),
            method::FIND => {
                let f: FindParams = params(m, p)?;
                result(r.find(cx, &f.session, &f.data_dir)?)
            }
            _ => Err(unknown_method(Self::SLOT, m)),
        }
    }
}
