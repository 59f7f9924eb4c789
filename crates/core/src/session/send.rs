//! Typing into a session's agent and making sure it took what was typed: `ao send`, and
//! a task a spawn types in after launch.

use super::{Manager, ManagerError, NotTakenHow, Op};
use crate::model::{Activity, RuntimeHandle, Session, Timestamp, now_ms};
use crate::plugin::{Liveness, Probe, Runtime};
use crate::tty;
use crate::until::Deadline;
use std::time::{Duration, Instant};

/// How long typed input may go untaken before Enter is pressed again.
const RESUBMIT_AFTER: Duration = Duration::from_secs(2);
/// How many times Enter is pressed again.
const RESUBMITS: u32 = 2;
/// How long before input still not taken is reported.
const TAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long an agent's terminal mode and screen stay unchanged before it counts as
/// settled, ready to be typed into.
const SETTLED_FOR: Duration = Duration::from_millis(300);
/// The longest ao waits for that: a screen that never rests (a spinner) is typed into
/// after it, and what happens to the text is still checked.
const SETTLE_AT_MOST: Duration = Duration::from_secs(5);
/// How many times a task the agent discarded unread is typed again.
const RETYPES: u32 = 2;

/// What became of text typed into an agent's terminal.
#[derive(Debug, PartialEq, Eq)]
enum Typed {
    /// The agent read it.
    Read,
    /// It left the terminal unread: the agent flushed its input (switching its mode).
    Discarded,
}

/// What became of a message `ao send` typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The agent was at its prompt and took the message.
    Taken,
    /// The agent was at work: the message waits in its input for the turn to end.
    Queued,
    /// Typed into the agent's terminal; its agent gives no sign of taking input to check.
    Typed,
    /// Typed at once (`--no-wait`), without waiting for the agent or checking.
    TypedAtOnce,
}

impl Manager {
    /// Types text into a session once its agent runs. When the agent was waiting for
    /// input and its readings show when it takes some (`Agent::confirms_delivery`), the
    /// message is confirmed taken (see [`Manager::confirm_taken`]).
    pub async fn send(&self, id: &str, text: &str) -> Result<Sent, ManagerError> {
        self.send_as(id, text, true).await
    }

    /// Types text into a session at once, neither waiting for its agent to be the
    /// terminal's foreground process nor for it to take the message (`ao send
    /// --no-wait`). A pane that is gone or exited is still refused.
    pub async fn send_now(&self, id: &str, text: &str) -> Result<Sent, ManagerError> {
        self.send_as(id, text, false).await
    }

    async fn send_as(&self, id: &str, text: &str, wait: bool) -> Result<Sent, ManagerError> {
        self.deliver(id, text, wait)
            .await
            .map_err(|e| e.redacted(|t| self.config.redact(t)))
    }

    async fn deliver(&self, id: &str, text: &str, wait: bool) -> Result<Sent, ManagerError> {
        let mut s = self.session(id)?;
        let handle = self.live_handle(&s)?;
        if let Some(path) = &s.workspace_path
            && !path.exists()
        {
            return Err(ManagerError::plain(format!(
                "{}: not delivered: {}",
                s.id,
                super::status::workspace_gone(&s, path)
            )));
        }
        let runtime = self.runtime(&handle.runtime)?;
        let agent = self.agent(&s.agent)?;
        let project = self.project(&s.project)?.for_session(&s.id);
        if !wait {
            let probe = runtime
                .probe_all(std::slice::from_ref(&handle))
                .await?
                .into_iter()
                .next()
                .unwrap_or_else(Probe::unknown);
            if matches!(probe.liveness, Liveness::Exited | Liveness::Gone) {
                return Err(ManagerError::refused(
                    format!("{}: not delivered: its agent is not running", s.id),
                    format!("`ao session restore {}` starts the agent again", s.id),
                ));
            }
            runtime.send(&handle, text).await?;
            return Ok(Sent::TypedAtOnce);
        }
        let names = agent.process_names(&project.agent_config);
        // Its terminal runs something else (a program the agent started, a shell it
        // left), or the agent has ended: the CLI's hint says to look, or to restore it.
        self.wait_ready(runtime.as_ref(), &handle, &names, false)
            .await
            .map_err(|e| match e {
                e @ (ManagerError::AgentExited { .. } | ManagerError::NotReady { .. }) => {
                    e.during(Op::Send, &s.id, "")
                }
                e => e,
            })?;
        // Only a message typed at the agent's own prompt is confirmed: one typed while it
        // works is queued, and pressing Enter again in a question would answer it.
        let sent = if !agent.confirms_delivery() {
            Sent::Typed
        } else if self
            .agent_activity(&mut s)
            .await
            .is_some_and(|r| matches!(r.activity, Activity::Ready | Activity::Idle))
        {
            Sent::Taken
        } else {
            Sent::Queued
        };
        let typed_at = now_ms();
        runtime.send(&handle, text).await?;
        if sent == Sent::Taken {
            self.confirm_taken(&mut s, runtime.as_ref(), &handle, typed_at, "message")
                .await
                .map_err(|e| e.during(Op::Send, &s.id, ""))?;
        }
        Ok(sent)
    }

