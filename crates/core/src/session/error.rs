//! What a session command can fail with.

use std::time::Duration;

use super::wait::indent;
use crate::model::Timestamp;
use crate::plugin::PluginError;
use crate::store::StoreError;

/// Why a session command failed, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A plugin failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// `ao session kill` asked this spawn to stop; what it made is undone.
    #[error("cancelled by `ao session kill`")]
    Cancelled,
    /// ao was told to stop (a signal) while it worked; what it made is undone.
    #[error("interrupted")]
    Interrupted,
    /// Removing the session's workspace would lose work; nothing was changed.
    #[error(
        "{session}'s workspace {} holds work that would be lost: {}; nothing was changed",
        path.display(),
        files.join("; ")
    )]
    UnsavedWork {
        /// The session.
        session: String,
        /// Its workspace.
        path: std::path::PathBuf,
        /// What would be lost, one entry each (a file, commits not pushed).
        files: Vec<String>,
    },
    /// It failed for now and may work later (a service down, limiting requests, not
    /// answering): tried again after `retry_after` when it said.
    #[error("{message}")]
    Transient {
        /// What went wrong.
        message: String,
        /// How long to wait before trying again, when known.
        retry_after: Option<std::time::Duration>,
    },
    /// The agent's program ended, or its terminal went, before it did what was asked.
    #[error("the agent exited{} {when}; its last output:\n{}", exit_code(*.code), indent(output))]
    AgentExited {
        /// Its exit code, when known.
        code: Option<i32>,
        /// What it was doing (`before it was ready`, `as it started`).
        when: String,
        /// Its terminal's last lines.
        output: String,
        /// The agent plugin's explanation of the output, when it has one.
        diagnosis: Option<String>,
    },
    /// The agent's program did not become the terminal's foreground process in time:
    /// another program holds it (a shell, a wrapper), or the agent runs under a name ao
    /// does not expect. Nothing was typed.
    #[error(
        "the agent was not running after {} s (the terminal's foreground process is `{foreground}`, expected {}); its last output:\n{}",
        waited.as_secs(),
        if expected.is_empty() { "the agent".to_owned() } else { expected.join(" or ") },
        indent(output)
    )]
    NotReady {
        /// How long ao waited.
        waited: Duration,
        /// The terminal's foreground process at the end.
        foreground: String,
        /// The process names the agent runs under (none: any but ao's launcher).
        expected: Vec<String>,
        /// Its terminal's last lines.
        output: String,
        /// The agent plugin's explanation of the output, when it has one.
        diagnosis: Option<String>,
    },
    /// Text was typed into the agent's terminal, but the agent did not take it.
    #[error("{}; its screen:\n{}", how.describe(what, *.waited), indent(screen))]
    NotTaken {
        /// What was typed: `task`, `message`.
        what: String,
        /// How it was not taken.
        how: NotTakenHow,
        /// How long ao waited for it.
        waited: Duration,
        /// The agent's screen at the end.
        screen: String,
    },
    /// The project runs its `maxSessions` already.
    #[error(
        "project `{project}` already has {} live or starting session{} (maxSessions {max}): {}",
        taken.len(),
        if taken.len() == 1 { "" } else { "s" },
        taken.join(", ")
    )]
    ProjectFull {
        /// The project.
        project: String,
        /// Its `maxSessions`.
        max: u32,
        /// The sessions that hold its slots.
        taken: Vec<String>,
    },
    /// The agent is at its usage limit: new sessions for it wait until it lifts.
    #[error(
        "{agent} is at its usage limit ({reported_by} reported it{}), so new sessions for it wait",
        resets_at.map(|t| format!("; it lifts at {}", crate::model::time::utc_clock(t))).unwrap_or_default()
    )]
    LimitHeld {
        /// The agent.
        agent: String,
        /// The session whose agent reported the limit.
        reported_by: String,
        /// When the limit lifts, when the agent said.
        resets_at: Option<Timestamp>,
    },
    /// An operation on a session failed: `error` says how.
    #[error("{}{}{error}{note}", session.as_deref().map(|s| format!("{s}: ")).unwrap_or_default(), op.doing())]
    During {
        /// What was being done.
        op: Op,
        /// The session it was done to, when one was.
        session: Option<String>,
        /// Why it failed.
        error: Box<ManagerError>,
        /// What was done about it (`(undone: its workspace)`), from its start.
        note: String,
    },
    /// The user asked for something that cannot be done; the hint says what to do.
    #[error("{message}")]
    Refused {
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: Option<String>,
    },
}

