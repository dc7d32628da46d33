//! A label's newest backup without copying its timestamp: RESTORE's `"backup_timestamp" = "latest"` (tabsnap's
//! extension; a missing timestamp stays an error, as in Doris) and `tabsnap restore REPO LABEL latest`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use tabsnap::host::DirHost;
use tabsnap::job::JobState;
use tabsnap::pack::{BackupSource, JobControl, Packer, TabletSource, init_repository};
use tabsnap::repo::{LocalRepository, MemoryRepository, Repository};
use tabsnap::{Engine, ErrorKind, Outcome, Session};

/// A newer backup of `label`, table t1 with one tablet 1001 holding `content`, at 2999-01-01.
fn newer_backup(repo: &dyn Repository, dir: &Path, label: &str, content: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("0_0.dat"), content).unwrap();
    let source = BackupSource::single_table("db1", "t1", vec![TabletSource::new("1001", dir)]);
    let control = JobControl { timestamp: Some("2999-01-01-00-00-00".into()), ..JobControl::default() };
    Packer::builder().threads(1).build().unwrap().backup(repo, &source, label, &control).unwrap();
}

#[test]
fn restore_with_backup_timestamp_latest_takes_the_newest_backup_of_the_label() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("db1/t1/t1/1001")).unwrap();
    std::fs::write(data.join("db1/t1/t1/1001/0_0.dat"), b"older").unwrap();
    let engine = Engine::builder(Arc::new(DirHost::new(&data).unwrap())).threads(1).build().unwrap();
    let repo = Arc::new(MemoryRepository::new());
    engine.attach_repository("r", repo.clone(), false).unwrap();
    let session = Session::new("root", Some("db1"));
    let run = |sql: &str| -> tabsnap::job::JobInfo {
        let Some(Outcome::Job(id)) = engine.execute(&session, sql).unwrap().pop() else { panic!("no job: {sql}") };
        engine.wait(id, Duration::from_secs(600)).unwrap()
    };
    assert_eq!(run("BACKUP SNAPSHOT db1.snap TO r").state, JobState::Finished);
    newer_backup(repo.as_ref(), &tmp.path().join("newer"), "snap", b"newest");
    for (value, table) in [("latest", "t_latest"), ("LATEST", "t_upper")] {
        let sql = format!(
            "RESTORE SNAPSHOT db1.snap FROM r ON (t1 AS {table}) PROPERTIES (\"backup_timestamp\" = \"{value}\")"
        );
        let job = run(&sql);
        assert_eq!((job.state, job.timestamp.as_str()), (JobState::Finished, "2999-01-01-00-00-00"), "{:?}", job.error);
        assert_eq!(std::fs::read(data.join(format!("db1/{table}/t1/1001/0_0.dat"))).unwrap(), b"newest");
    }
    // SHOW RESTORE names the backup it took.
    let Some(Outcome::Rows(rs)) = engine.execute(&session, "SHOW RESTORE FROM db1").unwrap().pop() else { panic!() };
    let col = rs.columns.iter().position(|c| c == "Timestamp").unwrap();
    assert_eq!(rs.rows.last().unwrap()[col], "2999-01-01-00-00-00");
    // A label with no backup: an analysis error naming the label; a missing timestamp is still refused.
    let e = engine
        .execute(&session, "RESTORE SNAPSHOT db1.nothing FROM r PROPERTIES (\"backup_timestamp\" = \"latest\")")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Analysis);
    assert!(e.message().contains("'nothing'") && e.message().contains("holds no backup of snapshot nothing"), "{e}");
    let e = engine.execute(&session, "RESTORE SNAPSHOT db1.snap FROM r").unwrap_err();
    assert!(e.message().contains("Missing backup_timestamp property"), "{e}");
    // "latest" can never be a backup's own timestamp.
    let e = engine.backup_part("r", "db1", "snap", "latest", "n1", &[]).unwrap_err();
    assert!(e.message().contains("cannot be a backup timestamp"), "{e}");
}

#[test]
fn the_cli_restores_the_newest_backup_through_sql_and_restore_latest() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("db1/t1/t1/1001")).unwrap();
    std::fs::write(data.join("db1/t1/t1/1001/0_0.dat"), b"older").unwrap();
    let repo_dir = tmp.path().join("repo");
    let tabsnap = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tabsnap")).args(args).output().unwrap();
        let text = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
        (out.status.code().unwrap_or(-1), text.0, text.1)
    };
    let (d, s, r) = (data.to_str().unwrap(), tmp.path().join("state"), repo_dir.to_str().unwrap());
    let s = s.to_str().unwrap();
    let create = format!("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{r}'; BACKUP SNAPSHOT db1.snap TO r");
    let (code, _, err) = tabsnap(&["sql", "--data", d, "--state", s, &create]);
    assert_eq!(code, 0, "{err}");
    let repo = LocalRepository::new(&repo_dir).unwrap();
    init_repository(&repo).unwrap();
    newer_backup(&repo, &tmp.path().join("newer"), "snap", b"newest");
    let restore = "RESTORE SNAPSHOT db1.snap FROM r ON (t1 AS t2) PROPERTIES ('backup_timestamp' = 'latest')";
    let (code, out, err) = tabsnap(&["sql", "--data", d, "--state", s, "--json", restore]);
    assert_eq!(code, 0, "{err}");
    let job: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((job["state"].as_str(), job["timestamp"].as_str()), (Some("FINISHED"), Some("2999-01-01-00-00-00")));
    assert_eq!(std::fs::read(data.join("db1/t2/t1/1001/0_0.dat")).unwrap(), b"newest");
    // tabsnap restore: `latest`, or no timestamp, is the newest; an explicit one picks the older.
    for (args, want) in
        [(&["latest"][..], &b"newest"[..]), (&[][..], b"newest"), (&["2999-01-01-00-00-00"][..], b"newest")]
    {
        let to = tmp.path().join(format!("out{}", args.len()));
        let _ = std::fs::remove_dir_all(&to);
        let mut all = vec!["restore", r, "snap"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--to", to.to_str().unwrap(), "--json"]);
        let (code, out, err) = tabsnap(&all);
        assert_eq!(code, 0, "{err}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["timestamp"], "2999-01-01-00-00-00");
        assert_eq!(std::fs::read(to.join("db1/t1/t1/1001/0_0.dat")).unwrap(), want);
    }
    let (_, out, _) = tabsnap(&["snapshots", r, "--json"]);
    let list: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let older = list.as_array().unwrap().iter().find(|s| s["timestamp"] != "2999-01-01-00-00-00").unwrap();
    let to = tmp.path().join("older");
    let (code, _, err) =
        tabsnap(&["restore", r, "snap", older["timestamp"].as_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(to.join("db1/t1/t1/1001/0_0.dat")).unwrap(), b"older");
    let (code, _, err) = tabsnap(&["restore", r, "none", "latest", "--to", to.to_str().unwrap()]);
    assert!(code == 1 && err.contains("holds no snapshot none"), "{err}");
}
