//! Property tests: no input makes the parser panic, and every statement it accepts prints to a canonical form
//! that parses back to the same statement.

use proptest::prelude::*;
use tabsnap::sql;

/// Fragments that make up real statements, so random sequences reach deep into the grammar.
const WORDS: &[&str] = &[
    "BACKUP",
    "RESTORE",
    "SNAPSHOT",
    "GLOBAL",
    "TO",
    "FROM",
    "IN",
    "ON",
    "EXCLUDE",
    "PROPERTIES",
    "PARTITION",
    "PARTITIONS",
    "TEMPORARY",
    "AS",
    "SHOW",
    "BRIEF",
    "CANCEL",
    "CREATE",
    "READ",
    "ONLY",
    "REPOSITORY",
    "REPOSITORIES",
    "DROP",
    "WITH",
    "S3",
    "HDFS",
    "LOCAL",
    "BROKER",
    "LOCATION",
    "WHERE",
    "AND",
    "OR",
    "LIKE",
    "db",
    "t1",
    "`a``b`",
    "`表`",
    "'s'",
    "\"x\\\"y\"",
    "'it''s'",
    "(",
    ")",
    ",",
    ".",
    ";",
    "=",
    "==",
    "--c\n",
    "/* c */",
    "-",
    "1",
    "42",
    "`",
    "'",
    "/*",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics_and_round_trips(words in proptest::collection::vec(0..WORDS.len(), 0..40)) {
        let text: Vec<&str> = words.iter().map(|&i| WORDS[i]).collect();
        let text = text.join(" ");
        if let Ok(stmts) = sql::parse(&text) {
            for stmt in stmts {
                let canonical = stmt.to_string();
                let again = sql::parse_one(&canonical).map_err(|e| TestCaseError::fail(format!("{canonical}\n{e}")))?;
                prop_assert_eq!(&again, &stmt);
                let _ = sql::validate(&stmt);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = sql::parse(&text) {
            prop_assert!(e.line() >= 1 && e.column() >= 1);
            let _ = e.to_string();
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = sql::parse(&text).map_err(|e| e.to_string());
    }

    #[test]
    fn names_and_strings_survive_printing(name in "\\PC{0,20}", value in "\\PC{0,20}") {
        let stmt = sql::Statement::CreateRepository(sql::ast::CreateRepository {
            read_only: false,
            name: name.clone(),
            storage: sql::ast::StorageKind::Broker(name.clone()),
            location: value.clone(),
            properties: sql::ast::Properties(vec![sql::ast::Property { key: name, value }]),
        });
        let again = sql::parse_one(&stmt.to_string()).map_err(|e| TestCaseError::fail(format!("{stmt}\n{e}")))?;
        prop_assert_eq!(again, stmt);
    }
}

#[test]
fn huge_and_deep_inputs_are_fine() {
    let deep = "(".repeat(200_000);
    assert!(sql::parse(&format!("BACKUP SNAPSHOT d.l TO r ON {deep}")).is_err());
    let many: Vec<String> = (0..20_000).map(|i| format!("t{i}")).collect();
    let stmts = sql::parse(&format!("BACKUP SNAPSHOT d.l TO r ON ({})", many.join(", "))).unwrap();
    assert_eq!(stmts.len(), 1);
    let script = "SHOW REPOSITORIES;".repeat(50_000);
    assert_eq!(sql::parse(&script).unwrap().len(), 50_000);
    let comment = format!("/*{}*/ SHOW BACKUP", "/*".repeat(10_000) + &"*/".repeat(10_000));
    assert_eq!(sql::parse(&comment).unwrap().len(), 1);
}
