//! The host's effects, done once in outcome: each is recorded in the store's outbox as
//! due before it is done ([`Manager::enqueue`]), taken by one process while it is done,
//! and settled after with what happened ([`Manager::perform`]). The event log is written
//! at the settling, so it says what happened, not what was meant to. A process that dies
//! while doing one leaves it taken by a dead pid; the next host takes it again, and each
//! kind knows how to pick up: a message that was not confirmed is sent again, a
//! notification is delivered again, a merge reads the pull request again (merged at the
//! head decided on: done, and the notice sent; the same head still green and approved:
//! merged; otherwise dropped, saying why).

use super::{Manager, ManagerError};
use crate::exec::pid_alive;
use crate::model::{Event, EventKind, Priority, SessionId, Timestamp, now_ms};
use crate::notify::Dispatcher;
use crate::plugin::{MergeMethod, Notification};
use crate::store::{Claim, Intent, NewIntent, Settle, Settled};
use std::time::Duration;

/// Deliveries of an urgent or action notification before ao gives up on it.
pub const NOTIFY_ATTEMPTS: u32 = 4;
/// The wait before the first retry of such a notification, unless
/// `lifecycle.notifyRetryDelay` says otherwise; each next one waits four times longer
/// (30 s, 2 min, 8 min).
pub const NOTIFY_BACKOFF: Duration = Duration::from_secs(30);

/// How long a message to an agent may take (waiting for the agent included).
const SEND_DEADLINE: Duration = Duration::from_secs(120);
/// Tries of a message that fails for now (the runtime busy, not answering) before it
/// counts as failed.
const SEND_ATTEMPTS: u32 = 3;
/// The wait before such a message is tried again, when nothing said how long.
const SEND_RETRY: Duration = Duration::from_secs(30);
/// How long a notification may take, every notifier together.
const NOTIFY_DEADLINE: Duration = Duration::from_secs(60);
/// How long a merge may take: the fresh read, the CI lookup and the merge itself.
const MERGE_DEADLINE: Duration = Duration::from_secs(60);
/// Merges cut off by their deadline before ao stops trying (the merge may have gone
/// through: each try reads the pull request first).
const MERGE_ATTEMPTS: u32 = 3;
/// How long after it is taken another process may take an effect whose process still
/// lives (one that hangs): its deadline, and some.
const LEASE: Duration = Duration::from_secs(180);
/// How long settled effects are kept (for `ao` to show what the host did).
const KEEP_SETTLED: Duration = Duration::from_secs(7 * 24 * 3600);

/// A message for an agent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SendEffect {
    /// The session.
    pub session: String,
    /// The text.
    pub text: String,
    /// The items it hands over (given back if it is not delivered).
    #[serde(default)]
    pub items: Vec<String>,
    /// Whether the branch's conflicting files go after the text.
    #[serde(default)]
    pub conflicts: bool,
    /// The event stored once it is delivered.
    #[serde(default)]
    pub ran: Option<Event>,
    /// Whether this tells an agent held by its usage limit to continue.
    #[serde(default)]
    pub limit_continue: bool,
}

/// A notification for the human.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct NotifyEffect {
    /// Its title.
    pub title: String,
    /// What it tells (its priority routes it).
    pub event: Event,
    /// What it is about, by which a repeat within the dedup window is skipped.
    pub key: String,
    /// The event stored once it is delivered (the reaction that ran).
    #[serde(default)]
    pub ran: Option<Event>,
}

/// A merge of a session's pull request at the head CI vouched for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct MergeEffect {
    /// The session.
    pub session: String,
    /// How.
    pub method: MergeMethod,
    /// The head decided on.
    pub head_sha: String,
    /// `requireChecks` of the reaction.
    pub require_checks: bool,
    /// Which attempt of the reaction this is.
    pub attempt: u32,
}

/// One effect.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    Send(SendEffect),
    Notify(NotifyEffect),
    Merge(MergeEffect),
}

