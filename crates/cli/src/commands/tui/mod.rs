//! `ao tui`: the fleet, live, full-screen in the terminal. The list comes from the host's
//! stream (`feed.rs`), the selected session's terminal from the pane stream
//! (`preview.rs`); keys act through the same `Manager` calls as the commands (`act.rs`).
//! One thread owns the screen and its state (`app.rs`); the others send it [`Msg`]s, and
//! it draws (`draw.rs`) only after something changed. ratatui writes only the cells that
//! differ from the last frame.

mod act;
mod app;
mod draw;
mod feed;
mod preview;
mod rows;
mod screen;

use crate::commands::session::{manager, user};
use crate::error::UserError;
use clap::Args;
use ratatui::crossterm::event::Event;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

/// `ao tui`.
#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Only this project's sessions.
    #[arg(short, long, add = clap_complete::ArgValueCompleter::new(crate::complete::projects))]
    pub project: Option<String>,
}

/// What the screen's thread is told.
#[derive(Debug)]
pub enum Msg {
    /// A key, a mouse action, a resize.
    Input(Event),
    /// The fleet changed.
    Feed(feed::Feed),
    /// The terminal of session `.0`.
    Pane(String, preview::Pane),
    /// An act ended.
    Done(act::Outcome),
    /// A signal asks to end (its exit code).
    Signal(u8),
    /// A second passed: the ages move.
    Tick,
}

/// How often the ages are brought up to date.
const TICK: Duration = Duration::from_secs(1);

/// Runs `ao tui` until `q`, Ctrl-C or a signal.
pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    // A screen that allocates little: one arena is light and enough.
    ao_core::mem::one_arena();
    let m = manager()?;
    if let Some(p) = &args.project {
        m.project(p).map_err(user)?;
    }
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(UserError::failed(
            "ao tui needs a terminal, and this is not one (input or output is redirected)",
        )
        .hint("run it from a terminal; `ao status --watch` prints the fleet without one")
        .into());
    }
    let zones = m
        .config()
        .config
        .dashboard
        .as_ref()
        .and_then(|d| d.attention_zones)
        .unwrap_or_default();
    let (to, from) = mpsc::channel();
    feed::start(super::home(), to.clone())?;
    signals(to.clone())?;
    ticks(to.clone())?;
    let follow = preview::Follow::start(m.clone(), to.clone())?;
    let mut screen = screen::Screen::enter(to.clone())?;
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut app = app::App::new(m, zones, args.project, follow, to, color);
    let mut code = ExitCode::SUCCESS;
    // Everything waiting is applied first: a burst is drawn once.
    while let Ok(first) = from.recv() {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match app.handle(msg) {
                app::Then::Go => {}
                app::Then::Quit(c) => {
                    code = c;
                    break;
                }
                app::Then::Attach(id) => {
                    let outcome = screen.suspended(|| act::attach(app.manager(), &id))?;
                    app.said(outcome);
                }
            }
            next = from.try_recv().ok();
        }
        if app.quitting() {
            break;
        }
        if app.dirty() {
            screen.draw(|f| draw::frame(f, &mut app))?;
            if let Some(l) = app.take_link() {
                screen.link(l.x, l.y, &l.url)?;
            }
        }
    }
    drop(screen);
    Ok(code)
}

/// Ends the screen cleanly on SIGTERM, SIGHUP or SIGINT sent by another process.
fn signals(to: mpsc::Sender<Msg>) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("ao-tui-signals".into())
        .spawn(move || {
            let signal = rt.block_on(crate::signals::first());
            let _ = to.send(Msg::Signal(signal.exit_code));
        })?;
    Ok(())
}

fn ticks(to: mpsc::Sender<Msg>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("ao-tui-tick".into())
        .spawn(move || {
            while to.send(Msg::Tick).is_ok() {
                std::thread::sleep(TICK);
            }
        })?;
    Ok(())
}
