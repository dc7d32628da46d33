//! The RESTORE properties that act through the host: each does what Doris does, or the statement is refused at
//! analysis when tabsnap or the host cannot do it.

use super::analysis;
use crate::Result;
use crate::host::{Host, HostFeature, ReplicaAllocation, RestoreCommit, StorageMedium};
use crate::sql::ast::Properties;

/// A RESTORE's properties, read.
pub(super) struct RestoreSettings {
    /// What every restored table is committed with.
    pub commit: RestoreCommit,
    /// `force_replace`.
    pub force_replace: bool,
    /// `clean_tables`.
    pub clean_tables: bool,
    /// `clean_partitions`.
    pub clean_partitions: bool,
    /// The one replica allocation SHOW RESTORE's ReplicationNum and ReplicaAllocation are derived from.
    pub allocation: ReplicaAllocation,
}

fn is_true(p: &Properties, key: &str) -> bool {
    p.get(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Properties tabsnap refuses whatever the host: what they ask has no counterpart here.
fn refused(p: &Properties) -> Result<()> {
    if p.get("meta_version").is_some() {
        return Err(analysis(
            "meta_version is not supported: it reads snapshots of old Doris versions; a tabsnap snapshot records \
             its own format version",
        ));
    }
    for key in ["storage_vault_name", "storage_resource", "colocate_with"] {
        if p.get(key).is_some() {
            return Err(analysis(format!("Property {key} is not supported by tabsnap")));
        }
    }
    for key in ["reserve_colocate", "reserve_storage_policy", "allow_load"] {
        if is_true(p, key) {
            return Err(analysis(format!("Property {key} = true is not supported by tabsnap")));
        }
    }
    if is_true(p, "force_replace") && !is_true(p, "atomic_restore") {
        return Err(analysis("force_replace is only supported together with atomic_restore = true"));
    }
    Ok(())
}

/// Reads a RESTORE's properties (already checked by [`crate::sql::validate`]) and checks that `host` can do
/// what they ask.
///
/// # Errors
/// "Property <p> is not supported by this host: …" for a property whose host method the host lacks, and the
/// refusals of properties tabsnap cannot honour.
pub(super) fn restore_settings(p: &Properties, host: &dyn Host) -> Result<RestoreSettings> {
    refused(p)?;
    let given = match (p.get("replication_allocation"), p.get("replication_num")) {
        (Some(a), _) => Some(ReplicaAllocation::parse(a).map_err(analysis)?),
        (None, Some(n)) => {
            let n: u16 = n.trim().parse().map_err(|_| analysis(format!("Invalid replication_num value: {n}")))?;
            Some(ReplicaAllocation::default_tag(n))
        }
        (None, None) => None,
    };
    let reserve_replica = is_true(p, "reserve_replica");
    let storage_medium = match p.get("storage_medium").map(|m| m.trim().to_ascii_lowercase()).as_deref() {
        Some("hdd") => Some(StorageMedium::Hdd),
        Some("ssd") => Some(StorageMedium::Ssd),
        _ => None,
    };
    let commit = RestoreCommit {
        replica_allocation: if reserve_replica { None } else { given.clone() },
        reserve_replica,
        storage_medium,
        medium_allocation_mode: p.get("medium_allocation_mode").map(|m| m.trim().to_ascii_lowercase()),
        reserve_dynamic_partition_enable: is_true(p, "reserve_dynamic_partition_enable"),
        is_being_synced: is_true(p, "is_being_synced"),
        atomic_replace: is_true(p, "atomic_restore"),
    };
    let s = RestoreSettings {
        allocation: given.unwrap_or_else(|| ReplicaAllocation::default_tag(3)),
        force_replace: is_true(p, "force_replace"),
        clean_tables: is_true(p, "clean_tables"),
        clean_partitions: is_true(p, "clean_partitions"),
        commit,
    };
    let mut needs: Vec<(&str, HostFeature)> = Vec::new();
    if s.clean_tables {
        needs.push(("clean_tables", HostFeature::DropTables));
    }
    if s.clean_partitions {
        needs.push(("clean_partitions", HostFeature::DropPartitions));
    }
    if s.commit.atomic_replace {
        needs.push(("atomic_restore", HostFeature::AtomicReplace));
    }
    if s.force_replace {
        // Without schema identities no difference can be seen, so there would be nothing to force.
        needs.push(("force_replace", HostFeature::SchemaIdentity));
    }
    if s.commit.has_properties() {
        let named = [
            "replication_num",
            "replication_allocation",
            "reserve_replica",
            "storage_medium",
            "medium_allocation_mode",
            "reserve_dynamic_partition_enable",
            "is_being_synced",
        ];
        let key = named.iter().find(|k| p.get(k).is_some()).copied().unwrap_or("replication_num");
        needs.push((key, HostFeature::CommitProperties));
    }
    for (key, feature) in needs {
        if !host.supports(feature) {
            return Err(analysis(format!(
                "Property {key} is not supported by this host: it needs {}",
                feature.describe()
            )));
        }
    }
    Ok(s)
}

/// Whether the existing table `target` of `database` has another schema than the snapshot's table `source`,
/// where the host can tell (both fingerprints known).
pub(super) fn schema_differs(
    host: &dyn Host,
    database: &str,
    metadata: &[u8],
    target: &str,
    source: &str,
) -> Result<bool> {
    if !host.supports(HostFeature::SchemaIdentity) {
        return Ok(false);
    }
    let live = host.schema_identity(database, target)?;
    let snap = host.snapshot_schema_identity(metadata, source)?;
    Ok(matches!((live, snap), (Some(a), Some(b)) if a != b))
}
