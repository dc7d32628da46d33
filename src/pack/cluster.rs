//! Backups that several nodes run. Each node packs the tablets it holds and uploads its packs and index straight
//! to the shared repository (the object store is the only thing the nodes share), then leaves its share of the
//! manifest as a part object, `parts/<label>/<timestamp>/<node>`. The coordinator merges the parts and writes the
//! one manifest last: until then there is no snapshot, and a node that failed can be run again (elsewhere) with
//! the same label and timestamp, uploading only what is missing.

use std::collections::BTreeSet;

use crate::format::{self, Manifest, PAGE_BODY_TARGET};
use crate::repo::{PutMode, PutOutcome, Repository};
use crate::store;
use crate::tree::Tree;
use crate::{Error, ErrorKind, Result};

/// Prefix of part objects.
pub const PARTS_PREFIX: &str = "parts/";

/// The key of node `node`'s part of snapshot `label` at `timestamp`.
pub fn part_key(label: &str, timestamp: &str, node: &str) -> String {
    format!("{PARTS_PREFIX}{label}/{timestamp}/{node}")
}

/// Stores a node's share of a backup (from [`crate::pack::Packer::backup_part`]). Running the node again
/// replaces its part. Under a shared lock, after checking that every index and pack the part needs exists.
///
/// # Errors
/// Repository errors; [`ErrorKind::NotFound`] when something the part needs is gone (run the node again).
pub fn write_part(repo: &dyn Repository, node: &str, part: &Manifest) -> Result<()> {
    let key = part_key(&part.label, &part.timestamp, node);
    crate::pack::check_relative_path(&key)
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("node name {node:?} cannot name a part")))?;
    store::with_shared_lock(repo, "backup part", |lock| {
        // A part keeps its indexes and pages from garbage collection: it may name only what is still there.
        lock.gate()?;
        store::check_manifest(repo, part)?;
        store::write_manifest(repo, &key, part, PutMode::Overwrite, PAGE_BODY_TARGET).map(|_| ())
    })
}

/// The parts stored for snapshot `label` at `timestamp`, by node.
///
/// # Errors
/// Repository, format and corruption errors.
pub fn read_parts(repo: &dyn Repository, label: &str, timestamp: &str) -> Result<Vec<(String, Manifest)>> {
    let prefix = format!("{PARTS_PREFIX}{label}/{timestamp}/");
    let mut out = Vec::new();
    for obj in repo.list(&prefix)? {
        let node = obj.key[prefix.len()..].to_owned();
        out.push((node, store::read_manifest(repo, &obj.key)?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Removes every part stored for snapshot `label` at `timestamp`: a coordinated backup that failed leaves
/// none behind. Returns how many were removed.
///
/// # Errors
/// Repository errors.
pub fn discard_parts(repo: &dyn Repository, label: &str, timestamp: &str) -> Result<usize> {
    let prefix = format!("{PARTS_PREFIX}{label}/{timestamp}/");
    store::with_shared_lock(repo, "discarding parts", |_| {
        let parts = repo.list(&prefix)?;
        for obj in &parts {
            repo.delete(&obj.key)?;
        }
        Ok(parts.len())
    })
}

/// Merges the parts of one snapshot into its manifest. A tablet that several parts hold (a node run twice) is
/// taken once.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`] when the parts disagree on the database, label, timestamp or chunk size, or
/// when there are none.
pub fn merge_parts(parts: &[Manifest]) -> Result<Manifest> {
    let first = parts.first().ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "no part to merge"))?;
    let mut merged = Manifest { tables: Tree::new(), indexes: Vec::new(), ..first.clone() };
    let mut indexes = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for p in parts {
        if (&p.database, &p.label, &p.timestamp, p.chunk_size)
            != (&first.database, &first.label, &first.timestamp, first.chunk_size)
        {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "parts disagree: {}/{}/{} chunk {} vs {}/{}/{} chunk {}",
                    p.database,
                    p.label,
                    p.timestamp,
                    p.chunk_size,
                    first.database,
                    first.label,
                    first.timestamp,
                    first.chunk_size
                ),
            ));
        }
        indexes.extend(p.indexes.iter().copied());
        merged.created_ms = merged.created_ms.min(p.created_ms);
        if merged.host_metadata.is_empty() {
            merged.host_metadata.clone_from(&p.host_metadata);
        }
        for (place, ix) in p.tables.indexes() {
            let index = merged.tables.index_at(place);
            for tb in &ix.tablets {
                if seen.insert((place.table, place.partition, place.index, tb.id.as_str())) {
                    index.tablets.push(tb.clone());
                }
            }
        }
    }
    merged.indexes = indexes.into_iter().collect();
    Ok(merged)
}

/// Commits a snapshot that several nodes stored: checks that every node in `nodes` left its part, merges the
/// parts, writes the manifest (create-if-absent: the commit point) and removes the parts.
///
/// # Errors
/// [`ErrorKind::NotFound`] naming the nodes whose part is missing; [`ErrorKind::AlreadyExists`] when the
/// snapshot exists; repository errors.
pub fn commit_parts(repo: &dyn Repository, label: &str, timestamp: &str, nodes: &[String]) -> Result<Manifest> {
    store::with_shared_lock(repo, "commit", |lock| {
        let parts = read_parts(repo, label, timestamp)?;
        let missing: Vec<&String> = nodes.iter().filter(|n| !parts.iter().any(|(p, _)| p == *n)).collect();
        if !missing.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("snapshot {label} {timestamp}: no part from node(s) {missing:?}"),
            ));
        }
        let chosen: Vec<Manifest> = parts.iter().filter(|(n, _)| nodes.contains(n)).map(|(_, m)| m.clone()).collect();
        let manifest = merge_parts(&chosen)?;
        lock.gate()?;
        store::check_manifest(repo, &manifest)?;
        let key = format::manifest_key(label, timestamp);
        match store::write_manifest(repo, &key, &manifest, PutMode::CreateIfAbsent, PAGE_BODY_TARGET)?.0 {
            PutOutcome::Written => {}
            PutOutcome::AlreadyExists => {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("snapshot {label} with timestamp {timestamp} already exists"),
                )
                .with_object(key));
            }
        }
        for (node, _) in &parts {
            repo.delete(&part_key(label, timestamp, node))?;
        }
        Ok(manifest)
    })
}
