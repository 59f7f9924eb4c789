//! The host's reactions, decided without I/O: from a session, its pull request's last
//! reading, what each reaction did so far and what was already handed over, the
//! reactions in force and now → what to do (send the agent something, notify, merge,
//! escalate) and which counts to forget. The host does it, claiming each act in the
//! store first so a restarted host never does it twice.
//!
//! Each reaction ao knows is one [`Definition`] (`reactions/kind.rs`): its key, its
//! defaults, its condition, what it sends or does and its words. A reaction fires on
//! its condition (`ci-failed` while CI fails, `changes-requested` while a reviewer asks
//! for changes, ...). Where the condition carries items (failing checks at a head,
//! review threads), it fires for the items not handed over yet, and each goes once;
//! otherwise it fires once while the condition holds. When the condition no longer
//! holds, its count is forgotten (what was handed over stays so). Each firing is an
//! attempt; past `retries`, or `escalateAfter` attempts or time, the human gets an
//! escalation instead, once, and the reaction stays quiet until its count is forgotten.

mod kind;

pub use kind::{Condition, Definition, ReactionKind, Trigger, keys};

use crate::config::{EscalateAfter, MergeMethodSetting, ReactionAction, ReactionConfig};
use crate::model::{Activity, Priority, Session, SessionStatus, Timestamp};
use crate::plugin::{MergeMethod, PrStatus};
use crate::store::ReactionState;
use kind::open_pr;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the planner knows of one session.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The session.
    pub session: &'a Session,
    /// Its pull request's last fresh reading, if there is one.
    pub pr: Option<&'a PrStatus>,
    /// Each reaction's attempts so far for it.
    pub states: &'a HashMap<String, ReactionState>,
    /// What was handed over for it already.
    pub sent: &'a HashSet<String>,
    /// Whether it ended while a host watched (or since the last host ran): reactions to
    /// an ended session (`agent-exited`, `pr-closed`) fire only then, never for sessions
    /// that ended long before.
    pub ended_recently: bool,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Type this into the agent; with `conflicts`, the conflicting files go after it.
    Send {
        /// The text.
        text: String,
        /// Whether to list the branch's conflicting files after the text.
        conflicts: bool,
    },
    /// Tell the human.
    Notify {
        /// How urgent.
        priority: Priority,
        /// The title.
        title: String,
        /// The text.
        body: String,
    },
    /// Merge the pull request at the head it was read at.
    Merge {
        /// How.
        method: MergeMethod,
        /// The head commit that was checked.
        head_sha: String,
        /// Whether a passed check on the head is needed even in a repository that runs no
        /// CI (`requireChecks`, default true).
        require_checks: bool,
    },
}

/// One reaction's firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The reaction's key.
    pub reaction: String,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// Whether this is the escalation to the human (then `act` is a notification).
    pub escalation: bool,
    /// What to do.
    pub act: Act,
    /// The items it hands over, recorded so they never go again.
    pub items: Vec<String>,
}

/// What the planner decided for one session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    /// The firings, in the order of the reactions' keys.
    pub plans: Vec<Plan>,
    /// Reactions whose condition no longer holds: their counts are forgotten.
    pub resets: Vec<String>,
}

/// Whether attempt `attempt` (from 1) of a reaction whose first attempt was at
/// `first_at` is past its limits.
fn past_limits(r: &ReactionConfig, attempt: u32, first_at: Timestamp, now: Timestamp) -> bool {
    r.retries.is_some_and(|n| attempt > n)
        || match r.escalate_after {
            Some(EscalateAfter::Attempts(n)) => attempt > n,
            Some(EscalateAfter::Time(d)) => now - first_at > d.0.as_millis() as i64,
            None => false,
        }
}

/// The merge method a reaction's `mergeMethod` names (default squash).
fn method(r: &ReactionConfig) -> MergeMethod {
    match r.merge_method {
        Some(MergeMethodSetting::Merge) => MergeMethod::Merge,
        Some(MergeMethodSetting::Rebase) => MergeMethod::Rebase,
        Some(MergeMethodSetting::Squash) | None => MergeMethod::Squash,
    }
}

