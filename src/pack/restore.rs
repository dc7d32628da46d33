//! Restore: manifest → the chunks the selected tablets need → ranged reads of their packs, in parallel →
//! crc32c check → zstd decompress → content-hash check → write at the file's offset → one filesystem sync.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::mmap::sync_filesystem;
use super::state::{check_len, load_locations};
use super::{Counters, JobControl, Packer, check_relative_path};
use crate::format::{
    self, ChunkEntry, Compression, ContentHash, FileEntry, IndexEntry, Manifest, PartitionEntry, TableEntry,
    TabletEntry,
};
use crate::repo::Repository;
use crate::{Error, ErrorKind, Result};

/// Reads of one pack closer than this are merged into one ranged get.
const MERGE_GAP: u64 = 256 << 10;
/// A merged read is cut at this size.
const MAX_READ: u64 = 16 << 20;

/// What a restore did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestoreSummary {
    /// Files written.
    pub files: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Bytes read from the repository.
    pub bytes_read: u64,
    /// Ranged reads issued.
    pub reads: u64,
}

/// Chooses the target directory of each tablet, or `None` to leave it out.
pub type TabletTarget<'a> =
    dyn Fn(&TableEntry, &PartitionEntry, &IndexEntry, &TabletEntry) -> Option<PathBuf> + Sync + 'a;

struct Target<'m> {
    path: PathBuf,
    /// Index of the tablet directory (in `roots`) the file goes under.
    root: usize,
    entry: &'m FileEntry,
    label: String,
}

/// Where a chunk goes: file and offset.
struct Dest {
    file: usize,
    offset: u64,
}

