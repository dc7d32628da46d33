//! The canonical SQL form of the statements (`Display` of every AST type): keywords in upper case, names bare
//! when they can be and backquoted otherwise, strings double-quoted, single spaces, one spelling for each of the
//! alternatives Doris accepts. Printing a statement and parsing it back gives an equal value.

use std::fmt;

use super::ast::*;

/// Words Doris reserves: they must be backquoted to be used as names. (Keywords of this family are non-reserved.)
pub(crate) const RESERVED: &[&str] = &[
    "ALL",
    "ALTER",
    "AND",
    "AS",
    "BY",
    "CANCEL",
    "CREATE",
    "DATABASE",
    "DROP",
    "EXISTS",
    "FALSE",
    "FOR",
    "FROM",
    "IF",
    "IN",
    "INTO",
    "IS",
    "LIKE",
    "NOT",
    "NULL",
    "ON",
    "OR",
    "PARTITION",
    "SELECT",
    "SET",
    "SHOW",
    "TABLE",
    "TEMPORARY",
    "TO",
    "TRUE",
    "WHERE",
    "WITH",
];

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// Prints a name bare when the lexer would read it back as the same identifier, backquoted otherwise.
pub(crate) struct Ident<'a>(pub &'a str);

impl fmt::Display for Ident<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let bare = !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
            && !s.bytes().all(|b| b.is_ascii_digit())
            && !is_reserved(s);
        if bare {
            f.write_str(s)
        } else {
            f.write_str("`")?;
            f.write_str(&s.replace('`', "``"))?;
            f.write_str("`")
        }
    }
}

/// Prints a string as a double-quoted literal that the lexer reads back to the same value.
pub(crate) struct Str<'a>(pub &'a str);

impl fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        let mut chars = self.0.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                // `\%` and `\_` are kept as two characters by the lexer, so print them as they are.
                '\\' if matches!(chars.peek(), Some('%' | '_')) => f.write_str("\\")?,
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\0' => f.write_str("\\0")?,
                '\u{8}' => f.write_str("\\b")?,
                '\u{1a}' => f.write_str("\\Z")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

fn comma_list<T>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    mut one: impl FnMut(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        one(f, item)?;
    }
    Ok(())
}

impl fmt::Display for Properties {
    /// Prints ` PROPERTIES (…)` with its leading space, or nothing when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        f.write_str(" PROPERTIES (")?;
        comma_list(f, &self.0, |f, p| write!(f, "{} = {}", Str(&p.key), Str(&p.value)))?;
        f.write_str(")")
    }
}

impl fmt::Display for LabelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(db) = &self.database {
            write!(f, "{}.", Ident(db))?;
        }
        write!(f, "{}", Ident(&self.label))
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(db) = &self.database {
            write!(f, "{}.", Ident(db))?;
        }
        write!(f, "{}", Ident(&self.table))?;
        if let Some(p) = &self.partitions {
            f.write_str(if p.temporary { " TEMPORARY PARTITION (" } else { " PARTITION (" })?;
            comma_list(f, &p.names, |f, n| write!(f, "{}", Ident(n)))?;
            f.write_str(")")?;
        }
        if let Some(a) = &self.alias {
            write!(f, " AS {}", Ident(a))?;
        }
        Ok(())
    }
}

impl fmt::Display for TableList {
    /// Prints ` ON (…)` / ` EXCLUDE (…)` with its leading space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            TableListKind::On => " ON (",
            TableListKind::Exclude => " EXCLUDE (",
        })?;
        comma_list(f, &self.tables, |f, t| write!(f, "{t}"))?;
        f.write_str(")")
    }
}

impl fmt::Display for Filter {
    /// Prints ` LIKE "…"` / ` WHERE …` with its leading space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Like(p) => write!(f, " LIKE {}", Str(p)),
            Filter::Where(any) => {
                f.write_str(" WHERE ")?;
                for (i, all) in any.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" OR ")?;
                    }
                    for (j, p) in all.iter().enumerate() {
                        if j > 0 {
                            f.write_str(" AND ")?;
                        }
                        let op = match p.op {
                            CompareOp::Eq => "=",
                            CompareOp::Like => "LIKE",
                        };
                        write!(f, "{} {op} {}", Ident(&p.column), Str(&p.value))?;
                    }
                }
                Ok(())
            }
        }
    }
}

