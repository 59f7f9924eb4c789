//! Session rows.

use super::{Store, StoreError};
use crate::model::{
    Activity, Event, EventKind, PrRef, Priority, RuntimeHandle, Session, SessionId, SessionStatus,
    StatusReason, WorkspaceClaim, now_ms,
};
use rusqlite::{OptionalExtension, Row, ToSql, params, params_from_iter};
use std::path::PathBuf;

/// Which sessions a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only this project's.
    pub project: Option<String>,
    /// Archived ones too.
    pub include_archived: bool,
}

pub(super) const COLUMNS: &str = "id, project, issue, branch, workspace_path, runtime, agent, agent_session_id, \
     pr, status, status_reason, activity, created_at, updated_at, archived_at, workspace, \
     runtime_plugin, created_branch, spawn_pid, prompt, agent_started_at, restore_pid, \
     cancel_requested_at, workspace_claim, version";

/// How many values [`COLUMNS`] names.
pub(super) const COLUMN_COUNT: usize = 25;

fn corrupt(what: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

fn from_row(r: &Row<'_>) -> Result<Result<Session, StoreError>, rusqlite::Error> {
    let id: String = r.get(0)?;
    let runtime: Option<String> = r.get(5)?;
    let pr: Option<String> = r.get(8)?;
    let status: String = r.get(9)?;
    let reason: Option<String> = r.get(10)?;
    let activity: Option<String> = r.get(11)?;
    let build = || -> Result<Session, StoreError> {
        Ok(Session {
            id: id.parse().map_err(|e| corrupt("session id", e))?,
            project: r.get(1)?,
            issue: r.get(2)?,
            branch: r.get(3)?,
            workspace_path: r.get::<_, Option<String>>(4)?.map(PathBuf::from),
            runtime: runtime
                .map(|j| serde_json::from_str::<RuntimeHandle>(&j))
                .transpose()
                .map_err(|e| corrupt("runtime handle", e))?,
            agent: r.get(6)?,
            agent_session_id: r.get(7)?,
            pr: pr
                .map(|j| serde_json::from_str::<PrRef>(&j))
                .transpose()
                .map_err(|e| corrupt("pull request", e))?,
            status: status
                .parse::<SessionStatus>()
                .map_err(|e| corrupt("status", e))?,
            status_reason: reason
                .map(|s| s.parse::<StatusReason>())
                .transpose()
                .map_err(|e| corrupt("status reason", e))?,
            activity: activity
                .map(|s| s.parse::<Activity>())
                .transpose()
                .map_err(|e| corrupt("activity", e))?,
            created_at: r.get(12)?,
            updated_at: r.get(13)?,
            archived_at: r.get(14)?,
            workspace: r.get(15)?,
            runtime_plugin: r.get(16)?,
            created_branch: r.get(17)?,
            spawn_pid: r.get::<_, Option<i64>>(18)?.map(|p| p as u32),
            prompt: r.get(19)?,
            agent_started_at: r.get(20)?,
            restore_pid: r.get::<_, Option<i64>>(21)?.map(|p| p as u32),
            cancel_requested_at: r.get(22)?,
            workspace_claim: WorkspaceClaim::from_i64(r.get(23)?)
                .ok_or_else(|| corrupt("workspace claim", "not 0 to 3"))?,
            version: r.get::<_, i64>(24)? as u64,
        })
    };
    Ok(build())
}

/// The values of [`COLUMNS`], in order.
fn column_values(s: &Session) -> Vec<Box<dyn ToSql>> {
    vec![
        Box::new(s.id.to_string()),
        Box::new(s.project.clone()),
        Box::new(s.issue.clone()),
        Box::new(s.branch.clone()),
        Box::new(
            s.workspace_path
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
        ),
        Box::new(to_json(&s.runtime)),
        Box::new(s.agent.clone()),
        Box::new(s.agent_session_id.clone()),
        Box::new(to_json(&s.pr)),
        Box::new(s.status.as_str()),
        Box::new(s.status_reason.map(|r| r.as_str())),
        Box::new(s.activity.map(|a| a.as_str())),
        Box::new(s.created_at),
        Box::new(s.updated_at),
        Box::new(s.archived_at),
        Box::new(s.workspace.clone()),
        Box::new(s.runtime_plugin.clone()),
        Box::new(s.created_branch),
        Box::new(s.spawn_pid.map(i64::from)),
        Box::new(s.prompt.clone()),
        Box::new(s.agent_started_at),
        Box::new(s.restore_pid.map(i64::from)),
        Box::new(s.cancel_requested_at),
        Box::new(s.workspace_claim.as_i64()),
        Box::new(s.version as i64),
    ]
}

/// An event a change to a session records with it, in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What happened.
    pub kind: EventKind,
    /// How urgently a human should hear of it.
    pub priority: Priority,
    /// One sentence for humans.
    pub message: String,
}

