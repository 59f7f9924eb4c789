//! A session's terminal: its output, and how to attach to it.

use super::{Manager, ManagerError};
use crate::model::{RuntimeHandle, Session};

impl Manager {
    pub(crate) fn live_handle(&self, s: &Session) -> Result<RuntimeHandle, ManagerError> {
        match (
            &s.runtime,
            s.status.is_terminal() || s.archived_at.is_some(),
        ) {
            (Some(h), false) => Ok(h.clone()),
            _ => Err(ManagerError::refused(
                format!("{} is {} and has no running agent", s.id, s.status),
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

    /// How to attach a terminal to the session.
    pub fn attach_info(&self, id: &str) -> Result<crate::plugin::AttachInfo, ManagerError> {
        let s = self.session(id)?;
        let handle = self.live_handle(&s)?;
        Ok(self.runtime(&handle.runtime)?.attach_info(&handle))
    }
}
