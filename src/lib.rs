//! # tabsnap
//!
//! BACKUP SNAPSHOT / RESTORE for OLAP database engines such as Apache Doris and StarRocks: a parser for the
//! whole Doris statement family, a parallel shard packer, verifiable repositories, and a stable C ABI.
//!
//! ```
//! use tabsnap::sql::{self, Statement};
//!
//! let stmt = sql::parse_one(
//!     "BACKUP SNAPSHOT example_db.snapshot_label1 TO example_repo ON (example_tbl) PROPERTIES (\"type\" = \"full\")",
//! )?;
//! sql::validate(&stmt)?;
//! let Statement::Backup(backup) = &stmt else { unreachable!() };
//! assert_eq!(backup.repository, "example_repo");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cluster;
pub mod crypto;
mod engine;
mod error;
#[allow(unsafe_code)]
pub mod ffi;
pub mod format;
pub mod host;
pub mod job;
pub mod pack;
pub mod plan;
pub mod repo;
pub mod sql;
pub mod store;
pub mod tree;

pub use engine::{Engine, EngineBuilder, JobObserver, Outcome, ResultSet, Session};
pub use error::{Error, ErrorKind, Result};

/// The version of this library, `MAJOR.MINOR.PATCH`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
