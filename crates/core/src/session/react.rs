//! The host's reactions, decided: each firing the planner decides ([`crate::reactions`])
//! is recorded as due in the outbox with its attempt counted and what it hands over
//! marked, all at once ([`Manager::enqueue`]); the effect itself (a message to the agent,
//! a notification, a merge) is done and settled by [`super::outbox`]. A firing whose
//! effect is still pending is not decided again, and a merge waits while another of the
//! same repository is pending (the next is read again against the base it moved).
//! Merged sessions are cleaned up; a project whose sessions are all complete says so
//! once.

use super::outbox::{Effect, MergeEffect, NotifyEffect, SendEffect};
use super::status::in_flight;
use super::{Manager, ManagerError};
use crate::model::{Event, EventKind, Priority, Session, SessionStatus, Timestamp, now_ms};
use crate::notify::Dispatcher;
use crate::reactions::{Act, Plan, ReactionKind, Subject, all_complete, decide};
use crate::store::{Claim, SessionFilter};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// What the store held of every session's reactions when a pass began: its attempts and
/// the items it handed over, by session.
struct Known {
    states: std::collections::HashMap<
        String,
        std::collections::HashMap<String, crate::store::ReactionState>,
    >,
    sent: std::collections::HashMap<String, HashSet<String>>,
}

/// The project's reaction when all its sessions are complete, as the store names it.
const ALL_COMPLETE: &str = ReactionKind::AllComplete.key();

/// How long after merging the agent may still be active before its session is cleaned
/// up anyway, unless `lifecycle.mergeCleanupIdleGraceMs` says otherwise.
const MERGE_CLEANUP_GRACE: Duration = Duration::from_secs(300);

/// A repository as one key, whatever the case its name was written in.
pub(crate) fn repo_key(pr: &crate::model::PrRef) -> String {
    pr.repo_id().to_string().to_ascii_lowercase()
}

/// What is pending in the outbox, as the deciding pass needs it.
struct Pending {
    /// (owner, reaction) with an effect not yet settled.
    reactions: HashSet<(String, String)>,
    /// Repositories with a merge not yet settled, as [`repo_key`] names them.
    merging: HashSet<String>,
}