impl Change {
    /// An event of `kind`.
    pub fn new(kind: EventKind, priority: Priority, message: impl Into<String>) -> Change {
        Change {
            kind,
            priority,
            message: message.into(),
        }
    }
}

fn to_json<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref()
        .map(|v| serde_json::to_string(v).expect("plain data serializes"))
}

impl Store {
    /// Records a new session and drops its id's reservation, in one transaction.
    pub fn insert_session(&mut self, s: &Session) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut values: Vec<Box<dyn ToSql>> = vec![
                Box::new(s.id.prefix().to_owned()),
                Box::new(s.id.number() as i64),
            ];
            values.extend(column_values(s));
            tx.execute(
                &format!(
                    "INSERT INTO sessions (prefix, n, {COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                     ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
                ),
                params_from_iter(values),
            )?;
            tx.execute(
                "DELETE FROM reservations WHERE id = ?1",
                params![s.id.to_string()],
            )?;
            Ok(())
        })
    }

    /// The single write path for an existing session. In one transaction: reads the
    /// row, refuses with [`StoreError::Stale`] when `expected` is given and the row has
    /// moved past that version, lets `change` edit the fresh row (a pure function: it may
    /// run on newer state than its caller saw), writes the row back one version higher,
    /// and appends the events `change` returns, plus a `status_changed` event when the
    /// status moved and `change` did not record one itself.
    pub fn modify_session(
        &mut self,
        id: &SessionId,
        expected: Option<u64>,
        change: impl FnOnce(&mut Session) -> Vec<Change>,
    ) -> Result<Session, StoreError> {
        self.write(|tx| {
            let row = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1"),
                    params![id.to_string()],
                    from_row,
                )
                .optional()?
                .transpose()?
                .ok_or_else(|| StoreError::NoSession(id.clone()))?;
            if let Some(v) = expected
                && v != row.version
            {
                return Err(StoreError::Stale {
                    id: id.clone(),
                    expected: v,
                    found: row.version,
                });
            }
            let mut next = row.clone();
            let mut changes = change(&mut next);
            if next == row && changes.is_empty() {
                return Ok(row);
            }
            next.version = row.version + 1;
            next.updated_at = now_ms();
            if next.status != row.status
                && !changes
                    .iter()
                    .any(|c| matches!(c.kind, EventKind::StatusChanged { .. }))
            {
                let reason = next
                    .status_reason
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                changes.push(Change::new(
                    EventKind::StatusChanged {
                        from: row.status,
                        to: next.status,
                    },
                    Priority::Info,
                    format!("{id}: {} -> {}{reason}", row.status, next.status),
                ));
            }
            tx.execute(
                "UPDATE sessions SET project = ?2, issue = ?3, branch = ?4, workspace_path = ?5,
                     runtime = ?6, agent = ?7, agent_session_id = ?8, pr = ?9, status = ?10,
                     status_reason = ?11, activity = ?12, created_at = ?13, updated_at = ?14,
                     archived_at = ?15, workspace = ?16, runtime_plugin = ?17,
                     created_branch = ?18, spawn_pid = ?19, prompt = ?20,
                     agent_started_at = ?21, restore_pid = ?22, cancel_requested_at = ?23,
                     workspace_claim = ?24, version = ?25
                 WHERE id = ?1",
                params_from_iter(column_values(&next)),
            )?;
            for c in changes {
                super::events::insert_event(
                    tx,
                    &Event {
                        id: 0,
                        at: next.updated_at,
                        project: next.project.clone(),
                        session: Some(next.id.clone()),
                        priority: c.priority,
                        kind: c.kind,
                        message: c.message,
                    },
                )?;
            }
            Ok(next)
        })
    }

    /// Deletes an undone spawn's row and records `event` (what was undone), in one
    /// transaction; the id stays used.
    pub fn delete_session_with(
        &mut self,
        id: &SessionId,
        event: &Event,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM sessions WHERE id = ?1",
                params![id.to_string()],
            )?;
            tx.execute(
                "DELETE FROM reservations WHERE id = ?1",
                params![id.to_string()],
            )?;
            super::events::insert_event(tx, event)?;
            Ok(n > 0)
        })
    }

    /// One session by id, parsed now: a reader of single rows (the stream's watcher)
    /// keeps what it read itself, and a copy kept here too would double it.
    pub fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1"))?;
        let mut rows = stmt.query(params![id.to_string()])?;
        match rows.next()? {
            Some(r) => Ok(Some(from_row(r)??)),
            None => Ok(None),
        }
    }

    /// Sessions matching the filter, oldest first.
    /// Read whole, every project's, and kept: read again only once something was
    /// committed (the host reads them several times a pass, most passes changing none).
    pub fn sessions(&self, filter: &SessionFilter) -> Result<Vec<Session>, StoreError> {
        Ok(self
            .sessions_shared(filter)?
            .iter()
            .map(|s| Session::clone(s))
            .collect())
    }

    /// [`Store::sessions`], shared with the store's kept read instead of copied: for a
    /// reader that only looks.
    pub fn sessions_shared(
        &self,
        filter: &SessionFilter,
    ) -> Result<Vec<std::sync::Arc<Session>>, StoreError> {
        let moment = self.moment(super::Kept::Sessions)?;
        let slot = |parsed: &super::Parsed| {
            if filter.include_archived {
                parsed.all.clone()
            } else {
                parsed.live.clone()
            }
        };
        if let Some((at, list)) = slot(&self.parsed.borrow())
            && moment == Some(at)
        {
            return Ok(Self::of_project(&list, filter));
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sessions
             WHERE (?1 OR archived_at IS NULL)
             ORDER BY created_at, prefix, n"
        ))?;
        let mut rows = stmt.query(params![filter.include_archived])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(self.parsed_row(r)?);
        }
        // The parses of rows not seen (deleted, or archived when those were left out)
        // are forgotten: a long-running host keeps only what it reads.
        let seen: std::collections::HashSet<String> =
            out.iter().map(|s| s.id.to_string()).collect();
        let mut parsed = self.parsed.borrow_mut();
        parsed.sessions.retain(|id, _| seen.contains(id));
        let result = Self::of_project(&out, filter);
        if let Some(at) = moment {
            let kept = Some((at, std::sync::Arc::new(out)));
            if filter.include_archived {
                parsed.all = kept;
            } else {
                parsed.live = kept;
            }
        }
        Ok(result)
    }

    /// The sessions a spawn or a restore still owns (its process named on the row):
    /// what a recovery looks at, read without the rest.
    pub fn sessions_owned(&self) -> Result<Vec<Session>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sessions
             WHERE spawn_pid IS NOT NULL OR restore_pid IS NOT NULL
             ORDER BY created_at, prefix, n"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Session::clone(&*self.parsed_row(r)?));
        }
        Ok(out)
    }

    /// The sessions of the filter's project (all of them with none).
    fn of_project(
        list: &[std::sync::Arc<Session>],
        filter: &SessionFilter,
    ) -> Vec<std::sync::Arc<Session>> {
        list.iter()
            .filter(|s| filter.project.as_ref().is_none_or(|p| &s.project == p))
            .cloned()
            .collect()
    }

    /// The session of row `r`: parsed again only when one of its values changed since
    /// this connection last parsed it.
    fn parsed_row(&self, r: &Row<'_>) -> Result<std::sync::Arc<Session>, StoreError> {
        let digest = super::Digest::of_row(r, COLUMN_COUNT)?;
        let id = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let mut parsed = self.parsed.borrow_mut();
        if let Some((known, s)) = parsed.sessions.get(id)
            && *known == digest
        {
            return Ok(s.clone());
        }
        let s = std::sync::Arc::new(from_row(r)??);
        parsed.sessions.insert(id.to_owned(), (digest, s.clone()));
        Ok(s)
    }
}
