//! Writes that cannot leave a tablet directory: restore refuses a tablet directory that is a symlink, creates
//! every directory below it itself (refusing a link or a file in the way), and opens every file by walking from
//! the tablet directory with `openat(O_DIRECTORY | O_NOFOLLOW)` component by component, the file itself with
//! `O_NOFOLLOW` (and `O_EXCL` when creating): a link swapped in at any moment is never followed. What is above
//! a tablet directory is the caller's.

use std::fs::{self, File};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{CWD, Mode, OFlags, openat};

use crate::{Error, ErrorKind, Result};

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

/// Makes `root` (a tablet directory) exist as a real directory: missing parents are created as the caller's
/// path says; `root` itself must not be a symlink or anything but a directory.
pub(crate) fn prepare_root(root: &Path) -> Result<()> {
    match fs::symlink_metadata(root) {
        Ok(m) if m.file_type().is_symlink() => Err(to_error("", root, symlink_error(root))),
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::new(ErrorKind::AlreadyExists, format!("{} exists and is not a directory", root.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = root.parent() {
                fs::create_dir_all(parent).map_err(|e| to_error("creating", parent, e))?;
            }
            match fs::create_dir(root) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let m = fs::symlink_metadata(root).map_err(|e| to_error("checking", root, e))?;
                    if m.is_dir() { Ok(()) } else { Err(to_error("", root, symlink_error(root))) }
                }
                Err(e) => Err(to_error("creating", root, e)),
            }
        }
        Err(e) => Err(to_error("checking", root, e)),
    }
}

/// Creates the directory `rel` (a checked relative path) below `root` and its missing parents, refusing a
/// symlink or a non-directory at any component.
pub(crate) fn create_dirs_below(root: &Path, rel: &str) -> Result<()> {
    let mut current = root.to_path_buf();
    for c in rel.split('/') {
        current.push(c);
        match fs::symlink_metadata(&current) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => return Err(to_error("", &current, symlink_error(&current))),
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", current.display()),
                ));
            }
            Err(_) => match fs::create_dir(&current) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let m = fs::symlink_metadata(&current).map_err(|e| to_error("checking", &current, e))?;
                    if !m.is_dir() {
                        return Err(to_error("", &current, symlink_error(&current)));
                    }
                }
                Err(e) => return Err(to_error("creating", &current, e)),
            },
        }
    }
    Ok(())
}

/// Opens `root` (which must not be a link) and walks `dirs` below it with `openat(O_DIRECTORY | O_NOFOLLOW)`,
/// so that no component is followed even if it is swapped for a link meanwhile.
fn open_dir_below<'a>(root: &Path, dirs: impl Iterator<Item = &'a str>) -> io::Result<OwnedFd> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut fd = openat(CWD, root, dir_flags, Mode::empty()).map_err(|e| walk_error(e, root))?;
    let mut path = root.to_path_buf();
    for c in dirs {
        path.push(c);
        fd = openat(&fd, c, dir_flags, Mode::empty()).map_err(|e| walk_error(e, &path))?;
    }
    Ok(fd)
}

fn walk_error(e: rustix::io::Errno, path: &Path) -> io::Error {
    match e {
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

/// Creates the new file `rel` below `root` for writing; an existing file or link is an error.
pub(crate) fn create_file(root: &Path, rel: &str) -> io::Result<File> {
    open_below(root, rel, OFlags::CREATE | OFlags::EXCL)
}

/// Opens the existing file `rel` below `root` for writing, never through a link.
pub(crate) fn open_file(root: &Path, rel: &str) -> io::Result<File> {
    open_below(root, rel, OFlags::empty())
}
