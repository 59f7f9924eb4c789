//! The lifecycle's one transition function: (the session's status, what was observed,
//! the policy, now) → its new status and why. No I/O: the host observes, this decides,
//! and the single write path stores the result with its events.
//!
//! The order is the one a human needs: facts about the agent first (it exited; it waits
//! for an answer), then the pull request's, most decisive first: merged → closed → CI
//! failing → changes requested → mergeable → approved → review pending → open; with no
//! pull request, working. `stuck` replaces working, pr_open or review_pending when the
//! agent showed no activity for the stuck threshold. An agent that ends by itself ends its
//! session: `done (agent_finished)` with exit code 0 (a one-shot CLI did its task), else
//! `killed (agent_exited)`. An ended session stays ended, except that one whose agent
//! ended by itself still follows its pull request to merged or closed; and a reading that
//! failed (an API error, a stale snapshot) changes nothing it would decide.

use crate::model::{Activity, SessionStatus, StatusReason, Timestamp};
use crate::plugin::{CheckState, PrState, PrStatus, ReviewDecision};

/// What the host saw of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentFact {
    /// Its process runs, doing this (if known), last active at this time (if known).
    Running {
        /// What it is doing.
        activity: Option<Activity>,
        /// When it last showed activity.
        last_active_at: Option<Timestamp>,
    },
    /// Its process has ended by itself, with this exit code (when the runtime tells).
    Exited {
        /// The exit code.
        code: Option<i32>,
    },
    /// Its runtime is gone (the tmux session killed by hand, the machine rebooted).
    Gone,
    /// The probe could not tell.
    Unknown,
}

/// What the host knows of the session's pull request.
#[derive(Debug, Clone, PartialEq)]
pub enum PrFact {
    /// It has none.
    None,
    /// Its latest reading, fresh.
    Read(Box<PrStatus>),
    /// No fresh reading (an API error, the breaker open): nothing may be concluded.
    Unknown,
}

/// One observation of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The agent.
    pub agent: AgentFact,
    /// Its pull request.
    pub pr: PrFact,
}

/// What the user's config decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// After how long without activity an agent counts as stuck (the `agent-stuck`
    /// reaction's threshold); None: never.
    pub stuck_after_ms: Option<i64>,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The status.
    pub status: SessionStatus,
    /// Why, where the status alone does not say.
    pub reason: Option<StatusReason>,
}

/// What an agent's own exit makes of its session: exit code 0 says it did its task (a
/// one-shot CLI), so the session is `done (agent_finished)`; any other code, or none
/// known, `killed (agent_exited)`.
pub fn agent_ended(code: Option<i32>) -> Decision {
    match code {
        Some(0) => Decision {
            status: SessionStatus::Done,
            reason: Some(StatusReason::AgentFinished),
        },
        _ => Decision {
            status: SessionStatus::Killed,
            reason: Some(StatusReason::AgentExited),
        },
    }
}

/// Whether a session ended because its agent ended by itself: its work may still become
/// a merged or closed pull request.
pub fn ended_by_agent(d: Decision) -> bool {
    matches!(
        (d.status, d.reason),
        (SessionStatus::Done, Some(StatusReason::AgentFinished))
            | (SessionStatus::Killed, Some(StatusReason::AgentExited))
    )
}

/// Whether the session's pull request is still looked for and can still move it: a live
/// session's, and one whose agent ended by itself.
pub fn follows_pr(d: Decision) -> bool {
    !d.status.is_terminal() || ended_by_agent(d)
}

