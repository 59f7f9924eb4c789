//! One plugin instance and its calls: each runs on a thread of its own with a time-out,
//! so a plugin that hangs or panics never stalls or crashes ao. A plugin that panics or
//! times out is disabled for the rest of the process, with an event saying why.

use super::library::Library;
use crate::model::{Event, EventKind, Priority, now_ms};
use crate::plugin::PluginError;
use ao_plugin_sdk::abi::{
    MESSAGE_VERSION, RawBuf, RawStr, Request, STATUS_ERROR, STATUS_OK, STATUS_PANIC,
};
use ao_plugin_sdk::{Error as WireError, ErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where events about external plugins go (the store, in ao).
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A created plugin instance, shared by every adapter built from it.
pub(crate) struct Instance {
    /// The name the config gives the plugin.
    pub name: String,
    lib: Library,
    /// The instance pointer `init` returned, kept as an address so it crosses threads.
    handle: usize,
    timeout: Duration,
    disabled: Mutex<Option<String>>,
    events: EventSink,
    config_dir: PathBuf,
}

/// A finished raw call: the status and the output bytes.
type Raw = (i32, Vec<u8>);

/// Runs one raw call of the table (on the calling thread).
fn raw_call(lib: Library, handle: usize, method: &str, request: &[u8]) -> Raw {
    let mut out = RawBuf::EMPTY;
    // SAFETY: the table passed the ABI checks; the instance came from its `init`; the
    // strings live for the call and `out` is writable.
    let status = unsafe {
        (lib.table.call)(
            handle as *mut c_void,
            RawStr::new(method.as_bytes()),
            RawStr::new(request),
            &mut out,
        )
    };
    (status, take(lib, out))
}

/// Copies a buffer the plugin returned and hands it back to the plugin to free.
fn take(lib: Library, out: RawBuf) -> Vec<u8> {
    if out.ptr.is_null() {
        return Vec::new();
    }
    // SAFETY: the plugin filled `len` bytes at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
    // SAFETY: the buffer came from this library and is freed once, by it.
    unsafe { (lib.table.free_buf)(out) };
    bytes
}

impl Instance {
    /// Creates an instance from the `config:` of the plugin's entry, bounded by
    /// `timeout`. The error is the plugin's own message, or says it hung or panicked.
    pub fn create(
        name: &str,
        lib: Library,
        config: &Value,
        timeout: Duration,
        events: EventSink,
        config_dir: PathBuf,
    ) -> Result<Instance, String> {
        let config = serde_json::to_vec(config).expect("JSON values serialize");
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(1);
        spawn_thread(name, move || {
            let mut out = RawBuf::EMPTY;
            // SAFETY: as in `raw_call`; `init` returns an instance or null.
            let handle = unsafe { (lib.table.init)(RawStr::new(&config), &mut out) } as usize;
            let _ = tx.send((handle, take(lib, out)));
        })
        .map_err(|e| format!("cannot start a thread for it: {e}"))?;
        match rx.recv_timeout(timeout) {
            Ok((0, bytes)) => Err(serde_json::from_slice::<WireError>(&bytes)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())),
            Ok((handle, _)) => Ok(Instance {
                name: name.to_owned(),
                lib,
                handle,
                timeout,
                disabled: Mutex::new(None),
                events,
                config_dir,
            }),
            Err(_) => Err(format!(
                "it did not start within {} ms",
                timeout.as_millis()
            )),
        }
    }

    /// Why the plugin is disabled, if it is.
    pub fn disabled(&self) -> Option<String> {
        self.disabled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn request<P: Serialize>(&self, section: &Value, params: &P) -> Result<Vec<u8>, PluginError> {
        let req = Request {
            v: MESSAGE_VERSION,
            config: section.clone(),
            config_dir: Some(self.config_dir.clone()),
            params,
        };
        serde_json::to_vec(&req).map_err(|e| PluginError::failed(&self.name, e.to_string()))
    }

    fn check_enabled(&self) -> Result<(), PluginError> {
        match self.disabled() {
            Some(why) => Err(PluginError::Disabled {
                plugin: self.name.clone(),
                why,
            }),
            None => Ok(()),
        }
    }

    /// Starts `method` on a thread of its own; `reply` receives the raw answer there.
    fn start<P: Serialize>(
        &self,
        method: &str,
        section: &Value,
        params: &P,
        reply: impl FnOnce(Raw) + Send + 'static,
    ) -> Result<(), PluginError> {
        self.check_enabled()?;
        let request = self.request(section, params)?;
        let (lib, handle, m) = (self.lib, self.handle, method.to_owned());
        spawn_thread(&self.name, move || {
            reply(raw_call(lib, handle, &m, &request))
        })
        .map_err(|e| PluginError::failed(&self.name, format!("cannot start a thread: {e}")))
    }

    /// Calls `method` off the async runtime, bounded by the plugin's time-out.
    pub async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        section: &Value,
        params: &P,
    ) -> Result<R, PluginError> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Raw>();
        self.start(method, section, params, move |raw| {
            let _ = tx.send(raw);
        })?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(raw)) => self.answer(method, raw),
            Ok(Err(_)) => Err(self.disable(method, "its thread ended without an answer".into())),
            Err(_) => Err(self.timed_out(method)),
        }
    }

    /// Calls `method` from synchronous code, bounded by the plugin's time-out.
    pub fn call_blocking<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        section: &Value,
        params: &P,
    ) -> Result<R, PluginError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Raw>(1);
        self.start(method, section, params, move |raw| {
            let _ = tx.send(raw);
        })?;
        match rx.recv_timeout(self.timeout) {
            Ok(raw) => self.answer(method, raw),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(self.timed_out(method)),
            Err(_) => Err(self.disable(method, "its thread ended without an answer".into())),
        }
    }

    fn answer<R: DeserializeOwned>(
        &self,
        method: &str,
        (status, bytes): Raw,
    ) -> Result<R, PluginError> {
        match status {
            STATUS_OK => serde_json::from_slice(&bytes).map_err(|e| {
                PluginError::failed(
                    &self.name,
                    format!("answered `{method}` with something ao cannot read: {e}"),
                )
            }),
            STATUS_ERROR => {
                let e = serde_json::from_slice::<WireError>(&bytes).unwrap_or_else(|_| {
                    WireError::failed(String::from_utf8_lossy(&bytes).into_owned())
                });
                Err(match e.kind {
                    ErrorKind::Refused => PluginError::Refused {
                        plugin: self.name.clone(),
                        message: e.message,
                    },
                    ErrorKind::Failed => PluginError::failed(&self.name, e.message),
                    ErrorKind::Transient => PluginError::Transient {
                        plugin: self.name.clone(),
                        message: e.message,
                        retry_after_ms: e.retry_after_ms,
                    },
                })
            }
            STATUS_PANIC => Err(self.disable(
                method,
                format!("panicked: {}", String::from_utf8_lossy(&bytes)),
            )),
            other => Err(self.disable(method, format!("answered with unknown status {other}"))),
        }
    }

    fn timed_out(&self, method: &str) -> PluginError {
        let ms = self.timeout.as_millis();
        self.disable(
            method,
            format!("did not answer within {ms} ms (its thread cannot be reclaimed)"),
        );
        PluginError::Timeout {
            plugin: self.name.clone(),
            millis: ms as u64,
        }
    }

    /// Disables the plugin for the rest of the process and records why.
    fn disable(&self, method: &str, what: String) -> PluginError {
        let why = format!("{what} (in `{method}`)");
        let first = {
            let mut d = self.disabled.lock().unwrap_or_else(|e| e.into_inner());
            let first = d.is_none();
            if first {
                *d = Some(why.clone());
            }
            first
        };
        if first {
            let message = format!("plugin `{}` is disabled: {why}", self.name);
            tracing::warn!("{message}");
            (self.events)(Event {
                id: 0,
                at: now_ms(),
                project: String::new(),
                session: None,
                priority: Priority::Warning,
                kind: EventKind::PluginDisabled {
                    plugin: self.name.clone(),
                },
                message,
            });
        }
        PluginError::Disabled {
            plugin: self.name.clone(),
            why,
        }
    }
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("ao-plugin-{name}"))
        .spawn(f)
        .map(drop)
}
