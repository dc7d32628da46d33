//! Fault injection: a wrapper that fails chosen calls, returns short reads or flips bytes, for tests of every
//! repository path.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::{ObjectInfo, Properties, PutMode, PutOutcome, Repository};
use crate::{Error, ErrorKind, Result};

/// A repository operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `put`
    Put,
    /// `get_range`
    Get,
    /// `size`
    Size,
    /// `list`
    List,
    /// `delete`
    Delete,
}

/// What to break.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// Fail the N-th call (1-based, counted per operation) of an operation whose key starts with the prefix.
    pub fail_nth: Vec<(Op, String, u64, bool)>,
    /// Fail every call of an operation whose key starts with the prefix from the N-th on (a dead server).
    pub fail_from: Vec<(Op, String, u64)>,
    /// Return one byte less than asked on gets of keys with this prefix.
    pub short_reads: Vec<String>,
    /// Flip a bit of the returned bytes at this offset of the read on gets of keys with this prefix.
    pub corrupt_reads: Vec<(String, usize)>,
}

/// Wraps a repository and breaks calls as its [`FaultPlan`] says.
#[derive(Debug)]
pub struct Fault<R> {
    inner: R,
    plan: Mutex<FaultPlan>,
    counts: [AtomicU64; 5],
    matching: Mutex<std::collections::HashMap<(Op, String), u64>>,
    /// Calls by operation and first key component (`packs/`, `locks/`, `config`, …).
    by_area: Mutex<std::collections::HashMap<(Op, String), u64>>,
}

impl<R: Repository> Fault<R> {
    /// Wraps `inner` with `plan`.
    pub fn new(inner: R, plan: FaultPlan) -> Fault<R> {
        Fault {
            inner,
            plan: Mutex::new(plan),
            counts: Default::default(),
            matching: Mutex::default(),
            by_area: Mutex::default(),
        }
    }

    /// Replaces the plan (counts keep running).
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.plan.lock() = plan;
        self.matching.lock().clear();
    }

    /// How many calls of `op` were made (including failed ones).
    pub fn calls(&self, op: Op) -> u64 {
        self.counts[op as usize].load(Ordering::Relaxed)
    }

    /// How many calls of `op` were made on keys (or listing prefixes) whose first component is `area`
    /// (`"locks/"`, `"packs/"`, `"config"`).
    pub fn calls_to(&self, op: Op, area: &str) -> u64 {
        self.by_area.lock().get(&(op, area.to_owned())).copied().unwrap_or(0)
    }

    /// The wrapped repository.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    fn check(&self, op: Op, key: &str) -> Result<()> {
        self.counts[op as usize].fetch_add(1, Ordering::Relaxed);
        let area = key.find('/').map_or(key, |i| &key[..=i]);
        *self.by_area.lock().entry((op, area.to_owned())).or_insert(0) += 1;
        let plan = self.plan.lock().clone();
        for (o, prefix, n, transient) in &plan.fail_nth {
            if *o == op && key.starts_with(prefix.as_str()) {
                let mut m = self.matching.lock();
                let c = m.entry((op, prefix.clone())).or_insert(0);
                *c += 1;
                if *c == *n {
                    let e = Error::new(ErrorKind::Repository, format!("injected failure of {op:?} {key} (call {n})"))
                        .with_object(key);
                    return Err(if *transient { e.transient() } else { e });
                }
            }
        }
        for (o, prefix, n) in &plan.fail_from {
            if *o == op && key.starts_with(prefix.as_str()) {
                let mut m = self.matching.lock();
                let c = m.entry((op, format!("from:{prefix}"))).or_insert(0);
                *c += 1;
                if *c >= *n {
                    return Err(
                        Error::new(ErrorKind::Repository, format!("injected outage: {op:?} {key}")).with_object(key)
                    );
                }
            }
        }
        Ok(())
    }
}

impl<R: Repository> Repository for Fault<R> {
    fn properties(&self) -> Properties {
        self.inner.properties()
    }
    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        self.check(Op::Put, key)?;
        self.inner.put(key, data, mode)
    }
    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        self.check(Op::Get, key)?;
        let mut v = self.inner.get_range(key, offset, len)?;
        let plan = self.plan.lock();
        if plan.short_reads.iter().any(|p| key.starts_with(p.as_str())) {
            v.pop();
        }
        for (p, at) in &plan.corrupt_reads {
            if key.starts_with(p.as_str())
                && let Some(b) = v.get_mut(*at)
            {
                *b ^= 0x01;
            }
        }
        Ok(v)
    }
    fn size(&self, key: &str) -> Result<Option<u64>> {
        self.check(Op::Size, key)?;
        self.inner.size(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.check(Op::List, prefix)?;
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.check(Op::Delete, key)?;
        self.inner.delete(key)
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
