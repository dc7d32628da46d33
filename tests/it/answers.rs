//! BACKUP's content, object lists and table kinds, and Doris's answers: SHOW columns, error rows, unknown
//! databases, and a CANCEL that returns with the job CANCELLED.

use std::sync::Arc;
use std::time::Duration;

use tabsnap::host::DirHost;
use tabsnap::job::JobState;
use tabsnap::{Engine, Outcome, Session};

use crate::engine::{create_repo, finish, fixture, job, one, root, rows, write};
use crate::util::BasicHost;

#[test]
fn metadata_only_backups_record_the_tables_and_no_data() {
    let f = fixture();
    create_repo(&f);
    let id = job(&f.engine, &root(), "BACKUP SNAPSHOT meta TO repo1 PROPERTIES ('content' = 'metadata_only')");
    let j = finish(&f.engine, id);
    assert_eq!(j.files_total, 0);
    let detail = rows(
        &f.engine,
        &root(),
        &format!("SHOW SNAPSHOT ON repo1 WHERE SNAPSHOT = 'meta' AND TIMESTAMP = '{}'", j.timestamp),
    );
    let d: serde_json::Value = serde_json::from_str(detail.get(0, "Details").unwrap()).unwrap();
    assert_eq!((d["files"].as_u64(), d["bytes"].as_u64()), (Some(0), Some(0)));
    assert_eq!(d["olap_table_list"][0]["partition_names"], serde_json::json!(["p1", "p2"]));
    let repo = f.repo_dir.to_string_lossy().into_owned();
    let packs = walkdir(&f.repo_dir).into_iter().filter(|p| p[repo.len()..].contains("pack")).count();
    assert_eq!(packs, 0, "no pack object is written");
    let sql = format!("RESTORE SNAPSHOT meta FROM repo1 PROPERTIES ('backup_timestamp' = '{}')", j.timestamp);
    let err = one(&f.engine, &root(), &sql).unwrap_err();
    assert!(err.message().contains("holds metadata only"), "{err}");
}

fn walkdir(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}

#[test]
fn exclude_with_partitions_backs_up_the_rest_and_backup_objs_reads_as_doris() {
    let f = fixture();
    create_repo(&f);
    let id = job(&f.engine, &root(), "BACKUP SNAPSHOT ex TO repo1 EXCLUDE (t1 PARTITION (p1))");
    let j = finish(&f.engine, id);
    let rs = rows(&f.engine, &root(), "SHOW BACKUP WHERE SnapshotName = 'ex'");
    assert_eq!(rs.get(0, "BackupObjs"), Some("[db1.t1 PARTITIONS (p2)], [db1.t2], [db1.v1]"));
    assert_eq!(rs.get(0, "UnfinishedTasks"), Some(""));
    assert_eq!(rs.get(0, "Progress").map(|p| p.starts_with("[files: 8/8], [bytes: ")), Some(true));
    assert_eq!(rs.get(0, "TaskErrMsg"), Some(""));
    let detail = rows(
        &f.engine,
        &root(),
        &format!("SHOW SNAPSHOT ON repo1 WHERE SNAPSHOT = 'ex' AND TIMESTAMP = '{}'", j.timestamp),
    );
    let d: serde_json::Value = serde_json::from_str(detail.get(0, "Details").unwrap()).unwrap();
    assert_eq!(d["olap_table_list"][0]["partition_names"], serde_json::json!(["p2"]));
    let err = one(&f.engine, &root(), "BACKUP SNAPSHOT ex2 TO repo1 EXCLUDE (t1 PARTITION (p9))").unwrap_err();
    assert_eq!(err.message(), "Unknown partition p9 in tablet1");
}

