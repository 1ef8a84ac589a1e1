//! A read-only root directory with files `f0`..`f63`. Every LOOKUP waits a little and records
//! which session thread served it and how many lookups were in flight at once, so a caller
//! can tell whether the session really serves requests in parallel.

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, Generation, INodeNo, InitFlags,
    KernelConfig, ReplyAttr, ReplyEntry, Request, Session, SessionACL,
};
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

#[derive(Default)]
pub struct Seen {
    pub threads: Mutex<BTreeSet<String>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

pub struct ProbeFs(pub Arc<Seen>);

fn attr(ino: u64, kind: FileType) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: 0,
        blocks: 0,
        atime: SystemTime::UNIX_EPOCH,
        mtime: SystemTime::UNIX_EPOCH,
        ctime: SystemTime::UNIX_EPOCH,
        crtime: SystemTime::UNIX_EPOCH,
        kind,
        perm: if kind == FileType::Directory {
            0o755
        } else {
            0o644
        },
        nlink: 1,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

impl Filesystem for ProbeFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Without it the kernel serialises lookups in one directory, whatever the threads.
        let _ = config.add_capabilities(InitFlags::FUSE_PARALLEL_DIROPS);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let now = self.0.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(t) = std::thread::current().name() {
            if let Ok(mut threads) = self.0.threads.lock() {
                threads.insert(t.to_owned());
            }
        }
        // Long enough that parallel clients overlap when the session has several threads.
        std::thread::sleep(Duration::from_millis(30));
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        let index = name
            .to_str()
            .and_then(|n| n.strip_prefix('f'))
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|i| *i < 64);
        match (parent.0, index) {
            (1, Some(i)) => reply.entry(
                &Duration::ZERO,
                &attr(i + 2, FileType::RegularFile),
                Generation(0),
            ),
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match ino.0 {
            1 => reply.attr(&Duration::ZERO, &attr(1, FileType::Directory)),
            n if (2..66).contains(&n) => {
                reply.attr(&Duration::ZERO, &attr(n, FileType::RegularFile))
            }
            _ => reply.error(Errno::ENOENT),
        }
    }
}

/// Mounts the probe at `mountpoint` with `threads` session threads (cloned /dev/fuse fds) and
/// runs it in the background: the code path a daemon takes on a device.
pub fn start(
    mountpoint: &Path,
    threads: usize,
    seen: Arc<Seen>,
) -> std::io::Result<fuser::BackgroundSession> {
    let mut config = Config::default();
    config.acl = SessionACL::All;
    config.n_threads = Some(threads);
    config.clone_fd = true;
    Session::new(ProbeFs(seen), mountpoint, &config)?.spawn()
}
