//! `tabsnap backup`: a directory tree of tablets into a repository.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tabsnap::host::DirHost;
use tabsnap::job::JobState;
use tabsnap::repo::Repository;
use tabsnap::{Engine, Outcome, Session};

use tabsnap::pack::{self, BackupSource, BackupSummary, JobControl, Progress, TabletSource};
use tabsnap::tree::{Place, Tree};
use tabsnap::{Error, ErrorKind};

use crate::common::{Output, StderrProgress, Tuning, count, mb_per_s, open_location, report_error};

/// What a backup reports, from either mode.
struct Done {
    label: String,
    timestamp: String,
    files: u64,
    bytes: u64,
    /// Packer counters (the --depth mode).
    packer: Option<BackupSummary>,
}

pub fn backup_command(
    location: &str,
    label: &str,
    data: &Path,
    db: &str,
    depth: Option<usize>,
    tuning: &Tuning,
    output: Output,
) -> ExitCode {
    let start = Instant::now();
    let done = match depth {
        Some(depth) => tree_backup(location, label, data, db, depth, tuning, output),
        None => database_backup(location, label, data, db, tuning, output),
    };
    let secs = start.elapsed().as_secs_f64();
    match done {
        Ok(d) if output.json => {
            let mut v = serde_json::json!({
                "snapshot": d.label, "timestamp": d.timestamp, "database": db, "files": d.files, "bytes": d.bytes,
                "seconds": secs,
            });
            if let Some(s) = &d.packer {
                v["chunks_new"] = s.chunks_new.into();
                v["chunks_reused"] = s.chunks_reused.into();
                v["packs"] = s.packs_written.into();
                v["bytes_uploaded"] = s.bytes_uploaded.into();
            }
            outln!("{v}");
            ExitCode::SUCCESS
        }
        Ok(d) => {
            let mut line = format!(
                "snapshot {} {}: {}, {} bytes in {secs:.2} s ({:.1} MB/s, {:.0} files/s)",
                d.label,
                d.timestamp,
                count(d.files, "file"),
                d.bytes,
                mb_per_s(d.bytes, secs),
                d.files as f64 / secs.max(1e-9),
            );
            if let Some(s) = &d.packer {
                line.push_str(&format!(
                    "; {} new, {} reused, {}, {} bytes uploaded",
                    count(s.chunks_new, "chunk"),
                    s.chunks_reused,
                    count(s.packs_written, "pack"),
                    s.bytes_uploaded
                ));
            }
            outln!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_error(&e, output.json, 1);
            ExitCode::from(1)
        }
    }
}

/// BACKUP SNAPSHOT `db`.`label` through the engine over the directory host, into the location attached as a
/// repository.
fn database_backup(
    location: &str,
    label: &str,
    data: &Path,
    db: &str,
    tuning: &Tuning,
    output: Output,
) -> Result<Done, Error> {
    let repo: Arc<dyn Repository> = Arc::from(open_location(location, true)?);
    let host = DirHost::new(data)?;
    let engine = Engine::builder(Arc::new(host))
        .threads(tuning.threads.unwrap_or(0))
        .compression(tuning.compression)
        .zstd_level(tuning.zstd_level)
        .build()?;
    engine.attach_repository("location", repo, false)?;
    let quote = |s: &str| format!("`{}`", s.replace('`', "``"));
    let sql = format!("BACKUP SNAPSHOT {}.{} TO location", quote(db), quote(label));
    let Some(Outcome::Job(id)) = engine.execute(&Session::new("root", Some(db)), &sql)?.pop() else {
        return Err(Error::new(ErrorKind::Io, "BACKUP started no job (internal error)"));
    };
    let job = if output.quiet {
        engine.wait(id, Duration::from_secs(u64::MAX / 4))?
    } else {
        crate::statements::follow(&engine, id)
    };
    if job.state != JobState::Finished {
        let kind = job.error_kind.unwrap_or(ErrorKind::Io);
        return Err(Error::new(kind, job.error.unwrap_or_else(|| format!("the backup ended {}", job.state.name()))));
    }
    Ok(Done {
        label: job.label,
        timestamp: job.timestamp,
        files: job.files_total,
        bytes: job.bytes_total,
        packer: None,
    })
}

/// The --depth mode: any tree of tablet directories, packed directly.
fn tree_backup(
    location: &str,
    label: &str,
    data: &Path,
    db: &str,
    depth: usize,
    tuning: &Tuning,
    output: Output,
) -> Result<Done, Error> {
    let repo = open_location(location, true)?;
    let repo = repo.as_ref();
    pack::init_repository(repo)?;
    let source = tree_source(data, db, depth.max(1))?;
    let packer = tuning.packer()?;
    let progress = StderrProgress::new(&format!("backup {label}"), output.quiet);
    let control = JobControl { progress: progress.clone().map(|p| p as Arc<dyn Progress>), ..JobControl::default() };
    let s = packer.backup(repo, &source, label, &control);
    if let Some(p) = progress {
        p.finish();
    }
    let s = s?;
    Ok(Done { label: s.label.clone(), timestamp: s.timestamp.clone(), files: s.files, bytes: s.bytes, packer: Some(s) })
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
    let mut tree = Tree::new();
    for (name, mut tablets) in tables {
        tablets.sort_by(|a, b| a.id.cmp(&b.id));
        tree.index_at(Place { table: &name, partition: &name, index: &name }).tablets = tablets;
    }
    let tables = tree;
    BackupSource { database: db.into(), tables, host_metadata: Vec::new(), metadata_only: false, views: Vec::new() }
}
