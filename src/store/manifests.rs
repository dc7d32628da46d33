//! Manifests through a repository: a manifest's pages are written before it (the manifest is the commit point)
//! and read after it; a version-1 manifest is read whole.

use crate::format::{self, IdHasher, Manifest, StoredManifest};
use crate::repo::{PutMode, PutOutcome, Repository, get};
use crate::{Error, ErrorKind, Result};

/// Writes `manifest` under `key` as a paged manifest (pages of about `page_target` bytes of JSON), the pages
/// first, the manifest object with `mode` last. Returns what the manifest's put returned and the bytes written.
///
/// # Errors
/// Repository errors, with the object that failed (nothing is committed then: pages alone are garbage).
pub fn write_manifest(
    repo: &dyn Repository,
    key: &str,
    manifest: &Manifest,
    mode: PutMode,
    page_target: usize,
) -> Result<(PutOutcome, u64)> {
    let ids = IdHasher::new(repo.hash_key());
    let mut bytes = 0u64;
    let head = manifest.encode_paged(&ids, page_target, |id, obj| {
        repo.put(&format::tree_key(id), obj, PutMode::CreateIfAbsent)
            .map_err(|e| e.context("writing a manifest page"))?;
        bytes += obj.len() as u64;
        Ok(())
    })?;
    let outcome = repo.put(key, &head, mode).map_err(|e| e.context("writing the manifest"))?;
    Ok((outcome, bytes + head.len() as u64))
}

/// The manifest object stored under `key`, without its pages.
///
/// # Errors
/// Repository errors ([`ErrorKind::NotFound`] when there is none); format and corruption errors naming `key`.
pub fn read_stored_manifest(repo: &dyn Repository, key: &str) -> Result<StoredManifest> {
    StoredManifest::decode(key, &get(repo, key)?)
}

/// The whole manifest stored under `key`, its pages read and joined.
///
/// # Errors
/// As [`read_stored_manifest`] and [`with_pages`].
pub fn read_manifest(repo: &dyn Repository, key: &str) -> Result<Manifest> {
    with_pages(repo, key, read_stored_manifest(repo, key)?)
}

/// The whole manifest of `stored` (read from `key`): a version-2 one's pages read and joined.
///
/// # Errors
/// A missing page is [`ErrorKind::NotFound`] naming the page and the manifest; see
/// [`crate::format::ManifestHead::assemble`].
pub fn with_pages(repo: &dyn Repository, key: &str, stored: StoredManifest) -> Result<Manifest> {
    stored.into_manifest(key, |_, page| read_page(repo, page))
}

/// The manifest page stored under `key`, as [`crate::format::ManifestHead::for_each_page`] and
/// [`crate::format::ManifestHead::assemble`] read them.
///
/// # Errors
/// [`ErrorKind::NotFound`] naming the page when it is not in the repository; other repository errors.
pub fn read_page(repo: &dyn Repository, key: &str) -> Result<Vec<u8>> {
    get(repo, key).map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            Error::new(ErrorKind::NotFound, "the page is not in the repository").with_object(key)
        } else {
            e
        }
    })
}

/// The names of the tables of `stored` (read from `key`), in manifest order, each once: a paged manifest's
/// pages are read one at a time, and only the names kept.
///
/// # Errors
/// As [`crate::format::ManifestHead::for_each_page`], reading pages with [`read_page`].
pub fn table_names(repo: &dyn Repository, key: &str, stored: &StoredManifest) -> Result<Vec<String>> {
    let (mut names, mut seen) = (Vec::new(), std::collections::HashSet::new());
    let mut add = |name: &str| {
        if names.last().is_none_or(|last: &String| last != name) && seen.insert(name.to_owned()) {
            names.push(name.to_owned());
        }
    };
    match stored {
        StoredManifest::Whole(m) => m.tables.iter().for_each(|t| add(&t.name)),
        StoredManifest::Paged(h) => h.for_each_page(
            key,
            |_, page| read_page(repo, page),
            |tables| {
                tables.iter().for_each(|t| add(&t.name));
                Ok(())
            },
        )?,
    }
    Ok(names)
}
