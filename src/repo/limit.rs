//! Request and bandwidth limits: a wrapper that caps concurrent calls and the bytes per second moved.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::{ObjectInfo, Properties, PutMode, PutOutcome, Repository};
use crate::Result;

/// Wraps a repository so that at most `max_requests` calls run at once (0: no cap) and puts and gets together
/// move at most `bytes_per_sec` (0: no cap), smoothed over one second.
#[derive(Debug)]
pub struct Limit<R> {
    inner: R,
    max_requests: usize,
    running: Mutex<usize>,
    freed: Condvar,
    bytes_per_sec: u64,
    budget: Mutex<(Instant, f64)>,
}

impl<R: Repository> Limit<R> {
    /// Caps `inner` at `max_requests` concurrent calls and `bytes_per_sec` (0 disables either).
    pub fn new(inner: R, max_requests: usize, bytes_per_sec: u64) -> Limit<R> {
        Limit {
            inner,
            max_requests,
            running: Mutex::new(0),
            freed: Condvar::new(),
            bytes_per_sec,
            budget: Mutex::new((Instant::now(), bytes_per_sec as f64)),
        }
    }

    fn call<T>(&self, bytes: u64, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _permit = self.acquire();
        self.spend(bytes);
        f()
    }

    /// Waits for one of the `max_requests` slots; the slot is given back when the permit drops (a panic in the
    /// call included).
    fn acquire(&self) -> Option<Permit<'_, R>> {
        if self.max_requests == 0 {
            return None;
        }
        let mut n = self.running.lock();
        while *n >= self.max_requests {
            self.freed.wait(&mut n);
        }
        *n += 1;
        Some(Permit { limit: self })
    }

    /// Token bucket: waits until `bytes` fit in the budget (which refills at `bytes_per_sec`, up to one
    /// second's worth); a request larger than a second's worth waits for its whole size to accrue.
    fn spend(&self, bytes: u64) {
        if self.bytes_per_sec == 0 || bytes == 0 {
            return;
        }
        let rate = self.bytes_per_sec as f64;
        let wait = {
            let mut b = self.budget.lock();
            let now = Instant::now();
            let refill = now.duration_since(b.0).as_secs_f64() * rate;
            b.0 = now;
            b.1 = (b.1 + refill).min(rate);
            b.1 -= bytes as f64;
            if b.1 < 0.0 { Duration::from_secs_f64(-b.1 / rate) } else { Duration::ZERO }
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// One running call of a [`Limit`].
struct Permit<'a, R> {
    limit: &'a Limit<R>,
}

impl<R> Drop for Permit<'_, R> {
    fn drop(&mut self) {
        *self.limit.running.lock() -= 1;
        self.limit.freed.notify_one();
    }
}

impl<R: Repository> Repository for Limit<R> {
    fn properties(&self) -> Properties {
        let mut p = self.inner.properties();
        if self.max_requests > 0 && (p.max_concurrency == 0 || p.max_concurrency > self.max_requests) {
            p.max_concurrency = self.max_requests;
        }
        p
    }
    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        self.call(data.len() as u64, || self.inner.put(key, data, mode))
    }
    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        self.call(len.unwrap_or(0), || self.inner.get_range(key, offset, len))
    }
    fn size(&self, key: &str) -> Result<Option<u64>> {
        self.call(0, || self.inner.size(key))
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.call(0, || self.inner.list(prefix))
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.call(0, || self.inner.delete(key))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::MemoryRepository;

    #[test]
    fn bandwidth_is_capped() {
        let r = Limit::new(MemoryRepository::new(), 2, 1_000_000);
        let start = Instant::now();
        for i in 0..3 {
            r.put(&format!("k{i}"), &vec![0u8; 1_000_000], PutMode::Overwrite).unwrap();
        }
        // The first second's worth is in the bucket; the next two must wait about a second each.
        assert!(start.elapsed() >= Duration::from_millis(1500), "{:?}", start.elapsed());
        assert_eq!(r.properties().max_concurrency, 2);
    }
}
