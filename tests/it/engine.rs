//! The engine end to end over the directory host: statements, jobs, SHOW, CANCEL, timeouts, privileges.

use std::path::{Path, PathBuf};

use crate::util::tree;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tabsnap::host::DirHost;
use tabsnap::job::JobState;
use tabsnap::repo::{MemoryRepository, ObjectInfo, PutMode, PutOutcome, Repository};
use tabsnap::{Engine, ErrorKind, Outcome, ResultSet, Session};

pub(crate) fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

pub(crate) fn seg(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|i| {
            if i % 64 == 0 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
            }
            b'a' + (x >> (i % 8 * 8) & 15) as u8
        })
        .collect()
}

/// db1: t1 (partitions p1, p2; rollup r1), t2 (one partition), v1 (a view); db2: t3.
pub(crate) fn make_data(root: &Path) {
    for (p, base) in [("p1", 100), ("p2", 200)] {
        for k in 0..2u64 {
            write(&root.join(format!("db1/t1/{p}/{}/0/0_0.dat", base + k)), &seg(base + k, 40_000 + k as usize * 5000));
            write(&root.join(format!("db1/t1/{p}/{}/0/0.idx", base + k)), &seg(base + k + 7, 300));
            write(&root.join(format!("db1/t1/{p}/_rollup_r1/{}/0/0_0.dat", base + 50 + k)), &seg(base + 50 + k, 9000));
        }
    }
    write(&root.join("db1/t1/_table.json"), br#"{"rollups": ["r1"]}"#);
    write(&root.join("db1/t2/t2/300/a.dat"), &seg(300, 70_000));
    write(&root.join("db1/t2/t2/301/a.dat"), b"");
    write(&root.join("db1/v1/_table.json"), br#"{"kind": "view"}"#);
    write(&root.join("db2/t3/p/400/x.dat"), &seg(400, 1000));
}

pub(crate) struct Fixture {
    pub(crate) _tmp: tempfile::TempDir,
    pub(crate) data: PathBuf,
    pub(crate) repo_dir: PathBuf,
    pub(crate) engine: Engine,
}

pub(crate) fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_data(&data);
    let engine = Engine::builder(Arc::new(DirHost::new(&data).unwrap()))
        .threads(2)
        .state_dir(tmp.path().join("state"))
        .build()
        .unwrap();
    let repo_dir = tmp.path().join("repo");
    Fixture { data, repo_dir, engine, _tmp: tmp }
}

pub(crate) fn root() -> Session {
    Session::new("root", Some("db1"))
}

pub(crate) fn one(engine: &Engine, session: &Session, sql: &str) -> tabsnap::Result<Outcome> {
    engine.execute(session, sql).map(|mut v| v.remove(0))
}

pub(crate) fn rows(engine: &Engine, session: &Session, sql: &str) -> ResultSet {
    match one(engine, session, sql).unwrap() {
        Outcome::Rows(rs) => rs,
        other => panic!("{sql}: {other:?}"),
    }
}

pub(crate) fn job(engine: &Engine, session: &Session, sql: &str) -> u64 {
    match one(engine, session, sql).unwrap_or_else(|e| panic!("{sql}: {e}")) {
        Outcome::Job(id) => id,
        other => panic!("{sql}: {other:?}"),
    }
}

pub(crate) fn finish(engine: &Engine, id: u64) -> tabsnap::job::JobInfo {
    let j = engine.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!(j.state, JobState::Finished, "{:?}", j);
    j
}

pub(crate) fn create_repo(f: &Fixture) {
    let sql = format!("CREATE REPOSITORY repo1 WITH LOCAL ON LOCATION 'file://{}'", f.repo_dir.display());
    assert_eq!(one(&f.engine, &root(), &sql).unwrap(), Outcome::Done);
}

#[test]
fn backup_show_restore_under_another_name_is_byte_identical() {
    let f = fixture();
    create_repo(&f);
    let id = job(&f.engine, &root(), "BACKUP SNAPSHOT snap1 TO repo1 PROPERTIES ('type' = 'full', 'timeout' = '3600')");
    let j = finish(&f.engine, id);
    assert_eq!(j.objects, ["db1.t1", "db1.t2", "db1.v1"], "the view goes as its definition, the rollup with t1");
    assert_eq!(j.tablets, 4 + 4 + 2);

    let rs = rows(&f.engine, &root(), "SHOW BACKUP");
    assert_eq!(rs.columns, tabsnap::job::BACKUP_COLUMNS);
    assert_eq!(rs.get(0, "SnapshotName"), Some("snap1"));
    assert_eq!(rs.get(0, "State"), Some("FINISHED"));
    assert_eq!(rs.get(0, "BackupObjs"), Some("[db1.t1], [db1.t2], [db1.v1]"));
    assert_eq!(rs.get(0, "Status"), Some("[OK]"));
    assert_eq!(rs.get(0, "Timeout"), Some("3600"));
    assert!(rs.get(0, "Progress").unwrap().starts_with("[files: 14/14], [bytes: "), "{:?}", rs.get(0, "Progress"));
    assert_eq!(rs.get(0, "UnfinishedTasks"), Some(""));
    assert_eq!(rows(&f.engine, &root(), "SHOW BACKUP WHERE SnapshotName LIKE 'nope%'").rows.len(), 0);

    let snaps = rows(&f.engine, &root(), "SHOW SNAPSHOT ON repo1");
    assert_eq!((snaps.get(0, "Snapshot"), snaps.get(0, "Timestamp")), (Some("snap1"), Some(j.timestamp.as_str())));
    let detail = rows(
        &f.engine,
        &root(),
        &format!("SHOW SNAPSHOT ON repo1 WHERE SNAPSHOT = 'snap1' AND TIMESTAMP = '{}'", j.timestamp),
    );
    assert_eq!(detail.get(0, "Database"), Some("db1"));
    assert!(detail.get(0, "Details").unwrap().contains("\"t1\""));

    let id = job(
        &f.engine,
        &root(),
        &format!(
            "RESTORE SNAPSHOT snap1 FROM repo1 ON (t1 AS t1_copy) PROPERTIES ('backup_timestamp' = '{}')",
            j.timestamp
        ),
    );
    let r = finish(&f.engine, id);
    assert_eq!(r.objects, ["t1 AS t1_copy"]);
    assert_eq!(tree(&f.data.join("db1/t1")), tree(&f.data.join("db1/t1_copy")));
    // The restored table is in the catalog with its rollup.
    let copy = DirHost::new(&f.data).unwrap();
    let tables = tabsnap::host::Host::tables(&copy, "db1").unwrap();
    let t = tables.iter().find(|t| t.name == "t1_copy").unwrap();
    assert_eq!(t.partitions[0].indexes.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["t1_copy", "r1"]);
    let rs = rows(&f.engine, &root(), "SHOW RESTORE FROM db1 WHERE Label = 'snap1'");
    assert_eq!(rs.columns, tabsnap::job::RESTORE_COLUMNS);
    assert_eq!((rs.get(0, "State"), rs.get(0, "Timestamp")), (Some("FINISHED"), Some(j.timestamp.as_str())));
    let brief = rows(&f.engine, &root(), "SHOW BRIEF RESTORE FROM db1");
    assert!(brief.get(0, "RestoreObjs").is_none() && brief.get(0, "Status") == Some("[OK]"));

    // A partition restored into another database.
    let id = job(
        &f.engine,
        &root(),
        &format!(
            "RESTORE SNAPSHOT db2.snap1 FROM repo1 ON (t1 PARTITION (p2)) PROPERTIES ('backup_timestamp' = '{}')",
            j.timestamp
        ),
    );
    finish(&f.engine, id);
    assert_eq!(tree(&f.data.join("db1/t1/p2")), tree(&f.data.join("db2/t1/p2")));
    assert!(!f.data.join("db2/t1/p1").exists());
}

#[test]
fn statement_errors_use_doris_messages() {
    let f = fixture();
    let e = |session: &Session, sql: &str| one(&f.engine, session, sql).unwrap_err();
    let admin_msg = "Access denied; you need (at least one of) the ADMIN privilege(s) for this operation";
    let bob = Session::new("bob", Some("db1"));
    assert_eq!(e(&bob, "CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file:///tmp/x'").message(), admin_msg);
    assert_eq!(e(&bob, "SHOW REPOSITORIES").message(), admin_msg);
    create_repo(&f);
    let cases = [
        ("BACKUP SNAPSHOT s TO nope", "Repository nope does not exist"),
        ("BACKUP SNAPSHOT s TO repo1 ON (nope)", "Unknown table 'nope'"),
        ("BACKUP SNAPSHOT s TO repo1 ON (v1 PARTITION (p1))", "Table 'v1' is not a OLAP table: it has no partitions"),
        ("BACKUP SNAPSHOT s TO repo1 ON (t1 PARTITION (p9))", "Unknown partition p9 in tablet1"),
        ("BACKUP SNAPSHOT nodb.s TO repo1", "Unknown database 'nodb'"),
        ("BACKUP SNAPSHOT s TO repo1 PROPERTIES ('timeout' = '5')", "timeout must be at least 10 min"),
        (
            "RESTORE SNAPSHOT s FROM repo1 PROPERTIES ('backup_timestamp' = '2024-01-01-10-00-00')",
            "Failed to get info of snapshot 's'",
        ),
        ("CANCEL BACKUP", "No backup job is currently running"),
        ("CANCEL RESTORE FROM db1", "No restore is currently running"),
        ("DROP REPOSITORY nope", "Repository does not exist"),
        ("CREATE REPOSITORY repo1 WITH LOCAL ON LOCATION 'file:///tmp'", "Repository repo1 already exists"),
        (
            "CREATE REPOSITORY r2 WITH S3 ON LOCATION 's3://b/p' PROPERTIES ('s3.endpoint' = 'http://127.0.0.1:1', \
             's3.access_key' = 'k', 's3.secret_key' = 's')",
            "Failed to create repository: S3 list",
        ),
        (
            "CREATE REPOSITORY r3 WITH HDFS ON LOCATION 'hdfs://nn/p'",
            "Failed to create repository: HDFS repositories are not supported",
        ),
        ("SHOW SNAPSHOT ON nope", "Repository nope does not exist"),
        ("DROP SNAPSHOT nope FROM repo1", "Snapshot nope does not exist in repository repo1"),
    ];
    for (sql, msg) in cases {
        let err = e(&root(), sql);
        assert!(err.message().starts_with(msg), "{sql}\n  got: {err}\n want: {msg}");
    }
    let no_db = Session::new("root", None);
    assert_eq!(e(&no_db, "BACKUP SNAPSHOT s TO repo1").message(), "No database selected");
    assert_eq!(e(&no_db, "SHOW BACKUP").message(), "No database selected");
    let syntax = e(&root(), "BACKUP SNAPSHOT s TO");
    assert_eq!((syntax.kind(), syntax.position()), (ErrorKind::Syntax, Some((1, 21))));

    // A location holding something else is refused; an existing repository is attached, snapshots and all.
    let other = f.repo_dir.parent().unwrap().join("other");
    write(&other.join("x.txt"), b"x");
    let err = e(&root(), &format!("CREATE REPOSITORY r3 WITH LOCAL ON LOCATION 'file://{}'", other.display()));
    assert!(err.message().contains("not a tabsnap repository"), "{err}");
    finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT s1 TO repo1 ON (t2)"));
    let err = e(&root(), "BACKUP SNAPSHOT s1 TO repo1 ON (t2)");
    assert_eq!(err.message(), "Snapshot with name 's1' already exist in repository");
    one(&f.engine, &root(), "DROP REPOSITORY repo1").unwrap();
    create_repo(&f);
    assert_eq!(rows(&f.engine, &root(), "SHOW SNAPSHOT ON repo1").get(0, "Snapshot"), Some("s1"));
    one(
        &f.engine,
        &root(),
        &format!("CREATE READ ONLY REPOSITORY ro WITH LOCAL ON LOCATION 'file://{}'", f.repo_dir.display()),
    )
    .unwrap();
    assert_eq!(e(&root(), "BACKUP SNAPSHOT s2 TO ro").message(), "Repository ro is read only");
    let repos = rows(&f.engine, &root(), "SHOW REPOSITORIES");
    assert_eq!(
        repos.columns,
        ["RepoId", "RepoName", "CreateTime", "IsReadOnly", "Location", "Broker", "Type", "ErrMsg"]
    );
    assert_eq!(repos.rows.len(), 2);
}

/// A repository whose pack uploads wait at a gate, so a job can be caught mid-upload.
pub(crate) struct Gated {
    pub(crate) inner: MemoryRepository,
    open: Mutex<bool>,
    arrived: Mutex<u32>,
    cv: Condvar,
}

impl Gated {
    pub(crate) fn new() -> Arc<Gated> {
        Arc::new(Gated {
            inner: MemoryRepository::new(),
            open: Mutex::new(false),
            arrived: Mutex::new(0),
            cv: Condvar::new(),
        })
    }
    pub(crate) fn wait_arrival(&self) {
        let mut a = self.arrived.lock();
        while *a == 0 {
            self.cv.wait(&mut a);
        }
    }
    pub(crate) fn release(&self) {
        *self.open.lock() = true;
        self.cv.notify_all();
    }
}

impl Repository for Gated {
    fn put(&self, key: &str, data: &[u8], mode: PutMode) -> tabsnap::Result<PutOutcome> {
        if key.starts_with("packs/") {
            *self.arrived.lock() += 1;
            self.cv.notify_all();
            let mut open = self.open.lock();
            while !*open {
                self.cv.wait(&mut open);
            }
        }
        self.inner.put(key, data, mode)
    }
    fn get_range(&self, key: &str, offset: u64, len: Option<u64>) -> tabsnap::Result<Vec<u8>> {
        self.inner.get_range(key, offset, len)
    }
    fn size(&self, key: &str) -> tabsnap::Result<Option<u64>> {
        self.inner.size(key)
    }
    fn list(&self, prefix: &str) -> tabsnap::Result<Vec<ObjectInfo>> {
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> tabsnap::Result<()> {
        self.inner.delete(key)
    }
    fn describe(&self) -> String {
        "gated://".into()
    }
}

#[test]
fn one_job_per_database_others_in_parallel_and_cancel_mid_upload() {
    let f = fixture();
    let gated = Gated::new();
    f.engine.attach_repository("gated", gated.clone(), false).unwrap();
    create_repo(&f);
    let id = job(&f.engine, &root(), "BACKUP SNAPSHOT s1 TO gated");
    gated.wait_arrival();
    assert_eq!(f.engine.job(id).unwrap().state, JobState::Uploading);
    // The same database is busy; another database runs meanwhile.
    let err = one(&f.engine, &root(), "BACKUP SNAPSHOT s2 TO repo1").unwrap_err();
    assert!(err.message().starts_with("Can only run one backup or restore job of a database at same time"), "{err}");
    let other = Session::new("root", Some("db2"));
    finish(&f.engine, job(&f.engine, &other, "BACKUP SNAPSHOT s3 TO repo1"));
    assert_eq!(rows(&f.engine, &root(), "SHOW BACKUP").get(0, "State"), Some("UPLOADING"));

    assert_eq!(one(&f.engine, &root(), "CANCEL BACKUP FROM db1").unwrap(), Outcome::Done);
    gated.release();
    let j = f.engine.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!(j.state, JobState::Cancelled);
    assert_eq!(j.status_text(), "[CANCELLED, msg: user cancelled]");
    assert!(tabsnap::pack::list_snapshots(&gated.inner).unwrap().is_empty(), "nothing committed");
    // The database is free again.
    finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT s4 TO repo1"));
}

#[test]
fn timeout_stops_a_job_mid_upload() {
    let tmp = tempfile::tempdir().unwrap();
    make_data(&tmp.path().join("data"));
    let engine = Engine::builder(Arc::new(DirHost::new(tmp.path().join("data")).unwrap()))
        .max_job_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gated = Gated::new();
    engine.attach_repository("gated", gated.clone(), false).unwrap();
    let id = job(&engine, &root(), "BACKUP SNAPSHOT s1 TO gated");
    gated.wait_arrival();
    std::thread::sleep(Duration::from_millis(500));
    gated.release();
    let j = engine.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!((j.state, j.status.as_str()), (JobState::Cancelled, "TIMEOUT"));
    assert!(tabsnap::pack::list_snapshots(&gated.inner).unwrap().is_empty());
}

#[test]
fn a_failed_restore_leaves_the_data_directory_as_it_was() {
    let f = fixture();
    let gated = Gated::new();
    gated.release();
    f.engine.attach_repository("mem", gated.clone(), false).unwrap();
    let j = finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT s1 TO mem ON (t1)"));
    let before = tree(&f.data);
    // Corrupt a pack: the restore fails during download and rolls back.
    let pack = gated.inner.list("packs/").unwrap()[0].key.clone();
    gated.inner.tamper(&pack, |v| v[10] ^= 1);
    let id = job(
        &f.engine,
        &root(),
        &format!("RESTORE SNAPSHOT s1 FROM mem ON (t1 AS t9) PROPERTIES ('backup_timestamp' = '{}')", j.timestamp),
    );
    let r = f.engine.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!(r.state, JobState::Cancelled);
    assert!(r.status_text().contains("crc32c mismatch") && r.status_text().contains(&pack), "{}", r.status_text());
    assert_eq!(tree(&f.data), before);
    assert!(!f.data.join("db1/t9").exists());
    assert!(
        std::fs::read_dir(f.data.join("db1")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".restore"))
    );
}

#[test]
fn drop_snapshot_frees_what_no_snapshot_needs_and_state_survives_restarts() {
    let f = fixture();
    create_repo(&f);
    let s1 = finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT s1 TO repo1 ON (t1)"));
    write(&f.data.join("db1/t2/t2/300/b.dat"), &seg(999, 50_000));
    finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT s2 TO repo1 ON (t2)"));
    let packs = |d: &Path| walk_count(&d.join("packs"));
    let before = packs(&f.repo_dir);
    one(&f.engine, &root(), "DROP SNAPSHOT s2 FROM repo1").unwrap();
    assert!(packs(&f.repo_dir) < before, "the packs only s2 needed are freed");
    assert_eq!(rows(&f.engine, &root(), "SHOW SNAPSHOT ON repo1").rows.len(), 1);
    // s1 still restores.
    let id = job(
        &f.engine,
        &root(),
        &format!("RESTORE SNAPSHOT s1 FROM repo1 ON (t1 AS t1b) PROPERTIES ('backup_timestamp' = '{}')", s1.timestamp),
    );
    finish(&f.engine, id);

    // A new engine on the same state directory sees the repository and the jobs.
    let engine2 = Engine::builder(Arc::new(DirHost::new(&f.data).unwrap()))
        .state_dir(f._tmp.path().join("state"))
        .build()
        .unwrap();
    assert_eq!(rows(&engine2, &root(), "SHOW BACKUP").rows.len(), 2);
    assert_eq!(rows(&engine2, &root(), "SHOW REPOSITORIES").get(0, "RepoName"), Some("repo1"));
}

fn walk_count(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { stack.push(p) } else { n += 1 }
        }
    }
    n
}

