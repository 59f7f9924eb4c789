//! The `tmux` runtime: one tmux session per ao session, named after it.
//!
//! ao drives tmux through its command line, one argv per call and never a shell string
//! (see docs/ARCHITECTURE.md for why not a tmux binding crate). No value is read as tmux
//! syntax: each is an argument of its own (one ending in `;` escaped, a directory's `#`
//! doubled, as tmux expands it as a format), a session is targeted by its exact name
//! (`=name`), the command strings `if-shell` runs quote every value in tmux's single
//! quotes, and a session name that is not one ao makes or adopts is refused.
//!
//! The agent is the pane's own process: `new-session` execs it directly, with
//! `remain-on-exit` set in the same call so its last output can still be read after it
//! exits. Text reaches the agent through a named paste buffer with bracketed paste, then
//! Enter. Every probe of all sessions is one `list-panes -a` call.

use ao_core::exec::{Cmd, ExecError, Output};
use ao_core::model::{RuntimeHandle, SessionId};
use ao_core::plugin::{
    AttachInfo, Liveness, PaneWatch, PluginError, Probe, Runtime, RuntimeSpec, Slot,
};
use ao_core::registry::{Factory, PluginEntry, SectionRef};
use async_trait::async_trait;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const NAME: &str = "tmux";

/// Launch commands longer than this (in bytes) start through
/// `ao __launch` reading a file, because tmux carries a command in one bounded message.
const MAX_INLINE_COMMAND: usize = 8 * 1024;

/// What `send` prints when tmux found the pane dead and typed nothing.
const PANE_DEAD: &str = "ao:pane-dead";

/// The tmux user option that marks a session as made by ao, holding its data dir.
const MARK: &str = "@ao_data_dir";
/// The seconds the placeholder a new session starts on sleeps: never ending, and
/// recognisable in a pane's start command.
const PLACEHOLDER: &str = "2147483647";

/// How long one probe may take before every session it covers is "unknown".
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The runtime's own settings, under `runtimes: { tmux: ... }`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TmuxOptions {
    /// The tmux server: a socket name (`tmux -L`), or a path to a socket (`tmux -S`).
    /// Unset: the user's default server, so `tmux ls` and `tmux attach` work by hand.
    #[serde(default)]
    pub socket: Option<String>,
}

/// Which tmux server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Socket {
    Default,
    Name(String),
    Path(PathBuf),
}

impl Socket {
    fn from_setting(s: Option<&str>) -> Socket {
        match s {
            None | Some("") => Socket::Default,
            Some(s) if s.contains('/') => Socket::Path(PathBuf::from(s)),
            Some(s) => Socket::Name(s.to_owned()),
        }
    }

    fn args(&self) -> Vec<String> {
        match self {
            Socket::Default => Vec::new(),
            Socket::Name(n) => vec!["-L".into(), arg(n)],
            Socket::Path(p) => vec!["-S".into(), arg(&p.to_string_lossy())],
        }
    }

    /// The socket's path, as tmux computes it.
    fn path(&self) -> PathBuf {
        let name = match self {
            Socket::Path(p) => return p.clone(),
            Socket::Name(n) => n.as_str(),
            Socket::Default => "default",
        };
        let dir = std::env::var_os("TMUX_TMPDIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        #[cfg(unix)]
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        #[cfg(not(unix))]
        let uid = 0;
        dir.join(format!("tmux-{uid}")).join(name)
    }

    /// Whether this process runs in a pane of the server on this socket: `$TMUX` names
    /// the socket of the pane's server.
    fn is_this_terminals(&self) -> bool {
        let Some(tmux) = std::env::var_os("TMUX") else {
            return false;
        };
        let tmux = tmux.to_string_lossy();
        let theirs = PathBuf::from(tmux.split(',').next().unwrap_or_default());
        let ours = self.path();
        theirs == ours
            || matches!(
                (theirs.canonicalize(), ours.canonicalize()),
                (Ok(a), Ok(b)) if a == b
            )
    }

    /// When no server answers, one may be starting: a tmux client that starts the server
    /// holds `<socket>.lock` until the server listens, and the command it carries (a
    /// `new-session` of an `ao spawn` killed meanwhile) still lands after that. Waits
    /// (at most 5 s) while that lock is held; true when it was, so the caller looks again.
    async fn wait_while_starting(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let lock = PathBuf::from(format!("{}.lock", self.path().display()));
            let Ok(file) = std::fs::File::open(&lock) else {
                return false;
            };
            let mut wait = ao_core::until::Deadline::after(Duration::from_secs(5))
                .pausing_at_most(Duration::from_millis(10));
            let mut waited = false;
            loop {
                // SAFETY: flock on a file this function owns.
                let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
                if rc == 0 {
                    // SAFETY: as above.
                    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
                    return waited;
                }
                if wait.passed() {
                    return waited;
                }
                waited = true;
                wait.pause().await;
            }
        }
        #[cfg(not(unix))]
        false
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Socket::Default => serde_json::Value::Null,
            Socket::Name(n) => serde_json::json!({ "socket": n }),
            Socket::Path(p) => serde_json::json!({ "socket": p }),
        }
    }

    fn from_handle(handle: &RuntimeHandle) -> Socket {
        Socket::from_setting(handle.data.get("socket").and_then(|s| s.as_str()))
    }
}

