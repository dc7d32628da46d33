//! The data commands over a repository location: backup, snapshots, restore, verify.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use tabsnap::pack::{self, BackupSource, IndexSource, JobControl, Packer, PartitionSource, TableSource, TabletSource};
use tabsnap::repo::Repository;
use tabsnap::store;
use tabsnap::{Error, ErrorKind};

use crate::common::{Tuning, mb_per_s, open_location};

pub fn backup_command(
    location: &str,
    label: &str,
    data: &Path,
    db: &str,
    depth: usize,
    tuning: &Tuning,
) -> Result<(), Error> {
    let repo = open_location(location, true)?;
    let repo = repo.as_ref();
    pack::init_repository(repo)?;
    let source = tree_source(data, db, depth.max(1))?;
    let packer = tuning.packer()?;
    let start = Instant::now();
    let s = packer.backup(repo, &source, label, &JobControl::default())?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "snapshot {} {}: {} files, {} bytes in {secs:.2} s ({:.1} MB/s, {:.0} files/s); {} new chunks, {} reused, {} packs, {} bytes uploaded",
        s.label,
        s.timestamp,
        s.files,
        s.bytes,
        mb_per_s(s.bytes, secs),
        s.files as f64 / secs.max(1e-9),
        s.chunks_new,
        s.chunks_reused,
        s.packs_written,
        s.bytes_uploaded
    );
    Ok(())
}

/// Tablets are the directories `depth` levels below `data`; the components above name the table.
pub fn tree_source(data: &Path, db: &str, depth: usize) -> Result<BackupSource, Error> {
    let mut tables: std::collections::BTreeMap<String, Vec<TabletSource>> = Default::default();
    let mut level = vec![(data.to_path_buf(), Vec::<String>::new())];
    for _ in 0..depth {
        let mut next = Vec::new();
        for (dir, names) in level {
            let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
                if entry.file_type().map_err(|e| Error::io(format!("listing {}", dir.display()), e))?.is_dir() {
                    let mut n = names.clone();
                    n.push(entry.file_name().to_string_lossy().into_owned());
                    next.push((entry.path(), n));
                }
            }
        }
        level = next;
    }
    for (dir, mut names) in level {
        let tablet = names.pop().unwrap_or_default();
        let table = if names.is_empty() { "default".to_owned() } else { names.join("/") };
        tables.entry(table).or_default().push(TabletSource::new(tablet, dir));
    }
    if tables.is_empty() {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("no tablet directories {depth} levels below {}", data.display()),
        ));
    }
    Ok(source_of(db, tables))
}

/// A backup source of directory-mode tables: each table one partition and one (base) index, both named after
/// it, tablets sorted by id.
pub fn source_of(db: &str, tables: std::collections::BTreeMap<String, Vec<TabletSource>>) -> BackupSource {
    let tables = tables
        .into_iter()
        .map(|(name, mut tablets)| {
            tablets.sort_by(|a, b| a.id.cmp(&b.id));
            TableSource {
                name: name.clone(),
                partitions: vec![PartitionSource { name: name.clone(), indexes: vec![IndexSource { name, tablets }] }],
            }
        })
        .collect();
    BackupSource { database: db.into(), tables, host_metadata: Vec::new() }
}

pub fn snapshots_command(location: &str) -> Result<(), Error> {
    let repo = open_location(location, false)?;
    let snaps = pack::list_snapshots(repo.as_ref())?;
    println!("{:<40} {:<20} {:<20}", "Snapshot", "Timestamp", "Database");
    for s in snaps {
        let db = pack::load_manifest(repo.as_ref(), &s.label, &s.timestamp)
            .map_or_else(|e| format!("ERROR: {e}"), |m| m.database);
        println!("{:<40} {:<20} {:<20}", s.label, s.timestamp, db);
    }
    Ok(())
}

