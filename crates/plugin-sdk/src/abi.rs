//! The binary interface between ao and a plugin library, version [`ABI_VERSION`].
//!
//! A plugin library exports one symbol, [`ENTRY_SYMBOL`]: a C function taking nothing and
//! returning a pointer to a static [`PluginTable`]. ao reads the table's first two fields
//! (the ABI version and the table's size) before anything else, so a library built
//! against another version is refused before any of its functions is called. The table
//! only ever grows by appending fields; `size` says how many a library has.
//!
//! Every call passes bytes in and gets bytes out: a JSON [`Request`] naming the method,
//! and the method's result (or an [`crate::Error`]) as JSON. Output bytes are allocated by the plugin and handed back to
//! the plugin's own `free_buf`, so each side frees only what it allocated.

use serde::{Deserialize, Serialize};
use std::ffi::c_void;

/// The version of the plugin ABI; a library built against another version is refused.
pub const ABI_VERSION: u32 = 1;

/// The version of the JSON messages inside the ABI.
pub const MESSAGE_VERSION: u32 = 1;

/// The symbol every plugin library exports (`ao_plugin_entry`), NUL-terminated.
pub const ENTRY_SYMBOL: &[u8] = b"ao_plugin_entry\0";

/// The entry function's type: returns the library's static table.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginTable;

/// A borrowed run of UTF-8 (or JSON) bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawStr {
    /// The first byte; may be dangling when `len` is 0.
    pub ptr: *const u8,
    /// How many bytes.
    pub len: usize,
}

impl RawStr {
    /// Points at a string that lives as long as the library (names in the table).
    pub const fn from_static(s: &'static str) -> RawStr {
        RawStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// Borrows a string for the duration of a call.
    pub fn new(s: &[u8]) -> RawStr {
        RawStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The bytes.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that outlive the returned slice.
    pub unsafe fn as_bytes<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees ptr/len describe live bytes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Bytes allocated by the plugin and owned by the caller until it passes them back to
/// the plugin's `free_buf`.
#[repr(C)]
#[derive(Debug)]
pub struct RawBuf {
    /// The first byte (null when empty).
    pub ptr: *mut u8,
    /// How many bytes are filled.
    pub len: usize,
    /// How many bytes were allocated.
    pub cap: usize,
}

impl RawBuf {
    /// An empty buffer that owns nothing.
    pub const EMPTY: RawBuf = RawBuf {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };

    /// Hands a vector's allocation over to the caller.
    pub fn from_vec(v: Vec<u8>) -> RawBuf {
        let mut v = std::mem::ManuallyDrop::new(v);
        RawBuf {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
        }
    }

    /// Takes a buffer made by [`RawBuf::from_vec`] in this same library back.
    ///
    /// # Safety
    /// The buffer must come from `from_vec` in the library that calls this, once.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        if self.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: the caller guarantees the parts come from a Vec<u8> of this allocator.
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
    }
}

/// The call succeeded; the output is the method's result as JSON.
pub const STATUS_OK: i32 = 0;
/// The plugin reports a failure; the output is a JSON [`crate::Error`].
pub const STATUS_ERROR: i32 = 1;
/// The plugin panicked; the output is the panic's message as UTF-8.
pub const STATUS_PANIC: i32 = 2;

/// Creates a plugin instance from its JSON config (the `config:` of its `plugins:` entry).
/// Returns the instance, or null with a JSON [`crate::Error`] in `out`.
pub type InitFn = unsafe extern "C" fn(config: RawStr, out: *mut RawBuf) -> *mut c_void;

/// Calls `method` on an instance with a JSON [`Request`]; the output's meaning depends on
/// the returned status ([`STATUS_OK`], [`STATUS_ERROR`], [`STATUS_PANIC`]).
pub type CallFn = unsafe extern "C" fn(
    instance: *mut c_void,
    method: RawStr,
    request: RawStr,
    out: *mut RawBuf,
) -> i32;

/// Frees a buffer the plugin returned.
pub type FreeFn = unsafe extern "C" fn(buf: RawBuf);

/// What a plugin library exports, behind [`ENTRY_SYMBOL`]. Version 1.
#[repr(C)]
#[derive(Debug)]
pub struct PluginTable {
    /// [`ABI_VERSION`] as the library was built; always the first field.
    pub abi_version: u32,
    /// `size_of::<PluginTable>()` as the library was built; always the second field.
    pub size: u32,
    /// The plugin's name.
    pub name: RawStr,
    /// The plugin's own version.
    pub version: RawStr,
    /// The slot it fills: `runtime`, `agent`, `workspace`, `tracker`, `scm` or `notifier`.
    pub slot: RawStr,
    /// One line for `ao plugin ls`.
    pub description: RawStr,
    /// The version of ao-plugin-sdk it was built with.
    pub sdk_version: RawStr,
    /// Creates an instance.
    pub init: InitFn,
    /// Calls a method.
    pub call: CallFn,
    /// Frees output.
    pub free_buf: FreeFn,
}

// SAFETY: the table is immutable static data (string literals and function pointers).
unsafe impl Sync for PluginTable {}
// SAFETY: as above; the pointers are to 'static data.
unsafe impl Send for PluginTable {}

/// What ao sends with every call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request<P> {
    /// [`MESSAGE_VERSION`].
    pub v: u32,
    /// The plugin's own section of the config where it is named (a project's
    /// `tracker:`, a notifier's entry), without the `plugin` key; `null` when none.
    #[serde(default)]
    pub config: serde_json::Value,
    /// The directory of ao's config file, which relative paths in settings are
    /// relative to.
    #[serde(default)]
    pub config_dir: Option<std::path::PathBuf>,
    /// The method's parameters.
    pub params: P,
}

/// The time-out ao applies to each call unless the plugin's entry sets `timeoutMs`.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    // The ABI only grows by appending: version and size first, then version 1's fields
    // in their order. Reordering or inserting a field fails here.
    #[test]
    fn the_table_keeps_its_layout() {
        assert_eq!(offset_of!(PluginTable, abi_version), 0);
        assert_eq!(offset_of!(PluginTable, size), 4);
        let v1 = [
            offset_of!(PluginTable, name),
            offset_of!(PluginTable, version),
            offset_of!(PluginTable, slot),
            offset_of!(PluginTable, description),
            offset_of!(PluginTable, sdk_version),
            offset_of!(PluginTable, init),
            offset_of!(PluginTable, call),
            offset_of!(PluginTable, free_buf),
        ];
        assert!(v1.windows(2).all(|w| w[0] < w[1]), "{v1:?}");
        assert_eq!(v1[0], 8);
        let word = std::mem::size_of::<usize>();
        assert_eq!(
            std::mem::size_of::<PluginTable>(),
            8 + 5 * 2 * word + 3 * word
        );
    }
}
