//! An agent whose activity the test sets per session: active (just now) until told
//! otherwise, idle since a time, waiting for input, or held by a usage limit.

use super::script::lock;
use crate::config::AgentConfig;
use crate::model::{Activity, SessionId, Timestamp};
use crate::plugin::{
    ActivityContext, ActivityReport, ActivitySource, Agent, AgentSessionInfo, LaunchContext,
    LaunchSpec, PluginError, PromptDelivery,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The process name the fake runtime shows in the foreground and the fake agent expects.
pub const PROCESS: &str = "fake-agent";

#[derive(Debug, Default)]
struct State {
    readings: BTreeMap<String, ActivityReport>,
    launched: Vec<LaunchContext>,
    activity_calls: usize,
}

/// An agent in memory; clones share their readings.
#[derive(Debug, Clone, Default)]
pub struct FakeAgent {
    state: Arc<Mutex<State>>,
}

impl FakeAgent {
    /// What `session`'s agent reads as from now on.
    pub fn set(&self, session: &SessionId, reading: ActivityReport) {
        lock(&self.state)
            .readings
            .insert(session.to_string(), reading);
    }

    /// `session`'s agent does `activity`, last active at `last_at` (as its hooks say).
    pub fn reads(&self, session: &SessionId, activity: Activity, last_at: Option<Timestamp>) {
        self.set(
            session,
            ActivityReport {
                activity,
                source: ActivitySource::Hook,
                last_at,
                detail: None,
                resets_at: None,
                choices: Vec::new(),
            },
        );
    }

    /// `session`'s agent is held by its provider's usage limit until `resets_at`.
    pub fn limited(&self, session: &SessionId, resets_at: Option<Timestamp>) {
        self.set(
            session,
            ActivityReport {
                activity: Activity::Limited,
                source: ActivitySource::Terminal,
                last_at: None,
                detail: Some("usage limit reached".into()),
                resets_at,
                choices: Vec::new(),
            },
        );
    }

    /// `session`'s agent is back to the default: active just now.
    pub fn active(&self, session: &SessionId) {
        lock(&self.state).readings.remove(&session.to_string());
    }

    /// Every launch the agent was asked for, in order.
    pub fn launched(&self) -> Vec<LaunchContext> {
        lock(&self.state).launched.clone()
    }

    /// How many activity readings were asked for.
    pub fn activity_calls(&self) -> usize {
        lock(&self.state).activity_calls
    }
}

#[async_trait]
impl Agent for FakeAgent {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        lock(&self.state).launched.push(ctx.clone());
        // A program that exists, so the look-up on PATH passes; the fake runtime runs
        // nothing.
        let program = std::env::current_exe()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/bin/sh".into());
        Ok(LaunchSpec {
            argv: vec![program, "--".into(), ctx.prompt.clone()],
            env: BTreeMap::new(),
            prompt: PromptDelivery::Inline,
            agent_session_id: None,
        })
    }

    fn process_names(&self, _config: &AgentConfig) -> Vec<String> {
        vec![PROCESS.to_owned()]
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        let mut state = lock(&self.state);
        state.activity_calls += 1;
        Ok(state
            .readings
            .get(&ctx.session.to_string())
            .cloned()
            .unwrap_or(ActivityReport {
                activity: Activity::Active,
                source: ActivitySource::Hook,
                last_at: Some(ctx.now),
                detail: None,
                resets_at: None,
                choices: Vec::new(),
            }))
    }

    async fn session_info(&self, _ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        Ok(AgentSessionInfo::default())
    }

    fn restore(&self, _ctx: &LaunchContext, _agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        None
    }
}
