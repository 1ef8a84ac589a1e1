//! Thin wrappers over the syscalls apps make, each returning the errno the caller saw. They run
//! in whatever process calls them (normally a child forked by [`crate::run_as`]).

use std::ffi::CString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// An errno value, printed by name in assertion messages.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

pub const EPERM: Errno = Errno(libc::EPERM);
pub const ENOENT: Errno = Errno(libc::ENOENT);
pub const EIO: Errno = Errno(libc::EIO);
pub const EACCES: Errno = Errno(libc::EACCES);
pub const EEXIST: Errno = Errno(libc::EEXIST);
pub const EXDEV: Errno = Errno(libc::EXDEV);
pub const ENOTDIR: Errno = Errno(libc::ENOTDIR);
pub const EISDIR: Errno = Errno(libc::EISDIR);
pub const EINVAL: Errno = Errno(libc::EINVAL);
pub const ENOSYS: Errno = Errno(libc::ENOSYS);
pub const ENOTEMPTY: Errno = Errno(libc::ENOTEMPTY);
pub const ENODEV: Errno = Errno(libc::ENODEV);
pub const ENOEXEC: Errno = Errno(libc::ENOEXEC);
pub const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
pub const ENODATA: Errno = Errno(libc::ENODATA);
pub const EBUSY: Errno = Errno(libc::EBUSY);

impl Errno {
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::EIO => "EIO",
            libc::EBADF => "EBADF",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::EXDEV => "EXDEV",
            libc::ENODEV => "ENODEV",
            libc::ENOTDIR => "ENOTDIR",
            libc::EISDIR => "EISDIR",
            libc::EINVAL => "EINVAL",
            libc::ENOSPC => "ENOSPC",
            libc::EROFS => "EROFS",
            libc::ENAMETOOLONG => "ENAMETOOLONG",
            libc::ENOSYS => "ENOSYS",
            libc::ENOTEMPTY => "ENOTEMPTY",
            libc::ENODATA => "ENODATA",
            libc::ENOEXEC => "ENOEXEC",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::ESTALE => "ESTALE",
            libc::ENOTCONN => "ENOTCONN",
            libc::EINTR => "EINTR",
            libc::ETXTBSY => "ETXTBSY",
            _ => "E?",
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

pub type R<T> = Result<T, Errno>;

/// The fields of `struct stat` the suites look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub ino: u64,
    pub dev: u64,
    pub size: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
}

impl Stat {
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
}

pub fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path with NUL")
}

fn check(rc: libc::c_int) -> R<libc::c_int> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

/// An owned file descriptor, closed on drop.
pub struct Fd(pub libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

impl Fd {
    /// Closes explicitly, returning close's errno (FUSE reports flush errors there).
    pub fn close(self) -> R<()> {
        let fd = self.0;
        std::mem::forget(self);
        check(unsafe { libc::close(fd) }).map(|_| ())
    }

    pub fn read_all(&self) -> R<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 17];
        loop {
            let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let e = Errno::last();
                if e.0 == libc::EINTR {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
    }

    pub fn pread(&self, off: u64, len: usize) -> R<Vec<u8>> {
        let mut out = vec![0u8; len];
        let mut done = 0usize;
        while done < len {
            let n = unsafe {
                libc::pread(
                    self.0,
                    out[done..].as_mut_ptr().cast(),
                    len - done,
                    (off + done as u64) as libc::off_t,
                )
            };
            if n < 0 {
                let e = Errno::last();
                if e.0 == libc::EINTR {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                break;
            }
            done += n as usize;
        }
        out.truncate(done);
        Ok(out)
    }

    pub fn write_all(&self, data: &[u8]) -> R<()> {
        let mut done = 0usize;
        while done < data.len() {
            let n = unsafe { libc::write(self.0, data[done..].as_ptr().cast(), data.len() - done) };
            if n < 0 {
                let e = Errno::last();
                if e.0 == libc::EINTR {
                    continue;
                }
                return Err(e);
            }
            done += n as usize;
        }
        Ok(())
    }

    pub fn pwrite_all(&self, off: u64, data: &[u8]) -> R<()> {
        let mut done = 0usize;
        while done < data.len() {
            let n = unsafe {
                libc::pwrite(
                    self.0,
                    data[done..].as_ptr().cast(),
                    data.len() - done,
                    (off + done as u64) as libc::off_t,
                )
            };
            if n < 0 {
                let e = Errno::last();
                if e.0 == libc::EINTR {
                    continue;
                }
                return Err(e);
            }
            done += n as usize;
        }
        Ok(())
    }

    pub fn fstat(&self) -> R<Stat> {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        check(unsafe { libc::fstat(self.0, &mut st) })?;
        Ok(to_stat(&st))
    }

    pub fn fsync(&self) -> R<()> {
        check(unsafe { libc::fsync(self.0) }).map(|_| ())
    }

    /// Maps the whole file read-only (`MAP_SHARED` or `MAP_PRIVATE`) and copies it out.
    pub fn mmap_read(&self, shared: bool) -> R<Vec<u8>> {
        let len = self.fstat()?.size as usize;
        if len == 0 {
            return Ok(Vec::new());
        }
        let flags = if shared {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        };
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, flags, self.0, 0) };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        let v = unsafe { std::slice::from_raw_parts(p as *const u8, len) }.to_vec();
        unsafe { libc::munmap(p, len) };
        Ok(v)
    }
}

fn to_stat(st: &libc::stat) -> Stat {
    Stat {
        ino: st.st_ino,
        dev: st.st_dev,
        size: st.st_size as u64,
        mode: st.st_mode,
        nlink: st.st_nlink,
        uid: st.st_uid,
        gid: st.st_gid,
    }
}

