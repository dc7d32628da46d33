//! The shard packer: backs up tablet directories into a repository and restores and verifies them, in
//! parallel on a rayon pool that the [`Packer`] owns.
//!
//! ```
//! use tabsnap::pack::{BackupSource, Packer, TabletSource};
//! use tabsnap::repo::MemoryRepository;
//!
//! let data = tempfile::tempdir()?;
//! std::fs::create_dir_all(data.path().join("10001"))?;
//! std::fs::write(data.path().join("10001/0_0.dat"), b"segment bytes")?;
//!
//! let repo = MemoryRepository::new();
//! tabsnap::pack::init_repository(&repo)?;
//! let packer = Packer::builder().threads(2).build()?;
//! let source = BackupSource::single_table("db1", "t1", vec![TabletSource::new("10001", data.path().join("10001"))]);
//! let summary = packer.backup(&repo, &source, "snap1", &Default::default())?;
//! assert_eq!(summary.files, 1);
//!
//! let manifest = tabsnap::pack::load_manifest(&repo, "snap1", &summary.timestamp)?;
//! let target = tempfile::tempdir()?;
//! packer.restore(&repo, &manifest, &|_, tablet| Some(target.path().join(&tablet.id)), &Default::default())?;
//! assert_eq!(std::fs::read(target.path().join("10001/0_0.dat"))?, b"segment bytes");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backup;
mod batch;
mod check;
mod chunk_plan;
pub mod cluster;
mod dictionary;
mod durable;
mod files;
mod locate;
pub(crate) mod options;
mod pipeline;
mod probe;
mod repeats;
mod restore;
mod restore_write;
mod roots;
mod safe_fs;
pub(crate) mod source;
mod state;
mod unchanged;
mod upload;
mod verify;
mod verify_snapshots;
mod window;
mod window_names;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use backup::BackupSummary;
pub use options::{CompressionMode, PackerBuilder, PackerOptions};
pub use restore::{RestoreSummary, TabletTarget};
pub use state::{
    LATEST, SnapshotId, init_repository, is_latest, latest_snapshot, list_snapshots, load_manifest,
    load_stored_manifest, now_ms, timestamp_utc,
};
pub use verify::{Problem, VerifyReport, check_restored_file};

use crate::tree::{IndexNode, PartitionNode, TableNode, Tree};
use crate::{Error, ErrorKind, Result};

/// Progress counters of a backup or restore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressInfo {
    /// Files in the job.
    pub files_total: u64,
    /// Files completely read (backup) or written (restore).
    pub files_done: u64,
    /// Bytes of file content in the job.
    pub bytes_total: u64,
    /// Bytes of file content read (backup) or written (restore).
    pub bytes_done: u64,
    /// Bytes written to the repository (backup: new packs) or read from it (restore).
    pub bytes_stored: u64,
    /// Chunks the backup stored.
    pub chunks_new: u64,
    /// Chunks the repository already had.
    pub chunks_reused: u64,
}

/// The live counters of one backup or restore, updated by the workers and read into a [`ProgressInfo`].
#[derive(Default)]
pub(crate) struct Counters {
    pub files_total: AtomicU64,
    pub files_done: AtomicU64,
    pub bytes_total: AtomicU64,
    pub bytes_done: AtomicU64,
    pub bytes_stored: AtomicU64,
    pub chunks_new: AtomicU64,
    pub chunks_reused: AtomicU64,
    /// Packs written (backup) or ranged reads made (restore).
    pub objects: AtomicU64,
}

impl Counters {
    pub(crate) fn info(&self) -> ProgressInfo {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProgressInfo {
            files_total: l(&self.files_total),
            files_done: l(&self.files_done),
            bytes_total: l(&self.bytes_total),
            bytes_done: l(&self.bytes_done),
            bytes_stored: l(&self.bytes_stored),
            chunks_new: l(&self.chunks_new),
            chunks_reused: l(&self.chunks_reused),
        }
    }
}

/// Receives progress. Called from worker threads, often: keep it cheap (copy the numbers, return).
pub trait Progress: Send + Sync {
    /// The counters now.
    fn update(&self, info: &ProgressInfo);
}

