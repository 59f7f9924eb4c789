//! What a runtime hands out when a pane is watched: its screen, then its output live.
//!
//! The runtime's watcher (for tmux, a read-only control-mode client) runs only while the
//! [`PaneWatch`] it returned is kept; [`crate::pane::Panes`] shares one among any number of
//! viewers.

use std::sync::Arc;
use tokio::sync::mpsc;

/// One thing a watched pane shows.
#[derive(Debug, Clone)]
pub enum PaneEvent {
    /// The pane's whole screen, to draw from scratch: first, after the pane was resized
    /// or ended, and when asked for with [`PaneWatch::redraw`].
    Screen(Arc<PaneScreen>),
    /// Bytes the pane's program wrote, exactly as it wrote them, to feed a terminal
    /// emulator after the last screen.
    Output(Arc<[u8]>),
}

/// A pane's whole screen at one moment of its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneScreen {
    /// Its width in columns.
    pub width: u16,
    /// Its height in rows.
    pub height: u16,
    /// What draws it on a terminal of that size: a reset, the scrollback the runtime
    /// keeps (up to a limit), the screen with its colours, then its modes (alternate
    /// screen, scroll region) and the cursor. Output that follows continues from it.
    pub bytes: Vec<u8>,
    /// It answers a [`PaneWatch::redraw`]: a viewer already in step with the output
    /// need not draw it. Otherwise (the first, a resize, the end) every viewer draws it.
    pub requested: bool,
}

/// A live view of one pane, from [`crate::plugin::Runtime::watch`]: a screen first, then
/// [`PaneEvent`]s in the order the pane made them; `None` once the pane ended (or the
/// watcher failed). Dropping it stops the watcher.
pub struct PaneWatch {
    events: mpsc::Receiver<PaneEvent>,
    redraw: Redraw,
}

/// Asks a pane's watcher for a fresh screen; see [`PaneWatch::redraw`].
pub type Redraw = Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for PaneWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaneWatch").finish_non_exhaustive()
    }
}

impl PaneWatch {
    /// A watch reading `events` (the runtime's watcher sends them and stops once the
    /// channel is closed), with `redraw` asking the watcher for a fresh screen.
    pub fn new(
        events: mpsc::Receiver<PaneEvent>,
        redraw: impl Fn() + Send + Sync + 'static,
    ) -> PaneWatch {
        PaneWatch {
            events,
            redraw: Arc::new(redraw),
        }
    }

    /// The next screen or output; `None` once the pane ended.
    pub async fn next(&mut self) -> Option<PaneEvent> {
        self.events.recv().await
    }

    /// Asks for a fresh [`PaneEvent::Screen`] (with `requested` set), which comes in
    /// order with the output: what follows it continues from it.
    pub fn redraw(&self) {
        (self.redraw)();
    }

    /// What [`PaneWatch::redraw`] calls, to ask for a screen while another task reads
    /// the events.
    pub fn redrawer(&self) -> Redraw {
        self.redraw.clone()
    }
}
