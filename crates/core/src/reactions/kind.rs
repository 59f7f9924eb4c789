//! Every reaction ao knows, each one definition in one place: the key the config names
//! it by, its defaults, what triggers it (and the items it hands over), what it sends
//! or does, the words the human reads, and whether the orchestrator session takes it.
//! The planner ([`super::decide`]), the config's defaults and checks, and the host read
//! them from here; adding a reaction is its name in `kinds!` and its arm in
//! [`ReactionKind::definition`].

use super::Subject;
use crate::config::{ConfigDuration, EscalateAfter, ReactionAction, ReactionConfig};
use crate::model::{Activity, Priority, Session, SessionStatus, StatusReason};
use crate::plugin::{CheckState, PrState, PrStatus};
use std::sync::LazyLock;
use std::time::Duration;

/// Declares [`ReactionKind`] and [`ReactionKind::ALL`] from one list, so a reaction
/// named here is listed everywhere (and its definition is asked for by the compiler).
macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident,)*) => {
        /// A reaction ao knows. The config names it by its key under `reactions:`
        /// (unchanged: `ci-failed`, `agent-stuck`, ...); its definition says the rest.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ReactionKind {
            $($(#[$doc])* $kind,)*
        }

        impl ReactionKind {
            /// Every reaction, in the order ao lists them (the pull request's life, then
            /// the agent's, then the project's).
            pub const ALL: &'static [ReactionKind] = &[$(ReactionKind::$kind,)*];
        }
    };
}

kinds! {
    /// The pull request was closed without being merged.
    PrClosed,
    /// CI fails on the pull request.
    CiFailed,
    /// A reviewer asked for changes.
    ChangesRequested,
    /// An automated reviewer left threads.
    BugbotComments,
    /// The branch conflicts with the base.
    MergeConflicts,
    /// The pull request is approved and green: the one that may merge.
    ApprovedAndGreen,
    /// The agent stopped while the session works.
    AgentIdle,
    /// The agent has not moved for `threshold`.
    AgentStuck,
    /// The agent asks something.
    AgentNeedsInput,
    /// The agent's process ended.
    AgentExited,
    /// Every session of the project ended, one at least merged or done.
    AllComplete,
}

/// One reaction, described.
pub struct Definition {
    /// The key under `reactions:`.
    pub key: &'static str,
    /// What the human reads of it in a notification's title ("app-1: CI fails").
    pub what: &'static str,
    /// Its settings when the config says nothing.
    pub defaults: fn() -> ReactionConfig,
    /// What triggers it.
    pub condition: Condition,
    /// Whether the orchestrator session takes it: it has no pull request and waits for
    /// the human by design, so only its questions and its exit are the human's business.
    pub orchestrator: bool,
    /// A status in which the reaction keeps its count while its condition does not hold
    /// (`agent-idle` counts its nudges through the agent's busy spells between them).
    pub keeps_count_while: Option<SessionStatus>,
    /// Whether a message it sends the agent lists the branch's conflicting files.
    pub lists_conflicts: bool,
    /// Whether `action: auto-merge` merges the pull request (on any other reaction it
    /// does nothing, and the config check warns).
    pub merges: bool,
    /// Whether `ao review-check` runs it (the review threads' reactions).
    pub review_check: bool,
}

