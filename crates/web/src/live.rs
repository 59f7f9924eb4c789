//! The board live: a snapshot of every card, then each card that changed, as the host's
//! stream publishes. A page that reconnects sends the last event id it saw
//! (`<epoch>/<seq>`, the browser's `Last-Event-ID`) and gets only the cards changed after
//! it; from another epoch (a restarted host, or a reloaded config) or too old, a fresh
//! snapshot. A card is sent only when what it shows changed, and each new entry of the
//! event log as it is, so an idle fleet sends the page nothing but keep-alives.

use crate::board::{Card, cards};
use ao_core::config::AttentionZones;
use ao_core::stream::{Change, Exit, Hub, Message, Resume, State, Subscription};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::watch;

/// How long a request waits for the host's stream (between two configs, it restarts).
const HUB_WAIT: Duration = Duration::from_secs(10);

/// What the page receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// Every card; the page starts over.
    Snapshot(Board),
    /// One card, new or changed.
    Card(Box<Card>),
    /// A session left the board.
    Gone(String),
    /// A new entry of the event log (the events page's; the board ignores it).
    Event(Box<ao_core::model::Event>),
}

/// The board as a snapshot gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Board {
    /// The host's stream.
    pub epoch: String,
    /// The last change it includes.
    pub seq: u64,
    /// `simple` or `detailed`.
    pub zones: &'static str,
    /// Every session's card, oldest first.
    pub cards: Vec<Card>,
}

/// One update and the event id it carries (`<epoch>/<seq>`).
pub struct Sent {
    /// The event id.
    pub id: String,
    /// The update.
    pub update: Update,
}

/// The name of `zones`.
pub fn zones_name(zones: AttentionZones) -> &'static str {
    match zones {
        AttentionZones::Simple => "simple",
        AttentionZones::Detailed => "detailed",
    }
}

/// A resume point from an event id, when it is one.
pub fn resume_point(id: &str) -> Option<Resume> {
    let (epoch, seq) = id.rsplit_once('/')?;
    Some(Resume {
        epoch: epoch.to_owned(),
        seq: seq.parse().ok()?,
    })
}

/// The hub of the host's stream, waited for a while when it is restarting.
pub async fn hub(hubs: &mut watch::Receiver<Option<Hub>>) -> Option<Hub> {
    let got = tokio::time::timeout(HUB_WAIT, hubs.wait_for(Option::is_some)).await;
    got.ok()?.ok()?.clone()
}

/// One page's feed of updates.
pub struct Feed {
    hubs: watch::Receiver<Option<Hub>>,
    zones: AttentionZones,
    sub: Option<Subscription>,
    hub: Option<Hub>,
    /// Where the page is: the last change applied.
    at: Option<Resume>,
    state: State,
    /// What the page shows of each card.
    shown: HashMap<String, Card>,
    out: VecDeque<Sent>,
}

impl Feed {
    /// A feed resuming after `resume` when it can.
    pub fn new(
        hubs: watch::Receiver<Option<Hub>>,
        zones: AttentionZones,
        resume: Option<Resume>,
    ) -> Feed {
        Feed {
            hubs,
            zones,
            sub: None,
            hub: None,
            at: resume,
            state: State::default(),
            shown: HashMap::new(),
            out: VecDeque::new(),
        }
    }

    /// The next update; `None` when the host's stream is gone for good.
    pub async fn next(&mut self) -> Option<Sent> {
        loop {
            if let Some(s) = self.out.pop_front() {
                return Some(s);
            }
            if self.sub.is_none() {
                let hub = hub(&mut self.hubs).await?;
                self.sub = Some(hub.subscribe(self.at.as_ref()));
                self.hub = Some(hub);
            }
            let got = match self.sub.as_mut() {
                Some(sub) => sub.recv().await,
                None => None,
            };
            match got {
                Some(m) => self.take(m),
                // The stream ended (a config reload starts another): the next one, from
                // a snapshot, since its epoch differs.
                None => {
                    self.sub = None;
                    self.hub = None;
                    let _ = self.hubs.changed().await;
                }
            }
        }
    }

    fn take(&mut self, m: Message) {
        match m {
            Message::Snapshot { epoch, seq, state } => {
                self.state = (*state).clone();
                let cards = cards(&self.state, self.zones);
                self.shown = cards.iter().map(|c| (c.id.clone(), c.clone())).collect();
                self.at = Some(Resume {
                    epoch: epoch.to_string(),
                    seq,
                });
                self.out.push_back(Sent {
                    id: format!("{epoch}/{seq}"),
                    update: Update::Snapshot(Board {
                        epoch: epoch.to_string(),
                        seq,
                        zones: zones_name(self.zones),
                        cards,
                    }),
                });
            }
            // The page has the board up to `seq`: the changes after it bring every card
            // they touch, each sent whole at its first change (what the page shows of it
            // is not known here).
            Message::Resumed { epoch, seq } => {
                self.state = self.hub.as_ref().map(Hub::state).unwrap_or_default();
                self.shown.clear();
                self.at = Some(Resume {
                    epoch: epoch.to_string(),
                    seq,
                });
            }
            Message::Change(frame) => {
                self.state.apply(&frame.change);
                let epoch = self
                    .at
                    .as_ref()
                    .map(|a| a.epoch.clone())
                    .unwrap_or_default();
                let id = format!("{epoch}/{}", frame.seq);
                self.at = Some(Resume {
                    epoch,
                    seq: frame.seq,
                });
                if let Change::Event { event } = &frame.change {
                    self.out.push_back(Sent {
                        id: id.clone(),
                        update: Update::Event(event.clone()),
                    });
                }
                let touched = match &frame.change {
                    Change::Session { session } => Some(session.session.id.clone()),
                    Change::PullRequest { id, .. } | Change::PullRequestChecked { id, .. } => {
                        Some(id.clone())
                    }
                    Change::Event { event } if Exit::of(event).is_some() => event.session.clone(),
                    Change::SessionGone { id: gone } => {
                        self.shown.remove(&gone.to_string());
                        self.out.push_back(Sent {
                            id,
                            update: Update::Gone(gone.to_string()),
                        });
                        return;
                    }
                    _ => None,
                };
                let Some(session) = touched else { return };
                let Some(s) = self.state.session(&session) else {
                    return;
                };
                let card =
                    crate::board::card(s, self.state.pull_requests.get(&session), self.zones);
                if self.shown.get(&card.id) != Some(&card) {
                    self.shown.insert(card.id.clone(), card.clone());
                    self.out.push_back(Sent {
                        id,
                        update: Update::Card(Box::new(card)),
                    });
                }
            }
        }
    }
}

/// The board now, for `GET /api/board`.
pub async fn snapshot(
    hubs: &mut watch::Receiver<Option<Hub>>,
    zones: AttentionZones,
) -> Option<Board> {
    let mut feed = Feed::new(hubs.clone(), zones, None);
    match feed.next().await?.update {
        Update::Snapshot(b) => Some(b),
        _ => None,
    }
}
