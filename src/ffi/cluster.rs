//! Coordinated backups from C: `tabsnap_engine_cluster_backup` deals the tablets to the host's nodes and runs
//! each node's share through the host's `run_node` callback (`tabsnap_cluster_callbacks`), retrying a failed
//! node's tablets on a node that succeeded, then commits the snapshot.

use std::ffi::{CString, c_char, c_void};
use std::path::PathBuf;

use super::boundary::{Failure, cstring, ffi_boundary, str_arg};
use super::engine::{live_engine, tabsnap_engine};
use super::error::tabsnap_error;
use super::host::tabsnap_tablet_ref;
use super::repo::tabsnap_cb_error;
use super::status::tabsnap_status;
use crate::cluster::{ClusterSummary, Coordinator, NodeRunner, NodeTablet, NodeTask};
use crate::host::TabletRef;
use crate::{Error, ErrorKind, Result};

/// One node's share of a coordinated backup, as `run_node` receives it. Every pointer is borrowed for the
/// duration of the call. To run the share in-process, pass its fields to `tabsnap_engine_backup_part`
/// (`database`, `label`, `timestamp`, `part` as the node, `tablets`, `dirs`, `n`).
#[repr(C)]
pub struct tabsnap_node_task {
    /// `sizeof(tabsnap_node_task)` of this library: later versions append fields.
    pub struct_size: u32,
    /// 0 for the first run of these tablets, then 1, 2, … for each retry.
    pub attempt: u32,
    /// The node that runs the share (one of the `nodes` given).
    pub node: *const c_char,
    /// The name the node stores its part under: the node's own name, or `<node>-for-<failed node>` for a retry.
    pub part: *const c_char,
    /// For a retry: the node these tablets were first given to; NULL otherwise.
    pub retry_of: *const c_char,
    /// The database recorded in the snapshot.
    pub database: *const c_char,
    /// The snapshot's label.
    pub label: *const c_char,
    /// The snapshot's timestamp (`yyyy-MM-dd-HH-mm-ss`), the same for every node.
    pub timestamp: *const c_char,
    /// The share's tablets (`n` entries).
    pub tablets: *const tabsnap_tablet_ref,
    /// Where the node finds each tablet's files, as given to `tabsnap_engine_cluster_backup` (`n` entries).
    pub dirs: *const *const c_char,
    /// The number of tablets.
    pub n: usize,
}

/// The current version of `tabsnap_cluster_callbacks`.
pub const TABSNAP_CLUSTER_CALLBACKS_VERSION: u32 = 1;

/// How a coordinated backup reaches the host's nodes. Used only during `tabsnap_engine_cluster_backup` (not
/// kept): `user_data` must stay valid until it returns; there is no `destroy`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tabsnap_cluster_callbacks {
    /// `TABSNAP_CLUSTER_CALLBACKS_VERSION` at compile time (1).
    pub version: u32,
    /// 0: every node runs at once, each on a thread of its own; n: at most n nodes at once (1: one after the
    /// other, on the calling thread).
    pub max_concurrency: u32,
    /// Passed to `run_node`.
    pub user_data: *mut c_void,
    /// Runs one node's share: backs up `task->tablets` and stores the part under `task->part` (on another
    /// machine, or in-process with `tabsnap_engine_backup_part`), returning 0 once it is stored, or a nonzero
    /// host code with a message through `tabsnap_cb_error_set`. Called for several nodes at once from
    /// tabsnap's threads (see `max_concurrency`), never twice at once for the same node, with no lock of the
    /// engine held: it may call any engine function but `tabsnap_engine_free`. It must not let C++ exceptions or
    /// `longjmp` cross into tabsnap.
    pub run_node: Option<
        unsafe extern "C" fn(user_data: *mut c_void, task: *const tabsnap_node_task, err: *mut tabsnap_cb_error) -> i32,
    >,
}

/// What a coordinated backup did, filled by `tabsnap_engine_cluster_backup`. Set `struct_size` to
/// `sizeof(tabsnap_cluster_summary)` before the call: later versions append fields and fill only what fits.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tabsnap_cluster_summary {
    /// `sizeof(tabsnap_cluster_summary)`, set by the caller.
    pub struct_size: u32,
    /// Nodes that were given tablets.
    pub nodes: u32,
    /// Nodes whose run failed (their tablets were run again elsewhere).
    pub failed_nodes: u32,
    /// Tablets backed up.
    pub tablets: u64,
    /// Runs of a failed node's tablets on another node.
    pub retries: u64,
    /// Files in the snapshot.
    pub files: u64,
    /// Bytes of file content in the snapshot.
    pub bytes: u64,
    /// The snapshot's timestamp (for RESTORE's `backup_timestamp`), NUL-terminated.
    pub timestamp: [c_char; 32],
}

/// The adapter: a `NodeRunner` over a copied callback table.
struct CallbackRunner {
    cb: tabsnap_cluster_callbacks,
}

