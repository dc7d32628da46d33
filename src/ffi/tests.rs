//! The C adapters through Rust: a callback host table whose callbacks are Rust `extern "C"` functions.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::host::{CallbackHost, tabsnap_host_callbacks, tabsnap_tablet_ref};
use super::repo::tabsnap_cb_error;
use super::sink::{tabsnap_catalog_sink, tabsnap_path_sink};
use super::status::tabsnap_status;
use crate::ErrorKind;
use crate::host::{Host, TabletRef};

/// What the test host counts, and the call of `snapshot_tablet` that fails (1-based; 0: none).
#[derive(Default)]
struct Counts {
    fail_at: usize,
    snapshots: AtomicUsize,
    released: AtomicUsize,
    destroyed: AtomicUsize,
}

fn counts<'a>(ud: *mut c_void) -> &'a Counts {
    // SAFETY: every table in these tests passes a `Counts` that outlives the adapter.
    unsafe { &*ud.cast::<Counts>() }
}

unsafe extern "C" fn list_tables(
    _: *mut c_void,
    _: *const c_char,
    _: *mut tabsnap_catalog_sink,
    _: *mut tabsnap_cb_error,
) -> i32 {
    0
}

unsafe extern "C" fn snapshot_tablet(
    ud: *mut c_void,
    _: *const c_char,
    _: *const tabsnap_tablet_ref,
    sink: *mut tabsnap_path_sink,
    err: *mut tabsnap_cb_error,
) -> i32 {
    let c = counts(ud);
    let n = c.snapshots.fetch_add(1, Ordering::SeqCst) + 1;
    if n == c.fail_at {
        // SAFETY: `err` is the error slot this call received; the message is a static C string.
        unsafe { super::repo::tabsnap_cb_error_set(err, c"disk is full".as_ptr()) };
        return 5;
    }
    // SAFETY: `sink` is the sink this call received; the path is a static C string.
    let st = unsafe { super::sink::tabsnap_path_set(sink, c"/tmp".as_ptr()) };
    st as i32
}

unsafe extern "C" fn release_tablet(
    ud: *mut c_void,
    _: *const c_char,
    _: *const tabsnap_tablet_ref,
    _: *mut tabsnap_cb_error,
) -> i32 {
    counts(ud).released.fetch_add(1, Ordering::SeqCst);
    0
}

unsafe extern "C" fn restore_target(
    _: *mut c_void,
    _: *const c_char,
    _: u64,
    _: *const tabsnap_tablet_ref,
    _: *mut tabsnap_path_sink,
    _: *mut tabsnap_cb_error,
) -> i32 {
    1
}

unsafe extern "C" fn commit_restore(
    _: *mut c_void,
    _: *const c_char,
    _: u64,
    _: *const c_char,
    _: *const c_char,
    _: *const u8,
    _: usize,
    _: *mut tabsnap_cb_error,
) -> i32 {
    1
}

unsafe extern "C" fn destroy(ud: *mut c_void) {
    counts(ud).destroyed.fetch_add(1, Ordering::SeqCst);
}

fn table(c: &Counts) -> tabsnap_host_callbacks {
    tabsnap_host_callbacks {
        version: super::host::TABSNAP_HOST_CALLBACKS_VERSION,
        user_data: (c as *const Counts).cast_mut().cast(),
        list_tables: Some(list_tables),
        snapshot_tablet: Some(snapshot_tablet),
        release_tablet: Some(release_tablet),
        restore_target: Some(restore_target),
        commit_restore: Some(commit_restore),
        abort_restore: None,
        has_privilege: None,
        metadata: None,
        destroy: Some(destroy),
        ..tabsnap_host_callbacks::empty()
    }
}

fn tablets(n: usize) -> Vec<TabletRef> {
    (0..n)
        .map(|i| TabletRef { table: "t".into(), partition: "p".into(), index: "t".into(), tablet: i.to_string() })
        .collect()
}

