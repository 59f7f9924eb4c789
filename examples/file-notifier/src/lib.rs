//! An ao notifier plugin that appends each notification to a file, one JSON object per
//! line, for scripts and log shippers to pick up.
//!
//! ```yaml
//! plugins:
//!   - name: file-notifier
//!     path: ./target/release/libao_example_file_notifier.so
//!     config: { path: ~/ao-events.jsonl }   # the default file (optional)
//! notifiers:
//!   log:
//!     plugin: file-notifier
//!     path: ao-events.jsonl                 # this notifier's file, beside the config
//! ```

use ao_plugin_sdk::notifier::{Notification, Notifier};
use ao_plugin_sdk::serde_json::{Value, json};
use ao_plugin_sdk::{Context, Error, Plugin, export_plugin};
use std::io::Write;
use std::path::PathBuf;

/// Appends notifications to a file.
struct FileNotifier {
    /// The file named in the plugin's own `config:`, used when a notifier names none.
    default_path: Option<PathBuf>,
}

impl Plugin for FileNotifier {
    fn init(config: Value) -> Result<Self, Error> {
        let default_path = match config.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(expand_home(p)),
            Some(other) => {
                return Err(Error::failed(format!(
                    "`path` must be a file name, not {other}"
                )));
            }
        };
        Ok(FileNotifier { default_path })
    }
}

impl Notifier for FileNotifier {
    fn notify(&self, cx: &Context, n: &Notification) -> Result<(), Error> {
        let path = cx
            .path_setting("path")
            .map(|p| expand_home(&p.to_string_lossy()))
            .or_else(|| self.default_path.clone())
            .ok_or_else(|| {
                Error::failed("no file to write to: set `path` in the notifier's section")
            })?;
        let e = &n.event;
        let mut line = json!({
            "at": e.at,
            "title": n.title,
            "priority": e.priority,
            "kind": e.kind,
            "project": e.project,
            "session": e.session,
            "message": e.message,
        })
        .to_string();
        line.push('\n');
        // One write of a whole line in append mode, so lines from concurrent ao processes
        // never interleave.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|err| Error::failed(format!("cannot append to {}: {err}", path.display())))
    }
}

/// `~/x` as a path under `$HOME`.
fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

export_plugin!(
    notifier: FileNotifier,
    name: "file-notifier",
    description: "appends each notification to a file as a JSON line"
);