#[test]
fn a_repository_that_fails_mid_job_fails_the_job_with_the_object_named() {
    use tabsnap::repo::{Fault, FaultPlan, Op};
    let f = fixture();
    let repo = Arc::new(Fault::new(MemoryRepository::new(), FaultPlan::default()));
    f.engine.attach_repository("flaky", repo.clone(), false).unwrap();
    repo.set_plan(FaultPlan { fail_from: vec![(Op::Put, "packs/".into(), 1)], ..FaultPlan::default() });
    let id = job(&f.engine, &root(), "BACKUP SNAPSHOT s1 TO flaky");
    let j = f.engine.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!((j.state, j.status.as_str()), (JobState::Cancelled, "COMMON_ERROR"));
    let rs = rows(&f.engine, &root(), "SHOW BACKUP");
    assert!(rs.get(0, "TaskErrMsg").unwrap().contains("injected outage: Put packs/"), "{:?}", rs.get(0, "TaskErrMsg"));
    assert!(tabsnap::pack::list_snapshots(repo.inner()).unwrap().is_empty());

    // A restore whose reads fail rolls back and says which object.
    repo.set_plan(FaultPlan::default());
    let b = finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT s2 TO flaky ON (t2)"));
    repo.set_plan(FaultPlan { fail_from: vec![(Op::Get, "packs/".into(), 1)], ..FaultPlan::default() });
    let id = job(
        &f.engine,
        &root(),
        &format!("RESTORE SNAPSHOT s2 FROM flaky ON (t2 AS t2r) PROPERTIES ('backup_timestamp' = '{}')", b.timestamp),
    );
    let r = f.engine.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!(r.state, JobState::Cancelled);
    assert!(r.error.as_deref().unwrap().contains("packs/"), "{:?}", r.error);
    assert!(!f.data.join("db1/t2r").exists());
}

