//! The bounds a reader holds every decoded object to, so that no declared size is ever trusted for an
//! allocation. They follow from what writers produce: chunks are at most the largest chunk size a packer
//! accepts, and metadata bodies are bounded so that decoding one stays far below the memory a restore may use.

/// The largest chunk size (and so the largest raw length of one chunk) a repository may declare: 64 MiB.
pub const MAX_CHUNK_SIZE: u64 = 64 << 20;

/// The largest dictionary a pack may hold (its raw length): 1 MiB. Writers train far smaller ones; the bound
/// keeps what a reader caches per pack small.
pub const MAX_DICTIONARY_SIZE: u64 = 1 << 20;

/// The largest decompressed body of a metadata object (manifest, config, parts) a reader accepts: 128 MiB.
pub const MAX_META_BODY: usize = 128 << 20;

/// Whether `name` is one safe path component: not empty, not `.` or `..`, and without `/`, `\` or NUL.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Whether `path` is relative, `/`-separated, and made of safe components only: joined to a directory it can
/// only name something inside it.
pub fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(is_safe_component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_components_and_relative_paths_are_safe() {
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0"] {
            assert!(!is_safe_component(bad), "{bad:?}");
        }
        assert!(is_safe_component("10001") && is_safe_component(".hidden"));
        for bad in ["", "/etc/passwd", "a//b", "./x", "a/../../b", "../escape", "a/", "a\\..\\b"] {
            assert!(!is_safe_relative_path(bad), "{bad:?}");
        }
        assert!(is_safe_relative_path("1234/0_0.dat"));
    }
}
