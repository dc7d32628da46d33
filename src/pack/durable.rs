//! The only unsafe code outside the C ABI: syncing a whole filesystem in one call.

use std::fs::File;

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
