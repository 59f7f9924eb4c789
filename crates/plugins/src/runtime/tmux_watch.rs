//! Watching a tmux pane: a read-only control-mode client (`tmux -C attach-session -r`)
//! that lives only while the pane is watched.
//!
//! Why control mode and not `pipe-pane`: a pane has one pipe, which a user's own
//! `pipe-pane` would take or lose; and the screen a viewer starts from is asked for on
//! the same connection that carries the output. tmux runs the commands of one line at
//! once and writes their replies in order with the output notifications, so output
//! written before a `%begin` is in the captured screen and output after its `%end` is
//! not: the screen and the bytes after it join without a gap or a repeat.
//!
//! The client never resizes the agent's window: `-r` is read-only and ignore-size, and
//! a control client that never set a size (`refresh-client -C`) counts for none. `-E`
//! leaves the session's environment as it was (no `update-environment`).

use super::tmux_screen::{PaneState, STATE_FORMAT, draw, trim_eol};
use ao_core::exec::Cmd;
use ao_core::plugin::{PaneEvent, PaneScreen, PaneWatch, PluginError};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::mpsc;

/// How many lines of scrollback a screen carries, above the visible rows.
const SCROLLBACK: usize = 1000;
/// How long the client may take to attach.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a watched pane is asked whether its program exited (tmux sends no
/// notification when a pane kept by `remain-on-exit` dies).
const DEAD_POLL: Duration = Duration::from_secs(1);

fn failed(message: impl Into<String>) -> PluginError {
    PluginError::failed("tmux", message)
}

/// Starts watching the pane of session `name` (`target` is `=name:`), with `tmux` the
/// command for ao's server. Returns once the client is attached.
pub(super) async fn watch(
    tmux: Cmd<'_>,
    target: &str,
    name: &str,
) -> Result<PaneWatch, PluginError> {
    let mut child = tmux
        .args(["-C", "attach-session", "-r", "-E", "-t", target])
        .spawn_piped()
        .map_err(|e| failed(e.to_string()))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(failed("tmux's control client has no pipes"));
    };
    let mut client = Client {
        child,
        stdin,
        stdout: BufReader::new(stdout),
        buf: Vec::new(),
    };
    match tokio::time::timeout(ATTACH_TIMEOUT, client.attached()).await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            return Err(failed(format!("cannot watch tmux session `{name}`: {why}")));
        }
        Err(_) => {
            return Err(failed(format!(
                "cannot watch tmux session `{name}`: tmux did not attach within {} s",
                ATTACH_TIMEOUT.as_secs()
            )));
        }
    }
    let (events, watch_events) = mpsc::channel(256);
    let (redraw, redraws) = mpsc::unbounded_channel();
    let mut watcher = Watcher::new(target);
    let first = watcher.ask_screen(false);
    tokio::spawn(watcher.run(client, first, events, redraws));
    Ok(PaneWatch::new(watch_events, move || {
        let _ = redraw.send(());
    }))
}

/// The control client's process and pipes.
struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The line being read (kept across a cancelled read: `read_until` appends).
    buf: Vec<u8>,
}

impl Client {
    /// Reads until the client is attached (`%session-changed`), or says why not.
    async fn attached(&mut self) -> Result<(), String> {
        let mut said = String::new();
        loop {
            self.buf.clear();
            let n = self
                .stdout
                .read_until(b'\n', &mut self.buf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                let mut stderr = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = e.read_to_string(&mut stderr).await;
                }
                let why = [said.trim(), stderr.trim()].join(" ");
                return Err(match why.trim() {
                    "" => "tmux's control client ended".to_owned(),
                    why => why.to_owned(),
                });
            }
            let line = trim_eol(&self.buf);
            if line.starts_with(b"%session-changed ") {
                self.buf.clear();
                return Ok(());
            }
            if !line.starts_with(b"%") {
                // The text of an `%error` block: why the attach failed.
                said.push_str(&String::from_utf8_lossy(line));
                said.push(' ');
            }
        }
    }

    async fn send(&mut self, line: &str) -> std::io::Result<()> {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await
    }
}

