//! An scm plugin table as ao-plugin-sdk 0.1.0 wrote it: ao must refuse it, with what to
//! do, without calling it. Its functions exist only to fill the table.

use ao_plugin_sdk::abi::{ABI_VERSION, PluginTable, RawBuf, RawStr};

unsafe extern "C" fn init(_config: RawStr, _out: *mut RawBuf) -> *mut std::ffi::c_void {
    std::ptr::null_mut()
}

unsafe extern "C" fn call(
    _instance: *mut std::ffi::c_void,
    _method: RawStr,
    _request: RawStr,
    _out: *mut RawBuf,
) -> i32 {
    1
}

unsafe extern "C" fn free_buf(_buf: RawBuf) {}

static TABLE: PluginTable = PluginTable {
    abi_version: ABI_VERSION,
    size: std::mem::size_of::<PluginTable>() as u32,
    name: RawStr::from_static("old-scm"),
    version: RawStr::from_static("0.1.0"),
    slot: RawStr::from_static("scm"),
    description: RawStr::from_static("an scm of the first SDK"),
    sdk_version: RawStr::from_static("0.1.0"),
    init,
    call,
    free_buf,
};

/// The entry.
#[unsafe(no_mangle)]
pub extern "C" fn ao_plugin_entry() -> *const PluginTable {
    &TABLE
}
