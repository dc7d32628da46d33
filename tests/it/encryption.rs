//! Encrypted repositories through SQL: round trips, secrets kept out of everything saved or shown, wrong and
//! missing passwords, damage named by object.

use std::path::Path;
use std::sync::Arc;

use crate::engine::{Fixture, finish, fixture, job, one, root, rows, write};
use crate::util::tree;
use tabsnap::host::DirHost;
use tabsnap::{Engine, ErrorKind, Outcome};

pub(crate) const MARKER: &[u8] = b"ENCRYPTION-MARKER-5e1f";
/// Cheap Argon2id parameters: the tests open many key objects.
pub(crate) const KDF: &str = "m=64,t=1,p=1";

/// A file of `db1.t2` holding the marker between incompressible bytes.
pub(crate) fn marked_file(data: &Path) {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let mut bytes = Vec::new();
    while bytes.len() < 300_000 {
        bytes.extend_from_slice(MARKER);
        for _ in 0..700 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes.push(x as u8);
        }
    }
    write(&data.join("db1/t2/t2/302/m.dat"), &bytes);
}

/// Every file under `dir` that holds `needle`.
pub(crate) fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
        .map(|(p, _)| p.display().to_string())
        .collect()
}

fn create(f: &Fixture, name: &str, props: &str) -> tabsnap::Result<Outcome> {
    let sql = format!(
        "CREATE REPOSITORY {name} WITH LOCAL ON LOCATION 'file://{}' PROPERTIES ({props})",
        f.repo_dir.display()
    );
    one(&f.engine, &root(), &sql)
}

fn engine_on(f: &Fixture) -> Engine {
    Engine::builder(Arc::new(DirHost::new(&f.data).unwrap()))
        .threads(2)
        .state_dir(f._tmp.path().join("state"))
        .build()
        .unwrap()
}

