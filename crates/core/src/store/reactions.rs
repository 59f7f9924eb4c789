//! Reaction attempts, kept in the store so retries and escalation survive a restart.

use super::{Store, StoreError};
use crate::model::{SessionId, Timestamp, now_ms};
use rusqlite::{OptionalExtension, params};

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
    /// Counts one more attempt of `reaction` for `session` and returns the new state.
    pub fn record_reaction_attempt(
        &mut self,
        session: &SessionId,
        reaction: &str,
    ) -> Result<ReactionState, StoreError> {
        let now = now_ms();
        self.write(|tx| {
            Ok(tx.query_row(
                "INSERT INTO reaction_state (session, reaction, attempts, first_at, last_at)
                 VALUES (?1, ?2, 1, ?3, ?3)
                 ON CONFLICT (session, reaction) DO UPDATE SET attempts = attempts + 1, last_at = ?3
                 RETURNING attempts, first_at, last_at, escalated",
                params![session.to_string(), reaction, now],
                state_from_row,
            )?)
        })
    }

    /// Marks `reaction` for `session` as handed to the human.
    pub fn mark_reaction_escalated(
        &mut self,
        session: &SessionId,
        reaction: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE reaction_state SET escalated = 1 WHERE session = ?1 AND reaction = ?2",
            params![session.to_string(), reaction],
        )?;
        Ok(())
    }

    /// Forgets the attempts (the condition cleared: CI went green, threads resolved).
    pub fn reset_reaction(
        &mut self,
        session: &SessionId,
        reaction: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM reaction_state WHERE session = ?1 AND reaction = ?2",
            params![session.to_string(), reaction],
        )?;
        Ok(())
    }

    /// The attempts so far, if any.
    pub fn reaction_state(
        &self,
        session: &SessionId,
        reaction: &str,
    ) -> Result<Option<ReactionState>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT attempts, first_at, last_at, escalated FROM reaction_state WHERE session = ?1 AND reaction = ?2",
                params![session.to_string(), reaction],
                state_from_row,
            )
            .optional()?)
    }
}