impl Manager {
    /// The sessions of `projects` (every project when empty) that are not archived, or
    /// were archived at `archived_since` or later.
    fn watched(
        &self,
        projects: &[String],
        archived_since: Option<Timestamp>,
    ) -> Result<Vec<std::sync::Arc<Session>>, ManagerError> {
        Ok(self
            .store()
            .sessions_shared(&SessionFilter {
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

    /// One pass of every session's reactions, outside the host: decided
    /// ([`Manager::decide_reactions`]), then every effect ready done. Returns one line per
    /// thing done, for the log.
    pub async fn react(
        &self,
        notify: &Dispatcher,
        since: Timestamp,
        projects: &[String],
    ) -> Result<Vec<String>, ManagerError> {
        let mut done = self.decide_reactions(since, projects).await?;
        done.extend(self.perform_ready(notify).await?);
        Ok(done)
    }

    /// What is pending in the outbox.
    fn pending(&self) -> Result<Pending, ManagerError> {
        let intents = self.store().pending_intents()?;
        let mut merging = HashSet::new();
        for i in intents.iter().filter(|i| i.kind == "merge") {
            if let Ok(id) = i.owner.parse()
                && let Some(s) = self.store().session(&id)?
                && let Some(pr) = s.pr
            {
                merging.insert(repo_key(&pr));
            }
        }
        Ok(Pending {
            reactions: intents.into_iter().map(|i| (i.owner, i.reaction)).collect(),
            merging,
        })
    }

    /// Decides every session's reactions and records what they do as due in the outbox;
    /// then the usage limits, the cleanup of merged sessions and the projects all
    /// complete. `since`: sessions that ended before it are not reacted to. One session
    /// that fails does not keep the others from their reactions: its failure is a line
    /// like the rest.
    pub(crate) async fn decide_reactions(
        &self,
        since: Timestamp,
        projects: &[String],
    ) -> Result<Vec<String>, ManagerError> {
        let mut done = Vec::new();
        let sessions = self.watched(projects, None)?;
        let snapshots = self.store().pr_snapshots_shared()?;
        let mut pending = self.pending()?;
        // What the store holds of every session's reactions, read once for the pass: a
        // session's own rows change only as its own reactions are decided below.
        // (Each read in a statement of its own: the store's lock is held to its end.)
        let states = self.store().all_reaction_states()?;
        let sent = self.store().all_sent_items()?;
        let known = Known { states, sent };
        for s in &sessions {
            if in_flight(s) {
                continue;
            }
            let Ok(project) = self.resolved_project(&s.project) else {
                continue;
            };
            if let Err(e) = self
                .decide_session(s, &project, &snapshots, &known, &mut pending, since)
                .await
            {
                let line = format!("{}: reactions failed: {e}", s.id);
                tracing::warn!("{line}");
                done.push(line);
            }
        }
        for (what, result) in [
            ("usage limits", self.handle_limits(&pending)),
            ("cleanup", Box::pin(self.clean_merged(projects)).await),
        ] {
            match result {
                Ok(lines) => done.extend(lines),
                Err(e) => done.push(format!("{what} failed: {e}")),
            }
        }
        // Read again: this pass may have archived some. Sessions archived since the host
        // looked still count, so a fleet cleaned up at once is complete too.
        let now_sessions = self.watched(projects, Some(since))?;
        done.extend(self.complete_projects(&now_sessions, since, &pending)?);
        Ok(done)
    }

    /// One session's reactions, decided and recorded.
    async fn decide_session(
        &self,
        s: &Session,
        project: &crate::config::ResolvedProject,
        snapshots: &std::collections::HashMap<crate::model::SessionId, crate::store::PrSnapshot>,
        known: &Known,
        pending: &mut Pending,
        since: Timestamp,
    ) -> Result<(), ManagerError> {
        let owner = s.id.to_string();
        let decided = self.decide_for(
            s,
            snapshots,
            &project.reactions,
            s.updated_at >= since,
            Some(known),
        )?;
        for key in &decided.resets {
            if !pending.reactions.contains(&(owner.clone(), key.clone())) {
                self.store().reset_reaction(&owner, key)?;
            }
        }
        for plan in decided.plans {
            // Its last effect is not settled yet: decided again once it is.
            if pending
                .reactions
                .contains(&(owner.clone(), plan.reaction.clone()))
            {
                continue;
            }
            if let Act::Merge { require_checks, .. } = plan.act {
                // CI must vouch for the head before the merge is recorded; what holds it
                // back is said once, and looked at again next pass.
                if let Some(pr) = snapshots.get(&s.id).map(|snap| &snap.status) {
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
                // One merge per repository at a time, and the next decided only on a
                // reading taken after it: against the base the merge moved.
                if let Some(p) = &s.pr {
                    let key = repo_key(p);
                    let merged_at = self
                        .merged_in
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&key)
                        .copied();
                    let read_at = snapshots.get(&s.id).map(|snap| snap.fetched_at);
                    if merged_at.is_some_and(|m| read_at.is_none_or(|r| r < m))
                        || !pending.merging.insert(key)
                    {
                        continue;
                    }
                }
            }
            pending
                .reactions
                .insert((owner.clone(), plan.reaction.clone()));
            self.enqueue_plan(s, plan)?;
        }
        Ok(())
    }

    /// What `reactions` decide for session `s` now, from its last fresh PR reading in
    /// `snapshots` and what the store holds of its reactions.
    fn decide_for(
        &self,
        s: &Session,
        snapshots: &std::collections::HashMap<crate::model::SessionId, crate::store::PrSnapshot>,
        reactions: &BTreeMap<String, crate::config::ReactionConfig>,
        ended_recently: bool,
        known: Option<&Known>,
    ) -> Result<crate::reactions::Decided, ManagerError> {
        let owner = s.id.to_string();
        let (states, sent) = match known {
            Some(k) => (
                k.states.get(&owner).cloned().unwrap_or_default(),
                k.sent.get(&owner).cloned().unwrap_or_default(),
            ),
            None => {
                // Each read in a statement of its own: the store's lock is held to its end.
                let states = self.store().reaction_states(&owner)?;
                let sent = self.store().sent_items(&owner)?;
                (states, sent)
            }
        };
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

    /// Records one firing as due: its attempt counted, its items marked handed over and
    /// its effect in the outbox, at once. The log says what it did once it is done.
    fn enqueue_plan(&self, s: &Session, plan: Plan) -> Result<i64, ManagerError> {
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
        let message = match &plan.act {
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
        let ran = Event {
            id: 0,
            at: now_ms(),
            project: s.project.clone(),
            session: Some(s.id.clone()),
            priority,
            kind,
            message,
        };
        let (key, effect) = match plan.act {
            Act::Send { text, conflicts } => (
                plan.reaction.clone(),
                Effect::Send(SendEffect {
                    session: owner.clone(),
                    text,
                    items: plan.items.clone(),
                    conflicts,
                    ran: Some(ran),
                    limit_continue: false,
                }),
            ),
            Act::Notify {
                priority,
                title,
                body,
            } => (
                plan.reaction.clone(),
                Effect::Notify(NotifyEffect {
                    title,
                    event: Event {
                        priority,
                        message: body,
                        ..ran.clone()
                    },
                    key: if plan.escalation {
                        format!("escalated:{}", plan.reaction)
                    } else {
                        plan.reaction.clone()
                    },
                    ran: Some(ran),
                }),
            ),
            Act::Merge {
                method,
                head_sha,
                require_checks,
            } => (
                plan.reaction.clone(),
                Effect::Merge(MergeEffect {
                    session: owner.clone(),
                    method,
                    head_sha,
                    require_checks,
                    attempt: plan.attempt,
                }),
            ),
        };
        self.enqueue(
            &owner,
            &key,
            Some(Claim {
                items: &plan.items,
                escalate: plan.escalation,
            }),
            &effect,
        )
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
        let merged: Vec<std::sync::Arc<Session>> = self
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
    fn complete_projects(
        &self,
        sessions: &[std::sync::Arc<Session>],
        since: Timestamp,
        pending: &Pending,
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
            let Some(r) = project.reaction(ReactionKind::AllComplete) else {
                continue;
            };
            let state = self.store().reaction_state(&owner, ALL_COMPLETE)?;
            let recent = list.iter().any(|s| s.updated_at >= since);
            if !all_complete(&list) {
                if state.is_some() {
                    self.store().reset_reaction(&owner, ALL_COMPLETE)?;
                }
                continue;
            }
            if state.is_some()
                || pending
                    .reactions
                    .contains(&(owner.clone(), ALL_COMPLETE.to_owned()))
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
                    reaction: ALL_COMPLETE.into(),
                    attempt: 1,
                },
                message: body,
            };
            let title = format!("{id}: all sessions complete");
            let effect = Effect::Notify(NotifyEffect {
                title: title.clone(),
                event: event.clone(),
                key: ALL_COMPLETE.into(),
                ran: Some(event),
            });
            let claim = Claim {
                items: &[],
                escalate: false,
            };
            self.enqueue(&owner, ALL_COMPLETE, Some(claim), &effect)?;
            done.push(format!("{title} (due)"));
        }
        Ok(done)
    }
}

/// What an agent held by a usage limit is told once the limit has lifted.
pub const CONTINUE_AFTER_LIMIT: &str =
    "Your usage limit has reset. Continue the task from where you left off.";

/// The outbox's name for telling a limited agent to continue.
const LIMIT_CONTINUE: &str = "limit-continue";

/// How long after the stated reset ao tells a limited agent to continue.
const CONTINUE_GRACE_MS: i64 = 5_000;

impl Manager {
    /// Agents held by their provider's usage limit: the human is told once per limit
    /// (per agent, however many sessions wait on it, and not again within
    /// `notificationDedupWindow`), and each waiting agent is told to continue once the
    /// limit has lifted.
    fn handle_limits(&self, pending: &Pending) -> Result<Vec<String>, ManagerError> {
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
            let told_before = told_lately
                || group.iter().any(|l| l.notified)
                || pending.reactions.iter().any(|(_, r)| r == &key);
            if told_before {
                for l in group {
                    self.store().mark_limit(&l.session, true, false)?;
                }
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
            let effect = Effect::Notify(NotifyEffect {
                title: title.clone(),
                event: event.clone(),
                key: key.clone(),
                ran: None,
            });
            // Recorded before the limits are marked told: a host stopped in between
            // tells twice at worst (and the dedup window holds the second back).
            self.enqueue(&format!("@{}", event.project), &key, None, &effect)?;
            for l in group {
                self.store().mark_limit(&l.session, true, false)?;
            }
            done.push(format!("{title} (due)"));
        }
        let now = now_ms();
        for l in limits.values() {
            let Some(at) = l.resets_at else { continue };
            if l.continued
                || now < at + CONTINUE_GRACE_MS
                || pending
                    .reactions
                    .contains(&(l.session.clone(), LIMIT_CONTINUE.to_owned()))
            {
                continue;
            }
            let effect = Effect::Send(SendEffect {
                session: l.session.clone(),
                text: CONTINUE_AFTER_LIMIT.into(),
                items: Vec::new(),
                conflicts: false,
                ran: None,
                limit_continue: true,
            });
            self.enqueue(&l.session, LIMIT_CONTINUE, None, &effect)?;
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
        let snapshots = self.store().pr_snapshots_shared()?;
        let notify = self.dispatcher();
        let pending = self.pending()?;
        let mut due = Vec::new();
        for s in sessions.iter().filter(|s| !in_flight(s)) {
            let Ok(p) = self.project(&s.project) else {
                continue;
            };
            let reactions: BTreeMap<String, crate::config::ReactionConfig> = p
                .reactions
                .iter()
                .filter(|(k, _)| {
                    ReactionKind::parse(k).is_some_and(|k| k.definition().review_check)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for plan in self
                .decide_for(s, &snapshots, &reactions, false, None)?
                .plans
            {
                if pending
                    .reactions
                    .contains(&(s.id.to_string(), plan.reaction.clone()))
                {
                    done.push(format!(
                        "{}: `{}` is already on its way",
                        s.id, plan.reaction
                    ));
                } else if dry_run {
                    done.push(format!(
                        "{}: `{}` would send {} thread{}",
                        s.id,
                        plan.reaction,
                        plan.items.len(),
                        if plan.items.len() == 1 { "" } else { "s" }
                    ));
                } else {
                    due.push(self.enqueue_plan(s, plan)?);
                }
            }
        }
        for id in due {
            done.extend(self.perform(&notify, id).await?);
        }
        Ok(done)
    }
}
