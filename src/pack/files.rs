//! A backup's files: listing a batch's tablet directories into its manifest entries, and reading file
//! contents into the workers' reused buffers (`pread`: no page-fault per 4 KiB page, no map to tear down).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::format::{FileEntry, FileSeen, TabletEntry};
use crate::{Error, ErrorKind, Result};

/// A file to back up: its tablet (in the source's order) and its size.
pub(super) struct FileTask {
    tablet: u32,
    pub(super) size: u64,
}

/// A batch's files in manifest order, 32 bytes each: where each one is comes from its tablet's directory and
/// its path in the tablet (the manifest's), joined when the file is read.
pub(super) struct Files<'a> {
    tasks: Vec<FileTask>,
    dirs: Vec<&'a Path>,
    rels: Vec<&'a str>,
}

impl<'a> Files<'a> {
    /// The files `list_batch` listed (`tasks`) in the tablet directories `dirs`, whose entries are `tablets`.
    pub(super) fn new(dirs: &'a [PathBuf], tablets: &'a [TabletEntry], tasks: Vec<FileTask>) -> Files<'a> {
        let dirs = dirs.iter().map(PathBuf::as_path).collect();
        let rels: Vec<&str> = tablets.iter().flat_map(|t| t.files.iter().map(|f| f.path.as_str())).collect();
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

/// Lists the files of a batch of tablets (`ids`, whose directories are `dirs`; none when `metadata_only`), each
/// tablet's sorted by path with its subdirectories, one tablet per task of the packer's pool: the batch's
/// manifest entries (chunks not filled in yet) and its file list in the same order.
pub(super) fn list_batch(
    pool: &rayon::ThreadPool,
    ids: &[&str],
    dirs: &[PathBuf],
    metadata_only: bool,
) -> Result<(Vec<TabletEntry>, Vec<FileTask>)> {
    use rayon::prelude::*;
    let listed: Vec<Vec<Listed>> = pool.install(|| {
        dirs.par_iter()
            .map(|dir| {
                let mut entries = Vec::new();
                if !metadata_only {
                    list_files(dir, dir, &mut entries)?;
                }
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Ok(entries)
            })
            .collect::<Result<_>>()
    })?;
    let mut tasks = Vec::with_capacity(listed.iter().map(Vec::len).sum());
    let mut tablets = Vec::with_capacity(ids.len());
    for (k, (id, entries)) in ids.iter().zip(listed).enumerate() {
        let tablet = u32::try_from(k)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "a batch of more than 2^32 tablets".to_owned()))?;
        let files = entries
            .into_iter()
            .map(|(path, size, seen)| {
                tasks.push(FileTask { tablet, size });
                FileEntry { path, size, crc32c: 0, chunks: Vec::new(), seen: Some(seen) }
            })
            .collect();
        tablets.push(TabletEntry { id: (*id).to_owned(), files });
    }
    Ok((tablets, tasks))
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
