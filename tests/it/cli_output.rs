//! What operators and scripts get from the `tabsnap` command line: JSON that parses, no panic on a closed pipe,
//! statements from a file or standard input, settings from the environment, and a demo that deletes only
//! what it made.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn tabsnap(args: &[&str], env: &[(&str, &Path)], stdin: &str) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tabsnap"));
    c.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// Every line of `out` parses as JSON.
fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}\n{out}"))).collect()
}

fn data_dir(root: &Path) {
    let d = root.join("db1/t1/p1/1001/0");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("0_0.dat"), vec![3u8; 200_000]).unwrap();
    std::fs::write(d.join("0.idx"), b"idx").unwrap();
}

#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tabsnap"))
        .arg("parse")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before anything is written, as with `| head -0`
    child.stdin.take().unwrap().write_all("SHOW REPOSITORIES;\n".repeat(5000).as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn sql_reads_scripts_from_files_and_stdin_and_settings_from_the_environment_and_json_is_pure() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    data_dir(&data);
    let state = tmp.path().join("state");
    let env = [("TABSNAP_DATA", data.as_path()), ("TABSNAP_STATE", state.as_path())];
    let script = format!(
        "-- a nightly script\nCREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{}';\nBACKUP SNAPSHOT db1.s1 TO r;\n",
        tmp.path().join("repo").display()
    );
    let file = tmp.path().join("nightly.sql");
    std::fs::write(&file, &script).unwrap();
    // A file, with --data and --state from the environment; --json: one JSON line per statement, nothing else.
    let (code, out, err) = tabsnap(&["sql", "--json", "--file", file.to_str().unwrap()], &env, "");
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["ok"], true);
    assert_eq!((lines[1]["state"].as_str(), lines[1]["label"].as_str()), (Some("FINISHED"), Some("s1")), "{out}");
    // Standard input, a script that starts with a comment (not a flag).
    let (code, out, err) = tabsnap(&["sql", "--json", "-"], &env, "-- list\nSHOW SNAPSHOT ON r; SHOW BACKUP FROM db1");
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines[0][0]["Snapshot"], "s1", "{out}");
    assert_eq!(lines[1][0]["State"], "FINISHED", "{out}");
    let (code, out, err) = tabsnap(&["sql", "-- only a comment\nSHOW REPOSITORIES"], &env, "");
    assert!(code == 0 && out.contains("| r "), "{out}{err}");
    // Errors with --json: nothing on stdout, one JSON object on stderr with the exit status.
    let (code, out, err) = tabsnap(&["sql", "--json", "BACKUP SNAPSHOT db1.s2 TO nope"], &env, "");
    assert_eq!((code, out.as_str()), (3, ""));
    let e: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(e["error"]["exit"], 3);
    assert!(e["error"]["message"].as_str().unwrap().contains("Repository nope does not exist"), "{err}");
    let (code, out, err) = tabsnap(&["sql", "--json", "BACKUP SNAPSHOT"], &env, "");
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(serde_json::from_str::<serde_json::Value>(err.trim()).unwrap()["error"]["kind"], "Syntax");
    // Without the environment or the flags, clap names what is missing.
    let (code, _, err) = tabsnap(&["sql", "SHOW REPOSITORIES"], &[], "");
    assert_eq!(code, 2);
    assert!(err.contains("--data"), "{err}");
}