/// The tmux runtime.
#[derive(Debug, Clone)]
pub struct TmuxRuntime {
    socket: Socket,
}

/// What one tmux call found, or why it could not say.
enum Listed {
    /// The server answered.
    Panes(Vec<PaneRow>),
    /// No server runs on that socket: nothing exists.
    NoServer,
}

struct PaneRow {
    session: String,
    /// The session's `@ao_data_dir` mark: empty for a tmux session ao did not make.
    mark: String,
    dead: bool,
    exit_code: Option<i32>,
    pid: Option<u32>,
    /// When the window last had output, in seconds since 1970.
    activity_at: Option<i64>,
    /// The pane's terminal device.
    tty: String,
    /// Whether the pane still runs the placeholder `create` starts it with.
    placeholder: bool,
    command: String,
}

impl PaneRow {
    /// Whether this pane is the session `name` that ao made with `mark`: marked so, or
    /// (its creating client killed between `new-session` and the mark, so tmux dropped
    /// the rest of the command) unmarked and still on ao's placeholder.
    fn is(&self, name: &str, mark: &str) -> bool {
        self.session == name && (self.mark == mark || (self.mark.is_empty() && self.placeholder))
    }
}

fn failed(message: impl Into<String>) -> PluginError {
    PluginError::failed(NAME, message)
}

fn exec_error(e: ExecError) -> PluginError {
    match e {
        ExecError::Timeout { seconds, .. } => PluginError::Timeout {
            plugin: NAME.into(),
            millis: seconds * 1000,
        },
        e => failed(e.to_string()),
    }
}

/// Whether tmux said there is no server (or no socket) to talk to.
fn no_server(out: &Output) -> bool {
    let m = out.stderr.to_ascii_lowercase();
    m.contains("no server running") || m.contains("error connecting to")
}

/// Whether tmux said the target does not exist.
fn no_such_session(out: &Output) -> bool {
    let m = out.stderr.to_ascii_lowercase();
    no_server(out) || m.contains("can't find") || m.contains("session not found")
}

/// The tmux session `handle` names, when it is a name ao makes or adopts.
fn session_name(handle: &RuntimeHandle) -> Result<&str, PluginError> {
    match ao_core::text::tmux_name_problem(&handle.id) {
        None => Ok(&handle.id),
        Some(why) => Err(failed(format!(
            "refusing the tmux session name {:?}: it {why}",
            handle.id
        ))),
    }
}

/// `=name:` targets the session called exactly `name` (not one it prefixes).
fn target(handle: &RuntimeHandle) -> Result<String, PluginError> {
    Ok(format!("={}:", session_name(handle)?))
}

/// `value` as one argument of a tmux command line: tmux ends a command at an argument
/// ending in `;` and reads a final `\;` as a plain `;`, so such an argument is escaped.
fn arg(value: &str) -> String {
    match value.strip_suffix(';') {
        Some(rest) => format!("{rest}\\;"),
        None => value.to_owned(),
    }
}

/// `value` as an argument tmux expands as a format (`new-session -s`, a `-c` directory):
/// there `#` starts one (`#(...)` runs a command), and `##` is a plain `#`.
fn literal(value: &str) -> String {
    arg(&value.replace('#', "##"))
}

