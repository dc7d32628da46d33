//! A host engine provided through a table of callbacks: the table (`table.rs`), its optional version-2
//! callbacks (`optional.rs`), and the adapter that makes it a [`Host`].

mod optional;
mod table;

use std::ffi::CString;
use std::path::PathBuf;

pub use optional::{tabsnap_replica_tag, tabsnap_restore_commit, tabsnap_storage_medium};
pub use table::{TABSNAP_HOST_CALLBACKS_VERSION, tabsnap_host_callbacks, tabsnap_host_feature, tabsnap_tablet_ref};

use super::boundary::Failure;
use super::repo::tabsnap_cb_error;
use super::sink::{tabsnap_bytes_sink, tabsnap_catalog_sink, tabsnap_path_sink};
use super::status::tabsnap_status;
use crate::host::{Host, HostFeature, Privilege, RestoreCommit, TableInfo, TabletRef};
use crate::{Error, ErrorKind, Result};

/// The adapter: a `Host` over a copied callback table.
pub(crate) struct CallbackHost {
    cb: tabsnap_host_callbacks,
}

// SAFETY: the table's contract makes the callbacks callable from any thread; `user_data` only goes back to them.
unsafe impl Send for CallbackHost {}
// SAFETY: as for Send.
unsafe impl Sync for CallbackHost {}

impl CallbackHost {
    /// Copies the table: a version-1 table only as far as `destroy`, a version-2 table as far as `create_view`,
    /// a version-3 table whole.
    ///
    /// # Safety
    /// `table` is NULL or points to an initialised table of the version it states (a version-1 table may end
    /// at `destroy`).
    pub(crate) unsafe fn from_table(
        table: *const tabsnap_host_callbacks,
    ) -> std::result::Result<CallbackHost, Failure> {
        if table.is_null() {
            return Err(Failure::null("host"));
        }
        // SAFETY: not NULL and initialised per the contract; `version` is the first field of every version.
        let version = unsafe { (*table).version };
        let mut cb = tabsnap_host_callbacks::empty();
        // Each version appends to the one before (repr(C)): version 1 ends before `features`, version 2 before
        // `list_index_tablets`. Every version starts with the version-1 fields, so an unsupported one is read
        // that far: enough to call its `destroy`.
        let len = match version {
            TABSNAP_HOST_CALLBACKS_VERSION => std::mem::size_of::<tabsnap_host_callbacks>(),
            2 => std::mem::offset_of!(tabsnap_host_callbacks, list_index_tablets),
            _ => std::mem::offset_of!(tabsnap_host_callbacks, features),
        };
        // SAFETY: the caller's table has at least `len` initialised bytes (a table of a known version is whole
        // to its version's end, any other starts with the version-1 fields); `cb` is a distinct local of the
        // same layout.
        unsafe { std::ptr::copy_nonoverlapping(table.cast::<u8>(), (&raw mut cb).cast::<u8>(), len) };
        let host = CallbackHost { cb };
        if !(1..=TABSNAP_HOST_CALLBACKS_VERSION).contains(&version) {
            return Err(Failure::new(
                tabsnap_status::InvalidArgument,
                format!(
                    "tabsnap_host_callbacks version {version} is not supported (this library knows 1 to {TABSNAP_HOST_CALLBACKS_VERSION})"
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
        optional::check_features(&cb)
            .map_err(|m| Failure::new(tabsnap_status::InvalidArgument, format!("tabsnap_host_callbacks: {m}")))?;
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

    fn supports(&self, feature: HostFeature) -> bool {
        self.cb.features & optional::bit(feature) != 0
    }

    fn schema_identity(&self, database: &str, table: &str) -> Result<Option<String>> {
        optional::schema_identity(&self.cb, database, table)
    }

    fn snapshot_schema_identity(&self, metadata: &[u8], table: &str) -> Result<Option<String>> {
        optional::snapshot_schema_identity(&self.cb, metadata, table)
    }

    fn drop_table(&self, database: &str, job: u64, table: &str) -> Result<()> {
        optional::drop_table(&self.cb, database, job, table)
    }

    fn drop_partitions(&self, database: &str, job: u64, table: &str, partitions: &[String]) -> Result<()> {
        optional::drop_partitions(&self.cb, database, job, table, partitions)
    }

    /// A plain commit goes to `commit_restore`; one whose options ask something to `commit_restore_with`, when
    /// the host declares every feature they need.
    fn commit_restore_with(
        &self,
        database: &str,
        job: u64,
        table: &str,
        source_table: &str,
        metadata: &[u8],
        options: &RestoreCommit,
    ) -> Result<()> {
        let needs = options.needs();
        if needs.is_empty() {
            return self.commit_restore(database, job, table, source_table, metadata);
        }
        if let Some(f) = needs.iter().find(|f| !self.supports(**f)) {
            return Err(crate::host::unsupported(f.describe()));
        }
        optional::commit_restore_with(&self.cb, (database, job, table, source_table, metadata), options)
    }

    fn view_definition(&self, database: &str, view: &str) -> Result<String> {
        optional::view_definition(&self.cb, database, view)
    }

    fn create_view(&self, database: &str, job: u64, view: &str, definition: &str) -> Result<()> {
        optional::create_view(&self.cb, database, job, view, definition)
    }

    fn index_tablets(&self, database: &str, place: crate::tree::Place<'_>) -> Result<Vec<crate::host::TabletInfo>> {
        optional::index_tablets(&self.cb, database, place)
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