impl Effect {
    fn kind(&self) -> &'static str {
        match self {
            Effect::Send(_) => "send",
            Effect::Notify(_) => "notify",
            Effect::Merge(_) => "merge",
        }
    }

    fn payload(&self) -> String {
        match self {
            Effect::Send(e) => serde_json::to_string(e),
            Effect::Notify(e) => serde_json::to_string(e),
            Effect::Merge(e) => serde_json::to_string(e),
        }
        .expect("plain data serializes")
    }

    fn parse(kind: &str, payload: &str) -> Option<Effect> {
        match kind {
            "send" => serde_json::from_str(payload).ok().map(Effect::Send),
            "notify" => serde_json::from_str(payload).ok().map(Effect::Notify),
            "merge" => serde_json::from_str(payload).ok().map(Effect::Merge),
            _ => None,
        }
    }

    /// The outbox row of this effect for `owner`'s `reaction`, due at `due_at`.
    pub fn due(&self, owner: &str, reaction: &str, due_at: Timestamp) -> NewIntent {
        NewIntent {
            owner: owner.to_owned(),
            reaction: reaction.to_owned(),
            kind: self.kind(),
            payload: self.payload(),
            due_at,
        }
    }
}

/// How many of the newest effects are looked through for the messages an agent was
/// given before.
const LOOK_BACK: usize = 10_000;

/// `t` without its whitespace.
fn squash(t: &str) -> String {
    t.split_whitespace().collect()
}

/// What of a message an agent's terminal shows for sure: its first line, whitespace
/// aside, long enough to be this message, short enough to sit within one screen line.
fn first_line(text: &str) -> Option<String> {
    let first = text.lines().map(squash).find(|l| !l.is_empty())?;
    Some(first.chars().take(48).collect())
}

/// The wait before retry `n` (from 0) of an undelivered notification, in milliseconds,
/// from the first wait `first`.
pub(crate) fn backoff(first: Duration, n: u32) -> i64 {
    first.as_millis() as i64 * 4_i64.pow(n.min(8))
}

impl Manager {
    /// Records `effect` for `owner`'s `reaction` as due now; with `claim`, counts the
    /// reaction's attempt and marks its items handed over in the same transaction.
    pub(crate) fn enqueue(
        &self,
        owner: &str,
        reaction: &str,
        claim: Option<Claim<'_>>,
        effect: &Effect,
    ) -> Result<i64, ManagerError> {
        let id = self
            .store()
            .enqueue(claim, &effect.due(owner, reaction, now_ms()))?;
        super::failpoint::step("outbox-due")?;
        Ok(id)
    }

    /// The effects a process may take now: due by now, or taken by a process that is
    /// gone or whose lease ran out.
    pub(crate) fn ready_intents(&self) -> Result<Vec<Intent>, ManagerError> {
        let now = now_ms();
        let me = std::process::id();
        Ok(self
            .store()
            .pending_intents()?
            .into_iter()
            .filter(|i| match i.state.as_str() {
                "due" => i.due_at <= now,
                _ => {
                    i.lease_until.is_none_or(|l| l < now)
                        || i.pid.is_none_or(|p| p != me && !pid_alive(p))
                }
            })
            .collect())
    }

    /// Does every effect ready now, one after another, and those they lead to (the
    /// notice of a merge); for commands that act without a host.
    pub(crate) async fn perform_ready(
        &self,
        notify: &Dispatcher,
    ) -> Result<Vec<String>, ManagerError> {
        let mut done = Vec::new();
        let mut tried = std::collections::HashSet::new();
        loop {
            let ready: Vec<Intent> = self
                .ready_intents()?
                .into_iter()
                .filter(|i| !tried.contains(&i.id))
                .collect();
            if ready.is_empty() {
                return Ok(done);
            }
            for i in ready {
                tried.insert(i.id);
                done.extend(self.perform(notify, i.id).await?);
            }
        }
    }

    /// Forgets effects settled more than a week ago.
    pub(crate) fn prune_settled(&self) -> Result<(), ManagerError> {
        self.store()
            .prune_intents(now_ms() - KEEP_SETTLED.as_millis() as i64)?;
        Ok(())
    }

    /// Takes effect `id`, does it, and settles it; a line for the log. `None` when
    /// another process has it (or it is settled).
    pub(crate) async fn perform(
        &self,
        notify: &Dispatcher,
        id: i64,
    ) -> Result<Option<String>, ManagerError> {
        let pid = std::process::id();
        let now = now_ms();
        let taken =
            self.store()
                .take_intent(id, pid, now, now + LEASE.as_millis() as i64, |p| {
                    !pid_alive(p)
                })?;
        let Some(intent) = taken else {
            return Ok(None);
        };
        let (how, settle, line) = match Effect::parse(&intent.kind, &intent.payload) {
            Some(Effect::Send(e)) => self.perform_send(&intent, e).await?,
            Some(Effect::Notify(e)) => self.perform_notify(notify, &intent, e).await?,
            Some(Effect::Merge(e)) => self.perform_merge(&intent, e).await?,
            None => (
                Settled::Dropped(format!("its record ({}) could not be read", intent.kind)),
                Settle::default(),
                None,
            ),
        };
        super::failpoint::step("outbox-settle")?;
        self.store().settle_intent(id, pid, &how, &settle)?;
        Ok(line)
    }

