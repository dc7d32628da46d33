//! Statement-local analysis: what Doris's analyzer checks without a catalog, with Doris's own messages.
//!
//! Checks that need the catalog, the repositories or the running jobs (a table exists, a label is new, …)
//! belong to the engine.

use std::fmt;

use super::ast::{
    Backup, CompareOp, CreateRepository, Filter, LabelName, Predicate, Properties, Restore, Statement, StorageKind,
    TableList, TableListKind,
};

/// A statement that parses but that the analysis rejects; the message is Doris's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisError {
    message: String,
}

impl AnalysisError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        AnalysisError { message: message.into() }
    }

    /// The message, worded as Doris words it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AnalysisError {}

type Result<T> = std::result::Result<T, AnalysisError>;

/// The label pattern of `FeNameFormat.checkLabel` (`label_regex_length` = 128).
pub const LABEL_REGEX: &str = "^[-_A-Za-z0-9:]{1,128}$";

/// The repository used internally by Doris's cross-cluster syncer; RESTORE from it by SQL is refused.
pub const KEEP_ON_LOCAL_REPOSITORY: &str = "__keep_on_local__";

/// Default job timeout when a statement gives none: one day.
pub const DEFAULT_TIMEOUT_SECS: u64 = 86_400;

const MIN_TIMEOUT_SECS: u64 = 600;

const RESTORE_BOOLEANS: &[&str] = &[
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
];

const GLOBAL_RESTORE_BOOLEANS: &[&str] = &["reserve_privilege", "reserve_catalog", "reserve_workload_group"];
const GLOBAL_BACKUP_BOOLEANS: &[&str] = &["backup_privilege", "backup_catalog", "backup_workload_group"];
const RESTORE_OTHERS: &[&str] = &[
    "backup_timestamp",
    "timeout",
    "replication_num",
    "replication_allocation",
    "meta_version",
    "storage_medium",
    "medium_allocation_mode",
    "storage_vault_name",
    "storage_resource",
    "colocate_with",
];

/// Checks `stmt` as Doris's analyzer does before it looks at the catalog.
///
/// # Errors
/// The first problem found, with Doris's message (e.g. "timeout must be at least 10 min").
pub fn validate(stmt: &Statement) -> Result<()> {
    match stmt {
        Statement::CreateRepository(s) => create_repository(s),
        Statement::Backup(s) => backup(s),
        Statement::Restore(s) => restore(s),
        Statement::ShowBackup(s) => read_name_filter(&s.filter, "SnapshotName").map(|_| ()),
        Statement::ShowRestore(s) => read_name_filter(&s.filter, "Label").map(|_| ()),
        Statement::CancelBackup(s) | Statement::CancelRestore(s) => read_name_filter(&s.filter, "Label").map(|_| ()),
        Statement::ShowSnapshot(s) => snapshot_filter(&s.filter).map(|_| ()),
        Statement::DropSnapshot(s) => {
            check_label(&s.label.label)?;
            drop_snapshot_filter(&s.filter).map(|_| ())
        }
        Statement::DropRepository(_) | Statement::ShowRepositories => Ok(()),
        Statement::AlterRepository(s) if s.properties.is_empty() => {
            Err(AnalysisError::new(format!("ALTER REPOSITORY {} needs PROPERTIES: the values to change", s.name)))
        }
        Statement::AlterRepository(_) => Ok(()),
    }
}

/// The database a label refers to: its own, or the session's current one.
///
/// # Errors
/// "No database selected" when neither is set.
pub fn resolve_database<'a>(label: &'a LabelName, current: Option<&'a str>) -> Result<&'a str> {
    label.database.as_deref().or(current).ok_or_else(|| AnalysisError::new("No database selected"))
}

/// The job timeout in seconds given by a BACKUP / RESTORE's properties (the default is one day).
///
/// # Errors
/// "Invalid timeout format: …" and "timeout must be at least 10 min", as Doris.
pub fn timeout_secs(properties: &Properties) -> Result<u64> {
    match properties.get("timeout") {
        None => Ok(DEFAULT_TIMEOUT_SECS),
        Some(v) => {
            let secs: u64 = v.trim().parse().map_err(|_| AnalysisError::new(format!("Invalid timeout format: {v}")))?;
            if secs < MIN_TIMEOUT_SECS {
                return Err(AnalysisError::new("timeout must be at least 10 min"));
            }
            Ok(secs)
        }
    }
}

