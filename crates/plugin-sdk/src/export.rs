//! The glue [`crate::export_plugin!`] expands to: every entry point catches panics and
//! turns them into a status ao understands, and JSON in and out of each call.

use crate::abi::{RawBuf, RawStr, Request, STATUS_ERROR, STATUS_OK, STATUS_PANIC};
use crate::{Context, Error, Slot};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// One slot's dispatcher: creates the plugin and turns a method name and its JSON
/// parameters into a call of the slot's trait.
pub trait Dispatch: Send + Sync + Sized + 'static {
    /// The slot.
    const SLOT: Slot;
    /// Creates the plugin from its `plugins:` entry's `config`.
    fn create(config: Value) -> Result<Self, Error>;
    /// Runs one method.
    fn dispatch(&self, method: &str, cx: &Context, params: Value) -> Result<Value, Error>;
}

/// Reads a method's parameters.
pub fn params<T: DeserializeOwned>(method: &str, v: Value) -> Result<T, Error> {
    serde_json::from_value(v)
        .map_err(|e| Error::failed(format!("bad parameters for `{method}`: {e}")))
}

/// Writes a method's result.
pub fn result<T: Serialize>(t: T) -> Result<Value, Error> {
    Ok(serde_json::to_value(t)?)
}

/// The error for a method this plugin's slot does not have.
pub fn unknown_method(slot: Slot, method: &str) -> Error {
    Error::failed(format!(
        "a {slot} plugin has no method `{method}` (the plugin is older than this ao?)"
    ))
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps a panic's message and place for the caller instead of printing it on ao's
/// standard error.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            let place = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message}{place}")));
        }));
    });
}

fn take_panic() -> String {
    LAST_PANIC
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| "a panic".to_owned())
}

fn write(out: *mut RawBuf, bytes: Vec<u8>) {
    if !out.is_null() {
        // SAFETY: ao passes a valid, writable RawBuf for every call.
        unsafe { out.write(RawBuf::from_vec(bytes)) };
    }
}

fn error_json(e: &Error) -> Vec<u8> {
    serde_json::to_vec(e).unwrap_or_else(|_| br#"{"message":"unprintable error"}"#.to_vec())
}

/// `init` of the plugin table.
///
/// # Safety
/// `config` must describe live bytes and `out` a writable buffer.
pub unsafe fn init<D: Dispatch>(config: RawStr, out: *mut RawBuf) -> *mut c_void {
    quiet_panics();
    let made = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller passes bytes that live for the call.
        let bytes = unsafe { config.as_bytes() };
        let config = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes)?
        };
        D::create(config)
    }));
    match made {
        Ok(Ok(d)) => Box::into_raw(Box::new(d)).cast(),
        Ok(Err(e)) => {
            write(out, error_json(&e));
            std::ptr::null_mut()
        }
        Err(_) => {
            let e = Error::failed(format!("panicked while starting: {}", take_panic()));
            write(out, error_json(&e));
            std::ptr::null_mut()
        }
    }
}

/// `call` of the plugin table.
///
/// # Safety
/// `instance` must come from [`init`] with the same `D`; the strings must describe live
/// bytes and `out` a writable buffer.
pub unsafe fn call<D: Dispatch>(
    instance: *mut c_void,
    method: RawStr,
    request: RawStr,
    out: *mut RawBuf,
) -> i32 {
    quiet_panics();
    let done = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller passes an instance made by `init::<D>`, never freed.
        let d = unsafe { &*(instance as *const D) };
        // SAFETY: the caller passes bytes that live for the call.
        let (method, request) = unsafe { (method.as_bytes(), request.as_bytes()) };
        let method = std::str::from_utf8(method)
            .map_err(|_| Error::failed("the method name is not UTF-8"))?;
        let request: Request<Value> = serde_json::from_slice(request)
            .map_err(|e| Error::failed(format!("a request this plugin cannot read: {e}")))?;
        // A newer message only adds optional fields: `v` is read as far as this SDK knows.
        let cx = Context {
            config: request.config,
            config_dir: request.config_dir,
        };
        d.dispatch(method, &cx, request.params)
    }));
    match done {
        Ok(Ok(v)) => {
            write(
                out,
                serde_json::to_vec(&v).unwrap_or_else(|_| b"null".to_vec()),
            );
            STATUS_OK
        }
        Ok(Err(e)) => {
            write(out, error_json(&e));
            STATUS_ERROR
        }
        Err(_) => {
            write(out, take_panic().into_bytes());
            STATUS_PANIC
        }
    }
}

