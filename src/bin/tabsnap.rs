//! The `tabsnap` command line: the operator's tool and the reference host.

use std::io::Read;
use std::process::ExitCode;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand};

#[path = "tabsnap/maintenance.rs"]
mod maintenance;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tabsnap::host::DirHost;
use tabsnap::job::{JobInfo, JobKind};
use tabsnap::pack::{self, BackupSource, IndexSource, JobControl, Packer, PartitionSource, TableSource, TabletSource};
use tabsnap::repo::{LocalRepository, Repository, Retry, S3Config, S3Repository};
use tabsnap::store;
use tabsnap::{Engine, Error, ErrorKind, Outcome, ResultSet, Session, sql};

/// BACKUP SNAPSHOT / RESTORE for OLAP engines: statements, snapshots and repositories.
#[derive(Parser)]
#[command(name = "tabsnap", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check statements; print each in canonical form, one per line.
    ///
    /// Exit status: 0 all statements are valid, 2 a syntax error, 3 an analysis error (Doris's message),
    /// 1 the input could not be read.
    Parse {
        /// File to read, or `-` (the default) for standard input.
        #[arg(default_value = "-")]
        file: String,
        /// Print each statement's syntax tree as one JSON object per line instead.
        #[arg(long)]
        json: bool,
    },
    /// Run statements against a data directory laid out like a BE's (DATA/<db>/<table>/<partition>/<tablet>/).
    ///
    /// BACKUP and RESTORE wait for their job, showing progress, unless --async. Exit status: 0 success,
    /// 1 a failed job or an execution error, 2 a syntax error, 3 an analysis error.
    Sql {
        /// The statements, separated by `;`.
        statements: String,
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Where repositories and job history are kept between runs.
        #[arg(long)]
        state: PathBuf,
        /// The user (`root` and `admin` are superusers; others have LOAD on every database).
        #[arg(long, default_value = "root")]
        user: String,
        /// The current database.
        #[arg(long)]
        db: Option<String>,
        /// Print SHOW results as JSON (one array of objects keyed by column per statement).
        #[arg(long)]
        json: bool,
        /// Do not wait after BACKUP / RESTORE (jobs still finish before the program exits).
        #[arg(long = "async")]
        no_wait: bool,
        /// Doris's `ignore_backup_not_support_table_type`: BACKUP skips tables that are not OLAP tables (named in
        /// TaskErrMsg) instead of failing with "Table 't' is not a OLAP table".
        #[arg(long)]
        ignore_backup_not_support_table_type: bool,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// The main job: make a sample database, back it up into a local repository, show the job, restore it under
    /// other names and check every byte.
    Demo {
        /// Directory for the sample data, state and repository (replaced if it exists).
        #[arg(long, default_value = "tabsnap-demo")]
        dir: PathBuf,
    },
    /// Back up a directory tree of tablets into a repository (no catalog needed).
    ///
    /// Every directory DEPTH levels below --data is a tablet; the path above it names its table.
    Backup {
        /// Repository location: `file:///path` or a path (created and initialised when new).
        location: String,
        /// Snapshot label.
        label: String,
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Database name recorded in the snapshot.
        #[arg(long, default_value = "default")]
        db: String,
        /// Depth of tablet directories below --data.
        #[arg(long, default_value_t = 2)]
        depth: usize,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// One node's share of a backup that several nodes run: pack the given tablets, upload them to the shared
    /// repository and leave this node's part for the coordinator (see `cluster-backup`).
    Worker {
        /// Repository location (shared by every node).
        location: String,
        /// Snapshot label.
        label: String,
        /// The backup timestamp every node of the backup uses.
        #[arg(long)]
        timestamp: String,
        /// This node's name.
        #[arg(long)]
        node: String,
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Database name recorded in the snapshot.
        #[arg(long, default_value = "default")]
        db: String,
        /// A tablet directory this node holds, relative to --data (repeat for each).
        #[arg(long = "tablet", required = true)]
        tablets: Vec<String>,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Back up a directory tree of tablets with several worker processes (nodes): each packs and uploads its own
    /// tablets to the repository; a node that fails has its tablets retried on another; the manifest is written
    /// last, once every tablet is stored.
    ClusterBackup {
        /// Repository location (shared by every node).
        location: String,
        /// Snapshot label.
        label: String,
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Database name recorded in the snapshot.
        #[arg(long, default_value = "default")]
        db: String,
        /// Depth of tablet directories below --data.
        #[arg(long, default_value_t = 2)]
        depth: usize,
        /// Worker processes.
        #[arg(long, default_value_t = 3)]
        workers: usize,
        /// Worker threads per worker process.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// List the snapshots of a repository.
    Snapshots {
        /// Repository location.
        location: String,
    },
    /// Restore a snapshot's tablets into DIR/<table>/<tablet>/.
    Restore {
        /// Repository location.
        location: String,
        /// Snapshot label.
        label: String,
        /// Backup timestamp (default: the label's newest).
        timestamp: Option<String>,
        /// Target directory (must not hold the restored files already).
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Remove what no snapshot needs (index objects and packs), under the repository's exclusive lock.
    ///
    /// Runs only when no backup, restore, verify or collection (of any process or host) holds the repository:
    /// otherwise it removes nothing and exits with status 75; run it again later. Stale locks (their process
    /// exited, or not refreshed for TABSNAP_LOCK_STALE_SECS, default 600) do not block it.
    Gc {
        /// Repository location.
        location: String,
        /// Only list what would be removed, with sizes.
        #[arg(long)]
        dry_run: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Remove stale locks (their process exited, or they were not refreshed for TABSNAP_LOCK_STALE_SECS) and
    /// list the live ones.
    Unlock {
        /// Repository location.
        location: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check snapshots end to end; exit 1 naming every bad object, chunk and file.
    Verify {
        /// Repository location.
        location: String,
        /// Only this label (default: every snapshot).
        label: Option<String>,
        /// Only this backup timestamp of the label.
        timestamp: Option<String>,
        /// Check structure and sizes without reading data.
        #[arg(long)]
        quick: bool,
    },
}

/// Packer tuning shared by the data commands.
#[derive(clap::Args)]
struct Tuning {
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// zstd level.
    #[arg(long, default_value_t = 3)]
    zstd_level: i32,
}

impl Tuning {
    fn packer(&self) -> Result<Packer, Error> {
        Packer::builder().threads(self.threads).zstd_level(self.zstd_level).build()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse { file, json } => return parse_command(&file, json),
        Command::Sql {
            statements,
            data,
            state,
            user,
            db,
            json,
            no_wait,
            ignore_backup_not_support_table_type,
            tuning,
        } => {
            let host = HostOptions { ignore_backup_not_support_table_type };
            return sql_command(&statements, &data, &state, &user, db.as_deref(), json, no_wait, &tuning, &host);
        }
        Command::Demo { dir } => demo_command(&dir),
        Command::Backup { location, label, data, db, depth, tuning } => {
            backup_command(&location, &label, &data, &db, depth, &tuning)
        }
        Command::Snapshots { location } => snapshots_command(&location),
        Command::Worker { location, label, timestamp, node, data, db, tablets, tuning } => {
            worker_command(&location, &label, &timestamp, &node, &data, &db, &tablets, &tuning)
        }
        Command::ClusterBackup { location, label, data, db, depth, workers, threads } => {
            cluster_command(&location, &label, &data, &db, depth, workers, threads)
        }
        Command::Restore { location, label, timestamp, to, tuning } => {
            restore_command(&location, &label, timestamp, &to, &tuning)
        }
        Command::Gc { location, dry_run, json } => {
            return maintenance_exit(
                open_location(&location, false).and_then(|r| maintenance::gc_command(r.as_ref(), dry_run, json)),
            );
        }
        Command::Unlock { location, json } => {
            return maintenance_exit(
                open_location(&location, false).and_then(|r| maintenance::unlock_command(r.as_ref(), json)),
            );
        }
        Command::Verify { location, label, timestamp, quick } => {
            return verify_command(&location, label, timestamp, quick);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// A repository location: `file:///path`, a plain path, or `s3://bucket/prefix` (endpoint, region and
/// credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
/// path-style URLs unless TABSNAP_S3_VIRTUAL_HOST=1).
fn open_location(location: &str, create: bool) -> Result<Box<dyn Repository>, Error> {
    let path = match location.split_once("://") {
        Some(("file", rest)) => PathBuf::from(rest),
        Some(("s3", _)) => {
            let virtual_host = std::env::var("TABSNAP_S3_VIRTUAL_HOST").is_ok_and(|v| v == "1");
            let style = if virtual_host { "false" } else { "true" };
            let get = |k: &str| (k == "use_path_style").then(|| style.to_owned());
            let s3 = S3Repository::new(S3Config::from_properties(location, &get)?)?;
            s3.probe()?;
            return Ok(Box::new(Retry::new(s3, 5, Duration::from_millis(200))));
        }
        Some((scheme, _)) => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{scheme}:// locations are not supported; use file:///path or s3://bucket/prefix"),
            ));
        }
        None => PathBuf::from(location),
    };
    if !create && !path.is_dir() {
        return Err(Error::new(ErrorKind::NotFound, format!("no repository at {}", path.display())));
    }
    Ok(Box::new(LocalRepository::new(path)?))
}

fn maintenance_exit(result: Result<ExitCode, Error>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

fn backup_command(
    location: &str,
    label: &str,
    data: &Path,
    db: &str,
    depth: usize,
    tuning: &Tuning,
) -> Result<(), Error> {
    let repo = open_location(location, true)?;
    let repo = repo.as_ref();
    pack::init_repository(repo)?;
    let source = tree_source(data, db, depth.max(1))?;
    let packer = tuning.packer()?;
    let start = Instant::now();
    let s = packer.backup(repo, &source, label, &JobControl::default())?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "snapshot {} {}: {} files, {} bytes in {secs:.2} s ({:.1} MB/s, {:.0} files/s); {} new chunks, {} reused, {} packs, {} bytes uploaded",
        s.label,
        s.timestamp,
        s.files,
        s.bytes,
        mb_per_s(s.bytes, secs),
        s.files as f64 / secs.max(1e-9),
        s.chunks_new,
        s.chunks_reused,
        s.packs_written,
        s.bytes_uploaded
    );
    Ok(())
}

/// Tablets are the directories `depth` levels below `data`; the components above name the table.
fn tree_source(data: &Path, db: &str, depth: usize) -> Result<BackupSource, Error> {
    let mut tables: std::collections::BTreeMap<String, Vec<TabletSource>> = Default::default();
    let mut level = vec![(data.to_path_buf(), Vec::<String>::new())];
    for _ in 0..depth {
        let mut next = Vec::new();
        for (dir, names) in level {
            let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
                if entry.file_type().map_err(|e| Error::io(format!("listing {}", dir.display()), e))?.is_dir() {
                    let mut n = names.clone();
                    n.push(entry.file_name().to_string_lossy().into_owned());
                    next.push((entry.path(), n));
                }
            }
        }
        level = next;
    }
    for (dir, mut names) in level {
        let tablet = names.pop().unwrap_or_default();
        let table = if names.is_empty() { "default".to_owned() } else { names.join("/") };
        tables.entry(table).or_default().push(TabletSource::new(tablet, dir));
    }
    if tables.is_empty() {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("no tablet directories {depth} levels below {}", data.display()),
        ));
    }
    Ok(source_of(db, tables))
}

/// A backup source of directory-mode tables: each table one partition and one (base) index, both named after
/// it, tablets sorted by id.
fn source_of(db: &str, tables: std::collections::BTreeMap<String, Vec<TabletSource>>) -> BackupSource {
    let tables = tables
        .into_iter()
        .map(|(name, mut tablets)| {
            tablets.sort_by(|a, b| a.id.cmp(&b.id));
            TableSource {
                name: name.clone(),
                partitions: vec![PartitionSource { name: name.clone(), indexes: vec![IndexSource { name, tablets }] }],
            }
        })
        .collect();
    BackupSource { database: db.into(), tables, host_metadata: Vec::new(), metadata_only: false, views: Vec::new() }
}

fn snapshots_command(location: &str) -> Result<(), Error> {
    let repo = open_location(location, false)?;
    let snaps = pack::list_snapshots(repo.as_ref())?;
    println!("{:<40} {:<20} {:<20}", "Snapshot", "Timestamp", "Database");
    for s in snaps {
        let db = pack::load_manifest(repo.as_ref(), &s.label, &s.timestamp)
            .map_or_else(|e| format!("ERROR: {e}"), |m| m.database);
        println!("{:<40} {:<20} {:<20}", s.label, s.timestamp, db);
    }
    Ok(())
}

fn pick_manifests(
    repo: &dyn Repository,
    label: Option<&str>,
    timestamp: Option<&str>,
) -> Result<Vec<tabsnap::format::Manifest>, Error> {
    let snaps: Vec<_> = pack::list_snapshots(repo)?
        .into_iter()
        .filter(|s| label.is_none_or(|l| s.label == l) && timestamp.is_none_or(|t| s.timestamp == t))
        .collect();
    if snaps.is_empty() {
        let what = match (label, timestamp) {
            (Some(l), Some(t)) => format!("snapshot {l} with timestamp {t}"),
            (Some(l), None) => format!("snapshot {l}"),
            _ => "any snapshot".to_owned(),
        };
        return Err(Error::new(ErrorKind::NotFound, format!("{} has no {what}", repo.describe())));
    }
    snaps.iter().map(|s| pack::load_manifest(repo, &s.label, &s.timestamp)).collect()
}

fn restore_command(
    location: &str,
    label: &str,
    timestamp: Option<String>,
    to: &Path,
    tuning: &Tuning,
) -> Result<(), Error> {
    let repo = open_location(location, false)?;
    let manifests = pick_manifests(repo.as_ref(), Some(label), timestamp.as_deref())?;
    let Some(m) = manifests.last() else { return Ok(()) };
    let packer = tuning.packer()?;
    let start = Instant::now();
    // The manifest's names are single safe components (checked when it was decoded); the target directory is
    // the operator's, but a table directory in it must not be a link leading elsewhere.
    for t in &m.tables {
        let dir = to.join(&t.name);
        if std::fs::symlink_metadata(&dir).is_ok_and(|md| md.file_type().is_symlink()) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{} is a symlink; restore does not write through links", dir.display()),
            ));
        }
    }
    let target = |t: &tabsnap::format::TableEntry, _: &_, _: &_, tablet: &tabsnap::format::TabletEntry| {
        Some(to.join(&t.name).join(&tablet.id))
    };
    let r = store::with_shared_lock(repo.as_ref(), "restore", |_| {
        packer.restore(repo.as_ref(), m, &target, &JobControl::default())
    })?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "restored {} {} into {}: {} files, {} bytes in {secs:.2} s ({:.1} MB/s), {} bytes read in {} reads",
        m.label,
        m.timestamp,
        to.display(),
        r.files,
        r.bytes,
        mb_per_s(r.bytes, secs),
        r.bytes_read,
        r.reads
    );
    Ok(())
}