/// What a SHOW SNAPSHOT (or DROP SNAPSHOT) filter selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotFilter {
    /// `SNAPSHOT = '…'`.
    pub snapshot: Option<String>,
    /// `TIMESTAMP = '…'`.
    pub timestamp: Option<String>,
    /// `SNAPSHOTTYPE = 'remote' | 'local'`.
    pub snapshot_type: Option<String>,
}

/// Reads a SHOW SNAPSHOT filter: an AND of `=` on SNAPSHOT, TIMESTAMP and SNAPSHOTTYPE; TIMESTAMP needs SNAPSHOT.
///
/// # Errors
/// Doris's "Where clause should looks like: …" for anything else.
pub fn snapshot_filter(filter: &Option<Filter>) -> Result<SnapshotFilter> {
    const MSG: &str = "Where clause should looks like: SNAPSHOT = 'your_snapshot_name' [AND TIMESTAMP = \
                       '2018-04-18-19-19-10'] [AND SNAPSHOTTYPE = 'remote' | 'local']";
    let mut out = SnapshotFilter::default();
    let Some(filter) = filter else { return Ok(out) };
    let Filter::Where(any) = filter else {
        return Err(AnalysisError::new(MSG));
    };
    let [all] = any.as_slice() else {
        return Err(AnalysisError::new(MSG));
    };
    for p in all {
        let slot = match p.column.to_ascii_uppercase().as_str() {
            "SNAPSHOT" => &mut out.snapshot,
            "TIMESTAMP" => &mut out.timestamp,
            "SNAPSHOTTYPE" => &mut out.snapshot_type,
            _ => return Err(AnalysisError::new(MSG)),
        };
        if p.op != CompareOp::Eq || slot.is_some() || p.value.is_empty() {
            return Err(AnalysisError::new(MSG));
        }
        *slot = Some(p.value.clone());
    }
    if out.snapshot.is_none() {
        return Err(AnalysisError::new(MSG));
    }
    if let Some(t) = &out.snapshot_type
        && !t.eq_ignore_ascii_case("remote")
        && !t.eq_ignore_ascii_case("local")
    {
        return Err(AnalysisError::new(MSG));
    }
    Ok(out)
}

/// Reads a DROP SNAPSHOT filter: nothing, or `WHERE TIMESTAMP = '…'`.
///
/// # Errors
/// "Where clause should looks like: TIMESTAMP = '…'" for anything else.
pub fn drop_snapshot_filter(filter: &Option<Filter>) -> Result<Option<String>> {
    const MSG: &str = "Where clause should looks like: TIMESTAMP = '2018-04-18-19-19-10'";
    match filter {
        None => Ok(None),
        Some(Filter::Where(any)) => match any.as_slice() {
            [all] => match all.as_slice() {
                [Predicate { column, op: CompareOp::Eq, value }] if column.eq_ignore_ascii_case("TIMESTAMP") => {
                    Ok(Some(value.clone()))
                }
                _ => Err(AnalysisError::new(MSG)),
            },
            _ => Err(AnalysisError::new(MSG)),
        },
        Some(Filter::Like(_)) => Err(AnalysisError::new(MSG)),
    }
}

/// A name filter of SHOW BACKUP / SHOW RESTORE / CANCEL: the name column compared with `=` or `LIKE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameFilter {
    /// `= 'name'`.
    Equals(String),
    /// `LIKE 'pattern'` (`%` any run, `_` any one character, `\` escapes).
    Like(String),
}

impl NameFilter {
    /// Whether `name` passes the filter. Doris compares labels case-sensitively for `=` and case-insensitively
    /// for LIKE.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NameFilter::Equals(v) => v == name,
            NameFilter::Like(p) => like(p, name),
        }
    }
}

/// Reads the name filter of SHOW BACKUP (`SnapshotName`), SHOW RESTORE and CANCEL (`Label`).
///
/// # Errors
/// Doris's "Where clause should like: …" for anything else.
pub fn read_name_filter(filter: &Option<Filter>, column: &str) -> Result<Option<NameFilter>> {
    let hint = if column == "SnapshotName" { "your_snapshot_name" } else { "your_label_name" };
    let msg = || {
        AnalysisError::new(format!("Where clause should like: {column} = \"{hint}\",  or {column} LIKE \"matcher\""))
    };
    match filter {
        None => Ok(None),
        Some(Filter::Like(p)) => Ok(Some(NameFilter::Like(p.clone()))),
        Some(Filter::Where(any)) => match any.as_slice() {
            [all] => match all.as_slice() {
                [p] if p.column.eq_ignore_ascii_case(column) && !p.value.is_empty() => Ok(Some(match p.op {
                    CompareOp::Eq => NameFilter::Equals(p.value.clone()),
                    CompareOp::Like => NameFilter::Like(p.value.clone()),
                })),
                _ => Err(msg()),
            },
            _ => Err(msg()),
        },
    }
}

