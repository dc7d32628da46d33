//! What the optional parts of the host contract carry: the features a host may implement, and the RESTORE
//! properties a host applies when it commits a restored table.

use std::fmt;

use crate::{Error, ErrorKind};

/// An optional part of the [`super::Host`] contract. A statement whose properties need a feature the host
/// lacks is refused at analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostFeature {
    /// [`super::Host::schema_identity`] and [`super::Host::snapshot_schema_identity`]: a restore into an
    /// existing table checks the schemas match (RESTORE `force_replace` needs it).
    SchemaIdentity,
    /// [`super::Host::drop_table`]: RESTORE `clean_tables`.
    DropTables,
    /// [`super::Host::drop_partitions`]: RESTORE `clean_partitions`.
    DropPartitions,
    /// [`super::Host::commit_restore_with`] with [`RestoreCommit::atomic_replace`]: RESTORE `atomic_restore`.
    AtomicReplace,
    /// [`super::Host::commit_restore_with`] with the table properties of [`RestoreCommit`]: RESTORE
    /// `replication_num`, `replication_allocation`, `reserve_replica`, `storage_medium`,
    /// `medium_allocation_mode`, `reserve_dynamic_partition_enable`, `is_being_synced`.
    CommitProperties,
    /// [`super::Host::view_definition`] and [`super::Host::create_view`]: views are backed up (their
    /// definitions, with the snapshot) and restored, as Doris 2.x does.
    Views,
    /// [`super::Host::index_tablets`]: [`super::Host::tables`] may leave an index's tablets out (an empty list)
    /// and a backup lists them an index at a time, so that it never holds a catalog of a million tablets.
    IndexTablets,
}

impl HostFeature {
    /// What the feature is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            HostFeature::SchemaIdentity => "schema identities of tables",
            HostFeature::DropTables => "dropping tables",
            HostFeature::DropPartitions => "dropping partitions",
            HostFeature::AtomicReplace => "replacing a table atomically",
            HostFeature::CommitProperties => "table properties on restore",
            HostFeature::Views => "views",
            HostFeature::IndexTablets => "listing an index's tablets on demand",
        }
    }
}

/// The error of an optional host method the host does not implement.
pub fn unsupported(what: &str) -> Error {
    Error::new(ErrorKind::Analysis, format!("{what} is not supported by this host"))
}

/// A replica allocation, Doris's `tag.location.<tag>: <n>[, …]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaAllocation {
    /// `(tag, replicas)`, in the order given.
    pub tags: Vec<(String, u16)>,
}

impl ReplicaAllocation {
    /// `n` replicas on the default tag (what `replication_num` means).
    pub fn default_tag(n: u16) -> ReplicaAllocation {
        ReplicaAllocation { tags: vec![("default".into(), n)] }
    }

    /// Parses `tag.location.default: 3, tag.location.g1: 1`.
    ///
    /// # Errors
    /// Doris's "Invalid replication allocation property: …" for anything else.
    pub fn parse(text: &str) -> std::result::Result<ReplicaAllocation, String> {
        let bad = || format!("Invalid replication allocation property: {text}");
        let mut tags: Vec<(String, u16)> = Vec::new();
        for item in text.split(',') {
            let (key, n) = item.split_once(':').ok_or_else(bad)?;
            let tag = key.trim().strip_prefix("tag.location.").ok_or_else(bad)?;
            let n: u16 = n.trim().parse().map_err(|_| bad())?;
            if tag.is_empty() || tags.iter().any(|(t, _)| t == tag) {
                return Err(bad());
            }
            tags.push((tag.to_owned(), n));
        }
        if tags.iter().map(|(_, n)| u32::from(*n)).sum::<u32>() == 0 {
            return Err(bad());
        }
        Ok(ReplicaAllocation { tags })
    }

    /// The total number of replicas (SHOW RESTORE's ReplicationNum).
    pub fn total(&self) -> u32 {
        self.tags.iter().map(|(_, n)| u32::from(*n)).sum()
    }
}

impl fmt::Display for ReplicaAllocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (tag, n)) in self.tags.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "tag.location.{tag}: {n}")?;
        }
        Ok(())
    }
}

/// RESTORE `storage_medium` (`same_with_upstream` is the absence of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageMedium {
    /// `hdd`.
    Hdd,
    /// `ssd`.
    Ssd,
}

impl StorageMedium {
    /// `hdd` or `ssd`.
    pub fn name(self) -> &'static str {
        match self {
            StorageMedium::Hdd => "hdd",
            StorageMedium::Ssd => "ssd",
        }
    }
}

/// The RESTORE properties a host applies to a table it commits ([`super::Host::commit_restore_with`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreCommit {
    /// `replication_num` / `replication_allocation`, when the statement gives one (and not `reserve_replica`).
    pub replica_allocation: Option<ReplicaAllocation>,
    /// `reserve_replica`: keep the snapshot's replica allocation.
    pub reserve_replica: bool,
    /// `storage_medium`; `None` keeps the snapshot's (`same_with_upstream`).
    pub storage_medium: Option<StorageMedium>,
    /// `medium_allocation_mode`: `strict` or `adaptive`, when given.
    pub medium_allocation_mode: Option<String>,
    /// `reserve_dynamic_partition_enable`: keep the snapshot's dynamic partitioning switch (else it is turned
    /// off in the restored table, as Doris does).
    pub reserve_dynamic_partition_enable: bool,
    /// `is_being_synced`: mark the restored table as a CCR sync target.
    pub is_being_synced: bool,
    /// `atomic_restore`: the restored table replaces the existing one whole, in one step.
    pub atomic_replace: bool,
}

impl RestoreCommit {
    /// Whether any table property is asked for ([`HostFeature::CommitProperties`]).
    pub fn has_properties(&self) -> bool {
        self.replica_allocation.is_some()
            || self.reserve_replica
            || self.storage_medium.is_some()
            || self.medium_allocation_mode.is_some()
            || self.reserve_dynamic_partition_enable
            || self.is_being_synced
    }

    /// The features committing with these options needs.
    pub fn needs(&self) -> Vec<HostFeature> {
        let mut out = Vec::new();
        if self.has_properties() {
            out.push(HostFeature::CommitProperties);
        }
        if self.atomic_replace {
            out.push(HostFeature::AtomicReplace);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_allocations_parse_and_print_as_doris() {
        let a = ReplicaAllocation::parse("tag.location.default: 1, tag.location.g2:2").unwrap();
        assert_eq!(a.total(), 3);
        assert_eq!(a.to_string(), "tag.location.default: 1, tag.location.g2: 2");
        assert_eq!(ReplicaAllocation::default_tag(3).to_string(), "tag.location.default: 3");
        for bad in ["3", "tag.location.default", "location.default: 1", "tag.location.default: x", "tag.location.a: 0"]
        {
            assert_eq!(
                ReplicaAllocation::parse(bad).unwrap_err(),
                format!("Invalid replication allocation property: {bad}")
            );
        }
    }
}
