//! The packer's tunables, the one place their accepted ranges are written: the builder, the C setters and the
//! CLI all check through [`PackerOptions::check`].

use std::fmt::{self, Display};
use std::ops::RangeInclusive;
use std::str::FromStr;

use super::Packer;
use crate::{Error, ErrorKind, Result};

/// Tunables of the packer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PackerOptions {
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// How chunks are compressed (the `compression` property; default [`CompressionMode::Auto`]).
    pub compression: CompressionMode,
    /// The zstd level of [`CompressionMode::Auto`] (1–19; 3 is zstd's own default).
    pub zstd_level: i32,
    /// Files larger than this are split into chunks of this size.
    pub chunk_size: usize,
    /// Pack objects are sealed and uploaded when they reach this size.
    pub pack_size: usize,
    /// Memory for packs being filled and uploaded; bounds peak memory whatever the data size.
    pub bytes_in_flight: usize,
    /// Whether a backup with many small files trains a zstd dictionary on them and compresses them with it.
    pub small_file_dictionary: bool,
    /// A manifest is stored as pages of about this many bytes of JSON each (whole tablets; see
    /// [`crate::format::PAGE_BODY_TARGET`], the default), so no metadata object grows with the job.
    pub manifest_page_size: usize,
    /// A backup takes its tablets in batches of about this many files: it asks the host for a batch's
    /// snapshots, backs the batch up and releases it before the next, so its memory and the snapshots a host
    /// holds at once are bounded by the batch, not the job (a batch holds at least one tablet).
    pub batch_files: usize,
    /// Restore and verify read a paged manifest's tablets a window of pages at a time: runs of pages of at most
    /// this many files (a larger page is a window alone). Memory follows it; each window reads the indexes again.
    pub window_files: u64,
}

impl Default for PackerOptions {
    fn default() -> Self {
        PackerOptions {
            threads: 0,
            compression: CompressionMode::Auto,
            zstd_level: 3,
            chunk_size: 4 << 20,
            pack_size: 16 << 20,
            bytes_in_flight: 64 << 20,
            small_file_dictionary: true,
            manifest_page_size: crate::format::PAGE_BODY_TARGET,
            batch_files: 1 << 14,
            window_files: 64 << 10,
        }
    }
}

/// How the packer compresses chunks: the values of the `compression` property (`auto`, `zstd-N`, `none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CompressionMode {
    /// `auto`: a chunk whose samples shrink at zstd's fastest level is compressed at
    /// [`PackerOptions::zstd_level`]; one whose samples do not (already-compressed data) is stored raw without
    /// being compressed in full.
    #[default]
    Auto,
    /// `zstd-N` (`zstd` is `zstd-3`): every chunk is compressed in full at level N, and stored raw only when
    /// that is not smaller.
    Zstd(i32),
    /// `none`: every chunk is stored raw.
    None,
}

impl CompressionMode {
    /// The values, as an error lists them.
    fn valid_values() -> String {
        let l = PackerOptions::ZSTD_LEVELS;
        format!("'auto', 'none', 'zstd' or 'zstd-N' with N in {}..={}", l.start(), l.end())
    }
}

/// `auto`, `none`, `zstd-N`: what [`CompressionMode::from_str`] reads back.
impl Display for CompressionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressionMode::Auto => f.write_str("auto"),
            CompressionMode::Zstd(level) => write!(f, "zstd-{level}"),
            CompressionMode::None => f.write_str("none"),
        }
    }
}

/// Reads `auto`, `none`, `zstd` (level 3) or `zstd-N` (any case, spaces around ignored), N checked by
/// [`PackerOptions::check`].
impl FromStr for CompressionMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<CompressionMode> {
        let v = s.trim().to_ascii_lowercase();
        let mode = match v.as_str() {
            "auto" => Some(CompressionMode::Auto),
            "none" => Some(CompressionMode::None),
            "zstd" => Some(CompressionMode::Zstd(3)),
            _ => v
                .strip_prefix("zstd-")
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse().ok())
                .map(CompressionMode::Zstd),
        };
        match mode {
            Some(m) if PackerOptions { compression: m, ..PackerOptions::default() }.check().is_ok() => Ok(m),
            _ => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("Invalid compression value: {s}. Must be {}", CompressionMode::valid_values()),
            )),
        }
    }
}

