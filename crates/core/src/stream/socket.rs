//! Where the host's socket is, and the host's side of it: one thread accepts, one
//! thread per client writes its lines. The socket is `$AO_HOME/host.sock` (mode 0600,
//! in the 0700 home), or, where that path is too long for a Unix socket, `host.sock` in
//! a 0700 directory under `$XDG_RUNTIME_DIR` (else the temporary directory) named from
//! a hash of `$AO_HOME`. Clients find it by the same rule.

use super::hub::Hub;
use std::path::{Path, PathBuf};

/// The socket's file name.
pub const SOCKET_FILE: &str = "host.sock";

/// The longest socket path used as it is: `sun_path` holds 104 bytes on macOS and 108
/// on Linux, its final NUL included; a few to spare.
const MAX_SOCKET_PATH: usize = 100;

/// Where the host for `home` listens.
pub fn socket_path(home: &Path) -> PathBuf {
    // Host and clients may name the same home differently (a symlink, `..`).
    let home = std::fs::canonicalize(home).unwrap_or_else(|_| home.to_owned());
    let direct = home.join(SOCKET_FILE);
    if direct.as_os_str().len() <= MAX_SOCKET_PATH {
        return direct;
    }
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    base.join(format!(
        "ao-{:016x}",
        fnv(home.as_os_str().as_encoded_bytes())
    ))
    .join(SOCKET_FILE)
}

/// FNV-1a: stable across ao versions and platforms, unlike std's hasher.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Whether `dir` is a directory of this user's that nobody else may enter: the only
/// kind the socket is put in, or trusted in, outside `$AO_HOME`.
#[cfg(unix)]
pub(crate) fn check_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Err("it is not a directory".into());
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!("it belongs to user {}, not to {me}", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "its mode is {:04o}; it must be 0700",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Why the host does not serve its stream on a socket.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The directory for the socket is not private.
    #[error("the stream's directory {dir} is not private to this user: {why}")]
    NotPrivate {
        /// The directory.
        dir: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The socket could not be made.
    #[error("cannot listen on {path}: {source}")]
    Listen {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl ServeError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ServeError::NotPrivate { .. } => {
                "remove that directory (ao makes it again, mode 0700), or set XDG_RUNTIME_DIR to a private directory"
            }
            ServeError::Listen { .. } => {
                "a shorter AO_HOME keeps the socket in it; `ao events --follow` and `ao status --watch` read the store meanwhile"
            }
        }
    }
}

#[cfg(unix)]
pub(crate) use server::Server;

#[cfg(unix)]
mod server {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    /// At most this many clients at once; more are told so and closed.
    const MAX_CLIENTS: usize = 64;
    /// How long a client has to say hello.
    const HELLO_WITHIN: Duration = Duration::from_secs(5);
    /// A client that takes no line for this long is dropped, so it cannot hold a
    /// thread (its reconnect resumes where it was).
    const WRITE_WITHIN: Duration = Duration::from_secs(10);

