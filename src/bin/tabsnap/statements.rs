//! `tabsnap parse` and `tabsnap sql`: statements, checked or run against a data directory.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tabsnap::host::DirHost;
use tabsnap::job::{JobInfo, JobKind};
use tabsnap::{Engine, Error, ErrorKind, Outcome, ResultSet, Session, sql};

use crate::common::{Tuning, report_error};

pub fn read_input(file: &str) -> std::io::Result<String> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(file)
    }
}

/// The statements of `tabsnap sql`: the argument, standard input (`-`), or a file.
pub fn read_script(statements: Option<&str>, file: Option<&Path>) -> Result<String, Error> {
    match (statements, file) {
        (_, Some(f)) => std::fs::read_to_string(f).map_err(|e| Error::io(format!("reading {}", f.display()), e)),
        (Some("-"), None) => read_input("-").map_err(|e| Error::io("reading standard input", e)),
        (Some(s), None) => Ok(s.to_owned()),
        (None, None) => Err(Error::new(ErrorKind::InvalidArgument, "give the statements, `-` or --file FILE")),
    }
}

pub fn parse_command(file: &str, json: bool) -> ExitCode {
    let name = if file == "-" { "<stdin>" } else { file };
    let text = match read_input(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {name}: {e}");
            return ExitCode::from(1);
        }
    };
    let stmts = match sql::parse_spanned(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {name}: {e}");
            return ExitCode::from(2);
        }
    };
    for (stmt, span) in &stmts {
        if let Err(e) = sql::validate(stmt) {
            let (line, column) = line_column(&text, span.start);
            eprintln!("error: {name}: line {line}, column {column}: {e}");
            eprintln!("  in: {stmt}");
            return ExitCode::from(3);
        }
    }
    let mut out = String::new();
    for (stmt, _) in &stmts {
        if json {
            match serde_json::to_string(stmt) {
                Ok(s) => out.push_str(&s),
                Err(e) => {
                    eprintln!("error: cannot encode the syntax tree: {e}");
                    return ExitCode::from(1);
                }
            }
        } else {
            out.push_str(&stmt.to_string());
            out.push(';');
        }
        out.push('\n');
    }
    crate::common::write_out(format_args!("{out}"));
    ExitCode::SUCCESS
}

pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// How `tabsnap sql`'s engine treats the directory host's tables.
pub struct HostOptions {
    /// Doris's `ignore_backup_not_support_table_type`.
    pub ignore_backup_not_support_table_type: bool,
}

pub fn engine_for(data: &Path, state: &Path, tuning: &Tuning, options: &HostOptions) -> Result<Engine, Error> {
    let host = DirHost::new(data)?;
    for line in host.recovered() {
        eprintln!("tabsnap: {line}");
    }
    Engine::builder(Arc::new(host))
        .threads(tuning.threads.unwrap_or(0))
        .compression(tuning.compression)
        .zstd_level(tuning.zstd_level)
        .state_dir(state)
        .ignore_backup_not_support_table_type(options.ignore_backup_not_support_table_type)
        .build()
}