    async fn perform_send(
        &self,
        intent: &Intent,
        e: SendEffect,
    ) -> Result<(Settled, Settle, Option<String>), ManagerError> {
        let session = e
            .session
            .parse::<SessionId>()
            .ok()
            .and_then(|id| self.store().session(&id).ok().flatten());
        let Some(s) = session.filter(|s| s.archived_at.is_none() && !s.status.is_terminal()) else {
            // Nothing goes to a session that ended after the message was decided on.
            return Ok((
                Settled::Dropped("the session ended before it was sent".into()),
                Settle::default(),
                Some(format!(
                    "{}: `{}` not sent: the session has ended",
                    e.session, intent.reaction
                )),
            ));
        };
        let mut text = e.text.clone();
        if e.conflicts
            && let Some(path) = &s.workspace_path
            && let Ok(project) = self.project(&s.project)
        {
            let base = crate::git::fetch_base(&project.path, &project.default_branch).await;
            if let Ok(files) = crate::git::conflicting_files(path, &base.reference).await
                && !files.is_empty()
            {
                text.push_str(&format!(
                    "\n\nConflicting with {}:\n{}",
                    base.reference,
                    files
                        .iter()
                        .map(|f| format!("- {f}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ));
            }
        }
        // Taken before by a process that died before it settled (no outcome of a failed
        // try): if the agent's terminal shows the message, it went.
        if intent.attempts > 1 && intent.outcome.is_none() && self.shows(&s, intent.id, &text).await
        {
            return Ok((
                Settled::Done("delivered (its terminal shows it, seen after a restart)".into()),
                delivered(e),
                None,
            ));
        }
        super::failpoint::step("outbox-send")?;
        let sent = match tokio::time::timeout(SEND_DEADLINE, self.send(&e.session, &text)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => {
                // A failure for now is the outbox's to try again, the message still
                // this reaction's attempt; any other is the reaction's (it decides again,
                // and escalates by its count).
                if let Some(after) = err.retry_after()
                    && intent.attempts < SEND_ATTEMPTS
                {
                    let wait = after.unwrap_or(SEND_RETRY);
                    let line = format!(
                        "{}: `{}` could not reach the agent for now: {err}; tried again in {} s",
                        s.id,
                        intent.reaction,
                        wait.as_secs().max(1)
                    );
                    return Ok((
                        Settled::Retry {
                            at: now_ms() + wait.as_millis() as i64,
                            why: err.to_string(),
                        },
                        Settle::default(),
                        Some(line),
                    ));
                }
                Err(err.to_string())
            }
            Err(_) => Err(format!(
                "it did not take the message within {} s",
                SEND_DEADLINE.as_secs()
            )),
        };
        Ok(match sent {
            Ok(()) => {
                let line = e.ran.as_ref().map(|r| r.message.clone()).or_else(|| {
                    e.limit_continue
                        .then(|| format!("{}: its usage limit lifted; told it to continue", s.id))
                });
                (Settled::Done("delivered".into()), delivered(e), line)
            }
            Err(why) => {
                let line = if e.limit_continue {
                    format!("{}: could not tell it to continue: {why}", s.id)
                } else {
                    format!(
                        "{}: `{}` could not reach the agent: {why}",
                        s.id, intent.reaction
                    )
                };
                (
                    Settled::Failed(why),
                    Settle {
                        // Not handed over: they go again next time.
                        give_back: e.items,
                        events: (!e.limit_continue)
                            .then(|| note(&s.project, &s.id, Priority::Warning, &line))
                            .into_iter()
                            .collect(),
                        ..Settle::default()
                    },
                    Some(line),
                )
            }
        })
    }

    /// Whether the session's terminal (its last 2,000 lines) shows `text`'s first line,
    /// whitespace aside (an agent's screen wraps and indents what it was given), more
    /// often than the messages delivered to it before effect `id` account for: many begin
    /// alike (every `ci-failed` one does), and an earlier one on the screen is not this
    /// one. An earlier one scrolled out of those lines still counts: this one goes again
    /// then, twice rather than never.
    async fn shows(&self, s: &crate::model::Session, id: i64, text: &str) -> bool {
        let Some(needle) = first_line(text) else {
            return false;
        };
        let Ok(handle) = self.live_handle(s) else {
            return false;
        };
        let Ok(runtime) = self.runtime(&handle.runtime) else {
            return false;
        };
        let owner = s.id.to_string();
        let Ok(settled) = self.store().intents(LOOK_BACK) else {
            return false;
        };
        let before = settled
            .iter()
            .filter(|i| i.id != id && i.owner == owner && i.kind == "send" && i.state == "done")
            .filter_map(|i| serde_json::from_str::<SendEffect>(&i.payload).ok())
            .filter(|e| first_line(&e.text).as_ref() == Some(&needle))
            .count();
        match runtime.output(&handle, 2_000).await {
            Ok(screen) => squash(&screen).matches(&needle).count() > before,
            Err(_) => false,
        }
    }

    /// The first wait before an undelivered notification is tried again.
    fn retry_delay(&self) -> Duration {
        self.config
            .config
            .lifecycle
            .as_ref()
            .and_then(|l| l.notify_retry_delay.as_deref())
            .and_then(crate::notify::parse_duration)
            .filter(|d| !d.is_zero())
            .unwrap_or(NOTIFY_BACKOFF)
    }

    pub(crate) fn dedup_window(&self) -> Duration {
        self.config
            .config
            .notification_dedup_window
            .as_deref()
            .and_then(crate::notify::parse_duration)
            .unwrap_or(crate::notify::DEFAULT_DEDUP_WINDOW)
    }

    async fn perform_notify(
        &self,
        notify: &Dispatcher,
        intent: &Intent,
        e: NotifyEffect,
    ) -> Result<(Settled, Settle, Option<String>), ManagerError> {
        let n = Notification {
            title: e.title.clone(),
            event: e.event.clone(),
        };
        super::failpoint::step("outbox-notify")?;
        let report = tokio::time::timeout(
            NOTIFY_DEADLINE,
            notify.notify(&self.store, &n, Some(&e.key), self.dedup_window()),
        )
        .await;
        let tried = intent.attempts;
        let ran = |e: &NotifyEffect| -> Vec<Event> {
            e.ran
                .iter()
                .map(|r| Event {
                    at: now_ms(),
                    ..r.clone()
                })
                .collect()
        };
        let why = match report {
            Ok(Ok(report)) if report.delivered() || report.skipped.is_some() => {
                let line = if tried > 1 {
                    format!("\"{}\" delivered on attempt {tried}", e.title)
                } else {
                    e.ran
                        .as_ref()
                        .map(|r| r.message.clone())
                        .unwrap_or_else(|| e.title.clone())
                };
                let outcome = match &report.skipped {
                    Some(why) => format!("skipped: {why}"),
                    None => "delivered".into(),
                };
                return Ok((
                    Settled::Done(outcome),
                    Settle {
                        events: ran(&e),
                        ..Settle::default()
                    },
                    Some(line),
                ));
            }
            Ok(Ok(report)) => report
                .outcomes
                .iter()
                .map(|(name, o)| format!("{name}: {o:?}"))
                .collect::<Vec<_>>()
                .join("; "),
            Ok(Err(err)) => err.to_string(),
            Err(_) => format!(
                "the notifiers did not finish within {} s",
                NOTIFY_DEADLINE.as_secs()
            ),
        };
        if !matches!(e.event.priority, Priority::Urgent | Priority::Action) {
            // Only what needs a human is tried again.
            return Ok((
                Settled::Failed(format!("no notifier delivered it: {why}")),
                Settle {
                    events: ran(&e),
                    ..Settle::default()
                },
                None,
            ));
        }
        if tried >= NOTIFY_ATTEMPTS {
            let message = format!(
                "gave up on \"{}\" after {tried} deliveries no notifier took",
                e.title
            );
            let gave_up = Event {
                id: 0,
                at: now_ms(),
                kind: EventKind::NotifyGaveUp {
                    key: e.key.clone(),
                    attempts: tried,
                },
                priority: Priority::Warning,
                message: message.clone(),
                ..e.event.clone()
            };
            return Ok((
                Settled::Failed(format!("no notifier took it in {tried} deliveries: {why}")),
                Settle {
                    events: ran(&e).into_iter().chain([gave_up]).collect(),
                    ..Settle::default()
                },
                Some(message),
            ));
        }
        Ok((
            Settled::Retry {
                at: now_ms() + backoff(self.retry_delay(), tried.saturating_sub(1)),
                why,
            },
            Settle::default(),
            None,
        ))
    }

    async fn perform_merge(
        &self,
        intent: &Intent,
        e: MergeEffect,
    ) -> Result<(Settled, Settle, Option<String>), ManagerError> {
        let Some(s) = e
            .session
            .parse::<SessionId>()
            .ok()
            .and_then(|id| self.store().session(&id).ok().flatten())
        else {
            return Ok((
                Settled::Dropped("the session is gone".into()),
                Settle::default(),
                None,
            ));
        };
        super::failpoint::step("outbox-merge")?;
        let merged = tokio::time::timeout(
            MERGE_DEADLINE,
            self.merge_decided(&e.session, e.method, e.require_checks, &e.head_sha),
        )
        .await;
        match merged {
            Ok(Ok(merged)) => {
                self.merged_in
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(super::react::repo_key(&merged.pr), now_ms());
                let number = merged.pr.number;
                let line = format!(
                    "{}: merged pull request #{number} at {}",
                    s.id, merged.head_sha
                );
                let ran = Event {
                    id: 0,
                    at: now_ms(),
                    project: s.project.clone(),
                    session: Some(s.id.clone()),
                    priority: Priority::Info,
                    kind: EventKind::ReactionRan {
                        reaction: intent.reaction.clone(),
                        attempt: e.attempt,
                    },
                    message: format!(
                        "{}: `{}` merged its pull request at {}",
                        s.id, intent.reaction, merged.head_sha
                    ),
                };
                let notice = NotifyEffect {
                    title: format!("{}: pull request #{number} merged", s.id),
                    event: Event {
                        priority: Priority::Action,
                        message: format!(
                            "ao merged {} at {} ({})",
                            merged.pr.url,
                            merged.head_sha,
                            if merged.checks.is_empty() {
                                "approved; no CI in the repository, and requireChecks: false"
                            } else {
                                "approved, checks passing"
                            }
                        ),
                        ..ran.clone()
                    },
                    key: "merged".into(),
                    ran: None,
                };
                Ok((
                    Settled::Done(format!("merged at {}", merged.head_sha)),
                    Settle {
                        events: vec![ran],
                        then: Some(Effect::Notify(notice).due(&intent.owner, "merged", now_ms())),
                        ..Settle::default()
                    },
                    Some(line),
                ))
            }
            Ok(Err(err)) => {
                // Decided afresh next pass: the merge is guarded by its head, so deciding
                // again is safe.
                let line = format!("{}: not merged (checked at {}): {err}", s.id, e.head_sha);
                Ok((
                    Settled::Dropped(err.to_string()),
                    Settle {
                        reset_reaction: true,
                        events: vec![note(&s.project, &s.id, Priority::Warning, &line)],
                        ..Settle::default()
                    },
                    Some(line),
                ))
            }
            Err(_) if intent.attempts < MERGE_ATTEMPTS => Ok((
                Settled::Retry {
                    at: now_ms() + 10_000,
                    why: format!(
                        "the merge did not finish within {} s",
                        MERGE_DEADLINE.as_secs()
                    ),
                },
                Settle::default(),
                None,
            )),
            Err(_) => {
                let line = format!(
                    "{}: not merged (checked at {}): the merge did not finish within {} s, {} times",
                    s.id,
                    e.head_sha,
                    MERGE_DEADLINE.as_secs(),
                    intent.attempts
                );
                Ok((
                    Settled::Failed(line.clone()),
                    Settle {
                        reset_reaction: true,
                        events: vec![note(&s.project, &s.id, Priority::Warning, &line)],
                        ..Settle::default()
                    },
                    Some(line),
                ))
            }
        }
    }
}

/// What a delivered message records: the event of the reaction that ran (at the
/// delivery), and, for a limited agent told to continue, that it was.
fn delivered(e: SendEffect) -> Settle {
    Settle {
        events: e
            .ran
            .into_iter()
            .map(|r| Event { at: now_ms(), ..r })
            .collect(),
        limit_continued: e.limit_continue.then_some(e.session),
        ..Settle::default()
    }
}

/// A plain event of a session's, for the log.
pub(crate) fn note(project: &str, session: &SessionId, priority: Priority, message: &str) -> Event {
    Event {
        id: 0,
        at: now_ms(),
        project: project.to_owned(),
        session: Some(session.clone()),
        priority,
        kind: EventKind::Manual,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn retries_wait_longer_each_time() {
        assert_eq!(
            [0, 1, 2].map(|n| backoff(NOTIFY_BACKOFF, n)),
            [30_000, 120_000, 480_000]
        );
    }

    /// The schema of a store, table by table.
    fn schema(path: &std::path::Path) -> Vec<String> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A store of the schema before the outbox (9), holding what the ao of that schema
    /// wrote: a live session, a reaction's attempt and the items it handed over, events,
    /// and an urgent notification waiting for its second retry in `jobs`. Opened by this
    /// ao, it loses nothing, and the notification is due in the outbox with its
    /// deliveries so far counted.
    #[test]
    fn a_store_from_before_the_outbox_opens_with_nothing_lost() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ao.db");
        let fresh = {
            let _ = Store::open(dir.path()).unwrap();
            schema(&db)
        };
        let mut store = Store::open(dir.path()).unwrap();
        let id = store.reserve_session_id("app", "app", 1).unwrap();
        store
            .insert_session(&crate::model::session_sample(&id))
            .unwrap();
        let owner = id.to_string();
        store
            .claim_reaction(
                &owner,
                "ci-failed",
                &["check:build@abc".into()],
                None,
                false,
            )
            .unwrap();
        let event = Event {
            id: 0,
            at: 1_000,
            project: "app".into(),
            session: Some(id.clone()),
            priority: Priority::Urgent,
            kind: EventKind::Escalated {
                reaction: "agent-stuck".into(),
            },
            message: "its agent seems stuck".into(),
        };
        store.append_event(&event).unwrap();
        // As the ao of schema 9 kept a notification to try again: title, event, key.
        let job = serde_json::json!({
            "title": "app-1: its agent seems stuck (escalated)",
            "event": event,
            "key": "escalated:agent-stuck",
        });
        let job_id = store.add_job("notify", &job.to_string(), 5_000).unwrap();
        store
            .reschedule_job(job_id, 9_000, "desktop: Failed")
            .unwrap();
        drop(store);
        // Back to schema 9: the outbox is all migration 10 adds.
        {
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.execute_batch("DROP TABLE outbox; PRAGMA user_version = 9;")
                .unwrap();
        }
        assert_ne!(schema(&db), fresh);

        let store = Store::open(dir.path()).unwrap();
        assert_eq!(schema(&db), fresh, "the migrated schema is a fresh store's");
        assert_eq!(
            store.schema_version().unwrap(),
            crate::store::SCHEMA_VERSION
        );
        let s = store.session(&id).unwrap().expect("the session is kept");
        assert_eq!(s, {
            let mut sample = crate::model::session_sample(&id);
            sample.version = s.version;
            sample
        });
        assert_eq!(
            store
                .reaction_state(&owner, "ci-failed")
                .unwrap()
                .map(|r| r.attempts),
            Some(1)
        );
        assert!(
            store
                .sent_items(&owner)
                .unwrap()
                .contains("check:build@abc")
        );
        let events = store.events(0, None, 100).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message, "its agent seems stuck");
        assert!(store.jobs().unwrap().is_empty(), "moved to the outbox");
        let due = store.pending_intents().unwrap();
        assert_eq!(due.len(), 1, "{due:?}");
        let i = &due[0];
        assert_eq!(
            (i.owner.as_str(), i.reaction.as_str(), i.state.as_str()),
            ("app-1", "escalated:agent-stuck", "due")
        );
        assert_eq!((i.attempts, i.due_at), (2, 9_000), "two deliveries so far");
        assert_eq!(i.outcome.as_deref(), Some("desktop: Failed"));
        let Some(Effect::Notify(n)) = Effect::parse(&i.kind, &i.payload) else {
            panic!("not a notification: {i:?}");
        };
        assert_eq!(n.title, "app-1: its agent seems stuck (escalated)");
        assert_eq!(n.key, "escalated:agent-stuck");
        assert_eq!(n.event.message, "its agent seems stuck");
        assert_eq!(n.ran, None);
    }
}
