//! The repository property `"retention" = "keep_last=7,keep_daily=7,keep_weekly=4"`: checked when declared,
//! applied to the database's snapshots after each successful BACKUP into the repository.

use super::encryption::prop;
use crate::job::JobHandle;
use crate::repo::Repository;
use crate::store::{self, ForgetScope, GcOutcome, RetentionPolicy};
use crate::{Error, ErrorKind, Result};

/// The property.
pub(crate) const RETENTION: &str = "retention";

/// Parses a `retention` value.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`] naming the property and what is wrong.
pub(crate) fn parse_property(value: &str) -> Result<RetentionPolicy> {
    RetentionPolicy::parse(value)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("property {RETENTION}: {}", e.message())))
}

/// The retention policy `props` declare, checked; a READ ONLY repository cannot have one.
///
/// # Errors
/// As [`parse_property`]; a policy on a read-only repository.
pub(crate) fn policy(props: &[(String, String)], read_only: bool) -> Result<Option<RetentionPolicy>> {
    let Some(v) = prop(props, RETENTION) else { return Ok(None) };
    let p = parse_property(v)?;
    if read_only {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("property {RETENTION} needs a repository that is not READ ONLY: it removes snapshots"),
        ));
    }
    Ok(Some(p))
}

/// Applies `policy` to `database`'s snapshots in `repo` after a successful backup. The backup stands
/// whatever happens here: a failure is a warning of the job. A repository in use keeps its space until a later
/// collection (the dropped snapshots are gone at once).
pub(crate) fn apply(repo: &dyn Repository, policy: &RetentionPolicy, database: &str, job: &JobHandle) {
    let scope = ForgetScope { database: Some(database.to_owned()), label: None };
    match store::forget(repo, policy, &scope, false) {
        Ok(report) => {
            if let Some(GcOutcome::Busy(_)) = report.gc {
                let n = report.dropped().count();
                job.warn(format!(
                    "retention ({policy}) removed {n} snapshot(s); the repository is in use, so a later collection \
                     frees their space"
                ));
            }
        }
        Err(e) => job.warn(format!("retention ({policy}) failed after the backup: {e}")),
    }
}
