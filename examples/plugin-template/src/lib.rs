//! A template for an ao plugin: a notifier that runs a command for each notification,
//! with the notification as JSON on the command's standard input. Copy it, rename it,
//! and replace `notify` with your own (post to Teams, page PagerDuty, ...); or implement
//! another slot's trait (`ao_plugin_sdk::tracker::Tracker`, `runtime::Runtime`, ...)
//! and change the slot in `export_plugin!`.
//!
//! ```yaml
//! plugins:
//!   - name: command-notifier
//!     path: ./target/release/libao_plugin_template.so
//!     timeoutMs: 5000            # each call's limit (default 10000)
//! notifiers:
//!   pager:
//!     plugin: command-notifier
//!     command: [./scripts/page-me.sh, --urgent]
//! ```

use ao_plugin_sdk::notifier::{Notification, Notifier};
use ao_plugin_sdk::serde_json::{self, Value};
use ao_plugin_sdk::{Context, Error, Plugin, export_plugin};
use std::io::Write;
use std::process::{Command, Stdio};

/// The plugin. ao creates one from the `config:` of its `plugins:` entry and calls it
/// from several threads at once, so it must be `Send + Sync`.
struct CommandNotifier;

impl Plugin for CommandNotifier {
    /// Reads the plugin's own `config:` (here: nothing). An error here refuses the plugin
    /// and `ao plugin ls` shows its message.
    fn init(_config: Value) -> Result<Self, Error> {
        Ok(CommandNotifier)
    }
}

impl Notifier for CommandNotifier {
    /// Each notifier section that names this plugin reaches it as `cx.config`; relative
    /// paths there are relative to ao's config file (`cx.config_dir`).
    fn notify(&self, cx: &Context, n: &Notification) -> Result<(), Error> {
        let argv: Vec<String> = cx
            .config
            .get("command")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|_| Error::failed("`command` must be a list of strings"))?
            .unwrap_or_default();
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::failed(
                "no command: set `command: [program, args...]` in the notifier's section",
            ));
        };
        let mut child = Command::new(program)
            .args(args)
            .current_dir(cx.config_dir.clone().unwrap_or_else(|| ".".into()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::failed(format!("cannot run `{program}`: {e}")))?;
        let json = serde_json::to_vec(n)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its input is fine.
            let _ = stdin.write_all(&json);
        }
        let out = child.wait_with_output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::failed(format!(
                "`{program}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }
}

// The one exported symbol ao looks for, with the plugin's name, version and slot.
export_plugin!(
    notifier: CommandNotifier,
    name: "command-notifier",
    description: "runs a command for each notification, the notification as JSON on its standard input"
);
