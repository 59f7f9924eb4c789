//! The fleet's pages beyond the board: the projects and agents a spawn may name, a
//! project's open issues with the sessions on them, spawning (a prompt, issues, or the
//! issues with some labels), and the event log with the notifications' outcomes.

use crate::server::{App, json, manager};
use crate::session::Said;
use ao_core::session::{Manager, SpawnRequest, Task};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How many of the newest events `GET /api/log` gives.
const LOG: usize = 500;

/// One project, as the spawn form offers it.
#[derive(Debug, Serialize)]
struct Project {
    id: String,
    name: String,
    agent: String,
    tracker: String,
}

/// What a spawn may name.
#[derive(Debug, Serialize)]
struct Choices {
    projects: Vec<Project>,
    agents: Vec<String>,
}

/// `GET /api/projects`: the projects and the agents a spawn may name.
pub(crate) async fn projects(State(app): State<Arc<App>>) -> Response {
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let projects = m
        .config()
        .config
        .projects
        .keys()
        .filter_map(|id| m.project(id).ok())
        .map(|p| Project {
            id: p.id,
            name: p.name,
            agent: p.agent,
            tracker: p.tracker,
        })
        .collect();
    json(
        StatusCode::OK,
        &Choices {
            projects,
            agents: m.agent_names(),
        },
    )
}

/// `?label=a,b&limit=N`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Labels {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

impl Labels {
    fn list(&self) -> Vec<String> {
        self.label
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `GET /api/projects/<p>/issues?label=a,b`: `ao issue ls`: the tracker's open issues,
/// each with the live session on it.
pub(crate) async fn issues(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Query(q): Query<Labels>,
) -> Response {
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let filter = ao_core::plugin::IssueFilter {
        labels: q.list(),
        limit: q.limit,
        ..Default::default()
    };
    match m.issues(&project, &filter).await {
        Ok(rows) => json(StatusCode::OK, &rows),
        Err(e) => json(StatusCode::CONFLICT, &Said::refused(&app.ops, &e)),
    }
}

/// What a spawn asks for: a prompt, issues, or the free issues with some labels.
#[derive(Debug, Deserialize)]
pub(crate) struct Ask {
    project: String,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    issues: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    agent: Option<String>,
}

/// What a spawn did: the sessions made, and each refusal in the CLI's words.
#[derive(Debug, Serialize)]
struct Spawned {
    ok: bool,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
    sessions: Vec<String>,
}

fn bad(message: impl Into<String>, hint: Option<&str>) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &Said {
            ok: false,
            message: message.into(),
            hint: hint.map(str::to_owned),
        },
    )
}

