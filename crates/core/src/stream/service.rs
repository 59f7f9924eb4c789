//! The host's stream service: the watcher on a thread of its own, the hub it publishes
//! into, and (on unix) the socket that serves the hub. Started beside the host's loop
//! and stopped by dropping it; it shares nothing with the loop but the store file, so a
//! slow pass never holds a push back.

use super::hub::Hub;
use super::ring::KEEP_CHANGES;
use super::wake::{Wake, Waker};
use super::watch::Watcher;
use crate::store::{DB_FILE, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tokio::sync::watch;

/// How many changes the host keeps for resuming, instead of [`KEEP_CHANGES`]: for tests,
/// which cannot wait for ten thousand.
pub const KEEP_ENV: &str = "AO_STREAM_KEEP";

/// The hub of the service this process runs now, if any: the host starts a new one for
/// each config it runs on, so an in-process subscriber that outlives one (the dashboard)
/// follows them here.
fn running_hub() -> &'static watch::Sender<Option<Hub>> {
    static RUNNING: OnceLock<watch::Sender<Option<Hub>>> = OnceLock::new();
    RUNNING.get_or_init(|| watch::channel(None).0)
}

/// Why the stream did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or read.
    #[error("the stream cannot read the store: {0}")]
    Store(#[from] StoreError),
    /// No thread (or no wake-up) for the watcher.
    #[error("the stream cannot start its watcher: {0}")]
    Thread(std::io::Error),
}

/// The running stream; dropped, everything it started stops and its socket goes.
pub struct Service {
    hub: Hub,
    waker: Waker,
    watcher: Option<std::thread::JoinHandle<()>>,
    #[cfg(unix)]
    server: Option<super::socket::Server>,
}

impl Service {
    /// Starts watching the store of `home` and serving what changes. A socket that
    /// cannot be made is logged, and the stream runs in-process only.
    pub fn start(home: &Path) -> Result<Service, StartError> {
        let store = Store::open_file(&home.join(DB_FILE))?;
        let (watcher, state) = Watcher::new(store)?;
        let keep = std::env::var(KEEP_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(KEEP_CHANGES);
        let hub = Hub::keeping(state, keep);
        let (wake, waker) = Wake::new(home).map_err(StartError::Thread)?;
        let thread = {
            let hub = hub.clone();
            std::thread::Builder::new()
                .name("ao-stream-watch".into())
                .spawn(move || watch(watcher, hub, wake))
                .map_err(StartError::Thread)?
        };
        #[cfg(unix)]
        let server = match super::socket::Server::start(home, hub.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("{e}; {}", e.hint());
                None
            }
        };
        running_hub().send_replace(Some(hub.clone()));
        Ok(Service {
            hub,
            waker,
            watcher: Some(thread),
            #[cfg(unix)]
            server,
        })
    }

    /// The stream, for an in-process subscriber (the dashboard).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The hub of the service this process runs, as it changes: `None` between a
    /// service's end and the next one's start.
    pub fn running() -> watch::Receiver<Option<Hub>> {
        running_hub().subscribe()
    }

    /// A handle that makes the watcher look now, for a writer in this process that
    /// wants its change pushed without waiting for the watcher's next turn.
    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// Where the socket listens, when it does.
    pub fn socket(&self) -> Option<PathBuf> {
        #[cfg(unix)]
        {
            self.server.as_ref().map(|s| s.path().to_owned())
        }
        #[cfg(not(unix))]
        {
            None
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.waker.stop();
        if let Some(t) = self.watcher.take() {
            let _ = t.join();
        }
        self.hub.close();
        running_hub().send_if_modified(|h| {
            let mine = h.as_ref().is_some_and(|h| h.epoch() == self.hub.epoch());
            if mine {
                *h = None;
            }
            mine
        });
        #[cfg(unix)]
        drop(self.server.take());
    }
}

/// The watcher's loop: a look whenever something may have changed, until stopped.
fn watch(mut watcher: Watcher, hub: Hub, mut wake: Wake) {
    let mut said: Option<String> = None;
    while wake.wait() {
        match hub.publish_from(|shown| watcher.check(shown)) {
            Ok(_) => said = None,
            // Said once, not ten times a second; tried again at the next turn.
            Err(e) => {
                let text = e.to_string();
                if said.as_deref() != Some(&text) {
                    tracing::warn!("the stream could not read the store: {text}");
                    said = Some(text);
                }
            }
        }
    }
}