pub fn pick_manifests(
    repo: &dyn Repository,
    label: Option<&str>,
    timestamp: Option<&str>,
) -> Result<Vec<tabsnap::format::Manifest>, Error> {
    let snaps: Vec<_> = pack::list_snapshots(repo)?
        .into_iter()
        .filter(|s| label.is_none_or(|l| s.label == l) && timestamp.is_none_or(|t| s.timestamp == t))
        .collect();
    if snaps.is_empty() {
        let what = match (label, timestamp) {
            (Some(l), Some(t)) => format!("snapshot {l} with timestamp {t}"),
            (Some(l), None) => format!("snapshot {l}"),
            _ => "any snapshot".to_owned(),
        };
        return Err(Error::new(ErrorKind::NotFound, format!("{} has no {what}", repo.describe())));
    }
    snaps.iter().map(|s| pack::load_manifest(repo, &s.label, &s.timestamp)).collect()
}

pub fn restore_command(
    location: &str,
    label: &str,
    timestamp: Option<String>,
    to: &Path,
    tuning: &Tuning,
) -> Result<(), Error> {
    let repo = open_location(location, false)?;
    let manifests = pick_manifests(repo.as_ref(), Some(label), timestamp.as_deref())?;
    let Some(m) = manifests.last() else { return Ok(()) };
    let packer = tuning.packer()?;
    let start = Instant::now();
    // The manifest's names are single safe components (checked when it was decoded); the target directory is
    // the operator's, but a table directory in it must not be a link leading elsewhere.
    for t in &m.tables {
        let dir = to.join(&t.name);
        if std::fs::symlink_metadata(&dir).is_ok_and(|md| md.file_type().is_symlink()) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{} is a symlink; restore does not write through links", dir.display()),
            ));
        }
    }
    let target = |t: &tabsnap::format::TableEntry, _: &_, _: &_, tablet: &tabsnap::format::TabletEntry| {
        Some(to.join(&t.name).join(&tablet.id))
    };
    let r = store::with_shared_lock(repo.as_ref(), "restore", |_| {
        packer.restore(repo.as_ref(), m, &target, &JobControl::default())
    })?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "restored {} {} into {}: {} files, {} bytes in {secs:.2} s ({:.1} MB/s), {} bytes read in {} reads",
        m.label,
        m.timestamp,
        to.display(),
        r.files,
        r.bytes,
        mb_per_s(r.bytes, secs),
        r.bytes_read,
        r.reads
    );
    Ok(())
}

pub fn verify_command(location: &str, label: Option<String>, timestamp: Option<String>, quick: bool) -> ExitCode {
    let run = || -> Result<tabsnap::pack::VerifyReport, Error> {
        let repo = open_location(location, false)?;
        // Under a shared lock: no collection removes what is being checked.
        store::with_shared_lock(repo.as_ref(), "verify", |_| {
            // A manifest that cannot be read is a problem of its own; the other snapshots are still checked.
            let snaps: Vec<_> = pack::list_snapshots(repo.as_ref())?
                .into_iter()
                .filter(|s| label.as_ref().is_none_or(|l| &s.label == l))
                .filter(|s| timestamp.as_ref().is_none_or(|t| &s.timestamp == t))
                .collect();
            if snaps.is_empty() {
                pick_manifests(repo.as_ref(), label.as_deref(), timestamp.as_deref())?;
            }
            let mut manifests = Vec::new();
            let mut unreadable = Vec::new();
            for s in &snaps {
                match pack::load_manifest(repo.as_ref(), &s.label, &s.timestamp) {
                    Ok(m) => manifests.push(m),
                    Err(e) => unreadable.push(tabsnap::pack::Problem {
                        object: e
                            .object()
                            .map_or_else(|| format!("snapshots/{}/{}", s.label, s.timestamp), str::to_owned),
                        chunk: None,
                        files: Vec::new(),
                        message: e.message().to_owned(),
                    }),
                }
            }
            let mut report = Packer::builder().build()?.verify(repo.as_ref(), &manifests, quick)?;
            report.snapshots = snaps.len() as u64;
            report.problems.splice(0..0, unreadable);
            Ok(report)
        })
    };
    match run() {
        Ok(report) if report.is_ok() => {
            println!(
                "ok: {} snapshots, {} packs, {} chunks{}",
                report.snapshots,
                report.packs,
                report.chunks,
                if quick { " (quick: data not read)" } else { "" }
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            for p in &report.problems {
                println!("BAD {p}");
            }
            eprintln!("error: {} problems in {} snapshots", report.problems.len(), report.snapshots);
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
