//! Restore: manifest → the chunks the selected tablets need → ranged reads of their packs, in parallel →
//! crc32c check → zstd decompress → content-hash check → write at the file's offset → one filesystem sync.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use rayon::prelude::*;

use super::check::{check_file_crcs, read_chunks};
use super::chunk_plan::{PlannedFiles, plan_chunks};
use super::durable::{preallocate, start_writeback, sync_filesystem};
use super::locate::{PackIds, find, load_locations};
use super::roots::TabletRoots;
use super::safe_fs;
use super::{Counters, JobControl, Packer};
use crate::format::{self, Manifest, TabletEntry};
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

/// The directory of `rel` below its tablet directory (`""` for the tablet directory itself).
fn parent_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// An I/O error about `rel` below `root`; invalid input (a symlink in the way) is an invalid argument.
fn io_error(root: &Path, rel: &str, what: &str, e: std::io::Error) -> Error {
    let kind = e.kind();
    let err = Error::io(format!("{what} {}", root.join(rel).display()), e);
    if kind == std::io::ErrorKind::InvalidInput { Error::new(ErrorKind::InvalidArgument, err.message()) } else { err }
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
        // 1. The files to write, tablet by tablet, and each tablet's directory.
        let mut files = PlannedFiles::default();
        let whole = files.add_manifest(manifest_key.clone(), manifest.chunk_size, manifest.database.clone());
        let mut roots = TabletRoots::default();
        for (place, tablet) in manifest.tables.tablets() {
            let Some(dir) = target(place, tablet) else { continue };
            roots.push(&dir)?;
            files.add_tablet(whole, place.table, tablet)?;
        }
        if let Some(i) = roots.first_repeated() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("two tablets of manifest {manifest_key} would be restored into {}", roots.get(i).display()),
            ));
        }

        // 2. Where each needed chunk lives, checked against the files before anything is written.
        let needed = files.needed()?;
        let mut packs = PackIds::default();
        let located = load_locations(repo, &manifest.indexes, &needed, &mut packs)?;
        let (plan, problems) = plan_chunks(&files, needed, packs, located, &|located, _, chunk| find(located, chunk));
        if let Some(e) = problems.into_iter().next() {
            return Err(e);
        }
        // 3. Directories, each created once and held open while its files are written (one `openat` per file),
        // then every multi-chunk file with its length so chunks can land in any order.
        let (mut dirs, mut dir_start) = (Vec::<&str>::new(), vec![0u32]);
        let mut fi = 0;
        for t in 0..roots.len() {
            let begin = dirs.len();
            while fi < files.len() && files.tablet_of(fi) == t {
                dirs.push(parent_of(&files.entry(fi).path));
                fi += 1;
            }
            let mut own = dirs.split_off(begin);
            own.sort_unstable();
            own.dedup();
            dirs.extend(own);
            dir_start.push(dirs.len() as u32);
        }
        let tablet_dirs_of = |t: usize| &dirs[dir_start[t] as usize..dir_start[t + 1] as usize];
        let budget = safe_fs::DirBudget::from_limit();
        let tablet_dirs: Vec<safe_fs::TabletDir> = self.pool.install(|| {
            (0..roots.len())
                .into_par_iter()
                .map(|t| safe_fs::prepare_tablet(&roots.get(t), tablet_dirs_of(t), &budget))
                .collect::<Result<_>>()
        })?;
        let held = |fi: usize| {
            let t = files.tablet_of(fi);
            let dir = tablet_dirs_of(t).binary_search(&parent_of(&files.entry(fi).path)).unwrap_or_default();
            tablet_dirs[t].dirs.get(dir).and_then(Option::as_ref)
        };
        let root_of = |fi: usize| roots.get(files.tablet_of(fi));
        let stats = Counters::default();
        stats.files_total.store(files.len() as u64, Ordering::Relaxed);
        stats.bytes_total.store((0..files.len()).map(|fi| files.entry(fi).size).sum(), Ordering::Relaxed);
        // Single-chunk files (most files of a tablet) are created when their chunk arrives: one open each.
        // Multi-chunk files stay open until their last chunk is written: one safe open each, not one per chunk;
        // only they count the bytes written so far.
        let multi: Vec<u32> =
            (0..files.len() as u32).filter(|&fi| files.entry(fi as usize).chunks.len() != 1).collect();
        let open: Vec<Mutex<Option<Arc<File>>>> = multi.iter().map(|_| Mutex::new(None)).collect();
        let written: Vec<AtomicU64> = multi.iter().map(|_| AtomicU64::new(0)).collect();
        self.pool.install(|| {
            multi.par_iter().zip(&open).try_for_each(|(&fi, slot)| {
                let (fi, root) = (fi as usize, root_of(fi as usize));
                let entry = files.entry(fi);
                let f = safe_fs::create_file(held(fi), &root, &entry.path)
                    .map_err(|e| io_error(&root, &entry.path, "creating", e))?;
                preallocate(&f, entry.size).map_err(|e| io_error(&root, &entry.path, "sizing", e))?;
                *slot.lock() = Some(Arc::new(f));
                Ok::<_, Error>(())
            })
        })?;
        control.cancel.check()?;

        // 4. Read packs in merged ranges, in parallel, and write chunks where they go.
        let chunk_crc: Vec<AtomicU64> = (0..plan.slot_count()).map(|_| AtomicU64::new(NO_CRC)).collect();
        // While small files land, a thread makes the filesystem write back what is dirty every
        // EARLY_SYNC_STEP bytes, so the disk works during the restore and the final sync finds little left.
        let restoring = AtomicBool::new(true);
        std::thread::scope(|scope| {
            if let Some(dir) = (roots.len() > 0).then(|| roots.get(0)).and_then(|r| File::open(r).ok()) {
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
                        let name_file = || {
                            let first = plan.uses(&files, slot).next();
                            first.map_or(String::new(), |(fi, _)| format!("while restoring {}", files.label(fi)))
                        };
                        let raw = raw.map_err(|e| e.context(name_file()))?;
                        chunk_crc[slot].store(u64::from(crc32c::crc32c(&raw)), Ordering::Relaxed);
                        for (fi, offset) in plan.uses(&files, slot) {
                            let (entry, root) = (files.entry(fi), root_of(fi));
                            let multi = multi.binary_search(&(fi as u32)).ok();
                            let write = || {
                                let Some(m) = multi else {
                                    let f = safe_fs::create_file(held(fi), &root, &entry.path)?;
                                    f.write_all_at(&raw, 0)?;
                                    // Small files are left to the final sync, which writes them back together.
                                    if raw.len() >= EARLY_WRITEBACK_MIN {
                                        start_writeback(&f);
                                    }
                                    return Ok(());
                                };
                                let file = open[m].lock().clone();
                                match file {
                                    Some(f) => f.write_all_at(&raw, offset),
                                    None => safe_fs::open_file(&root, &entry.path)?.write_all_at(&raw, offset),
                                }
                            };
                            write().map_err(|e| io_error(&root, &entry.path, "writing", e))?;
                            stats.bytes_done.fetch_add(raw.len() as u64, Ordering::Relaxed);
                            let done = match multi {
                                None => true,
                                Some(m) => {
                                    let n = raw.len() as u64;
                                    written[m].fetch_add(n, Ordering::Relaxed) + n == entry.size
                                }
                            };
                            if done {
                                stats.files_done.fetch_add(1, Ordering::Relaxed);
                                // Its last chunk: start its writeback and close it (the last holder of the handle
                                // closes the file).
                                if let Some(f) = multi.and_then(|m| open[m].lock().take()) {
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
        drop(chunk_crc);
        if let Some(e) = check_file_crcs(&files, &plan, &crcs).into_iter().next() {
            return Err(e);
        }

        // 5. Durable before returning: one syncfs per filesystem on Linux, per-file fsync elsewhere.
        let mut synced = HashSet::new();
        for (id, td) in tablet_dirs.iter().enumerate() {
            if synced.contains(&td.dev) {
                continue;
            }
            let root = roots.get(id);
            let dir = File::open(&root).map_err(|e| Error::io(format!("opening {}", root.display()), e))?;
            let whole_fs = sync_filesystem(&dir).map_err(|e| Error::io(format!("syncing {}", root.display()), e))?;
            if whole_fs {
                synced.insert(td.dev);
            } else {
                for fi in (0..files.len()).filter(|&fi| files.tablet_of(fi) == id) {
                    let rel = &files.entry(fi).path;
                    safe_fs::open_file(&root, rel)
                        .and_then(|f| f.sync_all())
                        .map_err(|e| io_error(&root, rel, "syncing", e))?;
                }
            }
        }
        let files = files.len() as u64;
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
