//! Waiting for an agent: until it is the terminal's foreground process, until it shows
//! it started, until its input prompt is up. Every wait has a deadline and backs off.

use super::plugins::Plugins;
use super::{Manager, ManagerError};
use crate::model::{Activity, RuntimeHandle, Session};
use crate::plugin::{Liveness, Probe, Runtime};
use crate::until::Deadline;
use std::time::{Duration, Instant};

/// The longest pause between two looks at an agent while waiting for it: each look is a
/// runtime call or a store read, so a slow agent is not asked hundreds of times.
pub(crate) const LONGEST_LOOK: Duration = Duration::from_millis(100);

/// The agent's screen once it has stopped changing for a moment (at most 2 s).
async fn settled(runtime: &dyn Runtime, handle: &RuntimeHandle) -> String {
    let wait = Deadline::after(Duration::from_secs(2));
    let mut last = runtime.output(handle, 60).await.unwrap_or_default();
    loop {
        // Unchanged over this long is what "stopped changing" means here.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let now = runtime.output(handle, 60).await.unwrap_or_default();
        if now == last || wait.passed() {
            return now;
        }
        last = now;
    }
}

/// The exit code of process `pid` while it has exited and its parent has not reaped it
/// yet, as Linux keeps it (`/proc/PID/stat`, field 52). tmux 3.3 now and then misses a
/// pane's exit signal: the pane reads dead, its status stays unknown, and its process
/// stays unreaped, still holding its exit status. None elsewhere, for a process that still
/// runs or was reaped, and for one a signal ended.
fn unreaped_exit_code(pid: u32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold anything.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Field 3 (the state) is the first here, so field 52 (the exit status) is the 50th.
    if fields.first() != Some(&"Z") {
        return None;
    }
    let status: i32 = fields.get(49)?.parse().ok()?;
    // A wait status: the low 7 bits name a signal that ended it, the next 8 its code.
    (status & 0x7f == 0).then_some((status >> 8) & 0xff)
}

