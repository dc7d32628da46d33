//! What a backup takes, a batch of tablets at a time: the tree of tables, partitions, indexes and tablets, and
//! the directories of a batch's tablets, asked for just before the batch is packed and given back right after
//! ([`Tablets::open`], [`Tablets::done`]). A backup of a million tablets then holds one batch's directories,
//! file lists and chunk lists at a time, and a host pins one batch of snapshots at a time.

use std::path::PathBuf;

use super::{BackupSource, TabletSource};
use crate::tree::{IndexNode, PartitionNode, Place, TableNode, Tree};
use crate::{Error, ErrorKind, Result};

/// A backup's tablets and where their files are.
pub(crate) trait Tablets: Sync {
    /// A tablet of [`Tablets::tree`].
    type Tablet: Sync;
    /// The database.
    fn database(&self) -> &str;
    /// The tables, partitions, indexes and tablets, in manifest order.
    fn tree(&self) -> &Tree<Self::Tablet>;
    /// A tablet's id.
    fn id(tablet: &Self::Tablet) -> &str;
    /// The host's metadata blob, stored with the snapshot as it is.
    fn host_metadata(&self) -> &[u8];
    /// The views backed up: name and definition.
    fn views(&self) -> &[(String, String)];
    /// Whether the snapshot records no file (`"content" = "metadata_only"`).
    fn metadata_only(&self) -> bool;
    /// The directories holding the files of `batch`, in its order; their files must not change until
    /// [`Tablets::done`]. Called for batches in tree order, each after the previous one's `done`.
    ///
    /// # Errors
    /// When the directories cannot be had (a host's snapshot failed).
    fn open(&self, batch: &[(Place<'_>, &Self::Tablet)]) -> Result<Vec<PathBuf>>;
    /// Every file of the batch last opened is read.
    fn done(&self);
    /// The tablets of the index at `place`, whose list in [`Tablets::tree`] is empty, when the source lists an
    /// index's tablets on demand (then the tree leaves them out, and a backup holds one index's list at a time
    /// instead of every tablet's); `None` when the tree's list is the index's.
    ///
    /// # Errors
    /// When the tablets cannot be listed.
    fn index_tablets(&self, place: Place<'_>) -> Result<Option<Vec<Self::Tablet>>> {
        let _ = place;
        Ok(None)
    }
}

impl Tablets for BackupSource {
    type Tablet = TabletSource;

    fn database(&self) -> &str {
        &self.database
    }

    fn tree(&self) -> &Tree<TabletSource> {
        &self.tables
    }

    fn id(tablet: &TabletSource) -> &str {
        &tablet.id
    }

    fn host_metadata(&self) -> &[u8] {
        &self.host_metadata
    }

    fn views(&self) -> &[(String, String)] {
        &self.views
    }

    fn metadata_only(&self) -> bool {
        self.metadata_only
    }

    fn open(&self, batch: &[(Place<'_>, &TabletSource)]) -> Result<Vec<PathBuf>> {
        Ok(batch.iter().map(|(_, t)| t.dir.clone()).collect())
    }

    fn done(&self) {}
}

/// A node of a tree, as [`Batches`] hands them out in tree order.
pub(crate) enum Node<'a, T> {
    Table(&'a TableNode<T>),
    Partition(&'a PartitionNode<T>),
    Index(Place<'a>, &'a IndexNode<T>),
    Tablet(Place<'a>, Listed<'a, T>),
}

/// A tablet of the tree, or one its index listed on demand ([`Tablets::index_tablets`]).
pub(crate) enum Listed<'a, T> {
    InTree(&'a T),
    OnDemand(T),
}

impl<T> std::ops::Deref for Listed<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            Listed::InTree(t) => t,
            Listed::OnDemand(t) => t,
        }
    }
}

/// Every node of `tree` in order: a table, then each partition followed by its indexes, each followed by its
/// tablets.
fn nodes<T>(tree: &Tree<T>) -> impl Iterator<Item = Node<'_, T>> {
    tree.iter().flat_map(|t| {
        std::iter::once(Node::Table(t)).chain(t.partitions.iter().flat_map(move |p| {
            std::iter::once(Node::Partition(p)).chain(p.indexes.iter().flat_map(move |i| {
                let place = Place { table: &t.name, partition: &p.name, index: &i.name };
                std::iter::once(Node::Index(place, i))
                    .chain(i.tablets.iter().map(move |tablet| Node::Tablet(place, Listed::InTree(tablet))))
            }))
        }))
    })
}

/// The tablets of an index with an empty list in the tree, listed on demand: `None` when the list is the
/// index's ([`Tablets::index_tablets`]).
pub(crate) type ListIndex<'s, T> = dyn Fn(Place<'_>) -> Result<Option<Vec<T>>> + 's;

/// A tree cut into runs of nodes holding a given number of tablets each.
pub(crate) struct Batches<'a, T: 'a> {
    nodes: std::iter::Peekable<Box<dyn Iterator<Item = Node<'a, T>> + 'a>>,
    /// The tablets of the last index handed out that were listed on demand and not handed out yet.
    listed: Option<(Place<'a>, std::vec::IntoIter<T>)>,
}

impl<'a, T> Batches<'a, T> {
    pub(crate) fn new(tree: &'a Tree<T>) -> Batches<'a, T> {
        let all: Box<dyn Iterator<Item = Node<'a, T>> + 'a> = Box::new(nodes(tree));
        Batches { nodes: all.peekable(), listed: None }
    }

    /// The next run of nodes, with at most `tablets` tablets (at least one when any is left); the last run takes
    /// the nodes after the last tablet. An index whose list in the tree is empty gets its tablets from `list`
    /// when it is reached. `None` when every node has been handed out.
    ///
    /// # Errors
    /// Those of `list`.
    pub(crate) fn next(&mut self, tablets: usize, list: &ListIndex<'_, T>) -> Result<Option<Vec<Node<'a, T>>>> {
        let mut out = Vec::new();
        let mut n = 0;
        loop {
            if let Some((place, rest)) = &mut self.listed {
                if rest.len() > 0 {
                    if n >= tablets.max(1) {
                        break;
                    }
                    n += 1;
                    out.extend(rest.next().map(|t| Node::Tablet(*place, Listed::OnDemand(t))));
                    continue;
                }
                self.listed = None;
            }
            let Some(node) = self.nodes.peek() else { break };
            if matches!(node, Node::Tablet(..)) {
                if n >= tablets.max(1) {
                    break;
                }
                n += 1;
            }
            let Some(node) = self.nodes.next() else { break };
            if let Node::Index(place, i) = &node
                && i.tablets.is_empty()
                && let Some(listed) = list(*place)?
            {
                self.listed = Some((*place, listed.into_iter()));
            }
            out.push(node);
        }
        Ok(if out.is_empty() { None } else { Some(out) })
    }
}

/// The tablets of a run of nodes, in order.
pub(crate) fn tablets_of<'n, 'a, T>(nodes: &'n [Node<'a, T>]) -> Vec<(Place<'a>, &'n T)> {
    nodes.iter().filter_map(|n| if let Node::Tablet(p, t) = n { Some((*p, &**t)) } else { None }).collect()
}

/// Fails unless a batch of `tablets` tablets got as many directories.
pub(crate) fn check_directories(dirs: usize, tablets: usize) -> Result<()> {
    if dirs == tablets {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Callback,
            format!("the host's snapshot returned {dirs} directories for {tablets} tablets"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{IndexNode, PartitionNode, TableNode};

    fn kinds(nodes: &[Node<'_, u32>]) -> String {
        nodes
            .iter()
            .map(|n| match n {
                Node::Table(t) => format!("T{}", t.name),
                Node::Partition(p) => format!("P{}", p.name),
                Node::Index(_, i) => format!("I{}", i.name),
                Node::Tablet(_, t) => t.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn batches_cut_before_a_tablet_and_keep_empty_nodes() {
        let tree = Tree::from(vec![
            TableNode::new(
                "a",
                vec![
                    PartitionNode::new("p", vec![IndexNode::new("a", vec![1, 2, 3]), IndexNode::new("r", vec![])]),
                    PartitionNode::new("q", vec![]),
                ],
            ),
            TableNode::new("b", vec![PartitionNode::new("p", vec![IndexNode::new("b", vec![4])])]),
            TableNode::new("c", vec![]),
        ]);
        let none = |_: Place<'_>| Ok(None);
        let mut b = Batches::new(&tree);
        let runs: Vec<String> = std::iter::from_fn(|| b.next(2, &none).unwrap()).map(|r| kinds(&r)).collect();
        assert_eq!(runs, ["Ta Pp Ia 1 2", "3 Ir Pq Tb Pp Ib 4 Tc"]);
        let empty: Tree<u32> = Tree::new();
        assert!(Batches::new(&empty).next(5, &none).unwrap().is_none());
        let mut one = Batches::new(&tree);
        assert_eq!(one.next(0, &none).unwrap().map(|r| kinds(&r)).as_deref(), Some("Ta Pp Ia 1"));

        // Indexes with empty lists listed on demand, when they are reached, in the same runs.
        let listed = Tree::from(vec![
            TableNode::new(
                "a",
                vec![
                    PartitionNode::new("p", vec![IndexNode::new("a", vec![]), IndexNode::new("r", vec![])]),
                    PartitionNode::new("q", vec![]),
                ],
            ),
            TableNode::new("b", vec![PartitionNode::new("p", vec![IndexNode::new("b", vec![])])]),
            TableNode::new("c", vec![]),
        ]);
        let asked = std::cell::RefCell::new(Vec::new());
        let list = |p: Place<'_>| {
            asked.borrow_mut().push(format!("{}.{}.{}", p.table, p.partition, p.index));
            Ok(Some(match (p.table, p.index) {
                ("a", "a") => vec![1, 2, 3],
                ("b", _) => vec![4],
                _ => vec![],
            }))
        };
        let mut b = Batches::new(&listed);
        let first = b.next(2, &list).unwrap().map(|r| kinds(&r));
        assert_eq!(first.as_deref(), Some("Ta Pp Ia 1 2"));
        assert_eq!(*asked.borrow(), ["a.p.a"], "an index is listed when the batches reach it");
        let rest: Vec<String> = std::iter::from_fn(|| b.next(2, &list).unwrap()).map(|r| kinds(&r)).collect();
        assert_eq!(rest, ["3 Ir Pq Tb Pp Ib 4 Tc"]);
        assert_eq!(*asked.borrow(), ["a.p.a", "a.p.r", "b.p.b"]);
        let failing = |_: Place<'_>| Err(Error::new(ErrorKind::Callback, "cannot list"));
        assert!(Batches::new(&listed).next(2, &failing).is_err());
    }
}
