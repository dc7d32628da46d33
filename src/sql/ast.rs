//! The statements of the BACKUP / RESTORE family. Their canonical SQL form (`Display`) is in `print.rs`.
//!
//! Every type prints (`Display`) to one canonical SQL text that parses back to an equal value: keywords in upper
//! case, names bare when they can be and backquoted otherwise, strings double-quoted, single spaces, and the
//! alternative spellings Doris accepts (`PARTITIONS (…)`, `PARTITION p`, `IN db`, `==`, optional `AS`) folded
//! into one form.

use serde::Serialize;

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "statement", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Statement {
    /// `CREATE [READ ONLY] REPOSITORY name WITH … ON LOCATION '…' [PROPERTIES (…)]`
    CreateRepository(CreateRepository),
    /// `DROP REPOSITORY name`
    DropRepository(DropRepository),
    /// `ALTER REPOSITORY name [PROPERTIES (…)]`
    AlterRepository(AlterRepository),
    /// `SHOW REPOSITORIES`
    ShowRepositories,
    /// `BACKUP [GLOBAL] SNAPSHOT [db.]label TO repo [ON|EXCLUDE (…)] [PROPERTIES (…)]`
    Backup(Backup),
    /// `RESTORE [GLOBAL] SNAPSHOT [db.]label FROM repo [ON|EXCLUDE (…)] [PROPERTIES (…)]`
    Restore(Restore),
    /// `SHOW BACKUP [FROM db] [WHERE …]`
    ShowBackup(ShowBackup),
    /// `SHOW [BRIEF|GLOBAL] RESTORE [FROM db] [WHERE …]`
    ShowRestore(ShowRestore),
    /// `SHOW SNAPSHOT ON repo [WHERE …]`
    ShowSnapshot(ShowSnapshot),
    /// `CANCEL BACKUP [FROM db] [WHERE …]`
    CancelBackup(Cancel),
    /// `CANCEL [GLOBAL] RESTORE [FROM db] [WHERE …]`
    CancelRestore(Cancel),
    /// `DROP SNAPSHOT label FROM repo [WHERE TIMESTAMP = '…']`
    DropSnapshot(DropSnapshot),
}

/// The kind of storage behind a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "broker", rename_all = "snake_case")]
pub enum StorageKind {
    /// S3-compatible object storage (`s3://bucket/prefix`).
    S3,
    /// HDFS (`hdfs://…`, `viewfs://…`).
    Hdfs,
    /// A Doris broker, named.
    Broker(String),
    /// The local filesystem (`file:///path`).
    Local,
}

/// `PROPERTIES ("k" = "v", …)`, in the order written.
///
/// Keys are case-sensitive, as Doris looks them up. A key written twice keeps every occurrence for printing;
/// [`Properties::get`] returns the last one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Properties(pub Vec<Property>);

/// One `key = value` item of a PROPERTIES clause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Property {
    /// The key, unquoted.
    pub key: String,
    /// The value, unquoted.
    pub value: String,
}

impl Properties {
    /// The value of `key` (the last one if it was written twice).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|p| p.key == key).map(|p| p.value.as_str())
    }

    /// Whether no property was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The properties in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|p| (p.key.as_str(), p.value.as_str()))
    }
}

/// `CREATE [READ ONLY] REPOSITORY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateRepository {
    /// `READ ONLY`: BACKUP into it is refused.
    pub read_only: bool,
    /// The repository's name.
    pub name: String,
    /// What stores it.
    pub storage: StorageKind,
    /// The `ON LOCATION` URI.
    pub location: String,
    /// Storage properties (endpoint, credentials, …).
    pub properties: Properties,
}

/// `ALTER REPOSITORY name [PROPERTIES (…)]`: new credentials or a new password for a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlterRepository {
    /// The repository's name.
    pub name: String,
    /// What changes.
    pub properties: Properties,
}

/// `DROP REPOSITORY name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropRepository {
    /// The repository's name.
    pub name: String,
}

/// `[db.]label`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelName {
    /// The database, when written; otherwise the session's current database.
    pub database: Option<String>,
    /// The snapshot label.
    pub label: String,
}

/// Whether a table list names the tables to take or the tables to leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableListKind {
    /// `ON (…)`: exactly these tables.
    On,
    /// `EXCLUDE (…)`: every other table of the database.
    Exclude,
}

