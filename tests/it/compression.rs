//! The `compression` setting (`auto`, `zstd-N`, `none`) through each door: the packer's options, CREATE
//! REPOSITORY / ALTER REPOSITORY / BACKUP properties, and the CLI. Each test reads back what the packs store.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use tabsnap::format::{Compression, decode_pack_footer};
use tabsnap::host::DirHost;
use tabsnap::pack::{BackupSource, CompressionMode, Packer, TabletSource, init_repository};
use tabsnap::repo::{LocalRepository, MemoryRepository, Repository};
use tabsnap::{Engine, ErrorKind};

use crate::engine::{finish, job, one, root, write};
use crate::pack::{bytes, control};

/// What a repository's packs hold: raw bytes, stored bytes and the compression code of each chunk.
#[derive(Debug, Default)]
struct Stored {
    raw: u64,
    stored: u64,
    codes: Vec<Compression>,
}

fn stored(repo: &dyn Repository) -> Stored {
    let mut s = Stored::default();
    for o in repo.list("packs/").unwrap() {
        let data = tabsnap::repo::get(repo, &o.key).unwrap();
        for e in decode_pack_footer(&o.key, o.size, &data).unwrap() {
            s.raw += u64::from(e.raw_len);
            s.stored += u64::from(e.stored_len);
            s.codes.push(e.compression);
        }
    }
    s
}

/// Bytes that do not compress.
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// One tablet holding `files` under `root`.
fn source(root: &Path, files: &[(&str, Vec<u8>)]) -> BackupSource {
    for (name, data) in files {
        write(&root.join("1001").join(name), data);
    }
    BackupSource::single_table("db1", "t1", vec![TabletSource::new("1001", root.join("1001"))])
}

/// `source` backed up by a packer with 1 MiB chunks and `mode` into a fresh repository.
fn backed_up(src: &BackupSource, mode: CompressionMode) -> Stored {
    let packer = Packer::builder().threads(2).chunk_size(1 << 20).compression(mode).build().unwrap();
    let repo = MemoryRepository::new();
    init_repository(&repo).unwrap();
    packer.backup(&repo, src, "snap", &control("2024-01-01-10-00-00")).unwrap();
    stored(&repo)
}

#[test]
fn each_mode_stores_what_it_says() {
    let tmp = tempfile::tempdir().unwrap();
    let text = source(&tmp.path().join("text"), &[("0_0.dat", bytes(1, 3 << 20)), ("0.idx", bytes(2, 5000))]);
    let raw_text = (3 << 20) + 5000;

    let none = backed_up(&text, CompressionMode::None);
    assert_eq!(none.raw, raw_text);
    assert!(none.stored >= none.raw, "{none:?}");
    assert!(none.codes.iter().all(|c| *c as u8 == 0), "none stores every chunk raw: {:?}", none.codes);

    let z1 = backed_up(&text, CompressionMode::Zstd(1));
    let z19 = backed_up(&text, CompressionMode::Zstd(19));
    assert!(z1.codes.iter().all(|c| *c == Compression::Zstd), "{:?}", z1.codes);
    assert!(z19.stored < z1.stored, "zstd-19 {} bytes, zstd-1 {}", z19.stored, z1.stored);
    assert!(z1.stored < raw_text / 2, "{z1:?}");

    // Compressible data: auto compresses at its level 3, as zstd-3 does.
    let auto = backed_up(&text, CompressionMode::Auto);
    assert_eq!(auto.stored, backed_up(&text, CompressionMode::Zstd(3)).stored);

    // Data that does not compress: auto's probe and zstd-3's full attempt both end with the raw bytes.
    let random = source(&tmp.path().join("noise"), &[("0_0.dat", noise(3 << 20))]);
    let auto = backed_up(&random, CompressionMode::Auto);
    let z3 = backed_up(&random, CompressionMode::Zstd(3));
    assert_eq!(auto.stored, z3.stored);
    assert_eq!(auto.stored, 3 << 20);
    assert!(auto.codes.iter().chain(&z3.codes).all(|c| *c == Compression::None));
}

#[test]
fn a_packer_option_out_of_range_is_refused_and_another_mode_shares_the_threads() {
    let e = Packer::builder().compression(CompressionMode::Zstd(25)).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("compression zstd level 25 is out of range 1..=19"), "{e}");
    let packer = Packer::builder().threads(3).build().unwrap();
    let other = packer.with_compression(CompressionMode::None).unwrap();
    assert_eq!((other.options().compression, other.threads()), (CompressionMode::None, 3));
    assert_eq!(packer.options().compression, CompressionMode::Auto);
    assert!(packer.with_compression(CompressionMode::Zstd(0)).is_err());
}

/// db1.t1: 2 MiB of text, one tablet.
fn text_data(root: &Path) {
    write(&root.join("db1/t1/p1/1001/0_0.dat"), &bytes(7, 2 << 20));
}

fn repo_stored(dir: &Path) -> Stored {
    stored(&LocalRepository::new(dir).unwrap())
}

