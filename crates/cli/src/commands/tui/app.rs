//! The screen's state and what each message does to it. Only the screen's thread holds
//! it; the feed, the preview, the key reader and the acts send it messages.

use super::Msg;
use super::act::{self, Act};
use super::feed::{Feed, Source};
use super::preview::{Follow, Screen};
use super::rows::{self, Group, Row};
use ao_core::config::AttentionZones;
use ao_core::model::SessionId;
use ao_core::session::Manager;
use ao_core::stream::State;
use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::Sender;

/// What the loop does after a message.
pub enum Then {
    /// Go on.
    Go,
    /// End, with this exit code.
    Quit(ExitCode),
    /// Give the terminal to session `.0` until it detaches.
    Attach(String),
}

/// What the bottom line is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Keys act on the list.
    List,
    /// Typing the search.
    Search,
    /// Typing a line for `kind`.
    Prompt(Ask, String),
    /// Asking whether to do `.0` to session `.1`.
    Confirm(Confirm, SessionId),
    /// The keys are shown.
    Help,
}

/// What a typed line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// A line for the selected session's agent.
    Send,
    /// What to spawn in the project.
    Spawn,
}

/// An act asked for with a key, done once confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// `m`.
    Merge,
    /// `k`.
    Kill,
}

/// A line of news at the bottom: what an act did, or why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Its words.
    pub text: String,
    /// Whether it says what went wrong.
    pub error: bool,
}

/// Where a link was drawn, to be made a link once the frame is on screen.
#[derive(Debug, Clone)]
pub struct Link {
    /// Its column.
    pub x: u16,
    /// Its row.
    pub y: u16,
    /// The address.
    pub url: String,
}

/// The screen's state.
pub struct App {
    m: Arc<Manager>,
    zones: AttentionZones,
    /// The project the list is narrowed to (`-p`).
    pub project: Option<String>,
    follow: Follow,
    to: Sender<Msg>,
    /// Whether colours may be used (`NO_COLOR` unset).
    pub color: bool,
    /// The fleet, once read.
    pub state: Option<State>,
    /// Where it comes from.
    pub source: Source,
    /// Why it could not be read last time.
    pub failed: Option<String>,
    /// The list, as drawn.
    pub groups: Vec<Group>,
    /// The selected session.
    pub selected: Option<SessionId>,
    /// The search typed with `/`.
    pub search: String,
    /// What the keys do now.
    pub mode: Mode,
    /// The last news.
    pub note: Option<Note>,
    /// The selected session's terminal.
    pub preview: Option<Screen>,
    /// How many acts are running.
    pub busy: usize,
    /// The list's first line on screen, kept across frames so the list scrolls.
    pub scroll: usize,
    /// Where each row was drawn (its screen row), for the mouse.
    pub hits: Vec<(u16, SessionId)>,
    /// When the ages on screen were computed (milliseconds since the epoch).
    pub drawn_at: i64,
    /// The pull request address to show as a link (`o`).
    pub url: Option<String>,
    /// Whether the address is yet to be made a link and copied (once, not every frame).
    pub url_fresh: bool,
    /// Where the frame drew it.
    pub link: Option<Link>,
    /// Whether the preview shows the pull request's failing checks and open threads
    /// (`p`) instead of the terminal.
    pub show_pr: bool,
    dirty: bool,
    quit: bool,
}

impl App {
    /// Nothing read yet.
    pub fn new(
        m: Arc<Manager>,
        zones: AttentionZones,
        project: Option<String>,
        follow: Follow,
        to: Sender<Msg>,
        color: bool,
    ) -> App {
        App {
            m,
            zones,
            project,
            follow,
            to,
            color,
            state: None,
            source: Source::Starting,
            failed: None,
            groups: Vec::new(),
            selected: None,
            search: String::new(),
            mode: Mode::List,
            note: None,
            preview: None,
            busy: 0,
            scroll: 0,
            hits: Vec::new(),
            drawn_at: 0,
            url: None,
            url_fresh: false,
            link: None,
            show_pr: false,
            dirty: true,
            quit: false,
        }
    }

    /// The manager the acts use.
    pub fn manager(&self) -> &Manager {
        &self.m
    }

    /// Whether something changed since the last frame (and forgets it: the caller
    /// draws).
    pub fn dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Whether the loop should end.
    pub fn quitting(&self) -> bool {
        self.quit
    }

    /// The link the last frame drew, to be made a link on screen.
    pub fn take_link(&mut self) -> Option<Link> {
        self.link.take()
    }

    /// Shows what an act (or an attach) ended with.
    pub fn said(&mut self, outcome: act::Outcome) {
        self.note = Some(match outcome {
            Ok(text) => Note { text, error: false },
            Err(text) => Note { text, error: true },
        });
        self.dirty = true;
    }

    /// The selected session's row.
    pub fn selected_row(&self) -> Option<&Row> {
        let id = self.selected.as_ref()?;
        self.groups
            .iter()
            .flat_map(|g| &g.rows)
            .find(|r| &r.id == id)
    }