// SAFETY: the table's contract (written on `tabsnap_cluster_callbacks`) lets `run_node` be called from several
// threads at once; `user_data` is only handed back to it, and the adapter lives only during the exported call.
unsafe impl Sync for CallbackRunner {}

impl NodeRunner for CallbackRunner {
    fn run_node(&self, task: &NodeTask<'_>) -> Result<()> {
        let Some(run) = self.cb.run_node else { return Err(Error::new(ErrorKind::Callback, "run_node is NULL")) };
        let strings: Vec<[CString; 4]> = task
            .tablets
            .iter()
            .map(|(t, _)| [cstring(&t.table), cstring(&t.partition), cstring(&t.index), cstring(&t.tablet)])
            .collect();
        let refs: Vec<tabsnap_tablet_ref> = strings
            .iter()
            .map(|s| tabsnap_tablet_ref {
                table: s[0].as_ptr(),
                partition: s[1].as_ptr(),
                index: s[2].as_ptr(),
                tablet: s[3].as_ptr(),
            })
            .collect();
        let dirs: Vec<CString> = task.tablets.iter().map(|(_, d)| cstring(&d.to_string_lossy())).collect();
        let dir_ptrs: Vec<*const c_char> = dirs.iter().map(|d| d.as_ptr()).collect();
        let (node, part, database, label, timestamp) = (
            cstring(task.node),
            cstring(task.part),
            cstring(task.database),
            cstring(task.label),
            cstring(task.timestamp),
        );
        let retry_of = task.retry_of.map(cstring);
        let t = tabsnap_node_task {
            struct_size: std::mem::size_of::<tabsnap_node_task>() as u32,
            attempt: task.attempt,
            node: node.as_ptr(),
            part: part.as_ptr(),
            retry_of: retry_of.as_ref().map_or(std::ptr::null(), |r| r.as_ptr()),
            database: database.as_ptr(),
            label: label.as_ptr(),
            timestamp: timestamp.as_ptr(),
            tablets: refs.as_ptr(),
            dirs: dir_ptrs.as_ptr(),
            n: refs.len(),
        };
        let mut err = tabsnap_cb_error::empty();
        // SAFETY: the callback's contract; every pointer in `t` lives until this call returns.
        let rc = unsafe { run(self.cb.user_data, &t, &mut err) };
        if rc == 0 {
            return Ok(());
        }
        let msg = err.take().unwrap_or_else(|| "no message".into());
        Err(Error::new(ErrorKind::Callback, format!("run_node returned {rc}: {msg}")))
    }
}

/// Reads `n` tablets and their directories.
///
/// # Safety
/// `tablets` and `dirs` are NULL or point to `n` entries each, whose strings are NULL or NUL-terminated.
pub(crate) unsafe fn tablet_list(
    tablets: *const tabsnap_tablet_ref,
    dirs: *const *const c_char,
    n: usize,
) -> std::result::Result<Vec<NodeTablet>, Failure> {
    if n > 0 && (tablets.is_null() || dirs.is_null()) {
        return Err(Failure::null("tablets or dirs"));
    }
    let mut list = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: `n` entries each, per the contract.
        let (t, d) = unsafe { (&*tablets.add(i), *dirs.add(i)) };
        // SAFETY: the tablet ref's strings and the dir are NULL or NUL-terminated per the contract.
        let r = unsafe {
            TabletRef {
                table: str_arg(t.table, "tablets[].table")?.to_owned(),
                partition: str_arg(t.partition, "tablets[].partition")?.to_owned(),
                index: str_arg(t.index, "tablets[].index")?.to_owned(),
                tablet: str_arg(t.tablet, "tablets[].tablet")?.to_owned(),
            }
        };
        // SAFETY: as above.
        let dir = PathBuf::from(unsafe { str_arg(d, "dirs[]") }?);
        list.push((r, dir));
    }
    Ok(list)
}

/// Writes `s` into `out`, as far as `out->struct_size` allows.
///
/// # Safety
/// `out` is not NULL and points to a writable `tabsnap_cluster_summary` whose `struct_size` the caller set.
unsafe fn write_summary(out: *mut tabsnap_cluster_summary, s: &ClusterSummary) {
    // SAFETY: not NULL (checked by the caller), writable per the contract.
    let size = (unsafe { (*out).struct_size } as usize).min(std::mem::size_of::<tabsnap_cluster_summary>());
    let mut summary = tabsnap_cluster_summary {
        struct_size: size as u32,
        nodes: s.nodes as u32,
        failed_nodes: s.failed_nodes.len() as u32,
        tablets: s.tablets,
        retries: s.retries,
        files: s.files,
        bytes: s.bytes,
        timestamp: [0; 32],
    };
    for (dst, src) in summary.timestamp.iter_mut().zip(s.timestamp.bytes().take(31)) {
        *dst = src as c_char;
    }
    // SAFETY: `out` has at least `size` writable bytes (the caller's struct_size, checked to cover the first
    // field), and at most that many are copied from a local of the same layout.
    unsafe { std::ptr::copy_nonoverlapping((&raw const summary).cast::<u8>(), out.cast::<u8>(), size) };
}

