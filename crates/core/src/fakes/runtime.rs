//! A runtime that keeps its sessions in memory, as tmux would show them: alive with the
//! fake agent in the foreground until the test says otherwise, and every text typed in
//! recorded.

use super::FAKE;
use super::script::{Scripted, Scripts, lock, perform};
use crate::model::{RuntimeHandle, SessionId, Timestamp};
use crate::plugin::{
    AttachInfo, Liveness, PaneEvent, PaneScreen, PaneWatch, PluginError, Probe, Runtime,
    RuntimeSpec,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The fake runtime's operations, to script and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuntimeOp {
    /// `create`.
    Create,
    /// `destroy`.
    Destroy,
    /// `send`.
    Send,
    /// `submit`.
    Submit,
    /// `press`.
    Press,
    /// `output`.
    Output,
    /// `is_alive`.
    IsAlive,
    /// `probe_all`.
    ProbeAll,
    /// `find`.
    Find,
    /// `watch`.
    Watch,
    /// `input`.
    Input,
}

/// The size of every fake pane.
const PANE_SIZE: (u16, u16) = (80, 24);

/// One session of the fake runtime, as a tmux session would be.
#[derive(Debug, Clone)]
pub struct Terminal {
    /// What it was created with.
    pub spec: RuntimeSpec,
    /// Alive, exited (its pane dead) or gone.
    pub liveness: Liveness,
    /// Its foreground process's name.
    pub foreground: String,
    /// Its agent's exit code once exited.
    pub exit_code: Option<i32>,
    /// What its screen shows: what the test put there, and every text typed in.
    pub screen: String,
    /// When its screen last changed, if the runtime is to say.
    pub last_output_at: Option<Timestamp>,
    /// Every text typed into it, in order.
    pub typed: Vec<String>,
    /// Every key pressed in it, in order (`Enter` for each submit).
    pub pressed: Vec<String>,
    /// Every keystroke typed into it as a live terminal's (`input`), in order.
    pub keystrokes: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    terminals: BTreeMap<String, Terminal>,
    destroyed: Vec<String>,
    scripts: Scripts<RuntimeOp>,
    /// The watches of each session's pane, while their viewers keep them.
    watches: BTreeMap<String, Vec<tokio::sync::mpsc::Sender<PaneEvent>>>,
}

impl State {
    /// Sends `event` to every watch of `session` still kept, forgetting the others.
    fn tell_watches(&mut self, session: &str, event: impl Fn() -> PaneEvent) {
        if let Some(watches) = self.watches.get_mut(session) {
            watches.retain(|w| w.try_send(event()).is_ok());
        }
    }
}

/// The fake pane's whole screen: what the terminal shows.
fn screen_of(t: &Terminal, requested: bool) -> PaneEvent {
    PaneEvent::Screen(Arc::new(PaneScreen {
        width: PANE_SIZE.0,
        height: PANE_SIZE.1,
        bytes: t.screen.clone().into_bytes(),
        requested,
    }))
}

/// A runtime in memory; clones share their sessions.
#[derive(Debug, Clone, Default)]
pub struct FakeRuntime {
    state: Arc<Mutex<State>>,
}

impl FakeRuntime {
    /// The next calls of `op` go as `calls` say, in order; later ones as before.
    pub fn script(&self, op: RuntimeOp, calls: impl IntoIterator<Item = Scripted>) {
        lock(&self.state).scripts.push(op, calls);
    }

    /// Every call of `op` after the scripted ones goes as `then` says.
    pub fn script_always(&self, op: RuntimeOp, then: Scripted) {
        lock(&self.state).scripts.always(op, then);
    }

    /// How many calls of `op` reached the runtime, whatever became of them.
    pub fn calls(&self, op: RuntimeOp) -> usize {
        lock(&self.state).scripts.calls(op)
    }

    /// How many calls of any operation reached the runtime (`marked` and `name_taken`
    /// aside, which are not scripted).
    pub fn all_calls(&self) -> usize {
        lock(&self.state).scripts.all_calls()
    }

    /// The session named after `session`, as it is now (kept after it exited; gone once
    /// destroyed).
    pub fn terminal(&self, session: &str) -> Option<Terminal> {
        lock(&self.state).terminals.get(session).cloned()
    }

    /// The names of the sessions it runs (alive or exited, not destroyed).
    pub fn running(&self) -> Vec<String> {
        lock(&self.state).terminals.keys().cloned().collect()
    }

    /// The sessions destroyed, in order.
    pub fn destroyed(&self) -> Vec<String> {
        lock(&self.state).destroyed.clone()
    }

    /// Every text delivered to `session`'s agent, in order.
    pub fn sent_to(&self, session: &str) -> Vec<String> {
        self.terminal(session).map(|t| t.typed).unwrap_or_default()
    }

