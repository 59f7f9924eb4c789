//! The outbox: each effect of the host's (a message to an agent, a notification, a merge)
//! recorded as due before it is done, taken by one process while it is done, and settled
//! after with what happened. A process that dies while doing one leaves it taken by a
//! dead pid, and the next host does it again (a merge reads the pull request again
//! first). What the store keeps of an effect is opaque here: its kind and a JSON payload.

use super::events::insert_event;
use super::{Store, StoreError};
use crate::model::{Event, Timestamp, now_ms};
use rusqlite::{OptionalExtension, params};
use std::collections::HashSet;

/// An effect waiting, being done, or settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Its id.
    pub id: i64,
    /// Whose it is: a session id, or `@project`.
    pub owner: String,
    /// The reaction (or other cause) that wants it.
    pub reaction: String,
    /// `send`, `notify` or `merge`.
    pub kind: String,
    /// What it carries, as JSON.
    pub payload: String,
    /// `due`, `running`, `done`, `failed` or `dropped`.
    pub state: String,
    /// Times it was taken so far.
    pub attempts: u32,
    /// When it is (or was) due.
    pub due_at: Timestamp,
    /// The process doing it, while `running`.
    pub pid: Option<u32>,
    /// Until when that process holds it.
    pub lease_until: Option<Timestamp>,
    /// What happened (`delivered`, `merged at …`, `failed: why`), once settled; why the
    /// last try failed, while due again.
    pub outcome: Option<String>,
}

/// A new effect, due at `due_at`.
#[derive(Debug, Clone)]
pub struct NewIntent {
    /// Whose it is.
    pub owner: String,
    /// The reaction that wants it.
    pub reaction: String,
    /// `send`, `notify` or `merge`.
    pub kind: &'static str,
    /// What it carries, as JSON.
    pub payload: String,
    /// When it is due.
    pub due_at: Timestamp,
}

/// One attempt of a reaction, counted with the intent it records: its items marked handed
/// over (so no later pass plans them again) and, for an escalation, the reaction marked
/// escalated.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The items it hands over.
    pub items: &'a [String],
    /// Whether it hands the reaction to the human.
    pub escalate: bool,
}

/// How an effect ended, or that it is due again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// It happened (`delivered`, `merged at …`).
    Done(String),
    /// It was tried and did not happen; not tried again.
    Failed(String),
    /// It no longer applies (the session ended, the pull request moved on).
    Dropped(String),
    /// Tried and not done; due again at `at`.
    Retry {
        /// When.
        at: Timestamp,
        /// Why the try failed.
        why: String,
    },
}

/// What settling an effect records, all in one transaction.
#[derive(Debug, Default)]
pub struct Settle {
    /// Events of what happened.
    pub events: Vec<Event>,
    /// Items the effect had claimed that go back (it did not hand them over).
    pub give_back: Vec<String>,
    /// Forget the reaction's attempts (it is decided afresh).
    pub reset_reaction: bool,
    /// The agent of this session was told to continue after its usage limit.
    pub limit_continued: Option<String>,
    /// An effect that follows (the notice of a merge).
    pub then: Option<NewIntent>,
}

/// States of an effect not yet settled.
const PENDING: &str = "('due', 'running')";

fn intent_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Intent> {
    Ok(Intent {
        id: r.get(0)?,
        owner: r.get(1)?,
        reaction: r.get(2)?,
        kind: r.get(3)?,
        payload: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get::<_, i64>(6)? as u32,
        due_at: r.get(7)?,
        pid: r.get::<_, Option<i64>>(8)?.map(|p| p as u32),
        lease_until: r.get(9)?,
        outcome: r.get(10)?,
    })
}

const COLUMNS: &str =
    "id, owner, reaction, kind, payload, state, attempts, due_at, pid, lease_until, outcome";

fn insert_intent(tx: &rusqlite::Transaction<'_>, i: &NewIntent) -> Result<i64, StoreError> {
    let now = now_ms();
    tx.execute(
        "INSERT INTO outbox (owner, reaction, kind, payload, state, due_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'due', ?5, ?6, ?6)",
        params![i.owner, i.reaction, i.kind, i.payload, i.due_at, now],
    )?;
    Ok(tx.last_insert_rowid())
}

impl Store {
    /// Records `intent` as due; with `claim`, counts one attempt of its reaction for its
    /// owner and marks the claim's items handed over, in the same transaction.
    pub fn enqueue(
        &mut self,
        claim: Option<Claim<'_>>,
        intent: &NewIntent,
    ) -> Result<i64, StoreError> {
        let now = now_ms();
        self.write(|tx| {
            if let Some(c) = claim {
                tx.execute(
                    "INSERT INTO reaction_state (session, reaction, attempts, first_at, last_at, escalated)
                     VALUES (?1, ?2, 1, ?3, ?3, ?4)
                     ON CONFLICT (session, reaction) DO UPDATE SET attempts = attempts + 1, last_at = ?3, escalated = escalated OR ?4",
                    params![intent.owner, intent.reaction, now, c.escalate],
                )?;
                for item in c.items {
                    tx.execute(
                        "INSERT OR IGNORE INTO reaction_sent (session, item, reaction, at) VALUES (?1, ?2, ?3, ?4)",
                        params![intent.owner, item, intent.reaction, now],
                    )?;
                }
            }
            insert_intent(tx, intent)
        })
    }

