//! `tabsnap gc` and `tabsnap unlock`: repository maintenance under the concurrency protocol.

use std::process::ExitCode;

use serde_json::json;
use tabsnap::Error;
use tabsnap::repo::Repository;
use tabsnap::store::{self, GcOutcome, LockInfo, LockPolicy};

/// Exit status of `gc` when others use the repository: try again later (EX_TEMPFAIL).
pub const EXIT_BUSY: u8 = 75;

fn lock_json(l: &LockInfo) -> serde_json::Value {
    let r = l.record.as_ref();
    json!({
        "key": l.key,
        "operation": r.map(|r| r.operation.clone()),
        "host": r.map(|r| r.process.host.clone()),
        "pid": r.map(|r| r.process.pid),
        "created_ms": r.map(|r| r.created_ms),
        "refreshed_ms": r.map(|r| r.refreshed_ms),
        "live": l.is_live(),
        "stale_reason": l.stale,
    })
}

/// `tabsnap gc LOCATION [--dry-run] [--json]`.
pub fn gc_command(repo: &dyn Repository, dry_run: bool, as_json: bool) -> Result<ExitCode, Error> {
    match store::collect_garbage(repo, dry_run)? {
        GcOutcome::Collected(report) => {
            if as_json {
                let objects = |v: &[tabsnap::repo::ObjectInfo]| {
                    v.iter().map(|o| json!({"key": o.key, "size": o.size})).collect::<Vec<_>>()
                };
                let out = json!({
                    "dry_run": report.dry_run,
                    "pages": objects(&report.pages),
                    "indexes": objects(&report.indexes),
                    "packs": objects(&report.packs),
                    "bytes": report.bytes,
                    "leftovers": {"files": report.leftovers.0, "bytes": report.leftovers.1},
                    "stale_locks": report.stale_locks.iter().map(lock_json).collect::<Vec<_>>(),
                });
                outln!("{out}");
            } else {
                let verb = if report.dry_run { "would remove" } else { "removed" };
                for o in report.pages.iter().chain(&report.indexes).chain(&report.packs) {
                    outln!("{verb} {} ({} bytes)", o.key, o.size);
                }
                outln!(
                    "{}: {verb} {} manifest page(s), {} index object(s) and {} pack(s), {} bytes",
                    repo.describe(),
                    report.pages.len(),
                    report.indexes.len(),
                    report.packs.len(),
                    report.bytes
                );
                if report.leftovers.0 > 0 {
                    outln!(
                        "{verb} {} temporary file(s) of unfinished writes, {} bytes",
                        report.leftovers.0,
                        report.leftovers.1
                    );
                }
                for l in &report.stale_locks {
                    eprintln!("note: ignored stale lock {l}; `tabsnap unlock` removes it");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        GcOutcome::Busy(busy) => {
            if as_json {
                let out = json!({"busy": busy.live.iter().map(lock_json).collect::<Vec<_>>()});
                outln!("{out}");
            }
            eprintln!("{} is in use; nothing was removed. Try again when these end:", repo.describe());
            for l in &busy.live {
                eprintln!("  {l}");
            }
            Ok(ExitCode::from(EXIT_BUSY))
        }
    }
}

/// `tabsnap unlock LOCATION [--json]`: removes stale locks, lists the live ones.
pub fn unlock_command(repo: &dyn Repository, as_json: bool) -> Result<ExitCode, Error> {
    let policy = LockPolicy::from_env()?;
    let removed = store::remove_stale_locks(repo, &policy)?;
    let live = store::list_locks(repo, &policy)?;
    if as_json {
        let out = json!({
            "removed": removed.iter().map(lock_json).collect::<Vec<_>>(),
            "live": live.iter().map(lock_json).collect::<Vec<_>>(),
        });
        outln!("{out}");
    } else {
        for l in &removed {
            outln!("removed stale lock {l}");
        }
        for l in &live {
            outln!("kept live lock {l}");
        }
        outln!("{}: removed {} stale lock(s), {} live", repo.describe(), removed.len(), live.len());
    }
    Ok(ExitCode::SUCCESS)
}
