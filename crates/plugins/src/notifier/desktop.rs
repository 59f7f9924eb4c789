//! The `desktop` notifier: the desktop's notification service.

use ao_core::plugin::Slot;
use ao_core::registry::PluginEntry;

/// The registry entry.
pub fn entry() -> PluginEntry {
    crate::planned(
        Slot::Notifier,
        "desktop",
        "desktop notifications (D-Bus on Linux, Notification Center on macOS)",
        None,
    )
}
