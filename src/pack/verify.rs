//! Verify: checks snapshots end to end and names every problem's object, chunk and file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use rayon::prelude::*;

use super::Packer;
use super::restore::decode_chunk;
use super::state::{check_len, load_locations, read_pack_footer};
use crate::Result;
use crate::format::{self, ChunkEntry, ContentHash, Manifest};
use crate::repo::Repository;

/// One problem found by [`Packer::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The repository object at fault (pack, index or manifest key).
    pub object: String,
    /// The chunk, when the problem is one chunk.
    pub chunk: Option<ContentHash>,
    /// The files that need that object or chunk (`label/timestamp: db.table tablet file`), a few at most.
    pub files: Vec<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.object)?;
        if let Some(c) = &self.chunk {
            write!(f, " chunk {}", c.short())?;
        }
        write!(f, ": {}", self.message)?;
        if !self.files.is_empty() {
            write!(f, " (needed by {})", self.files.join(", "))?;
        }
        Ok(())
    }
}

/// What [`Packer::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Snapshots checked.
    pub snapshots: u64,
    /// Packs checked.
    pub packs: u64,
    /// Chunks checked (in full mode: read, decompressed and hashed).
    pub chunks: u64,
    /// Bytes read from packs.
    pub bytes_read: u64,
    /// Every problem found; empty when the snapshots are sound.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

const MAX_FILES_NAMED: usize = 3;

impl Packer {
    /// Checks `manifests` against `repo`: every referenced chunk is in an index, every pack exists and is long
    /// enough; unless `quick`, every chunk is read and its crc32c and content hash checked, and every file's
    /// whole-content crc32c. Problems are collected, not returned as errors.
    ///
    /// # Errors
    /// Only when the repository cannot be read at all (listing or an index fails).
    pub fn verify(&self, repo: &dyn Repository, manifests: &[Manifest], quick: bool) -> Result<VerifyReport> {
        let mut report = VerifyReport { snapshots: manifests.len() as u64, ..VerifyReport::default() };
        // Who needs each chunk.
        let mut users: HashMap<ContentHash, Vec<String>> = HashMap::new();
        let mut indexes = HashSet::new();
        for m in manifests {
            indexes.extend(m.indexes.iter().copied());
            for (t, _, _, tablet, f) in m.files() {
                for c in &f.chunks {
                    let u = users.entry(*c).or_default();
                    if u.len() < MAX_FILES_NAMED {
                        u.push(format!(
                            "{}/{}: {}.{} tablet {} file {}",
                            m.label, m.timestamp, m.database, t.name, tablet.id, f.path
                        ));
                    }
                }
            }
        }
        let needed: HashSet<ContentHash> = users.keys().copied().collect();
        let indexes: Vec<ContentHash> = indexes.into_iter().collect();
        let mut locations = HashMap::new();
        for id in &indexes {
            match load_locations(repo, std::slice::from_ref(id), &needed) {
                Ok(l) => locations.extend(l),
                Err(e) => report.problems.push(Problem {
                    object: format::index_key(id),
                    chunk: None,
                    files: Vec::new(),
                    message: e.to_string(),
                }),
            }
        }
        let mut by_pack: BTreeMap<ContentHash, Vec<ChunkEntry>> = BTreeMap::new();
        for (hash, files) in &users {
            match locations.get(hash) {
                Some((pack, entry)) => by_pack.entry(*pack).or_default().push(*entry),
                None => report.problems.push(Problem {
                    object: "index".into(),
                    chunk: Some(*hash),
                    files: files.clone(),
                    message: "no index of the snapshot locates this chunk".into(),
                }),
            }
        }
        report.packs = by_pack.len() as u64;
        let results: Vec<(u64, u64, Vec<Problem>)> = self.pool.install(|| {
            by_pack.par_iter().map(|(pack, entries)| check_pack(repo, pack, entries, &users, quick)).collect()
        });
        for (chunks, bytes, problems) in results {
            report.chunks += chunks;
            report.bytes_read += bytes;
            report.problems.extend(problems);
        }
        report.problems.sort_by(|a, b| (&a.object, a.chunk).cmp(&(&b.object, b.chunk)));
        Ok(report)
    }
}

fn check_pack(
    repo: &dyn Repository,
    pack: &ContentHash,
    entries: &[ChunkEntry],
    users: &HashMap<ContentHash, Vec<String>>,
    quick: bool,
) -> (u64, u64, Vec<Problem>) {
    let key = format::pack_key(pack);
    let files_of = |h: &ContentHash| users.get(h).cloned().unwrap_or_default();
    let all_files = || {
        let mut f: Vec<String> = entries.iter().flat_map(|e| files_of(&e.hash)).collect();
        f.sort();
        f.dedup();
        f.truncate(MAX_FILES_NAMED);
        f
    };
    let problem = |chunk: Option<ContentHash>, files: Vec<String>, message: String| Problem {
        object: key.clone(),
        chunk,
        files,
        message,
    };
    let size = match repo.size(&key) {
        Ok(Some(s)) => s,
        Ok(None) => return (0, 0, vec![problem(None, all_files(), "pack is missing".into())]),
        Err(e) => return (0, 0, vec![problem(None, all_files(), format!("cannot read: {e}"))]),
    };
    let end = entries.iter().map(|e| e.offset + u64::from(e.stored_len)).max().unwrap_or(0);
    if size < end {
        return (
            0,
            0,
            vec![problem(None, all_files(), format!("pack is truncated: {size} bytes, chunks reach {end}"))],
        );
    }
    if quick {
        return (entries.len() as u64, 0, Vec::new());
    }
    let mut problems = Vec::new();
    match read_pack_footer(repo, pack, size) {
        Ok(footer) => {
            let in_footer: HashSet<(ContentHash, u64)> = footer.iter().map(|e| (e.hash, e.offset)).collect();
            for e in entries.iter().filter(|e| !in_footer.contains(&(e.hash, e.offset))) {
                problems.push(problem(
                    Some(e.hash),
                    files_of(&e.hash),
                    "the pack's footer does not list this chunk".into(),
                ));
            }
        }
        Err(e) => problems.push(problem(None, all_files(), format!("footer: {e}"))),
    }
    let data = match repo.get_range(&key, 0, Some(end)).and_then(|d| check_len(&key, &d, end).map(|()| d)) {
        Ok(d) => d,
        Err(e) => {
            problems.push(problem(None, all_files(), format!("cannot read: {e}")));
            return (0, 0, problems);
        }
    };
    let mut dctx = match zstd::bulk::Decompressor::new() {
        Ok(d) => d,
        Err(e) => {
            problems.push(problem(None, Vec::new(), format!("cannot start zstd: {e}")));
            return (0, 0, problems);
        }
    };
    for e in entries {
        let at = usize::try_from(e.offset).unwrap_or(usize::MAX);
        let stored = &data[at..at + e.stored_len as usize];
        if let Err(err) = decode_chunk(&key, e, stored, &mut dctx) {
            let msg = err.message().rsplit_once(": ").map_or(err.message(), |(_, m)| m).to_owned();
            problems.push(problem(Some(e.hash), files_of(&e.hash), msg));
        }
    }
    (entries.len() as u64, data.len() as u64, problems)
}

/// Whether a restored file has the size and whole-content crc32c its manifest entry records: how a host
/// checks one file alone.
///
/// # Errors
/// When the file cannot be read.
pub fn check_restored_file(path: &std::path::Path, entry: &crate::format::FileEntry) -> std::io::Result<bool> {
    let data = std::fs::read(path)?;
    Ok(data.len() as u64 == entry.size && crc32c::crc32c(&data) == entry.crc32c)
}