fn verify_command(location: &str, label: Option<String>, timestamp: Option<String>, quick: bool) -> ExitCode {
    let run = || -> Result<tabsnap::pack::VerifyReport, Error> {
        let repo = open_location(location, false)?;
        // Under a shared lock: no collection removes what is being checked.
        store::with_shared_lock(repo.as_ref(), "verify", |_| {
            // A manifest that cannot be read is a problem of its own; the other snapshots are still checked.
            let snaps: Vec<_> = pack::list_snapshots(repo.as_ref())?
                .into_iter()
                .filter(|s| label.as_ref().is_none_or(|l| &s.label == l))
                .filter(|s| timestamp.as_ref().is_none_or(|t| &s.timestamp == t))
                .collect();
            if snaps.is_empty() {
                pick_manifests(repo.as_ref(), label.as_deref(), timestamp.as_deref())?;
            }
            let mut manifests = Vec::new();
            let mut unreadable = Vec::new();
            for s in &snaps {
                match pack::load_manifest(repo.as_ref(), &s.label, &s.timestamp) {
                    Ok(m) => manifests.push(m),
                    Err(e) => unreadable.push(tabsnap::pack::Problem {
                        object: e
                            .object()
                            .map_or_else(|| format!("snapshots/{}/{}", s.label, s.timestamp), str::to_owned),
                        chunk: None,
                        files: Vec::new(),
                        message: e.message().to_owned(),
                    }),
                }
            }
            let mut report = Packer::builder().build()?.verify(repo.as_ref(), &manifests, quick)?;
            report.snapshots = snaps.len() as u64;
            report.problems.splice(0..0, unreadable);
            Ok(report)
        })
    };
    match run() {
        Ok(report) if report.is_ok() => {
            println!(
                "ok: {} snapshots, {} packs, {} chunks{}",
                report.snapshots,
                report.packs,
                report.chunks,
                if quick { " (quick: data not read)" } else { "" }
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            for p in &report.problems {
                println!("BAD {p}");
            }
            eprintln!("error: {} problems in {} snapshots", report.problems.len(), report.snapshots);
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn read_input(file: &str) -> std::io::Result<String> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(file)
    }
}

fn parse_command(file: &str, json: bool) -> ExitCode {
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
    print!("{out}");
    ExitCode::SUCCESS
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// How `tabsnap sql`'s engine treats the directory host's tables.
struct HostOptions {
    ignore_backup_not_support_table_type: bool,
}

fn engine_for(data: &Path, state: &Path, tuning: &Tuning, options: &HostOptions) -> Result<Engine, Error> {
    let host = DirHost::new(data)?;
    for line in host.recovered() {
        eprintln!("tabsnap: {line}");
    }
    Engine::builder(Arc::new(host))
        .threads(tuning.threads)
        .zstd_level(tuning.zstd_level)
        .state_dir(state)
        .ignore_backup_not_support_table_type(options.ignore_backup_not_support_table_type)
        .build()
}

fn exit_code_for(e: &Error) -> ExitCode {
    match e.kind() {
        ErrorKind::Syntax => ExitCode::from(2),
        ErrorKind::Analysis => ExitCode::from(3),
        _ => ExitCode::from(1),
    }
}

#[allow(clippy::too_many_arguments)]
fn sql_command(
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
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let engine = match engine_for(data, state, tuning, host) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
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
                eprintln!("error: {e}");
                code = exit_code_for(&e);
                break;
            }
            Ok(outcomes) => {
                for o in outcomes {
                    match o {
                        Outcome::Done => println!("OK"),
                        Outcome::Rows(rs) => print_rows(&rs, json),
                        Outcome::Job(id) if no_wait => {
                            println!("job {id} started");
                            started.push(id);
                        }
                        Outcome::Job(id) => {
                            let job = follow(&engine, id);
                            if !report_job(&job) {
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
            && !report_job(&job)
        {
            code = ExitCode::from(1);
        }
    }
    code
}

/// Waits for a job, showing its state and progress on standard error.
fn follow(engine: &Engine, id: u64) -> JobInfo {
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

fn report_job(job: &JobInfo) -> bool {
    let kind = if job.kind == JobKind::Backup { "BACKUP" } else { "RESTORE" };
    if job.state == tabsnap::job::JobState::Finished {
        println!(
            "{kind} {} {} FINISHED: {} files, {} bytes",
            job.label, job.timestamp, job.files_total, job.bytes_total
        );
        true
    } else {
        eprintln!("error: {kind} {} {}: {}", job.label, job.state.name(), job.status_text());
        false
    }
}

fn print_rows(rs: &ResultSet, json: bool) {
    if json {
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = rs
            .rows
            .iter()
            .map(|r| rs.columns.iter().cloned().zip(r.iter().map(|v| serde_json::Value::String(v.clone()))).collect())
            .collect();
        println!("{}", serde_json::Value::from(rows.into_iter().map(serde_json::Value::Object).collect::<Vec<_>>()));
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
    println!("{sep}\n{}\n{sep}", line(&rs.columns));
    for r in &rs.rows {
        println!("{}", line(r));
    }
    println!("{sep}\n{} row(s)", rs.rows.len());
}

fn demo_command(dir: &Path) -> Result<(), Error> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |e: std::io::Error| Error::io(&what, e)
    };
    let _ = std::fs::remove_dir_all(dir);
    let data = dir.join("data");
    let state = dir.join("state");
    std::fs::create_dir_all(&data).map_err(io("creating the demo directory"))?;
    let dir = std::fs::canonicalize(dir).map_err(io("resolving the demo directory"))?;
    let data = dir.join("data");

    println!("==> a sample database demo_db in {}: lineitem (2 partitions, a rollup) and orders", data.display());
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
    let run = |sql: &str| -> Result<Vec<Outcome>, Error> {
        println!("\ntabsnap> {sql}");
        let outcomes = engine.execute(&session, sql)?;
        for o in &outcomes {
            match o {
                Outcome::Done => println!("OK"),
                Outcome::Rows(rs) => print_rows(rs, false),
                Outcome::Job(id) => {
                    let job = follow(&engine, *id);
                    if !report_job(&job) {
                        return Err(Error::new(ErrorKind::Io, format!("job {id} did not finish")));
                    }
                }
            }
        }
        Ok(outcomes)
    };
    run(&format!("CREATE REPOSITORY demo_repo WITH LOCAL ON LOCATION \"file://{}\"", dir.join("repo").display()))?;
    run("BACKUP SNAPSHOT demo_db.snap1 TO demo_repo PROPERTIES (\"type\" = \"full\", \"timeout\" = \"3600\")")?;
    run("SHOW BACKUP FROM demo_db")?;
    run("SHOW SNAPSHOT ON demo_repo")?;
    let ts = engine.jobs().last().map(|j| j.timestamp.clone()).unwrap_or_default();
    run(&format!(
        "RESTORE SNAPSHOT demo_db.snap1 FROM demo_repo ON (lineitem AS lineitem_restored, orders AS orders_restored) \
         PROPERTIES (\"backup_timestamp\" = \"{ts}\")"
    ))?;
    run("SHOW BRIEF RESTORE FROM demo_db")?;

    println!("\n==> comparing every byte of the restored tables with the originals");
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
    println!("identical: {files} files (tablet data, rollup tablets included)");
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

#[allow(clippy::too_many_arguments)]
fn worker_command(
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
    println!(
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

fn cluster_command(
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
    let mut all = Vec::new();
    for t in &source.tables {
        for p in &t.partitions {
            for i in &p.indexes {
                for tb in &i.tablets {
                    all.push(format!("{}/{}", t.name, tb.id));
                }
            }
        }
    }
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
    let bytes: u64 = manifest.files().map(|f| f.4.size).sum();
    println!(
        "snapshot {label} {timestamp}: {} tablets by {} nodes, {} files, {bytes} bytes in {secs:.2} s ({:.1} MB/s)",
        all.len(),
        done.len(),
        manifest.files().count(),
        mb_per_s(bytes, secs)
    );
    Ok(())
}
