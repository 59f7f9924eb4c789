//! A library whose plugin table claims ABI 99: ao must refuse it after reading only the
//! table's first two fields.

/// The fields every ABI version's table starts with.
#[repr(C)]
pub struct TableHead {
    abi_version: u32,
    size: u32,
}

static TABLE: TableHead = TableHead {
    abi_version: 99,
    size: std::mem::size_of::<TableHead>() as u32,
};

/// The entry, with a table of another ABI.
#[unsafe(no_mangle)]
pub extern "C" fn ao_plugin_entry() -> *const TableHead {
    &TABLE
}
