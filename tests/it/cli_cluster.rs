//! `tabsnap cluster-backup` and `tabsnap worker` as operators and scripts use them: worker processes coordinated
//! by the library's coordinator, a failed node retried elsewhere, `--retries` bounding it, and `--json` on both.

use std::path::Path;
use std::process::Command;

fn tabsnap(args: &[&str], fail_node: Option<&str>) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tabsnap"));
    c.args(args);
    if let Some(n) = fail_node {
        c.env("TABSNAP_FAIL_NODE", n);
    }
    let out = c.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// Two shards of three tablets: `shardN/<tablet>/0_0.dat`.
fn tablets(data: &Path) {
    for shard in 0..2 {
        for t in 0..3 {
            let d = data.join(format!("shard{shard}/{}", 1000 + shard * 10 + t));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("0_0.dat"), format!("shard {shard} tablet {t} ").repeat(500)).unwrap();
        }
    }
}

#[test]
fn cluster_backup_retries_a_failed_node_and_reports_one_json_document() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    tablets(&data);
    let repo = tmp.path().join("repo");
    let (r, d) = (repo.to_str().unwrap(), data.to_str().unwrap());
    let (code, out, err) =
        tabsnap(&["cluster-backup", r, "snap", "--data", d, "--db", "db1", "--workers", "3", "--json"], Some("node1"));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not one JSON document ({e}): {out}"));
    assert_eq!((v["tablets"].as_u64(), v["nodes"].as_u64(), v["files"].as_u64()), (Some(6), Some(3), Some(6)), "{out}");
    assert_eq!((v["retries"].as_u64(), v["failed_nodes"][0].as_str()), (Some(1), Some("node1")), "{out}");
    let parts: Vec<&str> = v["parts"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(parts, ["node0", "node2", "node0-for-node1"]);
    assert_eq!(v["workers"].as_array().unwrap().len(), 3, "{out}");
    assert!(err.contains("node node1 failed; retrying its 2 tablets as node0-for-node1"), "{err}");
    // The snapshot restores whole, under the timestamp the report gave.
    let to = tmp.path().join("out");
    let ts = v["timestamp"].as_str().unwrap();
    let (code, _, err) = tabsnap(&["restore", r, "snap", ts, "--to", to.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(crate::util::tree(&to.join("db1/shard1/shard1")), crate::util::tree(&data.join("shard1")));
    let parts = repo.join("parts");
    assert!(!parts.exists() || crate::util::tree(&parts).is_empty(), "parts are left");

    // --retries 0: the failed node fails the backup, nothing is committed, the error names the node.
    let (code, out, err) = tabsnap(
        &["cluster-backup", r, "snap2", "--data", d, "--workers", "2", "--retries", "0", "--json"],
        Some("node0"),
    );
    assert_eq!((code, out.as_str()), (1, ""));
    let e: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    let m = e["error"]["message"].as_str().unwrap();
    assert!(m.contains("nothing committed") && m.contains("node node0: node node0: failing"), "{m}");
    let (_, out, _) = tabsnap(&["snapshots", r, "--json"], None);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap().as_array().unwrap().len(), 1);
    // Text output, every node failing.
    let (code, _, err) = tabsnap(&["cluster-backup", r, "snap3", "--data", d, "--workers", "1"], Some("node0"));
    assert_eq!(code, 1);
    assert!(err.contains("every node failed; nothing committed"), "{err}");
}

#[test]
fn a_worker_reports_one_json_document() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    tablets(&data);
    let repo = tmp.path().join("repo");
    let (r, d) = (repo.to_str().unwrap(), data.to_str().unwrap());
    // The repository must exist: a worker never creates one.
    let (code, out, err) = tabsnap(
        &[
            "worker",
            r,
            "s",
            "--timestamp",
            "2024-01-01-10-00-00",
            "--node",
            "be1",
            "--data",
            d,
            "--tablet",
            "shard0/1000",
            "--json",
        ],
        None,
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(serde_json::from_str::<serde_json::Value>(err.trim()).unwrap()["error"]["kind"], "NotFound");
    let (code, _, err) = tabsnap(&["backup", r, "first", "--data", d, "--depth", "2", "--quiet"], None);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = tabsnap(
        &[
            "worker",
            r,
            "s",
            "--timestamp",
            "2024-01-01-10-00-00",
            "--node",
            "be1",
            "--data",
            d,
            "--db",
            "db1",
            "--tablet",
            "shard0/1000",
            "--tablet",
            "shard1/1011",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not one JSON document ({e}): {out}"));
    assert_eq!((v["node"].as_str(), v["tablets"].as_u64(), v["files"].as_u64()), (Some("be1"), Some(2), Some(2)));
    // The data was backed up before: nothing new to upload.
    assert_eq!(v["packs"].as_u64(), Some(0), "{out}");
    // "latest" is never a backup timestamp: it names a label's newest backup.
    let (code, _, err) = tabsnap(
        &["worker", r, "s", "--timestamp", "latest", "--node", "be1", "--data", d, "--tablet", "shard0/1000"],
        None,
    );
    assert!(code == 1 && err.contains("cannot be a backup timestamp"), "{err}");
}

#[test]
fn every_subcommand_shows_examples_in_its_help() {
    let (code, out, _) = tabsnap(&["--help"], None);
    assert_eq!(code, 0);
    let commands: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 11, "{out}");
    for c in commands {
        let (code, out, _) = tabsnap(&[c, "--help"], None);
        assert_eq!(code, 0);
        let example = out.lines().skip_while(|l| *l != "Examples:").nth(1).unwrap_or_default();
        assert!(example.trim_start().contains("tabsnap "), "`tabsnap {c} --help` shows no example:\n{out}");
    }
}
