//! The local filesystem repository: one file per object under a root directory.
//!
//! A put writes `<dir>/.tmp-<name>-<unique>`, fsyncs it, renames it into place (`link` + unlink for
//! create-if-absent, so an existing object is never replaced), and fsyncs the directory: a crash leaves either
//! the whole object under its key or nothing but a temporary file, which listings skip and a later `put` ignores.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{ObjectInfo, PutMode, PutOutcome, Repository, check_key};
use crate::{Error, ErrorKind, Result};

const TMP_PREFIX: &str = ".tmp-";

/// A repository in a local directory.
#[derive(Debug)]
pub struct LocalRepository {
    root: PathBuf,
    counter: AtomicU64,
}

impl LocalRepository {
    /// A repository rooted at `root`, creating the directory if it does not exist.
    ///
    /// # Errors
    /// When the directory cannot be created or is not a directory.
    pub fn new(root: impl Into<PathBuf>) -> Result<LocalRepository> {
        let root = root.into();
        fs::create_dir_all(&root)
            .map_err(|e| Error::io(format!("creating repository directory {}", root.display()), e))?;
        if !root.is_dir() {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("{} is not a directory", root.display())));
        }
        Ok(LocalRepository { root, counter: AtomicU64::new(0) })
    }

    /// The repository's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))
}

impl Repository for LocalRepository {
    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> Result<PutOutcome> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        if mode == PutMode::CreateIfAbsent && path.exists() {
            return Ok(PutOutcome::AlreadyExists);
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e).with_object(key))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{TMP_PREFIX}{name}-{}-{n}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(data)?;
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(format!("writing object {key} in {}", self.root.display()), e).with_object(key));
        }
        let outcome = match mode {
            PutMode::Overwrite => fs::rename(&tmp, &path).map(|()| PutOutcome::Written),
            // link() fails if the target exists: an atomic create-if-absent.
            PutMode::CreateIfAbsent => match fs::hard_link(&tmp, &path) {
                Ok(()) => Ok(PutOutcome::Written),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(PutOutcome::AlreadyExists),
                Err(e) => Err(e),
            },
        };
        let _ = fs::remove_file(&tmp);
        let outcome = outcome.map_err(|e| Error::io(format!("publishing object {key}"), e).with_object(key))?;
        sync_dir(&dir).map_err(|e| e.with_object(key))?;
        Ok(outcome)
    }

    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Vec<u8>> {
        let path = self.path(key)?;
        let mut f = File::open(&path).map_err(|e| Error::io(format!("reading object {key}"), e).with_object(key))?;
        let size = f.metadata().map_err(|e| Error::io(format!("reading object {key}"), e).with_object(key))?.len();
        let want = len.unwrap_or(size.saturating_sub(offset));
        if offset.checked_add(want).is_none_or(|end| end > size) {
            return Err(Error::new(
                ErrorKind::Repository,
                format!("object {key}: range {offset}+{want} is past its end ({size} bytes)"),
            )
            .with_object(key));
        }
        let mut buf = vec![0u8; usize::try_from(want).unwrap_or(usize::MAX)];
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|e| Error::io(format!("reading object {key}"), e).with_object(key))?;
        Ok(buf)
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        match fs::metadata(self.path(key)?) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading object {key}"), e).with_object(key)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        // Walk from the deepest directory the prefix names completely.
        let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let start = if dir_part.is_empty() { self.root.clone() } else { self.root.join(dir_part) };
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
            };
            // Other processes write and delete while this lists: an entry that vanished meanwhile is simply not
            // listed (it was deleted after the listing began).
            let vanished = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
            for entry in entries {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) if vanished(&e) => continue,
                    Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
                };
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with(TMP_PREFIX) {
                    continue;
                }
                let ft = match entry.file_type() {
                    Ok(ft) => ft,
                    Err(e) if vanished(&e) => continue,
                    Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
                };
                let path = entry.path();
                let Ok(rel) = path.strip_prefix(&self.root) else { continue };
                let key: String = rel.to_string_lossy().into_owned();
                if ft.is_dir() {
                    if prefix.starts_with(&format!("{key}/")) || key.starts_with(prefix) || prefix.is_empty() {
                        stack.push(path);
                    }
                } else if ft.is_file() && key.starts_with(prefix) {
                    let size = match entry.metadata() {
                        Ok(m) => m.len(),
                        Err(e) if vanished(&e) => continue,
                        Err(e) => return Err(Error::io(format!("listing {key}"), e)),
                    };
                    out.push(ObjectInfo { key, size });
                }
            }
        }
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(path.parent().unwrap_or(&self.root)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("deleting object {key}"), e).with_object(key)),
        }
    }

    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn remove_leftovers(&self, dry_run: bool) -> Result<(u64, u64)> {
        let (mut n, mut bytes) = (0, 0);
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
            };
            for entry in entries.flatten() {
                let Ok(ft) = entry.file_type() else { continue };
                if ft.is_dir() {
                    stack.push(entry.path());
                } else if ft.is_file() && entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    bytes += entry.metadata().map_or(0, |m| m.len());
                    n += 1;
                    if !dry_run {
                        match fs::remove_file(entry.path()) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(Error::io(format!("removing {}", entry.path().display()), e)),
                        }
                    }
                }
            }
        }
        Ok((n, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let r = LocalRepository::new(dir.path().join("repo")).unwrap();
        assert_eq!(r.put("a/b/c", b"hello", PutMode::CreateIfAbsent).unwrap(), PutOutcome::Written);
        assert_eq!(r.put("a/b/c", b"other", PutMode::CreateIfAbsent).unwrap(), PutOutcome::AlreadyExists);
        assert_eq!(r.get_range("a/b/c", 1, Some(3)).unwrap(), b"ell");
        assert_eq!(r.get_range("a/b/c", 0, None).unwrap(), b"hello");
        assert!(r.get_range("a/b/c", 3, Some(3)).is_err());
        assert_eq!(r.get_range("nope", 0, None).unwrap_err().kind(), ErrorKind::NotFound);
        r.put("a/x", b"1", PutMode::Overwrite).unwrap();
        r.put("b", b"22", PutMode::Overwrite).unwrap();
        std::fs::write(dir.path().join("repo/a/.tmp-x-1-1"), b"partial").unwrap();
        let mut keys: Vec<String> = r.list("a/").unwrap().into_iter().map(|o| o.key).collect();
        keys.sort();
        assert_eq!(keys, ["a/b/c", "a/x"]);
        assert_eq!(r.list("").unwrap().len(), 3);
        assert_eq!(r.size("b").unwrap(), Some(2));
        r.delete("b").unwrap();
        r.delete("b").unwrap();
        assert_eq!(r.size("b").unwrap(), None);
        assert!(r.put("../escape", b"x", PutMode::Overwrite).is_err());
        // A temporary file a dead writer left: counted by a dry run, removed by a real one, never listed.
        assert_eq!(r.remove_leftovers(true).unwrap(), (1, 7));
        assert_eq!(r.remove_leftovers(false).unwrap(), (1, 7));
        assert_eq!(r.remove_leftovers(false).unwrap(), (0, 0));
        assert!(!dir.path().join("repo/a/.tmp-x-1-1").exists());
    }
}
