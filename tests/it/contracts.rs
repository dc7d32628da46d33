//! The engine's promises to a host under failure, concurrency and shutdown: snapshots released on every path, a
//! committed backup stays committed, failures that do not change an outcome are reported beside it, repository
//! concurrency limits hold, and observers may call the engine back.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tabsnap::host::{DirHost, Host, HostFeature, Privilege, TableInfo, TabletInfo, TabletRef};
use tabsnap::job::{JobInfo, JobState};
use tabsnap::repo::{MemoryRepository, ObjectInfo, Properties, PutMode, PutOutcome, Repository};
use tabsnap::tree::Place;
use tabsnap::{Engine, Outcome, Session};

use crate::engine::{Gated, finish, job, make_data, one, root, rows};

/// A directory host that counts the tablets it snapshots and releases, and fails where it is told to.
struct Recording {
    inner: DirHost,
    taken: AtomicUsize,
    released: AtomicUsize,
    fail_release: AtomicBool,
    fail_metadata: AtomicBool,
    fail_abort: AtomicBool,
    /// The snapshot returns one directory fewer than it was asked for.
    short_snapshot: AtomicBool,
    /// Snapshot calls made, and the one that fails (0: none).
    snapshot_calls: AtomicUsize,
    fail_snapshot_call: AtomicUsize,
    /// The most tablets held at once.
    most_held: AtomicUsize,
    /// Indexes whose tablets were listed on demand.
    index_listings: AtomicUsize,
}

impl Recording {
    fn new(data: &Path) -> Arc<Recording> {
        Arc::new(Recording {
            inner: DirHost::new(data).unwrap(),
            taken: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
            fail_release: AtomicBool::new(false),
            fail_metadata: AtomicBool::new(false),
            fail_abort: AtomicBool::new(false),
            short_snapshot: AtomicBool::new(false),
            snapshot_calls: AtomicUsize::new(0),
            fail_snapshot_call: AtomicUsize::new(0),
            most_held: AtomicUsize::new(0),
            index_listings: AtomicUsize::new(0),
        })
    }

    /// (taken, released).
    fn balance(&self) -> (usize, usize) {
        (self.taken.load(Ordering::SeqCst), self.released.load(Ordering::SeqCst))
    }
}

fn refused(what: &str) -> tabsnap::Error {
    tabsnap::Error::new(tabsnap::ErrorKind::Io, format!("{what} refused by the test host"))
}

impl Host for Recording {
    fn tables(&self, database: &str) -> tabsnap::Result<Vec<TableInfo>> {
        self.inner.tables(database)
    }
    fn supports(&self, feature: HostFeature) -> bool {
        feature == HostFeature::IndexTablets
    }
    fn index_tablets(&self, database: &str, place: Place<'_>) -> tabsnap::Result<Vec<TabletInfo>> {
        self.index_listings.fetch_add(1, Ordering::SeqCst);
        self.inner.index_tablets(database, place)
    }
    fn snapshot(&self, database: &str, tablets: &[TabletRef]) -> tabsnap::Result<Vec<std::path::PathBuf>> {
        let call = self.snapshot_calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call == self.fail_snapshot_call.load(Ordering::SeqCst) {
            return Err(refused(&format!("snapshot call {call}")));
        }
        let mut dirs = self.inner.snapshot(database, tablets)?;
        let taken = self.taken.fetch_add(tablets.len(), Ordering::SeqCst) + tablets.len();
        self.most_held.fetch_max(taken - self.released.load(Ordering::SeqCst), Ordering::SeqCst);
        if self.short_snapshot.load(Ordering::SeqCst) {
            dirs.pop();
        }
        Ok(dirs)
    }
    fn release(&self, database: &str, tablets: &[TabletRef]) -> tabsnap::Result<()> {
        self.released.fetch_add(tablets.len(), Ordering::SeqCst);
        self.inner.release(database, tablets)?;
        if self.fail_release.load(Ordering::SeqCst) { Err(refused("release")) } else { Ok(()) }
    }
    fn restore_target(&self, database: &str, job: u64, tablet: &TabletRef) -> tabsnap::Result<std::path::PathBuf> {
        self.inner.restore_target(database, job, tablet)
    }
    fn commit_restore(
        &self,
        database: &str,
        job: u64,
        table: &str,
        source: &str,
        metadata: &[u8],
    ) -> tabsnap::Result<()> {
        self.inner.commit_restore(database, job, table, source, metadata)
    }
    fn abort_restore(&self, database: &str, job: u64, table: &str) -> tabsnap::Result<()> {
        self.inner.abort_restore(database, job, table)?;
        if self.fail_abort.load(Ordering::SeqCst) { Err(refused("abort_restore")) } else { Ok(()) }
    }
    fn has_privilege(&self, user: &str, privilege: &Privilege) -> bool {
        self.inner.has_privilege(user, privilege)
    }
    fn metadata(&self, database: &str, tables: &[String]) -> tabsnap::Result<Vec<u8>> {
        if self.fail_metadata.load(Ordering::SeqCst) {
            return Err(refused("metadata"));
        }
        self.inner.metadata(database, tables)
    }
}

