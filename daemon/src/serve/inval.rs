//! Kernel cache invalidations, sent from their own thread (SPEC §9 liveness).
//!
//! Only attribute invalidations are sent (`inval_inode` with a negative offset): the kernel
//! handles them without taking a directory lock or a page lock, so the thread can never block
//! on a FUSE request that the daemon is still to answer — and a SIGKILL always finds every
//! thread killable, so the process exits and the connection is released. Entry
//! invalidations (which lock the parent directory and so can wait behind a rename that waits on
//! this daemon) are never needed: caller-dependent names have entry TTL 0, and an open or
//! getattr through a dentry that no longer names the same lower file answers ESTALE, which
//! makes the kernel look the name up again. Page invalidation happens in the reader's own
//! context (FUSE_AUTO_INVAL_DATA) once it sees the changed mtime.

use super::fs::Inval;
use fuser::{INodeNo, Notifier};
use std::sync::mpsc::Receiver;

pub fn spawn(notifier: Notifier, rx: Receiver<Inval>) {
    let spawned = std::thread::Builder::new()
        .name("inval".into())
        .spawn(move || {
            for msg in rx {
                // ENOENT means the kernel holds no such inode: nothing to invalidate.
                let _ = match msg {
                    Inval::Attrs(ino) => notifier.inval_inode(INodeNo(ino), -1, 0),
                };
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the invalidation thread: {e}; cached views may lag");
    }
}
