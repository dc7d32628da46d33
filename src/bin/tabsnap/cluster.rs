//! `tabsnap worker` and `tabsnap cluster-backup`: a backup run by several processes (nodes), coordinated by
//! `tabsnap::cluster::Coordinator` with a runner that starts one `tabsnap worker` process per node's share.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use parking_lot::Mutex;
use tabsnap::cluster::{self, Coordinator, NodeRunner, NodeTask};
use tabsnap::pack::{self, JobControl, TabletSource};
use tabsnap::{Error, ErrorKind};

use crate::backup::{source_of, tree_source};
use crate::common::{Tuning, count, mb_per_s, open_location, report_error};

/// What `tabsnap worker` was asked.
pub struct WorkerRequest<'a> {
    pub location: &'a str,
    pub label: &'a str,
    pub timestamp: &'a str,
    pub node: &'a str,
    pub data: &'a Path,
    pub db: &'a str,
    pub tablets: &'a [String],
    pub tuning: &'a Tuning,
}

pub fn worker_command(req: &WorkerRequest<'_>, json: bool) -> ExitCode {
    let start = Instant::now();
    match worker(req) {
        Ok(s) => {
            let secs = start.elapsed().as_secs_f64();
            let node = req.node;
            if json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "node": node, "snapshot": req.label, "timestamp": req.timestamp, "database": req.db,
                        "tablets": req.tablets.len(), "files": s.files, "bytes": s.bytes, "packs": s.packs_written,
                        "bytes_uploaded": s.bytes_uploaded, "seconds": secs,
                    })
                );
            } else {
                outln!(
                    "node {node}: {} tablets, {}, {} bytes in {secs:.2} s ({:.1} MB/s); {}, {} bytes uploaded",
                    req.tablets.len(),
                    count(s.files, "file"),
                    s.bytes,
                    mb_per_s(s.bytes, secs),
                    count(s.packs_written, "pack"),
                    s.bytes_uploaded
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_error(&e, json, 1);
            ExitCode::from(1)
        }
    }
}

fn worker(req: &WorkerRequest<'_>) -> Result<pack::BackupSummary, Error> {
    let node = req.node;
    // Fault injection for tests of the coordinator's retry: TABSNAP_FAIL_NODE names a node that fails at once.
    if std::env::var("TABSNAP_FAIL_NODE").is_ok_and(|n| n == node) {
        return Err(Error::new(ErrorKind::Io, format!("node {node}: failing as TABSNAP_FAIL_NODE asks")));
    }
    let repo = open_location(req.location, false)?;
    let mut tables: std::collections::BTreeMap<String, Vec<TabletSource>> = Default::default();
    for rel in req.tablets {
        let safe = !rel.is_empty() && rel.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
        let (table, tablet) = rel.rsplit_once('/').unwrap_or(("default", rel.as_str()));
        if !safe {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("tablet path {rel:?} must be relative to --data"),
            ));
        }
        tables.entry(table.to_owned()).or_default().push(TabletSource::new(tablet, req.data.join(rel)));
    }
    let source = source_of(req.db, tables);
    let packer = req.tuning.packer()?;
    let control = JobControl { timestamp: Some(req.timestamp.into()), ..JobControl::default() };
    let (part, s) = packer.backup_part(repo.as_ref(), &source, req.label, &control)?;
    pack::cluster::write_part(repo.as_ref(), node, &part)?;
    Ok(s)
}

/// What `tabsnap cluster-backup` was asked.
pub struct ClusterRequest<'a> {
    pub location: &'a str,
    pub label: &'a str,
    pub data: &'a Path,
    pub db: &'a str,
    pub depth: usize,
    pub workers: usize,
    pub threads: usize,
    pub retries: u32,
}