fn opt<T: fmt::Display>(f: &mut fmt::Formatter<'_>, v: &Option<T>) -> fmt::Result {
    match v {
        Some(v) => write!(f, "{v}"),
        None => Ok(()),
    }
}

fn from_db(f: &mut fmt::Formatter<'_>, db: &Option<String>) -> fmt::Result {
    match db {
        Some(db) => write!(f, " FROM {}", Ident(db)),
        None => Ok(()),
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateRepository(s) => {
                f.write_str(if s.read_only { "CREATE READ ONLY REPOSITORY " } else { "CREATE REPOSITORY " })?;
                write!(f, "{} WITH ", Ident(&s.name))?;
                match &s.storage {
                    StorageKind::S3 => f.write_str("S3")?,
                    StorageKind::Hdfs => f.write_str("HDFS")?,
                    StorageKind::Local => f.write_str("LOCAL")?,
                    StorageKind::Broker(b) => write!(f, "BROKER {}", Ident(b))?,
                }
                write!(f, " ON LOCATION {}{}", Str(&s.location), s.properties)
            }
            Statement::DropRepository(s) => write!(f, "DROP REPOSITORY {}", Ident(&s.name)),
            Statement::AlterRepository(s) => write!(f, "ALTER REPOSITORY {}{}", Ident(&s.name), s.properties),
            Statement::ShowRepositories => f.write_str("SHOW REPOSITORIES"),
            Statement::Backup(s) => {
                f.write_str(if s.global { "BACKUP GLOBAL SNAPSHOT " } else { "BACKUP SNAPSHOT " })?;
                write!(f, "{} TO {}", s.label, Ident(&s.repository))?;
                opt(f, &s.tables)?;
                write!(f, "{}", s.properties)
            }
            Statement::Restore(s) => {
                f.write_str(if s.global { "RESTORE GLOBAL SNAPSHOT " } else { "RESTORE SNAPSHOT " })?;
                write!(f, "{} FROM {}", s.label, Ident(&s.repository))?;
                opt(f, &s.tables)?;
                write!(f, "{}", s.properties)
            }
            Statement::ShowBackup(s) => {
                f.write_str("SHOW BACKUP")?;
                from_db(f, &s.database)?;
                opt(f, &s.filter)
            }
            Statement::ShowRestore(s) => {
                f.write_str(if s.brief {
                    "SHOW BRIEF RESTORE"
                } else if s.global {
                    "SHOW GLOBAL RESTORE"
                } else {
                    "SHOW RESTORE"
                })?;
                from_db(f, &s.database)?;
                opt(f, &s.filter)
            }
            Statement::ShowSnapshot(s) => {
                write!(f, "SHOW SNAPSHOT ON {}", Ident(&s.repository))?;
                opt(f, &s.filter)
            }
            Statement::CancelBackup(s) => {
                f.write_str("CANCEL BACKUP")?;
                from_db(f, &s.database)?;
                opt(f, &s.filter)
            }
            Statement::CancelRestore(s) => {
                f.write_str(if s.global { "CANCEL GLOBAL RESTORE" } else { "CANCEL RESTORE" })?;
                from_db(f, &s.database)?;
                opt(f, &s.filter)
            }
            Statement::DropSnapshot(s) => {
                write!(f, "DROP SNAPSHOT {} FROM {}", s.label, Ident(&s.repository))?;
                opt(f, &s.filter)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_only_when_needed() {
        assert_eq!(Ident("tbl_1").to_string(), "tbl_1");
        assert_eq!(Ident("1repo").to_string(), "1repo");
        assert_eq!(Ident("123").to_string(), "`123`");
        assert_eq!(Ident("on").to_string(), "`on`");
        assert_eq!(Ident("snapshot").to_string(), "snapshot");
        assert_eq!(Ident("a b`c").to_string(), "`a b``c`");
        assert_eq!(Ident("表").to_string(), "`表`");
        assert_eq!(Ident("").to_string(), "``");
    }

    #[test]
    fn strings_escape_what_the_lexer_resolves() {
        assert_eq!(Str("a\"b\\c\n").to_string(), r#""a\"b\\c\n""#);
        assert_eq!(Str("50\\%").to_string(), r#""50\%""#);
    }
}
