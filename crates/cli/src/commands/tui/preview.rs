//! The preview: the selected session's terminal, live. Its bytes come from the pane
//! stream ([`ao_core::pane::Panes`], one watcher per pane, stopped when the preview moves
//! on); a runtime that cannot be watched is read as text every second instead. A
//! `vt100` parser turns the bytes into a grid of coloured cells, drawn by [`Screen`].

use super::Msg;
use ao_core::pane::Panes;
use ao_core::plugin::PaneEvent;
use ao_core::session::Manager;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;
use tokio::sync::watch;

/// How often a pane that cannot be watched is read again.
const READ_EVERY: Duration = Duration::from_secs(1);

/// What the preview's thread hands the screen, for session `id`.
#[derive(Debug)]
pub enum Pane {
    /// Draw from scratch: a terminal of this size, fed these bytes.
    Screen {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
        /// What draws it.
        bytes: Vec<u8>,
    },
    /// More output after the last screen.
    Output(Arc<[u8]>),
    /// The terminal cannot be shown, and why.
    Unavailable(String),
}

/// Tells the preview's thread which session to show.
pub struct Follow {
    target: watch::Sender<Option<String>>,
}

impl Follow {
    /// Starts the preview's thread.
    pub fn start(m: Arc<Manager>, to: Sender<Msg>) -> std::io::Result<Follow> {
        let (target, rx) = watch::channel(None);
        std::thread::Builder::new()
            .name("ao-tui-preview".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(follow(m, rx, to));
            })?;
        Ok(Follow { target })
    }

    /// Shows session `id` (none: nothing).
    pub fn show(&self, id: Option<&str>) {
        self.target.send_if_modified(|t| {
            let changed = t.as_deref() != id;
            if changed {
                *t = id.map(str::to_owned);
            }
            changed
        });
    }
}

async fn follow(m: Arc<Manager>, mut target: watch::Receiver<Option<String>>, to: Sender<Msg>) {
    let panes = Panes::new();
    loop {
        let id = target.borrow_and_update().clone();
        if let Some(id) = id {
            let send = |p: Pane| to.send(Msg::Pane(id.clone(), p)).is_ok();
            tokio::select! {
                gone = show(&m, &panes, &id, &send) => if gone { return },
                r = target.changed() => if r.is_err() { return },
            }
        } else if target.changed().await.is_err() {
            return;
        }
    }
}

/// Shows `id` until its pane ends (then waits for another target); true once the
/// screen is gone.
async fn show(m: &Arc<Manager>, panes: &Panes, id: &str, send: &impl Fn(Pane) -> bool) -> bool {
    match m.watch_pane(panes, id).await {
        Ok(mut view) => {
            while let Some(event) = view.next().await {
                let ok = match event {
                    PaneEvent::Screen(s) => send(Pane::Screen {
                        width: s.width,
                        height: s.height,
                        bytes: s.bytes.clone(),
                    }),
                    PaneEvent::Output(bytes) => send(Pane::Output(bytes)),
                };
                if !ok {
                    return true;
                }
            }
            // The pane ended: its last screen stays.
            std::future::pending().await
        }
        // A runtime without a live view: its text, read again every second.
        Err(_) => {
            let mut last = None;
            loop {
                let text = match m.output(id, 200).await {
                    Ok(t) => t,
                    Err(e) => {
                        if !send(Pane::Unavailable(e.to_string())) {
                            return true;
                        }
                        return std::future::pending().await;
                    }
                };
                if last.as_ref() != Some(&text) {
                    let mut bytes = b"\x1b[H\x1b[2J".to_vec();
                    bytes.extend(text.trim_end_matches('\n').replace('\n', "\r\n").bytes());
                    let height = text.lines().count().max(1) as u16;
                    if !send(Pane::Screen {
                        width: 250,
                        height,
                        bytes,
                    }) {
                        return true;
                    }
                    last = Some(text);
                }
                tokio::time::sleep(READ_EVERY).await;
            }
        }
    }
}

/// A session's terminal as the preview draws it.
pub struct Screen {
    /// The session it shows.
    pub id: String,
    parser: vt100::Parser,
    /// Why there is nothing to show.
    pub unavailable: Option<String>,
}

impl Screen {
    /// An empty terminal for `id`, until its first screen comes.
    pub fn new(id: String) -> Screen {
        Screen {
            id,
            parser: vt100::Parser::new(size(24), size(80), 0),
            unavailable: None,
        }
    }

    /// Applies what the preview's thread sent.
    pub fn apply(&mut self, pane: Pane) {
        match pane {
            Pane::Screen {
                width,
                height,
                bytes,
            } => {
                self.parser = vt100::Parser::new(size(height), size(width), 0);
                self.parser.process(&bytes);
                self.unavailable = None;
            }
            Pane::Output(bytes) => self.parser.process(&bytes),
            Pane::Unavailable(why) => self.unavailable = Some(why),
        }
    }

    /// The widget drawing it, colours kept unless `color` is false.
    pub fn widget(&self, color: bool) -> Grid<'_> {
        Grid {
            screen: self.parser.screen(),
            color,
        }
    }
}

/// The grid of a terminal, its last rows up to the cursor shown when it is taller than
/// the space it gets.
pub struct Grid<'a> {
    screen: &'a vt100::Screen,
    color: bool,
}

impl Widget for Grid<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (rows, cols) = self.screen.size();
        let (rows, cols) = (rows.get(), cols.get());
        let (cursor_row, _) = self.screen.cursor_position();
        // The rows that have text, and the cursor's: what is worth the space.
        let used = (0..rows)
            .rev()
            .find(|&r| {
                r <= cursor_row
                    || (0..cols).any(|c| {
                        self.screen
                            .cell(r, c)
                            .is_some_and(|cell| cell.has_contents())
                    })
            })
            .map_or(0, |r| r + 1)
            .max(cursor_row + 1);
        let first = used.saturating_sub(area.height);
        for y in 0..area.height.min(rows.saturating_sub(first)) {
            for x in 0..area.width.min(cols) {
                let Some(cell) = self.screen.cell(first + y, x) else {
                    continue;
                };
                if cell.is_wide_continuation() {
                    continue;
                }
                let Some(out) = buf.cell_mut((area.x + x, area.y + y)) else {
                    continue;
                };
                let text = cell.contents();
                out.set_symbol(if text.is_empty() { " " } else { text });
                out.set_style(style(cell, self.color));
            }
        }
    }
}

/// A terminal's size along one side: at least 1.
fn size(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN)
}

fn style(cell: &vt100::Cell, color: bool) -> Style {
    let mut style = Style::default();
    if color {
        if let Some(c) = colour(cell.fgcolor()) {
            style = style.fg(c);
        }
        if let Some(c) = colour(cell.bgcolor()) {
            style = style.bg(c);
        }
    }
    let mut m = Modifier::empty();
    if cell.bold() {
        m |= Modifier::BOLD;
    }
    if cell.italic() {
        m |= Modifier::ITALIC;
    }
    if cell.underline() {
        m |= Modifier::UNDERLINED;
    }
    if cell.inverse() {
        m |= Modifier::REVERSED;
    }
    style.add_modifier(m)
}

fn colour(c: vt100::Color) -> Option<Color> {
    match c {
        vt100::Color::Default => None,
        vt100::Color::Idx(i) => Some(Color::Indexed(i)),
        vt100::Color::Rgb(r, g, b) => Some(Color::Rgb(r, g, b)),
    }
}
