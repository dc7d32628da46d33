//! Verify: checks snapshots end to end and names every problem's object, chunk and file.

use std::collections::{HashMap, HashSet};
use std::fmt;

use rayon::prelude::*;

use super::Packer;
use super::check::{check_file_crcs, read_chunks};
use super::chunk_plan::{ChunkPlan, PlannedFiles, plan_chunks};
use super::locate::{Located, PackIds, find, load_locations};
use super::state::read_pack_footer;
use crate::format::{self, ChunkEntry, ContentHash, Manifest};
use crate::repo::Repository;
use crate::{Error, ErrorKind, Result};

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

/// What one read found: bytes read, the crc32c of each chunk read whole, the problems.
type ReadOutcome = (u64, Vec<(usize, u32)>, Vec<Problem>);

/// The problem an error describes; a message that starts by naming its object ("index K: …") says it once.
fn problem_of(e: &Error, chunk: Option<ContentHash>, files: Vec<String>) -> Problem {
    let object = e.object().unwrap_or("repository").to_owned();
    let named = format!("{object}: ");
    let message = match e.message().find(&named) {
        Some(at) if !e.message()[..at].contains(':') => &e.message()[at + named.len()..],
        _ => e.message(),
    };
    Problem { object, chunk, files, message: message.to_owned() }
}

impl Packer {
    /// Checks `manifests` against `repo` with the checks a restore makes, so that verify finds what a restore
    /// would refuse or get wrong: each manifest's consistency ([`Manifest::check`]), its indexes' ([`Index`]
    /// decoding), every referenced chunk located with a raw length that fits its file, no two located chunks
    /// overlapping, every pack present and long enough. Unless `quick`, also every pack's footer lists the
    /// chunks the indexes locate in it, every chunk is read in bounded ranged reads and its crc32c and content
    /// hash checked, and every file's whole-content crc32c. Problems are collected, not returned as errors.
    ///
    /// [`Index`]: crate::format::Index
    ///
    /// # Errors
    /// None today: every failure, even a repository that cannot be read, is a [`Problem`] naming its object.
    pub fn verify(&self, repo: &dyn Repository, manifests: &[Manifest], quick: bool) -> Result<VerifyReport> {
        let mut report = VerifyReport { snapshots: manifests.len() as u64, ..VerifyReport::default() };
        let mut files = PlannedFiles::default();
        let mut sound = Vec::new();
        for m in manifests {
            let key = format::manifest_key(&m.label, &m.timestamp);
            if let Err(e) = m.check(&key) {
                report.problems.push(problem_of(&e, None, Vec::new()));
                continue;
            }
            let prefix = format!("{}/{}: {}", m.label, m.timestamp, m.database);
            let n = files.add_manifest(key, m.chunk_size, prefix);
            sound.push(m);
            for (place, tablet) in m.tables.tablets() {
                if let Err(e) = files.add_tablet(n, place.table, tablet) {
                    report.problems.push(problem_of(&e, None, Vec::new()));
                    return Ok(report);
                }
            }
        }
        // Each manifest locates its chunks through its own indexes, in its order, as a restore does: the chunks
        // each index locates, one after another, and where each index's start and end.
        let needed = match files.needed() {
            Ok(n) => n,
            Err(e) => {
                report.problems.push(problem_of(&e, None, Vec::new()));
                return Ok(report);
            }
        };
        let mut packs = PackIds::default();
        let mut located: Vec<Located> = Vec::new();
        let mut loaded: HashMap<ContentHash, Option<(usize, usize)>> = HashMap::new();
        for m in &sound {
            for id in &m.indexes {
                if loaded.contains_key(id) {
                    continue;
                }
                match load_locations(repo, std::slice::from_ref(id), &needed, &mut packs) {
                    Ok(l) => {
                        loaded.insert(*id, Some((located.len(), located.len() + l.len())));
                        located.extend(l);
                    }
                    Err(e) => {
                        let e = if e.object().is_some() { e } else { e.with_object(format::index_key(id)) };
                        report.problems.push(problem_of(&e, None, Vec::new()));
                        loaded.insert(*id, None);
                    }
                };
            }
        }
        let locate = |located: &[Located], fi: usize, chunk: u32| {
            sound[files.manifest_number(fi)].indexes.iter().find_map(|id| {
                let (start, end) = (*loaded.get(id)?)?;
                find(&located[start..end], chunk).map(|i| start as u32 + i)
            })
        };
        let (plan, problems) = plan_chunks(&files, needed, packs, located, &locate);
        let files_of = |slot: usize| {
            let mut names: Vec<String> = plan.uses(&files, slot).map(|(fi, _)| files.label(fi)).collect();
            names.sort();
            names.dedup();
            names.truncate(MAX_FILES_NAMED);
            names
        };
        report.problems.extend(problems.iter().map(|e| problem_of(e, None, Vec::new())));

        // Packs: present, long enough, and (unless quick) their footers agree with the indexes.
        let by_pack = plan.by_pack();
        report.packs = by_pack.len() as u64;
        let pack_results: Vec<(ContentHash, Vec<Problem>)> = self.pool.install(|| {
            by_pack
                .par_iter()
                .map(|(pack, slots)| (*pack, check_pack(repo, pack, &plan, slots, &files_of, quick)))
                .collect()
        });
        let mut bad_packs = HashSet::new();
        for (pack, problems) in pack_results {
            if problems.iter().any(|p| p.chunk.is_none()) {
                bad_packs.insert(pack);
            }
            report.problems.extend(problems);
        }
        if quick {
            report.chunks = plan.slot_count() as u64;
        } else {
            // Chunks: the reads a restore makes, each chunk checked, then every file's crc32c.
            let results: Vec<ReadOutcome> = self.pool.install(|| {
                plan.reads
                    .par_iter()
                    .filter(|r| !bad_packs.contains(plan.pack_id(r.pack)))
                    .map_init(zstd::bulk::Decompressor::new, |dctx, read| {
                        let mut crcs = Vec::new();
                        let mut problems = Vec::new();
                        let Ok(dctx) = dctx.as_mut() else {
                            let e = Error::new(ErrorKind::Io, "cannot start zstd");
                            return (0, crcs, vec![problem_of(&e, None, Vec::new())]);
                        };
                        let result = read_chunks(repo, &plan, read, dctx, &mut |slot, raw| {
                            match raw {
                                Ok(raw) => crcs.push((slot, crc32c::crc32c(&raw))),
                                Err(e) => {
                                    let msg = e.message().rsplit_once(": ").map_or(e.message(), |(_, m)| m);
                                    let e = Error::new(e.kind(), msg).with_object(e.object().unwrap_or_default());
                                    problems.push(problem_of(&e, Some(plan.hash(slot)), files_of(slot)));
                                }
                            }
                            Ok(())
                        });
                        match result {
                            Ok(bytes) => (bytes, crcs, problems),
                            Err(e) => {
                                let mut names: Vec<String> =
                                    read.slots.clone().flat_map(|s| files_of(s as usize)).collect();
                                names.sort();
                                names.dedup();
                                names.truncate(MAX_FILES_NAMED);
                                let e = e.context("cannot read");
                                (0, Vec::new(), vec![problem_of(&e, None, names)])
                            }
                        }
                    })
                    .collect()
            });
            let mut chunk_crc: Vec<Option<u32>> = vec![None; plan.slot_count()];
            for (bytes, crcs, problems) in results {
                report.bytes_read += bytes;
                report.chunks += crcs.len() as u64;
                for (slot, crc) in crcs {
                    chunk_crc[slot] = Some(crc);
                }
                report.problems.extend(problems);
            }
            for e in check_file_crcs(&files, &plan, &chunk_crc) {
                report.problems.push(problem_of(&e, None, Vec::new()));
            }
        }
        report.problems.sort_by(|a, b| (&a.object, a.chunk, &a.message).cmp(&(&b.object, b.chunk, &b.message)));
        report.problems.dedup();
        Ok(report)
    }
}

