//! The one error type of the public API.

use std::fmt;

use crate::sql::{AnalysisError, ParseError};

/// What kind of failure an [`Error`] is; stable enough to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The statement text is not valid SQL of this family.
    Syntax,
    /// The statement parses but is refused by the analysis (Doris's message).
    Analysis,
}

/// An error of tabsnap: what went wrong and where.
#[derive(Debug)]
#[non_exhaustive]
pub struct Error {
    kind: ErrorKind,
    message: String,
    position: Option<(usize, usize)>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the source-line display of syntax errors.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `(line, column)`, 1-based, for errors that point into statement text.
    pub fn position(&self) -> Option<(usize, usize)> {
        self.position
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error {
            kind: ErrorKind::Syntax,
            message: e.message(),
            position: Some((e.line(), e.column())),
            source: Some(Box::new(e)),
        }
    }
}

impl From<AnalysisError> for Error {
    fn from(e: AnalysisError) -> Self {
        Error { kind: ErrorKind::Analysis, message: e.message().to_owned(), position: None, source: Some(Box::new(e)) }
    }
}
