//! The packer end to end: backup → restore → byte comparison, dedup and resume, corruption, faults, safety.

use std::path::{Path, PathBuf};

use crate::util::tree;
use std::sync::Arc;
use std::time::Duration;

use tabsnap::ErrorKind;
use tabsnap::format::{self, Manifest, decode_pack_footer, encode_pack_footer};
use tabsnap::pack::{
    BackupSource, CancelToken, IndexSource, JobControl, Packer, PackerBuilder, PartitionSource, TableSource,
    TabletSource, check_restored_file, init_repository, list_snapshots, load_manifest,
};
use tabsnap::repo::{Fault, FaultPlan, LocalRepository, MemoryRepository, Op, Repository, Retry};

pub(crate) fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(format!("{}|{}|row {}\n", x % 1000, x >> 40, x % 7).as_bytes());
    }
    out.truncate(len);
    out
}

/// A tablet tree: 2 tables, 3 tablets each, small files, one file of several chunks, an empty file, nesting.
pub(crate) fn make_tree(root: &Path) -> BackupSource {
    let mut tables = Vec::new();
    for (ti, table) in ["lineitem", "orders"].iter().enumerate() {
        let mut tablets = Vec::new();
        for k in 0..3u64 {
            let id = format!("{}", 10_000 + ti as u64 * 10 + k);
            let dir = root.join(table).join(&id);
            std::fs::create_dir_all(dir.join("1234")).unwrap();
            for s in 0..20u64 {
                std::fs::write(
                    dir.join("1234").join(format!("{s}.idx")),
                    bytes(k * 100 + s + ti as u64 * 7, 3000 + s as usize * 37),
                )
                .unwrap();
            }
            std::fs::write(dir.join("empty.dat"), b"").unwrap();
            if k == 0 {
                // 3.5 chunks of 64 KiB, plus random bytes that do not compress.
                std::fs::write(dir.join("1234").join("0_0.dat"), bytes(99 + ti as u64, 64 * 1024 * 3 + 5000)).unwrap();
                let noise: Vec<u8> = (0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
                std::fs::write(dir.join("noise.bin"), noise).unwrap();
            }
            tablets.push(TabletSource::new(id, dir));
        }
        tables
            .push(TableSource::new(*table, vec![PartitionSource::new("p1", vec![IndexSource::new(*table, tablets)])]));
    }
    BackupSource {
        database: "tpch".into(),
        tables: tables.into(),
        host_metadata: b"{\"schema\": 1}".to_vec(),
        metadata_only: false,
        views: Vec::new(),
    }
}

/// The tests' packer options: 2 threads, 64 KiB chunks, 1 MiB packs.
pub(crate) fn packer_builder() -> PackerBuilder {
    Packer::builder().threads(2).chunk_size(64 << 10).pack_size(1 << 20).bytes_in_flight(4 << 20)
}

pub(crate) fn packer() -> Packer {
    packer_builder().build().unwrap()
}

pub(crate) fn control(ts: &str) -> JobControl {
    JobControl { timestamp: Some(ts.into()), ..JobControl::default() }
}

pub(crate) fn restore_all(
    packer: &Packer,
    repo: &dyn Repository,
    m: &Manifest,
    out: &Path,
) -> tabsnap::Result<tabsnap::pack::RestoreSummary> {
    packer.restore(repo, m, &|place, tablet| Some(out.join(place.table).join(&tablet.id)), &JobControl::default())
}

/// A tree backed up as "snap" into a fresh in-memory repository: (dir, repo, packer, summary, manifest).
fn backed_up() -> (tempfile::TempDir, MemoryRepository, Packer, tabsnap::pack::BackupSummary, Manifest) {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    let p = packer();
    let s = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap();
    let m = load_manifest(&repo, "snap", &s.timestamp).unwrap();
    (tmp, repo, p, s, m)
}

#[test]
fn backup_restore_compares_every_byte_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let repo = LocalRepository::new(tmp.path().join("repo")).unwrap();
    init_repository(&repo).unwrap();
    let p = packer();
    let s = p.backup(&repo, &source, "snap1", &control("2024-01-01-10-00-00")).unwrap();
    assert_eq!(s.files, 2 * 3 * 21 + 4);
    assert!(s.chunks_new > 0 && s.packs_written >= 1);

    assert_eq!(list_snapshots(&repo).unwrap()[0].label, "snap1");
    let m = load_manifest(&repo, "snap1", "2024-01-01-10-00-00").unwrap();
    assert_eq!(m.host_metadata_bytes(), b"{\"schema\": 1}");
    let out = tmp.path().join("out");
    let r = restore_all(&p, &repo, &m, &out).unwrap();
    assert_eq!(r.files, s.files);
    assert_eq!(tree(&out), tree(&tmp.path().join("data")));
    for f in m.files() {
        let path = out.join(f.place.table).join(&f.tablet.id).join(&f.file.path);
        assert!(check_restored_file(&path, f.file).unwrap(), "{}", f.file.path);
    }
    let full = p.verify(&repo, std::slice::from_ref(&m), false).unwrap();
    assert!(full.is_ok(), "{:?}", full.problems);
    assert_eq!(full.chunks, s.chunks_new);
    assert!(p.verify(&repo, &[m], true).unwrap().is_ok());
}

