//! The coordinator over an in-memory repository: deal, retry, all-fail, bounds, concurrency.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::pack::{self, Packer};
use crate::repo::{MemoryRepository, Repository};
use crate::{Error, ErrorKind};

/// `n` tablets of table t1 under `dir`, each with one file.
fn tablets(dir: &Path, n: usize) -> Vec<NodeTablet> {
    (0..n)
        .map(|k| {
            let id = format!("{}", 1000 + k);
            let d = dir.join(&id);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("0_0.dat"), format!("tablet {k} ").repeat(100 + k)).unwrap();
            let r = TabletRef { table: "t1".into(), partition: "p1".into(), index: "t1".into(), tablet: id };
            (r, d)
        })
        .collect()
}

fn setup(n: usize) -> (tempfile::TempDir, MemoryRepository, Packer, Vec<NodeTablet>) {
    let dir = tempfile::tempdir().unwrap();
    let repo = MemoryRepository::new();
    pack::init_repository(&repo).unwrap();
    let t = tablets(dir.path(), n);
    (dir, repo, Packer::builder().threads(1).build().unwrap(), t)
}

fn no_parts(repo: &MemoryRepository) -> bool {
    repo.list(cluster_parts()).unwrap().is_empty()
}

fn cluster_parts() -> &'static str {
    crate::pack::cluster::PARTS_PREFIX
}

#[test]
fn a_coordinated_backup_commits_one_snapshot_holding_every_tablet() {
    let (_dir, repo, packer, t) = setup(5);
    let s = Coordinator::new(["a", "b", "c"]).unwrap().run(&repo, "db1", "snap", &t, &LocalRunner::new(&repo, &packer));
    let s = s.unwrap();
    assert_eq!((s.tablets, s.nodes, s.retries, s.files), (5, 3, 0, 5));
    assert_eq!(s.parts, ["a", "b", "c"]);
    assert!(s.failed_nodes.is_empty());
    let m = pack::load_manifest(&repo, "snap", &s.timestamp).unwrap();
    assert_eq!((m.database.as_str(), m.files().count()), ("db1", 5));
    assert_eq!(s.bytes, m.files().map(|f| f.file.size).sum::<u64>());
    assert!(no_parts(&repo));
    assert!(packer.verify(&repo, &[m], false).unwrap().is_ok());
}

#[test]
fn a_failed_node_has_its_tablets_retried_on_a_node_that_succeeded() {
    let (_dir, repo, packer, t) = setup(6);
    let local = LocalRunner::new(&repo, &packer);
    let seen = parking_lot::Mutex::new(Vec::new());
    let runner = |task: &NodeTask<'_>| {
        seen.lock().push((task.node.to_owned(), task.part.to_owned(), task.retry_of.map(str::to_owned), task.attempt));
        if task.node == "b" {
            return Err(Error::new(ErrorKind::Io, "disk on fire"));
        }
        local.run_node(task)
    };
    let s = Coordinator::new(["a", "b", "c"]).unwrap().run(&repo, "db1", "snap", &t, &runner).unwrap();
    assert_eq!((s.retries, s.failed_nodes.clone(), s.files), (1, vec!["b".to_owned()], 6));
    assert!(s.parts.contains(&"a-for-b".to_owned()), "{:?}", s.parts);
    assert!(seen.lock().contains(&("a".into(), "a-for-b".into(), Some("b".into()), 1)));
    assert!(no_parts(&repo));
}

#[test]
fn when_every_node_fails_nothing_is_committed_and_no_part_is_left() {
    let (_dir, repo, packer, t) = setup(4);
    let local = LocalRunner::new(&repo, &packer);
    // Node a stores its part and then fails anyway: its part must not survive.
    let runner = |task: &NodeTask<'_>| {
        if task.node == "a" {
            local.run_node(task)?;
        }
        Err(Error::new(ErrorKind::Callback, format!("{} unreachable", task.node)))
    };
    let e = Coordinator::new(["a", "b"]).unwrap().run(&repo, "db1", "snap", &t, &runner).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Callback);
    let m = e.message();
    assert!(m.contains("every node failed") && m.contains("nothing committed"), "{m}");
    assert!(m.contains("node a: a unreachable") && m.contains("node b: b unreachable"), "{m}");
    assert!(pack::list_snapshots(&repo).unwrap().is_empty());
    assert!(no_parts(&repo));
}

#[test]
fn retries_are_bounded() {
    let (_dir, repo, packer, t) = setup(3);
    let local = LocalRunner::new(&repo, &packer);
    // c fails; its retry on a fails too: with one retry allowed the backup fails, naming both runs.
    let runner = |task: &NodeTask<'_>| {
        if task.node == "c" || task.retry_of.is_some() {
            return Err(Error::new(ErrorKind::Io, format!("{} failed", task.part)));
        }
        local.run_node(task)
    };
    let e = Coordinator::new(["a", "b", "c"]).unwrap().retries(1).run(&repo, "db1", "s", &t, &runner).unwrap_err();
    let m = e.message();
    assert!(m.contains("node c: c failed") && m.contains("retrying node c's tablets as a-for-c"), "{m}");
    assert!(pack::list_snapshots(&repo).unwrap().is_empty() && no_parts(&repo));
    // With no retry, the first failure fails the backup.
    let calls = AtomicUsize::new(0);
    let counted = |task: &NodeTask<'_>| {
        calls.fetch_add(1, Ordering::SeqCst);
        runner(task)
    };
    Coordinator::new(["a", "b", "c"]).unwrap().retries(0).run(&repo, "db1", "s", &t, &counted).unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn max_concurrency_one_runs_one_node_at_a_time() {
    let (_dir, repo, packer, t) = setup(4);
    let local = LocalRunner::new(&repo, &packer);
    let (active, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let runner = |task: &NodeTask<'_>| {
        let now = active.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        let r = local.run_node(task);
        active.fetch_sub(1, Ordering::SeqCst);
        r
    };
    let c = Coordinator::new(["a", "b", "c", "d"]).unwrap().max_concurrency(1);
    c.run(&repo, "db1", "s", &t, &runner).unwrap();
    assert_eq!(most.load(Ordering::SeqCst), 1);
}

#[test]
fn bad_nodes_and_empty_backups_are_refused() {
    for (nodes, what) in [
        (vec![], "at least one node"),
        (vec!["a", "a"], "named twice"),
        (vec!["a/b"], "cannot name a part"),
        (vec![".."], "cannot name a part"),
        (vec![""], "cannot name a part"),
    ] {
        let e = Coordinator::new(nodes).unwrap_err();
        assert!(e.kind() == ErrorKind::InvalidArgument && e.message().contains(what), "{e}");
    }
    let (_dir, repo, packer, t) = setup(1);
    let local = LocalRunner::new(&repo, &packer);
    let e = Coordinator::new(["a"]).unwrap().run(&repo, "db1", "s", &[], &local).unwrap_err();
    assert!(e.message().contains("no tablet"), "{e}");
    let e = Coordinator::new(["a"]).unwrap().run(&repo, "db1", "../x", &t, &local).unwrap_err();
    assert!(e.message().contains("cannot name a snapshot"), "{e}");
}

#[test]
fn tablets_of_a_source_keep_their_place_in_the_tree() {
    let src = pack::BackupSource::single_table("db1", "t1", vec![pack::TabletSource::new("7", "/d/7")]);
    let t = tablets_of(&src);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].0.table.as_str(), t[0].0.partition.as_str(), t[0].0.tablet.as_str()), ("t1", "t1", "7"));
    assert_eq!(part_source("db1", &t), src);
}
