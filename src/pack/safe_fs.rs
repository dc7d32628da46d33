//! Writes that cannot leave a tablet directory: restore refuses a tablet directory that is a symlink, creates
//! every directory below it itself (refusing a link or a file in the way), and reaches every directory below it
//! with `openat(O_DIRECTORY | O_NOFOLLOW)` from its parent's handle, the file itself with `O_NOFOLLOW` (and
//! `O_EXCL` when creating): a link swapped in at any moment is never followed. The directories a tablet's files
//! go in are opened once and held while the files are written (within a budget of open files; past it, each
//! file walks from the tablet directory again). What is above a tablet directory is the caller's.
use std::fs::{self, File};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::fs::{CWD, Mode, OFlags, fstat, mkdir, mkdirat, openat};
use rustix::process::{Resource, getrlimit};

use crate::{Error, ErrorKind, Result};

const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

fn symlink_error(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is a symlink; restore does not write through links", path.display()),
    )
}

fn to_error(what: &str, path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::InvalidInput {
        Error::new(ErrorKind::InvalidArgument, e.to_string())
    } else {
        Error::io(format!("{what} {}", path.display()), e)
    }
}

/// How many directories a restore may hold open while it writes: three quarters of the process's soft limit on
/// open files (the rest is left to everything else). A directory past the budget is not held: its files are
/// opened by walking from the tablet directory, one file at a time.
pub(crate) struct DirBudget(AtomicUsize);

impl DirBudget {
    /// The budget the process's limit on open files allows now.
    pub(crate) fn from_limit() -> Self {
        let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        Self::new(usize::try_from(soft / 4 * 3).unwrap_or(usize::MAX).min(MAX_HELD))
    }

    /// A budget of `n` directories.
    pub(crate) fn new(n: usize) -> Self {
        Self(AtomicUsize::new(n))
    }

    fn take(&self) -> bool {
        self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }
}

/// At most this many directories are held open, whatever the limit.
const MAX_HELD: usize = 1 << 20;

/// A tablet directory made ready for its files: the device it is on, and each directory its files go in, held
/// open while the budget lasts.
pub(crate) struct TabletDir {
    /// The device holding the tablet directory.
    pub dev: u64,
    /// Per directory asked for (in the order asked), its open handle, or `None` past the budget.
    pub dirs: Vec<Option<OwnedFd>>,
}

/// Makes `root` (a tablet directory) a real directory and creates `dirs` below it (checked relative paths; `""`
/// names `root` itself), refusing a symlink or anything but a directory at `root` or any component below it.
/// Missing parents of `root` are created as the caller's path says. Each of `dirs` is opened with
/// `openat(O_DIRECTORY | O_NOFOLLOW)` from its parent's handle, so no link is ever followed, and held open while
/// `budget` lasts.
pub(crate) fn prepare_tablet(root: &Path, dirs: &[&str], budget: &DirBudget) -> Result<TabletDir> {
    let root_fd = open_root(root)?;
    let dev = fstat(&root_fd).map_err(|e| to_error("checking", root, e.into()))?.st_dev;
    let mut held = Vec::with_capacity(dirs.len());
    for rel in dirs {
        if rel.is_empty() {
            let fd =
                if budget.take() { Some(root_fd.try_clone().map_err(|e| to_error("opening", root, e))?) } else { None };
            held.push(fd);
            continue;
        }
        let mut path = root.to_path_buf();
        let mut fd: Option<OwnedFd> = None;
        for c in rel.split('/') {
            path.push(c);
            let parent = fd.as_ref().unwrap_or(&root_fd);
            match mkdirat(parent, c, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(to_error("creating", &path, walk_error(e, &path))),
            }
            let next = openat(parent, c, DIR_FLAGS, Mode::empty())
                .map_err(|e| to_error("opening", &path, walk_error(e, &path)))?;
            fd = Some(next);
        }
        held.push(fd.filter(|_| budget.take()));
    }
    Ok(TabletDir { dev, dirs: held })
}

/// Creates `root` if it is missing (and its missing parents) and opens it, refusing a link or a non-directory.
fn open_root(root: &Path) -> Result<OwnedFd> {
    match mkdir(root, Mode::from_raw_mode(0o777)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(rustix::io::Errno::NOENT) => {
            if let Some(parent) = root.parent() {
                fs::create_dir_all(parent).map_err(|e| to_error("creating", parent, e))?;
            }
            match mkdir(root, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(to_error("creating", root, e.into())),
            }
        }
        Err(e) => return Err(to_error("creating", root, e.into())),
    }
    openat(CWD, root, DIR_FLAGS, Mode::empty()).map_err(|e| match walk_error(e, root) {
        e if e.kind() == io::ErrorKind::AlreadyExists => {
            Error::new(ErrorKind::AlreadyExists, format!("{} exists and is not a directory", root.display()))
        }
        e => to_error("opening", root, e),
    })
}

/// Opens `root` (which must not be a link) and walks `dirs` below it with `openat(O_DIRECTORY | O_NOFOLLOW)`,
/// so that no component is followed even if it is swapped for a link meanwhile.
fn open_dir_below<'a>(root: &Path, dirs: impl Iterator<Item = &'a str>) -> io::Result<OwnedFd> {
    let mut fd = openat(CWD, root, DIR_FLAGS, Mode::empty()).map_err(|e| walk_error(e, root))?;
    let mut path = root.to_path_buf();
    for c in dirs {
        path.push(c);
        fd = openat(&fd, c, DIR_FLAGS, Mode::empty()).map_err(|e| walk_error(e, &path))?;
    }
    Ok(fd)
}