/// `free_buf` of the plugin table: frees output this library allocated.
///
/// # Safety
/// `buf` must come from this library's [`init`] or [`call`], once.
pub unsafe extern "C" fn free_buf(buf: RawBuf) {
    // SAFETY: the caller hands back a buffer this library made with `RawBuf::from_vec`.
    drop(unsafe { buf.into_vec() });
}

/// Exports a plugin: `export_plugin!(SLOT: TYPE, name: "...", description: "...")`, where
/// SLOT is `notifier`, `tracker`, `runtime`, `workspace`, `scm` or `agent` and TYPE
/// implements [`crate::Plugin`] and that slot's trait. An optional `version: "..."` overrides
/// the crate's own version. Refuses to compile with `panic = "abort"`.
#[macro_export]
macro_rules! export_plugin {
    ($slot:ident : $ty:ty, name: $name:expr, description: $desc:expr $(,)?) => {
        $crate::export_plugin!($slot: $ty, name: $name, description: $desc, version: env!("CARGO_PKG_VERSION"));
    };
    ($slot:ident : $ty:ty, name: $name:expr, description: $desc:expr, version: $version:expr $(,)?) => {
        #[cfg(panic = "abort")]
        compile_error!(
            "ao plugins must be built with panic = \"unwind\": under panic = \"abort\" a panic in the plugin ends ao itself. Set `panic = \"unwind\"` in the [profile] sections of your Cargo.toml."
        );

        const _: () = {
            type AoDispatch = $crate::__slot_dispatch!($slot, $ty);

            unsafe extern "C" fn ao_init(
                config: $crate::abi::RawStr,
                out: *mut $crate::abi::RawBuf,
            ) -> *mut ::std::ffi::c_void {
                // SAFETY: ao passes live bytes and a writable buffer.
                unsafe { $crate::export::init::<AoDispatch>(config, out) }
            }

            unsafe extern "C" fn ao_call(
                instance: *mut ::std::ffi::c_void,
                method: $crate::abi::RawStr,
                request: $crate::abi::RawStr,
                out: *mut $crate::abi::RawBuf,
            ) -> i32 {
                // SAFETY: ao passes an instance from ao_init, live bytes and a writable buffer.
                unsafe { $crate::export::call::<AoDispatch>(instance, method, request, out) }
            }

            static AO_TABLE: $crate::abi::PluginTable = $crate::abi::PluginTable {
                abi_version: $crate::abi::ABI_VERSION,
                size: ::std::mem::size_of::<$crate::abi::PluginTable>() as u32,
                name: $crate::abi::RawStr::from_static($name),
                version: $crate::abi::RawStr::from_static($version),
                slot: $crate::abi::RawStr::from_static(
                    <AoDispatch as $crate::export::Dispatch>::SLOT.as_str(),
                ),
                description: $crate::abi::RawStr::from_static($desc),
                sdk_version: $crate::abi::RawStr::from_static($crate::SDK_VERSION),
                init: ao_init,
                call: ao_call,
                free_buf: $crate::export::free_buf,
            };

            /// The plugin's entry: ao reads its table through it.
            #[unsafe(no_mangle)]
            pub extern "C" fn ao_plugin_entry() -> *const $crate::abi::PluginTable {
                &AO_TABLE
            }
        };
    };
}

