//! Where the fleet comes from: the host's stream while a host runs (every change pushed
//! as it happens), else the store, looked at every second (each look nearly free while
//! nothing changed), until a host starts.

use super::Msg;
use ao_core::stream::{Change, Client, ClientError, Line, Local, Received, State};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::Duration;

/// How often the store is looked at while no host streams.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Where the list's state comes from now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Not read yet.
    Starting,
    /// The host's stream.
    Live,
    /// The store, every second: no host runs (or, with the reason, none can be reached).
    Store(Option<String>),
}

/// What the feed hands the screen.
#[derive(Debug)]
pub enum Feed {
    /// Start over from this state.
    State(Box<State>, Source),
    /// Changes to the last state.
    Changes(Vec<Change>),
    /// The store or the stream cannot be read.
    Failed(String),
}

/// Starts the feed's thread, which runs until the screen is gone.
pub fn start(home: PathBuf, to: Sender<Msg>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("ao-tui-feed".into())
        .spawn(move || run(&home, &to))
        .map(|_| ())
}

fn run(home: &std::path::Path, to: &Sender<Msg>) {
    let send = |f: Feed| to.send(Msg::Feed(f)).is_ok();
    let mut local: Option<Local> = None;
    loop {
        match Client::connect(home, None) {
            Ok(client) => {
                local = None;
                if !live(client, &send) {
                    return;
                }
                continue;
            }
            Err(ClientError::NoHost(_)) => {
                if !from_store(home, &mut local, None, &send) {
                    return;
                }
            }
            Err(e) => {
                if !from_store(home, &mut local, Some(e.to_string()), &send) {
                    return;
                }
            }
        }
        std::thread::sleep(LOOK_EVERY);
    }
}

/// Follows the host's stream until it ends; false once the screen is gone.
fn live(mut client: Client, send: &impl Fn(Feed) -> bool) -> bool {
    let _ = client.set_timeout(None);
    let mut changes = Vec::new();
    loop {
        match client.read() {
            Ok(Received::Line(Line::Snapshot { state, .. })) => {
                changes.clear();
                if !send(Feed::State(state, Source::Live)) {
                    return false;
                }
            }
            Ok(Received::Line(Line::Change { change, .. })) => changes.push(change),
            Ok(Received::Line(_) | Received::Idle) => {}
            // The host stopped: the store is read until another starts.
            Ok(Received::Closed) | Err(_) => return true,
        }
        // A burst of changes goes to the screen at once, drawn once.
        if !client.has_buffered()
            && !changes.is_empty()
            && !send(Feed::Changes(std::mem::take(&mut changes)))
        {
            return false;
        }
    }
}

/// One look at the store (opening it first, with the whole state, when it was not open);
/// false once the screen is gone.
fn from_store(
    home: &std::path::Path,
    local: &mut Option<Local>,
    why: Option<String>,
    send: &impl Fn(Feed) -> bool,
) -> bool {
    match local {
        None => match Local::open(home) {
            Ok((l, state)) => {
                *local = Some(l);
                send(Feed::State(Box::new(state), Source::Store(why)))
            }
            Err(e) => send(Feed::Failed(format!("cannot read the store: {e}"))),
        },
        Some(l) => match l.check() {
            Ok(changes) if changes.is_empty() => true,
            Ok(changes) => send(Feed::Changes(changes)),
            Err(e) => {
                *local = None;
                send(Feed::Failed(format!("cannot read the store: {e}")))
            }
        },
    }
}
