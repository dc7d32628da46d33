//! Snapshot manifests: the commit point of a backup. A snapshot exists if and only if its manifest exists.
//!
//! The body is JSON (zstd-compressed): the database, label and timestamp; tables → partitions → indexes →
//! tablets → files; per file its path inside the tablet, size, crc32c of the whole content and chunk hashes; the
//! index objects that locate those chunks; and the host's opaque metadata blob (hex).

use serde::{Deserialize, Serialize};

use crate::format::limits::MAX_META_BODY;
use crate::format::{ContentHash, ObjectKind, SNAPSHOTS_PREFIX, decode_meta, encode_meta, manifest_key};
use crate::tree::{Place, Tree};
use crate::{Error, ErrorKind, Result};

/// One file of a tablet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the tablet directory, `/`-separated, relative, without `.` or `..` components.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// crc32c (Castagnoli) of the whole content: lets a host check a restored file alone.
    pub crc32c: u32,
    /// Hashes of the file's chunks, in order (fixed-size chunks; the last may be shorter).
    pub chunks: Vec<ContentHash>,
    /// The file as the backup found it: the next backup of the label takes the chunks of a file whose size,
    /// modification time and inode are unchanged from here instead of reading it again (tablet files are
    /// immutable once written). Absent in manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<FileSeen>,
}

/// What identifies an unchanged file between two backups (with its size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSeen {
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    /// Inode number.
    pub ino: u64,
}

/// One tablet: its id and files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TabletEntry {
    /// The host's tablet id.
    pub id: String,
    /// The tablet's files, sorted by path.
    pub files: Vec<FileEntry>,
}

/// One index of a partition: the base index or a rollup / synchronous materialized view.
pub type IndexEntry = crate::tree::IndexNode<TabletEntry>;

/// One partition.
pub type PartitionEntry = crate::tree::PartitionNode<TabletEntry>;

/// One table.
pub type TableEntry = crate::tree::TableNode<TabletEntry>;

/// One file of a manifest, with where it sits.
#[derive(Debug, Clone, Copy)]
pub struct FileRef<'a> {
    /// Its table, partition and index.
    pub place: Place<'a>,
    /// Its tablet.
    pub tablet: &'a TabletEntry,
    /// The file.
    pub file: &'a FileEntry,
}

/// A view backed up with a snapshot: its name and definition (the host's text, opaque to tabsnap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewEntry {
    /// The view's name.
    pub name: String,
    /// Its definition, as the host gave it.
    pub definition: String,
}

/// A snapshot manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The database backed up.
    pub database: String,
    /// The snapshot label.
    pub label: String,
    /// The backup timestamp, `yyyy-MM-dd-HH-mm-ss` (UTC).
    pub timestamp: String,
    /// Milliseconds since the Unix epoch when the backup started.
    pub created_ms: u64,
    /// The chunk size files were split with.
    pub chunk_size: u64,
    /// The tables.
    pub tables: Tree<TabletEntry>,
    /// The index objects that locate every chunk referenced.
    pub indexes: Vec<ContentHash>,
    /// The host's metadata (schemas, versions), opaque to tabsnap, hex-encoded.
    pub host_metadata: String,
    /// The views backed up (absent from manifests without any: readers before views ignore the field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<ViewEntry>,
}

impl Manifest {
    /// The encoded object.
    ///
    /// # Errors
    /// Only if the object would exceed 4 GiB.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let body = serde_json::to_vec(self)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("cannot encode manifest: {e}")))?;
        if body.len() > MAX_META_BODY {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("manifest of {} bytes is over the format's limit of {MAX_META_BODY}", body.len()),
            ));
        }
        encode_meta(ObjectKind::Manifest, &body, true)
    }

    /// Decodes the version-1 manifest stored under `key` and checks it ([`Manifest::check`]); a snapshot's manifest must
    /// also record the label and timestamp its key names.
    ///
    /// # Errors
    /// [`ErrorKind::Format`], [`ErrorKind::Corruption`] or [`ErrorKind::InvalidArgument`], naming `key`.
    pub fn decode(key: &str, data: &[u8]) -> Result<Manifest> {
        if data.get(5) == Some(&crate::format::PAGED_MANIFEST_VERSION) && data.get(4) == Some(&b'M') {
            return Err(Error::new(
                ErrorKind::Format,
                format!("manifest {key} is paged (version 2): its tablets are in its pages (StoredManifest::decode)"),
            )
            .with_object(key));
        }
        let body = decode_meta(ObjectKind::Manifest, key, data)?;
        let mut m: Manifest = serde_json::from_slice(&body)
            .map_err(|e| Error::new(ErrorKind::Format, format!("manifest {key}: {e}")).with_object(key))?;
        drop(body);
        super::manifest_pages::compact(&mut m.tables);
        m.check(key)?;
        if key.starts_with(SNAPSHOTS_PREFIX) && key != manifest_key(&m.label, &m.timestamp) {
            return Err(Error::new(
                ErrorKind::Format,
                format!("manifest {key}: records snapshot {} {} instead", m.label, m.timestamp),
            )
            .with_object(key));
        }
        Ok(m)
    }

    /// Every file with its place and tablet, in manifest order.
    pub fn files(&self) -> impl Iterator<Item = FileRef<'_>> {
        self.tables
            .tablets()
            .flat_map(|(place, tablet)| tablet.files.iter().map(move |file| FileRef { place, tablet, file }))
    }

    /// The host metadata blob, decoded.
    pub fn host_metadata_bytes(&self) -> Vec<u8> {
        let b = self.host_metadata.as_bytes();
        let hex = |c: u8| match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0,
        };
        b.chunks(2).filter(|p| p.len() == 2).map(|p| (hex(p[0]) << 4) | hex(p[1])).collect()
    }

    /// Hex-encodes `blob` for [`Manifest::host_metadata`].
    pub fn encode_host_metadata(blob: &[u8]) -> String {
        blob.iter().map(|b| format!("{b:02x}")).collect()
    }
}
