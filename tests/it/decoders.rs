//! Property tests of every decoder (manifest, index, pack footer, config) and of the restore planner: no input
//! makes them panic, whatever decodes is consistent, and verify accepts exactly the manifests restore does.
//!
//! `TABSNAP_FUZZ_CASES` sets the number of cases per property (default 256); a longer run:
//! `TABSNAP_FUZZ_CASES=20000 cargo test --release --test it decoders`.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use tabsnap::format::{
    ChunkEntry, Compression, ContentHash, Index, IndexPack, Manifest, RepoConfig, decode_pack_footer,
    encode_pack_footer, footer_len,
};
use tabsnap::pack::{BackupSource, JobControl, Packer, TabletSource, init_repository, load_manifest};
use tabsnap::repo::MemoryRepository;

use crate::hostile::{bytes, write};

fn config() -> ProptestConfig {
    let cases = std::env::var("TABSNAP_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// A metadata object: header (kind, version 1, flags) and `body` as stored.
fn frame(kind: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![b'T', b'S', b'N', b'P', kind, 1, flags, 0];
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn mutate(mut data: Vec<u8>, edits: &[(usize, u8)]) -> Vec<u8> {
    if !data.is_empty() {
        for &(at, b) in edits {
            let n = data.len();
            data[at % n] = b;
        }
    }
    data
}

/// A small snapshot in memory, its manifest, and the packer: the seed of the manifest and planner properties.
struct Seed {
    repo: MemoryRepository,
    manifest: Manifest,
    packer: Packer,
}

fn seed() -> &'static Seed {
    static SEED: OnceLock<Seed> = OnceLock::new();
    SEED.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("10/0/0_0.dat"), &bytes(1, 150_000));
        write(&tmp.path().join("10/0/0.idx"), &bytes(2, 3000));
        write(&tmp.path().join("11/a.dat"), &bytes(3, 70_000));
        write(&tmp.path().join("11/empty"), b"");
        let repo = MemoryRepository::new();
        init_repository(&repo).unwrap();
        let packer = Packer::builder().threads(1).chunk_size(64 << 10).build().unwrap();
        let source = BackupSource::single_table(
            "db",
            "t",
            vec![TabletSource::new("10", tmp.path().join("10")), TabletSource::new("11", tmp.path().join("11"))],
        );
        let control = JobControl { timestamp: Some("2024-01-01-10-00-00".into()), ..JobControl::default() };
        let s = packer.backup(&repo, &source, "snap", &control).unwrap();
        let manifest = load_manifest(&repo, "snap", &s.timestamp).unwrap();
        Seed { repo, manifest, packer }
    })
}

const HOSTILE_NAMES: &[&str] = &["..", ".", "", "../outside", "a/b", "/abs", "x\0y", "10", "11", "ok", "_hidden"];
const HOSTILE_PATHS: &[&str] = &["../x", "a/../../b", "/etc/passwd", "a//b", "0", "0/0.idx", "a.dat/b", "new"];
const SIZES: &[u64] = &[0, 1, 7, 3000, 65_535, 65_536, 65_537, 150_000, 1 << 30, 8 << 40, u64::MAX];

/// One edit of a manifest.
#[derive(Debug, Clone)]
enum Edit {
    ChunkSize(u64),
    Size(usize, u64),
    Crc(usize, u32),
    Path(usize, usize),
    TabletId(usize, usize),
    TableName(usize),
    DuplicateTablet,
    SwapChunks(usize, usize),
    DropChunk(usize),
    DropIndexes,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..SIZES.len()).prop_map(|i| Edit::ChunkSize(SIZES[i].min(1 << 27))),
        (any::<usize>(), 0..SIZES.len()).prop_map(|(f, i)| Edit::Size(f, SIZES[i])),
        (any::<usize>(), any::<u32>()).prop_map(|(f, c)| Edit::Crc(f, c)),
        (any::<usize>(), 0..HOSTILE_PATHS.len()).prop_map(|(f, p)| Edit::Path(f, p)),
        (any::<usize>(), 0..HOSTILE_NAMES.len()).prop_map(|(t, n)| Edit::TabletId(t, n)),
        (0..HOSTILE_NAMES.len()).prop_map(Edit::TableName),
        Just(Edit::DuplicateTablet),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapChunks(a, b)),
        any::<usize>().prop_map(Edit::DropChunk),
        Just(Edit::DropIndexes),
    ]
}