/// `POST /api/spawn`: `ao spawn`, with a prompt, issues, or labels (and a limit). It runs
/// to its end even when the page that asked goes away: a spawn stopped half-way would
/// leave work for recovery.
pub(crate) async fn spawn(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let ask: Ask = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return bad(
                format!("the body is not a spawn: {e}"),
                Some(
                    r#"{"project": "app", "prompt": "..."} or "issues": ["12"] or "labels": ["bug"], "limit": 3"#,
                ),
            );
        }
    };
    let prompt = ask
        .prompt
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let prompt = prompt.map(str::to_owned);
    let given = [
        prompt.is_some(),
        !ask.issues.is_empty(),
        !ask.labels.is_empty(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return bad(
            "give a prompt, issues or labels, not more than one",
            Some("a prompt is a task as text; issues and labels take tasks from the tracker"),
        );
    }
    if ask.limit.is_some() && ask.labels.is_empty() {
        return bad(
            "a limit goes with labels: at most N of the free issues with them",
            Some(r#"{"project": "app", "labels": ["bug"], "limit": 3}"#),
        );
    }
    if ask.limit == Some(0) {
        return bad("a limit of 0 spawns nothing; give 1 or more", None);
    }
    let m = match manager(&app) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let ops = app.ops.clone();
    let task = tokio::spawn(async move {
        let tasks = if !ask.labels.is_empty() {
            match labelled(&m, &ask, &ops).await {
                Ok(t) => t,
                Err(said) => return said,
            }
        } else if let Some(p) = prompt {
            vec![Task::Prompt(p)]
        } else if !ask.issues.is_empty() {
            ask.issues.iter().cloned().map(Task::Issue).collect()
        } else {
            vec![Task::Nothing]
        };
        let request = SpawnRequest {
            project: ask.project.clone(),
            tasks,
            agent: ask.agent.clone().filter(|a| !a.is_empty()),
            branch: None,
            wait: false,
            claim_pr: None,
            on_wait: None,
        };
        match m.spawn(request).await {
            Ok(outcome) => {
                let mut sessions = Vec::new();
                let mut said = Vec::new();
                let mut hint = None;
                for (task, r) in &outcome.results {
                    match r {
                        Ok(s) => sessions.push(s.id.to_string()),
                        Err(e) => {
                            let what = match task {
                                Task::Issue(i) => format!("issue {i}: "),
                                _ => String::new(),
                            };
                            said.push(format!("{what}{e}"));
                            hint = hint.or_else(|| (ops.hint)(e));
                        }
                    }
                }
                let mut message = if sessions.is_empty() {
                    String::new()
                } else {
                    format!("spawned {}", sessions.join(", "))
                };
                for s in said.iter().chain(&outcome.warnings) {
                    if !message.is_empty() {
                        message.push_str("; ");
                    }
                    message.push_str(s);
                }
                Spawned {
                    ok: said.is_empty(),
                    message,
                    hint,
                    sessions,
                }
            }
            Err(e) => {
                let said = Said::refused(&ops, &e);
                Spawned {
                    ok: false,
                    message: said.message,
                    hint: said.hint,
                    sessions: Vec::new(),
                }
            }
        }
    });
    match task.await {
        Ok(s) => json(
            if s.ok || !s.sessions.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::CONFLICT
            },
            &s,
        ),
        Err(e) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Said {
                ok: false,
                message: format!("the spawn stopped: {e}"),
                hint: Some("the host's log says more; `ao status` shows what was made".into()),
            },
        ),
    }
}

/// The tasks of `ao spawn --label`: the open issues with every label that no live
/// session works on, at most the limit; or why there are none.
async fn labelled(m: &Manager, ask: &Ask, ops: &crate::session::Ops) -> Result<Vec<Task>, Spawned> {
    let filter = ao_core::plugin::IssueFilter {
        labels: ask.labels.clone(),
        ..Default::default()
    };
    let refused = |message: String, hint: Option<String>| Spawned {
        ok: false,
        message,
        hint,
        sessions: Vec::new(),
    };
    let rows = m.issues(&ask.project, &filter).await.map_err(|e| {
        let said = Said::refused(ops, &e);
        refused(said.message, said.hint)
    })?;
    let (free, busy) = ao_core::session::free_issues(rows, ask.limit);
    if free.is_empty() {
        let labels = ask.labels.join(", ");
        let message = if busy.is_empty() {
            format!(
                "no open issue of project `{}` has the labels {labels}",
                ask.project
            )
        } else {
            format!(
                "every open issue of project `{}` with the labels {labels} has a live session already",
                ask.project
            )
        };
        let hint = format!(
            "the issues page (or `ao issue ls {}`) lists the open issues and their sessions",
            ask.project
        );
        return Err(refused(message, Some(hint)));
    }
    Ok(free.into_iter().map(|r| Task::Issue(r.issue.id)).collect())
}

/// `GET /api/log`: the event log's newest entries, oldest first, as the host's stream
/// has them; the events page then follows `event`s on `/api/events`.
pub(crate) async fn log(State(app): State<Arc<App>>) -> Response {
    let mut hubs = app.hubs.clone();
    let Some(hub) = crate::live::hub(&mut hubs).await else {
        return crate::server::no_stream();
    };
    let state = hub.state();
    let skip = state.events.len().saturating_sub(LOG);
    let events: Vec<&ao_core::model::Event> = state.events.iter().skip(skip).collect();
    json(StatusCode::OK, &events)
}
