//! Parser behaviour beyond the corpus: lexical rules, canonical forms, error positions and messages.

use tabsnap::sql::{self, Expected, Statement, ast};

/// Parses `sql`, checks the round trip, and checks the canonical form is `canonical`.
fn parses_to(sql: &str, canonical: &str) -> Statement {
    let stmt = sql::parse_one(sql).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stmt.to_string(), canonical);
    assert_eq!(sql::parse_one(canonical).unwrap(), stmt);
    stmt
}

fn syntax_error(sql: &str) -> sql::ParseError {
    sql::parse(sql).expect_err("must not parse")
}

#[test]
fn keywords_are_case_insensitive_and_usable_as_names() {
    parses_to(
        "backup Snapshot snapshot.backup TO restore on (repository, `on`)",
        "BACKUP SNAPSHOT snapshot.backup TO restore ON (repository, `on`)",
    );
    parses_to("show global restore", "SHOW GLOBAL RESTORE");
    parses_to("SHOW brief RESTORE in db1", "SHOW BRIEF RESTORE FROM db1");
}

#[test]
fn backquoted_names_take_any_unicode_and_doubled_backticks() {
    let stmt = parses_to("DROP REPOSITORY `数据 ``仓库```", "DROP REPOSITORY `数据 ``仓库```");
    let Statement::DropRepository(d) = stmt else { panic!() };
    assert_eq!(d.name, "数据 `仓库`");
}

#[test]
fn strings_take_escapes_and_doubled_quotes() {
    let stmt = parses_to(
        r#"CREATE REPOSITORY r WITH S3 ON LOCATION 's3://b/it''s\tx' PROPERTIES ("a\"b" = 'c''d', k = 40)"#,
        r#"CREATE REPOSITORY r WITH S3 ON LOCATION "s3://b/it's\tx" PROPERTIES ("a\"b" = "c'd", "k" = "40")"#,
    );
    let Statement::CreateRepository(c) = stmt else { panic!() };
    assert_eq!(c.location, "s3://b/it's\tx");
    assert_eq!(c.properties.get("a\"b"), Some("c'd"));
    assert_eq!(c.properties.get("k"), Some("40"));
}

#[test]
fn alternative_spellings_fold_into_one_canonical_form() {
    let canonical = "RESTORE SNAPSHOT db.l FROM r ON (t1 PARTITION (p1), t2 PARTITION (p2, p3) AS t3) \
                     PROPERTIES (\"backup_timestamp\" = \"2024-01-01-10-00-00\")";
    parses_to(
        "RESTORE SNAPSHOT db.l FROM r ON (t1 PARTITION p1, t2 PARTITIONS (p2, p3) t3) \
         PROPERTIES ('backup_timestamp' == '2024-01-01-10-00-00')",
        canonical,
    );
    parses_to(
        "RESTORE SNAPSHOT db.l FROM r ON (t1 PARTITION (p1), t2 PARTITION (p2,p3) AS t3) \
         PROPERTIES (\"backup_timestamp\"=\"2024-01-01-10-00-00\");",
        canonical,
    );
}

#[test]
fn comments_and_several_statements() {
    let stmts = sql::parse("-- first\nSHOW REPOSITORIES; /* two */ ;; SHOW BACKUP FROM db -- trailing\n;").unwrap();
    assert_eq!(
        stmts,
        vec![
            Statement::ShowRepositories,
            Statement::ShowBackup(ast::ShowBackup { database: Some("db".into()), filter: None }),
        ]
    );
    let spanned = sql::parse_spanned("SHOW REPOSITORIES;\n  DROP REPOSITORY r").unwrap();
    assert_eq!((spanned[1].1.start, spanned[1].1.end), (21, 38));
}

#[test]
fn where_filters_keep_and_or_structure() {
    parses_to(
        "SHOW SNAPSHOT ON r WHERE SNAPSHOT = 'a' AND TIMESTAMP == 'b' OR snapshot LIKE 'c%'",
        "SHOW SNAPSHOT ON r WHERE SNAPSHOT = \"a\" AND TIMESTAMP = \"b\" OR snapshot LIKE \"c%\"",
    );
    parses_to("SHOW BACKUP LIKE 'x%'", "SHOW BACKUP LIKE \"x%\"");
    parses_to("CANCEL RESTORE IN db WHERE LABEL = 'x'", "CANCEL RESTORE FROM db WHERE LABEL = \"x\"");
    parses_to("DROP SNAPSHOT l FROM r WHERE TIMESTAMP = 't'", "DROP SNAPSHOT l FROM r WHERE TIMESTAMP = \"t\"");
}