/// `value` as one word of a command string tmux parses (`if-shell`'s commands): inside
/// single quotes tmux reads nothing as syntax, and a `'` is written `'\''`.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

impl TmuxRuntime {
    /// A runtime on the given server (`None`: the user's default one).
    pub fn new(socket: Option<&str>) -> TmuxRuntime {
        TmuxRuntime {
            socket: Socket::from_setting(socket),
        }
    }

    fn tmux<'a>(socket: &Socket) -> Cmd<'a> {
        let cmd = Cmd::new("tmux").args(socket.args());
        match socket {
            // Named no socket, tmux inside a pane talks to that pane's server ($TMUX),
            // which may be the user's own: ao's is the default server wherever ao runs.
            // An empty $TMUX is tmux's "not inside tmux".
            Socket::Default => cmd.env("TMUX", ""),
            _ => cmd,
        }
    }

    async fn call(socket: &Socket, args: &[&str]) -> Result<Output, PluginError> {
        Self::tmux(socket)
            .args(args)
            .timeout(Duration::from_secs(30))
            .run()
            .await
            .map_err(exec_error)
    }

    async fn list(socket: &Socket) -> Result<Listed, PluginError> {
        Self::list_in(socket, None).await
    }

    /// The panes of every session, or of the one session `only` (one probe of one
    /// session need not read them all).
    async fn list_in(socket: &Socket, only: Option<&str>) -> Result<Listed, PluginError> {
        let target = only.map(|name| arg(&format!("={name}")));
        let scope: Vec<&str> = match &target {
            Some(t) => vec!["-s", "-t", t],
            None => vec!["-a"],
        };
        let out = Self::tmux(socket)
            .arg("list-panes")
            .args(scope)
            // The foreground process is named only for one session: tmux finds it by a
            // read of each pane's process, which for 1,000 panes more than doubles the
            // call (22 -> 55 ms), and no probe of them all needs it.
            .args([
                "-F",
                if only.is_some() {
                    "#{session_name}\t#{@ao_data_dir}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_pid}\t#{window_activity}\t#{pane_tty}\t#{pane_start_command}\t#{pane_current_command}"
                } else {
                    "#{session_name}\t#{@ao_data_dir}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_pid}\t#{window_activity}\t#{pane_tty}\t#{pane_start_command}"
                },
            ])
            .timeout(PROBE_TIMEOUT)
            .run()
            .await
            .map_err(exec_error)?;
        if !out.success() {
            if no_server(&out) {
                return Ok(Listed::NoServer);
            }
            // A server between its last session ending and its exit (or still making its
            // first) has no panes to list, and says so this way; a session asked about
            // by name that is not there is no pane either.
            if out.stderr.contains("no current target") || (only.is_some() && no_such_session(&out))
            {
                return Ok(Listed::Panes(Vec::new()));
            }
            return Err(failed(format!("list-panes failed: {}", out.message())));
        }
        Ok(Listed::Panes(
            out.stdout
                .lines()
                .filter_map(|line| {
                    let mut f = line.splitn(9, '\t');
                    Some(PaneRow {
                        session: f.next()?.to_owned(),
                        mark: f.next()?.to_owned(),
                        dead: f.next()? == "1",
                        exit_code: f.next()?.parse().ok(),
                        pid: f.next()?.parse().ok(),
                        activity_at: f.next()?.parse().ok(),
                        tty: f.next()?.to_owned(),
                        placeholder: f.next()?.contains(PLACEHOLDER),
                        command: f.next().unwrap_or("").to_owned(),
                    })
                })
                .collect(),
        ))
    }

