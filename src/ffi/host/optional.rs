//! The optional callbacks of a version-2 host table: the features a host declares, the RESTORE properties
//! passed to `commit_restore_with`, and the adapter's calls of each optional callback.

use std::ffi::{CString, c_char};

use super::super::sink::{tabsnap_catalog_sink, tabsnap_text_sink};
use super::table::{tabsnap_host_callbacks, tabsnap_host_feature};
use super::{call, cstr};
use crate::host::{HostFeature, RestoreCommit, StorageMedium, TabletInfo, unsupported};
use crate::tree::Place;
use crate::{Error, ErrorKind, Result};

/// RESTORE `storage_medium`, for `tabsnap_restore_commit.storage_medium`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tabsnap_storage_medium {
    /// `same_with_upstream` (or no `storage_medium`): keep the snapshot's medium.
    SameWithUpstream = 0,
    /// `hdd`.
    Hdd = 1,
    /// `ssd`.
    Ssd = 2,
}

/// One tag of a replica allocation (`tag.location.<tag>: <replicas>`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tabsnap_replica_tag {
    /// The tag (`default` for `replication_num`); borrowed for the call.
    pub tag: *const c_char,
    /// The replicas on it.
    pub replicas: u16,
}

/// The RESTORE properties a host applies to a table it commits (`commit_restore_with`). tabsnap owns it and
/// every pointer in it; all are valid only during the call. Later versions append fields: `struct_size` is
/// `sizeof(tabsnap_restore_commit)` of the library making the call, and a field is present only when it lies
/// within `struct_size` bytes (`offsetof(tabsnap_restore_commit, field) + sizeof field <= struct_size`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tabsnap_restore_commit {
    /// `sizeof(tabsnap_restore_commit)` as the library knows it.
    pub struct_size: u32,
    /// `atomic_restore` (`TABSNAP_HOST_FEATURE_ATOMIC_REPLACE`): the restored table replaces the existing one
    /// whole, in one step.
    pub atomic_replace: bool,
    /// `reserve_replica`: keep the snapshot's replica allocation (`replica_allocation` is then empty).
    pub reserve_replica: bool,
    /// `reserve_dynamic_partition_enable`: keep the snapshot's dynamic partitioning switch; when false, dynamic
    /// partitioning is turned off in the restored table, as Doris does.
    pub reserve_dynamic_partition_enable: bool,
    /// `is_being_synced`: mark the restored table as a CCR sync target.
    pub is_being_synced: bool,
    /// `storage_medium`, a `tabsnap_storage_medium` value.
    pub storage_medium: i32,
    /// `replication_num` / `replication_allocation`: `replica_allocation_len` tags, in the order given (NULL
    /// with 0 when the statement gives none, or gives `reserve_replica`).
    pub replica_allocation: *const tabsnap_replica_tag,
    /// The number of tags in `replica_allocation`.
    pub replica_allocation_len: usize,
    /// `medium_allocation_mode`: `strict` or `adaptive`, lower case; NULL when not given.
    pub medium_allocation_mode: *const c_char,
}

/// The feature bit of `feature`.
pub(super) fn bit(feature: HostFeature) -> u32 {
    let f = match feature {
        HostFeature::SchemaIdentity => tabsnap_host_feature::SchemaIdentity,
        HostFeature::DropTables => tabsnap_host_feature::DropTables,
        HostFeature::DropPartitions => tabsnap_host_feature::DropPartitions,
        HostFeature::AtomicReplace => tabsnap_host_feature::AtomicReplace,
        HostFeature::CommitProperties => tabsnap_host_feature::CommitProperties,
        HostFeature::Views => tabsnap_host_feature::Views,
        HostFeature::IndexTablets => tabsnap_host_feature::IndexTablets,
    };
    f as u32
}