/// Backs up `n` tablets into repository `repository` with several nodes, coordinated: deals the tablets to the
/// `n_nodes` `nodes` round-robin (nodes left without a tablet are not run), calls `callbacks->run_node` for each
/// node's share, runs a failed share again on a node that succeeded (at most `retries` times), and commits the
/// snapshot once every tablet is stored. `tablets[i]` names a tablet and `dirs[i]` where the node that holds it
/// finds its files (handed to `run_node` as given). Returns when the snapshot is committed or the backup failed;
/// on failure nothing is committed and the parts this call stored are removed.
///
/// `callbacks` is copied and used only during the call. On success, if `summary_out` is not NULL, fills it as
/// far as its `struct_size` allows.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, a string, `callbacks`, its `run_node`, `nodes` with
/// `n_nodes` > 0, or `tablets` / `dirs` with `n` > 0); `_INVALID_UTF8`; `_INVALID_ARGUMENT` (an unknown
/// `callbacks->version`, `summary_out->struct_size` too small, no tablet, no node, a node named twice or unfit
/// to name a part, a label that cannot name a snapshot); `_ANALYSIS` (an unknown or read-only repository);
/// `_CALLBACK` (every node failed, or a share failed more than `retries` times: the message names each failed
/// node and its callback's message); `_ALREADY_EXISTS`, `_REPOSITORY` (the commit); `_POISONED`;
/// `_INTERNAL_PANIC`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; the strings are NULL or NUL-terminated; `tablets` and `dirs` point to `n` entries
/// each and `nodes` to `n_nodes` strings (NULL when the count is 0); `callbacks` is NULL or initialised;
/// `summary_out` is NULL or writable with its `struct_size` set; `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_cluster_backup(
    engine: *const tabsnap_engine,
    repository: *const c_char,
    database: *const c_char,
    label: *const c_char,
    tablets: *const tabsnap_tablet_ref,
    dirs: *const *const c_char,
    n: usize,
    nodes: *const *const c_char,
    n_nodes: usize,
    retries: u32,
    callbacks: *const tabsnap_cluster_callbacks,
    summary_out: *mut tabsnap_cluster_summary,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: NULL or a live engine, per the contract.
        let e = unsafe { live_engine(engine) }?;
        // SAFETY: NULL or NUL-terminated strings per the contract.
        let (repository, database, label) =
            unsafe { (str_arg(repository, "repository")?, str_arg(database, "database")?, str_arg(label, "label")?) };
        // SAFETY: NULL or initialised, per the contract.
        let cb = *unsafe { callbacks.as_ref() }.ok_or_else(|| Failure::null("callbacks"))?;
        if cb.version != TABSNAP_CLUSTER_CALLBACKS_VERSION {
            return Err(Failure::new(
                tabsnap_status::InvalidArgument,
                format!(
                    "tabsnap_cluster_callbacks version {} is not supported (this library knows {TABSNAP_CLUSTER_CALLBACKS_VERSION})",
                    cb.version
                ),
            ));
        }
        if cb.run_node.is_none() {
            return Err(Failure::null("callbacks->run_node"));
        }
        // SAFETY: summary_out is NULL or writable with struct_size set, per the contract.
        if let Some(s) = unsafe { summary_out.as_ref() }
            && (s.struct_size as usize) < std::mem::size_of::<u32>()
        {
            return Err(Failure::new(
                tabsnap_status::InvalidArgument,
                "tabsnap_cluster_summary.struct_size is too small; set it to sizeof(tabsnap_cluster_summary)",
            ));
        }
        // SAFETY: `n` entries each, per the contract.
        let list = unsafe { tablet_list(tablets, dirs, n) }?;
        if n_nodes > 0 && nodes.is_null() {
            return Err(Failure::null("nodes"));
        }
        let mut names = Vec::with_capacity(n_nodes);
        for i in 0..n_nodes {
            // SAFETY: `n_nodes` NUL-terminated strings, per the contract.
            names.push(unsafe { str_arg(*nodes.add(i), "nodes[]") }?.to_owned());
        }
        let coordinator = Coordinator::new(names)?.retries(retries).max_concurrency(cb.max_concurrency as usize);
        let runner = CallbackRunner { cb };
        let summary = e.cluster_backup(repository, database, label, &list, &coordinator, &runner)?;
        if !summary_out.is_null() {
            // SAFETY: not NULL, writable with struct_size set (checked above), per the contract.
            unsafe { write_summary(summary_out, &summary) };
        }
        Ok(())
    })
}
