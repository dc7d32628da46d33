//! The directory host: a data directory laid out like a BE's, for the CLI and for tests.
//!
//! ```text
//! DATA/<db>/<table>/<partition>/<tablet>/<files…>                 base index tablets (files may nest)
//! DATA/<db>/<table>/<partition>/_rollup_<index>/<tablet>/<files…>  rollup / synchronous MV tablets
//! DATA/<db>/<table>/_table.json                                     optional: {"kind": "olap" | "view" |
//!                                                                   "async_mv" | "<other>", "rollups": ["r1"],
//!                                                                   "temporary_partitions": ["tp1"], …}
//! ```
//! `_table.json` also holds the table's schema fingerprint (`"schema"`: a restore into an existing table needs
//! the same one, unless `force_replace`) and the properties a RESTORE sets ([`props`]):
//! `"replication_allocation"`, `"storage_medium"`, `"medium_allocation_mode"`, `"dynamic_partition_enable"`,
//! `"is_being_synced"`; a view's holds its `"definition"`.
//! Names starting with `.` or `_` are not databases, tables, partitions or tablets. A restore writes under a
//! staging directory `DATA/<db>/.restore-<job>-<random>/` it creates and locks, and commits each table so that
//! after any crash and the next start the table is either as it was or fully restored (see [`staging`]); a
//! failed or cancelled restore leaves the data directory as it was.

mod props;
mod staging;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{
    Host, HostFeature, IndexInfo, PartitionInfo, Privilege, RestoreCommit, TableInfo, TableKind, TabletInfo, TabletRef,
};
use crate::tree::Place;
use crate::{Error, ErrorKind, Result};
use props::Description;
use staging::DescriptionUpdate;

const ROLLUP_PREFIX: &str = "_rollup_";
const DESCRIPTION: &str = "_table.json";

/// A host over a data directory. Users `root` and `admin` are superusers; every other user has LOAD on every
/// database and no ADMIN.
#[derive(Debug, Clone)]
pub struct DirHost {
    root: PathBuf,
    /// The staging directories of this host's live restore jobs, by database and job.
    stagings: Arc<Mutex<HashMap<(String, u64), staging::Staging>>>,
    recovered: Vec<String>,
}

fn visible_dirs(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if entry.file_type().map_err(|e| Error::io(format!("listing {}", dir.display()), e))?.is_dir() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// A name a restore may create: safe, and not hidden (`.` and `_` names are not tables, partitions or tablets).
fn restorable_name(name: &str) -> Result<&str> {
    if name.starts_with(['.', '_']) {
        return Err(Error::new(ErrorKind::InvalidArgument, format!("{name:?} cannot be restored: the name is hidden")));
    }
    safe_name(name)
}

fn safe_name(name: &str) -> Result<&str> {
    if name.is_empty() || name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
        Err(Error::new(ErrorKind::InvalidArgument, format!("{name:?} cannot name a directory")))
    } else {
        Ok(name)
    }
}

impl DirHost {
    /// A host over `root`, which must exist. Restores that a crash interrupted are finished or undone first:
    /// a table whose commit had begun is completed, every staging directory of a dead job is removed
    /// ([`DirHost::recovered`] says what was done).
    ///
    /// # Errors
    /// When `root` is not a directory, or an interrupted restore cannot be recovered.
    pub fn new(root: impl Into<PathBuf>) -> Result<DirHost> {
        let root = root.into();
        if !root.is_dir() {
            return Err(Error::new(ErrorKind::NotFound, format!("data directory {} does not exist", root.display())));
        }
        let recovered = staging::recover(&root)?;
        Ok(DirHost { root, stagings: Arc::default(), recovered })
    }

    /// What [`DirHost::new`] did to recover interrupted restores, one line each.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    /// The databases: the visible directories of the data directory.
    ///
    /// # Errors
    /// When the data directory cannot be listed.
    pub fn databases(&self) -> Result<Vec<String>> {
        visible_dirs(&self.root)
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn db_dir(&self, db: &str) -> Result<PathBuf> {
        Ok(self.root.join(safe_name(db)?))
    }

    fn tablet_dir(&self, db: &str, t: &TabletRef) -> Result<PathBuf> {
        Ok(self.index_dir(db, t.place())?.join(safe_name(&t.tablet)?))
    }

    /// The directory of an index's tablets.
    fn index_dir(&self, db: &str, place: Place<'_>) -> Result<PathBuf> {
        let mut p = self.db_dir(db)?.join(safe_name(place.table)?).join(safe_name(place.partition)?);
        if place.index != place.table {
            p = p.join(format!("{ROLLUP_PREFIX}{}", safe_name(place.index)?));
        }
        Ok(p)
    }

    /// The staging directory of `job`, created (and locked) on first use.
    fn staging(&self, db: &str, job: u64) -> Result<PathBuf> {
        let mut stagings = self.stagings.lock();
        if let Some(s) = stagings.get(&(db.to_owned(), job)) {
            return Ok(s.dir.clone());
        }
        // What a dead job left in this database is finished or removed first.
        let db_dir = self.db_dir(db)?;
        staging::recover_db(db, &db_dir)?;
        let s = staging::create(&db_dir, job)?;
        let dir = s.dir.clone();
        stagings.insert((db.to_owned(), job), s);
        Ok(dir)
    }

    /// The staging directory of `job` if it has one.
    fn existing_staging(&self, db: &str, job: u64) -> Option<PathBuf> {
        self.stagings.lock().get(&(db.to_owned(), job)).map(|s| s.dir.clone())
    }

    /// Drops the staging directory of `job` once every table in it is committed or aborted.
    fn finish_staging(&self, db: &str, job: u64) -> Result<()> {
        let Some(dir) = self.existing_staging(db, job) else { return Ok(()) };
        staging::remove_if_done(&dir)?;
        if !dir.exists() {
            self.stagings.lock().remove(&(db.to_owned(), job));
        }
        Ok(())
    }

    fn description(dir: &Path) -> Result<Description> {
        let path = dir.join(DESCRIPTION);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Description::default()),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }
}

