//! `tabsnap parse`: canonical output, exit statuses, and messages a user can act on.

use std::io::Write;
use std::process::{Command, Stdio};

fn tabsnap_parse(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tabsnap"))
        .arg("parse")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn prints_canonical_statements_one_per_line() {
    let (code, out, err) = tabsnap_parse(&[], "show backup in db;\nbackup snapshot db.l to r on (t partitions (p))");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "SHOW BACKUP FROM db;\nBACKUP SNAPSHOT db.l TO r ON (t PARTITION (p));\n");
}

#[test]
fn syntax_errors_exit_2_with_position_and_caret() {
    let (code, out, err) = tabsnap_parse(&["-"], "SHOW REPOSITORIES;\nBACKUP SNAPSHOT db.l TO r ON (t PARTITON (p))");
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert!(err.contains("line 2, column 33: unexpected `PARTITON`, expected"), "{err}");
    assert!(err.contains("`PARTITION`"), "{err}");
    assert!(
        err.contains("2 | BACKUP SNAPSHOT db.l TO r ON (t PARTITON (p))\n  |                                 ^^^^^^^^"),
        "{err}"
    );
}

#[test]
fn analysis_errors_exit_3_with_doris_message() {
    let (code, out, err) = tabsnap_parse(&[], "SHOW REPOSITORIES;\nRESTORE SNAPSHOT db.l FROM r ON (t)");
    assert_eq!((code, out.as_str()), (3, ""));
    assert!(err.contains("line 2, column 1: Missing backup_timestamp property"), "{err}");
}

#[test]
fn json_prints_the_syntax_tree() {
    let (code, out, _) = tabsnap_parse(&["--json"], "DROP SNAPSHOT l FROM r; SHOW REPOSITORIES");
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["statement"], "drop_snapshot");
    assert_eq!(lines[0]["repository"], "r");
    assert_eq!(lines[1]["statement"], "show_repositories");
}

#[test]
fn reads_files_and_reports_missing_ones() {
    let dir = std::env::temp_dir().join(format!("tabsnap-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.sql");
    std::fs::write(&file, "SHOW REPOSITORIES").unwrap();
    let (code, out, _) = tabsnap_parse(&[file.to_str().unwrap()], "");
    assert_eq!((code, out.as_str()), (0, "SHOW REPOSITORIES;\n"));
    let (code, _, err) = tabsnap_parse(&[dir.join("missing.sql").to_str().unwrap()], "");
    assert_eq!(code, 1);
    assert!(err.contains("cannot read") && err.contains("missing.sql"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tabsnap(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tabsnap")).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn backup_restore_verify_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("shard0/10001/0")).unwrap();
    std::fs::create_dir_all(data.join("shard1/10002")).unwrap();
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(data.join("shard0/10001/0/0_0.dat"), &big).unwrap();
    std::fs::write(data.join("shard1/10002/1.idx"), b"index").unwrap();
    let repo = format!("file://{}", tmp.path().join("repo").display());
    let d = data.to_str().unwrap();
    let (code, out, err) = tabsnap(&["backup", &repo, "snap1", "--data", d, "--db", "db1", "--depth", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("snapshot snap1 ") && out.contains("2 files"), "{out}");
    let (code, out, _) = tabsnap(&["snapshots", &repo]);
    assert!(code == 0 && out.contains("snap1") && out.contains("db1"), "{out}");
    let to = tmp.path().join("out");
    let (code, _, err) = tabsnap(&["restore", &repo, "snap1", "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // DIR/<db>/<table>/<partition>/<tablet>: directory-mode tables have one partition named after them.
    assert_eq!(std::fs::read(to.join("db1/shard0/shard0/10001/0/0_0.dat")).unwrap(), big);
    assert_eq!(std::fs::read(to.join("db1/shard1/shard1/10002/1.idx")).unwrap(), b"index");
    // A second restore into the same directory is refused (nothing is overwritten or half-merged).
    let (code, _, err) = tabsnap(&["restore", &repo, "snap1", "--to", to.to_str().unwrap()]);
    assert!(code == 1 && err.contains("is not empty"), "{err}");
    let (code, out, _) = tabsnap(&["verify", &repo]);
    assert!(code == 0 && out.starts_with("ok: 1 snapshot,"), "{out}");
    // A target named relative to the working directory (its parent is the working directory).
    let out = Command::new(env!("CARGO_BIN_EXE_tabsnap"))
        .args(["restore", &repo, "snap1", "latest", "--to", "relative-out"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(tmp.path().join("relative-out/db1/shard0/shard0/10001/0/0_0.dat")).unwrap(), big);

    // Damage a pack: verify names it and exits 1; restore refuses.
    let packs = tmp.path().join("repo/packs");
    let sub = std::fs::read_dir(&packs).unwrap().next().unwrap().unwrap().path();
    let pack = std::fs::read_dir(&sub).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[50] ^= 0xff;
    std::fs::write(&pack, bytes).unwrap();
    let (code, out, _) = tabsnap(&["verify", &repo]);
    assert_eq!(code, 1);
    assert!(out.contains("BAD packs/") && out.contains("crc32c mismatch") && out.contains("file 0/0_0.dat"), "{out}");
    let (code, _, err) = tabsnap(&["restore", &repo, "snap1", "--to", tmp.path().join("out2").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("crc32c mismatch"), "{err}");
    // A failed restore leaves nothing behind: no target, no staging beside it.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(
        !tmp.path().join("out2").exists() && !left.iter().any(|n| n.to_string_lossy().contains("restore")),
        "{left:?}"
    );
    let (code, _, err) = tabsnap(&["snapshots", tmp.path().join("nothing").to_str().unwrap()]);
    assert!(code == 1 && err.contains("no repository"), "{err}");
}

#[test]
fn sql_runs_statements_across_invocations_and_demo_checks_every_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("db1/t1/p1/1001/0")).unwrap();
    std::fs::write(data.join("db1/t1/p1/1001/0/0_0.dat"), vec![7u8; 300_000]).unwrap();
    let (d, s) = (data.to_str().unwrap().to_owned(), tmp.path().join("state").to_str().unwrap().to_owned());
    let sql = |args: &[&str]| {
        let mut all = vec!["sql", "--data", &d, "--state", &s];
        all.extend_from_slice(args);
        tabsnap(&all)
    };
    let repo = format!("CREATE REPOSITORY r1 WITH LOCAL ON LOCATION 'file://{}'", tmp.path().join("repo").display());
    let (code, out, err) = sql(&[&format!("{repo}; BACKUP SNAPSHOT db1.l1 TO r1")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK") && out.contains("BACKUP l1") && out.contains("FINISHED"), "{out}");
    // Another invocation sees the repository and the job.
    let (code, out, _) = sql(&["--db", "db1", "--json", "SHOW BACKUP"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v[0]["SnapshotName"], "l1");
    assert_eq!(v[0]["State"], "FINISHED");
    let (code, _, err) = sql(&["--user", "bob", &repo.replace("r1", "r2")]);
    assert_eq!(code, 3);
    assert!(err.contains("ADMIN privilege"), "{err}");
    let (code, _, err) = sql(&["BACKUP SNAPSHOT db1.l2 TO"]);
    assert_eq!(code, 2);
    assert!(err.contains("line 1, column 26"), "{err}");
    let (code, out, _) = sql(&["SHOW SNAPSHOT ON r1"]);
    assert!(code == 0 && out.contains("| l1 "), "{out}");

    let (code, out, err) = tabsnap(&["demo", "--dir", tmp.path().join("demo").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("identical: 90 files"), "{out}");
}
