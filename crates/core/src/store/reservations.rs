//! Session-id reservation: two `ao spawn` at once never get the same id, and an id is
//! never handed out twice, even after its session is gone.

use super::{Store, StoreError};
use crate::model::{SessionId, Timestamp, now_ms};
use rusqlite::params;

/// An id held by a spawn in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The reserved id.
    pub id: SessionId,
    /// The project it is for.
    pub project: String,
    /// The process that reserved it, to tell a spawn in progress from a crashed one.
    pub pid: u32,
    /// When.
    pub reserved_at: Timestamp,
}

/// What [`Store::reserve_session_id_within`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// The id, now held.
    Id(SessionId),
    /// The project is at its limit: these sessions (live ones, and ids other spawns
    /// hold) take every slot.
    Full(Vec<String>),
}

impl Store {
    /// Reserves the next id `<prefix>-<n>` for `project`, held by process `pid`.
    pub fn reserve_session_id(
        &mut self,
        project: &str,
        prefix: &str,
        pid: u32,
    ) -> Result<SessionId, StoreError> {
        match self.reserve_session_id_within(project, prefix, pid, None)? {
            Reserved::Id(id) => Ok(id),
            Reserved::Full(_) => unreachable!("no limit was given"),
        }
    }

    /// Reserves the next id unless `project` already has `max` sessions that are not
    /// ended or archived, counting ids other spawns hold: counting and reserving are one
    /// transaction, so processes spawning at once never overshoot the limit together.
    pub fn reserve_session_id_within(
        &mut self,
        project: &str,
        prefix: &str,
        pid: u32,
        max: Option<u32>,
    ) -> Result<Reserved, StoreError> {
        self.write(|tx| {
            if let Some(max) = max {
                let mut stmt = tx.prepare(
                    "SELECT id FROM sessions WHERE project = ?1 AND archived_at IS NULL
                       AND status NOT IN ('killed', 'merged', 'done') AND n > 0
                     UNION ALL SELECT id FROM reservations WHERE project = ?1",
                )?;
                let taken: Vec<String> = stmt
                    .query_map(params![project], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                if taken.len() >= max as usize {
                    return Ok(Reserved::Full(taken));
                }
            }
            tx.execute(
                "INSERT INTO id_counters (prefix, next) VALUES (?1, 1) ON CONFLICT (prefix) DO NOTHING",
                params![prefix],
            )?;
            // Skip numbers a session already has (a store restored from elsewhere).
            let n: i64 = tx.query_row(
                "UPDATE id_counters SET next = 1 + max(next,
                    coalesce((SELECT max(n) FROM sessions WHERE prefix = ?1), 0) + 1)
                 WHERE prefix = ?1 RETURNING next - 1",
                params![prefix],
                |r| r.get(0),
            )?;
            let id = SessionId::new(prefix, n as u64);
            tx.execute(
                "INSERT INTO reservations (id, prefix, n, project, pid, reserved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id.to_string(), prefix, n, project, pid, now_ms()],
            )?;
            Ok(Reserved::Id(id))
        })
    }

    /// Records that sessions of `prefix` exist (the orchestrator's, which takes no
    /// number), so the store never reads as one that held none.
    pub fn note_prefix(&mut self, prefix: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO id_counters (prefix, next) VALUES (?1, 1) ON CONFLICT (prefix) DO NOTHING",
            params![prefix],
        )?;
        Ok(())
    }

    /// Makes the ids `<prefix>-1` to `<prefix>-<n>` count as handed out, so no later
    /// spawn takes one (ids another system gave its sessions, which may still run).
    pub fn skip_ids_through(&mut self, prefix: &str, n: u64) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO id_counters (prefix, next) VALUES (?1, ?2)
             ON CONFLICT (prefix) DO UPDATE SET next = max(next, excluded.next)",
            params![prefix, n as i64 + 1],
        )?;
        Ok(())
    }

    /// Drops a reservation (the spawn failed or was rolled back).
    pub fn release_reservation(&mut self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.execute(
            "DELETE FROM reservations WHERE id = ?1",
            params![id.to_string()],
        )? > 0)
    }

    /// Every reservation not yet turned into a session.
    pub fn reservations(&self) -> Result<Vec<Reservation>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT prefix, n, project, pid, reserved_at FROM reservations ORDER BY prefix, n",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Reservation {
                id: SessionId::new(&r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64),
                project: r.get(2)?,
                pid: r.get::<_, i64>(3)? as u32,
                reserved_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
