//! What an agent's own hooks last reported about a session. `ao hook`, run by the agent
//! CLI itself, writes it; `ao status` and the host read it.

use super::{Store, StoreError};
use crate::model::{Activity, SessionId};
use rusqlite::{OptionalExtension, params};

pub use ao_plugin_sdk::agent::AgentReport;

impl Store {
    /// Records a report, keeping the session id and log path already known when the new
    /// report does not carry them.
    pub fn record_agent_report(
        &mut self,
        session: &SessionId,
        report: &AgentReport,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO agent_reports (session, activity, detail, at, agent_session_id, log_path)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(session) DO UPDATE SET
                activity = excluded.activity,
                detail = excluded.detail,
                at = excluded.at,
                agent_session_id = COALESCE(excluded.agent_session_id, agent_session_id),
                log_path = COALESCE(excluded.log_path, log_path)",
            params![
                session.to_string(),
                report.activity.as_str(),
                report.detail,
                report.at,
                report.agent_session_id,
                report.log_path
            ],
        )?;
        Ok(())
    }

    /// The latest report for a session.
    pub fn agent_report(&self, session: &SessionId) -> Result<Option<AgentReport>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT activity, detail, at, agent_session_id, log_path
                 FROM agent_reports WHERE session = ?1",
            )?
            .query_row([session.to_string()], report_columns)
            .optional()?;
        row.map(ReportColumns::report).transpose()
    }

    /// Every session's latest report, by session id: one read for a whole probe.
    pub fn agent_reports(
        &self,
    ) -> Result<std::collections::HashMap<String, AgentReport>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT activity, detail, at, agent_session_id, log_path, session FROM agent_reports",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(5)?, report_columns(r)?)))?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            let (session, columns) = row?;
            // One report this ao cannot read (written by a newer one, say) costs only its
            // own session its report, as reading that one session's would.
            match columns.report() {
                Ok(report) => {
                    out.insert(session, report);
                }
                Err(e) => tracing::debug!("{session}: its agent's report is unreadable: {e}"),
            }
        }
        Ok(out)
    }

    /// Forgets a session's reports (when its agent starts again).
    pub fn clear_agent_report(&mut self, session: &SessionId) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM agent_reports WHERE session = ?1",
            [session.to_string()],
        )?;
        Ok(())
    }
}

/// An `agent_reports` row as read: activity, detail, at, agent session id, log path.
struct ReportColumns(String, Option<String>, i64, Option<String>, Option<String>);

fn report_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportColumns> {
    Ok(ReportColumns(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
    ))
}

impl ReportColumns {
    fn report(self) -> Result<AgentReport, StoreError> {
        let ReportColumns(activity, detail, at, agent_session_id, log_path) = self;
        Ok(AgentReport {
            activity: activity
                .parse::<Activity>()
                .map_err(|e| StoreError::Corrupt {
                    what: "agent report",
                    detail: e.to_string(),
                })?,
            detail,
            at,
            agent_session_id,
            log_path,
        })
    }
}

/// What an agent last said of itself with `ao report` or `ao acknowledge`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SelfReport {
    /// The state it reported, in its snake_case form (`working`, `pr_created`, ...).
    pub state: String,
    /// Its note.
    pub note: Option<String>,
    /// When.
    pub at: crate::model::Timestamp,
}

impl Store {
    /// Records what an agent said of itself.
    pub fn record_self_report(
        &mut self,
        session: &SessionId,
        report: &SelfReport,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO self_reports (session, state, note, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(session) DO UPDATE SET state = ?2, note = ?3, at = ?4",
            params![session.to_string(), report.state, report.note, report.at],
        )?;
        Ok(())
    }

    /// Every session's last self-report.
    pub fn self_reports(
        &self,
    ) -> Result<std::collections::HashMap<String, SelfReport>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT session, state, note, at FROM self_reports")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                SelfReport {
                    state: r.get(1)?,
                    note: r.get(2)?,
                    at: r.get(3)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