#[test]
fn errors_point_at_the_token_and_list_what_fits() {
    let e = syntax_error("BACKUP SNAPSHOT db.l TO repo ON (t1 PARTITON (p1))");
    assert_eq!((e.line(), e.column(), e.found()), (1, 37, "`PARTITON`"));
    assert_eq!(
        e.expected(),
        &[
            Expected::Keyword("AS"),
            Expected::Keyword("PARTITION"),
            Expected::Keyword("PARTITIONS"),
            Expected::Keyword("TEMPORARY"),
            Expected::Literal(")"),
            Expected::Literal(","),
            Expected::Literal("."),
        ]
    );
    assert_eq!(e.context(), Some("BACKUP SNAPSHOT"));
    assert!(
        e.to_string().ends_with(
            "1 | BACKUP SNAPSHOT db.l TO repo ON (t1 PARTITON (p1))\n  |                                     ^^^^^^^^"
        ),
        "{e}"
    );

    let e = syntax_error("BACKUP SNAPSHOT db.l TO repo ON (t1) EXCLUDE (t2)");
    assert_eq!(e.column(), 38);
    assert_eq!(e.expected(), &[Expected::Keyword("PROPERTIES"), Expected::Literal(";"), Expected::EndOfInput]);

    let e = syntax_error("SHOW REPOSITORIES;\nDROP REPOSITORY IF EXISTS r");
    assert_eq!((e.line(), e.column()), (2, 17));
    assert_eq!(e.expected(), &[Expected::Identifier]);

    let e = syntax_error("BACKUP SNAPSHOT db.l TO \"repo\"");
    assert_eq!(e.found(), "string literal \"repo\"");
    assert!(e.message().contains("expected an identifier"), "{}", e.message());

    let e = syntax_error("RESTORE SNAPSHOT db.l FROM r ON (t PARTITION ())");
    assert_eq!((e.column(), e.expected()), (47, &[Expected::Identifier][..]));

    let e = syntax_error("CREATE REPOSITORY r WITH S3 ON LOCATION 'x' PROPERTIES ('a' = 'b',)");
    assert_eq!(e.found(), "`)`");
    assert_eq!(e.expected(), &[Expected::String]);
}

#[test]
fn empty_and_unterminated_input() {
    let e = syntax_error("  -- nothing\n");
    assert_eq!(e.found(), "end of input");
    assert_eq!(e.expected(), &[Expected::Statement]);
    let e = syntax_error("SHOW BACKUP WHERE SnapshotName = 'abc");
    assert!(e.message().contains("unterminated string literal"), "{}", e.message());
    assert_eq!(e.column(), 34);
    let e = syntax_error("BACKUP SNAPSHOT");
    assert_eq!((e.found(), e.expected()), ("end of input", &[Expected::Identifier][..]));
}

#[test]
fn hint_for_unquoted_dashes() {
    let e = syntax_error("BACKUP SNAPSHOT test_db.snapshot-1 TO repo_1");
    assert!(e.message().contains("possibly unquoted identifier snapshot-1"), "{}", e.message());
}

#[test]
fn parse_one_refuses_two_statements() {
    let e = sql::parse_one("SHOW BACKUP; SHOW RESTORE").unwrap_err();
    assert_eq!(e.column(), 14);
}

