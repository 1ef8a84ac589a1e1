//! FUSE mounts: reading /proc/self/mountinfo, vold-style pre-mounting, forced unmounts.

use crate::sys::{cpath, Errno, Fd};
use std::fs;
use std::path::Path;

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One mount from /proc/self/mountinfo.
#[derive(Clone, Debug)]
pub struct MountEntry {
    pub mount_point: String,
    pub mount_options: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

pub fn mounts() -> Vec<MountEntry> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let f: Vec<&str> = pre.split(' ').collect();
            let g: Vec<&str> = post.split(' ').collect();
            Some(MountEntry {
                mount_point: unescape_mountinfo(f.get(4)?),
                mount_options: f.get(5)?.to_string(),
                fstype: g.first()?.to_string(),
                source: g.get(1).unwrap_or(&"").to_string(),
                super_options: g.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// The FUSE mount at `mnt`, if one is there.
pub fn fuse_mount_at(mnt: &Path) -> Option<MountEntry> {
    let want = mnt.to_string_lossy();
    mounts()
        .into_iter()
        .rev()
        .find(|m| m.mount_point == want && m.fstype.starts_with("fuse"))
}

/// Detaches whatever FUSE mount is still at `mnt`.
pub fn force_unmount(mnt: &Path) {
    for _ in 0..4 {
        if fuse_mount_at(mnt).is_none() {
            return;
        }
        let c = cpath(mnt);
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// The fd number a handed-over `/dev/fuse` gets in the daemon.
pub const HANDOFF_FD: i32 = 9;

/// Mounts FUSE at `mnt` the way vold does (nosuid,nodev,noexec, allow_other, no
/// default_permissions) and returns the `/dev/fuse` fd serving it.
pub fn premount(mnt: &Path) -> Fd {
    let dev = std::ffi::CString::new("/dev/fuse").unwrap();
    let fd = unsafe { libc::open(dev.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    assert!(fd >= 0, "open /dev/fuse: {}", Errno::last());
    let fd = Fd(fd);
    let data = std::ffi::CString::new(format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,allow_other",
        fd.0
    ))
    .unwrap();
    let (src, fstype) = (
        std::ffi::CString::new("mediaproviderd").unwrap(),
        std::ffi::CString::new("fuse.mediaproviderd").unwrap(),
    );
    let target = cpath(mnt);
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_NOATIME;
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    };
    assert_eq!(rc, 0, "mount fuse at {}: {}", mnt.display(), Errno::last());
    fd
}