#[test]
fn a_snapshot_failing_at_any_tablet_releases_the_ones_taken_and_is_a_callback_failure() {
    for fail_at in 1..=3 {
        let c = Counts { fail_at, ..Counts::default() };
        let t = table(&c);
        // SAFETY: an initialised table whose user_data outlives the adapter.
        let host = unsafe { CallbackHost::from_table(&t) }.ok().unwrap();
        let err = host.snapshot("db", &tablets(3)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Callback);
        assert!(err.message().contains("disk is full"), "{err}");
        assert_eq!(tabsnap_status::of(err.kind()), tabsnap_status::Callback);
        assert_eq!(c.released.load(Ordering::SeqCst), fail_at - 1, "failing at {fail_at} of 3");
        drop(host);
        assert_eq!(c.destroyed.load(Ordering::SeqCst), 1);
    }
    let c = Counts::default();
    let t = table(&c);
    // SAFETY: as above.
    let host = unsafe { CallbackHost::from_table(&t) }.ok().unwrap();
    assert_eq!(host.snapshot("db", &tablets(3)).unwrap().len(), 3);
    assert_eq!(c.released.load(Ordering::SeqCst), 0, "nothing released before the job releases");
    host.release("db", &tablets(3)).unwrap();
    assert_eq!(c.released.load(Ordering::SeqCst), 3);
}

/// Every source file of the module, for the checks below.
const SOURCES: &[(&str, &str)] = &[
    ("version.rs", include_str!("version.rs")),
    ("status.rs", include_str!("status.rs")),
    ("error.rs", include_str!("error.rs")),
    ("options.rs", include_str!("options.rs")),
    ("engine.rs", include_str!("engine.rs")),
    ("result.rs", include_str!("result.rs")),
    ("job.rs", include_str!("job.rs")),
    ("repo.rs", include_str!("repo.rs")),
    ("host/mod.rs", include_str!("host/mod.rs")),
    ("host/table.rs", include_str!("host/table.rs")),
    ("host/optional.rs", include_str!("host/optional.rs")),
    ("sink.rs", include_str!("sink.rs")),
    ("cluster.rs", include_str!("cluster.rs")),
];

/// (file, name, the doc comment above it, whether it returns a status, the first line of its body).
fn exports() -> Vec<(&'static str, String, String, bool, String)> {
    let mut out = Vec::new();
    for (file, src) in SOURCES {
        let lines: Vec<&str> = src.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) =
                line.strip_prefix("pub unsafe extern \"C\" fn ").or_else(|| line.strip_prefix("pub extern \"C\" fn "))
            else {
                continue;
            };
            let name = rest.split('(').next().unwrap_or_default().to_owned();
            let doc: Vec<&str> = lines[..i]
                .iter()
                .rev()
                .skip_while(|l| l.starts_with("#["))
                .take_while(|l| l.starts_with("///"))
                .copied()
                .collect();
            let doc = doc.into_iter().rev().collect::<Vec<_>>().join("\n");
            let open = (i..lines.len()).find(|&j| lines[j].ends_with('{')).unwrap();
            let status = lines[i..=open].iter().any(|l| l.contains("-> tabsnap_status"));
            let first = lines[open + 1..].iter().find(|l| !l.trim().is_empty()).unwrap().trim().to_owned();
            out.push((*file, name, doc, status, first));
        }
    }
    out
}

#[test]
fn every_export_goes_through_the_boundary_and_documents_its_statuses() {
    let exports = exports();
    assert!(exports.len() >= 46, "{} exports found", exports.len());
    for (file, name, doc, status, first) in &exports {
        assert!(first.starts_with("ffi_boundary!("), "{file}: {name} does not start with ffi_boundary!: {first}");
        assert!(doc.contains("Since: "), "{file}: {name} does not say since when it exists");
        assert!(doc.contains("Thread safety: "), "{file}: {name} does not state its thread safety");
        if *status {
            assert!(
                doc.contains("Returns `TABSNAP_STATUS_") || doc.contains("Returns as `tabsnap_"),
                "{file}: {name} does not list the statuses it returns"
            );
        }
    }
}