pub fn cluster_command(req: &ClusterRequest<'_>, json: bool) -> ExitCode {
    let start = Instant::now();
    let runner = match std::env::current_exe() {
        Ok(exe) => WorkerProcesses { exe, req, json, reports: Mutex::new(Vec::new()) },
        Err(e) => {
            report_error(&Error::io("finding the tabsnap binary", e), json, 1);
            return ExitCode::from(1);
        }
    };
    let run = || -> Result<cluster::ClusterSummary, Error> {
        let repo = open_location(req.location, true)?;
        pack::init_repository(repo.as_ref())?;
        let tablets = cluster::tablets_of(&tree_source(req.data, req.db, req.depth.max(1))?);
        let nodes = (0..req.workers.max(1)).map(|n| format!("node{n}"));
        Coordinator::new(nodes)?.retries(req.retries).run(repo.as_ref(), req.db, req.label, &tablets, &runner)
    };
    let s = match run() {
        Ok(s) => s,
        Err(e) => {
            report_error(&e, json, 1);
            return ExitCode::from(1);
        }
    };
    let secs = start.elapsed().as_secs_f64();
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "snapshot": s.label, "timestamp": s.timestamp, "database": req.db, "tablets": s.tablets,
                "nodes": s.nodes, "failed_nodes": s.failed_nodes, "retries": s.retries, "parts": s.parts,
                "files": s.files, "bytes": s.bytes, "seconds": secs, "workers": *runner.reports.lock(),
            })
        );
    } else {
        outln!(
            "snapshot {} {}: {} tablets by {} nodes, {}, {} bytes in {secs:.2} s ({:.1} MB/s){}",
            s.label,
            s.timestamp,
            s.tablets,
            s.nodes,
            count(s.files, "file"),
            s.bytes,
            mb_per_s(s.bytes, secs),
            if s.retries > 0 { format!("; {} retried", count(s.retries, "share")) } else { String::new() }
        );
    }
    ExitCode::SUCCESS
}

/// Runs each node's share as a `tabsnap worker` process of this binary.
struct WorkerProcesses<'a> {
    exe: PathBuf,
    req: &'a ClusterRequest<'a>,
    json: bool,
    /// Each worker's JSON report, in the order they finished.
    reports: Mutex<Vec<serde_json::Value>>,
}

impl NodeRunner for WorkerProcesses<'_> {
    fn run_node(&self, task: &NodeTask<'_>) -> Result<(), Error> {
        let part = task.part;
        if let Some(first) = task.retry_of {
            eprintln!("node {first} failed; retrying its {} tablets as {part}", task.tablets.len());
        }
        let mut cmd = Command::new(&self.exe);
        cmd.arg("worker").arg(self.req.location).arg(task.label).arg("--timestamp").arg(task.timestamp);
        cmd.arg("--node").arg(part).arg("--data").arg(self.req.data).arg("--db").arg(task.database);
        cmd.arg("--threads").arg(self.req.threads.to_string()).arg("--json");
        for (t, dir) in task.tablets {
            let rel = dir.strip_prefix(self.req.data).map_err(|_| {
                Error::new(ErrorKind::InvalidArgument, format!("tablet {} is not under --data", t.tablet))
            })?;
            cmd.arg("--tablet").arg(rel);
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io(format!("starting the worker of node {part}"), e))?;
        if !out.status.success() {
            // The worker's error is one JSON object on its standard error.
            let stderr = String::from_utf8_lossy(&out.stderr);
            let why = stderr
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find_map(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("the worker ended with {}: {}", out.status, stderr.trim()));
            eprintln!("node {part} failed: {why}");
            return Err(Error::new(ErrorKind::Io, why));
        }
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::new(ErrorKind::Io, format!("node {part}: the worker's report is not JSON: {e}")))?;
        if !self.json {
            outln!(
                "node {part}: {} tablets, {}, {} bytes; {}, {} bytes uploaded",
                task.tablets.len(),
                count(report["files"].as_u64().unwrap_or(0), "file"),
                report["bytes"],
                count(report["packs"].as_u64().unwrap_or(0), "pack"),
                report["bytes_uploaded"]
            );
        }
        self.reports.lock().push(report);
        Ok(())
    }
}
