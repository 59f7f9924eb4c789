//! A notifier that records what it delivered.

use super::FAKE;
use super::script::{Scripted, Scripts, lock, perform};
use crate::plugin::{Notification, Notifier, PluginError};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};

/// The fake notifier's one operation, to script and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NotifierOp {
    /// `notify`.
    Notify,
}

#[derive(Debug, Default)]
struct State {
    delivered: Vec<Notification>,
    scripts: Scripts<NotifierOp>,
}

/// A notifier in memory; clones share their deliveries.
#[derive(Debug, Clone, Default)]
pub struct FakeNotifier {
    state: Arc<Mutex<State>>,
}

impl FakeNotifier {
    /// The next deliveries go as `calls` say, in order; later ones as before.
    pub fn script(&self, calls: impl IntoIterator<Item = Scripted>) {
        lock(&self.state).scripts.push(NotifierOp::Notify, calls);
    }

    /// Every delivery after the scripted ones goes as `then` says.
    pub fn script_always(&self, then: Scripted) {
        lock(&self.state).scripts.always(NotifierOp::Notify, then);
    }

    /// How many deliveries were tried, whatever became of them.
    pub fn calls(&self) -> usize {
        lock(&self.state).scripts.calls(NotifierOp::Notify)
    }

    /// What it delivered, in order.
    pub fn delivered(&self) -> Vec<Notification> {
        lock(&self.state).delivered.clone()
    }

    /// The titles of what it delivered, in order.
    pub fn titles(&self) -> Vec<String> {
        self.delivered().into_iter().map(|n| n.title).collect()
    }
}

#[async_trait]
impl Notifier for FakeNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), PluginError> {
        let scripted = lock(&self.state).scripts.take(NotifierOp::Notify);
        perform(scripted, FAKE, || {
            lock(&self.state).delivered.push(notification.clone());
            Ok(())
        })
        .await
    }
}