pub fn open(p: &Path, flags: i32, mode: u32) -> R<Fd> {
    let c = cpath(p);
    let fd =
        check(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })?;
    Ok(Fd(fd))
}

/// Opens and closes; the errno of whichever failed.
pub fn open_close(p: &Path, flags: i32) -> R<()> {
    open(p, flags, 0o644)?.close()
}

pub fn read_file(p: &Path) -> R<Vec<u8>> {
    let fd = open(p, libc::O_RDONLY, 0)?;
    let v = fd.read_all()?;
    fd.close()?;
    Ok(v)
}

/// `O_CREAT|O_EXCL|O_WRONLY`, writes `data`, closes.
pub fn create(p: &Path, data: &[u8]) -> R<()> {
    create_flags(p, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, data)
}

pub fn create_flags(p: &Path, flags: i32, data: &[u8]) -> R<()> {
    let fd = open(p, flags, 0o644)?;
    fd.write_all(data)?;
    fd.close()
}

/// Opens an existing file `O_WRONLY|O_TRUNC` and writes `data`.
pub fn overwrite(p: &Path, data: &[u8]) -> R<()> {
    let fd = open(p, libc::O_WRONLY | libc::O_TRUNC, 0)?;
    fd.write_all(data)?;
    fd.close()
}

/// Opens an existing file `O_WRONLY` (no truncation) and writes `data` at `off`.
pub fn write_at(p: &Path, off: u64, data: &[u8]) -> R<()> {
    let fd = open(p, libc::O_WRONLY, 0)?;
    fd.pwrite_all(off, data)?;
    fd.close()
}

pub fn append(p: &Path, data: &[u8]) -> R<()> {
    let fd = open(p, libc::O_WRONLY | libc::O_APPEND, 0)?;
    fd.write_all(data)?;
    fd.close()
}

pub fn stat(p: &Path) -> R<Stat> {
    let c = cpath(p);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::stat(c.as_ptr(), &mut st) })?;
    Ok(to_stat(&st))
}

pub fn lstat(p: &Path) -> R<Stat> {
    let c = cpath(p);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::lstat(c.as_ptr(), &mut st) })?;
    Ok(to_stat(&st))
}

pub fn access(p: &Path, mode: i32) -> R<()> {
    let c = cpath(p);
    check(unsafe { libc::access(c.as_ptr(), mode) }).map(|_| ())
}

pub fn mkdir(p: &Path) -> R<()> {
    let c = cpath(p);
    check(unsafe { libc::mkdir(c.as_ptr(), 0o775) }).map(|_| ())
}

pub fn rmdir(p: &Path) -> R<()> {
    let c = cpath(p);
    check(unsafe { libc::rmdir(c.as_ptr()) }).map(|_| ())
}

pub fn unlink(p: &Path) -> R<()> {
    let c = cpath(p);
    check(unsafe { libc::unlink(c.as_ptr()) }).map(|_| ())
}

pub fn rename(a: &Path, b: &Path) -> R<()> {
    let (ca, cb) = (cpath(a), cpath(b));
    check(unsafe { libc::rename(ca.as_ptr(), cb.as_ptr()) }).map(|_| ())
}

pub const RENAME_NOREPLACE: u32 = libc::RENAME_NOREPLACE;
pub const RENAME_EXCHANGE: u32 = libc::RENAME_EXCHANGE;

pub fn rename2(a: &Path, b: &Path, flags: u32) -> R<()> {
    let (ca, cb) = (cpath(a), cpath(b));
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            flags as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// opendir + readdir: the names in a directory (without `.` and `..`), sorted.
pub fn readdir(p: &Path) -> R<Vec<String>> {
    let c = cpath(p);
    let d = unsafe { libc::opendir(c.as_ptr()) };
    if d.is_null() {
        return Err(Errno::last());
    }
    let mut names = Vec::new();
    let res = loop {
        unsafe { *libc::__errno_location() = 0 };
        let ent = unsafe { libc::readdir64(d) };
        if ent.is_null() {
            let e = Errno::last();
            break if e.0 == 0 { Ok(()) } else { Err(e) };
        }
        let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
        let name = String::from_utf8_lossy(name.to_bytes()).into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    };
    unsafe { libc::closedir(d) };
    res?;
    names.sort();
    Ok(names)
}

pub fn truncate(p: &Path, len: u64) -> R<()> {
    let c = cpath(p);
    check(unsafe { libc::truncate(c.as_ptr(), len as libc::off_t) }).map(|_| ())
}

/// Sets atime and mtime to `secs` (path-based setattr).
pub fn utimes(p: &Path, secs: i64) -> R<()> {
    let c = cpath(p);
    let ts = [
        libc::timespec {
            tv_sec: secs,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: secs,
            tv_nsec: 0,
        },
    ];
    check(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), 0) }).map(|_| ())
}

pub fn chmod(p: &Path, mode: u32) -> R<()> {
    let c = cpath(p);
    check(unsafe { libc::chmod(c.as_ptr(), mode) }).map(|_| ())
}

pub fn mmap_read(p: &Path, shared: bool) -> R<Vec<u8>> {
    let fd = open(p, libc::O_RDONLY, 0)?;
    let v = fd.mmap_read(shared)?;
    drop(fd);
    Ok(v)
}

/// execve of a file; on success the process image is replaced, so only call it in a child.
pub fn exec(p: &Path) -> R<()> {
    let c = cpath(p);
    let argv = [c.as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    unsafe { libc::execve(c.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Err(Errno::last())
}

pub fn getxattr(p: &Path, name: &str) -> R<Vec<u8>> {
    let c = cpath(p);
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 4096];
    let rc = unsafe { libc::getxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        return Err(Errno::last());
    }
    buf.truncate(rc as usize);
    Ok(buf)
}