struct Setup {
    tmp: tempfile::TempDir,
    host: Arc<Recording>,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    make_data(&tmp.path().join("data"));
    let host = Recording::new(&tmp.path().join("data"));
    Setup { tmp, host }
}

impl Setup {
    fn engine(&self, f: impl FnOnce(tabsnap::EngineBuilder) -> tabsnap::EngineBuilder) -> Engine {
        f(Engine::builder(self.host.clone()).threads(2)).build().unwrap()
    }
}

fn ended(engine: &Engine, id: u64) -> JobInfo {
    let j = engine.wait(id, Duration::from_secs(60)).unwrap();
    assert!(j.state.is_done(), "{j:?}");
    j
}

#[test]
fn snapshots_are_released_on_every_path() {
    let s = setup();
    let engine = s.engine(|b| b);
    let mem = Gated::new();
    mem.release();
    engine.attach_repository("mem", mem.clone(), false).unwrap();

    // Success.
    finish(&engine, job(&engine, &root(), "BACKUP SNAPSHOT ok1 TO mem"));
    let (taken, released) = s.host.balance();
    assert!(taken > 0 && taken == released, "success: {taken} taken, {released} released");

    // A failure of the host (its metadata) before any batch of tablets is snapshotted.
    s.host.fail_metadata.store(true, Ordering::SeqCst);
    let j = ended(&engine, job(&engine, &root(), "BACKUP SNAPSHOT bad1 TO mem"));
    s.host.fail_metadata.store(false, Ordering::SeqCst);
    assert_eq!(j.state, JobState::Cancelled);
    let (taken, released) = s.host.balance();
    assert_eq!(taken, released, "failure: {taken} taken, {released} released");

    // CANCEL mid-upload.
    let gated = Gated::new();
    engine.attach_repository("gated", gated.clone(), false).unwrap();
    let id = job(&engine, &root(), "BACKUP SNAPSHOT c1 TO gated");
    gated.wait_arrival();
    assert!(engine.cancel(id));
    gated.release();
    assert_eq!(ended(&engine, id).status, "CANCELLED");
    let (taken, released) = s.host.balance();
    assert_eq!(taken, released, "cancel: {taken} taken, {released} released");

    // A timeout mid-upload.
    let timed = s.engine(|b| b.max_job_timeout(Duration::from_millis(200)));
    let gated = Gated::new();
    timed.attach_repository("gated", gated.clone(), false).unwrap();
    let id = job(&timed, &root(), "BACKUP SNAPSHOT t1 TO gated");
    gated.wait_arrival();
    std::thread::sleep(Duration::from_millis(400));
    gated.release();
    assert_eq!(ended(&timed, id).status, "TIMEOUT");
    let (taken, released) = s.host.balance();
    assert_eq!(taken, released, "timeout: {taken} taken, {released} released");

    // The engine shut down mid-upload: shutdown returns only once the snapshots are released.
    let doomed = s.engine(|b| b);
    let gated = Gated::new();
    doomed.attach_repository("gated", gated.clone(), false).unwrap();
    job(&doomed, &root(), "BACKUP SNAPSHOT d1 TO gated");
    gated.wait_arrival();
    let opener = {
        let gated = gated.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            gated.release();
        })
    };
    doomed.shutdown();
    let (taken, released) = s.host.balance();
    assert_eq!(taken, released, "shutdown: {taken} taken, {released} released");
    opener.join().unwrap();
}

