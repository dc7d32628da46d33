//! Backups that several nodes run, coordinated: a [`Coordinator`] deals the tablets to the nodes, has each node
//! run its share through a [`NodeRunner`] the caller supplies (a process on another machine, a thread, a C
//! callback), runs a failed node's tablets again on a node that succeeded, and commits the parts the nodes left
//! (the repository's commit protocol of [`crate::pack::cluster`]): the snapshot exists only once every tablet is
//! stored.
//!
//! ```
//! use std::path::PathBuf;
//! use tabsnap::cluster::{self, Coordinator, LocalRunner};
//! use tabsnap::host::TabletRef;
//! use tabsnap::pack::{self, Packer};
//! use tabsnap::repo::MemoryRepository;
//!
//! let dir = tempfile::tempdir()?;
//! let mut tablets = Vec::new();
//! for id in ["1001", "1002", "1003"] {
//!     std::fs::create_dir_all(dir.path().join(id))?;
//!     std::fs::write(dir.path().join(id).join("0_0.dat"), id)?;
//!     let r = TabletRef { table: "t1".into(), partition: "p1".into(), index: "t1".into(), tablet: id.into() };
//!     tablets.push((r, dir.path().join(id)));
//! }
//! let repo = MemoryRepository::new();
//! pack::init_repository(&repo)?;
//! let packer = Packer::builder().threads(1).build()?;
//! let summary = Coordinator::new(["be1", "be2"])?.run(&repo, "db1", "snap1", &tablets, &LocalRunner::new(&repo, &packer))?;
//! assert_eq!((summary.tablets, summary.nodes, summary.files), (3, 2, 3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod assignment;
mod coordinator;
mod local;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use assignment::{Share, round_robin};
pub use coordinator::Coordinator;
pub use local::{LocalRunner, part_source};

use crate::Result;
use crate::host::TabletRef;
use crate::pack::BackupSource;

/// One tablet of a coordinated backup: which it is, and where the node that holds it finds its files.
pub type NodeTablet = (TabletRef, PathBuf);

/// What one node is asked to do: back up `tablets` as part `part` of snapshot `label` at `timestamp`.
#[derive(Debug, Clone, Copy)]
pub struct NodeTask<'a> {
    /// The node that runs the task.
    pub node: &'a str,
    /// The name the node stores its part under (`pack::cluster::write_part`): the node's own name, or, for a
    /// retry, `<node>-for-<failed node>`.
    pub part: &'a str,
    /// For a retry: the node these tablets were first given to.
    pub retry_of: Option<&'a str>,
    /// 0 for the first run of these tablets, then 1, 2, … for each retry.
    pub attempt: u32,
    /// The database recorded in the snapshot.
    pub database: &'a str,
    /// The snapshot's label.
    pub label: &'a str,
    /// The snapshot's timestamp, the same for every node.
    pub timestamp: &'a str,
    /// The tablets to back up.
    pub tablets: &'a [NodeTablet],
}

/// Runs nodes' tasks: the caller's way of reaching its nodes.
///
/// Duties: `run_node` returns `Ok` only once the node has stored its part under `task.part` (packs and index
/// uploaded, then the part written with [`crate::pack::cluster::write_part`] — what [`LocalRunner`],
/// [`crate::Engine::backup_part`], `tabsnap_engine_backup_part` and `tabsnap worker` do), and an error otherwise
/// (a part left behind by a failed run is never committed). It may be called from several of the coordinator's
/// threads at once for different nodes (at most [`Coordinator::max_concurrency`]), never twice at once for the
/// same node, and holds no lock of tabsnap's while it runs.
pub trait NodeRunner: Sync {
    /// Runs `task` on node `task.node`.
    ///
    /// # Errors
    /// Whatever kept the node from storing its part; the coordinator names it beside the node.
    fn run_node(&self, task: &NodeTask<'_>) -> Result<()>;
}

impl<F: Fn(&NodeTask<'_>) -> Result<()> + Sync> NodeRunner for F {
    fn run_node(&self, task: &NodeTask<'_>) -> Result<()> {
        self(task)
    }
}

/// What a coordinated backup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSummary {
    /// The snapshot's label.
    pub label: String,
    /// The snapshot's timestamp (for RESTORE's `backup_timestamp`).
    pub timestamp: String,
    /// Tablets backed up.
    pub tablets: u64,
    /// Nodes that were given tablets.
    pub nodes: u64,
    /// Nodes whose run failed (their tablets were run again elsewhere), in the order given.
    pub failed_nodes: Vec<String>,
    /// Runs of a failed node's tablets on another node.
    pub retries: u64,
    /// The parts committed, by name.
    pub parts: Vec<String>,
    /// Files in the snapshot.
    pub files: u64,
    /// Bytes of file content in the snapshot.
    pub bytes: u64,
}

/// Every tablet of `source`, with its directory, in the source's order.
pub fn tablets_of(source: &BackupSource) -> Vec<NodeTablet> {
    let mut out = Vec::new();
    for t in &source.tables {
        for p in &t.partitions {
            for i in &p.indexes {
                for tb in &i.tablets {
                    let r = TabletRef {
                        table: t.name.clone(),
                        partition: p.name.clone(),
                        index: i.name.clone(),
                        tablet: tb.id.clone(),
                    };
                    out.push((r, tb.dir.clone()));
                }
            }
        }
    }
    out
}
