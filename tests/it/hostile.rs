//! A corpus of hostile snapshots (written with the real encoders, plus hand-made bytes): the Rust restore,
//! `tabsnap restore`, `tabsnap verify` and SQL RESTORE each refuse every one, naming the object, and nothing
//! is written outside the target or left changed in the data directory.
//!
//! With `TABSNAP_HOSTILE_KEEP=DIR`, the corpus is also copied to `DIR/<case number>/` (with the case's name in
//! `DIR/<case number>/CASE`), e.g. to measure the memory a restore or verify of each takes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use tabsnap::format::{ContentHash, Index, Manifest, StoredManifest};
use tabsnap::host::DirHost;
use tabsnap::job::JobState;
use tabsnap::pack::{JobControl, Packer, load_manifest};
use tabsnap::repo::{LocalRepository, PutMode};
use tabsnap::{Engine, Outcome, Session};

pub(crate) use crate::engine::write;
use crate::util::tree;

/// Test file contents: `len` bytes from `seed`.
pub(crate) fn bytes(seed: u64, len: usize) -> Vec<u8> {
    crate::engine::seg(seed, len)
}

/// db1: t1 (partition p1: tablet 101 with a 200,000-byte file of four chunks and a 5,000-byte file; tablet 102
/// with a small file), t2 (tablet 201).
pub(crate) fn make_data(root: &Path) {
    write(&root.join("db1/t1/p1/101/0/0_0.dat"), &bytes(1, 200_000));
    write(&root.join("db1/t1/p1/101/0/0.idx"), &bytes(2, 5000));
    write(&root.join("db1/t1/p1/102/a.dat"), &bytes(3, 3000));
    write(&root.join("db1/t2/t2/201/x.dat"), &bytes(4, 70_000));
}

pub(crate) fn engine(data: &Path, state: &Path) -> Engine {
    Engine::builder(Arc::new(DirHost::new(data).unwrap()))
        .threads(2)
        .chunk_size(64 << 10)
        .state_dir(state)
        .build()
        .unwrap()
}

pub(crate) fn root() -> Session {
    Session::new("root", Some("db1"))
}

/// Backs up `data`'s db1 into a new local repository at `repo` as snapshot `snap`; returns the timestamp.
pub(crate) fn backup(data: &Path, state: &Path, repo: &Path) -> String {
    let e = engine(data, state);
    let sql = format!("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{}'", repo.display());
    e.execute(&root(), &sql).unwrap();
    let Outcome::Job(id) = e.execute(&root(), "BACKUP SNAPSHOT snap TO r").unwrap().remove(0) else { panic!() };
    let j = e.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!(j.state, JobState::Finished, "{j:?}");
    j.timestamp
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, data) in tree(from) {
        write(&to.join(rel), &data);
    }
}

/// A copy of the good repository to make hostile.
struct Repo {
    dir: PathBuf,
    key: String,
    /// Edited manifests are written paged (version 2, pages of 1 KiB) rather than whole (version 1).
    paged: bool,
}

impl Repo {
    fn manifest(&self) -> Manifest {
        tabsnap::store::read_manifest(&LocalRepository::new(&self.dir).unwrap(), &self.key).unwrap()
    }

    fn put_manifest(&self, m: &Manifest) {
        if self.paged {
            let local = LocalRepository::new(&self.dir).unwrap();
            tabsnap::store::write_manifest(&local, &self.key, m, PutMode::Overwrite, 1 << 10).unwrap();
        } else {
            std::fs::write(self.dir.join(&self.key), m.encode().unwrap()).unwrap();
        }
    }

    fn index(&self, m: &Manifest) -> (String, Index) {
        let key = format!("index/{}", m.indexes[0]);
        let data = std::fs::read(self.dir.join(&key)).unwrap();
        let index = Index::decode(&key, &data).unwrap();
        (key, index)
    }

    /// Stores `index` under its content name; returns that key and its id.
    fn put_index(&self, index: &Index) -> (String, ContentHash) {
        let data = index.encode().unwrap();
        let id = ContentHash::of(&data);
        let key = format!("index/{id}");
        write(&self.dir.join(&key), &data);
        (key, id)
    }

