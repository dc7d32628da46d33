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
    /// The cipher of an encrypted repository (`chacha20-poly1305`); absent when the repository is not encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
}

/// The hash of a repository that is not encrypted.
pub const HASH_PLAIN: &str = "blake3";
/// The hash of an encrypted repository: BLAKE3 keyed with a secret of the master key.
pub const HASH_KEYED: &str = "blake3-keyed";
/// The cipher of encrypted repositories.
pub const CIPHER: &str = "chacha20-poly1305";

impl RepoConfig {
    /// A config for a new repository.
    pub fn new(created_ms: u64) -> RepoConfig {
        let seed = format!("{created_ms} {} {:?}", std::process::id(), std::thread::current().id());
        let id = blake3::hash(seed.as_bytes()).to_hex()[..32].to_owned();
        RepoConfig { format_version: FORMAT_VERSION, id, hash: HASH_PLAIN.into(), created_ms, encryption: None }
    }

    /// A config for a new encrypted repository, with a random id.
    ///
    /// # Errors
    /// When the system's random source fails.
    pub fn new_encrypted(created_ms: u64) -> Result<RepoConfig> {
        let mut id = [0u8; 16];
        crate::crypto::fill_random(&mut id)?;
        let id = id.iter().map(|b| format!("{b:02x}")).collect();
        Ok(RepoConfig { id, hash: HASH_KEYED.into(), encryption: Some(CIPHER.into()), ..RepoConfig::new(created_ms) })
    }

    /// Whether the repository is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encryption.is_some()
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

    /// Decodes the config object stored under `key`; its hash must be BLAKE3 (keyed when encrypted, with the
    /// one cipher this library knows) and its format version the one this library reads.
    ///
    /// # Errors
    /// [`ErrorKind::Format`] for anything that is not a tabsnap config of a supported version, naming `key`.
    pub fn decode(key: &str, data: &[u8]) -> Result<RepoConfig> {
        let body = decode_meta(ObjectKind::Config, key, data)?;
        let c: RepoConfig = serde_json::from_slice(&body)
            .map_err(|e| Error::new(ErrorKind::Format, format!("repository config {key}: {e}")).with_object(key))?;
        let known = match c.encryption.as_deref() {
            None => c.hash == HASH_PLAIN,
            Some(CIPHER) => c.hash == HASH_KEYED,
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::Format,
                    format!("repository config {key}: unknown cipher {other:?}"),
                )
                .with_object(key));
            }
        };
        if !known {
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
