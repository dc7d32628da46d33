//! The commands that inspect a repository location: snapshots, verify.

use std::process::ExitCode;

use tabsnap::pack::{self, Packer};
use tabsnap::repo::Repository;
use tabsnap::{Error, ErrorKind};

use crate::common::{count, open_location, report_error, sealed_without_password};

pub fn snapshots_command(location: &str, json: bool) -> ExitCode {
    type Listing = Vec<(pack::SnapshotId, Result<String, Error>)>;
    let run = || -> Result<Listing, Error> {
        let repo = open_location(location, false)?;
        let snaps = pack::list_snapshots(repo.as_ref())?;
        Ok(snaps
            .into_iter()
            .map(|s| {
                let db =
                    pack::load_stored_manifest(repo.as_ref(), &s.label, &s.timestamp).map(|m| m.database().to_owned());
                (s, db)
            })
            .collect())
    };
    match run() {
        Ok(list) if json => {
            let rows: Vec<serde_json::Value> = list
                .iter()
                .map(|(s, db)| match db {
                    Ok(db) => serde_json::json!({"snapshot": s.label, "timestamp": s.timestamp, "database": db}),
                    Err(e) => {
                        serde_json::json!({"snapshot": s.label, "timestamp": s.timestamp, "error": e.to_string()})
                    }
                })
                .collect();
            outln!("{}", serde_json::Value::from(rows));
            ExitCode::SUCCESS
        }
        Ok(list) => {
            outln!("{:<40} {:<20} {:<20}", "Snapshot", "Timestamp", "Database");
            for (s, db) in list {
                let db = db.unwrap_or_else(|e| format!("ERROR: {e}"));
                outln!("{:<40} {:<20} {:<20}", s.label, s.timestamp, db);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_error(&e, json, 1);
            ExitCode::from(1)
        }
    }
}

/// The snapshots `label` and `timestamp` select, in timestamp order; none is an error naming what was asked.
pub fn pick_snapshots(
    repo: &dyn Repository,
    label: Option<&str>,
    timestamp: Option<&str>,
) -> Result<Vec<pack::SnapshotId>, Error> {
    let snaps: Vec<_> = pack::list_snapshots(repo)?
        .into_iter()
        .filter(|s| label.is_none_or(|l| s.label == l) && timestamp.is_none_or(|t| s.timestamp == t))
        .collect();
    if snaps.is_empty() {
        let what = match (label, timestamp) {
            (Some(l), Some(t)) => format!("snapshot {l} with timestamp {t}"),
            (Some(l), None) => format!("snapshot {l}"),
            _ => "snapshot".to_owned(),
        };
        return Err(Error::new(ErrorKind::NotFound, format!("{} holds no {what}", repo.describe())));
    }
    Ok(snaps)
}

pub fn verify_command(
    location: &str,
    label: Option<String>,
    timestamp: Option<String>,
    quick: bool,
    json: bool,
) -> ExitCode {
    // Without the password, an encrypted repository's stored bytes can still be checked, whole.
    let sealed = match if quick { sealed_without_password(location) } else { Ok(None) } {
        Ok(s) => s,
        Err(e) => {
            report_error(&e, json, 1);
            return ExitCode::from(1);
        }
    };
    let run = || -> Result<tabsnap::pack::VerifyReport, Error> {
        if let Some(store) = &sealed {
            if label.is_some() {
                return Err(Error::new(
                    tabsnap::ErrorKind::InvalidArgument,
                    "without the password, --quick checks the whole repository: a label cannot be chosen",
                ));
            }
            return tabsnap::crypto::check_stored(store.as_ref());
        }
        let repo = open_location(location, false)?;
        Packer::builder().build()?.verify_snapshots(repo.as_ref(), label.as_deref(), timestamp.as_deref(), quick)
    };
    match run() {
        Ok(report) if json => {
            let problems: Vec<serde_json::Value> = report
                .problems
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "object": p.object, "chunk": p.chunk.map(|c| c.to_hex()), "files": p.files, "message": p.message,
                    })
                })
                .collect();
            outln!(
                "{}",
                serde_json::json!({
                    "ok": report.is_ok(), "snapshots": report.snapshots, "packs": report.packs, "chunks": report.chunks,
                    "quick": quick, "without_password": sealed.is_some(), "problems": problems,
                })
            );
            if report.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Ok(report) if report.is_ok() && sealed.is_some() => {
            outln!(
                "ok: {}, {}: stored bytes checked without the password (checking content needs it)",
                count(report.snapshots, "snapshot"),
                count(report.packs, "object")
            );
            ExitCode::SUCCESS
        }
        Ok(report) if report.is_ok() => {
            outln!(
                "ok: {}, {}, {}{}",
                count(report.snapshots, "snapshot"),
                count(report.packs, "pack"),
                count(report.chunks, "chunk"),
                if quick { " (quick: data not read)" } else { "" }
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            for p in &report.problems {
                outln!("BAD {p}");
            }
            eprintln!(
                "error: {} in {}",
                count(report.problems.len() as u64, "problem"),
                count(report.snapshots, "snapshot")
            );
            ExitCode::from(1)
        }
        Err(e) => {
            report_error(&e, json, 1);
            ExitCode::from(1)
        }
    }
}
