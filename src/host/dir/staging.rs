//! The directory host's restore staging and its crash-safe commit.
//!
//! A restore job stages its tablets under `DATA/<db>/.restore-<job>-<random>/`, a directory it creates itself
//! (mode 0700, never through an existing name) and holds an exclusive `flock` on (`.lock` inside it) for as long
//! as the job lives. Committing a table:
//! - a table that does not exist yet is renamed into place whole: one `rename`, atomic;
//! - a table that exists gets a journal first (`commit-<table>.json` in the staging directory: the partitions
//!   to move, written to a temporary name, synced and renamed), then each partition is moved into place, the
//!   partition it replaces moved into the staging directory, and finally the journal and the staging remains
//!   are removed. The journal is the commit point: a crash before it leaves the table as it was, a crash after
//!   it is rolled forward by the next start. A new description of the table (RESTORE properties) travels in
//!   the journal and is written as its last step;
//! - `atomic_restore` ([`replace_table`]): the staged table and the existing one are exchanged in one
//!   `renameat2(RENAME_EXCHANGE)`; the replaced table, now in the staging directory, goes with it.
//!
//! Dropping a table or a partition (`clean_tables`, `clean_partitions`, [`drop_dir`]) moves it into the
//! staging directory first, then removes it: after a crash it is either in place or gone at the next start.
//!
//! [`recover`] runs when a [`super::DirHost`] is created, and [`recover_db`] when a restore job stages its
//! first tablet in a database: every staging directory whose lock no live process holds is rolled forward (its
//! journals) and removed. Only names this module creates are ever removed, and
//! never through a symlink.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::{Error, ErrorKind, Result};

/// Prefix of staging directories in a database directory.
pub(super) const STAGING_PREFIX: &str = ".restore-";
const LOCK: &str = ".lock";
const JOURNAL_PREFIX: &str = "commit-";
const TRASH_PREFIX: &str = "replaced-";
const DROPPED_PREFIX: &str = "dropped-";

/// A staging directory of a live job: its path and the lock that says so.
#[derive(Debug)]
pub(super) struct Staging {
    pub dir: PathBuf,
    _lock: File,
}

/// What a committed table's journal records.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    table: String,
    partitions: Vec<String>,
    /// The table's new description, written as the last step (RESTORE properties of an existing table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// Stops the process at a named point of the commit when `TABSNAP_TEST_PAUSE_AT` names it: it prints
/// `tabsnap: paused at <point>` on standard error and waits to be killed. A test hook for crash tests.
pub(super) fn pause_point(point: &str) {
    if std::env::var("TABSNAP_TEST_PAUSE_AT").is_ok_and(|p| p == point) {
        eprintln!("tabsnap: paused at {point}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), e)
}

/// Whether `path` is a real directory (not a link to one).
fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("syncing", dir, e))
}

fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{:?} {} {} {:p}",
        std::time::SystemTime::now(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &COUNTER
    );
    blake3::hash(seed.as_bytes()).to_hex()[..16].to_owned()
}

/// Creates a new staging directory for `job` in `db_dir` and locks it.
pub(super) fn create(db_dir: &Path, job: u64) -> Result<Staging> {
    let dir = db_dir.join(format!("{STAGING_PREFIX}{job}-{}", random_suffix()));
    // mkdir never follows a link: a name planted in the way is an error, not a redirection.
    fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|e| io("creating", &dir, e))?;
    let lock_path = dir.join(LOCK);
    let lock =
        OpenOptions::new().write(true).create_new(true).open(&lock_path).map_err(|e| io("creating", &lock_path, e))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|e| io("locking", &lock_path, e.into()))?;
    Ok(Staging { dir, _lock: lock })
}