/// `ON (…)` or `EXCLUDE (…)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableList {
    /// ON or EXCLUDE.
    pub kind: TableListKind,
    /// The tables, in the order written (never empty).
    pub tables: Vec<TableRef>,
}

/// One table of an ON / EXCLUDE list: `[db.]table [[TEMPORARY] PARTITION (…)] [[AS] alias]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRef {
    /// A database part, which the analysis rejects (the database goes before the label).
    pub database: Option<String>,
    /// The table.
    pub table: String,
    /// The partitions, when only some are meant.
    pub partitions: Option<PartitionList>,
    /// The new name (RESTORE only).
    pub alias: Option<String>,
}

/// `[TEMPORARY] PARTITION (p, …)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionList {
    /// `TEMPORARY PARTITION`: refused by the analysis, as Doris does.
    pub temporary: bool,
    /// The partition names (never empty).
    pub names: Vec<String>,
}

/// `BACKUP [GLOBAL] SNAPSHOT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// `GLOBAL`: privileges, catalogs and workload groups rather than tables.
    pub global: bool,
    /// The snapshot's database and label.
    pub label: LabelName,
    /// The repository written to.
    pub repository: String,
    /// ON / EXCLUDE; `None` means every table of the database.
    pub tables: Option<TableList>,
    /// Job properties.
    pub properties: Properties,
}

/// `RESTORE [GLOBAL] SNAPSHOT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restore {
    /// `GLOBAL`: privileges, catalogs and workload groups rather than tables.
    pub global: bool,
    /// The target database and the snapshot's label.
    pub label: LabelName,
    /// The repository read from.
    pub repository: String,
    /// ON / EXCLUDE; `None` means every table of the snapshot.
    pub tables: Option<TableList>,
    /// Job properties (`backup_timestamp` is required).
    pub properties: Properties,
}

/// A comparison of a WHERE clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    /// `=` (or `==`).
    Eq,
    /// `LIKE`, with `%` and `_` wildcards.
    Like,
}

/// `column {=|LIKE} 'value'`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Predicate {
    /// The column, as written.
    pub column: String,
    /// The comparison.
    pub op: CompareOp,
    /// The string compared with.
    pub value: String,
}

/// The filter of a SHOW or CANCEL statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// `LIKE 'pattern'` (on the statement's name column).
    Like(String),
    /// `WHERE a AND b OR c AND d`: a disjunction of conjunctions (AND binds tighter than OR).
    Where(Vec<Vec<Predicate>>),
}

/// `SHOW BACKUP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowBackup {
    /// `FROM db` / `IN db`; otherwise the session's current database.
    pub database: Option<String>,
    /// `WHERE SnapshotName = '…'` or `LIKE '…'`.
    pub filter: Option<Filter>,
}

/// `SHOW [BRIEF|GLOBAL] RESTORE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowRestore {
    /// `BRIEF`: without RestoreObjs, Progress and TaskErrMsg.
    pub brief: bool,
    /// `GLOBAL`: global (privilege/catalog) restore jobs.
    pub global: bool,
    /// `FROM db` / `IN db`.
    pub database: Option<String>,
    /// `WHERE Label = '…'` or `LIKE '…'`.
    pub filter: Option<Filter>,
}

/// `SHOW SNAPSHOT ON repo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowSnapshot {
    /// The repository.
    pub repository: String,
    /// `WHERE SNAPSHOT = '…' [AND TIMESTAMP = '…']`.
    pub filter: Option<Filter>,
}

/// `CANCEL BACKUP` / `CANCEL [GLOBAL] RESTORE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancel {
    /// `GLOBAL` (RESTORE only).
    pub global: bool,
    /// `FROM db` / `IN db`.
    pub database: Option<String>,
    /// `WHERE LABEL = '…'` or `LIKE '…'`.
    pub filter: Option<Filter>,
}

/// `DROP SNAPSHOT label FROM repo [WHERE TIMESTAMP = '…']`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropSnapshot {
    /// The snapshot's label; a database part drops only a snapshot of that database.
    pub label: LabelName,
    /// The repository.
    pub repository: String,
    /// `WHERE TIMESTAMP = '…'`: drop only that backup of the label.
    pub filter: Option<Filter>,
}
