//! The names a snapshot must not repeat across the windows of its manifest (tables and views together,
//! partitions in their table, indexes in their partition, tablet ids in their table), walked in manifest order,
//! and the 8-byte digests [`super::window::Windows`] checks them by; a tablet directory's digest as well.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::format::TabletEntry;
use crate::tree::Tree;

/// A name that must be unique where it is: tables and views together, partitions in their table, indexes in
/// their partition, tablet ids in their table.
#[derive(Clone, Copy)]
pub(super) enum Name<'a> {
    Table(&'a str),
    View(&'a str),
    Partition(&'a str, &'a str),
    Index(&'a str, &'a str, &'a str),
    Tablet(&'a str, &'a str),
}

impl Name<'_> {
    /// The namespace and the names that make it unique (tables and views share one).
    fn parts(&self) -> (u8, Vec<&str>) {
        match *self {
            Name::Table(t) | Name::View(t) => (0, vec![t]),
            Name::Partition(t, p) => (1, vec![t, p]),
            Name::Index(t, p, i) => (2, vec![t, p, i]),
            Name::Tablet(t, id) => (3, vec![t, id]),
        }
    }

    pub(super) fn digest(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.parts().hash(&mut h);
        h.finish()
    }

    pub(super) fn owned(&self) -> (u8, Vec<String>) {
        let (ns, names) = self.parts();
        (ns, names.into_iter().map(str::to_owned).collect())
    }

    /// What [`Manifest::check`] says of this name repeated.
    pub(super) fn message(&self) -> String {
        match *self {
            Name::Table(t) => format!("table {t:?} appears twice"),
            Name::View(v) => format!("view {v:?} appears twice"),
            Name::Partition(t, p) => format!("table {t} partition {p:?} appears twice"),
            Name::Index(t, p, i) => format!("table {t} partition {p} index {i:?} appears twice"),
            Name::Tablet(t, id) => format!("table {t} tablet {id:?} appears twice"),
        }
    }
}

/// The last table, partition and index of the windows walked so far: a window's first nodes continue them
/// when their names are equal.
#[derive(Default)]
pub(super) struct Last {
    table: Option<String>,
    partition: Option<String>,
    index: Option<String>,
}

/// Hands every name of `tables` to `each`, in manifest order, but for the nodes that continue `last`; then
/// makes `last` this window's last nodes.
pub(super) fn walk(tables: &Tree<TabletEntry>, last: &mut Last, each: &mut dyn FnMut(Name<'_>)) {
    for (ti, t) in tables.iter().enumerate() {
        let same_t = ti == 0 && last.table.as_deref() == Some(t.name.as_str());
        if !same_t {
            each(Name::Table(&t.name));
        }
        for (pi, p) in t.partitions.iter().enumerate() {
            let same_p = same_t && pi == 0 && last.partition.as_deref() == Some(p.name.as_str());
            if !same_p {
                each(Name::Partition(&t.name, &p.name));
            }
            for (ii, i) in p.indexes.iter().enumerate() {
                if !(same_p && ii == 0 && last.index.as_deref() == Some(i.name.as_str())) {
                    each(Name::Index(&t.name, &p.name, &i.name));
                }
                for tablet in &i.tablets {
                    each(Name::Tablet(&t.name, &tablet.id));
                }
            }
        }
    }
    if let Some(t) = tables.last() {
        let p = t.partitions.last();
        *last = Last {
            table: Some(t.name.clone()),
            partition: p.map(|p| p.name.clone()),
            index: p.and_then(|p| p.indexes.last()).map(|i| i.name.clone()),
        };
    }
}

/// The digest of a directory, equal for paths that are equal as [`std::path::Path`]s are (by components).
pub(crate) fn path_digest(path: &std::path::Path) -> u64 {
    let mut h = DefaultHasher::new();
    for c in path.components() {
        c.hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{self, IndexEntry, PartitionEntry, TableEntry};
    use crate::pack::repeats::RepeatFilter;

    fn tree(nodes: &[(&str, &str, &str, &[&str])]) -> Tree<TabletEntry> {
        let mut t = Tree::new();
        for (table, part, index, ids) in nodes {
            let tablets = ids.iter().map(|id| TabletEntry { id: (*id).into(), files: Vec::new() }).collect();
            let node =
                TableEntry::new(*table, vec![PartitionEntry::new(*part, vec![IndexEntry::new(*index, tablets)])]);
            format::join(&mut t, Tree::from(vec![node]));
        }
        t
    }

    fn names(windows: &[Tree<TabletEntry>]) -> Vec<String> {
        let mut last = Last::default();
        let mut out = Vec::new();
        for w in windows {
            walk(w, &mut last, &mut |n| out.push(n.message()));
        }
        out
    }

    #[test]
    fn a_node_continued_in_the_next_window_is_named_once_and_a_repeat_is_found() {
        let a = tree(&[("t", "p1", "t", &["1", "2"])]);
        let b = tree(&[("t", "p1", "t", &["3"]), ("t", "p2", "t", &["4"]), ("u", "p1", "u", &["1"])]);
        let walked = names(&[a.clone(), b.clone()]);
        assert_eq!(walked.iter().filter(|n| n.starts_with("table \"t\"")).count(), 1, "{walked:?}");
        assert_eq!(walked.iter().filter(|n| n.contains("partition \"p1\"")).count(), 2, "t.p1 and u.p1: {walked:?}");
        // Both readings, as Windows::first_reading and Windows::settle make them.
        let digests = |ws: &[Tree<TabletEntry>]| {
            let (mut filter, mut last) = (RepeatFilter::new(10), Last::default());
            for w in ws {
                walk(w, &mut last, &mut |n| filter.add(n.digest()));
            }
            let (mut suspects, mut last) = (filter.into_suspects(), Last::default());
            for w in ws {
                walk(w, &mut last, &mut |n| suspects.count(n.digest()));
            }
            suspects.repeated()
        };
        assert!(digests(&[a.clone(), b]).is_empty());
        // Partition p1 of t again after p2 (not continuing it), its index and tablet 2 with it.
        let c = tree(&[("t", "p1", "t", &["2"])]);
        let mid = tree(&[("t", "p2", "t", &["5"])]);
        assert_eq!(digests(&[a, mid, c]).len(), 3);
    }

    #[test]
    fn paths_equal_by_components_have_one_digest() {
        use std::path::Path;
        assert_eq!(path_digest(Path::new("/r/t/1")), path_digest(Path::new("/r/t/1/")));
        assert_ne!(path_digest(Path::new("/r/t/1")), path_digest(Path::new("/r/t/2")));
    }
}
