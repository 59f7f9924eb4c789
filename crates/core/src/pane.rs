//! One pane stream for any number of viewers: the dashboard's terminals, the TUI's
//! preview. The first viewer of a pane starts the runtime's watcher
//! ([`Runtime::watch`]); the last one to go stops it, so an unwatched fleet costs no
//! watcher at all.
//!
//! Every viewer starts at a screen and then gets every byte of output after it, in order.
//! A viewer that falls behind (the shared buffer moved on without it) is not handed a
//! gap, which would garble its terminal: it skips output until a fresh screen, which it
//! asks for.

use crate::model::RuntimeHandle;
use crate::plugin::{PaneEvent, PaneWatch, PluginError, Redraw, Runtime};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::broadcast;

pub use crate::plugin::PaneScreen;

/// How many events a viewer may fall behind before it is given a fresh screen instead.
const BACKLOG: usize = 512;

/// Why a pane cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum PaneError {
    /// The session's runtime has no live view (the `process` runtime, a library plugin).
    #[error("the {runtime} runtime cannot show a live terminal")]
    NotWatchable {
        /// The runtime's name.
        runtime: String,
    },
    /// The runtime could not start its watcher (the pane is gone, tmux failed).
    #[error(transparent)]
    Runtime(#[from] PluginError),
}

/// The panes being watched in this process, each by one shared watcher. Clones share
/// them.
#[derive(Debug, Clone, Default)]
pub struct Panes {
    /// Each pane's watcher, behind a lock of its own: starting one pane's watcher (a
    /// tmux client attaching) delays no viewer of another.
    watched: Arc<Mutex<HashMap<String, Arc<Slot>>>>,
}

/// Where one pane's watcher is kept while it runs.
type Slot = tokio::sync::Mutex<Weak<Shared>>;

/// One pane's watcher, shared by its viewers; dropped with the last, which stops it.
struct Shared {
    /// Taken when the pane ends, which ends every viewer.
    events: Arc<Mutex<Option<broadcast::Sender<PaneEvent>>>>,
    redraw: Redraw,
    pump: tokio::task::AbortHandle,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The pump owns the runtime's watch: dropping it stops the watcher.
        self.pump.abort();
    }
}

