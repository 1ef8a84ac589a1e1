//! The lower tree, reached only through file descriptors: a directory is opened beneath the
//! lower root with `openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)` and every operation is an
//! `*at` call on one name in it (SPEC §9: no path leaves the tree, a directory swapped for a
//! symlink after lookup is not followed, no PATH_MAX limit from joining strings). Names are
//! case-insensitive (SPEC §5.10): the exact spelling is tried first, then the name index, so
//! a miss or a create never reads the whole directory once it is indexed.

mod copy;
mod names;
mod nomedia;
mod sys;

pub use copy::COPY_PREFIX;
pub use names::NameIndex;
use names::{DirKey, DirVersion, Known};
use nomedia::NomediaMemo;

use mediaprovider_policy::paths::{eq_fold, VolPath};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest directory scanned for a case-insensitive match when it is too big to index.
const MAX_SCAN_ENTRIES: usize = 1_000_000;
pub const FILE_MODE: u32 = 0o664;
pub const DIR_MODE: u32 = 0o775;

/// `lstat` result of a lower entry.
#[derive(Clone, Copy)]
pub struct Stat(pub libc::stat);

impl Stat {
    fn kind(&self) -> u32 {
        self.0.st_mode & libc::S_IFMT
    }
    pub fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.kind() == libc::S_IFREG
    }
    /// Regular files and directories are served; symlinks and device/socket/fifo nodes are not.
    fn usable(&self) -> bool {
        self.is_dir() || self.is_file()
    }
    pub fn ino(&self) -> u64 {
        self.0.st_ino
    }
    pub fn dev(&self) -> u64 {
        self.0.st_dev
    }
    pub fn size(&self) -> u64 {
        self.0.st_size.max(0) as u64
    }
    pub fn mtime_ns(&self) -> i64 {
        self.0.st_mtime * 1_000_000_000 + self.0.st_mtime_nsec
    }
    pub fn ctime_ns(&self) -> i64 {
        self.0.st_ctime * 1_000_000_000 + self.0.st_ctime_nsec
    }
    /// The version of a file's content that location ranges are tied to (SPEC §9).
    pub fn version(&self) -> FileVersion {
        FileVersion {
            ino: self.ino(),
            size: self.size(),
            mtime_ns: self.mtime_ns(),
            ctime_ns: self.ctime_ns(),
        }
    }
    fn dir_key(&self) -> DirKey {
        (self.dev(), self.ino())
    }
    fn dir_version(&self) -> DirVersion {
        (self.mtime_ns(), self.ctime_ns())
    }
}

/// One version of a lower file: any write, truncate or replacement changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileVersion {
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

/// Errors that mean "no such entry beneath the root" rather than a failing lower filesystem.
fn absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::EXDEV)
    )
}

fn none_if_absent<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `fstat` of an open file.
pub fn fstat(fd: BorrowedFd) -> io::Result<Stat> {
    sys::fstat(fd).map(Stat)
}

/// `futimens` on an open file (utimes of a file that may be unlinked already).
pub fn set_times_fd(fd: BorrowedFd, times: &[libc::timespec; 2]) -> io::Result<()> {
    sys::set_times_fd(fd, times)
}

pub struct Lower {
    root: OwnedFd,
    names: NameIndex,
    nomedia: NomediaMemo,
    /// Whole-directory reads on the request path (getdents passes), reported in `--stats`.
    pub dir_reads: AtomicU64,
}

impl Lower {
    pub fn open(root: &Path) -> io::Result<Lower> {
        use std::os::unix::fs::OpenOptionsExt;
        let root_file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(root)?;
        Ok(Lower {
            root: OwnedFd::from(root_file),
            names: NameIndex::default(),
            nomedia: NomediaMemo::default(),
            dir_reads: AtomicU64::new(0),
        })
    }

    pub fn indexed_names(&self) -> usize {
        self.names.len()
    }