/// The session's reactions now.
pub fn decide(
    s: &Subject<'_>,
    reactions: &BTreeMap<String, ReactionConfig>,
    now: Timestamp,
) -> Decided {
    let mut out = Decided::default();
    let id = &s.session.id;
    // Held by its provider's usage limit: nothing is sent and no nudge goes; the host
    // tells it to continue once the limit lifts.
    if s.session.activity == Some(Activity::Limited) {
        return out;
    }
    for &kind in ReactionKind::by_key() {
        let def = kind.definition();
        let key = def.key;
        let Some(r) = reactions.get(key) else {
            continue;
        };
        // A project's reactions are decided over all its sessions, not here.
        let Condition::Session(trigger) = def.condition else {
            continue;
        };
        if id.is_orchestrator() && !def.orchestrator {
            continue;
        }
        let state = s.states.get(key);
        let Some(t) = trigger(s) else {
            if state.is_some() && def.keeps_count_while != Some(s.session.status) {
                out.resets.push(key.to_owned());
            }
            continue;
        };
        let action = r.action.unwrap_or(ReactionAction::Notify);
        // `auto: false` keeps ao's hands off; a notification still goes.
        if r.auto == Some(false) && action != ReactionAction::Notify {
            continue;
        }
        // An ended session's agent takes no message (its PR may still conflict or be
        // commented on): sending would fail again at every pass.
        if action == ReactionAction::SendToAgent && s.session.status.is_terminal() {
            continue;
        }
        if state.is_some_and(|st| st.escalated) {
            continue;
        }
        let attempt = state.map_or(1, |st| st.attempts + 1);
        let first_at = state.map_or(now, |st| st.first_at);
        let fresh: Vec<&(String, String)> = t
            .items
            .iter()
            .filter(|(item, _)| !s.sent.contains(item))
            .collect();
        let fires = if t.items.is_empty() {
            state.is_none()
        } else {
            !fresh.is_empty()
        };
        let priority = r.priority.unwrap_or(Priority::Urgent);
        if past_limits(r, attempt, first_at, now) && (fires || state.is_some()) {
            let tried = attempt - 1;
            out.plans.push(Plan {
                reaction: key.to_owned(),
                attempt,
                escalation: true,
                act: Act::Notify {
                    priority,
                    title: format!("{id}: {} (escalated)", def.what),
                    body: format!(
                        "ao's `{key}` reaction ran {tried} time{} without settling it; it is yours now. `ao attach {id}` to look.",
                        if tried == 1 { "" } else { "s" }
                    ),
                },
                items: Vec::new(),
            });
            continue;
        }
        if !fires {
            continue;
        }
        let message = r.message.clone().unwrap_or_else(|| def.what.to_owned());
        let details: Vec<&str> = fresh
            .iter()
            .map(|(_, d)| d.as_str())
            .filter(|d| !d.is_empty())
            .collect();
        let act = match action {
            ReactionAction::SendToAgent => {
                let mut text = message;
                if !details.is_empty() {
                    text.push_str("\n\n");
                    text.push_str(&details.join("\n"));
                }
                Act::Send {
                    text,
                    conflicts: def.lists_conflicts,
                }
            }
            ReactionAction::Notify => Act::Notify {
                priority: r.priority.unwrap_or(Priority::Info),
                title: format!("{id}: {}", def.what),
                body: match s.pr {
                    Some(pr) => format!("{message}\n{}", pr.pr.url),
                    None => message,
                },
            },
            ReactionAction::AutoMerge => match open_pr(s) {
                Some(pr) if def.merges => Act::Merge {
                    method: method(r),
                    head_sha: pr.head_sha.clone(),
                    require_checks: r.require_checks.unwrap_or(true),
                },
                // Only an approved, green pull request is merged.
                _ => continue,
            },
        };
        out.plans.push(Plan {
            reaction: key.to_owned(),
            attempt,
            escalation: false,
            act,
            items: fresh.iter().map(|(i, _)| i.clone()).collect(),
        });
    }
    out
}