/// SQL LIKE: `%` matches any run, `_` any one character, `\` escapes the next; case-insensitive as Doris's
/// label matcher.
pub fn like(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    // Iterative matcher with one backtrack point (the last `%`): linear memory, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let (tok, next) = match p.get(pi) {
            Some('\\') if pi + 1 < p.len() => (Some(p[pi + 1]), pi + 2),
            Some('%') => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            Some('_') => (None, pi + 1),
            Some(c) => (Some(*c), pi + 1),
            None => (Some('\u{0}'), usize::MAX),
        };
        if next != usize::MAX && tok.is_none_or(|c| c == t[ti]) {
            pi = next;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

fn check_label(label: &str) -> Result<()> {
    let ok = (1..=128).contains(&label.len())
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':');
    if ok {
        Ok(())
    } else {
        Err(AnalysisError::new(format!("Label format error. regex: {LABEL_REGEX}, label: {label}")))
    }
}

fn create_repository(s: &CreateRepository) -> Result<()> {
    let name_ok = s.name.len() <= 64
        && s.name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !name_ok {
        return Err(AnalysisError::new(format!("Incorrect repository name '{}'", s.name)));
    }
    let location = s.location.trim();
    if location.is_empty() {
        return Err(AnalysisError::new("You must specify a location on the repository"));
    }
    // An HDFS location may be a bare path under the `fs.defaultFS` property (Doris's own docs do this).
    if s.storage == StorageKind::Hdfs && !location.contains("://") && s.properties.get("fs.defaultFS").is_some() {
        return Ok(());
    }
    let Some((scheme, _)) = location.split_once("://") else {
        return Err(AnalysisError::new(
            "Invalid export path, there is no schema of URI found. please check your path.",
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    let (allowed, shown): (&[&str], &str) = match &s.storage {
        StorageKind::S3 => (&["s3"], "'s3://'"),
        StorageKind::Hdfs => (&["hdfs", "viewfs"], "'hdfs://' or 'viewfs://'"),
        StorageKind::Local => (&["file"], "'file://'"),
        StorageKind::Broker(_) => (
            &["bos", "afs", "hdfs", "viewfs", "ofs", "obs", "oss", "s3a", "cosn", "gfs", "jfs", "gs"],
            "a broker-supported",
        ),
    };
    if !allowed.contains(&scheme.as_str()) {
        return Err(AnalysisError::new(format!("Invalid export path. please use valid {shown} path.")));
    }
    Ok(())
}

/// The checks BACKUP and RESTORE share: the label, and the ON / EXCLUDE list.
fn common(label: &LabelName, tables: &Option<TableList>, is_backup: bool) -> Result<()> {
    check_label(&label.label)?;
    let Some(list) = tables else { return Ok(()) };
    let mut seen_tables: Vec<&str> = Vec::new();
    let mut seen_aliases: Vec<&str> = Vec::new();
    for t in &list.tables {
        if t.database.is_some() {
            return Err(AnalysisError::new(format!(
                "Cannot specify database name on backup objects: {}. Specify database name before label",
                t.table
            )));
        }
        if let Some(alias) = &t.alias {
            if is_backup {
                return Err(AnalysisError::new(format!("Can not set alias for table in Backup Command: {t}")));
            }
            if list.kind == TableListKind::Exclude {
                return Err(AnalysisError::new("The table alias in exclude clause does not make sense"));
            }
            if seen_aliases.contains(&alias.as_str()) {
                return Err(AnalysisError::new(format!("Duplicated alias name: {alias}")));
            }
            seen_aliases.push(alias);
        }
        if seen_tables.contains(&t.table.as_str()) {
            return Err(AnalysisError::new(format!("Duplicated table: {}", t.table)));
        }
        seen_tables.push(&t.table);
        if t.partitions.as_ref().is_some_and(|p| p.temporary) {
            return Err(AnalysisError::new(if is_backup {
                "Do not support backup temp partitions"
            } else {
                "Do not support restoring temporary partitions"
            }));
        }
    }
    Ok(())
}

fn check_bool(properties: &Properties, key: &str) -> Result<()> {
    match properties.get(key) {
        Some(v) if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") => {
            Err(AnalysisError::new(format!("Invalid boolean property {key} value: {v}")))
        }
        _ => Ok(()),
    }
}

fn unknown(properties: &Properties, known: &[&[&str]], what: &str) -> Result<()> {
    let unknown: Vec<&str> =
        properties.iter().map(|(k, _)| k).filter(|k| !known.iter().any(|set| set.contains(k))).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(AnalysisError::new(format!("Unknown {what} job properties: [{}]", unknown.join(", "))))
    }
}

fn backup(s: &Backup) -> Result<()> {
    common(&s.label, &s.tables, true)?;
    let p = &s.properties;
    timeout_secs(p)?;
    if let Some(v) = p.get("type")
        && !v.eq_ignore_ascii_case("full")
        && !v.eq_ignore_ascii_case("incremental")
    {
        return Err(AnalysisError::new(format!("Invalid backup job type: {v}")));
    }
    if let Some(v) = p.get("content")
        && !v.eq_ignore_ascii_case("all")
        && !v.eq_ignore_ascii_case("metadata_only")
    {
        return Err(AnalysisError::new(format!("Invalid backup job content:{v}")));
    }
    // tabsnap's own: how this backup compresses (docs/PROPERTIES.md).
    if let Some(v) = p.get("compression") {
        v.parse::<crate::pack::CompressionMode>().map_err(|e| AnalysisError::new(e.message()))?;
    }
    let global: &[&str] = if s.global { GLOBAL_BACKUP_BOOLEANS } else { &[] };
    for key in global {
        check_bool(p, key)?;
    }
    unknown(p, &[&["timeout", "type", "content", "compression"], global], "backup")
}

fn restore(s: &Restore) -> Result<()> {
    common(&s.label, &s.tables, false)?;
    if s.repository == KEEP_ON_LOCAL_REPOSITORY {
        return Err(AnalysisError::new("restore from the local repo via SQL call is not supported"));
    }
    let p = &s.properties;
    timeout_secs(p)?;
    let global: &[&str] = if s.global { GLOBAL_RESTORE_BOOLEANS } else { &[] };
    for key in RESTORE_BOOLEANS.iter().chain(global) {
        check_bool(p, key)?;
    }
    if let Some(v) = p.get("replication_num")
        && !v.trim().parse::<u16>().is_ok_and(|n| n > 0)
    {
        return Err(AnalysisError::new(format!("Invalid replication_num value: {v}")));
    }
    if let Some(v) = p.get("replication_allocation") {
        crate::host::ReplicaAllocation::parse(v).map_err(AnalysisError::new)?;
    }
    if let Some(v) = p.get("meta_version")
        && v.trim().parse::<i32>().is_err()
    {
        return Err(AnalysisError::new(format!("Invalid meta version format: {v}")));
    }
    if let Some(v) = p.get("storage_medium")
        && !["hdd", "ssd", "same_with_upstream"].iter().any(|m| m.eq_ignore_ascii_case(v))
    {
        return Err(AnalysisError::new(format!(
            "Invalid storage_medium value: {v}. Must be 'hdd', 'ssd' or 'same_with_upstream'"
        )));
    }
    if let Some(v) = p.get("medium_allocation_mode")
        && !["strict", "adaptive"].iter().any(|m| m.eq_ignore_ascii_case(v))
    {
        return Err(AnalysisError::new(format!(
            "Invalid medium_allocation_mode value: {v}. Must be 'strict' or 'adaptive'"
        )));
    }
    if p.get("backup_timestamp").is_none() {
        return Err(AnalysisError::new("Missing backup_timestamp property"));
    }
    unknown(p, &[RESTORE_BOOLEANS, RESTORE_OTHERS, global], "restore")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_sql_wildcards() {
        assert!(like("snap%", "snapshot_1"));
        assert!(like("%_1", "snapshot_1"));
        assert!(like("s_ap", "SNAP"));
        assert!(like("%", ""));
        assert!(!like("snap_", "snap"));
        assert!(like("a\\%b", "a%b"));
        assert!(!like("a\\%b", "axb"));
        assert!(like("%a%b%c%", "xxaxxbxxcxx"));
        assert!(!like("%a%b%c%", "xxaxxcxxbxx"));
    }

    #[test]
    fn labels_follow_doris_regex() {
        assert!(check_label("snap-1:x_2").is_ok());
        assert!(check_label("").is_err());
        assert!(check_label(&"a".repeat(128)).is_ok());
        assert!(check_label(&"a".repeat(129)).is_err());
        assert_eq!(
            check_label("snapshot 1").unwrap_err().message(),
            "Label format error. regex: ^[-_A-Za-z0-9:]{1,128}$, label: snapshot 1"
        );
    }
}