    /// The argv tmux runs: the agent itself when it needs no environment of its own,
    /// else `ao __launch FILE`, which reads the argv and environment from a private file
    /// and execs the agent. Environment values never go on a command line: tmux's own
    /// argv (`respawn-pane -e KEY=VALUE`) would show them in `ps` to every local user,
    /// for the server's whole life when that call started it. Long commands and a
    /// standard input file take the file too, since tmux can neither carry nor redirect
    /// those.
    fn pane_argv(spec: &RuntimeSpec) -> Result<Vec<String>, PluginError> {
        let size: usize = spec.argv.iter().map(|a| a.len() + 1).sum();
        if spec.env.is_empty() && size <= MAX_INLINE_COMMAND && spec.stdin.is_none() {
            if spec.argv.len() == 1 {
                // tmux hands a single argument to a shell; `env` makes it an exec.
                return Ok(vec!["env".into(), "--".into(), spec.argv[0].clone()]);
            }
            return Ok(spec.argv.clone());
        }
        let file = crate::launch::write_launch_file(spec).map_err(|e| failed(e.to_string()))?;
        let exe = std::env::current_exe()
            .map_err(|e| failed(format!("cannot find the ao executable to launch with: {e}")))?;
        Ok(vec![
            exe.to_string_lossy().into_owned(),
            crate::launch::LAUNCH_SUBCOMMAND.into(),
            file.to_string_lossy().into_owned(),
        ])
    }
}

#[async_trait]
impl Runtime for TmuxRuntime {
    async fn create(&self, spec: &RuntimeSpec) -> Result<RuntimeHandle, PluginError> {
        let name = spec.session.to_string();
        let handle = RuntimeHandle {
            runtime: NAME.into(),
            id: name.clone(),
            data: self.socket.to_json(),
        };
        let cwd = literal(&spec.cwd.to_string_lossy());
        let mark = arg(&spec.data_dir.to_string_lossy());
        let t = target(&handle)?;
        let session = literal(session_name(&handle)?);
        // One call: the session starts on a placeholder that cannot exit, gets
        // `remain-on-exit`, and only then is the pane respawned with the agent, so even
        // an agent that exits at once leaves its pane (and its last output) to read.
        let mut args: Vec<String> = [
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "220",
            "-y",
            "50",
            "-c",
            &cwd,
            "--",
            "sleep",
            PLACEHOLDER,
            ";",
            "set-option",
            "-w",
            "-t",
            &t,
            "remain-on-exit",
            "on",
            ";",
            // Marks the tmux session as this ao session's (its data dir names ao's home
            // and the session), so an undo never ends a same-named session of another.
            "set-option",
            "-t",
            &t,
            MARK,
            &mark,
            ";",
            "respawn-pane",
            "-k",
            "-t",
            &t,
            "-c",
            &cwd,
        ]
        .map(String::from)
        .to_vec();
        let argv = Self::pane_argv(spec)?;
        args.push("--".into());
        args.extend(argv.iter().map(|a| arg(a)));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = Self::call(&self.socket, &refs).await?;
        if !out.success() {
            if out.stderr.contains("duplicate session") {
                return Err(failed(format!(
                    "a tmux session named `{name}` already exists on this server"
                )));
            }
            // The session may exist even though a chained command failed.
            let _ = self.destroy(&handle).await;
            return Err(failed(format!(
                "tmux could not start the session: {}",
                out.message()
            )));
        }
        Ok(handle)
    }

    async fn destroy(&self, handle: &RuntimeHandle) -> Result<(), PluginError> {
        let socket = Socket::from_handle(handle);
        let t = arg(&format!("={}", session_name(handle)?));
        let out = Self::call(&socket, &["kill-session", "-t", &t]).await?;
        if out.success() || no_such_session(&out) {
            Ok(())
        } else {
            Err(failed(format!(
                "could not end tmux session `{}`: {}",
                handle.id,
                out.message()
            )))
        }
    }