#[test]
fn unchanged_data_uploads_only_a_manifest_and_changes_upload_only_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let source = make_tree(&data);
    let repo = Fault::new(MemoryRepository::new(), FaultPlan::default());
    init_repository(&repo).unwrap();
    let p = packer();
    let first = p.backup(&repo, &source, "full1", &control("2024-01-01-10-00-00")).unwrap();

    let data_puts = |r: &Fault<MemoryRepository>| r.calls(Op::Put) - r.calls_to(Op::Put, "locks/");
    let puts = data_puts(&repo);
    let second = p.backup(&repo, &source, "full2", &control("2024-01-01-11-00-00")).unwrap();
    assert_eq!((second.chunks_new, second.packs_written), (0, 0));
    assert_eq!(second.chunks_reused, first.chunks_new + first.chunks_reused);
    // Besides the backup's lock: the manifest, and its one page, the same object as the first backup's.
    assert_eq!(data_puts(&repo) - puts, 2, "only the manifest and its page are written");
    assert_eq!(repo.inner().list("trees/").unwrap().len(), 1);

    // Change one small file and one chunk of the large file.
    std::fs::write(data.join("orders/10010/1234/3.idx"), bytes(12345, 3111)).unwrap();
    let mut big = std::fs::read(data.join("lineitem/10000/1234/0_0.dat")).unwrap();
    big[70_000] ^= 0xff;
    std::fs::write(data.join("lineitem/10000/1234/0_0.dat"), &big).unwrap();
    let third = p.backup(&repo, &source, "full3", &control("2024-01-01-12-00-00")).unwrap();
    assert_eq!(third.chunks_new, 2);
    let m = load_manifest(&repo, "full3", "2024-01-01-12-00-00").unwrap();
    let out = tmp.path().join("out");
    restore_all(&p, &repo, &m, &out).unwrap();
    assert_eq!(tree(&out), tree(&data));
    // The older snapshot still restores to the older bytes.
    let m1 = load_manifest(&repo, "full1", "2024-01-01-10-00-00").unwrap();
    let out1 = tmp.path().join("out1");
    restore_all(&p, &repo, &m1, &out1).unwrap();
    assert_ne!(tree(&out1), tree(&data));
    assert!(p.verify(&repo, &[m, m1], false).unwrap().is_ok());
}

