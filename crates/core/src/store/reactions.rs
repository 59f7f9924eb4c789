//! What the host's reactions have done, kept in the store so retries, escalation and
//! "sent once" survive a restart: each reaction's attempts per session (or per project,
//! for `all-complete`), the items already handed over (a review thread, a failing check
//! at a head), and the jobs due later (a notification to try again).

use super::events::insert_event;
use super::{Store, StoreError};
use crate::model::{Event, Timestamp, now_ms};
use rusqlite::{OptionalExtension, params};
use std::collections::{HashMap, HashSet};

/// How often a reaction has run for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionState {
    /// Attempts so far.
    pub attempts: u32,
    /// When the first attempt ran.
    pub first_at: Timestamp,
    /// When the last attempt ran.
    pub last_at: Timestamp,
    /// Whether it was handed to the human.
    pub escalated: bool,
}

/// A job due later: a notification to deliver again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// What kind (`notify`).
    pub kind: String,
    /// What it carries, as JSON.
    pub payload: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When it is due.
    pub due_at: Timestamp,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// Reads `attempts, first_at, last_at, escalated`.
fn state_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReactionState> {
    Ok(ReactionState {
        attempts: r.get::<_, i64>(0)? as u32,
        first_at: r.get(1)?,
        last_at: r.get(2)?,
        escalated: r.get(3)?,
    })
}

impl Store {
    /// Counts one more attempt of `reaction` for `owner` (a session id, or `@project`)
    /// and returns the new state.
    pub fn record_reaction_attempt(
        &mut self,
        owner: &str,
        reaction: &str,
    ) -> Result<ReactionState, StoreError> {
        self.claim_reaction(owner, reaction, &[], None, false)
    }

    /// One attempt of `reaction`, claimed before it acts so no host runs it twice: the
    /// attempt counted, `items` recorded as handed over, `event` stored and, for the
    /// escalation, the reaction marked escalated, all at once.
    pub fn claim_reaction(
        &mut self,
        owner: &str,
        reaction: &str,
        items: &[String],
        event: Option<&Event>,
        escalate: bool,
    ) -> Result<ReactionState, StoreError> {
        let now = now_ms();
        self.write(|tx| {
            let state = tx.query_row(
                "INSERT INTO reaction_state (session, reaction, attempts, first_at, last_at, escalated)
                 VALUES (?1, ?2, 1, ?3, ?3, ?4)
                 ON CONFLICT (session, reaction) DO UPDATE SET attempts = attempts + 1, last_at = ?3, escalated = escalated OR ?4
                 RETURNING attempts, first_at, last_at, escalated",
                params![owner, reaction, now, escalate],
                state_from_row,
            )?;
            for item in items {
                tx.execute(
                    "INSERT OR IGNORE INTO reaction_sent (session, item, reaction, at) VALUES (?1, ?2, ?3, ?4)",
                    params![owner, item, reaction, now],
                )?;
            }
            if let Some(e) = event {
                insert_event(tx, e)?;
            }
            Ok(state)
        })
    }

    /// Forgets that `items` were handed over (the hand-over failed), so they go again.
    pub fn unclaim_items(&mut self, owner: &str, items: &[String]) -> Result<(), StoreError> {
        self.write(|tx| {
            for item in items {
                tx.execute(
                    "DELETE FROM reaction_sent WHERE session = ?1 AND item = ?2",
                    params![owner, item],
                )?;
            }
            Ok(())
        })
    }