/// Builds a [`Packer`].
#[derive(Debug, Clone, Default)]
pub struct PackerBuilder {
    opts: PackerOptions,
}

impl PackerBuilder {
    /// Worker threads (0: one per core).
    pub fn threads(mut self, n: usize) -> Self {
        self.opts.threads = n;
        self
    }
    /// How chunks are compressed (default [`CompressionMode::Auto`]).
    pub fn compression(mut self, mode: CompressionMode) -> Self {
        self.opts.compression = mode;
        self
    }
    /// The zstd level of [`CompressionMode::Auto`], 1 to 19.
    pub fn zstd_level(mut self, level: i32) -> Self {
        self.opts.zstd_level = level;
        self
    }
    /// Chunk size for large files (64 KiB to 64 MiB).
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.opts.chunk_size = bytes;
        self
    }
    /// Target pack size (1 MiB to 1 GiB).
    pub fn pack_size(mut self, bytes: usize) -> Self {
        self.opts.pack_size = bytes;
        self
    }
    /// Memory budget for packs being filled and uploaded.
    pub fn bytes_in_flight(mut self, bytes: usize) -> Self {
        self.opts.bytes_in_flight = bytes;
        self
    }
    /// Whether a backup with many small files compresses them with a dictionary trained on them (default on).
    pub fn small_file_dictionary(mut self, on: bool) -> Self {
        self.opts.small_file_dictionary = on;
        self
    }
    /// The size of a manifest page's JSON (default 4 MiB; 1 KiB to 64 MiB).
    pub fn manifest_page_size(mut self, bytes: usize) -> Self {
        self.opts.manifest_page_size = bytes;
        self
    }
    /// The files a backup takes per batch of tablets (default 16,384; 1 to 2^24).
    pub fn batch_files(mut self, files: usize) -> Self {
        self.opts.batch_files = files;
        self
    }
    /// The most files restore and verify plan at once (default 65,536; 1 to 2^24).
    pub fn window_files(mut self, files: u64) -> Self {
        self.opts.window_files = files;
        self
    }
    /// All options at once.
    pub fn options(mut self, opts: PackerOptions) -> Self {
        self.opts = opts;
        self
    }

    /// The packer, with its own thread pool.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] for an option out of range, naming it and the range.
    pub fn build(self) -> Result<Packer> {
        let o = self.opts;
        o.check()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(o.threads)
            .thread_name(|i| format!("tabsnap-{i}"))
            .build()
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start worker threads: {e}")))?;
        Ok(Packer { pool: std::sync::Arc::new(pool), opts: o })
    }
}

/// The accepted range of every option.
impl PackerOptions {
    /// Worker threads (0: one per core).
    pub const THREADS: RangeInclusive<usize> = 0..=1024;
    /// zstd levels.
    pub const ZSTD_LEVELS: RangeInclusive<i32> = 1..=19;
    /// Chunk sizes: 64 KiB to 64 MiB.
    pub const CHUNK_SIZES: RangeInclusive<usize> = 64 << 10..=64 << 20;
    /// Pack sizes: 1 MiB to 1 GiB.
    pub const PACK_SIZES: RangeInclusive<usize> = 1 << 20..=1 << 30;
    /// Bytes in flight: 1 MiB to 1 TiB, and never less than the pack size.
    pub const BYTES_IN_FLIGHT: RangeInclusive<usize> = 1 << 20..=1 << 40;
    /// Manifest page sizes: 1 KiB to 64 MiB (half the largest metadata body a reader accepts).
    pub const MANIFEST_PAGE_SIZES: RangeInclusive<usize> = 1 << 10..=64 << 20;
    /// Files per backup batch: 1 to 2^24.
    pub const BATCH_FILES: RangeInclusive<usize> = 1..=1 << 24;
    /// Files per window of restore and verify: 1 to 2^24.
    pub const WINDOW_FILES: RangeInclusive<u64> = 1..=1 << 24;

