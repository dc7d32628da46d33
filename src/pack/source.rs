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
    Index(&'a IndexNode<T>),
    Tablet(Place<'a>, &'a T),
}

/// Every node of `tree` in order: a table, then each partition followed by its indexes, each followed by its
/// tablets.
fn nodes<T>(tree: &Tree<T>) -> impl Iterator<Item = Node<'_, T>> {
    tree.iter().flat_map(|t| {
        std::iter::once(Node::Table(t)).chain(t.partitions.iter().flat_map(move |p| {
            std::iter::once(Node::Partition(p)).chain(p.indexes.iter().flat_map(move |i| {
                let place = Place { table: &t.name, partition: &p.name, index: &i.name };
                std::iter::once(Node::Index(i)).chain(i.tablets.iter().map(move |tablet| Node::Tablet(place, tablet)))
            }))
        }))
    })
}

/// A tree cut into runs of nodes holding a given number of tablets each.
pub(crate) struct Batches<'a, T: 'a> {
    nodes: std::iter::Peekable<Box<dyn Iterator<Item = Node<'a, T>> + 'a>>,
}

impl<'a, T> Batches<'a, T> {
    pub(crate) fn new(tree: &'a Tree<T>) -> Batches<'a, T> {
        let all: Box<dyn Iterator<Item = Node<'a, T>> + 'a> = Box::new(nodes(tree));
        Batches { nodes: all.peekable() }
    }

    /// The next run of nodes, with at most `tablets` tablets (at least one when any is left); the last run takes
    /// the nodes after the last tablet. `None` when every node has been handed out.
    pub(crate) fn next(&mut self, tablets: usize) -> Option<Vec<Node<'a, T>>> {
        self.nodes.peek()?;
        let mut out = Vec::new();
        let mut n = 0;
        while let Some(node) = self.nodes.peek() {
            if matches!(node, Node::Tablet(..)) {
                if n >= tablets.max(1) {
                    break;
                }
                n += 1;
            }
            out.extend(self.nodes.next());
        }
        Some(out)
    }
}

/// The tablets of a run of nodes, in order.
pub(crate) fn tablets_of<'a, T>(nodes: &[Node<'a, T>]) -> Vec<(Place<'a>, &'a T)> {
    nodes.iter().filter_map(|n| if let Node::Tablet(p, t) = n { Some((*p, *t)) } else { None }).collect()
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
                Node::Index(i) => format!("I{}", i.name),
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
        let mut b = Batches::new(&tree);
        let runs: Vec<String> = std::iter::from_fn(|| b.next(2)).map(|r| kinds(&r)).collect();
        assert_eq!(runs, ["Ta Pp Ia 1 2", "3 Ir Pq Tb Pp Ib 4 Tc"]);
        let empty: Tree<u32> = Tree::new();
        assert!(Batches::new(&empty).next(5).is_none());
        let mut one = Batches::new(&tree);
        assert_eq!(one.next(0).map(|r| kinds(&r)).as_deref(), Some("Ta Pp Ia 1"));
    }
}
