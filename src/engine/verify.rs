//! Verifying a repository's snapshots from the engine: what the operator's `tabsnap verify` does, for hosts.

use super::Engine;
use crate::Result;
use crate::pack::VerifyReport;

impl Engine {
    /// Verifies the snapshots of repository `repository` that `label` and `timestamp` select (`None`: every
    /// one; `timestamp` may be `"latest"`), under a shared lock of the repository. `quick` checks that everything
    /// each snapshot needs is there and consistent without reading the data; otherwise every chunk is read, and
    /// its checksum and content hash checked (see [`crate::pack::Packer::verify`]). Problems are returned in the
    /// report, each naming its object, chunk and files.
    ///
    /// # Errors
    /// An unknown repository; [`crate::ErrorKind::NotFound`] when nothing matches; repository errors.
    pub fn verify(
        &self,
        repository: &str,
        label: Option<&str>,
        timestamp: Option<&str>,
        quick: bool,
    ) -> Result<VerifyReport> {
        let (_, repo) = self.inner.registry.get(repository)?;
        self.inner.packer.verify_snapshots(repo.as_ref(), label, timestamp, quick)
    }
}