    /// An `O_PATH` fd of directory `dir` (on-disk spelling), resolved beneath the root.
    pub fn dir(&self, dir: &VolPath) -> io::Result<OwnedFd> {
        sys::open_beneath(
            self.root.as_fd(),
            dir.as_str(),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
    }

    fn parent_of(&self, path: &VolPath) -> io::Result<OwnedFd> {
        self.dir(&path.parent().unwrap_or_default())
    }

    /// `lstat` of `path` spelled exactly as on disk; `None` if absent or not servable.
    pub fn stat(&self, path: &VolPath) -> io::Result<Option<Stat>> {
        Ok(self.stat_with_parent(path)?.map(|(_, st)| st))
    }

    /// [`Lower::stat`] with the parent directory's fd, to open the entry without resolving
    /// the parent again (`None` for the root, which has no parent).
    pub fn stat_with_parent(&self, path: &VolPath) -> io::Result<Option<(Option<OwnedFd>, Stat)>> {
        if path.is_root() {
            return Ok(Some((None, Stat(sys::fstat(self.root.as_fd())?))));
        }
        let Some(dir) = none_if_absent(self.parent_of(path))? else {
            return Ok(None);
        };
        Ok(self
            .stat_in(dir.as_fd(), path.file_name())?
            .map(|st| (Some(dir), st)))
    }

    /// `lstat` of one name in an open directory; `None` if absent or not servable.
    pub fn stat_in(&self, dir: BorrowedFd, name: &str) -> io::Result<Option<Stat>> {
        Ok(none_if_absent(sys::stat_at(dir, name))?
            .map(Stat)
            .filter(Stat::usable))
    }

    /// Finds `name` in directory `dir` case-insensitively: the on-disk name and its stat.
    pub fn find_child(&self, dir: BorrowedFd, name: &str) -> io::Result<Option<(String, Stat)>> {
        match sys::stat_at(dir, name) {
            Ok(st) => return Ok(Some((name.to_string(), Stat(st))).filter(|(_, s)| s.usable())),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return none_if_absent(Err(e)),
        }
        let dst = Stat(sys::fstat(dir)?);
        let actual = match self.names.lookup(dst.dir_key(), dst.dir_version(), name) {
            Known::Present(actual) => Some(actual),
            Known::Absent => None,
            Known::Unknown => {
                let all = self.read_names(dir, &dst)?;
                all.into_iter()
                    .take(MAX_SCAN_ENTRIES)
                    .find(|(n, _)| eq_fold(n, name))
                    .map(|(n, _)| n)
            }
        };
        let Some(actual) = actual else {
            return Ok(None);
        };
        Ok(none_if_absent(sys::stat_at(dir, &actual))?
            .map(|st| (actual, Stat(st)))
            .filter(|(_, s)| s.usable()))
    }

    /// Reads a directory once and indexes it (at the version it had before the read).
    fn read_names(&self, dir: BorrowedFd, dst: &Stat) -> io::Result<Vec<(String, u8)>> {
        self.dir_reads.fetch_add(1, Ordering::Relaxed);
        let all = sys::read_dir_names(dir)?;
        let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
        self.names.fill(dst.dir_key(), dst.dir_version(), &names);
        Ok(all)
    }

    /// `path`'s entry, its parent spelled as on disk and its last component in any case.
    pub fn find(&self, path: &VolPath) -> io::Result<Option<(VolPath, Stat)>> {
        let Some(parent) = path.parent() else {
            return self.stat(path).map(|s| s.map(|s| (VolPath::root(), s)));
        };
        let Some(dir) = none_if_absent(self.dir(&parent))? else {
            return Ok(None);
        };
        match self.find_child(dir.as_fd(), path.file_name())? {
            Some((actual, st)) => {
                let p = parent
                    .join(&actual)
                    .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
                Ok(Some((p, st)))
            }
            None => Ok(None),
        }
    }

    /// Resolves every component case-insensitively (paths typed by a user, not the kernel).
    pub fn resolve(&self, path: &VolPath) -> io::Result<Option<(VolPath, Stat)>> {
        let mut cur = VolPath::root();
        let mut st = Stat(sys::fstat(self.root.as_fd())?);
        for comp in path.components() {
            if !st.is_dir() {
                return Ok(None);
            }
            let Some(dir) = none_if_absent(self.dir(&cur))? else {
                return Ok(None);
            };
            let Some((actual, s)) = self.find_child(dir.as_fd(), comp)? else {
                return Ok(None);
            };
            cur = cur
                .join(&actual)
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            st = s;
        }
        Ok(Some((cur, st)))
    }

    /// Opens an existing file (on-disk spelling) without following a symlink anywhere.
    pub fn open_file(&self, path: &VolPath, flags: i32) -> io::Result<File> {
        let dir = self.parent_of(path)?;
        Lower::open_in(dir.as_fd(), path.file_name(), flags)
    }

    /// Opens `name` in an open directory without following a symlink.
    pub fn open_in(dir: BorrowedFd, name: &str, flags: i32) -> io::Result<File> {
        sys::open_at(dir, name, flags, 0).map(File::from)
    }

    /// Runs a change to directory `dir` and keeps the name index in step with it.
    fn changing<T>(
        &self,
        dir: BorrowedFd,
        added: Option<&str>,
        removed: Option<&str>,
        op: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        let before = sys::fstat(dir).map(Stat);
        let r = op()?;
        match (before, sys::fstat(dir).map(Stat)) {
            (Ok(b), Ok(a)) => self.names.changed(
                b.dir_key(),
                b.dir_version(),
                a.dir_version(),
                added,
                removed,
            ),
            (Ok(b), Err(_)) => self.names.forget(b.dir_key()),
            _ => {}
        }
        Ok(r)
    }

    /// Creates a new file (`O_CREAT|O_EXCL`) with `flags`' access mode, any access mode
    /// (`O_RDONLY|O_CREAT` included).
    pub fn create_file(&self, path: &VolPath, flags: i32) -> io::Result<File> {
        let dir = self.parent_of(path)?;
        let name = path.file_name();
        self.changing(dir.as_fd(), Some(name), None, || {
            sys::open_at(
                dir.as_fd(),
                name,
                flags | libc::O_CREAT | libc::O_EXCL,
                FILE_MODE,
            )
            .map(File::from)
        })
    }

    pub fn mkdir(&self, path: &VolPath) -> io::Result<Stat> {
        let dir = self.parent_of(path)?;
        let name = path.file_name();
        self.changing(dir.as_fd(), Some(name), None, || {
            sys::mkdir_at(dir.as_fd(), name, DIR_MODE)
        })?;
        sys::stat_at(dir.as_fd(), name).map(Stat)
    }

    /// Removes a file or an empty directory.
    pub fn remove(&self, path: &VolPath, is_dir: bool) -> io::Result<()> {
        let dir = self.parent_of(path)?;
        let name = path.file_name();
        self.changing(dir.as_fd(), None, Some(name), || {
            sys::unlink_at(dir.as_fd(), name, is_dir)
        })
    }

    pub fn rename(&self, old: &VolPath, new: &VolPath, flags: u32) -> io::Result<()> {
        let od = self.parent_of(old)?;
        let nd = self.parent_of(new)?;
        let (o, n) = (old.file_name(), new.file_name());
        let same_dir = old.parent() == new.parent();
        let (before_old, before_new) = (sys::fstat(od.as_fd()), sys::fstat(nd.as_fd()));
        sys::rename_at(od.as_fd(), o, nd.as_fd(), n, flags)?;
        let after_old = sys::fstat(od.as_fd());
        if same_dir {
            if let (Ok(b), Ok(a)) = (&before_old, &after_old) {
                // Two steps on one map: drop the old name, add the new one.
                let (b, a) = (Stat(*b), Stat(*a));
                self.names
                    .changed(b.dir_key(), b.dir_version(), b.dir_version(), None, Some(o));
                self.names
                    .changed(b.dir_key(), b.dir_version(), a.dir_version(), Some(n), None);
            }
            return Ok(());
        }
        let after_new = sys::fstat(nd.as_fd());
        for (b, a, add, rem) in [
            (before_old, after_old, None, Some(o)),
            (before_new, after_new, Some(n), None),
        ] {
            if let (Ok(b), Ok(a)) = (b, a) {
                let (b, a) = (Stat(b), Stat(a));
                self.names
                    .changed(b.dir_key(), b.dir_version(), a.dir_version(), add, rem);
            }
        }
        Ok(())
    }

    pub fn set_times(&self, path: &VolPath, times: &[libc::timespec; 2]) -> io::Result<()> {
        let dir = self.parent_of(path)?;
        sys::set_times_at(dir.as_fd(), path.file_name(), times)
    }

    /// Every servable entry of a directory: (on-disk name, is_dir). Refreshes its name index.
    pub fn list(&self, dir: &VolPath) -> io::Result<Vec<(String, bool)>> {
        let fd = self.dir(dir)?;
        let dst = Stat(sys::fstat(fd.as_fd())?);
        let all = self.read_names(fd.as_fd(), &dst)?;
        let mut out = Vec::with_capacity(all.len());
        for (name, kind) in all {
            let is_dir = match kind {
                libc::DT_DIR => true,
                libc::DT_REG => false,
                libc::DT_UNKNOWN => match sys::stat_at(fd.as_fd(), &name).map(Stat) {
                    Ok(s) if s.usable() => s.is_dir(),
                    _ => continue,
                },
                _ => continue,
            };
            out.push((name, is_dir));
        }
        Ok(out)
    }

    /// Every servable entry of a directory with its stat, for a tree walk (the name index is
    /// not filled: a walk of a million files must not evict the names requests use; and the
    /// read is not counted in `dir_reads`, which counts reads on the request path).
    pub fn scan_dir(&self, dir: &VolPath) -> io::Result<Vec<(String, Stat)>> {
        let fd = self.dir(dir)?;
        let mut out = Vec::new();
        for (name, _) in sys::read_dir_names(fd.as_fd())? {
            if let Ok(st) = sys::stat_at(fd.as_fd(), &name) {
                let st = Stat(st);
                if st.usable() {
                    out.push((name, st));
                }
            }
        }
        Ok(out)
    }

    /// Is there a `.nomedia` file in `dir` right now (added behind the daemon's back too)?
    /// Does `dir` hold a `.nomedia` file (any case)? One `lstat` when the memo knows the
    /// directory at its current version; a checked walk otherwise.
    pub fn has_nomedia(&self, dir: &VolPath) -> bool {
        let quick = if dir.is_root() {
            sys::fstat(self.root.as_fd())
        } else {
            sys::stat_at(self.root.as_fd(), dir.as_str())
        };
        if let Ok(st) = quick.map(Stat) {
            if let Some(v) = self
                .nomedia
                .get(dir.as_str(), st.dir_key(), st.dir_version())
            {
                return v;
            }
        }
        let Ok(fd) = self.dir(dir) else {
            return false;
        };
        let Ok(dst) = sys::fstat(fd.as_fd()).map(Stat) else {
            return false;
        };
        let verdict =
            matches!(self.find_child(fd.as_fd(), ".nomedia"), Ok(Some((_, s))) if s.is_file());
        self.nomedia
            .put(dir.as_str(), dst.dir_key(), dst.dir_version(), verdict);
        verdict
    }

    pub fn statvfs(&self) -> io::Result<nix::sys::statvfs::Statvfs> {
        nix::sys::statvfs::fstatvfs(&self.root).map_err(io::Error::from)
    }

    /// Deletes a directory tree beneath the root (an uninstalled package's app dirs).
    pub fn remove_tree(&self, path: &VolPath) -> io::Result<()> {
        for (name, is_dir) in self.list(path)? {
            let child = path
                .join(&name)
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            if is_dir {
                self.remove_tree(&child)?;
            } else {
                self.remove(&child, false)?;
            }
        }
        self.remove(path, true)
    }

    /// Deletes `Android/{data,obb,media}/<package>` (SPEC §5.9).
    pub fn delete_app_dirs(&self, package: &str) -> io::Result<()> {
        for area in ["data", "obb", "media"] {
            let Ok(p) = VolPath::parse(&format!("Android/{area}/{package}")) else {
                continue;
            };
            if let Some((dir, st)) = self.resolve(&p)? {
                if st.is_dir() {
                    self.remove_tree(&dir)?;
                }
            }
        }
        Ok(())
    }
}

/// Resolves a volume path below `root` for the command line: the lower path and its metadata.
pub fn resolve(root: &Path, path: &VolPath) -> io::Result<Option<(PathBuf, std::fs::Metadata)>> {
    let lower = Lower::open(root)?;
    let Some((actual, _)) = lower.resolve(path)? else {
        return Ok(None);
    };
    let p = if actual.is_root() {
        root.to_path_buf()
    } else {
        root.join(actual.as_str())
    };
    Ok(Some((p.clone(), std::fs::symlink_metadata(&p)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn p(s: &str) -> VolPath {
        VolPath::parse(s).unwrap()
    }

    #[test]
    fn resolves_case_insensitively_and_ignores_symlinks() {
        let dir = std::env::temp_dir().join(format!("mpd-lower-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("DCIM/Camera")).unwrap();
        fs::write(dir.join("DCIM/Camera/A.jpg"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("DCIM/escape")).unwrap();
        let lower = Lower::open(&dir).unwrap();
        let (lp, st) = lower.resolve(&p("dcim/camera/a.JPG")).unwrap().unwrap();
        assert_eq!(lp.as_str(), "DCIM/Camera/A.jpg");
        assert!(st.is_file());
        assert!(lower.resolve(&p("DCIM/escape/passwd")).unwrap().is_none());
        assert!(lower.resolve(&p("DCIM/escape")).unwrap().is_none());
        // Opening through the symlink by its on-disk spelling fails too (no string joins).
        assert!(lower
            .open_file(&p("DCIM/escape/passwd"), libc::O_RDONLY)
            .is_err());
        let (lp, _) = resolve(&dir, &p("dcim/CAMERA/a.jpg")).unwrap().unwrap();
        assert_eq!(lp, dir.join("DCIM/Camera/A.jpg"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn own_creates_keep_the_index_without_reading_the_dir_again() {
        let dir = std::env::temp_dir().join(format!("mpd-lower-idx-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("Download")).unwrap();
        fs::write(dir.join("Download/Old.TXT"), b"x").unwrap();
        let lower = Lower::open(&dir).unwrap();
        assert!(lower.find(&p("Download/old.txt")).unwrap().is_some());
        let reads = lower.dir_reads.load(Ordering::Relaxed);
        for i in 0..50 {
            let f = p(&format!("Download/n{i}.txt"));
            assert!(lower.find(&f).unwrap().is_none());
            lower.create_file(&f, libc::O_RDONLY).unwrap();
        }
        let (found, _) = lower.find(&p("Download/N7.TXT")).unwrap().unwrap();
        assert_eq!(found.as_str(), "Download/n7.txt");
        assert_eq!(lower.dir_reads.load(Ordering::Relaxed), reads);
        // Behind our back: the next miss reads the directory again and finds it.
        fs::write(dir.join("Download/Behind.txt"), b"x").unwrap();
        assert!(lower.find(&p("Download/BEHIND.txt")).unwrap().is_some());
        assert_eq!(lower.dir_reads.load(Ordering::Relaxed), reads + 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
