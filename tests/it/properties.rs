//! Every RESTORE property through the directory host: each has an effect seen on disk or in SHOW RESTORE, or
//! the statement is refused at analysis with a clear message.

use std::path::Path;
use std::sync::Arc;

use tabsnap::host::DirHost;
use tabsnap::{Engine, Session};

use crate::engine::{Fixture, create_repo, finish, fixture, job, one, root, rows, write};
use crate::util::{BasicHost, tree};

/// A BACKUP of db1 (t1 with p1, p2 and rollup r1; t2) as `snap`; returns its timestamp.
fn backup_db1(f: &Fixture, label: &str) -> String {
    let id = job(&f.engine, &root(), &format!("BACKUP SNAPSHOT {label} TO repo1 ON (t1, t2)"));
    finish(&f.engine, id).timestamp
}

fn restore(f: &Fixture, sql_tail: &str, ts: &str, props: &str) -> tabsnap::job::JobInfo {
    let sql = format!("RESTORE SNAPSHOT {sql_tail} PROPERTIES ('backup_timestamp' = '{ts}'{props})");
    let id = job(&f.engine, &root(), &sql);
    finish(&f.engine, id)
}

fn refused(f: &Fixture, sql: &str) -> String {
    one(&f.engine, &root(), sql).unwrap_err().message().to_owned()
}

fn description(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path.join("_table.json")).unwrap()).unwrap()
}

fn dirs(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(['.', '_']))
        .collect();
    v.sort();
    v
}

fn ready() -> (Fixture, String) {
    let f = fixture();
    create_repo(&f);
    write(
        &f.data.join("db1/t1/_table.json"),
        br#"{"rollups": ["r1"], "schema": "s1", "replication_allocation": "tag.location.default: 5",
             "storage_medium": "hdd", "dynamic_partition_enable": true}"#,
    );
    let ts = backup_db1(&f, "snap");
    (f, ts)
}

#[test]
fn clean_tables_drops_the_tables_not_restored_and_clean_partitions_the_partitions() {
    let (f, ts) = ready();
    // Without the properties the other tables and partitions survive.
    write(&f.data.join("db1/t1/p3/900/x.dat"), b"extra partition");
    write(&f.data.join("db1/t9/p/901/x.dat"), b"extra table");
    restore(&f, "snap FROM repo1 ON (t1)", &ts, "");
    assert_eq!(dirs(&f.data.join("db1")), ["t1", "t2", "t9", "v1"]);
    assert_eq!(dirs(&f.data.join("db1/t1")), ["p1", "p2", "p3"]);

    restore(&f, "snap FROM repo1 ON (t1)", &ts, ", 'clean_partitions' = 'true'");
    assert_eq!(dirs(&f.data.join("db1/t1")), ["p1", "p2"], "the partition not in the snapshot is dropped");
    assert_eq!(dirs(&f.data.join("db1")), ["t1", "t2", "t9", "v1"]);

    restore(&f, "snap FROM repo1 ON (t1)", &ts, ", 'clean_tables' = 'true'");
    assert_eq!(dirs(&f.data.join("db1")), ["t1", "v1"], "the OLAP tables not restored are dropped, the view stays");
    assert!(dirs(&f.data.join("db1")).iter().all(|d| !d.starts_with(".restore")));
}

