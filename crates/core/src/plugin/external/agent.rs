//! The agent slot's adapter: a loaded agent plugin as one of ao's own agents.

use super::slots::External;
use crate::config::AgentConfig;
use crate::model::Timestamp;
use crate::plugin::{
    ActivityContext, ActivityReport, Agent, AgentSessionInfo, LaunchContext, LaunchSpec,
    PluginError,
};
use crate::store::AgentReport;
use ao_plugin_sdk::agent as a;
use async_trait::async_trait;
use serde_json::Value;

fn config_json(config: &AgentConfig) -> Value {
    serde_json::to_value(config).unwrap_or(Value::Null)
}

fn wire_launch(ctx: &LaunchContext) -> a::LaunchContext {
    a::LaunchContext {
        session: ctx.session.to_string(),
        project: ctx.project.clone(),
        workspace: ctx.workspace.clone(),
        prompt: ctx.prompt.clone(),
        config: config_json(&ctx.config),
        rules: ctx.rules.clone(),
        scratch_dir: ctx.scratch_dir.clone(),
        hook_command: ctx.hook_command.clone(),
    }
}

fn wire_activity(ctx: &ActivityContext) -> a::ActivityParams {
    a::ActivityParams {
        ctx: a::ActivityContext {
            session: ctx.session.to_string(),
            workspace: ctx.workspace.clone(),
            scratch_dir: ctx.scratch_dir.clone(),
            agent_session_id: ctx.agent_session_id.clone(),
            started_at: ctx.started_at,
            report: ctx.report.clone(),
            recent_output: ctx.recent_output.clone(),
            idle_after_ms: ctx.idle_after_ms,
            now: ctx.now,
            last_output_at: ctx.last_output_at,
        },
    }
}

#[async_trait]
impl Agent for External {
    fn launch(&self, ctx: &LaunchContext) -> Result<LaunchSpec, PluginError> {
        let params = a::LaunchParams {
            launch: wire_launch(ctx),
        };
        self.inst
            .call_blocking(a::method::LAUNCH, &self.section, &params)
    }

    fn process_names(&self, config: &AgentConfig) -> Vec<String> {
        let params = a::ConfigParams {
            config: config_json(config),
        };
        self.inst
            .call_blocking(a::method::PROCESS_NAMES, &self.section, &params)
            .unwrap_or_else(|e| {
                tracing::warn!("{e}");
                Vec::new()
            })
    }

    async fn activity(&self, ctx: &ActivityContext) -> Result<ActivityReport, PluginError> {
        self.inst
            .call(a::method::ACTIVITY, &self.section, &wire_activity(ctx))
            .await
    }

    async fn session_info(&self, ctx: &ActivityContext) -> Result<AgentSessionInfo, PluginError> {
        self.inst
            .call(a::method::SESSION_INFO, &self.section, &wire_activity(ctx))
            .await
    }

    fn restore(&self, ctx: &LaunchContext, agent_session_id: Option<&str>) -> Option<LaunchSpec> {
        let params = a::RestoreParams {
            launch: wire_launch(ctx),
            agent_session_id: agent_session_id.map(str::to_owned),
        };
        self.inst
            .call_blocking(a::method::RESTORE, &self.section, &params)
            .unwrap_or_else(|e| {
                tracing::warn!("{e}; starting the agent afresh");
                None
            })
    }

    fn confirms_start(&self) -> bool {
        self.flag(a::method::CONFIRMS_START)
    }

    fn confirms_delivery(&self) -> bool {
        self.flag(a::method::CONFIRMS_DELIVERY)
    }

    fn wants_terminal(&self, ctx: &ActivityContext) -> bool {
        self.inst
            .call_blocking(
                a::method::WANTS_TERMINAL,
                &self.section,
                &wire_activity(ctx),
            )
            .unwrap_or(false)
    }

    fn hook_report(&self, args: &[String], stdin: &str, now: Timestamp) -> Option<AgentReport> {
        let params = a::HookParams {
            args: args.to_vec(),
            stdin: stdin.to_owned(),
            now,
        };
        self.inst
            .call_blocking(a::method::HOOK_REPORT, &self.section, &params)
            .unwrap_or(None)
    }

    fn diagnose(&self, output: &str, config: &AgentConfig) -> Option<String> {
        let params = a::DiagnoseParams {
            output: output.to_owned(),
            config: config_json(config),
        };
        self.inst
            .call_blocking(a::method::DIAGNOSE, &self.section, &params)
            .unwrap_or(None)
    }
}

impl External {
    fn flag(&self, method: &str) -> bool {
        self.inst
            .call_blocking(method, &self.section, &Value::Null)
            .unwrap_or(false)
    }
}
