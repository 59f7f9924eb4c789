//! The terminal while `ao tui` owns it: raw mode, the alternate screen and mouse
//! reporting, given back as the user had it however ao ends (`q`, a signal, a panic), and
//! for the time an attached session has it. One thread reads the keys, and stops reading
//! while another program has the terminal.

use super::Msg;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::{cursor, event, execute, terminal};
use std::io::{Stdout, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

/// How long the key reader waits for a key before it looks whether it should pause.
const READ_WAIT: Duration = Duration::from_millis(250);

/// The terminal, owned; dropping it gives the terminal back.
pub struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    reader: Reader,
}

/// The key reader's controls.
struct Reader {
    paused: Arc<AtomicBool>,
    parked: mpsc::Receiver<()>,
    thread: std::thread::Thread,
}

impl Screen {
    /// Takes the terminal, and starts reading keys to `to`.
    pub fn enter(to: Sender<Msg>) -> std::io::Result<Screen> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            give_back();
            previous(info);
        }));
        take()?;
        let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
        let reader = Reader::start(to)?;
        Ok(Screen { terminal, reader })
    }

    /// Draws a frame; only the cells that changed since the last are written.
    pub fn draw(&mut self, frame: impl FnOnce(&mut ratatui::Frame<'_>)) -> std::io::Result<()> {
        self.terminal.draw(frame).map(|_| ())
    }

    /// Gives the terminal to `run` (an attached session), then takes it back and draws
    /// the whole screen again.
    pub fn suspended<T>(&mut self, run: impl FnOnce() -> T) -> std::io::Result<T> {
        self.reader.pause();
        give_back();
        let out = run();
        take()?;
        self.reader.resume();
        self.terminal.clear()?;
        Ok(out)
    }

    /// Makes `url` a link where it is shown (OSC 8) and copies it to the clipboard (OSC
    /// 52); a terminal that knows neither ignores them and shows the plain text.
    pub fn link(&mut self, x: u16, y: u16, url: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        // The same text the frame has there, wrapped in the link; the cursor goes back
        // where ratatui left it (hidden) at the next frame.
        execute!(out, cursor::MoveTo(x, y))?;
        write!(out, "\x1b]8;;{url}\x1b\\{url}\x1b]8;;\x1b\\")?;
        write!(out, "\x1b]52;c;{}\x07", base64(url.as_bytes()))?;
        out.flush()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.reader.pause();
        give_back();
    }
}

/// Standard error as it was before the screen was taken (-1: not moved).
static STDERR: AtomicI32 = AtomicI32::new(-1);

/// Raw mode, the alternate screen, mouse reports, no cursor; standard error goes to
/// `$AO_HOME/tui.log` meanwhile, so what a library writes there cannot garble the
/// screen.
fn take() -> std::io::Result<()> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(super::super::home().join("tui.log"));
    if let Ok(log) = log {
        use std::os::fd::AsRawFd;
        // SAFETY: plain descriptor calls on standard error and a file this owns; the
        // copy of the old one is kept until it is put back.
        unsafe {
            let saved = libc::dup(2);
            if saved >= 0 && libc::dup2(log.as_raw_fd(), 2) >= 0 {
                STDERR.store(saved, Ordering::Release);
            } else if saved >= 0 {
                libc::close(saved);
            }
        }
    }
    terminal::enable_raw_mode()?;
    execute!(
        std::io::stdout(),
        terminal::EnterAlternateScreen,
        event::EnableMouseCapture,
        cursor::Hide
    )
}

/// The terminal as it was; safe to call twice (and from the panic hook).
fn give_back() {
    let _ = execute!(
        std::io::stdout(),
        event::DisableMouseCapture,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
    let saved = STDERR.swap(-1, Ordering::AcqRel);
    if saved >= 0 {
        // SAFETY: puts back the descriptor `take` saved, and closes the copy.
        unsafe {
            libc::dup2(saved, 2);
            libc::close(saved);
        }
    }
}

impl Reader {
    fn start(to: Sender<Msg>) -> std::io::Result<Reader> {
        let paused = Arc::new(AtomicBool::new(false));
        let (park, parked) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ao-tui-keys".into())
            .spawn({
                let paused = paused.clone();
                move || {
                    loop {
                        if paused.load(Ordering::Acquire) {
                            if park.send(()).is_err() {
                                return;
                            }
                            while paused.load(Ordering::Acquire) {
                                std::thread::park();
                            }
                            continue;
                        }
                        match event::poll(READ_WAIT) {
                            Ok(true) => match event::read() {
                                Ok(e) => {
                                    if to.send(Msg::Input(e)).is_err() {
                                        return;
                                    }
                                }
                                Err(_) => return,
                            },
                            Ok(false) => {}
                            Err(_) => return,
                        }
                    }
                }
            })?;
        Ok(Reader {
            paused,
            parked,
            thread: thread.thread().clone(),
        })
    }

    /// Stops reading keys, and returns once the reader stopped.
    fn pause(&self) {
        if !self.paused.swap(true, Ordering::AcqRel) {
            let _ = self.parked.recv_timeout(READ_WAIT * 4);
        }
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::Release);
        self.thread.unpark();
    }
}

/// Standard base64, for OSC 52.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_pads_as_the_standard_says() {
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"https://x/1"), "aHR0cHM6Ly94LzE=");
    }
}
