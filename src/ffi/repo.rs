//! Repositories provided by the host through a table of callbacks, and the small objects callbacks write to.

use std::ffi::{CString, c_char, c_void};

use super::boundary::{Failure, ffi_boundary, str_arg};
use super::status::tabsnap_status;
use crate::repo::{ObjectInfo, Properties, PutMode, PutOutcome, Repository};
use crate::{Error, ErrorKind, Result};

/// Where a callback puts a message about its failure (`tabsnap_cb_error_set`). Valid only during the call that
/// received it.
pub struct tabsnap_cb_error {
    message: Option<String>,
}

impl tabsnap_cb_error {
    pub(crate) fn empty() -> tabsnap_cb_error {
        tabsnap_cb_error { message: None }
    }

    pub(crate) fn take(&mut self) -> Option<String> {
        self.message.take()
    }
}

/// Attaches `message` to a failing callback's result: it reaches the job's error (TaskErrMsg) and the
/// `tabsnap_error` the host reads. Calling it again replaces the message. NULL arguments are ignored; invalid
/// UTF-8 is replaced, never refused.
///
/// Thread safety: the thread of the callback that received `err`. Since: 0.1.
///
/// # Safety
/// `err` is NULL or the `tabsnap_cb_error *` the callback received; `message` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_cb_error_set(err: *mut tabsnap_cb_error, message: *const c_char) {
    ffi_boundary!(or () => {
        // SAFETY: NULL or the live object the callback received, per the contract.
        let Some(e) = (unsafe { err.as_mut() }) else { return };
        if !message.is_null() {
            // SAFETY: NUL-terminated per the contract.
            let m = unsafe { std::ffi::CStr::from_ptr(message) };
            e.message = Some(m.to_string_lossy().into_owned());
        }
    })
}

/// Receives the objects a `list` callback finds (`tabsnap_list_sink_add`). Valid only during that call.
pub struct tabsnap_list_sink {
    objects: Vec<ObjectInfo>,
}

/// Adds one object to a listing.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`sink` or `key` NULL); `_INVALID_UTF8`; `_INTERNAL_PANIC`.
///
/// Thread safety: the thread of the `list` callback that received `sink`. Since: 0.1.
///
/// # Safety
/// `sink` is NULL or the `tabsnap_list_sink *` the callback received; `key` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_list_sink_add(
    sink: *mut tabsnap_list_sink,
    key: *const c_char,
    size: u64,
) -> tabsnap_status {
    ffi_boundary!(std::ptr::null_mut() => {
        // SAFETY: NULL (refused) or the live sink, per the contract.
        let s = unsafe { sink.as_mut() }.ok_or_else(|| Failure::null("sink"))?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let key = unsafe { str_arg(key, "key") }?;
        s.objects.push(ObjectInfo { key: key.to_owned(), size });
        Ok(())
    })
}

/// The current version of `tabsnap_repo_callbacks`.
pub const TABSNAP_REPO_CALLBACKS_VERSION: u32 = 1;