    async fn send(&self, handle: &RuntimeHandle, text: &str) -> Result<(), PluginError> {
        let socket = Socket::from_handle(handle);
        let text = ao_core::text::sanitize_for_terminal(text);
        let buffer = format!("ao-{}-{}", session_name(handle)?, std::process::id());
        let t = target(handle)?;
        // One call: load the buffer from stdin, then, decided by tmux itself at that
        // moment, paste it bracketed (deleting the buffer) and press Enter as a key of
        // its own, or, when the agent's pane is dead, only drop the buffer: tmux 3.3a
        // crashes, taking every session with it, on `paste-buffer -p` into a dead pane,
        // and an earlier check could be stale by the time the paste arrives.
        let (b, q) = (quoted(&buffer), quoted(&t));
        let live = format!("paste-buffer -d -p -b {b} -t {q} ; send-keys -t {q} Enter");
        let dead = format!("delete-buffer -b {b} ; display-message -p {PANE_DEAD}");
        let (buffer, t) = (arg(&buffer), arg(&t));
        let out = Self::tmux(&socket)
            .args([
                "load-buffer",
                "-b",
                &buffer,
                "-",
                ";",
                "if-shell",
                "-F",
                "-t",
                &t,
                "#{pane_dead}",
                &dead,
                &live,
            ])
            .stdin(text.as_bytes())
            .timeout(Duration::from_secs(30))
            .run()
            .await
            .map_err(exec_error)?;
        if out.success() && out.stdout.contains(PANE_DEAD) {
            return Err(failed(format!(
                "the agent in `{}` has exited; nothing was typed",
                handle.id
            )));
        }
        if out.success() {
            return Ok(());
        }
        let _ = Self::call(&socket, &["delete-buffer", "-b", &buffer]).await;
        if no_such_session(&out) {
            return Err(failed(format!(
                "tmux session `{}` no longer exists",
                handle.id
            )));
        }
        Err(failed(format!(
            "could not type into `{}`: {}",
            handle.id,
            out.message()
        )))
    }

    async fn submit(&self, handle: &RuntimeHandle) -> Result<(), PluginError> {
        let socket = Socket::from_handle(handle);
        let t = target(handle)?;
        let enter = format!("send-keys -t {} Enter", quoted(&t));
        let t = arg(&t);
        let out = Self::call(
            &socket,
            &["if-shell", "-F", "-t", &t, "#{pane_dead}", "", &enter],
        )
        .await?;
        if out.success() {
            Ok(())
        } else {
            Err(failed(format!(
                "could not press Enter in `{}`: {}",
                handle.id,
                out.message()
            )))
        }
    }

    async fn press(&self, handle: &RuntimeHandle, key: &str) -> Result<(), PluginError> {
        let socket = Socket::from_handle(handle);
        let t = target(handle)?;
        // Keys only, and only into a live pane (as `send`); `key` is a tmux key name
        // chosen by ao, never user text.
        let press = format!("send-keys -t {} {}", quoted(&t), quoted(key));
        let t = arg(&t);
        let out = Self::call(
            &socket,
            &["if-shell", "-F", "-t", &t, "#{pane_dead}", "", &press],
        )
        .await?;
        if out.success() {
            Ok(())
        } else {
            Err(failed(format!(
                "could not press {key} in `{}`: {}",
                handle.id,
                out.message()
            )))
        }
    }

    async fn input(&self, handle: &RuntimeHandle, text: &str) -> Result<(), PluginError> {
        let socket = Socket::from_handle(handle);
        let t = arg(&target(handle)?);
        // `-l`: each character as itself, never a key name; a few KiB per call, as tmux
        // carries a command in one bounded message.
        for chunk in chunks(text, 4096) {
            let out =
                Self::call(&socket, &["send-keys", "-l", "-t", &t, "--", &arg(chunk)]).await?;
            if !out.success() {
                return Err(failed(format!(
                    "could not type into `{}`: {}",
                    handle.id,
                    out.message()
                )));
            }
        }
        Ok(())
    }

    async fn output(&self, handle: &RuntimeHandle, lines: usize) -> Result<String, PluginError> {
        let socket = Socket::from_handle(handle);
        let start = format!("-{}", lines.max(1));
        let out = Self::call(
            &socket,
            &[
                "capture-pane",
                "-p",
                "-J",
                "-t",
                &arg(&target(handle)?),
                "-S",
                &start,
            ],
        )
        .await?;
        if !out.success() {
            return Err(failed(format!(
                "could not read `{}`: {}",
                handle.id,
                out.message()
            )));
        }
        Ok(last_lines(&out.stdout, lines))
    }

    async fn is_alive(&self, handle: &RuntimeHandle) -> Result<bool, PluginError> {
        let probe = self.probe_all(std::slice::from_ref(handle)).await?;
        Ok(probe.first().map(|p| p.liveness) == Some(Liveness::Alive))
    }