#[test]
fn an_interrupted_backup_leaves_no_snapshot_and_resumes_uploading_only_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let plan = FaultPlan { fail_nth: vec![(Op::Put, "snapshots/".into(), 1, false)], ..FaultPlan::default() };
    let repo = Fault::new(MemoryRepository::new(), plan);
    init_repository(&repo).unwrap();
    let p = packer();
    let e = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Repository);
    assert_eq!(e.object(), Some("snapshots/snap/2024-01-01-10-00-00"));
    assert!(list_snapshots(&repo).unwrap().is_empty(), "no manifest, no snapshot");

    // Killed after the packs, before the index: the packs left behind are adopted by the next run.
    let repo = Fault::new(
        MemoryRepository::new(),
        FaultPlan { fail_nth: vec![(Op::Put, "index/".into(), 1, false)], ..FaultPlan::default() },
    );
    init_repository(&repo).unwrap();
    let first = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap_err();
    assert!(first.message().contains("writing the backup's index"), "{first}");
    assert!(list_snapshots(&repo).unwrap().is_empty());
    assert!(!repo.inner().list("packs/").unwrap().is_empty());
    repo.set_plan(FaultPlan::default());
    let puts = repo.calls(Op::Put) - repo.calls_to(Op::Put, "locks/");
    let again = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap();
    assert_eq!((again.chunks_new, again.packs_written), (0, 0), "nothing is uploaded twice");
    let written = repo.calls(Op::Put) - repo.calls_to(Op::Put, "locks/") - puts;
    assert_eq!(written, 3, "only the index, the manifest's one page and the manifest");

    // Failing in the middle of the packs: whatever was uploaded is reused.
    let repo = Fault::new(
        MemoryRepository::new(),
        FaultPlan { fail_nth: vec![(Op::Put, "packs/".into(), 2, false)], ..FaultPlan::default() },
    );
    init_repository(&repo).unwrap();
    let small =
        Packer::builder().threads(1).chunk_size(64 << 10).pack_size(1 << 20).bytes_in_flight(2 << 20).build().unwrap();
    let noisy = tmp.path().join("noisy");
    std::fs::create_dir_all(&noisy).unwrap();
    for i in 0..4u32 {
        let mut x = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let noise: Vec<u8> = (0..700_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        std::fs::write(noisy.join(format!("{i}.bin")), noise).unwrap();
    }
    let noisy_source = BackupSource::single_table("db", "t", vec![TabletSource::new("1", &noisy)]);
    let e = small.backup(&repo, &noisy_source, "n", &control("2024-01-01-10-00-00")).unwrap_err();
    assert!(e.message().contains("uploading a pack"), "{e}");
    assert!(list_snapshots(&repo).unwrap().is_empty());
    repo.set_plan(FaultPlan::default());
    let again = small.backup(&repo, &noisy_source, "n", &control("2024-01-01-10-00-00")).unwrap();
    assert!(again.chunks_reused > 0, "chunks of the pack left behind are reused: {again:?}");
    let m = load_manifest(&repo, "n", "2024-01-01-10-00-00").unwrap();
    restore_all(&small, &repo, &m, &tmp.path().join("noisy-out")).unwrap();
    assert_eq!(tree(&tmp.path().join("noisy-out/t/1")), tree(&noisy));
    let repo = Fault::new(MemoryRepository::new(), FaultPlan::default());
    init_repository(&repo).unwrap();
    p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap();
    let m = load_manifest(&repo, "snap", "2024-01-01-10-00-00").unwrap();
    let out = tmp.path().join("out");
    restore_all(&p, &repo, &m, &out).unwrap();
    assert_eq!(tree(&out), tree(&tmp.path().join("data")));
}

#[test]
fn transient_failures_are_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let plan = FaultPlan {
        fail_nth: vec![(Op::Put, "packs/".into(), 1, true), (Op::Get, "index/".into(), 1, true)],
        ..FaultPlan::default()
    };
    let repo = Retry::new(Fault::new(MemoryRepository::new(), plan), 3, Duration::from_millis(1));
    init_repository(&repo).unwrap();
    let p = packer();
    let s = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap();
    let m = load_manifest(&repo, "snap", &s.timestamp).unwrap();
    restore_all(&p, &repo, &m, &tmp.path().join("out")).unwrap();
    assert_eq!(tree(&tmp.path().join("out")), tree(&tmp.path().join("data")));
}

#[test]
fn corruption_is_found_and_named_on_restore_and_verify() {
    let (tmp, repo, p, _, m) = backed_up();
    let pack = repo.list("packs/").unwrap()[0].key.clone();
    repo.tamper(&pack, |v| v[100] ^= 0x40);

    let e = restore_all(&p, &repo, &m, &tmp.path().join("out")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corruption);
    assert_eq!(e.object(), Some(pack.as_str()));
    assert!(e.message().contains("crc32c mismatch") && e.message().contains("while restoring tpch."), "{e}");

    let report = p.verify(&repo, std::slice::from_ref(&m), false).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!(problem.object, pack);
    assert!(problem.chunk.is_some() && !problem.files.is_empty());
    assert!(problem.to_string().contains("snap/2024-01-01-10-00-00: tpch."), "{problem}");
    assert!(p.verify(&repo, std::slice::from_ref(&m), true).unwrap().is_ok(), "quick mode reads no data");

    // A truncated and a missing pack are found even in quick mode.
    repo.tamper(&pack, |v| v.truncate(10));
    let quick = p.verify(&repo, std::slice::from_ref(&m), true).unwrap();
    assert!(quick.problems[0].message.contains("truncated"), "{:?}", quick.problems);
    repo.delete(&pack).unwrap();
    let quick = p.verify(&repo, &[m], true).unwrap();
    assert_eq!(quick.problems[0].message, "pack is missing");
}

