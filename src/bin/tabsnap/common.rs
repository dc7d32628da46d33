//! What the subcommands share: repository locations, packer tuning, exit statuses and output.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tabsnap::pack::{Progress, ProgressInfo};

use tabsnap::crypto::{EncryptedRepository, KdfParams, Password};
use tabsnap::format::{CONFIG_KEY, RepoConfig};
use tabsnap::pack::{CompressionMode, Packer};
use tabsnap::repo::{LocalRepository, Repository, Retry, S3Config, S3Repository};
use tabsnap::{Error, ErrorKind};

/// Packer tuning shared by the data commands.
#[derive(clap::Args)]
pub struct Tuning {
    /// Worker threads [default: one per core].
    #[arg(long)]
    pub threads: Option<usize>,
    /// How chunks are compressed: auto (zstd at --zstd-level where samples of the chunk shrink; raw
    /// otherwise), zstd-N (every chunk at level N, 1 to 19; zstd is zstd-3) or none (raw). A BACKUP's or a
    /// repository's "compression" property takes precedence.
    #[arg(long, default_value = "auto", value_parser = compression_mode)]
    pub compression: CompressionMode,
    /// The zstd level of --compression auto.
    #[arg(long, default_value_t = 3)]
    pub zstd_level: i32,
}

fn compression_mode(s: &str) -> Result<CompressionMode, String> {
    s.parse().map_err(|e: Error| e.message().to_owned())
}

/// How a long-running command reports.
#[derive(clap::Args, Clone, Copy)]
pub struct Output {
    /// Print one JSON object on standard output (errors as JSON on standard error).
    #[arg(long)]
    pub json: bool,
    /// No progress display on standard error.
    #[arg(long)]
    pub quiet: bool,
}

impl Tuning {
    pub fn packer(&self) -> Result<Packer, Error> {
        Packer::builder()
            .threads(self.threads.unwrap_or(0))
            .compression(self.compression)
            .zstd_level(self.zstd_level)
            .build()
    }
}

/// The `--password-file` of this invocation (set once, by `main`).
pub static PASSWORD_FILE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// The password for encrypted repositories: the `--password-file`'s content, else `TABSNAP_PASSWORD`.
fn password() -> Result<Option<Password>, Error> {
    if let Some(Some(path)) = PASSWORD_FILE.get() {
        return Password::from_file(path).map(Some);
    }
    match std::env::var_os("TABSNAP_PASSWORD") {
        Some(v) => Password::new(v.into_encoded_bytes()).map(Some).map_err(|e| e.context("TABSNAP_PASSWORD")),
        None => Ok(None),
    }
}

/// Whether `repo` holds a config that says it is encrypted (`None`: no config).
fn encrypted(repo: &dyn Repository) -> Result<Option<bool>, Error> {
    if repo.size(CONFIG_KEY)?.is_none() {
        return Ok(None);
    }
    Ok(Some(RepoConfig::decode(CONFIG_KEY, &tabsnap::repo::get(repo, CONFIG_KEY)?)?.is_encrypted()))
}

/// A repository location (see [`open_store`]), opened with the password (`--password-file` or
/// TABSNAP_PASSWORD) when it is encrypted. A new repository (`create`) is made encrypted when a password is
/// given (Argon2id parameters from TABSNAP_KDF, else the defaults).
pub fn open_location(location: &str, create: bool) -> Result<Box<dyn Repository>, Error> {
    let store: Arc<dyn Repository> = Arc::from(open_store(location, create)?);
    let password = password()?;
    match (encrypted(store.as_ref())?, password) {
        (Some(true), Some(pw)) => Ok(Box::new(EncryptedRepository::open(store, &pw)?.0)),
        (Some(true), None) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{} is an encrypted repository: give its password with TABSNAP_PASSWORD or --password-file",
                store.describe()
            ),
        )),
        (Some(false), Some(_)) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{} is not encrypted, but a password was given (TABSNAP_PASSWORD or --password-file): unset it",
                store.describe()
            ),
        )),
        (None, Some(pw)) if create => {
            Ok(Box::new(EncryptedRepository::open_or_create(store, &pw, KdfParams::from_env()?)?.0))
        }
        _ => Ok(Box::new(store)),
    }
}

/// The store of an encrypted repository at `location` when no password is given (what `verify --quick` checks
/// without it); `None` otherwise.
pub fn sealed_without_password(location: &str) -> Result<Option<Box<dyn Repository>>, Error> {
    let store = open_store(location, false)?;
    Ok((encrypted(store.as_ref())? == Some(true) && password()?.is_none()).then_some(store))
}

/// A repository location: `file:///path`, a plain path, or `s3://bucket/prefix` (endpoint, region and
/// credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
/// path-style URLs unless TABSNAP_S3_VIRTUAL_HOST=1).
fn open_store(location: &str, create: bool) -> Result<Box<dyn Repository>, Error> {
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

pub fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// Writes to standard output. A closed pipe ends the program quietly with status 141, as a Unix tool killed by
/// SIGPIPE would; any other write error ends it with status 1.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(1);
    }
}

/// `n thing` or `n things`.
pub fn count(n: u64, thing: &str) -> String {
    if n == 1 { format!("1 {thing}") } else { format!("{n} {thing}s") }
}

/// Prints an error: as text, or with `--json` as one JSON object on standard error
/// (`{"error": {"kind": …, "message": …, "object": …, "exit": …}}`).
pub fn report_error(e: &Error, json: bool, exit: u8) {
    if json {
        let v = serde_json::json!({"error": {
            "kind": format!("{:?}", e.kind()), "message": e.message(), "object": e.object(), "exit": exit,
        }});
        eprintln!("{v}");
    } else {
        eprintln!("error: {e}");
    }
}

/// Shows a backup's or restore's progress on standard error: a line redrawn in place on a terminal, a plain line
/// every 10 seconds otherwise, nothing with `--quiet`.
pub struct StderrProgress {
    what: String,
    tty: bool,
    last: Mutex<Option<Instant>>,
}

impl StderrProgress {
    /// A progress display for `what` (`backup snap1`), or `None` when `quiet`.
    pub fn new(what: &str, quiet: bool) -> Option<Arc<StderrProgress>> {
        (!quiet).then(|| {
            Arc::new(StderrProgress { what: what.into(), tty: std::io::stderr().is_terminal(), last: Mutex::new(None) })
        })
    }

    /// Ends the redrawn line on a terminal.
    pub fn finish(&self) {
        if self.tty && self.last.lock().is_some() {
            eprintln!();
        }
    }
}

impl Progress for StderrProgress {
    fn update(&self, p: &ProgressInfo) {
        let every = if self.tty { Duration::from_millis(200) } else { Duration::from_secs(10) };
        {
            let mut last = self.last.lock();
            if last.is_some_and(|t| t.elapsed() < every) {
                return;
            }
            *last = Some(Instant::now());
        }
        let pct = if p.bytes_total > 0 { p.bytes_done as f64 * 100.0 / p.bytes_total as f64 } else { 100.0 };
        let line = format!(
            "{}: {}/{} files, {:.1}/{:.1} MB ({pct:.0}%)",
            self.what,
            p.files_done,
            p.files_total,
            p.bytes_done as f64 / 1e6,
            p.bytes_total as f64 / 1e6
        );
        if self.tty {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    }
}