    fn attach_info(&self, handle: &RuntimeHandle) -> AttachInfo {
        let socket = Socket::from_handle(handle);
        let mut argv = vec!["tmux".to_owned()];
        argv.extend(socket.args());
        let inside_tmux = std::env::var_os("TMUX").is_some_and(|t| !t.is_empty());
        let inside_same_server = inside_tmux && socket.is_this_terminals();
        argv.extend(if inside_same_server {
            ["switch-client", "-t"].map(String::from)
        } else {
            ["attach-session", "-t"].map(String::from)
        });
        // No session name ao makes or adopts ends in `;`; an older store's might.
        argv.push(arg(&format!("={}", handle.id)));
        let note = (inside_tmux && !inside_same_server).then(|| {
            format!(
                "{} is on ao's tmux server, not this terminal's: attaching a client of it here (detach with C-b C-b d: your own tmux takes the first C-b)",
                handle.id
            )
        });
        AttachInfo { argv, note }
    }

    async fn probe_all(&self, handles: &[RuntimeHandle]) -> Result<Vec<Probe>, PluginError> {
        // One call per tmux server; nearly always exactly one.
        let mut by_socket: HashMap<Vec<String>, Option<Vec<PaneRow>>> = HashMap::new();
        for h in handles {
            let socket = Socket::from_handle(h);
            if by_socket.contains_key(&socket.args()) {
                continue;
            }
            let only = (handles.len() == 1).then_some(h.id.as_str());
            if only.is_some() && session_name(h).is_err() {
                continue;
            }
            let listed = match Self::list_in(&socket, only).await {
                Ok(Listed::Panes(rows)) => Some(rows),
                Ok(Listed::NoServer) => Some(Vec::new()),
                Err(e) => {
                    tracing::warn!("tmux probe failed: {e}");
                    None
                }
            };
            by_socket.insert(socket.args(), listed);
        }
        Ok(handles
            .iter()
            .map(|h| {
                // A name ao would not make is asked about nowhere.
                let Some(Some(rows)) = by_socket
                    .get(&Socket::from_handle(h).args())
                    .filter(|_| session_name(h).is_ok())
                else {
                    return Probe::unknown();
                };
                match rows.iter().find(|r| r.session == h.id) {
                    None => Probe {
                        liveness: Liveness::Gone,
                        ..Probe::unknown()
                    },
                    Some(row) => Probe {
                        liveness: if row.dead {
                            Liveness::Exited
                        } else {
                            Liveness::Alive
                        },
                        foreground: (!row.dead && !row.command.is_empty())
                            .then(|| row.command.clone()),
                        pid: row.pid,
                        exit_code: if row.dead { row.exit_code } else { None },
                        last_output_at: row.activity_at.map(|s| s * 1000),
                        terminal: (!row.dead && !row.tty.is_empty())
                            .then(|| PathBuf::from(&row.tty)),
                    },
                }
            })
            .collect())
    }

    async fn find(
        &self,
        session: &SessionId,
        data_dir: &Path,
    ) -> Result<Option<RuntimeHandle>, PluginError> {
        let name = session.to_string();
        let mark = data_dir.to_string_lossy();
        let mut listed = Self::list(&self.socket).await?;
        if matches!(listed, Listed::NoServer) && self.socket.wait_while_starting().await {
            listed = Self::list(&self.socket).await?;
        }
        match listed {
            Listed::NoServer => Ok(None),
            Listed::Panes(rows) => {
                Ok(rows
                    .iter()
                    .any(|r| r.is(&name, &mark))
                    .then(|| RuntimeHandle {
                        runtime: NAME.into(),
                        id: name.clone(),
                        data: self.socket.to_json(),
                    }))
            }
        }
    }

    async fn marked(&self, sessions_dir: &Path) -> Result<Vec<String>, PluginError> {
        let Listed::Panes(rows) = Self::list(&self.socket).await? else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = rows
            .into_iter()
            .filter(|r| Path::new(&r.mark).parent() == Some(sessions_dir))
            .map(|r| r.session)
            .collect();
        names.dedup();
        Ok(names)
    }

    async fn watch(&self, handle: &RuntimeHandle) -> Result<Option<PaneWatch>, PluginError> {
        let socket = Socket::from_handle(handle);
        let t = arg(&target(handle)?);
        super::tmux_watch::watch(Self::tmux(&socket), &t, &handle.id)
            .await
            .map(Some)
    }