/// How typed text was not taken by the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotTakenHow {
    /// It still waits, unread, in the terminal's input.
    Unread,
    /// The agent showed no sign of taking it, even with Enter pressed again.
    Ignored,
    /// The agent discarded it unread this many times (it changed its terminal's mode as
    /// the text arrived).
    Discarded(u32),
}

impl NotTakenHow {
    fn describe(self, what: &str, waited: Duration) -> String {
        let secs = waited.as_secs();
        match self {
            NotTakenHow::Unread => format!(
                "the {what} was typed in but the agent has not read it within {secs} s (it waits, unread, at its terminal)"
            ),
            NotTakenHow::Ignored => format!(
                "the {what} was typed in but the agent did not take it within {secs} s, even with Enter pressed again"
            ),
            NotTakenHow::Discarded(n) => format!(
                "the agent discarded its {what} unread {n} times (it changed its terminal's mode as the text arrived)"
            ),
        }
    }
}

/// An operation on a session, named in its failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `ao spawn`.
    Spawn,
    /// `ao send` (and the host's messages).
    Send,
    /// `ao session restore`.
    Restore,
    /// Starting a project's orchestrator.
    StartOrchestrator,
    /// Any other, said in these words (may be empty).
    Other(String),
}

impl Op {
    fn doing(&self) -> &str {
        match self {
            Op::Spawn => "spawn failed: ",
            Op::Send => "not delivered: ",
            Op::Restore => "restore failed: ",
            Op::StartOrchestrator => "the orchestrator did not start: ",
            Op::Other(words) => words,
        }
    }
}

fn exit_code(code: Option<i32>) -> String {
    code.map(|c| format!(" with exit code {c}"))
        .unwrap_or_default()
}

