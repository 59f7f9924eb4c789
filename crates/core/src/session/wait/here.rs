//! What this machine's own process table tells of a session's agent, so a wait can
//! answer without asking the runtime: a tmux call costs milliseconds, a look at `/proc`
//! microseconds. Every answer here is only ever a sure "yes"; anything else (another
//! system, a probe without a pid or terminal, a runtime whose processes run elsewhere)
//! sends the caller to the runtime, as before.

use crate::plugin::{Liveness, Probe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Whether the agent `probe` saw alive still runs, here, on the terminal the probe
/// named: its process exists, has not exited (a zombie has), and that terminal is its
/// own. False whenever this cannot be told.
pub(crate) fn still_running(probe: &Probe) -> bool {
    let (Liveness::Alive, Some(pid), Some(terminal)) =
        (probe.liveness, probe.pid, probe.terminal.as_deref())
    else {
        return false;
    };
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // Fields after the command name, which is in parentheses and may hold anything:
        // the state, the parent, the process group, the session, the terminal.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().take(5).collect();
        let running = matches!(fields.first(), Some(s) if !matches!(*s, "Z" | "X" | "x"));
        let Some(tty) = fields.get(4).and_then(|t| t.parse::<u64>().ok()) else {
            return false;
        };
        let Ok(rdev) = std::fs::metadata(terminal).map(|m| m.rdev()) else {
            return false;
        };
        // The kernel's encoding of a device number in `stat`: minor bits 0-7 and 20-31,
        // major bits 8-19.
        let (major, minor) = ((tty >> 8) & 0xfff, (tty & 0xff) | ((tty >> 12) & 0xfff00));
        running && major == u64::from(libc::major(rdev)) && minor == u64::from(libc::minor(rdev))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pid, terminal);
        false
    }
}

/// How long [`settled`] looks before leaving it to the screen.
const SETTLED_WITHIN: Duration = Duration::from_millis(300);

/// The agent's terminal settled, as this machine alone can tell (Linux): the agent
/// `started` found still runs on it, the terminal's mode is the same over two looks a
/// moment apart, and at the second every process in its foreground is asleep waiting for
/// input, so typed text is read as it comes. Returns `started` then. None when this
/// cannot be told here, or does not happen within a moment: the caller then watches the
/// screen too. No runtime call is made.
pub(crate) async fn settled(started: &Probe) -> Option<Probe> {
    let (pid, path) = (started.pid?, started.terminal.as_deref()?);
    let end = Instant::now() + SETTLED_WITHIN;
    let mut last = None;
    loop {
        if !still_running(started) {
            return None;
        }
        let mode = crate::tty::look(path)?.mode;
        if last == Some(mode) && crate::tty::waits_for_input(pid) == Some(true) {
            return Some(started.clone());
        }
        last = Some(mode);
        if Instant::now() >= end {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The program process `pid` runs (Linux: `/proc/PID/exe`), to see it exec another
/// (ao's launcher handing over to the agent). None where that cannot be told, or once
/// the process is gone.
pub(crate) fn program(pid: u32) -> Option<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_link(format!("/proc/{pid}/exe")).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    fn probe(pid: u32, terminal: &std::path::Path) -> Probe {
        Probe {
            liveness: Liveness::Alive,
            pid: Some(pid),
            terminal: Some(terminal.to_path_buf()),
            ..Probe::unknown()
        }
    }

    /// A new pseudo-terminal: its controlling side (kept open) and its terminal's path.
    fn pty() -> (std::fs::File, PathBuf) {
        // SAFETY: plain calls on a descriptor this function opens and hands over.
        unsafe {
            let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            assert!(fd >= 0);
            assert_eq!(libc::grantpt(fd), 0);
            assert_eq!(libc::unlockpt(fd), 0);
            let name = std::ffi::CStr::from_ptr(libc::ptsname(fd));
            let path = PathBuf::from(name.to_str().unwrap());
            (std::fs::File::from_raw_fd(fd), path)
        }
    }

    #[test]
    fn only_a_live_process_on_that_terminal_counts_as_running() {
        let (_master, tty) = pty();
        let terminal = std::fs::File::options()
            .read(true)
            .write(true)
            .open(&tty)
            .unwrap();
        // `setsid --ctty` makes the terminal on its standard input its own, then execs.
        let mut child = std::process::Command::new("setsid")
            .args(["--ctty", "sleep", "30"])
            .stdin(terminal)
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !still_running(&probe(pid, &tty)) {
            assert!(Instant::now() < deadline, "never seen on {}", tty.display());
            std::thread::sleep(Duration::from_millis(5));
        }
        // Another terminal, no terminal, not alive by the probe, a pid that is not there.
        let (_other_master, other) = pty();
        assert!(!still_running(&probe(pid, &other)));
        assert!(!still_running(&Probe {
            terminal: None,
            ..probe(pid, &tty)
        }));
        assert!(!still_running(&Probe {
            liveness: Liveness::Exited,
            ..probe(pid, &tty)
        }));
        assert!(!still_running(&probe(u32::MAX, &tty)));
        // Ended but not reaped yet (a zombie), then reaped: no longer running.
        child.kill().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while still_running(&probe(pid, &tty)) {
            assert!(Instant::now() < deadline, "still running after a kill");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.wait().unwrap();
        assert!(!still_running(&probe(pid, &tty)));
    }

    #[test]
    fn a_process_program_is_its_executable() {
        let me = program(std::process::id()).unwrap();
        assert_eq!(
            me.canonicalize().ok(),
            std::env::current_exe().unwrap().canonicalize().ok()
        );
        assert_eq!(program(u32::MAX), None);
    }
}