impl Packer {
    /// Restores the tablets `target` selects from `manifest`, each into the directory it names. Only the packs
    /// (and ranges of packs) those tablets need are read.
    ///
    /// Files are created new (an existing file or a symlink in the way is an error, never overwritten or
    /// followed), every chunk is checked (crc32c before decompressing, content hash after), and everything is
    /// made durable with one filesystem sync before this returns.
    ///
    /// # Errors
    /// [`ErrorKind::Corruption`] naming the pack, chunk and file; [`ErrorKind::InvalidArgument`] for a manifest
    /// path that would escape its tablet directory; I/O and repository errors; cancellation.
    pub fn restore(
        &self,
        repo: &dyn Repository,
        manifest: &Manifest,
        target: &TabletTarget<'_>,
        control: &JobControl,
    ) -> Result<RestoreSummary> {
        // 1. The files to write.
        let mut targets = Vec::new();
        let mut roots: Vec<PathBuf> = Vec::new();
        let mut root_ids: std::collections::HashMap<PathBuf, usize> = std::collections::HashMap::new();
        for (t, p, i, tablet, f) in manifest.files() {
            let Some(dir) = target(t, p, i, tablet) else { continue };
            check_relative_path(&f.path).map_err(|e| {
                e.context(format!("manifest {}/{} tablet {}", manifest.label, manifest.timestamp, tablet.id))
            })?;
            let root = *root_ids.entry(dir.clone()).or_insert_with(|| {
                roots.push(dir.clone());
                roots.len() - 1
            });
            let label = format!("{}.{} tablet {} file {}", manifest.database, t.name, tablet.id, f.path);
            targets.push(Target { path: dir.join(&f.path), root, entry: f, label });
        }
        // Tablets with no files still get their directory.
        for (t, p, i, tablet) in manifest.tables.iter().flat_map(|t| {
            t.partitions
                .iter()
                .flat_map(move |p| p.indexes.iter().flat_map(move |i| i.tablets.iter().map(move |tb| (t, p, i, tb))))
        }) {
            if let Some(dir) = target(t, p, i, tablet)
                && !root_ids.contains_key(&dir)
            {
                root_ids.insert(dir.clone(), roots.len());
                roots.push(dir);
            }
        }
        for root in &roots {
            create_dirs_safely(None, root)?;
        }
        let mut parents: Vec<(&Path, &Path)> = Vec::new();
        for t in &targets {
            if let Some(parent) = t.path.parent() {
                parents.push((roots[t.root].as_path(), parent));
            }
        }
        parents.sort();
        parents.dedup();
        for (root, parent) in parents {
            create_dirs_safely(Some(root), parent)?;
        }

        // 2. Where each needed chunk lives.
        let needed: HashSet<ContentHash> = targets.iter().flat_map(|t| t.entry.chunks.iter().copied()).collect();
        let locations = load_locations(repo, &manifest.indexes, &needed)?;
        let chunk_size = manifest.chunk_size;
        let mut by_pack: BTreeMap<ContentHash, BTreeMap<u64, (ChunkEntry, Vec<Dest>)>> = BTreeMap::new();
        for (fi, t) in targets.iter().enumerate() {
            for (ci, hash) in t.entry.chunks.iter().enumerate() {
                let (pack, entry) = locations.get(hash).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Corruption,
                        format!("chunk {} of {} is in no index of the snapshot", hash.short(), t.label),
                    )
                })?;
                let slot =
                    by_pack.entry(*pack).or_default().entry(entry.offset).or_insert_with(|| (*entry, Vec::new()));
                slot.1.push(Dest { file: fi, offset: ci as u64 * chunk_size });
            }
        }

        // 3. Create every file (multi-chunk files get their length so chunks can land in any order).
        let stats = Counters::default();
        stats.files_total.store(targets.len() as u64, Ordering::Relaxed);
        stats.bytes_total.store(targets.iter().map(|t| t.entry.size).sum(), Ordering::Relaxed);
        // Single-chunk files (most files of a tablet) are created when their chunk arrives: one open each.
        self.pool.install(|| {
            targets.par_iter().filter(|t| t.entry.chunks.len() != 1).try_for_each(|t| {
                let f = create_new(&t.path).map_err(|e| Error::io(format!("creating {}", t.path.display()), e))?;
                f.set_len(t.entry.size).map_err(|e| Error::io(format!("sizing {}", t.path.display()), e))?;
                Ok::<_, Error>(())
            })
        })?;
        control.cancel.check()?;

        // 4. Read packs in merged ranges, in parallel, and write chunks where they go.
        let mut reads = Vec::new();
        for (pack, chunks) in &by_pack {
            let mut current: Vec<&(ChunkEntry, Vec<Dest>)> = Vec::new();
            let mut start = 0;
            let mut end = 0;
            for slot in chunks.values() {
                let e = &slot.0;
                let e_end = e.offset + u64::from(e.stored_len);
                if !current.is_empty() && (e.offset > end + MERGE_GAP || e_end - start > MAX_READ) {
                    reads.push((*pack, start, end, std::mem::take(&mut current)));
                }
                if current.is_empty() {
                    start = e.offset;
                }
                end = end.max(e_end);
                current.push(slot);
            }
            if !current.is_empty() {
                reads.push((*pack, start, end, current));
            }
        }
        let written: Vec<AtomicU64> = targets.iter().map(|_| AtomicU64::new(0)).collect();
        self.pool.install(|| {
            reads.par_iter().try_for_each_init(zstd::bulk::Decompressor::new, |dctx, (pack, start, end, chunks)| {
                control.cancel.check()?;
                let dctx = dctx.as_mut().map_err(|e| Error::new(ErrorKind::Io, format!("cannot start zstd: {e}")))?;
                let key = format::pack_key(pack);
                let data = repo.get_range(&key, *start, Some(end - start))?;
                check_len(&key, &data, end - start)?;
                stats.bytes_stored.fetch_add(data.len() as u64, Ordering::Relaxed);
                stats.objects.fetch_add(1, Ordering::Relaxed);
                for (entry, dests) in chunks {
                    let at = usize::try_from(entry.offset - start).unwrap_or(usize::MAX);
                    let stored = &data[at..at + entry.stored_len as usize];
                    let name_file = || {
                        dests.first().map_or(String::new(), |d| format!(" while restoring {}", targets[d.file].label))
                    };
                    let raw = decode_chunk(&key, entry, stored, dctx).map_err(|e| e.context(name_file()))?;
                    for d in dests {
                        let t = &targets[d.file];
                        let write = || {
                            if t.entry.chunks.len() == 1 {
                                create_new(&t.path)?.write_all(&raw)
                            } else {
                                let f = OpenOptions::new().write(true).custom_flags(libc::O_NOFOLLOW).open(&t.path)?;
                                f.write_all_at(&raw, d.offset)
                            }
                        };
                        write().map_err(|e| Error::io(format!("writing {}", t.path.display()), e))?;
                        stats.bytes_done.fetch_add(raw.len() as u64, Ordering::Relaxed);
                        let done = written[d.file].fetch_add(raw.len() as u64, Ordering::Relaxed) + raw.len() as u64;
                        if done == t.entry.size {
                            stats.files_done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if let Some(p) = &control.progress {
                    p.update(&stats.info());
                }
                Ok::<_, Error>(())
            })
        })?;
        control.cancel.check()?;

        // 5. Durable before returning: one syncfs per filesystem on Linux, per-file fsync elsewhere.
        let mut synced = HashSet::new();
        for root in &roots {
            let dir = File::open(root).map_err(|e| Error::io(format!("opening {}", root.display()), e))?;
            let dev = std::os::unix::fs::MetadataExt::dev(
                &dir.metadata().map_err(|e| Error::io(format!("opening {}", root.display()), e))?,
            );
            if synced.contains(&dev) {
                continue;
            }
            let whole_fs = sync_filesystem(&dir).map_err(|e| Error::io(format!("syncing {}", root.display()), e))?;
            if whole_fs {
                synced.insert(dev);
            } else {
                for t in targets.iter().filter(|t| t.path.starts_with(root)) {
                    File::open(&t.path)
                        .and_then(|f| f.sync_all())
                        .map_err(|e| Error::io(format!("syncing {}", t.path.display()), e))?;
                }
            }
        }
        let files = targets.len() as u64;
        if let Some(p) = &control.progress {
            stats.files_done.store(files, Ordering::Relaxed);
            p.update(&stats.info());
        }
        Ok(RestoreSummary {
            files,
            bytes: stats.bytes_total.load(Ordering::Relaxed),
            bytes_read: stats.bytes_stored.load(Ordering::Relaxed),
            reads: stats.objects.load(Ordering::Relaxed),
        })
    }
}

/// Checks a stored chunk and returns its raw bytes: crc32c of the stored bytes first, then decompression, then
/// the content hash of the result.
pub(crate) fn decode_chunk(
    pack_key: &str,
    entry: &ChunkEntry,
    stored: &[u8],
    zstd: &mut zstd::bulk::Decompressor<'static>,
) -> Result<Vec<u8>> {
    let corrupt = |what: String| {
        Error::new(ErrorKind::Corruption, format!("pack {pack_key} chunk {}: {what}", entry.hash.short()))
            .with_object(pack_key)
    };
    let crc = crc32c::crc32c(stored);
    if crc != entry.crc32c {
        return Err(corrupt(format!("crc32c mismatch (stored {:#010x}, computed {crc:#010x})", entry.crc32c)));
    }
    let raw = match entry.compression {
        Compression::None => stored.to_vec(),
        Compression::Zstd => {
            zstd.decompress(stored, entry.raw_len as usize).map_err(|e| corrupt(format!("cannot decompress: {e}")))?
        }
    };
    if raw.len() != entry.raw_len as usize {
        return Err(corrupt(format!("decompressed to {} bytes, {} expected", raw.len(), entry.raw_len)));
    }
    if ContentHash::of(&raw) != entry.hash {
        return Err(corrupt("content hash mismatch".into()));
    }
    Ok(raw)
}

/// Creates `dir` and its missing parents. Below `base`, a symlink or a non-directory in the way is an error:
/// restore never writes through a link. `base` itself and what is above it belong to the caller (`None`: the
/// whole path is the caller's, links included).
fn create_dirs_safely(base: Option<&Path>, dir: &Path) -> Result<()> {
    let Some(base) = base else {
        return std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e));
    };
    let rel = dir.strip_prefix(base).unwrap_or(dir);
    let mut current = base.to_path_buf();
    for c in rel.components() {
        current.push(c);
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{} is a symlink; restore does not write through links", current.display()),
                ));
            }
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", current.display()),
                ));
            }
            Err(_) => match std::fs::create_dir(&current) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && current.is_dir() => {}
                Err(e) => return Err(Error::io(format!("creating {}", current.display()), e)),
            },
        }
    }
    Ok(())
}

fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_NOFOLLOW).open(path)
}
