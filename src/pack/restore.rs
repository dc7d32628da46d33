//! Restore: manifest → the chunks the selected tablets need → ranged reads of their packs, in parallel →
//! crc32c check → zstd decompress → content-hash check → write at the file's offset → one filesystem sync.
//!
//! A paged manifest is restored a window of pages at a time ([`super::window`]), so memory follows the window,
//! not the snapshot. With more than one window, a first pass checks every window and locates its chunks without
//! writing anything, and a second pass plans each window again (reading only the indexes the first pass found
//! its chunks in) and writes it.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::chunk_plan::{ChunkPlan, PlannedFiles, plan_chunks};
use super::locate::{PackIds, Scan, find, load_locations, next_start};
use super::repeats::RepeatFilter;
use super::restore_write::Filesystems;
use super::roots::TabletRoots;
use super::window::{Snapshot, TabletValues, Windows};
use super::window_names::path_digest;
use super::{Counters, JobControl, Packer};
use crate::format::{self, ContentHash, Manifest, StoredManifest, TabletEntry};
use crate::repo::Repository;
use crate::tree::{Place, Tree};
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

/// One window planned: its files, their tablets' directories, where their chunks are, and the positions (in
/// the manifest's list) of the indexes that located them.
struct PlannedWindow<'m> {
    files: PlannedFiles<'m>,
    roots: TabletRoots,
    plan: ChunkPlan,
    used_indexes: Vec<u32>,
}

fn repeated_dir(key: &str, dir: &std::path::Path) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("two tablets of manifest {key} would be restored into {}", dir.display()),
    )
}

/// Plans window `tables` of `windows`: the tablets `target` selects, their directories (none twice), and every
/// chunk of their files located and checked against the files (the first problem fails). The chunks are located
/// through the manifest's indexes, read from position `from` on ([`Scan::start`]), or through those of them at
/// the positions `only` lists, in that order.
fn plan_window<'m>(
    repo: &dyn Repository,
    windows: &Windows<'_>,
    tables: &'m Tree<TabletEntry>,
    target: &TabletTarget<'_>,
    from: usize,
    only: Option<&[u32]>,
) -> Result<PlannedWindow<'m>> {
    let (key, snapshot) = (windows.key(), windows.snapshot());
    let mut files = PlannedFiles::default();
    let whole = files.add_manifest(key.to_owned(), snapshot.chunk_size(), snapshot.database().to_owned());
    let mut roots = TabletRoots::default();
    for (place, tablet) in tables.tablets() {
        let Some(dir) = target(place, tablet) else { continue };
        roots.push(&dir)?;
        files.add_tablet(whole, place.table, tablet)?;
    }
    if let Some(i) = roots.first_repeated() {
        return Err(repeated_dir(key, &roots.get(i)));
    }
    let needed = files.needed()?;
    let mut packs = PackIds::default();
    let indexes: Vec<ContentHash> = match only {
        Some(only) => only.iter().map(|&i| snapshot.indexes()[i as usize]).collect(),
        None => snapshot.indexes().to_vec(),
    };
    let start = if only.is_some() { 0 } else { from };
    let scan = Scan { stop_when_all_found: true, start, failed: &mut |_, e| Err(e) };
    let (located, mut used_indexes) = load_locations(repo, &indexes, &needed, &mut packs, scan)?;
    if let Some(only) = only {
        // Positions in the manifest's list, as the first pass gave them.
        used_indexes = used_indexes.iter().map(|&i| only[i as usize]).collect();
    }
    let (plan, problems) = plan_chunks(&files, needed, packs, located, &|located, _, chunk| find(located, chunk));
    if let Some(e) = problems.into_iter().next() {
        return Err(e);
    }
    Ok(PlannedWindow { files, roots, plan, used_indexes })
}

