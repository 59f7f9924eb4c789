//! The watcher: notices every commit to the store, by this process or any other (`ao
//! spawn`, `ao kill`, an agent's `ao hook`), and turns it into changes. It asks SQLite
//! whether anyone committed (`data_version`, nearly free), and only then reads the small
//! columns that say which rows moved, then those rows: nothing is read whole while
//! nothing changes.

use super::state::{Change, Exit, Host, Limit, Report, SessionState, State};
use crate::model::{Activity, Event, SessionId, Timestamp};
use crate::plugin::Budget;
use crate::store::{PrMark, Store, StoreError};
use std::collections::{HashMap, HashSet};

/// How many events one read takes from the log at a time.
const PAGE: usize = 500;

/// The watcher's memory of what it last saw.
pub(crate) struct Watcher {
    store: Store,
    data_version: Option<i64>,
    versions: HashMap<SessionId, u64>,
    hooks: HashMap<String, Timestamp>,
    reports: HashMap<String, Report>,
    limits: HashMap<String, Limit>,
    exits: HashMap<SessionId, Exit>,
    pr_marks: HashMap<SessionId, PrMark>,
    /// The summaries of the session rows and the readings when last read whole: while
    /// they stay, no row of theirs moved, and neither is read again.
    sessions_mark: Option<[i64; 4]>,
    readings_mark: Option<(i64, i64, i64, Option<String>)>,
    last_event: i64,
    host: Option<String>,
    budgets: HashMap<String, String>,
}

impl Watcher {
    /// A watcher over `store`, and the state as of now (with the newest events).
    pub(crate) fn new(store: Store) -> Result<(Watcher, State), StoreError> {
        let newest = store.last_event_id()?;
        let mut w = Watcher {
            store,
            data_version: None,
            versions: HashMap::new(),
            hooks: HashMap::new(),
            reports: HashMap::new(),
            limits: HashMap::new(),
            exits: HashMap::new(),
            pr_marks: HashMap::new(),
            sessions_mark: None,
            readings_mark: None,
            last_event: (newest - super::state::RECENT_EVENTS as i64).max(0),
            host: None,
            budgets: HashMap::new(),
        };
        // An ended session's exit is in an event older than the recent ones.
        for (id, _) in w.store.session_versions()? {
            if let Some((at, kind)) = w.store.last_event_of(&id, "agent_ended")? {
                let event = Event {
                    id: 0,
                    at,
                    project: String::new(),
                    session: Some(id.clone()),
                    priority: crate::model::Priority::Info,
                    kind,
                    message: String::new(),
                };
                if let Some(exit) = Exit::of(&event) {
                    w.exits.insert(id, exit);
                }
            }
        }
        let mut state = State::default();
        for c in w.check(&state)? {
            state.apply(&c);
        }
        Ok((w, state))
    }

    /// The changes since the last check, against `shown` (the state published so far,
    /// which the hub keeps: the watcher holds no copy of its own; the caller applies
    /// them); none, at the cost of one pragma, when nobody committed. A check that
    /// fails leaves the watcher remembering nothing it read, so the next one reads the
    /// store whole and finds whatever this one did not publish.
    pub(crate) fn check(&mut self, shown: &State) -> Result<Vec<Change>, StoreError> {
        let last_event = self.last_event;
        let found = self.look(shown);
        if found.is_err() {
            self.forget(last_event);
        }
        found
    }

    /// Forgets what was read since the last event published (`last_event`).
    fn forget(&mut self, last_event: i64) {
        self.last_event = last_event;
        self.data_version = None;
        self.sessions_mark = None;
        self.readings_mark = None;
        self.versions.clear();
        self.hooks.clear();
        self.reports.clear();
        self.limits.clear();
        self.pr_marks.clear();
        self.host = None;
        self.budgets.clear();
    }