/// What a commit does with the table's description.
#[derive(Debug, Clone, Copy)]
pub(super) enum DescriptionUpdate<'a> {
    /// Written into a table that has none.
    IfAbsent(Option<&'a [u8]>),
    /// Written whatever the table has (an existing table's as the commit's last step, under its journal).
    Replace(&'a [u8]),
}

/// Makes the staged `table` visible in `db_dir`, atomically as seen after any crash and the next start.
pub(super) fn commit_table(db_dir: &Path, staging: &Path, table: &str, update: DescriptionUpdate<'_>) -> Result<()> {
    let description = match update {
        DescriptionUpdate::IfAbsent(d) => d,
        DescriptionUpdate::Replace(d) => Some(d),
    };
    let staged = staging.join(table);
    let final_dir = db_dir.join(table);
    if !is_real_dir(&staged) {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("nothing staged for table {table} in {}", staging.display()),
        ));
    }
    pause_point("commit-start");
    match fs::symlink_metadata(&final_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(d) = description {
                write_synced(&staged.join(super::DESCRIPTION), d)?;
            }
            sync_dir(&staged)?;
            fs::rename(&staged, &final_dir).map_err(|e| io("moving into place", &final_dir, e))?;
            sync_dir(db_dir)?;
            pause_point("commit-renamed");
            Ok(())
        }
        Err(e) => Err(io("checking", &final_dir, e)),
        Ok(m) if !m.is_dir() || m.file_type().is_symlink() => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{} is not a directory; restore does not replace it", final_dir.display()),
        )),
        Ok(_) => {
            let desc_path = final_dir.join(super::DESCRIPTION);
            let mut new_description = None;
            match update {
                DescriptionUpdate::IfAbsent(Some(d)) if !desc_path.exists() => write_synced(&desc_path, d)?,
                DescriptionUpdate::IfAbsent(_) => {}
                DescriptionUpdate::Replace(d) => new_description = Some(String::from_utf8_lossy(d).into_owned()),
            }
            let partitions = super::visible_dirs(&staged)?;
            let journal = Journal { table: table.to_owned(), partitions, description: new_description };
            let body = serde_json::to_vec(&journal)
                .map_err(|e| Error::new(ErrorKind::Io, format!("cannot encode the restore journal: {e}")))?;
            write_synced(&staging.join(format!("{JOURNAL_PREFIX}{table}.json")), &body)?;
            sync_dir(staging)?;
            pause_point("commit-journaled");
            roll_forward(db_dir, staging, &journal)
        }
    }
}

/// Replaces the table `table` of `db_dir` whole by the staged one, in one atomic exchange of the two
/// directories (`renameat2(RENAME_EXCHANGE)`); the replaced table, then in the staging directory, is removed.
/// A table that does not exist yet is committed as [`commit_table`] does. `description` becomes the table's.
pub(super) fn replace_table(db_dir: &Path, staging: &Path, table: &str, description: Option<&[u8]>) -> Result<()> {
    let staged = staging.join(table);
    let final_dir = db_dir.join(table);
    match fs::symlink_metadata(&final_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return commit_table(db_dir, staging, table, DescriptionUpdate::IfAbsent(description));
        }
        Err(e) => return Err(io("checking", &final_dir, e)),
        Ok(m) if !m.is_dir() || m.file_type().is_symlink() => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{} is not a directory; restore does not replace it", final_dir.display()),
            ));
        }
        Ok(_) => {}
    }
    if !is_real_dir(&staged) {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("nothing staged for table {table} in {}", staging.display()),
        ));
    }
    if let Some(d) = description {
        write_synced(&staged.join(super::DESCRIPTION), d)?;
    }
    sync_dir(&staged)?;
    pause_point("replace-start");
    rustix::fs::renameat_with(rustix::fs::CWD, &staged, rustix::fs::CWD, &final_dir, rustix::fs::RenameFlags::EXCHANGE)
        .map_err(|e| io("exchanging the restored table with", &final_dir, e.into()))?;
    sync_dir(db_dir)?;
    sync_dir(staging)?;
    pause_point("replace-exchanged");
    // The staged name now holds the replaced table; a crash from here leaves it to the next start's recovery.
    remove_tree(&staged)
}

/// Creates view `view` in `db_dir` with the description `bytes`, or replaces the description of the view of
/// that name: a new view is made in `staging` and renamed into place, an existing one's description replaced
/// through a synced temporary file; either is one atomic step.
pub(super) fn create_view(db_dir: &Path, staging: &Path, view: &str, bytes: &[u8]) -> Result<()> {
    let final_dir = db_dir.join(view);
    match fs::symlink_metadata(&final_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let staged = staging.join(view);
            fs::DirBuilder::new().mode(0o700).create(&staged).map_err(|e| io("creating", &staged, e))?;
            write_synced(&staged.join(super::DESCRIPTION), bytes)?;
            sync_dir(&staged)?;
            fs::rename(&staged, &final_dir).map_err(|e| io("moving into place", &final_dir, e))?;
            sync_dir(db_dir)
        }
        Err(e) => Err(io("checking", &final_dir, e)),
        Ok(m) if !m.is_dir() || m.file_type().is_symlink() => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{} is not a directory; restore does not replace it", final_dir.display()),
        )),
        Ok(_) => write_synced(&final_dir.join(super::DESCRIPTION), bytes),
    }
}

/// Moves `path` (a table or a partition directory) out of the way into `staging` under `name`, then removes
/// it: a crash leaves it either in place or in the staging directory, which the next start removes.
pub(super) fn drop_dir(path: &Path, staging: &Path, name: &str) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("checking", path, e)),
        Ok(m) if !m.is_dir() || m.file_type().is_symlink() => {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("{} is not a directory", path.display())));
        }
        Ok(_) => {}
    }
    let aside = staging.join(format!("{DROPPED_PREFIX}{name}"));
    remove_tree(&aside)?;
    fs::rename(path, &aside).map_err(|e| io("moving aside", path, e))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    remove_tree(&aside)
}

