//! The `desktop` notifier: the desktop's notification service (D-Bus
//! `org.freedesktop.Notifications` on Linux, through zbus; the native centre on macOS).
//! The title, the message with the command that attaches to the session, and an urgency
//! from the priority (urgent is critical, info is low).

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

#[cfg(feature = "desktop")]
mod imp {
    use ao_core::model::Priority;
    use ao_core::plugin::{Notification, Notifier, PluginError};
    use ao_core::registry::SectionRef;
    use async_trait::async_trait;
    use std::sync::Arc;

    struct Desktop;

    /// The notification's text: its message, and how to open its session.
    fn body(n: &Notification) -> String {
        match &n.event.session {
            Some(s) => format!("{}: {}\nao attach {s}", s, n.event.message),
            None => n.event.message.clone(),
        }
    }

    #[async_trait]
    impl Notifier for Desktop {
        async fn notify(&self, n: &Notification) -> Result<(), PluginError> {
            let mut note = notify_rust::Notification::new();
            note.appname("ao").summary(&n.title).body(&body(n));
            #[cfg(all(unix, not(target_os = "macos")))]
            {
                note.urgency(match n.event.priority {
                    Priority::Urgent => notify_rust::Urgency::Critical,
                    Priority::Action | Priority::Warning => notify_rust::Urgency::Normal,
                    Priority::Info => notify_rust::Urgency::Low,
                });
                note.show_async().await.map(|_| ()).map_err(|e| {
                    PluginError::failed(
                        "desktop",
                        format!("the desktop's notification service did not take it: {e}"),
                    )
                })
            }
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            {
                let _ = Priority::Info;
                tokio::task::spawn_blocking(move || note.show().map(|_| ()))
                    .await
                    .map_err(|e| PluginError::failed("desktop", e.to_string()))?
                    .map_err(|e| {
                        PluginError::failed(
                            "desktop",
                            format!("the notification centre did not take it: {e}"),
                        )
                    })
            }
        }
    }

    pub(super) fn build(_section: &SectionRef<'_>) -> Result<Arc<dyn Notifier>, PluginError> {
        Ok(Arc::new(Desktop))
    }
}

/// The registry entry.
pub fn entry() -> PluginEntry {
    let description = "desktop notifications (D-Bus on Linux, Notification Center on macOS)";
    #[cfg(feature = "desktop")]
    {
        crate::available(
            Slot::Notifier,
            "desktop",
            description,
            None,
            ao_core::registry::Factory::Notifier(std::sync::Arc::new(imp::build)),
        )
    }
    #[cfg(not(feature = "desktop"))]
    {
        crate::planned(Slot::Notifier, "desktop", description, None)
    }
}
