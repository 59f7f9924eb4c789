//! What wakes the watcher. Waking on a clock costs the host even when nothing happens
//! (each wake-up of a thread is tens of microseconds of a core), so on Linux the watcher
//! sleeps until the kernel says a file in `$AO_HOME` was written (inotify: every commit
//! writes `ao.db-wal`), with a look every second in case a notice was lost; elsewhere it
//! looks every 100 ms. A writer in this process can wake it at once ([`Waker`]).
//!
//! A commit writes the WAL before it publishes itself in the WAL's index (shared memory,
//! which the kernel does not report), so a look at the notice may come a moment too
//! early: each notice is followed by a few more looks, 5 to 100 ms after it.

#[cfg(unix)]
use std::io::{Read, Write};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The longest the watcher sleeps while the kernel tells it of writes.
pub const NOTIFIED_LOOK_EVERY: Duration = Duration::from_secs(1);
/// How often the watcher looks where the kernel does not tell it (no inotify).
pub const LOOK_EVERY: Duration = Duration::from_millis(100);
/// The looks after a notice of a write, each this long after the one before.
#[cfg(any(target_os = "linux", target_os = "android"))]
const AFTER_NOTICE: [Duration; 4] = [
    Duration::from_millis(5),
    Duration::from_millis(15),
    Duration::from_millis(30),
    Duration::from_millis(50),
];

/// A connected pair of sockets: a byte written to one wakes a poll on the other. Both
/// ends live as long as any waker, so a wake never writes into a closed socket.
struct Bell {
    #[cfg(unix)]
    rx: UnixStream,
    #[cfg(unix)]
    tx: UnixStream,
    stop: AtomicBool,
}

/// Makes the watcher look now; cheap to clone.
#[derive(Clone)]
pub struct Waker(Arc<Bell>);

impl Waker {
    /// Looks now (soon after, if it is reading).
    pub fn wake(&self) {
        // Full (it will wake anyway) or failed: nothing to do.
        #[cfg(unix)]
        let _ = (&self.0.tx).write(&[1]);
    }

    /// Asks the watcher to end.
    pub(crate) fn stop(&self) {
        self.0.stop.store(true, Ordering::SeqCst);
        self.wake();
    }
}

/// The watcher's side: it waits here between looks.
pub(crate) struct Wake {
    bell: Arc<Bell>,
    /// Notices of writes in `$AO_HOME`, where the kernel gives them.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    notices: Option<std::os::fd::OwnedFd>,
    /// How many of the looks after the last notice are still to come.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    follow_ups: usize,
}

impl Wake {
    /// A wait for writes in `home`, and the waker that interrupts it.
    pub(crate) fn new(home: &Path) -> std::io::Result<(Wake, Waker)> {
        #[cfg(unix)]
        let bell = {
            let (rx, tx) = UnixStream::pair()?;
            rx.set_nonblocking(true)?;
            tx.set_nonblocking(true)?;
            Arc::new(Bell {
                rx,
                tx,
                stop: AtomicBool::new(false),
            })
        };
        #[cfg(not(unix))]
        let bell = Arc::new(Bell {
            stop: AtomicBool::new(false),
        });
        let _ = home;
        let wake = Wake {
            bell: bell.clone(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            notices: notices(home),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            follow_ups: 0,
        };
        Ok((wake, Waker(bell)))
    }

    /// Waits for the next look; false once the watcher is asked to stop.
    #[cfg(not(unix))]
    pub(crate) fn wait(&mut self) -> bool {
        std::thread::sleep(LOOK_EVERY);
        !self.bell.stop.load(Ordering::SeqCst)
    }

    /// Waits until the store may have changed (or it is time to look anyway); false
    /// once the watcher is asked to stop.
    #[cfg(unix)]
    pub(crate) fn wait(&mut self) -> bool {
        use std::os::fd::AsRawFd;
        let mut fds = vec![libc::pollfd {
            fd: self.bell.rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        #[allow(unused_mut)]
        let mut every = LOOK_EVERY;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(n) = &self.notices {
            fds.push(libc::pollfd {
                fd: n.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            every = match self.follow_ups {
                0 => NOTIFIED_LOOK_EVERY,
                n => AFTER_NOTICE[AFTER_NOTICE.len() - n],
            };
            self.follow_ups -= self.follow_ups.min(1);
        }
        // SAFETY: poll over descriptors this struct owns, with the array's own length.
        unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                every.as_millis() as libc::c_int,
            );
        }
        // What woke it is read and dropped: one look answers any number of wakes.
        let mut buf = [0u8; 4096];
        while (&self.bell.rx).read(&mut buf).is_ok_and(|n| n > 0) {}
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(n) = &self.notices {
            // SAFETY: read into a buffer of the length given, from a descriptor owned here.
            while unsafe { libc::read(n.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {
                self.follow_ups = AFTER_NOTICE.len();
            }
        }
        !self.bell.stop.load(Ordering::SeqCst)
    }
}

/// An inotify descriptor told of every write, creation and rename in `home` (the store
/// and its WAL are there); `None` where the kernel refuses one (then the clock serves).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn notices(home: &Path) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(home.as_os_str().as_bytes()).ok()?;
    // SAFETY: inotify_init1 has no preconditions; the descriptor is owned at once.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just returned by inotify_init1 and is owned by nothing else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mask = libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_DELETE;
    // SAFETY: a NUL-terminated path and a live inotify descriptor.
    let watch = unsafe { libc::inotify_add_watch(fd, path.as_ptr(), mask) };
    (watch >= 0).then_some(owned)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_write_in_the_home_or_a_wake_ends_the_wait_at_once_and_a_stop_ends_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wake, waker) = Wake::new(dir.path()).unwrap();
        let started = Instant::now();
        waker.wake();
        assert!(wake.wait());
        assert!(started.elapsed() < LOOK_EVERY, "{:?}", started.elapsed());
        if cfg!(target_os = "linux") {
            // Nothing happens: it sleeps its full turn.
            let started = Instant::now();
            assert!(wake.wait());
            assert!(
                started.elapsed() >= LOOK_EVERY * 5,
                "{:?}",
                started.elapsed()
            );
            // Another process's commit is a write to a file there.
            let file = dir.path().join("ao.db-wal");
            std::fs::write(&file, "x").unwrap();
            assert!(wake.wait());
            let started = Instant::now();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                std::fs::write(&file, "y").unwrap();
            });
            assert!(wake.wait());
            assert!(
                started.elapsed() < NOTIFIED_LOOK_EVERY / 2,
                "{:?}",
                started.elapsed()
            );
        }
        waker.stop();
        assert!(!wake.wait());
    }
}
