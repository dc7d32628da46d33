//! Many processes, one repository: real `tabsnap` processes back up, drop snapshots, collect garbage and get
//! killed at once, on LOCAL and on S3; every snapshot that reports success must then verify and restore byte
//! for byte. And several `tabsnap sql` processes sharing one state directory see one job table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tabsnap::repo::{LocalRepository, Repository};

use crate::s3::{noise, s3_repo, server, unique};
use crate::util::tree;

/// Where the repository is, and how a `tabsnap` process reaches it.
struct Place {
    /// For the operator commands (`backup`, `gc`, `verify`, `restore`).
    location: String,
    /// For `tabsnap sql`: the CREATE REPOSITORY statement of repository `r`.
    create: String,
    env: Vec<(&'static str, String)>,
    /// The same repository, opened by the test to look at and remove objects directly.
    repo: Box<dyn Repository>,
}

fn local(dir: &Path) -> Place {
    let repo = dir.join("repo");
    Place {
        location: repo.to_str().unwrap().to_owned(),
        create: format!("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{}'", repo.display()),
        env: Vec::new(),
        repo: Box::new(LocalRepository::new(&repo).unwrap()),
    }
}

fn s3() -> Place {
    let s = server();
    let prefix = unique("conc");
    Place {
        location: format!("s3://{}/{prefix}", s.bucket),
        create: format!(
            "CREATE REPOSITORY r WITH S3 ON LOCATION 's3://{}/{prefix}' PROPERTIES ('s3.endpoint' = '{}', \
             's3.region' = 'us-east-1', 's3.access_key' = '{}', 's3.secret_key' = '{}', 'use_path_style' = 'true')",
            s.bucket, s.endpoint, s.key, s.secret
        ),
        env: vec![
            ("AWS_ENDPOINT_URL", s.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", s.key.clone()),
            ("AWS_SECRET_ACCESS_KEY", s.secret.clone()),
            ("AWS_REGION", "us-east-1".into()),
        ],
        repo: Box::new(s3_repo(s, &prefix)),
    }
}

impl Place {
    /// Removes a snapshot's manifests without collecting: what it referenced becomes garbage.
    fn forget(&self, label: &str) {
        for o in self.repo.list(&format!("snapshots/{label}/")).unwrap() {
            self.repo.delete(&o.key).unwrap();
        }
    }

    fn has_snapshot(&self, label: &str) -> bool {
        !self.repo.list(&format!("snapshots/{label}/")).unwrap().is_empty()
    }

    fn holds_lock(&self) -> bool {
        !self.repo.list("locks/").unwrap().is_empty()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tabsnap"));
        c.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> (i32, String) {
        text(self.cmd(args).output().unwrap())
    }

    fn sql(&self, data: &Path, state: &Path, sql: &str) -> (i32, String) {
        let (d, s) = (data.to_str().unwrap(), state.to_str().unwrap());
        self.run(&["sql", "--data", d, "--state", s, "--user", "root", sql])
    }
}

fn text(out: Output) -> (i32, String) {
    let all =
        format!("{}{}{:?}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr), out.status);
    (out.status.code().unwrap_or(-1), all)
}

/// A database directory `root/<db>/t1/p1/<tablet>/0/…` of `mib` MiB in one large file and 30 small ones.
fn make_db(root: &Path, db: &str, mib: usize, seed: u64) {
    let d = root.join(db).join("t1/p1/1001/0");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("0_0.dat"), noise(mib << 20, seed)).unwrap();
    for i in 0..30u64 {
        std::fs::write(d.join(format!("{i}.idx")), noise(3000, seed * 100 + i)).unwrap();
    }
}

/// Changes one 1 MiB region of the large file and one small file: most chunks stay shared with earlier backups.
fn mutate(root: &Path, db: &str, round: u64) {
    let d = root.join(db).join("t1/p1/1001/0");
    let mut big = std::fs::read(d.join("0_0.dat")).unwrap();
    let at = (round as usize * (5 << 20)) % (big.len() - (1 << 20));
    big[at..at + (1 << 20)].copy_from_slice(&noise(1 << 20, 7_000 + round));
    std::fs::write(d.join("0_0.dat"), big).unwrap();
    std::fs::write(d.join(format!("{}.idx", round % 30)), noise(3000, 9_000 + round)).unwrap();
}

fn kill(child: &mut Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

/// Checks that snapshot `label` verifies and restores to exactly `expected` (the database's tree at backup).
fn check_snapshot(place: &Place, tmp: &Path, label: &str, db: &str, expected: &BTreeMap<PathBuf, Vec<u8>>) {
    let (code, out) = place.run(&["verify", &place.location, label]);
    assert_eq!(code, 0, "verify {label}: {out}");
    let to = tmp.join(format!("restore-{label}"));
    let (code, out) = place.run(&["restore", &place.location, label, "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "restore {label}: {out}");
    assert!(tree(&to.join(db)) == *expected, "snapshot {label} restored other bytes than were backed up");
    std::fs::remove_dir_all(&to).unwrap();
}

/// Rounds of two backups (two databases, sharing most chunks with the round before) while the test drops the
/// round before's snapshots and collects garbage in a loop, from other processes.
fn backups_race_drops_and_collections(place: &Place) {
    let tmp = tempfile::tempdir().unwrap();
    // One data directory per database, so that each backup reads only its own.
    let root = |db: &str| tmp.path().join(format!("data-{db}"));
    let data = root("db1");
    let state = tmp.path().join("state");
    make_db(&root("db1"), "db1", 24, 1);
    make_db(&root("db2"), "db2", 24, 2);
    let (code, out) = place.sql(&data, &state, &place.create);
    assert_eq!(code, 0, "{out}");
    let (mut busy, mut collected, mut dropped, mut checked) = (0, 0, 0, 0);
    let mut previous: Vec<String> = Vec::new();
    for round in 0..4u64 {
        let mut expected = BTreeMap::new();
        let mut running = Vec::new();
        for db in ["db1", "db2"] {
            if round > 0 {
                mutate(&root(db), db, round);
            }
            let label = format!("{db}_r{round}");
            expected.insert(label.clone(), tree(&root(db).join(db)));
            let d = root(db);
            let child = place
                .cmd(&["backup", &place.location, &label, "--data", d.to_str().unwrap(), "--db", db, "--threads", "1"])
                .spawn()
                .unwrap();
            running.push((label, db, child));
        }
        // The collector's loop, while the backups run: drop last round's snapshots, collect, again.
        let mut to_drop = std::mem::take(&mut previous);
        let deadline = Instant::now() + Duration::from_secs(300);
        while running.iter_mut().any(|(_, _, c)| c.try_wait().unwrap().is_none()) {
            assert!(Instant::now() < deadline, "backups did not end");
            if let Some(label) = to_drop.pop() {
                let (code, out) = place.sql(&data, &state, &format!("DROP SNAPSHOT {label} FROM r"));
                assert_eq!(code, 0, "DROP SNAPSHOT {label}: {out}");
                dropped += 1;
            }
            match place.run(&["gc", &place.location]) {
                (0, _) => collected += 1,
                (75, out) => {
                    assert!(out.contains("is in use"), "{out}");
                    busy += 1;
                }
                (code, out) => panic!("gc exited {code}: {out}"),
            }
        }
        for (label, db, child) in running {
            let (code, out) = text(child.wait_with_output().unwrap());
            assert_eq!(code, 0, "backup {label} failed: {out}");
            check_snapshot(place, tmp.path(), &label, db, &expected[&label]);
            checked += 1;
            previous.push(label);
        }
        for label in to_drop {
            let (code, out) = place.sql(&data, &state, &format!("DROP SNAPSHOT {label} FROM r"));
            assert_eq!(code, 0, "{out}");
        }
    }
    // Quiet now: a collection runs and frees what the dropped snapshots held; the last round still restores.
    let (code, out) = place.run(&["gc", &place.location]);
    assert_eq!(code, 0, "{out}");
    for label in &previous {
        let db = &label[..3];
        let to = tmp.path().join("final");
        let (code, out) = place.run(&["restore", &place.location, label, "--to", to.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(tree(&to.join(db)), tree(&root(db).join(db)));
        std::fs::remove_dir_all(&to).unwrap();
    }
    let (code, out) = place.run(&["snapshots", &place.location]);
    assert_eq!(code, 0, "{out}");
    for round in 0..3 {
        assert!(!out.contains(&format!("_r{round} ")), "a dropped snapshot is still listed: {out}");
    }
    eprintln!(
        "{}: {checked} snapshots verified and restored; {dropped} drops and {} collections during backups \
         ({busy} found the repository in use)",
        place.location,
        busy + collected
    );
    assert!(busy > 0, "no collection overlapped a backup: the test proved nothing");
}

#[test]
fn local_backups_race_drops_and_collections_and_every_finished_snapshot_restores() {
    let tmp = tempfile::tempdir().unwrap();
    backups_race_drops_and_collections(&local(tmp.path()));
}

#[test]
fn s3_backups_race_drops_and_collections_and_every_finished_snapshot_restores() {
    backups_race_drops_and_collections(&s3());
}

/// Distinct snapshots, then their manifests removed (dropped without collecting): plenty of garbage.
fn repository_with_garbage(place: &Place, data: &Path, dropped: usize) -> String {
    for i in 0..=dropped {
        make_db(data, "db1", 4, 1000 + 2 * i as u64);
        let label = format!("s{i}");
        let (code, out) =
            place.run(&["backup", &place.location, &label, "--data", data.to_str().unwrap(), "--db", "db1"]);
        assert_eq!(code, 0, "{out}");
        if i < dropped {
            place.forget(&label);
        }
    }
    format!("s{dropped}")
}

#[test]
fn a_collector_killed_at_any_point_leaves_a_valid_local_repository() {
    let tmp = tempfile::tempdir().unwrap();
    collector_killed_at_any_point(&local(tmp.path()), tmp.path());
}

#[test]
fn a_collector_killed_at_any_point_leaves_a_valid_s3_repository() {
    let tmp = tempfile::tempdir().unwrap();
    collector_killed_at_any_point(&s3(), tmp.path());
}

fn collector_killed_at_any_point(place: &Place, tmp: &Path) {
    let data = tmp.join("data");
    let kept = repository_with_garbage(place, &data, 8);
    let expected = tree(&data.join("db1"));
    let (code, out) = place.run(&["gc", &place.location, "--dry-run", "--json"]);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(report["pages"].as_array().unwrap().len(), 8, "{out}");
    assert_eq!(report["indexes"].as_array().unwrap().len(), 8, "{out}");
    assert_eq!(report["packs"].as_array().unwrap().len(), 8, "{out}");
    assert!(report["bytes"].as_u64().unwrap() > 8 * (4 << 20), "{out}");
    for (round, delay_ms) in [0u64, 1, 2, 4, 6, 9, 13, 20].into_iter().enumerate() {
        let mut gc = place.cmd(&["gc", &place.location]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill(&mut gc);
        // The killed collector's lock does not block anyone (its process is gone), and nothing it left breaks
        // the kept snapshot or a new backup.
        check_snapshot(place, tmp, &kept, "db1", &expected);
        let label = format!("after{round}");
        let (code, out) =
            place.run(&["backup", &place.location, &label, "--data", data.to_str().unwrap(), "--db", "db1"]);
        assert_eq!(code, 0, "{out}");
        check_snapshot(place, tmp, &label, "db1", &expected);
    }
    let (code, out) = place.run(&["gc", &place.location, "--json"]);
    assert_eq!(code, 0, "{out}");
    check_snapshot(place, tmp, &kept, "db1", &expected);
    let (code, out) = place.run(&["gc", &place.location, "--dry-run"]);
    assert!(code == 0 && out.contains("would remove 0 manifest page(s), 0 index object(s) and 0 pack(s)"), "{out}");
    // Whatever locks the killed collectors left are stale and `unlock` removes them.
    let (code, out) = place.run(&["unlock", &place.location, "--json"]);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(report["live"].as_array().unwrap().is_empty(), "{out}");
    for l in report["removed"].as_array().unwrap() {
        // A killed collector's lock names its exited process; an object store may also keep the empty object a
        // collector killed in the middle of writing its lock had begun.
        let why = l["stale_reason"].as_str().unwrap();
        assert!(why.contains("exited") || why.starts_with("empty: its writer was killed"), "{out}");
    }
    assert!(!place.holds_lock(), "{:?}", place.repo.list("locks/").unwrap());
    // Temporary files the killed collectors left (a local repository's) went with the last collection.
    assert_eq!(place.repo.remove_leftovers(true).unwrap(), (0, 0));
}

#[test]
fn a_backup_killed_while_a_collection_runs_is_collected_and_the_rerun_restores_local() {
    let tmp = tempfile::tempdir().unwrap();
    backup_killed_while_a_collection_runs(&local(tmp.path()), tmp.path());
}

#[test]
fn a_backup_killed_while_a_collection_runs_is_collected_and_the_rerun_restores_s3() {
    let tmp = tempfile::tempdir().unwrap();
    backup_killed_while_a_collection_runs(&s3(), tmp.path());
}

fn backup_killed_while_a_collection_runs(place: &Place, tmp: &Path) {
    tabsnap::pack::init_repository(place.repo.as_ref()).unwrap();
    let data = tmp.join("data");
    make_db(&data, "db1", 48, 5);
    let d = data.to_str().unwrap();
    for delay_ms in [30u64, 120] {
        let mut backup = place
            .cmd(&["backup", &place.location, "big", "--data", d, "--db", "db1", "--threads", "1"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let (gc_code, gc_out) = place.run(&["gc", &place.location]);
        kill(&mut backup);
        assert!(gc_code == 0 || gc_code == 75, "{gc_out}");
        // With the backup dead, its lock no longer counts: the collection runs and removes its packs.
        let (code, out) = place.run(&["gc", &place.location]);
        assert_eq!(code, 0, "{out}");
        if place.has_snapshot("big") {
            let (code, out) = place.run(&["verify", &place.location]);
            assert_eq!(code, 0, "{out}");
            // The backup finished before the kill: drop it for the next round.
            place.forget("big");
        }
    }
    let (code, out) = place.run(&["backup", &place.location, "big", "--data", d, "--db", "db1"]);
    assert_eq!(code, 0, "{out}");
    check_snapshot(place, tmp, "big", "db1", &tree(&data.join("db1")));
}

/// The field case locks alone cannot cover: a backup paused (SIGSTOP) past the stale time, a collection that
/// takes its lock for dead and removes what the backup was about to reference; the backup, resumed, must find
/// out at its commit re-check and commit nothing.
#[test]
fn a_backup_paused_past_the_stale_time_refuses_to_commit_what_a_collection_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut place = local(tmp.path());
    place.env.push(("TABSNAP_LOCK_STALE_SECS", "1".into()));
    let data = tmp.path().join("data");
    make_db(&data, "db1", 96, 11);
    let d = data.to_str().unwrap();
    let (code, out) = place.run(&["backup", &place.location, "s0", "--data", d, "--db", "db1"]);
    assert_eq!(code, 0, "{out}");
    // s0 dropped without collecting: its index and packs are garbage the next backup will dedup against.
    place.forget("s0");
    let child =
        place.cmd(&["backup", &place.location, "s1", "--data", d, "--db", "db1", "--threads", "1"]).spawn().unwrap();
    // Paused once it holds its lock and has read the indexes (a few milliseconds after the lock appears),
    // long before it has hashed 96 MiB.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !place.holds_lock() {
        assert!(Instant::now() < deadline, "the backup never took its lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(2500));
    let (code, out) = place.run(&["gc", &place.location, "--json"]);
    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    assert_eq!(code, 0, "the paused backup's lock should be stale: {out}");
    let report: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(!report["indexes"].as_array().unwrap().is_empty(), "nothing was collected: {out}");
    assert!(report["stale_locks"][0]["stale_reason"].as_str().unwrap().contains("not refreshed"), "{out}");
    let (code, out) = text(child.wait_with_output().unwrap());
    assert_ne!(code, 0, "the backup committed after its references were collected: {out}");
    assert!(out.contains("is no longer in the repository") && out.contains("nothing was committed"), "{out}");
    let (_, out) = place.run(&["snapshots", &place.location]);
    assert!(!out.contains("s1"), "{out}");
    let (code, out) = place.run(&["backup", &place.location, "s1", "--data", d, "--db", "db1"]);
    assert_eq!(code, 0, "{out}");
    check_snapshot(&place, tmp.path(), "s1", "db1", &tree(&data.join("db1")));
}