#[test]
fn tables_that_are_not_olap_fail_a_backup_unless_the_host_ignores_them() {
    let f = fixture();
    create_repo(&f);
    write(&f.data.join("db1/ext/_table.json"), br#"{"kind": "odbc"}"#);
    let err = one(&f.engine, &root(), "BACKUP SNAPSHOT s TO repo1").unwrap_err();
    assert_eq!(err.message(), "Table 'ext' is not a OLAP table");
    let id = job(&f.engine, &root(), "BACKUP SNAPSHOT s TO repo1 EXCLUDE (ext)");
    finish(&f.engine, id);

    let engine = Engine::builder(Arc::new(DirHost::new(&f.data).unwrap()))
        .ignore_backup_not_support_table_type(true)
        .build()
        .unwrap();
    let sql = format!("CREATE REPOSITORY repo1 WITH LOCAL ON LOCATION 'file://{}'", f.repo_dir.display());
    one(&engine, &root(), &sql).unwrap();
    let j = finish(&engine, job(&engine, &root(), "BACKUP SNAPSHOT s2 TO repo1"));
    assert_eq!(j.objects, ["db1.t1", "db1.t2", "db1.v1"]);
    assert!(j.task_err_msg().contains("Table 'ext' is not a OLAP table: skipped"), "{}", j.task_err_msg());
    let j = finish(&engine, job(&engine, &root(), "BACKUP SNAPSHOT s3 TO repo1 ON (t1, ext)"));
    assert_eq!(j.objects, ["db1.t1"]);
}

#[test]
fn incremental_backups_are_refused_as_doris_refuses_them() {
    let f = fixture();
    create_repo(&f);
    finish(
        &f.engine,
        job(&f.engine, &root(), "BACKUP SNAPSHOT s TO repo1 ON (t2) PROPERTIES ('type' = 'incremental')"),
    );
    let err = one(&f.engine, &root(), "BACKUP SNAPSHOT s TO repo1 ON (t2) PROPERTIES ('type' = 'incremental')");
    assert_eq!(err.unwrap_err().message(), "Currently does not support incremental backup");
}

#[test]
fn show_answers_missing_snapshots_and_databases_as_doris() {
    let f = fixture();
    create_repo(&f);
    let rs = rows(&f.engine, &root(), "SHOW SNAPSHOT ON repo1 WHERE SNAPSHOT = 'missing'");
    assert_eq!(rs.rows, [["missing", "\\N", "ERROR: No info file found"]]);
    let rs = rows(
        &f.engine,
        &root(),
        "SHOW SNAPSHOT ON repo1 WHERE SNAPSHOT = 'missing' AND TIMESTAMP = '2024-01-01-10-00-00'",
    );
    assert_eq!(rs.rows.len(), 1);
    assert_eq!(rs.get(0, "Database"), Some("\\N"));
    assert!(rs.get(0, "Status").unwrap().starts_with("Failed to get info: "));
    for sql in ["SHOW BACKUP FROM nodb", "SHOW RESTORE FROM nodb", "SHOW BRIEF RESTORE IN nodb"] {
        assert_eq!(one(&f.engine, &root(), sql).unwrap_err().message(), "Unknown database 'nodb'", "{sql}");
    }
    assert!(rows(&f.engine, &root(), "SHOW BACKUP FROM db2").rows.is_empty());
}

#[test]
fn cancel_returns_once_the_job_is_cancelled() {
    let f = fixture();
    let engine = Engine::builder(Arc::new(BasicHost::new(DirHost::new(&f.data).unwrap(), Duration::from_millis(1500))))
        .build()
        .unwrap();
    let s = Session::new("root", Some("db1"));
    let sql = format!("CREATE REPOSITORY repo1 WITH LOCAL ON LOCATION 'file://{}'", f.repo_dir.display());
    one(&engine, &s, &sql).unwrap();
    let id = job(&engine, &s, "BACKUP SNAPSHOT c TO repo1");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(one(&engine, &s, "CANCEL BACKUP").unwrap(), Outcome::Done);
    assert_eq!(engine.job(id).unwrap().state, JobState::Cancelled);
    let rs = rows(&engine, &s, "SHOW BACKUP");
    assert_eq!(rs.get(0, "State"), Some("CANCELLED"));
}

#[test]
fn the_cli_fails_on_tables_that_are_not_olap_unless_told_to_skip_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, state) = (tmp.path().join("data"), tmp.path().join("state"));
    write(&data.join("db1/t1/p1/1/a.dat"), b"tablet");
    write(&data.join("db1/ext/_table.json"), br#"{"kind": "odbc"}"#);
    let run = |extra: &[&str], sql: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tabsnap"))
            .args(["sql", "--data", data.to_str().unwrap(), "--state", state.to_str().unwrap()])
            .args(extra)
            .arg(sql)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let repo = format!("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{}'", tmp.path().join("repo").display());
    assert_eq!(run(&[], &repo).0, Some(0));
    let (code, err) = run(&[], "BACKUP SNAPSHOT db1.s TO r");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("Table 'ext' is not a OLAP table"), "{err}");
    let (code, err) = run(&["--ignore-backup-not-support-table-type"], "BACKUP SNAPSHOT db1.s TO r");
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn views_are_backed_up_as_definitions_and_restored_as_doris_2_does() {
    let f = fixture();
    create_repo(&f);
    write(&f.data.join("db1/v1/_table.json"), br#"{"kind": "view", "definition": "SELECT k FROM t1"}"#);
    let j = finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT vs TO repo1 ON (t2, v1)"));
    assert_eq!(j.objects, ["db1.t2", "db1.v1"]);
    let detail = rows(
        &f.engine,
        &root(),
        &format!("SHOW SNAPSHOT ON repo1 WHERE SNAPSHOT = 'vs' AND TIMESTAMP = '{}'", j.timestamp),
    );
    let d: serde_json::Value = serde_json::from_str(detail.get(0, "Details").unwrap()).unwrap();
    assert_eq!(d["view_list"], serde_json::json!([{"name": "v1"}]));

    let restore = |tail: &str| {
        format!("RESTORE SNAPSHOT {tail} PROPERTIES ('backup_timestamp' = '{}')", j.timestamp).replace("  ", " ")
    };
    finish(&f.engine, job(&f.engine, &root(), &restore("db5.vs FROM repo1 ON (v1 AS v2)")));
    let desc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.data.join("db5/v2/_table.json")).unwrap()).unwrap();
    assert_eq!((desc["kind"].as_str(), desc["definition"].as_str()), (Some("view"), Some("SELECT k FROM t1")));
    assert!(!f.data.join("db5/t2").exists());
    // Over an existing view: replaced; over a table of that name: refused.
    write(&f.data.join("db1/v1/_table.json"), br#"{"kind": "view", "definition": "SELECT 1"}"#);
    finish(&f.engine, job(&f.engine, &root(), &restore("vs FROM repo1")));
    let desc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.data.join("db1/v1/_table.json")).unwrap()).unwrap();
    assert_eq!(desc["definition"], "SELECT k FROM t1");
    let err = one(&f.engine, &root(), &restore("vs FROM repo1 ON (v1 AS t1)")).unwrap_err();
    assert_eq!(err.message(), "Table t1 already exist but with different schema");

    // A host without views: named in ON, refused; in a whole database, skipped and said so; a snapshot that
    // holds one restores only with the view excluded.
    let engine =
        Engine::builder(Arc::new(BasicHost::new(DirHost::new(&f.data).unwrap(), Duration::ZERO))).build().unwrap();
    let sql = format!("CREATE REPOSITORY repo1 WITH LOCAL ON LOCATION 'file://{}'", f.repo_dir.display());
    one(&engine, &root(), &sql).unwrap();
    let err = one(&engine, &root(), "BACKUP SNAPSHOT m TO repo1 ON (v1)").unwrap_err();
    assert!(err.message().starts_with("Table 'v1' is a view: tabsnap backs up OLAP tables only"), "{err}");
    let m = finish(&engine, job(&engine, &root(), "BACKUP SNAPSHOT m TO repo1"));
    assert!(m.task_err_msg().contains("Table 'v1' is a view"), "{}", m.task_err_msg());
    let err = one(&engine, &root(), &restore("db6.vs FROM repo1")).unwrap_err();
    assert_eq!(err.message(), "Snapshot vs holds view v1: this host does not restore views (EXCLUDE it)");
    finish(&engine, job(&engine, &root(), &restore("db6.vs FROM repo1 EXCLUDE (v1)")));
    assert!(f.data.join("db6/t2").is_dir());
}
