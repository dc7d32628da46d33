//! `tabsnap demo`: the main job on a sample database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use parking_lot::Mutex;
use tabsnap::host::DirHost;
use tabsnap::{Engine, Error, ErrorKind, Outcome, Session};

use crate::common::report_error;
use crate::statements::{follow, job_json, print_rows, report_job, rows_json};

/// The file that marks a directory as made by the demo.
const MARKER: &str = ".tabsnap-demo";

pub fn demo_command(dir: &Path, json: bool) -> ExitCode {
    match demo(dir, json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report_error(&e, json, 1);
            ExitCode::from(1)
        }
    }
}

/// `outln!` unless `--json`.
macro_rules! say {
    ($json:expr, $($arg:tt)*) => {
        if !$json {
            outln!($($arg)*);
        }
    };
}

fn demo(dir: &Path, json: bool) -> Result<(), Error> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |e: std::io::Error| Error::io(&what, e)
    };
    // Replaces only what an earlier demo made: any other non-empty directory is the user's.
    let marker = dir.join(MARKER);
    let used = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    if used && !marker.is_file() {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!(
                "{} is not empty and was not made by `tabsnap demo`; choose another --dir (nothing was changed)",
                dir.display()
            ),
        ));
    }
    if used {
        std::fs::remove_dir_all(dir).map_err(io("removing the earlier demo"))?;
    }
    let data = dir.join("data");
    let state = dir.join("state");
    std::fs::create_dir_all(&data).map_err(io("creating the demo directory"))?;
    std::fs::write(&marker, b"made by tabsnap demo; the next demo in this directory replaces it\n")
        .map_err(io("marking the demo directory"))?;
    let dir = std::fs::canonicalize(dir).map_err(io("resolving the demo directory"))?;
    let data = dir.join("data");

    say!(json, "==> a sample database demo_db in {}: lineitem (2 partitions, a rollup) and orders", data.display());
    let mut seed = 42u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (table, partitions, rollup) in
        [("lineitem", &["p2023", "p2024"][..], Some("r_by_date")), ("orders", &["p1"][..], None)]
    {
        let tdir = data.join("demo_db").join(table);
        for p in partitions {
            for t in 0..3 {
                let tablet = 10_000 + next() % 90_000;
                let mut dirs = vec![tdir.join(p).join(tablet.to_string()).join("368169781")];
                if let Some(r) = rollup {
                    dirs.push(
                        tdir.join(p).join(format!("_rollup_{r}")).join((tablet + 1).to_string()).join("368169782"),
                    );
                }
                for d in dirs {
                    std::fs::create_dir_all(&d).map_err(io("creating sample tablets"))?;
                    let mut seg = Vec::new();
                    for _ in 0..(20_000 + t * 15_000) {
                        let v = next();
                        seg.extend_from_slice(
                            format!("{}|{}|{:08}|O|{}\n", v % 100_000, v % 5000, v % 1_000_000, v % 97).as_bytes(),
                        );
                    }
                    std::fs::write(d.join("020000000000000012_0.dat"), &seg).map_err(io("writing sample tablets"))?;
                    for i in 0..5 {
                        let idx: Vec<u8> = (0..(500 + next() % 3000)).map(|_| (next() >> 24) as u8).collect();
                        std::fs::write(d.join(format!("020000000000000012_{i}.idx")), idx)
                            .map_err(io("writing sample tablets"))?;
                    }
                }
            }
        }
        if let Some(r) = rollup {
            std::fs::write(tdir.join("_table.json"), format!("{{\"kind\": \"olap\", \"rollups\": [\"{r}\"]}}"))
                .map_err(io("writing a table description"))?;
        }
    }

    let engine = Engine::builder(Arc::new(DirHost::new(&data)?)).state_dir(&state).build()?;
    let session = Session::new("root", Some("demo_db"));
    // Each statement and what it answered, for --json.
    let statements = Mutex::new(Vec::new());
    let run = |sql: &str| -> Result<Vec<Outcome>, Error> {
        say!(json, "\ntabsnap> {sql}");
        let outcomes = engine.execute(&session, sql)?;
        for o in &outcomes {
            let result = match o {
                Outcome::Done => {
                    say!(json, "OK");
                    serde_json::json!({"ok": true})
                }
                Outcome::Rows(rs) => {
                    if !json {
                        print_rows(rs, false);
                    }
                    rows_json(rs)
                }
                Outcome::Job(id) => {
                    let job = follow(&engine, *id);
                    let ok = if json { job.state == tabsnap::job::JobState::Finished } else { report_job(&job, false) };
                    if !ok {
                        let why = job.error.clone().unwrap_or_else(|| job.state.name().to_owned());
                        return Err(Error::new(ErrorKind::Io, format!("job {id} did not finish: {why}")));
                    }
                    job_json(&job)
                }
            };
            statements.lock().push(serde_json::json!({"sql": sql, "result": result}));
        }
        Ok(outcomes)
    };
    let repository = format!("file://{}", dir.join("repo").display());
    run(&format!("CREATE REPOSITORY demo_repo WITH LOCAL ON LOCATION \"{repository}\""))?;
    run("BACKUP SNAPSHOT demo_db.snap1 TO demo_repo PROPERTIES (\"type\" = \"full\", \"timeout\" = \"3600\")")?;
    run("SHOW BACKUP FROM demo_db")?;
    run("SHOW SNAPSHOT ON demo_repo")?;
    let ts = engine.jobs().last().map(|j| j.timestamp.clone()).unwrap_or_default();
    run(&format!(
        "RESTORE SNAPSHOT demo_db.snap1 FROM demo_repo ON (lineitem AS lineitem_restored, orders AS orders_restored) \
         PROPERTIES (\"backup_timestamp\" = \"{ts}\")"
    ))?;
    run("SHOW BRIEF RESTORE FROM demo_db")?;

    say!(json, "\n==> comparing every byte of the restored tables with the originals");
    let mut files = 0;
    for (orig, restored) in [("lineitem", "lineitem_restored"), ("orders", "orders_restored")] {
        let a = data.join("demo_db").join(orig);
        let b = data.join("demo_db").join(restored);
        let (fa, fb) = (tree_files(&a)?, tree_files(&b)?);
        if fa != fb {
            return Err(Error::new(ErrorKind::Corruption, format!("{} and {} differ", a.display(), b.display())));
        }
        files += fa.len();
    }
    say!(json, "identical: {files} files (tablet data, rollup tablets included)");
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "dir": dir.display().to_string(), "database": "demo_db", "repository": repository, "snapshot": "snap1",
                "timestamp": ts, "statements": statements.into_inner(), "identical_files": files,
            })
        );
    }
    Ok(())
}

/// Relative path → bytes of every tablet file under `dir` (table descriptions left out).
fn tree_files(dir: &Path) -> Result<std::collections::BTreeMap<PathBuf, Vec<u8>>, Error> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| Error::io(format!("listing {}", d.display()), e))? {
            let p = e.map_err(|e| Error::io(format!("listing {}", d.display()), e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "_table.json") {
                let bytes = std::fs::read(&p).map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
                out.insert(p.strip_prefix(dir).unwrap_or(&p).to_path_buf(), bytes);
            }
        }
    }
    Ok(out)
}
