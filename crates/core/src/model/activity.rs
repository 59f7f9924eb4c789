use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What the agent inside a session is doing right now, as far as ao can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// The model is producing output or a tool is running.
    Active,
    /// The agent finished its turn and waits for the next instruction.
    Ready,
    /// Ready for longer than the configured threshold.
    Idle,
    /// The agent asks the human something (a permission prompt, a first-run dialog).
    WaitingInput,
    /// The agent cannot go on by itself (an error it reported, a rate limit).
    Blocked,
    /// The agent's process has ended.
    Exited,
}

impl Activity {
    /// Every activity, for listings and round-trip tests.
    pub const ALL: [Activity; 6] = [
        Activity::Active,
        Activity::Ready,
        Activity::Idle,
        Activity::WaitingInput,
        Activity::Blocked,
        Activity::Exited,
    ];

    /// The name used in the store, `--json` output and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Active => "active",
            Activity::Ready => "ready",
            Activity::Idle => "idle",
            Activity::WaitingInput => "waiting_input",
            Activity::Blocked => "blocked",
            Activity::Exited => "exited",
        }
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Activity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Activity::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown activity `{s}`"))
    }
}
