//! Paged manifests end to end: a backup's tablets stored in several pages and read back whole by restore,
//! verify and the CLI; pages kept and removed by garbage collection with the snapshots that name them; a page
//! write that fails commits nothing; listings read manifests without their pages.

use std::process::Command;

use tabsnap::ErrorKind;
use tabsnap::format::{self, ContentHash, StoredManifest};
use tabsnap::pack::{Packer, init_repository, list_snapshots, load_manifest, load_stored_manifest};
use tabsnap::repo::{Fault, FaultPlan, LocalRepository, MemoryRepository, Op, Repository, get};
use tabsnap::store::{GcOutcome, collect_garbage};

use crate::pack::{control, make_tree, packer_builder, restore_all};
use crate::util::tree;

const TS1: &str = "2024-01-01-10-00-00";
const TS2: &str = "2024-01-01-11-00-00";

/// A packer that writes pages of 1 KiB: each tablet of the test tree is a page of its own.
fn paged_packer() -> Packer {
    packer_builder().manifest_page_size(1 << 10).build().unwrap()
}

fn pages_of(repo: &dyn Repository, label: &str, ts: &str) -> Vec<ContentHash> {
    match load_stored_manifest(repo, label, ts).unwrap() {
        StoredManifest::Paged(head) => head.pages.iter().map(|p| p.id).collect(),
        StoredManifest::Whole(_) => panic!("a backup wrote a version-1 manifest"),
    }
}

fn stored_pages(repo: &dyn Repository) -> Vec<ContentHash> {
    let mut ids: Vec<ContentHash> =
        repo.list(format::TREES_PREFIX).unwrap().iter().filter_map(|o| format::tree_id_from_key(&o.key)).collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<ContentHash>) -> Vec<ContentHash> {
    v.sort();
    v.dedup();
    v
}

#[test]
fn a_backup_in_many_pages_restores_and_verifies_with_every_page_small() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    let p = paged_packer();
    let s = p.backup(&repo, &source, "snap", &control(TS1)).unwrap();

    let pages = pages_of(&repo, "snap", TS1);
    assert_eq!(pages.len(), 6, "one page per tablet");
    assert_eq!(sorted(pages.clone()), stored_pages(&repo));
    for id in &pages {
        let size = get(&repo, &format::tree_key(id)).unwrap().len();
        assert!(size < 2 << 10, "a page of {size} bytes");
    }
    let manifest_size = get(&repo, &format::manifest_key("snap", TS1)).unwrap().len();
    assert!(manifest_size < 2 << 10, "a manifest of {manifest_size} bytes");

    let m = load_manifest(&repo, "snap", TS1).unwrap();
    assert_eq!((m.tables.tablet_count(), m.files().count() as u64), (6, s.files));
    let out = tmp.path().join("out");
    assert_eq!(restore_all(&p, &repo, &m, &out).unwrap().files, s.files);
    assert_eq!(tree(&out), tree(&tmp.path().join("data")));
    let report = p.verify(&repo, std::slice::from_ref(&m), false).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);

    // The default page size holds this whole manifest in one page, and reads back the same.
    let one = packer_builder().build().unwrap();
    one.backup(&repo, &source, "one", &control(TS1)).unwrap();
    assert_eq!(pages_of(&repo, "one", TS1).len(), 1);
    assert_eq!(load_manifest(&repo, "one", TS1).unwrap().tables, m.tables);
}

#[test]
fn garbage_collection_keeps_the_pages_snapshots_name_and_removes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let a = make_tree(&tmp.path().join("a"));
    let b = make_tree(&tmp.path().join("b"));
    let repo = Fault::new(
        MemoryRepository::new(),
        FaultPlan { fail_nth: vec![(Op::Put, "snapshots/".into(), 1, false)], ..FaultPlan::default() },
    );
    init_repository(&repo).unwrap();
    let p = paged_packer();
    // A backup that dies at its commit leaves its pages (b's files: other inodes, other pages) and no snapshot.
    p.backup(&repo, &b, "lost", &control(TS1)).unwrap_err();
    assert!(list_snapshots(&repo).unwrap().is_empty());
    let lost = stored_pages(&repo);
    assert_eq!(lost.len(), 6);
    repo.set_plan(FaultPlan::default());

    // Two backups of unchanged files write the same pages: one copy, named by both.
    p.backup(&repo, &a, "snap", &control(TS1)).unwrap();
    p.backup(&repo, &a, "snap", &control(TS2)).unwrap();
    let kept = pages_of(&repo, "snap", TS1);
    assert_eq!(kept, pages_of(&repo, "snap", TS2));
    assert_eq!(stored_pages(&repo).len(), 12);

    let removed = |dry_run| match collect_garbage(&repo, dry_run).unwrap() {
        GcOutcome::Collected(r) => sorted(r.pages.iter().map(|o| format::tree_id_from_key(&o.key).unwrap()).collect()),
        GcOutcome::Busy(b) => panic!("busy: {b:?}"),
    };
    assert_eq!(removed(true), lost, "a dry run names the unreferenced pages");
    assert_eq!(stored_pages(&repo).len(), 12, "and removes nothing");
    assert_eq!(removed(false), lost);
    assert_eq!(stored_pages(&repo), sorted(kept.clone()));

    // Dropping one of the two snapshots keeps the pages the other names.
    repo.delete(&format::manifest_key("snap", TS1)).unwrap();
    assert!(removed(false).is_empty());
    let m = load_manifest(&repo, "snap", TS2).unwrap();
    let out = tmp.path().join("out");
    restore_all(&p, &repo, &m, &out).unwrap();
    assert_eq!(tree(&out), tree(&tmp.path().join("a")));
    repo.delete(&format::manifest_key("snap", TS2)).unwrap();
    assert_eq!(removed(false), sorted(kept));
    assert!(stored_pages(&repo).is_empty());
}