/// The corpus's statements that Doris rejects only when it executes them get their message from the engine
/// (those about cold storage, colocation or replica placement need a Doris cluster and are left out).
#[test]
fn corpus_exec_cases_fail_with_doris_messages() {
    let f = fixture();
    create_repo(&f);
    // The corpus names repo_1 and test_db; give the engine both.
    let repo1 = f.repo_dir.parent().unwrap().join("repo_1");
    one(&f.engine, &root(), &format!("CREATE REPOSITORY repo_1 WITH LOCAL ON LOCATION 'file://{}'", repo1.display()))
        .unwrap();
    write(&f.data.join("test_db/tbl_1/p1/1/a.dat"), b"x");
    let mut checked = 0;
    for e in crate::corpus::invalid() {
        let Some(expect) = e.expect.as_deref() else { continue };
        let Some(reason) = expect.strip_prefix("exec") else { continue };
        let Some(message) = reason.split('"').nth(1) else { continue };
        let known = [
            "Repository repo_missing does not exist",
            "Do not support backup temp partitions",
            "The table alias in exclude clause does not make sense",
        ];
        if !known.contains(&message) {
            continue;
        }
        let err = f.engine.execute(&root(), &e.sql).unwrap_err();
        assert_eq!(err.message(), message, "{}", e.sql);
        checked += 1;
    }
    assert_eq!(checked, 3);
}