    /// Replaces the snapshot's (only) index with `edit` applied; returns the new index's key.
    fn edit_index(&self, edit: impl Fn(&mut Index)) -> String {
        let mut m = self.manifest();
        let (_, mut index) = self.index(&m);
        edit(&mut index);
        let (key, id) = self.put_index(&index);
        m.indexes = vec![id];
        self.put_manifest(&m);
        key
    }

    /// Rewrites the manifest paged (pages of 1 KiB) and returns the keys of its pages.
    fn pages(&self) -> Vec<String> {
        let local = LocalRepository::new(&self.dir).unwrap();
        tabsnap::store::write_manifest(&local, &self.key, &self.manifest(), PutMode::Overwrite, 1 << 10).unwrap();
        let StoredManifest::Paged(head) = tabsnap::store::read_stored_manifest(&local, &self.key).unwrap() else {
            panic!("not paged")
        };
        assert!(head.pages.len() > 1, "{} pages", head.pages.len());
        head.pages.iter().map(|p| tabsnap::format::tree_key(&p.id)).collect()
    }

    fn pack_key(&self) -> String {
        let m = self.manifest();
        let (_, index) = self.index(&m);
        let id = index.packs[0].id.to_hex();
        format!("packs/{}/{id}", &id[..2])
    }
}

/// A metadata object of kind `M` whose zstd body is RLE blocks decompressing to `n` × 128 KiB of `'a'`.
fn manifest_decompressing_to(n: usize) -> Vec<u8> {
    let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    for i in 0..n {
        let last = u32::from(i + 1 == n);
        let header = last | (1 << 1) | ((128 << 10) << 3);
        z.extend_from_slice(&header.to_le_bytes()[..3]);
        z.push(b'a');
    }
    let mut out = b"TSNPM\x01\x01\x00".to_vec();
    out.extend_from_slice(&(z.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&z).to_le_bytes());
    out.extend(z);
    out
}

type Edit = fn(&Repo) -> String;