/// What the pull request alone says.
fn from_pr(pr: &PrStatus) -> Decision {
    let status = |status| Decision {
        status,
        reason: None,
    };
    match pr.state {
        PrState::Merged => return status(SessionStatus::Merged),
        PrState::Closed => {
            return Decision {
                status: SessionStatus::Done,
                reason: Some(StatusReason::PrClosed),
            };
        }
        PrState::Open => {}
    }
    let failing = pr.checks.iter().any(|c| c.state == CheckState::Failed);
    let pending = pr.checks.iter().any(|c| c.state == CheckState::Pending);
    if failing {
        status(SessionStatus::CiFailed)
    } else if pr.review == ReviewDecision::ChangesRequested {
        status(SessionStatus::ChangesRequested)
    } else if pr.review == ReviewDecision::Approved && pr.mergeable && !pending {
        status(SessionStatus::Mergeable)
    } else if pr.review == ReviewDecision::Approved {
        status(SessionStatus::Approved)
    } else if !pending && !pr.checks.is_empty() {
        status(SessionStatus::ReviewPending)
    } else {
        status(SessionStatus::PrOpen)
    }
}

/// The session's new status after `obs`, from `prev` (its status and reason now).
pub fn transition(prev: Decision, obs: &Observation, policy: &Policy, now: Timestamp) -> Decision {
    // A spawn in progress is the spawn's to decide.
    if prev.status == SessionStatus::Spawning {
        return prev;
    }
    // Ended stays ended; an agent that ended by itself may have left a pull request,
    // whose merge or close still says how the work ended.
    if prev.status.is_terminal() {
        return match &obs.pr {
            PrFact::Read(pr) if ended_by_agent(prev) && pr.state != PrState::Open => from_pr(pr),
            _ => prev,
        };
    }
    // The PR's decisive facts (merged, closed) end the session whatever the agent does.
    if let PrFact::Read(pr) = &obs.pr
        && pr.state != PrState::Open
    {
        return from_pr(pr);
    }
    match obs.agent {
        AgentFact::Exited { code } => return agent_ended(code),
        AgentFact::Gone => {
            return Decision {
                status: SessionStatus::Killed,
                reason: Some(StatusReason::RuntimeLost),
            };
        }
        AgentFact::Running {
            activity: Some(Activity::WaitingInput),
            ..
        } => {
            return Decision {
                status: SessionStatus::NeedsInput,
                reason: None,
            };
        }
        _ => {}
    }
    let by_pr = match &obs.pr {
        PrFact::Read(pr) => from_pr(pr),
        PrFact::None => Decision {
            status: SessionStatus::Working,
            reason: None,
        },
        // Nothing fresh: what the PR said last stands (never a guess from an error);
        // a session that waited for an answer and no longer does is working again.
        PrFact::Unknown => match prev.status {
            SessionStatus::NeedsInput | SessionStatus::Stuck | SessionStatus::Errored => Decision {
                status: SessionStatus::Working,
                reason: None,
            },
            _ => prev,
        },
    };
    let quiet_since = match obs.agent {
        AgentFact::Running {
            last_active_at: Some(t),
            activity,
        } if !matches!(activity, Some(Activity::Active | Activity::Limited)) => Some(t),
        _ => None,
    };
    let stuckable = matches!(
        by_pr.status,
        SessionStatus::Working | SessionStatus::PrOpen | SessionStatus::ReviewPending
    );
    // An observation that does not say when the agent was last active (a PR reading) is
    // no sign it moved: a stuck agent stays stuck, so its PR changing does not make it
    // flap (stuck → pr_open → stuck, and `agent-stuck` firing again).
    let still_stuck = prev.status == SessionStatus::Stuck
        && matches!(
            obs.agent,
            AgentFact::Running {
                last_active_at: None,
                activity,
            } if !matches!(activity, Some(Activity::Active | Activity::Limited))
        );
    let stuck = stuckable
        && (still_stuck
            || policy
                .stuck_after_ms
                .zip(quiet_since)
                .is_some_and(|(after, since)| now - since >= after));
    if stuck {
        Decision {
            status: SessionStatus::Stuck,
            reason: None,
        }
    } else {
        by_pr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PrRef;
    use crate::plugin::CheckRun;

    fn pr(
        state: PrState,
        checks: &[CheckState],
        review: ReviewDecision,
        mergeable: bool,
    ) -> PrStatus {
        PrStatus {
            pr: PrRef {
                owner: "o".into(),
                repo: "r".into(),
                number: 1,
                url: String::new(),
            },
            state,
            head_sha: "abc".into(),
            head_branch: String::new(),
            cross_repository: false,
            title: String::new(),
            draft: false,
            updated_at: 0,
            fingerprint: String::new(),
            checks: checks
                .iter()
                .enumerate()
                .map(|(i, s)| CheckRun {
                    id: i.to_string(),
                    name: format!("c{i}"),
                    required: true,
                    state: *s,
                    url: None,
                    log_excerpt: None,
                })
                .collect(),
            review,
            unresolved_threads: Vec::new(),
            mergeable,
            conflicts: false,
            behind_base: false,
        }
    }

    fn working() -> Decision {
        Decision {
            status: SessionStatus::Working,
            reason: None,
        }
    }

    fn running(activity: Activity, last: Timestamp) -> AgentFact {
        AgentFact::Running {
            activity: Some(activity),
            last_active_at: Some(last),
        }
    }

    fn at(agent: AgentFact, pr: PrFact) -> Decision {
        transition(working(), &Observation { agent, pr }, &Policy::default(), 0)
    }

    #[test]
    fn the_pull_requests_facts_in_the_reference_order() {
        use CheckState::{Failed, Passed, Pending as Running};
        use ReviewDecision::{Approved, ChangesRequested, Pending};
        let agent = running(Activity::Active, 0);
        let cases = [
            (
                pr(PrState::Merged, &[Failed], ChangesRequested, false),
                SessionStatus::Merged,
            ),
            (
                pr(PrState::Closed, &[Failed], Approved, true),
                SessionStatus::Done,
            ),
            (
                pr(PrState::Open, &[Failed, Passed], Approved, true),
                SessionStatus::CiFailed,
            ),
            (
                pr(PrState::Open, &[Passed], ChangesRequested, false),
                SessionStatus::ChangesRequested,
            ),
            (
                pr(PrState::Open, &[Passed], Approved, true),
                SessionStatus::Mergeable,
            ),
            (
                pr(PrState::Open, &[Running], Approved, true),
                SessionStatus::Approved,
            ),
            (
                pr(PrState::Open, &[Passed], Approved, false),
                SessionStatus::Approved,
            ),
            (
                pr(PrState::Open, &[Passed], Pending, false),
                SessionStatus::ReviewPending,
            ),
            (
                pr(PrState::Open, &[Running], Pending, false),
                SessionStatus::PrOpen,
            ),
            (
                pr(PrState::Open, &[], Pending, false),
                SessionStatus::PrOpen,
            ),
        ];
        for (p, want) in cases {
            assert_eq!(
                at(agent, PrFact::Read(Box::new(p.clone()))).status,
                want,
                "{p:?}"
            );
        }
        assert_eq!(at(agent, PrFact::None).status, SessionStatus::Working);
        assert_eq!(
            at(
                agent,
                PrFact::Read(Box::new(pr(PrState::Closed, &[], Pending, false)))
            )
            .reason,
            Some(StatusReason::PrClosed)
        );
    }

    #[test]
    fn the_agents_facts_come_first_then_merged_and_closed_win() {
        let failing = PrFact::Read(Box::new(pr(
            PrState::Open,
            &[CheckState::Failed],
            ReviewDecision::Pending,
            false,
        )));
        let exited = at(AgentFact::Exited { code: Some(3) }, failing.clone());
        assert_eq!(
            (exited.status, exited.reason),
            (SessionStatus::Killed, Some(StatusReason::AgentExited))
        );
        let finished = at(AgentFact::Exited { code: Some(0) }, failing.clone());
        assert_eq!(
            (finished.status, finished.reason),
            (SessionStatus::Done, Some(StatusReason::AgentFinished))
        );
        let unknown = at(AgentFact::Exited { code: None }, PrFact::None);
        assert_eq!(unknown.reason, Some(StatusReason::AgentExited));
        assert_eq!(
            at(running(Activity::WaitingInput, 0), failing).status,
            SessionStatus::NeedsInput
        );
        // A merged PR ends the session even if its agent exited or asks something.
        let merged = PrFact::Read(Box::new(pr(
            PrState::Merged,
            &[],
            ReviewDecision::Approved,
            false,
        )));
        assert_eq!(
            at(AgentFact::Exited { code: Some(0) }, merged.clone()).status,
            SessionStatus::Merged
        );
        assert_eq!(
            at(running(Activity::WaitingInput, 0), merged).status,
            SessionStatus::Merged
        );
    }

    #[test]
    fn stuck_replaces_only_working_pr_open_and_review_pending() {
        let policy = Policy {
            stuck_after_ms: Some(60_000),
        };
        let quiet = running(Activity::Idle, 0);
        let decide = |pr: PrFact, now| {
            transition(working(), &Observation { agent: quiet, pr }, &policy, now).status
        };
        assert_eq!(decide(PrFact::None, 59_999), SessionStatus::Working);
        assert_eq!(decide(PrFact::None, 60_000), SessionStatus::Stuck);
        let review = PrFact::Read(Box::new(pr(
            PrState::Open,
            &[CheckState::Passed],
            ReviewDecision::Pending,
            false,
        )));
        assert_eq!(decide(review, 600_000), SessionStatus::Stuck);
        let failing = PrFact::Read(Box::new(pr(
            PrState::Open,
            &[CheckState::Failed],
            ReviewDecision::Pending,
            false,
        )));
        assert_eq!(decide(failing, 600_000), SessionStatus::CiFailed);
        // An active agent is never stuck.
        let busy = Observation {
            agent: running(Activity::Active, 0),
            pr: PrFact::None,
        };
        assert_eq!(
            transition(working(), &busy, &policy, 600_000).status,
            SessionStatus::Working
        );
    }

    /// A small deterministic generator, so the property runs are the same every time.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }
    }

    fn any_observation(g: &mut Lcg) -> Observation {
        use CheckState::*;
        let states = [
            PrState::Open,
            PrState::Open,
            PrState::Open,
            PrState::Merged,
            PrState::Closed,
        ];
        let checks: &[&[CheckState]] = &[&[], &[Passed], &[Failed], &[Pending], &[Passed, Failed]];
        let reviews = [
            ReviewDecision::Pending,
            ReviewDecision::Approved,
            ReviewDecision::ChangesRequested,
        ];
        let activities = [
            Activity::Active,
            Activity::Ready,
            Activity::Idle,
            Activity::WaitingInput,
        ];
        let agent = match g.next(4) {
            0 => AgentFact::Exited {
                code: [None, Some(0), Some(3)][g.next(3)],
            },
            1 => AgentFact::Unknown,
            _ => running(activities[g.next(4)], g.next(1000) as i64 * 1000),
        };
        let pr = match g.next(4) {
            0 => PrFact::None,
            1 => PrFact::Unknown,
            _ => PrFact::Read(Box::new(pr(
                states[g.next(states.len())],
                checks[g.next(checks.len())],
                reviews[g.next(reviews.len())],
                g.next(2) == 0,
            ))),
        };
        Observation { agent, pr }
    }

    #[test]
    fn an_ended_session_moves_only_from_its_agents_end_to_its_prs_end() {
        let mut g = Lcg(7);
        let policy = Policy {
            stuck_after_ms: Some(30_000),
        };
        for _ in 0..2000 {
            let mut state = working();
            let mut ended: Option<Decision> = None;
            for step in 0..20 {
                state = transition(state, &any_observation(&mut g), &policy, step * 10_000);
                if let Some(e) = ended
                    && state != e
                {
                    // Only from the agent's own end, only to the PR's merge or close.
                    assert!(
                        ended_by_agent(e),
                        "an ended session moved: {e:?} → {state:?}"
                    );
                    assert!(
                        state.status == SessionStatus::Merged
                            || state.reason == Some(StatusReason::PrClosed),
                        "{e:?} → {state:?}"
                    );
                }
                if state.status.is_terminal() {
                    ended = Some(state);
                }
            }
        }
    }

    #[test]
    fn a_session_whose_agent_finished_follows_its_pr_to_merged_or_closed() {
        let finished = agent_ended(Some(0));
        let exited = agent_ended(Some(3));
        let by_user = Decision {
            status: SessionStatus::Killed,
            reason: Some(StatusReason::User),
        };
        let read = |state| {
            PrFact::Read(Box::new(pr(
                state,
                &[CheckState::Failed],
                ReviewDecision::Pending,
                false,
            )))
        };
        let after = |prev, pr| {
            transition(
                prev,
                &Observation {
                    agent: AgentFact::Unknown,
                    pr,
                },
                &Policy::default(),
                0,
            )
        };
        for prev in [finished, exited] {
            assert!(follows_pr(prev));
            assert_eq!(
                after(prev, read(PrState::Merged)).status,
                SessionStatus::Merged
            );
            let closed = after(prev, read(PrState::Closed));
            assert_eq!(
                (closed.status, closed.reason),
                (SessionStatus::Done, Some(StatusReason::PrClosed))
            );
            // An open PR, however it reads, does not bring an ended agent back.
            assert_eq!(after(prev, read(PrState::Open)), prev);
        }
        // A session the user ended stays as the user left it.
        assert!(!follows_pr(by_user));
        assert_eq!(after(by_user, read(PrState::Merged)), by_user);
        assert!(follows_pr(working()));
    }

    #[test]
    fn an_api_error_never_changes_what_the_pull_request_decided() {
        let mut g = Lcg(11);
        for _ in 0..2000 {
            let obs = any_observation(&mut g);
            let before = transition(working(), &obs, &Policy::default(), 0);
            let after_error = transition(
                before,
                &Observation {
                    agent: running(Activity::Active, 0),
                    pr: PrFact::Unknown,
                },
                &Policy::default(),
                0,
            );
            match before.status {
                // Statuses that the agent's facts set are re-decided by the agent's facts;
                // everything the PR decided stands.
                SessionStatus::NeedsInput | SessionStatus::Stuck => {}
                _ => assert_eq!(after_error, before, "an API error changed {before:?}"),
            }
        }
    }

    #[test]
    fn a_stuck_agent_stays_stuck_when_only_its_pr_changes() {
        let stuck = Decision {
            status: SessionStatus::Stuck,
            reason: None,
        };
        let policy = Policy {
            stuck_after_ms: Some(600_000),
        };
        // The PR poll's observation: the agent's last activity is not part of it.
        let by_poll = |activity| Observation {
            agent: AgentFact::Running {
                activity,
                last_active_at: None,
            },
            pr: PrFact::Read(Box::new(pr(
                PrState::Open,
                &[CheckState::Passed],
                ReviewDecision::Pending,
                false,
            ))),
        };
        for policy in [policy, Policy::default()] {
            assert_eq!(
                transition(stuck, &by_poll(Some(Activity::Idle)), &policy, 0).status,
                SessionStatus::Stuck
            );
        }
        // Active again: no longer stuck, whoever observed it.
        assert_eq!(
            transition(stuck, &by_poll(Some(Activity::Active)), &policy, 0).status,
            SessionStatus::ReviewPending
        );
        // A probe that saw it active lately un-sticks it.
        let probed = Observation {
            agent: AgentFact::Running {
                activity: Some(Activity::Idle),
                last_active_at: Some(1_000_000),
            },
            ..by_poll(None)
        };
        assert_eq!(
            transition(stuck, &probed, &policy, 1_000_500).status,
            SessionStatus::ReviewPending
        );
        // A decisive PR fact still wins.
        let merged = Observation {
            pr: PrFact::Read(Box::new(pr(
                PrState::Merged,
                &[],
                ReviewDecision::Approved,
                false,
            ))),
            ..by_poll(Some(Activity::Idle))
        };
        assert_eq!(
            transition(stuck, &merged, &policy, 0).status,
            SessionStatus::Merged
        );
    }
}
