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
            ManagerError::Plugin(_) | ManagerError::Cancelled | ManagerError::Interrupted => None,
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
