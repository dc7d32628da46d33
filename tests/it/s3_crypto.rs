//! Encrypted repositories on S3 (SeaweedFS): a round trip through SQL, nothing in clear in the bucket, the
//! stored bytes checked without the password, and ALTER REPOSITORY's new credentials.

use std::sync::Arc;
use std::time::Duration;

use crate::encryption::KDF;
use crate::s3::{noise, s3_repo, server, unique};
use crate::util::tree;
use tabsnap::host::DirHost;
use tabsnap::job::JobState;
use tabsnap::repo::Repository;
use tabsnap::{Engine, Outcome, Session};

fn job(engine: &Engine, sql: &str) -> tabsnap::job::JobInfo {
    let root = Session::new("root", Some("db1"));
    let Outcome::Job(id) = engine.execute(&root, sql).unwrap().remove(0) else { panic!("{sql}") };
    engine.wait(id, Duration::from_secs(120)).unwrap()
}

#[test]
fn an_encrypted_s3_repository_round_trips_and_takes_new_credentials() {
    let s = server();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (tablet, len) in [("1001", 7 << 20), ("1002", 50_000)] {
        let d = data.join("db1/t1/p1").join(tablet).join("0");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("0_0.dat"), noise(len, tablet.parse().unwrap())).unwrap();
        std::fs::write(d.join("0.idx"), format!("S3-PLAINTEXT-INDEX-{tablet}")).unwrap();
    }
    let engine =
        Engine::builder(Arc::new(DirHost::new(&data).unwrap())).state_dir(tmp.path().join("state")).build().unwrap();
    let root = Session::new("root", Some("db1"));
    let prefix = unique("enc");
    let props = |secret: &str| {
        format!(
            "'s3.endpoint' = '{}', 's3.region' = 'us-east-1', 's3.access_key' = '{}', 's3.secret_key' = '{secret}', \
             'use_path_style' = 'true'",
            s.endpoint, s.key
        )
    };
    let create = format!(
        "CREATE REPOSITORY s3e WITH S3 ON LOCATION 's3://{}/{prefix}' PROPERTIES ({}, 'encryption' = 'on', \
         'encryption.password' = 's3-enc-pw', 'encryption.kdf' = '{KDF}')",
        s.bucket,
        props(&s.secret)
    );
    engine.execute(&root, &create).unwrap();
    let j = job(&engine, "BACKUP SNAPSHOT s1 TO s3e");
    assert_eq!(j.state, JobState::Finished, "{:?}", j.error);

    // Nothing in the bucket is plaintext; the stored bytes check without the password.
    let store = s3_repo(s, &prefix);
    for o in store.list("").unwrap() {
        let bytes = tabsnap::repo::get(&store, &o.key).unwrap();
        assert!(!bytes.windows(19).any(|w| w == b"S3-PLAINTEXT-INDEX-"), "{} holds plaintext", o.key);
        assert!(!bytes.windows(9).any(|w| w == b"s3-enc-pw"), "{}", o.key);
    }
    let report = tabsnap::crypto::check_stored(&store).unwrap();
    assert!(report.is_ok() && report.snapshots == 1, "{report:?}");

    // New credentials: a wrong secret is refused and changes nothing; the right one reopens the store.
    let alter = |secret: &str| {
        let sql = format!("ALTER REPOSITORY s3e PROPERTIES ('s3.secret_key' = '{secret}')");
        engine.execute(&root, &sql)
    };
    let e = alter("not-the-secret").unwrap_err();
    assert!(e.message().contains("secret"), "{e}");
    alter(&s.secret).unwrap();
    let restore =
        format!("RESTORE SNAPSHOT s1 FROM s3e ON (t1 AS t1_copy) PROPERTIES ('backup_timestamp' = '{}')", j.timestamp);
    let r = job(&engine, &restore);
    assert_eq!(r.state, JobState::Finished, "{:?}", r.error);
    assert_eq!(tree(&data.join("db1/t1")), tree(&data.join("db1/t1_copy")));
    let state = std::fs::read_to_string(tmp.path().join("state/state.json")).unwrap();
    assert!(!state.contains("s3-enc-pw") && state.contains("\"encryption\""), "{state}");
}