#[test]
fn a_release_failure_after_commit_leaves_the_backup_finished_and_reports_it() {
    let s = setup();
    let engine = s.engine(|b| b);
    let mem = Gated::new();
    mem.release();
    engine.attach_repository("mem", mem.clone(), false).unwrap();
    s.host.fail_release.store(true, Ordering::SeqCst);
    let j = ended(&engine, job(&engine, &root(), "BACKUP SNAPSHOT s1 TO mem"));
    assert_eq!((j.state, j.status.as_str(), j.error.as_deref()), (JobState::Finished, "OK", None), "{j:?}");
    assert!(j.warnings.iter().any(|w| w.contains("releasing the tablet snapshots failed")), "{:?}", j.warnings);
    let rs = rows(&engine, &root(), "SHOW BACKUP");
    assert_eq!((rs.get(0, "State"), rs.get(0, "Status")), (Some("FINISHED"), Some("[OK]")));
    assert!(rs.get(0, "TaskErrMsg").unwrap().contains("release refused by the test host"), "{rs:?}");
    assert_eq!(tabsnap::pack::list_snapshots(&mem.inner).unwrap().len(), 1, "the snapshot stays committed");
}

#[test]
fn an_abort_failure_is_reported_beside_the_restore_error() {
    let s = setup();
    let engine = s.engine(|b| b);
    let mem = Gated::new();
    mem.release();
    engine.attach_repository("mem", mem.clone(), false).unwrap();
    let b = finish(&engine, job(&engine, &root(), "BACKUP SNAPSHOT s1 TO mem ON (t1)"));
    let pack = mem.inner.list("packs/").unwrap()[0].key.clone();
    mem.inner.tamper(&pack, |v| v[10] ^= 1);
    s.host.fail_abort.store(true, Ordering::SeqCst);
    let sql = format!("RESTORE SNAPSHOT s1 FROM mem ON (t1 AS t9) PROPERTIES ('backup_timestamp' = '{}')", b.timestamp);
    let r = ended(&engine, job(&engine, &root(), &sql));
    assert_eq!(r.state, JobState::Cancelled);
    assert!(r.error.as_deref().unwrap().contains("crc32c mismatch"), "{r:?}");
    assert!(r.warnings.iter().any(|w| w.contains("aborting the restore of table t9 failed")), "{:?}", r.warnings);
    let rs = rows(&engine, &root(), "SHOW RESTORE");
    let msg = rs.get(0, "TaskErrMsg").unwrap();
    assert!(msg.contains("crc32c mismatch") && msg.contains("abort_restore refused by the test host"), "{msg}");
}

#[test]
fn state_save_failures_are_returned_or_reported() {
    let s = setup();
    let state = s.tmp.path().join("state");
    let engine = s.engine(|b| b.state_dir(&state));
    let gated = Gated::new();
    engine.attach_repository("gated", gated.clone(), false).unwrap();

    // A job whose start cannot be saved does not start, and does not hold its database.
    let _ = std::fs::remove_dir_all(&state); // made when the repository's id was taken from the shared sequence
    std::fs::write(&state, b"not a directory").unwrap();
    let err = one(&engine, &root(), "BACKUP SNAPSHOT s1 TO gated").unwrap_err();
    assert!(err.message().contains("state"), "{err}");
    assert!(engine.jobs().is_empty(), "{:?}", engine.jobs());

    // Saves that fail while a job runs are reported on the job.
    std::fs::remove_file(&state).unwrap();
    let id = job(&engine, &root(), "BACKUP SNAPSHOT s1 TO gated");
    gated.wait_arrival();
    std::fs::remove_dir_all(&state).unwrap();
    std::fs::write(&state, b"not a directory").unwrap();
    gated.release();
    let j = ended(&engine, id);
    assert_eq!(j.state, JobState::Finished);
    assert!(j.warnings.iter().any(|w| w.contains("saving the job state failed")), "{:?}", j.warnings);
}