#[test]
fn repository_property_sets_the_default_and_backup_property_overrides_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    text_data(&data);
    let engine = Engine::builder(Arc::new(DirHost::new(&data).unwrap())).threads(2).build().unwrap();
    let s = root();
    let dir = |name: &str| tmp.path().join(name);
    let create = |name: &str, props: &str| {
        let sql = format!("CREATE REPOSITORY {name} WITH LOCAL ON LOCATION 'file://{}' {props}", dir(name).display());
        one(&engine, &s, &sql)
    };
    create("plain", "PROPERTIES ('compression' = 'none')").unwrap();
    finish(&engine, job(&engine, &s, "BACKUP SNAPSHOT s1 TO plain"));
    let plain = repo_stored(&dir("plain"));
    assert!(plain.stored >= 2 << 20 && plain.codes.iter().all(|c| *c == Compression::None), "{plain:?}");

    // The statement's value wins over the repository's.
    create("over", "PROPERTIES ('compression' = 'none')").unwrap();
    finish(&engine, job(&engine, &s, "BACKUP SNAPSHOT s1 TO over PROPERTIES ('compression' = 'zstd-1')"));
    let over = repo_stored(&dir("over"));
    assert!(over.stored < (2 << 20) / 2 && over.codes.iter().all(|c| *c == Compression::Zstd), "{over:?}");

    // A repository's zstd-19 stores fewer bytes than a backup at zstd-1 of the same data.
    create("best", "PROPERTIES ('compression' = 'zstd-19')").unwrap();
    finish(&engine, job(&engine, &s, "BACKUP SNAPSHOT s1 TO best"));
    assert!(repo_stored(&dir("best")).stored < over.stored);

    // ALTER REPOSITORY changes it for the next backup (of a new file: chunks already stored are not again).
    one(&engine, &s, "ALTER REPOSITORY plain PROPERTIES ('compression' = 'auto')").unwrap();
    write(&data.join("db1/t1/p1/1001/1_0.dat"), &bytes(8, 1 << 20));
    finish(&engine, job(&engine, &s, "BACKUP SNAPSHOT s2 TO plain"));
    let after = repo_stored(&dir("plain"));
    assert!(after.codes.contains(&Compression::Zstd), "{after:?}");

    let valid = "Must be 'auto', 'none', 'zstd' or 'zstd-N' with N in 1..=19";
    for (sql, value) in [
        (
            format!(
                "CREATE REPOSITORY bad WITH LOCAL ON LOCATION 'file://{}' PROPERTIES ('compression' = 'zstd:5')",
                dir("bad").display()
            ),
            "zstd:5",
        ),
        ("BACKUP SNAPSHOT s3 TO plain PROPERTIES ('compression' = 'zstd-20')".to_owned(), "zstd-20"),
        ("BACKUP SNAPSHOT s3 TO plain PROPERTIES ('compression' = 'fast')".to_owned(), "fast"),
        ("ALTER REPOSITORY plain PROPERTIES ('compression' = 'lz4')".to_owned(), "lz4"),
    ] {
        let e = one(&engine, &s, &sql).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Analysis, "{sql}");
        assert_eq!(e.message(), format!("Invalid compression value: {value}. {valid}"), "{sql}");
    }
    assert!(!dir("bad").exists(), "a refused CREATE REPOSITORY makes nothing");
}

#[test]
fn an_attached_repository_takes_compression_and_the_engine_option_is_the_last_default() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    text_data(&data);
    let engine = Engine::builder(Arc::new(DirHost::new(&data).unwrap()))
        .threads(2)
        .compression(CompressionMode::None)
        .build()
        .unwrap();
    let s = root();
    let engine_default = Arc::new(MemoryRepository::new());
    engine.attach_repository("mem", engine_default.clone(), false).unwrap();
    finish(&engine, job(&engine, &s, "BACKUP SNAPSHOT s1 TO mem"));
    assert!(stored(engine_default.as_ref()).codes.iter().all(|c| *c == Compression::None));

    let attached = Arc::new(MemoryRepository::new());
    let props = [("compression".to_owned(), "zstd-1".to_owned())];
    engine.attach_repository_with("z", attached.clone(), false, &props).unwrap();
    finish(&engine, job(&engine, &s, "BACKUP SNAPSHOT s1 TO z"));
    let z = stored(attached.as_ref());
    assert!(z.stored < z.raw / 2 && z.codes.iter().all(|c| *c == Compression::Zstd), "{z:?}");

    let bad = [("compression".to_owned(), "zstd-0".to_owned())];
    let e = engine.attach_repository_with("z0", Arc::new(MemoryRepository::new()), false, &bad).unwrap_err();
    assert!(e.message().starts_with("Invalid compression value: zstd-0."), "{e}");
}

fn tabsnap(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tabsnap")).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn the_cli_backup_takes_compression() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    text_data(&data);
    let d = data.to_str().unwrap();
    let backup = |repo: &str, extra: &[&str]| {
        let location = format!("file://{}", tmp.path().join(repo).display());
        let mut args = vec!["backup", &location, "snap", "--data", d, "--db", "db1", "--quiet"];
        args.extend_from_slice(extra);
        tabsnap(&args)
    };
    let (code, err) = backup("none", &["--compression", "none"]);
    assert_eq!(code, 0, "{err}");
    let none = repo_stored(&tmp.path().join("none"));
    assert!(none.stored >= 2 << 20 && none.codes.iter().all(|c| *c == Compression::None), "{none:?}");
    // The --depth mode packs directly, with the same option.
    let (code, err) = backup("tree", &["--depth", "4", "--compression", "zstd-1"]);
    assert_eq!(code, 0, "{err}");
    let tree = repo_stored(&tmp.path().join("tree"));
    assert!(tree.stored < (2 << 20) / 2 && tree.codes.iter().all(|c| *c == Compression::Zstd), "{tree:?}");

    let (code, err) = backup("bad", &["--compression", "zstd:5"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Invalid compression value: zstd:5. Must be 'auto', 'none', 'zstd' or 'zstd-N'"), "{err}");
}
