use serde::{Deserialize, Serialize};
use std::fmt;

/// How a plugin call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// It tried and failed.
    #[default]
    Failed,
    /// It refused work that would lose the user's data (a workspace with unsaved work).
    Refused,
    /// It failed for now (a service down or limiting requests); trying later may work.
    Transient,
}

/// A plugin's failure, in one sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// Failed or refused.
    #[serde(default)]
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
    /// For a transient failure: how long to wait before trying again, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl Error {
    /// A plain failure.
    pub fn failed(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Failed,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// A failure for now; `retry_after_ms` when the service said how long to wait.
    pub fn transient(message: impl Into<String>, retry_after_ms: Option<u64>) -> Error {
        Error {
            kind: ErrorKind::Transient,
            message: message.into(),
            retry_after_ms,
        }
    }

    /// A refusal to lose the user's data.
    pub fn refused(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Refused,
            message: message.into(),
            retry_after_ms: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::failed(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::failed(e.to_string())
    }
}