/// What a reply block answers, in the order the commands were sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// `display-message` of [`STATE_FORMAT`], first of a screen's three.
    State { requested: bool },
    /// `capture-pane` of the scrollback and the visible rows.
    Lines,
    /// `capture-pane -a`: the normal screen under the alternate one (an error when the
    /// pane has no alternate screen).
    Saved,
    /// `display-message` of `#{pane_dead}`.
    Dead,
}

/// A screen being captured: its parts as their replies come.
#[derive(Debug, Default)]
struct Capture {
    requested: bool,
    state: Option<PaneState>,
    lines: Vec<Vec<u8>>,
    /// Output seen after the capture began, sent after its screen.
    after: Vec<Vec<u8>>,
    began: bool,
}

/// The watcher's state between lines from tmux.
struct Watcher {
    /// The pane: `=name:` until the first screen names it by id.
    target: String,
    pane: Option<String>,
    asked: VecDeque<Asked>,
    /// The reply block being read, if any: its `%begin` arguments and lines.
    block: Option<(Vec<u8>, Vec<Vec<u8>>)>,
    capture: Option<Capture>,
    /// A screen to ask for once the one in flight is in (`Some(requested)`).
    again: Option<bool>,
    /// Whether a screen was sent yet: output before the first is in it.
    started: bool,
    /// The pane is dead: its last screen is asked for, then the watch ends.
    ending: bool,
}

/// What the watcher does after a line.
enum Step {
    Go,
    Send(Vec<PaneEvent>),
    End(Vec<PaneEvent>),
}

impl Watcher {
    fn new(target: &str) -> Watcher {
        Watcher {
            target: target.to_owned(),
            pane: None,
            asked: VecDeque::new(),
            block: None,
            capture: None,
            again: None,
            started: false,
            ending: false,
        }
    }

    /// The command line to send, if a screen is to be asked for now.
    fn ask_screen(&mut self, requested: bool) -> Option<String> {
        if self.capture.is_some() {
            // The screen in flight serves a viewer that asked meanwhile (it comes after
            // the viewer subscribed); a change of size needs one captured after it.
            if !requested {
                self.again = Some(false);
            }
            return None;
        }
        self.capture = Some(Capture {
            requested,
            ..Capture::default()
        });
        self.asked
            .extend([Asked::State { requested }, Asked::Lines, Asked::Saved]);
        let t = quoted(self.pane.as_deref().unwrap_or(&self.target));
        Some(format!(
            "display-message -p -t {t} {} ; capture-pane -p -e -S -{SCROLLBACK} -t {t} ; capture-pane -p -e -a -t {t}",
            quoted(STATE_FORMAT)
        ))
    }

    /// The command line that asks whether the pane is dead, when nothing is in flight.
    fn ask_dead(&mut self) -> Option<String> {
        if !self.asked.is_empty() || self.ending {
            return None;
        }
        self.asked.push_back(Asked::Dead);
        let t = quoted(self.pane.as_deref().unwrap_or(&self.target));
        Some(format!("display-message -p -t {t} '#{{pane_dead}}'"))
    }

