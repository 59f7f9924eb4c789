//! A shared library that is not an ao plugin: it lacks the `ao_plugin_entry` symbol.

/// Something else entirely.
#[unsafe(no_mangle)]
pub extern "C" fn not_an_ao_plugin() -> u32 {
    7
}
