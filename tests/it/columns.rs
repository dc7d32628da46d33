//! Every column of SHOW BACKUP, SHOW [BRIEF] RESTORE and SHOW SNAPSHOT, read back column by column as Doris
//! fills it, and the statement-wide properties (`timeout`, `backup_timestamp`, GLOBAL's) with their effect or
//! refusal.

use crate::engine::{create_repo, finish, fixture, job, one, root, rows};

/// `yyyy-MM-dd HH:mm:ss`.
fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// The times of `columns` in `rs`'s last row: each a time, in the order given (each at or after the one before).
fn times_in_order(rs: &tabsnap::ResultSet, columns: &[&str]) {
    let last = rs.rows.len() - 1;
    let times: Vec<&str> = columns.iter().map(|c| rs.get(last, c).unwrap()).collect();
    for (c, t) in columns.iter().zip(&times) {
        assert!(is_time(t), "{c}: {t:?}");
    }
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{columns:?}: {times:?}");
}

#[test]
fn show_backup_fills_every_column() {
    let f = fixture();
    create_repo(&f);
    let j = finish(
        &f.engine,
        job(&f.engine, &root(), "BACKUP SNAPSHOT snap TO repo1 ON (t2) PROPERTIES ('timeout' = '700')"),
    );
    let rs = rows(&f.engine, &root(), "SHOW BACKUP");
    assert_eq!(rs.columns, tabsnap::job::BACKUP_COLUMNS);
    let expect = [
        ("JobId", j.id.to_string()),
        ("SnapshotName", "snap".into()),
        ("DbName", "db1".into()),
        ("State", "FINISHED".into()),
        ("BackupObjs", "[db1.t2]".into()),
        ("UnfinishedTasks", String::new()),
        ("TaskErrMsg", String::new()),
        ("Status", "[OK]".into()),
        ("Timeout", "700".into()),
    ];
    for (column, value) in expect {
        assert_eq!(rs.get(0, column), Some(value.as_str()), "{column}");
    }
    assert!(rs.get(0, "Progress").unwrap().starts_with("[files: 2/2], [bytes: "), "{:?}", rs.get(0, "Progress"));
    times_in_order(&rs, &["CreateTime", "SnapshotFinishedTime", "UploadFinishedTime", "FinishedTime"]);
    // Without a timeout property, Doris's default of one day.
    finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT snap2 TO repo1 ON (t2)"));
    let rs = rows(&f.engine, &root(), "SHOW BACKUP WHERE SnapshotName = 'snap2'");
    assert_eq!(rs.get(0, "Timeout"), Some("86400"));
}

#[test]
fn show_restore_and_show_brief_restore_fill_every_column() {
    let f = fixture();
    create_repo(&f);
    let b = finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT snap TO repo1 ON (t2)"));
    let sql = format!(
        "RESTORE SNAPSHOT db2.snap FROM repo1 ON (t2 AS c) PROPERTIES ('backup_timestamp' = '{}', 'timeout' = '900')",
        b.timestamp
    );
    let j = finish(&f.engine, job(&f.engine, &root(), &sql));
    let rs = rows(&f.engine, &root(), "SHOW RESTORE FROM db2");
    assert_eq!(rs.columns, tabsnap::job::RESTORE_COLUMNS);
    let expect = [
        ("JobId", j.id.to_string()),
        ("Label", "snap".into()),
        ("Timestamp", b.timestamp.clone()),
        ("DbName", "db2".into()),
        ("State", "FINISHED".into()),
        ("AllowLoad", "false".into()),
        ("ReplicationNum", "3".into()),
        ("ReplicaAllocation", "tag.location.default: 3".into()),
        ("ReserveReplica", "false".into()),
        ("ReserveDynamicPartitionEnable", "false".into()),
        ("UnfinishedTasks", String::new()),
        ("TaskErrMsg", String::new()),
        ("Status", "[OK]".into()),
        ("Timeout", "900".into()),
    ];
    for (column, value) in expect {
        assert_eq!(rs.get(0, column), Some(value.as_str()), "{column}");
    }
    let objs: serde_json::Value = serde_json::from_str(rs.get(0, "RestoreObjs").unwrap()).unwrap();
    assert_eq!(
        (objs["name"].as_str(), objs["database"].as_str(), objs["content"].as_str()),
        (Some("snap"), Some("db1"), Some("ALL"))
    );
    assert_eq!(objs["olap_table_list"], serde_json::json!([{"name": "t2", "partition_names": ["t2"]}]));
    assert!(rs.get(0, "Progress").unwrap().starts_with("[files: 2/2], [bytes: "), "{:?}", rs.get(0, "Progress"));
    times_in_order(
        &rs,
        &["CreateTime", "MetaPreparedTime", "SnapshotFinishedTime", "DownloadFinishedTime", "FinishedTime"],
    );
    let brief = rows(&f.engine, &root(), "SHOW BRIEF RESTORE FROM db2");
    assert_eq!(brief.columns, tabsnap::job::brief_restore_columns());
    let full_minus: Vec<&str> = rs.rows[0]
        .iter()
        .zip(rs.columns.iter())
        .filter(|(_, c)| !matches!(c.as_str(), "RestoreObjs" | "Progress" | "TaskErrMsg"))
        .map(|(v, _)| v.as_str())
        .collect();
    assert_eq!(brief.rows[0], full_minus, "BRIEF leaves out RestoreObjs, Progress and TaskErrMsg only");
}

