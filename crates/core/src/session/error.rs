//! What a session command can fail with.

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
    /// The user asked for something that cannot be done; the hint says what to do.
    #[error("{message}")]
    Refused {
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: Option<String>,
    },
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

    /// What the user can do about it, if anything is known.
    pub fn hint(&self) -> Option<String> {
        match self {
            ManagerError::Store(e) => e.hint().map(str::to_owned),
            ManagerError::Refused { hint, .. } => hint.clone(),
            ManagerError::Plugin(_)
            | ManagerError::Cancelled
            | ManagerError::Interrupted
            | ManagerError::UnsavedWork { .. }
            | ManagerError::Transient { .. } => None,
        }
    }

    /// Whether the same may work if tried again later, and after how long when that is
    /// known (`Some(None)`: later, no wait said). The host retries these; the rest it
    /// reports (and its reactions escalate).
    pub fn retry_after(&self) -> Option<Option<std::time::Duration>> {
        match self {
            ManagerError::Transient { retry_after, .. } => Some(*retry_after),
            ManagerError::Plugin(PluginError::Transient { retry_after_ms, .. }) => {
                Some(retry_after_ms.map(std::time::Duration::from_millis))
            }
            ManagerError::Plugin(PluginError::Timeout { .. }) => Some(None),
            _ => None,
        }
    }

    /// The same error with what `redact` makes of its message and hint.
    pub(crate) fn redacted(self, redact: impl Fn(&str) -> String) -> ManagerError {
        match self {
            ManagerError::Refused { message, hint } => ManagerError::Refused {
                message: redact(&message),
                hint: hint.map(|h| redact(&h)),
            },
            ManagerError::Plugin(p) => ManagerError::plain(redact(&p.to_string())),
            e => e,
        }
    }

    /// The same error with `prefix` before its message (`app-3: spawn failed: ...`).
    pub(crate) fn context(self, prefix: &str, note: &str) -> ManagerError {
        match self {
            ManagerError::Refused { message, hint } => ManagerError::Refused {
                message: format!("{prefix}{message}{note}"),
                hint,
            },
            ManagerError::Plugin(p) => ManagerError::plain(format!("{prefix}{p}{note}")),
            e @ (ManagerError::Cancelled | ManagerError::Interrupted) => {
                ManagerError::plain(format!("{prefix}{e}{note}"))
            }
            e => e,
        }
    }
}
