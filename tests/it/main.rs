//! The integration tests: one binary, one module per concept.

#![allow(clippy::unwrap_used)] // tests and their helpers may unwrap

mod answers;
mod batches;
mod cli;
mod cli_cluster;
mod cli_crypto;
mod cli_output;
mod columns;
mod compression;
mod concurrency;
mod contracts;
mod corpus;
mod crash;
mod decoders;
mod dictionary;
mod encryption;
mod engine;
mod fuzz;
mod hostile;
mod latest;
mod pack;
mod pages;
mod properties;
mod readme;
mod rebackup;
mod s3;
mod s3_crypto;
mod shared_state;
mod sql;
mod util;
mod windows;