#[test]
fn every_data_command_prints_json_that_parses() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    data_dir(&data);
    let repo = tmp.path().join("repo");
    let (r, d) = (repo.to_str().unwrap(), data.to_str().unwrap());
    let (code, out, err) = tabsnap(&["backup", r, "s1", "--data", d, "--db", "db1", "--json", "--quiet"], &[], "");
    assert_eq!(code, 0, "{err}");
    let b = &json_lines(&out)[0];
    assert_eq!((b["snapshot"].as_str(), b["files"].as_u64()), (Some("s1"), Some(2)), "{out}");
    let (code, out, _) = tabsnap(&["snapshots", r, "--json"], &[], "");
    assert_eq!(code, 0);
    let s = &json_lines(&out)[0];
    assert_eq!((s[0]["snapshot"].as_str(), s[0]["database"].as_str()), (Some("s1"), Some("db1")));
    let to = tmp.path().join("out");
    let (code, out, err) = tabsnap(&["restore", r, "s1", "--to", to.to_str().unwrap(), "--json"], &[], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_lines(&out)[0]["files"], 2);
    let (code, out, _) = tabsnap(&["verify", r, "--json"], &[], "");
    assert_eq!(code, 0);
    let v = &json_lines(&out)[0];
    assert_eq!((v["ok"].as_bool(), v["snapshots"].as_u64()), (Some(true), Some(1)), "{out}");
    let (code, out, _) = tabsnap(&["verify", r], &[], "");
    assert!(code == 0 && out.starts_with("ok: 1 snapshot, 1 pack, "), "{out}");
    let (code, out, _) = tabsnap(&["gc", r, "--json"], &[], "");
    assert_eq!((code, json_lines(&out)[0]["bytes"].as_u64()), (0, Some(0)));
    let (code, out, _) = tabsnap(&["unlock", r, "--json"], &[], "");
    assert_eq!(code, 0);
    assert!(json_lines(&out)[0]["removed"].as_array().unwrap().is_empty());
    // An error with --json: nothing on stdout, JSON on stderr.
    let (code, out, err) = tabsnap(&["restore", r, "missing", "--to", to.to_str().unwrap(), "--json"], &[], "");
    assert_eq!((code, out.as_str()), (1, ""));
    let e: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(e["error"]["kind"], "NotFound");
    assert!(e["error"]["message"].as_str().unwrap().contains("holds no snapshot missing"), "{err}");
    // Progress on standard error when not quiet and not a terminal: plain lines, never on stdout.
    let (code, out, _) = tabsnap(&["backup", r, "s2", "--data", d, "--db", "db1", "--json"], &[], "");
    assert_eq!(code, 0);
    assert_eq!(json_lines(&out).len(), 1);
}

#[test]
fn the_demo_deletes_only_what_it_made() {
    let tmp = tempfile::tempdir().unwrap();
    let precious = tmp.path().join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("keep.txt"), b"mine").unwrap();
    let (code, _, err) = tabsnap(&["demo", "--dir", precious.to_str().unwrap()], &[], "");
    assert_eq!(code, 1);
    assert!(err.contains("was not made by `tabsnap demo`"), "{err}");
    assert_eq!(std::fs::read(precious.join("keep.txt")).unwrap(), b"mine");
    assert_eq!(std::fs::read_dir(&precious).unwrap().count(), 1);
    // Its own directory it replaces: a second run works.
    let demo = tmp.path().join("demo");
    let (code, out, err) = tabsnap(&["demo", "--dir", demo.to_str().unwrap()], &[], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("identical: 90 files"), "{out}");
    // --json: one JSON document on stdout and nothing else.
    let (code, out, err) = tabsnap(&["demo", "--dir", demo.to_str().unwrap(), "--json"], &[], "");
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not one JSON document ({e}): {out}"));
    assert_eq!((v["identical_files"].as_u64(), v["snapshot"].as_str()), (Some(90), Some("snap1")), "{out}");
    let statements = v["statements"].as_array().unwrap();
    let backup = statements.iter().find(|s| s["sql"].as_str().unwrap().starts_with("BACKUP")).unwrap();
    assert_eq!(
        (backup["result"]["state"].as_str(), backup["result"]["timestamp"].as_str()),
        (Some("FINISHED"), v["timestamp"].as_str())
    );
    let shown = statements.iter().find(|s| s["sql"].as_str().unwrap().starts_with("SHOW SNAPSHOT")).unwrap();
    assert_eq!(shown["result"][0]["Timestamp"], v["timestamp"], "{out}");
    // An error with --json: JSON on standard error only.
    let (code, out, err) = tabsnap(&["demo", "--dir", precious.to_str().unwrap(), "--json"], &[], "");
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(serde_json::from_str::<serde_json::Value>(err.trim()).unwrap()["error"]["kind"], "AlreadyExists");
}
