//! The integration tests: one binary, one module per concept.

#![allow(clippy::unwrap_used)] // tests and their helpers may unwrap

mod cli;
mod corpus;
mod crash;
mod decoders;
mod engine;
mod fuzz;
mod hostile;
mod pack;
mod s3;
mod sql;
mod util;
