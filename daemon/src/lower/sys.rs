//! Thin, fd-relative syscall wrappers for the lower tree. Every path handed to these is one
//! name or a path relative to a directory fd; `openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)`
//! is the only call that walks more than one component.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `openat2` is syscall 437 on every architecture (added after the syscall table unification);
/// spelled out because libc/nix expose it only for `target_os = "linux"`, not Android.
const SYS_OPENAT2: libc::c_long = 437;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

pub fn cstr(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn owned(fd: libc::c_long) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Opens `rel` beneath `dir`: no `..` out of it, no symlink anywhere on the way (a directory
/// swapped for a symlink after it was looked up fails with ELOOP instead of being followed).
pub fn open_beneath(dir: BorrowedFd, rel: &str, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let path = cstr(if rel.is_empty() { "." } else { rel })?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u32 as u64,
        mode: u64::from(mode),
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
    };
    // SAFETY: valid fd, NUL-terminated path and a properly sized open_how that outlive the call.
    let fd = unsafe {
        libc::syscall(
            SYS_OPENAT2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    owned(fd)
}

/// `openat(dir, name, flags | O_NOFOLLOW)`: one component, never a symlink.
pub fn open_at(dir: BorrowedFd, name: &str, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let n = cstr(name)?;
    // SAFETY: valid fd and NUL-terminated name for the duration of the call.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            n.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    };
    owned(fd as libc::c_long)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; an empty name stats `dir` itself.
pub fn stat_at(dir: BorrowedFd, name: &str) -> io::Result<libc::stat> {
    let n = cstr(name)?;
    let flags = if name.is_empty() {
        libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW
    } else {
        libc::AT_SYMLINK_NOFOLLOW
    };
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: valid fd, NUL-terminated name and a stat buffer the kernel fills on success.
    check(unsafe { libc::fstatat(dir.as_raw_fd(), n.as_ptr(), st.as_mut_ptr(), flags) })?;
    // SAFETY: fstatat returned 0, so the buffer is initialised.
    Ok(unsafe { st.assume_init() })
}

pub fn fstat(fd: BorrowedFd) -> io::Result<libc::stat> {
    stat_at(fd, "")
}

pub fn mkdir_at(dir: BorrowedFd, name: &str, mode: u32) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd and name.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), n.as_ptr(), mode as libc::mode_t) })
}

pub fn unlink_at(dir: BorrowedFd, name: &str, is_dir: bool) -> io::Result<()> {
    let n = cstr(name)?;
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: valid fd and name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), flags) })
}

pub fn rename_at(
    old_dir: BorrowedFd,
    old: &str,
    new_dir: BorrowedFd,
    new: &str,
    flags: u32,
) -> io::Result<()> {
    let (o, n) = (cstr(old)?, cstr(new)?);
    // SAFETY: valid fds and names; renameat2 by number (Bionic and old glibc lack a wrapper).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            old_dir.as_raw_fd(),
            o.as_ptr(),
            new_dir.as_raw_fd(),
            n.as_ptr(),
            flags,
        )
    };
    check(rc as libc::c_int)
}

/// `futimens` on an open (non-O_PATH) fd: utimes of a file that may be unlinked already.
pub fn set_times_fd(fd: BorrowedFd, times: &[libc::timespec; 2]) -> io::Result<()> {
    // SAFETY: valid fd and a two-element timespec array.
    check(unsafe { libc::futimens(fd.as_raw_fd(), times.as_ptr()) })
}

/// `utimensat(dir, name, AT_SYMLINK_NOFOLLOW)`.
pub fn set_times_at(dir: BorrowedFd, name: &str, times: &[libc::timespec; 2]) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd, name and a two-element timespec array.
    check(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            n.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// Reads every name of a directory (one `getdents` pass over an fd we own).
pub fn read_dir_names(dir: BorrowedFd) -> io::Result<Vec<(String, u8)>> {
    let fd = open_beneath(dir, ".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let raw = fd.as_raw_fd();
    std::mem::forget(fd); // fdopendir takes ownership; closedir closes it.
                          // SAFETY: `raw` is an open directory fd we own; fdopendir adopts it.
    let d = unsafe { libc::fdopendir(raw) };
    if d.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so the fd is still ours to close.
        unsafe { libc::close(raw) };
        return Err(e);
    }
    let mut out = Vec::new();
    loop {
        // SAFETY: `d` is a valid DIR*; readdir returns null at the end (errno unchanged).
        let ent = unsafe { libc::readdir(d) };
        if ent.is_null() {
            break;
        }
        // SAFETY: a non-null dirent from readdir is valid until the next readdir call.
        let (name, kind) = unsafe {
            let name = std::ffi::CStr::from_ptr((*ent).d_name.as_ptr());
            (name.to_bytes().to_vec(), (*ent).d_type)
        };
        if name == b"." || name == b".." || name.starts_with(super::COPY_PREFIX.as_bytes()) {
            continue;
        }
        if let Ok(s) = String::from_utf8(name) {
            out.push((s, kind));
        }
    }
    // SAFETY: `d` came from fdopendir and is closed exactly once.
    unsafe { libc::closedir(d) };
    Ok(out)
}

/// Copies `len` bytes from the start of `from` to the start of `to` in the kernel
/// (`copy_file_range`), or through a buffer where the file system cannot.
pub fn copy_all(from: BorrowedFd, to: BorrowedFd, len: u64) -> io::Result<()> {
    let (mut off_in, mut off_out): (libc::loff_t, libc::loff_t) = (0, 0);
    while (off_in as u64) < len {
        let chunk = (len - off_in as u64).min(1 << 30) as usize;
        // SAFETY: valid fds and offset pointers for the duration of the call; by number, as
        // Bionic's libc crate bindings lack a wrapper.
        let n = unsafe {
            libc::syscall(
                libc::SYS_copy_file_range,
                from.as_raw_fd(),
                &mut off_in as *mut libc::loff_t,
                to.as_raw_fd(),
                &mut off_out as *mut libc::loff_t,
                chunk,
                0u32,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EXDEV | libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP) => {
                    copy_through_buffer(from, to, off_in as u64, len)
                }
                _ => Err(e),
            };
        }
        if n == 0 {
            break; // the file got shorter meanwhile
        }
    }
    Ok(())
}

fn copy_through_buffer(from: BorrowedFd, to: BorrowedFd, start: u64, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let (from, to) = (from.try_clone_to_owned()?, to.try_clone_to_owned()?);
    let (from, to) = (std::fs::File::from(from), std::fs::File::from(to));
    let mut buf = vec![0u8; 1 << 16];
    let mut off = start;
    while off < len {
        let n = from.read_at(&mut buf, off)?;
        if n == 0 {
            break;
        }
        to.write_all_at(&buf[..n], off)?;
        off += n as u64;
    }
    Ok(())
}

/// `fchown` (where permitted: an unprivileged daemon owns every lower file anyway) and
/// `fchmod` of an open file.
pub fn set_owner_mode(fd: BorrowedFd, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
    // SAFETY: valid fd.
    match check(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }) {
        Err(e) if e.raw_os_error() != Some(libc::EPERM) => return Err(e),
        _ => {}
    }
    // SAFETY: valid fd.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })
}