impl ManagerError {
    pub(crate) fn refused(message: impl Into<String>, hint: impl Into<String>) -> ManagerError {
        ManagerError::Refused {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A refusal with no hint.
    pub(crate) fn plain(message: impl Into<String>) -> ManagerError {
        ManagerError::Refused {
            message: message.into(),
            hint: None,
        }
    }

    /// The error itself, under the operations that name it ([`ManagerError::During`]).
    pub fn kind(&self) -> &ManagerError {
        match self {
            ManagerError::During { error, .. } => error.kind(),
            e => e,
        }
    }

    /// The operation that failed, when one was named.
    pub fn op(&self) -> Option<&Op> {
        match self {
            ManagerError::During { op, .. } => Some(op),
            _ => None,
        }
    }

    /// The hint the failure carries itself: a refusal's, the store's, the agent
    /// plugin's reading of its output. The CLI says the rest (`ao`'s `error.rs`).
    pub fn hint(&self) -> Option<String> {
        match self {
            ManagerError::Store(e) => e.hint().map(str::to_owned),
            ManagerError::Refused { hint, .. } => hint.clone(),
            ManagerError::AgentExited { diagnosis, .. }
            | ManagerError::NotReady { diagnosis, .. } => diagnosis.clone(),
            ManagerError::During { error, .. } => error.hint(),
            ManagerError::Plugin(_)
            | ManagerError::Cancelled
            | ManagerError::Interrupted
            | ManagerError::UnsavedWork { .. }
            | ManagerError::NotTaken { .. }
            | ManagerError::ProjectFull { .. }
            | ManagerError::LimitHeld { .. }
            | ManagerError::Transient { .. } => None,
        }
    }

    /// Whether the same may work if tried again later, and after how long when that is
    /// known (`Some(None)`: later, no wait said). The host retries these; the rest it
    /// reports (and its reactions escalate).
    pub fn retry_after(&self) -> Option<Option<Duration>> {
        match self.kind() {
            ManagerError::Transient { retry_after, .. } => Some(*retry_after),
            ManagerError::Plugin(PluginError::Transient { retry_after_ms, .. }) => {
                Some(retry_after_ms.map(Duration::from_millis))
            }
            ManagerError::Plugin(PluginError::Timeout { .. }) => Some(None),
            _ => None,
        }
    }

    /// The same error with what `redact` makes of its texts (messages, hints, and the
    /// agent's output it quotes), its kind kept.
    pub(crate) fn redacted(self, redact: impl Fn(&str) -> String + Copy) -> ManagerError {
        let opt = |t: Option<String>| t.map(|t| redact(&t));
        match self {
            ManagerError::Refused { message, hint } => ManagerError::Refused {
                message: redact(&message),
                hint: opt(hint),
            },
            ManagerError::Plugin(p) => ManagerError::Plugin(p.redacted(redact)),
            ManagerError::Transient {
                message,
                retry_after,
            } => ManagerError::Transient {
                message: redact(&message),
                retry_after,
            },
            ManagerError::AgentExited {
                code,
                when,
                output,
                diagnosis,
            } => ManagerError::AgentExited {
                code,
                when,
                output: redact(&output),
                diagnosis: opt(diagnosis),
            },
            ManagerError::NotReady {
                waited,
                foreground,
                expected,
                output,
                diagnosis,
            } => ManagerError::NotReady {
                waited,
                foreground,
                expected,
                output: redact(&output),
                diagnosis: opt(diagnosis),
            },
            ManagerError::NotTaken {
                what,
                how,
                waited,
                screen,
            } => ManagerError::NotTaken {
                what,
                how,
                waited,
                screen: redact(&screen),
            },
            ManagerError::During {
                op,
                session,
                error,
                note,
            } => ManagerError::During {
                op,
                session,
                error: Box::new(error.redacted(redact)),
                note: redact(&note),
            },
            e => e,
        }
    }

    /// The same error as the failure of `op` on `session`, with `note` after it. A
    /// failure that names its session itself (unsaved work), the store's, and one for now
    /// are left as they are.
    pub(crate) fn during(
        self,
        op: Op,
        session: impl std::fmt::Display,
        note: &str,
    ) -> ManagerError {
        if matches!(
            self,
            ManagerError::Store(_)
                | ManagerError::UnsavedWork { .. }
                | ManagerError::Transient { .. }
        ) {
            return self;
        }
        ManagerError::During {
            op,
            session: Some(session.to_string()),
            error: Box::new(self),
            note: note.to_owned(),
        }
    }

    /// The same error with `prefix` before its message (`app-3: spawn failed: ...`)
    /// and `note` after it. A failure that names its session itself (unsaved work), the
    /// store's, and one for now are left as they are.
    pub(crate) fn context(self, prefix: &str, note: &str) -> ManagerError {
        match self {
            e @ (ManagerError::Store(_)
            | ManagerError::UnsavedWork { .. }
            | ManagerError::Transient { .. }) => e,
            e => ManagerError::During {
                op: Op::Other(prefix.to_owned()),
                session: None,
                error: Box::new(e),
                note: note.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited() -> ManagerError {
        ManagerError::AgentExited {
            code: Some(3),
            when: "before it was ready".into(),
            output: "no key\nbye".into(),
            diagnosis: None,
        }
    }

    #[test]
    fn a_failure_under_an_operation_says_both_and_stays_matchable() {
        let e = exited().during(Op::Spawn, "app-1", "\n(undone: its workspace)");
        assert_eq!(
            e.to_string(),
            "app-1: spawn failed: the agent exited with exit code 3 before it was ready; its last output:\n    no key\n    bye\n(undone: its workspace)"
        );
        assert!(matches!(
            e.kind(),
            ManagerError::AgentExited { code: Some(3), .. }
        ));
        assert_eq!(e.op(), Some(&Op::Spawn));
        // A prefix in words keeps the kind too.
        let e = e.context("", " (saved first)");
        assert!(matches!(e.kind(), ManagerError::AgentExited { .. }));
    }

    #[test]
    fn what_an_error_quotes_of_the_agent_is_redacted() {
        let e = ManagerError::NotTaken {
            what: "message".into(),
            how: NotTakenHow::Ignored,
            waited: Duration::from_secs(15),
            screen: "token s3cret".into(),
        }
        .during(Op::Send, "app-1", "")
        .redacted(|t| t.replace("s3cret", "***"));
        let text = e.to_string();
        assert!(text.contains("token ***"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.starts_with(
                "app-1: not delivered: the message was typed in but the agent did not take it within 15 s"
            ),
            "{text}"
        );
    }

    #[test]
    fn only_a_failure_for_now_is_retried() {
        let later = ManagerError::Transient {
            message: "busy".into(),
            retry_after: Some(Duration::from_secs(4)),
        }
        .context("app-1: ", "");
        assert_eq!(later.retry_after(), Some(Some(Duration::from_secs(4))));
        assert_eq!(exited().during(Op::Send, "app-1", "").retry_after(), None);
        let full = ManagerError::ProjectFull {
            project: "app".into(),
            max: 1,
            taken: vec!["app-1".into()],
        };
        assert_eq!(full.retry_after(), None);
        assert_eq!(
            full.to_string(),
            "project `app` already has 1 live or starting session (maxSessions 1): app-1"
        );
    }
}
