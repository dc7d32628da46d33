//! The backup's I/O side. Sealed packs go through a bounded queue to a few I/O threads that append the footer,
//! name each pack by its hash and upload it; the compression workers never wait on a write, an fsync or a PUT,
//! only on a full queue (the memory bound). Pack buffers come back to a pool once uploaded, so a backup reuses a
//! handful of them instead of mapping and zeroing a fresh one per pack.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use parking_lot::Mutex;

use super::{Counters, JobControl};
use crate::format::{self, ChunkEntry, IdHasher, IndexPack, encode_pack_footer};
use crate::repo::{PutMode, Repository};
use crate::{Error, ErrorKind, Result};

/// A pack being filled: its chunk bytes and their entries.
pub(super) struct OpenPack {
    pub(super) data: Vec<u8>,
    pub(super) entries: Vec<ChunkEntry>,
    /// Whether it holds the backup's dictionary (appended before its first chunk compressed with it).
    pub(super) has_dictionary: bool,
}

impl OpenPack {
    /// A pack with no chunk, filling `data` (emptied).
    pub(super) fn new(mut data: Vec<u8>) -> OpenPack {
        data.clear();
        OpenPack { data, entries: Vec::new(), has_dictionary: false }
    }
}

/// The queue of sealed packs and the I/O threads' shared state.
pub(super) struct Uploads<'a> {
    repo: &'a dyn Repository,
    /// How the repository names packs.
    ids: IdHasher,
    stats: &'a Counters,
    control: &'a JobControl,
    /// The queue's own sender; workers hold clones. Dropped by [`Uploads::close`]: the I/O threads end once every
    /// clone is gone and the queue is drained.
    queue: Mutex<Option<SyncSender<OpenPack>>>,
    receiver: Mutex<Receiver<OpenPack>>,
    written: Mutex<Vec<IndexPack>>,
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
    buffers: Mutex<Vec<Vec<u8>>>,
    buffer_capacity: usize,
    max_buffers: usize,
}

impl<'a> Uploads<'a> {
    /// Room for `queued` sealed packs waiting for an I/O thread; pack buffers of `buffer_capacity` bytes.
    pub(super) fn new(
        repo: &'a dyn Repository,
        ids: IdHasher,
        stats: &'a Counters,
        control: &'a JobControl,
        queued: usize,
        buffer_capacity: usize,
    ) -> Uploads<'a> {
        let (tx, rx) = sync_channel(queued);
        Uploads {
            repo,
            ids,
            stats,
            control,
            queue: Mutex::new(Some(tx)),
            receiver: Mutex::new(rx),
            written: Mutex::new(Vec::new()),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            buffers: Mutex::new(Vec::new()),
            buffer_capacity,
            max_buffers: queued + 2,
        }
    }

    /// A sender for one worker (`None` once closed).
    pub(super) fn sender(&self) -> Option<SyncSender<OpenPack>> {
        self.queue.lock().clone()
    }

    /// A new pack to fill, in a reused buffer when there is one.
    pub(super) fn open_pack(&self) -> OpenPack {
        OpenPack::new(self.buffers.lock().pop().unwrap_or_else(|| Vec::with_capacity(self.buffer_capacity)))
    }

    /// Queues a sealed pack, waiting while the queue is full.
    ///
    /// # Errors
    /// When an upload already failed (the backup stops; [`Uploads::finish`] returns the upload's own error).
    pub(super) fn submit(&self, tx: &SyncSender<OpenPack>, pack: OpenPack) -> Result<()> {
        self.check()?;
        tx.send(pack).map_err(|_| self.stopped())
    }

    /// Queues the last pack, from the thread that then closes the queue (it may wait for room).
    pub(super) fn submit_last(&self, pack: OpenPack) -> Result<()> {
        let tx = self.sender().ok_or_else(|| self.stopped())?;
        self.submit(&tx, pack)
    }

    /// Fails when an upload failed: workers call it between units to stop early.
    pub(super) fn check(&self) -> Result<()> {
        if self.failed.load(Ordering::Acquire) { Err(self.stopped()) } else { Ok(()) }
    }

    fn stopped(&self) -> Error {
        Error::new(ErrorKind::Io, "the backup stopped: uploading a pack failed")
    }

    /// Ends the queue: the I/O threads return once it is drained and every worker's sender is dropped.
    pub(super) fn close(&self) {
        self.queue.lock().take();
    }

    /// An I/O thread's loop: uploads packs until the queue ends. After a failure it drains the queue without
    /// uploading, so no worker waits forever on a full queue.
    pub(super) fn run(&self) {
        loop {
            let next = self.receiver.lock().recv();
            let Ok(pack) = next else { return };
            if self.failed.load(Ordering::Acquire) {
                continue;
            }
            // A panicking repository must not leave the workers waiting on a queue nobody drains.
            let uploaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.upload(pack)))
                .unwrap_or_else(|_| Err(Error::new(ErrorKind::Io, "uploading a pack: the repository panicked")));
            match uploaded {
                Ok(buffer) => {
                    let mut pool = self.buffers.lock();
                    if pool.len() < self.max_buffers {
                        pool.push(buffer);
                    }
                }
                Err(e) => {
                    let mut first = self.error.lock();
                    if first.is_none() {
                        *first = Some(e);
                    }
                    self.failed.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Appends the footer, names the pack by the footer's hash and uploads it (create-if-absent: packs are
    /// immutable). The footer lists every chunk's content hash, place, lengths and stored crc32c, so it names
    /// the pack's content without hashing all of it again. Returns the emptied buffer.
    fn upload(&self, mut pack: OpenPack) -> Result<Vec<u8>> {
        self.control.cancel.check()?;
        let footer = encode_pack_footer(&pack.entries);
        let id = self.ids.hash(&footer);
        pack.data.extend_from_slice(&footer);
        let key = format::pack_key(&id);
        self.repo.put(&key, &pack.data, PutMode::CreateIfAbsent).map_err(|e| e.context("uploading a pack"))?;
        let len = pack.data.len() as u64;
        self.stats.bytes_stored.fetch_add(len, Ordering::Relaxed);
        self.stats.objects.fetch_add(1, Ordering::Relaxed);
        self.written.lock().push(IndexPack { id, len, chunks: pack.entries });
        pack.data.clear();
        Ok(pack.data)
    }

    /// The packs uploaded since the last call, while the I/O threads run: a backup indexes them as it goes.
    pub(super) fn take_written(&self) -> Vec<IndexPack> {
        std::mem::take(&mut *self.written.lock())
    }

    /// The packs uploaded, once the I/O threads have returned.
    ///
    /// # Errors
    /// The first upload's error.
    pub(super) fn finish(&self) -> Result<Vec<IndexPack>> {
        if let Some(e) = self.error.lock().take() {
            return Err(e);
        }
        Ok(std::mem::take(&mut *self.written.lock()))
    }
}
