//! The one pane stream (`ao_core::pane`), against real tmux: what a viewer's terminal
//! emulator shows equals `tmux capture-pane`; watching never resizes the agent's window;
//! the watcher (one tmux control client for any number of viewers) is gone with the last
//! viewer; `ao session output --follow` shows output as it comes.

use ao_core::model::RuntimeHandle;
use ao_core::pane::Panes;
use ao_core::plugin::{PaneEvent, Runtime};
use ao_plugins::runtime::tmux::TmuxRuntime;
use ao_tests::{Fleet, wait_until};
use std::collections::HashMap;
use std::io::Read;
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// An agent that paints in colour, moves its cursor, and answers each line it reads;
/// `paint` and `alt-on`/`alt-off` make it draw more while it is watched.
const AGENT: &str = r#"e=$(printf '\033')
printf '%s[1;31mred bold%s[0m plain %s[42mgreen bg%s[0m\n' "$e" "$e" "$e" "$e"
while IFS= read -r line; do
  case "$line" in
    paint)
      printf '%s[34mblue%s[0m then back%s[4D%s[7mREV%s[0m\n' "$e" "$e" "$e" "$e" "$e"
      printf '%s7%s[3;40H%s[33mcorner%s[0m%s8' "$e" "$e" "$e" "$e" "$e" ;;
    alt-on) printf '%s[?1049h%s[2;5Hin the alternate screen' "$e" "$e" ;;
    alt-off) printf '%s[?1049l' "$e" ;;
    flood) i=0; while [ $i -lt 20000 ]; do i=$((i+1)); printf '%s[3%smline %s of a flood%s[0m\n' "$e" $((i % 8)) $i "$e"; done ;;
    *) printf 'got: %s\n' "$line" ;;
  esac
done
"#;

fn fleet() -> Fleet {
    let f = Fleet::new("");
    let script = f.env.root().join("agent.sh");
    std::fs::write(&script, AGENT).unwrap();
    let file = f.repo.join("agent-orchestrator.yaml");
    let config = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{config}    agent: command\n    agentConfig:\n      command: [sh, '{}']\n",
            script.display()
        ),
    )
    .unwrap();
    f.ao(&["spawn", "app", "--prompt", "hello"]).success();
    wait_until("the agent to answer its task", || {
        screen_of_tmux(&f)
            .0
            .contains(&"got: hello".to_owned())
            .then_some(())
    });
    f
}

/// The pane's rows as `tmux capture-pane -p` shows them (trailing blanks dropped) and
/// its cursor (row, column).
fn screen_of_tmux(f: &Fleet) -> (Vec<String>, (u16, u16)) {
    let rows = rows(
        f.tmux(&["capture-pane", "-p", "-t", "=app-1:"])
            .stdout
            .lines(),
    );
    let at = f.tmux(&[
        "display-message",
        "-p",
        "-t",
        "=app-1:",
        "#{cursor_y} #{cursor_x}",
    ]);
    let mut at = at.stdout.split_whitespace().map(|n| n.parse().unwrap_or(0));
    (rows, (at.next().unwrap_or(0), at.next().unwrap_or(0)))
}

fn rows<S: AsRef<str>>(lines: impl Iterator<Item = S>) -> Vec<String> {
    let mut rows: Vec<String> = lines.map(|l| l.as_ref().trim_end().to_owned()).collect();
    while rows.last().is_some_and(String::is_empty) {
        rows.pop();
    }
    rows
}

fn window_size(f: &Fleet) -> String {
    let run = f.tmux(&[
        "display-message",
        "-p",
        "-t",
        "=app-1:",
        "#{window_width}x#{window_height}",
    ]);
    run.stdout.trim().to_owned()
}

/// The tmux clients of the fleet's server, by their flags.
fn clients(f: &Fleet) -> Vec<String> {
    let run = f.tmux(&["list-clients", "-F", "#{client_flags}"]);
    run.stdout.lines().map(str::to_owned).collect()
}

/// What one viewer's terminal emulator shows.
#[derive(Default)]
struct Seen {
    terminal: Option<vt100::Parser>,
    screens: usize,
    ended: bool,
    error: Option<String>,
}

impl Seen {
    fn screen(&self) -> (Vec<String>, (u16, u16)) {
        let Some(t) = &self.terminal else {
            return (Vec::new(), (0, 0));
        };
        let width = t.screen().size().1.get();
        (
            rows(t.screen().rows(0, width)),
            t.screen().cursor_position(),
        )
    }
}

enum Order {
    Watch(usize, Arc<Mutex<Seen>>),
    Stop(usize),
}

