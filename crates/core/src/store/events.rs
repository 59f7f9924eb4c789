//! The event log.

use super::{Store, StoreError};
use crate::model::{Event, EventKind, Priority, SessionId};
use rusqlite::params;

/// Appends an event inside a transaction that is already open; returns its id.
pub(super) fn insert_event(tx: &rusqlite::Transaction<'_>, e: &Event) -> Result<i64, StoreError> {
    let payload = serde_json::to_string(&e.kind).expect("plain data serializes");
    tx.execute(
        "INSERT INTO events (at, project, session, priority, kind, payload, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            e.at,
            e.project,
            e.session.as_ref().map(|s| s.to_string()),
            e.priority.as_str(),
            e.kind.name(),
            payload,
            e.message
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

impl Store {
    /// When a notification about `key` for `session` was last delivered by any notifier.
    pub fn last_delivered(
        &self,
        session: Option<&SessionId>,
        key: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT MAX(at) FROM events
             WHERE kind = 'notified' AND session IS ?1
               AND json_extract(payload, '$.key') = ?2
               AND json_extract(payload, '$.outcome') = 'delivered'",
            params![session.map(|s| s.to_string()), key],
            |r| r.get(0),
        )?)
    }

    /// The id of the newest event, 0 when there is none.
    pub fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?)
    }

    /// Appends an event and returns its id.
    pub fn append_event(&mut self, e: &Event) -> Result<i64, StoreError> {
        self.write(|tx| insert_event(tx, e))
    }

    /// Events after `after_id` (for following the log), optionally of one session, oldest first.
    pub fn events(
        &self,
        after_id: i64,
        session: Option<&SessionId>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, project, session, priority, payload, message FROM events
             WHERE id > ?1 AND (?2 IS NULL OR session = ?2) ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![after_id, session.map(|s| s.to_string()), limit as i64],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, at, project, session, priority, payload, message) = row?;
            let bad = |what, detail: String| StoreError::Corrupt { what, detail };
            out.push(Event {
                id,
                at,
                project,
                session: session
                    .map(|s| s.parse::<SessionId>())
                    .transpose()
                    .map_err(|e| bad("event session", e.to_string()))?,
                priority: priority
                    .parse::<Priority>()
                    .map_err(|e| bad("event priority", e))?,
                kind: serde_json::from_str::<EventKind>(&payload)
                    .map_err(|e| bad("event payload", e.to_string()))?,
                message,
            });
        }
        Ok(out)
    }

    /// When the newest event of `kind` (an [`EventKind::name`]) about `session` happened,
    /// and what it says; one look along the session's own events.
    pub fn last_event_of(
        &self,
        session: &SessionId,
        kind: &str,
    ) -> Result<Option<(i64, EventKind)>, StoreError> {
        use rusqlite::OptionalExtension;
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT at, payload FROM events WHERE session = ?1 AND kind = ?2
                 ORDER BY id DESC LIMIT 1",
                params![session.to_string(), kind],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(at, payload)| {
            serde_json::from_str::<EventKind>(&payload)
                .map(|k| (at, k))
                .map_err(|e| StoreError::Corrupt {
                    what: "event payload",
                    detail: e.to_string(),
                })
        })
        .transpose()
    }
}
