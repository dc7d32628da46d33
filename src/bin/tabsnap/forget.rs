//! `tabsnap forget`: a retention policy applied to a repository's snapshots.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use tabsnap::repo::Repository;
use tabsnap::store::{self, ForgetScope, GcOutcome, RetentionPolicy};
use tabsnap::{Error, ErrorKind};

use crate::maintenance::EXIT_BUSY;

/// The rules given on the command line.
pub struct Rules {
    pub last: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
}

impl Rules {
    fn policy(&self) -> Result<RetentionPolicy, Error> {
        let rules = [("last", self.last), ("daily", self.daily), ("weekly", self.weekly), ("monthly", self.monthly)];
        if let Some((name, _)) = rules.iter().find(|(_, n)| *n == Some(0)) {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("--keep-{name} must be at least 1")));
        }
        let p = RetentionPolicy {
            last: self.last.unwrap_or(0),
            daily: self.daily.unwrap_or(0),
            weekly: self.weekly.unwrap_or(0),
            monthly: self.monthly.unwrap_or(0),
        };
        if p.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "give at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly (without one every \
                 snapshot would be dropped)",
            ));
        }
        Ok(p)
    }
}

/// `tabsnap forget LOCATION --keep-… N [--db D] [--label L] [--dry-run] [--json]`.
pub fn forget_command(
    repo: &dyn Repository,
    rules: &Rules,
    scope: &ForgetScope,
    dry_run: bool,
    as_json: bool,
) -> Result<ExitCode, Error> {
    let policy = rules.policy()?;
    let report = store::forget(repo, &policy, scope, dry_run)?;
    let busy = matches!(report.gc, Some(GcOutcome::Busy(_)));
    if as_json {
        let snapshots: Vec<_> = report
            .decisions
            .iter()
            .map(|d| {
                json!({"database": d.database, "label": d.label, "timestamp": d.timestamp, "keep": d.keep,
                       "reasons": d.reasons})
            })
            .collect();
        let gc = match &report.gc {
            None => json!(null),
            Some(GcOutcome::Collected(r)) => {
                json!({"packs": r.packs.len(), "indexes": r.indexes.len(), "pages": r.pages.len(), "bytes": r.bytes})
            }
            Some(GcOutcome::Busy(_)) => json!("busy"),
        };
        outln!("{}", json!({"dry_run": dry_run, "policy": policy.to_string(), "snapshots": snapshots, "gc": gc}));
    } else {
        for d in &report.decisions {
            let what = if d.keep { format!("keep ({})", d.reasons.join(", ")) } else { "drop".to_owned() };
            outln!("{what:<24} {} {}/{}", d.database, d.label, d.timestamp);
        }
        let dropped = report.dropped().count();
        let verb = if dry_run { "would drop" } else { "dropped" };
        outln!("{}: {verb} {dropped} of {} snapshot(s) ({policy})", repo.describe(), report.decisions.len());
        match &report.gc {
            Some(GcOutcome::Collected(r)) => {
                outln!(
                    "freed {} manifest page(s), {} index object(s) and {} pack(s), {} bytes",
                    r.pages.len(),
                    r.indexes.len(),
                    r.packs.len(),
                    r.bytes
                )
            }
            Some(GcOutcome::Busy(b)) => {
                eprintln!("the repository is in use; a later `tabsnap gc` frees the space. In use by:");
                for l in &b.live {
                    eprintln!("  {l}");
                }
            }
            None => {}
        }
    }
    Ok(if busy { ExitCode::from(EXIT_BUSY) } else { ExitCode::SUCCESS })
}

/// `tabsnap forget`'s arguments.
#[derive(Args)]
pub struct ForgetArgs {
    /// Repository location.
    pub location: String,
    /// Keep the N newest snapshots.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the N most recent days with snapshots.
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// Keep the newest snapshot of each of the N most recent ISO weeks with snapshots.
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest snapshot of each of the N most recent months with snapshots.
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    /// Only this database's snapshots.
    #[arg(long)]
    pub db: Option<String>,
    /// Only snapshots with this label.
    #[arg(long)]
    pub label: Option<String>,
    /// Only show what would be kept and dropped; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object: {"dry_run", "snapshots": [{"database", "label", "timestamp", "keep",
    /// "reasons"}], "gc": …}.
    #[arg(long)]
    pub json: bool,
}
