//! The host callback table as C sees it: the version-1 callbacks, then (version 2) the feature bits and the
//! optional callbacks that let a host honour the RESTORE properties and views, then (version 3) the listing of
//! an index's tablets on demand.

use std::ffi::{c_char, c_void};

use super::super::repo::tabsnap_cb_error;
use super::super::sink::{tabsnap_bytes_sink, tabsnap_catalog_sink, tabsnap_path_sink, tabsnap_text_sink};
use super::optional::tabsnap_restore_commit;

/// One tablet, as callbacks receive it. Strings are borrowed for the duration of the call.
#[repr(C)]
pub struct tabsnap_tablet_ref {
    /// The table (the target table, for restore callbacks).
    pub table: *const c_char,
    /// The partition.
    pub partition: *const c_char,
    /// The index (the table's own name for the base index).
    pub index: *const c_char,
    /// The tablet id.
    pub tablet: *const c_char,
}

/// The current version of `tabsnap_host_callbacks`: 3 (version 1 ends at `destroy`, version 2 at
/// `create_view`).
pub const TABSNAP_HOST_CALLBACKS_VERSION: u32 = 3;

/// An optional part of the host contract, for `tabsnap_host_callbacks.features` (a bitwise OR of these values).
/// A statement whose properties need a feature the host does not declare is refused at analysis
/// (`TABSNAP_STATUS_ANALYSIS`, "Property p is not supported by this host: it needs …").
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tabsnap_host_feature {
    /// `schema_identity` and `snapshot_schema_identity`: a restore into an existing table checks that the schemas
    /// match (RESTORE `force_replace` needs it).
    SchemaIdentity = 1,
    /// `drop_table`: RESTORE `clean_tables`.
    DropTables = 2,
    /// `drop_partitions`: RESTORE `clean_partitions`.
    DropPartitions = 4,
    /// `commit_restore_with` with `atomic_replace`: RESTORE `atomic_restore`.
    AtomicReplace = 8,
    /// `commit_restore_with` with the table properties of `tabsnap_restore_commit`: RESTORE `replication_num`,
    /// `replication_allocation`, `reserve_replica`, `storage_medium`, `medium_allocation_mode`,
    /// `reserve_dynamic_partition_enable`, `is_being_synced`.
    CommitProperties = 16,
    /// `view_definition` and `create_view`: views are backed up (their definitions) and restored.
    Views = 32,
    /// `list_index_tablets` (version 3): `list_tables` may leave every index's tablets out, and a backup lists
    /// them an index at a time, so that it never holds a catalog of a million tablets.
    IndexTablets = 64,
}

