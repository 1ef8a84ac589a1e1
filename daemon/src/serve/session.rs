//! The fuser session: mount (or adopt a handed-over `/dev/fuse` fd), spawn, join. Written
//! against the API common to fuser 0.17 and 0.18 (`Session::run` is crate-private in 0.17).

use fuser::{BackgroundSession, Config, Filesystem, Session, SessionACL};
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub enum Fuse {
    /// Mount at this directory ourselves.
    Mount(PathBuf),
    /// An already-mounted `/dev/fuse` fd from a mounter (vold-style).
    Fd(OwnedFd),
}

/// fuser refuses more than one thread unless built for `target_os = "linux"` (a device build is
/// `android`; AOSP carries a patch lifting that). Ask only for what this build can serve, and
/// say so once when it is fewer than requested.
pub fn usable_threads(requested: usize) -> usize {
    if requested > 1 && !cfg!(target_os = "linux") {
        log::warn!(
            "this fuser build serves FUSE from one thread only (n_threads > 1 needs \
             target_os = \"linux\" or the AOSP fuser patch); serving with 1 thread, not {requested}"
        );
        return 1;
    }
    requested
}

pub fn open<FS: Filesystem + Send + 'static>(
    fs: FS,
    fuse: Fuse,
    config: Config,
) -> io::Result<Session<FS>> {
    match fuse {
        Fuse::Fd(fd) => Session::from_fd(fs, fd, SessionACL::All, config),
        Fuse::Mount(dir) => Session::new(fs, &dir, &config),
    }
}

/// Serves until the mount goes away (or the connection is aborted).
pub fn serve<FS: Filesystem + Send + 'static>(session: Session<FS>) -> io::Result<()> {
    let bg: BackgroundSession = session.spawn()?;
    bg.join()
}
