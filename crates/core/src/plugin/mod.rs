//! The six plugin slots. Each trait is async and object-safe, so the registry hands out
//! `Arc<dyn Trait>` whether the plugin is built in or loaded from a library.

mod agent;
pub mod external;
mod notifier;
mod pane_watch;
mod runtime;
mod scm;
mod tracker;
mod workspace;

pub use agent::{
    ActivityContext, ActivityReport, ActivitySource, Agent, AgentSessionInfo, Choice, DialogAnswer,
    LaunchContext, LaunchSpec, PromptDelivery,
};
pub use ao_plugin_sdk::Slot;
pub use notifier::{Notification, Notifier};
pub use runtime::{
    AttachInfo, Liveness, PaneEvent, PaneScreen, PaneWatch, Probe, Redraw, Runtime, RuntimeSpec,
};
pub use scm::{
    Budget, CheckRun, CheckState, MergeMethod, MergeParams, PrState, PrStatus, ReviewDecision,
    ReviewThread, Scm,
};
pub use tracker::{Issue, IssueFilter, Tracker};
pub use workspace::{CommandOutput, Workspace, WorkspaceInfo, WorkspaceSpec};

/// A plugin call that failed, with the plugin's name so the user knows whom to blame.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin tried and failed; the message is the plugin's own.
    #[error("{plugin}: {message}")]
    Failed {
        /// The plugin's name.
        plugin: String,
        /// What went wrong, in one sentence.
        message: String,
    },
    /// The plugin did not answer in time.
    #[error("{plugin}: no answer within {millis} ms")]
    Timeout {
        /// The plugin's name.
        plugin: String,
        /// The time-out that ran out, in milliseconds.
        millis: u64,
    },
    /// The plugin refuses work that would lose the user's data unless forced.
    #[error("{plugin}: {message}")]
    Refused {
        /// The plugin's name.
        plugin: String,
        /// What it refused and why, naming what would be lost.
        message: String,
    },
    /// The plugin failed for now (its service is down or limiting requests); trying later
    /// may work.
    #[error("{plugin}: {message}")]
    Transient {
        /// The plugin's name.
        plugin: String,
        /// What went wrong, in one sentence.
        message: String,
        /// How long to wait before trying again, when the service said.
        retry_after_ms: Option<u64>,
    },
    /// The plugin was disabled earlier (it panicked, or timed out).
    #[error("{plugin} is disabled: {why}")]
    Disabled {
        /// The plugin's name.
        plugin: String,
        /// Why it was disabled.
        why: String,
    },
}

impl PluginError {
    /// A plain failure of `plugin`.
    pub fn failed(plugin: &str, message: impl Into<String>) -> PluginError {
        PluginError::Failed {
            plugin: plugin.to_owned(),
            message: message.into(),
        }
    }

    /// The same error with what `redact` makes of its words, its kind kept.
    pub fn redacted(self, redact: impl Fn(&str) -> String) -> PluginError {
        match self {
            PluginError::Failed { plugin, message } => PluginError::Failed {
                plugin,
                message: redact(&message),
            },
            PluginError::Refused { plugin, message } => PluginError::Refused {
                plugin,
                message: redact(&message),
            },
            PluginError::Transient {
                plugin,
                message,
                retry_after_ms,
            } => PluginError::Transient {
                plugin,
                message: redact(&message),
                retry_after_ms,
            },
            PluginError::Disabled { plugin, why } => PluginError::Disabled {
                plugin,
                why: redact(&why),
            },
            e @ PluginError::Timeout { .. } => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    // Compiles only while every slot stays object-safe and shareable across tasks.
    #[test]
    fn every_slot_is_object_safe() {
        fn assert_dyn<T: ?Sized + Send + Sync>(_: Option<Arc<T>>) {}
        assert_dyn::<dyn Runtime>(None);
        assert_dyn::<dyn Agent>(None);
        assert_dyn::<dyn Workspace>(None);
        assert_dyn::<dyn Tracker>(None);
        assert_dyn::<dyn Scm>(None);
        assert_dyn::<dyn Notifier>(None);
    }
}