    /// The items already handed over for `owner`.
    pub fn sent_items(&self, owner: &str) -> Result<HashSet<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT item FROM reaction_sent WHERE session = ?1")?;
        let rows = stmt.query_map([owner], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks `reaction` for `owner` as handed to the human, with its event.
    pub fn mark_reaction_escalated(
        &mut self,
        owner: &str,
        reaction: &str,
        event: Option<&Event>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE reaction_state SET escalated = 1 WHERE session = ?1 AND reaction = ?2",
                params![owner, reaction],
            )?;
            if let Some(e) = event {
                insert_event(tx, e)?;
            }
            Ok(())
        })
    }

    /// Forgets the attempts (the condition cleared: the status changed). What was handed
    /// over stays handed over.
    pub fn reset_reaction(&mut self, owner: &str, reaction: &str) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM reaction_state WHERE session = ?1 AND reaction = ?2",
            params![owner, reaction],
        )?;
        Ok(())
    }

    /// The attempts so far, if any.
    pub fn reaction_state(
        &self,
        owner: &str,
        reaction: &str,
    ) -> Result<Option<ReactionState>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT attempts, first_at, last_at, escalated FROM reaction_state WHERE session = ?1 AND reaction = ?2",
                params![owner, reaction],
                state_from_row,
            )
            .optional()?)
    }

    /// Every reaction's attempts for `owner`, by reaction key.
    pub fn reaction_states(
        &self,
        owner: &str,
    ) -> Result<HashMap<String, ReactionState>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT reaction, attempts, first_at, last_at, escalated FROM reaction_state WHERE session = ?1",
        )?;
        let rows = stmt.query_map([owner], |r| {
            Ok((
                r.get::<_, String>(0)?,
                ReactionState {
                    attempts: r.get::<_, i64>(1)? as u32,
                    first_at: r.get(2)?,
                    last_at: r.get(3)?,
                    escalated: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// [`Store::reaction_states`] of every owner at once, by owner: one read for a whole
    /// pass of the reactions.
    pub fn all_reaction_states(
        &self,
    ) -> Result<HashMap<String, HashMap<String, ReactionState>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT reaction, attempts, first_at, last_at, escalated, session FROM reaction_state",
        )?;
        let mut rows = stmt.query([])?;
        let mut out: HashMap<String, HashMap<String, ReactionState>> = HashMap::new();
        while let Some(r) = rows.next()? {
            let state = ReactionState {
                attempts: r.get::<_, i64>(1)? as u32,
                first_at: r.get(2)?,
                last_at: r.get(3)?,
                escalated: r.get(4)?,
            };
            out.entry(r.get(5)?).or_default().insert(r.get(0)?, state);
        }
        Ok(out)
    }

    /// [`Store::sent_items`] of every owner at once, by owner.
    pub fn all_sent_items(&self) -> Result<HashMap<String, HashSet<String>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT session, item FROM reaction_sent")?;
        let mut rows = stmt.query([])?;
        let mut out: HashMap<String, HashSet<String>> = HashMap::new();
        while let Some(r) = rows.next()? {
            out.entry(r.get(0)?).or_default().insert(r.get(1)?);
        }
        Ok(out)
    }

    /// Adds a job due at `due_at`.
    pub fn add_job(
        &mut self,
        kind: &str,
        payload: &str,
        due_at: Timestamp,
    ) -> Result<i64, StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO jobs (kind, payload, attempts, due_at) VALUES (?1, ?2, 0, ?3)",
                params![kind, payload, due_at],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// The jobs due by `now`, oldest first.
    pub fn due_jobs(&self, now: Timestamp) -> Result<Vec<Job>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, payload, attempts, due_at, last_error FROM jobs WHERE due_at <= ?1 ORDER BY due_at, id",
        )?;
        let rows = stmt.query_map([now], |r| {
            Ok(Job {
                id: r.get(0)?,
                kind: r.get(1)?,
                payload: r.get(2)?,
                attempts: r.get::<_, i64>(3)? as u32,
                due_at: r.get(4)?,
                last_error: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every job, due or not.
    pub fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.due_jobs(i64::MAX)
    }

    /// A job tried once more: due again at `due_at`, failing for `error`.
    pub fn reschedule_job(
        &mut self,
        id: i64,
        due_at: Timestamp,
        error: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE jobs SET attempts = attempts + 1, due_at = ?2, last_error = ?3 WHERE id = ?1",
            params![id, due_at, error],
        )?;
        Ok(())
    }

    /// Removes a job (done, or given up), with its event.
    pub fn finish_job(&mut self, id: i64, event: Option<&Event>) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM jobs WHERE id = ?1", [id])?;
            if let Some(e) = event {
                insert_event(tx, e)?;
            }
            Ok(())
        })
    }
}

/// An agent held by its provider's usage limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentLimit {
    /// The session.
    pub session: String,
    /// Its agent plugin.
    pub agent: String,
    /// What the CLI said.
    pub detail: String,
    /// When the limit lifts, if the CLI said.
    pub resets_at: Option<Timestamp>,
    /// Since when ao has seen it.
    pub since: Timestamp,
    /// Whether the human was told of this limit.
    pub notified: bool,
    /// Whether the agent was told to continue after the reset.
    pub continued: bool,
}

impl Store {
    /// Records that `session`'s agent is held by a usage limit (a new reset time is a
    /// new limit: told and continued again).
    pub fn set_limit(
        &mut self,
        session: &str,
        agent: &str,
        detail: &str,
        resets_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO agent_limits (session, agent, detail, resets_at, since) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (session) DO UPDATE SET agent = ?2, detail = ?3,
               notified = CASE WHEN abs(coalesce(resets_at, 0) - coalesce(?4, 0)) <= 60000 THEN notified ELSE 0 END,
               continued = CASE WHEN abs(coalesce(resets_at, 0) - coalesce(?4, 0)) <= 60000 THEN continued ELSE 0 END,
               resets_at = ?4",
            params![session, agent, detail, resets_at, now_ms()],
        )?;
        Ok(())
    }

    /// Forgets `session`'s limit (its agent works again).
    pub fn clear_limit(&mut self, session: &str) -> Result<(), StoreError> {
        self.execute("DELETE FROM agent_limits WHERE session = ?1", [session])?;
        Ok(())
    }

    /// Marks `session`'s limit as told to the human, or its agent as told to continue.
    pub fn mark_limit(
        &mut self,
        session: &str,
        notified: bool,
        continued: bool,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE agent_limits SET notified = notified OR ?2, continued = continued OR ?3 WHERE session = ?1",
            params![session, notified, continued],
        )?;
        Ok(())
    }

    /// Every agent held by a limit, by session.
    pub fn limits(&self) -> Result<HashMap<String, AgentLimit>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT session, agent, detail, resets_at, since, notified, continued FROM agent_limits",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(AgentLimit {
                session: r.get(0)?,
                agent: r.get(1)?,
                detail: r.get(2)?,
                resets_at: r.get(3)?,
                since: r.get(4)?,
                notified: r.get(5)?,
                continued: r.get(6)?,
            })
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let row = row?;
            out.insert(row.session.clone(), row);
        }
        Ok(out)
    }
}