/// Checks that a version-2 table gives exactly the callbacks of the features it declares.
///
/// # Errors
/// A message naming the unknown bits, the declared feature whose callback is NULL, or the callback whose
/// feature is not declared.
pub(super) fn check_features(cb: &tabsnap_host_callbacks) -> std::result::Result<(), String> {
    use tabsnap_host_feature as F;
    let all = [
        F::SchemaIdentity,
        F::DropTables,
        F::DropPartitions,
        F::AtomicReplace,
        F::CommitProperties,
        F::Views,
        F::IndexTablets,
    ];
    let known = all.iter().fold(0, |acc, f| acc | *f as u32);
    if cb.features & !known != 0 {
        return Err(format!("features has unknown bits 0x{:x}", cb.features & !known));
    }
    let has = |f: F| cb.features & f as u32 != 0;
    let commit = has(F::AtomicReplace) || has(F::CommitProperties);
    let rules = [
        ("schema_identity", cb.schema_identity.is_some(), has(F::SchemaIdentity), "SCHEMA_IDENTITY"),
        ("snapshot_schema_identity", cb.snapshot_schema_identity.is_some(), has(F::SchemaIdentity), "SCHEMA_IDENTITY"),
        ("drop_table", cb.drop_table.is_some(), has(F::DropTables), "DROP_TABLES"),
        ("drop_partitions", cb.drop_partitions.is_some(), has(F::DropPartitions), "DROP_PARTITIONS"),
        ("commit_restore_with", cb.commit_restore_with.is_some(), commit, "ATOMIC_REPLACE or _COMMIT_PROPERTIES"),
        ("view_definition", cb.view_definition.is_some(), has(F::Views), "VIEWS"),
        ("create_view", cb.create_view.is_some(), has(F::Views), "VIEWS"),
        ("list_index_tablets", cb.list_index_tablets.is_some(), has(F::IndexTablets), "INDEX_TABLETS"),
    ];
    for (name, given, declared, feature) in rules {
        if declared && !given {
            return Err(format!("features declares TABSNAP_HOST_FEATURE_{feature} but {name} is NULL"));
        }
        if given && !declared {
            return Err(format!("{name} is set but features does not declare TABSNAP_HOST_FEATURE_{feature}"));
        }
    }
    Ok(())
}

fn missing(what: &str) -> Error {
    Error::new(ErrorKind::Callback, format!("no {what} callback"))
}

/// A text answer, `None` when the callback answered nothing.
fn text_answer(f: impl FnOnce(*mut tabsnap_text_sink) -> Result<()>) -> Result<Option<String>> {
    let mut sink = tabsnap_text_sink::default();
    f(&mut sink)?;
    Ok(sink.text)
}

pub(super) fn index_tablets(cb: &tabsnap_host_callbacks, database: &str, place: Place<'_>) -> Result<Vec<TabletInfo>> {
    let f = cb.list_index_tablets.ok_or_else(|| unsupported("listing an index's tablets"))?;
    let (db, t, p, i) = (cstr(database)?, cstr(place.table)?, cstr(place.partition)?, cstr(place.index)?);
    let mut sink = tabsnap_catalog_sink::tablets_only();
    // SAFETY: the callback's contract; all pointers live for the call.
    call("list_index_tablets", |err| unsafe {
        f(cb.user_data, db.as_ptr(), t.as_ptr(), p.as_ptr(), i.as_ptr(), &mut sink, err)
    })?;
    Ok(sink.take_tablets())
}

pub(super) fn schema_identity(cb: &tabsnap_host_callbacks, database: &str, table: &str) -> Result<Option<String>> {
    let f = cb.schema_identity.ok_or_else(|| unsupported("the schema identity of a table"))?;
    let (db, t) = (cstr(database)?, cstr(table)?);
    text_answer(|sink| {
        // SAFETY: the callback's contract; all pointers live for the call.
        call("schema_identity", |err| unsafe { f(cb.user_data, db.as_ptr(), t.as_ptr(), sink, err) })
    })
}

pub(super) fn snapshot_schema_identity(
    cb: &tabsnap_host_callbacks,
    metadata: &[u8],
    table: &str,
) -> Result<Option<String>> {
    let f = cb.snapshot_schema_identity.ok_or_else(|| unsupported("the schema identity of a table"))?;
    let t = cstr(table)?;
    text_answer(|sink| {
        // SAFETY: the callback's contract; all pointers live for the call.
        call("snapshot_schema_identity", |err| unsafe {
            f(cb.user_data, metadata.as_ptr(), metadata.len(), t.as_ptr(), sink, err)
        })
    })
}

pub(super) fn drop_table(cb: &tabsnap_host_callbacks, database: &str, job: u64, table: &str) -> Result<()> {
    let f = cb.drop_table.ok_or_else(|| unsupported("dropping a table"))?;
    let (db, t) = (cstr(database)?, cstr(table)?);
    // SAFETY: the callback's contract; all pointers live for the call.
    call("drop_table", |err| unsafe { f(cb.user_data, db.as_ptr(), job, t.as_ptr(), err) })
}

