//! Keeping the machine awake while agents work (`power.preventIdleSleep`): the host
//! holds the system's idle inhibitor while any agent is active and lets it go when none
//! is. On Linux that is `systemd-inhibit --what=idle` around a `cat` reading a pipe
//! from ao, on macOS `caffeinate -i -w <ao's pid>`: either way the inhibitor ends with
//! ao's process, even one killed outright, so a crash never keeps the machine awake.

use std::process::{Child, Command, Stdio};

/// The inhibitor, held or not.
#[derive(Default)]
pub struct Awake {
    child: Option<Child>,
    /// Why it cannot be held here, once said: not tried again.
    broken: Option<String>,
}

/// What changed, for the host's log.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Now held, for this many agents at work.
    Held(usize),
    /// Let go: no agent works.
    Released,
    /// It cannot be held, saying why (told once).
    Cannot(String),
}

/// The program and arguments that hold the inhibitor on this system, if it has one.
fn inhibitor() -> Option<Command> {
    if cfg!(target_os = "macos") {
        let mut c = Command::new("caffeinate");
        c.arg("-i").arg("-w").arg(std::process::id().to_string());
        Some(c)
    } else if cfg!(target_os = "linux") {
        let mut c = Command::new("systemd-inhibit");
        c.args([
            "--what=idle",
            "--who=ao",
            "--why=ao's agents are at work",
            "--mode=block",
            "cat",
        ]);
        Some(c)
    } else {
        None
    }
}

impl Awake {
    /// Holds the inhibitor while `working` agents are more than none, and lets it go
    /// when none is; what changed, if anything.
    pub fn hold(&mut self, working: usize) -> Option<Change> {
        // One that ended by itself (no logind, say) is told once and not tried again.
        if let Some(child) = &mut self.child
            && let Ok(Some(status)) = child.try_wait()
        {
            // Its `cat` may outlive it: the pipe's end makes that exit too, and what it
            // said is read off this thread, for a moment at most.
            drop(child.stdin.take());
            let why = child.stderr.take().map(said_within).unwrap_or_default();
            self.child = None;
            let why = format!(
                "the idle inhibitor ended by itself ({status}){}",
                match why.trim() {
                    "" => String::new(),
                    w => format!(": {w}"),
                }
            );
            self.broken = Some(why.clone());
            return Some(Change::Cannot(why));
        }
        if self.broken.is_some() {
            return None;
        }
        match (working > 0, self.child.is_some()) {
            (true, false) => {
                let Some(mut cmd) = inhibitor() else {
                    let why = "this system has no idle inhibitor ao knows".to_owned();
                    self.broken = Some(why.clone());
                    return Some(Change::Cannot(why));
                };
                let program = cmd.get_program().to_string_lossy().into_owned();
                cmd.stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                match cmd.spawn() {
                    Ok(child) => {
                        self.child = Some(child);
                        Some(Change::Held(working))
                    }
                    Err(e) => {
                        let why = format!(
                            "`{program}` cannot be run ({e}), so the machine may sleep while agents work"
                        );
                        self.broken = Some(why.clone());
                        Some(Change::Cannot(why))
                    }
                }
            }
            (false, true) => {
                self.release();
                Some(Change::Released)
            }
            _ => None,
        }
    }

    /// Lets the inhibitor go: its `cat` ends at the pipe's end and `systemd-inhibit`
    /// with it; what has not ended within a second (caffeinate) is killed.
    fn release(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// What `err` says, read on a thread of its own for 200 ms at most: a pipe another
/// process still holds never blocks the caller.
fn said_within(mut err: std::process::ChildStderr) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx.recv_timeout(std::time::Duration::from_millis(200))
        .unwrap_or_default()
}

impl Drop for Awake {
    fn drop(&mut self) {
        self.release();
    }
}
