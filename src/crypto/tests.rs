//! The encrypted repository under the packer: round trips, dedup, names, damage, passwords.

use std::sync::Arc;

use super::*;
use crate::ErrorKind;
use crate::format::{ContentHash, INDEX_PREFIX, PACKS_PREFIX};
use crate::pack::{BackupSource, Packer, TabletSource, init_repository, list_snapshots, load_manifest};
use crate::repo::{MemoryRepository, PutMode, Repository, get};

const CHEAP: KdfParams = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
const MARKER: &[u8] = b"PLAINTEXT-MARKER-7f3a";

fn data(dir: &std::path::Path) -> Vec<u8> {
    // Incompressible but for the markers, and larger than one block and one chunk.
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut bytes = Vec::new();
    while bytes.len() < 5 << 20 {
        bytes.extend_from_slice(MARKER);
        for _ in 0..512 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes.push(x as u8);
        }
    }
    std::fs::create_dir_all(dir.join("10001")).unwrap();
    std::fs::write(dir.join("10001/0_0.dat"), &bytes).unwrap();
    std::fs::write(dir.join("10001/small.idx"), MARKER).unwrap();
    bytes
}

fn packer() -> Packer {
    Packer::builder().threads(2).chunk_size(1 << 20).pack_size(1 << 20).bytes_in_flight(4 << 20).build().unwrap()
}

fn store_with(pw: &str) -> (Arc<MemoryRepository>, EncryptedRepository<Arc<MemoryRepository>>) {
    let store = Arc::new(MemoryRepository::new());
    let (repo, _) = EncryptedRepository::open_or_create(store.clone(), &Password::new(pw).unwrap(), CHEAP).unwrap();
    init_repository(&repo).unwrap();
    (store, repo)
}

#[test]
fn backups_round_trip_dedup_and_leave_no_plaintext_or_content_names() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = data(&tmp.path().join("src"));
    let (store, repo) = store_with("pw");
    let p = packer();
    let source = BackupSource::single_table("db", "t", vec![TabletSource::new("10001", tmp.path().join("src/10001"))]);
    let first = p.backup(&repo, &source, "s1", &Default::default()).unwrap();
    assert!(first.chunks_new > 5);
    let second = p.backup(&repo, &source, "s2", &Default::default()).unwrap();
    assert_eq!((second.chunks_new, second.chunks_reused), (0, first.chunks_new), "dedup inside the repository");

    let m = load_manifest(&repo, "s1", &first.timestamp).unwrap();
    let out = tmp.path().join("out");
    p.restore(&repo, &m, &|_, t| Some(out.join(&t.id)), &Default::default()).unwrap();
    assert_eq!(std::fs::read(out.join("10001/0_0.dat")).unwrap(), bytes);
    assert_eq!(std::fs::read(out.join("10001/small.idx")).unwrap(), MARKER);
    let report = p.verify(&repo, std::slice::from_ref(&m), false).unwrap();
    assert!(report.is_ok() && report.chunks > 5, "{:?}", report.problems);

    // Neither content nor its plain hashes are in any stored object or name.
    let plain_small = ContentHash::of(MARKER).to_hex();
    let plain_first_chunk = ContentHash::of(&bytes[..1 << 20]).to_hex();
    for o in store.list("").unwrap() {
        let stored = get(store.as_ref(), &o.key).unwrap();
        assert!(!stored.windows(MARKER.len()).any(|w| w == MARKER), "{} holds plaintext", o.key);
        for h in [&plain_small, &plain_first_chunk] {
            assert!(!o.key.contains(h.as_str()) && !stored.windows(64).any(|w| w == h.as_bytes()), "{}", o.key);
        }
    }
    assert_eq!(m.files().next().map(|f| f.file.chunks.is_empty()), Some(false));
    assert!(m.files().flat_map(|f| f.file.chunks.iter()).all(|c| c.to_hex() != plain_first_chunk));
}

