//! The `tabsnap` command line: the operator's tool and the reference host.

use std::process::ExitCode;

use clap::Parser;

/// `println!` that ends the program quietly when standard output is a closed pipe (`tabsnap snapshots | head`).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::common::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod allocator;
mod args;
mod backup;
mod cluster;
mod common;
mod data;
mod demo;
mod forget;
mod maintenance;
mod restore;
mod statements;

use common::open_location;
use tabsnap::Error;

use args::{Cli, Command};

fn main() -> ExitCode {
    allocator::limit_malloc_arenas();
    let cli = Cli::parse();
    let _ = common::PASSWORD_FILE.set(cli.password_file);
    match cli.command {
        Command::Parse { file, json } => statements::parse_command(&file, json),
        Command::Sql {
            statements,
            file,
            data,
            state,
            user,
            db,
            json,
            no_wait,
            ignore_backup_not_support_table_type,
            tuning,
        } => {
            let text = match statements::read_script(statements.as_deref(), file.as_deref()) {
                Ok(t) => t,
                Err(e) => {
                    common::report_error(&e, json, 1);
                    return std::process::ExitCode::from(1);
                }
            };
            let host = statements::HostOptions { ignore_backup_not_support_table_type };
            statements::sql_command(&text, &data, &state, &user, db.as_deref(), json, no_wait, &tuning, &host)
        }
        Command::Demo { dir, json } => demo::demo_command(&dir, json),
        Command::Backup { location, label, data, db, depth, tuning, output } => {
            backup::backup_command(&location, &label, &data, &db, depth, &tuning, output)
        }
        Command::Snapshots { location, json } => data::snapshots_command(&location, json),
        Command::Worker { location, label, timestamp, node, data, db, tablets, tuning, json } => {
            let req = cluster::WorkerRequest {
                location: &location,
                label: &label,
                timestamp: &timestamp,
                node: &node,
                data: &data,
                db: &db,
                tablets: &tablets,
                tuning: &tuning,
            };
            cluster::worker_command(&req, json)
        }
        Command::ClusterBackup { location, label, data, db, depth, workers, threads, retries, json } => {
            let req = cluster::ClusterRequest {
                location: &location,
                label: &label,
                data: &data,
                db: &db,
                depth,
                workers,
                threads,
                retries,
            };
            cluster::cluster_command(&req, json)
        }
        Command::Restore { location, label, timestamp, to, tables, merge, threads, output } => {
            let req = restore::Request {
                location: &location,
                label: &label,
                timestamp,
                to: &to,
                tables: &tables,
                merge,
                threads,
            };
            restore::restore_command(&req, output)
        }
        Command::Gc { location, dry_run, json } => maintenance_exit(
            open_location(&location, false).and_then(|r| maintenance::gc_command(r.as_ref(), dry_run, json)),
        ),
        Command::Unlock { location, json } => {
            // Locks are stored in clear: an encrypted repository's are removed without its password too.
            let repo = common::sealed_without_password(&location)
                .and_then(|sealed| sealed.map_or_else(|| open_location(&location, false), Ok));
            maintenance_exit(repo.and_then(|r| maintenance::unlock_command(r.as_ref(), json)))
        }
        Command::Forget(forget::ForgetArgs {
            location,
            keep_last,
            keep_daily,
            keep_weekly,
            keep_monthly,
            db,
            label,
            dry_run,
            json,
        }) => {
            let rules =
                forget::Rules { last: keep_last, daily: keep_daily, weekly: keep_weekly, monthly: keep_monthly };
            let scope = tabsnap::store::ForgetScope { database: db, label };
            maintenance_exit(
                open_location(&location, false)
                    .and_then(|r| forget::forget_command(r.as_ref(), &rules, &scope, dry_run, json)),
            )
        }
        Command::Verify { location, label, timestamp, quick, json } => {
            data::verify_command(&location, label, timestamp, quick, json)
        }
    }
}

fn maintenance_exit(result: Result<ExitCode, Error>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}
