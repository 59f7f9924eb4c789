//! What the stream carries: the fleet's state (a snapshot is one [`State`]) and the
//! changes to it ([`Change`]). Every subscriber keeps its copy with [`State::apply`], so
//! the host's copy and a client's agree change for change.

use crate::model::{Event, EventKind, Session, SessionId, Timestamp};
use crate::plugin::Budget;
use crate::store::PrSnapshot;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// How many of the newest events a snapshot carries, for a view to start with.
pub const RECENT_EVENTS: usize = 100;

/// A live session as the stream shows it: its stored row (the fields of `ao status
/// --json`) and what else is known of it. Its pull request's reading is kept apart
/// ([`State::pull_requests`]), as it changes on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// The record, with the activity ao last decided.
    #[serde(flatten)]
    pub session: Session,
    /// What the agent's hooks last said it asks or does, when that is its activity now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_detail: Option<String>,
    /// The usage limit its agent waits on, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
    /// What its agent last said of itself (`ao report`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// How its agent ended, when it ended by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_exit: Option<Exit>,
}

/// A usage limit an agent waits on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// What the agent's CLI said.
    pub detail: String,
    /// When it lifts, if the CLI said.
    pub resets_at: Option<Timestamp>,
    /// Since when ao has seen it.
    pub since: Timestamp,
    /// Whether the human was told of it.
    #[serde(default)]
    pub notified: bool,
    /// Whether the agent was told to continue after it lifted.
    #[serde(default)]
    pub continued: bool,
}

/// What an agent said of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The state it reported (`working`, `pr_created`, ...).
    pub state: String,
    /// Its note.
    pub note: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// How an agent ended by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// Its exit code, when the runtime told.
    pub code: Option<i32>,
    /// Its last lines of output.
    pub output: String,
    /// When ao saw it end.
    pub at: Timestamp,
}

impl Exit {
    /// The exit an `agent_ended` event records, if `event` is one.
    pub fn of(event: &Event) -> Option<Exit> {
        match &event.kind {
            EventKind::AgentEnded { exit_code, output } => Some(Exit {
                code: *exit_code,
                output: output.clone(),
                at: event.at,
            }),
            _ => None,
        }
    }
}

/// What the host records of itself: the stored record of `ao start`, read as the stream
/// shows it (fields the record gains later are left out until the stream's next version).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// Its process.
    pub pid: u32,
    /// When it started.
    pub started_at: Timestamp,
    /// When it last probed the sessions.
    #[serde(default)]
    pub last_probe: Option<Timestamp>,
    /// When it last polled the pull requests.
    #[serde(default)]
    pub last_poll: Option<Timestamp>,
}

/// The fleet as the host knows it: what a snapshot carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The live sessions, oldest first.
    pub sessions: Vec<SessionState>,
    /// Each session's pull request as last read, by session.
    pub pull_requests: BTreeMap<SessionId, PrSnapshot>,
    /// What the host last recorded of itself (its pid, its last probe and poll).
    pub host: Option<Host>,
    /// Each scm's request budget as it last reported it, by an opaque key per scm.
    pub budgets: BTreeMap<String, Budget>,
    /// The newest events, oldest first (at most [`RECENT_EVENTS`]).
    pub events: VecDeque<Event>,
}

/// One change to the [`State`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A session appeared or changed: the whole of it, as it is now.
    Session {
        /// The session.
        session: Box<SessionState>,
    },
    /// A session is no longer live: archived, or its spawn undone.
    SessionGone {
        /// Which.
        id: SessionId,
    },
    /// A new reading of a session's pull request.
    PullRequest {
        /// The session.
        id: SessionId,
        /// The reading.
        reading: Box<PrSnapshot>,
    },
    /// The last reading of a session's pull request was confirmed unchanged, or a new
    /// reading failed (`stale`, and why).
    PullRequestChecked {
        /// The session.
        id: SessionId,
        /// When it was last read or confirmed.
        fetched_at: Timestamp,
        /// Whether the last attempt to read it failed.
        stale: bool,
        /// Why it failed.
        error: Option<String>,
    },
    /// A new entry of the event log (notifications among them: `notified`).
    Event {
        /// The event, with its id in the log.
        event: Box<Event>,
    },
    /// The host recorded itself again.
    Host {
        /// What it recorded.
        host: Host,
    },
    /// An scm reported its request budget.
    Budget {
        /// Which scm (an opaque key).
        key: String,
        /// Its budget now.
        budget: Budget,
    },
}

impl State {
    /// The live session `id`, if there is one.
    pub fn session(&self, id: &SessionId) -> Option<&SessionState> {
        self.sessions.iter().find(|s| &s.session.id == id)
    }

    /// Brings the state up to date with `change`.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Session { session } => {
                match self
                    .sessions
                    .iter()
                    .position(|s| s.session.id == session.session.id)
                {
                    Some(i) => self.sessions[i] = (**session).clone(),
                    None => {
                        let key = |s: &SessionState| {
                            (
                                s.session.created_at,
                                s.session.id.prefix().to_owned(),
                                s.session.id.number(),
                            )
                        };
                        let at = self.sessions.partition_point(|s| key(s) <= key(session));
                        self.sessions.insert(at, (**session).clone());
                    }
                }
            }
            Change::SessionGone { id } => {
                self.sessions.retain(|s| &s.session.id != id);
                self.pull_requests.remove(id);
            }
            Change::PullRequest { id, reading } => {
                self.pull_requests.insert(id.clone(), (**reading).clone());
            }
            Change::PullRequestChecked {
                id,
                fetched_at,
                stale,
                error,
            } => {
                if let Some(r) = self.pull_requests.get_mut(id) {
                    r.fetched_at = *fetched_at;
                    r.stale = *stale;
                    r.error = error.clone();
                }
            }
            Change::Event { event } => {
                if let Some(exit) = Exit::of(event)
                    && let Some(id) = &event.session
                    && let Some(s) = self.sessions.iter_mut().find(|s| &s.session.id == id)
                {
                    s.agent_exit = Some(exit);
                }
                self.events.push_back((**event).clone());
                while self.events.len() > RECENT_EVENTS {
                    self.events.pop_front();
                }
            }
            Change::Host { host } => self.host = Some(host.clone()),
            Change::Budget { key, budget } => {
                self.budgets.insert(key.clone(), budget.clone());
            }
        }
    }

    /// The id of the newest event the state holds (0 for none).
    pub fn last_event_id(&self) -> i64 {
        self.events.back().map(|e| e.id).unwrap_or(0)
    }
}