#[test]
fn ranges_of_sealed_objects_read_only_their_blocks() {
    let (store, repo) = store_with("pw");
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    repo.put("packs/00/x", &plain, PutMode::CreateIfAbsent).unwrap();
    assert_eq!(repo.size("packs/00/x").unwrap(), Some(plain.len() as u64));
    assert_eq!(repo.list(PACKS_PREFIX).unwrap()[0].size, plain.len() as u64);
    assert!(store.size("packs/00/x").unwrap().unwrap() > plain.len() as u64);
    for (o, n) in [(0, 1), (65_535, 2), (70_000, 200_000), (299_990, 10), (131_072, 65_536)] {
        assert_eq!(repo.get_range("packs/00/x", o, Some(n)).unwrap(), &plain[o as usize..(o + n) as usize]);
    }
    assert_eq!(repo.get_range("packs/00/x", 299_000, None).unwrap(), &plain[299_000..]);
    assert_eq!(repo.get_range("packs/00/x", 300_000, Some(1)).unwrap_err().kind(), ErrorKind::Repository);
    assert_eq!(repo.get_range("index/none", 0, None).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn damage_is_named_by_object_with_and_without_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    data(&tmp.path().join("src"));
    let (store, repo) = store_with("pw");
    let p = packer();
    let source = BackupSource::single_table("db", "t", vec![TabletSource::new("10001", tmp.path().join("src/10001"))]);
    let s = p.backup(&repo, &source, "s1", &Default::default()).unwrap();
    let clean = check_stored(store.as_ref()).unwrap();
    assert!(clean.is_ok() && clean.snapshots == 1 && clean.packs > 3, "{clean:?}");

    let pack = store.list(PACKS_PREFIX).unwrap().into_iter().max_by_key(|o| o.size).unwrap().key;
    let mut bytes = get(store.as_ref(), &pack).unwrap();
    bytes[1000] ^= 1;
    store.delete(&pack).unwrap();
    store.put(&pack, &bytes, PutMode::CreateIfAbsent).unwrap();
    let without = check_stored(store.as_ref()).unwrap();
    assert_eq!(without.problems.len(), 1, "{:?}", without.problems);
    assert_eq!(without.problems[0].object, pack);
    assert!(without.problems[0].message.contains("crc32c mismatch"), "{}", without.problems[0]);
    let m = load_manifest(&repo, "s1", &s.timestamp).unwrap();
    let with = p.verify(&repo, &[m], false).unwrap();
    assert!(with.problems.iter().any(|q| q.object == pack), "{:?}", with.problems);

    // An index whose crc32c was fixed up after tampering: only the tag can tell.
    let index = store.list(INDEX_PREFIX).unwrap()[0].key.clone();
    let mut bytes = get(store.as_ref(), &index).unwrap();
    let at = seal::HEADER_LEN + 3;
    bytes[at] ^= 1;
    let end = bytes.len() - 4;
    let crc = crc32c::crc32c(&bytes[seal::HEADER_LEN..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
    store.put(&index, &bytes, PutMode::Overwrite).unwrap();
    let e = get(&repo, &index).unwrap_err();
    assert_eq!((e.kind(), e.object()), (ErrorKind::Corruption, Some(index.as_str())));
    assert!(e.message().contains("authentication failed"), "{e}");
}

#[test]
fn passwords_open_rotate_and_the_wrong_one_reads_nothing() {
    let (store, repo) = store_with("old");
    repo.put("snapshots/a/b", b"manifest", PutMode::CreateIfAbsent).unwrap();
    let e = EncryptedRepository::open(store.clone(), &Password::new("nope").unwrap()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().starts_with("wrong password for the encrypted repository"), "{e}");
    assert!(!e.message().contains("nope"));
    // Without the wrapper the repository is refused, not misread.
    let e = list_snapshots(store.as_ref()).unwrap_err();
    assert!(e.message().contains("is an encrypted repository: give its password"), "{e}");

    let (_, unlocked) = EncryptedRepository::open(store.clone(), &Password::new("old").unwrap()).unwrap();
    let second = add_key(store.as_ref(), &unlocked, &Password::new("second").unwrap(), CHEAP).unwrap();
    let rotated = change_password(store.as_ref(), &unlocked, &Password::new("new").unwrap(), CHEAP).unwrap();
    assert_ne!(rotated.key_name, unlocked.key_name);
    assert!(EncryptedRepository::open(store.clone(), &Password::new("old").unwrap()).is_err());
    for pw in ["new", "second"] {
        let (r, u) = EncryptedRepository::open(store.clone(), &Password::new(pw).unwrap()).unwrap();
        assert_eq!(get(&r, "snapshots/a/b").unwrap(), b"manifest", "{pw}");
        assert_eq!(u.key_name == second, pw == "second");
    }
    // A repository that is not encrypted is not opened as one.
    let plain = Arc::new(MemoryRepository::new());
    init_repository(plain.as_ref()).unwrap();
    let e = EncryptedRepository::open(plain, &Password::new("x").unwrap()).err().unwrap();
    assert!(e.message().contains("not encrypted"), "{e}");
}
