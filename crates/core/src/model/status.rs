use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a session stands in its life, from spawn to merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Being created: workspace, runtime, agent launch, prompt delivery.
    Spawning,
    /// The agent works on the task and no pull request exists yet.
    Working,
    /// A pull request is open and nothing more specific is known.
    PrOpen,
    /// A required check failed on the pull request.
    CiFailed,
    /// Checks pass and the pull request waits for review.
    ReviewPending,
    /// A reviewer asked for changes.
    ChangesRequested,
    /// Approved, but not yet mergeable (checks running, behind base).
    Approved,
    /// Approved, green and mergeable.
    Mergeable,
    /// The pull request was merged.
    Merged,
    /// The agent waits for a human answer.
    NeedsInput,
    /// The agent made no progress for longer than the stuck threshold.
    Stuck,
    /// Something failed that ao cannot fix by itself.
    Errored,
    /// The session was ended; see its reason.
    Killed,
    /// The work ended without a merge (pull request closed, issue completed).
    Done,
}

impl SessionStatus {
    /// Every status, for listings and round-trip tests.
    pub const ALL: [SessionStatus; 14] = [
        SessionStatus::Spawning,
        SessionStatus::Working,
        SessionStatus::PrOpen,
        SessionStatus::CiFailed,
        SessionStatus::ReviewPending,
        SessionStatus::ChangesRequested,
        SessionStatus::Approved,
        SessionStatus::Mergeable,
        SessionStatus::Merged,
        SessionStatus::NeedsInput,
        SessionStatus::Stuck,
        SessionStatus::Errored,
        SessionStatus::Killed,
        SessionStatus::Done,
    ];

    /// The name used in the store, `--json` output and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Spawning => "spawning",
            SessionStatus::Working => "working",
            SessionStatus::PrOpen => "pr_open",
            SessionStatus::CiFailed => "ci_failed",
            SessionStatus::ReviewPending => "review_pending",
            SessionStatus::ChangesRequested => "changes_requested",
            SessionStatus::Approved => "approved",
            SessionStatus::Mergeable => "mergeable",
            SessionStatus::Merged => "merged",
            SessionStatus::NeedsInput => "needs_input",
            SessionStatus::Stuck => "stuck",
            SessionStatus::Errored => "errored",
            SessionStatus::Killed => "killed",
            SessionStatus::Done => "done",
        }
    }

    /// Whether the session has ended for good: no runtime is expected to be alive.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionStatus::Merged | SessionStatus::Killed | SessionStatus::Done
        )
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown session status `{s}`"))
    }
}

/// Why a session reached its status, where the status alone does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    /// The user ended it (`ao session kill`).
    User,
    /// Its runtime (tmux session, process) disappeared without ao ending it.
    RuntimeLost,
    /// The agent's process exited: with an error, or without saying how (a one-shot
    /// agent's exit code 0 is [`StatusReason::AgentFinished`]).
    AgentExited,
    /// The agent took its task and exited with code 0: its work is done (a one-shot CLI).
    AgentFinished,
    /// Spawning failed and was rolled back.
    SpawnFailed,
    /// `ao session cleanup` archived it.
    Cleanup,
    /// Its pull request was closed without merging.
    PrClosed,
    /// The host merged its pull request (the `approved-and-green` reaction's auto-merge).
    AutoMerge,
    /// Its issue was completed in the tracker.
    IssueCompleted,
}

impl StatusReason {
    /// Every reason, for listings and round-trip tests.
    pub const ALL: [StatusReason; 9] = [
        StatusReason::User,
        StatusReason::RuntimeLost,
        StatusReason::AgentExited,
        StatusReason::AgentFinished,
        StatusReason::SpawnFailed,
        StatusReason::Cleanup,
        StatusReason::PrClosed,
        StatusReason::AutoMerge,
        StatusReason::IssueCompleted,
    ];

    /// The name used in the store and `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusReason::User => "user",
            StatusReason::RuntimeLost => "runtime_lost",
            StatusReason::AgentExited => "agent_exited",
            StatusReason::AgentFinished => "agent_finished",
            StatusReason::SpawnFailed => "spawn_failed",
            StatusReason::Cleanup => "cleanup",
            StatusReason::PrClosed => "pr_closed",
            StatusReason::AutoMerge => "auto_merge",
            StatusReason::IssueCompleted => "issue_completed",
        }
    }
}

impl fmt::Display for StatusReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StatusReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StatusReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown status reason `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde_and_parse_back() {
        for st in SessionStatus::ALL {
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{st}\""));
            assert_eq!(st.as_str().parse::<SessionStatus>().unwrap(), st);
        }
        for r in StatusReason::ALL {
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
            assert_eq!(r.as_str().parse::<StatusReason>().unwrap(), r);
        }
        assert!("nope".parse::<SessionStatus>().is_err());
    }
}