    /// The host's listening socket; dropped, it stops accepting and removes its file.
    pub(crate) struct Server {
        path: PathBuf,
        /// The directory made for it outside `$AO_HOME`, removed with it.
        dir: Option<PathBuf>,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Server {
        /// Listens for `home`'s clients and serves them from `hub`.
        pub(crate) fn start(home: &Path, hub: Hub) -> Result<Server, ServeError> {
            use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
            let path = socket_path(home);
            let listen = |source| ServeError::Listen {
                path: path.clone(),
                source,
            };
            let in_home =
                std::fs::canonicalize(home).is_ok_and(|h| path.parent() == Some(h.as_path()));
            let dir = path.parent().map(Path::to_owned).filter(|_| !in_home);
            if let Some(dir) = &dir {
                match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(listen(e)),
                }
                check_private(dir).map_err(|why| ServeError::NotPrivate {
                    dir: dir.clone(),
                    why,
                })?;
            }
            // A socket a killed host left: the caller holds the host lock, so nobody
            // listens on it.
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
                let _ = std::fs::remove_file(&path);
            }
            // Bound under a name of the same length (so it fits wherever the socket's
            // does), made 0600, and only then given its name: no client ever finds it
            // with the mode the umask gave it.
            let fresh = path.with_file_name(".host.new");
            let _ = std::fs::remove_file(&fresh);
            let listener = UnixListener::bind(&fresh).map_err(listen)?;
            let named = std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o600))
                .and_then(|()| std::fs::rename(&fresh, &path));
            if let Err(e) = named {
                let _ = std::fs::remove_file(&fresh);
                return Err(listen(e));
            }
            let stop = Arc::new(AtomicBool::new(false));
            let thread = {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .name("ao-stream-accept".into())
                    .spawn(move || accept(listener, hub, stop))
                    .map_err(listen)?
            };
            Ok(Server {
                path,
                dir,
                stop,
                thread: Some(thread),
            })
        }

        /// Where it listens.
        pub(crate) fn path(&self) -> &Path {
            &self.path
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            // Wakes the accepting thread, which then sees the stop.
            let _ = UnixStream::connect(&self.path);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
            let _ = std::fs::remove_file(&self.path);
            if let Some(dir) = &self.dir {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    fn accept(listener: UnixListener, hub: Hub, stop: Arc<AtomicBool>) {
        let clients = Arc::new(AtomicUsize::new(0));
        for conn in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let stream = match conn {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("the stream's socket did not accept a client: {e}");
                    // Out of descriptors, say: not a loop at full speed.
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            if clients.load(Ordering::SeqCst) >= MAX_CLIENTS {
                let line = super::super::wire::error_line(
                    &format!("the host serves at most {MAX_CLIENTS} clients at once"),
                    Some("close another `ao events --follow` or `ao status --watch`"),
                );
                let _ = send_all(&stream, format!("{line}\n").as_bytes());
                continue;
            }
            clients.fetch_add(1, Ordering::SeqCst);
            let (hub, clients) = (hub.clone(), clients.clone());
            let spawned = std::thread::Builder::new()
                .name("ao-stream-client".into())
                .spawn(move || {
                    serve(stream, hub);
                    clients.fetch_sub(1, Ordering::SeqCst);
                });
            if let Err(e) = spawned {
                tracing::warn!("cannot serve a stream client: {e}");
            }
        }
    }

    /// One client: its hello, then every message until it goes or the hub closes.
    fn serve(stream: UnixStream, hub: Hub) {
        no_sigpipe(&stream);
        let _ = stream.set_read_timeout(Some(HELLO_WITHIN));
        let _ = stream.set_write_timeout(Some(WRITE_WITHIN));
        let mut line = String::new();
        let read = match stream.try_clone() {
            Ok(s) => BufReader::new(s).take(64 * 1024).read_line(&mut line),
            Err(e) => Err(e),
        };
        if read.is_err() || line.is_empty() {
            return;
        }
        let hello = match super::super::wire::read_hello(&line) {
            Ok(h) => h,
            Err(error) => {
                let _ = send_all(&stream, format!("{error}\n").as_bytes());
                return;
            }
        };
        let mut sub = hub.subscribe(hello.resume.as_ref());
        while let Some(m) = sub.recv_blocking() {
            let mut text = m.to_json();
            text.push('\n');
            if send_all(&stream, text.as_bytes()).is_err() {
                return;
            }
        }
    }

    /// On platforms without `MSG_NOSIGNAL`, the socket itself is told not to raise
    /// SIGPIPE (ao keeps SIGPIPE's default action, which would end the host).
    fn no_sigpipe(_stream: &UnixStream) {
        #[cfg(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "netbsd"
        ))]
        {
            use std::os::fd::AsRawFd;
            let one: libc::c_int = 1;
            // SAFETY: setsockopt on a descriptor this function borrows, with a c_int.
            unsafe {
                libc::setsockopt(
                    _stream.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_NOSIGPIPE,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
    }

    /// Writes all of `buf`; a client that went away is an error, never a SIGPIPE.
    pub(super) fn send_all(stream: &UnixStream, mut buf: &[u8]) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        const FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        const FLAGS: libc::c_int = 0;
        while !buf.is_empty() {
            // SAFETY: send from a live buffer of the length given, on a borrowed socket.
            let n =
                unsafe { libc::send(stream.as_raw_fd(), buf.as_ptr().cast(), buf.len(), FLAGS) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            buf = &buf[n as usize..];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_home_keeps_its_socket_and_a_long_one_gets_a_hashed_directory() {
        let short = Path::new("/nonexistent/ao");
        assert_eq!(socket_path(short), short.join(SOCKET_FILE));
        let long = PathBuf::from(format!("/nonexistent/{}", "x".repeat(120)));
        let path = socket_path(&long);
        let dir = path.parent().unwrap();
        assert!(
            dir.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("ao-"),
            "{path:?}"
        );
        assert_eq!(path.file_name().unwrap(), SOCKET_FILE);
        // The same home, the same place; another home, another.
        assert_eq!(socket_path(&long), path);
        assert_ne!(socket_path(&long.join("y")), path);
    }

    /// A client looking while the host starts never finds the socket open to others:
    /// it appears with its mode already 0600, whatever the umask gave it.
    #[cfg(unix)]
    #[test]
    fn the_socket_is_never_seen_with_the_umasks_mode() {
        use crate::stream::{Hub, State};
        use std::os::unix::fs::PermissionsExt;
        use std::sync::atomic::{AtomicBool, Ordering};
        let home = tempfile::tempdir().unwrap();
        let path = socket_path(home.path());
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let looker = {
            let (path, done) = (path.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                while !done.load(Ordering::SeqCst) {
                    if let Ok(m) = std::fs::symlink_metadata(&path) {
                        seen.insert(m.permissions().mode() & 0o777);
                    }
                }
                seen
            })
        };
        for _ in 0..300 {
            drop(server::Server::start(home.path(), Hub::new(State::default())).unwrap());
        }
        done.store(true, Ordering::SeqCst);
        let seen = looker.join().unwrap();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [0o600]);
    }
}
