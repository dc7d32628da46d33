//! What each thread of a backup's pool keeps between units of work (its compressors and buffers, and its end of
//! the upload queue), and how it encodes a chunk: with the backup's dictionary (small files), compressed in full,
//! or raw, as the `compression` mode says.

use std::sync::mpsc::SyncSender;

use super::CompressionMode;
use super::dictionary::{PackDictionary, compress_small};
use super::probe::worth_compressing;
use super::upload::OpenPack;
use crate::format::Compression;
use crate::{Error, ErrorKind, Result};

/// What each worker thread keeps between units: its compressors and buffers, and its end of the upload queue.
pub(super) struct Worker<'d> {
    mode: CompressionMode,
    z: zstd::bulk::Compressor<'static>,
    probe: zstd::bulk::Compressor<'static>,
    /// Compresses small files with the backup's dictionary.
    small: Option<zstd::bulk::Compressor<'d>>,
    pub(super) read: Vec<u8>,
    out: Vec<u8>,
    pub(super) tx: Option<SyncSender<OpenPack>>,
}

impl<'d> Worker<'d> {
    pub(super) fn new(
        mode: CompressionMode,
        auto_level: i32,
        tx: Option<SyncSender<OpenPack>>,
        dictionary: Option<&'d PackDictionary>,
    ) -> std::io::Result<Worker<'d>> {
        let level = if let CompressionMode::Zstd(level) = mode { level } else { auto_level };
        Ok(Worker {
            mode,
            z: zstd::bulk::Compressor::new(level)?,
            probe: zstd::bulk::Compressor::new(1)?,
            small: dictionary.map(PackDictionary::compressor).transpose()?,
            read: Vec::new(),
            out: Vec::new(),
            tx,
        })
    }

    /// Whether `raw` is compressed in full: as the probe says (`auto`), always (`zstd-N`), never (`none`).
    fn compresses(&mut self, raw: &[u8]) -> Result<bool> {
        match self.mode {
            CompressionMode::Auto => worth_compressing(raw, &mut self.probe, &mut self.out),
            CompressionMode::Zstd(_) => Ok(true),
            CompressionMode::None => Ok(false),
        }
    }
}

impl Worker<'_> {
    /// Encodes one chunk: the stored bytes (`None`: `raw` itself) and how they encode it. A small file's chunk
    /// goes through the backup's dictionary when there is one; anything else is compressed in full when
    /// [`Worker::compresses`] says so and that makes it smaller.
    pub(super) fn encode(&mut self, raw: &[u8], small: bool) -> Result<(Option<&[u8]>, Compression)> {
        if let Some(z) = self.small.as_mut().filter(|_| small) {
            return Ok(match compress_small(raw, z, &mut self.out)? {
                Compression::ZstdDictionary => (Some(self.out.as_slice()), Compression::ZstdDictionary),
                _ => (None, Compression::None),
            });
        }
        if !self.compresses(raw)? {
            return Ok((None, Compression::None));
        }
        self.out.clear();
        self.out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
        self.z.compress_to_buffer(raw, &mut self.out).map_err(|e| Error::new(ErrorKind::Io, format!("zstd: {e}")))?;
        Ok(if self.out.len() < raw.len() {
            (Some(self.out.as_slice()), Compression::Zstd)
        } else {
            (None, Compression::None)
        })
    }
}