/// 2 a syntax error, 3 an analysis error (Doris's message), 1 anything else.
pub fn exit_status(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::Syntax => 2,
        ErrorKind::Analysis => 3,
        _ => 1,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn sql_command(
    text: &str,
    data: &Path,
    state: &Path,
    user: &str,
    db: Option<&str>,
    json: bool,
    no_wait: bool,
    tuning: &Tuning,
    host: &HostOptions,
) -> ExitCode {
    let stmts = match sql::parse_spanned(text) {
        Ok(s) => s,
        Err(e) => {
            if json {
                report_error(&Error::from(e), json, 2);
            } else {
                eprintln!("error: {e}");
            }
            return ExitCode::from(2);
        }
    };
    let engine = match engine_for(data, state, tuning, host) {
        Ok(e) => e,
        Err(e) => {
            report_error(&e, json, 1);
            return ExitCode::from(1);
        }
    };
    let session = Session::new(user, db);
    let mut started = Vec::new();
    let mut code = ExitCode::SUCCESS;
    for (_, span) in &stmts {
        let one = &text[span.start..span.end];
        match engine.execute(&session, one) {
            Err(e) => {
                let exit = exit_status(&e);
                report_error(&e, json, exit);
                code = ExitCode::from(exit);
                break;
            }
            Ok(outcomes) => {
                for o in outcomes {
                    match o {
                        Outcome::Done if json => outln!("{}", serde_json::json!({"ok": true})),
                        Outcome::Done => outln!("OK"),
                        Outcome::Rows(rs) => print_rows(&rs, json),
                        Outcome::Job(id) if no_wait => {
                            if json {
                                outln!("{}", serde_json::json!({"job": id, "state": "STARTED"}));
                            } else {
                                outln!("job {id} started");
                            }
                            started.push(id);
                        }
                        Outcome::Job(id) => {
                            let job = follow(&engine, id);
                            if !report_job(&job, json) {
                                code = ExitCode::from(1);
                            }
                        }
                    }
                }
            }
        }
    }
    // Jobs started with --async live in this process: let them finish before exiting.
    for id in started {
        if let Ok(job) = engine.wait(id, Duration::from_secs(u64::MAX / 4))
            && !report_job(&job, json)
        {
            code = ExitCode::from(1);
        }
    }
    code
}

/// Waits for a job, showing its state and progress on standard error.
pub fn follow(engine: &Engine, id: u64) -> JobInfo {
    let tty = std::io::stderr().is_terminal();
    let mut last = String::new();
    loop {
        let job = match engine.wait(id, Duration::from_millis(if tty { 200 } else { 1000 })) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        let kind = if job.kind == JobKind::Backup { "BACKUP" } else { "RESTORE" };
        let line = format!("{kind} {} job {}: {} {}", job.label, job.id, job.state.name(), job.progress_text());
        if tty {
            eprint!("\r\x1b[2K{line}");
        } else if line != last {
            eprintln!("{line}");
        }
        last = line;
        if job.state.is_done() {
            if tty {
                eprintln!();
            }
            return job;
        }
    }
}

pub fn report_job(job: &JobInfo, json: bool) -> bool {
    let kind = if job.kind == JobKind::Backup { "BACKUP" } else { "RESTORE" };
    let ok = job.state == tabsnap::job::JobState::Finished;
    if json {
        outln!("{}", job_json(job));
    } else if ok {
        outln!(
            "{kind} {} {} FINISHED: {}, {} bytes",
            job.label,
            job.timestamp,
            crate::common::count(job.files_total, "file"),
            job.bytes_total
        );
    }
    if !ok {
        eprintln!("error: {kind} {} {}: {}", job.label, job.state.name(), job.status_text());
    }
    ok
}

/// A job as `--json` shows it.
pub fn job_json(job: &JobInfo) -> serde_json::Value {
    let kind = if job.kind == JobKind::Backup { "BACKUP" } else { "RESTORE" };
    serde_json::json!({
        "job": job.id, "kind": kind, "label": job.label, "timestamp": job.timestamp, "state": job.state.name(),
        "files": job.files_total, "bytes": job.bytes_total, "error": job.error, "warnings": job.warnings,
    })
}

/// A result set as `--json` shows it: an array of objects keyed by column.
pub fn rows_json(rs: &ResultSet) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = rs
        .rows
        .iter()
        .map(|r| {
            let row: serde_json::Map<String, serde_json::Value> =
                rs.columns.iter().cloned().zip(r.iter().map(|v| serde_json::Value::String(v.clone()))).collect();
            serde_json::Value::Object(row)
        })
        .collect();
    serde_json::Value::from(rows)
}

pub fn print_rows(rs: &ResultSet, json: bool) {
    if json {
        outln!("{}", rows_json(rs));
        return;
    }
    let mut widths: Vec<usize> = rs.columns.iter().map(|c| c.chars().count()).collect();
    for r in &rs.rows {
        for (w, v) in widths.iter_mut().zip(r) {
            *w = (*w).max(v.lines().map(|l| l.chars().count()).max().unwrap_or(0));
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (w, c) in widths.iter().zip(cells) {
            s.push_str(&format!(" {:<w$} |", c.replace('\n', " ")));
        }
        s
    };
    let sep = format!("+{}+", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    outln!("{sep}\n{}\n{sep}", line(&rs.columns));
    for r in &rs.rows {
        outln!("{}", line(r));
    }
    outln!("{sep}\n{} row(s)", rs.rows.len());
}
