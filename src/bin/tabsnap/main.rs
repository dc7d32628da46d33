//! The `tabsnap` command line: the operator's tool and the reference host.

use std::process::ExitCode;

use clap::Parser;

/// `println!` that ends the program quietly when standard output is a closed pipe (`tabsnap snapshots | head`).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::common::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

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
    let cli = Cli::parse();
    let _ = common::PASSWORD_FILE.set(cli.password_file);
    let result = match cli.command {
        Command::Parse { file, json } => return statements::parse_command(&file, json),
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
            return statements::sql_command(&text, &data, &state, &user, db.as_deref(), json, no_wait, &tuning, &host);
        }
        Command::Demo { dir } => demo::demo_command(&dir),
        Command::Backup { location, label, data, db, depth, tuning, output } => {
            return backup::backup_command(&location, &label, &data, &db, depth, &tuning, output);
        }
        Command::Snapshots { location, json } => return data::snapshots_command(&location, json),
        Command::Worker { location, label, timestamp, node, data, db, tablets, tuning } => {
            cluster::worker_command(&location, &label, &timestamp, &node, &data, &db, &tablets, &tuning)
        }
        Command::ClusterBackup { location, label, data, db, depth, workers, threads } => {
            cluster::cluster_command(&location, &label, &data, &db, depth, workers, threads)
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
            return restore::restore_command(&req, output);
        }
        Command::Gc { location, dry_run, json } => {
            return maintenance_exit(
                open_location(&location, false).and_then(|r| maintenance::gc_command(r.as_ref(), dry_run, json)),
            );
        }
        Command::Unlock { location, json } => {
            // Locks are stored in clear: an encrypted repository's are removed without its password too.
            let repo = common::sealed_without_password(&location)
                .and_then(|sealed| sealed.map_or_else(|| open_location(&location, false), Ok));
            return maintenance_exit(repo.and_then(|r| maintenance::unlock_command(r.as_ref(), json)));
        }
        Command::Forget { location, keep_last, keep_daily, keep_weekly, keep_monthly, db, label, dry_run, json } => {
            let rules =
                forget::Rules { last: keep_last, daily: keep_daily, weekly: keep_weekly, monthly: keep_monthly };
            let scope = tabsnap::store::ForgetScope { database: db, label };
            return maintenance_exit(
                open_location(&location, false)
                    .and_then(|r| forget::forget_command(r.as_ref(), &rules, &scope, dry_run, json)),
            );
        }
        Command::Verify { location, label, timestamp, quick, json } => {
            return data::verify_command(&location, label, timestamp, quick, json);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn maintenance_exit(result: Result<ExitCode, Error>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}