impl Host for DirHost {
    fn tables(&self, database: &str) -> Result<Vec<TableInfo>> {
        let db_dir = self.db_dir(database)?;
        if !db_dir.is_dir() {
            return Err(Error::new(ErrorKind::NotFound, format!("Unknown database '{database}'")));
        }
        let mut tables = Vec::new();
        for name in visible_dirs(&db_dir)? {
            let tdir = db_dir.join(&name);
            let desc = DirHost::description(&tdir)?;
            let kind = match desc.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("olap") => TableKind::Olap,
                Some("view") => TableKind::View,
                Some("async_mv") => TableKind::AsyncMaterializedView,
                Some(other) => TableKind::Other(other.to_owned()),
            };
            let mut partitions = Vec::new();
            if kind == TableKind::Olap {
                // Tablets are listed an index at a time, when a backup reaches the index (index_tablets).
                for p in visible_dirs(&tdir)? {
                    let indexes = std::iter::once(&name)
                        .chain(&desc.rollups)
                        .map(|i| IndexInfo { name: i.clone(), tablets: Vec::new() })
                        .collect();
                    partitions.push(PartitionInfo {
                        temporary: desc.temporary_partitions.contains(&p),
                        name: p,
                        indexes,
                    });
                }
            }
            tables.push(TableInfo { name, kind, partitions });
        }
        Ok(tables)
    }

    /// Tablet files are immutable once written, so the snapshot is the tablet directory itself.
    fn snapshot(&self, database: &str, tablets: &[TabletRef]) -> Result<Vec<PathBuf>> {
        tablets
            .iter()
            .map(|t| {
                let dir = self.tablet_dir(database, t)?;
                if dir.is_dir() {
                    Ok(dir)
                } else {
                    Err(Error::new(
                        ErrorKind::NotFound,
                        format!("tablet {} of {database}.{} is missing: {}", t.tablet, t.table, dir.display()),
                    ))
                }
            })
            .collect()
    }

    fn release(&self, _database: &str, _tablets: &[TabletRef]) -> Result<()> {
        Ok(())
    }

    fn restore_target(&self, database: &str, job: u64, t: &TabletRef) -> Result<PathBuf> {
        for name in [&t.table, &t.partition, &t.index, &t.tablet] {
            restorable_name(name)?;
        }
        let rel = self.tablet_dir(database, t)?;
        let rel = rel
            .strip_prefix(self.db_dir(database)?)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "bad tablet path"))?
            .to_path_buf();
        fs::create_dir_all(self.db_dir(database)?)
            .map_err(|e| Error::io(format!("creating database {database}"), e))?;
        Ok(self.staging(database, job)?.join(rel))
    }

    fn commit_restore(&self, database: &str, job: u64, table: &str, source_table: &str, metadata: &[u8]) -> Result<()> {
        self.commit_restore_with(database, job, table, source_table, metadata, &RestoreCommit::default())
    }

    fn commit_restore_with(
        &self,
        database: &str,
        job: u64,
        table: &str,
        source_table: &str,
        metadata: &[u8],
        options: &RestoreCommit,
    ) -> Result<()> {
        restorable_name(table)?;
        let staging = self.existing_staging(database, job).ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("restore job {job} staged nothing for {database}.{table}"))
        })?;
        let db_dir = self.db_dir(database)?;
        // The table's description travels in the metadata blob; the restored table gets it back, with the
        // statement's properties applied.
        let source = props::from_metadata(metadata, source_table);
        let target_dir = db_dir.join(table);
        if options.atomic_replace {
            let desc = props::apply(source.clone().unwrap_or_default(), source.as_ref(), options);
            staging::replace_table(&db_dir, &staging, table, props::encode(&desc).as_deref())?;
        } else if target_dir.join(DESCRIPTION).exists() {
            let before = DirHost::description(&target_dir)?;
            let after = props::apply(before.clone(), source.as_ref(), options);
            let bytes = if after == before { None } else { props::encode(&after) };
            let update = match &bytes {
                Some(b) => DescriptionUpdate::Replace(b),
                None => DescriptionUpdate::IfAbsent(None),
            };
            staging::commit_table(&db_dir, &staging, table, update)?;
        } else {
            let desc = props::apply(source.clone().unwrap_or_default(), source.as_ref(), options);
            let bytes = props::encode(&desc);
            staging::commit_table(&db_dir, &staging, table, DescriptionUpdate::IfAbsent(bytes.as_deref()))?;
        }
        self.finish_staging(database, job)
    }

    fn abort_restore(&self, database: &str, job: u64, table: &str) -> Result<()> {
        let Some(staging) = self.existing_staging(database, job) else { return Ok(()) };
        if staging::is_journaled(&staging, table) {
            return Err(Error::new(
                ErrorKind::Io,
                format!("the commit of {database}.{table} had begun; it is completed at the next start"),
            ));
        }
        staging::remove_tree(&staging.join(safe_name(table)?))?;
        self.finish_staging(database, job)
    }

    fn has_privilege(&self, user: &str, privilege: &Privilege) -> bool {
        match privilege {
            Privilege::Admin => user == "root" || user == "admin",
            Privilege::Load(_) => true,
        }
    }

    fn metadata(&self, database: &str, tables: &[String]) -> Result<Vec<u8>> {
        let mut out = serde_json::Map::new();
        for t in tables {
            let desc = DirHost::description(&self.db_dir(database)?.join(safe_name(t)?))?;
            out.insert(t.clone(), serde_json::to_value(desc).unwrap_or_default());
        }
        Ok(serde_json::to_vec(&out).unwrap_or_default())
    }

    fn supports(&self, feature: HostFeature) -> bool {
        matches!(
            feature,
            HostFeature::SchemaIdentity
                | HostFeature::DropTables
                | HostFeature::DropPartitions
                | HostFeature::AtomicReplace
                | HostFeature::CommitProperties
                | HostFeature::Views
                | HostFeature::IndexTablets
        )
    }

    /// The tablet directories of the index, sorted; none for a rollup without a directory.
    fn index_tablets(&self, database: &str, place: Place<'_>) -> Result<Vec<TabletInfo>> {
        let dir = self.index_dir(database, place)?;
        if place.index != place.table && !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut tablets: Vec<TabletInfo> =
            visible_dirs(&dir)?.into_iter().map(|id| TabletInfo { id: id.into() }).collect();
        tablets.shrink_to_fit();
        Ok(tablets)
    }

    fn view_definition(&self, database: &str, view: &str) -> Result<String> {
        let desc = DirHost::description(&self.db_dir(database)?.join(safe_name(view)?))?;
        if desc.kind.as_deref().is_none_or(|k| !k.eq_ignore_ascii_case("view")) {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("{database}.{view} is not a view")));
        }
        Ok(desc.definition.unwrap_or_default())
    }

    fn create_view(&self, database: &str, job: u64, view: &str, definition: &str) -> Result<()> {
        restorable_name(view)?;
        let db_dir = self.db_dir(database)?;
        fs::create_dir_all(&db_dir).map_err(|e| Error::io(format!("creating database {database}"), e))?;
        let desc = Description { kind: Some("view".into()), definition: Some(definition.into()), ..Default::default() };
        let bytes = serde_json::to_vec_pretty(&desc)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot encode the view {view}: {e}")))?;
        let staging = self.staging(database, job)?;
        staging::create_view(&db_dir, &staging, view, &bytes)?;
        self.finish_staging(database, job)
    }

    fn schema_identity(&self, database: &str, table: &str) -> Result<Option<String>> {
        Ok(DirHost::description(&self.db_dir(database)?.join(safe_name(table)?))?.schema)
    }

    fn snapshot_schema_identity(&self, metadata: &[u8], table: &str) -> Result<Option<String>> {
        Ok(props::from_metadata(metadata, table).and_then(|d| d.schema))
    }

    fn drop_table(&self, database: &str, job: u64, table: &str) -> Result<()> {
        restorable_name(table)?;
        let dir = self.db_dir(database)?.join(table);
        let staging = self.staging(database, job)?;
        staging::drop_dir(&dir, &staging, table)?;
        self.finish_staging(database, job)
    }

    fn drop_partitions(&self, database: &str, job: u64, table: &str, partitions: &[String]) -> Result<()> {
        restorable_name(table)?;
        let dir = self.db_dir(database)?.join(table);
        let staging = self.staging(database, job)?;
        for p in partitions {
            restorable_name(p)?;
            staging::drop_dir(&dir.join(p), &staging, &format!("{table}-{p}"))?;
        }
        self.finish_staging(database, job)
    }
}