#[test]
fn atomic_restore_replaces_the_whole_table_and_force_replace_a_different_schema() {
    let (f, ts) = ready();
    let before = tree(&f.data.join("db1/t1"));
    write(&f.data.join("db1/t1/p3/900/x.dat"), b"extra partition");
    write(&f.data.join("db1/t1/p1/100/0/0_0.dat"), b"changed");
    restore(&f, "snap FROM repo1 ON (t1)", &ts, ", 'atomic_restore' = 'true'");
    assert_eq!(tree(&f.data.join("db1/t1")), before, "the table is the snapshot's, whole");
    assert_eq!(description(&f.data.join("db1/t1"))["schema"], "s1");

    // Another schema: refused, unless force_replace (which needs atomic_restore).
    write(&f.data.join("db1/t1/_table.json"), br#"{"rollups": ["r1"], "schema": "s2"}"#);
    let sql = |props: &str| {
        format!("RESTORE SNAPSHOT snap FROM repo1 ON (t1) PROPERTIES ('backup_timestamp' = '{ts}'{props})")
    };
    assert_eq!(refused(&f, &sql("")), "Table t1 already exist but with different schema");
    assert_eq!(refused(&f, &sql(", 'atomic_restore' = 'true'")), "Table t1 already exist but with different schema");
    assert_eq!(
        refused(&f, &sql(", 'force_replace' = 'true'")),
        "force_replace is only supported together with atomic_restore = true"
    );
    restore(&f, "snap FROM repo1 ON (t1)", &ts, ", 'atomic_restore' = 'true', 'force_replace' = 'true'");
    assert_eq!(description(&f.data.join("db1/t1"))["schema"], "s1");
    assert_eq!(tree(&f.data.join("db1/t1")), before);
    assert!(
        refused(&f, &sql(", 'atomic_restore' = 'true'").replace("ON (t1)", "ON (t1 PARTITION (p1))"))
            .starts_with("atomic_restore replaces table t1 whole")
    );
}

#[test]
fn replica_allocation_is_one_value_shown_twice_and_committed_with_the_table() {
    let (f, ts) = ready();
    let j = restore(&f, "snap FROM repo1 ON (t1 AS a)", &ts, ", 'replication_num' = '1'");
    let rs = rows(&f.engine, &root(), "SHOW RESTORE");
    let last = rs.rows.len() - 1;
    assert_eq!(rs.get(last, "JobId"), Some(j.id.to_string().as_str()));
    assert_eq!(rs.get(last, "ReplicationNum"), Some("1"));
    assert_eq!(rs.get(last, "ReplicaAllocation"), Some("tag.location.default: 1"));
    assert_eq!(description(&f.data.join("db1/a"))["replication_allocation"], "tag.location.default: 1");

    restore(
        &f,
        "snap FROM repo1 ON (t1 AS b)",
        &ts,
        ", 'replication_allocation' = 'tag.location.default: 2, tag.location.g1: 1'",
    );
    let rs = rows(&f.engine, &root(), "SHOW RESTORE");
    let last = rs.rows.len() - 1;
    assert_eq!(rs.get(last, "ReplicationNum"), Some("3"));
    assert_eq!(rs.get(last, "ReplicaAllocation"), Some("tag.location.default: 2, tag.location.g1: 1"));
    assert_eq!(
        description(&f.data.join("db1/b"))["replication_allocation"],
        "tag.location.default: 2, tag.location.g1: 1"
    );

    // reserve_replica keeps the snapshot's allocation whatever replication_num says.
    restore(&f, "snap FROM repo1 ON (t1 AS c)", &ts, ", 'replication_num' = '1', 'reserve_replica' = 'true'");
    assert_eq!(description(&f.data.join("db1/c"))["replication_allocation"], "tag.location.default: 5");
    let rs = rows(&f.engine, &root(), "SHOW RESTORE");
    assert_eq!(rs.get(rs.rows.len() - 1, "ReserveReplica"), Some("true"));

    // Without any, the snapshot's description comes back as it was.
    restore(&f, "snap FROM repo1 ON (t1 AS d)", &ts, "");
    assert_eq!(description(&f.data.join("db1/d"))["replication_allocation"], "tag.location.default: 5");
    let rs = rows(&f.engine, &root(), "SHOW RESTORE");
    assert_eq!(rs.get(rs.rows.len() - 1, "ReplicaAllocation"), Some("tag.location.default: 3"));
    assert!(
        refused(&f, &format!("RESTORE SNAPSHOT snap FROM repo1 PROPERTIES ('backup_timestamp' = '{ts}', 'replication_allocation' = '3')"))
            .starts_with("Invalid replication allocation property: 3")
    );
}

#[test]
fn medium_dynamic_partitions_and_sync_flag_reach_the_restored_table() {
    let (f, ts) = ready();
    restore(
        &f,
        "snap FROM repo1 ON (t1 AS a)",
        &ts,
        ", 'storage_medium' = 'ssd', 'medium_allocation_mode' = 'adaptive'",
    );
    let a = description(&f.data.join("db1/a"));
    assert_eq!((a["storage_medium"].as_str(), a["medium_allocation_mode"].as_str()), (Some("ssd"), Some("adaptive")));
    assert_eq!(a["dynamic_partition_enable"], false, "dynamic partitioning is off in a restored table, as in Doris");

    restore(
        &f,
        "snap FROM repo1 ON (t1 AS b)",
        &ts,
        ", 'storage_medium' = 'same_with_upstream', 'reserve_dynamic_partition_enable' = 'true'",
    );
    let b = description(&f.data.join("db1/b"));
    assert_eq!(b["storage_medium"], "hdd");
    assert_eq!(b["dynamic_partition_enable"], true);
    let rs = rows(&f.engine, &root(), "SHOW RESTORE");
    assert_eq!(rs.get(rs.rows.len() - 1, "ReserveDynamicPartitionEnable"), Some("true"));

    restore(&f, "snap FROM repo1 ON (t1 AS c)", &ts, ", 'is_being_synced' = 'true'");
    assert_eq!(description(&f.data.join("db1/c"))["is_being_synced"], true);
    assert!(description(&f.data.join("db1/a")).get("is_being_synced").is_none());

    // Into the existing table: its description gets the properties (through the commit's journal).
    restore(&f, "snap FROM repo1 ON (t1)", &ts, ", 'storage_medium' = 'ssd'");
    assert_eq!(description(&f.data.join("db1/t1"))["storage_medium"], "ssd");
}

#[test]
fn exclude_lists_skip_missing_tables_and_leave_out_just_the_partitions_named() {
    let (f, ts) = ready();
    restore(&f, "db3.snap FROM repo1 EXCLUDE (nope, t1 PARTITION (p1))", &ts, "");
    assert_eq!(dirs(&f.data.join("db3")), ["t1", "t2"]);
    assert_eq!(dirs(&f.data.join("db3/t1")), ["p2"]);
    let rs = rows(&f.engine, &root(), "SHOW RESTORE FROM db3");
    let objs: serde_json::Value = serde_json::from_str(rs.get(0, "RestoreObjs").unwrap()).unwrap();
    assert_eq!(
        (objs["name"].as_str(), objs["database"].as_str(), objs["content"].as_str()),
        (Some("snap"), Some("db1"), Some("ALL"))
    );
    assert_eq!(
        objs["olap_table_list"],
        serde_json::json!([{"name": "t1", "partition_names": ["p2"]}, {"name": "t2", "partition_names": ["t2"]}])
    );
    assert_eq!(objs["view_list"], serde_json::json!([]));
    restore(&f, "db4.snap FROM repo1 EXCLUDE (t1)", &ts, "");
    assert_eq!(dirs(&f.data.join("db4")), ["t2"]);
}

#[test]
fn properties_tabsnap_cannot_honour_are_refused() {
    let (f, ts) = ready();
    let sql =
        |props: &str| format!("RESTORE SNAPSHOT snap FROM repo1 PROPERTIES ('backup_timestamp' = '{ts}', {props})");
    for (props, msg) in [
        ("'meta_version' = '40'", "meta_version is not supported"),
        ("'reserve_colocate' = 'true'", "Property reserve_colocate = true is not supported by tabsnap"),
        ("'allow_load' = 'true'", "Property allow_load = true is not supported by tabsnap"),
        ("'reserve_storage_policy' = 'true'", "Property reserve_storage_policy = true is not supported by tabsnap"),
        ("'storage_vault_name' = 'v'", "Property storage_vault_name is not supported by tabsnap"),
        ("'storage_resource' = 'r'", "Property storage_resource is not supported by tabsnap"),
        ("'colocate_with' = 'g'", "Property colocate_with is not supported by tabsnap"),
        ("'storage_medium' = 'tape'", "Invalid storage_medium value: tape"),
        ("'medium_allocation_mode' = 'lazy'", "Invalid medium_allocation_mode value: lazy"),
    ] {
        let m = refused(&f, &sql(props));
        assert!(m.starts_with(msg), "{props}: {m}");
    }
    // The false values mean what tabsnap does anyway.
    restore(&f, "snap FROM repo1 ON (t2 AS x)", &ts, ", 'allow_load' = 'false', 'reserve_colocate' = 'false'");
}

#[test]
fn a_host_without_the_optional_callbacks_refuses_the_properties_that_need_them() {
    let (f, ts) = ready();
    let engine = Engine::builder(Arc::new(BasicHost::new(DirHost::new(&f.data).unwrap(), std::time::Duration::ZERO)))
        .build()
        .unwrap();
    let s = Session::new("root", Some("db1"));
    let sql = format!("CREATE REPOSITORY repo1 WITH LOCAL ON LOCATION 'file://{}'", f.repo_dir.display());
    one(&engine, &s, &sql).unwrap();
    let sql = |props: &str| {
        format!("RESTORE SNAPSHOT snap FROM repo1 ON (t1 AS z) PROPERTIES ('backup_timestamp' = '{ts}'{props})")
    };
    for (props, msg) in [
        (", 'clean_tables' = 'true'", "Property clean_tables is not supported by this host: it needs dropping tables"),
        (
            ", 'clean_partitions' = 'true'",
            "Property clean_partitions is not supported by this host: it needs dropping partitions",
        ),
        (
            ", 'atomic_restore' = 'true'",
            "Property atomic_restore is not supported by this host: it needs replacing a table atomically",
        ),
        (
            ", 'replication_num' = '1'",
            "Property replication_num is not supported by this host: it needs table properties on restore",
        ),
        (", 'storage_medium' = 'ssd'", "Property storage_medium is not supported by this host"),
        (
            ", 'atomic_restore' = 'true', 'force_replace' = 'true'",
            "Property atomic_restore is not supported by this host",
        ),
        (", 'is_being_synced' = 'true'", "Property is_being_synced is not supported by this host"),
        (", 'reserve_replica' = 'true'", "Property reserve_replica is not supported by this host"),
    ] {
        let m = one(&engine, &s, &sql(props)).unwrap_err().message().to_owned();
        assert!(m.starts_with(msg), "{props}: {m}");
    }
    let id = match one(&engine, &s, &sql(", 'storage_medium' = 'same_with_upstream'")).unwrap() {
        tabsnap::Outcome::Job(id) => id,
        other => panic!("{other:?}"),
    };
    finish(&engine, id);
    assert!(f.data.join("db1/z/p1").is_dir());
}