/// A repository the host stores itself. Every callback gets `user_data` first and a `tabsnap_cb_error *` last,
/// returns 0 on success or a nonzero host code on failure (with a message set through `tabsnap_cb_error_set`; a
/// job it fails ends with `TABSNAP_STATUS_CALLBACK`), and may be called from tabsnap's worker threads, at most
/// `max_concurrency` at once (0: any number). Callbacks
/// must not let C++ exceptions or `longjmp` cross into tabsnap. Keys are `/`-separated UTF-8 strings, valid only
/// during the call.
///
/// The table is copied when registered; `user_data` must stay valid until `destroy` is called.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tabsnap_repo_callbacks {
    /// `TABSNAP_REPO_CALLBACKS_VERSION` at compile time (1).
    pub version: u32,
    /// 0: no limit; n: at most n callbacks run at once, across every job and thread of the engine.
    pub max_concurrency: u32,
    /// Passed to every callback.
    pub user_data: *mut c_void,
    /// Stores `len` bytes under `key`, durably before returning 0. With `if_absent`, an existing object is
    /// left alone and `*written` set false; otherwise `*written` is set true. A half-written object must never
    /// be visible under `key`.
    pub put: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            key: *const c_char,
            data: *const u8,
            len: usize,
            if_absent: bool,
            written: *mut bool,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Reads exactly `len` bytes of `key` at `offset` into `buf`; anything less is a failure (never a short
    /// read). Must be idempotent. For a missing object return nonzero: tabsnap then asks `size`, and a missing
    /// object is "not found" rather than a callback failure.
    pub get: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            key: *const c_char,
            offset: u64,
            buf: *mut u8,
            len: usize,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Sets `*exists` and, when it exists, `*size` of `key`.
    pub size: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            key: *const c_char,
            exists: *mut bool,
            size: *mut u64,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Adds every object whose key starts with `prefix` to `sink` (`tabsnap_list_sink_add`), each once.
    pub list: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            prefix: *const c_char,
            sink: *mut tabsnap_list_sink,
            err: *mut tabsnap_cb_error,
        ) -> i32,
    >,
    /// Deletes `key`; deleting a missing key succeeds.
    pub remove:
        Option<unsafe extern "C" fn(user_data: *mut c_void, key: *const c_char, err: *mut tabsnap_cb_error) -> i32>,
    /// Called once with `user_data` when tabsnap no longer needs the repository: when the engine is freed, or
    /// before `tabsnap_engine_attach_repository` returns a failure (may be NULL).
    pub destroy: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

/// The adapter: a `Repository` over a copied callback table. Its `max_concurrency` is enforced by the engine's
/// registry, which wraps every repository it holds in a `repo::Limit` of that many calls.
pub(crate) struct CallbackRepository {
    cb: tabsnap_repo_callbacks,
}

// SAFETY: the table's contract (written on `tabsnap_repo_callbacks`) makes the callbacks callable from any thread,
// at most `max_concurrency` at once, which the engine's registry enforces for every repository it holds (the only
// place an adapter goes); `user_data` is only handed back to those callbacks.
unsafe impl Send for CallbackRepository {}
// SAFETY: as for Send: concurrent calls are allowed by the table's contract unless serialised.
unsafe impl Sync for CallbackRepository {}

impl CallbackRepository {
    /// Copies the table. On an invalid table, calls its `destroy` (ownership of `user_data` was passed).
    ///
    /// # Safety
    /// `table` is NULL or points to an initialised table.
    pub(crate) unsafe fn from_table(
        table: *const tabsnap_repo_callbacks,
    ) -> std::result::Result<CallbackRepository, Failure> {
        // SAFETY: NULL (refused) or initialised, per the contract.
        let cb = *unsafe { table.as_ref() }.ok_or_else(|| Failure::null("repo"))?;
        let repo = CallbackRepository { cb };
        if cb.version != TABSNAP_REPO_CALLBACKS_VERSION {
            return Err(Failure::new(
                tabsnap_status::InvalidArgument,
                format!(
                    "tabsnap_repo_callbacks version {} is not supported (this library knows {TABSNAP_REPO_CALLBACKS_VERSION})",
                    cb.version
                ),
            ));
        }
        if cb.put.is_none() || cb.get.is_none() || cb.size.is_none() || cb.list.is_none() || cb.remove.is_none() {
            return Err(Failure::new(
                tabsnap_status::InvalidArgument,
                "tabsnap_repo_callbacks: put, get, size, list and remove are required",
            ));
        }
        Ok(repo)
    }

    /// Calls one callback with a fresh error slot.
    fn call(&self, what: &str, key: &str, f: impl FnOnce(*mut tabsnap_cb_error) -> i32) -> Result<()> {
        let mut err = tabsnap_cb_error { message: None };
        let rc = f(&mut err);
        if rc == 0 {
            Ok(())
        } else {
            let msg = err.message.unwrap_or_else(|| "no message".into());
            Err(Error::new(
                ErrorKind::Callback,
                format!("repository callback {what} failed for {key} (code {rc}): {msg}"),
            )
            .with_object(key))
        }
    }
}

