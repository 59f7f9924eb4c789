//! Starting a session's agent: its launch context, `postCreate`, the runtime, and the
//! waits until the agent runs and has its task. Shared by spawn and restore.

use super::failpoint::step;
use super::plugins::Plugins;
use super::wait::indent;
use super::{Manager, ManagerError};
use crate::config::ResolvedProject;
use crate::model::{Session, now_ms};
use crate::plugin::{
    LaunchContext, LaunchSpec, Liveness, Probe, PromptDelivery, RuntimeSpec, WorkspaceSpec,
};
use std::collections::BTreeMap;

/// An agent started by [`Manager::start_agent`].
pub(crate) struct Started {
    /// The question it stopped at, when it waits for an answer before it can work.
    pub question: Option<String>,
    /// The probe taken once the agent had read the task typed into it, with nothing done
    /// since: whether it has exited already is read off it. None otherwise: an agent seen
    /// running only before it had its task must be looked at again (a program that could
    /// not run at all is seen running for a moment before it exits 127).
    pub typed_then_seen: Option<Probe>,
}

/// What every worker is told of ao's report commands, after the project's rules.
pub const WORKER_RULES: &str = "You run in an ao session. Tell ao how you are doing with \
`ao report STATE [--note TEXT]` (STATE: working, fixing-ci, addressing-reviews, waiting, \
needs-input, completed; after opening a pull request, `ao report pr-created --pr-url URL`), \
and run `ao acknowledge` once you have read your task. Told to take over an existing \
pull request, run `ao session claim-pr N` before changing anything: your checkout moves to \
its branch.";

impl Manager {
    pub(crate) async fn run_post_create(
        &self,
        plugins: &Plugins,
        spec: &WorkspaceSpec,
        info: &crate::plugin::WorkspaceInfo,
    ) -> Result<(), ManagerError> {
        let outputs = plugins.workspace.post_create(spec, info).await?;
        if !outputs.is_empty() {
            let dir = self.data_dir(&spec.session);
            let mut log = String::new();
            for o in &outputs {
                log.push_str(&format!("$ {}\n{}\n", o.command, o.output.trim_end()));
            }
            let _ = std::fs::create_dir_all(&dir)
                .and_then(|_| std::fs::write(dir.join("post-create.log"), log));
        }
        Ok(())
    }

    pub(crate) fn launch_context(
        &self,
        project: &ResolvedProject,
        s: &Session,
        prompt: &str,
    ) -> Result<LaunchContext, ManagerError> {
        let mut rules = project.agent_rules.clone().unwrap_or_default();
        if s.id.is_orchestrator() {
            rules = super::orchestrator::orchestrator_rules(project);
        } else if let Some(file) = &project.agent_rules_file
            && let Ok(text) = std::fs::read_to_string(file)
        {
            if !rules.is_empty() {
                rules.push_str("\n\n");
            }
            rules.push_str(&text);
        }
        if !s.id.is_orchestrator() {
            if !rules.is_empty() {
                rules.push_str("\n\n");
            }
            rules.push_str(WORKER_RULES);
        }
        Ok(LaunchContext {
            session: s.id.clone(),
            project: project.id.clone(),
            workspace: s.workspace_path.clone().unwrap_or_default(),
            prompt: prompt.to_owned(),
            config: project.agent_config.clone(),
            rules: (!rules.is_empty()).then_some(rules),
            scratch_dir: self.data_dir(&s.id).join("agent"),
            hook_command: vec![
                self.ao_exe.to_string_lossy().into_owned(),
                "hook".into(),
                s.agent.clone(),
            ],
        })
    }

    /// Refuses to start an agent anywhere but in the session's own workspace: a checkout
    /// at the session's recorded path, made for it, and not the project's own checkout.
    fn check_own_workspace(
        &self,
        project: &ResolvedProject,
        s: &Session,
        cwd: &std::path::Path,
    ) -> Result<(), ManagerError> {
        // The orchestrator works in the project's checkout, which is not its to remove.
        if s.id.is_orchestrator()
            && s.workspace == super::orchestrator::CHECKOUT
            && cwd.canonicalize().ok() == project.path.canonicalize().ok()
        {
            return Ok(());
        }
        let own = s.workspace_path.as_deref() == Some(cwd)
            && matches!(
                s.workspace_claim,
                crate::model::WorkspaceClaim::Made | crate::model::WorkspaceClaim::Recreating
            )
            && cwd.is_dir()
            && cwd.join(".git").exists()
            && cwd.canonicalize().ok() != project.path.canonicalize().ok();
        if own {
            return Ok(());
        }
        Err(ManagerError::plain(format!(
            "{} is not {}'s own workspace (missing, or not made for it); the agent was not started",
            cwd.display(),
            s.id
        )))
    }

