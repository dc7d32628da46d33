//! A node run in this process: [`LocalRunner`], and the backup source of a node's tablets.

use std::path::PathBuf;

use super::{NodeRunner, NodeTask};
use crate::Result;
use crate::host::TabletRef;
use crate::pack::{self, BackupSource, JobControl, Packer, TabletSource};
use crate::repo::Repository;
use crate::tree::Tree;

/// Runs every node in this process with one packer: packs the task's tablets into the repository and stores
/// the part (what `tabsnap worker` does on a node of its own).
pub struct LocalRunner<'a> {
    repo: &'a dyn Repository,
    packer: &'a Packer,
}

impl<'a> LocalRunner<'a> {
    /// A runner that backs up into `repo` with `packer`.
    pub fn new(repo: &'a dyn Repository, packer: &'a Packer) -> LocalRunner<'a> {
        LocalRunner { repo, packer }
    }
}

impl NodeRunner for LocalRunner<'_> {
    fn run_node(&self, task: &NodeTask<'_>) -> Result<()> {
        let source = part_source(task.database, task.tablets);
        let control = JobControl { timestamp: Some(task.timestamp.into()), ..JobControl::default() };
        let (part, _) = self.packer.backup_part(self.repo, &source, task.label, &control)?;
        pack::cluster::write_part(self.repo, task.part, &part)
    }
}

/// The backup source of `tablets` (each with the directory of its files) in `database`: tables, partitions and
/// indexes in the order they first appear.
pub fn part_source(database: &str, tablets: &[(TabletRef, PathBuf)]) -> BackupSource {
    let mut tables = Tree::new();
    for (t, dir) in tablets {
        tables.insert(t.place(), TabletSource::new(t.tablet.clone(), dir.clone()));
    }
    BackupSource {
        database: database.into(),
        tables,
        host_metadata: Vec::new(),
        metadata_only: false,
        views: Vec::new(),
    }
}