    async fn name_taken(&self, session: &SessionId, _data_dir: &Path) -> Result<bool, PluginError> {
        let name = session.to_string();
        // Asked of that one name: the server lists one session's panes, not every one.
        match Self::list_in(&self.socket, Some(&name)).await? {
            Listed::NoServer => Ok(false),
            Listed::Panes(rows) => Ok(rows.iter().any(|r| r.session == name)),
        }
    }
}

/// `text` in pieces of at most `size` bytes, split between characters.
fn chunks(text: &str, size: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len().min(size);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, after) = rest.split_at(end.max(rest.chars().next().map_or(0, char::len_utf8)));
        rest = after;
        Some(piece)
    })
}

/// The last `n` lines of captured output, without tmux's "Pane is dead" notice, the
/// blank rows below the last text, or runs of blank rows inside it.
fn last_lines(text: &str, n: usize) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines() {
        let blank = line.trim().is_empty();
        if blank && lines.last().is_some_and(|l| l.trim().is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.starts_with("Pane is dead ("))
    {
        lines.pop();
    }
    let start = lines.len().saturating_sub(n);
    let mut out = lines[start..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn validate(section: &SectionRef<'_>) -> Vec<ao_core::config::Diagnostic> {
    section.deserialize::<TmuxOptions>(&[]).1
}

fn build(section: &SectionRef<'_>) -> Result<Arc<dyn Runtime>, PluginError> {
    let (options, _) = section.deserialize::<TmuxOptions>(&[]);
    let options = options.unwrap_or_default();
    Ok(Arc::new(TmuxRuntime::new(options.socket.as_deref())))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::available(
        Slot::Runtime,
        NAME,
        "one tmux session per ao session (default)",
        Some(validate),
        Factory::Runtime(Arc::new(build)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_are_names_or_paths() {
        assert_eq!(Socket::from_setting(None).args(), Vec::<String>::new());
        assert_eq!(Socket::from_setting(Some("ao")).args(), ["-L", "ao"]);
        assert_eq!(
            Socket::from_setting(Some("/tmp/s")).args(),
            ["-S", "/tmp/s"]
        );
        let h = RuntimeHandle {
            runtime: NAME.into(),
            id: "a-1".into(),
            data: Socket::Name("x".into()).to_json(),
        };
        assert_eq!(Socket::from_handle(&h), Socket::Name("x".into()));
    }

    #[test]
    fn values_are_never_tmux_syntax() {
        assert_eq!(arg("a;"), "a\\;");
        assert_eq!(arg("a\\;"), "a\\\\;");
        assert_eq!(arg("a;b"), "a;b");
        assert_eq!(literal("/w/#(id);"), "/w/##(id)\\;");
        assert_eq!(
            quoted("ev\";run-shell 'x';#"),
            "'ev\";run-shell '\\''x'\\'';#'"
        );
        let hostile = RuntimeHandle {
            runtime: NAME.into(),
            id: "ev\";run-shell \"touch P\";#".into(),
            data: serde_json::Value::Null,
        };
        assert!(target(&hostile).is_err());
        let ends_in_semicolon = RuntimeHandle {
            id: "x;".into(),
            ..hostile
        };
        let attach = TmuxRuntime::new(None).attach_info(&ends_in_semicolon).argv;
        assert_eq!(attach.last().map(String::as_str), Some("=x\\;"));
    }

    #[test]
    fn input_goes_in_pieces_split_between_characters() {
        let pieces: Vec<&str> = chunks("abécd", 3).collect();
        assert_eq!(pieces, ["ab", "éc", "d"]);
        assert_eq!(chunks("", 3).count(), 0);
    }

    #[test]
    fn last_lines_drops_the_blank_screen_below() {
        assert_eq!(last_lines("a\nb\nc\n\n\n   \n", 2), "b\nc\n");
        assert_eq!(last_lines("\n\n", 5), "");
        assert_eq!(
            last_lines("no\n\n\n\nPane is dead (status 3, now)\n", 40),
            "no\n"
        );
        assert_eq!(last_lines("a\n\n\n\nb\n", 40), "a\n\nb\n");
    }
}