    fn look(&mut self, shown: &State) -> Result<Vec<Change>, StoreError> {
        let version = self.store.data_version()?;
        if self.data_version == Some(version) {
            return Ok(Vec::new());
        }
        // Taken before reading: a commit while this reads moves it again, and the next
        // check reads that commit.
        self.data_version = Some(version);
        let mut changes = Vec::new();
        let events = self.new_events()?;
        for e in &events {
            if let (Some(exit), Some(id)) = (Exit::of(e), &e.session) {
                self.exits.insert(id.clone(), exit);
            }
        }
        self.sessions(shown, &events, &mut changes)?;
        self.pull_requests(shown, &mut changes)?;
        changes.extend(
            events
                .into_iter()
                .map(|e| Change::Event { event: Box::new(e) }),
        );
        self.host_and_budgets(&mut changes)?;
        Ok(changes)
    }

    fn new_events(&mut self) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        loop {
            let page = self.store.events(self.last_event, None, PAGE)?;
            let Some(last) = page.last() else { break };
            self.last_event = last.id;
            let full = page.len() == PAGE;
            out.extend(page);
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// Sessions whose row, hook report, self-report, limit or exit moved, read again.
    fn sessions(
        &mut self,
        shown: &State,
        events: &[Event],
        changes: &mut Vec<Change>,
    ) -> Result<(), StoreError> {
        // The rows are read only when their summary moved.
        let mark = self.store.sessions_mark()?;
        let mut dirty: HashSet<SessionId> = HashSet::new();
        if self.sessions_mark != Some(mark) {
            let versions = self.store.session_versions()?;
            dirty.extend(
                versions
                    .iter()
                    .filter(|(id, v)| self.versions.get(*id) != Some(*v))
                    .map(|(id, _)| id.clone()),
            );
            // Gone: shown, and no longer live.
            for s in &shown.sessions {
                let id = &s.session.id;
                if !versions.contains_key(id) {
                    changes.push(Change::SessionGone { id: id.clone() });
                    self.pr_marks.remove(id);
                }
            }
            self.versions = versions;
            self.sessions_mark = Some(mark);
            // A session come or gone changes which readings are shown.
            self.readings_mark = None;
        }
        dirty.extend(
            events
                .iter()
                .filter(|e| Exit::of(e).is_some())
                .filter_map(|e| e.session.clone()),
        );
        let hooks = self.store.agent_report_marks()?;
        let reports: HashMap<String, Report> = self
            .store
            .self_reports()?
            .into_iter()
            .map(|(k, r)| {
                (
                    k,
                    Report {
                        state: r.state,
                        note: r.note,
                        at: r.at,
                    },
                )
            })
            .collect();
        let limits: HashMap<String, Limit> = self
            .store
            .limits()?
            .into_iter()
            .map(|(k, l)| {
                (
                    k,
                    Limit {
                        detail: l.detail,
                        resets_at: l.resets_at,
                        since: l.since,
                        notified: l.notified,
                        continued: l.continued,
                    },
                )
            })
            .collect();
        // The live sessions whose report or limit moved.
        let moved: Vec<SessionId> = moved_keys(&hooks, &self.hooks)
            .chain(moved_keys(&reports, &self.reports))
            .chain(moved_keys(&limits, &self.limits))
            .filter(|id| self.versions.contains_key(id))
            .collect();
        dirty.extend(moved);
        self.hooks = hooks;
        self.reports = reports;
        self.limits = limits;
        let mut dirty: Vec<SessionId> = dirty.into_iter().collect();
        dirty.sort();
        for id in dirty {
            let Some(session) = self.store.session(&id)? else {
                continue;
            };
            if session.archived_at.is_some() {
                continue;
            }
            let key = id.to_string();
            let hook = if self.hooks.contains_key(&key) {
                self.store.agent_report(&id)?
            } else {
                None
            };
            // What the hooks say it asks, while that is what it does.
            let activity_detail = hook
                .filter(|h| Some(h.activity) == session.activity && h.activity != Activity::Exited)
                .and_then(|h| h.detail);
            let next = SessionState {
                activity_detail,
                limit: self.limits.get(&key).cloned(),
                report: self.reports.get(&key).cloned(),
                agent_exit: self.exits.get(&id).cloned(),
                session,
            };
            if shown.session(&id) != Some(&next) {
                if shown.session(&id).is_none() {
                    // Its reading is news to whoever did not see it live.
                    self.pr_marks.remove(&id);
                }
                changes.push(Change::Session {
                    session: Box::new(next),
                });
            }
        }
        Ok(())
    }

    /// Readings of live sessions' pull requests that are new, confirmed or stale.
    fn pull_requests(
        &mut self,
        shown: &State,
        changes: &mut Vec<Change>,
    ) -> Result<(), StoreError> {
        // The marks are read only when their summary moved.
        let summary = self.store.pr_readings_mark()?;
        if self.readings_mark.as_ref() == Some(&summary) {
            return Ok(());
        }
        self.readings_mark = Some(summary);
        let mut marks: HashMap<SessionId, PrMark> = self
            .store
            .pr_marks()?
            .into_iter()
            .filter(|(id, _)| self.versions.contains_key(id))
            .collect();
        let moved: Vec<&SessionId> = marks
            .iter()
            .filter(|(id, m)| self.pr_marks.get(*id) != Some(*m))
            .map(|(id, _)| id)
            .collect();
        if moved.is_empty() {
            self.pr_marks = marks;
            return Ok(());
        }
        let mut moved: Vec<SessionId> = moved.into_iter().cloned().collect();
        moved.sort();
        for id in moved {
            let mark = &marks[&id];
            let known = shown.pull_requests.get(&id);
            // A confirmation (the reading itself unchanged) is told by its mark alone;
            // only a new reading is read and parsed.
            let confirmed = known.is_some()
                && self
                    .pr_marks
                    .get(&id)
                    .is_some_and(|before| before.reading == mark.reading);
            let (fetched_at, stale, error) = if confirmed {
                (mark.fetched_at, mark.stale, mark.error.clone())
            } else {
                // Its mark is the one of the row read here (a commit may have come
                // between the two reads); one that cannot be read is not marked at all,
                // so a later confirmation of it is not taken for one of what is shown.
                let Some((reading, read_mark)) = self.store.pr_snapshot(&id)? else {
                    marks.remove(&id);
                    continue;
                };
                marks.insert(id.clone(), read_mark);
                if known.is_none_or(|k| k.status != reading.status) {
                    changes.push(Change::PullRequest {
                        id: id.clone(),
                        reading: Box::new(reading),
                    });
                    continue;
                }
                (reading.fetched_at, reading.stale, reading.error)
            };
            if let Some(k) = known
                && (k.fetched_at, k.stale, &k.error) == (fetched_at, stale, &error)
            {
                continue;
            }
            changes.push(Change::PullRequestChecked {
                id: id.clone(),
                fetched_at,
                stale,
                error,
            });
        }
        self.pr_marks = marks;
        Ok(())
    }

    fn host_and_budgets(&mut self, changes: &mut Vec<Change>) -> Result<(), StoreError> {
        let host = self.store.scm_state("host")?.map(|(v, _)| v);
        if host != self.host {
            if let Some(h) = host
                .as_deref()
                .and_then(|v| serde_json::from_str::<Host>(v).ok())
            {
                changes.push(Change::Host { host: h });
            }
            self.host = host;
        }
        let budgets: HashMap<String, String> =
            self.store.scm_states("budget:")?.into_iter().collect();
        let mut keys: Vec<&String> = budgets.keys().collect();
        keys.sort();
        for key in keys {
            let value = &budgets[key];
            if self.budgets.get(key) != Some(value)
                && let Ok(budget) = serde_json::from_str::<Budget>(value)
            {
                changes.push(Change::Budget {
                    key: key.trim_start_matches("budget:").to_owned(),
                    budget,
                });
            }
        }
        self.budgets = budgets;
        Ok(())
    }
}

/// The sessions whose entry differs between `new` and `old` (nothing is looked at
/// when they are equal, as they mostly are).
fn moved_keys<'a, V: PartialEq>(
    new: &'a HashMap<String, V>,
    old: &'a HashMap<String, V>,
) -> impl Iterator<Item = SessionId> + 'a {
    let differ = new != old;
    new.keys()
        .chain(old.keys())
        .filter(move |k| differ && new.get(*k) != old.get(*k))
        .filter_map(|k| k.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, Priority, Session, SessionStatus, now_ms};

    fn session(n: u64) -> Session {
        Session {
            id: SessionId::new("app", n),
            project: "app".into(),
            issue: None,
            branch: format!("b{n}"),
            workspace_path: None,
            runtime: None,
            agent: "command".into(),
            workspace: "worktree".into(),
            runtime_plugin: "tmux".into(),
            created_branch: false,
            spawn_pid: None,
            restore_pid: None,
            cancel_requested_at: None,
            workspace_claim: Default::default(),
            version: 0,
            prompt: None,
            agent_session_id: None,
            agent_started_at: None,
            pr: None,
            status: SessionStatus::Working,
            status_reason: None,
            activity: None,
            created_at: n as i64,
            updated_at: n as i64,
            archived_at: None,
        }
    }

    fn event(session: Option<SessionId>, kind: EventKind) -> Event {
        Event {
            id: 0,
            at: now_ms(),
            project: "app".into(),
            session,
            priority: Priority::Info,
            kind,
            message: "m".into(),
        }
    }

    /// A check, its changes applied as the hub applies them.
    fn look(w: &mut Watcher, state: &mut State) -> Vec<Change> {
        let changes = w.check(state).unwrap();
        for c in &changes {
            state.apply(c);
        }
        changes
    }

    fn kinds(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                serde_json::to_value(c).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn the_watcher_sees_another_connections_commits_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Store::open(dir.path()).unwrap();
        writer.insert_session(&session(1)).unwrap();
        let (mut w, mut state) = Watcher::new(Store::open(dir.path()).unwrap()).unwrap();
        assert_eq!(state.sessions.len(), 1);
        assert!(look(&mut w, &mut state).is_empty(), "nothing committed");

        let id = SessionId::new("app", 1);
        writer
            .modify_session(&id, None, |s| {
                s.status = SessionStatus::PrOpen;
                Vec::new()
            })
            .unwrap();
        writer.insert_session(&session(2)).unwrap();
        let changes = look(&mut w, &mut state);
        // The row, the new session, then the status_changed event the write recorded.
        assert_eq!(kinds(&changes), ["session", "session", "event"]);
        assert!(look(&mut w, &mut state).is_empty());

        // A commit that changes nothing the stream shows publishes nothing.
        writer.set_scm_state("breaker:x", "{}").unwrap();
        assert!(look(&mut w, &mut state).is_empty());

        writer
            .append_event(&event(
                Some(id.clone()),
                EventKind::AgentEnded {
                    exit_code: Some(3),
                    output: "bye".into(),
                },
            ))
            .unwrap();
        let changes = look(&mut w, &mut state);
        assert_eq!(kinds(&changes), ["session", "event"]);
        assert_eq!(
            state
                .session(&id)
                .unwrap()
                .agent_exit
                .as_ref()
                .unwrap()
                .code,
            Some(3)
        );

        writer
            .modify_session(&id, None, |s| {
                s.archived_at = Some(now_ms());
                Vec::new()
            })
            .unwrap();
        assert_eq!(kinds(&look(&mut w, &mut state)), ["session_gone"]);
    }

    #[test]
    fn a_readings_confirmation_is_a_small_change_and_a_new_reading_a_whole_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Store::open(dir.path()).unwrap();
        writer.insert_session(&session(1)).unwrap();
        let id = SessionId::new("app", 1);
        let status: crate::plugin::PrStatus = serde_json::from_value(serde_json::json!({
            "pr": {"number": 1, "url": "u"},
            "state": "open",
            "head_sha": "abc",
            "checks": [],
            "review": "pending",
            "unresolved_threads": [],
            "mergeable": true
        }))
        .unwrap_or_else(|e| panic!("a PR status for the test: {e}"));
        writer.record_pr_snapshot(&id, &status, 1).unwrap();
        let (mut w, mut state) = Watcher::new(Store::open(dir.path()).unwrap()).unwrap();
        assert!(state.pull_requests.contains_key(&id));
        writer.confirm_pr_snapshot(&id, 2).unwrap();
        assert_eq!(kinds(&look(&mut w, &mut state)), ["pull_request_checked"]);
        writer.mark_pr_stale(&id, "no answer").unwrap();
        assert_eq!(kinds(&look(&mut w, &mut state)), ["pull_request_checked"]);
        // Another reason of the same length is news too.
        writer.mark_pr_stale(&id, "no reply!").unwrap();
        assert_eq!(kinds(&look(&mut w, &mut state)), ["pull_request_checked"]);
        assert_eq!(state.pull_requests[&id].error.as_deref(), Some("no reply!"));
        let mut moved = status.clone();
        moved.head_sha = "def".into();
        writer.record_pr_snapshot(&id, &moved, 3).unwrap();
        assert_eq!(kinds(&look(&mut w, &mut state)), ["pull_request"]);
        assert_eq!(state.pull_requests[&id].status.head_sha, "def");
        // A commit that touches no reading reads none.
        writer.set_scm_state("breaker:x", "{}").unwrap();
        assert!(look(&mut w, &mut state).is_empty());
        writer
            .confirm_pr_snapshots(std::slice::from_ref(&id), 4)
            .unwrap();
        assert_eq!(kinds(&look(&mut w, &mut state)), ["pull_request_checked"]);
        // The same reading recorded again is a confirmation.
        writer.record_pr_snapshot(&id, &moved, 5).unwrap();
        assert_eq!(kinds(&look(&mut w, &mut state)), ["pull_request_checked"]);
        assert_eq!(state.pull_requests[&id].fetched_at, 5);

        // A reading this ao cannot read (one a newer ao wrote) shows nothing, and its
        // confirmation is not taken for a confirmation of the reading shown.
        let raw = rusqlite::Connection::open(dir.path().join(crate::store::DB_FILE)).unwrap();
        raw.execute(
            "UPDATE pr_snapshots SET status = '{\"from\": \"a newer ao\"}', fetched_at = 6",
            [],
        )
        .unwrap();
        assert!(look(&mut w, &mut state).is_empty());
        raw.execute("UPDATE pr_snapshots SET fetched_at = 7", [])
            .unwrap();
        assert!(look(&mut w, &mut state).is_empty());
        assert_eq!(state.pull_requests[&id].fetched_at, 5);
    }

    #[test]
    fn a_session_reads_back_as_it_was_sent_and_keeps_its_place() {
        let state = |n: u64| SessionState {
            session: session(n),
            activity_detail: Some("Allow?".into()),
            limit: Some(Limit {
                detail: "limit".into(),
                resets_at: Some(5),
                since: 1,
                notified: true,
                continued: false,
            }),
            report: None,
            agent_exit: Some(Exit {
                code: Some(1),
                output: "out".into(),
                at: 2,
            }),
        };
        let text = serde_json::to_string(&state(1)).unwrap();
        let back: SessionState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state(1));
        // Oldest first, whatever order they come in.
        let mut all = State::default();
        for n in [3, 1, 2] {
            all.apply(&Change::Session {
                session: Box::new(state(n)),
            });
        }
        let ids: Vec<String> = all
            .sessions
            .iter()
            .map(|s| s.session.id.to_string())
            .collect();
        assert_eq!(ids, ["app-1", "app-2", "app-3"]);
    }
}
