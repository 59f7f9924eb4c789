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
            let mut why = String::new();
            if let Some(mut err) = child.stderr.take() {
                use std::io::Read;
                let _ = err.read_to_string(&mut why);
            }
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

    /// Lets the inhibitor go.
    fn release(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Its `cat` ends at the pipe's end; the kill is for caffeinate.
            drop(child.stdin.take());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Awake {
    fn drop(&mut self) {
        self.release();
    }
}