/// A cooperative cancellation flag, checked between chunks.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    timed_out: Arc<AtomicBool>,
}

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks the operation to stop; it fails with [`ErrorKind::Cancelled`].
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
    }

    /// Asks the operation to stop because it ran out of time; it fails with [`ErrorKind::TimedOut`].
    pub fn time_out(&self) {
        self.timed_out.store(true, Ordering::Release);
        self.flag.store(true, Ordering::Release);
    }

    /// Whether stop was asked.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    pub(crate) fn check(&self) -> Result<()> {
        if !self.is_cancelled() {
            Ok(())
        } else if self.timed_out.load(Ordering::Acquire) {
            Err(Error::new(ErrorKind::TimedOut, "the job ran past its timeout"))
        } else {
            Err(Error::new(ErrorKind::Cancelled, "the job was cancelled"))
        }
    }
}

/// What one backup or restore is told besides its data.
#[derive(Default, Clone)]
pub struct JobControl {
    /// Receives progress.
    pub progress: Option<Arc<dyn Progress>>,
    /// Stops the job.
    pub cancel: CancelToken,
    /// The backup timestamp (`yyyy-MM-dd-HH-mm-ss`); the current UTC time when `None`.
    pub timestamp: Option<String>,
}

/// A tablet to back up: the host's id and the directory holding its files (subdirectories included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabletSource {
    /// The host's tablet id.
    pub id: String,
    /// The directory with the tablet's files.
    pub dir: PathBuf,
}

impl TabletSource {
    /// A tablet `id` whose files are under `dir`.
    pub fn new(id: impl Into<String>, dir: impl Into<PathBuf>) -> TabletSource {
        TabletSource { id: id.into(), dir: dir.into() }
    }
}

/// An index (base, rollup or synchronous MV) of a partition, with its tablets.
pub type IndexSource = crate::tree::IndexNode<TabletSource>;

/// A partition and its indexes.
pub type PartitionSource = crate::tree::PartitionNode<TabletSource>;

/// A table and the partitions to back up.
pub type TableSource = crate::tree::TableNode<TabletSource>;

/// Everything one backup takes: a database's tables, and the host's opaque metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackupSource {
    /// The database.
    pub database: String,
    /// The tables.
    pub tables: Tree<TabletSource>,
    /// The host's metadata blob, stored with the snapshot as it is.
    pub host_metadata: Vec<u8>,
    /// BACKUP `"content" = "metadata_only"`: the manifest records the tables, partitions, indexes and tablets
    /// and the host's metadata, and no file: no data is read or uploaded.
    pub metadata_only: bool,
    /// The views backed up with the snapshot: name and definition.
    pub views: Vec<(String, String)>,
}

impl BackupSource {
    /// One table with one partition and one (base) index, both named after the table.
    pub fn single_table(database: &str, table: &str, tablets: Vec<TabletSource>) -> BackupSource {
        BackupSource {
            database: database.into(),
            tables: Tree::from(vec![TableNode::new(
                table,
                vec![PartitionNode::new(table, vec![IndexNode::new(table, tablets)])],
            )]),
            host_metadata: Vec::new(),
            metadata_only: false,
            views: Vec::new(),
        }
    }
}

/// Backs up, restores and verifies snapshots. Safe to share between threads; jobs run on its own pool.
#[derive(Debug)]
pub struct Packer {
    pool: Arc<rayon::ThreadPool>,
    opts: PackerOptions,
}

impl Packer {
    /// A builder with the default options.
    pub fn builder() -> PackerBuilder {
        PackerBuilder::default()
    }

    /// The options in use.
    pub fn options(&self) -> &PackerOptions {
        &self.opts
    }

    /// Worker threads in the pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// This packer with `mode` as its compression (one backup's `compression` property), sharing its worker
    /// threads.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for a zstd level out of range, as [`PackerOptions::check`].
    pub fn with_compression(&self, mode: CompressionMode) -> Result<Packer> {
        let opts = PackerOptions { compression: mode, ..self.opts };
        opts.check()?;
        Ok(Packer { pool: self.pool.clone(), opts })
    }
}

/// Checks that a manifest path is relative, `/`-separated, and has no empty, `.` or `..` component: joined to a
/// target directory it can only name something inside it.
pub(crate) fn check_relative_path(path: &str) -> Result<()> {
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\\', '\0'])
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    if ok { Ok(()) } else { Err(Error::new(ErrorKind::InvalidArgument, format!("unsafe path in manifest: {path:?}"))) }
}
