//! Restore and verify a paged manifest a window of pages at a time: the files written are the same as from the
//! whole manifest, a page or a name that fails in the last window fails the restore before anything is written,
//! and verify names the same problems whatever the windows.

use std::path::Path;

use tabsnap::ErrorKind;
use tabsnap::format::{self, StoredManifest};
use tabsnap::pack::{JobControl, Packer, init_repository, load_manifest, load_stored_manifest};
use tabsnap::repo::{MemoryRepository, PutMode, Repository};

use crate::pack::{control, make_tree, packer_builder};
use crate::util::tree;

const TS: &str = "2024-01-01-10-00-00";

/// Pages of 1 KiB (one tablet each) read one page to a window: the test tree's 6 tablets make 6 windows.
fn windowed() -> Packer {
    packer_builder().manifest_page_size(1 << 10).window_files(1).build().unwrap()
}

/// The test tree backed up as "snap" in pages of one tablet: (dir, repo).
fn backed_up() -> (tempfile::TempDir, MemoryRepository) {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    windowed().backup(&repo, &source, "snap", &control(TS)).unwrap();
    (tmp, repo)
}

fn pages(repo: &dyn Repository) -> Vec<String> {
    match load_stored_manifest(repo, "snap", TS).unwrap() {
        StoredManifest::Paged(h) => h.pages.iter().map(|p| format::tree_key(&p.id)).collect(),
        StoredManifest::Whole(_) => panic!("a backup wrote a version-1 manifest"),
    }
}

fn restore(p: &Packer, repo: &dyn Repository, out: &Path) -> tabsnap::Result<tabsnap::pack::RestoreSummary> {
    let stored = load_stored_manifest(repo, "snap", TS)?;
    let key = format::manifest_key("snap", TS);
    let target = |place: tabsnap::tree::Place<'_>, t: &format::TabletEntry| Some(out.join(place.table).join(&t.id));
    p.restore_stored(repo, &key, &stored, &target, &JobControl::default())
}

#[test]
fn a_restore_in_many_windows_writes_the_files_the_whole_manifest_does() {
    let (tmp, repo) = backed_up();
    assert_eq!(pages(&repo).len(), 6);
    let out = tmp.path().join("windows");
    let r = restore(&windowed(), &repo, &out).unwrap();
    assert_eq!(tree(&out), tree(&tmp.path().join("data")));
    let whole = tmp.path().join("whole");
    let m = load_manifest(&repo, "snap", TS).unwrap();
    let w = crate::pack::restore_all(&windowed(), &repo, &m, &whole).unwrap();
    assert_eq!((r.files, r.bytes), (w.files, w.bytes));
    assert_eq!(r.files, m.files().count() as u64);
    // One window (the default size) restores the same.
    let one = tmp.path().join("one");
    let all = restore(&packer_builder().build().unwrap(), &repo, &one).unwrap();
    assert_eq!((all.files, all.bytes), (r.files, r.bytes));
    assert_eq!(tree(&one), tree(&out));
}

#[test]
fn a_damaged_or_missing_page_in_the_last_window_fails_the_restore_with_nothing_written() {
    let (tmp, repo) = backed_up();
    let last = pages(&repo).pop().unwrap();
    let good = tabsnap::repo::get(&repo, &last).unwrap();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 20] ^= 0x55;
    for (what, damage) in [("damaged", Some(bad)), ("missing", None)] {
        match damage {
            Some(bytes) => drop(repo.put(&last, &bytes, PutMode::Overwrite).unwrap()),
            None => repo.delete(&last).unwrap(),
        }
        let out = tmp.path().join(what);
        let e = restore(&windowed(), &repo, &out).unwrap_err();
        assert_eq!(e.object(), Some(last.as_str()), "{what}: {e}");
        assert!(!out.exists(), "{what}: something was written");
        let report = windowed().verify_snapshots(&repo, None, None, false).unwrap();
        assert!(report.problems.iter().any(|p| p.object == last), "{what}: {:?}", report.problems);
    }
    repo.put(&last, &good, PutMode::Overwrite).unwrap();
    restore(&windowed(), &repo, &tmp.path().join("again")).unwrap();
}

#[test]
fn names_and_directories_repeated_across_windows_are_refused_before_anything_is_written() {
    let (tmp, repo) = backed_up();
    // Every tablet into one directory: each window alone is fine, the windows together are not.
    let out = tmp.path().join("same");
    let stored = load_stored_manifest(&repo, "snap", TS).unwrap();
    let key = format::manifest_key("snap", TS);
    let e = windowed()
        .restore_stored(&repo, &key, &stored, &|_, _| Some(out.join("one")), &JobControl::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.message().contains("would be restored into") && e.message().contains("one"), "{e}");
    assert!(!out.exists());

    // A tablet id repeated in its table, in the first and the last page of that table.
    let mut m = load_manifest(&repo, "snap", TS).unwrap();
    let tablets = &mut m.tables[0].partitions[0].indexes[0].tablets;
    tablets[2].id = tablets[0].id.clone();
    let id = tablets[0].id.clone();
    tabsnap::store::write_manifest(&repo, &key, &m, PutMode::Overwrite, 1 << 10).unwrap();
    let whole = load_manifest(&repo, "snap", TS).unwrap_err();
    let out = tmp.path().join("ids");
    let e = restore(&windowed(), &repo, &out).unwrap_err();
    assert_eq!((e.kind(), e.object(), e.message()), (whole.kind(), whole.object(), whole.message()));
    assert!(e.message().contains(&format!("tablet {id:?} appears twice")), "{e}");
    assert!(!out.exists());
    let report = windowed().verify_snapshots(&repo, None, None, true).unwrap();
    assert!(report.problems.iter().any(|p| p.message == e.message()), "{:?}", report.problems);
}

