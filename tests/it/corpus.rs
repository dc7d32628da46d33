//! The statement corpus (tests/corpus): 529 statements Doris accepts and 81 it rejects, each with the reason.

use tabsnap::sql::{self, Statement};

/// One corpus entry: its `-- src:` line, its `-- expect:` line if any, and the statement text.
pub(crate) struct Entry {
    pub(crate) src: String,
    pub(crate) expect: Option<String>,
    pub(crate) sql: String,
}

fn entries(text: &str) -> Vec<Entry> {
    text.split("\n-- next\n")
        .map(|chunk| {
            let mut src = String::new();
            let mut expect = None;
            let mut body = Vec::new();
            for line in chunk.lines() {
                if body.is_empty() {
                    if let Some(s) = line.strip_prefix("-- src: ") {
                        src = s.to_owned();
                        continue;
                    }
                    if let Some(e) = line.strip_prefix("-- expect: ") {
                        expect = Some(e.to_owned());
                        continue;
                    }
                }
                body.push(line);
            }
            Entry { src, expect, sql: body.join("\n") }
        })
        .filter(|e| !e.sql.trim().is_empty())
        .collect()
}

pub(crate) fn valid() -> Vec<Entry> {
    entries(include_str!("../corpus/doris-statements.sql"))
}

pub(crate) fn invalid() -> Vec<Entry> {
    entries(include_str!("../corpus/doris-statements-invalid.sql"))
}

fn verified_stmt(sql: &str) -> Statement {
    let stmt = sql::parse_one(sql).unwrap_or_else(|e| panic!("does not parse:\n{sql}\n{e}"));
    let canonical = stmt.to_string();
    let again =
        sql::parse_one(&canonical).unwrap_or_else(|e| panic!("canonical form does not parse:\n{canonical}\n{e}"));
    assert_eq!(stmt, again, "canonical form changes the statement:\n{sql}\n{canonical}");
    assert_eq!(again.to_string(), canonical, "printing is not stable");
    stmt
}

#[test]
fn corpus_sizes() {
    assert_eq!(valid().len(), 529);
    assert_eq!(invalid().len(), 81);
}

#[test]
fn every_valid_statement_parses_round_trips_and_passes_analysis() {
    let mut failures = Vec::new();
    for e in valid() {
        let stmt = verified_stmt(&e.sql);
        if let Err(err) = sql::validate(&stmt) {
            failures.push(format!("{}\n{}\n=> {err}", e.src, e.sql));
        }
    }
    assert!(failures.is_empty(), "{} valid statements fail analysis:\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn the_whole_valid_corpus_parses_as_one_script() {
    let script: Vec<String> = valid().into_iter().map(|e| e.sql).collect();
    let stmts = sql::parse(&script.join("\n")).unwrap();
    assert_eq!(stmts.len(), 529);
}

/// The Doris message an `expect: analyze` entry names: the quoted text of its reason, or, for reasons written
/// in words, the message tabsnap gives for them. `None` when the check needs a catalog.
fn expected_message(reason: &str) -> Option<String> {
    const BY_WORDS: &[(&str, Option<&str>)] = &[
        ("storage_resource names a resource that does not exist", None),
        (
            "HDFS repository location must use",
            Some("Invalid export path. please use valid 'hdfs://' or 'viewfs://' path."),
        ),
        ("repository name must start with a letter", Some("Incorrect repository name '1repo'")),
        ("invalid meta_version", Some("Invalid meta version format: v40")),
        (
            "SHOW RESTORE filters only on Label",
            Some("Where clause should like: Label = \"your_label_name\",  or Label LIKE \"matcher\""),
        ),
        ("only AND of equality predicates", Some("Where clause should looks like: SNAPSHOT = 'your_snapshot_name'")),
        // tabsnap implements LOCAL repositories (file:// locations); this one has no scheme at all.
        (
            "\"LOCAL is not support now.\"",
            Some("Invalid export path, there is no schema of URI found. please check your path."),
        ),
    ];
    for (words, message) in BY_WORDS {
        if reason.starts_with(words) {
            return message.map(str::to_owned);
        }
    }
    let quoted = reason.strip_prefix('"').unwrap_or_else(|| panic!("no message known for: {reason}"));
    let quoted = quoted.split("\" (").next().unwrap_or(quoted);
    let quoted = quoted.strip_suffix('"').unwrap_or(quoted);
    Some(quoted.trim_end_matches("...").trim_end().to_owned())
}

#[test]
fn every_invalid_statement_fails_as_doris_fails() {
    let mut checked = [0usize; 3];
    for e in invalid() {
        let expect = e.expect.as_deref().unwrap_or_else(|| panic!("no expect line: {}", e.sql));
        let (kind, reason) = expect.split_once(": ").unwrap_or((expect, ""));
        match kind {
            "parse" => {
                let err = sql::parse(&e.sql).expect_err(&format!("parses but should not ({reason}):\n{}", e.sql));
                assert!(err.line() >= 1 && err.column() >= 1);
                assert!(err.message().starts_with(&format!("line {}, column {}: ", err.line(), err.column())));
                assert!(!err.expected().is_empty(), "no expected set: {err}");
                checked[0] += 1;
            }
            "analyze" => {
                let stmt = verified_stmt(&e.sql);
                let result = if reason.starts_with("\"No database selected\"") {
                    let Statement::Backup(b) = &stmt else { panic!("not a BACKUP: {}", e.sql) };
                    sql::resolve_database(&b.label, None).map(|_| ())
                } else {
                    sql::validate(&stmt)
                };
                match expected_message(reason) {
                    Some(msg) => {
                        let err = result.expect_err(&format!("passes analysis but should not ({reason}):\n{}", e.sql));
                        assert!(
                            err.message().starts_with(&msg),
                            "wrong message for\n{}\n  got: {err}\n want: {msg}",
                            e.sql
                        );
                        checked[1] += 1;
                    }
                    None => assert!(result.is_ok(), "needs a catalog, so analysis alone must pass: {}", e.sql),
                }
            }
            kind if kind.starts_with("exec") => {
                // The grammar accepts these; whatever statement-local analysis refuses must use Doris's words.
                let stmt = verified_stmt(&e.sql);
                if let Err(err) = sql::validate(&stmt) {
                    let quoted = reason.split('"').nth(1).unwrap_or_default();
                    assert!(!quoted.is_empty() && err.message() == quoted, "{}\n  got: {err}\n want: {reason}", e.sql);
                }
                checked[2] += 1;
            }
            other => panic!("unknown expect kind {other}"),
        }
    }
    assert_eq!(checked.iter().sum::<usize>() + 3, 81, "every entry is checked (3 need a catalog): {checked:?}");
}
