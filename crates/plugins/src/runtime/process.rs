//! The `process` runtime: the agent as a detached child in its own process group, its
//! output in a log file, outliving the `ao` command that started it. Text is sent
//! through a named pipe that is the agent's standard input; there is no terminal, so
//! agents that need one belong in tmux.

use ao_core::exec::{pid_alive, process_name};
use ao_core::model::{RuntimeHandle, SessionId};
use ao_core::plugin::{AttachInfo, Liveness, PluginError, Probe, Runtime, RuntimeSpec, Slot};
use ao_core::registry::{Factory, PluginEntry, SectionRef};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const NAME: &str = "process";

/// The process runtime.
#[derive(Debug, Default)]
pub struct ProcessRuntime;

fn failed(message: impl Into<String>) -> PluginError {
    PluginError::failed(NAME, message)
}

struct Files {
    log: PathBuf,
    fifo: PathBuf,
    pid: PathBuf,
}

fn files(data_dir: &Path) -> Files {
    Files {
        log: data_dir.join("output.log"),
        fifo: data_dir.join("stdin.fifo"),
        pid: data_dir.join("process.pid"),
    }
}

fn handle_files(handle: &RuntimeHandle) -> Option<Files> {
    let dir = handle.data.get("dir")?.as_str()?;
    Some(files(Path::new(dir)))
}

fn handle_pid(handle: &RuntimeHandle) -> Option<u32> {
    handle.id.parse().ok()
}

