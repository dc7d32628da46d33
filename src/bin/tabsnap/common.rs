//! What the subcommands share: repository locations, packer tuning, exit statuses and output.

use std::path::PathBuf;
use std::time::Duration;

use tabsnap::pack::Packer;
use tabsnap::repo::{LocalRepository, Repository, Retry, S3Config, S3Repository};
use tabsnap::{Error, ErrorKind};

/// Packer tuning shared by the data commands.
#[derive(clap::Args)]
pub struct Tuning {
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// zstd level.
    #[arg(long, default_value_t = 3)]
    pub zstd_level: i32,
}

impl Tuning {
    pub fn packer(&self) -> Result<Packer, Error> {
        Packer::builder().threads(self.threads).zstd_level(self.zstd_level).build()
    }
}

/// A repository location: `file:///path`, a plain path, or `s3://bucket/prefix` (endpoint, region and
/// credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
/// path-style URLs unless TABSNAP_S3_VIRTUAL_HOST=1).
pub fn open_location(location: &str, create: bool) -> Result<Box<dyn Repository>, Error> {
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
