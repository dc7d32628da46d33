//! `tabsnap backup`: a directory tree of tablets into a repository.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use tabsnap::pack::{
    self, BackupSource, BackupSummary, IndexSource, JobControl, PartitionSource, Progress, TableSource, TabletSource,
};
use tabsnap::{Error, ErrorKind};

use crate::common::{Output, StderrProgress, Tuning, count, mb_per_s, open_location, report_error};

pub fn backup_command(
    location: &str,
    label: &str,
    data: &Path,
    db: &str,
    depth: usize,
    tuning: &Tuning,
    output: Output,
) -> ExitCode {
    let run = || -> Result<(BackupSummary, f64), Error> {
        let repo = open_location(location, true)?;
        let repo = repo.as_ref();
        pack::init_repository(repo)?;
        let source = tree_source(data, db, depth.max(1))?;
        let packer = tuning.packer()?;
        let start = Instant::now();
        let progress = StderrProgress::new(&format!("backup {label}"), output.quiet);
        let control =
            JobControl { progress: progress.clone().map(|p| p as Arc<dyn Progress>), ..JobControl::default() };
        let s = packer.backup(repo, &source, label, &control);
        if let Some(p) = progress {
            p.finish();
        }
        Ok((s?, start.elapsed().as_secs_f64()))
    };
    match run() {
        Ok((s, secs)) if output.json => {
            outln!(
                "{}",
                serde_json::json!({
                    "snapshot": s.label, "timestamp": s.timestamp, "files": s.files, "bytes": s.bytes,
                    "chunks_new": s.chunks_new, "chunks_reused": s.chunks_reused, "packs": s.packs_written,
                    "bytes_uploaded": s.bytes_uploaded, "seconds": secs,
                })
            );
            ExitCode::SUCCESS
        }
        Ok((s, secs)) => {
            outln!(
                "snapshot {} {}: {}, {} bytes in {secs:.2} s ({:.1} MB/s, {:.0} files/s); {} new, {} reused, {}, {} bytes uploaded",
                s.label,
                s.timestamp,
                count(s.files, "file"),
                s.bytes,
                mb_per_s(s.bytes, secs),
                s.files as f64 / secs.max(1e-9),
                count(s.chunks_new, "chunk"),
                s.chunks_reused,
                count(s.packs_written, "pack"),
                s.bytes_uploaded
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_error(&e, output.json, 1);
            ExitCode::from(1)
        }
    }
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