#[test]
fn an_observer_may_call_the_engine_and_sees_the_end_before_wait_returns() {
    let s = setup();
    let slot: Arc<OnceLock<Engine>> = Arc::new(OnceLock::new());
    let seen_end = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let observer = {
        let (slot, seen_end, calls) = (slot.clone(), seen_end.clone(), calls.clone());
        Arc::new(move |j: &JobInfo| {
            let Some(e) = slot.get() else { return };
            calls.fetch_add(1, Ordering::SeqCst);
            assert!(e.job(j.id).is_some());
            assert!(!e.jobs().is_empty());
            e.wait(j.id, Duration::ZERO).unwrap();
            e.execute(&root(), "SHOW BACKUP").unwrap();
            if j.state.is_done() {
                // A wait for the job whose end is being observed returns at once, even without a timeout.
                assert!(e.wait(j.id, Duration::MAX).unwrap().state.is_done());
                std::thread::sleep(Duration::from_millis(50));
                seen_end.store(true, Ordering::SeqCst);
            }
        })
    };
    let engine = s.engine(|b| b.on_progress(observer));
    assert!(slot.set(engine.clone()).is_ok());
    let mem = Gated::new();
    mem.release();
    engine.attach_repository("mem", mem, false).unwrap();
    let id = job(&engine, &root(), "BACKUP SNAPSHOT s1 TO mem");
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let engine = engine.clone();
        let seen_end = seen_end.clone();
        std::thread::spawn(move || {
            let j = engine.wait(id, Duration::from_secs(60)).unwrap();
            let _ = tx.send((j.state, seen_end.load(Ordering::SeqCst)));
        })
    };
    let (state, seen) = rx.recv_timeout(Duration::from_secs(60)).expect("the job deadlocked in its observer");
    waiter.join().unwrap();
    assert_eq!(state, JobState::Finished);
    assert!(seen, "wait returned before the observer saw the job's end");
    assert!(calls.load(Ordering::SeqCst) >= 2);
}

