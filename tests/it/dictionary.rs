//! Small files compressed with a per-backup zstd dictionary: round trips, dedup across backups, damage to the
//! dictionary named on restore and verify, encrypted repositories, and packs without dictionaries unchanged.

use std::path::Path;

use crate::pack::{bytes, control, packer, packer_builder};
use crate::util::tree;
use tabsnap::ErrorKind;
use tabsnap::format::{self, ChunkEntry, Compression, decode_pack_footer};
use tabsnap::pack::{BackupSource, JobControl, Packer, TabletSource, init_repository, load_manifest};
use tabsnap::repo::{MemoryRepository, Repository, get};

/// Two tablets of `per_tablet` small text files each (3–10 KiB), and one file of several chunks.
fn small_files(root: &Path, per_tablet: u64) -> BackupSource {
    let mut tablets = Vec::new();
    for t in 0..2u64 {
        let dir = root.join(format!("{}", 20_000 + t));
        std::fs::create_dir_all(dir.join("seg")).unwrap();
        for s in 0..per_tablet {
            let len = 3000 + (s as usize * 131) % 7000;
            std::fs::write(dir.join("seg").join(format!("{s}.dat")), bytes(t * 1000 + s, len)).unwrap();
        }
        if t == 0 {
            std::fs::write(dir.join("big.dat"), bytes(77, 64 * 1024 * 2 + 999)).unwrap();
        }
        tablets.push(TabletSource::new(format!("{}", 20_000 + t), dir));
    }
    BackupSource::single_table("tpch", "lineitem", tablets)
}

/// Every pack's footer entries (and its trailer version).
pub(crate) fn footers(repo: &dyn Repository) -> Vec<(String, u8, Vec<ChunkEntry>)> {
    repo.list("packs/")
        .unwrap()
        .into_iter()
        .map(|o| {
            let data = get(repo, &o.key).unwrap();
            let entries = decode_pack_footer(&o.key, data.len() as u64, &data).unwrap();
            (o.key, data[data.len() - 8], entries)
        })
        .collect()
}

pub(crate) fn count(footers: &[(String, u8, Vec<ChunkEntry>)], code: Compression) -> usize {
    footers.iter().flat_map(|f| &f.2).filter(|e| e.compression == code).count()
}

/// 200 small files a tablet under `tmp/data`, a new in-memory repository and the tests' packer.
fn setup(tmp: &Path) -> (std::path::PathBuf, BackupSource, MemoryRepository, Packer) {
    let data = tmp.join("data");
    let source = small_files(&data, 200);
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    (data, source, repo, packer())
}

fn restore(p: &Packer, repo: &dyn Repository, m: &format::Manifest, out: &Path) -> tabsnap::Result<()> {
    p.restore(repo, m, &|_, t| Some(out.join(&t.id)), &JobControl::default()).map(|_| ())
}

#[test]
fn small_files_round_trip_through_packs_that_hold_their_dictionary() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, source, repo, p) = setup(tmp.path());
    let s = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap();
    assert!(s.packs_written >= 2, "{s:?}");

    let f = footers(&repo);
    for (key, version, entries) in &f {
        let dictionaries = entries.iter().filter(|e| e.compression == Compression::Dictionary).count();
        let with_it = entries.iter().filter(|e| e.compression == Compression::ZstdDictionary).count();
        // Every pack that holds a chunk compressed with the dictionary holds the dictionary, once, as version 2.
        assert_eq!(dictionaries, usize::from(with_it > 0), "{key}");
        assert_eq!(*version, if with_it > 0 { 2 } else { 1 }, "{key}");
    }
    assert_eq!(count(&f, Compression::ZstdDictionary), 400, "every small file");
    // The large file's chunks are compressed alone.
    assert_eq!(count(&f, Compression::Zstd), 3);

    let m = load_manifest(&repo, "snap", &s.timestamp).unwrap();
    restore(&p, &repo, &m, &tmp.path().join("out")).unwrap();
    assert_eq!(tree(&tmp.path().join("out")), tree(&data));
    let report = p.verify(&repo, &[m], false).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.chunks, 403);
}

#[test]
fn a_later_backup_reuses_chunks_compressed_with_an_earlier_dictionary() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, source, repo, p) = setup(tmp.path());
    p.backup(&repo, &source, "first", &control("2024-01-01-10-00-00")).unwrap();
    let packs = repo.list("packs/").unwrap().len();
    // Another label: every file is read again, and every chunk found in the repository.
    let s = p.backup(&repo, &source, "second", &control("2024-01-02-10-00-00")).unwrap();
    assert_eq!((s.chunks_new, s.chunks_reused, s.packs_written), (0, 403, 0));
    assert_eq!(repo.list("packs/").unwrap().len(), packs);
    std::fs::write(data.join("20000/seg/5.dat"), bytes(123_456, 3333)).unwrap();
    let s = p.backup(&repo, &source, "second", &control("2024-01-03-10-00-00")).unwrap();
    assert_eq!((s.chunks_new, s.packs_written), (1, 1));
    for ts in ["2024-01-02-10-00-00", "2024-01-03-10-00-00"] {
        let m = load_manifest(&repo, "second", ts).unwrap();
        let out = tmp.path().join(ts);
        restore(&p, &repo, &m, &out).unwrap();
        assert!(p.verify(&repo, &[m], false).unwrap().is_ok());
    }
    assert_eq!(tree(&tmp.path().join("2024-01-03-10-00-00")), tree(&data));
}

