//! Ownership backup outside the database (SPEC §9; Android 13+ keeps one too). A file's owner,
//! its per-item grants and its favorite flag are kept in extended attributes on the lower file
//! itself, so they survive a lost, emptied or corrupt store and follow the file through renames
//! made behind the daemon's back. Apps never reach these attributes: the FUSE mount answers
//! ENOSYS for xattrs.
//!
//! Format: `user.mediaprovider.owner` = package name; `user.mediaprovider.grants` = lines of
//! `<package> r|w`; `user.mediaprovider.favorite` = `1`. Absent attribute = nothing to restore.

use crate::paths::VolPath;
use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd};
use std::path::Path;

pub const XATTR_OWNER: &CStr = c"user.mediaprovider.owner";
pub const XATTR_GRANTS: &CStr = c"user.mediaprovider.grants";
pub const XATTR_FAVORITE: &CStr = c"user.mediaprovider.favorite";

/// Longest attribute value read back; package names are at most a few hundred bytes, and a
/// file granted to thousands of packages is not worth restoring past this.
const MAX_VALUE: usize = 64 * 1024;

/// What one file's backup says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileBackup {
    pub owner: Option<String>,
    /// (package, write) pairs.
    pub grants: Vec<(String, bool)>,
    pub favorite: bool,
}

impl FileBackup {
    pub fn is_empty(&self) -> bool {
        self.owner.is_none() && self.grants.is_empty() && !self.favorite
    }

    fn grants_value(&self) -> String {
        self.grants
            .iter()
            .map(|(p, w)| format!("{p} {}\n", if *w { 'w' } else { 'r' }))
            .collect()
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sets (or, with `None`, removes) one attribute on an open file.
fn set(fd: BorrowedFd, name: &CStr, value: Option<&[u8]>) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    match value {
        // SAFETY: valid fd, NUL-terminated name, value pointer/length from a live slice.
        Some(v) => {
            check(unsafe { libc::fsetxattr(fd, name.as_ptr(), v.as_ptr().cast(), v.len(), 0) })
        }
        None => {
            // SAFETY: valid fd and NUL-terminated name.
            match check(unsafe { libc::fremovexattr(fd, name.as_ptr()) }) {
                Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(()),
                r => r,
            }
        }
    }
}

fn get(fd: BorrowedFd, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: valid fd, NUL-terminated name, buffer pointer/length from a live Vec.
        let n = unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENODATA) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < MAX_VALUE => buf.resize(MAX_VALUE, 0),
            _ => return Err(e),
        }
    }
}

/// Records the owner of a file the daemon just created (on its open fd: no path lookups).
pub fn write_owner(fd: BorrowedFd, owner: Option<&str>) -> io::Result<()> {
    set(fd, XATTR_OWNER, owner.map(str::as_bytes))
}

/// Rewrites the whole backup of one open file.
pub fn write(fd: BorrowedFd, b: &FileBackup) -> io::Result<()> {
    write_owner(fd, b.owner.as_deref())?;
    let grants = b.grants_value();
    set(
        fd,
        XATTR_GRANTS,
        (!grants.is_empty()).then_some(grants.as_bytes()),
    )?;
    set(fd, XATTR_FAVORITE, b.favorite.then_some(b"1".as_slice()))
}

/// Reads the backup of one open file. A filesystem without user xattrs has no backup.
pub fn read(fd: BorrowedFd) -> io::Result<FileBackup> {
    let text = |name| -> io::Result<Option<String>> {
        Ok(get(fd, name)?.and_then(|v| String::from_utf8(v).ok()))
    };
    let owner = text(XATTR_OWNER)?.filter(|o| valid_package(o));
    let grants = text(XATTR_GRANTS)?
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (pkg, mode) = l.rsplit_once(' ')?;
            valid_package(pkg).then(|| (pkg.to_string(), mode == "w"))
        })
        .collect();
    let favorite = get(fd, XATTR_FAVORITE)?.is_some_and(|v| v == b"1");
    Ok(FileBackup {
        owner,
        grants,
        favorite,
    })
}

/// A package name as Android allows them (letters, digits, `_`, `.`); anything else in a
/// backup is not trusted.
fn valid_package(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// `struct open_how` of openat2(2) (declared here: the libc crate's is non-exhaustive and
/// missing from older versions).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

/// Opens a regular file below `root` by its volume path for reading its attributes, never
/// following a symlink and never leaving the tree (`openat2` RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS), so a directory swapped for a link cannot redirect the write. The
/// lower tree is case-insensitive only through the store's spelling, which is the on-disk one.
pub fn open_beneath(root: &Path, path: &VolPath) -> io::Result<File> {
    let root = File::open(root)?;
    let rel = std::ffi::CString::new(path.as_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH,
    };
    // SAFETY: valid dirfd, NUL-terminated path, `how` lives across the call with its size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_fd().as_raw_fd(),
            rel.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    let file = unsafe { File::from_raw_fd(fd as libc::c_int) };
    if !file.metadata()?.is_file() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    Ok(file)
}

/// Whether an error means "this filesystem keeps no user xattrs" (no backup possible there).
pub fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTSUP) | Some(libc::EPERM) | Some(libc::EACCES)
    )
}
