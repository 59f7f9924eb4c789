//! What an agent's terminal says about it, read from outside: the mode its program has
//! set, how much typed input waits unread, and how much the processes on it have read.
//! ao types a task only once the mode has stopped changing, and reports it taken only
//! once the agent has read it (an agent that switches its terminal to raw mode with
//! `TCSAFLUSH`, as Python's `tty.setraw` does, discards what it had not read yet).

use std::path::Path;

/// One look at a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtyState {
    /// The terminal's mode flags (input, output, control, local), compared as a whole.
    pub mode: [u64; 4],
    /// Bytes typed but not yet read by the program (for a line-mode terminal: complete
    /// lines only).
    pub unread: usize,
}

/// Looks at the terminal device `path` (a pty's `/dev/pts/N`) without becoming its
/// controlling terminal and without reading from it. None where it cannot be opened.
#[cfg(unix)]
pub fn look(path: &Path) -> Option<TtyState> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is open for the whole block; both calls write only into the local
    // values passed to them.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return None;
        }
        let mut unread: libc::c_int = 0;
        if libc::ioctl(fd, libc::FIONREAD, &mut unread) != 0 {
            return None;
        }
        Some(TtyState {
            mode: [
                t.c_iflag as u64,
                t.c_oflag as u64,
                t.c_cflag as u64,
                t.c_lflag as u64,
            ],
            unread: usize::try_from(unread).unwrap_or(0),
        })
    }
}

#[cfg(not(unix))]
pub fn look(_path: &Path) -> Option<TtyState> {
    None
}

/// How many bytes every process in the session of `leader` (a terminal's first process,
/// which leads its session) has read so far, from the terminal or anywhere else. None
/// where the system does not tell (it does on Linux).
pub fn bytes_read(leader: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let sid = proc_stat_field(leader, 3)?;
        let mut total = 0u64;
        for pid in processes_where(3, sid)? {
            if let Some(rchar) = std::fs::read_to_string(format!("/proc/{pid}/io"))
                .ok()
                .and_then(|io| {
                    io.lines()
                        .find_map(|l| l.strip_prefix("rchar:"))
                        .and_then(|v| v.trim().parse::<u64>().ok())
                })
            {
                total += rchar;
            }
        }
        Some(total)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = leader;
        None
    }
}

/// Whether a program on the terminal led by `leader` waits for input: a process of the
/// terminal's foreground process group asleep in a terminal read or in a wait for events
/// (poll, select, epoll), rather than running, sleeping on a timer or waiting for a child.
/// Typing into such a program is safe: it takes the input as it comes. None where the
/// system does not tell (it does on Linux).
pub fn waits_for_input(leader: u32) -> Option<bool> {
    #[cfg(target_os = "linux")]
    {
        let group = proc_stat_field(leader, 5)?;
        let mut any = false;
        for pid in processes_where(2, group)? {
            let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
            if matches!(
                wchan.trim(),
                "wait_woken"
                    | "n_tty_read"
                    | "do_select"
                    | "do_sys_poll"
                    | "ep_poll"
                    | "do_epoll_wait"
            ) {
                any = true;
            } else {
                // One process of the group still busy (starting, sleeping): not yet.
                return Some(false);
            }
        }
        Some(any)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = leader;
        None
    }
}

/// Whether a program on the terminal led by `leader` is busy: a process of the terminal's
/// foreground process group running or waiting to run (a program still starting up, on
/// a loaded machine too) or in an uninterruptible wait (reading its files from disk). A
/// screen that has not changed for a moment says nothing while that lasts: typed text
/// could land before the program sets up its terminal. None where the system does not
/// tell (it does on Linux).
pub fn foreground_busy(leader: u32) -> Option<bool> {
    #[cfg(target_os = "linux")]
    {
        let group = proc_stat_field(leader, 5)?;
        Some(processes_where(2, group)?.into_iter().any(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let (_, rest) = stat.rsplit_once(')')?;
                    rest.split_whitespace().next().map(str::to_owned)
                })
                .is_some_and(|state| matches!(state.as_str(), "R" | "D"))
        }))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = leader;
        None
    }
}

/// The processes whose `/proc/PID/stat` field `n` is `value` (field 2: in that process
/// group; 3: in that session).
#[cfg(target_os = "linux")]
fn processes_where(n: usize, value: u64) -> Option<Vec<u32>> {
    Some(
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            .filter(|&pid| proc_stat_field(pid, n) == Some(value))
            .collect(),
    )
}

/// Field `n` (0-based) after the command name of `/proc/PID/stat`: 0 is the state, 2 the
/// process group, 3 the session id, 5 the terminal's foreground process group.
#[cfg(target_os = "linux")]
fn proc_stat_field(pid: u32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_reads_count_toward_its_session() {
        // This test process reads a file: its session's total grows by at least that.
        let me = std::process::id();
        let before = bytes_read(me).expect("Linux tells");
        let text = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let after = bytes_read(me).unwrap();
        assert!(after - before >= text.len() as u64, "{before} → {after}");
    }

    #[test]
    fn a_path_that_is_not_a_terminal_tells_nothing() {
        assert_eq!(look(Path::new("/dev/null")), None);
        assert_eq!(look(Path::new("/nonexistent/tty")), None);
    }
}
