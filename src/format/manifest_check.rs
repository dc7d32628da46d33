//! The consistency a decoded manifest must have before anything uses it: names that are safe single path
//! components and unique where they name directories, file paths that stay inside their tablet directory, file
//! sizes that agree with the chunk list and the chunk size, and a host metadata blob that is hex.

use std::collections::HashSet;

use crate::format::limits::{MAX_CHUNK_SIZE, is_safe_component, is_safe_relative_path};
use crate::format::{Manifest, TabletEntry};
use crate::{Error, ErrorKind, Result};

impl Manifest {
    /// Checks this manifest, stored (or to be stored) under `key`, for internal consistency:
    /// - the chunk size is 1 byte to [`MAX_CHUNK_SIZE`];
    /// - table and view names are unique together, partition names unique in their table, index names unique in their
    ///   partition, tablet ids unique in their table (across its partitions and indexes), and every one of them
    ///   a safe single path component;
    /// - file paths are safe relative paths, unique in their tablet, and none is a directory of another;
    /// - a file of `size` bytes has exactly `ceil(size / chunk_size)` chunks;
    /// - tables are OLAP tables and no partition is temporary (a backup takes neither);
    /// - the host metadata is lower-case hex of even length.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for a name or path that could escape or merge directories,
    /// [`ErrorKind::Format`] for any other inconsistency; both name `key`.
    pub fn check(&self, key: &str) -> Result<()> {
        let err = |kind, what: String| Error::new(kind, format!("manifest {key}: {what}")).with_object(key);
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(err(
                ErrorKind::Format,
                format!("chunk size {} is out of range 1..={MAX_CHUNK_SIZE}", self.chunk_size),
            ));
        }
        let name = |what: &str, n: &str, seen: &mut HashSet<String>| -> Result<()> {
            if !is_safe_component(n) {
                return Err(err(ErrorKind::InvalidArgument, format!("{what} {n:?} is not a safe directory name")));
            }
            if !seen.insert(n.to_owned()) {
                return Err(err(ErrorKind::InvalidArgument, format!("{what} {n:?} appears twice")));
            }
            Ok(())
        };
        let mut tables = HashSet::new();
        for t in &self.tables {
            name("table", &t.name, &mut tables)?;
            if !t.kind.is_olap() {
                return Err(err(
                    ErrorKind::Format,
                    format!("table {} is recorded as {:?}, not an OLAP table", t.name, t.kind),
                ));
            }
            let mut tablets = HashSet::new();
            let mut partitions = HashSet::new();
            for p in &t.partitions {
                name(&format!("table {} partition", t.name), &p.name, &mut partitions)?;
                if p.temporary {
                    return Err(err(ErrorKind::Format, format!("table {} partition {} is temporary", t.name, p.name)));
                }
                let mut indexes = HashSet::new();
                for i in &p.indexes {
                    name(&format!("table {} partition {} index", t.name, p.name), &i.name, &mut indexes)?;
                    for tablet in &i.tablets {
                        name(&format!("table {} tablet", t.name), &tablet.id, &mut tablets)?;
                        self.check_files(tablet)
                            .map_err(|(kind, m)| err(kind, format!("table {} tablet {}: {m}", t.name, tablet.id)))?;
                    }
                }
            }
        }
        for v in &self.views {
            name("view", &v.name, &mut tables)?;
        }
        let hex = self.host_metadata.len().is_multiple_of(2)
            && self.host_metadata.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        if !hex {
            return Err(err(ErrorKind::Format, "host metadata is not lower-case hex".into()));
        }
        Ok(())
    }

    fn check_files(&self, tablet: &TabletEntry) -> std::result::Result<(), (ErrorKind, String)> {
        let mut paths = HashSet::with_capacity(tablet.files.len());
        for f in &tablet.files {
            if !is_safe_relative_path(&f.path) {
                return Err((ErrorKind::InvalidArgument, format!("unsafe path in manifest: {:?}", f.path)));
            }
            if !paths.insert(f.path.as_str()) {
                return Err((ErrorKind::InvalidArgument, format!("file {:?} appears twice", f.path)));
            }
            let want = f.size.div_ceil(self.chunk_size);
            if f.chunks.len() as u64 != want {
                return Err((
                    ErrorKind::Format,
                    format!(
                        "file {} of {} bytes lists {} chunks; chunks of {} bytes make {want}",
                        f.path,
                        f.size,
                        f.chunks.len(),
                        self.chunk_size
                    ),
                ));
            }
        }
        for f in &tablet.files {
            let mut dir = f.path.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                if paths.contains(parent) {
                    return Err((
                        ErrorKind::InvalidArgument,
                        format!("file {:?} is also the directory of file {:?}", parent, f.path),
                    ));
                }
                dir = parent;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::format::{
        ContentHash, FileEntry, IndexEntry, Manifest, PartitionEntry, TableEntry, TabletEntry, ViewEntry,
    };
    use crate::tree::{TableKind, Tree};
    use crate::{ErrorKind, Result};

    fn manifest() -> Manifest {
        let file = |path: &str, size: u64, n: usize| FileEntry {
            path: path.into(),
            size,
            crc32c: 0,
            chunks: vec![ContentHash::of(path.as_bytes()); n],
            seen: None,
        };
        let tablet = |id: &str| TabletEntry { id: id.into(), files: vec![file("0/a.dat", 250, 3), file("b", 0, 0)] };
        Manifest {
            database: "db".into(),
            label: "l".into(),
            timestamp: "2024-01-01-10-00-00".into(),
            created_ms: 0,
            chunk_size: 100,
            tables: Tree::from(vec![TableEntry::new(
                "t1",
                vec![PartitionEntry::new("p1", vec![IndexEntry::new("t1", vec![tablet("101"), tablet("102")])])],
            )]),
            indexes: Vec::new(),
            host_metadata: "00ff".into(),
            views: Vec::new(),
        }
    }

    fn check(edit: impl Fn(&mut Manifest)) -> Result<()> {
        let mut m = manifest();
        edit(&mut m);
        m.check("snapshots/l/t")
    }

    #[test]
    fn a_consistent_manifest_passes_and_every_inconsistency_is_named() {
        check(|_| {}).unwrap();
        // One tablet id in two tables is fine: their directories differ.
        check(|m| {
            let mut t = m.tables[0].clone();
            t.name = "t2".into();
            m.tables.push(t);
        })
        .unwrap();
        fn tablet(m: &mut Manifest) -> &mut TabletEntry {
            &mut m.tables[0].partitions[0].indexes[0].tablets[0]
        }
        type Edit = Box<dyn Fn(&mut Manifest)>;
        let cases: Vec<(ErrorKind, Edit)> = vec![
            (ErrorKind::Format, Box::new(|m| m.chunk_size = 0)),
            (ErrorKind::Format, Box::new(|m| m.chunk_size = 1 << 30)),
            (ErrorKind::InvalidArgument, Box::new(|m| m.tables[0].name = "..".into())),
            (ErrorKind::InvalidArgument, Box::new(|m| m.tables[0].name = "../outside".into())),
            (
                ErrorKind::InvalidArgument,
                Box::new(|m| {
                    let t = m.tables[0].clone();
                    m.tables.push(t)
                }),
            ),
            (ErrorKind::InvalidArgument, Box::new(|m| m.tables[0].partitions[0].name = "a/b".into())),
            (ErrorKind::InvalidArgument, Box::new(|m| m.tables[0].partitions[0].indexes[0].name = "".into())),
            (ErrorKind::InvalidArgument, Box::new(|m| tablet(m).id = "102".into())),
            (ErrorKind::InvalidArgument, Box::new(|m| tablet(m).files[1].path = "../x".into())),
            (ErrorKind::InvalidArgument, Box::new(|m| tablet(m).files[1].path = "0/a.dat".into())),
            (ErrorKind::InvalidArgument, Box::new(|m| tablet(m).files[1].path = "0".into())),
            (ErrorKind::Format, Box::new(|m| tablet(m).files[0].size = 8 << 40)),
            (ErrorKind::Format, Box::new(|m| tablet(m).files[0].size = 7)),
            (ErrorKind::Format, Box::new(|m| tablet(m).files[1].size = 1)),
            (ErrorKind::Format, Box::new(|m| m.host_metadata = "0".into())),
            (
                ErrorKind::InvalidArgument,
                Box::new(|m| m.views.push(ViewEntry { name: "t1".into(), definition: String::new() })),
            ),
            (
                ErrorKind::InvalidArgument,
                Box::new(|m| m.views.push(ViewEntry { name: "../v".into(), definition: String::new() })),
            ),
            (ErrorKind::Format, Box::new(|m| m.host_metadata = "zz".into())),
            (ErrorKind::Format, Box::new(|m| m.tables[0].kind = TableKind::View)),
            (ErrorKind::Format, Box::new(|m| m.tables[0].partitions[0].temporary = true)),
        ];
        for (i, (kind, edit)) in cases.iter().enumerate() {
            let e = check(edit).unwrap_err();
            assert_eq!((e.kind(), e.object()), (*kind, Some("snapshots/l/t")), "case {i}: {e}");
            assert!(e.message().starts_with("manifest snapshots/l/t: "), "case {i}: {e}");
        }
    }
}
