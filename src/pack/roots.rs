//! The tablet directories of a restore, each kept as its parent directory (one copy per parent: a partition's
//! tablets share one) and its own name, about 16 bytes a tablet instead of a path each.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::locate::number;
use crate::Result;

/// Tablet directories, numbered in the order added.
#[derive(Default)]
pub(crate) struct TabletRoots {
    parents: Vec<PathBuf>,
    parent_numbers: HashMap<PathBuf, u32>,
    /// Every name, one after another.
    names: Vec<u8>,
    /// Per directory: its parent's number and where its name ends in `names`.
    roots: Vec<(u32, u32)>,
}

impl TabletRoots {
    /// Adds `dir`; returns its number.
    pub(crate) fn push(&mut self, dir: &Path) -> Result<u32> {
        // A path whose last component is not a name (`/`, `a/..`) is kept whole, with an empty name.
        let (parent, name) = match (dir.parent(), dir.file_name()) {
            (Some(p), Some(n)) => (p, n),
            _ => (dir, OsStr::new("")),
        };
        let parent = match self.parent_numbers.get(parent) {
            Some(&n) => n,
            None => {
                let n = number(self.parents.len(), "tablet directories")?;
                self.parents.push(parent.to_path_buf());
                self.parent_numbers.insert(parent.to_path_buf(), n);
                n
            }
        };
        self.names.extend_from_slice(name.as_bytes());
        let end = number(self.names.len(), "bytes of tablet directory names")?;
        let n = number(self.roots.len(), "tablets")?;
        self.roots.push((parent, end));
        Ok(n)
    }

    /// How many directories.
    pub(crate) fn len(&self) -> usize {
        self.roots.len()
    }

    fn parts(&self, i: usize) -> (&Path, &OsStr) {
        let start = if i == 0 { 0 } else { self.roots[i - 1].1 as usize };
        let (parent, end) = self.roots[i];
        (&self.parents[parent as usize], OsStr::from_bytes(&self.names[start..end as usize]))
    }

    /// Directory `i`.
    pub(crate) fn get(&self, i: usize) -> PathBuf {
        match self.parts(i) {
            (parent, name) if name.is_empty() => parent.to_path_buf(),
            (parent, name) => parent.join(name),
        }
    }

    /// The first directory (in the order added) that is the same as one added before it.
    pub(crate) fn first_repeated(&self) -> Option<usize> {
        let mut order: Vec<u32> = (0..self.roots.len() as u32).collect();
        let key = |&i: &u32| (self.roots[i as usize].0, self.parts(i as usize).1, i);
        order.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        let same = |w: &[u32]| key(&w[0]).0 == key(&w[1]).0 && key(&w[0]).1 == key(&w[1]).1;
        order.windows(2).filter(|w| same(w)).map(|w| w[1] as usize).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_come_back_as_given_and_repeats_are_found() {
        let mut roots = TabletRoots::default();
        let dirs =
            ["/r/db/t/p1/101", "/r/db/t/p1/102", "/r/db/t/p2/101", "rel", "/", "/r/db/t/p1/101/", "/r/db/t/p2/101"];
        for d in dirs {
            roots.push(Path::new(d)).unwrap();
        }
        for (i, d) in dirs.iter().enumerate() {
            assert_eq!(roots.get(i), Path::new(d));
        }
        assert_eq!(roots.get(4).as_os_str(), "/");
        assert_eq!(roots.first_repeated(), Some(5));
        assert_eq!(roots.parents.len(), 4);
    }
}
