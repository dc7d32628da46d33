//! The [`Coordinator`]: deal, run, retry, commit.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use parking_lot::Mutex;

use super::assignment::{self, Share};
use super::{ClusterSummary, NodeRunner, NodeTablet, NodeTask};
use crate::pack::{self, cluster};
use crate::repo::Repository;
use crate::{Error, ErrorKind, Result, format};

/// Runs a backup on several nodes and commits it (see the [module docs](crate::cluster)).
#[derive(Debug, Clone)]
pub struct Coordinator {
    nodes: Vec<String>,
    retries: u32,
    max_concurrency: usize,
}

impl Coordinator {
    /// A coordinator for `nodes` (their names also name their parts), with 2 retries and every node run at
    /// once.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for no node, an empty name, a name given twice, or one that cannot name a
    /// part (a `/`, `.` or `..`).
    pub fn new<I, S>(nodes: I) -> Result<Coordinator>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let nodes: Vec<String> = nodes.into_iter().map(Into::into).collect();
        if nodes.is_empty() {
            return Err(invalid("a coordinated backup needs at least one node".into()));
        }
        let mut seen = BTreeSet::new();
        for n in &nodes {
            if n.is_empty() || n == "." || n == ".." || n.contains('/') || n.contains('\0') {
                return Err(invalid(format!("node name {n:?} cannot name a part (no '/', '.' or '..', not empty)")));
            }
            if !seen.insert(n.as_str()) {
                return Err(invalid(format!("node {n:?} is named twice")));
            }
        }
        Ok(Coordinator { nodes, retries: 2, max_concurrency: 0 })
    }

    /// How many times a failed node's tablets are run again on another node before the backup fails (default 2;
    /// 0: a failed node fails the backup).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Coordinator {
        self.retries = retries;
        self
    }

    /// At most `n` nodes run at once (0, the default: every node at once; 1: one after the other, on the calling
    /// thread).
    #[must_use]
    pub fn max_concurrency(mut self, n: usize) -> Coordinator {
        self.max_concurrency = n;
        self
    }

    /// The nodes, in the order given.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Backs up `tablets` as snapshot `label` of `database` in `repo` (initialised): deals them to the nodes
    /// round-robin, runs every node's share through `runner`, runs a failed share again on a node that succeeded
    /// (at most [`Coordinator::retries`] times), then commits the parts. On failure nothing is committed and the
    /// parts this run stored are removed (the packs they uploaded stay until a collection, and make a later run
    /// faster).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for no tablet or a label that cannot name a snapshot; when every node
    /// fails, or a share fails more than `retries` times, an error naming each failed node and why (of the kind
    /// of the first node's error); the commit's errors ([`cluster::commit_parts`]).
    pub fn run(
        &self,
        repo: &dyn Repository,
        database: &str,
        label: &str,
        tablets: &[NodeTablet],
        runner: &dyn NodeRunner,
    ) -> Result<ClusterSummary> {
        if tablets.is_empty() {
            return Err(invalid(format!("snapshot {label}: no tablet to back up")));
        }
        let timestamp = pack::timestamp_utc(pack::now_ms());
        pack::check_relative_path(&format::manifest_key(label, &timestamp))
            .map_err(|_| invalid(format!("label {label:?} cannot name a snapshot")))?;
        let ctx = Run { repo, database, label, timestamp: &timestamp, tablets, runner };
        let result = self.run_shares(&ctx);
        if result.is_err() {
            // Best effort: the error that matters is the run's; parts of an uncommitted snapshot are harmless.
            let _ = cluster::discard_parts(repo, label, &timestamp);
        }
        result
    }

    fn run_shares(&self, ctx: &Run<'_>) -> Result<ClusterSummary> {
        let mut shares = assignment::round_robin(ctx.tablets.len(), &self.nodes);
        let nodes = shares.len() as u64;
        let mut used: BTreeSet<String> = self.nodes.iter().cloned().collect();
        let (mut done, mut succeeded, mut failed_nodes) = (Vec::new(), BTreeSet::new(), Vec::<String>::new());
        let mut failures: Vec<(Share, Error)> = Vec::new();
        let mut retries = 0u64;
        loop {
            let results = self.run_round(ctx, &shares);
            let mut failed = Vec::new();
            for (share, r) in shares.into_iter().zip(results) {
                match r {
                    Ok(()) => {
                        succeeded.insert(share.node.clone());
                        done.push(share.part);
                    }
                    Err(e) => {
                        if !failed_nodes.contains(&share.node) {
                            failed_nodes.push(share.node.clone());
                        }
                        failures.push((share.clone(), e));
                        failed.push(share);
                    }
                }
            }
            if failed.is_empty() {
                break;
            }
            let healthy: Vec<String> =
                self.nodes.iter().filter(|n| succeeded.contains(*n) && !failed_nodes.contains(*n)).cloned().collect();
            let exhausted = failed.iter().any(|s| s.attempt >= self.retries);
            if healthy.is_empty() || exhausted {
                return Err(failure(ctx.label, &failures, healthy.is_empty()));
            }
            shares = assignment::reassign(&failed, &healthy, &mut used);
            retries += shares.len() as u64;
        }
        let manifest = cluster::commit_parts(ctx.repo, ctx.label, ctx.timestamp, &done)?;
        failed_nodes.sort_by_key(|n| self.nodes.iter().position(|x| x == n));
        Ok(ClusterSummary {
            label: ctx.label.to_owned(),
            timestamp: ctx.timestamp.to_owned(),
            tablets: ctx.tablets.len() as u64,
            nodes,
            failed_nodes,
            retries,
            parts: done,
            files: manifest.files().count() as u64,
            bytes: manifest.files().map(|f| f.file.size).sum(),
        })
    }

    /// Runs `shares`, one at a time per node, at most `max_concurrency` nodes at once; the results in the
    /// shares' order.
    fn run_round(&self, ctx: &Run<'_>, shares: &[Share]) -> Vec<Result<()>> {
        let mut by_node: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (k, s) in shares.iter().enumerate() {
            by_node.entry(s.node.as_str()).or_default().push(k);
        }
        let queue: Mutex<VecDeque<Vec<usize>>> = Mutex::new(by_node.into_values().collect());
        let results: Mutex<Vec<Option<Result<()>>>> = Mutex::new((0..shares.len()).map(|_| None).collect());
        let work = || {
            while let Some(list) = queue.lock().pop_front() {
                for k in list {
                    let r = ctx.run_share(&shares[k]);
                    results.lock()[k] = Some(r);
                }
            }
        };
        let groups = queue.lock().len();
        let threads = if self.max_concurrency == 0 { groups } else { self.max_concurrency.min(groups) };
        if threads <= 1 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(work);
                }
            });
        }
        results
            .into_inner()
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::new(ErrorKind::Io, "the node's run did not finish"))))
            .collect()
    }
}

