//! The tablet tree: tables → partitions → indexes → tablets, one generic shape for every layer that holds one.
//!
//! The host's catalog is a `Tree<TabletInfo>`, a backup's input a `Tree<TabletSource>`, a manifest's content a
//! `Tree<TabletEntry>`; the names in `host`, `pack` and `format` (`TableInfo`, `TableSource`, `TableEntry`, …)
//! are aliases of these types. Moving from one layer to the next is a [`Tree::map`] or [`Tree::try_map`];
//! building one tablet at a time is [`Tree::insert`], the one find-or-insert.

use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Serialize};

/// The kind of a table. Only OLAP tables hold tablets tabsnap backs up.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TableKind {
    /// A table of tablets.
    #[default]
    Olap,
    /// A view (metadata only).
    View,
    /// An asynchronous materialized view (skipped, as Doris does).
    AsyncMaterializedView,
    /// Anything else (external, ODBC, …), named.
    Other(String),
}

impl TableKind {
    /// An OLAP table (the only kind a manifest records).
    pub fn is_olap(&self) -> bool {
        *self == TableKind::Olap
    }
}

/// A table and its partitions. In a manifest only OLAP tables appear, and `kind` is not written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableNode<T> {
    /// The table's name.
    pub name: String,
    /// Its kind (OLAP unless the host says otherwise).
    #[serde(default, skip_serializing_if = "TableKind::is_olap")]
    pub kind: TableKind,
    /// Its partitions (none for tables that are not OLAP tables).
    pub partitions: Vec<PartitionNode<T>>,
}

/// A partition and its indexes, the base index first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionNode<T> {
    /// The partition's name.
    pub name: String,
    /// A temporary partition (Doris refuses to back up tables that have one; never in a manifest).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub temporary: bool,
    /// Its indexes, base first.
    pub indexes: Vec<IndexNode<T>>,
}

/// An index of a partition (the base index, named after the table, or a rollup / synchronous MV) and its tablets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexNode<T> {
    /// The index's name.
    pub name: String,
    /// Its tablets.
    pub tablets: Vec<T>,
}

impl<T> TableNode<T> {
    /// An OLAP table.
    pub fn new(name: impl Into<String>, partitions: Vec<PartitionNode<T>>) -> TableNode<T> {
        TableNode { name: name.into(), kind: TableKind::Olap, partitions }
    }
}

impl<T> PartitionNode<T> {
    /// A (not temporary) partition.
    pub fn new(name: impl Into<String>, indexes: Vec<IndexNode<T>>) -> PartitionNode<T> {
        PartitionNode { name: name.into(), temporary: false, indexes }
    }
}

impl<T> IndexNode<T> {
    /// An index.
    pub fn new(name: impl Into<String>, tablets: Vec<T>) -> IndexNode<T> {
        IndexNode { name: name.into(), tablets }
    }
}

/// Where a tablet sits: its table, partition and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place<'a> {
    /// The table.
    pub table: &'a str,
    /// The partition.
    pub partition: &'a str,
    /// The index.
    pub index: &'a str,
}

/// Tables in order, each with its partitions, indexes and tablets. Dereferences to the list of tables; encoded
/// as that list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tree<T>(Vec<TableNode<T>>);

impl<T> Default for Tree<T> {
    fn default() -> Self {
        Tree(Vec::new())
    }
}

impl<T> Deref for Tree<T> {
    type Target = Vec<TableNode<T>>;
    fn deref(&self) -> &Vec<TableNode<T>> {
        &self.0
    }
}

impl<T> DerefMut for Tree<T> {
    fn deref_mut(&mut self) -> &mut Vec<TableNode<T>> {
        &mut self.0
    }
}

impl<T> From<Vec<TableNode<T>>> for Tree<T> {
    fn from(tables: Vec<TableNode<T>>) -> Tree<T> {
        Tree(tables)
    }
}

impl<T> From<Tree<T>> for Vec<TableNode<T>> {
    fn from(tree: Tree<T>) -> Vec<TableNode<T>> {
        tree.0
    }
}

impl<T> FromIterator<TableNode<T>> for Tree<T> {
    fn from_iter<I: IntoIterator<Item = TableNode<T>>>(iter: I) -> Tree<T> {
        Tree(iter.into_iter().collect())
    }
}