#[test]
fn a_damaged_dictionary_is_named_with_its_pack_on_restore_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, source, repo, p) = setup(tmp.path());
    let s = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap();
    let m = load_manifest(&repo, "snap", &s.timestamp).unwrap();
    let (pack, _, entries) = footers(&repo).into_iter().find(|f| f.1 == 2).unwrap();
    let dictionary = entries.iter().find(|e| e.compression == Compression::Dictionary).unwrap();
    let at = (dictionary.offset + u64::from(dictionary.stored_len) / 2) as usize;
    repo.tamper(&pack, |v| v[at] ^= 0x10);

    let e = restore(&p, &repo, &m, &tmp.path().join("out")).unwrap_err();
    assert_eq!((e.kind(), e.object()), (ErrorKind::Corruption, Some(pack.as_str())));
    let want = format!("dictionary entry {} fails its crc32c", dictionary.hash.short());
    assert!(e.message().contains(&want) && e.message().contains("while restoring tpch.lineitem tablet"), "{e}");

    let report = p.verify(&repo, &[m], false).unwrap();
    assert!(!report.problems.is_empty());
    for problem in &report.problems {
        assert_eq!(problem.object, pack);
        assert!(problem.message.contains(&want), "{problem}");
        assert!(problem.chunk.is_some() && !problem.files.is_empty(), "{problem}");
    }
}

#[test]
fn few_small_files_or_the_option_off_write_packs_as_before() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let few = small_files(&data, 100);
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    packer().backup(&repo, &few, "few", &control("2024-01-01-10-00-00")).unwrap();
    let many = small_files(&data, 200);
    let off = packer_builder().small_file_dictionary(false).build().unwrap();
    off.backup(&repo, &many, "off", &control("2024-01-01-10-00-00")).unwrap();
    let f = footers(&repo);
    assert!(f.iter().all(|(_, version, _)| *version == 1));
    assert_eq!(count(&f, Compression::Dictionary) + count(&f, Compression::ZstdDictionary), 0);
}

#[test]
fn an_encrypted_repository_keys_the_dictionary_like_any_chunk() {
    use tabsnap::crypto::{EncryptedRepository, KdfParams, Password};
    use tabsnap::format::IdHasher;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let source = small_files(&data, 200);
    let store = MemoryRepository::new();
    let cheap = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
    let (repo, _) = EncryptedRepository::open_or_create(store, &Password::new("pw").unwrap(), cheap).unwrap();
    init_repository(&repo).unwrap();
    let p = packer();
    let s = p.backup(&repo, &source, "snap", &control("2024-01-01-10-00-00")).unwrap();
    let ids = IdHasher::new(repo.hash_key());
    let f = footers(&repo);
    assert!(count(&f, Compression::ZstdDictionary) > 0);
    for (key, _, entries) in &f {
        let pack = get(&repo, key).unwrap();
        for e in entries.iter().filter(|e| e.compression == Compression::Dictionary) {
            let stored = &pack[e.offset as usize..][..e.stored_len as usize];
            assert_eq!(e.hash, ids.hash(stored));
            assert_ne!(e.hash, format::ContentHash::of(stored));
        }
    }
    let m = load_manifest(&repo, "snap", &s.timestamp).unwrap();
    restore(&p, &repo, &m, &tmp.path().join("out")).unwrap();
    assert_eq!(tree(&tmp.path().join("out")), tree(&data));
    assert!(p.verify(&repo, &[m], false).unwrap().is_ok());
}

#[test]
fn an_index_or_footer_with_a_chunk_needing_a_missing_dictionary_is_a_format_error() {
    use tabsnap::format::{ContentHash, Index, IndexPack, encode_pack_footer};
    let entry = ChunkEntry {
        hash: ContentHash::of(b"chunk"),
        offset: 0,
        stored_len: 10,
        raw_len: 40,
        crc32c: 0,
        compression: Compression::ZstdDictionary,
    };
    let mut pack = vec![0u8; 10];
    pack.extend(encode_pack_footer(&[entry]));
    let e = decode_pack_footer("packs/aa/aa", pack.len() as u64, &pack).unwrap_err();
    assert_eq!((e.kind(), e.object()), (ErrorKind::Format, Some("packs/aa/aa")));
    assert!(e.message().contains("has no dictionary entry"), "{e}");
    let id = ContentHash::of(b"pack");
    let index = Index { packs: vec![IndexPack { id, len: pack.len() as u64, chunks: vec![entry] }] };
    let e = Index::decode("index/x", &index.encode().unwrap()).unwrap_err();
    assert_eq!((e.kind(), e.object()), (ErrorKind::Format, Some("index/x")));
    assert!(e.message().contains(&id.short()) && e.message().contains("has no dictionary entry"), "{e}");
}

#[test]
fn compression_none_trains_no_dictionary_and_zstd_n_uses_one() {
    let tmp = tempfile::tempdir().unwrap();
    let many = small_files(&tmp.path().join("data"), 200);
    let with = |mode: &str| packer().with_compression(mode.parse().unwrap()).unwrap();
    let none = MemoryRepository::new();
    init_repository(&none).unwrap();
    with("none").backup(&none, &many, "none", &control("2024-01-01-10-00-00")).unwrap();
    let f = footers(&none);
    assert!(f.iter().flat_map(|f| &f.2).all(|e| e.compression == Compression::None));
    assert!(f.iter().all(|(_, version, _)| *version == 1));

    let zstd = MemoryRepository::new();
    init_repository(&zstd).unwrap();
    with("zstd-9").backup(&zstd, &many, "zstd", &control("2024-01-01-10-00-00")).unwrap();
    let f = footers(&zstd);
    assert_eq!(count(&f, Compression::ZstdDictionary), 400);
}