#[test]
fn show_snapshot_lists_labels_and_details() {
    let f = fixture();
    create_repo(&f);
    let a = finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT snap TO repo1 ON (t2)"));
    let rs = rows(&f.engine, &root(), "SHOW SNAPSHOT ON repo1");
    assert_eq!(rs.columns, ["Snapshot", "Timestamp", "Status"]);
    assert_eq!(rs.rows, [["snap", a.timestamp.as_str(), "OK"]]);
    let sql = format!("SHOW SNAPSHOT ON repo1 WHERE SNAPSHOT = 'snap' AND TIMESTAMP = '{}'", a.timestamp);
    let d = rows(&f.engine, &root(), &sql);
    assert_eq!(d.columns, ["Snapshot", "Timestamp", "Database", "Details", "Status"]);
    assert_eq!(
        (d.get(0, "Snapshot"), d.get(0, "Timestamp"), d.get(0, "Database"), d.get(0, "Status")),
        (Some("snap"), Some(a.timestamp.as_str()), Some("db1"), Some("OK"))
    );
    let details: serde_json::Value = serde_json::from_str(d.get(0, "Details").unwrap()).unwrap();
    assert_eq!(details["olap_table_list"][0]["name"], "t2");
}

#[test]
fn global_statements_and_their_properties_are_refused_and_backup_timestamp_is_required() {
    let f = fixture();
    create_repo(&f);
    let b = finish(&f.engine, job(&f.engine, &root(), "BACKUP SNAPSHOT snap TO repo1 ON (t2)"));
    let refused = |sql: &str| one(&f.engine, &root(), sql).unwrap_err().message().to_owned();
    assert_eq!(
        refused(
            "BACKUP GLOBAL SNAPSHOT g TO repo1 PROPERTIES ('backup_privilege' = 'true', 'backup_catalog' = 'true', 'backup_workload_group' = 'true')"
        ),
        "BACKUP GLOBAL (privileges, catalogs, workload groups) is not supported by tabsnap"
    );
    let restore = |props: &str| {
        format!("RESTORE SNAPSHOT snap FROM repo1 PROPERTIES ('backup_timestamp' = '{}'{props})", b.timestamp)
    };
    assert_eq!(
        refused(
            &restore(", 'reserve_privilege' = 'true', 'reserve_catalog' = 'true', 'reserve_workload_group' = 'true'")
                .replace("RESTORE SNAPSHOT", "RESTORE GLOBAL SNAPSHOT")
        ),
        "RESTORE GLOBAL (privileges, catalogs, workload groups) is not supported by tabsnap"
    );
    for key in ["reserve_privilege", "reserve_catalog", "reserve_workload_group"] {
        assert_eq!(
            refused(&restore(&format!(", '{key}' = 'true'"))),
            format!("Unknown restore job properties: [{key}]"),
            "{key} outside RESTORE GLOBAL"
        );
    }
    assert_eq!(refused(&restore(", 'nope' = '1'")), "Unknown restore job properties: [nope]");
    assert_eq!(refused("RESTORE SNAPSHOT snap FROM repo1"), "Missing backup_timestamp property");
    assert_eq!(refused(&restore(", 'timeout' = '60'")), "timeout must be at least 10 min");
    let wrong = refused("RESTORE SNAPSHOT snap FROM repo1 PROPERTIES ('backup_timestamp' = '2001-01-01-00-00-00')");
    assert!(wrong.contains("Maybe specified wrong backup timestamp"), "{wrong}");
}

