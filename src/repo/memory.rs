//! An in-memory repository, for tests and for hosts that hand objects elsewhere themselves.

use std::collections::BTreeMap;

use parking_lot::RwLock;

use super::{ObjectInfo, PutMode, PutOutcome, Repository, check_key};
use crate::{Error, ErrorKind, Result};

/// A repository held in memory.
#[derive(Debug, Default)]
pub struct MemoryRepository {
    objects: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl MemoryRepository {
    /// An empty repository.
    pub fn new() -> MemoryRepository {
        MemoryRepository::default()
    }

    /// Replaces the bytes of an existing object (to simulate corruption in tests).
    pub fn tamper(&self, key: &str, f: impl FnOnce(&mut Vec<u8>)) {
        if let Some(v) = self.objects.write().get_mut(key) {
            f(v);
        }
    }
}

impl Repository for MemoryRepository {
    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        check_key(key)?;
        let mut objects = self.objects.write();
        if mode == PutMode::CreateIfAbsent && objects.contains_key(key) {
            return Ok(PutOutcome::AlreadyExists);
        }
        objects.insert(key.to_owned(), data.to_vec());
        Ok(PutOutcome::Written)
    }

    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        let objects = self.objects.read();
        let v = objects
            .get(key)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("object {key} does not exist")).with_object(key))?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = match len {
            Some(n) => start.saturating_add(usize::try_from(n).unwrap_or(usize::MAX)),
            None => v.len(),
        };
        v.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
            Error::new(
                ErrorKind::Repository,
                format!("object {key}: range {offset}..{end} is past its end ({} bytes)", v.len()),
            )
            .with_object(key)
        })
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        Ok(self.objects.read().get(key).map(|v| v.len() as u64))
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        Ok(self
            .objects
            .read()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| ObjectInfo { key: k.clone(), size: v.len() as u64 })
            .collect())
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.objects.write().remove(key);
        Ok(())
    }

    fn describe(&self) -> String {
        "memory://".into()
    }
}
