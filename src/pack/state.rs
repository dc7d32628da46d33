//! What a repository holds: its config, snapshots, indexes and packs.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::format::{
    self, CONFIG_KEY, ChunkEntry, ContentHash, INDEX_PREFIX, Index, IndexPack, Manifest, PACK_TRAILER_LEN,
    PACKS_PREFIX, RepoConfig, SNAPSHOTS_PREFIX, StoredManifest,
};
use crate::repo::{PutMode, Repository, get};
use crate::{Error, ErrorKind, Result};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `yyyy-MM-dd-HH-mm-ss` in UTC for a time in milliseconds since the epoch (Doris's backup timestamp format).
pub fn timestamp_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}-{:02}-{:02}-{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Makes `repo` a tabsnap repository, or attaches to the one already there.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`] when the location holds objects but no tabsnap config (something else lives
/// there); [`ErrorKind::Format`] for a config of an unsupported version; repository errors.
pub fn init_repository(repo: &dyn Repository) -> Result<RepoConfig> {
    if repo.size(CONFIG_KEY)?.is_some() {
        return check_encryption(repo, RepoConfig::decode(CONFIG_KEY, &get(repo, CONFIG_KEY)?)?);
    }
    let existing = repo.list("")?;
    if let Some(other) = existing.first() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{} holds objects that are not a tabsnap repository (e.g. {}); choose an empty location",
                repo.describe(),
                other.key
            ),
        ));
    }
    let config = RepoConfig::new(now_ms());
    repo.put(CONFIG_KEY, &config.encode()?, PutMode::CreateIfAbsent)?;
    // Another process may have won the race: read back what is there.
    check_encryption(repo, RepoConfig::decode(CONFIG_KEY, &get(repo, CONFIG_KEY)?)?)
}

/// Refuses an encrypted repository reached without its key, and a repository that is not encrypted reached
/// through one: either would misread every object.
fn check_encryption(repo: &dyn Repository, config: RepoConfig) -> Result<RepoConfig> {
    match (config.is_encrypted(), repo.hash_key().is_some()) {
        (true, false) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{} is an encrypted repository: give its password (\"encryption\" = \"on\" with \
                 \"encryption.password\" or \"encryption.key_file\"; TABSNAP_PASSWORD or --password-file on the \
                 command line)",
                repo.describe()
            ),
        )),
        (false, true) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{} is a repository that is not encrypted: a repository's encryption is chosen when it is created",
                repo.describe()
            ),
        )),
        _ => Ok(config),
    }
}

/// Checks that `repo` is a tabsnap repository (and, encrypted, that it is reached with its key).
pub(crate) fn open_repository(repo: &dyn Repository) -> Result<RepoConfig> {
    match repo.size(CONFIG_KEY)? {
        Some(_) => check_encryption(repo, RepoConfig::decode(CONFIG_KEY, &get(repo, CONFIG_KEY)?)?),
        None => Err(Error::new(
            ErrorKind::NotFound,
            format!("{} is not a tabsnap repository (no config object)", repo.describe()),
        )),
    }
}

/// A snapshot in a repository: its label and backup timestamp.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId {
    /// The label.
    pub label: String,
    /// The backup timestamp.
    pub timestamp: String,
}

/// The word that names a label's newest backup where a backup timestamp is asked for (RESTORE's
/// `"backup_timestamp" = "latest"`, `tabsnap restore REPO LABEL latest`), in any case. No backup can have it
/// as its timestamp: a backup given it is refused.
pub const LATEST: &str = "latest";

/// Whether `timestamp` is [`LATEST`] (in any case).
pub fn is_latest(timestamp: &str) -> bool {
    timestamp.eq_ignore_ascii_case(LATEST)
}

/// The newest backup of `label` in `repo`: the greatest of its timestamps (`yyyy-MM-dd-HH-mm-ss` sorts as time
/// does).
///
/// # Errors
/// [`ErrorKind::NotFound`] when `repo` holds no backup of `label`; repository errors.
pub fn latest_snapshot(repo: &dyn Repository, label: &str) -> Result<SnapshotId> {
    list_snapshots(repo)?.into_iter().rfind(|s| s.label == label).ok_or_else(|| {
        Error::new(ErrorKind::NotFound, format!("{} holds no backup of snapshot {label}", repo.describe()))
    })
}

/// The snapshots in `repo`, sorted by label then timestamp.
///
/// # Errors
/// Repository errors; a repository without a config is [`ErrorKind::NotFound`].
pub fn list_snapshots(repo: &dyn Repository) -> Result<Vec<SnapshotId>> {
    open_repository(repo)?;
    let mut out: Vec<SnapshotId> = repo
        .list(SNAPSHOTS_PREFIX)?
        .into_iter()
        .filter_map(|o| {
            let rest = o.key.strip_prefix(SNAPSHOTS_PREFIX)?;
            let (label, timestamp) = rest.split_once('/')?;
            Some(SnapshotId { label: label.into(), timestamp: timestamp.into() })
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The manifest of snapshot `label` at `timestamp`, with its pages.
///
/// # Errors
/// [`ErrorKind::NotFound`] naming the snapshot when there is none (or a page of it, named, is missing); format
/// and corruption errors.
pub fn load_manifest(repo: &dyn Repository, label: &str, timestamp: &str) -> Result<Manifest> {
    let stored = load_stored_manifest(repo, label, timestamp)?;
    crate::store::with_pages(repo, &format::manifest_key(label, timestamp), stored)
}

/// The manifest object of snapshot `label` at `timestamp`, without its pages: its database, times, indexes
/// and pages, for what needs no tablets (listings, garbage collection, retention).
///
/// # Errors
/// As [`load_manifest`].
pub fn load_stored_manifest(repo: &dyn Repository, label: &str, timestamp: &str) -> Result<StoredManifest> {
    let key = format::manifest_key(label, timestamp);
    let data = get(repo, &key).map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            Error::new(
                ErrorKind::NotFound,
                format!("snapshot {label} with timestamp {timestamp} does not exist in {}", repo.describe()),
            )
            .with_object(key.clone())
        } else {
            e
        }
    })?;
    StoredManifest::decode(&key, &data)
}

/// Reads the footer of pack `id` (of `len` bytes) with at most two ranged reads.
pub(crate) fn read_pack_footer(repo: &dyn Repository, id: &ContentHash, len: u64) -> Result<Vec<ChunkEntry>> {
    let key = format::pack_key(id);
    if len < PACK_TRAILER_LEN as u64 {
        return Err(Error::new(ErrorKind::Format, format!("pack {key}: truncated ({len} bytes)")).with_object(key));
    }
    let guess = len.min(64 << 10);
    let tail = repo.get_range(&key, len - guess, Some(guess))?;
    check_len(&key, &tail, guess)?;
    let need = format::footer_len(&key, &tail)?;
    let tail = if need > guess && need <= len {
        let t = repo.get_range(&key, len - need, Some(need))?;
        check_len(&key, &t, need)?;
        t
    } else {
        tail
    };
    format::decode_pack_footer(&key, len, &tail)
}

/// Fails when a repository returned fewer bytes than asked (a short read is never silently accepted).
pub(crate) fn check_len(key: &str, data: &[u8], want: u64) -> Result<()> {
    if data.len() as u64 == want {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Repository,
            format!("object {key}: short read ({} bytes returned, {want} asked)", data.len()),
        )
        .with_object(key))
    }
}

/// What a backup needs to know of the repository: every chunk it already holds, and where.
pub(crate) struct KnownChunks {
    /// (chunk, position in `indexes`, position in `packs`), sorted by chunk, one entry per chunk: 40 bytes a
    /// chunk, looked up by binary search (a hash map of the same would take half again as much, and twice that
    /// while it grows).
    indexed: Vec<(ContentHash, u32, u32)>,
    /// The index objects, by position.
    pub indexes: Vec<ContentHash>,
    /// The packs those indexes list (id, length), by position.
    pub packs: Vec<(ContentHash, u64)>,
    /// Packs that no index lists (left by an interrupted backup): their chunks are reused by the next backup,
    /// which lists them in its own index.
    pub orphans: Vec<IndexPack>,
}

impl KnownChunks {
    fn find(&self, chunk: &ContentHash) -> Option<&(ContentHash, u32, u32)> {
        self.indexed.binary_search_by(|e| e.0.cmp(chunk)).ok().map(|i| &self.indexed[i])
    }

    /// Whether an index lists `chunk`.
    pub(crate) fn contains(&self, chunk: &ContentHash) -> bool {
        self.find(chunk).is_some()
    }

    /// The index that locates `chunk`, and the pack (id, length) that holds it (the first index listing it).
    pub(crate) fn locate(&self, chunk: &ContentHash) -> Option<(ContentHash, (ContentHash, u64))> {
        let &(_, i, p) = self.find(chunk)?;
        Some((*self.indexes.get(i as usize)?, *self.packs.get(p as usize)?))
    }
}

pub(crate) fn load_known_chunks(repo: &dyn Repository) -> Result<KnownChunks> {
    let too_many = || Error::new(ErrorKind::InvalidArgument, "the repository lists over 2^32 indexes or packs");
    let mut known = KnownChunks { indexed: Vec::new(), indexes: Vec::new(), packs: Vec::new(), orphans: Vec::new() };
    let mut indexed_packs = HashSet::new();
    for obj in repo.list(INDEX_PREFIX)? {
        let Some(id) = format::index_id_from_key(&obj.key) else { continue };
        let index = Index::decode(&obj.key, &get(repo, &obj.key)?)?;
        let i = u32::try_from(known.indexes.len()).map_err(|_| too_many())?;
        known.indexes.push(id);
        for p in index.packs {
            indexed_packs.insert(p.id);
            let n = u32::try_from(known.packs.len()).map_err(|_| too_many())?;
            known.packs.push((p.id, p.len));
            known.indexed.extend(p.chunks.iter().map(|c| (c.hash, i, n)));
        }
    }
    // A stable sort: of two indexes listing one chunk, the one read first is kept.
    known.indexed.sort_by_key(|e| e.0);
    known.indexed.dedup_by(|later, first| later.0 == first.0);
    for obj in repo.list(PACKS_PREFIX)? {
        let Some(id) = format::pack_id_from_key(&obj.key) else { continue };
        if indexed_packs.contains(&id) {
            continue;
        }
        // A pack that cannot be read is left alone: its chunks are simply stored again.
        if let Ok(chunks) = read_pack_footer(repo, &id, obj.size) {
            known.orphans.push(IndexPack { id, len: obj.size, chunks });
        }
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::timestamp_utc;

    #[test]
    fn timestamps_are_doris_format_in_utc() {
        assert_eq!(timestamp_utc(0), "1970-01-01-00-00-00");
        assert_eq!(timestamp_utc(1_704_103_200_000), "2024-01-01-10-00-00");
        assert_eq!(timestamp_utc(951_782_400_000), "2000-02-29-00-00-00");
    }
}