    /// Starts the agent in the runtime, waits until it runs, and delivers the prompt
    /// when it is typed in after launch. Returns the question the agent stopped at, if
    /// it started but waits for an answer (a dialog) before it can work. An agent that
    /// exits once its task is typed in has taken it and ended by itself (a one-shot CLI):
    /// that is no failure, and the caller records how it ended.
    pub(crate) async fn start_agent(
        &self,
        project: &ResolvedProject,
        plugins: &Plugins,
        s: &mut Session,
        ctx: &LaunchContext,
        launch: LaunchSpec,
        deliver: bool,
    ) -> Result<Started, ManagerError> {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for key in ["PATH", "HOME", "LANG", "USER"] {
            if let Some(v) = (self.env)(key) {
                env.insert(key.to_owned(), v);
            }
        }
        env.extend(launch.env.clone());
        env.insert("AO_SESSION_ID".into(), s.id.to_string());
        env.insert("AO_PROJECT_ID".into(), project.id.clone());
        env.insert("AO_HOME".into(), self.home.to_string_lossy().into_owned());
        // `ao` run inside the session (its hooks, the agent itself) finds the same config.
        env.insert(
            "AO_CONFIG_PATH".into(),
            self.config.file.to_string_lossy().into_owned(),
        );
        let spec = RuntimeSpec {
            session: s.id.clone(),
            cwd: ctx.workspace.clone(),
            argv: launch.argv.clone(),
            env,
            stdin: match &launch.prompt {
                PromptDelivery::StdinFile(f) => Some(f.clone()),
                _ => None,
            },
            data_dir: self.data_dir(&s.id),
        };
        if let Some(program) = launch.argv.first()
            && crate::exec::find_program(program, spec_path(&spec.env)).is_none()
        {
            return Err(ManagerError::Refused {
                message: format!("the agent's program `{program}` was not found on PATH"),
                hint: Some(format!(
                    "{}; PATH is {}",
                    match self.registry.agent_cli(&s.agent) {
                        // How to install it is the agent's registry entry's.
                        Some(cli) if cli.program == *program => format!(
                            "install it (`{}`), or put its directory on PATH (agentConfig.env.PATH sets the agent's own)",
                            cli.install
                        ),
                        _ if s.agent == "command" => {
                            "install it, or give its path in agentConfig.command".to_owned()
                        }
                        _ => "install it, or put its directory on PATH (agentConfig.env.PATH sets the agent's own)"
                            .to_owned(),
                    },
                    spec_path(&spec.env).unwrap_or("unset")
                )),
            });
        }
        self.check_own_workspace(project, s, &spec.cwd)?;
        // Reports from an earlier run of the agent say nothing about this one.
        self.store().clear_agent_report(&s.id)?;
        let handle = plugins.runtime.create(&spec).await?;
        s.runtime = Some(handle.clone());
        if launch.agent_session_id.is_some() {
            s.agent_session_id = launch.agent_session_id.clone();
        }
        s.agent_started_at = Some(now_ms());
        self.commit(s, Vec::new())?;
        step("runtime")?;
        let names = plugins.agent.process_names(&ctx.config);
        let post_launch = launch.prompt == PromptDelivery::PostLaunch;
        // The probe that saw the agent running, while nothing has been done since: the
        // first look of the settling before its task is typed, so the runtime is not
        // asked the same thing twice in a row.
        let mut just_seen = self
            .wait_ready(plugins.runtime.as_ref(), &handle, &names, !post_launch)
            .await
            .map_err(|e| match e {
                ManagerError::AgentExited {
                    code,
                    when,
                    output,
                    diagnosis: None,
                } => ManagerError::AgentExited {
                    code,
                    when,
                    diagnosis: plugins.agent.diagnose(&output, &ctx.config),
                    output,
                },
                ManagerError::NotReady {
                    waited,
                    foreground,
                    expected,
                    output,
                    diagnosis: None,
                } => ManagerError::NotReady {
                    waited,
                    foreground,
                    expected,
                    diagnosis: plugins.agent.diagnose(&output, &ctx.config),
                    output,
                },
                e => e,
            })
            .map(Some)?;
        let mut question = None;
        if plugins.agent.confirms_start() {
            just_seen = None;
            question = self.confirm_start(plugins, s, &handle, &ctx.config).await?;
            if question.is_some()
                && self
                    .answer_own_dialog(plugins, s, &handle, &ctx.config, &ctx.workspace)
                    .await?
            {
                question = self.confirm_start(plugins, s, &handle, &ctx.config).await?;
            }
        }
        step("ready")?;
        let mut typed_then_seen = None;
        if post_launch && deliver && plugins.agent.confirms_delivery() {
            self.await_input_prompt(plugins, s, &handle).await?;
            let typed_at = now_ms();
            plugins.runtime.send(&handle, &ctx.prompt).await?;
            let taken = self
                .confirm_taken(s, plugins.runtime.as_ref(), &handle, typed_at, "task")
                .await;
            if let Err(e) = taken
                && self.probe(s).await?.liveness != Liveness::Exited
            {
                return Err(e);
            }
        } else if post_launch && deliver {
            let pattern = ctx
                .config
                .ready_pattern
                .as_deref()
                .filter(|p| !p.is_empty());
            if let Some(pattern) = pattern {
                just_seen = None;
                self.await_screen(plugins.runtime.as_ref(), s, &handle, pattern)
                    .await?;
            }
            self.type_task(
                s,
                plugins.runtime.as_ref(),
                &handle,
                &ctx.prompt,
                pattern.is_some(),
                just_seen.take(),
            )
            .await?;
            // Delivered into the agent, which runs or has exited by itself; a runtime gone
            // altogether is a failure.
            let probe = self.probe(s).await?;
            if probe.liveness == Liveness::Gone {
                let out = plugins
                    .runtime
                    .output(&handle, 40)
                    .await
                    .unwrap_or_default();
                return Err(ManagerError::Refused {
                    message: format!(
                        "the agent's runtime was gone as the task arrived; its last output:\n{}",
                        indent(&out)
                    ),
                    hint: None,
                });
            }
            typed_then_seen = Some(probe);
        }
        Ok(Started {
            question,
            typed_then_seen,
        })
    }
}

fn spec_path(env: &BTreeMap<String, String>) -> Option<&str> {
    env.get("PATH").map(String::as_str)
}