    /// Types a task into an agent that gives no readings of its own (the `command`
    /// agent) and makes sure it read it. Unless `ready` (its readyPattern showed), first
    /// waits for the terminal to settle: its mode and screen unchanged for a moment, so
    /// an agent still setting up its terminal is not typed into. Then waits until the
    /// text has left the terminal's input, read by the agent; text the agent discarded
    /// unread (switching its terminal's mode flushes it) is typed again once the
    /// terminal settles. Text still unread after 15 s is an error with its screen.
    /// `just_seen` is a probe of the session taken a moment ago, with nothing done since:
    /// the settling's first look, instead of asking the runtime again.
    pub(crate) async fn type_task(
        &self,
        s: &Session,
        runtime: &dyn Runtime,
        handle: &RuntimeHandle,
        text: &str,
        ready: bool,
        mut just_seen: Option<Probe>,
    ) -> Result<(), ManagerError> {
        let mut settle = !ready;
        for attempt in 0..=RETYPES {
            let probe = if settle {
                self.settle(s, runtime, handle, just_seen.take()).await?
            } else {
                self.probe(s).await?
            };
            settle = true;
            let Some(path) = probe.terminal.clone() else {
                // No terminal to read (a runtime without one): typed is all ao can say.
                runtime.send(handle, text).await?;
                return Ok(());
            };
            let before = tty::look(&path);
            let read_before = probe.pid.and_then(tty::bytes_read);
            runtime.send(handle, text).await?;
            let typed = self
                .await_read(s, runtime, handle, &path, before, probe.pid, read_before)
                .await?;
            if typed == Typed::Read {
                return Ok(());
            }
            tracing::warn!(
                "{}: the agent discarded its task unread (attempt {}); typing it again once its terminal settles",
                s.id,
                attempt + 1
            );
        }
        Err(ManagerError::NotTaken {
            what: "task".into(),
            how: NotTakenHow::Discarded(RETYPES + 1),
            waited: TAKE_TIMEOUT,
            screen: runtime.output(handle, 40).await.unwrap_or_default(),
        })
    }

    /// Waits until the agent's terminal mode and screen have not changed for a moment
    /// while none of its processes is busy (at most 5 s), and returns the last probe.
    /// Fails if the agent exits. Where the system tells that the agent waits for input
    /// (Linux), two equal looks suffice. The first look takes `just_seen` for its probe
    /// when given.
    async fn settle(
        &self,
        s: &Session,
        runtime: &dyn Runtime,
        handle: &RuntimeHandle,
        mut just_seen: Option<Probe>,
    ) -> Result<Probe, ManagerError> {
        let start = Instant::now();
        let mut last = None;
        let mut since = Instant::now();
        let mut wait = Deadline::none().pausing_at_most(super::wait::LONGEST_LOOK);
        loop {
            let probe = match just_seen.take() {
                Some(seen) => seen,
                None => self.probe(s).await?,
            };
            if matches!(probe.liveness, Liveness::Exited | Liveness::Gone) {
                self.fail_if_exited(runtime, s, handle, "before it was ready for its task")
                    .await?;
            }
            let mode = probe
                .terminal
                .as_deref()
                .and_then(tty::look)
                .map(|t| t.mode);
            let screen = runtime.output(handle, 60).await.unwrap_or_default();
            let now = Some((mode, screen));
            // A still screen over a program that is still busy (starting up, slowly on a
            // loaded machine) is not a settled one: it has not set up its terminal yet.
            let busy = || probe.pid.and_then(tty::foreground_busy) == Some(true);
            if now != last {
                last = now;
                since = Instant::now();
            } else if probe.pid.and_then(tty::waits_for_input) == Some(true)
                || (since.elapsed() >= SETTLED_FOR && !busy())
            {
                return Ok(probe);
            }
            if start.elapsed() >= SETTLE_AT_MOST {
                return Ok(probe);
            }
            wait.pause().await;
        }
    }

