//! The directory host: a data directory laid out like a BE's, for the CLI and for tests.
//!
//! ```text
//! DATA/<db>/<table>/<partition>/<tablet>/<files…>                 base index tablets (files may nest)
//! DATA/<db>/<table>/<partition>/_rollup_<index>/<tablet>/<files…>  rollup / synchronous MV tablets
//! DATA/<db>/<table>/_table.json                                     optional: {"kind": "olap" | "view" |
//!                                                                   "async_mv" | "<other>", "rollups": ["r1"],
//!                                                                   "temporary_partitions": ["tp1"]}
//! ```
//! Names starting with `.` or `_` are not databases, tables, partitions or tablets. A restore writes under
//! `DATA/<db>/.restore-<job>/` and moves each partition into place at commit (a partition of the same name is
//! replaced), so a failed or cancelled restore leaves the data directory as it was.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Host, IndexInfo, PartitionInfo, Privilege, TableInfo, TableKind, TabletInfo, TabletRef};
use crate::{Error, ErrorKind, Result};

const ROLLUP_PREFIX: &str = "_rollup_";
const DESCRIPTION: &str = "_table.json";

/// The optional `_table.json` of a table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Description {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    rollups: Vec<String>,
    #[serde(default)]
    temporary_partitions: Vec<String>,
}

/// A host over a data directory. Users `root` and `admin` are superusers; every other user has LOAD on every
/// database and no ADMIN.
#[derive(Debug, Clone)]
pub struct DirHost {
    root: PathBuf,
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

fn safe_name(name: &str) -> Result<&str> {
    if name.is_empty() || name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
        Err(Error::new(ErrorKind::InvalidArgument, format!("{name:?} cannot name a directory")))
    } else {
        Ok(name)
    }
}

impl DirHost {
    /// A host over `root`, which must exist.
    ///
    /// # Errors
    /// When `root` is not a directory.
    pub fn new(root: impl Into<PathBuf>) -> Result<DirHost> {
        let root = root.into();
        if !root.is_dir() {
            return Err(Error::new(ErrorKind::NotFound, format!("data directory {} does not exist", root.display())));
        }
        Ok(DirHost { root })
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
        let mut p = self.db_dir(db)?.join(safe_name(&t.table)?).join(safe_name(&t.partition)?);
        if t.index != t.table {
            p = p.join(format!("{ROLLUP_PREFIX}{}", safe_name(&t.index)?));
        }
        Ok(p.join(safe_name(&t.tablet)?))
    }

    fn staging(&self, db: &str, job: u64) -> Result<PathBuf> {
        Ok(self.db_dir(db)?.join(format!(".restore-{job}")))
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

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
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
                for p in visible_dirs(&tdir)? {
                    let pdir = tdir.join(&p);
                    let tablets = |dir: &Path| -> Result<Vec<TabletInfo>> {
                        Ok(visible_dirs(dir)?.into_iter().map(|id| TabletInfo { id }).collect())
                    };
                    let mut indexes = vec![IndexInfo { name: name.clone(), tablets: tablets(&pdir)? }];
                    for r in &desc.rollups {
                        let rdir = pdir.join(format!("{ROLLUP_PREFIX}{r}"));
                        let t = if rdir.is_dir() { tablets(&rdir)? } else { Vec::new() };
                        indexes.push(IndexInfo { name: r.clone(), tablets: t });
                    }
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
        let rel = self.tablet_dir(database, t)?;
        let rel = rel
            .strip_prefix(self.db_dir(database)?)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "bad tablet path"))?;
        let dir = self.staging(database, job)?.join(rel);
        fs::create_dir_all(self.db_dir(database)?)
            .map_err(|e| Error::io(format!("creating database {database}"), e))?;
        Ok(dir)
    }

    fn commit_restore(&self, database: &str, job: u64, table: &str, source_table: &str, metadata: &[u8]) -> Result<()> {
        let staged = self.staging(database, job)?.join(safe_name(table)?);
        let final_dir = self.db_dir(database)?.join(table);
        fs::create_dir_all(&final_dir).map_err(|e| Error::io(format!("creating {}", final_dir.display()), e))?;
        // The table's description travels in the metadata blob; a new table gets it back.
        let desc_path = final_dir.join(DESCRIPTION);
        if !desc_path.exists() {
            let all: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(metadata).unwrap_or_default();
            if let Some(desc) = all.get(source_table) {
                let d: Description = serde_json::from_value(desc.clone()).unwrap_or_default();
                if d.kind.is_some() || !d.rollups.is_empty() {
                    let bytes = serde_json::to_vec_pretty(&d).unwrap_or_default();
                    fs::write(&desc_path, bytes)
                        .map_err(|e| Error::io(format!("writing {}", desc_path.display()), e))?;
                }
            }
        }
        for p in visible_dirs(&staged)? {
            let (src, dst) = (staged.join(&p), final_dir.join(&p));
            let trash = final_dir.join(format!(".replaced-{job}-{p}"));
            if dst.exists() {
                fs::rename(&dst, &trash).map_err(|e| Error::io(format!("moving aside {}", dst.display()), e))?;
            }
            fs::rename(&src, &dst).map_err(|e| Error::io(format!("moving {} into place", dst.display()), e))?;
            if trash.exists() {
                fs::remove_dir_all(&trash).map_err(|e| Error::io(format!("removing {}", trash.display()), e))?;
            }
        }
        sync_dir(&final_dir)?;
        let _ = fs::remove_dir(&staged);
        let _ = fs::remove_dir(self.staging(database, job)?);
        Ok(())
    }

    fn abort_restore(&self, database: &str, job: u64, table: &str) -> Result<()> {
        let staged = self.staging(database, job)?.join(safe_name(table)?);
        match fs::remove_dir_all(&staged) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("removing {}", staged.display()), e)),
        }
        let _ = fs::remove_dir(self.staging(database, job)?);
        Ok(())
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
}