/// When a reaction's condition holds.
#[derive(Clone, Copy)]
pub enum Condition {
    /// For one session, with the items it would hand over.
    Session(fn(&Subject<'_>) -> Option<Trigger>),
    /// For a whole project, over its sessions (decided by the host, not per session).
    Project(fn(&[&Session]) -> bool),
}

/// Why a reaction's condition holds: the items it would hand over (empty: none, it
/// fires once while it holds), each with the details it adds to the message.
#[derive(Debug, Default)]
pub struct Trigger {
    /// (item, details) pairs; an item goes once, ever.
    pub items: Vec<(String, String)>,
}

impl Trigger {
    /// A condition that holds while `items` is not empty.
    fn items(items: Vec<(String, String)>) -> Option<Trigger> {
        (!items.is_empty()).then_some(Trigger { items })
    }
}

/// A send-to-agent reaction's defaults.
fn send(message: &str, retries: Option<u32>, escalate: EscalateAfter) -> ReactionConfig {
    ReactionConfig {
        auto: Some(true),
        action: Some(ReactionAction::SendToAgent),
        message: Some(message.to_owned()),
        retries,
        escalate_after: Some(escalate),
        ..ReactionConfig::default()
    }
}

/// A notifying reaction's defaults.
fn notify(priority: Priority) -> ReactionConfig {
    ReactionConfig {
        auto: Some(true),
        action: Some(ReactionAction::Notify),
        priority: Some(priority),
        ..ReactionConfig::default()
    }
}

/// A notifying reaction's defaults, with its message.
fn notify_saying(priority: Priority, message: &str) -> ReactionConfig {
    ReactionConfig {
        message: Some(message.to_owned()),
        ..notify(priority)
    }
}

const fn minutes(m: u64) -> ConfigDuration {
    ConfigDuration(Duration::from_secs(m * 60))
}

/// A definition with no orchestrator, count, conflicts, merge or review-check part.
const PLAIN: Definition = Definition {
    key: "",
    what: "",
    defaults: ReactionConfig::default,
    condition: Condition::Session(|_| None),
    orchestrator: false,
    keeps_count_while: None,
    lists_conflicts: false,
    merges: false,
    review_check: false,
};

impl ReactionKind {
    /// Its definition.
    pub const fn definition(self) -> &'static Definition {
        match self {
            Self::PrClosed => {
                const D: Definition = Definition {
                    key: "pr-closed",
                    what: "its pull request was closed",
                    defaults: || {
                        notify_saying(
                            Priority::Action,
                            "The pull request was closed without being merged. Decide whether the work should go on, start over, or end here.",
                        )
                    },
                    condition: Condition::Session(|s| {
                        let ended = s.session.status == SessionStatus::Done
                            && s.session.status_reason == Some(StatusReason::PrClosed);
                        (ended && s.ended_recently).then(Trigger::default)
                    }),
                    ..PLAIN
                };
                &D
            }
            Self::CiFailed => {
                const D: Definition = Definition {
                    key: "ci-failed",
                    what: "CI fails",
                    defaults: || {
                        send(
                            "CI fails on your pull request. Read the failing checks below, fix the cause, and push again.",
                            Some(2),
                            EscalateAfter::Attempts(2),
                        )
                    },
                    // Each failing check at a head goes once, with its address and log.
                    condition: Condition::Session(|s| {
                        let pr =
                            open_pr(s).filter(|_| s.session.status == SessionStatus::CiFailed)?;
                        Trigger::items(
                            pr.checks
                                .iter()
                                .filter(|c| c.state == CheckState::Failed)
                                .map(|c| {
                                    let mut line = format!("- {}", c.name);
                                    if let Some(url) = &c.url {
                                        line.push_str(&format!(" ({url})"));
                                    }
                                    if let Some(log) =
                                        c.log_excerpt.as_deref().filter(|l| !l.trim().is_empty())
                                    {
                                        line.push_str(&format!(
                                            "\n  log:\n    {}",
                                            indent(log, "    ")
                                        ));
                                    }
                                    (format!("ci:{}:{}", pr.head_sha, c.name), line)
                                })
                                .collect(),
                        )
                    }),
                    ..PLAIN
                };
                &D
            }
            Self::ChangesRequested => {
                const D: Definition = Definition {
                    key: "changes-requested",
                    what: "changes were requested",
                    defaults: || {
                        send(
                            "A reviewer asked for changes on your pull request. Address each comment below, then push.",
                            None,
                            EscalateAfter::Time(minutes(30)),
                        )
                    },
                    condition: Condition::Session(|s| {
                        let pr = open_pr(s)
                            .filter(|_| s.session.status == SessionStatus::ChangesRequested)?;
                        let mut items = threads(pr, false);
                        if items.is_empty() {
                            // A verdict without threads: its head is the item, so it goes once.
                            items.push((format!("changes:{}", pr.head_sha), String::new()));
                        }
                        Trigger::items(items)
                    }),
                    review_check: true,
                    ..PLAIN
                };
                &D
            }
            Self::BugbotComments => {
                const D: Definition = Definition {
                    key: "bugbot-comments",
                    what: "an automated reviewer flagged problems",
                    defaults: || {
                        send(
                            "An automated reviewer flagged problems on your pull request. Fix each one below, then push.",
                            None,
                            EscalateAfter::Time(minutes(30)),
                        )
                    },
                    condition: Condition::Session(|s| Trigger::items(threads(open_pr(s)?, true))),
                    review_check: true,
                    ..PLAIN
                };
                &D
            }
            Self::MergeConflicts => {
                const D: Definition = Definition {
                    key: "merge-conflicts",
                    what: "its branch conflicts with the base",
                    defaults: || {
                        send(
                            "Your branch conflicts with the default branch. Rebase onto it, resolve the conflicts, and push.",
                            None,
                            EscalateAfter::Time(minutes(15)),
                        )
                    },
                    // Once per head that conflicts.
                    condition: Condition::Session(|s| {
                        let pr = open_pr(s).filter(|p| p.conflicts)?;
                        Trigger::items(vec![(format!("conflicts:{}", pr.head_sha), String::new())])
                    }),
                    lists_conflicts: true,
                    ..PLAIN
                };
                &D
            }
            Self::ApprovedAndGreen => {
                const D: Definition = Definition {
                    key: "approved-and-green",
                    what: "approved and green",
                    // ao merges only when the config says so.
                    defaults: || ReactionConfig {
                        auto: Some(false),
                        ..notify_saying(
                            Priority::Action,
                            "The pull request is approved and its checks pass: it can be merged.",
                        )
                    },
                    condition: Condition::Session(|s| {
                        (s.session.status == SessionStatus::Mergeable && open_pr(s).is_some())
                            .then(Trigger::default)
                    }),
                    merges: true,
                    ..PLAIN
                };
                &D
            }
            Self::AgentIdle => {
                const D: Definition = Definition {
                    key: "agent-idle",
                    what: "its agent is idle",
                    defaults: || {
                        send(
                            "You seem to have stopped. If the task is not finished, carry on: write the code, commit, push, and open a pull request. If something blocks you, say what.",
                            Some(2),
                            EscalateAfter::Time(minutes(15)),
                        )
                    },
                    // Each idle spell (the row moves when the activity does) is nudged once.
                    condition: Condition::Session(|s| {
                        (s.session.status == SessionStatus::Working
                            && s.session.activity == Some(Activity::Idle))
                        .then(|| Trigger {
                            items: vec![(format!("idle:{}", s.session.updated_at), String::new())],
                        })
                    }),
                    keeps_count_while: Some(SessionStatus::Working),
                    ..PLAIN
                };
                &D
            }
            Self::AgentStuck => {
                const D: Definition = Definition {
                    key: "agent-stuck",
                    what: "its agent seems stuck",
                    // `threshold` is when the probe calls the agent stuck.
                    defaults: || ReactionConfig {
                        threshold: Some(minutes(10)),
                        ..notify(Priority::Urgent)
                    },
                    condition: Condition::Session(|s| {
                        (s.session.status == SessionStatus::Stuck).then(Trigger::default)
                    }),
                    ..PLAIN
                };
                &D
            }
            Self::AgentNeedsInput => {
                const D: Definition = Definition {
                    key: "agent-needs-input",
                    what: "its agent needs input",
                    defaults: || notify(Priority::Urgent),
                    condition: Condition::Session(|s| {
                        (s.session.status == SessionStatus::NeedsInput).then(Trigger::default)
                    }),
                    orchestrator: true,
                    ..PLAIN
                };
                &D
            }
            Self::AgentExited => {
                const D: Definition = Definition {
                    key: "agent-exited",
                    what: "its agent exited",
                    defaults: || notify(Priority::Urgent),
                    condition: Condition::Session(|s| {
                        let exited = s.session.status == SessionStatus::Killed
                            && s.session.status_reason == Some(StatusReason::AgentExited);
                        (exited && s.ended_recently).then(Trigger::default)
                    }),
                    orchestrator: true,
                    ..PLAIN
                };
                &D
            }
            Self::AllComplete => {
                const D: Definition = Definition {
                    key: "all-complete",
                    what: "every session is complete",
                    defaults: || ReactionConfig {
                        include_summary: Some(true),
                        ..notify(Priority::Info)
                    },
                    condition: Condition::Project(super::all_complete),
                    ..PLAIN
                };
                &D
            }
        }
    }

    /// The key the config names it by.
    pub const fn key(self) -> &'static str {
        self.definition().key
    }