impl Shared {
    fn subscribe(&self) -> Option<broadcast::Receiver<PaneEvent>> {
        lock(&self.events)
            .as_ref()
            .map(broadcast::Sender::subscribe)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One viewer of a pane: a screen, then the output after it.
#[derive(Debug)]
pub struct PaneView {
    shared: Arc<Shared>,
    events: broadcast::Receiver<PaneEvent>,
    /// Whether this viewer has drawn a screen and every output since.
    in_step: bool,
}

impl PaneView {
    /// The next thing to draw: first a [`PaneEvent::Screen`], then output and any later
    /// screen; `None` once the pane ended.
    pub async fn next(&mut self) -> Option<PaneEvent> {
        loop {
            match self.events.recv().await {
                Ok(PaneEvent::Screen(screen)) => {
                    // A screen another viewer asked for is news only to one out of step.
                    if !self.in_step || !screen.requested {
                        self.in_step = true;
                        return Some(PaneEvent::Screen(screen));
                    }
                }
                Ok(PaneEvent::Output(bytes)) => {
                    if self.in_step {
                        return Some(PaneEvent::Output(bytes));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Output was lost to this viewer: it waits for a screen instead.
                    if self.in_step {
                        self.in_step = false;
                        (self.shared.redraw)();
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Panes {
    /// No pane watched yet.
    pub fn new() -> Panes {
        Panes::default()
    }

    /// A view of the pane `handle` names in `runtime`, sharing the watcher other viewers
    /// of it started, or starting one.
    pub async fn subscribe(
        &self,
        runtime: &Arc<dyn Runtime>,
        handle: &RuntimeHandle,
    ) -> Result<PaneView, PaneError> {
        let key = format!("{}\t{}\t{}", handle.runtime, handle.id, handle.data);
        let slot = {
            let mut watched = lock(&self.watched);
            // A pane nobody watches or is starting to watch is forgotten.
            watched.retain(|_, slot| {
                Arc::strong_count(slot) > 1 || slot.try_lock().is_ok_and(|w| w.strong_count() > 0)
            });
            watched.entry(key).or_default().clone()
        };
        let mut current = slot.lock().await;
        if let Some(shared) = current.upgrade()
            && let Some(events) = shared.subscribe()
        {
            (shared.redraw)();
            return Ok(PaneView {
                shared,
                events,
                in_step: false,
            });
        }
        let watch = runtime
            .watch(handle)
            .await?
            .ok_or_else(|| PaneError::NotWatchable {
                runtime: handle.runtime.clone(),
            })?;
        let (shared, events) = start(watch);
        *current = Arc::downgrade(&shared);
        // A watch starts with a screen: the first viewer needs no redraw.
        Ok(PaneView {
            shared,
            events,
            in_step: false,
        })
    }

    /// How many panes have a watcher running now.
    pub fn watched(&self) -> usize {
        let watched = lock(&self.watched);
        let running = |slot: &Arc<Slot>| slot.try_lock().is_ok_and(|w| w.strong_count() > 0);
        watched.values().filter(|slot| running(slot)).count()
    }
}

/// Starts pumping `watch`'s events to its viewers, the first of whom is returned,
/// subscribed before anything is sent.
fn start(mut watch: PaneWatch) -> (Arc<Shared>, broadcast::Receiver<PaneEvent>) {
    let (sender, first) = broadcast::channel(BACKLOG);
    let events = Arc::new(Mutex::new(Some(sender)));
    let redraw = watch.redrawer();
    let pump = {
        let events = events.clone();
        tokio::spawn(async move {
            while let Some(event) = watch.next().await {
                if let Some(sender) = lock(&events).as_ref() {
                    // No viewer at this moment is no error: one may be subscribing.
                    let _ = sender.send(event);
                }
            }
            // The pane ended: every viewer's stream ends after what it was sent.
            lock(&events).take();
        })
    };
    let shared = Arc::new(Shared {
        events,
        redraw,
        pump: pump.abort_handle(),
    });
    (shared, first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeRuntime, RuntimeOp};
    use crate::model::SessionId;
    use crate::plugin::RuntimeSpec;
    use std::time::Duration;

    async fn pane() -> (FakeRuntime, Arc<dyn Runtime>, RuntimeHandle) {
        let fake = FakeRuntime::default();
        let runtime: Arc<dyn Runtime> = Arc::new(fake.clone());
        let handle = runtime
            .create(&RuntimeSpec {
                session: "app-1".parse::<SessionId>().unwrap(),
                cwd: "/w".into(),
                argv: vec!["agent".into()],
                env: Default::default(),
                stdin: None,
                data_dir: "/d".into(),
            })
            .await
            .unwrap();
        fake.print("app-1", "before\r\n");
        (fake, runtime, handle)
    }

    async fn next(view: &mut PaneView) -> Option<PaneEvent> {
        tokio::time::timeout(Duration::from_secs(5), view.next())
            .await
            .expect("the view answers within 5 s")
    }

    /// What `event` draws: `S:` before a screen's bytes (`R:` when it was asked for).
    fn drawn(event: Option<PaneEvent>) -> String {
        match event {
            None => "end".into(),
            Some(PaneEvent::Screen(s)) => {
                let kind = if s.requested { "R" } else { "S" };
                format!("{kind}:{}", String::from_utf8_lossy(&s.bytes))
            }
            Some(PaneEvent::Output(b)) => String::from_utf8_lossy(&b).into_owned(),
        }
    }

    async fn until_watching(fake: &FakeRuntime, n: usize) {
        crate::until::wait_until_async(
            &format!("{n} watches of app-1"),
            Duration::from_secs(5),
            || async { (fake.watching("app-1") == n).then_some(()) },
        )
        .await
        .unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn viewers_share_one_watch_started_by_the_first_and_stopped_with_the_last() {
        let (fake, runtime, handle) = pane().await;
        let panes = Panes::new();
        let mut first = panes.subscribe(&runtime, &handle).await.unwrap();
        assert_eq!(drawn(next(&mut first).await), "S:before\r\n");
        fake.print("app-1", "one");
        assert_eq!(drawn(next(&mut first).await), "one");

        let mut second = panes.subscribe(&runtime, &handle).await.unwrap();
        assert_eq!(fake.calls(RuntimeOp::Watch), 1, "one watch for both");
        assert_eq!(fake.watching("app-1"), 1);
        // The second starts at a screen asked for it; the first, in step, skips it.
        assert_eq!(drawn(next(&mut second).await), "R:before\r\none");
        fake.print("app-1", "two");
        assert_eq!(drawn(next(&mut first).await), "two");
        assert_eq!(drawn(next(&mut second).await), "two");
        assert_eq!(panes.watched(), 1);

        drop(first);
        fake.print("app-1", "three");
        assert_eq!(drawn(next(&mut second).await), "three");
        assert_eq!(fake.watching("app-1"), 1, "kept while one viewer is left");
        drop(second);
        until_watching(&fake, 0).await;
        assert_eq!(panes.watched(), 0);

        // A viewer after the last one left starts a watcher again.
        let mut again = panes.subscribe(&runtime, &handle).await.unwrap();
        assert_eq!(fake.calls(RuntimeOp::Watch), 2);
        assert_eq!(drawn(next(&mut again).await), "S:before\r\nonetwothree");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_viewer_that_falls_behind_gets_a_fresh_screen_not_a_gap() {
        let (fake, runtime, handle) = pane().await;
        let panes = Panes::new();
        let mut slow = panes.subscribe(&runtime, &handle).await.unwrap();
        let mut quick = panes.subscribe(&runtime, &handle).await.unwrap();
        assert_eq!(drawn(next(&mut slow).await), "S:before\r\n");
        assert_eq!(drawn(next(&mut quick).await), "S:before\r\n");
        for i in 0..BACKLOG + 10 {
            fake.print("app-1", &format!("{i},"));
            // The quick one reads each as it comes; the slow one reads nothing.
            assert_eq!(drawn(next(&mut quick).await), format!("{i},"));
        }
        let screen = drawn(next(&mut slow).await);
        let all: String = (0..BACKLOG + 10).map(|i| format!("{i},")).collect();
        assert_eq!(
            screen,
            format!("R:before\r\n{all}"),
            "a whole screen, no gap"
        );
        fake.print("app-1", "after");
        assert_eq!(drawn(next(&mut slow).await), "after");
        assert_eq!(drawn(next(&mut quick).await), "after", "in step: no redraw");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn every_view_ends_when_the_pane_ends_and_an_unwatchable_runtime_says_so() {
        let (fake, runtime, handle) = pane().await;
        let panes = Panes::new();
        let mut a = panes.subscribe(&runtime, &handle).await.unwrap();
        let mut b = panes.subscribe(&runtime, &handle).await.unwrap();
        assert_eq!(drawn(next(&mut a).await), "S:before\r\n");
        fake.print("app-1", "bye");
        fake.exit("app-1", Some(0));
        assert_eq!(drawn(next(&mut a).await), "bye");
        // Its last screen is drawn by every viewer, then the views end.
        assert_eq!(drawn(next(&mut a).await), "S:before\r\nbye");
        assert_eq!(drawn(next(&mut a).await), "end");
        // Subscribed before the first screen went out, it starts at that one.
        assert_eq!(drawn(next(&mut b).await), "S:before\r\n");
        assert_eq!(drawn(next(&mut b).await), "bye");
        assert_eq!(drawn(next(&mut b).await), "S:before\r\nbye");
        assert_eq!(drawn(next(&mut b).await), "end");

        struct Blind;
        #[async_trait::async_trait]
        impl Runtime for Blind {
            async fn create(&self, _: &RuntimeSpec) -> Result<RuntimeHandle, PluginError> {
                unreachable!()
            }
            async fn destroy(&self, _: &RuntimeHandle) -> Result<(), PluginError> {
                unreachable!()
            }
            async fn send(&self, _: &RuntimeHandle, _: &str) -> Result<(), PluginError> {
                unreachable!()
            }
            async fn submit(&self, _: &RuntimeHandle) -> Result<(), PluginError> {
                unreachable!()
            }
            async fn output(&self, _: &RuntimeHandle, _: usize) -> Result<String, PluginError> {
                unreachable!()
            }
            async fn is_alive(&self, _: &RuntimeHandle) -> Result<bool, PluginError> {
                unreachable!()
            }
            fn attach_info(&self, _: &RuntimeHandle) -> crate::plugin::AttachInfo {
                unreachable!()
            }
            async fn probe_all(
                &self,
                _: &[RuntimeHandle],
            ) -> Result<Vec<crate::plugin::Probe>, PluginError> {
                unreachable!()
            }
            async fn find(
                &self,
                _: &SessionId,
                _: &std::path::Path,
            ) -> Result<Option<RuntimeHandle>, PluginError> {
                unreachable!()
            }
        }
        let blind: Arc<dyn Runtime> = Arc::new(Blind);
        let handle = RuntimeHandle {
            runtime: "process".into(),
            ..handle
        };
        let err = panes.subscribe(&blind, &handle).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the process runtime cannot show a live terminal"
        );
    }
}
