//! The directory host's `_table.json`, and how a RESTORE's properties change it.

use serde::{Deserialize, Serialize};

use crate::host::RestoreCommit;

/// The optional `_table.json` of a table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Description {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) rollups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) temporary_partitions: Vec<String>,
    /// A fingerprint of the table's schema: a restore into the table needs the snapshot's to be the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) schema: Option<String>,
    /// Doris's `tag.location.default: 3` form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) replication_allocation: Option<String>,
    /// `hdd` or `ssd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) storage_medium: Option<String>,
    /// `strict` or `adaptive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) medium_allocation_mode: Option<String>,
    /// `dynamic_partition.enable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) dynamic_partition_enable: Option<bool>,
    /// A view's definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) definition: Option<String>,
    /// Set on a table a CCR syncer restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) is_being_synced: Option<bool>,
}

/// The description of `table` in a snapshot's metadata blob (what `DirHost::metadata` wrote).
pub(super) fn from_metadata(metadata: &[u8], table: &str) -> Option<Description> {
    let all: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(metadata).ok()?;
    serde_json::from_value(all.get(table)?.clone()).ok()
}

/// The JSON of `d`, or `None` when it says nothing.
pub(super) fn encode(d: &Description) -> Option<Vec<u8>> {
    if *d == Description::default() { None } else { serde_json::to_vec_pretty(d).ok() }
}

/// `base` (the description the restored table starts from) with the RESTORE properties applied; `source` is
/// the table's description in the snapshot.
///
/// - replica allocation: the snapshot's with `reserve_replica`, else the statement's when it gives one;
/// - storage medium: the statement's, else the snapshot's (`same_with_upstream`); the medium allocation mode
///   when given;
/// - dynamic partitioning: turned off unless `reserve_dynamic_partition_enable` keeps the snapshot's, as Doris;
/// - `is_being_synced`: set when asked.
pub(super) fn apply(mut base: Description, source: Option<&Description>, o: &RestoreCommit) -> Description {
    let upstream = source.cloned().unwrap_or_default();
    if o.reserve_replica {
        base.replication_allocation = upstream.replication_allocation.clone();
    } else if let Some(a) = &o.replica_allocation {
        base.replication_allocation = Some(a.to_string());
    }
    match o.storage_medium {
        Some(m) => base.storage_medium = Some(m.name().to_owned()),
        None if upstream.storage_medium.is_some() => base.storage_medium = upstream.storage_medium.clone(),
        None => {}
    }
    if let Some(mode) = &o.medium_allocation_mode {
        base.medium_allocation_mode = Some(mode.to_ascii_lowercase());
    }
    if o.reserve_dynamic_partition_enable {
        base.dynamic_partition_enable = upstream.dynamic_partition_enable;
    } else if base.dynamic_partition_enable == Some(true) || upstream.dynamic_partition_enable == Some(true) {
        base.dynamic_partition_enable = Some(false);
    }
    if o.is_being_synced {
        base.is_being_synced = Some(true);
    }
    base
}