fn walk_error(e: rustix::io::Errno, path: &Path) -> io::Error {
    match e {
        // `O_DIRECTORY | O_NOFOLLOW` on a link gives ENOTDIR or ELOOP; say which it was.
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR
            if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
        {
            symlink_error(path)
        }
        rustix::io::Errno::LOOP => symlink_error(path),
        rustix::io::Errno::NOTDIR => io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is not a directory (a link or a file in the way)", path.display()),
        ),
        e => io::Error::from(e),
    }
}

/// Opens the file `rel` below `root` with `flags` added to `O_WRONLY | O_NOFOLLOW | O_CLOEXEC`, never through a
/// link at any component below `root`.
fn open_below(root: &Path, rel: &str, flags: OFlags) -> io::Result<File> {
    let (dirs, name) = match rel.rsplit_once('/') {
        Some((dirs, name)) => (Some(dirs), name),
        None => (None, rel),
    };
    let dir = open_dir_below(root, dirs.into_iter().flat_map(|d| d.split('/')))?;
    let flags = flags | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = openat(&dir, name, flags, Mode::from_raw_mode(0o644)).map_err(|e| walk_error(e, &root.join(rel)))?;
    Ok(File::from(fd))
}

/// Creates the new file `rel` below `root` for writing; an existing file or link is an error. `dir`, when given,
/// is the held directory `rel` is in (from [`prepare_tablet`]): the file is created in it with one `openat`.
pub(crate) fn create_file(dir: Option<&OwnedFd>, root: &Path, rel: &str) -> io::Result<File> {
    let Some(dir) = dir else { return open_below(root, rel, OFlags::CREATE | OFlags::EXCL) };
    let name = rel.rsplit_once('/').map_or(rel, |(_, name)| name);
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = openat(dir, name, flags, Mode::from_raw_mode(0o644)).map_err(|e| walk_error(e, &root.join(rel)))?;
    Ok(File::from(fd))
}

/// Opens the existing file `rel` below `root` for writing, never through a link.
pub(crate) fn open_file(root: &Path, rel: &str) -> io::Result<File> {
    open_below(root, rel, OFlags::empty())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::symlink;

    use super::*;

    fn write(dir: Option<&OwnedFd>, root: &Path, rel: &str) -> io::Result<()> {
        create_file(dir, root, rel)?.write_all(b"new")
    }

    #[test]
    fn a_linked_tablet_directory_or_a_link_below_it_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let budget = DirBudget::new(100);
        // The tablet directory itself a link.
        let root = tmp.path().join("t1");
        symlink(&outside, &root).unwrap();
        let e = prepare_tablet(&root, &["", "1234"], &budget).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        // A link where a directory below it should be, at the first or a deeper component.
        let root = tmp.path().join("t2");
        fs::create_dir_all(root.join("a")).unwrap();
        symlink(&outside, root.join("1234")).unwrap();
        symlink(&outside, root.join("a/b")).unwrap();
        for dir in ["1234", "1234/x", "a/b"] {
            let e = prepare_tablet(&root, &[dir], &budget).err().unwrap();
            assert!(e.message().contains("symlink"), "{dir}: {e}");
        }
        // A file where a directory should be.
        fs::write(root.join("f"), b"x").unwrap();
        assert!(prepare_tablet(&root, &["f"], &budget).is_err());
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        // A link where a file goes: refused, never written through, held directory or not.
        let root = tmp.path().join("t3");
        let t = prepare_tablet(&root, &["", "d"], &budget).unwrap();
        fs::write(outside.join("keep"), b"keep").unwrap();
        symlink(outside.join("keep"), root.join("a.dat")).unwrap();
        symlink(outside.join("keep"), root.join("d/b.dat")).unwrap();
        assert!(t.dirs.iter().all(Option::is_some));
        for (dir, rel) in [(t.dirs[0].as_ref(), "a.dat"), (t.dirs[1].as_ref(), "d/b.dat"), (None, "d/b.dat")] {
            assert_eq!(write(dir, &root, rel).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        }
        assert_eq!(fs::read(outside.join("keep")).unwrap(), b"keep");
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    }

    #[test]
    fn a_link_swapped_in_after_the_directories_are_made_is_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let root = tmp.path().join("t1");
        // One directory held, one past the budget.
        let t = prepare_tablet(&root, &["d1", "d2"], &DirBudget::new(1)).unwrap();
        assert!(t.dirs[0].is_some() && t.dirs[1].is_none());
        for d in ["d1", "d2"] {
            fs::rename(root.join(d), tmp.path().join(format!("moved-{d}"))).unwrap();
            symlink(&outside, root.join(d)).unwrap();
        }
        // The held directory is written in where it now is; the walk refuses the link.
        write(t.dirs[0].as_ref(), &root, "d1/a.dat").unwrap();
        assert_eq!(fs::read(tmp.path().join("moved-d1/a.dat")).unwrap(), b"new");
        let e = write(t.dirs[1].as_ref(), &root, "d2/a.dat").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn missing_parents_are_made_and_existing_directories_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("db/t/p/10001");
        let budget = DirBudget::new(0);
        let t = prepare_tablet(&root, &["", "1/2"], &budget).unwrap();
        assert!(t.dirs.iter().all(Option::is_none));
        write(None, &root, "1/2/a.dat").unwrap();
        // Again over what is there: the directories are kept, the file is not replaced.
        prepare_tablet(&root, &["", "1/2"], &budget).unwrap();
        assert_eq!(write(None, &root, "1/2/a.dat").unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        fs::write(tmp.path().join("file"), b"x").unwrap();
        let e = prepare_tablet(&tmp.path().join("file"), &[], &budget).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
    }
}
