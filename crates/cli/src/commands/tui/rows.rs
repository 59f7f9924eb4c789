//! What the list shows: the fleet grouped by attention zone, each session as one row of
//! plain text. A pure function of the stream's state, so it is tested without a terminal.

use ao_core::config::AttentionZones;
use ao_core::model::{Activity, SessionId, SessionStatus};
use ao_core::plugin::PrState;
use ao_core::stream::{SessionState, State};
use ao_core::zones::{self, Zone};

/// One zone's sessions, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The zone.
    pub zone: Zone,
    /// Its sessions.
    pub rows: Vec<Row>,
}

/// One session, as a row shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The session.
    pub id: SessionId,
    /// Its project.
    pub project: String,
    /// Its tracker issue, or empty.
    pub issue: String,
    /// Its agent plugin.
    pub agent: String,
    /// What the agent does: its question while it asks one, the limit while it waits
    /// on one, else its activity (or status).
    pub activity: String,
    /// Whether it waits on the human (a question, a limit, an exit).
    pub asks: bool,
    /// Its pull request: number, address and state (`open`, `merged`, `closed`).
    pub pr: Option<(u64, String, &'static str)>,
    /// CI on its head (`passed`, `failed`, `pending`, `none`).
    pub ci: &'static str,
    /// Its review (`approved`, `changes_requested`, `pending`).
    pub review: &'static str,
    /// Whether the pull request conflicts with its base.
    pub conflicts: bool,
    /// When it was created (milliseconds since the epoch).
    pub created_at: i64,
}

/// The sessions of `state` in the zones of `zones`, only `project`'s when given, only
/// those matching `search` (any of id, issue, branch, agent, activity; any case) when it
/// is not empty. Zones without a session are left out.
pub fn groups(
    state: &State,
    zones: AttentionZones,
    project: Option<&str>,
    search: &str,
    now_ms: i64,
) -> Vec<Group> {
    let needle = search.to_lowercase();
    let mut out: Vec<Group> = Zone::shown(zones)
        .iter()
        .map(|&zone| Group {
            zone,
            rows: Vec::new(),
        })
        .collect();
    for s in &state.sessions {
        if project.is_some_and(|p| s.session.project != p) {
            continue;
        }
        let pr = state.pull_requests.get(&s.session.id);
        let zone = zones::zone(s, pr, zones);
        let row = row(s, state, now_ms);
        if !needle.is_empty() && !matches(s, &row, &needle) {
            continue;
        }
        if let Some(g) = out.iter_mut().find(|g| g.zone == zone) {
            g.rows.push(row);
        }
    }
    out.retain(|g| !g.rows.is_empty());
    out
}

fn matches(s: &SessionState, row: &Row, needle: &str) -> bool {
    [
        &s.session.id.to_string(),
        &row.issue,
        &s.session.branch,
        &row.agent,
        &row.activity,
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(needle))
}

/// The row of one session.
pub fn row(s: &SessionState, state: &State, now_ms: i64) -> Row {
    let session = &s.session;
    let reading = state.pull_requests.get(&session.id).map(|p| &p.status);
    let (activity, asks) = activity(s, now_ms);
    Row {
        id: session.id.clone(),
        project: session.project.clone(),
        issue: session.issue.clone().unwrap_or_default(),
        agent: session.agent.clone(),
        activity,
        asks,
        pr: session.pr.as_ref().map(|p| {
            let state = match reading.map(|r| r.state) {
                Some(PrState::Merged) => "merged",
                Some(PrState::Closed) => "closed",
                _ => "open",
            };
            (p.number, p.url.clone(), state)
        }),
        ci: reading.map(|r| zones::ci(&r.checks)).unwrap_or("none"),
        review: reading
            .map(|r| zones::review(r.review))
            .unwrap_or("pending"),
        conflicts: reading.is_some_and(|r| r.conflicts),
        created_at: session.created_at,
    }
}

fn activity(s: &SessionState, now_ms: i64) -> (String, bool) {
    let session = &s.session;
    if let Some(q) = zones::question(s) {
        return (q.to_owned(), true);
    }
    if let Some(limit) = &s.limit {
        let when = match limit.resets_at {
            Some(at) if at > now_ms => format!("; lifts in {}", span(at - now_ms)),
            Some(_) => "; should have lifted".to_owned(),
            None => String::new(),
        };
        return (format!("limited{when}"), true);
    }
    if session.status == SessionStatus::Killed {
        return match session.status_reason {
            Some(r) => (format!("killed ({r})"), true),
            None => ("killed".to_owned(), false),
        };
    }
    match session.activity {
        Some(a @ (Activity::Exited | Activity::Blocked | Activity::WaitingInput)) => {
            (a.to_string(), true)
        }
        Some(a) => (a.to_string(), false),
        None => (session.status.to_string(), false),
    }
}

