//! The notifier slot: where the human hears about events.

use crate::export::{Dispatch, params, result, unknown_method};
use crate::{Context, Error, Plugin, Slot, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One entry of ao's event log, as a notifier receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its position in the log (0 for a test event that is not stored).
    #[serde(default)]
    pub id: i64,
    /// When it happened.
    pub at: Timestamp,
    /// The project it belongs to (empty for ao's own events).
    #[serde(default)]
    pub project: String,
    /// The session it concerns, if any.
    #[serde(default)]
    pub session: Option<String>,
    /// `urgent`, `action`, `warning` or `info`.
    pub priority: String,
    /// What happened: `session_spawned`, `status_changed`, `reaction_ran`, `escalated`,
    /// `plugin_disabled`, `test`, ... (new kinds may appear).
    pub kind: String,
    /// One sentence for humans.
    pub message: String,
    /// The kind's own fields (`from` and `to` of a status change, a reaction's name).
    #[serde(flatten)]
    pub details: serde_json::Map<String, Value>,
}

/// What a notifier delivers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// A short title ("app-3 needs input").
    pub title: String,
    /// The event behind it.
    pub event: Event,
}

/// A notifier plugin.
pub trait Notifier: Plugin {
    /// Delivers one notification. ao bounds each call with a time-out and runs it off
    /// its own threads, so a slow notifier delays nothing else.
    fn notify(&self, cx: &Context, notification: &Notification) -> Result<(), Error>;
}

/// The method names.
pub mod method {
    /// [`super::Notifier::notify`]: params [`super::Notification`], result `null`.
    pub const NOTIFY: &str = "notify";
}

/// The dispatcher [`crate::export_plugin!`] uses for a notifier.
#[doc(hidden)]
pub struct AsNotifier<T>(pub T);

impl<T: Notifier> Dispatch for AsNotifier<T> {
    const SLOT: Slot = Slot::Notifier;

    fn create(config: Value) -> Result<Self, Error> {
        T::init(config).map(AsNotifier)
    }

    fn dispatch(&self, m: &str, cx: &Context, p: Value) -> Result<Value, Error> {
        match m {
            method::NOTIFY => result(self.0.notify(cx, &params::<Notification>(m, p)?)?),
            _ => Err(unknown_method(Self::SLOT, m)),
        }
    }
}