/// Viewers of app-1's pane, all in one process through one [`Panes`], as the host's
/// dashboard would have them; each feeds a VT100 emulator.
struct Viewers {
    orders: mpsc::UnboundedSender<Order>,
    seen: HashMap<usize, Arc<Mutex<Seen>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Viewers {
    fn new(f: &Fleet) -> Viewers {
        let handle = RuntimeHandle {
            runtime: "tmux".into(),
            id: "app-1".into(),
            data: serde_json::json!({ "socket": f.socket }),
        };
        let socket = f.socket.to_string_lossy().into_owned();
        let (orders, mut received) = mpsc::unbounded_channel::<Order>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let panes = Panes::new();
                let runtime: Arc<dyn Runtime> = Arc::new(TmuxRuntime::new(Some(&socket)));
                let mut stops: HashMap<usize, oneshot::Sender<()>> = HashMap::new();
                while let Some(order) = received.recv().await {
                    match order {
                        Order::Watch(n, seen) => match panes.subscribe(&runtime, &handle).await {
                            Ok(view) => {
                                let (stop, stopped) = oneshot::channel();
                                stops.insert(n, stop);
                                tokio::spawn(feed(view, seen, stopped));
                            }
                            Err(e) => seen.lock().unwrap().error = Some(e.to_string()),
                        },
                        Order::Stop(n) => {
                            stops.remove(&n);
                        }
                    }
                }
            });
        });
        Viewers {
            orders,
            seen: HashMap::new(),
            thread: Some(thread),
        }
    }

    fn watch(&mut self, n: usize) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        self.seen.insert(n, seen.clone());
        self.orders.send(Order::Watch(n, seen)).unwrap();
    }

    fn stop(&mut self, n: usize) {
        self.orders.send(Order::Stop(n)).unwrap();
    }

    fn seen(&self, n: usize) -> std::sync::MutexGuard<'_, Seen> {
        self.seen[&n].lock().unwrap()
    }

    /// Waits until viewer `n` shows what tmux shows, with `text` in it.
    fn wait_same(&self, f: &Fleet, n: usize, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let tmux = screen_of_tmux(f);
            let seen = self.seen(n);
            assert!(seen.error.is_none(), "viewer {n}: {:?}", seen.error);
            let viewer = seen.screen();
            drop(seen);
            if viewer == tmux && tmux.0.iter().any(|r| r.contains(text)) {
                return;
            }
            if Instant::now() > deadline {
                assert_eq!(viewer, tmux, "viewer {n} shows what tmux shows ({text:?})");
                panic!("{text:?} never showed in the pane: {tmux:?}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Viewers {
    fn drop(&mut self) {
        let (orders, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.orders, orders));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn feed(
    mut view: ao_core::pane::PaneView,
    seen: Arc<Mutex<Seen>>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        let event = tokio::select! {
            event = view.next() => event,
            _ = &mut stopped => return,
        };
        let mut seen = seen.lock().unwrap();
        match event {
            None => {
                seen.ended = true;
                return;
            }
            Some(PaneEvent::Screen(screen)) => {
                let size = |n: u16| NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN);
                let mut t = vt100::Parser::new(size(screen.height), size(screen.width), 0);
                t.process(&screen.bytes);
                seen.terminal = Some(t);
                seen.screens += 1;
            }
            Some(PaneEvent::Output(bytes)) => {
                if let Some(t) = &mut seen.terminal {
                    t.process(&bytes);
                }
            }
        }
    }
}

/// A viewer's emulator shows exactly what tmux shows, colours included, through output
/// with colours and cursor moves, a typed line, a second viewer joining, and the
/// alternate screen, and a resize; watching leaves the window's size alone; one tmux
/// client serves every viewer and is gone after the last.
#[test]
fn a_watched_pane_shows_what_tmux_shows_without_resizing_it_and_its_watcher_goes_with_the_last_viewer()
 {
    let f = fleet();
    let size = window_size(&f);
    assert_eq!(size, "220x50", "ao's sessions start at 220x50");
    assert!(clients(&f).is_empty(), "no client before anyone watches");

    let mut viewers = Viewers::new(&f);
    viewers.watch(1);
    viewers.wait_same(&f, 1, "got: hello");
    {
        let seen = viewers.seen(1);
        let t = seen.terminal.as_ref().unwrap().screen();
        let red = t.cell(0, 0).unwrap();
        assert_eq!(red.contents(), "r");
        assert!(red.bold(), "colours and attributes come with the screen");
        assert_eq!(red.fgcolor(), vt100::Color::Idx(1));
    }
    let watcher = clients(&f);
    assert_eq!(watcher.len(), 1, "one watcher: {watcher:?}");
    assert!(
        watcher[0].contains("control-mode") && watcher[0].contains("read-only"),
        "{watcher:?}"
    );
    assert_eq!(window_size(&f), size, "watching does not resize the window");

    f.ao(&["send", "app-1", "paint"]).success();
    viewers.wait_same(&f, 1, "corner");
    {
        let seen = viewers.seen(1);
        let t = seen.terminal.as_ref().unwrap().screen();
        let (rows, _) = seen.screen();
        let row = rows.iter().position(|r| r.starts_with("blue")).unwrap() as u16;
        assert_eq!(t.cell(row, 0).unwrap().fgcolor(), vt100::Color::Idx(4));
        assert!(t.cell(row, 10).unwrap().inverse(), "REV: {rows:?}");
    }
    f.ao(&["send", "app-1", "a line typed in"]).success();
    viewers.wait_same(&f, 1, "got: a line typed in");

    // A second viewer shares the watcher, and starts from the screen as it is.
    viewers.watch(2);
    viewers.wait_same(&f, 2, "got: a line typed in");
    assert_eq!(clients(&f).len(), 1, "one watcher for two viewers");
    f.ao(&["send", "app-1", "alt-on"]).success();
    viewers.wait_same(&f, 1, "in the alternate screen");
    viewers.wait_same(&f, 2, "in the alternate screen");
    assert_eq!(
        viewers.seen(1).screens,
        1,
        "in step: drawn from its output alone"
    );

    // A viewer joining on the alternate screen gets the normal one under it too.
    viewers.watch(3);
    viewers.wait_same(&f, 3, "in the alternate screen");
    f.ao(&["send", "app-1", "alt-off"]).success();
    for n in [1, 2, 3] {
        viewers.wait_same(&f, n, "got: a line typed in");
    }
    assert_eq!(window_size(&f), size, "watching does not resize the window");

    // A flood of coloured lines: nothing lost, nothing garbled.
    f.ao(&["send", "app-1", "flood"]).success();
    for n in [1, 2, 3] {
        viewers.wait_same(&f, n, "line 20000 of a flood");
    }

    viewers.stop(1);
    viewers.stop(3);
    f.ao(&["send", "app-1", "still watched"]).success();
    viewers.wait_same(&f, 2, "got: still watched");
    assert_eq!(clients(&f).len(), 1, "kept while a viewer is left");
    viewers.stop(2);
    wait_until("the watcher to end with the last viewer", || {
        clients(&f).is_empty().then_some(())
    });
    assert_eq!(window_size(&f), size);

    // Watching again starts a watcher again; a resize redraws the screen at its new size;
    // the session's end ends the view.
    viewers.watch(4);
    viewers.wait_same(&f, 4, "got: still watched");
    f.tmux(&["resize-window", "-t", "=app-1:", "-x", "100", "-y", "30"])
        .success();
    viewers.wait_same(&f, 4, "got: still watched");
    let size = viewers.seen(4).terminal.as_ref().unwrap().screen().size();
    assert_eq!((size.0.get(), size.1.get()), (30, 100));
    f.ao(&["session", "kill", "app-1"]).success();
    wait_until("the view to end with the session", || {
        viewers.seen(4).ended.then_some(())
    });
    wait_until("no watcher left", || clients(&f).is_empty().then_some(()));
}

/// `ao session output --follow` prints the screen, then what the agent prints after it
/// started, and ends when the session does.
#[test]
fn output_follow_shows_what_the_agent_prints_while_it_runs() {
    let f = fleet();
    let mut follow = f.ao_child(&["session", "output", "--follow", "app-1"]);
    let mut stdout = follow.stdout.take().unwrap();
    let printed = Arc::new(Mutex::new(String::new()));
    let reader = {
        let printed = printed.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                printed
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let shows = |text: &str| printed.lock().unwrap().contains(text);
    wait_until("the screen first", || shows("got: hello").then_some(()));
    wait_until("the watcher attached", || {
        (clients(&f).len() == 1).then_some(())
    });
    f.ao(&["send", "app-1", "printed after it started"])
        .success();
    wait_until("the line printed live", || {
        shows("got: printed after it started").then_some(())
    });
    f.ao(&["session", "kill", "app-1"]).success();
    let status = wait_until("--follow to end with the session", || {
        follow.try_wait().unwrap()
    });
    assert!(status.success(), "{status:?}");
    reader.join().unwrap();
    assert!(clients(&f).is_empty());
}

/// Keystrokes typed through the runtime (a live terminal's input) reach the agent as
/// typed, characters beyond ASCII and a `;` at the end included.
#[test]
fn keystrokes_reach_the_agent_as_typed() {
    let f = fleet();
    let handle = RuntimeHandle {
        runtime: "tmux".into(),
        id: "app-1".into(),
        data: serde_json::json!({ "socket": f.socket }),
    };
    let runtime = TmuxRuntime::new(Some(&f.socket.to_string_lossy()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(runtime.input(&handle, "typed: é ; Enter;\r"))
        .unwrap();
    wait_until("the keystrokes on the agent's screen", || {
        let (rows, _) = screen_of_tmux(&f);
        rows.contains(&"got: typed: é ; Enter;".to_owned())
            .then_some(())
    });
}