/// How long since `ms`, in one unit: `42s`, `5m`, `3h`, `2d`.
pub fn age(ms: i64, now_ms: i64) -> String {
    span(now_ms - ms)
}

/// A length of time in one unit, rounded down.
fn span(ms: i64) -> String {
    match ms.max(0) / 1000 {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The live sessions in the order the list shows them, for moving the selection.
pub fn order(groups: &[Group]) -> Vec<&SessionId> {
    groups
        .iter()
        .flat_map(|g| g.rows.iter().map(|r| &r.id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ao_core::stream::Change;

    fn session(n: u32, status: &str, activity: Option<&str>) -> SessionState {
        let json = serde_json::json!({
            "id": format!("app-{n}"), "project": "app", "issue": format!("#{n}"), "branch": format!("b{n}"),
            "workspace_path": null, "runtime": null, "agent": "command",
            "workspace": "worktree", "runtime_plugin": "tmux", "created_branch": true,
            "spawn_pid": null, "prompt": null, "agent_session_id": null, "pr": null,
            "status": status, "status_reason": null, "activity": activity,
            "created_at": n, "updated_at": n, "archived_at": null,
        });
        SessionState {
            session: serde_json::from_value(json).unwrap(),
            activity_detail: None,
            limit: None,
            report: None,
            agent_exit: None,
        }
    }

    fn state(sessions: Vec<SessionState>) -> State {
        let mut state = State::default();
        for s in sessions {
            state.apply(&Change::Session {
                session: Box::new(s),
            });
        }
        state
    }

    fn ids(groups: &[Group]) -> Vec<(Zone, Vec<String>)> {
        groups
            .iter()
            .map(|g| (g.zone, g.rows.iter().map(|r| r.id.to_string()).collect()))
            .collect()
    }

    #[test]
    fn sessions_fall_in_their_zones_in_the_configured_set() {
        let mut asks = session(2, "needs_input", Some("waiting_input"));
        asks.activity_detail = Some("Allow edit of src/lib.rs?".into());
        let s = state(vec![
            session(1, "working", Some("active")),
            asks,
            session(3, "ci_failed", Some("ready")),
            session(4, "approved", Some("idle")),
        ]);
        let simple = groups(&s, AttentionZones::Simple, None, "", 10);
        assert_eq!(
            ids(&simple),
            vec![
                (Zone::Merge, vec!["app-4".into()]),
                (Zone::Action, vec!["app-2".into(), "app-3".into()]),
                (Zone::Working, vec!["app-1".into()]),
            ]
        );
        let detailed = groups(&s, AttentionZones::Detailed, None, "", 10);
        assert_eq!(detailed[1].zone, Zone::Respond);
        assert_eq!(detailed[1].rows[0].activity, "Allow edit of src/lib.rs?");
        assert!(detailed[1].rows[0].asks);
        assert_eq!(detailed[2].zone, Zone::Review);
    }

    #[test]
    fn the_project_and_the_search_narrow_the_list() {
        let mut other = session(5, "working", Some("active"));
        other.session.project = "web".into();
        let s = state(vec![
            session(1, "working", Some("active")),
            session(2, "working", Some("ready")),
            other,
        ]);
        let only_app = groups(&s, AttentionZones::Simple, Some("app"), "", 10);
        assert_eq!(only_app[0].rows.len(), 2);
        let found = groups(&s, AttentionZones::Simple, None, "READY", 10);
        assert_eq!(ids(&found), vec![(Zone::Working, vec!["app-2".into()])]);
        assert!(groups(&s, AttentionZones::Simple, None, "nothing like it", 10).is_empty());
    }

    #[test]
    fn a_limit_says_when_it_lifts() {
        let mut s = session(1, "working", Some("limited"));
        s.limit = Some(ao_core::stream::Limit {
            detail: "usage limit".into(),
            resets_at: Some(3_600_000 + 1_000),
            since: 0,
            notified: false,
            continued: false,
        });
        let st = state(vec![s]);
        let r = &groups(&st, AttentionZones::Simple, None, "", 1_000)[0].rows[0];
        assert_eq!(r.activity, "limited; lifts in 1h");
        assert_eq!(age(0, 90_000), "1m");
    }
}
