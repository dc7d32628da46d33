//! `tabsnap restore`: a snapshot into a directory, in the layout `tabsnap sql --data` reads
//! (`DIR/<db>/<table>/<partition>/[_rollup_<index>/]<tablet>/…`), all or nothing.
//!
//! The snapshot is restored into a temporary directory beside the target and moved into place only once every
//! byte is checked and synced: a failure leaves nothing behind. A non-empty target is refused, unless `--merge`
//! asks to add tables to it (a table that is there already is refused before anything is written).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use tabsnap::format::{self, TabletEntry};
use tabsnap::pack::{self, JobControl, Packer, Progress};
use tabsnap::store;
use tabsnap::tree::Place;
use tabsnap::{Error, ErrorKind};

use crate::common::{Output, StderrProgress, count, mb_per_s, open_location, report_error};
use crate::data::pick_snapshots;

/// What `tabsnap restore` was asked.
pub struct Request<'a> {
    pub location: &'a str,
    pub label: &'a str,
    pub timestamp: Option<String>,
    pub to: &'a Path,
    pub tables: &'a [String],
    pub merge: bool,
    pub threads: Option<usize>,
}

pub fn restore_command(req: &Request<'_>, output: Output) -> ExitCode {
    match restore(req, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report_error(&e, output.json, 1);
            ExitCode::from(1)
        }
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(what, e)
}

fn invalid(msg: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

/// `<table>/<partition>/[_rollup_<index>/]<tablet>`, as the directory host lays tablets out.
fn tablet_dir(place: Place<'_>, tablet: &TabletEntry) -> PathBuf {
    let mut dir = PathBuf::from(place.table).join(place.partition);
    if place.index != place.table {
        dir.push(format!("_rollup_{}", place.index));
    }
    dir.join(&tablet.id)
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// Checks the target before anything is written; returns whether it exists (empty, or with `--merge`).
fn check_target(to: &Path, db: &str, tables: &[&String], merge: bool) -> Result<bool, Error> {
    if is_link(to) {
        return Err(invalid(format!("{} is a symlink; restore does not write through links", to.display())));
    }
    let entries = match std::fs::read_dir(to) {
        Ok(d) => d.count(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(format!("reading {}", to.display()), e)),
    };
    if entries > 0 && !merge {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("{} is not empty; restore into a new or empty directory, or add --merge", to.display()),
        ));
    }
    let db_dir = to.join(db);
    if is_link(&db_dir) {
        return Err(invalid(format!("{} is a symlink; restore does not write through links", db_dir.display())));
    }
    if let Some(t) = tables.iter().find(|t| std::fs::symlink_metadata(db_dir.join(t)).is_ok()) {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("{} exists; --merge adds only tables that are not there", db_dir.join(t).display()),
        ));
    }
    Ok(true)
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(io(format!("syncing {}", dir.display())))
}

/// Moves the restored tables from `staging` into `to`, then removes `staging`.
fn publish(staging: &Path, to: &Path, db: &str, tables: &[&String], existed: bool) -> Result<(), Error> {
    if !existed {
        std::fs::rename(staging, to).map_err(io(format!("moving the restored snapshot to {}", to.display())))?;
        return sync_dir(to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")));
    }
    let db_dir = to.join(db);
    std::fs::create_dir_all(&db_dir).map_err(io(format!("creating {}", db_dir.display())))?;
    for t in tables {
        let (from, into) = (staging.join(db).join(t), db_dir.join(t));
        if from.exists() {
            std::fs::rename(&from, &into).map_err(io(format!("moving table {t} into {}", into.display())))?;
        }
    }
    sync_dir(&db_dir)?;
    std::fs::remove_dir_all(staging).map_err(io(format!("removing {}", staging.display())))
}

/// Raises this process's soft limit on open files to its hard limit (at most 2^20): a restore holds the
/// directories it writes in open while the limit allows, and walks to them file by file past it.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let target = limit.maximum.unwrap_or(u64::MAX).min(1 << 20);
    if limit.current.is_some_and(|c| c < target) {
        let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: limit.maximum });
    }
}