    /// Takes one line from tmux; returns what to send to the viewers, and any command
    /// line to send to tmux.
    fn line(&mut self, line: &[u8]) -> (Step, Option<String>) {
        if let Some((begin, lines)) = &mut self.block {
            let end = line.strip_prefix(b"%end ").map(|rest| (rest, false));
            let error = line.strip_prefix(b"%error ").map(|rest| (rest, true));
            match end.or(error) {
                Some((rest, failed)) if rest == begin.as_slice() => {
                    let lines = std::mem::take(lines);
                    self.block = None;
                    return self.reply(lines, failed);
                }
                _ => {
                    lines.push(line.to_vec());
                    return (Step::Go, None);
                }
            }
        }
        if let Some(rest) = line.strip_prefix(b"%begin ") {
            self.block = Some((rest.to_vec(), Vec::new()));
            if matches!(self.asked.front(), Some(Asked::State { .. }))
                && let Some(c) = &mut self.capture
            {
                c.began = true;
            }
            return (Step::Go, None);
        }
        if let Some(rest) = line.strip_prefix(b"%output ") {
            let (pane, value) = match rest.iter().position(|b| *b == b' ') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &b""[..]),
            };
            if self.pane.as_deref().map(str::as_bytes) != Some(pane) && self.pane.is_some() {
                return (Step::Go, None);
            }
            let bytes = decode(value);
            return match &mut self.capture {
                Some(c) if c.began => {
                    c.after.push(bytes);
                    (Step::Go, None)
                }
                // Before the first screen: in it already.
                _ if !self.started => (Step::Go, None),
                _ => (Step::Send(vec![PaneEvent::Output(bytes.into())]), None),
            };
        }
        if line.starts_with(b"%layout-change ") {
            return (Step::Go, self.ask_screen(false));
        }
        if line.starts_with(b"%exit") {
            return (Step::End(Vec::new()), None);
        }
        (Step::Go, None)
    }

    fn reply(&mut self, lines: Vec<Vec<u8>>, failed: bool) -> (Step, Option<String>) {
        let Some(asked) = self.asked.pop_front() else {
            // The attach's own reply, or one not asked for here.
            return (Step::Go, None);
        };
        match asked {
            Asked::Dead => {
                let dead = lines.first().is_some_and(|l| trim_eol(l) == b"1");
                if dead && !failed {
                    self.ending = true;
                    return (Step::Go, self.ask_screen(false));
                }
                (Step::Go, None)
            }
            Asked::State { .. } => {
                let state = lines
                    .first()
                    .and_then(|l| PaneState::parse(&String::from_utf8_lossy(l)));
                if let (Some(s), Some(c)) = (&state, &mut self.capture) {
                    self.pane = Some(s.pane.clone());
                    if s.dead {
                        self.ending = true;
                    }
                    c.state = state;
                }
                (Step::Go, None)
            }
            Asked::Lines => {
                if let Some(c) = &mut self.capture {
                    c.lines = lines;
                }
                (Step::Go, None)
            }
            Asked::Saved => {
                let Some(c) = self.capture.take() else {
                    return (Step::Go, None);
                };
                let saved = (!failed).then_some(lines);
                let mut events = Vec::new();
                if let Some(state) = &c.state {
                    events.push(PaneEvent::Screen(Arc::new(PaneScreen {
                        width: state.width,
                        height: state.height,
                        bytes: draw(state, &c.lines, saved.as_deref()),
                        requested: c.requested && self.started,
                    })));
                    self.started = true;
                }
                events.extend(c.after.into_iter().map(|b| PaneEvent::Output(b.into())));
                if self.ending {
                    return (Step::End(events), None);
                }
                let next = self.again.take().and_then(|r| self.ask_screen(r));
                (Step::Send(events), next)
            }
        }
    }

    async fn run(
        mut self,
        mut client: Client,
        first: Option<String>,
        events: mpsc::Sender<PaneEvent>,
        mut redraws: mpsc::UnboundedReceiver<()>,
    ) {
        if let Some(first) = first
            && client.send(&first).await.is_err()
        {
            return;
        }
        let mut poll = tokio::time::interval(DEAD_POLL);
        poll.tick().await;
        loop {
            let command = tokio::select! {
                read = client.stdout.read_until(b'\n', &mut client.buf) => {
                    match read {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let (step, command) = self.line(trim_eol(&client.buf));
                    client.buf.clear();
                    let (sent, end) = match step {
                        Step::Go => (Vec::new(), false),
                        Step::Send(e) => (e, false),
                        Step::End(e) => (e, true),
                    };
                    for e in sent {
                        if events.send(e).await.is_err() {
                            break;
                        }
                    }
                    if end {
                        break;
                    }
                    command
                }
                Some(()) = redraws.recv() => self.ask_screen(true),
                _ = poll.tick() => self.ask_dead(),
                _ = events.closed() => break,
            };
            if let Some(command) = command
                && client.send(&command).await.is_err()
            {
                break;
            }
        }
        // Closing its input detaches the client; one that does not go is killed.
        drop(client.stdin);
        if tokio::time::timeout(Duration::from_secs(2), client.child.wait())
            .await
            .is_err()
        {
            let _ = client.child.kill().await;
        }
    }
}