impl Packer {
    /// Restores the tablets `target` selects from `manifest`, each into the directory it names. Only the packs
    /// (and ranges of packs) those tablets need are read. [`Packer::restore_stored`] restores a manifest as stored,
    /// without holding all its tablets.
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
        let key = format::manifest_key(&manifest.label, &manifest.timestamp);
        let windows = Windows::new(repo, &self.pool, &key, Snapshot::Whole(manifest), self.opts.window_files);
        self.restore_windows(repo, &windows, target, control)
    }

    /// Restores as [`Packer::restore`] does the manifest `stored` (read from `key`), reading its pages a window
    /// at a time (windows of at most [`super::PackerOptions::window_files`] files): memory follows the window,
    /// not the snapshot. Every promise of [`Packer::restore`] holds; with more than one window, every window is
    /// read, checked and located before the first is written, then read again to be written.
    ///
    /// # Errors
    /// As [`Packer::restore`]; a page that is missing or damaged fails the restore before anything is written,
    /// naming the page.
    pub fn restore_stored(
        &self,
        repo: &dyn Repository,
        key: &str,
        stored: &StoredManifest,
        target: &TabletTarget<'_>,
        control: &JobControl,
    ) -> Result<RestoreSummary> {
        let windows = Windows::new(repo, &self.pool, key, Snapshot::of(stored), self.opts.window_files);
        self.restore_windows(repo, &windows, target, control)
    }

    fn restore_windows(
        &self,
        repo: &dyn Repository,
        windows: &Windows<'_>,
        target: &TabletTarget<'_>,
        control: &JobControl,
    ) -> Result<RestoreSummary> {
        let stats = Counters::default();
        let mut filesystems = Filesystems::default();
        let count = |stats: &Counters, w: &PlannedWindow<'_>| {
            let bytes: u64 = (0..w.files.len()).map(|fi| w.files.entry(fi).size).sum();
            stats.files_total.fetch_add(w.files.len() as u64, Ordering::Relaxed);
            stats.bytes_total.fetch_add(bytes, Ordering::Relaxed);
        };
        if windows.len() == 1 {
            // One window: checked, located and written in one go.
            windows.for_each(true, |_, tables| {
                let w = plan_window(repo, windows, tables, target, 0, None)?;
                count(&stats, &w);
                self.write_window(repo, &w.files, &w.roots, &w.plan, control, &stats, &mut filesystems)
            })?;
        } else {
            // 1. Every window checked and located, nothing written; each tablet directory's digest added to a
            // filter, to find two tablets restored into one directory across windows (the suspects it leaves
            // are counted in the reading that settles the names). Each window's scan of the indexes starts where
            // the previous window's new chunks ended.
            let mut used: Vec<Vec<u32>> = Vec::with_capacity(windows.len());
            let mut dirs = RepeatFilter::new(windows.tablets());
            let mut from = 0;
            let pending = windows.first_reading(true, |_, tables| {
                control.cancel.check()?;
                let w = plan_window(repo, windows, tables, target, from, None)?;
                from = next_start(from, &w.used_indexes);
                count(&stats, &w);
                (0..w.roots.len()).for_each(|t| dirs.add(path_digest(&w.roots.get(t))));
                used.push(w.used_indexes);
                Ok(())
            })?;
            let digest = |place: Place<'_>, tablet: &TabletEntry| target(place, tablet).map(|dir| path_digest(&dir));
            let dirs = TabletValues { digest: &digest, suspects: dirs.into_suspects() };
            let repeated = windows.settle(pending, Some(dirs))?;
            if !repeated.is_empty() {
                confirm_dirs(windows, target, &repeated)?;
            }
            // 2. Each window planned again and written.
            windows.for_each(false, |i, tables| {
                control.cancel.check()?;
                let w = plan_window(repo, windows, tables, target, 0, Some(&used[i]))?;
                self.write_window(repo, &w.files, &w.roots, &w.plan, control, &stats, &mut filesystems)
            })?;
        }
        control.cancel.check()?;
        // Durable before returning.
        filesystems.sync()?;
        let files = stats.files_total.load(Ordering::Relaxed);
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

/// Reads every window again and fails on the first tablet directory (in manifest order) that `target` names for
/// a tablet before it too and whose digest is among `suspects`.
fn confirm_dirs(windows: &Windows<'_>, target: &TabletTarget<'_>, suspects: &[u64]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for w in 0..windows.len() {
        let tables = windows.read(w)?;
        for (place, tablet) in tables.tablets() {
            let Some(dir) = target(place, tablet) else { continue };
            let dir: PathBuf = dir.components().collect();
            if suspects.binary_search(&path_digest(&dir)).is_ok() && !seen.insert(dir.clone()) {
                return Err(repeated_dir(windows.key(), &dir));
            }
        }
    }
    Ok(())
}
