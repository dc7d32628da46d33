//! The command line on encrypted repositories (passwords from TABSNAP_PASSWORD or --password-file, verify
//! without the password, a password changed by ALTER REPOSITORY) and `tabsnap forget`.

use std::path::Path;
use std::process::Command;

use crate::encryption::{KDF, MARKER, files_holding};

/// Runs the CLI with `env` set (and TABSNAP_PASSWORD / TABSNAP_PASSWORD_FILE unset unless given).
fn tabsnap(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tabsnap"));
    cmd.args(args).env_remove("TABSNAP_PASSWORD").env_remove("TABSNAP_PASSWORD_FILE").env("TABSNAP_KDF", KDF);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// A tablet file of `len` incompressible bytes with `marker` in it.
fn marked(path: &Path, marker: &[u8], len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ marker.len() as u64 ^ u64::from(marker[marker.len() - 1]);
    let mut bytes = marker.to_vec();
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

#[test]
fn encrypted_repositories_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let big = marked(&data.join("shard0/10001/0_0.dat"), MARKER, 3_000_000);
    marked(&data.join("shard1/10002/1.idx"), MARKER, 100);
    let repo_dir = tmp.path().join("repo");
    let repo = format!("file://{}", repo_dir.display());
    let pw = [("TABSNAP_PASSWORD", "cli-pw")];
    let d = data.to_str().unwrap();
    let (code, _, err) = tabsnap(&["backup", &repo, "snap1", "--data", d, "--db", "db1", "--depth", "2"], &pw);
    assert_eq!(code, 0, "{err}");
    assert!(files_holding(&repo_dir, MARKER).is_empty());
    assert!(files_holding(&repo_dir, b"cli-pw").is_empty());

    let (code, _, err) = tabsnap(&["snapshots", &repo], &[]);
    assert!(code == 1 && err.contains("encrypted repository: give its password"), "{err}");
    let (code, _, err) = tabsnap(&["snapshots", &repo], &[("TABSNAP_PASSWORD", "nope")]);
    assert!(code == 1 && err.contains("wrong password") && !err.contains("nope"), "{err}");
    let file = tmp.path().join("pw.txt");
    std::fs::write(&file, "cli-pw\n").unwrap();
    let (code, out, err) = tabsnap(&["snapshots", &repo, "--password-file", file.to_str().unwrap()], &[]);
    assert!(code == 0 && out.contains("snap1"), "{out}{err}");
    let to = tmp.path().join("out");
    let (code, _, err) = tabsnap(&["restore", &repo, "snap1", "--to", to.to_str().unwrap()], &pw);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(to.join("db1/shard0/shard0/10001/0_0.dat")).unwrap(), big);

    // verify: --quick needs no password; a full verify does.
    let (code, out, err) = tabsnap(&["verify", &repo, "--quick"], &[]);
    assert!(code == 0 && out.contains("stored bytes checked without the password"), "{out}{err}");
    let (code, _, err) = tabsnap(&["verify", &repo], &[]);
    assert!(code == 1 && err.contains("give its password"), "{err}");
    let (code, out, err) = tabsnap(&["unlock", &repo], &[]);
    assert!(code == 0 && out.contains("removed 0 stale lock(s), 0 live"), "{out}{err}");
    let (code, out, _) = tabsnap(&["verify", &repo], &pw);
    assert!(code == 0 && out.starts_with("ok: 1 snapshot"), "{out}");

    // Damaged ciphertext: found with and without the password, by object.
    let sub = std::fs::read_dir(repo_dir.join("packs")).unwrap().next().unwrap().unwrap().path();
    let pack = std::fs::read_dir(&sub).unwrap().next().unwrap().unwrap().path();
    let name = pack.file_name().unwrap().to_string_lossy().into_owned();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[200] ^= 1;
    std::fs::write(&pack, bytes).unwrap();
    let (code, out, _) = tabsnap(&["verify", &repo, "--quick", "--json"], &[]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["without_password"], true);
    let problem = &v["problems"][0];
    assert!(problem["object"].as_str().unwrap().ends_with(&name), "{v}");
    assert!(problem["message"].as_str().unwrap().contains("crc32c mismatch"), "{v}");
    let (code, out, _) = tabsnap(&["verify", &repo], &pw);
    assert!(code == 1 && out.contains(&format!("BAD packs/{}/{name}", &name[..2])), "{out}");
}