#[test]
fn a_failing_page_write_commits_nothing_and_running_it_again_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let repo = Fault::new(
        MemoryRepository::new(),
        FaultPlan { fail_nth: vec![(Op::Put, "trees/".into(), 3, false)], ..FaultPlan::default() },
    );
    init_repository(&repo).unwrap();
    let p = paged_packer();
    let e = p.backup(&repo, &source, "snap", &control(TS1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Repository, "{e}");
    assert!(e.message().contains("writing a manifest page"), "{e}");
    assert!(e.object().is_some_and(|o| o.starts_with("trees/")), "{e}");
    assert!(list_snapshots(&repo).unwrap().is_empty(), "no manifest, no snapshot");
    assert_eq!(repo.inner().list("snapshots/").unwrap().len(), 0);

    repo.set_plan(FaultPlan::default());
    // Pages are written as the backup goes: what the first run stored in sealed packs is reused, the rest (the
    // pack being filled when the page failed) is stored now.
    p.backup(&repo, &source, "snap", &control(TS1)).unwrap();
    let m = load_manifest(&repo, "snap", TS1).unwrap();
    let out = tmp.path().join("out");
    restore_all(&p, &repo, &m, &out).unwrap();
    assert_eq!(tree(&out), tree(&tmp.path().join("data")));
}

fn tabsnap(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tabsnap")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn listings_read_no_page_and_a_missing_page_is_named_where_tablets_are_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let dir = tmp.path().join("repo");
    let repo = LocalRepository::new(&dir).unwrap();
    init_repository(&repo).unwrap();
    paged_packer().backup(&repo, &source, "snap", &control(TS1)).unwrap();
    let page = format::tree_key(&pages_of(&repo, "snap", TS1)[3]);
    std::fs::remove_file(dir.join(&page)).unwrap();

    let location = dir.to_str().unwrap();
    let (code, out) = tabsnap(&["snapshots", location]);
    assert!(code == 0 && out.contains("snap") && out.contains("tpch") && !out.contains("ERROR"), "{code}: {out}");
    let e = load_manifest(&repo, "snap", TS1).unwrap_err();
    assert_eq!((e.kind(), e.object()), (ErrorKind::NotFound, Some(page.as_str())), "{e}");
    assert!(e.message().contains("snapshots/snap/"), "{e}");
    let to = tmp.path().join("out");
    for args in [vec!["verify", location], vec!["restore", location, "snap", TS1, "--to", to.to_str().unwrap()]] {
        let (code, out) = tabsnap(&args);
        assert!(code == 1 && out.contains(&page), "{args:?}: {code}: {out}");
    }
}

/// The golden repository of version 2: the version-1 golden tablet and a tablet of 300 small files (so packs
/// carry a dictionary), its manifest in pages of 1 KiB.
fn golden_v2_source(root: &std::path::Path) -> tabsnap::pack::BackupSource {
    let mut source = crate::pack::golden_source(root);
    let dir = root.join("t/1002");
    std::fs::create_dir_all(dir.join("seg")).unwrap();
    for i in 0..300u64 {
        std::fs::write(dir.join("seg").join(format!("{i}.dat")), crate::pack::bytes(i, 1000 + i as usize * 7)).unwrap();
    }
    let index = &mut source.tables[0].partitions[0].indexes[0];
    index.tablets.push(tabsnap::pack::TabletSource::new("1002", dir));
    source
}

fn golden_v2_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/repo-v2")
}

