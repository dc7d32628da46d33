//! How the command line allocates: jemalloc, as the backends of Doris and StarRocks do, so that the memory a
//! job of a million tablets takes is the memory the library takes in those hosts; and glibc's malloc (which
//! the C libraries below it, zstd among them, still use) limited to two arenas.
//!
//! With glibc's malloc for everything, a long job's heap fragmented: the live heap of a verify is 40 MiB at
//! 100,000 tablets and at 1,000,000, but its peak RSS grew from 59 to 69 MiB, a backup's from 65 to 75, a
//! restore's from 63 to 71 (medians on 2 cores). With jemalloc set as below the three stay within a tenth of
//! their 100,000-tablet figure, in the same time.

/// The allocator of every Rust allocation of the command line.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read from this symbol when it starts (`_RJEM_MALLOC_CONF` in the environment still
/// overrides them): two arenas, as the command line's threads are few (one per CPU by default, each keeping
/// its own free pages); pages freed and unused for a second returned to the system, without the muzzy stage
/// in between (jemalloc's defaults keep them ten seconds, and a job's peak grew with its length).
#[cfg(not(target_env = "msvc"))]
// The symbol's name is jemalloc's.
#[allow(non_upper_case_globals, unsafe_code)]
// SAFETY: jemalloc reads this symbol once, as a pointer to a NUL-terminated string that lives forever.
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: Conf = Conf(c"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr());

/// A pointer to a static C string, as jemalloc's `malloc_conf` is.
#[repr(transparent)]
pub struct Conf(*const std::ffi::c_char);

// SAFETY: the pointer is to an immutable static string; sharing it between threads reads nothing mutable.
#[allow(unsafe_code)]
unsafe impl Sync for Conf {}

/// Lets glibc's malloc keep two arenas instead of one per thread (up to eight per core): zstd's contexts are
/// allocated there, by threads of the backup's pool and its I/O threads.
#[allow(unsafe_code)] // a call into the C library, as at the FFI boundary
pub fn limit_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets a tunable of the allocator; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
