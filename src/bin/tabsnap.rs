//! The `tabsnap` command line: the operator's tool and the reference host.

use std::io::Read;
use std::process::ExitCode;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand};

use tabsnap::pack::{self, BackupSource, IndexSource, JobControl, Packer, PartitionSource, TableSource, TabletSource};
use tabsnap::repo::LocalRepository;
use tabsnap::{Error, ErrorKind, sql};

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
        Command::Backup { location, label, data, db, depth, tuning } => {
            backup_command(&location, &label, &data, &db, depth, &tuning)
        }
        Command::Snapshots { location } => snapshots_command(&location),
        Command::Restore { location, label, timestamp, to, tuning } => {
            restore_command(&location, &label, timestamp, &to, &tuning)
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

fn open_location(location: &str, create: bool) -> Result<LocalRepository, Error> {
    let path = match location.split_once("://") {
        Some(("file", rest)) => PathBuf::from(rest),
        Some((scheme, _)) => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{scheme}:// locations are not supported here; use file:///path"),
            ));
        }
        None => PathBuf::from(location),
    };
    if !create && !path.is_dir() {
        return Err(Error::new(ErrorKind::NotFound, format!("no repository at {}", path.display())));
    }
    LocalRepository::new(path)
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
    pack::init_repository(&repo)?;
    let source = tree_source(data, db, depth.max(1))?;
    let packer = tuning.packer()?;
    let start = Instant::now();
    let s = packer.backup(&repo, &source, label, &JobControl::default())?;
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
    Ok(BackupSource { database: db.into(), tables, host_metadata: Vec::new() })
}

fn snapshots_command(location: &str) -> Result<(), Error> {
    let repo = open_location(location, false)?;
    let snaps = pack::list_snapshots(&repo)?;
    println!("{:<40} {:<20} {:<20}", "Snapshot", "Timestamp", "Database");
    for s in snaps {
        let db =
            pack::load_manifest(&repo, &s.label, &s.timestamp).map_or_else(|e| format!("ERROR: {e}"), |m| m.database);
        println!("{:<40} {:<20} {:<20}", s.label, s.timestamp, db);
    }
    Ok(())
}

fn pick_manifests(
    repo: &LocalRepository,
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
        return Err(Error::new(ErrorKind::NotFound, format!("{} has no {what}", repo.root().display())));
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
    let manifests = pick_manifests(&repo, Some(label), timestamp.as_deref())?;
    let Some(m) = manifests.last() else { return Ok(()) };
    let packer = tuning.packer()?;
    let start = Instant::now();
    let target = |t: &tabsnap::format::TableEntry, _: &_, _: &_, tablet: &tabsnap::format::TabletEntry| {
        let safe = |s: &str| !s.is_empty() && s.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
        (safe(&t.name) && safe(&tablet.id) && !tablet.id.contains('/')).then(|| to.join(&t.name).join(&tablet.id))
    };
    let r = packer.restore(&repo, m, &target, &JobControl::default())?;
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
        let manifests = pick_manifests(&repo, label.as_deref(), timestamp.as_deref())?;
        Packer::builder().build()?.verify(&repo, &manifests, quick)
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
