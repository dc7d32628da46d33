//! A host engine provided through a table of callbacks, and the sinks its callbacks fill.

use std::ffi::{CString, c_char, c_void};
use std::path::PathBuf;

use super::boundary::Failure;
use super::repo::tabsnap_cb_error;
use super::sink::{tabsnap_bytes_sink, tabsnap_catalog_sink, tabsnap_path_sink};
use super::status::tabsnap_status;
use crate::host::{Host, Privilege, TableInfo, TabletRef};
use crate::{Error, ErrorKind, Result};

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

/// The current version of `tabsnap_host_callbacks`.
pub const TABSNAP_HOST_CALLBACKS_VERSION: u32 = 1;

/// The host engine tabsnap is linked into. Every callback gets `user_data` first and (where it can fail) a
/// `tabsnap_cb_error *` last, returns 0 on success or a nonzero host code (with a message through
/// `tabsnap_cb_error_set`; a job it fails ends with `TABSNAP_STATUS_CALLBACK`) and may be called from tabsnap's
/// job threads, several at once for different databases, with no lock of the engine held: a callback may call
/// the engine's functions, except `tabsnap_engine_free`. Callbacks must not let C++ exceptions or `longjmp` cross into tabsnap. Strings are borrowed for
/// the call. The table is copied by `tabsnap_engine_new`; `user_data` must stay valid until `destroy`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tabsnap_host_callbacks {
    /// `TABSNAP_HOST_CALLBACKS_VERSION` at compile time (1).
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
    /// `TABSNAP_STATUS_CALLBACK` and the callback's message.
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
}

/// The adapter: a `Host` over a copied callback table.
pub(crate) struct CallbackHost {
    cb: tabsnap_host_callbacks,
}

// SAFETY: the table's contract makes the callbacks callable from any thread; `user_data` only goes back to them.
unsafe impl Send for CallbackHost {}
// SAFETY: as for Send.
unsafe impl Sync for CallbackHost {}

impl CallbackHost {
    /// Copies the table.
    ///
    /// # Safety
    /// `table` is NULL or points to an initialised table.
    pub(crate) unsafe fn from_table(
        table: *const tabsnap_host_callbacks,
    ) -> std::result::Result<CallbackHost, Failure> {
        // SAFETY: NULL (refused) or initialised, per the contract.
        let cb = *unsafe { table.as_ref() }.ok_or_else(|| Failure::null("host"))?;
        let host = CallbackHost { cb };
        if cb.version != TABSNAP_HOST_CALLBACKS_VERSION {
            return Err(Failure::new(
                tabsnap_status::InvalidArgument,
                format!(
                    "tabsnap_host_callbacks version {} is not supported (this library knows {TABSNAP_HOST_CALLBACKS_VERSION})",
                    cb.version
                ),
            ));
        }
        if cb.list_tables.is_none()
            || cb.snapshot_tablet.is_none()
            || cb.restore_target.is_none()
            || cb.commit_restore.is_none()
        {
            return Err(Failure::new(
                tabsnap_status::InvalidArgument,
                "tabsnap_host_callbacks: list_tables, snapshot_tablet, restore_target and commit_restore are required",
            ));
        }
        Ok(host)
    }
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("{s:?} contains NUL")))
}

fn call(what: &str, f: impl FnOnce(*mut tabsnap_cb_error) -> i32) -> Result<()> {
    let mut err = tabsnap_cb_error::empty();
    let rc = f(&mut err);
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Callback,
            format!("host callback {what} failed (code {rc}): {}", err.take().unwrap_or_else(|| "no message".into())),
        ))
    }
}

struct RefC {
    table: CString,
    partition: CString,
    index: CString,
    tablet: CString,
}

impl RefC {
    fn new(t: &TabletRef) -> Result<RefC> {
        Ok(RefC {
            table: cstr(&t.table)?,
            partition: cstr(&t.partition)?,
            index: cstr(&t.index)?,
            tablet: cstr(&t.tablet)?,
        })
    }
    fn raw(&self) -> tabsnap_tablet_ref {
        tabsnap_tablet_ref {
            table: self.table.as_ptr(),
            partition: self.partition.as_ptr(),
            index: self.index.as_ptr(),
            tablet: self.tablet.as_ptr(),
        }
    }
}

fn need_path(what: &str, t: &TabletRef, sink: tabsnap_path_sink) -> Result<PathBuf> {
    sink.path.ok_or_else(|| {
        Error::new(
            ErrorKind::Callback,
            format!("host callback {what} gave no path for tablet {} of {}", t.tablet, t.table),
        )
    })
}

impl Host for CallbackHost {
    fn tables(&self, database: &str) -> Result<Vec<TableInfo>> {
        let db = cstr(database)?;
        let mut sink = tabsnap_catalog_sink::default();
        let f = self.cb.list_tables.ok_or_else(|| Error::new(ErrorKind::Io, "no list_tables callback"))?;
        let mut err = tabsnap_cb_error::empty();
        // SAFETY: the callback's contract; all pointers live for the call.
        let rc = unsafe { f(self.cb.user_data, db.as_ptr(), &mut sink, &mut err) };
        if rc != 0 {
            let msg = err.take().unwrap_or_else(|| format!("list_tables failed (code {rc})"));
            // The host says a database is unknown in its own words; keep them as the statement's error.
            return Err(Error::new(ErrorKind::NotFound, msg));
        }
        Ok(sink.tables)
    }