    /// Every text delivered to any session: (session, text), sessions in name order.
    pub fn sent(&self) -> Vec<(String, String)> {
        lock(&self.state)
            .terminals
            .iter()
            .flat_map(|(name, t)| t.typed.iter().map(move |text| (name.clone(), text.clone())))
            .collect()
    }

    /// Changes `session`'s terminal (its liveness, screen, foreground).
    pub fn edit(&self, session: &str, change: impl FnOnce(&mut Terminal)) {
        let mut state = lock(&self.state);
        let t = state
            .terminals
            .get_mut(session)
            .unwrap_or_else(|| panic!("the fake runtime runs no session {session}"));
        change(t);
    }

    /// `session`'s agent exits with `code`; its pane stays to be read, as with tmux's
    /// `remain-on-exit`. Its watches get its last screen, then end.
    pub fn exit(&self, session: &str, code: Option<i32>) {
        self.edit(session, |t| {
            t.liveness = Liveness::Exited;
            t.exit_code = code;
        });
        let mut state = lock(&self.state);
        if let Some(t) = state.terminals.get(session).cloned() {
            state.tell_watches(session, || screen_of(&t, false));
        }
        state.watches.remove(session);
    }

    /// `session` vanishes without ao ending it (its tmux server was killed).
    pub fn lose(&self, session: &str) {
        let mut state = lock(&self.state);
        state.terminals.remove(session);
        state.watches.remove(session);
    }

    /// `session`'s agent writes `text` to its terminal: on its screen, and to every
    /// watch of its pane.
    pub fn print(&self, session: &str, text: &str) {
        self.edit(session, |t| t.screen.push_str(text));
        let bytes: Arc<[u8]> = text.as_bytes().into();
        lock(&self.state).tell_watches(session, || PaneEvent::Output(bytes.clone()));
    }

    /// How many watches of `session`'s pane run now (their viewers keep them).
    pub fn watching(&self, session: &str) -> usize {
        let mut state = lock(&self.state);
        let Some(watches) = state.watches.get_mut(session) else {
            return 0;
        };
        watches.retain(|w| !w.is_closed());
        watches.len()
    }

    fn take(&self, op: RuntimeOp) -> Scripted {
        lock(&self.state).scripts.take(op)
    }

    fn handle(session: &str) -> RuntimeHandle {
        RuntimeHandle {
            runtime: FAKE.to_owned(),
            id: session.to_owned(),
            data: serde_json::Value::Null,
        }
    }

    fn probe_one(&self, handle: &RuntimeHandle) -> Probe {
        match lock(&self.state).terminals.get(&handle.id) {
            None => Probe {
                liveness: Liveness::Gone,
                ..Probe::unknown()
            },
            Some(t) => Probe {
                liveness: t.liveness,
                foreground: Some(t.foreground.clone()),
                pid: None,
                exit_code: t.exit_code,
                last_output_at: t.last_output_at,
                terminal: None,
            },
        }
    }
}

fn no_session(handle: &RuntimeHandle) -> PluginError {
    PluginError::failed(FAKE, format!("can't find session: {}", handle.id))
}

#[async_trait]
impl Runtime for FakeRuntime {
    async fn create(&self, spec: &RuntimeSpec) -> Result<RuntimeHandle, PluginError> {
        let scripted = self.take(RuntimeOp::Create);
        perform(scripted, FAKE, || {
            let name = spec.session.to_string();
            let mut state = lock(&self.state);
            if state.terminals.contains_key(&name) {
                return Err(PluginError::failed(
                    FAKE,
                    format!("duplicate session: {name}"),
                ));
            }
            state.terminals.insert(
                name.clone(),
                Terminal {
                    spec: spec.clone(),
                    liveness: Liveness::Alive,
                    foreground: super::agent::PROCESS.to_owned(),
                    exit_code: None,
                    screen: String::new(),
                    last_output_at: None,
                    typed: Vec::new(),
                    pressed: Vec::new(),
                    keystrokes: Vec::new(),
                },
            );
            Ok(FakeRuntime::handle(&name))
        })
        .await
    }

    async fn destroy(&self, handle: &RuntimeHandle) -> Result<(), PluginError> {
        let scripted = self.take(RuntimeOp::Destroy);
        perform(scripted, FAKE, || {
            let mut state = lock(&self.state);
            if state.terminals.remove(&handle.id).is_some() {
                state.destroyed.push(handle.id.clone());
            }
            state.watches.remove(&handle.id);
            Ok(())
        })
        .await
    }

    async fn send(&self, handle: &RuntimeHandle, text: &str) -> Result<(), PluginError> {
        let scripted = self.take(RuntimeOp::Send);
        perform(scripted, FAKE, || {
            let mut state = lock(&self.state);
            let t = state
                .terminals
                .get_mut(&handle.id)
                .ok_or_else(|| no_session(handle))?;
            if t.liveness != Liveness::Alive {
                return Err(PluginError::failed(FAKE, "the agent has exited"));
            }
            t.typed.push(text.to_owned());
            // A terminal shows what is typed into it.
            if !t.screen.is_empty() && !t.screen.ends_with('\n') {
                t.screen.push('\n');
            }
            t.screen.push_str(text);
            Ok(())
        })
        .await
    }

