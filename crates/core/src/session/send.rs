//! `ao send`: typing a message into a session's agent, and making sure it was taken.

use super::manager::{Manager, ManagerError, indent};
use crate::model::{Activity, now_ms};
use std::time::{Duration, Instant};

/// How long a typed message may go untaken before Enter is pressed again.
const RESUBMIT_AFTER: Duration = Duration::from_secs(2);
/// How many times Enter is pressed again.
const RESUBMITS: u32 = 2;
/// How long before a message still not taken is reported.
const TAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Manager {
    /// Types text into a session once its agent runs. When the agent was waiting for
    /// input and its readings show when it takes some (`Agent::confirms_delivery`), the
    /// message is confirmed taken: Enter is pressed again if the agent missed it, and a
    /// message still not taken is an error showing the agent's screen.
    pub async fn send(&self, id: &str, text: &str) -> Result<(), ManagerError> {
        let mut s = self.session(id)?;
        let handle = self.live_handle(&s)?;
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
        if !confirm {
            return Ok(());
        }
        let start = Instant::now();
        let mut resubmits = 0;
        loop {
            match self.agent_activity(&mut s).await {
                Some(r) if r.activity == Activity::Exited => {
                    return Err(ManagerError::refused(
                        format!("{}: the agent exited before it took the message", s.id),
                        format!("`ao session restore {}` starts it again", s.id),
                    ));
                }
                Some(r)
                    if matches!(r.activity, Activity::Active | Activity::WaitingInput)
                        || r.last_at.is_some_and(|t| t >= typed_at) =>
                {
                    return Ok(());
                }
                _ => {}
            }
            let waited = start.elapsed();
            if waited >= TAKE_TIMEOUT {
                let screen = runtime.output(&handle, 40).await.unwrap_or_default();
                return Err(ManagerError::refused(
                    format!(
                        "{}: the message was typed in but the agent did not take it within {} s; its screen:\n{}",
                        s.id,
                        TAKE_TIMEOUT.as_secs(),
                        indent(&screen)
                    ),
                    format!("`ao attach {}` to look, and press Enter there", s.id),
                ));
            }
            if resubmits < RESUBMITS && waited >= RESUBMIT_AFTER * (resubmits + 1) {
                tracing::debug!(session = %s.id, "message not taken yet; pressing Enter again");
                runtime.submit(&handle).await?;
                resubmits += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
