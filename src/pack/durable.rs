//! Durability of restored files at the disk's speed: blocks allocated up front, writeback of each large file
//! started as soon as it is complete (so the disk works while the cores decompress), a `syncfs` every 64 MiB
//! restored (from a thread of the restore, for small files), and one `syncfs` per filesystem at the end.

use std::fs::File;

/// Makes everything written to the filesystem holding `file` durable, in one call (`syncfs` on Linux).
/// Elsewhere it syncs `file` alone and returns `false`, telling the caller to sync each file itself.
pub(crate) fn sync_filesystem(file: &File) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(file)?;
        Ok(true)
    }
    #[cfg(not(target_os = "linux"))]
    {
        file.sync_all()?;
        Ok(false)
    }
}

/// Gives `file` its final length `len`, with its blocks allocated where the filesystem can (fewer fragments,
/// no allocation while chunks land in any order); a sparse length where it cannot.
pub(crate) fn preallocate(file: &File, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    if len > 0 && rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len).is_ok() {
        return Ok(());
    }
    file.set_len(len)
}

/// Starts writing `file`'s dirty pages to disk without waiting for them (Linux writes a range's dirty pages
/// back when told its cached pages are not needed), so the final sync finds little left to do. Only a hint:
/// its failure changes nothing.
pub(crate) fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}