/// `value` as one word of a command line tmux parses: inside single quotes tmux reads
/// nothing as syntax, and a `'` is written `'\''`.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// The bytes of an `%output` value: tmux writes a byte below 32 and a backslash as
/// `\` and three octal digits, every other byte as itself.
fn decode(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let octal = value.get(i + 1..i + 4).filter(|d| {
            value[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3'
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(value[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_values_decode_octal_escapes_and_keep_every_other_byte() {
        assert_eq!(decode(br"plain"), b"plain");
        assert_eq!(
            decode(br"\033[31mred\033[0m line\015\012"),
            b"\x1b[31mred\x1b[0m line\r\n"
        );
        assert_eq!(decode(br"a\134b"), b"a\\b", "a backslash is escaped too");
        assert_eq!(decode(br"\000\177"), b"\x00\x7f");
        // UTF-8 comes as its bytes, even split across two notifications.
        assert_eq!(decode("é".as_bytes()), "é".as_bytes());
        assert_eq!(decode(&[0xc3]), [0xc3]);
        // Not an escape tmux writes: kept as it is.
        assert_eq!(decode(br"\9x\"), br"\9x\");
    }

    #[test]
    fn output_before_the_first_screen_is_in_it_and_output_during_a_capture_follows_it() {
        let mut w = Watcher::new("=app-1:");
        assert!(w.ask_screen(false).is_some());
        let feed = |w: &mut Watcher, line: &str| w.line(line.as_bytes());
        // Before the reply: already on the screen tmux captures.
        assert!(matches!(
            feed(&mut w, r"%output %1 old\015\012").0,
            Step::Go
        ));
        feed(&mut w, "%begin 1 10 1");
        feed(&mut w, "%1 20 3 0 1 1 0   0 2 0 1 0 0 0 0");
        feed(&mut w, "%end 1 10 1");
        feed(&mut w, "%begin 1 11 1");
        feed(&mut w, "old");
        feed(&mut w, "%end 1 10 1");
        feed(&mut w, "");
        feed(&mut w, "%end 1 11 1");
        feed(&mut w, "%output %2 another pane");
        feed(&mut w, r"%output %1 new");
        feed(&mut w, "%begin 1 12 1");
        feed(&mut w, "no alternate screen");
        let (step, next) = feed(&mut w, "%error 1 12 1");
        assert!(next.is_none());
        let Step::Send(events) = step else {
            panic!("a screen to send")
        };
        let [PaneEvent::Screen(screen), PaneEvent::Output(after)] = &events[..] else {
            panic!("a screen, then the output after it: {events:?}")
        };
        assert!(!screen.requested);
        assert_eq!((screen.width, screen.height), (20, 3));
        // A line reading `%end` inside a reply is text, unless it ends that reply.
        assert_eq!(
            String::from_utf8_lossy(&screen.bytes),
            "\x1bcold\r\n%end 1 10 1\r\n\x1b[0m\x1b[2;1H"
        );
        assert_eq!(&after[..], b"new");
        let (step, _) = feed(&mut w, r"%output %1 \033[1mlive");
        let Step::Send(events) = step else {
            panic!("output to send")
        };
        assert!(matches!(&events[..], [PaneEvent::Output(b)] if &b[..] == b"\x1b[1mlive"));
        assert!(matches!(feed(&mut w, "%exit").0, Step::End(_)));
    }
}