    /// The reaction the config's key `key` names, if ao knows one.
    pub fn parse(key: &str) -> Option<ReactionKind> {
        Self::ALL.iter().copied().find(|k| k.key() == key)
    }

    /// What the human reads of it.
    pub fn what(self) -> &'static str {
        self.definition().what
    }

    /// Its settings when the config says nothing.
    pub fn defaults(self) -> ReactionConfig {
        (self.definition().defaults)()
    }

    /// Every reaction in the order of its key: the order a session's are decided in.
    pub fn by_key() -> &'static [ReactionKind] {
        static BY_KEY: LazyLock<Vec<ReactionKind>> = LazyLock::new(|| {
            let mut all = ReactionKind::ALL.to_vec();
            all.sort_by_key(|k| k.key());
            all
        });
        &BY_KEY
    }
}

impl std::fmt::Display for ReactionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// Every key, in the order ao lists them.
pub const fn keys() -> [&'static str; ReactionKind::ALL.len()] {
    let mut keys = [""; ReactionKind::ALL.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = ReactionKind::ALL[i].key();
        i += 1;
    }
    keys
}

/// The session's pull request, if its last reading says it is open.
pub(super) fn open_pr<'a>(s: &Subject<'a>) -> Option<&'a PrStatus> {
    s.pr.filter(|p| p.state == PrState::Open)
}

/// Indents every line of `text` after the first by `pad`.
fn indent(text: &str, pad: &str) -> String {
    text.trim_end()
        .lines()
        .collect::<Vec<_>>()
        .join(&format!("\n{pad}"))
}

/// The unresolved threads a human (or, with `bots`, a bot) wrote, as items.
fn threads(pr: &PrStatus, bots: bool) -> Vec<(String, String)> {
    pr.unresolved_threads
        .iter()
        .filter(|t| t.is_bot == bots)
        .map(|t| {
            let at = match (&t.path, t.line) {
                (Some(p), Some(l)) => format!("{p}:{l} "),
                (Some(p), None) => format!("{p} "),
                _ => String::new(),
            };
            let who = t.author.as_deref().unwrap_or("a reviewer");
            (
                format!("thread:{}", t.id),
                format!("- {at}{who}: {}", indent(&t.body, "  ")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
