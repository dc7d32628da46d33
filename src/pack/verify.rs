//! Verify: checks snapshots end to end and names every problem's object, chunk and file.

use std::collections::{HashMap, HashSet};
use std::fmt;

use rayon::prelude::*;

use super::Packer;
use super::check::{check_file_crcs, read_chunks};
use super::chunk_plan::{ChunkPlan, PlannedFiles, plan_chunks};
use super::locate::{Located, PackIds, Scan, find, load_locations, next_start, read_index};
use super::state::read_pack_footer;
use crate::format::{self, ChunkEntry, ContentHash, Manifest, TabletEntry};
use crate::repo::Repository;
use crate::tree::Tree;
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

/// One manifest's share of a window verify checks: its key, how messages name its files, its chunk size, its
/// indexes and the tables of the window.
pub(crate) struct Part<'a> {
    pub key: String,
    pub prefix: String,
    pub chunk_size: u64,
    pub indexes: &'a [ContentHash],
    pub tables: &'a Tree<TabletEntry>,
}

/// What verify keeps from one window to the next: the report so far and every pack checked, with its size
/// (`None` when it has a problem of its own: missing, truncated or its footer unreadable, and its chunks are
/// not read).
#[derive(Default)]
pub(crate) struct VerifyRun {
    pub report: VerifyReport,
    packs: HashMap<ContentHash, Option<u64>>,
    /// Where the next window of each manifest (by key) starts reading its indexes ([`Scan::start`]).
    scan_from: HashMap<String, usize>,
    /// Every index read so far.
    indexes_read: HashSet<ContentHash>,
}

impl VerifyRun {
    /// Reads the indexes of `indexes` no window read (every chunk was located before them) and reports those
    /// that cannot be read or decoded: verify checks every index a manifest names.
    pub(crate) fn read_unread_indexes(&mut self, repo: &dyn Repository, indexes: &[ContentHash]) {
        let ids = format::IdHasher::new(repo.hash_key());
        for id in indexes {
            if !self.indexes_read.insert(*id) {
                continue;
            }
            let checked = read_index(repo, &ids, id, |_| Ok(()));
            if let Err(e) = checked {
                let e = if e.object().is_some() { e } else { e.with_object(format::index_key(id)) };
                self.report.problems.push(problem_of(&e, None, Vec::new()));
            }
        }
    }