    /// The effects not yet settled: due (now or later) or being done.
    pub fn pending_intents(&self) -> Result<Vec<Intent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE state IN {PENDING} ORDER BY due_at, id"
        ))?;
        let rows = stmt.query_map([], intent_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The (owner, reaction) pairs with an effect not yet settled.
    pub fn pending_reactions(&self) -> Result<HashSet<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT owner, reaction FROM outbox WHERE state IN {PENDING}"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every effect, newest first, at most `limit`.
    pub fn intents(&self, limit: usize) -> Result<Vec<Intent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit as i64], intent_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Takes effect `id` for process `pid` until `lease_until`, counting an attempt, when
    /// it is due by `now`, or taken by a process `dead` says is gone, or its lease ran
    /// out. `None` when another process holds it or it is settled.
    pub fn take_intent(
        &mut self,
        id: i64,
        pid: u32,
        now: Timestamp,
        lease_until: Timestamp,
        dead: impl Fn(u32) -> bool,
    ) -> Result<Option<Intent>, StoreError> {
        self.write(|tx| {
            let Some(current) = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"),
                    [id],
                    intent_from_row,
                )
                .optional()?
            else {
                return Ok(None);
            };
            let free = match current.state.as_str() {
                "due" => current.due_at <= now,
                "running" => {
                    current.lease_until.is_none_or(|l| l < now)
                        || current.pid.is_none_or(|p| p != pid && dead(p))
                }
                _ => false,
            };
            if !free {
                return Ok(None);
            }
            tx.execute(
                "UPDATE outbox SET state = 'running', attempts = attempts + 1, pid = ?2,
                   lease_until = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, pid, lease_until, now],
            )?;
            Ok(Some(Intent {
                state: "running".into(),
                attempts: current.attempts + 1,
                pid: Some(pid),
                lease_until: Some(lease_until),
                ..current
            }))
        })
    }

    /// Settles effect `id`, taken by `pid`, as `how`, with what `settle` records. False
    /// (and nothing recorded) when `pid` no longer holds it.
    pub fn settle_intent(
        &mut self,
        id: i64,
        pid: u32,
        how: &Settled,
        settle: &Settle,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let (state, outcome, due_at) = match how {
            Settled::Done(o) => ("done", o.clone(), None),
            Settled::Failed(o) => ("failed", format!("failed: {o}"), None),
            Settled::Dropped(o) => ("dropped", format!("dropped: {o}"), None),
            Settled::Retry { at, why } => ("due", why.clone(), Some(*at)),
        };
        self.write(|tx| {
            let (owner, reaction): (String, String) = match tx
                .query_row(
                    "SELECT owner, reaction FROM outbox WHERE id = ?1 AND state = 'running' AND pid = ?2",
                    params![id, pid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
            {
                Some(row) => row,
                None => return Ok(false),
            };
            tx.execute(
                "UPDATE outbox SET state = ?2, outcome = ?3, due_at = COALESCE(?4, due_at),
                   pid = NULL, lease_until = NULL, updated_at = ?5 WHERE id = ?1",
                params![id, state, outcome, due_at, now],
            )?;
            for item in &settle.give_back {
                tx.execute(
                    "DELETE FROM reaction_sent WHERE session = ?1 AND item = ?2",
                    params![owner, item],
                )?;
            }
            if settle.reset_reaction {
                tx.execute(
                    "DELETE FROM reaction_state WHERE session = ?1 AND reaction = ?2",
                    params![owner, reaction],
                )?;
            }
            if let Some(session) = &settle.limit_continued {
                tx.execute(
                    "UPDATE agent_limits SET continued = 1 WHERE session = ?1",
                    [session],
                )?;
            }
            for e in &settle.events {
                insert_event(tx, e)?;
            }
            if let Some(next) = &settle.then {
                insert_intent(tx, next)?;
            }
            Ok(true)
        })
    }

    /// Settles effect `id` as `how` while it is due (not taken), with `event`; false when
    /// it is taken or settled already.
    pub fn drop_intent(
        &mut self,
        id: i64,
        how: &Settled,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let (state, outcome) = match how {
            Settled::Done(o) => ("done", o.clone()),
            Settled::Failed(o) => ("failed", format!("failed: {o}")),
            Settled::Dropped(o) | Settled::Retry { why: o, .. } => {
                ("dropped", format!("dropped: {o}"))
            }
        };
        let now = now_ms();
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE outbox SET state = ?2, outcome = ?3, updated_at = ?4 WHERE id = ?1 AND state = 'due'",
                params![id, state, outcome, now],
            )?;
            if n == 1 {
                insert_event(tx, event)?;
            }
            Ok(n == 1)
        })
    }

    /// Gives back the effects process `pid` holds (taken, not settled): due again at
    /// once. For a process starting its acts afresh, nothing of its own is in flight.
    pub fn release_intents(&mut self, pid: u32) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE outbox SET state = 'due', pid = NULL, lease_until = NULL WHERE state = 'running' AND pid = ?1",
            [pid],
        )
    }

    /// Forgets settled effects older than `before`.
    pub fn prune_intents(&mut self, before: Timestamp) -> Result<usize, StoreError> {
        self.execute(
            "DELETE FROM outbox WHERE state NOT IN ('due', 'running') AND updated_at < ?1",
            [before],
        )
    }
}
