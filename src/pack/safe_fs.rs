//! Writes that cannot leave a tablet directory: restore refuses a tablet directory that is a symlink, creates
//! every directory below it itself, checks each component below it without following links before every
//! open, and opens files with `O_NOFOLLOW` (and `O_EXCL` when creating). What is above a tablet directory is
//! the caller's.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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

/// `root/rel` after checking that `root` and every directory of `rel` are real directories, not links.
fn checked_path(root: &Path, rel: &str) -> io::Result<PathBuf> {
    let mut current = root.to_path_buf();
    let mut parts = rel.split('/').peekable();
    let check = |p: &Path| -> io::Result<()> {
        let m = fs::symlink_metadata(p)?;
        if m.file_type().is_symlink() {
            Err(symlink_error(p))
        } else if m.is_dir() {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} is not a directory", p.display())))
        }
    };
    check(&current)?;
    while let Some(c) = parts.next() {
        current.push(c);
        if parts.peek().is_some() {
            check(&current)?;
        }
    }
    Ok(current)
}

fn nofollow(e: io::Error, path: &Path) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) { symlink_error(path) } else { e }
}

/// Creates the new file `rel` below `root` for writing; an existing file or link is an error.
pub(crate) fn create_file(root: &Path, rel: &str) -> io::Result<File> {
    let path = checked_path(root, rel)?;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| nofollow(e, &path))
}

/// Opens the existing file `rel` below `root` for writing, never through a link.
pub(crate) fn open_file(root: &Path, rel: &str) -> io::Result<File> {
    let path = checked_path(root, rel)?;
    OpenOptions::new().write(true).custom_flags(libc::O_NOFOLLOW).open(&path).map_err(|e| nofollow(e, &path))
}
