//! The session commands: spawn, status, send, attach, and `ao session ...`.

use crate::cli::{IssueCommand, SendArgs, SessionCommand, SpawnArgs, StatusArgs};
use crate::error::UserError;
use crate::ui::Paint;
use ao_core::config::process_env;
use ao_core::model::now_ms;
use ao_core::session::{KillOptions, Manager, ManagerError, SessionView, SpawnRequest, Task};
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

mod follow;

pub(super) fn manager() -> anyhow::Result<Arc<Manager>> {
    let path = super::locate_config()?;
    let (loaded, registry, _) = super::load_with_plugins(&path)?;
    let home = super::home();
    Ok(Arc::new(
        Manager::new(loaded, registry, home, process_env).map_err(user)?,
    ))
}

/// A manager's error for the user: see [`crate::error::manager_error`].
pub(super) fn user(e: ManagerError) -> anyhow::Error {
    crate::error::manager_error(e)
}

pub(super) fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError::failed(format!("cannot start ao's async runtime: {e}")))?;
    Ok(rt.block_on(f))
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| UserError::failed(format!("cannot read standard input: {e}")))?;
    Ok(without_final_newline(text))
}

/// Text from a pipe or a file ends with the newline that closes its last line; typed into
/// an agent it would be one Enter too many (an empty second message).
fn without_final_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

fn warn(notes: &[String]) {
    let paint = Paint::stderr();
    for n in notes {
        eprintln!("{} {n}", paint.yellow("warning:"));
    }
}