/// Whether a project's sessions are all complete: at least one, every one ended, and
/// at least one merged or done.
pub fn all_complete(sessions: &[&Session]) -> bool {
    !sessions.is_empty()
        && sessions.iter().all(|s| s.status.is_terminal())
        && sessions
            .iter()
            .any(|s| matches!(s.status, SessionStatus::Merged | SessionStatus::Done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_reactions;
    use crate::model::{PrRef, SessionId, StatusReason};
    use crate::plugin::{CheckRun, CheckState, PrState, ReviewDecision, ReviewThread};

    fn session(status: SessionStatus) -> Session {
        Session {
            status,
            ..crate::model::session_sample(&SessionId::new("app", 1))
        }
    }

    fn pr(checks: &[(&str, CheckState)], threads: &[(&str, bool)]) -> PrStatus {
        PrStatus {
            pr: PrRef {
                owner: "o".into(),
                repo: "r".into(),
                number: 7,
                url: "https://github.com/o/r/pull/7".into(),
            },
            state: PrState::Open,
            head_sha: "abc".into(),
            head_branch: String::new(),
            cross_repository: false,
            title: String::new(),
            draft: false,
            updated_at: 0,
            fingerprint: String::new(),
            checks: checks
                .iter()
                .map(|(n, st)| CheckRun {
                    id: n.to_string(),
                    name: n.to_string(),
                    required: true,
                    state: *st,
                    url: Some(format!("https://ci/{n}")),
                    log_excerpt: Some(format!("{n} broke\nsecond line")),
                })
                .collect(),
            review: ReviewDecision::ChangesRequested,
            unresolved_threads: threads
                .iter()
                .map(|(id, bot)| ReviewThread {
                    id: id.to_string(),
                    is_bot: *bot,
                    path: Some("src/a.rs".into()),
                    line: Some(3),
                    body: format!("fix {id}"),
                    author: Some("rev".into()),
                })
                .collect(),
            mergeable: false,
            conflicts: false,
            behind_base: false,
        }
    }

    fn run(
        s: &Session,
        p: Option<&PrStatus>,
        states: &HashMap<String, ReactionState>,
        sent: &HashSet<String>,
        now: Timestamp,
    ) -> Decided {
        decide(
            &Subject {
                session: s,
                pr: p,
                states,
                sent,
                ended_recently: true,
            },
            &default_reactions(),
            now,
        )
    }

    fn state(attempts: u32, first_at: Timestamp) -> ReactionState {
        ReactionState {
            attempts,
            first_at,
            last_at: first_at,
            escalated: false,
        }
    }

    #[test]
    fn a_failing_check_goes_to_the_agent_with_its_name_url_and_log_once_per_head() {
        let s = session(SessionStatus::CiFailed);
        let p = pr(
            &[("build", CheckState::Failed), ("lint", CheckState::Passed)],
            &[],
        );
        let d = run(&s, Some(&p), &HashMap::new(), &HashSet::new(), 0);
        assert_eq!(d.plans.len(), 1);
        let plan = &d.plans[0];
        assert_eq!((plan.reaction.as_str(), plan.attempt), ("ci-failed", 1));
        assert_eq!(plan.items, ["ci:abc:build"]);
        let Act::Send { text, .. } = &plan.act else {
            panic!("{plan:?}")
        };
        assert!(text.starts_with("CI fails on your pull request."));
        assert!(
            text.contains("- build (https://ci/build)\n  log:\n    build broke\n    second line")
        );
        assert!(!text.contains("lint"));
        // Handed over: not again, at that head.
        let sent = HashSet::from(["ci:abc:build".to_owned()]);
        let states = HashMap::from([("ci-failed".to_owned(), state(1, 0))]);
        assert!(run(&s, Some(&p), &states, &sent, 1).plans.is_empty());
    }

    #[test]
    fn threads_go_once_each_and_only_the_new_ones() {
        let s = session(SessionStatus::ChangesRequested);
        let p = pr(&[], &[("T1", false), ("T2", false), ("B1", true)]);
        let d = run(&s, Some(&p), &HashMap::new(), &HashSet::new(), 0);
        let keys: Vec<_> = d.plans.iter().map(|p| p.reaction.as_str()).collect();
        assert_eq!(keys, ["bugbot-comments", "changes-requested"]);
        let cr = &d.plans[1];
        assert_eq!(cr.items, ["thread:T1", "thread:T2"]);
        let Act::Send { text, .. } = &cr.act else {
            panic!()
        };
        assert!(text.contains("- src/a.rs:3 rev: fix T1\n- src/a.rs:3 rev: fix T2"));
        // T1 resolved (gone from the reading), T3 new: only T3 goes.
        let p = pr(&[], &[("T2", false), ("T3", false)]);
        let sent: HashSet<String> = ["thread:T1", "thread:T2", "thread:B1"]
            .map(String::from)
            .into();
        let states = HashMap::from([("changes-requested".to_owned(), state(1, 0))]);
        let d = run(&s, Some(&p), &states, &sent, 1);
        assert_eq!(d.plans.len(), 1, "{d:?}");
        assert_eq!(d.plans[0].items, ["thread:T3"]);
        assert_eq!(d.plans[0].attempt, 2);
        let Act::Send { text, .. } = &d.plans[0].act else {
            panic!()
        };
        assert!(!text.contains("T2"), "{text}");
    }

    #[test]
    fn past_its_retries_a_reaction_escalates_once_instead_of_acting() {
        let s = session(SessionStatus::CiFailed);
        let p = pr(&[("build", CheckState::Failed)], &[]);
        // Two attempts made (retries 2): the third is the escalation.
        let states = HashMap::from([("ci-failed".to_owned(), state(2, 0))]);
        let d = run(&s, Some(&p), &states, &HashSet::new(), 1);
        assert_eq!(d.plans.len(), 1);
        assert!(d.plans[0].escalation);
        assert!(d.plans[0].items.is_empty(), "nothing handed over");
        let Act::Notify {
            priority,
            title,
            body,
        } = &d.plans[0].act
        else {
            panic!()
        };
        assert_eq!(*priority, Priority::Urgent);
        assert_eq!(title, "app-1: CI fails (escalated)");
        assert!(body.contains("ran 2 times"));
        // Once escalated, quiet.
        let mut st = state(3, 0);
        st.escalated = true;
        let states = HashMap::from([("ci-failed".to_owned(), st)]);
        assert!(
            run(&s, Some(&p), &states, &HashSet::new(), 2)
                .plans
                .is_empty()
        );
    }

    #[test]
    fn an_escalation_after_a_time_comes_without_a_new_trigger() {
        let s = session(SessionStatus::ChangesRequested);
        let p = pr(&[], &[("T1", false)]);
        let sent = HashSet::from(["thread:T1".to_owned()]);
        let states = HashMap::from([("changes-requested".to_owned(), state(1, 0))]);
        let half_hour = 30 * 60 * 1000;
        assert!(
            run(&s, Some(&p), &states, &sent, half_hour)
                .plans
                .is_empty()
        );
        let d = run(&s, Some(&p), &states, &sent, half_hour + 1);
        assert!(d.plans[0].escalation, "{d:?}");
    }

    #[test]
    fn a_condition_that_clears_forgets_its_count() {
        let s = session(SessionStatus::PrOpen);
        let p = pr(&[("build", CheckState::Pending)], &[]);
        let states = HashMap::from([("ci-failed".to_owned(), state(2, 0))]);
        let d = run(&s, Some(&p), &states, &HashSet::new(), 1);
        assert_eq!(d.resets, ["ci-failed"]);
        assert!(d.plans.is_empty());
    }

    #[test]
    fn approved_and_green_notifies_by_default_and_merges_only_when_allowed() {
        let s = session(SessionStatus::Mergeable);
        let p = pr(&[("build", CheckState::Passed)], &[]);
        let d = run(&s, Some(&p), &HashMap::new(), &HashSet::new(), 0);
        assert!(matches!(
            &d.plans[0].act,
            Act::Notify { priority: Priority::Action, title, .. } if title == "app-1: approved and green"
        ));
        let mut reactions = default_reactions();
        let r = reactions.get_mut("approved-and-green").unwrap();
        r.auto = Some(true);
        r.action = Some(ReactionAction::AutoMerge);
        let states = HashMap::new();
        let sent = HashSet::new();
        let subject = Subject {
            session: &s,
            pr: Some(&p),
            states: &states,
            sent: &sent,
            ended_recently: false,
        };
        let d = decide(&subject, &reactions, 0);
        assert_eq!(
            d.plans[0].act,
            Act::Merge {
                method: MergeMethod::Squash,
                head_sha: "abc".into(),
                require_checks: true,
            }
        );
        // auto: false keeps its hands off the merge.
        reactions.get_mut("approved-and-green").unwrap().auto = Some(false);
        assert!(decide(&subject, &reactions, 0).plans.is_empty());
    }

    #[test]
    fn an_ended_session_is_reacted_to_only_when_it_ended_lately() {
        let mut s = session(SessionStatus::Killed);
        s.status_reason = Some(StatusReason::AgentExited);
        let (states, sent) = (HashMap::new(), HashSet::new());
        let mut subject = Subject {
            session: &s,
            pr: None,
            states: &states,
            sent: &sent,
            ended_recently: true,
        };
        let d = decide(&subject, &default_reactions(), 0);
        assert_eq!(d.plans.len(), 1);
        assert_eq!(d.plans[0].reaction, "agent-exited");
        subject.ended_recently = false;
        assert!(decide(&subject, &default_reactions(), 0).plans.is_empty());
    }

    #[test]
    fn a_session_whose_agent_ended_is_sent_nothing_and_a_finished_one_is_no_exit_alarm() {
        let mut p = pr(&[("build", CheckState::Failed)], &[("t1", true)]);
        p.conflicts = true;
        for reason in [StatusReason::AgentFinished, StatusReason::AgentExited] {
            let mut s = session(crate::lifecycle::agent_ended(None).status);
            if reason == StatusReason::AgentFinished {
                s.status = SessionStatus::Done;
            }
            s.status_reason = Some(reason);
            let d = run(&s, Some(&p), &HashMap::new(), &HashSet::new(), 0);
            assert!(
                d.plans.iter().all(|p| !matches!(p.act, Act::Send { .. })),
                "{reason}: {:?}",
                d.plans
            );
            let alarms = d
                .plans
                .iter()
                .filter(|p| p.reaction == "agent-exited")
                .count();
            assert_eq!(
                alarms,
                usize::from(reason == StatusReason::AgentExited),
                "{reason}"
            );
        }
    }

    #[test]
    fn an_idle_agent_is_nudged_once_per_idle_spell_and_escalated_past_its_retries() {
        let mut s = session(SessionStatus::Working);
        s.activity = Some(Activity::Idle);
        s.updated_at = 100;
        let d = run(&s, None, &HashMap::new(), &HashSet::new(), 0);
        assert_eq!(d.plans[0].reaction, "agent-idle");
        assert_eq!(d.plans[0].items, ["idle:100"]);
        // Busy again: the count stays.
        let states = HashMap::from([("agent-idle".to_owned(), state(1, 0))]);
        s.activity = Some(Activity::Active);
        assert!(run(&s, None, &states, &HashSet::new(), 1).resets.is_empty());
        // Idle again, later: a second nudge; after two, the human.
        s.activity = Some(Activity::Idle);
        s.updated_at = 200;
        let sent = HashSet::from(["idle:100".to_owned()]);
        let d = run(&s, None, &states, &sent, 2);
        assert_eq!((d.plans[0].attempt, d.plans[0].escalation), (2, false));
        let states = HashMap::from([("agent-idle".to_owned(), state(2, 0))]);
        s.updated_at = 300;
        assert!(run(&s, None, &states, &sent, 3).plans[0].escalation);
        // Once a PR is open the count is gone.
        s.status = SessionStatus::PrOpen;
        assert_eq!(run(&s, None, &states, &sent, 4).resets, ["agent-idle"]);
    }

    #[test]
    fn all_complete_needs_every_session_ended_and_one_merged_or_done() {
        let merged = session(SessionStatus::Merged);
        let killed = session(SessionStatus::Killed);
        let working = session(SessionStatus::Working);
        assert!(all_complete(&[&merged, &killed]));
        assert!(!all_complete(&[&killed]));
        assert!(!all_complete(&[&merged, &working]));
        assert!(!all_complete(&[]));
    }
}
