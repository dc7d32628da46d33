//! Restore: manifest → the chunks the selected tablets need → ranged reads of their packs, in parallel →
//! crc32c check → zstd decompress → content-hash check → write at the file's offset → one filesystem sync.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use rayon::prelude::*;

use super::check::{PlannedFile, check_file_crcs, plan_chunks, read_chunks};
use super::durable::{preallocate, start_writeback, sync_filesystem};
use super::safe_fs;
use super::state::load_locations;
use super::{Counters, JobControl, Packer};
use crate::format::{self, ContentHash, Manifest, TabletEntry};
use crate::repo::Repository;
use crate::tree::Place;
use crate::{Error, ErrorKind, Result};

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
pub type TabletTarget<'a> = dyn Fn(Place<'_>, &TabletEntry) -> Option<PathBuf> + Sync + 'a;

/// A file to write: its tablet directory (path and index), its path below it, the index of its directory among
/// those of its tablet directory, and its plan.
struct Target<'a> {
    root: &'a Path,
    root_id: usize,
    rel: &'a str,
    dir: usize,
    file: &'a PlannedFile<'a>,
}

/// The directory of `rel` below its tablet directory (`""` for the tablet directory itself).
fn parent_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

impl Target<'_> {
    fn io_error(&self, what: &str, e: std::io::Error) -> Error {
        let kind = e.kind();
        let err = Error::io(format!("{what} {}", self.root.join(self.rel).display()), e);
        if kind == std::io::ErrorKind::InvalidInput {
            Error::new(ErrorKind::InvalidArgument, err.message())
        } else {
            err
        }
    }
}