    /// Applies one message.
    pub fn handle(&mut self, msg: Msg) -> Then {
        match msg {
            Msg::Input(Event::Key(k)) if k.kind != KeyEventKind::Release => return self.key(k),
            Msg::Input(Event::Mouse(m)) => self.mouse(m),
            Msg::Input(Event::Resize(..)) => self.dirty = true,
            Msg::Input(_) => {}
            Msg::Feed(Feed::State(state, source)) => {
                self.state = Some(*state);
                self.source = source;
                self.failed = None;
                self.regroup();
            }
            Msg::Feed(Feed::Changes(changes)) => {
                if let Some(state) = &mut self.state {
                    for c in &changes {
                        state.apply(c);
                    }
                }
                self.regroup();
            }
            Msg::Feed(Feed::Failed(why)) => {
                self.failed = Some(why);
                self.dirty = true;
            }
            Msg::Pane(id, pane) => {
                if let Some(p) = self.preview.as_mut().filter(|p| p.id == id) {
                    p.apply(pane);
                    self.dirty = true;
                }
            }
            Msg::Done(outcome) => {
                self.busy = self.busy.saturating_sub(1);
                self.said(outcome);
            }
            Msg::Signal(code) => {
                self.quit = true;
                return Then::Quit(ExitCode::from(code));
            }
            Msg::Tick => {
                self.regroup();
                // An age on screen moves to its next figure.
                let now = now_ms();
                let drawn = self.drawn_at;
                if self
                    .groups
                    .iter()
                    .flat_map(|g| &g.rows)
                    .any(|r| rows::age(r.created_at, drawn) != rows::age(r.created_at, now))
                {
                    self.dirty = true;
                }
            }
        }
        Then::Go
    }

    /// The selected session's pull request as last read, if it has one.
    pub fn selected_pr(&self) -> Option<&ao_core::store::PrSnapshot> {
        let id = self.selected.as_ref()?;
        self.state.as_ref()?.pull_requests.get(id)
    }

    /// Recomputes the list from the state, keeping the selection where it can.
    fn regroup(&mut self) {
        let Some(state) = &self.state else { return };
        let groups = rows::groups(
            state,
            self.zones,
            self.project.as_deref(),
            &self.search,
            now_ms(),
        );
        if groups != self.groups {
            self.groups = groups;
            self.dirty = true;
        }
        let order = rows::order(&self.groups);
        if self.selected.as_ref().is_none_or(|s| !order.contains(&s)) {
            self.selected = order.first().map(|id| (*id).clone());
            self.dirty = true;
        }
        self.follow_selected();
    }

    fn follow_selected(&mut self) {
        let id = self.selected.as_ref().map(|s| s.to_string());
        if self.preview.as_ref().map(|p| &p.id) != id.as_ref() {
            self.preview = id.clone().map(Screen::new);
            self.url = None;
            self.dirty = true;
        }
        self.follow.show(id.as_deref());
    }

    /// Moves the selection `by` rows (negative: up), within the list.
    fn step(&mut self, by: isize) {
        let order = rows::order(&self.groups);
        if order.is_empty() {
            return;
        }
        let at = self
            .selected
            .as_ref()
            .and_then(|s| order.iter().position(|id| *id == s))
            .unwrap_or(0);
        let to = at.saturating_add_signed(by).min(order.len() - 1);
        self.selected = Some(order[to].clone());
        self.dirty = true;
        self.follow_selected();
    }

