//! The FUSE filesystem. Every operation runs one pipeline — `request → caller → target
//! (node, lower entry, facts) → decision → I/O mode` — in its own module and returns a
//! `Result`; this file only adapts results to fuser's replies.
//!
//! Modules: `state` (shared state, caller, targets, facts), `entry` (lookup/getattr/views),
//! `open` (open/create, I/O mode), `io` (daemon-served data path), `dir` (listing),
//! `mutate` (namespace and attribute changes), `sys` (errno and conversions).

mod dir;
mod entry;
mod io;
mod mutate;
mod open;
mod state;
mod sys;
mod view_misses;

pub use state::{Inner, Inval, Options};

use entry::ATTR_TTL;
use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyLseek, ReplyOpen,
    ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use sys::Res;

/// The filesystem fuser owns; its state is shared with the control thread.
pub struct MediaFs(pub Arc<Inner>);

impl std::ops::Deref for MediaFs {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

// ---- reply adapters: one per reply kind ----------------------------------------------------

/// fuser 0.17 has no separate attribute TTL: the entry TTL is used for both.
fn reply_entry(reply: ReplyEntry, r: Res<(FileAttr, Duration)>) {
    match r {
        Ok((attr, ttl)) => reply.entry(&ttl, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn reply_attr(reply: ReplyAttr, r: Res<FileAttr>) {
    match r {
        Ok(attr) => reply.attr(&ATTR_TTL, &attr),
        Err(e) => reply.error(e),
    }
}

fn reply_empty(reply: ReplyEmpty, r: Res<()>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

fn reply_open(reply: ReplyOpen, r: Res<open::Opened>) {
    match r {
        Ok(o) => match &o.backing {
            Some(b) => reply.opened_passthrough(FileHandle(o.fh), o.flags, b),
            None => reply.opened(FileHandle(o.fh), o.flags),
        },
        Err(e) => reply.error(e),
    }
}

fn reply_create(reply: ReplyCreate, r: Res<open::Created>) {
    // Entry TTL 0: the file is pending until this handle closes.
    let ttl = entry::NO_TTL;
    match r {
        Ok(c) => {
            let fh = FileHandle(c.opened.fh);
            match &c.opened.backing {
                Some(b) => {
                    reply.created_passthrough(&ttl, &c.attr, Generation(0), fh, c.opened.flags, b)
                }
                None => reply.created(&ttl, &c.attr, Generation(0), fh, c.opened.flags),
            }
        }
        Err(e) => reply.error(e),
    }
}

impl Filesystem for MediaFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // AUTO_INVAL_DATA: a changed mtime drops an inode's cached pages in the reader's own
        // context, so the daemon only ever sends attribute invalidations (which never block).
        let wanted = InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP
            | InitFlags::FUSE_AUTO_INVAL_DATA;
        if let Err(missing) = config.add_capabilities(wanted) {
            log::info!("kernel lacks some optional FUSE capabilities: {missing:?}");
            let _ = config.add_capabilities(wanted.difference(missing));
        }
        if self.passthrough.load(Ordering::Relaxed) {
            let ok = config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
                && config.set_max_stack_depth(1).is_ok();
            if !ok {
                log::warn!("kernel does not offer FUSE passthrough; serving I/O from the daemon");
                self.passthrough.store(false, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        reply_entry(reply, self.lookup_op(req, parent, name));
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.stats.forget.fetch_add(1, Ordering::Relaxed);
        self.forget_op(ino, nlookup);
    }

    fn getattr(&self, req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        reply_attr(reply, self.getattr_op(req, ino, fh));
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        self.stats.setattr.fetch_add(1, Ordering::Relaxed);
        reply_attr(reply, self.setattr_op(req, ino, size, atime, mtime, fh));
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply_entry(reply, self.mknod_op(req, parent, name, mode));
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        self.stats.mkdir.fetch_add(1, Ordering::Relaxed);
        reply_entry(reply, self.mkdir_op(req, parent, name));
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.stats.unlink.fetch_add(1, Ordering::Relaxed);
        reply_empty(reply, self.unlink_op(req, parent, name));
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.rmdir_op(req, parent, name));
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        self.stats.rename.fetch_add(1, Ordering::Relaxed);
        let r = self.rename_op(req, parent, name, newparent, newname, flags.bits());
        reply_empty(reply, r);
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let r = self.open_op(req, ino, flags.0, |f| reply.open_backing(f));
        reply_open(reply, r);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let r = self.create_op(req, parent, name, flags, |f| reply.open_backing(f));
        reply_create(reply, r);
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut reply = Some(reply);
        let r = self.read_op(fh, offset, size, |data| {
            if let Some(rp) = reply.take() {
                rp.data(data);
            }
        });
        if let (Err(e), Some(rp)) = (r, reply) {
            rp.error(e);
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.write_op(fh, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.stats.flush.fetch_add(1, Ordering::Relaxed);
        reply_empty(reply, self.flush_op(fh));
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.stats.release.fetch_add(1, Ordering::Relaxed);
        reply_empty(reply, self.release_op(fh));
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.fsync_op(fh, datasync));
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.opendir_op(req, ino) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        self.stats.readdir.fetch_add(1, Ordering::Relaxed);
        let snap = match self.snapshot(fh) {
            Ok(s) => s,
            Err(e) => return reply.error(e),
        };
        let mut i = offset as usize;
        while i < snap.entries.len() + 2 {
            let (ino, kind, name): (u64, FileType, &str) = match i {
                0 => (snap.ino, FileType::Directory, "."),
                1 => (snap.parent, FileType::Directory, ".."),
                _ => {
                    let e = &snap.entries[i - 2];
                    // d_ino is informational; the kernel looks the name up before use.
                    let kind = if e.is_dir {
                        FileType::Directory
                    } else {
                        FileType::RegularFile
                    };
                    (u64::MAX >> 1, kind, e.name.as_str())
                }
            };
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                break;
            }
            i += 1;
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let r = self.readdirplus_op(req, fh, offset, |cookie, e| {
            reply.add(e.attr.ino, cookie, e.name, &e.ttl, &e.attr, Generation(0))
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.releasedir_op(fh);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.stats.statfs.fetch_add(1, Ordering::Relaxed);
        match self.lower.statvfs() {
            Ok(s) => reply.statfs(
                s.blocks(),
                s.blocks_free(),
                s.blocks_available(),
                s.files(),
                s.files_free(),
                s.block_size() as u32,
                255,
                s.fragment_size() as u32,
            ),
            Err(e) => reply.error(sys::io_errno(&e)),
        }
    }

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        // ENOSYS once makes the kernel stop asking: no GETXATTR per write (SPEC §7).
        self.unimplemented("getxattr");
        reply.error(Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        self.unimplemented("listxattr");
        reply.error(Errno::ENOSYS);
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        self.unimplemented("setxattr");
        reply.error(Errno::ENOSYS);
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        self.unimplemented("removexattr");
        reply.error(Errno::ENOSYS);
    }

    fn readlink(&self, _req: &Request, _ino: INodeNo, reply: ReplyData) {
        self.unimplemented("readlink");
        reply.error(Errno::ENOSYS);
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &std::path::Path,
        reply: ReplyEntry,
    ) {
        // No symlinks on shared storage (FAT semantics, like Android's /sdcard).
        self.unimplemented("symlink");
        reply.error(Errno::EPERM);
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        self.unimplemented("link");
        reply.error(Errno::EPERM);
    }

    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: fuser::IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: fuser::ReplyIoctl,
    ) {
        self.unimplemented("ioctl");
        reply.error(Errno::ENOSYS);
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        self.stats.access.fetch_add(1, Ordering::Relaxed);
        reply_empty(reply, self.access_op(req, ino, mask));
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.fallocate_op(fh, offset, length, mode));
    }

    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        match self.lseek_op(fh, offset, whence) {
            Ok(o) => reply.offset(o),
            Err(e) => reply.error(e),
        }
    }
}