/// Indents output under a message.
pub(crate) fn indent(text: &str) -> String {
    let t = text.trim_end();
    if t.is_empty() {
        return "    (no output)".into();
    }
    t.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Manager {
    /// The process name ao's launcher (`ao __launch`) runs under until it execs the agent.
    fn launcher_name(&self) -> String {
        self.ao_exe
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(15).collect())
            .unwrap_or_else(|| "ao".into())
    }

    /// Waits until the agent's own process is the terminal's foreground process, and
    /// returns the probe that saw it so. Fails with the agent's last output if it exits or
    /// is gone, and after the time-out. With `task_given` (the task went with the launch),
    /// an agent that exits having run has taken it and ended by itself, which is no
    /// failure; only exit codes 126 and 127 say its program could not be run at all.
    pub(crate) async fn wait_ready(
        &self,
        runtime: &dyn Runtime,
        handle: &RuntimeHandle,
        names: &[String],
        task_given: bool,
    ) -> Result<Probe, ManagerError> {
        // ao's launcher execs the agent within a millisecond or two of its start.
        let mut wait = Deadline::after(self.ready_timeout)
            .pausing_at_most(LONGEST_LOOK)
            .pausing_first(Duration::from_millis(1));
        let mut last = None;
        let mut code_wait: Option<Instant> = None;
        loop {
            let probe = runtime
                .probe_all(std::slice::from_ref(handle))
                .await?
                .into_iter()
                .next()
                .unwrap_or_else(Probe::unknown);
            let code = probe
                .exit_code
                .or_else(|| probe.pid.and_then(unreaped_exit_code));
            match probe.liveness {
                Liveness::Alive => {
                    let fg = probe.foreground.clone().unwrap_or_default();
                    // With no name to expect, the agent runs once ao's launcher (which
                    // execs it in place) no longer does.
                    let started = if names.is_empty() {
                        fg != self.launcher_name()
                    } else {
                        names.contains(&fg)
                    };
                    if started {
                        return Ok(probe);
                    }
                    last = Some(fg);
                }
                Liveness::Exited if task_given && code.is_some_and(|c| c != 126 && c != 127) => {
                    return Ok(probe);
                }
                // A terminal can report its process gone a moment before the exit code
                // is known; wait briefly for the code, which says what happened.
                Liveness::Exited
                    if code.is_none()
                        && code_wait.get_or_insert_with(Instant::now).elapsed()
                            < Duration::from_millis(500) => {}
                Liveness::Exited | Liveness::Gone => {
                    return Err(ManagerError::AgentExited {
                        code,
                        when: "before it was ready".into(),
                        output: runtime.output(handle, 40).await.unwrap_or_default(),
                        diagnosis: None,
                    });
                }
                Liveness::Unknown => {}
            }
            if wait.passed() {
                return Err(ManagerError::NotReady {
                    waited: self.ready_timeout,
                    foreground: last.clone().unwrap_or_default(),
                    expected: names.to_vec(),
                    output: runtime.output(handle, 40).await.unwrap_or_default(),
                    diagnosis: None,
                });
            }
            wait.pause().await;
        }
    }

    /// Before a task is typed in: waits until the agent reads `ready` (its input prompt is
    /// up). An agent asking a question first, quitting, or never showing its prompt fails
    /// the spawn with nothing typed.
    pub(crate) async fn await_input_prompt(
        &self,
        plugins: &Plugins,
        s: &mut Session,
        handle: &RuntimeHandle,
    ) -> Result<(), ManagerError> {
        let mut wait = Deadline::after(self.ready_timeout).pausing_at_most(LONGEST_LOOK);
        loop {
            self.fail_if_exited(
                plugins.runtime.as_ref(),
                s,
                handle,
                "before it took the task",
            )
            .await?;
            match self.agent_activity(s).await {
                Some(r) if matches!(r.activity, Activity::Ready | Activity::Idle) => return Ok(()),
                Some(r) if r.activity == Activity::WaitingInput => {
                    return Err(ManagerError::Refused {
                        message: format!(
                            "the agent asks a question before taking its task: {}; nothing was typed",
                            r.detail.as_deref().unwrap_or("(no text)")
                        ),
                        hint: Some(
                            "answer it once by running the agent by hand in the repository, or change agentConfig so it is not asked, then spawn again"
                                .into(),
                        ),
                    });
                }
                _ => {}
            }
            if wait.passed() {
                let out = plugins.runtime.output(handle, 40).await.unwrap_or_default();
                return Err(ManagerError::Refused {
                    message: format!(
                        "the agent did not show its input prompt within {} s; nothing was typed; its screen:\n{}",
                        self.ready_timeout.as_secs(),
                        indent(&out)
                    ),
                    hint: Some("check that the agent starts by hand in the workspace".into()),
                });
            }
            wait.pause().await;
        }
    }

    /// Waits until the agent's screen shows `pattern` (agentConfig.readyPattern); fails
    /// with the screen if the agent exits or it never shows within the time-out.
    pub(crate) async fn await_screen(
        &self,
        runtime: &dyn Runtime,
        s: &Session,
        handle: &RuntimeHandle,
        pattern: &str,
    ) -> Result<(), ManagerError> {
        let mut wait = Deadline::after(self.ready_timeout).pausing_at_most(LONGEST_LOOK);
        loop {
            self.fail_if_exited(runtime, s, handle, "before it showed its readyPattern")
                .await?;
            let screen = runtime.output(handle, 60).await.unwrap_or_default();
            if screen.contains(pattern) {
                return Ok(());
            }
            if wait.passed() {
                return Err(ManagerError::Refused {
                    message: format!(
                        "the agent's screen did not show its readyPattern `{pattern}` within {} s; nothing was typed; its screen:\n{}",
                        self.ready_timeout.as_secs(),
                        indent(&screen)
                    ),
                    hint: Some(
                        "check agentConfig.readyPattern against what the agent shows when it is ready".into(),
                    ),
                });
            }
            wait.pause().await;
        }
    }

    /// Answers a dialog the agent shows that the config has answered for this session
    /// already (`Agent::own_dialog`): moves to the choice and confirms it, then waits for
    /// the dialog to go. Returns whether it answered one.
    pub(crate) async fn answer_own_dialog(
        &self,
        plugins: &Plugins,
        s: &Session,
        handle: &RuntimeHandle,
        config: &crate::config::AgentConfig,
        workspace: &std::path::Path,
    ) -> Result<bool, ManagerError> {
        let runtime = plugins.runtime.as_ref();
        let screen = runtime.output(handle, 60).await.unwrap_or_default();
        let Some(answer) = plugins.agent.own_dialog(&screen, workspace, config) else {
            return Ok(false);
        };
        // A dialog may ignore keys for a moment after it is drawn, and a redraw can
        // reset its selection: move, let the screen settle, confirm, and try again
        // (a few times) while the dialog is still there.
        for _ in 0..3 {
            for _ in 0..8 {
                let screen = settled(runtime, handle).await;
                // Only while the same dialog, for the same folder, is still there.
                if plugins
                    .agent
                    .own_dialog(&screen, workspace, config)
                    .is_none()
                {
                    break;
                }
                if screen.contains(&answer.selected) {
                    runtime.press(handle, &answer.confirm).await?;
                    break;
                }
                runtime.press(handle, &answer.next).await?;
            }
            let mut wait = Deadline::after(Duration::from_secs(5)).pausing_at_most(LONGEST_LOOK);
            loop {
                let screen = runtime.output(handle, 60).await.unwrap_or_default();
                if !screen.contains(&answer.choice) {
                    tracing::info!(
                        "{}: answered `{}` for its own workspace",
                        s.id,
                        answer.choice
                    );
                    return Ok(true);
                }
                self.fail_if_exited(runtime, s, handle, "after its dialog was answered")
                    .await?;
                if wait.passed() {
                    break;
                }
                wait.pause().await;
            }
        }
        Ok(false)
    }

    /// How the session's agent ended, when it has exited: its exit code (waited for
    /// briefly, since a terminal can report its process gone a moment before the code)
    /// and its last output. None while it runs, or when its runtime is gone. `just_seen`
    /// is a probe of the session taken a moment ago, with nothing done since, to start
    /// from instead of asking the runtime again.
    pub(crate) async fn agent_exit_now(
        &self,
        s: &Session,
        mut just_seen: Option<Probe>,
    ) -> Option<super::AgentExit> {
        let handle = s.runtime.as_ref()?;
        let runtime = self.runtime(&handle.runtime).ok()?;
        let started = Instant::now();
        let mut wait = Deadline::none().pausing_at_most(LONGEST_LOOK);
        let code = loop {
            let probe = match just_seen.take() {
                Some(probe) => probe,
                None => self.probe(s).await.ok()?,
            };
            if probe.liveness != Liveness::Exited {
                return None;
            }
            let code = probe
                .exit_code
                .or_else(|| probe.pid.and_then(unreaped_exit_code));
            if code.is_some() || started.elapsed() >= Duration::from_millis(500) {
                break code;
            }
            wait.pause().await;
        };
        Some(super::AgentExit {
            code,
            output: runtime.output(handle, 40).await.unwrap_or_default(),
            at: crate::model::now_ms(),
        })
    }

    /// Fails with the agent's last output when its process has ended.
    pub(crate) async fn fail_if_exited(
        &self,
        runtime: &dyn Runtime,
        s: &Session,
        handle: &RuntimeHandle,
        when: &str,
    ) -> Result<(), ManagerError> {
        let probe = self.probe(s).await?;
        if !matches!(probe.liveness, Liveness::Exited | Liveness::Gone) {
            return Ok(());
        }
        Err(ManagerError::AgentExited {
            code: probe.exit_code,
            when: when.to_owned(),
            output: runtime.output(handle, 40).await.unwrap_or_default(),
            diagnosis: None,
        })
    }

    /// Waits until the agent shows it has started (a hook, its session log, a dialog); an
    /// agent that quits meanwhile fails the spawn with its output and the plugin's
    /// explanation. Returns the question when it stopped at one.
    pub(crate) async fn confirm_start(
        &self,
        plugins: &Plugins,
        s: &mut Session,
        handle: &RuntimeHandle,
        config: &crate::config::AgentConfig,
    ) -> Result<Option<String>, ManagerError> {
        let mut wait = Deadline::after(self.ready_timeout).pausing_at_most(LONGEST_LOOK);
        loop {
            let probe = self.probe(s).await?;
            if matches!(probe.liveness, Liveness::Exited | Liveness::Gone) {
                let output = plugins.runtime.output(handle, 40).await.unwrap_or_default();
                return Err(ManagerError::AgentExited {
                    code: probe.exit_code,
                    when: "as it started".into(),
                    diagnosis: plugins.agent.diagnose(&output, config),
                    output,
                });
            }
            if let Some(r) = self.agent_activity(s).await
                && (r.source != crate::plugin::ActivitySource::Terminal
                    || r.activity == Activity::WaitingInput)
            {
                // Started, but stopped at a question (a dialog): the caller says so.
                return Ok((r.activity == Activity::WaitingInput).then(|| {
                    r.detail
                        .unwrap_or_else(|| "a question on its screen".into())
                }));
            }
            if wait.passed() {
                // Running, just quiet: status tells the rest.
                return Ok(None);
            }
            wait.pause().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn an_unreaped_process_still_tells_its_exit_code() {
        for (script, want) in [
            ("exit 7", Some(7)),
            ("exit 0", Some(0)),
            ("kill -9 $$", None),
        ] {
            let mut child = std::process::Command::new("sh")
                .args(["-c", script])
                .spawn()
                .unwrap();
            let pid = child.id();
            // Until it has exited (a zombie, not reaped: this test is its parent).
            let deadline = Instant::now() + Duration::from_secs(10);
            let stat = || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            while !stat()
                .rsplit_once(')')
                .unwrap()
                .1
                .trim_start()
                .starts_with('Z')
            {
                assert!(Instant::now() < deadline, "{script} never exited");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(unreaped_exit_code(pid), want, "{script}");
            child.wait().unwrap();
            // Reaped: nothing to tell any more.
            assert_eq!(unreaped_exit_code(pid), None);
        }
        assert_eq!(
            unreaped_exit_code(std::process::id()),
            None,
            "a live process"
        );
    }
}