impl Packer {
    /// Restores the tablets `target` selects from `manifest`, each into the directory it names. Only the packs
    /// (and ranges of packs) those tablets need are read.
    ///
    /// Nothing is written before the manifest and the indexes it names pass the checks verify makes too
    /// ([`Manifest::check`], every chunk located with a raw length that fits its file, no overlapping chunks).
    /// A tablet's directory may exist (empty or not) but must not be a symlink; below it, restore creates every
    /// directory itself and refuses a symlink or anything else in the way. Files are created new (never
    /// overwritten or followed), every chunk is checked (crc32c before decompressing, content hash after),
    /// every file's whole-content crc32c is checked, and everything is made durable with one filesystem sync
    /// before this returns.
    ///
    /// # Errors
    /// [`ErrorKind::Corruption`] naming the pack (or manifest), chunk and file; [`ErrorKind::InvalidArgument`]
    /// for a manifest name or path that would escape or merge directories, or a symlink in the way;
    /// [`ErrorKind::Format`] for an inconsistent manifest or index; I/O and repository errors; cancellation.
    pub fn restore(
        &self,
        repo: &dyn Repository,
        manifest: &Manifest,
        target: &TabletTarget<'_>,
        control: &JobControl,
    ) -> Result<RestoreSummary> {
        let manifest_key = format::manifest_key(&manifest.label, &manifest.timestamp);
        manifest.check(&manifest_key)?;
        // 1. The files to write.
        let mut files = Vec::new();
        let mut roots: Vec<PathBuf> = Vec::new();
        let mut root_ids: HashMap<PathBuf, usize> = HashMap::new();
        let mut file_roots = Vec::new();
        for (place, tablet) in manifest.tables.tablets() {
            let Some(dir) = target(place, tablet) else { continue };
            let root = match root_ids.get(&dir) {
                Some(_) => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("two tablets of manifest {manifest_key} would be restored into {}", dir.display()),
                    ));
                }
                None => {
                    root_ids.insert(dir.clone(), roots.len());
                    roots.push(dir);
                    roots.len() - 1
                }
            };
            for f in &tablet.files {
                files.push(PlannedFile {
                    entry: f,
                    chunk_size: manifest.chunk_size,
                    manifest: manifest_key.clone(),
                    label: format!("{}.{} tablet {} file {}", manifest.database, place.table, tablet.id, f.path),
                });
                file_roots.push(root);
            }
        }

        // 2. Where each needed chunk lives, checked against the files before anything is written.
        let needed: HashSet<ContentHash> = files.iter().flat_map(|f| f.entry.chunks.iter().copied()).collect();
        let locations = load_locations(repo, &manifest.indexes, &needed)?;
        let (plan, problems) = plan_chunks(&files, &|_, h| locations.get(h).copied());
        if let Some(e) = problems.into_iter().next() {
            return Err(e);
        }
        // 3. Directories, each created once and held open while its files are written (one `openat` per file),
        // then every multi-chunk file with its length so chunks can land in any order.
        let mut root_dirs: Vec<Vec<&str>> = vec![Vec::new(); roots.len()];
        for (f, &root) in files.iter().zip(&file_roots) {
            root_dirs[root].push(parent_of(&f.entry.path));
        }
        for dirs in &mut root_dirs {
            dirs.sort_unstable();
            dirs.dedup();
        }
        let targets: Vec<Target<'_>> = files
            .iter()
            .zip(&file_roots)
            .map(|(f, &root)| {
                let rel = f.entry.path.as_str();
                let dir = root_dirs[root].binary_search(&parent_of(rel)).unwrap_or_default();
                Target { root: &roots[root], root_id: root, rel, dir, file: f }
            })
            .collect();
        let budget = safe_fs::DirBudget::from_limit();
        let tablet_dirs: Vec<safe_fs::TabletDir> = self.pool.install(|| {
            roots
                .par_iter()
                .zip(&root_dirs)
                .map(|(root, dirs)| safe_fs::prepare_tablet(root, dirs, &budget))
                .collect::<Result<_>>()
        })?;
        let held = |t: &Target<'_>| tablet_dirs[t.root_id].dirs.get(t.dir).and_then(Option::as_ref);
        let stats = Counters::default();
        stats.files_total.store(targets.len() as u64, Ordering::Relaxed);
        stats.bytes_total.store(targets.iter().map(|t| t.file.entry.size).sum(), Ordering::Relaxed);
        // Single-chunk files (most files of a tablet) are created when their chunk arrives: one open each.
        // Multi-chunk files stay open until their last chunk is written: one safe open each, not one per chunk.
        let open: Vec<Mutex<Option<Arc<File>>>> = targets.iter().map(|_| Mutex::new(None)).collect();
        self.pool.install(|| {
            targets.par_iter().zip(&open).filter(|(t, _)| t.file.entry.chunks.len() != 1).try_for_each(|(t, slot)| {
                let f = safe_fs::create_file(held(t), t.root, t.rel).map_err(|e| t.io_error("creating", e))?;
                preallocate(&f, t.file.entry.size).map_err(|e| t.io_error("sizing", e))?;
                *slot.lock() = Some(Arc::new(f));
                Ok::<_, Error>(())
            })
        })?;
        control.cancel.check()?;

        // 4. Read packs in merged ranges, in parallel, and write chunks where they go.
        let written: Vec<AtomicU64> = targets.iter().map(|_| AtomicU64::new(0)).collect();
        let chunk_crc: Vec<AtomicU64> = plan.slots.iter().map(|_| AtomicU64::new(NO_CRC)).collect();
        // While small files land, a thread makes the filesystem write back what is dirty every
        // EARLY_SYNC_STEP bytes, so the disk works during the restore and the final sync finds little left.
        let restoring = AtomicBool::new(true);
        std::thread::scope(|scope| {
            if let Some(dir) = roots.first().and_then(|r| File::open(r).ok()) {
                let (restoring, stats) = (&restoring, &stats);
                let _ = std::thread::Builder::new().name("tabsnap-sync".into()).spawn_scoped(scope, move || {
                    let mut synced = 0;
                    while restoring.load(Ordering::Relaxed) {
                        std::thread::park_timeout(std::time::Duration::from_millis(20));
                        let done = stats.bytes_done.load(Ordering::Relaxed);
                        if done - synced >= EARLY_SYNC_STEP {
                            synced = done;
                            let _ = sync_filesystem(&dir);
                        }
                    }
                });
            }
            let result = self.pool.install(|| {
                plan.reads.par_iter().try_for_each_init(zstd::bulk::Decompressor::new, |dctx, read| {
                    control.cancel.check()?;
                    let dctx =
                        dctx.as_mut().map_err(|e| Error::new(ErrorKind::Io, format!("cannot start zstd: {e}")))?;
                    let bytes = read_chunks(repo, &plan, read, dctx, &mut |slot, raw| {
                        let uses = &plan.slots[slot].uses;
                        let name_file = || {
                            uses.first().map_or(String::new(), |u| format!("while restoring {}", files[u.file].label))
                        };
                        let raw = raw.map_err(|e| e.context(name_file()))?;
                        chunk_crc[slot].store(u64::from(crc32c::crc32c(&raw)), Ordering::Relaxed);
                        for u in uses {
                            let t = &targets[u.file];
                            let write = || {
                                if t.file.entry.chunks.len() == 1 {
                                    let f = safe_fs::create_file(held(t), t.root, t.rel)?;
                                    f.write_all_at(&raw, 0)?;
                                    // Small files are left to the final sync, which writes them back together.
                                    if raw.len() >= EARLY_WRITEBACK_MIN {
                                        start_writeback(&f);
                                    }
                                    return Ok(());
                                }
                                let file = open[u.file].lock().clone();
                                match file {
                                    Some(f) => f.write_all_at(&raw, u.offset),
                                    None => safe_fs::open_file(t.root, t.rel)?.write_all_at(&raw, u.offset),
                                }
                            };
                            write().map_err(|e| t.io_error("writing", e))?;
                            stats.bytes_done.fetch_add(raw.len() as u64, Ordering::Relaxed);
                            let done =
                                written[u.file].fetch_add(raw.len() as u64, Ordering::Relaxed) + raw.len() as u64;
                            if done == t.file.entry.size {
                                stats.files_done.fetch_add(1, Ordering::Relaxed);
                                // Its last chunk: start its writeback and close it (the last holder of the handle
                                // closes the file).
                                if let Some(f) = open[u.file].lock().take() {
                                    start_writeback(&f);
                                }
                            }
                        }
                        Ok(())
                    })?;
                    stats.bytes_stored.fetch_add(bytes, Ordering::Relaxed);
                    stats.objects.fetch_add(1, Ordering::Relaxed);
                    if let Some(p) = &control.progress {
                        p.update(&stats.info());
                    }
                    Ok::<_, Error>(())
                })
            });
            restoring.store(false, Ordering::Relaxed);
            result
        })?;
        control.cancel.check()?;
        let crcs: Vec<Option<u32>> = chunk_crc.iter().map(|c| u32::try_from(c.load(Ordering::Relaxed)).ok()).collect();
        if let Some(e) = check_file_crcs(&files, &plan, &crcs).into_iter().next() {
            return Err(e);
        }

        // 5. Durable before returning: one syncfs per filesystem on Linux, per-file fsync elsewhere.
        let mut synced = HashSet::new();
        for (id, root) in roots.iter().enumerate() {
            let dev = tablet_dirs[id].dev;
            if synced.contains(&dev) {
                continue;
            }
            let dir = File::open(root).map_err(|e| Error::io(format!("opening {}", root.display()), e))?;
            let whole_fs = sync_filesystem(&dir).map_err(|e| Error::io(format!("syncing {}", root.display()), e))?;
            if whole_fs {
                synced.insert(dev);
            } else {
                for t in targets.iter().filter(|t| t.root_id == id) {
                    safe_fs::open_file(t.root, t.rel)
                        .and_then(|f| f.sync_all())
                        .map_err(|e| t.io_error("syncing", e))?;
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

/// Files at least this large start their writeback as soon as they are complete; smaller ones are written back
/// by the final sync, all together (one writeback each would cost more system time than it saves).
const EARLY_WRITEBACK_MIN: usize = 1 << 20;
/// Bytes restored between two syncs of the filesystem while a restore runs.
const EARLY_SYNC_STEP: u64 = 64 << 20;

/// Marks a chunk whose crc32c is not known (it was not written).
const NO_CRC: u64 = u64::MAX;
