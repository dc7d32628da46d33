//! What each thread of a backup's pool keeps between units of work (its compressors and buffers, and its end of
//! the upload queue), and how it encodes a chunk: with the backup's dictionary (small files), compressed in full,
//! or raw, as the `compression` mode says.

use std::sync::mpsc::SyncSender;

use parking_lot::Mutex;

use super::CompressionMode;
use super::dictionary::PackDictionary;
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
        let smaller = if let Some(z) = self.small.as_mut().filter(|_| small) {
            compress_into(z, raw, &mut self.out)?.then_some(Compression::ZstdDictionary)
        } else if self.compresses(raw)? {
            compress_into(&mut self.z, raw, &mut self.out)?.then_some(Compression::Zstd)
        } else {
            None
        };
        Ok(match smaller {
            Some(code) => (Some(self.out.as_slice()), code),
            None => (None, Compression::None),
        })
    }
}

/// The workers of one backup between its batches: a batch's threads take them and give them back, so their
/// compressors and buffers are made once per backup instead of once per batch (and a long backup does not
/// leave its allocator a trail of them). Emptied before the upload queue closes: a worker holds a sender.
pub(super) struct Workers<'d> {
    idle: Mutex<Vec<Worker<'d>>>,
    mode: CompressionMode,
    auto_level: i32,
}

impl<'d> Workers<'d> {
    pub(super) fn new(mode: CompressionMode, auto_level: i32) -> Workers<'d> {
        Workers { idle: Mutex::new(Vec::new()), mode, auto_level }
    }

    /// An idle worker, or a new one; given back when the [`Lent`] is dropped. A worker made before the
    /// backup trained its dictionary gets the dictionary's compressor once there is one.
    pub(super) fn lend(
        &self,
        tx: impl FnOnce() -> Option<SyncSender<OpenPack>>,
        dictionary: Option<&'d PackDictionary>,
    ) -> Lent<'_, 'd> {
        let worker = match self.idle.lock().pop() {
            Some(mut w) => match dictionary.filter(|_| w.small.is_none()).map(PackDictionary::compressor) {
                Some(Err(e)) => Err(e),
                Some(Ok(small)) => {
                    w.small = Some(small);
                    Ok(w)
                }
                None => Ok(w),
            },
            None => Worker::new(self.mode, self.auto_level, tx(), dictionary),
        };
        Lent { worker: Some(worker), workers: self }
    }

    /// Drops every idle worker (and its sender).
    pub(super) fn clear(&self) {
        self.idle.lock().clear();
    }
}

/// A worker lent to a thread for part of a batch.
pub(super) struct Lent<'w, 'd> {
    /// Taken back when dropped.
    worker: Option<std::io::Result<Worker<'d>>>,
    workers: &'w Workers<'d>,
}

impl<'d> Lent<'_, 'd> {
    pub(super) fn get(&mut self) -> Result<&mut Worker<'d>> {
        match self.worker.as_mut() {
            Some(Ok(w)) => Ok(w),
            Some(Err(e)) => Err(Error::new(ErrorKind::Io, format!("cannot start zstd: {e}"))),
            None => Err(Error::new(ErrorKind::Io, "a worker was given back while lent")),
        }
    }
}

impl Drop for Lent<'_, '_> {
    fn drop(&mut self) {
        if let Some(Ok(w)) = self.worker.take() {
            self.workers.idle.lock().push(w);
        }
    }
}

/// Compresses `raw` with `z` into `out`; whether that made it smaller.
fn compress_into(z: &mut zstd::bulk::Compressor<'_>, raw: &[u8], out: &mut Vec<u8>) -> Result<bool> {
    out.clear();
    out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
    z.compress_to_buffer(raw, out).map_err(|e| Error::new(ErrorKind::Io, format!("zstd: {e}")))?;
    Ok(out.len() < raw.len())
}
