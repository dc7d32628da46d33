//! Writing one window of a restore: its tablets' directories, then its chunks, read from packs in merged ranges
//! in parallel and written where they go, then every file's whole-content crc32c. The filesystems written to are
//! synced once, after the last window.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use rayon::prelude::*;

use super::check::{check_file_crcs, read_chunks};
use super::chunk_plan::{ChunkPlan, PlannedFiles};
use super::durable::{preallocate, start_writeback, sync_filesystem};
use super::roots::TabletRoots;
use super::safe_fs;
use super::{Counters, JobControl, Packer};
use crate::repo::Repository;
use crate::{Error, ErrorKind, Result};

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

/// The filesystems a restore wrote to, each with one of its tablet directories.
#[derive(Default)]
pub(super) struct Filesystems(Vec<(u64, PathBuf)>);

impl Filesystems {
    /// Makes everything written durable: one syncfs per filesystem on Linux (elsewhere each window's files
    /// were synced one by one when the window was written; this syncs a directory of each filesystem).
    pub(super) fn sync(&self) -> Result<()> {
        for (_, root) in &self.0 {
            let dir = File::open(root).map_err(|e| Error::io(format!("opening {}", root.display()), e))?;
            sync_filesystem(&dir).map_err(|e| Error::io(format!("syncing {}", root.display()), e))?;
        }
        Ok(())
    }
}

impl Packer {
    /// Writes the files of one window (`files`, into `roots`, their chunks read as `plan` says), counting in
    /// `stats`, and notes the filesystems written to in `filesystems`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_window(
        &self,
        repo: &dyn Repository,
        files: &PlannedFiles<'_>,
        roots: &TabletRoots,
        plan: &ChunkPlan,
        control: &JobControl,
        stats: &Counters,
        filesystems: &mut Filesystems,
    ) -> Result<()> {
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
                let restoring = &restoring;
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
                    let bytes = read_chunks(repo, plan, read, dctx, &mut |slot, raw| {
                        let name_file = || {
                            let first = plan.uses(files, slot).next();
                            first.map_or(String::new(), |(fi, _)| format!("while restoring {}", files.label(fi)))
                        };
                        let raw = raw.map_err(|e| e.context(name_file()))?;
                        chunk_crc[slot].store(u64::from(crc32c::crc32c(&raw)), Ordering::Relaxed);
                        for (fi, offset) in plan.uses(files, slot) {
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
        if let Some(e) = check_file_crcs(files, plan, &crcs).into_iter().next() {
            return Err(e);
        }

        // Durable at the end: one syncfs per filesystem on Linux, per-file fsync elsewhere (now).
        for (t, td) in tablet_dirs.iter().enumerate() {
            if !filesystems.0.iter().any(|(dev, _)| *dev == td.dev) {
                filesystems.0.push((td.dev, roots.get(t)));
            }
        }
        if !cfg!(target_os = "linux") {
            for fi in 0..files.len() {
                let (root, rel) = (root_of(fi), &files.entry(fi).path);
                safe_fs::open_file(&root, rel)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| io_error(&root, rel, "syncing", e))?;
            }
        }
        Ok(())
    }
}

/// Files at least this large start their writeback as soon as they are complete; smaller ones are written back
/// by the final sync, all together (one writeback each would cost more system time than it saves).
const EARLY_WRITEBACK_MIN: usize = 1 << 20;
/// Bytes restored between two syncs of the filesystem while a restore runs.
const EARLY_SYNC_STEP: u64 = 64 << 20;

/// Marks a chunk whose crc32c is not known (it was not written).
const NO_CRC: u64 = u64::MAX;