#[test]
fn verify_in_windows_names_the_problems_verify_of_the_whole_manifest_names() {
    let (_tmp, repo) = backed_up();
    let m = load_manifest(&repo, "snap", TS).unwrap();
    let one = packer_builder().build().unwrap();
    assert!(windowed().verify_snapshots(&repo, None, None, false).unwrap().is_ok());
    let packs = repo.list("packs/").unwrap();
    let pack = &packs[0].key;
    let good = tabsnap::repo::get(&repo, pack).unwrap();
    let brief = |r: &tabsnap::pack::VerifyReport| {
        r.problems.iter().map(|p| (p.object.clone(), p.chunk, p.message.clone())).collect::<Vec<_>>()
    };
    // Chunks damaged here and there, then the pack every window needs gone.
    let mut bad = good.clone();
    for at in [10, good.len() / 3, good.len() / 2] {
        bad[at] ^= 0xff;
    }
    for damage in [Some(bad), None] {
        let damage_is_data = damage.is_some();
        match damage {
            Some(bytes) => drop(repo.put(pack, &bytes, PutMode::Overwrite).unwrap()),
            None => repo.delete(pack).unwrap(),
        }
        for quick in [false, true] {
            let whole = one.verify(&repo, std::slice::from_ref(&m), quick).unwrap();
            let windows = windowed().verify_snapshots(&repo, None, None, quick).unwrap();
            assert!(!whole.is_ok() || (quick && damage_is_data), "quick {quick}");
            assert_eq!(brief(&windows), brief(&whole), "quick {quick}");
            assert_eq!(windows.packs, whole.packs, "quick {quick}");
        }
    }
    let report = windowed().verify_snapshots(&repo, None, None, false).unwrap();
    let missing: Vec<_> = report.problems.iter().filter(|p| p.message == "pack is missing").collect();
    assert_eq!(missing.len(), 1, "a pack's own problem is named once: {:?}", report.problems);
    assert_eq!(missing[0].object, *pack);
}

#[test]
fn windows_of_a_backup_that_shares_chunks_with_an_earlier_one_read_old_and_new_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let source = make_tree(&data);
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    windowed().backup(&repo, &source, "snap", &control(TS)).unwrap();
    // Half the files changed: the second backup's manifest names the first one's index (the unchanged
    // files' chunks) and its own; one-file windows find their chunks now in one, now in the other, so the
    // scan of the indexes wraps around from where the last window ended.
    for (k, file) in walk_files(&data).into_iter().enumerate() {
        if k % 2 == 0 {
            std::fs::write(&file, crate::pack::bytes(5_000 + k as u64, 2000 + k)).unwrap();
        }
    }
    const TS2: &str = "2024-01-01-11-00-00";
    windowed().backup(&repo, &source, "snap", &control(TS2)).unwrap();
    let m = load_manifest(&repo, "snap", TS2).unwrap();
    assert!(m.indexes.len() >= 2, "{:?}", m.indexes);
    let stored = load_stored_manifest(&repo, "snap", TS2).unwrap();
    let key = format::manifest_key("snap", TS2);
    let out = tmp.path().join("second");
    let target = |place: tabsnap::tree::Place<'_>, t: &format::TabletEntry| Some(out.join(place.table).join(&t.id));
    let r = windowed().restore_stored(&repo, &key, &stored, &target, &JobControl::default()).unwrap();
    assert_eq!(r.files, m.files().count() as u64);
    assert_eq!(tree(&out), tree(&data));
    let report = windowed().verify_snapshots(&repo, Some("snap"), Some(TS2), false).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.chunks, packer_builder().build().unwrap().verify(&repo, &[m], false).unwrap().chunks);

    // The first backup's index damaged: every window that needs it says so, the restore writes nothing.
    let old = format::index_key(&load_manifest(&repo, "snap", TS).unwrap().indexes[0]);
    let mut bad = tabsnap::repo::get(&repo, &old).unwrap();
    bad[7] ^= 0x20;
    repo.put(&old, &bad, PutMode::Overwrite).unwrap();
    let report = windowed().verify_snapshots(&repo, Some("snap"), Some(TS2), true).unwrap();
    assert!(report.problems.iter().any(|p| p.object == old), "{:?}", report.problems);
    let again = tmp.path().join("damaged");
    let target = |place: tabsnap::tree::Place<'_>, t: &format::TabletEntry| Some(again.join(place.table).join(&t.id));
    let e = windowed().restore_stored(&repo, &key, &stored, &target, &JobControl::default()).unwrap_err();
    assert_eq!(e.object(), Some(old.as_str()), "{e}");
    assert!(!again.exists());
}

/// Every file under `root`, sorted.
fn walk_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { dirs.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}
