//! Data path of daemon-served handles (passthrough reads and writes never get here):
//! read (redacted or not), write, flush/release (finishing a written file), fsync,
//! fallocate, lseek.

use super::state::{lock, Inner, Inval};
use super::sys::{io_errno, Res};
use crate::facts::{pause_before, version_of, CHANGING_FILE_ATTEMPTS};
use crate::serve::handles::{Handle, Redaction};
use crate::serve::inodes::View;
use fuser::{Errno, FileHandle};
use mediaprovider_policy::redact::{apply_ranges, overlaps};
use std::cell::RefCell;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn read_full(h: &Handle, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match h.file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl Inner {
    /// Reads through a handle and passes the bytes to `reply`. A redacted handle serves only
    /// bytes read from the file version its ranges were computed for: the version is checked
    /// before and after the read, and a changed file is rescanned first (SPEC §9).
    pub(super) fn read_op(
        &self,
        fh: FileHandle,
        offset: u64,
        size: u32,
        reply: impl FnOnce(&[u8]),
    ) -> Res<()> {
        self.stats.read.fetch_add(1, Ordering::Relaxed);
        let h = self.handle(fh)?;
        READ_BUF.with(|b| {
            let mut buf = b.borrow_mut();
            let size = size as usize;
            if buf.len() < size {
                buf.resize(size, 0);
            }
            let Some(redaction) = &h.redaction else {
                let n = read_full(&h, &mut buf[..size], offset).map_err(|e| io_errno(&e))?;
                reply(&buf[..n]);
                return Ok(());
            };
            // A file that keeps changing under the read fails it closed (EIO), rather than
            // serve bytes whose ranges are unknown.
            for attempt in 0..CHANGING_FILE_ATTEMPTS {
                pause_before(attempt);
                let before = version_of(&h.file).map_err(|e| io_errno(&e))?;
                let current = lock(redaction).clone();
                let r = if current.version == before {
                    current
                } else {
                    self.rescan(&h, redaction)?
                };
                if r.version != before {
                    continue;
                }
                let n = read_full(&h, &mut buf[..size], offset).map_err(|e| io_errno(&e))?;
                if version_of(&h.file).map_err(|e| io_errno(&e))? != before {
                    continue; // written while we read: these bytes may not match the ranges
                }
                let data = &mut buf[..n];
                if overlaps(&r.ranges, offset, n as u64) {
                    apply_ranges(&r.ranges, offset, data);
                }
                reply(data);
                return Ok(());
            }
            log::warn!(
                "{}: file keeps changing under a redacted read; failing it closed",
                h.path
            );
            Err(Errno::EIO)
        })
    }

    /// New ranges for a redacted handle whose file changed (scanned with no lock held).
    fn rescan(&self, h: &Handle, slot: &std::sync::Mutex<Redaction>) -> Res<Redaction> {
        let scan = self.locations.scan(&h.file).map_err(|e| {
            log::warn!(
                "{}: rescan for location failed ({e}); failing closed",
                h.path
            );
            Errno::EIO
        })?;
        let r = Redaction::from(scan);
        *lock(slot) = r.clone();
        Ok(r)
    }

    pub(super) fn write_op(&self, fh: FileHandle, offset: u64, data: &[u8]) -> Res<u32> {
        self.stats.write.fetch_add(1, Ordering::Relaxed);
        let h = self.handle(fh)?;
        if !h.writable {
            return Err(Errno::EBADF);
        }
        h.file
            .write_all_at(data, offset)
            .map_err(|e| io_errno(&e))?;
        h.finished.store(false, Ordering::Relaxed);
        Ok(data.len() as u32)
    }

    /// close(): a writable handle's file is rescanned so the next operation sees its size,
    /// type and location (read-only handles are opened with FOPEN_NOFLUSH and never get here).
    pub(super) fn flush_op(&self, fh: FileHandle) -> Res<()> {
        if let Ok(h) = self.handle(fh) {
            if h.writable {
                self.finish_write(&h);
            }
        }
        Ok(())
    }

    pub(super) fn release_op(&self, fh: FileHandle) -> Res<()> {
        let h = self
            .handles
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&fh.0);
        let Some(h) = h else { return Ok(()) };
        // No flush came (or writes arrived after it): finish now.
        if h.writable && !h.finished.load(Ordering::Relaxed) {
            self.finish_write(&h);
        }
        let last = lock(&self.opens).closed(h.ino, h.lower_use);
        let ino = h.ino;
        drop(h);
        if last {
            lock(&self.inodes).release_if_unused(ino);
        }
        Ok(())
    }

    /// After a write handle is done: rescan size, MIME and location, clear pending, and
    /// drop the redacted view's cached attributes and pages (they were computed from the old
    /// content). No lock is held across the scan or the store write.
    fn finish_write(&self, h: &Arc<Handle>) {
        h.finished.store(true, Ordering::Relaxed);
        let Ok(st) = crate::facts::stat_of(&h.file) else {
            return;
        };
        // The name the file has now (it may have been renamed while open).
        let (path, parent) = match lock(&self.inodes).get(h.ino) {
            Some(n) => (n.path, n.parent),
            None => (h.path.clone(), 0),
        };
        // Fail closed: unscannable counts as location-bearing.
        let location = self
            .locations
            .scan(&h.file)
            .map(|s| s.has_location())
            .unwrap_or(true);
        if let Err(e) = self
            .stores
            .write(|s| s.finish_write(&path, st.size(), st.mtime_ns(), Some(location)))
            .map_err(|e| e.to_string())
        {
            log::error!("store: finishing a write to {path}: {e}");
        }
        let redacted = lock(&self.inodes).find(parent, path.file_name(), View::Redacted);
        if let Some(y) = redacted {
            self.send_inval(Inval::Attrs(y));
        }
    }

    pub(super) fn fsync_op(&self, fh: FileHandle, datasync: bool) -> Res<()> {
        let h = self.handle(fh)?;
        if datasync {
            h.file.sync_data()
        } else {
            h.file.sync_all()
        }
        .map_err(|e| io_errno(&e))
    }

    pub(super) fn fallocate_op(
        &self,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Res<()> {
        let h = self.handle(fh)?;
        if !h.writable {
            return Err(Errno::EBADF);
        }
        // SAFETY: plain syscall on an fd we own for the duration of the call.
        let rc = unsafe {
            libc::fallocate(
                h.file.as_raw_fd(),
                mode,
                offset as libc::off_t,
                length as libc::off_t,
            )
        };
        if rc != 0 {
            return Err(io_errno(&io::Error::last_os_error()));
        }
        h.finished.store(false, Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn lseek_op(&self, fh: FileHandle, offset: i64, whence: i32) -> Res<i64> {
        let h = self.handle(fh)?;
        // SAFETY: plain syscall on an fd we own; SEEK_DATA/SEEK_HOLE answers from the lower file.
        let r = unsafe { libc::lseek(h.file.as_raw_fd(), offset, whence) };
        if r < 0 {
            Err(io_errno(&io::Error::last_os_error()))
        } else {
            Ok(r)
        }
    }
}
