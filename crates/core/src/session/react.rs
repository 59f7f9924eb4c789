//! The host's reactions, done: each firing the planner decides ([`crate::reactions`]) is
//! claimed in the store (its attempt counted, what it hands over recorded, its event
//! stored) before it acts, so a host killed mid-way and started again never does it
//! twice. Then: the agent gets the text (`send`), the human the notification (through
//! the dispatcher; an urgent or action one no notifier delivered is tried again from the
//! store), or the pull request is merged (one per repository per pass, so the next is
//! read again against the new base). Merged sessions are cleaned up; a project whose
//! sessions are all complete says so once.

use super::status::in_flight;
use super::{Manager, ManagerError};
use crate::model::{Event, EventKind, Priority, Session, SessionStatus, Timestamp, now_ms};
use crate::notify::Dispatcher;
use crate::plugin::Notification;
use crate::reactions::{Act, Plan, Subject, all_complete, decide};
use crate::store::SessionFilter;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// Deliveries of an urgent or action notification before ao gives up on it.
pub const NOTIFY_ATTEMPTS: u32 = 4;
/// The wait before the first retry of such a notification, unless
/// `lifecycle.notifyRetryDelay` says otherwise; each next one waits four times longer
/// (30 s, 2 min, 8 min).
pub const NOTIFY_BACKOFF: Duration = Duration::from_secs(30);

/// A notification due again, as its job carries it.
#[derive(serde::Serialize, serde::Deserialize)]
struct DueNotification {
    title: String,
    event: Event,
    key: String,
}

/// How long after merging the agent may still be active before its session is cleaned
/// up anyway, unless `lifecycle.mergeCleanupIdleGraceMs` says otherwise.
const MERGE_CLEANUP_GRACE: Duration = Duration::from_secs(300);

impl Manager {
    /// The sessions of `projects` (every project when empty) that are not archived, or
    /// were archived at `archived_since` or later.
    fn watched(
        &self,
        projects: &[String],
        archived_since: Option<Timestamp>,
    ) -> Result<Vec<Session>, ManagerError> {
        Ok(self
            .store()
            .sessions(&SessionFilter {
                project: None,
                include_archived: archived_since.is_some(),
            })?
            .into_iter()
            .filter(|s| {
                s.archived_at
                    .is_none_or(|at| archived_since.is_some_and(|since| at >= since))
            })
            .filter(|s| projects.is_empty() || projects.contains(&s.project))
            .collect())
    }

