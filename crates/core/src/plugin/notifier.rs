use super::PluginError;
use crate::model::Event;
use async_trait::async_trait;

/// What a notifier delivers: an event and a title for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// A short title ("app-3 needs input").
    pub title: String,
    /// The event behind it.
    pub event: Event,
}

/// Where the human hears about events.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers one notification; the host bounds it with a time-out.
    async fn notify(&self, notification: &Notification) -> Result<(), PluginError>;
}
