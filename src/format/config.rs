//! The repository config object (`config`): format version and the parameters backups use.

use serde::{Deserialize, Serialize};

use crate::format::{FORMAT_VERSION, ObjectKind, decode_meta, encode_meta};
use crate::{Error, ErrorKind, Result};

/// The repository config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoConfig {
    /// The repository format version (also in the object header).
    pub format_version: u8,
    /// A random id, distinct per repository.
    pub id: String,
    /// The content hash chunks are named by.
    pub hash: String,
    /// Milliseconds since the Unix epoch at creation.
    pub created_ms: u64,
}

impl RepoConfig {
    /// A config for a new repository.
    pub fn new(created_ms: u64) -> RepoConfig {
        let seed = format!("{created_ms} {} {:?}", std::process::id(), std::thread::current().id());
        let id = blake3::hash(seed.as_bytes()).to_hex()[..32].to_owned();
        RepoConfig { format_version: FORMAT_VERSION, id, hash: "blake3".into(), created_ms }
    }

    /// The encoded object.
    ///
    /// # Errors
    /// Never in practice.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let body = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("cannot encode config: {e}")))?;
        encode_meta(ObjectKind::Config, &body, false)
    }

    /// Decodes the config object stored under `key`; its hash must be BLAKE3 and its format version the one
    /// this library reads.
    ///
    /// # Errors
    /// [`ErrorKind::Format`] for anything that is not a tabsnap config of a supported version, naming `key`.
    pub fn decode(key: &str, data: &[u8]) -> Result<RepoConfig> {
        let body = decode_meta(ObjectKind::Config, key, data)?;
        let c: RepoConfig = serde_json::from_slice(&body)
            .map_err(|e| Error::new(ErrorKind::Format, format!("repository config {key}: {e}")).with_object(key))?;
        if c.hash != "blake3" {
            return Err(Error::new(ErrorKind::Format, format!("repository config {key}: unknown hash {:?}", c.hash))
                .with_object(key));
        }
        if c.format_version != FORMAT_VERSION {
            return Err(Error::new(
                ErrorKind::Format,
                format!(
                    "repository config {key}: format version {} is not supported (this tabsnap reads version \
                     {FORMAT_VERSION})",
                    c.format_version
                ),
            )
            .with_object(key));
        }
        Ok(c)
    }
}
