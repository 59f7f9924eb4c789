//! A notifier for ao's tests that does what its section's `mode` says: `ok` (records the
//! notification in the file `record`), `fail`, `panic` or `hang`. With `init: fail` in the
//! plugin's own config it refuses to start.

use ao_plugin_sdk::notifier::{Notification, Notifier};
use ao_plugin_sdk::serde_json::Value;
use ao_plugin_sdk::{Context, Error, Plugin, export_plugin};

struct Misbehaving;

impl Plugin for Misbehaving {
    fn init(config: Value) -> Result<Self, Error> {
        match config.get("init").and_then(Value::as_str) {
            Some("fail") => Err(Error::failed("told to fail at start")),
            _ => Ok(Misbehaving),
        }
    }
}

impl Notifier for Misbehaving {
    fn notify(&self, cx: &Context, n: &Notification) -> Result<(), Error> {
        match cx.setting("mode").unwrap_or("ok") {
            "fail" => Err(Error::failed("told to fail")),
            "panic" => panic!("told to panic on {}", n.event.kind),
            "hang" => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            _ => {
                if let Some(path) = cx.path_setting("record") {
                    std::fs::write(path, &n.event.message)?;
                }
                Ok(())
            }
        }
    }
}

export_plugin!(
    notifier: Misbehaving,
    name: "misbehaving",
    description: "a notifier that fails, panics or hangs on request"
);
