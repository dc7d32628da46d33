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
    /// A caller passed an argument that cannot be used (a bad option, an unsafe path in a manifest, …).
    InvalidArgument,
    /// An object, snapshot, file or directory that was asked for does not exist.
    NotFound,
    /// Something that must be new already exists (an object written with create-if-absent, a label, …).
    AlreadyExists,
    /// A local I/O operation failed (reading tablet files, writing restored files).
    Io,
    /// A repository operation failed (after retries, when the repository is retried).
    Repository,
    /// Stored bytes do not match their checksum or content hash: the object (and file) are named.
    Corruption,
    /// An object is not in a format this version reads (bad magic, unknown version, truncated).
    Format,
    /// The operation was cancelled.
    Cancelled,
    /// The operation ran past its timeout.
    TimedOut,
    /// A callback of the host (a C host table or a C repository table) reported a failure; the message is the
    /// callback's own.
    Callback,
}

/// An error of tabsnap: what went wrong and where.
#[derive(Debug)]
#[non_exhaustive]
pub struct Error {
    kind: ErrorKind,
    message: String,
    position: Option<(usize, usize)>,
    object: Option<String>,
    transient: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), position: None, object: None, transient: false, source: None }
    }

    /// Names the repository object (or file) the error is about; the message already says it in words.
    pub fn with_object(mut self, object: impl Into<String>) -> Error {
        self.object = Some(object.into());
        self
    }

    /// Marks the error as worth retrying (a timeout, throttling, a dropped connection).
    pub fn transient(mut self) -> Error {
        self.transient = true;
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// An I/O error while doing `what` (e.g. "reading tablet file /data/…").
    pub fn io(what: impl std::fmt::Display, e: std::io::Error) -> Error {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            _ => ErrorKind::Io,
        };
        let transient = matches!(e.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut);
        let mut err = Error::new(kind, format!("{what}: {e}")).with_source(e);
        err.transient = transient;
        err
    }

    /// Prefixes the message with what was being done, keeping kind, object and cause.
    pub fn context(mut self, what: impl std::fmt::Display) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// The repository object or file this error is about, when there is one.
    pub fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

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
            object: None,
            transient: false,
            source: Some(Box::new(e)),
        }
    }
}

impl From<AnalysisError> for Error {
    fn from(e: AnalysisError) -> Self {
        Error::new(ErrorKind::Analysis, e.message()).with_source(e)
    }
}