impl<T> IntoIterator for Tree<T> {
    type Item = TableNode<T>;
    type IntoIter = std::vec::IntoIter<TableNode<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Tree<T> {
    type Item = &'a TableNode<T>;
    type IntoIter = std::slice::Iter<'a, TableNode<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> Tree<T> {
    /// An empty tree.
    pub fn new() -> Tree<T> {
        Tree(Vec::new())
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&TableNode<T>> {
        self.0.iter().find(|t| t.name == name)
    }

    /// Every tablet with its place, in tree order.
    pub fn tablets(&self) -> impl Iterator<Item = (Place<'_>, &T)> {
        self.0.iter().flat_map(|t| {
            t.partitions.iter().flat_map(move |p| {
                p.indexes.iter().flat_map(move |i| {
                    let place = Place { table: &t.name, partition: &p.name, index: &i.name };
                    i.tablets.iter().map(move |tb| (place, tb))
                })
            })
        })
    }

    /// How many tablets the tree holds.
    pub fn tablet_count(&self) -> usize {
        self.indexes().map(|(_, i)| i.tablets.len()).sum()
    }

    /// Every index with its place (`Place::index` is the index's own name).
    pub fn indexes(&self) -> impl Iterator<Item = (Place<'_>, &IndexNode<T>)> {
        self.0.iter().flat_map(|t| {
            t.partitions.iter().flat_map(move |p| {
                p.indexes.iter().map(move |i| (Place { table: &t.name, partition: &p.name, index: &i.name }, i))
            })
        })
    }

    /// The same tree with every tablet mapped; tables, partitions and indexes keep their names and attributes.
    pub fn map<U>(&self, mut f: impl FnMut(Place<'_>, &T) -> U) -> Tree<U> {
        match self.try_map(|place, t| Ok::<U, std::convert::Infallible>(f(place, t))) {
            Ok(tree) => tree,
            Err(never) => match never {},
        }
    }

    /// As [`Tree::map`], stopping at the first error.
    ///
    /// # Errors
    /// The first error `f` returns.
    pub fn try_map<U, E>(&self, mut f: impl FnMut(Place<'_>, &T) -> Result<U, E>) -> Result<Tree<U>, E> {
        let mut tables = Vec::with_capacity(self.0.len());
        for t in &self.0 {
            let mut partitions = Vec::with_capacity(t.partitions.len());
            for p in &t.partitions {
                let mut indexes = Vec::with_capacity(p.indexes.len());
                for i in &p.indexes {
                    let place = Place { table: &t.name, partition: &p.name, index: &i.name };
                    let tablets = i.tablets.iter().map(|tb| f(place, tb)).collect::<Result<Vec<U>, E>>()?;
                    indexes.push(IndexNode { name: i.name.clone(), tablets });
                }
                partitions.push(PartitionNode { name: p.name.clone(), temporary: p.temporary, indexes });
            }
            tables.push(TableNode { name: t.name.clone(), kind: t.kind.clone(), partitions });
        }
        Ok(Tree(tables))
    }

    /// Keeps the tablets for which `keep` is true; then drops the indexes, partitions and tables left without a
    /// tablet (those that had none to begin with stay).
    pub fn retain(&mut self, mut keep: impl FnMut(Place<'_>, &T) -> bool) {
        self.0.retain_mut(|t| {
            let had_partitions = !t.partitions.is_empty();
            t.partitions.retain_mut(|p| {
                let had_indexes = !p.indexes.is_empty();
                p.indexes.retain_mut(|i| {
                    let had = !i.tablets.is_empty();
                    let place = Place { table: &t.name, partition: &p.name, index: &i.name };
                    i.tablets.retain(|tb| keep(place, tb));
                    !had || !i.tablets.is_empty()
                });
                !had_indexes || !p.indexes.is_empty()
            });
            !had_partitions || !t.partitions.is_empty()
        });
    }

    /// The index at `place`, created (with its partition and table, appended in order) when missing: the one
    /// find-or-insert every builder of a tree goes through.
    pub fn index_at(&mut self, place: Place<'_>) -> &mut IndexNode<T> {
        let t = match self.0.iter().position(|t| t.name == place.table) {
            Some(k) => k,
            None => {
                self.0.push(TableNode::new(place.table, Vec::new()));
                self.0.len() - 1
            }
        };
        let partitions = &mut self.0[t].partitions;
        let p = match partitions.iter().position(|p| p.name == place.partition) {
            Some(k) => k,
            None => {
                partitions.push(PartitionNode::new(place.partition, Vec::new()));
                partitions.len() - 1
            }
        };
        let indexes = &mut partitions[p].indexes;
        let i = match indexes.iter().position(|i| i.name == place.index) {
            Some(k) => k,
            None => {
                indexes.push(IndexNode::new(place.index, Vec::new()));
                indexes.len() - 1
            }
        };
        &mut indexes[i]
    }

    /// Appends `tablet` to the index at `place` ([`Tree::index_at`]).
    pub fn insert(&mut self, place: Place<'_>, tablet: T) {
        self.index_at(place).tablets.push(tablet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place<'a>(table: &'a str, partition: &'a str, index: &'a str) -> Place<'a> {
        Place { table, partition, index }
    }

    fn sample() -> Tree<u32> {
        let mut tree = Tree::new();
        tree.insert(place("t1", "p1", "t1"), 1);
        tree.insert(place("t1", "p2", "t1"), 2);
        tree.insert(place("t1", "p1", "r1"), 3);
        tree.insert(place("t2", "t2", "t2"), 4);
        tree.insert(place("t1", "p1", "t1"), 5);
        tree
    }

    #[test]
    fn insert_finds_or_creates_each_level_in_order() {
        let tree = sample();
        let names: Vec<&str> = tree.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["t1", "t2"]);
        let t1 = tree.table("t1").unwrap();
        assert_eq!(t1.partitions.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["p1", "p2"]);
        assert_eq!(t1.partitions[0].indexes.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["t1", "r1"]);
        assert_eq!(t1.partitions[0].indexes[0].tablets, [1, 5]);
        let all: Vec<(String, u32)> =
            tree.tablets().map(|(p, t)| (format!("{}/{}/{}", p.table, p.partition, p.index), *t)).collect();
        assert_eq!(
            all,
            [
                ("t1/p1/t1".to_owned(), 1),
                ("t1/p1/t1".to_owned(), 5),
                ("t1/p1/r1".to_owned(), 3),
                ("t1/p2/t1".to_owned(), 2),
                ("t2/t2/t2".to_owned(), 4)
            ]
        );
        assert_eq!(tree.tablet_count(), 5);
    }

    #[test]
    fn map_keeps_the_shape_and_try_map_stops_at_the_first_error() {
        let mut tree = sample();
        tree[0].kind = TableKind::View;
        tree[0].partitions[1].temporary = true;
        let mapped = tree.map(|p, t| format!("{}:{t}", p.index));
        assert_eq!(mapped[0].kind, TableKind::View);
        assert!(mapped[0].partitions[1].temporary);
        assert_eq!(
            mapped.tablets().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
            ["t1:1", "t1:5", "r1:3", "t1:2", "t2:4"]
        );
        let mut seen = 0;
        let r = tree.try_map(|_, t| {
            seen += 1;
            if *t == 3 { Err(format!("tablet {t}")) } else { Ok(*t) }
        });
        assert_eq!(r.unwrap_err(), "tablet 3");
        assert_eq!(seen, 3);
    }

    #[test]
    fn retain_drops_levels_it_emptied_and_keeps_those_empty_before() {
        let mut tree = sample();
        tree.push(TableNode::new("empty", Vec::new()));
        tree.retain(|p, t| p.table == "t1" && *t != 2);
        assert_eq!(tree.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["t1", "empty"]);
        assert_eq!(tree[0].partitions.len(), 1, "p2 lost its only tablet");
        assert_eq!(tree.tablet_count(), 3);
    }

    #[test]
    fn encoding_is_the_plain_list_without_default_attributes() {
        let mut tree = Tree::new();
        tree.insert(place("t", "p", "t"), 7u32);
        let json = serde_json::to_string(&tree).unwrap();
        assert_eq!(json, r#"[{"name":"t","partitions":[{"name":"p","indexes":[{"name":"t","tablets":[7]}]}]}]"#);
        let back: Tree<u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tree);
    }
}
