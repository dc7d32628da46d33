//! Helpers shared by the test modules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` (table descriptions, `_table.json`, left out), relative path → bytes.
pub(crate) fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "_table.json") {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A host with only the required `Host` methods, forwarded to a directory host: every optional feature is missing
/// (as with a version-1 C host callback table). `snapshot_delay` makes each tablet snapshot take that long, to catch a
/// job mid-way.
pub(crate) struct BasicHost {
    inner: tabsnap::host::DirHost,
    snapshot_delay: std::time::Duration,
}

impl BasicHost {
    pub(crate) fn new(inner: tabsnap::host::DirHost, snapshot_delay: std::time::Duration) -> BasicHost {
        BasicHost { inner, snapshot_delay }
    }
}

impl tabsnap::host::Host for BasicHost {
    /// The whole catalog, every index's tablets listed (the directory host lists them on demand).
    fn tables(&self, database: &str) -> tabsnap::Result<Vec<tabsnap::host::TableInfo>> {
        let mut tables = self.inner.tables(database)?;
        for t in &mut tables {
            for p in &mut t.partitions {
                for i in &mut p.indexes {
                    let place = tabsnap::tree::Place { table: &t.name, partition: &p.name, index: &i.name };
                    let listed = self.inner.index_tablets(database, place)?;
                    i.tablets = listed;
                }
            }
        }
        Ok(tables)
    }
    fn snapshot(&self, database: &str, tablets: &[tabsnap::host::TabletRef]) -> tabsnap::Result<Vec<PathBuf>> {
        std::thread::sleep(self.snapshot_delay);
        self.inner.snapshot(database, tablets)
    }
    fn release(&self, database: &str, tablets: &[tabsnap::host::TabletRef]) -> tabsnap::Result<()> {
        self.inner.release(database, tablets)
    }
    fn restore_target(&self, database: &str, job: u64, tablet: &tabsnap::host::TabletRef) -> tabsnap::Result<PathBuf> {
        self.inner.restore_target(database, job, tablet)
    }
    fn commit_restore(
        &self,
        database: &str,
        job: u64,
        table: &str,
        source: &str,
        metadata: &[u8],
    ) -> tabsnap::Result<()> {
        self.inner.commit_restore(database, job, table, source, metadata)
    }
    fn abort_restore(&self, database: &str, job: u64, table: &str) -> tabsnap::Result<()> {
        self.inner.abort_restore(database, job, table)
    }
    fn has_privilege(&self, user: &str, privilege: &tabsnap::host::Privilege) -> bool {
        self.inner.has_privilege(user, privilege)
    }
}
