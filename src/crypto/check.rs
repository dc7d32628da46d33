//! What can be checked of an encrypted repository without its password: every object's framing, length and
//! the crc32c of every stored block (storage damage, truncation, missing bytes). Tampering, and anything
//! inside the objects, needs the password (a full verify).

use super::keys::KEYS_PREFIX;
use super::repo::is_clear;
use super::seal::{self, HEADER_LEN, Header};
use crate::format::{CONFIG_KEY, RepoConfig, SNAPSHOTS_PREFIX};
use crate::pack::{Problem, VerifyReport};
use crate::repo::{ObjectInfo, Repository, get};
use crate::store;
use crate::{Error, ErrorKind, Result};

/// Checks every object of the encrypted repository in `repo` (the store itself, no password) under a shared
/// lock: the config, each key object's framing and crc32c, and each sealed object's header, length and
/// block crc32c. Every object is read once. `snapshots` counts the manifests, `packs` the objects checked,
/// `bytes_read` what was read; problems name their object.
///
/// # Errors
/// A repository that is not an encrypted tabsnap repository; a lock that cannot be taken.
pub fn check_stored(repo: &dyn Repository) -> Result<VerifyReport> {
    let config = RepoConfig::decode(CONFIG_KEY, &get(repo, CONFIG_KEY)?)?;
    if !config.is_encrypted() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{} is not encrypted: verify it as any other repository", repo.describe()),
        ));
    }
    store::with_shared_lock(repo, "verify", |_| {
        let mut report = VerifyReport::default();
        for o in repo.list("")? {
            if o.key == CONFIG_KEY || (is_clear(&o.key) && !o.key.starts_with(KEYS_PREFIX)) {
                continue;
            }
            report.snapshots += u64::from(o.key.starts_with(SNAPSHOTS_PREFIX));
            report.packs += 1;
            report.bytes_read += o.size;
            if let Err(e) = check_object(repo, &o) {
                let message = e.message().strip_prefix(&format!("encrypted object {}: ", o.key)).unwrap_or(e.message());
                report.problems.push(Problem {
                    object: o.key.clone(),
                    chunk: None,
                    files: Vec::new(),
                    message: message.to_owned(),
                });
            }
        }
        Ok(report)
    })
}

fn check_object(repo: &dyn Repository, o: &ObjectInfo) -> Result<()> {
    let data = get(repo, &o.key)?;
    if o.key.starts_with(KEYS_PREFIX) {
        return super::keys::check_key_object(&o.key, &data);
    }
    let header = Header::decode(&o.key, &data)?;
    if data.len() as u64 != header.sealed_len() {
        return Err(Error::new(
            ErrorKind::Corruption,
            format!("{} bytes stored, its header says {}", data.len(), header.sealed_len()),
        ));
    }
    seal::check_blocks(&o.key, &header, 0, &data[HEADER_LEN..])
}
