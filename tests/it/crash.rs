//! A restore killed with SIGKILL (a real `tabsnap sql` process) at several points of its commit and of its
//! download: after the next start every table is either as it was or fully restored, and no staging is left.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tabsnap::host::DirHost;

use crate::hostile::{backup, bytes, make_data, write};
use crate::util::tree;

type Tree = BTreeMap<PathBuf, Vec<u8>>;

struct Setup {
    _tmp: tempfile::TempDir,
    /// The data directory as it is before each restore (changed since the backup).
    before: PathBuf,
    repo: PathBuf,
    timestamp: String,
    snap_t1: Tree,
    snap_t2: Tree,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_data(&data);
    write(&data.join("db1/t1/p2/111/a.dat"), &bytes(5, 90_000));
    let repo = tmp.path().join("repo");
    let timestamp = backup(&data, &tmp.path().join("state0"), &repo);
    let (snap_t1, snap_t2) = (tree(&data.join("db1/t1")), tree(&data.join("db1/t2")));
    // Both partitions of t1 change after the backup: a half-committed t1 would differ from both versions.
    write(&data.join("db1/t1/p1/101/0/0_0.dat"), &bytes(6, 100_000));
    write(&data.join("db1/t1/p2/111/a.dat"), &bytes(7, 1000));
    Setup { before: data, repo, timestamp, snap_t1, snap_t2, _tmp: tmp }
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, data) in tree(from) {
        write(&to.join(rel), &data);
    }
}

/// Starts `tabsnap sql` restoring t1 over itself and t2 as the new table t2_r, into a copy of the data.
fn start_restore(s: &Setup, dir: &Path, pause_at: Option<&str>) -> Child {
    start_restore_with(s, dir, pause_at, "")
}

/// [`start_restore`] with more RESTORE properties (`props`, starting with a comma); t1 of the copy has a
/// description the properties change.
fn start_restore_with(s: &Setup, dir: &Path, pause_at: Option<&str>, props: &str) -> Child {
    copy_tree(&s.before, &dir.join("data"));
    if !props.is_empty() {
        write(&dir.join("data/db1/t1/_table.json"), br#"{"storage_medium": "hdd"}"#);
    }
    let sql = format!(
        "CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{}'; \
         RESTORE SNAPSHOT db1.snap FROM r ON (t1, t2 AS t2_r) PROPERTIES ('backup_timestamp' = '{}'{props})",
        s.repo.display(),
        s.timestamp
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tabsnap"));
    cmd.args(["sql", &sql, "--data"])
        .arg(dir.join("data"))
        .arg("--state")
        .arg(dir.join("state"))
        .args(["--threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = pause_at {
        cmd.env("TABSNAP_TEST_PAUSE_AT", p);
    }
    cmd.spawn().unwrap()
}

/// Waits until the child says it paused (its standard error), then kills it with SIGKILL.
fn kill_when_paused(mut child: Child, point: &str) {
    let mut err = child.stderr.take().unwrap();
    let marker = format!("paused at {point}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains(&marker) {
                let _ = tx.send(true);
            }
        }
        let _ = tx.send(false);
    });
    let paused = rx.recv_timeout(Duration::from_secs(60)).unwrap_or(false);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(paused, "the restore never reached {point}");
}

/// The next start recovers; then each table is as before or fully restored, and nothing is staged.
fn check_after_restart(s: &Setup, dir: &Path, what: &str) -> (bool, bool) {
    let data = dir.join("data");
    DirHost::new(&data).unwrap();
    let t1 = tree(&data.join("db1/t1"));
    let t1_restored = t1 == s.snap_t1;
    assert!(t1_restored || t1 == tree(&s.before.join("db1/t1")), "{what}: t1 is half restored");
    let t2_r = data.join("db1/t2_r");
    let t2_restored = t2_r.exists();
    assert!(!t2_restored || tree(&t2_r) == s.snap_t2, "{what}: t2_r is half restored");
    assert_eq!(tree(&data.join("db1/t2")), tree(&s.before.join("db1/t2")), "{what}: t2 changed");
    let staged: Vec<String> = std::fs::read_dir(data.join("db1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(staged.is_empty(), "{what}: left behind {staged:?}");
    (t1_restored, t2_restored)
}

#[test]
fn a_restore_killed_during_its_commit_leaves_each_table_as_before_or_restored() {
    let s = setup();
    // (pause point, t1 restored after the next start, t2_r restored)
    let points = [
        ("commit-start", false, false),
        ("commit-journaled", true, false),
        ("commit-first-partition", true, false),
        ("commit-renamed", true, true),
    ];
    for (i, (point, t1, t2)) in points.into_iter().enumerate() {
        let dir = s._tmp.path().join(format!("kill{i}"));
        kill_when_paused(start_restore(&s, &dir, Some(point)), point);
        if point == "commit-first-partition" {
            // Killed between two partition moves: before the next start, t1 is neither version.
            let half = tree(&dir.join("data/db1/t1"));
            assert!(half != s.snap_t1 && half != tree(&s.before.join("db1/t1")), "not a half commit");
        }
        assert_eq!(check_after_restart(&s, &dir, point), (t1, t2), "{point}");
    }
    // Unpaused, the same restore completes.
    let dir = s._tmp.path().join("whole");
    let status = start_restore(&s, &dir, None).wait().unwrap();
    assert!(status.success());
    assert_eq!(check_after_restart(&s, &dir, "finished"), (true, true));
}

#[test]
fn a_restore_killed_at_any_moment_leaves_each_table_as_before_or_restored() {
    let s = setup();
    for (i, delay_ms) in [0u64, 20, 60, 120, 250, 500].into_iter().enumerate() {
        let dir = s._tmp.path().join(format!("t{i}"));
        let mut child = start_restore(&s, &dir, None);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(delay_ms) && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        child.wait().unwrap();
        check_after_restart(&s, &dir, &format!("killed after {delay_ms} ms"));
    }
}

fn medium_of_t1(dir: &Path) -> Option<String> {
    let bytes = std::fs::read(dir.join("data/db1/t1/_table.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v["storage_medium"].as_str().map(str::to_owned)
}

#[test]
fn an_atomic_restore_or_a_new_description_killed_during_its_commit_is_all_or_nothing() {
    let s = setup();
    // The exchange of an atomic restore is its commit point; a description rides in the commit's journal.
    let cases = [
        ("replace-exchanged", ", 'atomic_restore' = 'true', 'storage_medium' = 'ssd'", true, "ssd"),
        ("replace-start", ", 'atomic_restore' = 'true', 'storage_medium' = 'ssd'", false, "hdd"),
        ("commit-journaled", ", 'storage_medium' = 'ssd'", true, "ssd"),
        ("commit-start", ", 'storage_medium' = 'ssd'", false, "hdd"),
    ];
    for (i, (point, props, t1, medium)) in cases.into_iter().enumerate() {
        let dir = s._tmp.path().join(format!("props{i}"));
        kill_when_paused(start_restore_with(&s, &dir, Some(point), props), point);
        assert_eq!(check_after_restart(&s, &dir, point).0, t1, "{point} {props}");
        assert_eq!(medium_of_t1(&dir).as_deref(), Some(medium), "{point} {props}");
    }
}