/// The hostile cases: name, and the edit, which returns the object the refusal must name ("" for the manifest).
fn cases() -> Vec<(&'static str, Edit)> {
    fn tablet(m: &mut Manifest, i: usize) -> &mut tabsnap::format::TabletEntry {
        &mut m.tables[0].partitions[0].indexes[0].tablets[i]
    }
    vec![
        ("two index entries at one offset", |r| {
            r.edit_index(|ix| {
                let first = ix.packs[0].chunks[0].offset;
                ix.packs[0].chunks[1].offset = first;
            })
        }),
        ("two indexes locating two chunks at one offset", |r| {
            let mut m = r.manifest();
            let (_, index) = r.index(&m);
            let mut evil = index.clone();
            let first = evil.packs[0].chunks[0].offset;
            evil.packs[0].chunks.retain(|c| c.offset != first);
            evil.packs[0].chunks.truncate(1);
            evil.packs[0].chunks[0].offset = first;
            let (_, id) = r.put_index(&evil);
            m.indexes.insert(0, id);
            r.put_manifest(&m);
            r.pack_key()
        }),
        ("a file of 8 TiB", |r| {
            let mut m = r.manifest();
            tablet(&mut m, 0).files[0].size = 8 << 40;
            r.put_manifest(&m);
            String::new()
        }),
        ("chunk size 0", |r| {
            let mut m = r.manifest();
            m.chunk_size = 0;
            r.put_manifest(&m);
            String::new()
        }),
        ("chunk size that does not match the chunks", |r| {
            let mut m = r.manifest();
            m.chunk_size = 50_000;
            r.put_manifest(&m);
            r.pack_key()
        }),
        ("a declared size of 7 for a 5,000-byte chunk", |r| {
            let mut m = r.manifest();
            let f = tablet(&mut m, 0).files.iter_mut().find(|f| f.size == 5000).unwrap();
            f.size = 7;
            r.put_manifest(&m);
            r.pack_key()
        }),
        ("a table named ..", |r| {
            let mut m = r.manifest();
            m.tables[0].name = "..".into();
            r.put_manifest(&m);
            String::new()
        }),
        ("a table named ../outside", |r| {
            let mut m = r.manifest();
            m.tables[0].name = "../outside".into();
            r.put_manifest(&m);
            String::new()
        }),
        ("a tablet named ../outside", |r| {
            let mut m = r.manifest();
            tablet(&mut m, 0).id = "../outside".into();
            r.put_manifest(&m);
            String::new()
        }),
        ("a file path ../../x", |r| {
            let mut m = r.manifest();
            tablet(&mut m, 0).files[0].path = "../../x".into();
            r.put_manifest(&m);
            String::new()
        }),
        ("a duplicate tablet id", |r| {
            let mut m = r.manifest();
            let id = tablet(&mut m, 0).id.clone();
            tablet(&mut m, 1).id = id;
            r.put_manifest(&m);
            String::new()
        }),
        ("a chunk declaring 1 GiB raw", |r| {
            r.edit_index(|ix| {
                ix.packs[0].chunks[0].raw_len = 1 << 30;
            })
        }),
        ("a chunk storing 4 GiB", |r| {
            r.edit_index(|ix| {
                ix.packs[0].chunks[0].stored_len = u32::MAX;
            })
        }),
        ("an index offset near 2^64", |r| {
            r.edit_index(|ix| {
                ix.packs[0].chunks[0].offset = u64::MAX - 10;
            })
        }),
        ("an index declaring a pack shorter than its chunks", |r| {
            r.edit_index(|ix| {
                ix.packs[0].len = 100;
            })
        }),
        ("a manifest decompressing to 1 GiB", |r| {
            std::fs::write(r.dir.join(&r.key), manifest_decompressing_to(8192)).unwrap();
            String::new()
        }),
        ("a wrong whole-file crc32c", |r| {
            let mut m = r.manifest();
            tablet(&mut m, 0).files[0].crc32c ^= 1;
            r.put_manifest(&m);
            String::new()
        }),
        ("a flipped byte in a pack", |r| {
            let key = r.pack_key();
            let path = r.dir.join(&key);
            let mut data = std::fs::read(&path).unwrap();
            data[100] ^= 0x20;
            std::fs::write(&path, data).unwrap();
            key
        }),
        ("no index locating the chunks", |r| {
            let mut m = r.manifest();
            m.indexes.clear();
            r.put_manifest(&m);
            String::new()
        }),
        ("a manifest page missing", |r| {
            let page = r.pages().pop().unwrap();
            std::fs::remove_file(r.dir.join(&page)).unwrap();
            page
        }),
        ("a flipped byte in a manifest page", |r| {
            let page = r.pages().pop().unwrap();
            let mut data = std::fs::read(r.dir.join(&page)).unwrap();
            let last = data.len() - 1;
            data[last] ^= 1;
            std::fs::write(r.dir.join(&page), data).unwrap();
            page
        }),
        ("a manifest page holding another page's tablets", |r| {
            let mut pages = r.pages();
            let page = pages.pop().unwrap();
            std::fs::copy(r.dir.join(&pages[0]), r.dir.join(&page)).unwrap();
            page
        }),
    ]
}

