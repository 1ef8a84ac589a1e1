//! Errno mapping and small conversions shared by every operation.

use crate::lower::Stat;
use fuser::{Errno, FileAttr, FileType, INodeNo, TimeOrNow};
use mediaprovider_policy::store::StoreError;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub type Res<T> = Result<T, Errno>;

pub fn io_errno(e: &io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

pub fn policy_errno(e: mediaprovider_policy::Errno) -> Errno {
    Errno::from_i32(e.raw())
}

/// A store failure that reaches a FUSE reply: logged with what failed, then EIO.
pub struct StoreCtx;

impl StoreCtx {
    pub fn log(what: &'static str) -> impl Fn(StoreError) -> Errno {
        move |e| {
            log::error!("store: {what}: {e}");
            Errno::EIO
        }
    }
}

fn system_time(secs: i64, nsec: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsec.clamp(0, 999_999_999) as u32)
    } else {
        UNIX_EPOCH
    }
}

pub fn attr_from(st: &Stat, ino: u64) -> FileAttr {
    let s = &st.0;
    FileAttr {
        ino: INodeNo(ino),
        size: st.size(),
        blocks: s.st_blocks.max(0) as u64,
        atime: system_time(s.st_atime, s.st_atime_nsec),
        mtime: system_time(s.st_mtime, s.st_mtime_nsec),
        ctime: system_time(s.st_ctime, s.st_ctime_nsec),
        crtime: UNIX_EPOCH,
        kind: if st.is_dir() {
            FileType::Directory
        } else {
            FileType::RegularFile
        },
        perm: (s.st_mode & 0o7777) as u16,
        nlink: s.st_nlink as u32,
        uid: s.st_uid,
        gid: s.st_gid,
        rdev: 0,
        blksize: s.st_blksize as u32,
        flags: 0,
    }
}

/// The two timespecs of `utimensat`/`futimens` (UTIME_OMIT for a time not being set).
pub fn timespecs(atime: Option<TimeOrNow>, mtime: Option<TimeOrNow>) -> [libc::timespec; 2] {
    let ts = |t: Option<TimeOrNow>| match t {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(st)) => {
            let d = st.duration_since(UNIX_EPOCH).unwrap_or_default();
            libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            }
        }
    };
    [ts(atime), ts(mtime)]
}

/// Flags for the lower open of a daemon-side handle: pread/pwrite at kernel-given offsets, so
/// no O_APPEND (pwrite would ignore the offset) and no O_DIRECT (aligned buffers); creation
/// flags are the caller's business, not the lower open's.
pub fn lower_open_flags(flags: i32) -> i32 {
    let acc = flags & libc::O_ACCMODE;
    let keep = flags
        & !(libc::O_ACCMODE
            | libc::O_APPEND
            | libc::O_DIRECT
            | libc::O_CREAT
            | libc::O_EXCL
            | libc::O_TRUNC
            | libc::O_NOCTTY);
    // Always readable: the daemon rescans what it wrote at close.
    let acc = if acc == libc::O_RDONLY {
        libc::O_RDONLY
    } else {
        libc::O_RDWR
    };
    keep | acc
}
