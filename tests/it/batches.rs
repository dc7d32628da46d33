//! A backup taken a batch of tablets at a time: whatever the batch size, the same snapshot (the same manifest
//! pages, the same restored files), with pages written as the batches finish; dictionary training, metadata-only
//! snapshots and the unchanged-file shortcut work across batches; the option is checked.

use tabsnap::ErrorKind;
use tabsnap::format::{Compression, ContentHash, StoredManifest};
use tabsnap::pack::{BackupSource, Packer, init_repository, load_manifest, load_stored_manifest};
use tabsnap::repo::{MemoryRepository, Repository};

use crate::dictionary::{count, footers};
use crate::pack::{control, make_tree, packer_builder, restore_all};
use crate::util::tree;

const TS1: &str = "2024-01-01-10-00-00";
const TS2: &str = "2024-01-01-11-00-00";

fn pages(repo: &dyn Repository, ts: &str) -> Vec<ContentHash> {
    match load_stored_manifest(repo, "snap", ts).unwrap() {
        StoredManifest::Paged(head) => head.pages.iter().map(|p| p.id).collect(),
        StoredManifest::Whole(_) => panic!("a backup wrote a version-1 manifest"),
    }
}

fn backed_up(p: &Packer, source: &BackupSource) -> MemoryRepository {
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    p.backup(&repo, source, "snap", &control(TS1)).unwrap();
    repo
}

#[test]
fn any_batch_size_makes_the_same_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let source = make_tree(&tmp.path().join("data"));
    let whole = packer_builder().manifest_page_size(1 << 10).build().unwrap();
    let reference = backed_up(&whole, &source);
    let expected = pages(&reference, TS1);
    assert!(expected.len() > 1, "the test wants several pages");
    for files in [1, 7, 30, 1 << 16] {
        let p = packer_builder().manifest_page_size(1 << 10).batch_files(files).build().unwrap();
        let repo = backed_up(&p, &source);
        assert_eq!(pages(&repo, TS1), expected, "batches of {files} files");
        let out = tmp.path().join(format!("out-{files}"));
        restore_all(&p, &repo, &load_manifest(&repo, "snap", TS1).unwrap(), &out).unwrap();
        assert_eq!(tree(&out), tree(&tmp.path().join("data")), "batches of {files} files");
        // The next backup of the label takes every unchanged file from this one, across batches too.
        let s = p.backup(&repo, &source, "snap", &control(TS2)).unwrap();
        assert_eq!((s.chunks_new, s.bytes_uploaded > 0), (0, true), "batches of {files} files: {s:?}");
        assert_eq!(pages(&repo, TS2), expected, "batches of {files} files");
    }
}

#[test]
fn a_metadata_only_snapshot_in_batches_records_every_tablet() {
    let tmp = tempfile::tempdir().unwrap();
    let mut source = make_tree(&tmp.path().join("data"));
    source.metadata_only = true;
    let p = packer_builder().batch_files(1).build().unwrap();
    let repo = backed_up(&p, &source);
    let m = load_manifest(&repo, "snap", TS1).unwrap();
    let ids: Vec<&str> = m.tables.tablets().map(|(_, t)| t.id.as_str()).collect();
    let want: Vec<&str> = source.tables.tablets().map(|(_, t)| t.id.as_str()).collect();
    assert_eq!(ids, want);
    assert!(m.files().next().is_none());
}

#[test]
fn a_small_file_dictionary_is_trained_on_a_batch_and_used_by_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // 600 tablets of one small, similar file each, in batches of 300: the first batch trains the dictionary
    // before it is packed, and both are compressed with it.
    let tablets = (0..600u32)
        .map(|i| {
            let dir = data.join("t").join(i.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            let text = format!("{{\"tablet\": {i}, \"schema\": \"k1 INT, k2 VARCHAR(32), v DECIMAL(27,9)\"}}\n");
            std::fs::write(dir.join("meta.json"), text.repeat(8)).unwrap();
            tabsnap::pack::TabletSource::new(i.to_string(), dir)
        })
        .collect();
    let source = BackupSource::single_table("db", "t", tablets);
    let p = packer_builder().batch_files(300).build().unwrap();
    let repo = backed_up(&p, &source);
    let m = load_manifest(&repo, "snap", TS1).unwrap();
    let out = tmp.path().join("out");
    restore_all(&p, &repo, &m, &out).unwrap();
    assert_eq!(tree(&out), tree(&data));
    assert_eq!(count(&footers(&repo), Compression::ZstdDictionary), 600);
}

#[test]
fn a_batch_of_no_file_is_refused() {
    let e = Packer::builder().batch_files(0).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("batch files"), "{e}");
}

#[test]
fn unchanged_files_are_taken_from_a_paged_previous_backup_in_any_order() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let files: Vec<_> = (0..40u32)
        .map(|i| {
            let dir = data.join("t").join(i.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("a.dat");
            std::fs::write(&path, format!("first {i:>4}").repeat(50)).unwrap();
            (i, dir, path)
        })
        .collect();
    let source = |order: &mut dyn Iterator<Item = &(u32, std::path::PathBuf, std::path::PathBuf)>| {
        BackupSource::single_table(
            "db",
            "t",
            order.map(|(i, dir, _)| tabsnap::pack::TabletSource::new(i.to_string(), dir)).collect(),
        )
    };
    let p = packer_builder().manifest_page_size(1 << 10).batch_files(3).build().unwrap();
    let repo = backed_up(&p, &source(&mut files.iter()));
    assert!(pages(&repo, TS1).len() > 5, "the previous manifest has many pages");
    // Every file is rewritten in place (same inode and size) and its modification time put back: a backup that
    // finds it in the previous manifest does not read it, which the restore shows (it holds the first content).
    for (i, _, path) in &files {
        let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
        std::fs::write(path, format!("later {i:>4}").repeat(50)).unwrap();
        std::fs::File::options().write(true).open(path).unwrap().set_modified(mtime).unwrap();
    }
    // The catalog now lists the tablets in reverse: each batch finds its tablets in other pages.
    let s = p.backup(&repo, &source(&mut files.iter().rev()), "snap", &control(TS2)).unwrap();
    assert_eq!((s.chunks_new, s.chunks_reused), (0, 40), "{s:?}");
    let out = tmp.path().join("out");
    restore_all(&p, &repo, &load_manifest(&repo, "snap", TS2).unwrap(), &out).unwrap();
    for (i, _, _) in &files {
        let got = std::fs::read_to_string(out.join("t").join(i.to_string()).join("a.dat")).unwrap();
        assert_eq!(got, format!("first {i:>4}").repeat(50), "tablet {i} was read again");
    }
}