fn tabsnap(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tabsnap")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn restore_verify_and_sql_restore_refuse_every_hostile_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_data(&data);
    let good = tmp.path().join("good");
    let ts = backup(&data, &tmp.path().join("state0"), &good);
    let key = format!("snapshots/snap/{ts}");
    let outside = tmp.path().join("outside");
    write(&outside.join("keep"), b"keep");
    let packer = Packer::builder().threads(2).build().unwrap();

    for (i, (name, edit)) in cases().into_iter().enumerate() {
        let case = tmp.path().join(format!("case{i}"));
        let repo_dir = case.join("repo");
        copy_tree(&good, &repo_dir);
        // Every other case writes its manifest paged: the same refusals hold for both versions.
        let repo = Repo { dir: repo_dir.clone(), key: key.clone(), paged: i % 2 == 1 };
        let object = edit(&repo);
        let object = if object.is_empty() { key.clone() } else { object };
        let before_outside = tree(&outside);

        if let Some(keep) = std::env::var_os("TABSNAP_HOSTILE_KEEP") {
            let keep = Path::new(&keep).join(i.to_string());
            copy_tree(&repo_dir, &keep);
            std::fs::write(keep.join("CASE"), format!("{name}\n{ts}\n")).unwrap();
        }

        // The Rust API: loading or restoring fails, naming the object.
        let local = LocalRepository::new(&repo_dir).unwrap();
        let target = case.join("api");
        let e = load_manifest(&local, "snap", &ts)
            .and_then(|m| {
                packer.restore(
                    &local,
                    &m,
                    &|place, tb| Some(target.join(place.table).join(&tb.id)),
                    &JobControl::default(),
                )
            })
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains(&object) || e.object() == Some(object.as_str()), "{name}: {e}");

        // tabsnap restore and tabsnap verify.
        let to = case.join("cli");
        let (code, out) = tabsnap(&["restore", repo_dir.to_str().unwrap(), "snap", &ts, "--to", to.to_str().unwrap()]);
        assert!(code == 1 && out.contains(&object), "{name}: restore exit {code}: {out}");
        let (code, out) = tabsnap(&["verify", repo_dir.to_str().unwrap()]);
        assert!(code == 1 && out.contains(&object), "{name}: verify exit {code}: {out}");
        assert!(!out.contains("panicked"), "{name}: {out}");

        // SQL RESTORE over a copy of the data directory, replacing t1 and t2: refused, the data as it was.
        let sql_data = case.join("data");
        copy_tree(&data, &sql_data);
        let before = tree(&sql_data);
        let e = engine(&sql_data, &case.join("state"));
        let create = format!("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{}'", repo_dir.display());
        e.execute(&root(), &create).unwrap();
        let restore = format!("RESTORE SNAPSHOT snap FROM r PROPERTIES ('backup_timestamp' = '{ts}')");
        match e.execute(&root(), &restore) {
            Err(err) => assert!(err.to_string().contains(&object), "{name}: {err}"),
            Ok(mut o) => {
                let Outcome::Job(id) = o.remove(0) else { panic!("{name}") };
                let j = e.wait(id, Duration::from_secs(60)).unwrap();
                assert_eq!(j.state, JobState::Cancelled, "{name}: {j:?}");
                assert!(j.status_text().contains(&object), "{name}: {}", j.status_text());
            }
        }
        assert_eq!(tree(&sql_data), before, "{name}: the data directory changed");
        let staged = std::fs::read_dir(sql_data.join("db1")).unwrap().filter_map(|e| e.ok());
        assert!(staged.into_iter().all(|e| !e.file_name().to_string_lossy().starts_with('.')), "{name}");

        // Nothing outside the targets.
        assert_eq!(tree(&outside), before_outside, "{name}");
        assert!(!tmp.path().join("x").exists() && !case.join("outside").exists(), "{name}");
    }
}

