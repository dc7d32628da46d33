//! A backup of a label takes the chunks of files unchanged since the label's previous backup (same size,
//! modification time and inode) from that backup's manifest, without reading them; everything else is read.

use std::fs::File;

use tabsnap::pack::{BackupSource, TabletSource, init_repository, load_manifest};
use tabsnap::repo::MemoryRepository;

use crate::pack::{control, packer};

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn unchanged_files_are_taken_from_the_previous_backup_and_changed_ones_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("10001");
    std::fs::create_dir_all(dir.join("seg")).unwrap();
    let (a, b, c) = (dir.join("seg/a.dat"), dir.join("b.dat"), dir.join("c.dat"));
    std::fs::write(&a, noise(1, 200_000)).unwrap();
    std::fs::write(&b, noise(2, 5_000)).unwrap();
    std::fs::write(&c, noise(3, 7_000)).unwrap();
    let source = BackupSource::single_table("db1", "t", vec![TabletSource::new("10001", &dir)]);
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    let p = packer();
    let first = p.backup(&repo, &source, "nightly", &control("2024-01-01-10-00-00")).unwrap();
    assert_eq!(first.chunks_reused, 0);

    // a.dat is rewritten in place (same inode and size) and its modification time put back: the next backup
    // trusts it unchanged and does not read it, which the restore shows (it holds the first content).
    let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
    std::fs::write(&a, noise(9, 200_000)).unwrap();
    File::options().write(true).open(&a).unwrap().set_modified(mtime).unwrap();
    // b.dat changes as files change: new content, a later modification time.
    let later = std::fs::metadata(&b).unwrap().modified().unwrap() + std::time::Duration::from_secs(10);
    std::fs::write(&b, noise(8, 5_000)).unwrap();
    File::options().write(true).open(&b).unwrap().set_modified(later).unwrap();
    let second = p.backup(&repo, &source, "nightly", &control("2024-01-02-10-00-00")).unwrap();
    let a_chunks = 200_000usize.div_ceil(64 << 10) as u64;
    assert_eq!(second.chunks_reused, a_chunks + 1, "a.dat's chunks and c.dat's, taken unread: {second:?}");
    assert_eq!(second.chunks_new, 1, "only b.dat is new: {second:?}");

    let out = tmp.path().join("out");
    let m = load_manifest(&repo, "nightly", "2024-01-02-10-00-00").unwrap();
    p.restore(&repo, &m, &|_, t| Some(out.join(&t.id)), &tabsnap::pack::JobControl::default()).unwrap();
    assert_eq!(std::fs::read(out.join("10001/seg/a.dat")).unwrap(), noise(1, 200_000), "a.dat was not read again");
    assert_eq!(std::fs::read(out.join("10001/b.dat")).unwrap(), noise(8, 5_000));
    assert_eq!(std::fs::read(out.join("10001/c.dat")).unwrap(), noise(3, 7_000));
    assert!(p.verify(&repo, &[m], false).unwrap().is_ok());

    // Another label has no previous backup: everything is read (a.dat's new content is stored).
    let other = p.backup(&repo, &source, "weekly", &control("2024-01-02-11-00-00")).unwrap();
    assert_eq!(other.chunks_new, a_chunks, "{other:?}");
    // A file replaced by a new one (a new inode: the old one is kept elsewhere, so its inode cannot be reused)
    // with the same size and time is read again.
    let mtime = std::fs::metadata(&c).unwrap().modified().unwrap();
    std::fs::rename(&c, tmp.path().join("c.old")).unwrap();
    std::fs::write(&c, noise(7, 7_000)).unwrap();
    File::options().write(true).open(&c).unwrap().set_modified(mtime).unwrap();
    let third = p.backup(&repo, &source, "nightly", &control("2024-01-03-10-00-00")).unwrap();
    assert_eq!(third.chunks_new, 1, "c.dat, a new inode, is read: {third:?}");
}