fn restore(req: &Request<'_>, output: Output) -> Result<(), Error> {
    raise_open_file_limit();
    let repo = open_location(req.location, false)?;
    // `latest` (or no timestamp): the label's newest backup, the last of its snapshots in timestamp order.
    // Only that snapshot's manifest is loaded (a label's manifests together would grow with its history).
    let timestamp = match req.timestamp.as_deref().filter(|t| !t.eq_ignore_ascii_case(pack::LATEST)) {
        Some(t) => Some(t.to_owned()),
        None => pack::list_snapshots(repo.as_ref())?.into_iter().rfind(|s| s.label == req.label).map(|s| s.timestamp),
    };
    // The manifest object alone: its tablets are read a window of pages at a time by the restore, and here
    // only the names of its tables.
    let snaps = pick_snapshots(repo.as_ref(), Some(req.label), timestamp.as_deref())?;
    let snap = snaps.last().ok_or_else(|| invalid("no snapshot to restore".into()))?;
    let (label, ts) = (snap.label.as_str(), snap.timestamp.as_str());
    let key = format::manifest_key(label, ts);
    let stored = pack::load_stored_manifest(repo.as_ref(), label, ts)?;
    let database = stored.database();
    let names = store::table_names(repo.as_ref(), &key, &stored)?;
    let tables: Vec<&String> = names.iter().filter(|t| req.tables.is_empty() || req.tables.contains(t)).collect();
    if let Some(missing) = req.tables.iter().find(|n| !names.contains(n)) {
        return Err(Error::new(ErrorKind::NotFound, format!("snapshot {label} has no table {missing}")));
    }
    let existed = check_target(req.to, database, &tables, req.merge)?;
    let parent = req.to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    let name = req.to.file_name().map_or_else(|| "restore".into(), |n| n.to_string_lossy().into_owned());
    let staging = parent.join(format!(".{name}.tabsnap-restore-{}", std::process::id()));
    if std::fs::symlink_metadata(&staging).is_ok() {
        std::fs::remove_dir_all(&staging).map_err(io(format!("removing {}", staging.display())))?;
    }
    let start = Instant::now();
    let result = (|| {
        let packer = Packer::builder().threads(req.threads.unwrap_or(0)).build()?;
        let root = staging.join(database);
        let target = |place: Place<'_>, tablet: &TabletEntry| {
            tables.iter().any(|x| *x == place.table).then(|| root.join(tablet_dir(place, tablet)))
        };
        let progress = StderrProgress::new(&format!("restore {}", req.label), output.quiet);
        let control =
            JobControl { progress: progress.clone().map(|p| p as Arc<dyn Progress>), ..JobControl::default() };
        let r = store::with_shared_lock(repo.as_ref(), "restore", |_| {
            packer.restore_stored(repo.as_ref(), &key, &stored, &target, &control)
        });
        if let Some(p) = progress {
            p.finish();
        }
        let r = r?;
        publish(&staging, req.to, database, &tables, existed)?;
        Ok(r)
    })();
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let secs = start.elapsed().as_secs_f64();
    if output.json {
        outln!(
            "{}",
            serde_json::json!({
                "snapshot": label, "timestamp": ts, "database": database, "to": req.to.display().to_string(),
                "tables": tables, "files": r.files, "bytes": r.bytes,
                "bytes_read": r.bytes_read, "reads": r.reads, "seconds": secs,
            })
        );
        return Ok(());
    }
    outln!(
        "restored {} {} ({}) into {}: {}, {} bytes in {secs:.2} s ({:.1} MB/s), {} bytes read in {} reads",
        label,
        ts,
        database,
        req.to.join(database).display(),
        count(r.files, "file"),
        r.bytes,
        mb_per_s(r.bytes, secs),
        r.bytes_read,
        r.reads
    );
    Ok(())
}