#[test]
fn a_pack_footer_that_disagrees_with_the_index_is_named_with_the_chunk() {
    let (_tmp, repo, p, _, m) = backed_up();
    let pack = repo.list("packs/").unwrap()[0].key.clone();
    let len = repo.size(&pack).unwrap().unwrap();
    let data = tabsnap::repo::get(&repo, &pack).unwrap();
    let mut footer = decode_pack_footer(&pack, len, &data).unwrap();
    assert!(footer.len() > 2, "{} entries", footer.len());
    // The middle entry's crc edited in the footer alone: the chunk's bytes and the index are as they were.
    let edited = footer.len() / 2;
    footer[edited].crc32c ^= 1;
    let at = data.len() - encode_pack_footer(&footer).len();
    repo.tamper(&pack, |v| {
        v.truncate(at);
        v.extend(encode_pack_footer(&footer));
    });
    let report = p.verify(&repo, std::slice::from_ref(&m), false).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!((problem.object.as_str(), problem.chunk), (pack.as_str(), Some(footer[edited].hash)));
    assert!(problem.message.contains("footer does not list this chunk"), "{problem}");
    assert!(!problem.files.is_empty(), "{problem}");
    assert!(p.verify(&repo, &[m], true).unwrap().is_ok(), "quick mode reads no footer");
}

#[test]
fn short_reads_and_failing_gets_fail_the_restore_with_the_object_named() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let repo = Fault::new(MemoryRepository::new(), FaultPlan::default());
    init_repository(&repo).unwrap();
    let p = packer();
    let s = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap();
    let m = load_manifest(&repo, "snap", &s.timestamp).unwrap();
    repo.set_plan(FaultPlan { short_reads: vec!["packs/".into()], ..FaultPlan::default() });
    let e = restore_all(&p, &repo, &m, &tmp.path().join("a")).unwrap_err();
    assert!(e.message().contains("short read") && e.object().is_some_and(|o| o.starts_with("packs/")), "{e}");
    repo.set_plan(FaultPlan { corrupt_reads: vec![("packs/".into(), 3)], ..FaultPlan::default() });
    assert_eq!(restore_all(&p, &repo, &m, &tmp.path().join("b")).unwrap_err().kind(), ErrorKind::Corruption);
    repo.set_plan(FaultPlan { fail_from: vec![(Op::Get, "packs/".into(), 1)], ..FaultPlan::default() });
    let e = restore_all(&p, &repo, &m, &tmp.path().join("c")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Repository);
}

#[test]
fn restore_of_one_tablet_reads_only_what_it_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let repo = Fault::new(MemoryRepository::new(), FaultPlan::default());
    init_repository(&repo).unwrap();
    let p = packer();
    let s = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap();
    let m = load_manifest(&repo, "snap", &s.timestamp).unwrap();
    let out = tmp.path().join("one");
    let r = p.restore(&repo, &m, &|_, t| (t.id == "10011").then(|| out.join(&t.id)), &JobControl::default()).unwrap();
    assert_eq!(r.files, 21);
    assert!(r.bytes_read < s.bytes_uploaded / 3, "read {} of {}", r.bytes_read, s.bytes_uploaded);
    assert_eq!(tree(&out.join("10011")), tree(&tmp.path().join("data/orders/10011")));
    assert!(!out.join("10010").exists());
}

