//! `tabsnap worker` and `tabsnap cluster-backup`: a backup run by several processes (nodes).

use std::path::Path;
use std::time::Instant;

use tabsnap::pack::{self, JobControl, TabletSource};
use tabsnap::{Error, ErrorKind};

use crate::backup::{source_of, tree_source};
use crate::common::{Tuning, mb_per_s, open_location};

#[allow(clippy::too_many_arguments)]
pub fn worker_command(
    location: &str,
    label: &str,
    timestamp: &str,
    node: &str,
    data: &Path,
    db: &str,
    tablets: &[String],
    tuning: &Tuning,
) -> Result<(), Error> {
    // Fault injection for tests of the coordinator's retry: TABSNAP_FAIL_NODE names a node that fails at once.
    if std::env::var("TABSNAP_FAIL_NODE").is_ok_and(|n| n == node) {
        return Err(Error::new(ErrorKind::Io, format!("node {node}: failing as TABSNAP_FAIL_NODE asks")));
    }
    let repo = open_location(location, false)?;
    let mut tables: std::collections::BTreeMap<String, Vec<TabletSource>> = Default::default();
    for rel in tablets {
        let safe = !rel.is_empty() && rel.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
        let (table, tablet) = rel.rsplit_once('/').unwrap_or(("default", rel.as_str()));
        if !safe {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("tablet path {rel:?} must be relative to --data"),
            ));
        }
        tables.entry(table.to_owned()).or_default().push(TabletSource::new(tablet, data.join(rel)));
    }
    let source = source_of(db, tables);
    let packer = tuning.packer()?;
    let start = Instant::now();
    let control = JobControl { timestamp: Some(timestamp.into()), ..JobControl::default() };
    let (part, s) = packer.backup_part(repo.as_ref(), &source, label, &control)?;
    pack::cluster::write_part(repo.as_ref(), node, &part)?;
    let secs = start.elapsed().as_secs_f64();
    outln!(
        "node {node}: {} tablets, {} files, {} bytes in {secs:.2} s ({:.1} MB/s); {} packs, {} bytes uploaded",
        tablets.len(),
        s.files,
        s.bytes,
        mb_per_s(s.bytes, secs),
        s.packs_written,
        s.bytes_uploaded
    );
    Ok(())
}

pub fn cluster_command(
    location: &str,
    label: &str,
    data: &Path,
    db: &str,
    depth: usize,
    workers: usize,
    threads: usize,
) -> Result<(), Error> {
    let repo = open_location(location, true)?;
    pack::init_repository(repo.as_ref())?;
    let source = tree_source(data, db, depth.max(1))?;
    // Every tablet, as a path relative to --data, dealt round-robin to the nodes.
    let all: Vec<String> = source.tables.tablets().map(|(place, tb)| format!("{}/{}", place.table, tb.id)).collect();
    let workers = workers.max(1);
    let mut assignment: Vec<(String, Vec<String>)> = (0..workers).map(|n| (format!("node{n}"), Vec::new())).collect();
    for (k, t) in all.iter().enumerate() {
        assignment[k % workers].1.push(t.clone());
    }
    assignment.retain(|(_, t)| !t.is_empty());
    let timestamp = pack::timestamp_utc(pack::now_ms());
    let exe = std::env::current_exe().map_err(|e| Error::io("finding the tabsnap binary", e))?;
    let start = Instant::now();
    let run = |node: &str, tablets: &[String]| -> std::io::Result<std::process::Child> {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("worker").arg(location).arg(label).arg("--timestamp").arg(&timestamp).arg("--node").arg(node);
        cmd.arg("--data").arg(data).arg("--db").arg(db).arg("--threads").arg(threads.to_string());
        for t in tablets {
            cmd.arg("--tablet").arg(t);
        }
        cmd.spawn()
    };
    let mut children = Vec::new();
    for (node, tablets) in &assignment {
        children.push((
            node.clone(),
            tablets.clone(),
            run(node, tablets).map_err(|e| Error::io(format!("starting node {node}"), e))?,
        ));
    }
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (node, tablets, mut child) in children {
        match child.wait() {
            Ok(st) if st.success() => done.push(node),
            _ => failed.push((node, tablets)),
        }
    }
    // A failed node's tablets go to a node that succeeded.
    for (k, (node, tablets)) in failed.into_iter().enumerate() {
        let Some(healthy) = done.get(k % done.len().max(1)).cloned() else {
            return Err(Error::new(
                ErrorKind::Io,
                format!("every node failed; node {node} among them; nothing committed"),
            ));
        };
        let retry = format!("{healthy}-for-{node}");
        eprintln!("node {node} failed; retrying its {} tablets as {retry}", tablets.len());
        let ok = run(&retry, &tablets).and_then(|mut c| c.wait()).is_ok_and(|s| s.success());
        if !ok {
            return Err(Error::new(
                ErrorKind::Io,
                format!("node {node} failed, and so did its retry {retry}; nothing committed"),
            ));
        }
        done.push(retry);
    }
    let manifest = pack::cluster::commit_parts(repo.as_ref(), label, &timestamp, &done)?;
    let secs = start.elapsed().as_secs_f64();
    let bytes: u64 = manifest.files().map(|f| f.file.size).sum();
    outln!(
        "snapshot {label} {timestamp}: {} tablets by {} nodes, {} files, {bytes} bytes in {secs:.2} s ({:.1} MB/s)",
        all.len(),
        done.len(),
        manifest.files().count(),
        mb_per_s(bytes, secs)
    );
    Ok(())
}
