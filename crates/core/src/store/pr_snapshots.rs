//! The last reading of each session's pull request (what `ao status` shows without
//! network), and what scms keep between processes.

use super::{Store, StoreError};
use crate::model::{SessionId, Timestamp, now_ms};
use crate::plugin::PrStatus;
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

/// A session's pull request as last read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrSnapshot {
    /// What the scm said.
    pub status: PrStatus,
    /// When it was read.
    pub fetched_at: Timestamp,
    /// Whether a later reading failed (the status is the last one known).
    pub stale: bool,
    /// Why the later reading failed.
    pub error: Option<String>,
}

/// Where the head a session's pull request was first read at is kept.
fn head_key(session: &SessionId) -> String {
    format!("head_seen:{session}")
}

impl Store {
    /// Records a fresh reading.
    pub fn record_pr_snapshot(
        &mut self,
        session: &SessionId,
        status: &PrStatus,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(status).map_err(|e| StoreError::Corrupt {
            what: "pull request snapshot",
            detail: e.to_string(),
        })?;
        self.execute(
            "INSERT INTO pr_snapshots (session, status, fetched_at, stale, error)
             VALUES (?1, ?2, ?3, 0, NULL)
             ON CONFLICT(session) DO UPDATE SET
                status = excluded.status, fetched_at = excluded.fetched_at,
                stale = 0, error = NULL",
            params![session.to_string(), json, at],
        )?;
        // When ao first saw this head: a head's CI is given its time from then.
        self.note_head_seen(session, &status.head_sha)
    }

    /// Records that ao sees the session's pull request at head `sha` now, unless it saw it
    /// there before.
    pub fn note_head_seen(&mut self, session: &SessionId, sha: &str) -> Result<(), StoreError> {
        let key = head_key(session);
        if !sha.is_empty() && self.scm_state(&key)?.is_none_or(|(seen, _)| seen != sha) {
            self.set_scm_state(&key, sha)?;
        }
        Ok(())
    }