    async fn submit(&self, handle: &RuntimeHandle) -> Result<(), PluginError> {
        self.press(handle, "Enter").await
    }

    async fn press(&self, handle: &RuntimeHandle, key: &str) -> Result<(), PluginError> {
        let op = if key == "Enter" {
            RuntimeOp::Submit
        } else {
            RuntimeOp::Press
        };
        let scripted = self.take(op);
        perform(scripted, FAKE, || {
            let mut state = lock(&self.state);
            let t = state
                .terminals
                .get_mut(&handle.id)
                .ok_or_else(|| no_session(handle))?;
            t.pressed.push(key.to_owned());
            Ok(())
        })
        .await
    }

    async fn input(&self, handle: &RuntimeHandle, text: &str) -> Result<(), PluginError> {
        let scripted = self.take(RuntimeOp::Input);
        perform(scripted, FAKE, || {
            let mut state = lock(&self.state);
            let t = state
                .terminals
                .get_mut(&handle.id)
                .ok_or_else(|| no_session(handle))?;
            t.keystrokes.push(text.to_owned());
            Ok(())
        })
        .await
    }

    async fn output(&self, handle: &RuntimeHandle, lines: usize) -> Result<String, PluginError> {
        let scripted = self.take(RuntimeOp::Output);
        perform(scripted, FAKE, || {
            let state = lock(&self.state);
            let t = state
                .terminals
                .get(&handle.id)
                .ok_or_else(|| no_session(handle))?;
            let all: Vec<&str> = t.screen.lines().collect();
            Ok(all[all.len().saturating_sub(lines)..].join("\n"))
        })
        .await
    }

    async fn is_alive(&self, handle: &RuntimeHandle) -> Result<bool, PluginError> {
        let scripted = self.take(RuntimeOp::IsAlive);
        perform(scripted, FAKE, || {
            Ok(self.probe_one(handle).liveness == Liveness::Alive)
        })
        .await
    }

    fn attach_info(&self, handle: &RuntimeHandle) -> AttachInfo {
        AttachInfo {
            argv: vec!["fake-attach".into(), handle.id.clone()],
            note: None,
        }
    }

    async fn probe_all(&self, handles: &[RuntimeHandle]) -> Result<Vec<Probe>, PluginError> {
        let scripted = self.take(RuntimeOp::ProbeAll);
        perform(scripted, FAKE, || {
            Ok(handles.iter().map(|h| self.probe_one(h)).collect())
        })
        .await
    }

    async fn find(
        &self,
        session: &SessionId,
        data_dir: &Path,
    ) -> Result<Option<RuntimeHandle>, PluginError> {
        let scripted = self.take(RuntimeOp::Find);
        perform(scripted, FAKE, || {
            let name = session.to_string();
            let state = lock(&self.state);
            Ok(state
                .terminals
                .get(&name)
                .filter(|t| t.spec.data_dir == data_dir)
                .map(|_| FakeRuntime::handle(&name)))
        })
        .await
    }

    async fn watch(&self, handle: &RuntimeHandle) -> Result<Option<PaneWatch>, PluginError> {
        let scripted = self.take(RuntimeOp::Watch);
        perform(scripted, FAKE, || {
            let mut state = lock(&self.state);
            let t = state
                .terminals
                .get(&handle.id)
                .cloned()
                .ok_or_else(|| no_session(handle))?;
            // Room for every event a test makes; a full channel drops the watch.
            let (sender, events) = tokio::sync::mpsc::channel(4096);
            let _ = sender.try_send(screen_of(&t, false));
            if t.liveness == Liveness::Alive {
                state
                    .watches
                    .entry(handle.id.clone())
                    .or_default()
                    .push(sender.clone());
            }
            let redraw = {
                let state = Arc::downgrade(&self.state);
                let session = handle.id.clone();
                let sender = sender.downgrade();
                move || {
                    let (Some(state), Some(sender)) = (state.upgrade(), sender.upgrade()) else {
                        return;
                    };
                    if let Some(t) = lock(&state).terminals.get(&session) {
                        let _ = sender.try_send(screen_of(t, true));
                    }
                }
            };
            Ok(Some(PaneWatch::new(events, redraw)))
        })
        .await
    }

    async fn marked(&self, sessions_dir: &Path) -> Result<Vec<String>, PluginError> {
        Ok(lock(&self.state)
            .terminals
            .iter()
            .filter(|(_, t)| t.spec.data_dir.starts_with(sessions_dir))
            .map(|(name, _)| name.clone())
            .collect())
    }

    async fn name_taken(&self, session: &SessionId, _: &Path) -> Result<bool, PluginError> {
        Ok(lock(&self.state)
            .terminals
            .contains_key(&session.to_string()))
    }
}
