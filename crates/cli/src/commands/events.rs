//! `ao events`: the event log, newest last; `--follow` keeps printing new ones, pushed by
//! a running host (its stream), else read from the store every half second.

use crate::cli::EventsArgs;
use crate::error::UserError;
use crate::ui::Paint;
use ao_core::model::{Event, SessionId};
use ao_core::store::Store;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// How often `--follow` reads the store while no host runs (and looks for one).
const READ_EVERY: Duration = Duration::from_millis(500);

fn line(e: &Event, paint: &Paint) -> String {
    format!(
        "{}  {:<10}  {:<16}  {:<7}  {}",
        paint.dim(&ao_core::model::time::utc_datetime(e.at)),
        e.session
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "-".into()),
        e.kind.name(),
        e.priority.as_str(),
        e.message
    )
}

/// What `--follow` prints, and the last event it has dealt with, so an event is printed
/// once however it arrives (pushed, or read from the store).
struct Printer<'a> {
    args: &'a EventsArgs,
    session: Option<SessionId>,
    paint: Paint,
    after: i64,
}

impl Printer<'_> {
    fn keep(&self, e: &Event) -> bool {
        self.args.kind.as_deref().is_none_or(|k| e.kind.name() == k)
            && self
                .session
                .as_ref()
                .is_none_or(|s| e.session.as_ref() == Some(s))
    }

    fn print(&self, e: &Event) {
        if self.args.json {
            println!("{}", serde_json::to_string(e).unwrap_or_default());
        } else {
            println!("{}", line(e, &self.paint));
        }
    }

    /// Prints `e` unless it was dealt with already.
    fn offer(&mut self, e: &Event) {
        if e.id > self.after {
            self.after = e.id;
            if self.keep(e) {
                self.print(e);
            }
        }
    }

    /// Prints what the store holds after the last event dealt with.
    fn catch_up(&mut self, store: &Store) -> anyhow::Result<()> {
        loop {
            let page = store
                .events(self.after, self.session.as_ref(), 1000)
                .map_err(|e| UserError::failed(e.to_string()))?;
            if page.is_empty() {
                return Ok(());
            }
            for e in &page {
                self.offer(e);
            }
        }
    }
}

pub fn run(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let home = super::home();
    if !args.follow && !home.join(ao_core::store::DB_FILE).is_file() {
        println!("no events yet: nothing has happened in {}", home.display());
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(&home).map_err(|e| UserError::failed(e.to_string()))?;
    let session: Option<SessionId> = match &args.session {
        Some(s) => Some(
            s.parse()
                .map_err(|e| UserError::usage(format!("`{s}` is not a session id: {e}")))?,
        ),
        None => None,
    };
    let mut printer = Printer {
        args: &args,
        session,
        paint: Paint::stdout(),
        after: 0,
    };
    // The last N: read all after the point N from the end (events are few per session).
    let newest = store
        .last_event_id()
        .map_err(|e| UserError::failed(e.to_string()))?;
    let mut all: Vec<Event> = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .events(after, printer.session.as_ref(), 1000)
            .map_err(|e| UserError::failed(e.to_string()))?;
        let Some(last) = page.last() else { break };
        after = last.id;
        all.extend(page.into_iter().filter(|e| printer.keep(e)));
        if after >= newest {
            break;
        }
    }
    let start = all.len().saturating_sub(args.last);
    if args.json && !args.follow {
        println!("{}", serde_json::to_string_pretty(&all[start..])?);
    } else {
        for e in &all[start..] {
            printer.print(e);
        }
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    printer.after = newest;
    follow(&home, &store, &mut printer)
}

/// Prints new events until interrupted: from the host's stream while a host runs, from
/// the store while none does, each event once across the switches.
fn follow(home: &Path, store: &Store, printer: &mut Printer<'_>) -> anyhow::Result<ExitCode> {
    let note = Paint::stderr();
    #[cfg(unix)]
    let mut resume: Option<ao_core::stream::Resume> = None;
    #[cfg(unix)]
    let mut said_why: Option<String> = None;
    loop {
        #[cfg(unix)]
        {
            let followed = ao_core::stream::Client::connect(home, resume.as_ref())
                .and_then(|client| follow_host(client, store, printer, &mut resume, &note));
            match followed {
                Ok(()) => eprintln!(
                    "{}",
                    note.dim("the host stopped; following the store until a host runs again")
                ),
                Err(ao_core::stream::ClientError::NoHost(_)) => {}
                // A host this ao cannot follow (another version, say): the store serves.
                Err(e) => {
                    // Said once, not every half second.
                    let why = e.to_string();
                    if said_why.as_deref() != Some(&why) {
                        eprintln!("{} {why}; following the store", note.yellow("warning:"));
                        said_why = Some(why);
                    }
                }
            }
        }
        #[cfg(not(unix))]
        let _ = home;
        printer.catch_up(store)?;
        std::thread::sleep(READ_EVERY);
    }
}

/// Prints the events the host pushes, until the host closes its stream.
#[cfg(unix)]
fn follow_host(
    mut client: ao_core::stream::Client,
    store: &Store,
    printer: &mut Printer<'_>,
    resume: &mut Option<ao_core::stream::Resume>,
    note: &Paint,
) -> Result<(), ao_core::stream::ClientError> {
    use ao_core::stream::{Change, ClientError, Line, Received, Resume};
    let store_error = |e: anyhow::Error| ClientError::Io(std::io::Error::other(e.to_string()));
    loop {
        let received = match client.read() {
            Ok(r) => r,
            // A broken stream is a host that went away: the store takes over.
            Err(ClientError::Io(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        match received {
            Received::Line(Line::Snapshot {
                epoch, seq, state, ..
            }) => {
                *resume = Some(Resume { epoch, seq });
                // What happened since this command last looked is in the store.
                printer.catch_up(store).map_err(store_error)?;
                let pid = state
                    .host
                    .map(|h| format!(" (pid {})", h.pid))
                    .unwrap_or_default();
                eprintln!(
                    "{}",
                    note.dim(&format!(
                        "following the host{pid}: events are pushed as they happen"
                    ))
                );
            }
            Received::Line(Line::Resumed { epoch, seq, .. }) => {
                *resume = Some(Resume { epoch, seq });
                eprintln!(
                    "{}",
                    note.dim("following the host again, from where this left off")
                );
            }
            Received::Line(Line::Change { seq, change }) => {
                if let Some(r) = resume.as_mut() {
                    r.seq = seq;
                }
                if let Change::Event { event } = change {
                    printer.offer(&event);
                }
            }
            Received::Line(Line::Error { .. }) | Received::Idle => {}
            Received::Closed => return Ok(()),
        }
    }
}