/// What every share of one run has in common.
struct Run<'a> {
    repo: &'a dyn Repository,
    database: &'a str,
    label: &'a str,
    timestamp: &'a str,
    tablets: &'a [NodeTablet],
    runner: &'a dyn NodeRunner,
}

impl Run<'_> {
    fn run_share(&self, share: &Share) -> Result<()> {
        let tablets: Vec<NodeTablet> = share.tablets.iter().map(|&k| self.tablets[k].clone()).collect();
        let task = NodeTask {
            node: &share.node,
            part: &share.part,
            retry_of: share.retry_of.as_deref(),
            attempt: share.attempt,
            database: self.database,
            label: self.label,
            timestamp: self.timestamp,
            tablets: &tablets,
        };
        self.runner.run_node(&task)
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// The error of a coordinated backup that cannot finish: every failed run, by node, and why.
fn failure(label: &str, failures: &[(Share, Error)], none_healthy: bool) -> Error {
    let kind = failures.first().map_or(ErrorKind::Io, |(_, e)| e.kind());
    let runs: Vec<String> = failures
        .iter()
        .map(|(s, e)| match &s.retry_of {
            Some(first) => format!("node {} (retrying node {first}'s tablets as {}): {}", s.node, s.part, e.message()),
            None => format!("node {}: {}", s.node, e.message()),
        })
        .collect();
    let why = if none_healthy { "every node failed" } else { "a node's tablets failed on every retry" };
    Error::new(kind, format!("snapshot {label}: {why}; nothing committed ({})", runs.join("; ")))
}
