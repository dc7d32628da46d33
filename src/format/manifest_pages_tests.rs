use std::collections::HashMap;

use super::*;
use crate::format::{FileEntry, IdHasher, IndexEntry, PartitionEntry, TableEntry, encode_meta};

const KEY: &str = "snapshots/l/2024-01-01-10-00-00";

fn tablet(id: u32) -> TabletEntry {
    let file = |path: String, size: u64| FileEntry {
        path,
        size,
        crc32c: id,
        chunks: vec![ContentHash::of(&id.to_le_bytes()); size.div_ceil(100) as usize],
        seen: None,
    };
    TabletEntry { id: id.to_string(), files: vec![file(format!("{id}_0.dat"), 250), file("hdr".into(), 10)] }
}

/// Two tables; the first has an empty partition and an index without tablets among full ones.
fn manifest() -> Manifest {
    let index = |name: &str, ids: std::ops::Range<u32>| IndexEntry::new(name, ids.map(tablet).collect());
    Manifest {
        database: "db".into(),
        label: "l".into(),
        timestamp: "2024-01-01-10-00-00".into(),
        created_ms: 7,
        chunk_size: 100,
        tables: Tree::from(vec![
            TableEntry::new(
                "t1",
                vec![
                    PartitionEntry::new("p1", vec![index("t1", 0..10), index("r1", 10..12), index("r2", 0..0)]),
                    PartitionEntry::new("p2", Vec::new()),
                    PartitionEntry::new("p3", vec![index("t1", 20..27)]),
                ],
            ),
            TableEntry::new("t2", vec![PartitionEntry::new("p1", vec![index("t2", 30..31)])]),
        ]),
        indexes: vec![ContentHash::of(b"index")],
        host_metadata: "00ff".into(),
        views: vec![ViewEntry { name: "v".into(), definition: "select 1".into() }],
    }
}

/// The manifest encoded with `target`, its pages by id.
fn encode(m: &Manifest, target: usize) -> (Vec<u8>, HashMap<ContentHash, Vec<u8>>, Vec<ContentHash>) {
    let mut pages = HashMap::new();
    let mut order = Vec::new();
    let head = m
        .encode_paged(&IdHasher::new(None), target, |id, obj| {
            // Two pages of the same tablets (a manifest the whole check refuses) are one object.
            pages.insert(*id, obj.to_vec());
            order.push(*id);
            Ok(())
        })
        .unwrap();
    (head, pages, order)
}

fn read(head: &[u8], pages: &HashMap<ContentHash, Vec<u8>>) -> Result<Manifest> {
    StoredManifest::decode(KEY, head)?.into_manifest(KEY, |id, key| {
        pages.get(id).cloned().ok_or_else(|| Error::new(ErrorKind::NotFound, format!("{key} is missing")))
    })
}

#[test]
fn any_page_size_reads_back_the_same_tree() {
    let m = manifest();
    for target in [1, 200, 500, 1_000, 3_000, PAGE_BODY_TARGET] {
        let (head, pages, order) = encode(&m, target);
        assert_eq!(read(&head, &pages).unwrap(), m, "target {target}");
        let StoredManifest::Paged(h) = StoredManifest::decode(KEY, &head).unwrap() else { panic!("not paged") };
        assert_eq!(h.pages.iter().map(|p| p.id).collect::<Vec<_>>(), order);
        assert_eq!(h.pages.iter().map(|p| p.tablets).sum::<u64>(), 20);
        assert_eq!(h.pages.iter().map(|p| p.files).sum::<u64>(), 40);
        if target == 1 {
            // One tablet a page: the page of the first tablet of p3 also carries the empty p2 and r2 before it.
            assert_eq!(h.pages.len(), 20);
        }
        if target == PAGE_BODY_TARGET {
            assert_eq!(h.pages.len(), 1);
        }
    }
}

#[test]
fn a_page_is_cut_near_its_target() {
    let mut m = manifest();
    let many: Vec<TabletEntry> = (1000..3000).map(tablet).collect();
    m.tables[1].partitions[0].indexes[0].tablets = many;
    let (head, pages, _) = encode(&m, 16 << 10);
    assert!(pages.len() > 10, "{} pages", pages.len());
    for obj in pages.values() {
        let (_, body) = decode_meta_version(ObjectKind::Page, &[2], "p", obj).unwrap();
        assert!(body.len() <= (16 << 10) + 400, "page body of {} bytes", body.len());
    }
    assert_eq!(read(&head, &pages).unwrap(), m);
}

