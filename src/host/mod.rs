//! What tabsnap asks of the engine it is linked into: the catalog, consistent tablet snapshots, restore targets,
//! privileges and the metadata blob that travels with a snapshot.

mod dir;
mod options;

use std::path::PathBuf;

pub use dir::DirHost;
pub use options::{HostFeature, ReplicaAllocation, RestoreCommit, StorageMedium, unsupported};

use crate::Result;

use crate::tree::Place;
pub use crate::tree::TableKind;

/// A tablet id as a catalog holds it: up to 24 bytes inline, without an allocation of its own (a catalog of a
/// million tablets holds a million of them; a `String` each took 56 bytes, this takes 24). Made from a `&str`
/// or a `String` with `.into()`; dereferences to `str`.
pub type TabletId = compact_str::CompactString;

/// A tablet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabletInfo {
    /// The host's tablet id.
    pub id: TabletId,
}

/// An index of a partition: the base index (first) or a rollup / synchronous materialized view.
pub type IndexInfo = crate::tree::IndexNode<TabletInfo>;

/// A partition of the catalog.
pub type PartitionInfo = crate::tree::PartitionNode<TabletInfo>;

/// A table of the catalog (its partitions are empty for tables that are not OLAP tables).
pub type TableInfo = crate::tree::TableNode<TabletInfo>;

/// One tablet of one index of one partition of a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TabletRef {
    /// The table.
    pub table: String,
    /// The partition.
    pub partition: String,
    /// The index.
    pub index: String,
    /// The tablet id.
    pub tablet: String,
}

impl TabletRef {
    /// The tablet `tablet` at `place`.
    pub fn new(place: Place<'_>, tablet: &str) -> TabletRef {
        TabletRef {
            table: place.table.into(),
            partition: place.partition.into(),
            index: place.index.into(),
            tablet: tablet.into(),
        }
    }

    /// Its table, partition and index.
    pub fn place(&self) -> Place<'_> {
        Place { table: &self.table, partition: &self.partition, index: &self.index }
    }
}

/// A privilege a statement needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Privilege {
    /// Global ADMIN: create and drop repositories, SHOW SNAPSHOT, DROP SNAPSHOT.
    Admin,
    /// LOAD on a database: BACKUP, RESTORE, SHOW and CANCEL of its jobs.
    Load(String),
}

/// The engine tabsnap is linked into.
///
/// Duties: every method may be called from tabsnap's job threads, several at once for different databases, with
/// no lock of the engine held (so a method may call the engine back). Errors should say what failed and where;
/// they reach the job's TaskErrMsg and Status.
pub trait Host: Send + Sync {
    /// The tables of `database`, with partitions, indexes and tablets. A host that supports
    /// [`HostFeature::IndexTablets`] may leave every index's tablets out (an empty list): tabsnap then asks
    /// [`Host::index_tablets`] for them.
    ///
    /// # Errors
    /// [`crate::ErrorKind::NotFound`] when the database does not exist.
    fn tables(&self, database: &str) -> Result<Vec<TableInfo>>;

    /// Takes a consistent snapshot of `tablets` and returns, in the same order, a local directory holding each
    /// tablet's files. The files must not change until [`Host::release`] is called.
    ///
    /// A backup calls it for one batch of its tablets at a time, in plan order (batches of about
    /// [`crate::pack::PackerOptions::batch_files`] files), and releases each batch once its files are read,
    /// before it asks for the next: a host holds one batch of snapshots at a time, however many tablets the job
    /// takes. A host that must snapshot every tablet at one version pins that version at the job's first call.
    ///
    /// All or nothing: when it fails part way, the implementation releases the snapshots it took before
    /// returning the error.
    ///
    /// # Errors
    /// When a snapshot cannot be taken; tabsnap then fails the job and calls [`Host::release`] for none of them.
    fn snapshot(&self, database: &str, tablets: &[TabletRef]) -> Result<Vec<PathBuf>>;

    /// Releases the snapshot of `tablets` taken by [`Host::snapshot`]. tabsnap calls it exactly once for every
    /// successful `snapshot`, whatever happens next: success, a failure anywhere, CANCEL, a timeout, the engine's
    /// shutdown.
    ///
    /// # Errors
    /// Reported beside the job's outcome (a warning in its TaskErrMsg); the outcome does not change: a backup
    /// whose snapshot is committed stays FINISHED.
    fn release(&self, database: &str, tablets: &[TabletRef]) -> Result<()>;

    /// An empty directory where the files of a restored tablet go before commit. `tablet.table` is the
    /// target table (the alias, when the statement gives one).
    ///
    /// # Errors
    /// When the target cannot be prepared.
    fn restore_target(&self, database: &str, job: u64, tablet: &TabletRef) -> Result<PathBuf>;

    /// Makes the restored partitions of `table` visible, replacing partitions of the same name. Called once per
    /// table after every file is durable. `source_table` is the table's name in the snapshot and `metadata` the
    /// snapshot's host metadata blob (as [`Host::metadata`] produced it).
    ///
    /// # Errors
    /// When the table cannot be committed; tabsnap then aborts the tables not yet committed.
    fn commit_restore(&self, database: &str, job: u64, table: &str, source_table: &str, metadata: &[u8]) -> Result<()>;