#[test]
fn restore_never_escapes_overwrites_or_follows_links() {
    let (tmp, repo, p, _, m) = backed_up();

    for bad in ["../escape", "/etc/passwd", "a/../../b", "a//b", "./x"] {
        let mut evil = m.clone();
        evil.tables[0].partitions[0].indexes[0].tablets[0].files[0].path = bad.into();
        let e = restore_all(&p, &repo, &evil, &tmp.path().join("evil")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
    }
    assert!(!tmp.path().join("escape").exists());

    // An existing file is never overwritten.
    let out = tmp.path().join("out");
    restore_all(&p, &repo, &m, &out).unwrap();
    assert_eq!(restore_all(&p, &repo, &m, &out).unwrap_err().kind(), ErrorKind::AlreadyExists);

    // A symlink planted inside the target is not written through.
    let out2 = tmp.path().join("out2");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(out2.join("lineitem/10000")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, out2.join("lineitem/10000/1234")).unwrap();
    let e = restore_all(&p, &repo, &m, &out2).unwrap_err();
    assert!(e.message().contains("symlink"), "{e}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn cancel_stops_the_backup_and_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    let cancel = CancelToken::new();
    cancel.cancel();
    let c = JobControl { cancel: cancel.clone(), ..JobControl::default() };
    assert_eq!(packer().backup(&repo, &source, "snap", &c).unwrap_err().kind(), ErrorKind::Cancelled);
    let t = CancelToken::new();
    t.time_out();
    let c = JobControl { cancel: t, ..JobControl::default() };
    assert_eq!(packer().backup(&repo, &source, "snap", &c).unwrap_err().kind(), ErrorKind::TimedOut);
    assert!(list_snapshots(&repo).unwrap().is_empty());
}

#[test]
fn progress_reaches_the_totals() {
    struct Last(parking_lot::Mutex<tabsnap::pack::ProgressInfo>);
    impl tabsnap::pack::Progress for Last {
        fn update(&self, info: &tabsnap::pack::ProgressInfo) {
            let mut l = self.0.lock();
            if info.bytes_done >= l.bytes_done {
                *l = *info;
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    let last = Arc::new(Last(parking_lot::Mutex::new(Default::default())));
    let c = JobControl { progress: Some(last.clone()), ..JobControl::default() };
    let s = packer().backup(&repo, &source, "snap", &c).unwrap();
    let l = *last.0.lock();
    assert_eq!((l.bytes_done, l.bytes_total, l.files_total), (s.bytes, s.bytes, s.files));
}

#[test]
fn repositories_are_created_attached_or_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = LocalRepository::new(tmp.path().join("r")).unwrap();
    let c1 = init_repository(&repo).unwrap();
    let again = LocalRepository::new(tmp.path().join("r")).unwrap();
    assert_eq!(init_repository(&again).unwrap(), c1, "attaches to the existing repository");
    std::fs::create_dir_all(tmp.path().join("other")).unwrap();
    std::fs::write(tmp.path().join("other/data.txt"), b"not ours").unwrap();
    let other = LocalRepository::new(tmp.path().join("other")).unwrap();
    let e = init_repository(&other).unwrap_err();
    assert!(e.message().contains("not a tabsnap repository"), "{e}");
    assert_eq!(list_snapshots(&MemoryRepository::new()).unwrap_err().kind(), ErrorKind::NotFound);
    let bad = Packer::builder().zstd_level(30).build().unwrap_err();
    assert!(bad.message().contains("zstd level 30"), "{bad}");
}

pub(crate) const GOLDEN_TS: &str = "2024-01-01-10-00-00";

pub(crate) fn golden_source(root: &Path) -> BackupSource {
    std::fs::create_dir_all(root.join("t/1001/0")).unwrap();
    std::fs::write(root.join("t/1001/0/0_0.dat"), bytes(1, 150_000)).unwrap();
    std::fs::write(root.join("t/1001/0/0.idx"), b"small index file").unwrap();
    std::fs::write(root.join("t/1001/meta"), b"").unwrap();
    BackupSource::single_table("golden_db", "t", vec![TabletSource::new("1001", root.join("t/1001"))])
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/repo")
}

/// Writes tests/golden/repo anew. Run only when the format version changes:
/// `cargo test --test it pack::regenerate_golden_repository -- --ignored`.
#[test]
#[ignore]
fn regenerate_golden_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let _ = std::fs::remove_dir_all(golden_dir());
    let repo = LocalRepository::new(golden_dir()).unwrap();
    init_repository(&repo).unwrap();
    packer().backup(&repo, &golden_source(tmp.path()), "golden", &control(GOLDEN_TS)).unwrap();
}

#[test]
fn the_committed_golden_repository_still_decodes_and_restores() {
    let repo = LocalRepository::new(golden_dir()).unwrap();
    let snaps = list_snapshots(&repo).unwrap();
    assert_eq!(snaps.len(), 1);
    let m = load_manifest(&repo, "golden", GOLDEN_TS).unwrap();
    assert_eq!((m.database.as_str(), m.chunk_size), ("golden_db", 64 << 10));
    let tmp = tempfile::tempdir().unwrap();
    let expected = tmp.path().join("src");
    golden_source(&expected);
    let out = tmp.path().join("out");
    let p = packer();
    p.restore(&repo, &m, &|_, t| Some(out.join(&t.id)), &JobControl::default()).unwrap();
    assert_eq!(tree(&out.join("1001")), tree(&expected.join("t/1001")));
    assert!(p.verify(&repo, &[m], false).unwrap().is_ok());
    // The pack's name is its content hash: the bytes on disk are exactly what was written.
    for o in repo.list("packs/").unwrap() {
        let data = tabsnap::repo::get(&repo, &o.key).unwrap();
        assert_eq!(format::pack_key(&format::ContentHash::of(&data)), o.key);
    }
}
