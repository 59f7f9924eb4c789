//! The `dashboard` notifier: notifications for the people watching ao's dashboard. The
//! notification is delivered into the event log (the `notified` entry the dispatcher
//! records for every delivery), which the host's stream pushes to every open page: the
//! dashboard shows it there at once, and a page opened later finds it on its events
//! page. Nothing leaves the machine, so it cannot fail.

use ao_core::plugin::{Notification, Notifier, PluginError, Slot};
use ao_core::registry::{PluginEntry, SectionRef};
use async_trait::async_trait;
use std::sync::Arc;

struct Dashboard;

#[async_trait]
impl Notifier for Dashboard {
    async fn notify(&self, _n: &Notification) -> Result<(), PluginError> {
        Ok(())
    }
}

fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Notifier>, PluginError> {
    Ok(Arc::new(Dashboard))
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::available(
        Slot::Notifier,
        "dashboard",
        "shown on the dashboard's pages (the host's `port`), kept in the event log",
        None,
        ao_core::registry::Factory::Notifier(Arc::new(build)),
    )
}
