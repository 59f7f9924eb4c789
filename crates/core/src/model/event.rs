use super::{SessionId, SessionStatus, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How urgently a human should hear about an event; notifications are routed by it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Needs a human now: an agent is stuck, waits for input, or errored.
    Urgent,
    /// A human decision is due: a pull request is ready to merge.
    Action,
    /// Something went wrong that ao handled or will retry.
    Warning,
    /// For the record.
    Info,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 4] = [
        Priority::Urgent,
        Priority::Action,
        Priority::Warning,
        Priority::Info,
    ];

    /// The name used in config (`notificationRouting`) and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::Action => "action",
            Priority::Warning => "warning",
            Priority::Info => "info",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown priority `{s}`"))
    }
}

/// What happened; the payload a reaction or notifier needs travels with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A session was created and its agent received the task.
    SessionSpawned,
    /// A spawn failed or was cancelled, and what it had made was removed.
    SpawnUndone {
        /// What was removed, in the user's words ("removed /path", "deleted branch b").
        undone: Vec<String>,
    },
    /// A session moved from one status to another.
    StatusChanged {
        /// The status before.
        from: SessionStatus,
        /// The status after.
        to: SessionStatus,
    },
    /// A reaction ran (sent a message to the agent, merged, notified).
    ReactionRan {
        /// The reaction's config key, e.g. `ci-failed`.
        reaction: String,
        /// Which attempt this was, from 1.
        attempt: u32,
    },
    /// A reaction gave up and handed the matter to the human.
    Escalated {
        /// The reaction's config key.
        reaction: String,
    },
    /// A plugin misbehaved and was disabled.
    PluginDisabled {
        /// The plugin's name.
        plugin: String,
    },
    /// A session's pull request was found by its branch.
    PrDetected {
        /// Its number.
        number: u64,
    },
    /// A session took over an existing pull request (`claim-pr`).
    PrClaimed {
        /// Its number.
        number: u64,
    },
    /// A session's pull request was taken over by another session.
    PrTakenOver {
        /// Its number.
        number: u64,
        /// The session that has it now.
        by: String,
    },
    /// A session the reference system ran was adopted by `ao import`.
    Adopted {
        /// The reference's record of it.
        from: String,
    },
    /// A session's pull request was merged.
    PrMerged {
        /// Its number.
        number: u64,
        /// The head commit that was merged.
        sha: String,
    },
    /// One notifier's delivery of a notification: delivered, failed or timed out.
    Notified {
        /// The notifier's key under `notifiers:`.
        notifier: String,
        /// `delivered`, `failed` or `timed_out`.
        outcome: String,
        /// What the notification was about (an event name or a reaction key), by which
        /// repeats are recognised; none for `ao notify`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// A notification no notifier delivered, tried again from the store until this
    /// attempt, then given up.
    NotifyGaveUp {
        /// What it was about (a reaction key).
        key: String,
        /// Deliveries tried.
        attempts: u32,
    },
    /// An agent CLI hit its provider's usage limit (told once for all its sessions).
    Limited {
        /// The agent plugin.
        agent: String,
        /// When the limit lifts, if the CLI said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resets_at: Option<i64>,
    },
    /// An agent said what it is doing (`ao report`, `ao acknowledge`).
    Reported {
        /// The state it reported.
        state: String,
    },
    /// A session's agent ended by itself: how, and what it printed last.
    AgentEnded {
        /// Its exit code, when the runtime tells.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// Its last lines of output.
        output: String,
    },
    /// A notification sent by hand (`ao notify`).
    Manual,
    /// A test notification from `ao doctor --test-notify`.
    Test,
}

impl EventKind {
    /// A short name for filters and tables.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SessionSpawned => "session_spawned",
            EventKind::SpawnUndone { .. } => "spawn_undone",
            EventKind::StatusChanged { .. } => "status_changed",
            EventKind::ReactionRan { .. } => "reaction_ran",
            EventKind::Escalated { .. } => "escalated",
            EventKind::PluginDisabled { .. } => "plugin_disabled",
            EventKind::PrDetected { .. } => "pr_detected",
            EventKind::PrClaimed { .. } => "pr_claimed",
            EventKind::PrTakenOver { .. } => "pr_taken_over",
            EventKind::Adopted { .. } => "adopted",
            EventKind::PrMerged { .. } => "pr_merged",
            EventKind::Notified { .. } => "notified",
            EventKind::NotifyGaveUp { .. } => "notify_gave_up",
            EventKind::Limited { .. } => "limited",
            EventKind::Reported { .. } => "reported",
            EventKind::AgentEnded { .. } => "agent_ended",
            EventKind::Manual => "manual",
            EventKind::Test => "test",
        }
    }
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log; 0 until stored.
    pub id: i64,
    /// When it happened.
    pub at: Timestamp,
    /// The project it belongs to.
    pub project: String,
    /// The session it concerns, if any.
    pub session: Option<SessionId>,
    /// How urgently a human should hear of it.
    pub priority: Priority,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// One sentence for humans.
    pub message: String,
}
