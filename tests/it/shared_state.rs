//! Several `tabsnap sql` processes on one state directory: one job table (no record lost to a concurrent save),
//! a job running in another process shown as running, one BACKUP per database across processes, CANCEL across
//! processes, and the jobs of a killed process marked CANCELLED with that reason.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::s3::{noise, server, unique};

fn sql(data: &Path, state: &Path, statements: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tabsnap"));
    c.args(["sql", "--data", data.to_str().unwrap(), "--state", state.to_str().unwrap(), statements])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(data: &Path, state: &Path, statements: &str) -> (i32, String) {
    let out = sql(data, state, statements).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// SHOW BACKUP FROM `db` as rows of (SnapshotName, State, Status), read by another process.
fn show_backup(data: &Path, state: &Path, db: &str) -> Vec<(String, String, String)> {
    let out = sql(data, state, &format!("SHOW BACKUP FROM {db}")).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = if v[0].is_array() { v[0].as_array().unwrap().clone() } else { v.as_array().unwrap().clone() };
    rows.iter()
        .map(|r| {
            let f = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (f("SnapshotName"), f("State"), f("Status"))
        })
        .collect()
}

fn job_of(data: &Path, state: &Path, db: &str, label: &str) -> Option<(String, String)> {
    show_backup(data, state, db).into_iter().find(|r| r.0 == label).map(|r| (r.1, r.2))
}

/// Waits until `label`'s backup is shown running by another process (while `owner` still runs).
fn wait_running(data: &Path, state: &Path, db: &str, label: &str, owner: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(owner.try_wait().unwrap().is_none(), "the backup of {label} ended before it was seen running");
        if let Some((st, status)) = job_of(data, state, db, label) {
            assert_ne!(st, "CANCELLED", "a live process's job is shown cancelled: {status}");
            if st != "FINISHED" && st != "PENDING" {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{label} never showed as running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sql_processes_sharing_a_state_directory_see_one_job_table() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let state = tmp.path().join("state");
    for (db, len) in [("db1", 16 << 20), ("db2", 50_000), ("db3", 50_000)] {
        let d = data.join(db).join("t1/p1/1001");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("0_0.dat"), noise(len, len as u64 + db.len() as u64)).unwrap();
    }
    // A bandwidth limit makes the big backup last a few seconds.
    let create = format!(
        "CREATE REPOSITORY r WITH S3 ON LOCATION 's3://{}/{}' PROPERTIES ('s3.endpoint' = '{}', \
         's3.region' = 'us-east-1', 's3.access_key' = '{}', 's3.secret_key' = '{}', 'use_path_style' = 'true', \
         's3.bandwidth_limit' = '3000000')",
        s.bucket,
        unique("state"),
        s.endpoint,
        s.key,
        s.secret
    );
    let (code, out) = run(&data, &state, &create);
    assert_eq!(code, 0, "{out}");

    // 1. Pairs of processes end their jobs at the same time: every record survives.
    for round in 0..3 {
        let a = sql(&data, &state, &format!("BACKUP SNAPSHOT db2.a{round} TO r")).spawn().unwrap();
        let b = sql(&data, &state, &format!("BACKUP SNAPSHOT db3.b{round} TO r")).spawn().unwrap();
        for c in [a, b] {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    for db in ["db2", "db3"] {
        let rows = show_backup(&data, &state, db);
        let finished = rows.iter().filter(|r| r.1 == "FINISHED").count();
        assert_eq!(finished, 3, "{db}: a job record was lost: {rows:?}");
    }

    // 2. A job of another live process is shown running; a second BACKUP of its database is refused; CANCEL
    //    from a third process cancels it.
    let mut big = sql(&data, &state, "BACKUP SNAPSHOT db1.big TO r").spawn().unwrap();
    wait_running(&data, &state, "db1", "big", &mut big);
    let (code, out) = run(&data, &state, "BACKUP SNAPSHOT db1.other TO r");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("Can only run one backup or restore job of a database at same time"), "{out}");
    let (code, out) = run(&data, &state, "CANCEL BACKUP FROM db1");
    assert_eq!(code, 0, "{out}");
    let out = big.wait_with_output().unwrap();
    assert!(!out.status.success(), "the cancelled backup's process reported success");
    let (st, status) = job_of(&data, &state, "db1", "big").unwrap();
    assert_eq!(st, "CANCELLED", "{status}");
    assert!(status.contains("user cancelled"), "{status}");

    // 3. A process killed mid-job: its job is shown CANCELLED with the reason, and no longer blocks its
    //    database.
    let mut doomed = sql(&data, &state, "BACKUP SNAPSHOT db1.big2 TO r").spawn().unwrap();
    wait_running(&data, &state, "db1", "big2", &mut doomed);
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let (st, status) = job_of(&data, &state, "db1", "big2").unwrap();
    assert_eq!(st, "CANCELLED", "{status}");
    assert!(status.contains("exited before it finished"), "{status}");
    let (code, out) = run(&data, &state, "BACKUP SNAPSHOT db1.big3 TO r; SHOW SNAPSHOT ON r WHERE SNAPSHOT = 'big3'");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("big3"), "{out}");
    // History from every process is still there.
    for db in ["db2", "db3"] {
        assert_eq!(show_backup(&data, &state, db).iter().filter(|r| r.1 == "FINISHED").count(), 3);
    }
}

#[test]
fn repositories_created_and_dropped_by_one_process_are_seen_by_another() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("db1/t1/p1/1001")).unwrap();
    std::fs::write(data.join("db1/t1/p1/1001/0.dat"), b"x").unwrap();
    let state = tmp.path().join("state");
    let repo =
        |n: &str| format!("CREATE REPOSITORY {n} WITH LOCAL ON LOCATION 'file://{}'", tmp.path().join(n).display());
    // Created concurrently by several processes: all are kept.
    let children: Vec<Child> = (0..4).map(|i| sql(&data, &state, &repo(&format!("r{i}"))).spawn().unwrap()).collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (code, out) = run(&data, &state, "SHOW REPOSITORIES");
    assert_eq!(code, 0, "{out}");
    for i in 0..4 {
        assert!(out.contains(&format!("r{i}")), "{out}");
    }
    let (code, out) = run(&data, &state, &repo("r0"));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("Repository r0 already exists"), "{out}");
    let (code, out) = run(&data, &state, "DROP REPOSITORY r1; SHOW REPOSITORIES");
    assert_eq!(code, 0, "{out}");
    let (_, out) = run(&data, &state, "SHOW REPOSITORIES");
    assert!(!out.contains("r1") && out.contains("r2"), "{out}");
    // READ ONLY repositories refuse every statement that would change them.
    let ro =
        format!("CREATE READ ONLY REPOSITORY ro WITH LOCAL ON LOCATION 'file://{}'", tmp.path().join("r2").display());
    let (code, out) = run(&data, &state, &format!("{ro}; BACKUP SNAPSHOT db1.s TO r2"));
    assert_eq!(code, 0, "{out}");
    let (_, out) = run(&data, &state, "SHOW SNAPSHOT ON ro");
    assert!(out.contains('s'), "{out}");
    let (code, out) = run(&data, &state, "DROP SNAPSHOT s FROM ro");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("Repository ro is read only"), "{out}");
    let (code, out) = run(&data, &state, "BACKUP SNAPSHOT db1.s2 TO ro");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("Repository ro is read only"), "{out}");
    // DROP SNAPSHOT db.label drops only that database's snapshot.
    let (code, out) = run(&data, &state, "DROP SNAPSHOT db9.s FROM r2");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("Snapshot db9.s does not exist in repository r2"), "{out}");
    let (code, out) = run(&data, &state, "DROP SNAPSHOT db1.s FROM r2");
    assert_eq!(code, 0, "{out}");
}