    /// All or nothing: when `snapshot_tablet` fails for one tablet, the snapshots taken before it are released
    /// before the error is returned.
    fn snapshot(&self, database: &str, tablets: &[TabletRef]) -> Result<Vec<PathBuf>> {
        let db = cstr(database)?;
        let f =
            self.cb.snapshot_tablet.ok_or_else(|| Error::new(ErrorKind::Callback, "no snapshot_tablet callback"))?;
        let mut dirs = Vec::with_capacity(tablets.len());
        for (i, t) in tablets.iter().enumerate() {
            let mut sink = tabsnap_path_sink::default();
            let taken = RefC::new(t).and_then(|r| {
                let raw = r.raw();
                // SAFETY: the callback's contract; all pointers live for the call.
                call("snapshot_tablet", |err| unsafe { f(self.cb.user_data, db.as_ptr(), &raw, &mut sink, err) })
            });
            // A tablet whose callback succeeded is taken, even when it answered no path.
            let (held, result) = match taken {
                Ok(()) => (i + 1, need_path("snapshot_tablet", t, sink)),
                Err(e) => (i, Err(e)),
            };
            match result {
                Ok(dir) => dirs.push(dir),
                Err(e) => {
                    return Err(match self.release(database, &tablets[..held]) {
                        Ok(()) => e,
                        Err(undo) => Error::new(e.kind(), format!("{}; then {}", e.message(), undo.message())),
                    });
                }
            }
        }
        Ok(dirs)
    }

    /// Releases every tablet, even after one fails; the failures are reported together.
    fn release(&self, database: &str, tablets: &[TabletRef]) -> Result<()> {
        let Some(f) = self.cb.release_tablet else { return Ok(()) };
        let db = cstr(database)?;
        let mut failures = Vec::new();
        for t in tablets {
            let released = RefC::new(t).and_then(|r| {
                let raw = r.raw();
                // SAFETY: the callback's contract; all pointers live for the call.
                call("release_tablet", |err| unsafe { f(self.cb.user_data, db.as_ptr(), &raw, err) })
            });
            if let Err(e) = released {
                failures.push(e.message().to_owned());
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(Error::new(ErrorKind::Callback, failures.join("; "))) }
    }

    fn restore_target(&self, database: &str, job: u64, t: &TabletRef) -> Result<PathBuf> {
        let db = cstr(database)?;
        let f = self.cb.restore_target.ok_or_else(|| Error::new(ErrorKind::Io, "no restore_target callback"))?;
        let r = RefC::new(t)?;
        let raw = r.raw();
        let mut sink = tabsnap_path_sink::default();
        // SAFETY: the callback's contract; all pointers live for the call.
        call("restore_target", |err| unsafe { f(self.cb.user_data, db.as_ptr(), job, &raw, &mut sink, err) })?;
        need_path("restore_target", t, sink)
    }

    fn commit_restore(&self, database: &str, job: u64, table: &str, source_table: &str, metadata: &[u8]) -> Result<()> {
        let (db, t, s) = (cstr(database)?, cstr(table)?, cstr(source_table)?);
        let f = self.cb.commit_restore.ok_or_else(|| Error::new(ErrorKind::Io, "no commit_restore callback"))?;
        // SAFETY: the callback's contract; all pointers live for the call.
        call("commit_restore", |err| unsafe {
            f(self.cb.user_data, db.as_ptr(), job, t.as_ptr(), s.as_ptr(), metadata.as_ptr(), metadata.len(), err)
        })
    }

    fn abort_restore(&self, database: &str, job: u64, table: &str) -> Result<()> {
        let Some(f) = self.cb.abort_restore else { return Ok(()) };
        let (db, t) = (cstr(database)?, cstr(table)?);
        // SAFETY: the callback's contract; all pointers live for the call.
        call("abort_restore", |err| unsafe { f(self.cb.user_data, db.as_ptr(), job, t.as_ptr(), err) })
    }

    fn has_privilege(&self, user: &str, privilege: &Privilege) -> bool {
        let Some(f) = self.cb.has_privilege else { return true };
        let Ok(u) = cstr(user) else { return false };
        let (code, db) = match privilege {
            Privilege::Admin => (0, None),
            Privilege::Load(db) => (1, cstr(db).ok()),
        };
        let dbp = db.as_ref().map_or(std::ptr::null(), |d| d.as_ptr());
        // SAFETY: the callback's contract; all pointers live for the call.
        unsafe { f(self.cb.user_data, u.as_ptr(), code, dbp) }
    }

    fn metadata(&self, database: &str, _tables: &[String]) -> Result<Vec<u8>> {
        let Some(f) = self.cb.metadata else { return Ok(Vec::new()) };
        let db = cstr(database)?;
        let mut sink = tabsnap_bytes_sink::default();
        // SAFETY: the callback's contract; all pointers live for the call.
        call("metadata", |err| unsafe { f(self.cb.user_data, db.as_ptr(), &mut sink, err) })?;
        Ok(sink.bytes)
    }
}

impl Drop for CallbackHost {
    fn drop(&mut self) {
        if let Some(d) = self.cb.destroy {
            // SAFETY: called exactly once, when the adapter (the only owner of the copied table) goes away.
            unsafe { d(self.cb.user_data) };
        }
    }
}