    /// Drops everything restored for `table` by `job`; the table is left as it was before the job.
    ///
    /// # Errors
    /// Reported beside the job's error (a warning in its TaskErrMsg).
    fn abort_restore(&self, database: &str, job: u64, table: &str) -> Result<()>;

    /// Whether `user` holds `privilege`.
    fn has_privilege(&self, user: &str, privilege: &Privilege) -> bool;

    /// The host's metadata for `tables` of `database` (schemas, versions, …), stored with the snapshot as is.
    ///
    /// # Errors
    /// When it cannot be produced.
    fn metadata(&self, database: &str, tables: &[String]) -> Result<Vec<u8>> {
        let _ = (database, tables);
        Ok(Vec::new())
    }

    /// Whether this host implements the optional methods of `feature`. tabsnap asks before it accepts a
    /// statement whose properties need them, and refuses the statement at analysis when the answer is no, so a
    /// property either takes effect or is refused. The default: no optional feature.
    fn supports(&self, feature: HostFeature) -> bool {
        let _ = feature;
        false
    }

    /// [`HostFeature::SchemaIdentity`]: a fingerprint of the live table's schema (columns, keys, indexes):
    /// equal fingerprints mean a restore may write into the table; `None` when the host knows none for it.
    ///
    /// # Errors
    /// When the table does not exist or the host does not support the feature.
    fn schema_identity(&self, database: &str, table: &str) -> Result<Option<String>> {
        let _ = (database, table);
        Err(unsupported("the schema identity of a table"))
    }

    /// [`HostFeature::SchemaIdentity`]: the fingerprint of `table`'s schema as recorded in a snapshot's host
    /// `metadata` (what [`Host::metadata`] produced), or `None` when the snapshot does not record one.
    ///
    /// # Errors
    /// When the metadata cannot be read or the host does not support the feature.
    fn snapshot_schema_identity(&self, metadata: &[u8], table: &str) -> Result<Option<String>> {
        let _ = (metadata, table);
        Err(unsupported("the schema identity of a table"))
    }

    /// [`HostFeature::DropTables`]: drops `table` (RESTORE `clean_tables`). Called by restore job `job` after
    /// every restored table is committed.
    ///
    /// # Errors
    /// When the table cannot be dropped or the host does not support the feature.
    fn drop_table(&self, database: &str, job: u64, table: &str) -> Result<()> {
        let _ = (database, job, table);
        Err(unsupported("dropping a table"))
    }

    /// [`HostFeature::DropPartitions`]: drops `partitions` of `table` (RESTORE `clean_partitions`). Called by
    /// restore job `job` after every restored table is committed.
    ///
    /// # Errors
    /// When a partition cannot be dropped or the host does not support the feature.
    fn drop_partitions(&self, database: &str, job: u64, table: &str, partitions: &[String]) -> Result<()> {
        let _ = (database, job, table, partitions);
        Err(unsupported("dropping partitions"))
    }

    /// [`Host::commit_restore`] with the RESTORE properties a host applies to the committed table: the replica
    /// allocation, the storage medium, dynamic partitioning, the CCR sync flag
    /// ([`HostFeature::CommitProperties`]), and the atomic replacement of the whole table by the restored one
    /// ([`HostFeature::AtomicReplace`]). tabsnap calls it instead of [`Host::commit_restore`] only when the host
    /// supports what `options` asks.
    ///
    /// # Errors
    /// As [`Host::commit_restore`]; the default refuses any option and otherwise calls it.
    fn commit_restore_with(
        &self,
        database: &str,
        job: u64,
        table: &str,
        source_table: &str,
        metadata: &[u8],
        options: &RestoreCommit,
    ) -> Result<()> {
        if options.atomic_replace {
            return Err(unsupported("atomic_restore"));
        }
        if options.has_properties() {
            return Err(unsupported("the properties of a restored table"));
        }
        self.commit_restore(database, job, table, source_table, metadata)
    }

    /// [`HostFeature::IndexTablets`]: the tablets of the index at `place`, in order. A backup asks for those of
    /// each index whose list [`Host::tables`] left empty: once when the job starts, to count them (each list
    /// dropped before the next is asked for), and again when its batches reach the index. It holds one index's
    /// list at a time, never the whole catalog's.
    ///
    /// # Errors
    /// When the index does not exist or the host does not support the feature; the backup then fails (before it
    /// starts, when its count fails).
    fn index_tablets(&self, database: &str, place: Place<'_>) -> Result<Vec<TabletInfo>> {
        let _ = (database, place);
        Err(unsupported("listing an index's tablets"))
    }

    /// [`HostFeature::Views`]: the definition of view `view` (the host's text; tabsnap stores it with the
    /// snapshot as it is).
    ///
    /// # Errors
    /// When the view does not exist or the host does not support the feature.
    fn view_definition(&self, database: &str, view: &str) -> Result<String> {
        let _ = (database, view);
        Err(unsupported("backing up a view"))
    }

    /// [`HostFeature::Views`]: creates view `view` of `database` with `definition`, replacing a view of that
    /// name. Called by restore job `job` after its tables are committed.
    ///
    /// # Errors
    /// When the view cannot be created or the host does not support the feature.
    fn create_view(&self, database: &str, job: u64, view: &str, definition: &str) -> Result<()> {
        let _ = (database, job, view, definition);
        Err(unsupported("restoring a view"))
    }
}
