//! Opening a plugin library and checking it before any of its functions is trusted.

use ao_plugin_sdk::abi::{ABI_VERSION, ENTRY_SYMBOL, EntryFn, PluginTable, RawStr};
use ao_plugin_sdk::{SDK_VERSION, Slot};
use std::path::Path;

/// A library that passed every check: its table, and what it says about itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Library {
    /// The library's table; the library is never unloaded, so it lives for the process.
    pub table: &'static PluginTable,
    /// The slot it fills.
    pub slot: Slot,
}

impl Library {
    /// The plugin's own name.
    pub fn name(&self) -> String {
        text(self.table.name)
    }

    /// The plugin's own version.
    pub fn version(&self) -> String {
        text(self.table.version)
    }

    /// Its one-line description.
    pub fn description(&self) -> String {
        text(self.table.description)
    }

    /// The ao-plugin-sdk version it was built with.
    pub fn sdk_version(&self) -> String {
        text(self.table.sdk_version)
    }
}

fn text(s: RawStr) -> String {
    // SAFETY: the table's strings point into the library's static data, which stays
    // mapped because the library is never unloaded.
    String::from_utf8_lossy(unsafe { s.as_bytes() }).into_owned()
}

/// Loads the library at `path` (never to be unloaded) and checks its entry symbol, ABI
/// version, table size and slot. The error says what is wrong in one sentence.
pub(crate) fn open(path: &Path) -> Result<Library, String> {
    if !path.exists() {
        return Err(format!(
            "there is no file at {}; build the plugin, or fix `path`",
            path.display()
        ));
    }
    // SAFETY: loading a library runs its initialisers; the user named this file as an
    // ao plugin. Nothing else of it runs before the checks below.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| {
        // The loader's message starts with the path again.
        let e = e.to_string();
        let shown = path.display().to_string();
        let reason = e
            .split_once(&format!("{shown}: "))
            .map_or(e.as_str(), |(_, rest)| rest);
        format!("{shown} is not a shared library ao can load ({reason})")
    })?;
    // SAFETY: the symbol's type is the SDK's entry function type; a library exporting
    // the name with another type is outside what ao can defend against.
    let entry: EntryFn = match unsafe { lib.get::<EntryFn>(ENTRY_SYMBOL) } {
        Ok(symbol) => *symbol,
        Err(_) => {
            return Err(format!(
                "{} has no `ao_plugin_entry` symbol: it is not an ao plugin (build it with ao-plugin-sdk's export_plugin!)",
                path.display()
            ));
        }
    };
    // SAFETY: the entry function takes nothing and returns a pointer to static data.
    let table = unsafe { entry() };
    if table.is_null() {
        return Err(format!(
            "{}'s `ao_plugin_entry` returned no table",
            path.display()
        ));
    }
    // The first two fields (ABI version, table size) are the same in every ABI version:
    // read them alone before trusting the rest of the table.
    // SAFETY: every ABI version's table starts with two u32s.
    let (abi, size) = unsafe {
        let head = table.cast::<u32>();
        (head.read(), head.add(1).read())
    };
    if abi != ABI_VERSION {
        return Err(format!(
            "{} was built for plugin ABI {abi}, but this ao speaks ABI {ABI_VERSION}; rebuild it against ao-plugin-sdk {SDK_VERSION}",
            path.display()
        ));
    }
    let needed = std::mem::size_of::<PluginTable>();
    if (size as usize) < needed {
        return Err(format!(
            "{}'s plugin table is {size} bytes, but ABI {ABI_VERSION} needs {needed}; rebuild it against ao-plugin-sdk {SDK_VERSION}",
            path.display()
        ));
    }
    // SAFETY: the version and size say the table is a complete version-1 table, and it
    // is static data of a library that is never unloaded.
    let table: &'static PluginTable = unsafe { &*table };
    // Never unloaded: code of the plugin may still run on a thread that timed out.
    std::mem::forget(lib);
    let slot_name = text(table.slot);
    let slot = slot_name.parse::<Slot>().map_err(|_| {
        format!(
            "{} says it fills the slot `{slot_name}`, which ao does not have",
            path.display()
        )
    })?;
    if slot == Slot::Scm {
        let built = text(table.sdk_version);
        let mut parts = built.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        let (since_major, since_minor) = ao_plugin_sdk::scm::SCM_SDK_SINCE;
        if (major, minor) < (since_major, since_minor) {
            return Err(format!(
                "{} is an scm plugin built with ao-plugin-sdk {built}, whose scm messages this ao no longer reads (it needs {since_major}.{since_minor} or later: pull requests name their repository, enrich answers per PR, merge names the head SHA); rebuild it against ao-plugin-sdk {SDK_VERSION}",
                path.display()
            ));
        }
    }
    Ok(Library { table, slot })
}