#[test]
fn alter_repository_changes_the_password_without_rewriting_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    marked(&data.join("db1/t1/p1/10001/0_0.dat"), MARKER, 200_000);
    let repo_dir = tmp.path().join("repo");
    let (d, state) = (data.to_str().unwrap(), tmp.path().join("state"));
    let sql = |stmts: &str, env: &[(&str, &str)]| {
        tabsnap(&["sql", "--data", d, "--state", state.to_str().unwrap(), "--db", "db1", stmts], env)
    };
    let create = format!(
        r#"CREATE REPOSITORY r WITH LOCAL ON LOCATION "file://{}" PROPERTIES ("encryption" = "on", "encryption.password" = "first", "encryption.kdf" = "{KDF}"); BACKUP SNAPSHOT s1 TO r"#,
        repo_dir.display()
    );
    let (code, _, err) = sql(&create, &[]);
    assert_eq!(code, 0, "{err}");
    let data_objects = |dir: &Path| {
        let mut t = crate::util::tree(dir);
        t.retain(|p, _| !p.starts_with("keys") && !p.starts_with("locks"));
        t
    };
    let before = data_objects(&repo_dir);
    let keys_before = crate::util::tree(&repo_dir.join("keys"));
    assert_eq!(keys_before.len(), 1);

    // This process opens the repository with TABSNAP_PASSWORD and gives it a new password.
    let (code, _, err) =
        sql(r#"ALTER REPOSITORY r PROPERTIES ("encryption.password" = "second")"#, &[("TABSNAP_PASSWORD", "first")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(data_objects(&repo_dir), before, "no data object was rewritten");
    let keys_after = crate::util::tree(&repo_dir.join("keys"));
    assert_eq!(keys_after.len(), 1);
    assert!(keys_after.keys().all(|k| !keys_before.contains_key(k)), "the old key object is gone");
    let repo = format!("file://{}", repo_dir.display());
    let (code, _, err) = tabsnap(&["snapshots", &repo], &[("TABSNAP_PASSWORD", "first")]);
    assert!(code == 1 && err.contains("wrong password"), "{err}");
    let (code, out, err) = tabsnap(&["snapshots", &repo], &[("TABSNAP_PASSWORD", "second")]);
    assert!(code == 0 && out.contains("s1"), "{out}{err}");
    assert!(files_holding(tmp.path(), b"second").is_empty() && files_holding(tmp.path(), b"first").is_empty());

    // Without the password this process cannot change it; a plain repository has none to change.
    let (code, _, err) = sql(r#"ALTER REPOSITORY r PROPERTIES ("encryption.password" = "third")"#, &[]);
    assert!(code != 0 && err.contains("has no password for it"), "{err}");
    let (code, _, err) =
        sql(r#"ALTER REPOSITORY r PROPERTIES ("s3.access_key" = "x")"#, &[("TABSNAP_PASSWORD", "second")]);
    assert!(code != 0 && err.contains("not an S3 repository"), "{err}");
    let (code, _, err) = sql(r#"ALTER REPOSITORY r PROPERTIES ("location" = "x")"#, &[("TABSNAP_PASSWORD", "second")]);
    assert!(code != 0 && err.contains("cannot change property \"location\""), "{err}");
    let (code, _, err) = sql("ALTER REPOSITORY r", &[]);
    assert!(code == 3 && err.contains("needs PROPERTIES"), "{err}");
    let (code, _, err) = sql("ALTER REPOSITORY", &[]);
    assert!(code == 2 && err.contains("line 1, column 17") && err.contains("ALTER REPOSITORY"), "{err}");
}

#[test]
fn forget_keeps_what_the_policy_says_and_frees_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let repo_dir = tmp.path().join("repo");
    let repo = format!("file://{}", repo_dir.display());
    let d = data.to_str().unwrap();
    for label in ["a", "b", "c"] {
        let marker = format!("VERSION-{label}-OF-THE-FILE");
        marked(&data.join("shard0/10001/0_0.dat"), marker.as_bytes(), 50_000);
        let (code, _, err) =
            tabsnap(&["backup", &repo, label, "--data", d, "--db", "db1", "--depth", "2", "--quiet"], &[]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = tabsnap(&["forget", &repo, "--keep-last", "2", "--dry-run", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kept: Vec<(&str, bool)> =
        v["snapshots"].as_array().unwrap().iter().map(|s| (s["label"].as_str().unwrap(), s["keep"] == true)).collect();
    assert_eq!(kept, [("c", true), ("b", true), ("a", false)], "{v}");
    assert_eq!(v["gc"], serde_json::Value::Null);
    assert_eq!(files_holding(&repo_dir, b"VERSION-a-OF-THE-FILE").len(), 1, "a dry run removes nothing");

    let (code, out, err) = tabsnap(&["forget", &repo, "--keep-last", "2"], &[]);
    assert!(code == 0 && out.contains("dropped 1 of 3 snapshot(s) (keep_last=2)"), "{out}{err}");
    let (_, out, _) = tabsnap(&["snapshots", &repo], &[]);
    assert!(!out.contains(" a ") && out.contains('b') && out.contains('c'), "{out}");
    assert!(files_holding(&repo_dir, b"VERSION-a-OF-THE-FILE").is_empty(), "its data is freed");
    assert_eq!(files_holding(&repo_dir, b"VERSION-b-OF-THE-FILE").len(), 1);
    let (code, out, _) = tabsnap(&["verify", &repo], &[]);
    assert!(code == 0 && out.starts_with("ok: 2 snapshots"), "{out}");

    let (code, _, err) = tabsnap(&["forget", &repo], &[]);
    assert!(code == 1 && err.contains("give at least one of --keep-last"), "{err}");
    let (code, _, err) = tabsnap(&["forget", &repo, "--keep-daily", "0"], &[]);
    assert!(code == 1 && err.contains("--keep-daily must be at least 1"), "{err}");
    let (code, out, _) = tabsnap(&["forget", &repo, "--keep-last", "1", "--db", "other"], &[]);
    assert!(code == 0 && out.contains("dropped 0 of 0"), "{out}");
}