fn apply(m: &mut Manifest, e: &Edit) {
    let tablets = &mut m.tables[0].partitions[0].indexes[0].tablets;
    let mut files: Vec<&mut tabsnap::format::FileEntry> = tablets.iter_mut().flat_map(|t| t.files.iter_mut()).collect();
    let n = files.len();
    match *e {
        Edit::ChunkSize(c) => m.chunk_size = c,
        Edit::Size(f, s) => files[f % n].size = s,
        Edit::Crc(f, c) => files[f % n].crc32c = c,
        Edit::Path(f, p) => files[f % n].path = HOSTILE_PATHS[p].into(),
        Edit::SwapChunks(a, b) => {
            let hb = files[b % n].chunks.first().copied();
            if let (Some(hb), Some(ha)) = (hb, files[a % n].chunks.first_mut()) {
                *ha = hb;
            }
        }
        Edit::DropChunk(f) => {
            files[f % n].chunks.pop();
        }
        Edit::TabletId(t, name) => {
            let k = tablets.len();
            tablets[t % k].id = HOSTILE_NAMES[name].into();
        }
        Edit::TableName(name) => m.tables[0].name = HOSTILE_NAMES[name].into(),
        Edit::DuplicateTablet => {
            let t = tablets[0].clone();
            tablets.push(t);
        }
        Edit::DropIndexes => m.indexes.clear(),
    }
}

/// Every directory entry under `dir`, relative, links included and not followed.
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(data in proptest::collection::vec(any::<u8>(), 0..400), kind in 0..4u8) {
        let _ = Manifest::decode("m", &data);
        let _ = Index::decode("i", &data);
        let _ = RepoConfig::decode("c", &data);
        let _ = decode_pack_footer("p", data.len() as u64, &data);
        let _ = footer_len("p", &data);
        let framed = frame([b'M', b'I', b'C', b'X'][usize::from(kind)], kind % 2, &data);
        let _ = Manifest::decode("m", &framed);
        let _ = Index::decode("i", &framed);
        let _ = RepoConfig::decode("c", &framed);
    }

    #[test]
    fn mutated_manifest_bodies_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let body = serde_json::to_vec(&seed().manifest).unwrap();
        let body = mutate(body, &edits);
        let object = frame(b'M', 1, &zstd::bulk::compress(&body, 1).unwrap());
        if let Ok(m) = Manifest::decode("m", &object) {
            prop_assert!(m.check("m").is_ok());
        }
    }

    #[test]
    fn mutated_indexes_never_panic_and_decode_only_consistent_entries(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let index = Index { packs: vec![IndexPack {
            id: ContentHash::of(b"p"),
            len: 10_000,
            chunks: (0..4u32).map(|i| ChunkEntry {
                hash: ContentHash::of(&i.to_le_bytes()),
                offset: u64::from(i) * 1000,
                stored_len: 900,
                raw_len: 2000,
                crc32c: i,
                compression: Compression::Zstd,
            }).collect(),
        }]};
        let object = index.encode().unwrap();
        let body = mutate(object[16..].to_vec(), &edits);
        if let Ok(ix) = Index::decode("i", &frame(b'I', 0, &body)) {
            for p in &ix.packs {
                let area = p.len - (p.chunks.len() as u64 * 56 + 16);
                for c in &p.chunks {
                    prop_assert!(c.offset.checked_add(u64::from(c.stored_len)).is_some_and(|end| end <= area));
                    prop_assert!(c.raw_len >= 1 && c.raw_len <= 64 << 20);
                }
            }
        }
    }

    #[test]
    fn pack_footers_with_arbitrary_entries_never_point_outside(
        entries in proptest::collection::vec((any::<u64>(), any::<u32>(), any::<u32>(), any::<bool>()), 0..6),
        chunk_area in 0u64..100_000,
    ) {
        let entries: Vec<ChunkEntry> = entries.into_iter().map(|(offset, stored_len, raw_len, z)| ChunkEntry {
            hash: ContentHash::of(&offset.to_le_bytes()),
            offset: offset % (chunk_area + 10),
            stored_len: stored_len % 70_000,
            raw_len,
            crc32c: 0,
            compression: if z { Compression::Zstd } else { Compression::None },
        }).collect();
        let footer = encode_pack_footer(&entries);
        let pack_len = chunk_area + footer.len() as u64;
        if let Ok(decoded) = decode_pack_footer("p", pack_len, &footer) {
            for c in decoded {
                prop_assert!(c.offset + u64::from(c.stored_len) <= chunk_area);
            }
        }
    }

    #[test]
    fn restore_and_verify_agree_on_edited_manifests_and_stay_in_their_target(
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let s = seed();
        let mut m = s.manifest.clone();
        for e in &edits {
            apply(&mut m, e);
        }
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let restored = s.packer.restore(
            &s.repo,
            &m,
            &|place, tb| Some(target.join(place.table).join(&tb.id)),
            &JobControl::default(),
        );
        let verified = s.packer.verify(&s.repo, std::slice::from_ref(&m), false).unwrap();
        prop_assert_eq!(restored.is_ok(), verified.is_ok(), "restore {:?}, verify {:?}", restored, verified.problems);
        let outside: Vec<String> = entries(tmp.path()).into_iter().filter(|e| !e.starts_with("target")).collect();
        prop_assert!(outside.is_empty(), "{:?}", outside);
        if restored.is_ok() {
            for f in m.files() {
                let path = target.join(f.place.table).join(&f.tablet.id).join(&f.file.path);
                prop_assert!(tabsnap::pack::check_restored_file(&path, f.file).unwrap(), "{}", path.display());
            }
        }
    }
}
