//! The command line's arguments: one clap subcommand per operation, documented as `--help` shows them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::common::{Output, Tuning};

/// BACKUP SNAPSHOT / RESTORE for OLAP engines: statements, snapshots and repositories.
#[derive(Parser)]
#[command(name = "tabsnap", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// For encrypted repositories: a file holding the password (less one trailing newline); without it the
    /// password is taken from TABSNAP_PASSWORD. A new repository is made encrypted when a password is given.
    #[arg(long, global = true, env = "TABSNAP_PASSWORD_FILE", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Parse and check statements; print each in canonical form, one per line.
    ///
    /// Exit status: 0 all statements are valid, 2 a syntax error, 3 an analysis error (Doris's message),
    /// 1 the input could not be read.
    #[command(after_help = "Examples:\n  \
        echo \"backup snapshot db1.s1 to r1\" | tabsnap parse\n  \
        tabsnap parse nightly.sql --json")]
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
    ///
    /// Examples:
    ///   tabsnap sql --data /data --state /var/lib/tabsnap "SHOW SNAPSHOT ON repo1"
    ///   tabsnap sql -f nightly.sql            (TABSNAP_DATA and TABSNAP_STATE set)
    ///   echo "SHOW BACKUP FROM db1" | tabsnap sql - --json
    #[command(verbatim_doc_comment)]
    Sql {
        /// The statements, separated by `;`, or `-` to read them from standard input.
        #[arg(allow_hyphen_values = true, required_unless_present = "file")]
        statements: Option<String>,
        /// Read the statements from this file instead.
        #[arg(short, long, conflicts_with = "statements")]
        file: Option<PathBuf>,
        /// The data directory.
        #[arg(long, env = "TABSNAP_DATA")]
        data: PathBuf,
        /// Where repositories and job history are kept between runs (shared safely by concurrent processes).
        #[arg(long, env = "TABSNAP_STATE")]
        state: PathBuf,
        /// The user (`root` and `admin` are superusers; others have LOAD on every database).
        #[arg(long, default_value = "root")]
        user: String,
        /// The current database.
        #[arg(long)]
        db: Option<String>,
        /// JSON lines on standard output, one per statement: SHOW → an array of objects keyed by column; other
        /// statements → {"ok": true}; a job → {"job": id, "state": …, …}. Errors as JSON on standard error.
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
    #[command(after_help = "Examples:\n  \
        tabsnap demo --dir /tmp/tabsnap-demo\n  \
        tabsnap demo --dir /tmp/tabsnap-demo --json | jq .identical_files")]
    Demo {
        /// Directory for the sample data, state and repository: created, or replaced when an earlier demo made
        /// it; any other non-empty directory is refused.
        #[arg(long, default_value = "tabsnap-demo")]
        dir: PathBuf,
        /// Print one JSON object on standard output instead: {"dir", "database", "repository", "snapshot",
        /// "timestamp", "statements": [{"sql", "result"}], "identical_files"}.
        #[arg(long)]
        json: bool,
    },
    /// Back up a database of a data directory into a repository: every OLAP table with its partitions and
    /// rollups, as BACKUP SNAPSHOT through `tabsnap sql` would (or, with --depth, any tree of tablet directories).
    ///
    /// Examples:
    ///   tabsnap backup /backups/repo1 nightly --data /data --db sales
    ///   tabsnap backup s3://bucket/prefix nightly --data /data --db sales --json --quiet
    #[command(verbatim_doc_comment)]
    Backup {
        /// Repository location: `file:///path` or a path (created and initialised when new).
        location: String,
        /// Snapshot label.
        label: String,
        /// The data directory, laid out as `tabsnap sql --data` reads it (DATA/<db>/<table>/<partition>/…),
        /// unless --depth.
        #[arg(long, env = "TABSNAP_DATA")]
        data: PathBuf,
        /// The database to back up (with --depth: the name recorded in the snapshot).
        #[arg(long, default_value = "default")]
        db: String,
        /// Instead of the layout above: every directory this many levels below --data is a tablet, and the
        /// path above it names its table (one partition and index per table).
        #[arg(long)]
        depth: Option<usize>,
        #[command(flatten)]
        tuning: Tuning,
        #[command(flatten)]
        output: Output,
    },
    /// One node's share of a backup that several nodes run: pack the given tablets, upload them to the shared
    /// repository and leave this node's part for the coordinator (see `cluster-backup`).
    #[command(after_help = "Examples:\n  \
        tabsnap worker s3://bucket/prefix snap1 --timestamp 2026-11-23-10-00-00 --node be1 \\\n      \
        --data /data --db tpch --tablet lineitem/10001 --tablet lineitem/10002 --json")]
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
        /// Print one JSON object: {"node", "snapshot", "timestamp", "database", "tablets", "files", "bytes",
        /// "packs", "bytes_uploaded", "seconds"} (errors as JSON on standard error).
        #[arg(long)]
        json: bool,
    },
    /// Back up a directory tree of tablets with several worker processes (nodes): each packs and uploads its own
    /// tablets to the repository; a node that fails has its tablets retried on another; the manifest is written
    /// last, once every tablet is stored.
    #[command(after_help = "Examples:\n  \
        tabsnap cluster-backup /backups/repo1 snap1 --data /srv/tablets --depth 2 --workers 4\n  \
        tabsnap cluster-backup s3://bucket/prefix snap1 --data /srv/tablets --db tpch --json")]
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
        /// How many times a failed node's tablets are run again on a node that succeeded (0: a failed node fails
        /// the backup).
        #[arg(long, default_value_t = 2)]
        retries: u32,
        /// Print one JSON object: {"snapshot", "timestamp", "database", "tablets", "nodes", "failed_nodes",
        /// "retries", "parts", "files", "bytes", "seconds", "workers": [each worker's report]} (errors as JSON on
        /// standard error).
        #[arg(long)]
        json: bool,
    },
    /// List the snapshots of a repository.
    #[command(after_help = "Examples:\n  \
        tabsnap snapshots /backups/repo1\n  \
        tabsnap snapshots s3://bucket/prefix --json")]
    Snapshots {
        /// Repository location.
        location: String,
        /// Print one JSON array of {"snapshot", "timestamp", "database"}.
        #[arg(long)]
        json: bool,
    },
    /// Restore a snapshot into DIR/<db>/<table>/<partition>/[_rollup_<index>/]<tablet>/, the layout `tabsnap sql
    /// --data` reads. All or nothing: the snapshot is restored beside DIR and moved into place once every byte is
    /// checked; a failure leaves nothing behind. DIR must be new or empty, unless --merge.
    ///
    /// Examples:
    ///   tabsnap restore /backups/repo1 nightly --to /restore/data
    ///   tabsnap restore /backups/repo1 nightly latest --to /restore/data --json
    ///   tabsnap restore /backups/repo1 nightly 2026-11-30-02-00-00 --to /data --merge --table orders
    #[command(verbatim_doc_comment)]
    Restore {
        /// Repository location.
        location: String,
        /// Snapshot label.
        label: String,
        /// Backup timestamp, as `tabsnap snapshots` lists it, or `latest` (the default): the label's newest.
        timestamp: Option<String>,
        /// Target directory.
        #[arg(long)]
        to: PathBuf,
        /// Only this table (repeat for each).
        #[arg(long = "table")]
        tables: Vec<String>,
        /// Add the snapshot's tables to a non-empty DIR (a table that is there already is refused).
        #[arg(long)]
        merge: bool,
        /// Worker threads [default: one per core].
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        output: Output,
    },
    /// Remove what no snapshot needs (index objects and packs), under the repository's exclusive lock.
    ///
    /// Runs only when no backup, restore, verify or collection (of any process or host) holds the repository:
    /// otherwise it removes nothing and exits with status 75; run it again later. Stale locks (their process
    /// exited, or not refreshed for TABSNAP_LOCK_STALE_SECS, default 600) do not block it.
    #[command(after_help = "Examples:\n  tabsnap gc /backups/repo1 --dry-run\n  tabsnap gc s3://bucket/prefix --json")]
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
    #[command(after_help = "Examples:\n  tabsnap unlock /backups/repo1\n  tabsnap unlock s3://bucket/prefix --json")]
    Unlock {
        /// Repository location.
        location: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Drop snapshots a retention policy does not keep, per database (restic's `forget` rules), and free their
    /// space through a garbage collection (deferred, exit status 75, while the repository is in use).
    ///
    /// keep-last N keeps the N newest; keep-daily N the newest of each of the N most recent days that have
    /// snapshots; keep-weekly per ISO week; keep-monthly per month (UTC, of the backup timestamp). A snapshot any
    /// rule keeps is kept.
    ///
    /// Examples:
    ///   tabsnap forget /backups/repo1 --keep-daily 7 --keep-weekly 4 --dry-run
    ///   tabsnap forget s3://bucket/prefix --keep-last 3 --label nightly --json
    #[command(verbatim_doc_comment)]
    Forget(crate::forget::ForgetArgs),
    /// Check snapshots end to end; exit 1 naming every bad object, chunk and file.
    #[command(after_help = "Examples:\n  \
        tabsnap verify /backups/repo1\n  \
        tabsnap verify /backups/repo1 nightly 2026-11-30-02-00-00 --quick --json")]
    Verify {
        /// Repository location.
        location: String,
        /// Only this label (default: every snapshot).
        label: Option<String>,
        /// Only this backup timestamp of the label (`latest`: its newest backup).
        timestamp: Option<String>,
        /// Check structure and sizes without reading data. On an encrypted repository without its password:
        /// read every object once and check its framing, length and the crc32c of its stored bytes (content
        /// needs the password).
        #[arg(long)]
        quick: bool,
        /// Print one JSON object: {"ok", "snapshots", "packs", "chunks", "problems": [...]}.
        #[arg(long)]
        json: bool,
    },
}