    fn mouse(&mut self, m: MouseEvent) {
        match m.kind {
            MouseEventKind::ScrollUp => self.step(-1),
            MouseEventKind::ScrollDown => self.step(1),
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some((_, id)) = self.hits.iter().find(|(y, _)| *y == m.row) {
                    self.selected = Some(id.clone());
                    self.dirty = true;
                    self.follow_selected();
                }
            }
            _ => {}
        }
    }

    fn key(&mut self, k: KeyEvent) -> Then {
        self.dirty = true;
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.quit = true;
            return Then::Quit(ExitCode::SUCCESS);
        }
        match std::mem::replace(&mut self.mode, Mode::List) {
            Mode::Help => {}
            Mode::Search => self.search_key(k),
            Mode::Prompt(ask, text) => self.prompt_key(k, ask, text),
            Mode::Confirm(what, id) => {
                if k.code == KeyCode::Char('y') {
                    let act = match what {
                        Confirm::Merge => Act::Merge,
                        Confirm::Kill => Act::Kill,
                    };
                    self.start(id.to_string(), act);
                } else {
                    self.note(format!("{id}: nothing was done"), false);
                }
            }
            Mode::List => return self.list_key(k),
        }
        Then::Go
    }

    fn list_key(&mut self, k: KeyEvent) -> Then {
        match k.code {
            KeyCode::Char('q') => {
                self.quit = true;
                return Then::Quit(ExitCode::SUCCESS);
            }
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Up => self.step(-1),
            KeyCode::Down => self.step(1),
            KeyCode::PageUp => self.step(-10),
            KeyCode::PageDown => self.step(10),
            KeyCode::Home => self.step(isize::MIN / 2),
            KeyCode::End => self.step(isize::MAX / 2),
            KeyCode::Char('/') => self.mode = Mode::Search,
            KeyCode::Esc if !self.search.is_empty() => {
                self.search.clear();
                self.regroup();
            }
            KeyCode::Char('c') => self.mode = Mode::Prompt(Ask::Spawn, String::new()),
            KeyCode::Char('p') => self.show_pr = !self.show_pr,
            _ => return self.session_key(k),
        }
        Then::Go
    }

    /// A key that acts on the selected session.
    fn session_key(&mut self, k: KeyEvent) -> Then {
        let acts = matches!(
            k.code,
            KeyCode::Enter | KeyCode::Char('s' | 'y' | 'n' | '0'..='9' | 'm' | 'k' | 'r' | 'o')
        );
        let Some(id) = self.selected.clone().filter(|_| acts) else {
            if acts {
                self.note("no session is selected".into(), true);
            }
            return Then::Go;
        };
        let asks = self.selected_row().is_some_and(|r| r.asks);
        match k.code {
            KeyCode::Enter => return Then::Attach(id.to_string()),
            KeyCode::Char('s') => self.mode = Mode::Prompt(Ask::Send, String::new()),
            KeyCode::Char(c @ ('y' | 'n' | '0'..='9')) if asks => {
                self.start(id.to_string(), Act::Answer(c.to_string()));
            }
            KeyCode::Char('y' | 'n' | '0'..='9') => self.note(
                format!("{id} asks nothing now; `s` types a line to its agent"),
                true,
            ),
            KeyCode::Char('m') => self.mode = Mode::Confirm(Confirm::Merge, id),
            KeyCode::Char('k') => self.mode = Mode::Confirm(Confirm::Kill, id),
            KeyCode::Char('r') => self.start(id.to_string(), Act::Restore),
            KeyCode::Char('o') => match self.selected_row().and_then(|r| r.pr.clone()) {
                Some((_, url, _)) => {
                    self.note.take();
                    self.url = Some(url);
                    self.url_fresh = true;
                }
                None => self.note(format!("{id} has no pull request yet"), true),
            },
            _ => {}
        }
        Then::Go
    }

    fn search_key(&mut self, k: KeyEvent) {
        match k.code {
            KeyCode::Enter => {}
            KeyCode::Esc => self.search.clear(),
            KeyCode::Backspace => {
                self.search.pop();
                self.mode = Mode::Search;
            }
            KeyCode::Char(c) => {
                self.search.push(c);
                self.mode = Mode::Search;
            }
            _ => self.mode = Mode::Search,
        }
        self.regroup();
    }

    fn prompt_key(&mut self, k: KeyEvent, ask: Ask, mut text: String) {
        match k.code {
            KeyCode::Esc => {}
            KeyCode::Enter if text.trim().is_empty() => {
                self.note("nothing was typed; nothing was done".into(), true);
            }
            KeyCode::Enter => match ask {
                Ask::Send => match self.selected.clone() {
                    Some(id) => self.start(id.to_string(), Act::Send(text)),
                    None => self.note("no session is selected".into(), true),
                },
                Ask::Spawn => match self.spawn_project() {
                    Some(p) => {
                        self.busy += 1;
                        self.note(format!("spawning in {p}: {text}"), false);
                        act::spawn(p, text, self.to.clone());
                    }
                    None => self.note(
                        "which project? several are configured and none is selected".into(),
                        true,
                    ),
                },
            },
            KeyCode::Backspace => {
                text.pop();
                self.mode = Mode::Prompt(ask, text);
            }
            KeyCode::Char(c) => {
                text.push(c);
                self.mode = Mode::Prompt(ask, text);
            }
            _ => self.mode = Mode::Prompt(ask, text),
        }
    }

    /// The project `c` spawns in: `-p`'s, the selected session's, or the only one.
    pub fn spawn_project(&self) -> Option<String> {
        let projects = &self.m.config().config.projects;
        self.project
            .clone()
            .or_else(|| self.selected_row().map(|r| r.project.clone()))
            .or_else(|| (projects.len() == 1).then(|| projects.keys().next().cloned())?)
    }

    fn start(&mut self, id: String, act: Act) {
        self.busy += 1;
        let doing = match &act {
            Act::Send(_) => "sending",
            Act::Answer(_) => "answering",
            Act::Merge => "merging",
            Act::Kill => "killing",
            Act::Restore => "restoring",
        };
        self.note(format!("{id}: {doing}…"), false);
        act::start(self.m.clone(), id, act, self.to.clone());
    }

    fn note(&mut self, text: String, error: bool) {
        self.note = Some(Note { text, error });
        self.url = None;
        self.dirty = true;
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
