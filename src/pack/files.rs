//! A backup's files: walking the tablet directories of a source into the manifest skeleton, and reading file
//! contents into the workers' reused buffers (`pread`: no page-fault per 4 KiB page, no map to tear down).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::BackupSource;
use crate::format::{FileEntry, FileSeen, Manifest, TabletEntry};
use crate::{Error, ErrorKind, Result};

/// A file to back up: its tablet (in the source's order) and its size.
pub(super) struct FileTask {
    tablet: u32,
    pub(super) size: u64,
}

/// A backup's files in manifest order, 32 bytes each: where each one is comes from its tablet's directory (the
/// source's) and its path in the tablet (the manifest's), joined when the file is read.
pub(super) struct Files<'a> {
    tasks: Vec<FileTask>,
    dirs: Vec<&'a Path>,
    rels: Vec<&'a str>,
}

impl<'a> Files<'a> {
    /// The files `walk` listed (`tasks`), of `source`, whose manifest skeleton is `manifest`.
    pub(super) fn new(source: &'a BackupSource, manifest: &'a Manifest, tasks: Vec<FileTask>) -> Files<'a> {
        let dirs = source.tables.tablets().map(|(_, t)| t.dir.as_path()).collect();
        let rels: Vec<&str> = manifest.files().map(|f| f.file.path.as_str()).collect();
        debug_assert_eq!(rels.len(), tasks.len());
        Files { tasks, dirs, rels }
    }

    /// How many files.
    pub(super) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// The size of file `i`.
    pub(super) fn size(&self, i: usize) -> u64 {
        self.tasks[i].size
    }

    /// Every file's size, in order.
    pub(super) fn sizes(&self) -> impl Iterator<Item = u64> + '_ {
        self.tasks.iter().map(|t| t.size)
    }

    /// Where file `i` is on disk.
    pub(super) fn path(&self, i: usize) -> PathBuf {
        self.dirs[self.tasks[i].tablet as usize].join(self.rels[i])
    }
}

/// A listed file: its path in the tablet, its size, and what identifies it unchanged.
type Listed = (String, u64, FileSeen);

/// Reads `len` bytes of `path` at `offset` into `buf` (replacing its content; its allocation is reused).
pub(super) fn read_range_into(path: &Path, offset: u64, len: usize, buf: &mut Vec<u8>) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let what = || format!("reading tablet file {}", path.display());
    let file = File::open(path).map_err(|e| Error::io(what(), e))?;
    buf.clear();
    buf.resize(len, 0);
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::new(ErrorKind::Io, format!("{}: the file shrank while being backed up", what()))
        } else {
            Error::io(what(), e)
        }
    })
}

/// Reads the whole of `path`, which must be `size` bytes, into `buf` (replacing its content).
pub(super) fn read_whole_into(path: &Path, size: u64, buf: &mut Vec<u8>) -> Result<()> {
    let what = || format!("reading tablet file {}", path.display());
    let mut f = File::open(path).map_err(|e| Error::io(what(), e))?;
    buf.clear();
    buf.reserve(usize::try_from(size).unwrap_or(0));
    f.read_to_end(buf).map_err(|e| Error::io(what(), e))?;
    if buf.len() as u64 != size {
        return Err(Error::new(ErrorKind::Io, format!("{}: the file changed size while being backed up", what())));
    }
    Ok(())
}

/// Lists every tablet's files (sorted, subdirectories included) and builds the manifest skeleton in the same
/// order as the returned file list.
pub(super) fn walk(
    source: &BackupSource,
    label: &str,
    timestamp: &str,
    started: u64,
    chunk_size: u64,
) -> Result<(Manifest, Vec<FileTask>)> {
    let mut files = Vec::new();
    let mut tablets = 0u32;
    let tables = source.tables.try_map(|_, tablet| {
        let mut entries = Vec::new();
        if !source.metadata_only {
            list_files(&tablet.dir, &tablet.dir, &mut entries)?;
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tablet_files = Vec::with_capacity(entries.len());
        for (rel, size, seen) in entries {
            tablet_files.push(FileEntry { path: rel, size, crc32c: 0, chunks: Vec::new(), seen: Some(seen) });
            files.push(FileTask { tablet: tablets, size });
        }
        tablets = tablets
            .checked_add(1)
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "a backup of more than 2^32 tablets".to_owned()))?;
        Ok::<_, Error>(TabletEntry { id: tablet.id.clone(), files: tablet_files })
    })?;
    let manifest = Manifest {
        database: source.database.clone(),
        label: label.into(),
        timestamp: timestamp.into(),
        created_ms: started,
        chunk_size,
        tables,
        indexes: Vec::new(),
        host_metadata: Manifest::encode_host_metadata(&source.host_metadata),
        views: source
            .views
            .iter()
            .map(|(name, definition)| crate::format::ViewEntry { name: name.clone(), definition: definition.clone() })
            .collect(),
    };
    Ok((manifest, files))
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<Listed>) -> Result<()> {
    let what = || format!("listing tablet directory {}", dir.display());
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(what(), e))? {
        let entry = entry.map_err(|e| Error::io(what(), e))?;
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| Error::io(what(), e))?;
        if ft.is_dir() {
            list_files(root, &path, out)?;
        } else if ft.is_file() {
            let meta = entry.metadata().map_err(|e| Error::io(what(), e))?;
            let seen = {
                use std::os::unix::fs::MetadataExt;
                FileSeen {
                    mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
                    ino: meta.ino(),
                }
            };
            let size = meta.len();
            let rel = path
                .strip_prefix(root)
                .ok()
                .and_then(|r| r.to_str())
                .map(|r| r.replace(std::path::MAIN_SEPARATOR, "/"))
                .ok_or_else(|| {
                    Error::new(ErrorKind::InvalidArgument, format!("file name is not UTF-8: {}", path.display()))
                })?;
            out.push((rel, size, seen));
        } else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} is not a regular file or directory (symlinks and devices are not backed up)",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}