/// A memory repository that declares `max_concurrency` and records the most calls it saw at once.
struct Counting {
    inner: MemoryRepository,
    max: usize,
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Counting {
    fn call<T>(&self, f: impl FnOnce() -> T) -> T {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(2));
        let r = f();
        self.now.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

impl Repository for Counting {
    fn properties(&self) -> Properties {
        let mut p = Properties::default();
        p.max_concurrency = self.max;
        p
    }
    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> tabsnap::Result<PutOutcome> {
        self.call(|| self.inner.put(key, data, mode))
    }
    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> tabsnap::Result<Vec<u8>> {
        self.call(|| self.inner.get_range(key, offset, len))
    }
    fn size(&self, key: &str) -> tabsnap::Result<Option<u64>> {
        self.call(|| self.inner.size(key))
    }
    fn list(&self, prefix: &str) -> tabsnap::Result<Vec<ObjectInfo>> {
        self.call(|| self.inner.list(prefix))
    }
    fn delete(&self, key: &str) -> tabsnap::Result<()> {
        self.call(|| self.inner.delete(key))
    }
    fn describe(&self) -> String {
        format!("counting://{}", self.max)
    }
}

#[test]
fn a_repository_max_concurrency_is_honoured_for_every_n() {
    for n in 1..=3 {
        let s = setup();
        let engine = s.engine(|b| b.threads(4).chunk_size(64 << 10).pack_size(1 << 20));
        let repo = Arc::new(Counting {
            inner: MemoryRepository::new(),
            max: n,
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        engine.attach_repository("c", repo.clone(), false).unwrap();
        let db2 = Session::new("root", Some("db2"));
        let a = job(&engine, &root(), "BACKUP SNAPSHOT a TO c");
        let b = job(&engine, &db2, "BACKUP SNAPSHOT b TO c");
        let (a, b) = (finish(&engine, a), finish(&engine, b));
        let restore = |session: &Session, label: &str, on: &str, ts: &str| {
            let sql = format!("RESTORE SNAPSHOT {label} FROM c ON ({on}) PROPERTIES ('backup_timestamp' = '{ts}')");
            job(&engine, session, &sql)
        };
        let ra = restore(&root(), "a", "t1 AS t1r", &a.timestamp);
        let rb = restore(&db2, "b", "t3 AS t3r", &b.timestamp);
        finish(&engine, ra);
        finish(&engine, rb);
        let peak = repo.peak.load(Ordering::SeqCst);
        assert!(peak <= n, "max_concurrency {n}: {peak} calls ran at once");
    }
}

#[test]
fn a_snapshot_with_a_directory_missing_fails_the_backup_and_is_released() {
    let s = setup();
    let engine = s.engine(|b| b);
    let repo = s.tmp.path().join("repo");
    engine
        .execute(&root(), &format!("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{}'", repo.display()))
        .unwrap();
    s.host.short_snapshot.store(true, Ordering::SeqCst);
    let Outcome::Job(id) = engine.execute(&root(), "BACKUP SNAPSHOT snap TO r").unwrap().remove(0) else { panic!() };
    let j = ended(&engine, id);
    assert_eq!(j.state, JobState::Cancelled, "{j:?}");
    assert!(j.status_text().contains("directories for"), "{}", j.status_text());
    let (taken, released) = s.host.balance();
    assert!(taken > 0 && taken == released, "taken {taken}, released {released}");
    assert!(!repo.join("snapshots").exists() || std::fs::read_dir(repo.join("snapshots")).unwrap().next().is_none());
}

#[test]
fn a_backup_holds_one_batch_of_snapshots_at_a_time_and_releases_each() {
    let s = setup();
    let engine = s.engine(|b| b.batch_files(1));
    let mem = Gated::new();
    mem.release();
    engine.attach_repository("mem", mem.clone(), false).unwrap();
    let j = finish(&engine, job(&engine, &root(), "BACKUP SNAPSHOT b1 TO mem"));
    let (taken, released) = s.host.balance();
    let calls = s.host.snapshot_calls.load(Ordering::SeqCst);
    assert_eq!((taken, released, calls), (j.tablets as usize, taken, taken), "a batch of one tablet per call");
    assert_eq!(s.host.most_held.load(Ordering::SeqCst), 1, "each batch released before the next is taken");
    // The catalog came without tablets: each index was listed when the job started (to count its tablets) and
    // when the backup reached it.
    let indexes: usize = s
        .host
        .inner
        .tables("db1")
        .unwrap()
        .iter()
        .map(|t| t.partitions.iter().map(|p| p.indexes.len()).sum::<usize>())
        .sum();
    assert!(
        s.host
            .inner
            .tables("db1")
            .unwrap()
            .iter()
            .all(|t| t.partitions.iter().all(|p| p.indexes.iter().all(|i| i.tablets.is_empty())))
    );
    assert_eq!(s.host.index_listings.load(Ordering::SeqCst), 2 * indexes);
    // The snapshot is whole and restores.
    let m = tabsnap::pack::load_manifest(&mem.inner, "b1", &j.timestamp).unwrap();
    assert_eq!(m.tables.tablet_count() as u64, j.tablets);
}

#[test]
fn a_snapshot_failing_at_a_later_batch_fails_the_backup_and_releases_every_batch_taken() {
    let s = setup();
    let engine = s.engine(|b| b.batch_files(1));
    let repo = s.tmp.path().join("repo");
    engine
        .execute(&root(), &format!("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{}'", repo.display()))
        .unwrap();
    s.host.fail_snapshot_call.store(3, Ordering::SeqCst);
    let j = ended(&engine, job(&engine, &root(), "BACKUP SNAPSHOT snap TO r"));
    assert_eq!(j.state, JobState::Cancelled, "{j:?}");
    assert!(j.status_text().contains("snapshot call 3 refused"), "{}", j.status_text());
    let (taken, released) = s.host.balance();
    assert!(taken == 2 && released == 2, "taken {taken}, released {released}");
    assert!(tabsnap::pack::list_snapshots(&tabsnap::repo::LocalRepository::new(&repo).unwrap()).unwrap().is_empty());
}
