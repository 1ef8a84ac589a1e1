//! A file that replaces itself with a copy: the name gets a new inode with the same bytes,
//! owner, mode and times, and the old inode stays with whoever holds it open. The daemon does
//! this before a write open of a file that readers hold open through its real view while they
//! would be redacted were it located: a writer may put location into it, and those readers'
//! fds (passthrough, or the real view's page cache) would show it (see `fs/open.rs`).

use super::{sys, Lower};
use mediaprovider_policy::paths::VolPath;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};

/// The copy's name until it replaces the original. Directory reads never list such names, so
/// no listing indexes one, and one left behind by a crash stays invisible.
pub const COPY_PREFIX: &str = ".mpd-copy-";

static COPY_SEQ: AtomicU64 = AtomicU64::new(0);

impl Lower {
    /// Gives `path` (on-disk spelling) a new inode holding what the old one holds now;
    /// `before_rename` learns the new inode's number before the name refers to it.
    pub fn replace_with_copy(
        &self,
        path: &VolPath,
        before_rename: impl FnOnce(u64),
    ) -> io::Result<()> {
        let parent = path.parent().unwrap_or_default();
        let dir = self.dir(&parent)?;
        // O_NONBLOCK: should the name have become a FIFO behind our back, do not wait on it.
        let old = sys::open_at(
            dir.as_fd(),
            path.file_name(),
            libc::O_RDONLY | libc::O_NONBLOCK,
            0,
        )?;
        let st = sys::fstat(old.as_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let seq = COPY_SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp_name = format!("{COPY_PREFIX}{}-{seq}", std::process::id());
        let tmp = parent
            .join(&tmp_name)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mode = st.st_mode & 0o7777;
        let new = sys::open_at(
            dir.as_fd(),
            &tmp_name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            mode,
        )?;
        let done = (|| {
            sys::copy_all(old.as_fd(), new.as_fd(), st.st_size as u64)?;
            sys::set_owner_mode(new.as_fd(), st.st_uid, st.st_gid, mode)?;
            let times = [
                libc::timespec {
                    tv_sec: st.st_atime,
                    tv_nsec: st.st_atime_nsec,
                },
                libc::timespec {
                    tv_sec: st.st_mtime,
                    tv_nsec: st.st_mtime_nsec,
                },
            ];
            sys::set_times_fd(new.as_fd(), &times)?;
            before_rename(sys::fstat(new.as_fd())?.st_ino);
            self.rename(&tmp, path, 0)
        })();
        if done.is_err() {
            let _ = sys::unlink_at(dir.as_fd(), &tmp_name, false);
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_name_gets_a_new_inode_and_an_open_fd_keeps_the_old_bytes() {
        let root = std::env::temp_dir().join(format!("mpd-copy-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("DCIM")).unwrap();
        let file = root.join("DCIM/a.jpg");
        std::fs::write(&file, b"before").unwrap();
        let held = std::fs::File::open(&file).unwrap();
        let old_ino = held.metadata().unwrap().ino();
        let mtime = held.metadata().unwrap().mtime();
        let lower = Lower::open(&root).unwrap();
        let path = VolPath::parse("DCIM/a.jpg").unwrap();
        let mut new_ino = 0;
        lower.replace_with_copy(&path, |i| new_ino = i).unwrap();
        let now = std::fs::metadata(&file).unwrap();
        assert_ne!(now.ino(), old_ino, "the name names a new inode");
        assert_eq!(now.ino(), new_ino, "the new inode was reported");
        assert_eq!(now.mtime(), mtime, "times are kept");
        std::fs::write(&file, b"after, with more bytes").unwrap();
        let mut got = String::new();
        use std::io::Read;
        (&held).read_to_string(&mut got).unwrap();
        assert_eq!(got, "before", "the open fd kept the old bytes");
        let names: Vec<_> = lower.list(&VolPath::parse("DCIM").unwrap()).unwrap();
        assert_eq!(
            names,
            vec![("a.jpg".to_string(), false)],
            "no copy left or listed"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