    /// After text is typed into the terminal at `path`: waits until it has left the
    /// terminal's input, and tells whether the agent read it or it was discarded. The
    /// processes on the terminal reading at least what was seen waiting says "read"
    /// (where the system counts reads: Linux); without counts, input that is gone with
    /// the mode unchanged is taken as read, and gone with the mode changed as discarded.
    #[allow(clippy::too_many_arguments)]
    async fn await_read(
        &self,
        s: &Session,
        runtime: &dyn Runtime,
        handle: &RuntimeHandle,
        path: &std::path::Path,
        before: Option<tty::TtyState>,
        leader: Option<u32>,
        read_before: Option<u64>,
    ) -> Result<Typed, ManagerError> {
        let start = Instant::now();
        let mut most_unread = 0usize;
        let read_since_typed = || {
            read_before
                .zip(leader.and_then(tty::bytes_read))
                .map(|(b, a)| a.saturating_sub(b))
        };
        let mut wait = Deadline::none()
            .pausing_at_most(super::wait::LONGEST_LOOK)
            .pausing_first(Duration::from_millis(1));
        loop {
            // Text seen waiting in the terminal, gone from it now, and counted read by the
            // agent: read, with no need to ask the runtime (a look at /proc, where a probe
            // is a tmux call).
            if most_unread > 0
                && tty::look(path).is_some_and(|now| now.unread == 0)
                && read_since_typed().is_some_and(|n| n >= most_unread as u64)
            {
                return Ok(Typed::Read);
            }
            match self.probe(s).await?.liveness {
                // An agent that exits once its task is typed in has taken it and ended
                // by itself (a one-shot CLI); the spawn records how it ended.
                Liveness::Exited => return Ok(Typed::Read),
                Liveness::Gone => {
                    self.fail_if_exited(runtime, s, handle, "as its task arrived")
                        .await?
                }
                Liveness::Alive | Liveness::Unknown => {}
            }
            let Some(now) = tty::look(path) else {
                // The terminal cannot be read any more: nothing more can be known.
                return Ok(Typed::Read);
            };
            if now.unread > 0 {
                most_unread = most_unread.max(now.unread);
            } else {
                let mode_changed = before.as_ref().is_some_and(|b| b.mode != now.mode);
                match read_since_typed() {
                    Some(n) if n > 0 && n >= most_unread as u64 => return Ok(Typed::Read),
                    // Seen waiting, or (tmux delivers within moments) gone unread.
                    Some(_)
                        if most_unread > 0
                            || mode_changed
                            || start.elapsed() >= Duration::from_secs(1) =>
                    {
                        return Ok(Typed::Discarded);
                    }
                    Some(_) => {} // not arrived yet
                    None if mode_changed => return Ok(Typed::Discarded),
                    None if most_unread > 0 || start.elapsed() >= Duration::from_secs(1) => {
                        return Ok(Typed::Read);
                    }
                    None => {}
                }
            }
            if start.elapsed() >= TAKE_TIMEOUT {
                return Err(ManagerError::NotTaken {
                    what: "task".into(),
                    how: NotTakenHow::Unread,
                    waited: TAKE_TIMEOUT,
                    screen: runtime.output(handle, 40).await.unwrap_or_default(),
                });
            }
            wait.pause().await;
        }
    }

    /// After input is typed at the agent's prompt: waits until a reading shows the agent
    /// took it (working, asking, or anything newer than the typing). An agent that missed
    /// the Enter gets it again after 2 s and 4 s; input still not taken after 15 s, or an
    /// agent that exits, is an error with the agent's screen, never a silent loss.
    pub(crate) async fn confirm_taken(
        &self,
        s: &mut Session,
        runtime: &dyn Runtime,
        handle: &RuntimeHandle,
        typed_at: Timestamp,
        what: &str,
    ) -> Result<(), ManagerError> {
        let start = Instant::now();
        let mut resubmits = 0;
        let mut wait = Deadline::none();
        loop {
            self.fail_if_exited(runtime, s, handle, &format!("before it took the {what}"))
                .await?;
            if let Some(r) = self.agent_activity(s).await
                && (matches!(r.activity, Activity::Active | Activity::WaitingInput)
                    || r.last_at.is_some_and(|t| t >= typed_at))
            {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= TAKE_TIMEOUT {
                return Err(ManagerError::NotTaken {
                    what: what.to_owned(),
                    how: NotTakenHow::Ignored,
                    waited: TAKE_TIMEOUT,
                    screen: runtime.output(handle, 40).await.unwrap_or_default(),
                });
            }
            if resubmits < RESUBMITS && waited >= RESUBMIT_AFTER * (resubmits + 1) {
                tracing::info!(
                    "{}: the agent has not taken the {what}; pressing Enter again",
                    s.id
                );
                runtime.submit(handle).await?;
                resubmits += 1;
            }
            wait.pause().await;
        }
    }
}