    /// The report: every problem once, sorted by object, chunk and message.
    ///
    /// A problem found again by a later window (a damaged chunk that files of both need) is named once, with
    /// the files of every window that found it, as verify of the whole manifest names it.
    pub(crate) fn finish(mut self) -> VerifyReport {
        self.report.packs = self.packs.len() as u64;
        let mut problems = std::mem::take(&mut self.report.problems);
        problems.sort_by(|a, b| (&a.object, a.chunk, &a.message).cmp(&(&b.object, b.chunk, &b.message)));
        for p in problems {
            match self.report.problems.last_mut() {
                Some(last) if (&last.object, last.chunk, &last.message) == (&p.object, p.chunk, &p.message) => {
                    last.files.extend(p.files);
                    last.files.sort();
                    last.files.dedup();
                    last.files.truncate(MAX_FILES_NAMED);
                }
                _ => self.report.problems.push(p),
            }
        }
        self.report
    }
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
        let mut run = VerifyRun::default();
        run.report.snapshots = manifests.len() as u64;
        let mut parts = Vec::new();
        for m in manifests {
            let key = format::manifest_key(&m.label, &m.timestamp);
            if let Err(e) = m.check(&key) {
                run.report.problems.push(problem_of(&e, None, Vec::new()));
                continue;
            }
            let prefix = format!("{}/{}: {}", m.label, m.timestamp, m.database);
            parts.push(Part { key, prefix, chunk_size: m.chunk_size, indexes: &m.indexes, tables: &m.tables });
        }
        self.verify_window(repo, &parts, quick, &mut run);
        for part in &parts {
            run.read_unread_indexes(repo, part.indexes);
        }
        Ok(run.finish())
    }

    /// Checks one window: the tables of `parts` (each checked already), as [`Packer::verify`] describes; each
    /// pack's own checks (present, long enough, its footer readable) are made once per `run`, the chunks of
    /// every window checked against its footer.
    pub(crate) fn verify_window(&self, repo: &dyn Repository, parts: &[Part<'_>], quick: bool, run: &mut VerifyRun) {
        let report = &mut run.report;
        let mut files = PlannedFiles::default();
        for part in parts {
            let n = files.add_manifest(part.key.clone(), part.chunk_size, part.prefix.clone());
            for (place, tablet) in part.tables.tablets() {
                if let Err(e) = files.add_tablet(n, place.table, tablet) {
                    report.problems.push(problem_of(&e, None, Vec::new()));
                    return;
                }
            }
        }
        // Each manifest locates its chunks through its own indexes, as a restore does: the chunks each index
        // locates, one after another, and where each index's start and end. One manifest alone (a window of a
        // paged one) reads its indexes as a restore's windows do: from where the previous window's chunks
        // ended, stopping once every chunk is located (the indexes no window read are read at the end,
        // [`VerifyRun::read_unread_indexes`]); several are each read whole.
        let needed = match files.needed() {
            Ok(n) => n,
            Err(e) => {
                report.problems.push(problem_of(&e, None, Vec::new()));
                return;
            }
        };
        let mut packs = PackIds::default();
        let mut located: Vec<Located> = Vec::new();
        let mut loaded: HashMap<ContentHash, Option<(usize, usize)>> = HashMap::new();
        let single = parts.len() == 1;
        let mut found = vec![false; if single { needed.len() } else { 0 }];
        let mut left = needed.len();
        for part in parts {
            let start = if single { run.scan_from.get(&part.key).copied().unwrap_or(0) } else { 0 };
            let n = part.indexes.len();
            let mut furthest = Vec::new();
            for at in (start.min(n)..n).chain(0..start.min(n)) {
                if single && left == 0 {
                    break;
                }
                let id = &part.indexes[at];
                if loaded.contains_key(id) {
                    continue;
                }
                run.indexes_read.insert(*id);
                let mut failed = None;
                let scan = Scan {
                    stop_when_all_found: false,
                    start: 0,
                    failed: &mut |_, e| {
                        failed = Some(e);
                        Ok(())
                    },
                };
                match (load_locations(repo, std::slice::from_ref(id), &needed, &mut packs, scan), failed) {
                    (Ok((l, _)), None) => {
                        if single {
                            for c in &l {
                                if !std::mem::replace(&mut found[c.chunk as usize], true) {
                                    left -= 1;
                                }
                            }
                            if !l.is_empty() {
                                furthest.push(at as u32);
                            }
                        }
                        loaded.insert(*id, Some((located.len(), located.len() + l.len())));
                        located.extend(l);
                    }
                    (Ok(_), Some(e)) | (Err(e), _) => {
                        let e = if e.object().is_some() { e } else { e.with_object(format::index_key(id)) };
                        report.problems.push(problem_of(&e, None, Vec::new()));
                        loaded.insert(*id, None);
                    }
                };
            }
            if single {
                run.scan_from.insert(part.key.clone(), next_start(start, &furthest));
            }
        }
        let locate = |located: &[Located], fi: usize, chunk: u32| {
            parts[files.manifest_number(fi)].indexes.iter().find_map(|id| {
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

        // Packs: present, long enough, and (unless quick) their footers agree with the indexes. A pack with a
        // problem of its own is named once, by the first window that needs it.
        let mut by_pack = plan.by_pack();
        let mut bad_packs = HashSet::new();
        by_pack.retain(|(pack, _)| {
            let bad = run.packs.get(pack) == Some(&None);
            if bad {
                bad_packs.insert(*pack);
            }
            !bad
        });
        let known = &run.packs;
        let pack_results: Vec<(ContentHash, Vec<Problem>, Option<u64>)> = self.pool.install(|| {
            by_pack
                .par_iter()
                .map(|(pack, slots)| {
                    let known = known.get(pack).copied().flatten();
                    let (problems, size) = check_pack(repo, pack, known, &plan, slots, &files_of, quick);
                    (*pack, problems, size)
                })
                .collect()
        });
        for (pack, problems, size) in pack_results {
            if size.is_none() {
                bad_packs.insert(pack);
            }
            run.packs.insert(pack, size);
            run.report.problems.extend(problems);
        }
        let report = &mut run.report;
        if quick {
            report.chunks += plan.slot_count() as u64;
            return;
        }
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
}

/// The pack-level problems of `pack`: missing, shorter than its chunks reach, or (unless `quick`) a footer
/// that cannot be read or does not list a chunk the indexes locate in it.
fn check_pack(
    repo: &dyn Repository,
    pack: &ContentHash,
    known: Option<u64>,
    plan: &ChunkPlan,
    slots: &[u32],
    files_of: &(dyn Fn(usize) -> Vec<String> + Sync),
    quick: bool,
) -> (Vec<Problem>, Option<u64>) {
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
    let size = match known.map_or_else(|| repo.size(&key), |s| Ok(Some(s))) {
        Ok(Some(s)) => s,
        Ok(None) => return (vec![problem(None, all_files(), "pack is missing".into())], None),
        Err(e) => return (vec![problem(None, all_files(), format!("cannot read: {e}"))], None),
    };
    let end = slots.iter().map(|&s| plan.slot(s as usize).end()).max();
    let end = end.unwrap_or(0);
    if size < end {
        return (
            vec![problem(None, all_files(), format!("pack is truncated: {size} bytes, chunks reach {end}"))],
            None,
        );
    }
    if quick {
        return (Vec::new(), Some(size));
    }
    match read_pack_footer(repo, pack, size) {
        Ok(mut footer) => {
            // Sorted in place and searched: a set of the same entries would take twice the footer's memory
            // again, on every thread checking a pack.
            footer.sort_unstable_by_key(|e| e.hash);
            let listed = |entry: &ChunkEntry| {
                let from = footer.partition_point(|e| e.hash < entry.hash);
                footer[from..].iter().take_while(|e| e.hash == entry.hash).any(|e| e == entry)
            };
            let problems = slots
                .iter()
                .filter(|&&s| !listed(&plan.entry(s as usize)))
                .map(|&s| {
                    problem(
                        Some(plan.hash(s as usize)),
                        files_of(s as usize),
                        "the pack's footer does not list this chunk as the index does".into(),
                    )
                })
                .collect();
            (problems, Some(size))
        }
        Err(e) => (vec![problem(None, all_files(), format!("footer: {e}"))], None),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::{MemoryRepository, PutMode};

    #[test]
    fn a_problem_two_windows_found_is_named_once_with_the_files_of_both() {
        let chunk = Some(ContentHash::of(b"c"));
        let problem = |object: &str, message: &str, files: &[&str]| Problem {
            object: object.into(),
            chunk,
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            message: message.into(),
        };
        let mut run = VerifyRun::default();
        run.report.problems = vec![
            problem("packs/b", "crc32c mismatch", &["w2: t 2 f"]),
            problem("packs/a", "crc32c mismatch", &["w1: t 1 f", "w1: t 3 f"]),
            problem("packs/b", "crc32c mismatch", &["w1: t 1 f"]),
            problem("packs/b", "pack is truncated", &["w1: t 1 f"]),
            problem("packs/b", "crc32c mismatch", &["w1: t 1 f"]),
        ];
        let report = run.finish();
        assert_eq!(
            report.problems,
            [
                problem("packs/a", "crc32c mismatch", &["w1: t 1 f", "w1: t 3 f"]),
                problem("packs/b", "crc32c mismatch", &["w1: t 1 f", "w2: t 2 f"]),
                problem("packs/b", "pack is truncated", &["w1: t 1 f"]),
            ]
        );
    }

    #[test]
    fn an_index_no_window_read_is_still_read_and_its_damage_named_once() {
        let repo = MemoryRepository::new();
        let ids = format::IdHasher::new(repo.hash_key());
        let good = format::Index { packs: Vec::new() }.encode().unwrap();
        let good_id = ids.hash(&good);
        repo.put(&format::index_key(&good_id), &good, PutMode::CreateIfAbsent).unwrap();
        let mut bad = good.clone();
        bad[3] ^= 1;
        let bad_id = ids.hash(&good.repeat(2));
        repo.put(&format::index_key(&bad_id), &bad, PutMode::CreateIfAbsent).unwrap();
        let missing = ids.hash(b"none");
        let mut run = VerifyRun::default();
        run.read_unread_indexes(&repo, &[good_id, bad_id, missing]);
        run.read_unread_indexes(&repo, &[bad_id, missing]);
        let objects: Vec<String> = run.report.problems.iter().map(|p| p.object.clone()).collect();
        assert_eq!(objects, [format::index_key(&bad_id), format::index_key(&missing)]);
    }
}
