//! Typing into a session's agent and making sure it took what was typed: `ao send`, and
//! a task a spawn types in after launch.

use super::wait::indent;
use super::{Manager, ManagerError};
use crate::model::{Activity, RuntimeHandle, Session, Timestamp, now_ms};
use crate::plugin::Runtime;
use std::time::{Duration, Instant};

/// How long typed input may go untaken before Enter is pressed again.
const RESUBMIT_AFTER: Duration = Duration::from_secs(2);
/// How many times Enter is pressed again.
const RESUBMITS: u32 = 2;
/// How long before input still not taken is reported.
const TAKE_TIMEOUT: Duration = Duration::from_secs(15);

impl Manager {
    /// Types text into a session once its agent runs. When the agent was waiting for
    /// input and its readings show when it takes some (`Agent::confirms_delivery`), the
    /// message is confirmed taken (see [`Manager::confirm_taken`]).
    pub async fn send(&self, id: &str, text: &str) -> Result<(), ManagerError> {
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
        let project = self.project(&s.project)?;
        let names = agent.process_names(&project.agent_config);
        self.wait_ready(runtime.as_ref(), &handle, &names, false)
            .await
            .map_err(|e| match e {
                ManagerError::Refused { message, .. } => ManagerError::refused(
                    format!("{}: not delivered: {message}", s.id),
                    format!("`ao session restore {}` starts the agent again", s.id),
                ),
                e => e,
            })?;
        // Only a message typed at the agent's own prompt is confirmed: one typed while it
        // works is queued, and pressing Enter again in a question would answer it.
        let confirm = agent.confirms_delivery()
            && self
                .agent_activity(&mut s)
                .await
                .is_some_and(|r| matches!(r.activity, Activity::Ready | Activity::Idle));
        let typed_at = now_ms();
        runtime.send(&handle, text).await?;
        if confirm {
            self.confirm_taken(&mut s, runtime.as_ref(), &handle, typed_at, "message")
                .await?;
        }
        Ok(())
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
                let screen = runtime.output(handle, 40).await.unwrap_or_default();
                return Err(ManagerError::refused(
                    format!(
                        "{}: the {what} was typed in but the agent did not take it within {} s, even with Enter pressed again; its screen:\n{}",
                        s.id,
                        TAKE_TIMEOUT.as_secs(),
                        indent(&screen)
                    ),
                    "check that the agent takes typed input (an interactive prompt, not a one-shot mode)",
                ));
            }
            if resubmits < RESUBMITS && waited >= RESUBMIT_AFTER * (resubmits + 1) {
                tracing::info!(
                    "{}: the agent has not taken the {what}; pressing Enter again",
                    s.id
                );
                runtime.submit(handle).await?;
                resubmits += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