/// Writes tests/golden/repo-v2 anew. Run only when the format version changes:
/// `cargo test --test it pages::regenerate_golden_v2_repository -- --ignored`.
#[test]
#[ignore]
fn regenerate_golden_v2_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let _ = std::fs::remove_dir_all(golden_v2_dir());
    let repo = LocalRepository::new(golden_v2_dir()).unwrap();
    init_repository(&repo).unwrap();
    let source = golden_v2_source(tmp.path());
    paged_packer().backup(&repo, &source, "golden", &control(crate::pack::GOLDEN_TS)).unwrap();
}

#[test]
fn the_committed_version_2_golden_repository_still_decodes_and_restores() {
    let repo = LocalRepository::new(golden_v2_dir()).unwrap();
    let ts = crate::pack::GOLDEN_TS;
    assert!(pages_of(&repo, "golden", ts).len() > 1);
    let dictionary_packs = repo
        .list("packs/")
        .unwrap()
        .iter()
        .filter(|o| {
            let data = get(&repo, &o.key).unwrap();
            data[data.len() - 8] == 2
        })
        .count();
    assert!(dictionary_packs > 0, "no pack of version 2");
    let m = load_manifest(&repo, "golden", ts).unwrap();
    assert_eq!((m.database.as_str(), m.files().count()), ("golden_db", 303));
    let tmp = tempfile::tempdir().unwrap();
    let expected = tmp.path().join("src");
    golden_v2_source(&expected);
    let out = tmp.path().join("out");
    let p = paged_packer();
    p.restore(&repo, &m, &|_, t| Some(out.join(&t.id)), &tabsnap::pack::JobControl::default()).unwrap();
    assert_eq!(tree(&out), tree(&expected.join("t")));
    assert!(p.verify(&repo, &[m], false).unwrap().is_ok());
}

#[test]
fn show_snapshot_details_read_page_by_page_say_what_the_whole_manifest_says() {
    use std::sync::Arc;
    use std::time::Duration;
    use tabsnap::job::JobState;
    use tabsnap::{Engine, Outcome};

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    crate::hostile::make_data(&data);
    let details = |page: usize, name: &str| {
        let repo = tmp.path().join(name);
        let e = Engine::builder(Arc::new(tabsnap::host::DirHost::new(&data).unwrap()))
            .threads(2)
            .chunk_size(64 << 10)
            .manifest_page_size(page)
            .state_dir(tmp.path().join(format!("state-{name}")))
            .build()
            .unwrap();
        let root = crate::hostile::root();
        e.execute(&root, &format!("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{}'", repo.display())).unwrap();
        let Outcome::Job(id) = e.execute(&root, "BACKUP SNAPSHOT snap TO r").unwrap().remove(0) else { panic!() };
        let j = e.wait(id, Duration::from_secs(60)).unwrap();
        assert_eq!(j.state, JobState::Finished, "{j:?}");
        let local = LocalRepository::new(&repo).unwrap();
        let pages = pages_of(&local, "snap", &j.timestamp).len();
        let sql = format!("SHOW SNAPSHOT ON r WHERE SNAPSHOT = 'snap' AND TIMESTAMP = '{}'", j.timestamp);
        let Outcome::Rows(rs) = e.execute(&root, &sql).unwrap().remove(0) else { panic!() };
        assert_eq!(rs.get(0, "Status"), Some("OK"));
        let mut d: serde_json::Value = serde_json::from_str(rs.get(0, "Details").unwrap()).unwrap();
        d["backup_time"] = serde_json::Value::Null;
        (pages, d)
    };
    let (one, whole) = details(4 << 20, "one");
    let (many, paged) = details(1 << 10, "many");
    assert!(one == 1 && many > 1, "{one} and {many} pages");
    assert_eq!(paged, whole);
    assert_eq!(whole["files"], 4);
    assert_eq!(whole["olap_table_list"].as_array().unwrap().len(), 2);
}

#[test]
fn a_backup_takes_unchanged_files_from_every_page_of_the_previous_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let source = make_tree(&data);
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    let p = paged_packer();
    p.backup(&repo, &source, "nightly", &control(TS1)).unwrap();
    assert_eq!(pages_of(&repo, "nightly", TS1).len(), 6);
    // A file of the last tablet (the last page) rewritten in place, its size and time put back: trusted unchanged
    // and not read, which the restore shows.
    let file = data.join("orders/10012/1234/5.idx");
    let old = std::fs::read(&file).unwrap();
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::fs::write(&file, vec![b'x'; old.len()]).unwrap();
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
    let second = p.backup(&repo, &source, "nightly", &control(TS2)).unwrap();
    assert_eq!(second.chunks_new, 0, "{second:?}");
    let m = load_manifest(&repo, "nightly", TS2).unwrap();
    let out = tmp.path().join("out");
    restore_all(&p, &repo, &m, &out).unwrap();
    assert_eq!(std::fs::read(out.join("orders/10012/1234/5.idx")).unwrap(), old, "the file was read again");
}