#[test]
fn analysis_messages_are_doris_messages() {
    let check = |sql: &str, msg: &str| {
        let stmt = sql::parse_one(sql).unwrap();
        assert_eq!(sql::validate(&stmt).unwrap_err().message(), msg, "{sql}");
    };
    check("BACKUP SNAPSHOT d.l TO r PROPERTIES ('timeout' = '599')", "timeout must be at least 10 min");
    check("BACKUP SNAPSHOT d.l TO r PROPERTIES ('timeout' = 'x')", "Invalid timeout format: x");
    check("BACKUP SNAPSHOT d.l TO r PROPERTIES ('a' = '1', 'b' = '2')", "Unknown backup job properties: [a, b]");
    check(
        "BACKUP SNAPSHOT d.l TO r PROPERTIES ('backup_privilege' = 'true')",
        "Unknown backup job properties: [backup_privilege]",
    );
    check("BACKUP SNAPSHOT d.l TO r ON (t TEMPORARY PARTITION (p))", "Do not support backup temp partitions");
    check(
        "RESTORE SNAPSHOT d.l FROM r EXCLUDE (t AS a) PROPERTIES ('backup_timestamp' = 't')",
        "The table alias in exclude clause does not make sense",
    );
    check(
        "RESTORE SNAPSHOT d.l FROM r PROPERTIES ('backup_timestamp' = 't', 'storage_medium' = 'nvme')",
        "Invalid storage_medium value: nvme. Must be 'hdd', 'ssd' or 'same_with_upstream'",
    );
    check(
        "CREATE REPOSITORY r WITH LOCAL ON LOCATION 's3://x'",
        "Invalid export path. please use valid 'file://' path.",
    );
    check(
        "SHOW BACKUP WHERE State = 'x'",
        "Where clause should like: SnapshotName = \"your_snapshot_name\",  or SnapshotName LIKE \"matcher\"",
    );
    check(
        "DROP SNAPSHOT l FROM r WHERE SNAPSHOT = 'x'",
        "Where clause should looks like: TIMESTAMP = '2018-04-18-19-19-10'",
    );
    let ok = |sql: &str| sql::validate(&sql::parse_one(sql).unwrap()).unwrap();
    ok("CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file:///tmp/r'");
    ok("BACKUP SNAPSHOT d.l TO r PROPERTIES ('timeout' = '600', 'type' = 'INCREMENTAL', 'content' = 'metadata_only')");
    ok("BACKUP GLOBAL SNAPSHOT l TO r PROPERTIES ('backup_privilege' = 'true')");
    ok("SHOW SNAPSHOT ON r WHERE snapshot = 'x' AND timestamp = 't'");
}

#[test]
fn timeouts_and_filters_read_back() {
    let stmt = sql::parse_one("BACKUP SNAPSHOT d.l TO r PROPERTIES ('timeout' = '3600')").unwrap();
    let Statement::Backup(b) = stmt else { panic!() };
    assert_eq!(sql::timeout_secs(&b.properties).unwrap(), 3600);
    assert_eq!(sql::timeout_secs(&Default::default()).unwrap(), sql::DEFAULT_TIMEOUT_SECS);
    let Statement::ShowSnapshot(s) =
        sql::parse_one("SHOW SNAPSHOT ON r WHERE SNAPSHOT = 'a' AND TIMESTAMP = 'b'").unwrap()
    else {
        panic!()
    };
    let f = sql::snapshot_filter(&s.filter).unwrap();
    assert_eq!((f.snapshot.as_deref(), f.timestamp.as_deref()), (Some("a"), Some("b")));
    let Statement::ShowBackup(s) = sql::parse_one("SHOW BACKUP WHERE SnapshotName LIKE 'snap%'").unwrap() else {
        panic!()
    };
    let f = sql::read_name_filter(&s.filter, "SnapshotName").unwrap().unwrap();
    assert!(f.matches("snapshot_1") && !f.matches("other"));
}

#[test]
fn json_form_names_every_part() {
    let stmt = sql::parse_one("RESTORE SNAPSHOT d.l FROM r ON (t AS a) PROPERTIES ('backup_timestamp' = 'x')").unwrap();
    let v: serde_json::Value = serde_json::to_value(&stmt).unwrap();
    assert_eq!(v["statement"], "restore");
    assert_eq!(v["label"]["database"], "d");
    assert_eq!(v["tables"]["kind"], "on");
    assert_eq!(v["tables"]["tables"][0]["alias"], "a");
    assert_eq!(v["properties"][0]["key"], "backup_timestamp");
}

#[test]
fn alter_repository_parses_prints_and_reports_positions() {
    let stmt = parses_to(
        "alter repository `repo-1` properties ('encryption.password' = 'new', \"s3.secret_key\" = 'sk')",
        r#"ALTER REPOSITORY `repo-1` PROPERTIES ("encryption.password" = "new", "s3.secret_key" = "sk")"#,
    );
    let Statement::AlterRepository(a) = stmt else { panic!() };
    assert_eq!((a.name.as_str(), a.properties.get("s3.secret_key")), ("repo-1", Some("sk")));
    // Doris's grammar makes PROPERTIES optional; the analysis asks for it.
    let bare = parses_to("ALTER REPOSITORY r", "ALTER REPOSITORY r");
    assert!(sql::validate(&bare).unwrap_err().message().contains("needs PROPERTIES"));
    let e = syntax_error("ALTER REPOSITORY r\n  PROPERTIES ('a' = )");
    assert_eq!((e.line(), e.column(), e.context()), (2, 21, Some("ALTER REPOSITORY")));
    let e = syntax_error("ALTER TABLE t");
    assert_eq!((e.line(), e.column(), e.expected()), (1, 7, &[Expected::Keyword("REPOSITORY")][..]));
}