fn ckey(key: &str) -> Result<CString> {
    CString::new(key).map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("key {key:?} contains NUL")))
}

impl Repository for CallbackRepository {
    fn properties(&self) -> Properties {
        Properties { max_concurrency: self.cb.max_concurrency as usize, ..Properties::default() }
    }

    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        let k = ckey(key)?;
        let mut written = false;
        let Some(put) = self.cb.put else { return Err(Error::new(ErrorKind::Repository, "no put callback")) };
        self.call("put", key, |err| {
            // SAFETY: the callback's contract; every pointer is valid for the duration of the call.
            unsafe {
                put(
                    self.cb.user_data,
                    k.as_ptr(),
                    data.as_ptr(),
                    data.len(),
                    mode == PutMode::CreateIfAbsent,
                    &mut written,
                    err,
                )
            }
        })?;
        Ok(if written || mode == PutMode::Overwrite { PutOutcome::Written } else { PutOutcome::AlreadyExists })
    }

    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        let len = match len {
            Some(l) => l,
            None => self
                .size(key)?
                .ok_or_else(|| {
                    Error::new(ErrorKind::NotFound, format!("object {key} does not exist")).with_object(key)
                })?
                .saturating_sub(offset),
        };
        let k = ckey(key)?;
        let mut buf =
            vec![0u8; usize::try_from(len).map_err(|_| Error::new(ErrorKind::InvalidArgument, "range too large"))?];
        let Some(get) = self.cb.get else { return Err(Error::new(ErrorKind::Repository, "no get callback")) };
        let got = self.call("get", key, |err| {
            // SAFETY: the callback's contract; `buf` has `len` writable bytes for the duration of the call.
            unsafe { get(self.cb.user_data, k.as_ptr(), offset, buf.as_mut_ptr(), buf.len(), err) }
        });
        match got {
            Ok(()) => Ok(buf),
            // The table has no "not found" code: `size` tells a missing object (the Repository duty says
            // NotFound, which readers rely on, e.g. for a lock removed between a listing and a read) from a
            // failure.
            Err(e) => match self.size(key) {
                Ok(None) => {
                    Err(Error::new(ErrorKind::NotFound, format!("object {key} does not exist")).with_object(key))
                }
                _ => Err(e),
            },
        }
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        let k = ckey(key)?;
        let (mut exists, mut size) = (false, 0u64);
        let Some(f) = self.cb.size else { return Err(Error::new(ErrorKind::Repository, "no size callback")) };
        self.call("size", key, |err| {
            // SAFETY: the callback's contract; out-pointers are valid for the call.
            unsafe { f(self.cb.user_data, k.as_ptr(), &mut exists, &mut size, err) }
        })?;
        Ok(exists.then_some(size))
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let k = ckey(prefix)?;
        let mut sink = tabsnap_list_sink { objects: Vec::new() };
        let Some(f) = self.cb.list else { return Err(Error::new(ErrorKind::Repository, "no list callback")) };
        self.call("list", prefix, |err| {
            // SAFETY: the callback's contract; the sink lives for the call.
            unsafe { f(self.cb.user_data, k.as_ptr(), &mut sink, err) }
        })?;
        Ok(sink.objects)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let k = ckey(key)?;
        let Some(f) = self.cb.remove else { return Err(Error::new(ErrorKind::Repository, "no remove callback")) };
        self.call("remove", key, |err| {
            // SAFETY: the callback's contract.
            unsafe { f(self.cb.user_data, k.as_ptr(), err) }
        })
    }

    fn describe(&self) -> String {
        "host://".into()
    }
}

impl Drop for CallbackRepository {
    fn drop(&mut self) {
        if let Some(d) = self.cb.destroy {
            // SAFETY: called exactly once, when the adapter (the only owner of the copied table) goes away.
            unsafe { d(self.cb.user_data) };
        }
    }
}
