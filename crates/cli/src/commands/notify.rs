//! `ao notify`: one notification through the routing, for scripts and for trying a
//! setup. Exits 1 when no notifier delivered it.

use crate::cli::{NotifyArgs, PriorityArg};
use crate::error::UserError;
use crate::ui::Paint;
use ao_core::model::{Event, EventKind, Priority, SessionId, now_ms};
use ao_core::notify::{DEFAULT_DEDUP_WINDOW, Dispatcher, Outcome};
use ao_core::plugin::Notification;
use ao_core::store::Store;
use std::process::ExitCode;

/// One outcome as a line of a report (`ao notify`, `ao doctor --test-notify`).
pub fn describe(outcome: &Outcome) -> (bool, String) {
    match outcome {
        Outcome::Delivered { ms } => (true, format!("delivered in {ms} ms")),
        Outcome::Failed { ms, why } => (false, format!("failed after {ms} ms: {why}")),
        Outcome::TimedOut { ms } => (
            false,
            format!("failed after {ms} ms: no answer within {ms} ms"),
        ),
        Outcome::Skipped { why } => (false, why.clone()),
    }
}

pub fn run(args: NotifyArgs) -> anyhow::Result<ExitCode> {
    let path = super::locate_config()?;
    let (loaded, registry, _) = super::load_with_plugins(&path)?;
    let store = Store::open(&super::home()).map_err(|e| {
        let hint = e.hint();
        let mut u = UserError::failed(e.to_string());
        u.hint = hint.map(str::to_owned);
        u
    })?;
    let (project, session) = match &args.session {
        Some(id) => {
            let id: SessionId = id
                .parse()
                .map_err(|e| UserError::usage(format!("`{id}` is not a session id: {e}")))?;
            let s = store.session(&id).ok().flatten().ok_or_else(|| {
                UserError::failed(format!("there is no session {id}"))
                    .hint("`ao session ls` lists the sessions")
            })?;
            (s.project.clone(), Some(id))
        }
        None => (String::new(), None),
    };
    let priority = match args.priority {
        PriorityArg::Urgent => Priority::Urgent,
        PriorityArg::Action => Priority::Action,
        PriorityArg::Warning => Priority::Warning,
        PriorityArg::Info => Priority::Info,
    };
    let notification = Notification {
        title: args.title.clone(),
        event: Event {
            id: 0,
            at: now_ms(),
            project,
            session,
            priority,
            kind: EventKind::Manual,
            message: args.body.clone().unwrap_or_else(|| args.title.clone()),
        },
    };
    let dispatcher = Dispatcher::new(&loaded, &registry);
    let store = std::sync::Mutex::new(store);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError::failed(format!("cannot start ao's async runtime: {e}")))?;
    // By hand: never held back as a repeat.
    let report = rt
        .block_on(dispatcher.notify(&store, &notification, None, DEFAULT_DEDUP_WINDOW))
        .map_err(|e| UserError::failed(e.to_string()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let paint = Paint::stdout();
        let width = report
            .outcomes
            .iter()
            .map(|(n, _)| n.len())
            .max()
            .unwrap_or(0);
        for (name, outcome) in &report.outcomes {
            let (ok, line) = describe(outcome);
            let tag = if ok {
                paint.green("ok  ")
            } else if matches!(outcome, Outcome::Skipped { .. }) {
                paint.yellow("skip")
            } else {
                paint.red("FAIL")
            };
            println!("{tag}  {name:width$}  {line}");
        }
    }
    if let Some(why) = &report.skipped {
        return Err(UserError::failed(format!("nothing was sent: {why}"))
            .hint("route the priority to a notifier under `notificationRouting`, or set `defaults.notifiers`")
            .into());
    }
    if !report.delivered() {
        return Err(UserError::failed("no notifier delivered it").into());
    }
    Ok(ExitCode::SUCCESS)
}