/// The host engine tabsnap is linked into. Every callback gets `user_data` first and (where it can fail) a
/// `tabsnap_cb_error *` last, returns 0 on success or a nonzero host code (with a message through
/// `tabsnap_cb_error_set`; a job it fails ends with `TABSNAP_STATUS_CALLBACK`) and may be called from tabsnap's
/// job threads, several at once for different databases, with no lock of the engine held: a callback may call
/// the engine's functions, except `tabsnap_engine_free`. Callbacks must not let C++ exceptions or `longjmp` cross into tabsnap. Strings are borrowed for
/// the call. The table is copied by `tabsnap_engine_new`; `user_data` must stay valid until `destroy`.
///
/// Version 1 ends at `destroy`; a version-1 table is read only that far, so a host built against a version-1
/// header keeps working and declares no optional feature. Version 2 appends `features` and the optional
/// callbacks: a host declares each feature it implements in `features`, and gives exactly the callbacks of the
/// features it declares (`tabsnap_engine_new` refuses a declared feature whose callback is NULL and a callback
/// whose feature is not declared, with `TABSNAP_STATUS_INVALID_ARGUMENT`). Text answers go through a
/// `tabsnap_text_sink` (`tabsnap_text_set`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tabsnap_host_callbacks {
    /// `TABSNAP_HOST_CALLBACKS_VERSION` at compile time (3); 2 for a table that ends at `create_view`, 1 for one
    /// that ends at `destroy`.
    pub version: u32,
    /// Passed to every callback.
    pub user_data: *mut c_void,
    /// Describes `database` into `sink` (`tabsnap_catalog_add_*`). A database that does not exist: return
    /// nonzero with a message such as "Unknown database 'x'".
    pub list_tables: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            sink: *mut tabsnap_catalog_sink,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Takes a consistent snapshot of a tablet and answers (`tabsnap_path_set`) with a local directory holding
    /// its files, unchanged until `release_tablet`. Every call that returns 0 is matched by exactly one
    /// `release_tablet` call for that tablet, whatever happens next (success, a failure at any later tablet,
    /// cancel, timeout, `tabsnap_engine_free`); a call that fails is not. A failure ends the job with
    /// `TABSNAP_STATUS_CALLBACK` and the callback's message. A backup takes its tablets a batch at a time (about
    /// 16,384 files; `tabsnap_options_set_batch_files`), in plan order, and
    /// releases a batch's tablets once their files are read, before it snapshots the next batch.
    pub snapshot_tablet: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            tablet: *const tabsnap_tablet_ref,
            sink: *mut tabsnap_path_sink,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Releases a snapshot taken by `snapshot_tablet` (may be NULL). A failure does not change the job's outcome:
    /// a backup already committed stays FINISHED, and the message is reported beside it
    /// (`tabsnap_engine_job_error`).
    pub release_tablet: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            tablet: *const tabsnap_tablet_ref,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Answers (`tabsnap_path_set`) with an empty directory where restore job `job` writes a tablet's files.
    pub restore_target: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            job: u64,
            tablet: *const tabsnap_tablet_ref,
            sink: *mut tabsnap_path_sink,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Makes the restored partitions of `table` (snapshot table `source_table`) visible; `metadata` is the
    /// snapshot's host metadata blob.
    pub commit_restore: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            job: u64,
            table: *const c_char,
            source_table: *const c_char,
            metadata: *const u8,
            metadata_len: usize,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Drops what restore job `job` wrote for `table` (may be NULL). Called for every table not committed when a
    /// restore fails; a failure is reported beside the job's error (`tabsnap_engine_job_error`).
    pub abort_restore: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            job: u64,
            table: *const c_char,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Whether `user` holds a privilege: 0 ADMIN, 1 LOAD on `database` (NULL for ADMIN). NULL callback: every
    /// user holds every privilege.
    pub has_privilege: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            user: *const c_char,
            privilege: i32,
            database: *const c_char,
        ) -> bool,
    >,
    /// Answers (`tabsnap_bytes_set`) with the metadata stored with a snapshot of `database` (may be NULL).
    pub metadata: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            sink: *mut tabsnap_bytes_sink,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Called once with `user_data` when the engine is freed, or before `tabsnap_engine_new` returns a failure
    /// (may be NULL).
    pub destroy: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// Version 2: the features this host implements, a bitwise OR of `tabsnap_host_feature` values (0: none).
    pub features: u32,
    /// `TABSNAP_HOST_FEATURE_SCHEMA_IDENTITY`: answers (`tabsnap_text_set`) with a fingerprint of the live
    /// `table`'s schema (columns, keys, indexes); equal fingerprints mean a restore may write into the table.
    /// Answering nothing means the host knows none for it. Called while a RESTORE into an existing table is
    /// analysed; a failure fails the statement with `TABSNAP_STATUS_CALLBACK`.
    pub schema_identity: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            table: *const c_char,
            sink: *mut tabsnap_text_sink,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// `TABSNAP_HOST_FEATURE_SCHEMA_IDENTITY`: answers (`tabsnap_text_set`) with the fingerprint of `table`'s
    /// schema as recorded in a snapshot's host `metadata` (what the `metadata` callback produced), or nothing
    /// when the snapshot records none.
    pub snapshot_schema_identity: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            metadata: *const u8,
            metadata_len: usize,
            table: *const c_char,
            sink: *mut tabsnap_text_sink,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// `TABSNAP_HOST_FEATURE_DROP_TABLES`: drops `table` (RESTORE `clean_tables`). Called by restore job `job`
    /// after every restored table and view is committed; a failure fails the job with `TABSNAP_STATUS_CALLBACK`
    /// (the tables committed stay committed).
    pub drop_table: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            job: u64,
            table: *const c_char,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// `TABSNAP_HOST_FEATURE_DROP_PARTITIONS`: drops the `partitions_len` partitions `partitions` of `table`
    /// (RESTORE `clean_partitions`). Called by restore job `job` after every restored table is committed.
    pub drop_partitions: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            job: u64,
            table: *const c_char,
            partitions: *const *const c_char,
            partitions_len: usize,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// `TABSNAP_HOST_FEATURE_ATOMIC_REPLACE` / `_COMMIT_PROPERTIES`: `commit_restore` with the RESTORE
    /// properties the host applies to the committed table (`options`, borrowed for the call). Called instead of
    /// `commit_restore` when the statement asks for `atomic_restore` or a table property (a plain RESTORE calls
    /// `commit_restore`), and only with what the declared features cover. With `options->atomic_replace` the
    /// restored table replaces `table` whole, in one step (partitions the snapshot lacks are gone).
    pub commit_restore_with: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            job: u64,
            table: *const c_char,
            source_table: *const c_char,
            metadata: *const u8,
            metadata_len: usize,
            options: *const tabsnap_restore_commit,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// `TABSNAP_HOST_FEATURE_VIEWS`: answers (`tabsnap_text_set`) with the definition of view `view` (the host's
    /// text; stored with the snapshot as it is). Called by a BACKUP job for every view it takes; answering
    /// nothing is a failure.
    pub view_definition: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            view: *const c_char,
            sink: *mut tabsnap_text_sink,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// `TABSNAP_HOST_FEATURE_VIEWS`: creates view `view` with `definition`, replacing a view of that name. Called
    /// by restore job `job` after its tables are committed.
    pub create_view: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            job: u64,
            view: *const c_char,
            definition: *const c_char,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Version 3, `TABSNAP_HOST_FEATURE_INDEX_TABLETS`: answers with the tablets of index `index` of
    /// partition `partition` of `table`, in order, one `tabsnap_catalog_add_tablet` each (the sink takes
    /// tablets only). A BACKUP job asks for those of each index whose tablets `list_tables` left out: once when
    /// it starts, to count them, and again when its batches reach the index; it holds one index's list at a
    /// time.
    pub list_index_tablets: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            database: *const c_char,
            table: *const c_char,
            partition: *const c_char,
            index: *const c_char,
            sink: *mut tabsnap_catalog_sink,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
}

impl tabsnap_host_callbacks {
    /// A table with no callback, version 1 and no feature: what a version-1 table is read into.
    pub(crate) fn empty() -> tabsnap_host_callbacks {
        tabsnap_host_callbacks {
            version: 1,
            user_data: std::ptr::null_mut(),
            list_tables: None,
            snapshot_tablet: None,
            release_tablet: None,
            restore_target: None,
            commit_restore: None,
            abort_restore: None,
            has_privilege: None,
            metadata: None,
            destroy: None,
            features: 0,
            schema_identity: None,
            snapshot_schema_identity: None,
            drop_table: None,
            drop_partitions: None,
            commit_restore_with: None,
            view_definition: None,
            create_view: None,
            list_index_tablets: None,
        }
    }
}
