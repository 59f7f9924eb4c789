//! A session's page: its facts and events from the host's stream, its live terminal
//! bridged to the pane stream over a WebSocket, and the CLI's actions on it (send, kill,
//! restore) with the CLI's refusals.

use crate::board::{Card, card};
use ao_core::model::Event;
use ao_core::pane::Panes;
use ao_core::plugin::PaneEvent;
use ao_core::session::{Manager, ManagerError};
use ao_core::stream::State;
use axum::extract::ws::{Message, WebSocket};
use serde::Serialize;
use std::sync::Arc;

/// How the dashboard reaches the session commands: a manager over the host's config, and
/// the CLI's words for a refusal.
#[derive(Clone)]
pub struct Ops {
    /// A manager over the config as it is now, or why there is none.
    pub manager: Arc<dyn Fn() -> Result<Arc<Manager>, String> + Send + Sync>,
    /// What the CLI says to do about a refusal.
    pub hint: fn(&ManagerError) -> Option<String>,
}

/// How many of the session's newest events the page shows.
const EVENTS: usize = 50;

/// What the session page shows beside the terminal.
#[derive(Debug, Serialize)]
pub struct Facts {
    /// Its card, as the board draws it.
    pub card: Card,
    /// The PR's checks, by name, with the failing ones' log tails.
    pub checks: Vec<ao_core::plugin::CheckRun>,
    /// Its unresolved review threads.
    pub threads: Vec<ao_core::plugin::ReviewThread>,
    /// Whether the host could merge the PR now.
    pub mergeable: bool,
    /// What stands between the PR and its merge, in the CLI's words (empty when it can
    /// merge, or there is no PR).
    pub blockers: Vec<String>,
    /// When the PR was last read (milliseconds since 1970), and why a later read failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
    /// Its newest events, oldest first.
    pub events: Vec<Event>,
}

/// The facts of session `id` in `state`, when it is live; `scm_name` is what its
/// project's scm calls itself.
pub fn facts(
    state: &State,
    id: &str,
    zones: ao_core::config::AttentionZones,
    scm_name: &str,
) -> Option<Facts> {
    let s = state.session(&id.parse().ok()?)?;
    let pr = state.pull_requests.get(&s.session.id);
    let mut events: Vec<Event> = state
        .events
        .iter()
        .rev()
        .filter(|e| e.session.as_ref() == Some(&s.session.id))
        .take(EVENTS)
        .cloned()
        .collect();
    events.reverse();
    Some(Facts {
        card: card(s, pr, zones),
        checks: pr.map(|p| p.status.checks.clone()).unwrap_or_default(),
        threads: pr
            .map(|p| p.status.unresolved_threads.clone())
            .unwrap_or_default(),
        mergeable: pr.is_some_and(|p| p.status.mergeable),
        blockers: pr.map_or_else(Vec::new, |p| {
            ao_core::session::blockers(&p.status, scm_name)
        }),
        read_at: pr.map(|p| p.fetched_at),
        read_error: pr.and_then(|p| p.error.clone()),
        events,
    })
}

/// A refusal in the CLI's words: its message, and what to do.
#[derive(Debug, Serialize)]
pub struct Said {
    /// Whether it was done.
    pub ok: bool,
    /// What happened, or why not.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Said {
    /// Done.
    pub fn done(message: String) -> Said {
        Said {
            ok: true,
            message,
            hint: None,
        }
    }

    /// Refused, as the CLI says it.
    pub fn refused(ops: &Ops, e: &ManagerError) -> Said {
        Said {
            ok: false,
            message: e.to_string(),
            hint: (ops.hint)(e),
        }
    }
}

/// What the terminal's socket says besides the pane's bytes (binary frames).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Note<'a> {
    /// A fresh screen follows: resize to it.
    Screen { width: u16, height: u16 },
    /// Keys could not be typed.
    Error { message: &'a str },
}

fn note(n: &Note) -> Message {
    Message::Text(serde_json::to_string(n).unwrap_or_default().into())
}

/// Bridges the socket to the pane: the screen and output to the page; the page's text
/// frames, typed into the pane (sent only while the page has taken control).
pub async fn bridge(
    mut socket: WebSocket,
    mut view: ao_core::pane::PaneView,
    manager: Arc<Manager>,
    ops: Ops,
    id: String,
) {
    loop {
        tokio::select! {
            event = view.next() => {
                let sent = match event {
                    Some(PaneEvent::Screen(s)) => {
                        let size = note(&Note::Screen { width: s.width, height: s.height });
                        match socket.send(size).await {
                            Ok(()) => socket.send(Message::Binary(s.bytes.to_vec().into())).await,
                            Err(e) => Err(e),
                        }
                    }
                    Some(PaneEvent::Output(b)) => socket.send(Message::Binary(b.to_vec().into())).await,
                    None => {
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
            got = socket.recv() => match got {
                Some(Ok(Message::Text(keys))) => {
                    if let Err(e) = manager.type_keys(&id, keys.as_str()).await {
                        let said = Said::refused(&ops, &e);
                        let _ = socket.send(note(&Note::Error { message: &said.message })).await;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    }
}

/// The panes this dashboard watches, shared by its pages.
pub fn panes() -> Panes {
    Panes::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ao_core::config::AttentionZones;
    use ao_core::model::{EventKind, Priority, Session, SessionId};
    use ao_core::stream::SessionState;

    fn session(n: u64) -> SessionState {
        let json = serde_json::json!({
            "id": format!("app-{n}"), "project": "app", "issue": null, "branch": "b",
            "workspace_path": null, "runtime": null, "agent": "command",
            "workspace": "worktree", "runtime_plugin": "tmux", "created_branch": true,
            "spawn_pid": null, "prompt": null, "agent_session_id": null, "pr": null,
            "status": "working", "status_reason": null, "activity": null,
            "created_at": 1, "updated_at": 1, "archived_at": null,
        });
        let session: Session = serde_json::from_value(json).unwrap();
        SessionState {
            session,
            activity_detail: None,
            limit: None,
            report: None,
            agent_exit: None,
        }
    }

    fn event(n: u64, message: &str) -> Event {
        Event {
            id: 0,
            at: 1,
            project: "app".into(),
            session: Some(SessionId::new("app", n)),
            priority: Priority::Info,
            kind: EventKind::SessionSpawned,
            message: message.into(),
        }
    }

    #[test]
    fn a_sessions_facts_have_its_own_newest_events_only() {
        let mut state = State {
            sessions: vec![session(1), session(2)],
            ..State::default()
        };
        state.events.push_back(event(2, "other"));
        for i in 0..EVENTS + 5 {
            state.events.push_back(event(1, &format!("mine {i}")));
        }
        let f = facts(&state, "app-1", AttentionZones::Simple, "GitHub").unwrap();
        assert_eq!(f.card.id, "app-1");
        assert_eq!(f.events.len(), EVENTS);
        assert_eq!(f.events[0].message, "mine 5");
        assert!(f.events.iter().all(|e| e.message != "other"));
        assert!(facts(&state, "app-3", AttentionZones::Simple, "GitHub").is_none());
        assert!(facts(&state, "not an id", AttentionZones::Simple, "GitHub").is_none());
    }
}