pub(super) fn drop_partitions(
    cb: &tabsnap_host_callbacks,
    database: &str,
    job: u64,
    table: &str,
    partitions: &[String],
) -> Result<()> {
    let f = cb.drop_partitions.ok_or_else(|| unsupported("dropping partitions"))?;
    let (db, t) = (cstr(database)?, cstr(table)?);
    let names = partitions.iter().map(|p| cstr(p)).collect::<Result<Vec<CString>>>()?;
    let ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    // SAFETY: the callback's contract; all pointers (the array and its strings) live for the call.
    call("drop_partitions", |err| unsafe {
        f(cb.user_data, db.as_ptr(), job, t.as_ptr(), ptrs.as_ptr(), ptrs.len(), err)
    })
}

/// `commit_restore_with`, for a commit whose options ask something (the caller checked that the host
/// declares what they need).
pub(super) fn commit_restore_with(
    cb: &tabsnap_host_callbacks,
    args: (&str, u64, &str, &str, &[u8]),
    options: &RestoreCommit,
) -> Result<()> {
    let (database, job, table, source_table, metadata) = args;
    let f = cb.commit_restore_with.ok_or_else(|| missing("commit_restore_with"))?;
    let (db, t, s) = (cstr(database)?, cstr(table)?, cstr(source_table)?);
    let tags = match &options.replica_allocation {
        Some(a) => a.tags.iter().map(|(tag, n)| Ok((cstr(tag)?, *n))).collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    let raw_tags: Vec<tabsnap_replica_tag> =
        tags.iter().map(|(tag, n)| tabsnap_replica_tag { tag: tag.as_ptr(), replicas: *n }).collect();
    let mode = options.medium_allocation_mode.as_deref().map(cstr).transpose()?;
    let c = tabsnap_restore_commit {
        struct_size: std::mem::size_of::<tabsnap_restore_commit>() as u32,
        atomic_replace: options.atomic_replace,
        reserve_replica: options.reserve_replica,
        reserve_dynamic_partition_enable: options.reserve_dynamic_partition_enable,
        is_being_synced: options.is_being_synced,
        storage_medium: match options.storage_medium {
            None => tabsnap_storage_medium::SameWithUpstream,
            Some(StorageMedium::Hdd) => tabsnap_storage_medium::Hdd,
            Some(StorageMedium::Ssd) => tabsnap_storage_medium::Ssd,
        } as i32,
        replica_allocation: if raw_tags.is_empty() { std::ptr::null() } else { raw_tags.as_ptr() },
        replica_allocation_len: raw_tags.len(),
        medium_allocation_mode: mode.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
    };
    // SAFETY: the callback's contract; all pointers (the options, its tags and strings) live for the call.
    call("commit_restore_with", |err| unsafe {
        f(cb.user_data, db.as_ptr(), job, t.as_ptr(), s.as_ptr(), metadata.as_ptr(), metadata.len(), &c, err)
    })
}

pub(super) fn view_definition(cb: &tabsnap_host_callbacks, database: &str, view: &str) -> Result<String> {
    let f = cb.view_definition.ok_or_else(|| unsupported("backing up a view"))?;
    let (db, v) = (cstr(database)?, cstr(view)?);
    let answer = text_answer(|sink| {
        // SAFETY: the callback's contract; all pointers live for the call.
        call("view_definition", |err| unsafe { f(cb.user_data, db.as_ptr(), v.as_ptr(), sink, err) })
    })?;
    answer.ok_or_else(|| {
        Error::new(
            ErrorKind::Callback,
            format!("host callback view_definition gave no definition for {database}.{view}"),
        )
    })
}

pub(super) fn create_view(cb: &tabsnap_host_callbacks, database: &str, job: u64, view: &str, def: &str) -> Result<()> {
    let f = cb.create_view.ok_or_else(|| unsupported("restoring a view"))?;
    let (db, v, d) = (cstr(database)?, cstr(view)?, cstr(def)?);
    // SAFETY: the callback's contract; all pointers live for the call.
    call("create_view", |err| unsafe { f(cb.user_data, db.as_ptr(), job, v.as_ptr(), d.as_ptr(), err) })
}