/// Writes `path` through a temporary name, synced, then renamed into place (a link at either name is replaced,
/// never written through).
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| io("writing", path, e))
}

/// Moves a journaled table's partitions into place; every step can be repeated after a crash.
fn roll_forward(db_dir: &Path, staging: &Path, journal: &Journal) -> Result<()> {
    let final_dir = db_dir.join(&journal.table);
    for (i, p) in journal.partitions.iter().enumerate() {
        if !crate::format::limits::is_safe_component(p) {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("restore journal names partition {p:?}")));
        }
        let src = staging.join(&journal.table).join(p);
        let dst = final_dir.join(p);
        let trash = staging.join(format!("{TRASH_PREFIX}{}-{p}", journal.table));
        if !is_real_dir(&src) {
            continue; // already moved
        }
        if fs::symlink_metadata(&dst).is_ok() && fs::symlink_metadata(&trash).is_err() {
            fs::rename(&dst, &trash).map_err(|e| io("moving aside", &dst, e))?;
        }
        fs::rename(&src, &dst).map_err(|e| io("moving into place", &dst, e))?;
        if i == 0 {
            pause_point("commit-first-partition");
        }
    }
    if let Some(d) = &journal.description {
        write_synced(&final_dir.join(super::DESCRIPTION), d.as_bytes())?;
    }
    sync_dir(&final_dir)?;
    let journal_path = staging.join(format!("{JOURNAL_PREFIX}{}.json", journal.table));
    fs::remove_file(&journal_path).map_err(|e| io("removing", &journal_path, e))?;
    sync_dir(staging)?;
    for p in &journal.partitions {
        remove_tree(&staging.join(format!("{TRASH_PREFIX}{}-{p}", journal.table)))?;
    }
    remove_tree(&staging.join(&journal.table))
}

/// Whether the commit of `table` was journaled in `staging` (it is then finished by the next start, never
/// undone).
pub(super) fn is_journaled(staging: &Path, table: &str) -> bool {
    staging.join(format!("{JOURNAL_PREFIX}{table}.json")).exists()
}

/// Removes `path` and what is below it, never following a link (a link itself is removed, not its target).
pub(super) fn remove_tree(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("checking", path, e)),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(|e| io("removing", path, e)),
        Ok(_) => fs::remove_file(path).map_err(|e| io("removing", path, e)),
    }
}

/// Removes a staging directory once no table is left in it (its lock goes with it).
pub(super) fn remove_if_done(staging: &Path) -> Result<()> {
    let left = fs::read_dir(staging)
        .map_err(|e| io("listing", staging, e))?
        .filter_map(|e| e.ok())
        .any(|e| e.file_name() != LOCK);
    if left { Ok(()) } else { remove_tree(staging) }
}

/// Rolls forward or removes the staging directories of dead jobs under `root` (every database directory), and
/// returns what it did, one line each.
pub(super) fn recover(root: &Path) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for db in super::visible_dirs(root)? {
        done.extend(recover_db(&db, &root.join(&db))?);
    }
    Ok(done)
}

/// [`recover`] for the database `db` in `db_dir`.
pub(super) fn recover_db(db: &str, db_dir: &Path) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let Ok(entries) = fs::read_dir(db_dir) else { return Ok(done) };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = db_dir.join(&name);
        if !name.starts_with(STAGING_PREFIX) || !is_real_dir(&dir) {
            continue;
        }
        // A live job holds the lock; a dead one's lock went with its process.
        if let Ok(lock) = OpenOptions::new().write(true).open(dir.join(LOCK))
            && rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err()
        {
            continue;
        }
        for j in fs::read_dir(&dir).map_err(|e| io("listing", &dir, e))?.filter_map(|e| e.ok()) {
            let jname = j.file_name().to_string_lossy().into_owned();
            if !(jname.starts_with(JOURNAL_PREFIX) && jname.ends_with(".json")) {
                continue;
            }
            let bytes = fs::read(j.path()).map_err(|e| io("reading", &j.path(), e))?;
            let journal: Journal = serde_json::from_slice(&bytes)
                .map_err(|e| Error::new(ErrorKind::Io, format!("restore journal {}: {e}", j.path().display())))?;
            if !crate::format::limits::is_safe_component(&journal.table) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("restore journal {} names table {:?}", j.path().display(), journal.table),
                ));
            }
            roll_forward(db_dir, &dir, &journal)?;
            done.push(format!("completed the interrupted restore of {db}.{} ({})", journal.table, dir.display()));
        }
        remove_tree(&dir)?;
        done.push(format!("removed the staging directory of a dead restore: {}", dir.display()));
    }
    Ok(done)
}
