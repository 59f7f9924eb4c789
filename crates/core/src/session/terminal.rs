//! A session's terminal: its output, and how to attach to it.

use super::{Manager, ManagerError};
use crate::model::{RuntimeHandle, Session};
use crate::plugin::Choice;

/// What an agent asks, and the answers it offers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Asked {
    /// The question, when the agent or its screen says it.
    pub question: Option<String>,
    /// The answers offered, each with the keys that choose it; empty when the human
    /// must type one.
    pub choices: Vec<Choice>,
}

impl Asked {
    /// What tells this question from the next one (its words and its answers): an
    /// answer is typed only to the question it was chosen for.
    pub fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        self.question.hash(&mut h);
        for c in &self.choices {
            c.label.hash(&mut h);
            c.keys.hash(&mut h);
        }
        format!("{:016x}", h.finish())
    }
}

impl Manager {
    pub(crate) fn live_handle(&self, s: &Session) -> Result<RuntimeHandle, ManagerError> {
        match (
            &s.runtime,
            s.status.is_terminal() || s.archived_at.is_some(),
        ) {
            (Some(h), false) => Ok(h.clone()),
            _ => Err(ManagerError::refused(
                format!("{} has no running agent: {}", s.id, ended(s)),
                format!("`ao session restore {}` starts it again", s.id),
            )),
        }
    }

    /// The session's recent output.
    pub async fn output(&self, id: &str, lines: usize) -> Result<String, ManagerError> {
        let s = self.session(id)?;
        let Some(handle) = &s.runtime else {
            return Err(ManagerError::refused(
                format!("{} never started a runtime", s.id),
                "`ao session restore` starts it",
            ));
        };
        let runtime = self.runtime(&handle.runtime)?;
        runtime.output(handle, lines).await.map_err(|e| {
            ManagerError::refused(
                format!("cannot read the output of {}: {e}", s.id),
                "its runtime may be gone; `ao status` shows it",
            )
        })
    }

    /// A live view of the session's terminal, sharing the watcher of its pane with the
    /// other viewers in `panes`: its screen, then its output until the pane ends. A
    /// session whose agent exited still shows its last screen, then ends.
    pub async fn watch_pane(
        &self,
        panes: &crate::pane::Panes,
        id: &str,
    ) -> Result<crate::pane::PaneView, ManagerError> {
        let s = self.session(id)?;
        let Some(handle) = &s.runtime else {
            return Err(ManagerError::refused(
                format!("{} never started a runtime", s.id),
                "`ao session restore` starts it",
            ));
        };
        let runtime = self.runtime(&handle.runtime)?;
        panes.subscribe(&runtime, handle).await.map_err(|e| {
            ManagerError::refused(
                format!("cannot watch the terminal of {}: {e}", s.id),
                "its runtime may be gone; `ao status` shows it",
            )
        })
    }

    /// What the session's agent asks now, read afresh, with the answers it offers (from
    /// its plugin, else a numbered menu on its screen); `None` when it asks nothing.
    pub async fn question(&self, id: &str) -> Result<Option<Asked>, ManagerError> {
        let mut s = self.session(id)?;
        self.live_handle(&s)?;
        let Some(reading) = self.agent_activity(&mut s).await else {
            return Ok(None);
        };
        if reading.activity != crate::model::Activity::WaitingInput {
            return Ok(None);
        }
        let mut choices = reading.choices;
        if choices.is_empty()
            && let Ok(screen) = self.output(id, 40).await
        {
            choices = crate::text::offered_choices(&screen);
        }
        Ok(Some(Asked {
            question: reading.detail,
            choices,
        }))
    }

    /// Types `text` into the session's terminal as its keyboard would (a live terminal's
    /// keystrokes and pastes), with nothing added and no wait for the agent.
    pub async fn type_keys(&self, id: &str, text: &str) -> Result<(), ManagerError> {
        let s = self.session(id)?;
        let handle = self.live_handle(&s)?;
        let runtime = self.runtime(&handle.runtime)?;
        runtime.input(&handle, text).await.map_err(|e| {
            ManagerError::refused(
                format!("cannot type into {}: {e}", s.id),
                "its runtime may be gone; `ao status` shows it",
            )
        })
    }

    /// How to attach a terminal to the session.
    pub fn attach_info(&self, id: &str) -> Result<crate::plugin::AttachInfo, ManagerError> {
        let s = self.session(id)?;
        let handle = self.live_handle(&s)?;
        Ok(self.runtime(&handle.runtime)?.attach_info(&handle))
    }
}

/// How a session without a running agent came to be so, in the words `ao status` uses.
fn ended(s: &Session) -> String {
    use crate::model::StatusReason;
    let archived = if s.archived_at.is_some() {
        ", archived"
    } else {
        ""
    };
    match s.status_reason {
        Some(StatusReason::AgentExited) => format!("its agent exited{archived}"),
        Some(StatusReason::AgentFinished) => format!("its agent finished its task{archived}"),
        Some(r) => format!("it is {} ({r}){archived}", s.status),
        None => format!("it is {}{archived}", s.status),
    }
}
