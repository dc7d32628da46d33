//! The sinks host callbacks answer into: a database's catalog (`list_tables`), a directory (`snapshot_tablet`,
//! `restore_target`), bytes (`metadata`), text (`schema_identity`, `snapshot_schema_identity`,
//! `view_definition`).

use std::ffi::c_char;
use std::path::PathBuf;

use super::boundary::{Failure, ffi_boundary, str_arg};
use super::status::tabsnap_status;
use crate::host::{IndexInfo, PartitionInfo, TableInfo, TableKind, TabletInfo};

/// The kind of a table, for `tabsnap_catalog_add_table`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum tabsnap_table_kind {
    /// A table of tablets.
    Olap = 0,
    /// A view.
    View = 1,
    /// An asynchronous materialized view.
    AsyncMv = 2,
    /// Anything else.
    Other = 3,
}

/// Receives a database's catalog from `list_tables`, in order: a table, its partitions, each partition's indexes
/// (base first), each index's tablets; or, from `list_index_tablets`, the tablets of one index (and nothing
/// else). Valid only during that call.
#[derive(Default)]
pub struct tabsnap_catalog_sink {
    pub(crate) tables: Vec<TableInfo>,
    /// For `list_index_tablets`: tablets only, into the one index the sink starts with.
    tablets_only: bool,
}

impl tabsnap_catalog_sink {
    /// A sink for `list_index_tablets`: it takes tablets and refuses tables, partitions and indexes.
    pub(crate) fn tablets_only() -> tabsnap_catalog_sink {
        let index = IndexInfo { name: String::new(), tablets: Vec::new() };
        let partition = PartitionInfo { name: String::new(), temporary: false, indexes: vec![index] };
        let table = TableInfo { name: String::new(), kind: TableKind::Olap, partitions: vec![partition] };
        tabsnap_catalog_sink { tables: vec![table], tablets_only: true }
    }

    /// The tablets a `list_index_tablets` sink received.
    pub(crate) fn take_tablets(mut self) -> Vec<TabletInfo> {
        let mut tablets = self
            .tables
            .pop()
            .and_then(|mut t| t.partitions.pop())
            .and_then(|mut p| p.indexes.pop())
            .map(|i| i.tablets)
            .unwrap_or_default();
        tablets.shrink_to_fit();
        tablets
    }

    fn catalog(&mut self) -> std::result::Result<&mut Vec<TableInfo>, Failure> {
        if self.tablets_only {
            return Err(misuse("list_index_tablets answers with tablets only (tabsnap_catalog_add_tablet)"));
        }
        Ok(&mut self.tables)
    }
}

/// Receives a path from `snapshot_tablet` / `restore_target`. Valid only during that call.
#[derive(Default)]
pub struct tabsnap_path_sink {
    pub(crate) path: Option<PathBuf>,
}

/// Receives bytes from `metadata`. Valid only during that call.
#[derive(Default)]
pub struct tabsnap_bytes_sink {
    pub(crate) bytes: Vec<u8>,
}

/// Receives text from `schema_identity`, `snapshot_schema_identity` and `view_definition`; a callback that sets
/// nothing answers "none". Valid only during that call.
#[derive(Default)]
pub struct tabsnap_text_sink {
    pub(crate) text: Option<String>,
}

fn sink_arg<'a, T>(p: *mut T) -> std::result::Result<&'a mut T, Failure> {
    // SAFETY: NULL (refused) or the live sink the callback received, per the sink functions' contracts.
    unsafe { p.as_mut() }.ok_or_else(|| Failure::null("sink"))
}

fn misuse(what: &str) -> Failure {
    Failure::new(tabsnap_status::InvalidArgument, what.to_owned())
}

/// Adds a table (`kind`: a `tabsnap_table_kind` value).
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` or `name` NULL); `_INVALID_UTF8`; `_INVALID_ARGUMENT` (an unknown `kind`); `_INTERNAL_PANIC`.
///
/// Thread safety: the thread of the callback that received `sink`. Since: 0.1.
///
/// # Safety
/// `sink` is the sink the callback received; `name` is NUL-terminated UTF-8.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_catalog_add_table(
    sink: *mut tabsnap_catalog_sink,
    name: *const c_char,
    kind: i32,
) -> tabsnap_status {
    ffi_boundary!(std::ptr::null_mut() => {
        let s = sink_arg(sink)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { str_arg(name, "name") }?;
        let kind = match kind {
            0 => TableKind::Olap,
            1 => TableKind::View,
            2 => TableKind::AsyncMaterializedView,
            3 => TableKind::Other("other".into()),
            k => return Err(misuse(&format!("unknown table kind {k}"))),
        };
        s.catalog()?.push(TableInfo { name: name.into(), kind, partitions: Vec::new() });
        Ok(())
    })
}

/// Adds a partition to the last table added.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT`; `_INVALID_UTF8`; `_INVALID_ARGUMENT` (no table added yet); `_INTERNAL_PANIC`.
///
/// Thread safety: the thread of the callback that received `sink`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_catalog_add_table`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_catalog_add_partition(
    sink: *mut tabsnap_catalog_sink,
    name: *const c_char,
    temporary: bool,
) -> tabsnap_status {
    ffi_boundary!(std::ptr::null_mut() => {
        let s = sink_arg(sink)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { str_arg(name, "name") }?;
        let t = s.catalog()?.last_mut().ok_or_else(|| misuse("add a table before its partitions"))?;
        t.partitions.push(PartitionInfo { name: name.into(), temporary, indexes: Vec::new() });
        Ok(())
    })
}

