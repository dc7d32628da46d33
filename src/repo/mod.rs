//! Repositories: where snapshots are stored. One small trait with written duties, and wrappers that add
//! behaviour (retry, fault injection) around any implementation.

mod fault;
mod limit;
mod local;
mod memory;
mod retry;
mod s3;
mod s3_config;

pub use fault::{Fault, FaultPlan, Op};
pub use limit::Limit;
pub use local::LocalRepository;
pub use memory::MemoryRepository;
pub use retry::Retry;
pub use s3::S3Repository;
pub use s3_config::S3Config;

use crate::Result;

/// What a repository can do; callers adapt to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Properties {
    /// How many calls may run at once (0 = no limit).
    pub max_concurrency: usize,
    /// Whether `put` with [`PutMode::CreateIfAbsent`] is atomic against a concurrent writer of the same key.
    pub atomic_create_if_absent: bool,
}

impl Default for Properties {
    fn default() -> Self {
        Properties { max_concurrency: 0, atomic_create_if_absent: true }
    }
}

/// How `put` treats an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Write only if no object has the key; otherwise report [`PutOutcome::AlreadyExists`] and change nothing.
    CreateIfAbsent,
    /// Write, replacing any object with the key.
    Overwrite,
}

/// What `put` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was written.
    Written,
    /// An object with the key already existed and was left as it was.
    AlreadyExists,
}

/// An object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key.
    pub key: String,
    /// Its length in bytes.
    pub size: u64,
}

/// A store of immutable objects named by `/`-separated keys.
///
/// Duties of every implementation:
/// - **put** makes the object durable before returning `Ok`: after a crash at any moment, a key either holds
///   its complete bytes or does not exist; no reader ever sees a partial object under a real key.
///   `CreateIfAbsent` never replaces an existing object.
/// - **get_range** returns exactly the bytes asked for, or an error: a short read is an error, never a shorter
///   buffer. Reading an object that does not exist is [`crate::ErrorKind::NotFound`]. Reads are idempotent.
/// - **list** returns every object whose key starts with `prefix`, each once, in any order; objects being
///   written by an unfinished `put` are not listed.
/// - **delete** of a key that does not exist succeeds.
/// - Errors name the key; a failure that may pass on retry is marked [`crate::Error::is_transient`].
/// - Every method may be called from several threads at once, at most [`Properties::max_concurrency`] at a
///   time when it is not 0 (the engine wraps every repository it holds in a [`Limit`] of that many calls).
pub trait Repository: Send + Sync {
    /// What this repository can do.
    fn properties(&self) -> Properties {
        Properties::default()
    }

    /// Stores `data` under `key`.
    ///
    /// # Errors
    /// I/O or service errors, naming `key`.
    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome>;

    /// Reads `len` bytes at `offset` of `key` (`len = None`: to the end).
    ///
    /// # Errors
    /// [`crate::ErrorKind::NotFound`] when the object does not exist; an error when it is shorter than asked.
    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>>;

    /// The length of `key`, or `None` when it does not exist.
    ///
    /// # Errors
    /// I/O or service errors.
    fn size(&self, key: &str) -> Result<Option<u64>>;

    /// The objects whose key starts with `prefix`.
    ///
    /// # Errors
    /// I/O or service errors.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;

    /// Removes `key` (no error if it does not exist).
    ///
    /// # Errors
    /// I/O or service errors.
    fn delete(&self, key: &str) -> Result<()>;

    /// A description for messages (`file:///backups/repo1`), never including secrets.
    fn describe(&self) -> String;

    /// Removes (or, with `dry_run`, only counts) what unfinished writes of processes that died left behind and
    /// no listing shows: a local repository's temporary files. Returns their number and bytes. Only a garbage
    /// collection calls it, holding the exclusive lock while no other lock is live, so no write is under way.
    /// The default, for stores where an unfinished write leaves nothing, does nothing.
    ///
    /// # Errors
    /// I/O or service errors.
    fn remove_leftovers(&self, dry_run: bool) -> Result<(u64, u64)> {
        let _ = dry_run;
        Ok((0, 0))
    }

    /// The secret that chunk, pack and index ids are hashed with ([`crate::format::IdHasher`]): `Some` only for
    /// an encrypted repository ([`crate::crypto::EncryptedRepository`]), whose object names must reveal nothing
    /// of their content. Wrappers forward it.
    fn hash_key(&self) -> Option<[u8; 32]> {
        None
    }
}

impl<R: Repository + ?Sized> Repository for std::sync::Arc<R> {
    fn properties(&self) -> Properties {
        (**self).properties()
    }
    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        (**self).put(key, data, mode)
    }
    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        (**self).get_range(key, offset, len)
    }
    fn size(&self, key: &str) -> Result<Option<u64>> {
        (**self).size(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        (**self).list(prefix)
    }
    fn delete(&self, key: &str) -> Result<()> {
        (**self).delete(key)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn remove_leftovers(&self, dry_run: bool) -> Result<(u64, u64)> {
        (**self).remove_leftovers(dry_run)
    }
    fn hash_key(&self) -> Option<[u8; 32]> {
        (**self).hash_key()
    }
}

/// Reads a whole object.
///
/// # Errors
/// As [`Repository::get_range`].
pub fn get(repo: &dyn Repository, key: &str) -> Result<Vec<u8>> {
    repo.get_range(key, 0, None)
}

/// Checks that a key is one a repository may store: non-empty `/`-separated components without `.`/`..`,
/// no leading `/`, no NUL or backslash.
pub(crate) fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && !key.contains(['\0', '\\'])
        && key.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    if ok {
        Ok(())
    } else {
        Err(crate::Error::new(crate::ErrorKind::InvalidArgument, format!("invalid object key {key:?}")))
    }
}