    /// Checks every option against its range, and the memory budget against the pack size.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] naming the first option out of range and its range.
    pub fn check(&self) -> Result<()> {
        in_range("threads", self.threads, &Self::THREADS)?;
        in_range("zstd level", self.zstd_level, &Self::ZSTD_LEVELS)?;
        if let CompressionMode::Zstd(level) = self.compression {
            in_range("compression zstd level", level, &Self::ZSTD_LEVELS)?;
        }
        in_range("chunk size", self.chunk_size, &Self::CHUNK_SIZES)?;
        in_range("pack size", self.pack_size, &Self::PACK_SIZES)?;
        in_range("bytes in flight", self.bytes_in_flight, &Self::BYTES_IN_FLIGHT)?;
        in_range("manifest page size", self.manifest_page_size, &Self::MANIFEST_PAGE_SIZES)?;
        in_range("batch files", self.batch_files, &Self::BATCH_FILES)?;
        in_range("window files", self.window_files, &Self::WINDOW_FILES)?;
        if self.bytes_in_flight < self.pack_size {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("bytes in flight {} is smaller than the pack size {}", self.bytes_in_flight, self.pack_size),
            ));
        }
        Ok(())
    }
}

/// `value` if it lies in `range`; otherwise an error naming the option and the range.
pub(crate) fn in_range<T: PartialOrd + Display + Copy>(what: &str, value: T, range: &RangeInclusive<T>) -> Result<T> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} {value} is out of range {}..={}", range.start(), range.end()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_is_checked_and_named() {
        let ok = PackerOptions::default();
        assert!(ok.check().is_ok());
        let cases: [(PackerOptions, &str); 7] = [
            (PackerOptions { threads: 1025, ..ok }, "threads 1025 is out of range 0..=1024"),
            (PackerOptions { zstd_level: 0, ..ok }, "zstd level 0 is out of range 1..=19"),
            (
                PackerOptions { compression: CompressionMode::Zstd(20), ..ok },
                "compression zstd level 20 is out of range 1..=19",
            ),
            (PackerOptions { chunk_size: 1000, ..ok }, "chunk size 1000 is out of range"),
            (PackerOptions { pack_size: 2 << 30, ..ok }, "pack size 2147483648 is out of range"),
            (PackerOptions { bytes_in_flight: 1, ..ok }, "bytes in flight 1 is out of range"),
            (PackerOptions { pack_size: 32 << 20, bytes_in_flight: 16 << 20, ..ok }, "smaller than the pack size"),
        ];
        for (o, want) in cases {
            let e = o.check().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains(want), "{} lacks {want}", e.message());
            assert!(PackerBuilder::default().options(o).build().is_err());
        }
    }

    #[test]
    fn compression_values_read_back_and_others_are_refused_with_the_valid_values() {
        let read = |s: &str| s.parse::<CompressionMode>();
        assert_eq!(read("auto").unwrap(), CompressionMode::Auto);
        assert_eq!(read(" NONE ").unwrap(), CompressionMode::None);
        assert_eq!(read("zstd").unwrap(), CompressionMode::Zstd(3));
        assert_eq!(read("Zstd-19").unwrap(), CompressionMode::Zstd(19));
        for m in [CompressionMode::Auto, CompressionMode::None, CompressionMode::Zstd(1), CompressionMode::Zstd(19)] {
            assert_eq!(read(&m.to_string()).unwrap(), m);
        }
        for bad in ["", "zstd-0", "zstd-20", "zstd-", "zstd-+3", "zstd:5", "zstd5", "lz4", "zstd-3x", "gzip"] {
            let e = read(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert_eq!(
                e.message(),
                format!(
                    "Invalid compression value: {bad}. Must be 'auto', 'none', 'zstd' or 'zstd-N' with N in 1..=19"
                )
            );
        }
        let built = PackerBuilder::default().compression(CompressionMode::None).build().unwrap();
        assert_eq!(built.options().compression, CompressionMode::None);
        assert!(PackerBuilder::default().compression(CompressionMode::Zstd(0)).build().is_err());
    }
}