/// `ao issue ...`.
pub fn issue(cmd: IssueCommand) -> anyhow::Result<ExitCode> {
    let IssueCommand::Ls {
        project,
        labels,
        assignee,
        milestone,
        json,
    } = cmd;
    let m = manager()?;
    let filter = ao_core::plugin::IssueFilter {
        labels,
        assignee,
        milestone,
        limit: None,
    };
    let rows = block_on(m.issues(&project, &filter))?.map_err(user)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no open issues of project `{project}` match");
        return Ok(ExitCode::SUCCESS);
    }
    let paint = Paint::stdout();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("#{}", r.issue.id),
                r.issue.title.clone(),
                r.issue.labels.join(", "),
                r.issue.assignees.join(", "),
                r.session
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print!(
        "{}",
        columns(
            &["ISSUE", "TITLE", "LABELS", "ASSIGNEES", "SESSION"],
            table,
            &paint
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// `ao spawn P --label L`: one session per open issue with every label given that no
/// live session works on, at most `--limit`; `--dry-run` only says which.
fn spawn_labelled(args: SpawnArgs) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    let filter = ao_core::plugin::IssueFilter {
        labels: args.labels.clone(),
        ..Default::default()
    };
    let rows = block_on(m.issues(&args.project, &filter))?.map_err(user)?;
    let labels = args
        .labels
        .iter()
        .map(|l| format!("`{l}`"))
        .collect::<Vec<_>>()
        .join(" and ");
    let (chosen, busy) = ao_core::session::free_issues(rows, args.limit);
    if chosen.is_empty() {
        let why = if busy.is_empty() {
            format!(
                "no open issue of project `{}` has the label {labels}",
                args.project
            )
        } else {
            format!(
                "every open issue of project `{}` with the label {labels} has a live session already: {}",
                args.project,
                busy.iter()
                    .map(|r| format!(
                        "#{} ({})",
                        r.issue.id,
                        r.session
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(UserError::failed(why)
            .hint(format!(
                "`ao issue ls {}` lists the open issues and their sessions",
                args.project
            ))
            .into());
    }
    if args.dry_run {
        for r in &chosen {
            println!("would spawn #{}: {}", r.issue.id, r.issue.title);
        }
        for r in &busy {
            println!(
                "would skip #{}: {} works on it",
                r.issue.id,
                r.session
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let issues = chosen.into_iter().map(|r| r.issue.id).collect();
    spawn(SpawnArgs {
        issues,
        labels: Vec::new(),
        limit: None,
        dry_run: false,
        ..args
    })
}

pub fn spawn(args: SpawnArgs) -> anyhow::Result<ExitCode> {
    let prompt = match args.prompt.as_deref() {
        Some("-") => Some(read_stdin()?),
        other => other.map(str::to_owned),
    };
    if !args.labels.is_empty() {
        return spawn_labelled(args);
    }
    let tasks = match (&prompt, args.issues.is_empty()) {
        (Some(_), false) => {
            return Err(UserError::usage("give issues or --prompt, not both")
                .hint("`ao spawn P 12 13` works on issues; `ao spawn P --prompt \"...\"` on a task given as text")
                .into());
        }
        (Some(p), true) if p.trim().is_empty() => {
            return Err(UserError::usage("the --prompt text is empty").into());
        }
        (Some(p), true) => vec![Task::Prompt(p.clone())],
        (None, true) => vec![Task::Nothing],
        (None, false) => args.issues.iter().cloned().map(Task::Issue).collect(),
    };
    let m = manager()?;
    let request = SpawnRequest {
        project: args.project,
        tasks,
        agent: args.agent,
        branch: args.branch,
        wait: args.wait,
        claim_pr: args.claim_pr.clone(),
        on_wait: Some(|why| eprintln!("{why}")),
    };
    // A signal stops the spawn where it is; it undoes what it made before ao exits.
    let (outcome, signal) = block_on(async {
        let spawn = m.spawn(request);
        tokio::pin!(spawn);
        tokio::select! {
            r = &mut spawn => (r, None),
            s = crate::signals::first() => {
                m.interrupt();
                (spawn.await, Some(s))
            }
        }
    })?;
    let outcome = outcome.map_err(user)?;
    warn(&outcome.warnings);
    let failed = outcome.results.iter().filter(|(_, r)| r.is_err()).count();
    if args.json {
        let list: Vec<serde_json::Value> = outcome
            .results
            .iter()
            .map(|(task, r)| {
                let task = match task {
                    Task::Issue(i) => serde_json::json!({ "issue": i }),
                    Task::Prompt(_) => serde_json::json!({ "prompt": true }),
                    Task::Nothing => serde_json::json!({}),
                };
                match r {
                    Ok(s) => serde_json::json!({ "task": task, "session": s }),
                    Err(e) => serde_json::json!({ "task": task, "error": e.to_string(), "hint": crate::error::manager_hint(e) }),
                }
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        let paint = Paint::stderr();
        for (_, r) in &outcome.results {
            match r {
                Ok(s) if s.activity == Some(ao_core::model::Activity::WaitingInput) => {
                    println!("{}", s.id);
                    eprintln!(
                        "{} {} started, but waits for an answer before it can work: `ao session info {}` shows the question, `ao attach {}` answers it",
                        paint.yellow("warning:"),
                        s.id,
                        s.id,
                        s.id
                    );
                }
                Ok(s) if s.status.is_terminal() => {
                    println!("{}", s.id);
                    let exit = m.agent_exit(&s.id).map_err(user)?.unwrap_or_default();
                    eprintln!("{}", agent_ended(s, &exit, &paint));
                }
                Ok(s) => {
                    println!("{}", s.id);
                    if let Some(pr) = s.pr.as_ref().filter(|_| args.claim_pr.is_some()) {
                        eprintln!(
                            "{} took over pull request #{} ({}) on its branch {}",
                            s.id, pr.number, pr.url, s.branch
                        );
                    }
                }
                Err(e) => {
                    eprintln!("{} {e}", paint.red("error:"));
                    if let Some(h) = crate::error::manager_hint(e) {
                        eprintln!("  {} {h}", paint.cyan("hint:"));
                    }
                }
            }
        }
    }
    if let Some(signal) = signal {
        let paint = Paint::stderr();
        eprintln!(
            "{} ao spawn was interrupted by {}; everything it had made is undone",
            paint.red("error:"),
            signal.name
        );
        return Ok(ExitCode::from(signal.exit_code));
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What `ao spawn` says of a session whose agent took its task and exited already: how
/// it ended, where its work is, and what it printed last.
fn agent_ended(
    s: &ao_core::model::Session,
    exit: &ao_core::session::AgentExit,
    paint: &Paint,
) -> String {
    let how = match exit.code {
        Some(0) => format!(
            "{}'s agent finished (exit code 0) after it took its task: {} is {}",
            s.id,
            s.id,
            status_with_reason(s)
        ),
        code => format!(
            "{} {}'s agent exited{} after it took its task: {} is {}",
            paint.yellow("warning:"),
            s.id,
            code.map(|c| format!(" with code {c}")).unwrap_or_default(),
            s.id,
            status_with_reason(s)
        ),
    };
    let place = s
        .workspace_path
        .as_ref()
        .map(|p| format!("; its work stays in {} (branch {})", p.display(), s.branch))
        .unwrap_or_default();
    let output = if exit.output.trim().is_empty() {
        "    (no output)".to_owned()
    } else {
        exit.output
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!("{how}{place}. Its last output:\n{output}")
}

/// A status with its reason, as `ao session info` shows it: `killed (agent_exited)`.
fn status_with_reason(s: &ao_core::model::Session) -> String {
    match s.status_reason {
        Some(r) => format!("{} ({r})", s.status),
        None => s.status.to_string(),
    }
}

fn age(ms: i64) -> String {
    let s = (now_ms() - ms).max(0) / 1000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Rows under a dimmed header, each column as wide as its widest cell.
fn columns(header: &[&str], rows: Vec<Vec<String>>, paint: &Paint) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}", w = *w))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = paint.dim(&line(header.iter().map(|h| h.to_string()).collect()));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

fn table_with(
    views: &[SessionView],
    snapshots: &std::collections::HashMap<ao_core::model::SessionId, ao_core::store::PrSnapshot>,
    paint: &Paint,
) -> String {
    let header = [
        "SESSION", "STATUS", "BRANCH", "PR", "CI", "REVIEW", "ACTIVITY", "AGE",
    ];
    let rows: Vec<[String; 8]> = views
        .iter()
        .map(|v| {
            let s = &v.session;
            let mut status = match (s.status_reason, v.agent_exit.as_ref().and_then(|e| e.code)) {
                // Its agent ended by itself: `ao session restore` brings it back.
                (Some(ao_core::model::StatusReason::AgentExited), Some(code)) => {
                    format!("exited ({code})")
                }
                (Some(ao_core::model::StatusReason::AgentExited), None) => "exited".to_owned(),
                // It took its task and exited 0: its work is done (a one-shot agent).
                (Some(ao_core::model::StatusReason::AgentFinished), _) => "finished".to_owned(),
                (Some(r), _) => format!("{} ({r})", s.status),
                (None, _) => s.status.to_string(),
            };
            // Only `ls --all` lists archived sessions: told apart from live ones.
            if s.archived_at.is_some() {
                status.push_str(", archived");
            }
            let activity = match (v.runtime_state, &v.limit) {
                (Some("unknown"), _) => "unknown".to_owned(),
                (_, Some(l)) => match l.resets_at {
                    Some(at) => format!("limited until {}", ao_core::model::time::utc_clock(at)),
                    None => "limited".to_owned(),
                },
                _ => s
                    .activity
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "-".into()),
            };
            [
                s.id.to_string(),
                status,
                s.branch.clone(),
                s.pr.as_ref()
                    .map(|p| format!("#{}", p.number))
                    .unwrap_or_else(|| "-".into()),
                snapshots
                    .get(&s.id)
                    .map(|snap| {
                        let ci = ao_core::session::ci_rollup(&snap.status);
                        if snap.stale {
                            format!("{ci} (stale)")
                        } else {
                            ci.to_owned()
                        }
                    })
                    .unwrap_or_else(|| "-".into()),
                snapshots
                    .get(&s.id)
                    .map(|snap| ao_core::session::review_word(&snap.status).to_owned())
                    .unwrap_or_else(|| "-".into()),
                activity,
                age(s.created_at),
            ]
        })
        .collect();
    let mut out = columns(&header, rows.iter().map(|r| r.to_vec()).collect(), paint);
    for v in views {
        for p in &v.problems {
            out.push_str(&format!("{}: {p}\n", v.session.id));
        }
    }
    if views.is_empty() {
        out.push_str("no sessions; `ao spawn PROJECT --prompt \"...\"` starts one\n");
    }
    out
}

fn info(id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    let (view, agent) = block_on(m.info(id))?.map_err(user)?;
    let snapshot = m.pr_snapshots().map_err(user)?.remove(&view.session.id);
    let saved = block_on(m.saved_work_of(&view.session))?.map_err(user)?;
    if json {
        let mut value = serde_json::to_value(&view)?;
        value["agent_info"] = serde_json::to_value(&agent)?;
        value["saved_work"] = serde_json::to_value(&saved)?;
        // The whole last reading of its PR: checks with log tails, threads.
        value["pull_request"] = serde_json::to_value(&snapshot)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let s = &view.session;
    let mut rows: Vec<(&str, String)> = vec![
        ("status", status_with_reason(s)),
        (
            "activity",
            match (s.activity, view.activity_source) {
                (Some(a), Some(src)) => format!("{a} (from the {src})"),
                (Some(a), None) => a.to_string(),
                (None, _) => "-".into(),
            },
        ),
    ];
    if let Some(at) = s.archived_at {
        rows.push(("archived", format!("{} ago", age(at))));
    }
    if let Some(l) = &view.limit {
        rows.push((
            "limit",
            match l.resets_at {
                Some(at) => format!(
                    "{} (lifts at {})",
                    l.detail,
                    ao_core::model::time::utc_clock(at)
                ),
                None => l.detail.clone(),
            },
        ));
    } else if let Some(d) = &view.activity_detail {
        rows.push(("asks", d.clone()));
    }
    if let Some(exit) = &view.agent_exit {
        rows.push((
            "exit code",
            exit.code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "unknown".into()),
        ));
        let mut lines = exit.output.lines().filter(|l| !l.trim().is_empty());
        rows.push(("last output", lines.next().unwrap_or("(none)").to_owned()));
        rows.extend(lines.map(|l| ("", l.to_owned())));
    }
    rows.push(("project", s.project.clone()));
    rows.push(("branch", s.branch.clone()));
    if let Some(p) = &s.workspace_path {
        rows.push(("workspace", p.display().to_string()));
    }
    rows.push(("agent", s.agent.clone()));
    if let Some(id) = agent
        .agent_session_id
        .as_ref()
        .or(s.agent_session_id.as_ref())
    {
        rows.push(("agent session", id.clone()));
    }
    if let Some(summary) = &agent.summary {
        rows.push(("summary", summary.clone()));
    }
    if let Some(t) = agent.tokens {
        rows.push(("tokens", t.to_string()));
    }
    if let Some(c) = agent.cost_usd {
        rows.push(("cost", format!("${c:.4}")));
    }
    if let Some(task) = &s.prompt {
        rows.push(("task", task.lines().next().unwrap_or_default().to_owned()));
    }
    if let Some(snap) = &snapshot {
        let st = &snap.status;
        rows.push((
            "pull request",
            format!(
                "#{} {} ({}){}",
                st.pr.number,
                st.pr.url,
                match st.state {
                    ao_core::plugin::PrState::Open => "open",
                    ao_core::plugin::PrState::Merged => "merged",
                    ao_core::plugin::PrState::Closed => "closed",
                },
                if snap.stale { ", stale" } else { "" }
            ),
        ));
        rows.push(("ci", ao_core::session::ci_rollup(st).to_owned()));
        for c in st
            .checks
            .iter()
            .filter(|c| c.state == ao_core::plugin::CheckState::Failed)
        {
            let tail = c
                .log_excerpt
                .as_deref()
                .and_then(|l| l.lines().rev().find(|l| !l.trim().is_empty()))
                .map(|l| format!(": {}", l.trim()))
                .unwrap_or_default();
            rows.push(("  failed", format!("{}{tail}", c.name)));
        }
        rows.push(("review", ao_core::session::review_word(st).to_owned()));
        for t in &st.unresolved_threads {
            rows.push((
                "  thread",
                format!(
                    "{}:{} {}: {}",
                    t.path.as_deref().unwrap_or("?"),
                    t.line.map(|l| l.to_string()).unwrap_or_default(),
                    t.author.as_deref().unwrap_or("?"),
                    t.body.lines().next().unwrap_or("")
                ),
            ));
        }
    }
    for entry in &saved {
        rows.push((
            "saved work",
            if entry.files.is_empty() {
                format!(
                    "{}: commits on no branch only (`git log {}^1`)",
                    entry.saved.reference, entry.saved.reference
                )
            } else {
                format!(
                    "{}: {}",
                    entry.saved.reference,
                    ao_core::git::summarize_paths(&entry.files)
                )
            },
        ));
        rows.push((
            "  apply",
            format!("{} (in a checkout of {})", entry.apply, s.branch),
        ));
    }
    rows.push(("age", age(s.created_at)));
    println!("{}", s.id);
    for (k, v) in rows {
        println!("  {k:<14} {v}");
    }
    Ok(ExitCode::SUCCESS)
}

fn list(project: Option<&str>, all: bool, json: bool, recover: bool) -> anyhow::Result<ExitCode> {
    list_refreshed(project, all, json, recover, false)
}

fn list_refreshed(
    project: Option<&str>,
    all: bool,
    json: bool,
    recover: bool,
    refresh: bool,
) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    let views = block_on(async {
        let mut notes = if recover {
            m.recover().await?
        } else {
            Vec::new()
        };
        if refresh {
            let report = m
                .refresh_prs_within(project, ao_core::session::SCM_DEADLINE)
                .await?;
            notes.extend(report.notes.iter().cloned());
            for (id, why) in &report.failed {
                notes.push(format!(
                    "{id}: its pull request was not read (shown as last known): {why}"
                ));
            }
        }
        // While a host probes, the quiet sessions are shown as it last saw them (at
        // most a few seconds ago: no probe of every terminal); else all are probed.
        let views = if !refresh && m.host_probing(project).is_some() {
            m.status_seen(project, all).await?
        } else {
            m.status(project, all).await?
        };
        // What forced kills saved, listed with the archived sessions they belong to.
        let saved = if all {
            let sessions: Vec<&ao_core::model::Session> =
                views.iter().map(|v| &v.session).collect();
            m.saved_work(&sessions).await
        } else {
            Default::default()
        };
        Ok::<_, ManagerError>((notes, views, m.pr_snapshots()?, saved))
    })?;
    let (notes, views, snapshots, saved) = views.map_err(user)?;
    warn(&notes);
    let host = m.host_state();
    if json {
        let list: Vec<serde_json::Value> = views
            .iter()
            .map(|v| {
                let mut value = serde_json::to_value(v).unwrap_or_default();
                if let (Some(obj), Some(snap)) =
                    (value.as_object_mut(), snapshots.get(&v.session.id))
                    && let Some(fields) = ao_core::session::snapshot_fields(snap).as_object()
                {
                    obj.extend(fields.clone());
                }
                if let (Some(obj), Some(refs)) = (value.as_object_mut(), saved.get(&v.session.id)) {
                    obj.insert(
                        "saved_work".into(),
                        serde_json::to_value(refs).unwrap_or_default(),
                    );
                }
                value
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        let paint = Paint::stdout();
        print!("{}", table_with(&views, &snapshots, &paint));
        for v in &views {
            for r in saved.get(&v.session.id).into_iter().flatten() {
                println!(
                    "{}: uncommitted work saved at {} (`{}` in a checkout of {})",
                    v.session.id,
                    r.reference,
                    ao_core::session::apply_command(&r.reference),
                    v.session.branch
                );
            }
        }
        if let Some(h) = &host {
            let ago = |t: Option<i64>| {
                t.map(|t| format!("{} ago", age(t)))
                    .unwrap_or_else(|| "not yet".into())
            };
            println!(
                "{}",
                paint.dim(&format!(
                    "host: running (pid {}), last probe {}, last poll {}",
                    h.pid,
                    ago(h.last_probe),
                    ago(h.last_poll)
                ))
            );
            if let Some(d) = ao_web::Published::read(&super::home(), Some(h.pid)) {
                let line = format!("dashboard: {} (`ao dashboard` logs in)", d.url);
                println!("{}", paint.dim(&line));
            }
        } else if recover {
            // `ao status` (the listing that recovers) says who watches, or that nobody does.
            println!(
                "{}",
                paint.dim(
                    "host: not running (`ao start` watches the sessions and their pull requests)"
                )
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    if !args.watch {
        return list_refreshed(
            args.project.as_deref(),
            false,
            args.json,
            true,
            args.refresh,
        );
    }
    let m = manager()?;
    if let Some(p) = &args.project {
        m.project(p).map_err(user)?;
    }
    let paint = Paint::stdout();
    let every = std::time::Duration::from_secs(args.interval);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    #[cfg(unix)]
    let home = super::home();
    #[cfg(unix)]
    let mut said_why: Option<String> = None;
    loop {
        // Pushed by a running host; probed here only while none streams.
        #[cfg(unix)]
        match ao_core::stream::Client::connect(&home, None) {
            Ok(client) => {
                watch_live(client, &args, &paint, every)?;
                // The stream ends a moment before its host does: the table below is not
                // to call a host that is stopping a running one.
                let _ = ao_core::until::wait_until(
                    "the host to stop",
                    std::time::Duration::from_secs(2),
                    || m.running_host().is_none().then_some(()),
                );
            }
            Err(ao_core::stream::ClientError::NoHost(_)) => {}
            Err(e) => {
                let why = e.to_string();
                if said_why.as_deref() != Some(&why) {
                    eprintln!("{} {why}", Paint::stderr().yellow("warning:"));
                    said_why = Some(why);
                }
            }
        }
        let views = rt
            .block_on(m.status(args.project.as_deref(), false))
            .map_err(user)?;
        let footer = match m.host_state() {
            Some(h) => format!(
                "host: running (pid {}) but not streaming; refreshed every {} s",
                h.pid, args.interval
            ),
            None => format!(
                "host: not running; refreshed every {} s (`ao start` pushes changes as they happen)",
                args.interval
            ),
        };
        draw_watch(&views, &Default::default(), &footer, args.json, &paint)?;
        std::thread::sleep(every);
    }
}

/// One frame of `ao status --watch`: the table (or its JSON) and, under the table, where
/// it comes from.
fn draw_watch(
    views: &[SessionView],
    snapshots: &std::collections::HashMap<ao_core::model::SessionId, ao_core::store::PrSnapshot>,
    footer: &str,
    json: bool,
    paint: &Paint,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if std::io::stdout().is_terminal() {
        // Home and clear, so the table refreshes in place.
        write!(out, "\x1b[H\x1b[2J")?;
    }
    if json {
        writeln!(out, "{}", serde_json::to_string(views)?)?;
    } else {
        write!(out, "{}", table_with(views, snapshots, paint))?;
        writeln!(out, "{}", paint.dim(footer))?;
    }
    out.flush()?;
    Ok(())
}

/// `ao status --watch` while a host streams: redrawn on each change it pushes (and every
/// `every`, for the ages), until the host stops.
#[cfg(unix)]
fn watch_live(
    mut client: ao_core::stream::Client,
    args: &StatusArgs,
    paint: &Paint,
    every: std::time::Duration,
) -> anyhow::Result<()> {
    use ao_core::stream::{Line, Received, State};
    let _ = client.set_timeout(Some(every));
    let mut state: Option<State> = None;
    loop {
        match client.read() {
            Ok(Received::Line(Line::Snapshot { state: s, .. })) => state = Some(*s),
            Ok(Received::Line(Line::Change { change, .. })) => {
                if let Some(s) = state.as_mut() {
                    s.apply(&change);
                }
            }
            Ok(Received::Line(_) | Received::Idle) => {}
            // The host went: the caller probes until one streams again.
            Ok(Received::Closed) | Err(_) => return Ok(()),
        }
        // A burst of changes is drawn once, after its last.
        if client.has_buffered() {
            continue;
        }
        let Some(s) = &state else { continue };
        let (views, snapshots) = streamed_views(s, args.project.as_deref());
        let footer = match &s.host {
            Some(h) => {
                let ago = |t: Option<i64>| {
                    t.map(|t| format!("{} ago", age(t)))
                        .unwrap_or_else(|| "not yet".into())
                };
                format!(
                    "host: running (pid {}), last probe {}, last poll {}; changes pushed live",
                    h.pid,
                    ago(h.last_probe),
                    ago(h.last_poll)
                )
            }
            None => "host: running; changes pushed live".to_owned(),
        };
        draw_watch(&views, &snapshots, &footer, args.json, paint)?;
    }
}

/// The streamed sessions as `ao status` shows them (what only a probe sees, such as
/// whether the runtime is alive, is the host's to decide and not shown here).
#[cfg(unix)]
fn streamed_views(
    state: &ao_core::stream::State,
    project: Option<&str>,
) -> (
    Vec<SessionView>,
    std::collections::HashMap<ao_core::model::SessionId, ao_core::store::PrSnapshot>,
) {
    let views: Vec<SessionView> = state
        .sessions
        .iter()
        .filter(|s| project.is_none_or(|p| s.session.project == p))
        .map(|s| SessionView {
            session: s.session.clone(),
            runtime_state: None,
            activity_detail: s.activity_detail.clone(),
            activity_source: None,
            problems: Vec::new(),
            limit: s.limit.as_ref().map(|l| ao_core::store::AgentLimit {
                session: s.session.id.to_string(),
                agent: s.session.agent.clone(),
                detail: l.detail.clone(),
                resets_at: l.resets_at,
                since: l.since,
                notified: l.notified,
                continued: l.continued,
            }),
            report: s.report.as_ref().map(|r| ao_core::store::SelfReport {
                state: r.state.clone(),
                note: r.note.clone(),
                at: r.at,
            }),
            agent_exit: s.agent_exit.as_ref().map(|e| ao_core::session::AgentExit {
                code: e.code,
                output: e.output.clone(),
                at: e.at,
            }),
        })
        .collect();
    let snapshots = views
        .iter()
        .filter_map(|v| {
            let id = &v.session.id;
            Some((id.clone(), state.pull_requests.get(id)?.clone()))
        })
        .collect();
    (views, snapshots)
}

pub fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    use ao_core::session::Sent;
    let text = match (&args.file, args.text.as_slice()) {
        (Some(f), _) => std::fs::read_to_string(f)
            .map(without_final_newline)
            .map_err(|e| UserError::failed(format!("cannot read {}: {e}", f.display())))?,
        (None, [dash]) if dash == "-" => read_stdin()?,
        (None, []) => {
            return Err(UserError::usage("nothing to send")
                .hint("give the message as words, --file FILE, or - to read standard input")
                .into());
        }
        (None, words) => words.join(" "),
    };
    if text.is_empty() {
        return Err(UserError::usage("the message is empty; nothing was sent")
            .hint("give the message as words, --file FILE, or - to read standard input")
            .into());
    }
    let mut m = manager()?;
    if let (Some(secs), Some(only)) = (args.timeout, Arc::get_mut(&mut m)) {
        only.ready_timeout = std::time::Duration::from_secs(secs);
    }
    let sent = if args.no_wait {
        block_on(m.send_now(&args.session, &text))?.map_err(user)?
    } else {
        block_on(m.send(&args.session, &text))?.map_err(user)?
    };
    let id = &args.session;
    println!(
        "{}",
        match sent {
            Sent::Taken => format!("{id}: sent; the agent took it"),
            Sent::Queued =>
                format!("{id}: sent while the agent works; it reads the message when its turn ends"),
            Sent::Typed => format!("{id}: typed into the agent's terminal"),
            Sent::TypedAtOnce => {
                format!("{id}: typed into its terminal at once, without waiting or checking")
            }
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub fn attach(session: &str) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    let info = m.attach_info(session).map_err(user)?;
    if let Some(note) = &info.note {
        eprintln!("{note}");
    }
    let (program, args) = info
        .argv
        .split_first()
        .ok_or_else(|| UserError::failed("the runtime gave no way to attach"))?;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(UserError::failed(
            "ao attach needs a terminal, and this is not one (input or output is redirected)",
        )
        .hint(format!(
            "run it from a terminal, or attach by hand with: {}; `ao session output {session}` prints the screen here",
            info.argv.join(" ")
        ))
        .into());
    }
    let mut args = args.to_vec();
    if let Some(switch) = args.iter().position(|a| a == "switch-client") {
        // Inside a pane of ao's own server, the client showing it moves to the session.
        // $TMUX can name that server without this process being in one of its clients
        // (a shell that inherited it): tmux then has no client to switch, and a client
        // of our own is attached instead.
        let out = std::process::Command::new(program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| UserError::failed(format!("cannot run `{program}`: {e}")))?;
        if out.status.success() {
            return Ok(ExitCode::SUCCESS);
        }
        args[switch] = "attach-session".to_owned();
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(program);
        cmd.args(&args);
        if args.iter().any(|a| a == "attach-session") {
            // Attaching to ao's own tmux server from inside another tmux is a nested
            // client on purpose; tmux refuses that while $TMUX is set.
            cmd.env_remove("TMUX");
        }
        let err = cmd.exec();
        Err(UserError::failed(format!("cannot run `{program}`: {err}")).into())
    }
    #[cfg(not(unix))]
    {
        let status = std::process::Command::new(program).args(args).status()?;
        Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
    }
}

/// What a forced kill saved: each file, each commit on no branch, and the command that
/// brings them back.
fn print_saved(saved: &ao_core::session::SavedWork) {
    // Each file, up to a screenful of hundreds; git lists a longer save.
    const SHOWN: usize = 200;
    println!("saved at {}:", saved.reference);
    for f in saved.files.iter().take(SHOWN) {
        println!("  {} ({})", f.path, f.how);
    }
    if saved.files.len() > SHOWN {
        println!(
            "  and {} more: `git stash show --include-untracked --name-status {}` lists them all",
            saved.files.len() - SHOWN,
            saved.reference
        );
    }
    for c in &saved.commits {
        println!("  commit {c} (on no branch)");
    }
    if !saved.files.is_empty() {
        let them = if saved.files.len() == 1 { "it" } else { "them" };
        match &saved.branch {
            Some(b) => println!("to bring {them} back, run this in any checkout of branch {b}:"),
            None => println!("to bring {them} back, run this in a checkout (its branch is gone):"),
        }
        println!("  {}", saved.apply);
    }
    if !saved.commits.is_empty() {
        println!("to make a branch of its commits on no branch, run this in the repository:");
        println!("  git branch NAME {}^1", saved.reference);
    }
}

pub fn run(cmd: SessionCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SessionCommand::Ls { project, all, json } => list(project.as_deref(), all, json, false),
        SessionCommand::Attach { session } => attach(&session),
        SessionCommand::Info { session, json } => info(&session, json),
        SessionCommand::Output {
            session,
            follow: true,
            ..
        } => follow::follow(&session),
        SessionCommand::Output { session, lines, .. } => {
            let m = manager()?;
            let text = block_on(m.output(&session, lines))?.map_err(user)?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Kill {
            session,
            keep_workspace,
            force,
        } => {
            let m = manager()?;
            let report = block_on(m.kill(
                &session,
                KillOptions {
                    keep_workspace,
                    force,
                },
            ))?
            .map_err(user)?;
            let verb = if report.cancelled_spawn {
                "was still spawning; the spawn was cancelled and undone"
            } else {
                "killed"
            };
            if report
                .done
                .first()
                .is_some_and(|d| d.starts_with("was already"))
            {
                println!("{} {}", report.session.id, report.done[0]);
            } else if report.done.is_empty() {
                println!("{} {verb}", report.session.id);
            } else {
                println!("{} {verb}: {}", report.session.id, report.done.join("; "));
            }
            if let Some(saved) = &report.saved {
                print_saved(saved);
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Cleanup {
            project,
            dry_run,
            json,
        } => {
            let m = manager()?;
            let report = block_on(m.cleanup(project.as_deref(), dry_run))?.map_err(user)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(ExitCode::SUCCESS);
            }
            warn(&report.recovered);
            let verb = if dry_run { "would clean" } else { "cleaned" };
            for item in &report.cleaned {
                println!("{verb} {}: {}", item.session, item.detail);
            }
            for item in &report.skipped {
                println!("skipped {}: {}", item.session, item.detail);
            }
            if report.cleaned.is_empty() && report.skipped.is_empty() {
                println!("nothing to clean up");
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Restore { session } => {
            let m = manager()?;
            let s = block_on(m.restore(&session))?.map_err(user)?;
            println!("{} restored on {}", s.id, s.branch);
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::ClaimPr { first, second } => claim_pr(first, second),
        SessionCommand::Merge {
            session,
            method,
            delete_branch,
        } => {
            use ao_core::plugin::MergeMethod;
            let method = match method {
                crate::cli::MergeMethodArg::Merge => MergeMethod::Merge,
                crate::cli::MergeMethodArg::Squash => MergeMethod::Squash,
                crate::cli::MergeMethodArg::Rebase => MergeMethod::Rebase,
            };
            let m = manager()?;
            let merged = block_on(m.merge(&session, method, delete_branch))?.map_err(user)?;
            println!(
                "{session}: merged pull request #{} ({}) at {}{}",
                merged.pr.number,
                merged.pr.url,
                &merged.head_sha[..merged.head_sha.len().min(12)],
                if delete_branch {
                    "; its branch was deleted"
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `ao batch-spawn PROJECT ISSUE...`: `ao spawn` with several issues, leaving out those a
/// live session already works on (and saying so).
pub fn batch_spawn(project: String, issues: Vec<String>) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    m.project(&project).map_err(user)?;
    let views = block_on(m.status(Some(&project), false))?.map_err(user)?;
    let norm = |i: &str| i.trim_start_matches('#').to_owned();
    let mut todo = Vec::new();
    for issue in issues {
        let working = views.iter().find(|v| {
            !v.session.status.is_terminal()
                && v.session.issue.as_deref().map(norm) == Some(norm(&issue))
        });
        match working {
            Some(v) => eprintln!(
                "issue {issue}: skipped, {} already works on it",
                v.session.id
            ),
            None => todo.push(issue),
        }
    }
    if todo.is_empty() {
        println!("nothing to spawn: every issue given has a live session");
        return Ok(ExitCode::SUCCESS);
    }
    spawn(SpawnArgs {
        project,
        issues: todo,
        labels: Vec::new(),
        limit: None,
        dry_run: false,
        prompt: None,
        agent: None,
        branch: None,
        wait: false,
        claim_pr: None,
        json: false,
    })
}

/// `ao session claim-pr`: either order of session and PR; the session defaults to
/// `$AO_SESSION_ID` (an agent claiming a PR from inside its own session).
fn claim_pr(first: String, second: Option<String>) -> anyhow::Result<ExitCode> {
    let (session, pr) = match second {
        Some(second) if ao_core::session::looks_like_pr(&first) => (Some(second), first),
        Some(second) => (Some(first), second),
        None => (None, first),
    };
    let Some(id) = session.or_else(session_from_env) else {
        return Err(
            UserError::usage("which session? none was given and AO_SESSION_ID is not set")
                .hint("give the session id: `ao session claim-pr app-3 12`")
                .into(),
        );
    };
    let m = manager()?;
    let c = block_on(m.claim_pr(&id, &pr))?.map_err(user)?;
    println!(
        "{id} claimed pull request #{} \"{}\" ({})",
        c.status.pr.number, c.status.title, c.status.pr.url
    );
    match &c.switched_from {
        Some(old) => println!(
            "  checkout: switched to its branch {} (from {old}, which is kept)",
            c.session.branch
        ),
        None => println!("  checkout: on its branch {} already", c.session.branch),
    }
    if !c.taken_from.is_empty() {
        let from: Vec<String> = c.taken_from.iter().map(|s| s.to_string()).collect();
        println!("  taken over from: {}", from.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

fn session_from_env() -> Option<String> {
    std::env::var("AO_SESSION_ID")
        .ok()
        .filter(|s| !s.is_empty())
}

/// `ao report` and `ao acknowledge`: what the agent of SESSION (default
/// `$AO_SESSION_ID`) says of itself.
pub fn report(
    session: Option<String>,
    state: &str,
    note: Option<String>,
    pr_url: Option<String>,
    pr_number: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let Some(id) = session.or_else(session_from_env) else {
        return Err(
            UserError::usage("which session? none was given and AO_SESSION_ID is not set")
                .hint("run it inside the session's terminal, or give the session id")
                .into(),
        );
    };
    let m = manager()?;
    m.report(&id, state, note, pr_url.as_deref(), pr_number)
        .map_err(user)?;
    println!("{id}: {}", state.replace('_', "-"));
    Ok(ExitCode::SUCCESS)
}

/// `ao import [--dry-run] [--from DIR]`.
pub fn import(
    from: Option<std::path::PathBuf>,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let from = match from {
        Some(dir) => dir,
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| std::path::PathBuf::from(h).join(".agent-orchestrator"))
            .ok_or_else(|| {
                UserError::usage("HOME is not set, so the reference's data directory is unknown")
                    .hint("give it with --from DIR")
            })?,
    };
    let m = manager()?;
    let report = block_on(m.import_reference(&from, dry_run))?.map_err(user)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if dry_run { "would adopt" } else { "adopted" };
    for a in &report.adopted {
        println!(
            "{verb} {} (project {}, {} on {}, tmux session {}{})",
            a.session,
            a.project,
            a.agent,
            a.branch,
            a.tmux,
            a.pr.map(|n| format!(", pull request #{n}"))
                .unwrap_or_default()
        );
    }
    for s in report.skipped.iter().filter(|s| s.adopted_before) {
        println!("{}: adopted by an earlier import", s.session);
    }
    let paint = Paint::stdout();
    for s in report.skipped.iter().filter(|s| !s.adopted_before) {
        println!(
            "{} {}: {} ({})",
            paint.yellow("not adopted:"),
            s.session,
            s.reason,
            s.file.display()
        );
    }
    for n in &report.notes {
        println!("{} {n}", paint.cyan("note:"));
    }
    let before = report.skipped.iter().filter(|s| s.adopted_before).count();
    let (n, left) = (report.adopted.len(), report.skipped.len() - before);
    let from = report.from.display();
    if dry_run {
        println!(
            "{n} would be adopted, {left} would not, {before} were adopted before (from {from}; nothing was changed)"
        );
    } else {
        println!(
            "{n} adopted, {left} not adopted, {before} adopted before (from {from}; its files are left as they were)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `ao review-check [PROJECT] [--dry-run]`.
pub fn review_check(project: Option<String>, dry_run: bool) -> anyhow::Result<ExitCode> {
    let m = manager()?;
    let lines = block_on(m.review_check(project.as_deref(), dry_run))?.map_err(user)?;
    if lines.is_empty() {
        println!("no session has review threads it has not had");
    }
    for l in lines {
        println!("{l}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `ao open SESSION...`: outside tmux, attaches to the one session; inside tmux, opens a
/// window attached to each.
pub fn open(sessions: &[String]) -> anyhow::Result<ExitCode> {
    let inside = std::env::var_os("TMUX").is_some_and(|t| !t.is_empty());
    if !inside {
        return match sessions {
            [one] => attach(one),
            _ => Err(UserError::usage(format!(
                "outside tmux, ao opens one session at a time ({} were given)",
                sessions.len()
            ))
            .hint("run `ao open` inside tmux for a window per session, or `ao attach SESSION`")
            .into()),
        };
    }
    let m = manager()?;
    for id in sessions {
        let info = m.attach_info(id).map_err(user)?;
        // A window of the user's tmux, running a client of ao's own server in it.
        let mut cmd = std::process::Command::new("tmux");
        cmd.args(["new-window", "-n", id.as_str(), "--", "env", "-u", "TMUX"])
            .args(&info.argv);
        let out = cmd
            .output()
            .map_err(|e| UserError::failed(format!("cannot run tmux: {e}")))?;
        if !out.status.success() {
            return Err(UserError::failed(format!(
                "tmux could not open a window for {id}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
            .into());
        }
        println!("{id}: opened in a new tmux window");
    }
    Ok(ExitCode::SUCCESS)
}