#[test]
fn property_values_are_checked_with_doris_messages() {
    let f = fixture();
    create_repo(&f);
    let refused = |sql: &str| one(&f.engine, &root(), sql).unwrap_err().message().to_owned();
    let backup = |props: &str| refused(&format!("BACKUP SNAPSHOT s TO repo1 PROPERTIES ({props})"));
    assert_eq!(backup("'type' = 'diff'"), "Invalid backup job type: diff");
    assert_eq!(backup("'content' = 'some'"), "Invalid backup job content:some");
    let restore = |props: &str| {
        refused(&format!(
            "RESTORE SNAPSHOT s FROM repo1 PROPERTIES ('backup_timestamp' = '2024-01-01-00-00-00', {props})"
        ))
    };
    for key in [
        "reserve_replica",
        "reserve_colocate",
        "reserve_dynamic_partition_enable",
        "allow_load",
        "clean_tables",
        "clean_partitions",
        "atomic_restore",
        "force_replace",
        "is_being_synced",
        "reserve_storage_policy",
    ] {
        assert_eq!(restore(&format!("'{key}' = 'yes'")), format!("Invalid boolean property {key} value: yes"));
    }
    assert_eq!(restore("'replication_num' = '0'"), "Invalid replication_num value: 0");
    assert_eq!(restore("'meta_version' = 'v1'"), "Invalid meta version format: v1");
    assert_eq!(
        restore("'medium_allocation_mode' = 'lazy'"),
        "Invalid medium_allocation_mode value: lazy. Must be 'strict' or 'adaptive'"
    );
    assert_eq!(restore("'timeout' = 'soon'"), "Invalid timeout format: soon");
}

#[test]
fn repository_properties_tabsnap_cannot_honour_are_refused_by_name() {
    let f = fixture();
    let location = format!("file://{}", f.repo_dir.parent().unwrap().join("refused").display());
    let refused = |props: &str| {
        let e = one(
            &f.engine,
            &root(),
            &format!("CREATE REPOSITORY r WITH LOCAL ON LOCATION '{location}' PROPERTIES ({props})"),
        )
        .unwrap_err();
        assert_eq!(e.kind(), tabsnap::ErrorKind::Analysis, "{e}");
        e.message().to_owned()
    };
    assert_eq!(refused("'timeout' = '1'"), "Unknown property \"timeout\" for a LOCAL repository");
    assert_eq!(refused("'s3.endpoint' = 'http://h'"), "Unknown property \"s3.endpoint\" for a LOCAL repository");
    let s3 = |props: &str| {
        one(&f.engine, &root(), &format!("CREATE REPOSITORY s WITH S3 ON LOCATION 's3://b/p' PROPERTIES ({props})"))
            .unwrap_err()
            .message()
            .to_owned()
    };
    assert!(s3("'delete_if_exists' = 'true'").contains("never deletes a repository's data"));
    assert!(s3("'provider' = 'AZURE'").contains("provider \"AZURE\" is not supported"));
    assert!(s3("'s3.endpiont' = 'http://h'").contains("Unknown property \"s3.endpiont\""));
    assert!(!f.repo_dir.parent().unwrap().join("refused").exists(), "a refused repository creates nothing");
}