    /// When ao first read the session's pull request at head `sha`, if it has.
    pub fn head_seen_at(
        &self,
        session: &SessionId,
        sha: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .scm_state(&head_key(session))?
            .filter(|(seen, _)| seen == sha)
            .map(|(_, at)| at))
    }

    /// Marks the last reading as still current: it was checked and nothing changed.
    pub fn confirm_pr_snapshot(
        &mut self,
        session: &SessionId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE pr_snapshots SET fetched_at = ?2, stale = 0, error = NULL WHERE session = ?1",
            params![session.to_string(), at],
        )?;
        Ok(())
    }

    /// [`Store::confirm_pr_snapshot`] for each of `sessions`, in one transaction: a poll
    /// that finds nothing changed commits once, not once per pull request.
    pub fn confirm_pr_snapshots(
        &mut self,
        sessions: &[SessionId],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        if sessions.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE pr_snapshots SET fetched_at = ?2, stale = 0, error = NULL WHERE session = ?1",
            )?;
            for session in sessions {
                stmt.execute(params![session.to_string(), at])?;
            }
            Ok(())
        })
    }

    /// Marks the last reading stale: a new one failed, and it is all that is known.
    pub fn mark_pr_stale(&mut self, session: &SessionId, error: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE pr_snapshots SET stale = 1, error = ?2 WHERE session = ?1",
            params![session.to_string(), error],
        )?;
        Ok(())
    }

    /// One session's last reading, parsed now (nothing kept), with its mark as of the
    /// same read; `None` when there is none or it cannot be read.
    pub fn pr_snapshot(
        &self,
        session: &SessionId,
    ) -> Result<Option<(PrSnapshot, super::PrMark)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT status, fetched_at, stale, error FROM pr_snapshots WHERE session = ?1",
        )?;
        let mut rows = stmt.query(params![session.to_string()])?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        let text = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        // An unreadable reading is left out, as the whole read leaves it out.
        let Ok(status) = serde_json::from_str::<PrStatus>(text) else {
            return Ok(None);
        };
        let mark = super::PrMark {
            fetched_at: r.get(1)?,
            stale: r.get(2)?,
            error: r.get(3)?,
            reading: super::Digest::of(text).0,
        };
        let snapshot = PrSnapshot {
            status,
            fetched_at: mark.fetched_at,
            stale: mark.stale,
            error: mark.error.clone(),
        };
        Ok(Some((snapshot, mark)))
    }

    /// Every session's last reading. A reading whose JSON is the one this connection
    /// parsed last time is not parsed again.
    pub fn pr_snapshots(&self) -> Result<HashMap<SessionId, PrSnapshot>, StoreError> {
        Ok(HashMap::clone(&*self.pr_snapshots_shared()?))
    }

    /// [`Store::pr_snapshots`], shared with the store's kept read instead of copied:
    /// for a reader that only looks.
    pub fn pr_snapshots_shared(
        &self,
    ) -> Result<std::sync::Arc<HashMap<SessionId, PrSnapshot>>, StoreError> {
        // Kept whole, like the sessions: read again once something was committed.
        let moment = self.moment(super::Kept::Readings)?;
        if let Some((_, kept)) = self
            .parsed
            .borrow()
            .snapshots
            .as_ref()
            .filter(|(at, _)| moment == Some(*at))
        {
            return Ok(kept.clone());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT session, status, fetched_at, stale, error FROM pr_snapshots")?;
        let mut rows = stmt.query([])?;
        let mut parsed = self.parsed.borrow_mut();
        // The statuses parsed before are taken from the last whole read (given up when
        // this read is kept in its place, so the two are not held at once).
        let before = if moment.is_some() {
            parsed.snapshots.take().map(|(_, kept)| kept)
        } else {
            parsed.snapshots.as_ref().map(|(_, kept)| kept.clone())
        };
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            let session = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            let Ok(id) = session.parse::<SessionId>() else {
                continue;
            };
            let text = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
            let digest = super::Digest::of(text);
            let known = parsed.readings.get(session) == Some(&digest);
            let status = match before.as_ref().and_then(|b| b.get(&id)) {
                Some(snap) if known => snap.status.clone(),
                _ => {
                    let Ok(status) = serde_json::from_str::<PrStatus>(text) else {
                        continue;
                    };
                    // A digest stands for the status kept beside it: only a read that is
                    // kept records one (one inside a transaction is not).
                    if moment.is_some() {
                        parsed.readings.insert(session.to_owned(), digest);
                    }
                    status
                }
            };
            out.insert(
                id,
                PrSnapshot {
                    status,
                    fetched_at: r.get(2)?,
                    stale: r.get(3)?,
                    error: r.get(4)?,
                },
            );
        }
        // Readings since deleted are forgotten.
        if moment.is_some() && parsed.readings.len() > out.len() {
            parsed.readings.retain(|session, _| {
                session
                    .parse::<SessionId>()
                    .is_ok_and(|id| out.contains_key(&id))
            });
        }
        let out = std::sync::Arc::new(out);
        if let Some(at) = moment {
            parsed.snapshots = Some((at, out.clone()));
        }
        Ok(out)
    }

    /// A value an scm keeps between processes (its rate-limit reading, a breaker).
    pub fn scm_state(&self, key: &str) -> Result<Option<(String, Timestamp)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value, at FROM scm_state WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Every value whose key starts with `prefix`.
    pub fn scm_states(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM scm_state WHERE substr(key, 1, length(?1)) = ?1")?;
        let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces the value under `key` with what `change` makes of it (None: there is none
    /// yet), in one write transaction: two processes changing it at once lose neither
    /// change. Returns the new value.
    pub fn update_scm_state(
        &mut self,
        key: &str,
        change: impl FnOnce(Option<&str>) -> String,
    ) -> Result<String, StoreError> {
        self.write(|tx| {
            let old: Option<String> = tx
                .query_row("SELECT value FROM scm_state WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?;
            let new = change(old.as_deref());
            tx.execute(
                "INSERT INTO scm_state (key, value, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, at = excluded.at",
                params![key, new, now_ms()],
            )?;
            Ok(new)
        })
    }

    /// Keeps `value` under `key`.
    pub fn set_scm_state(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO scm_state (key, value, at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, at = excluded.at",
            params![key, value, now_ms()],
        )?;
        Ok(())
    }
}