#[test]
fn an_encrypted_repository_round_trips_and_keeps_its_secrets() {
    let f = fixture();
    marked_file(&f.data);
    let props = format!(r#""encryption" = "on", "encryption.password" = "pw-7781", "encryption.kdf" = "{KDF}""#);
    assert_eq!(create(&f, "enc", &props).unwrap(), Outcome::Done);
    let j = finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT snap1 TO enc ON (t2)"));
    let restore = format!(
        "RESTORE SNAPSHOT snap1 FROM enc ON (t2 AS t2_copy) PROPERTIES ('backup_timestamp' = '{}')",
        j.timestamp
    );
    finish(&f.engine, job(&f.engine, &root(), &restore));
    assert_eq!(tree(&f.data.join("db1/t2")), tree(&f.data.join("db1/t2_copy")));

    // No object holds the plaintext; the password is nowhere on disk and in nothing shown.
    assert_eq!(files_holding(&f.data, MARKER).len(), 2, "the source and its restored copy");
    assert!(files_holding(&f.repo_dir, MARKER).is_empty());
    assert!(files_holding(f._tmp.path(), b"pw-7781").is_empty());
    let shown = format!(
        "{:?}{:?}{:?}",
        rows(&f.engine, &root(), "SHOW REPOSITORIES"),
        rows(&f.engine, &root(), "SHOW BACKUP"),
        rows(&f.engine, &root(), "SHOW RESTORE")
    );
    assert!(!shown.contains("pw-7781") && shown.contains("enc"), "{shown}");

    // Another process on the same state has no password: the repository is there, locked, and says why.
    let other = engine_on(&f);
    let e = one(&other, &root(), "BACKUP SNAPSHOT snap2 TO enc ON (t2)").unwrap_err();
    assert!(e.message().contains("TABSNAP_PASSWORD") && e.message().contains("encryption.key_file"), "{e}");
    let repos = rows(&other, &root(), "SHOW REPOSITORIES");
    assert!(repos.get(0, "ErrMsg").unwrap().contains("no password"), "{repos:?}");

    // A key file with the password opens it, in this process and after a restart.
    let key_file = f._tmp.path().join("key");
    std::fs::write(&key_file, "pw-7781\n").unwrap();
    let props = format!(r#""encryption" = "on", "encryption.key_file" = "{}""#, key_file.display());
    create(&f, "enc_file", &props).unwrap();
    let again = engine_on(&f);
    let snaps = rows(&again, &root(), "SHOW SNAPSHOT ON enc_file");
    assert_eq!(snaps.get(0, "Snapshot"), Some("snap1"));
}

#[test]
fn wrong_missing_and_mismatched_encryption_is_one_clear_error() {
    let f = fixture();
    let props = format!(r#""encryption" = "on", "encryption.password" = "right", "encryption.kdf" = "{KDF}""#);
    create(&f, "enc", &props).unwrap();
    let before = tree(&f.repo_dir);
    let e = create(&f, "wrong", r#""encryption" = "on", "encryption.password" = "wrong""#).unwrap_err();
    assert!(e.message().contains("wrong password for the encrypted repository"), "{e}");
    assert!(!e.message().contains("\"wrong\""));
    assert_eq!(tree(&f.repo_dir), before, "a wrong password changes nothing");
    let e = create(&f, "plain", r#""retention" = "keep_last=5""#).unwrap_err();
    assert!(e.message().contains("is an encrypted repository: give its password"), "{e}");
    let e = create(&f, "nopw", r#""encryption" = "on""#).unwrap_err();
    assert!(e.message().contains("needs encryption.password or encryption.key_file"), "{e}");
    let e = create(&f, "typo", r#""encryption" = "on", "encryption.pasword" = "x""#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("unknown property \"encryption.pasword\""), "{e}");

    // Encryption is chosen at creation: a plain repository is not opened as an encrypted one.
    let plain = f._tmp.path().join("plain");
    let sql = format!("CREATE REPOSITORY p WITH LOCAL ON LOCATION 'file://{}'", plain.display());
    one(&f.engine, &root(), &sql).unwrap();
    let sql = format!(
        r#"CREATE REPOSITORY p2 WITH LOCAL ON LOCATION 'file://{}' PROPERTIES ("encryption" = "on", "encryption.password" = "x")"#,
        plain.display()
    );
    let e = one(&f.engine, &root(), &sql).unwrap_err();
    assert!(e.message().contains("not encrypted"), "{e}");
}

#[test]
fn damaged_ciphertext_fails_the_restore_naming_the_object() {
    let f = fixture();
    marked_file(&f.data);
    let props = format!(r#""encryption" = "on", "encryption.password" = "pw", "encryption.kdf" = "{KDF}""#);
    create(&f, "enc", &props).unwrap();
    let j = finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT snap1 TO enc ON (t2)"));
    let packs = f.repo_dir.join("packs");
    let sub = std::fs::read_dir(&packs).unwrap().next().unwrap().unwrap().path();
    let pack = std::fs::read_dir(&sub).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[100] ^= 0x40;
    std::fs::write(&pack, bytes).unwrap();
    let restore = format!(
        "RESTORE SNAPSHOT snap1 FROM enc ON (t2 AS t2_copy) PROPERTIES ('backup_timestamp' = '{}')",
        j.timestamp
    );
    let id = job(&f.engine, &root(), &restore);
    let r = f.engine.wait(id, std::time::Duration::from_secs(60)).unwrap();
    let name = pack.file_name().unwrap().to_string_lossy().into_owned();
    let error = r.error.unwrap_or_default();
    assert!(error.contains(&name) && error.contains("crc32c mismatch"), "{error}");
}

#[test]
fn retention_after_each_backup_keeps_what_the_policy_says_per_database() {
    let f = fixture();
    let props = r#""retention" = "keep_last=2""#;
    create(&f, "kept", props).unwrap();
    // db2's snapshot is another database's: the policy counts it apart.
    finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT db2.other TO kept"));
    for (n, label) in ["s1", "s2", "s3"].iter().enumerate() {
        // Each backup holds a version of t2's file that no other holds.
        write(&f.data.join("db1/t2/t2/300/a.dat"), format!("VERSION-{n}-{}", "x".repeat(n)).as_bytes());
        finish(&f.engine, job(&f.engine, &root(), &format!("BACKUP SNAPSHOT {label} TO kept ON (t2)")));
    }
    let snaps = rows(&f.engine, &root(), "SHOW SNAPSHOT ON kept");
    let mut labels: Vec<&str> = (0..snaps.rows.len()).filter_map(|i| snaps.get(i, "Snapshot")).collect();
    labels.sort_unstable();
    assert_eq!(labels, ["other", "s2", "s3"]);
    // The dropped snapshot's data went with it (text this short is stored as it is, so it can be found).
    assert!(files_holding(&f.repo_dir, b"VERSION-0-").is_empty());
    assert_eq!(files_holding(&f.repo_dir, b"VERSION-2-").len(), 1);

    // ALTER REPOSITORY changes the policy; bad policies are refused with the property named.
    one(&f.engine, &root(), r#"ALTER REPOSITORY kept PROPERTIES ("retention" = "keep_last=1")"#).unwrap();
    write(&f.data.join("db1/t2/t2/300/a.dat"), b"VERSION-3");
    finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT s4 TO kept ON (t2)"));
    let snaps = rows(&f.engine, &root(), "SHOW SNAPSHOT ON kept");
    assert_eq!(snaps.rows.len(), 2, "{snaps:?}");
    for bad in ["keep_last=0", "keep_hourly=3", ""] {
        let e = one(&f.engine, &root(), &format!(r#"ALTER REPOSITORY kept PROPERTIES ("retention" = "{bad}")"#));
        let e = e.unwrap_err();
        assert!(e.message().contains("property retention: retention policy"), "{e}");
    }
    let sql = format!(
        r#"CREATE READ ONLY REPOSITORY ro WITH LOCAL ON LOCATION 'file://{}' PROPERTIES ("retention" = "keep_last=1")"#,
        f.repo_dir.display()
    );
    let e = one(&f.engine, &root(), &sql).unwrap_err();
    assert!(e.message().contains("needs a repository that is not READ ONLY"), "{e}");
}

fn golden_encrypted_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/encrypted")
}

const GOLDEN_PASSWORD: &str = "golden password";

/// Writes tests/golden/encrypted anew: the golden repository's snapshot, encrypted. Run only when the format
/// changes: `cargo test --test it encryption::regenerate_golden_encrypted_repository -- --ignored`.
#[test]
#[ignore]
fn regenerate_golden_encrypted_repository() {
    use tabsnap::crypto::{EncryptedRepository, KdfParams, Password};
    let tmp = tempfile::tempdir().unwrap();
    let _ = std::fs::remove_dir_all(golden_encrypted_dir());
    let store = tabsnap::repo::LocalRepository::new(golden_encrypted_dir()).unwrap();
    let cheap = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
    let (repo, _) =
        EncryptedRepository::open_or_create(store, &Password::new(GOLDEN_PASSWORD).unwrap(), cheap).unwrap();
    tabsnap::pack::init_repository(&repo).unwrap();
    let source = crate::pack::golden_source(tmp.path());
    let control = crate::pack::control(crate::pack::GOLDEN_TS);
    crate::pack::packer().backup(&repo, &source, "golden", &control).unwrap();
}

#[test]
fn the_committed_golden_encrypted_repository_still_opens_decodes_and_restores() {
    use tabsnap::crypto::{EncryptedRepository, Password, check_stored};
    use tabsnap::format::{self, IdHasher};
    use tabsnap::repo::{LocalRepository, Repository};
    let dir = golden_encrypted_dir();
    let store = Arc::new(LocalRepository::new(&dir).unwrap());
    // Without the password: every stored byte checks, nothing is readable.
    let report = check_stored(store.as_ref()).unwrap();
    assert!(report.is_ok() && report.snapshots == 1, "{report:?}");
    assert!(tabsnap::pack::list_snapshots(store.as_ref()).is_err());
    let wrong = EncryptedRepository::open(store.clone(), &Password::new("not it").unwrap()).err().unwrap();
    assert!(wrong.message().contains("wrong password"), "{wrong}");

    let (repo, _) = EncryptedRepository::open(store, &Password::new(GOLDEN_PASSWORD).unwrap()).unwrap();
    let m = tabsnap::pack::load_manifest(&repo, "golden", crate::pack::GOLDEN_TS).unwrap();
    assert_eq!((m.database.as_str(), m.chunk_size), ("golden_db", 64 << 10));
    let tmp = tempfile::tempdir().unwrap();
    crate::pack::golden_source(&tmp.path().join("src"));
    let out = tmp.path().join("out");
    let p = crate::pack::packer();
    p.restore(&repo, &m, &|_, t| Some(out.join(&t.id)), &Default::default()).unwrap();
    assert_eq!(tree(&out.join("1001")), tree(&tmp.path().join("src/t/1001")));
    assert!(p.verify(&repo, &[m], false).unwrap().is_ok());
    // Packs are named by the keyed hash of what was sealed, never by the plain one; no plaintext is stored.
    let ids = IdHasher::new(repo.hash_key());
    for o in repo.list("packs/").unwrap() {
        let plain = tabsnap::repo::get(&repo, &o.key).unwrap();
        assert_eq!(format::pack_key(&ids.hash(&plain)), o.key);
        assert_ne!(format::pack_key(&format::ContentHash::of(&plain)), o.key);
    }
    assert!(files_holding(&dir, b"small index file").is_empty());
    assert!(files_holding(&dir, &crate::pack::bytes(1, 150_000)[..64]).is_empty());
}
