//! `ao events`: the event log, newest last; `--follow` keeps printing new ones.

use crate::cli::EventsArgs;
use crate::error::UserError;
use crate::ui::Paint;
use ao_core::model::{Event, SessionId};
use ao_core::store::Store;
use std::process::ExitCode;
use std::time::Duration;

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

pub fn run(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let home = super::home();
    if !home.join(ao_core::store::DB_FILE).is_file() {
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
    let keep = |e: &Event| args.kind.as_deref().is_none_or(|k| e.kind.name() == k);
    let paint = Paint::stdout();
    // The last N: read all after the point N from the end (events are few per session).
    let newest = store
        .last_event_id()
        .map_err(|e| UserError::failed(e.to_string()))?;
    let mut all: Vec<Event> = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .events(after, session.as_ref(), 1000)
            .map_err(|e| UserError::failed(e.to_string()))?;
        let Some(last) = page.last() else { break };
        after = last.id;
        all.extend(page.into_iter().filter(|e| keep(e)));
        if after >= newest {
            break;
        }
    }
    let start = all.len().saturating_sub(args.last);
    let print = |e: &Event| {
        if args.json {
            println!("{}", serde_json::to_string(e).unwrap_or_default());
        } else {
            println!("{}", line(e, &paint));
        }
    };
    if args.json && !args.follow {
        println!("{}", serde_json::to_string_pretty(&all[start..])?);
    } else {
        for e in &all[start..] {
            print(e);
        }
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut after = newest;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let page = store
            .events(after, session.as_ref(), 1000)
            .map_err(|e| UserError::failed(e.to_string()))?;
        for e in &page {
            after = e.id;
            if keep(e) {
                print(e);
            }
        }
    }
}