/// The pack-level problems of `pack`: missing, shorter than its chunks reach, or (unless `quick`) a footer
/// that cannot be read or does not list a chunk the indexes locate in it.
fn check_pack(
    repo: &dyn Repository,
    pack: &ContentHash,
    plan: &ChunkPlan,
    slots: &[u32],
    files_of: &(dyn Fn(usize) -> Vec<String> + Sync),
    quick: bool,
) -> Vec<Problem> {
    let key = format::pack_key(pack);
    let all_files = || {
        let mut f: Vec<String> = slots.iter().flat_map(|&s| files_of(s as usize)).collect();
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
        Ok(None) => return vec![problem(None, all_files(), "pack is missing".into())],
        Err(e) => return vec![problem(None, all_files(), format!("cannot read: {e}"))],
    };
    let end = slots.iter().map(|&s| plan.slot(s as usize).end()).max();
    let end = end.unwrap_or(0);
    if size < end {
        return vec![problem(None, all_files(), format!("pack is truncated: {size} bytes, chunks reach {end}"))];
    }
    if quick {
        return Vec::new();
    }
    match read_pack_footer(repo, pack, size) {
        Ok(footer) => {
            let in_footer: HashSet<ChunkEntry> = footer.into_iter().collect();
            slots
                .iter()
                .filter(|&&s| !in_footer.contains(&plan.entry(s as usize)))
                .map(|&s| {
                    problem(
                        Some(plan.hash(s as usize)),
                        files_of(s as usize),
                        "the pack's footer does not list this chunk as the index does".into(),
                    )
                })
                .collect()
        }
        Err(e) => vec![problem(None, all_files(), format!("footer: {e}"))],
    }
}

/// Whether a restored file has the size and whole-content crc32c its manifest entry records: how a host
/// checks one file alone.
///
/// # Errors
/// When the file cannot be read.
pub fn check_restored_file(path: &std::path::Path, entry: &crate::format::FileEntry) -> std::io::Result<bool> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut len, mut crc) = (0u64, 0u32);
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(len == entry.size && crc == entry.crc32c);
        }
        len += n as u64;
        crc = crc32c::crc32c_append(crc, &buf[..n]);
    }
}
