//! The only unsafe code outside the C ABI: memory-mapping tablet files, and syncing a whole filesystem.

use std::fs::File;
use std::ops::Deref;

/// Bytes of a file: memory-mapped, or read into memory when mapping is not possible or not worth it.
pub(crate) enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Read(v) => v,
        }
    }
}

/// Maps `len` bytes of `file` at `offset`.
///
/// # Safety
/// The file must not be truncated or modified while the map is alive: a truncated file makes reads of the map
/// fault (SIGBUS), and a modified one changes bytes under the reader. Tablet segment files are immutable once
/// written, and the host's snapshot keeps them from being removed, which is what makes mapping them sound.
pub(crate) unsafe fn map_range(file: &File, offset: u64, len: usize) -> std::io::Result<FileBytes> {
    // SAFETY: the caller guarantees the file is neither truncated nor modified while mapped (see above).
    let map = unsafe { memmap2::MmapOptions::new().offset(offset).len(len).map(file)? };
    #[cfg(unix)]
    {
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    Ok(FileBytes::Mapped(map))
}

/// Makes everything written to the filesystem holding `file` durable, in one call (`syncfs` on Linux).
/// Elsewhere it syncs `file` alone and returns `false`, telling the caller to sync each file itself.
pub(crate) fn sync_filesystem(file: &File) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs takes a file descriptor that `file` keeps open for the duration of the call; it reads
        // no memory of ours.
        let rc = unsafe { libc::syncfs(file.as_raw_fd()) };
        if rc == 0 { Ok(true) } else { Err(std::io::Error::last_os_error()) }
    }
    #[cfg(not(target_os = "linux"))]
    {
        file.sync_all()?;
        Ok(false)
    }
}