#[test]
fn symlinks_in_the_target_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_data(&data);
    write(&data.join("db1/t1/_table.json"), br#"{"kind": "olap"}"#);
    let repo = tmp.path().join("repo");
    let ts = backup(&data, &tmp.path().join("state"), &repo);
    let outside = tmp.path().join("outside");
    write(&outside.join("keep"), b"keep");
    let restore = |to: &Path, extra: &[&str]| {
        let mut args = vec!["restore", repo.to_str().unwrap(), "snap", &ts, "--to", to.to_str().unwrap()];
        args.extend_from_slice(extra);
        tabsnap(&args)
    };

    // The target itself, its database directory (--merge) and a table directory in it (--merge), each a link to
    // elsewhere: refused before anything is written.
    let cases: [(&str, &[&str], &str); 3] =
        [("", &[], "symlink"), ("db1", &["--merge"], "symlink"), ("db1/t1", &["--merge"], "exists")];
    for (i, (link, extra, msg)) in cases.iter().enumerate() {
        let to = tmp.path().join(format!("to{i}"));
        let at = if link.is_empty() { to.clone() } else { to.join(link) };
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&outside, &at).unwrap();
        let (code, out) = restore(&to, extra);
        assert!(code == 1 && out.contains(msg), "{link}: exit {code}: {out}");
        assert_eq!(tree(&outside).len(), 1, "{link}: something was written outside");
    }
    // A file planted as a link in a target that is not empty: refused, never written through.
    let to = tmp.path().join("to-file");
    std::fs::create_dir_all(to.join("db1/t1/p1/102")).unwrap();
    std::os::unix::fs::symlink(outside.join("keep"), to.join("db1/t1/p1/102/a.dat")).unwrap();
    let (code, out) = restore(&to, &[]);
    assert!(code == 1 && out.contains("is not empty"), "{out}");
    assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"keep");
    // With --merge, only tables that are not there are added: t2 goes in beside the planted t1.
    let (code, out) = restore(&to, &["--merge", "--table", "t2"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(tree(&to.join("db1/t2")), tree(&data.join("db1/t2")));
    assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"keep");

    // SQL RESTORE: links planted where staging directories used to be are neither followed nor deleted, even
    // when the restore fails and cleans up.
    let pack = std::fs::read_dir(repo.join("packs")).unwrap().next().unwrap().unwrap().path();
    let pack = std::fs::read_dir(pack).unwrap().next().unwrap().unwrap().path();
    let good_pack = std::fs::read(&pack).unwrap();
    let mut bytes = good_pack.clone();
    bytes[50] ^= 1;
    std::fs::write(&pack, bytes).unwrap();
    for job in 0..5 {
        std::os::unix::fs::symlink(&outside, data.join(format!("db1/.restore-{job}"))).unwrap();
    }
    let before = tree(&data);
    let e = engine(&data, &tmp.path().join("state"));
    let sql = format!("RESTORE SNAPSHOT snap FROM r ON (t1 AS t9) PROPERTIES ('backup_timestamp' = '{ts}')");
    let Outcome::Job(id) = e.execute(&root(), &sql).unwrap().remove(0) else { panic!() };
    let j = e.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!(j.state, JobState::Cancelled, "{j:?}");
    assert_eq!(tree(&data), before);
    assert_eq!(tree(&outside).len(), 1);
    for job in 0..5 {
        assert!(std::fs::symlink_metadata(data.join(format!("db1/.restore-{job}"))).is_ok());
    }

    // A table that is a link to elsewhere is not replaced through it, and a link planted at the temporary name
    // of a table description is not written through.
    std::fs::write(&pack, &good_pack).unwrap();
    std::os::unix::fs::symlink(&outside, data.join("db1/t8")).unwrap();
    std::os::unix::fs::symlink(outside.join("keep"), data.join("db1/t1/_table.tmp")).unwrap();
    let sql = format!("RESTORE SNAPSHOT snap FROM r ON (t1 AS t8) PROPERTIES ('backup_timestamp' = '{ts}')");
    let Outcome::Job(id) = e.execute(&root(), &sql).unwrap().remove(0) else { panic!() };
    let j = e.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!(j.state, JobState::Cancelled, "{j:?}");
    assert!(j.status_text().contains("restore does not replace it"), "{}", j.status_text());
    std::fs::remove_file(data.join("db1/t1/_table.json")).unwrap();
    let sql = format!("RESTORE SNAPSHOT snap FROM r ON (t1) PROPERTIES ('backup_timestamp' = '{ts}')");
    let Outcome::Job(id) = e.execute(&root(), &sql).unwrap().remove(0) else { panic!() };
    let j = e.wait(id, Duration::from_secs(60)).unwrap();
    assert_eq!(j.state, JobState::Finished, "{j:?}");
    assert!(std::fs::read_to_string(data.join("db1/t1/_table.json")).unwrap().contains("olap"));
    assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"keep");
    assert_eq!(tree(&outside).len(), 1);
}
