//! Cheap marks of what changed, for the stream's watcher (`crate::stream`): it asks
//! SQLite whether anyone committed, and then reads only the small columns that tell
//! which rows moved, before it reads any row whole.

use super::{Store, StoreError};
use crate::model::{SessionId, Timestamp};
use std::collections::HashMap;

/// What tells that a session's pull-request reading changed: a new reading has a new
/// `fetched_at`; a failed one sets `stale` and `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrMark {
    /// When it was last read or confirmed.
    pub fetched_at: Timestamp,
    /// Whether a later reading failed.
    pub stale: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// A digest of the reading itself (its JSON, as stored): it moves when the reading
    /// does, so a reader can tell a confirmation from a new reading without parsing.
    pub reading: u64,
}

impl Store {
    /// SQLite's `data_version`: it differs from the last value this connection read
    /// whenever another connection (any process) has committed since.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?)
    }

    /// What moves whenever a live (unarchived) session's row is written, added, archived
    /// or deleted: their count, the sums of their versions (each write raises one) and
    /// of their creation times, and the latest update. One row, however many sessions.
    pub fn sessions_mark(&self) -> Result<[i64; 4], StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(version), 0), coalesce(sum(created_at), 0),
                        coalesce(max(updated_at), 0)
                 FROM sessions WHERE archived_at IS NULL",
            )?
            .query_row([], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))?)
    }

    /// What moves whenever a pull-request reading is recorded, confirmed, marked stale
    /// or deleted: their count, the sum and the latest of their `fetched_at` (a new
    /// reading or a confirmation sets it to when it was asked), and which are stale, for
    /// what.
    pub fn pr_readings_mark(&self) -> Result<(i64, i64, i64, Option<String>), StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(fetched_at), 0), coalesce(max(fetched_at), 0),
                        group_concat(CASE WHEN stale THEN session || ' ' || coalesce(error, '') END,
                                     char(10))
                 FROM pr_snapshots",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?)
    }

    /// Every live (unarchived) session's id and row version.
    pub fn session_versions(&self) -> Result<HashMap<SessionId, u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, version FROM sessions WHERE archived_at IS NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, version) = row?;
            let id = id.parse::<SessionId>().map_err(|e| StoreError::Corrupt {
                what: "session id",
                detail: e.to_string(),
            })?;
            out.insert(id, version as u64);
        }
        Ok(out)
    }

    /// Each pull-request reading's mark.
    pub fn pr_marks(&self) -> Result<HashMap<SessionId, PrMark>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT session, fetched_at, stale, error, status FROM pr_snapshots")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                PrMark {
                    fetched_at: r.get(1)?,
                    stale: r.get(2)?,
                    error: r.get(3)?,
                    reading: super::Digest::of(r.get_ref(4)?.as_str()?).0,
                },
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, mark) = row?;
            // A row of an id this ao cannot read is skipped, as `pr_snapshots` does.
            if let Ok(id) = id.parse::<SessionId>() {
                out.insert(id, mark);
            }
        }
        Ok(out)
    }

    /// When each session's hooks last reported (`ao hook`).
    pub fn agent_report_marks(&self) -> Result<HashMap<String, Timestamp>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT session, at FROM agent_reports")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, EventKind, Priority};

    #[test]
    fn data_version_moves_only_for_another_connections_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Store::open(dir.path()).unwrap();
        let watcher = Store::open(dir.path()).unwrap();
        let before = watcher.data_version().unwrap();
        assert_eq!(watcher.data_version().unwrap(), before, "nothing committed");
        writer
            .append_event(&Event {
                id: 0,
                at: 1,
                project: "app".into(),
                session: None,
                priority: Priority::Info,
                kind: EventKind::Manual,
                message: "hello".into(),
            })
            .unwrap();
        assert_ne!(watcher.data_version().unwrap(), before);
    }
}
