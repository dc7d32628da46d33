//! Retries transient failures with exponential backoff.

use std::time::Duration;

use super::{ObjectInfo, Properties, PutMode, PutOutcome, Repository};
use crate::Result;

/// Wraps a repository so that calls failing with a transient error are retried.
///
/// A retried create-if-absent `put` that finds the object already there reports `AlreadyExists`; callers that
/// write content-addressed objects treat that as success.
#[derive(Debug)]
pub struct Retry<R> {
    inner: R,
    attempts: u32,
    first_delay: Duration,
}

impl<R: Repository> Retry<R> {
    /// Retries each call up to `attempts` times in all, waiting `first_delay`, then twice as long each time.
    pub fn new(inner: R, attempts: u32, first_delay: Duration) -> Retry<R> {
        Retry { inner, attempts: attempts.max(1), first_delay }
    }

    /// The wrapped repository.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    fn run<T>(&self, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        let mut delay = self.first_delay;
        let mut attempt = 1;
        loop {
            match f() {
                Err(e) if e.is_transient() && attempt < self.attempts => {
                    std::thread::sleep(delay);
                    delay = delay.saturating_mul(2).min(Duration::from_secs(30));
                    attempt += 1;
                }
                Err(e) if attempt > 1 => return Err(e.context(format!("after {attempt} attempts"))),
                other => return other,
            }
        }
    }
}

impl<R: Repository> Repository for Retry<R> {
    fn properties(&self) -> Properties {
        self.inner.properties()
    }
    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        self.run(|| self.inner.put(key, data, mode))
    }
    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        self.run(|| self.inner.get_range(key, offset, len))
    }
    fn size(&self, key: &str) -> Result<Option<u64>> {
        self.run(|| self.inner.size(key))
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.run(|| self.inner.list(prefix))
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.run(|| self.inner.delete(key))
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn remove_leftovers(&self, dry_run: bool) -> Result<(u64, u64)> {
        self.inner.remove_leftovers(dry_run)
    }
    fn hash_key(&self) -> Option<[u8; 32]> {
        self.inner.hash_key()
    }
}