#[cfg(unix)]
fn make_fifo(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let _ = std::fs::remove_file(path);
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(unix)]
fn signal_group(pgid: u32, signal: libc::c_int) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid)
        && pgid > 1
    {
        // SAFETY: signals the agent's own process group only.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

#[async_trait]
impl Runtime for ProcessRuntime {
    async fn create(&self, spec: &RuntimeSpec) -> Result<RuntimeHandle, PluginError> {
        use std::os::unix::process::CommandExt;
        let f = files(&spec.data_dir);
        std::fs::create_dir_all(&spec.data_dir)
            .map_err(|e| failed(format!("cannot create {}: {e}", spec.data_dir.display())))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&f.log)
            .map_err(|e| failed(format!("cannot open {}: {e}", f.log.display())))?;
        let stdin = match &spec.stdin {
            Some(file) => std::fs::File::open(file)
                .map_err(|e| failed(format!("cannot open {}: {e}", file.display())))?,
            None => {
                make_fifo(&f.fifo).map_err(|e| failed(format!("cannot make a pipe: {e}")))?;
                // Read and write, so the agent never sees end-of-file between messages.
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&f.fifo)
                    .map_err(|e| failed(format!("cannot open {}: {e}", f.fifo.display())))?
            }
        };
        let err_log = log
            .try_clone()
            .map_err(|e| failed(format!("cannot share the log: {e}")))?;
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| failed("the agent's command is empty"))?;
        let child = std::process::Command::new(program)
            .args(args)
            .envs(&spec.env)
            .current_dir(&spec.cwd)
            .stdin(stdin)
            .stdout(log)
            .stderr(err_log)
            .process_group(0)
            .spawn()
            .map_err(|e| failed(format!("cannot start `{program}`: {e}")))?;
        let pid = child.id();
        // Not waited on: it outlives this ao, and init reaps it.
        drop(child);
        std::fs::write(&f.pid, pid.to_string())
            .map_err(|e| failed(format!("cannot write {}: {e}", f.pid.display())))?;
        Ok(RuntimeHandle {
            runtime: NAME.into(),
            id: pid.to_string(),
            data: serde_json::json!({ "dir": spec.data_dir }),
        })
    }

    async fn destroy(&self, handle: &RuntimeHandle) -> Result<(), PluginError> {
        if let Some(pid) = handle_pid(handle)
            && pid_alive(pid)
        {
            signal_group(pid, libc::SIGTERM);
            let mut wait = ao_core::until::Deadline::after(Duration::from_secs(3))
                .pausing_at_most(Duration::from_millis(20));
            while pid_alive(pid) && !wait.passed() {
                wait.pause().await;
            }
            if pid_alive(pid) {
                signal_group(pid, libc::SIGKILL);
            }
        }
        if let Some(f) = handle_files(handle) {
            let _ = std::fs::remove_file(f.fifo);
            let _ = std::fs::remove_file(f.pid);
        }
        Ok(())
    }

    async fn send(&self, handle: &RuntimeHandle, text: &str) -> Result<(), PluginError> {
        let mut text = ao_core::text::sanitize_for_terminal(text);
        text.push('\n');
        write_input(handle, text).await
    }

    async fn submit(&self, handle: &RuntimeHandle) -> Result<(), PluginError> {
        write_input(handle, "\n".to_owned()).await
    }

    async fn output(&self, handle: &RuntimeHandle, lines: usize) -> Result<String, PluginError> {
        let f =
            handle_files(handle).ok_or_else(|| failed("the session's handle has no directory"))?;
        let text = std::fs::read(&f.log)
            .map_err(|e| failed(format!("cannot read {}: {e}", f.log.display())))?;
        let text = String::from_utf8_lossy(&text);
        let all: Vec<&str> = text.lines().collect();
        let mut out = all[all.len().saturating_sub(lines)..].join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        Ok(out)
    }

    async fn is_alive(&self, handle: &RuntimeHandle) -> Result<bool, PluginError> {
        Ok(handle_pid(handle).is_some_and(pid_alive))
    }

    fn attach_info(&self, handle: &RuntimeHandle) -> AttachInfo {
        let log = handle_files(handle)
            .map(|f| f.log.to_string_lossy().into_owned())
            .unwrap_or_default();
        AttachInfo {
            argv: vec!["tail".into(), "-n".into(), "50".into(), "-f".into(), log],
            note: Some(
                "this session runs without a terminal (runtime `process`); following its log, Ctrl-C to stop".into(),
            ),
        }
    }

    async fn probe_all(&self, handles: &[RuntimeHandle]) -> Result<Vec<Probe>, PluginError> {
        // No process is started: one signal-0 per session.
        Ok(handles
            .iter()
            .map(|h| {
                let pid = handle_pid(h);
                let alive = pid.is_some_and(pid_alive);
                let logged = handle_files(h).is_some_and(|f| f.log.exists());
                Probe {
                    liveness: match (alive, logged) {
                        (true, _) => Liveness::Alive,
                        (false, true) => Liveness::Exited,
                        (false, false) => Liveness::Gone,
                    },
                    foreground: if alive {
                        pid.and_then(process_name)
                    } else {
                        None
                    },
                    pid,
                    exit_code: None,
                    // The log is the agent's screen: its last write is its last output.
                    last_output_at: handle_files(h)
                        .and_then(|f| std::fs::metadata(f.log).ok())
                        .and_then(|m| m.modified().ok())
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as i64),
                    // Its input is a file or nothing, never a terminal.
                    terminal: None,
                }
            })
            .collect())
    }

    async fn find(
        &self,
        _session: &SessionId,
        data_dir: &Path,
    ) -> Result<Option<RuntimeHandle>, PluginError> {
        let f = files(data_dir);
        let pid = std::fs::read_to_string(&f.pid)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        Ok(pid.filter(|p| pid_alive(*p)).map(|pid| RuntimeHandle {
            runtime: NAME.into(),
            id: pid.to_string(),
            data: serde_json::json!({ "dir": data_dir }),
        }))
    }
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Runtime>, PluginError> {
    Ok(Arc::new(ProcessRuntime))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::available(
        Slot::Runtime,
        NAME,
        "a detached process group, output to a log file",
        None,
        Factory::Runtime(Arc::new(build)),
    )
}

/// Writes to the agent's standard input (its named pipe).
async fn write_input(handle: &RuntimeHandle, text: String) -> Result<(), PluginError> {
    let f = handle_files(handle).ok_or_else(|| failed("the session's handle has no directory"))?;
    if !handle_pid(handle).is_some_and(pid_alive) {
        return Err(failed(format!("process {} is not running", handle.id)));
    }
    let fifo = f.fifo.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .and_then(|mut p| p.write_all(text.as_bytes()))
    })
    .await
    .map_err(|e| failed(e.to_string()))?
    .map_err(|e| failed(format!("cannot write to the agent's input: {e}")))
}