/// The dispatcher type of a slot keyword.
#[doc(hidden)]
#[macro_export]
macro_rules! __slot_dispatch {
    (notifier, $ty:ty) => { $crate::notifier::AsNotifier<$ty> };
    (tracker, $ty:ty) => { $crate::tracker::AsTracker<$ty> };
    (runtime, $ty:ty) => { $crate::runtime::AsRuntime<$ty> };
    (workspace, $ty:ty) => { $crate::workspace::AsWorkspace<$ty> };
    (scm, $ty:ty) => { $crate::scm::AsScm<$ty> };
    (agent, $ty:ty) => { $crate::agent::AsAgent<$ty> };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::Request;
    use crate::notifier::{AsNotifier, Event, Notification, Notifier};
    use crate::{Context, Plugin};

    struct Picky;

    impl Plugin for Picky {
        fn init(config: Value) -> Result<Self, Error> {
            match config.get("refuse") {
                Some(_) => Err(Error::failed("refused at start")),
                None => Ok(Picky),
            }
        }
    }

    impl Notifier for Picky {
        fn notify(&self, cx: &Context, n: &Notification) -> Result<(), Error> {
            match cx.setting("mode") {
                Some("fail") => Err(Error::refused("would lose data")),
                Some("panic") => panic!("boom on {}", n.event.kind),
                _ => Ok(()),
            }
        }
    }

    type D = AsNotifier<Picky>;

    fn raw_init(config: &str) -> (*mut c_void, Vec<u8>) {
        let mut out = RawBuf::EMPTY;
        // SAFETY: live bytes and a writable buffer.
        let inst = unsafe { init::<D>(RawStr::new(config.as_bytes()), &mut out) };
        // SAFETY: the buffer came from `init` in this same crate.
        (inst, unsafe { out.into_vec() })
    }

    fn raw_call(inst: *mut c_void, method: &str, mode: &str) -> (i32, Vec<u8>) {
        let request = Request {
            v: 1,
            config: serde_json::json!({ "mode": mode }),
            config_dir: None,
            params: Notification {
                title: "t".into(),
                event: Event {
                    id: 0,
                    at: 1,
                    project: String::new(),
                    session: None,
                    priority: "info".into(),
                    kind: "test".into(),
                    message: "m".into(),
                    details: Default::default(),
                },
            },
        };
        let bytes = serde_json::to_vec(&request).unwrap();
        let mut out = RawBuf::EMPTY;
        // SAFETY: an instance from `init::<D>`, live bytes, a writable buffer.
        let status = unsafe {
            call::<D>(
                inst,
                RawStr::new(method.as_bytes()),
                RawStr::new(&bytes),
                &mut out,
            )
        };
        // SAFETY: as above.
        (status, unsafe { out.into_vec() })
    }

    #[test]
    fn calls_answer_with_status_and_json_and_catch_panics() {
        let (inst, _) = raw_init("null");
        assert!(!inst.is_null());
        assert_eq!(
            raw_call(inst, "notify", "ok"),
            (STATUS_OK, b"null".to_vec())
        );

        let (status, out) = raw_call(inst, "notify", "fail");
        assert_eq!(status, STATUS_ERROR);
        assert_eq!(
            serde_json::from_slice::<Error>(&out).unwrap(),
            Error::refused("would lose data")
        );

        let (status, out) = raw_call(inst, "notify", "panic");
        assert_eq!(status, STATUS_PANIC);
        let message = String::from_utf8(out).unwrap();
        assert!(message.starts_with("boom on test at "), "{message}");
        assert!(message.contains("export.rs"), "{message}");

        let (status, out) = raw_call(inst, "no_such_method", "ok");
        assert_eq!(status, STATUS_ERROR);
        let e: Error = serde_json::from_slice(&out).unwrap();
        assert!(e.message.contains("has no method `no_such_method`"), "{e}");
    }

    #[test]
    fn a_refusing_init_returns_no_instance_and_its_message() {
        let (inst, out) = raw_init(r#"{"refuse": true}"#);
        assert!(inst.is_null());
        assert_eq!(
            serde_json::from_slice::<Error>(&out).unwrap().message,
            "refused at start"
        );
    }
}