    /// A dispatcher over this config's notifiers.
    pub fn dispatcher(&self) -> Dispatcher {
        Dispatcher::new(&self.config, &self.registry)
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

    fn dedup_window(&self) -> Duration {
        self.config
            .config
            .notification_dedup_window
            .as_deref()
            .and_then(crate::notify::parse_duration)
            .unwrap_or(crate::notify::DEFAULT_DEDUP_WINDOW)
    }

    /// One pass of every session's reactions, then the notifications due again, the
    /// cleanup of merged sessions and the projects all complete. `since`: sessions that
    /// ended before it are not reacted to. Returns one line per thing done, for the log.
    pub async fn react(
        &self,
        notify: &Dispatcher,
        since: Timestamp,
        projects: &[String],
    ) -> Result<Vec<String>, ManagerError> {
        let mut done = Vec::new();
        let sessions = self.watched(projects, None)?;
        let snapshots = self.store().pr_snapshots()?;
        let mut merged_in: HashSet<(String, String)> = HashSet::new();
        for s in &sessions {
            if in_flight(s) {
                continue;
            }
            let Ok(project) = self.project(&s.project) else {
                continue;
            };
            let owner = s.id.to_string();
            let decided =
                self.decide_for(s, &snapshots, &project.reactions, s.updated_at >= since)?;
            for key in &decided.resets {
                self.store().reset_reaction(&owner, key)?;
            }
            for plan in decided.plans {
                // CI must vouch for the head before the merge is claimed; what holds it
                // back is said once, and looked at again next pass.
                if let Act::Merge { require_checks, .. } = plan.act
                    && let Some(pr) = snapshots.get(&s.id).map(|snap| &snap.status)
                {
                    let held = self.ci_holds(s, pr, require_checks).await?;
                    self.say_once(
                        s,
                        "ci",
                        held.as_deref()
                            .map(|why| format!("waits for CI before merging: {why}")),
                    )?;
                    if held.is_some() {
                        continue;
                    }
                }
                if let Act::Merge { .. } = plan.act
                    && let Some(p) = &s.pr
                    && !merged_in.insert((p.owner.clone(), p.repo.clone()))
                {
                    // One merge per repository per pass: the next is read again
                    // against the base this one moved.
                    continue;
                }
                if let Some(line) = self.run_plan(notify, s, &project, plan).await? {
                    done.push(line);
                }
            }
        }
        done.extend(self.handle_limits(notify).await?);
        done.extend(self.retry_notifications(notify).await?);
        done.extend(self.clean_merged(projects).await?);
        // Read again: this pass may have merged and archived some. Sessions archived since
        // the host looked still count, so a fleet cleaned up at once is complete too.
        let now_sessions = self.watched(projects, Some(since))?;
        done.extend(self.complete_projects(notify, &now_sessions, since).await?);
        Ok(done)
    }

    /// What `reactions` decide for session `s` now, from its last fresh PR reading in
    /// `snapshots` and what the store holds of its reactions.
    fn decide_for(
        &self,
        s: &Session,
        snapshots: &std::collections::HashMap<crate::model::SessionId, crate::store::PrSnapshot>,
        reactions: &BTreeMap<String, crate::config::ReactionConfig>,
        ended_recently: bool,
    ) -> Result<crate::reactions::Decided, ManagerError> {
        let owner = s.id.to_string();
        let states = self.store().reaction_states(&owner)?;
        let sent = self.store().sent_items(&owner)?;
        let pr = snapshots
            .get(&s.id)
            .filter(|snap| !snap.stale)
            .map(|snap| &snap.status)
            .filter(|st| s.pr.as_ref().is_some_and(|p| p.number == st.pr.number));
        let subject = Subject {
            session: s,
            pr,
            states: &states,
            sent: &sent,
            ended_recently,
        };
        Ok(decide(&subject, reactions, now_ms()))
    }

    /// Claims one firing, then does it.
    async fn run_plan(
        &self,
        notify: &Dispatcher,
        s: &Session,
        project: &crate::config::ResolvedProject,
        plan: Plan,
    ) -> Result<Option<String>, ManagerError> {
        let owner = s.id.to_string();
        let (kind, priority) = if plan.escalation {
            (
                EventKind::Escalated {
                    reaction: plan.reaction.clone(),
                },
                Priority::Urgent,
            )
        } else {
            (
                EventKind::ReactionRan {
                    reaction: plan.reaction.clone(),
                    attempt: plan.attempt,
                },
                Priority::Info,
            )
        };
        let summary = match &plan.act {
            Act::Send { .. } => format!(
                "{}: `{}` sent the agent {} (attempt {})",
                s.id,
                plan.reaction,
                if plan.items.is_empty() {
                    "its message".to_owned()
                } else {
                    format!(
                        "{} item{}",
                        plan.items.len(),
                        if plan.items.len() == 1 { "" } else { "s" }
                    )
                },
                plan.attempt
            ),
            Act::Notify { title, .. } if plan.escalation => format!("{title}: handed to the human"),
            Act::Notify { title, .. } => format!("{title}: notified"),
            Act::Merge { head_sha, .. } => format!(
                "{}: `{}` merges its pull request at {head_sha}",
                s.id, plan.reaction
            ),
        };
        let event = Event {
            id: 0,
            at: now_ms(),
            project: s.project.clone(),
            session: Some(s.id.clone()),
            priority,
            kind,
            message: summary.clone(),
        };
        self.store().claim_reaction(
            &owner,
            &plan.reaction,
            &plan.items,
            Some(&event),
            plan.escalation,
        )?;
        match plan.act {
            Act::Send {
                mut text,
                conflicts,
            } => {
                if conflicts && let Some(path) = &s.workspace_path {
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
                if let Err(e) = self.send(&s.id.to_string(), &text).await {
                    // Not handed over: it goes again next time.
                    self.store().unclaim_items(&owner, &plan.items)?;
                    let line = format!(
                        "{}: `{}` could not reach the agent: {e}",
                        s.id, plan.reaction
                    );
                    self.note(s, Priority::Warning, &line)?;
                    return Ok(Some(line));
                }
            }
            Act::Notify {
                priority,
                title,
                body,
            } => {
                let key = if plan.escalation {
                    format!("escalated:{}", plan.reaction)
                } else {
                    plan.reaction.clone()
                };
                let event = Event {
                    priority,
                    message: body,
                    ..event
                };
                self.deliver(notify, title, event, key).await?;
            }
            Act::Merge {
                method,
                head_sha,
                require_checks,
            } => {
                let id = s.id.to_string();
                match self.auto_merge(&id, method, require_checks).await {
                    Ok(merged) => {
                        let number = merged.pr.number;
                        let title = format!("{}: pull request #{number} merged", s.id);
                        let body = format!(
                            "ao merged {} at {} ({})",
                            merged.pr.url,
                            merged.head_sha,
                            if merged.checks.is_empty() {
                                "approved; no CI in the repository, and requireChecks: false"
                            } else {
                                "approved, checks passing"
                            }
                        );
                        let event = Event {
                            priority: Priority::Action,
                            message: body,
                            ..event
                        };
                        self.deliver(notify, title, event, "merged".into()).await?;
                        return Ok(Some(format!(
                            "{}: merged pull request #{number} at {}",
                            s.id, merged.head_sha
                        )));
                    }
                    Err(e) => {
                        // Read again next pass: the merge is guarded by its head, so
                        // trying again is safe.
                        self.store().reset_reaction(&owner, &plan.reaction)?;
                        let line = format!("{}: not merged (checked at {head_sha}): {e}", s.id);
                        self.note(s, Priority::Warning, &line)?;
                        return Ok(Some(line));
                    }
                }
            }
        }
        Ok(Some(summary))
    }

    /// Notes `line` as an event of the session's once, when it differs from the last one
    /// said under `topic`; `None` clears the topic, so the same line later is said again.
    fn say_once(&self, s: &Session, topic: &str, line: Option<String>) -> Result<(), ManagerError> {
        let key = format!("said:{topic}:{}", s.id);
        let before = self
            .store()
            .scm_state(&key)?
            .map(|(v, _)| v)
            .filter(|v| !v.is_empty());
        if before == line {
            return Ok(());
        }
        self.store()
            .set_scm_state(&key, line.as_deref().unwrap_or(""))?;
        if let Some(line) = line {
            tracing::info!("{}: {line}", s.id);
            self.note(s, Priority::Info, &format!("{}: {line}", s.id))?;
        }
        Ok(())
    }

    /// Stores an event of the session's, for `ao events` and the log.
    fn note(&self, s: &Session, priority: Priority, message: &str) -> Result<(), ManagerError> {
        self.store().append_event(&Event {
            id: 0,
            at: now_ms(),
            project: s.project.clone(),
            session: Some(s.id.clone()),
            priority,
            kind: EventKind::Manual,
            message: message.to_owned(),
        })?;
        Ok(())
    }

    /// Sends one notification; an urgent or action one that no notifier delivered is
    /// kept as a job, to be tried again.
    async fn deliver(
        &self,
        notify: &Dispatcher,
        title: String,
        event: Event,
        key: String,
    ) -> Result<(), ManagerError> {
        let n = Notification { title, event };
        let report = notify
            .notify(&self.store, &n, Some(&key), self.dedup_window())
            .await?;
        if !report.delivered()
            && report.skipped.is_none()
            && matches!(n.event.priority, Priority::Urgent | Priority::Action)
        {
            let job = DueNotification {
                title: n.title,
                event: n.event,
                key,
            };
            self.store().add_job(
                "notify",
                &serde_json::to_string(&job).unwrap_or_default(),
                now_ms() + backoff(self.retry_delay(), 0),
            )?;
        }
        Ok(())
    }

    /// Delivers the notifications due again; each that fails again waits longer, and
    /// after [`NOTIFY_ATTEMPTS`] deliveries ao gives up on it, saying so in an event.
    async fn retry_notifications(&self, notify: &Dispatcher) -> Result<Vec<String>, ManagerError> {
        let mut done = Vec::new();
        let due = self.store().due_jobs(now_ms())?;
        for job in due.into_iter().filter(|j| j.kind == "notify") {
            let Ok(due) = serde_json::from_str::<DueNotification>(&job.payload) else {
                self.store().finish_job(job.id, None)?;
                continue;
            };
            let n = Notification {
                title: due.title,
                event: due.event,
            };
            let report = notify
                .notify(&self.store, &n, Some(&due.key), self.dedup_window())
                .await?;
            // Tried: the first delivery, and one per retry.
            let tried = job.attempts + 2;
            if report.delivered() || report.skipped.is_some() {
                self.store().finish_job(job.id, None)?;
                done.push(format!("\"{}\" delivered on attempt {tried}", n.title));
            } else if tried >= NOTIFY_ATTEMPTS {
                let message = format!(
                    "gave up on \"{}\" after {tried} deliveries no notifier took",
                    n.title
                );
                self.store().finish_job(
                    job.id,
                    Some(&Event {
                        id: 0,
                        at: now_ms(),
                        kind: EventKind::NotifyGaveUp {
                            key: due.key,
                            attempts: tried,
                        },
                        priority: Priority::Warning,
                        message: message.clone(),
                        ..n.event
                    }),
                )?;
                done.push(message);
            } else {
                let why = report
                    .outcomes
                    .iter()
                    .map(|(name, o)| format!("{name}: {o:?}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                self.store().reschedule_job(
                    job.id,
                    now_ms() + backoff(self.retry_delay(), job.attempts + 1),
                    &why,
                )?;
            }
        }
        Ok(done)
    }

    /// Cleans up merged sessions (`lifecycle.autoCleanupOnMerge`, default on) once their
    /// agent is no longer active, or `lifecycle.mergeCleanupIdleGraceMs` after the merge.
    async fn clean_merged(&self, projects: &[String]) -> Result<Vec<String>, ManagerError> {
        let lc = self.config.config.lifecycle.as_ref();
        if lc.and_then(|l| l.auto_cleanup_on_merge) == Some(false) {
            return Ok(Vec::new());
        }
        let grace = lc
            .and_then(|l| l.merge_cleanup_idle_grace_ms)
            .map(Duration::from_millis)
            .unwrap_or(MERGE_CLEANUP_GRACE);
        let merged: Vec<Session> = self
            .watched(projects, None)?
            .into_iter()
            .filter(|s| s.status == SessionStatus::Merged && !in_flight(s))
            .collect();
        let mut done = Vec::new();
        for s in merged {
            if now_ms() - s.updated_at < grace.as_millis() as i64 && self.agent_busy(&s).await {
                continue;
            }
            let owner = s.id.to_string();
            // A workspace holding unsaved work is left, and said so once.
            let noted = "cleanup:held".to_owned();
            if self.store().sent_items(&owner)?.contains(&noted) {
                continue;
            }
            let report = self.cleanup_session(&s).await?;
            for item in &report.cleaned {
                done.push(format!(
                    "{}: cleaned up after its merge: {}",
                    item.session, item.detail
                ));
            }
            for item in &report.skipped {
                let line = format!(
                    "{}: not cleaned up after its merge: {}",
                    item.session, item.detail
                );
                self.store().claim_reaction(
                    &owner,
                    "cleanup",
                    std::slice::from_ref(&noted),
                    None,
                    false,
                )?;
                self.note(&s, Priority::Warning, &line)?;
                done.push(line);
            }
        }
        Ok(done)
    }

    /// `all-complete`, once per project while all its sessions are complete.
    async fn complete_projects(
        &self,
        notify: &Dispatcher,
        sessions: &[Session],
        since: Timestamp,
    ) -> Result<Vec<String>, ManagerError> {
        let mut by_project: BTreeMap<&str, Vec<&Session>> = BTreeMap::new();
        for s in sessions {
            by_project.entry(&s.project).or_default().push(s);
        }
        let mut done = Vec::new();
        for (id, list) in by_project {
            let owner = format!("@{id}");
            let Ok(project) = self.project(id) else {
                continue;
            };
            let Some(r) = project.reactions.get("all-complete") else {
                continue;
            };
            let state = self.store().reaction_state(&owner, "all-complete")?;
            let recent = list.iter().any(|s| s.updated_at >= since);
            if !all_complete(&list) {
                if state.is_some() {
                    self.store().reset_reaction(&owner, "all-complete")?;
                }
                continue;
            }
            if state.is_some()
                || !recent
                || r.auto == Some(false)
                    && r.action
                        .is_some_and(|a| a != crate::config::ReactionAction::Notify)
            {
                continue;
            }
            let merged = list
                .iter()
                .filter(|s| s.status == SessionStatus::Merged)
                .count();
            let mut body = format!(
                "every session of {id} is complete: {merged} merged, {} ended otherwise",
                list.len() - merged
            );
            if r.include_summary == Some(true) {
                for s in &list {
                    body.push_str(&format!("\n- {}: {}", s.id, s.status));
                }
            }
            let event = Event {
                id: 0,
                at: now_ms(),
                project: id.to_owned(),
                session: None,
                priority: r.priority.unwrap_or(Priority::Info),
                kind: EventKind::ReactionRan {
                    reaction: "all-complete".into(),
                    attempt: 1,
                },
                message: body,
            };
            self.store()
                .claim_reaction(&owner, "all-complete", &[], Some(&event), false)?;
            let title = format!("{id}: all sessions complete");
            self.deliver(notify, title.clone(), event, "all-complete".into())
                .await?;
            done.push(title);
        }
        Ok(done)
    }
}

/// What an agent held by a usage limit is told once the limit has lifted.
pub const CONTINUE_AFTER_LIMIT: &str =
    "Your usage limit has reset. Continue the task from where you left off.";

/// How long after the stated reset ao tells a limited agent to continue.
const CONTINUE_GRACE_MS: i64 = 5_000;

impl Manager {
    /// Agents held by their provider's usage limit: the human is told once per limit
    /// (per agent, however many sessions wait on it, and not again within
    /// `notificationDedupWindow`), and each waiting agent is told to continue once the
    /// limit has lifted.
    async fn handle_limits(&self, notify: &Dispatcher) -> Result<Vec<String>, ManagerError> {
        let limits = self.store().limits()?;
        let mut done = Vec::new();
        // One notice per agent: its sessions wait on the same account's limit.
        let mut groups: BTreeMap<String, Vec<&crate::store::AgentLimit>> = BTreeMap::new();
        for l in limits.values() {
            groups.entry(l.agent.clone()).or_default().push(l);
        }
        for (agent, group) in &groups {
            if group.iter().all(|l| l.notified) {
                continue;
            }
            // A limit read again (a redrawn screen, a reset a second off) within the
            // dedup window is the same limit.
            let key = format!("limit:{agent}");
            let told_lately = self
                .store()
                .last_delivered(None, &key)?
                .is_some_and(|at| now_ms() - at < self.dedup_window().as_millis() as i64);
            let told_before = told_lately || group.iter().any(|l| l.notified);
            for l in group {
                self.store().mark_limit(&l.session, true, false)?;
            }
            if told_before {
                continue;
            }
            let mut ids: Vec<&str> = group.iter().map(|l| l.session.as_str()).collect();
            ids.sort();
            let resets_at = group.iter().filter_map(|l| l.resets_at).max();
            let when = match resets_at {
                Some(at) => format!(
                    "it lifts at {}, and ao tells {} to continue then",
                    crate::model::time::utc_clock(at),
                    if ids.len() == 1 { "it" } else { "them" }
                ),
                None => "the CLI did not say when it lifts; `ao send SESSION continue` once it has"
                    .into(),
            };
            let project = self
                .store()
                .session(&ids[0].parse().map_err(|e: crate::model::SessionIdError| {
                    ManagerError::plain(e.to_string())
                })?)?
                .map(|s| s.project)
                .unwrap_or_default();
            let title = format!("{agent} hit its usage limit");
            let body = format!(
                "{} wait{} on it ({}); {when}. New sessions for {agent} wait too.",
                ids.len(),
                if ids.len() == 1 { "s" } else { "" },
                ids.join(", ")
            );
            let event = Event {
                id: 0,
                at: now_ms(),
                project,
                session: None,
                priority: Priority::Action,
                kind: EventKind::Limited {
                    agent: agent.clone(),
                    resets_at,
                },
                message: body,
            };
            self.store().append_event(&event)?;
            self.deliver(notify, title.clone(), event, key).await?;
            done.push(title);
        }
        let now = now_ms();
        for l in limits.values() {
            let Some(at) = l.resets_at else { continue };
            if l.continued || now < at + CONTINUE_GRACE_MS {
                continue;
            }
            match self.send(&l.session, CONTINUE_AFTER_LIMIT).await {
                Ok(_) => {
                    self.store().mark_limit(&l.session, false, true)?;
                    done.push(format!(
                        "{}: its usage limit lifted; told it to continue",
                        l.session
                    ));
                }
                Err(e) => done.push(format!("{}: could not tell it to continue: {e}", l.session)),
            }
        }
        Ok(done)
    }

    /// The usage limit that holds agent `agent` now, if one does: a session of it is
    /// limited and the limit has not lifted.
    pub fn agent_limit(
        &self,
        agent: &str,
    ) -> Result<Option<crate::store::AgentLimit>, ManagerError> {
        let now = now_ms();
        Ok(self
            .store()
            .limits()?
            .into_values()
            .filter(|l| l.agent == agent && l.resets_at.is_none_or(|at| at > now))
            .max_by_key(|l| l.resets_at.unwrap_or(i64::MAX)))
    }
}

/// The wait before retry `n` (from 0) of an undelivered notification, in milliseconds,
/// from the first wait `first`.
fn backoff(first: Duration, n: u32) -> i64 {
    first.as_millis() as i64 * 4_i64.pow(n.min(8))
}

/// The reactions `ao review-check` runs: the review threads', not the rest.
const REVIEW_REACTIONS: &[&str] = &["changes-requested", "bugbot-comments"];

impl Manager {
    /// `ao review-check`: reads the project's (or every project's) pull requests now and
    /// sends each session the unresolved review threads it has not had, as the host's
    /// `changes-requested` and `bugbot-comments` reactions would (claimed the same way,
    /// so the host never sends them again). With `dry_run`, says what would go.
    pub async fn review_check(
        &self,
        project: Option<&str>,
        dry_run: bool,
    ) -> Result<Vec<String>, ManagerError> {
        if let Some(p) = project {
            self.project(p)?;
        }
        let mut done = self.refresh_prs(project).await?.notes;
        let projects: Vec<String> = project.map(|p| vec![p.to_owned()]).unwrap_or_default();
        let sessions = self.watched(&projects, None)?;
        let snapshots = self.store().pr_snapshots()?;
        let notify = self.dispatcher();
        for s in sessions.iter().filter(|s| !in_flight(s)) {
            let Ok(p) = self.project(&s.project) else {
                continue;
            };
            let reactions: BTreeMap<String, crate::config::ReactionConfig> = p
                .reactions
                .iter()
                .filter(|(k, _)| REVIEW_REACTIONS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for plan in self.decide_for(s, &snapshots, &reactions, false)?.plans {
                if dry_run {
                    done.push(format!(
                        "{}: `{}` would send {} thread{}",
                        s.id,
                        plan.reaction,
                        plan.items.len(),
                        if plan.items.len() == 1 { "" } else { "s" }
                    ));
                } else if let Some(line) = self.run_plan(&notify, s, &p, plan).await? {
                    done.push(line);
                }
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_wait_longer_each_time() {
        assert_eq!(
            [0, 1, 2].map(|n| super::backoff(super::NOTIFY_BACKOFF, n)),
            [30_000, 120_000, 480_000]
        );
    }
}