/// Adds an index to the last partition added (the first index of a partition is its base index).
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT`; `_INVALID_UTF8`; `_INVALID_ARGUMENT` (no partition added yet); `_INTERNAL_PANIC`.
///
/// Thread safety: the thread of the callback that received `sink`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_catalog_add_table`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_catalog_add_index(
    sink: *mut tabsnap_catalog_sink,
    name: *const c_char,
) -> tabsnap_status {
    ffi_boundary!(std::ptr::null_mut() => {
        let s = sink_arg(sink)?;
        // SAFETY: NUL-terminated per the contract.
        let name = unsafe { str_arg(name, "name") }?;
        let p = s
            .catalog()?
            .last_mut()
            .and_then(|t| t.partitions.last_mut())
            .ok_or_else(|| misuse("add a partition before its indexes"))?;
        p.indexes.push(IndexInfo { name: name.into(), tablets: Vec::new() });
        Ok(())
    })
}

/// Adds a tablet to the last index added.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT`; `_INVALID_UTF8`; `_INVALID_ARGUMENT` (no index added yet); `_INTERNAL_PANIC`.
///
/// Thread safety: the thread of the callback that received `sink`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_catalog_add_table`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_catalog_add_tablet(
    sink: *mut tabsnap_catalog_sink,
    id: *const c_char,
) -> tabsnap_status {
    ffi_boundary!(std::ptr::null_mut() => {
        let s = sink_arg(sink)?;
        // SAFETY: NUL-terminated per the contract.
        let id = unsafe { str_arg(id, "id") }?;
        let i = s
            .tables
            .last_mut()
            .and_then(|t| t.partitions.last_mut())
            .and_then(|p| p.indexes.last_mut())
            .ok_or_else(|| misuse("add an index before its tablets"))?;
        i.tablets.push(TabletInfo { id: id.into() });
        Ok(())
    })
}

/// Sets the directory a callback answers with.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` or `path` NULL); `_INVALID_UTF8`; `_INTERNAL_PANIC`.
///
/// Thread safety: the thread of the callback that received `sink`. Since: 0.1.
///
/// # Safety
/// `sink` is the sink the callback received; `path` is NUL-terminated UTF-8.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_path_set(sink: *mut tabsnap_path_sink, path: *const c_char) -> tabsnap_status {
    ffi_boundary!(std::ptr::null_mut() => {
        let s = sink_arg(sink)?;
        // SAFETY: NUL-terminated per the contract.
        s.path = Some(PathBuf::from(unsafe { str_arg(path, "path") }?));
        Ok(())
    })
}

/// Sets the bytes a callback answers with (copied).
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` NULL, or `data` NULL with `len` > 0); `_INTERNAL_PANIC`.
///
/// Thread safety: the thread of the callback that received `sink`. Since: 0.1.
///
/// # Safety
/// `sink` is the sink the callback received; `data` is NULL with `len` 0, or points to `len` readable bytes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_bytes_set(
    sink: *mut tabsnap_bytes_sink,
    data: *const u8,
    len: usize,
) -> tabsnap_status {
    ffi_boundary!(std::ptr::null_mut() => {
        let s = sink_arg(sink)?;
        s.bytes = if len == 0 {
            Vec::new()
        } else if data.is_null() {
            return Err(Failure::null("data"));
        } else {
            // SAFETY: `len` readable bytes at `data`, per the contract.
            unsafe { std::slice::from_raw_parts(data, len) }.to_vec()
        };
        Ok(())
    })
}

/// Sets the text a callback answers with (copied; setting it again replaces it).
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` or `text` NULL); `_INVALID_UTF8`; `_INTERNAL_PANIC`.
///
/// Thread safety: the thread of the callback that received `sink`. Since: 0.1.
///
/// # Safety
/// `sink` is the sink the callback received; `text` is NUL-terminated UTF-8.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_text_set(sink: *mut tabsnap_text_sink, text: *const c_char) -> tabsnap_status {
    ffi_boundary!(std::ptr::null_mut() => {
        let s = sink_arg(sink)?;
        // SAFETY: NUL-terminated per the contract.
        s.text = Some(unsafe { str_arg(text, "text") }?.to_owned());
        Ok(())
    })
}
