//! Running other programs (git, tmux) the one way ao does it: an argv, never a shell
//! string, with a time-out, and output captured for the error message.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// What a finished program left behind.
#[derive(Debug, Clone)]
pub struct Output {
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Whether it exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Standard error, or standard output when that is empty, trimmed: what to show a user.
    pub fn message(&self) -> String {
        let err = self.stderr.trim();
        if err.is_empty() {
            self.stdout.trim().to_owned()
        } else {
            err.to_owned()
        }
    }
}

/// Why a program could not be run to the end.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// It could not start (not installed, not executable).
    #[error("could not run `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// It did not finish in time and was killed.
    #[error("`{program}` did not finish within {seconds} s")]
    Timeout {
        /// The program.
        program: String,
        /// The time-out.
        seconds: u64,
    },
}

/// A program to run: argv, and optionally a directory, environment and standard input.
#[derive(Debug)]
pub struct Cmd<'a> {
    command: Command,
    program: String,
    stdin: Option<&'a [u8]>,
    timeout: Duration,
}

impl<'a> Cmd<'a> {
    /// `program` with no arguments yet, a 60 s time-out and standard input closed.
    pub fn new(program: impl AsRef<OsStr>) -> Cmd<'a> {
        let program_ref = program.as_ref();
        let mut command = Command::new(program_ref);
        command.kill_on_drop(true);
        die_with_parent(&mut command);
        Cmd {
            program: program_ref.to_string_lossy().into_owned(),
            command,
            stdin: None,
            timeout: Duration::from_secs(60),
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd<'a> {
        self.command.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Cmd<'a>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Runs it in `dir`.
    pub fn current_dir(mut self, dir: &Path) -> Cmd<'a> {
        self.command.current_dir(dir);
        self
    }

    /// Sets one environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd<'a> {
        self.command.env(key, value);
        self
    }

    /// Feeds these bytes to its standard input.
    pub fn stdin(mut self, bytes: &'a [u8]) -> Cmd<'a> {
        self.stdin = Some(bytes);
        self
    }

    /// Kills it after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Cmd<'a> {
        self.timeout = timeout;
        self
    }

    /// Starts it to run alongside, its standard input, output and error piped (the time-out
    /// does not apply); it is killed when the returned child is dropped.
    pub fn spawn_piped(mut self) -> Result<tokio::process::Child, ExecError> {
        self.command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.command.spawn().map_err(|source| ExecError::Spawn {
            program: self.program,
            source,
        })
    }

    /// Runs it to the end and captures its output.
    pub async fn run(mut self) -> Result<Output, ExecError> {
        let program = self.program.clone();
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().map_err(|source| ExecError::Spawn {
            program: program.clone(),
            source,
        })?;
        let stdin = self.stdin;
        let mut pipe = child.stdin.take();
        let work = async move {
            if let (Some(bytes), Some(pipe)) = (stdin, pipe.as_mut()) {
                // A program that exits without reading all of it is judged by its exit code.
                let _ = pipe.write_all(bytes).await;
            }
            drop(pipe);
            child.wait_with_output().await
        };
        let out = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ExecError::Timeout {
                program: program.clone(),
                seconds: self.timeout.as_secs(),
            })?
            .map_err(|source| ExecError::Spawn { program, source })?;
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Makes the program end when ao does, even when ao is killed with SIGKILL: a `git
/// worktree add` or `tmux new-session` still in flight after ao died would otherwise
/// finish on its own, after the next command's recovery looked, and leave what it made
/// behind with nobody knowing. (Linux sends the signal when the thread that started the
/// program ends; ao starts programs from its one runtime thread.)
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        let parent = libc::getpid();
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // ao may have died before the call above took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// Whether a process with this id exists (a zombie counts as gone).
#[cfg(unix)]
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid_t) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid_t <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid_t, 0) };
    let exists = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !is_zombie(pid)
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: u32) -> bool {
    // The state is the field after the parenthesised command name.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s == "Z"))
        })
        .unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
fn is_zombie(_pid: u32) -> bool {
    false
}

/// The short name of a running process, where the system tells it cheaply (Linux).
pub fn process_name(pid: u32) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()
            .map(|s| s.trim_end().to_owned())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Where `program` is found: itself when it names a path, else the first match in
/// `path` (a PATH value).
pub fn find_program(program: &str, path: Option<&str>) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(program);
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_owned());
    }
    std::env::split_paths(path?)
        .map(|d| d.join(program))
        .find(|c| c.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_argv_feeds_stdin_and_times_out() {
        let out = Cmd::new("cat").stdin(b"a 'b' $c").run().await.unwrap();
        assert!(out.success());
        assert_eq!(out.stdout, "a 'b' $c");
        let err = Cmd::new("sleep")
            .arg("5")
            .timeout(Duration::from_millis(50))
            .run()
            .await
            .unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }), "{err}");
        let err = Cmd::new("no-such-program-ao").run().await.unwrap_err();
        assert!(err.to_string().contains("no-such-program-ao"), "{err}");
    }

    #[test]
    fn this_process_is_alive_and_a_bogus_one_is_not() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(u32::MAX));
    }
}