#[test]
fn a_manifest_without_tablets_has_no_pages_or_one_of_empty_tables() {
    let mut m = manifest();
    m.tables = Tree::new();
    let (head, pages, _) = encode(&m, 100);
    assert!(pages.is_empty());
    assert_eq!(read(&head, &pages).unwrap(), m);
    m.tables = Tree::from(vec![TableEntry::new("t", vec![PartitionEntry::new("p", Vec::new())])]);
    let (head, pages, _) = encode(&m, 100);
    assert_eq!(pages.len(), 1);
    assert_eq!(read(&head, &pages).unwrap(), m);
}

#[test]
fn a_missing_damaged_or_miscounted_page_is_named() {
    let m = manifest();
    let (head, pages, order) = encode(&m, 500);
    let victim = order[1];
    let vkey = tree_key(&victim);

    let mut gone = pages.clone();
    gone.remove(&victim);
    let e = read(&head, &gone).unwrap_err();
    assert_eq!((e.kind(), e.object()), (ErrorKind::NotFound, Some(vkey.as_str())));
    assert!(e.message().contains(KEY), "{e}");

    let mut damaged = pages.clone();
    let obj = damaged.get_mut(&victim).unwrap();
    let last = obj.len() - 1;
    obj[last] ^= 1;
    let e = read(&head, &damaged).unwrap_err();
    assert_eq!((e.kind(), e.object()), (ErrorKind::Corruption, Some(vkey.as_str())));
    assert!(e.message().contains(KEY), "{e}");

    // Another page's bytes under this page's name: other counts, or the same tablets twice.
    for other in [order[0], *order.last().unwrap()] {
        let mut swapped = pages.clone();
        swapped.insert(victim, pages[&other].clone());
        let e = read(&head, &swapped).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Format | ErrorKind::InvalidArgument), "{e}");
    }

    // A page of the wrong kind or version.
    let mut wrong = pages.clone();
    wrong.insert(victim, encode_meta(ObjectKind::Page, b"{\"tables\":[]}", true).unwrap());
    let e = read(&head, &wrong).unwrap_err();
    assert!(e.message().contains("version 1"), "{e}");
}

#[test]
fn a_joined_manifest_is_checked_as_a_whole() {
    // The same tablet in two pages: each page alone is fine, the whole is not.
    let mut m = manifest();
    m.tables[1].partitions[0].indexes[0].tablets.push(tablet(30));
    let (head, pages, _) = encode(&m, 300);
    let e = read(&head, &pages).unwrap_err();
    assert!(e.message().contains("appears twice"), "{e}");
}

#[test]
fn a_head_under_another_snapshots_key_is_refused_and_version_1_reads_whole() {
    let m = manifest();
    let (head, _, _) = encode(&m, 500);
    let e = StoredManifest::decode("snapshots/l/2024-01-01-10-00-01", &head).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format);
    let whole = StoredManifest::decode(KEY, &m.encode().unwrap()).unwrap();
    assert!(whole.pages().is_empty());
    assert_eq!(whole.indexes(), m.indexes.as_slice());
    assert_eq!(whole.into_manifest(KEY, |_, _| unreachable!()).unwrap(), m);
}

#[test]
fn a_changed_tablet_changes_its_own_page_not_the_ones_after_it() {
    let mut m = manifest();
    m.tables[1].partitions[0].indexes[0].tablets = (1000..4000).map(tablet).collect();
    let (_, before, order) = encode(&m, 16 << 10);
    assert!(order.len() > 20, "{} pages", order.len());
    let changed = |m: &Manifest| {
        let (_, after, _) = encode(m, 16 << 10);
        after.keys().filter(|id| !before.contains_key(id)).count()
    };
    // One file more in a tablet in the middle.
    let mut edit = m.clone();
    let t = &mut edit.tables[1].partitions[0].indexes[0].tablets[1500];
    t.files.push(FileEntry { path: "new".into(), size: 0, crc32c: 0, chunks: Vec::new(), seen: None });
    assert!(changed(&edit) <= 3, "{} new pages", changed(&edit));
    // A tablet added in the middle, and one removed.
    let mut edit = m.clone();
    edit.tables[1].partitions[0].indexes[0].tablets.insert(2000, tablet(9999));
    assert!(changed(&edit) <= 3, "{} new pages", changed(&edit));
    let mut edit = m.clone();
    edit.tables[1].partitions[0].indexes[0].tablets.remove(2500);
    assert!(changed(&edit) <= 3, "{} new pages", changed(&edit));
    // Pages stay between an eighth of the target and the target (the last one may be shorter).
    for (k, id) in order.iter().enumerate() {
        let (_, body) = decode_meta_version(ObjectKind::Page, &[2], "p", &before[id]).unwrap();
        assert!(body.len() <= 16 << 10, "page of {} bytes", body.len());
        assert!(k + 1 == order.len() || k == 0 || body.len() >= 2 << 10, "page {k} of {} bytes", body.len());
    }
}
