//! The FUSE filesystem: every operation asks the policy library, touches the lower tree, and
//! keeps the store in step. Entitled opens are handed to the kernel with passthrough; a
//! location-bearing file is served to non-entitled readers through its redacted view.

use super::handles::{DirEntry, DirSnapshot, Handle, NodeOpens};
use super::inodes::{Inodes, View, ROOT_INO};
use super::stats::Stats;
use crate::facts;
use crate::lower;
use fuser::{
    AccessFlags, BackingId, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyLseek,
    ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::paths::{eq_fold, VolPath};
use mediaprovider_policy::redact::{apply_ranges, overlaps, LocationRange};
use mediaprovider_policy::rules::{self, Decision, FileFacts, Io, Target};
use mediaprovider_policy::store::{implied_owner, mtime_ns, NewFile, Store};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Ordinary names: their lookup answer is the same for every caller.
const LONG_TTL: Duration = Duration::from_secs(86400);
/// Names whose view or visibility depends on the caller (SPEC §7): never cached.
const NO_TTL: Duration = Duration::ZERO;
/// Attributes are per inode (each view has its own), so caching them briefly is safe.
const ATTR_TTL: Duration = Duration::from_secs(1);
const FILE_MODE: u32 = 0o664;
/// Bound on the in-memory location verdicts kept until the indexer has stored them.
const MAX_LOCATION_CACHE: usize = 200_000;
const DIR_MODE: u32 = 0o775;

/// The filesystem fuser owns; its state is shared with the control thread.
pub struct MediaFs(pub Arc<Inner>);

impl std::ops::Deref for MediaFs {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Kernel cache invalidations, sent from a separate thread (never from a request handler).
pub enum Inval {
    Entry(u64, String),
    Inode(u64),
}

pub struct Options {
    pub lower: PathBuf,
    pub passthrough: bool,
}

struct CallerCache {
    version: i64,
    map: HashMap<u32, Arc<Caller>>,
}

pub struct Inner {
    lower: PathBuf,
    store: Mutex<Store>,
    callers: Mutex<CallerCache>,
    inodes: Mutex<Inodes>,
    handles: Mutex<HashMap<u64, Arc<Handle>>>,
    dirs: Mutex<HashMap<u64, Arc<DirSnapshot>>>,
    opens: Mutex<NodeOpens>,
    next_fh: AtomicU64,
    passthrough: AtomicBool,
    passthrough_refused: Once,
    /// Scanner verdicts by (inode, size, mtime) for files the store has not recorded yet.
    locations: Mutex<HashMap<(u64, u64, i64), bool>>,
    inval: Mutex<Sender<Inval>>,
    pub stats: Arc<Stats>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler must not take the whole daemon down with a poisoned lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn errno_of(e: &io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

fn policy_errno(e: mediaprovider_policy::Errno) -> Errno {
    Errno::from_i32(e.raw())
}

fn store_errno(e: mediaprovider_policy::StoreError) -> Errno {
    log::error!("store: {e}");
    Errno::EIO
}

type Res<T> = Result<T, Errno>;

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn system_time(secs: i64, nsec: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsec.clamp(0, 999_999_999) as u32)
    } else {
        UNIX_EPOCH
    }
}

fn attr_from(md: &Metadata, ino: u64) -> FileAttr {
    let kind = if md.is_dir() {
        FileType::Directory
    } else {
        FileType::RegularFile
    };
    FileAttr {
        ino: INodeNo(ino),
        size: md.size(),
        blocks: md.blocks(),
        atime: system_time(md.atime(), md.atime_nsec()),
        mtime: system_time(md.mtime(), md.mtime_nsec()),
        ctime: system_time(md.ctime(), md.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind,
        perm: (md.mode() & 0o7777) as u16,
        nlink: md.nlink() as u32,
        uid: md.uid(),
        gid: md.gid(),
        rdev: 0,
        blksize: md.blksize() as u32,
        flags: 0,
    }
}

/// Entry TTL 0 for names inside `Android/{data,obb,media}/<pkg>` dirs' roots and below private
/// dirs: whether they exist depends on who asks.
fn caller_dependent_path(path: &VolPath) -> bool {
    let info = path.info();
    info.private_package().is_some() || (info.app_dir_package().is_some() && info.depth == 3)
}

impl Inner {
    pub fn new(opts: Options, store: Store, inval: Sender<Inval>, stats: Arc<Stats>) -> Inner {
        Inner {
            lower: opts.lower,
            store: Mutex::new(store),
            callers: Mutex::new(CallerCache {
                version: -1,
                map: HashMap::new(),
            }),
            inodes: Mutex::new(Inodes::new()),
            handles: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            opens: Mutex::new(NodeOpens::default()),
            next_fh: AtomicU64::new(1),
            passthrough: AtomicBool::new(opts.passthrough),
            passthrough_refused: Once::new(),
            locations: Mutex::new(HashMap::new()),
            inval: Mutex::new(inval),
            stats,
        }
    }

    // ---- identity --------------------------------------------------------------------------

    /// The caller for `uid`, cached until the store changes (`PRAGMA data_version`, a shared
    /// memory read) or the control socket says so.
    fn caller(&self, uid: u32) -> Res<Arc<Caller>> {
        let store = lock(&self.store);
        let version = store.data_version().map_err(store_errno)?;
        let mut cache = lock(&self.callers);
        if cache.version != version {
            cache.map.clear();
            cache.version = version;
        }
        if let Some(c) = cache.map.get(&uid) {
            return Ok(c.clone());
        }
        let c = Arc::new(store.caller(uid).map_err(store_errno)?);
        cache.map.insert(uid, c.clone());
        Ok(c)
    }

    /// Drops every cached identity (after an `app` command).
    pub fn refresh_identities(&self) {
        let mut cache = lock(&self.callers);
        cache.map.clear();
        cache.version = -1;
    }

    /// Applies an uninstall: deletes the package's app-specific dirs and their dentries.
    pub fn remove_package_dirs(&self, package: &str) -> Result<(), String> {
        crate::cli::app::delete_app_dirs(&self.lower, package).map_err(|e| e.to_string())?;
        let inodes = lock(&self.inodes);
        let android = inodes.find(ROOT_INO, "Android", View::Real);
        for area in ["data", "obb", "media"] {
            let Some(area_ino) = android.and_then(|a| inodes.find(a, area, View::Real)) else {
                continue;
            };
            self.send_inval(Inval::Entry(area_ino, package.to_string()));
        }
        drop(inodes);
        self.refresh_identities();
        Ok(())
    }

    // ---- provider half (SPEC §11): names changed outside a FUSE request ------------------

    /// A file was renamed (trash/untrash) or deleted (`maintain`) in the lower tree and the
    /// store by the query socket: move or detach its inode names and drop the kernel's cached
    /// dentries for both names, so every later lookup sees the change.
    pub fn name_changed(&self, old: &VolPath, new: Option<&VolPath>) {
        let mut inodes = lock(&self.inodes);
        let mut dir = ROOT_INO;
        for comp in old.parent().unwrap_or_default().components() {
            match inodes.find(dir, comp, View::Real) {
                Some(i) => dir = i,
                None => return, // the kernel never looked the directory up: nothing cached
            }
        }
        match new {
            Some(n) => inodes.rename(dir, old.file_name(), dir, n),
            None => {
                inodes.detach_name(dir, old.file_name());
            }
        }
        drop(inodes);
        self.send_inval(Inval::Entry(dir, old.file_name().to_string()));
        if let Some(n) = new {
            self.send_inval(Inval::Entry(dir, n.file_name().to_string()));
        }
    }

    // ---- end of provider half ----------------------------------------------------------

    fn send_inval(&self, i: Inval) {
        let _ = lock(&self.inval).send(i);
    }

    // ---- paths -----------------------------------------------------------------------------

    fn lower_path(&self, path: &VolPath) -> PathBuf {
        if path.is_root() {
            self.lower.clone()
        } else {
            self.lower.join(path.as_str())
        }
    }

    fn node(&self, ino: INodeNo) -> Res<(VolPath, bool, View)> {
        let inodes = lock(&self.inodes);
        let n = inodes.get(ino.0).ok_or(Errno::ENOENT)?;
        Ok((n.path.clone(), n.is_dir, n.view))
    }

    fn child_path(parent: &VolPath, name: &OsStr) -> Res<VolPath> {
        let name = name.to_str().ok_or(Errno::EINVAL)?;
        if name.len() > mediaprovider_policy::paths::NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        parent.join(name).map_err(|_| Errno::EINVAL)
    }

    /// Finds `path`'s entry in the lower tree (case-insensitively): the on-disk path and metadata.
    fn find_lower(&self, path: &VolPath) -> Res<Option<(VolPath, Metadata)>> {
        let Some(parent) = path.parent() else {
            return fs::symlink_metadata(&self.lower)
                .map(|md| Some((VolPath::root(), md)))
                .map_err(|e| errno_of(&e));
        };
        match lower::find_child(&self.lower_path(&parent), path.file_name()) {
            Ok(Some((actual, md))) => {
                Ok(Some((parent.join(&actual).map_err(|_| Errno::EINVAL)?, md)))
            }
            Ok(None) => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(errno_of(&e)),
        }
    }

    /// The existing lower entry `name` in directory `parent`, after the lookup policy (other
    /// apps' private dirs look absent).
    fn existing_child(
        &self,
        caller: &Caller,
        parent: INodeNo,
        name: &OsStr,
    ) -> Res<(VolPath, Metadata)> {
        let (ppath, _, _) = self.node(parent)?;
        let path = Self::child_path(&ppath, name)?;
        Self::deny(&rules::lookup(caller, &path))?;
        self.find_lower(&path)?.ok_or(Errno::ENOENT)
    }

    fn facts(&self, caller: &Caller, path: &VolPath, md: Option<&Metadata>) -> Res<FileFacts> {
        let lp = self.lower_path(path);
        // A verdict the lookup already scanned for (not yet stored by the indexer).
        let known = md.and_then(|m| {
            lock(&self.locations)
                .get(&(m.ino(), m.size(), mtime_ns(m)))
                .copied()
        });
        let store = lock(&self.store);
        facts::gather(&store, caller, path, md.map(|m| (lp.as_path(), m)), known)
            .map_err(store_errno)
    }

    // ---- entries ---------------------------------------------------------------------------

    /// Makes sure a lower file has a row (files added behind our back, SPEC §5.11) and knows
    /// whether it carries location. Returns (has_location, fuse_pending).
    fn index_file(&self, path: &VolPath, md: &Metadata) -> Res<(bool, bool)> {
        let store = lock(&self.store);
        let row = match store.file(path).map_err(store_errno)? {
            Some(r) => r,
            None => store
                .upsert_file(&NewFile {
                    path,
                    owner: implied_owner(path).as_deref(),
                    size: md.size(),
                    mtime_ns: mtime_ns(md),
                    fuse_pending: false,
                })
                .map_err(store_errno)?,
        };
        let unchanged = row.size == md.size() && row.mtime_ns == mtime_ns(md);
        let location = match row.location {
            Some(l) if unchanged => l,
            _ => {
                // Not scanned yet (the background indexer will record it) or changed behind
                // our back: scan now, remember in memory, write nothing on this read path.
                let key = (md.ino(), md.size(), mtime_ns(md));
                let known = lock(&self.locations).get(&key).copied();
                match known {
                    Some(l) => l,
                    None => {
                        // Fail closed: a file we cannot scan is treated as location-bearing.
                        let l = facts::location_ranges(&store, &self.lower_path(path), md)
                            .map(|r| r.has_location())
                            .unwrap_or(true);
                        let mut cache = lock(&self.locations);
                        if cache.len() > MAX_LOCATION_CACHE {
                            cache.clear();
                        }
                        cache.insert(key, l);
                        l
                    }
                }
            }
        };
        Ok((location, row.fuse_pending))
    }

    /// The kernel entry for an existing lower entry, resolved to the view `caller` is entitled
    /// to. `requested` is the spelling the kernel asked for (a case mismatch is never cached).
    fn entry(
        &self,
        caller: &Caller,
        parent: u64,
        path: &VolPath,
        md: &Metadata,
        requested: &str,
    ) -> Res<(FileAttr, Duration)> {
        let mut ttl = if caller_dependent_path(path) || requested != path.file_name() {
            NO_TTL
        } else {
            LONG_TTL
        };
        let view = if md.is_dir() {
            View::Real
        } else {
            let (location, pending) = self.index_file(path, md)?;
            if location || pending {
                ttl = NO_TTL;
            }
            if location && self.redacted_for(caller, path, md)? {
                View::Redacted
            } else {
                View::Real
            }
        };
        let ino = lock(&self.inodes).acquire(parent, path, md.is_dir(), view, true, md.ino());
        Ok((attr_from(md, ino), ttl))
    }

    /// Would `caller`'s read open of this file be served redacted?
    fn redacted_for(&self, caller: &Caller, path: &VolPath, md: &Metadata) -> Res<bool> {
        let f = self.facts(caller, path, Some(md))?;
        let d = rules::open_read(caller, Target { path, facts: &f });
        Ok(d.io == Some(Io::Redacted))
    }

    fn deny(d: &Decision) -> Res<()> {
        match d.errno {
            None => Ok(()),
            Some(e) => Err(policy_errno(e)),
        }
    }

    // ---- handles ---------------------------------------------------------------------------

    fn new_fh(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles).insert(fh, Arc::new(h));
        fh
    }

    fn handle(&self, fh: FileHandle) -> Res<Arc<Handle>> {
        lock(&self.handles).get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    fn open_lower(path: &Path, flags: i32, create: bool) -> io::Result<File> {
        let acc = flags & libc::O_ACCMODE;
        // Daemon-served I/O uses pread/pwrite at kernel-given offsets: O_APPEND would make
        // pwrite ignore them, and O_DIRECT would demand aligned buffers.
        let keep = flags
            & !(libc::O_ACCMODE
                | libc::O_APPEND
                | libc::O_DIRECT
                | libc::O_CREAT
                | libc::O_EXCL
                | libc::O_TRUNC
                | libc::O_NOCTTY);
        let mut o = OpenOptions::new();
        o.read(true)
            .write(acc != libc::O_RDONLY)
            .custom_flags(keep | libc::O_NOFOLLOW | libc::O_CLOEXEC);
        if create {
            o.create_new(true).mode(FILE_MODE);
        }
        o.open(path)
    }

    /// Opens the real view: passthrough with one backing id per inode when possible, else
    /// daemon-served. Replies through `reply_pt` / `reply_plain`.
    fn open_real(
        &self,
        ino: u64,
        path: &VolPath,
        file: File,
        writable: bool,
        open_backing: impl FnOnce(&File) -> io::Result<BackingId>,
    ) -> (u64, Option<Arc<BackingId>>) {
        let mut opens = lock(&self.opens);
        let mut backing = None;
        if self.passthrough.load(Ordering::Relaxed) && opens.may_passthrough(ino) {
            backing = match opens.backing(ino) {
                Some(b) => Some(b),
                None => match open_backing(&file) {
                    Ok(b) => Some(Arc::new(b)),
                    Err(e) => {
                        self.passthrough_refused.call_once(|| {
                            log::warn!(
                                "kernel refused passthrough ({e}); serving I/O from the daemon"
                            )
                        });
                        if e.raw_os_error() == Some(libc::EPERM) {
                            self.passthrough.store(false, Ordering::Relaxed);
                        }
                        None
                    }
                },
            };
        }
        opens.opened(ino, backing.clone());
        drop(opens);
        let fh = self.new_fh(Handle {
            file,
            ino,
            path: path.clone(),
            writable,
            ranges: None,
            _backing: backing.clone(),
            dirty: AtomicBool::new(false),
        });
        if backing.is_some() {
            self.stats.passthrough_opens.fetch_add(1, Ordering::Relaxed);
        }
        (fh, backing)
    }

    /// After a write handle is done: rescan size, MIME and location, clear pending, and
    /// invalidate the redacted view (and the name, if the file gained or lost location).
    fn finish_write(&self, h: &Handle) {
        let lp = self.lower_path(&h.path);
        let Ok(md) = h.file.metadata() else {
            return;
        };
        let store = lock(&self.store);
        let before = store.file(&h.path).ok().flatten();
        let location = facts::location_ranges(&store, &lp, &md)
            .map(|r| r.has_location())
            .unwrap_or(true);
        if let Err(e) = store.finish_write(&h.path, md.size(), mtime_ns(&md), Some(location)) {
            log::error!("store: finishing a write: {e}");
        }
        drop(store);
        let changed = before.and_then(|r| r.location) != Some(location);
        let inodes = lock(&self.inodes);
        let Some(node) = inodes.get(h.ino) else {
            return;
        };
        let parent = node.parent;
        if let Some(y) = inodes.find(parent, h.path.file_name(), View::Redacted) {
            self.send_inval(Inval::Inode(y));
        }
        if changed {
            self.send_inval(Inval::Entry(parent, h.path.file_name().to_string()));
        }
    }

    // ---- directory listing -----------------------------------------------------------------

    /// The entries `caller` sees in `dir`: subdirectories from the lower tree, files from the
    /// store filtered by the read rules (SPEC §5.5). Files found on disk without a row are
    /// indexed; rows whose file vanished are dropped (SPEC §5.11).
    fn list(&self, caller: &Caller, dir: &VolPath) -> Res<Vec<DirEntry>> {
        let lp = self.lower_path(dir);
        let mut subdirs = Vec::new();
        let mut on_disk: HashMap<String, String> = HashMap::new();
        for e in fs::read_dir(&lp).map_err(|e| errno_of(&e))?.flatten() {
            let os = e.file_name();
            let Some(name) = os.to_str() else { continue };
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                subdirs.push(name.to_string());
            } else if ft.is_file() {
                on_disk.insert(mediaprovider_policy::paths::fold(name), name.to_string());
            }
        }
        let store = lock(&self.store);
        let rows = store.list_dir(dir).map_err(store_errno)?;
        let mut rows_by_key: HashMap<String, _> =
            rows.into_iter().map(|r| (r.path.key(), r)).collect();
        for name in on_disk.values() {
            let Ok(path) = dir.join(name) else { continue };
            let row_key = path.key();
            if rows_by_key.contains_key(&row_key) {
                continue;
            }
            let Ok(md) = fs::symlink_metadata(lp.join(name)) else {
                continue;
            };
            if let Ok(row) = store.upsert_file(&NewFile {
                path: &path,
                owner: implied_owner(&path).as_deref(),
                size: md.size(),
                mtime_ns: mtime_ns(&md),
                fuse_pending: false,
            }) {
                rows_by_key.insert(row_key, row);
            }
        }
        let dir_hidden = store.dir_hidden(dir);
        let grants = store.grants_of(caller).map_err(store_errno)?;
        let mut out: Vec<DirEntry> = subdirs
            .into_iter()
            .map(|name| DirEntry { name, is_dir: true })
            .collect();
        for (_, row) in rows_by_key {
            let name = row.path.file_name().to_string();
            let Some(disk_name) = on_disk.get(&mediaprovider_policy::paths::fold(&name)) else {
                let _ = store.delete_file(&row.path);
                continue;
            };
            let grant = grants.get(&row.id).copied().unwrap_or_default();
            let facts = Store::row_facts(&row, dir_hidden, grant);
            if rules::visible_in_listing(caller, &row.path, &facts) {
                out.push(DirEntry {
                    name: disk_name.clone(),
                    is_dir: false,
                });
            }
        }
        Ok(out)
    }

    // ---- shared pieces of create / mknod ---------------------------------------------------

    fn create_file(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        flags: Option<i32>,
    ) -> Res<(VolPath, Metadata, Option<File>)> {
        let caller = self.caller(req.uid())?;
        let (ppath, is_dir, _) = self.node(parent)?;
        if !is_dir {
            return Err(Errno::ENOTDIR);
        }
        let path = Self::child_path(&ppath, name)?;
        let existing = self.find_lower(&path)?;
        let facts = match &existing {
            Some((_, md)) => self.facts(&caller, &path, Some(md))?,
            None => FileFacts::absent(),
        };
        Self::deny(&rules::create(
            &caller,
            Target {
                path: &path,
                facts: &facts,
            },
        ))?;
        let lp = self.lower_path(&path);
        let owner = caller.owner_package().map(str::to_string);
        // Record first (pending, owned by the caller), then create; undo the row on failure.
        {
            let store = lock(&self.store);
            store
                .upsert_file(&NewFile {
                    path: &path,
                    owner: owner.as_deref(),
                    size: 0,
                    mtime_ns: 0,
                    fuse_pending: true,
                })
                .map_err(store_errno)?;
        }
        let result = match flags {
            Some(f) => Self::open_lower(&lp, f, true).map(Some),
            None => OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&lp)
                .map(|_| None),
        };
        let file = match result {
            Ok(f) => f,
            Err(e) => {
                let _ = lock(&self.store).delete_file(&path);
                return Err(errno_of(&e));
            }
        };
        let md = fs::symlink_metadata(&lp).map_err(|e| errno_of(&e))?;
        if flags.is_none() {
            // mknod: nothing will be written through a handle; the row is final now.
            let _ = lock(&self.store).finish_write(&path, md.size(), mtime_ns(&md), Some(false));
        }
        self.stats.create.fetch_add(1, Ordering::Relaxed);
        Ok((path, md, file))
    }
}

impl Filesystem for MediaFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let wanted = InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP;
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
        self.stats.lookup.fetch_add(1, Ordering::Relaxed);
        let r = (|| {
            let caller = self.caller(req.uid())?;
            let (ppath, is_dir, _) = self.node(parent)?;
            if !is_dir {
                return Err(Errno::ENOTDIR);
            }
            let path = Inner::child_path(&ppath, name)?;
            Inner::deny(&rules::lookup(&caller, &path))?;
            let (actual, md) = self.find_lower(&path)?.ok_or(Errno::ENOENT)?;
            self.entry(&caller, parent.0, &actual, &md, path.file_name())
        })();
        match r {
            Ok((attr, ttl)) => reply.entry_with_ttls(&ATTR_TTL, &ttl, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        let held = lock(&self.opens).is_open(ino.0);
        lock(&self.inodes).forget(ino.0, nlookup, held);
    }

    fn getattr(&self, req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        self.stats.getattr.fetch_add(1, Ordering::Relaxed);
        let r = (|| {
            if let Some(fh) = fh {
                if let Ok(h) = self.handle(fh) {
                    return h.file.metadata().map_err(|e| errno_of(&e));
                }
            }
            let (path, _, _) = self.node(ino)?;
            let caller = self.caller(req.uid())?;
            Inner::deny(&rules::lookup(&caller, &path))?;
            fs::symlink_metadata(self.lower_path(&path)).map_err(|e| errno_of(&e))
        })();
        match r {
            Ok(md) => reply.attr(&ATTR_TTL, &attr_from(&md, ino.0)),
            Err(e) => reply.error(e),
        }
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
        let r = (|| {
            let (path, is_dir, view) = self.node(ino)?;
            let lp = self.lower_path(&path);
            // chmod/chown are accepted and ignored (SPEC §5.3).
            if size.is_none() && atime.is_none() && mtime.is_none() {
                return fs::symlink_metadata(&lp).map_err(|e| errno_of(&e));
            }
            if view == View::Redacted {
                return Err(Errno::EACCES);
            }
            let handle = fh.and_then(|fh| self.handle(fh).ok());
            if handle.is_none() {
                // Path-based truncate/utimes needs write access to the file.
                let caller = self.caller(req.uid())?;
                let md = fs::symlink_metadata(&lp).map_err(|e| errno_of(&e))?;
                let f = self.facts(&caller, &path, Some(&md))?;
                Inner::deny(&rules::setattr(
                    &caller,
                    Target {
                        path: &path,
                        facts: &f,
                    },
                ))?;
            }
            if let Some(size) = size {
                if is_dir {
                    return Err(Errno::EISDIR);
                }
                match &handle {
                    Some(h) if h.writable => h.file.set_len(size),
                    _ => OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(&lp)
                        .and_then(|f| f.set_len(size)),
                }
                .map_err(|e| errno_of(&e))?;
                if let Some(h) = &handle {
                    h.dirty.store(true, Ordering::Relaxed);
                }
            }
            if atime.is_some() || mtime.is_some() {
                set_times(&lp, atime, mtime).map_err(|e| errno_of(&e))?;
            }
            fs::symlink_metadata(&lp).map_err(|e| errno_of(&e))
        })();
        match r {
            Ok(md) => reply.attr(&ATTR_TTL, &attr_from(&md, ino.0)),
            Err(e) => reply.error(e),
        }
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
        if mode & libc::S_IFMT != libc::S_IFREG {
            reply.error(Errno::EPERM);
            return;
        }
        match self.create_file(req, parent, name, None) {
            Ok((path, md, _)) => {
                let ino =
                    lock(&self.inodes).acquire(parent.0, &path, false, View::Real, true, md.ino());
                reply.entry_with_ttls(&ATTR_TTL, &NO_TTL, &attr_from(&md, ino), Generation(0));
            }
            Err(e) => reply.error(e),
        }
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
        let r = (|| {
            let caller = self.caller(req.uid())?;
            let (ppath, is_dir, _) = self.node(parent)?;
            if !is_dir {
                return Err(Errno::ENOTDIR);
            }
            let path = Inner::child_path(&ppath, name)?;
            let existing = self.find_lower(&path)?;
            let facts = if existing.is_some() {
                FileFacts::dir()
            } else {
                FileFacts::absent()
            };
            Inner::deny(&rules::mkdir(
                &caller,
                Target {
                    path: &path,
                    facts: &facts,
                },
            ))?;
            let lp = self.lower_path(&path);
            fs::DirBuilder::new()
                .mode(DIR_MODE)
                .create(&lp)
                .map_err(|e| errno_of(&e))?;
            let md = fs::symlink_metadata(&lp).map_err(|e| errno_of(&e))?;
            self.entry(&caller, parent.0, &path, &md, path.file_name())
        })();
        match r {
            Ok((attr, ttl)) => reply.entry_with_ttls(&ATTR_TTL, &ttl, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = (|| {
            let caller = self.caller(req.uid())?;
            let (actual, md) = self.existing_child(&caller, parent, name)?;
            if md.is_dir() {
                return Err(Errno::EISDIR);
            }
            let f = self.facts(&caller, &actual, Some(&md))?;
            Inner::deny(&rules::unlink(
                &caller,
                Target {
                    path: &actual,
                    facts: &f,
                },
            ))?;
            fs::remove_file(self.lower_path(&actual)).map_err(|e| errno_of(&e))?;
            let _ = lock(&self.store).delete_file(&actual);
            lock(&self.inodes).detach_name(parent.0, actual.file_name());
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = (|| {
            let caller = self.caller(req.uid())?;
            let (actual, md) = self.existing_child(&caller, parent, name)?;
            if !md.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            Inner::deny(&rules::rmdir(&caller, &actual))?;
            fs::remove_dir(self.lower_path(&actual)).map_err(|e| errno_of(&e))?;
            let _ = lock(&self.store).delete_tree(&actual);
            lock(&self.inodes).detach_name(parent.0, actual.file_name());
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
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
        let r = (|| {
            let flags = flags.bits();
            if flags & !rules::RENAME_NOREPLACE != 0 {
                return Err(Errno::EINVAL);
            }
            let caller = self.caller(req.uid())?;
            let (ppath, _, _) = self.node(parent)?;
            let (npath, nis_dir, _) = self.node(newparent)?;
            if !nis_dir {
                return Err(Errno::ENOTDIR);
            }
            let old = Inner::child_path(&ppath, name)?;
            let new = Inner::child_path(&npath, newname)?;
            let private = |p: &VolPath| !rules::lookup(&caller, p).allowed();
            if private(&old) || private(&new) {
                return Err(Errno::EACCES);
            }
            let (old_actual, old_md) = self.find_lower(&old)?.ok_or(Errno::ENOENT)?;
            let existing = self.find_lower(&new)?;
            // A case-only rename of the same entry keeps the new spelling as given.
            let same_entry = parent == newparent && eq_fold(old.file_name(), new.file_name());
            let (new_actual, new_md) = match existing {
                Some((p, md)) if !same_entry => (p, Some(md)),
                _ => (new.clone(), None),
            };
            let of = self.facts(&caller, &old_actual, Some(&old_md))?;
            let nf = match &new_md {
                Some(md) => self.facts(&caller, &new_actual, Some(md))?,
                None => FileFacts::absent(),
            };
            let contents = if old_md.is_dir() {
                let store = lock(&self.store);
                let grants = store.grants_of(&caller).map_err(store_errno)?;
                let mut v = Vec::new();
                for row in store.list_tree(&old_actual).map_err(store_errno)? {
                    let hidden = store.dir_hidden(&row.path.parent().unwrap_or_default());
                    let grant = grants.get(&row.id).copied().unwrap_or_default();
                    v.push((row.path.clone(), Store::row_facts(&row, hidden, grant)));
                }
                v
            } else {
                Vec::new()
            };
            let d = rules::rename(
                &caller,
                Target {
                    path: &old_actual,
                    facts: &of,
                },
                Target {
                    path: &new_actual,
                    facts: &nf,
                },
                flags,
                &contents,
            );
            Inner::deny(&d)?;
            if let Some(md) = &new_md {
                if md.is_dir() != old_md.is_dir() {
                    return Err(if md.is_dir() {
                        Errno::EISDIR
                    } else {
                        Errno::ENOTDIR
                    });
                }
            }
            renameat2(
                &self.lower_path(&old_actual),
                &self.lower_path(&new_actual),
                flags,
            )
            .map_err(|e| errno_of(&e))?;
            {
                let store = lock(&self.store);
                let res = if old_md.is_dir() {
                    store.rename_tree(&old_actual, &new_actual).map(|_| ())
                } else {
                    store.rename_file(&old_actual, &new_actual)
                };
                if let Err(e) = res {
                    log::error!("store: rename: {e}");
                }
            }
            lock(&self.inodes).rename(parent.0, old_actual.file_name(), newparent.0, &new_actual);
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        let r = (|| {
            let (path, is_dir, view) = self.node(ino)?;
            if is_dir {
                return Err(Errno::EISDIR);
            }
            let caller = self.caller(req.uid())?;
            let writable = flags.0 & libc::O_ACCMODE != libc::O_RDONLY;
            let lp = self.lower_path(&path);
            let md = fs::symlink_metadata(&lp).map_err(|e| errno_of(&e))?;
            let f = self.facts(&caller, &path, Some(&md))?;
            let t = Target {
                path: &path,
                facts: &f,
            };
            let d = if writable {
                rules::open_write(&caller, t)
            } else {
                rules::open_read(&caller, t)
            };
            Inner::deny(&d)?;
            let wants_redacted = d.io == Some(Io::Redacted);
            if view == View::Redacted && writable {
                return Err(Errno::EACCES);
            }
            if wants_redacted != (view == View::Redacted) {
                // The name resolved to the other view (entitlement or content changed since the
                // lookup): make the kernel walk the path again (it retries on ESTALE).
                return Err(Errno::ESTALE);
            }
            let file = Inner::open_lower(&lp, flags.0, false).map_err(|e| errno_of(&e))?;
            Ok((path, file, writable, view))
        })();
        let (path, file, writable, view) = match r {
            Ok(v) => v,
            Err(e) => return reply.error(e),
        };
        if view == View::Redacted {
            let ranges = {
                let store = lock(&self.store);
                let md = match file.metadata() {
                    Ok(m) => m,
                    Err(e) => return reply.error(errno_of(&e)),
                };
                match facts::location_ranges(&store, &self.lower_path(&path), &md) {
                    Ok(r) => r.ranges,
                    Err(e) => return reply.error(errno_of(&e)),
                }
            };
            lock(&self.opens).opened(ino.0, None);
            let fh = self.new_fh(Handle {
                file,
                ino: ino.0,
                path,
                writable: false,
                ranges: Some(Arc::new(ranges)),
                _backing: None,
                dirty: AtomicBool::new(false),
            });
            self.stats.redacted_opens.fetch_add(1, Ordering::Relaxed);
            // Page-cached (no KEEP_CACHE: each open drops stale pages), so mmap works.
            return reply.opened(FileHandle(fh), FopenFlags::FOPEN_NOFLUSH);
        }
        let flush = if writable {
            FopenFlags::empty()
        } else {
            FopenFlags::FOPEN_NOFLUSH
        };
        let (fh, backing) = self.open_real(ino.0, &path, file, writable, |f| reply.open_backing(f));
        match backing {
            Some(b) => reply.opened_passthrough(FileHandle(fh), flush, &b),
            None => reply.opened(FileHandle(fh), flush),
        }
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
        // An existing name (any case) without O_EXCL is an open of that file.
        let existing = (|| {
            let (ppath, _, _) = self.node(parent)?;
            let path = Inner::child_path(&ppath, name)?;
            self.find_lower(&path)
        })();
        if let Ok(Some((actual, md))) = existing {
            if flags & libc::O_EXCL == 0 && !md.is_dir() {
                return self.create_existing(req, parent, &actual, &md, flags, reply);
            }
        }
        let (path, md, file) = match self.create_file(req, parent, name, Some(flags)) {
            Ok((p, m, Some(f))) => (p, m, f),
            Ok(_) => return reply.error(Errno::EIO),
            Err(e) => return reply.error(e),
        };
        self.reply_created(parent.0, &path, &md, file, reply);
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
        self.stats.read.fetch_add(1, Ordering::Relaxed);
        let h = match self.handle(fh) {
            Ok(h) => h,
            Err(e) => return reply.error(e),
        };
        READ_BUF.with(|b| {
            let mut buf = b.borrow_mut();
            let size = size as usize;
            if buf.len() < size {
                buf.resize(size, 0);
            }
            let mut done = 0;
            while done < size {
                match h.file.read_at(&mut buf[done..size], offset + done as u64) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return reply.error(errno_of(&e)),
                }
            }
            let data = &mut buf[..done];
            if let Some(ranges) = &h.ranges {
                redact_in_place(ranges, offset, data);
            }
            reply.data(data);
        });
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
        self.stats.write.fetch_add(1, Ordering::Relaxed);
        let h = match self.handle(fh) {
            Ok(h) if h.writable => h,
            Ok(_) => return reply.error(Errno::EBADF),
            Err(e) => return reply.error(e),
        };
        match h.file.write_all_at(data, offset) {
            Ok(()) => {
                h.dirty.store(true, Ordering::Relaxed);
                reply.written(data.len() as u32)
            }
            Err(e) => reply.error(errno_of(&e)),
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
        // Writable handles rescan at close so the next operation sees size, type and
        // location (read-only handles are opened with FOPEN_NOFLUSH and never get here).
        if let Ok(h) = self.handle(fh) {
            if h.writable {
                self.finish_write(&h);
            }
        }
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let h = lock(&self.handles).remove(&fh.0);
        if let Some(h) = h {
            if h.writable {
                self.finish_write(&h);
            }
            let last = lock(&self.opens).closed(h.ino);
            drop(h);
            if last {
                lock(&self.inodes).release_if_unused(ino.0);
            }
        }
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.handle(fh) {
            Ok(h) => {
                let r = if datasync {
                    h.file.sync_data()
                } else {
                    h.file.sync_all()
                };
                match r {
                    Ok(()) => reply.ok(),
                    Err(e) => reply.error(errno_of(&e)),
                }
            }
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.stats.opendir.fetch_add(1, Ordering::Relaxed);
        let r = (|| {
            let (path, is_dir, _) = self.node(ino)?;
            if !is_dir {
                return Err(Errno::ENOTDIR);
            }
            let caller = self.caller(req.uid())?;
            Inner::deny(&rules::opendir(&caller, &path))?;
            let entries = self.list(&caller, &path)?;
            let parent = if ino.0 == ROOT_INO {
                ROOT_INO
            } else {
                lock(&self.inodes)
                    .get(ino.0)
                    .map(|n| n.parent)
                    .unwrap_or(ROOT_INO)
            };
            let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
            lock(&self.dirs).insert(
                fh,
                Arc::new(DirSnapshot {
                    path,
                    ino: ino.0,
                    parent,
                    entries,
                }),
            );
            Ok(fh)
        })();
        match r {
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
        let Some(snap) = lock(&self.dirs).get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
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
        self.stats.readdirplus.fetch_add(1, Ordering::Relaxed);
        let Some(snap) = lock(&self.dirs).get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
        };
        let caller = match self.caller(req.uid()) {
            Ok(c) => c,
            Err(e) => return reply.error(e),
        };
        let mut i = offset as usize;
        while i < snap.entries.len() + 2 {
            if i < 2 {
                // "." and ".." carry no entry for the kernel to link (and no lookup count).
                let ino = if i == 0 { snap.ino } else { snap.parent };
                let md = fs::symlink_metadata(self.lower_path(&snap.path));
                let Ok(md) = md else { break };
                let name = if i == 0 { "." } else { ".." };
                if reply.add(
                    INodeNo(ino),
                    (i + 1) as u64,
                    name,
                    &NO_TTL,
                    &attr_from(&md, ino),
                    Generation(0),
                ) {
                    break;
                }
                i += 1;
                continue;
            }
            let e = &snap.entries[i - 2];
            let Ok(path) = snap.path.join(&e.name) else {
                i += 1;
                continue;
            };
            let Ok(md) = fs::symlink_metadata(self.lower_path(&path)) else {
                // Vanished since opendir: skip it.
                i += 1;
                continue;
            };
            if let Ok((attr, ttl)) = self.entry(&caller, snap.ino, &path, &md, &e.name) {
                if reply.add(
                    attr.ino,
                    (i + 1) as u64,
                    &e.name,
                    &ttl,
                    &attr,
                    Generation(0),
                ) {
                    // Not sent: undo the lookup count the entry took.
                    let held = lock(&self.opens).is_open(attr.ino.0);
                    lock(&self.inodes).forget(attr.ino.0, 1, held);
                    break;
                }
            }
            i += 1;
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        lock(&self.dirs).remove(&fh.0);
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
        match nix::sys::statvfs::statvfs(&self.lower) {
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
            Err(e) => reply.error(Errno::from_i32(e as i32)),
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
        reply.error(Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(Errno::ENOSYS);
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        let r = (|| {
            let (path, is_dir, _) = self.node(ino)?;
            let caller = self.caller(req.uid())?;
            Inner::deny(&rules::lookup(&caller, &path))?;
            let mask = mask.bits();
            if mask == libc::F_OK {
                return Ok(());
            }
            if mask & libc::X_OK != 0 && !is_dir {
                return Err(Errno::EACCES);
            }
            let md = fs::symlink_metadata(self.lower_path(&path)).map_err(|e| errno_of(&e))?;
            let f = if is_dir {
                FileFacts::dir()
            } else {
                self.facts(&caller, &path, Some(&md))?
            };
            let t = Target {
                path: &path,
                facts: &f,
            };
            if mask & libc::R_OK != 0 {
                Inner::deny(&rules::access_read(&caller, t))?;
            }
            if mask & libc::W_OK != 0 {
                Inner::deny(&rules::access_write(&caller, t))?;
            }
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
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
        let h = match self.handle(fh) {
            Ok(h) if h.writable => h,
            Ok(_) => return reply.error(Errno::EBADF),
            Err(e) => return reply.error(e),
        };
        // SAFETY: plain syscall on an fd we own for the duration of the call.
        let rc = unsafe {
            libc::fallocate(
                h.file.as_raw_fd(),
                mode,
                offset as libc::off_t,
                length as libc::off_t,
            )
        };
        if rc == 0 {
            h.dirty.store(true, Ordering::Relaxed);
            reply.ok()
        } else {
            reply.error(errno_of(&io::Error::last_os_error()))
        }
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
        let h = match self.handle(fh) {
            Ok(h) => h,
            Err(e) => return reply.error(e),
        };
        // SAFETY: plain syscall on an fd we own; SEEK_DATA/SEEK_HOLE answers from the lower file.
        let r = unsafe { libc::lseek(h.file.as_raw_fd(), offset, whence) };
        if r < 0 {
            reply.error(errno_of(&io::Error::last_os_error()))
        } else {
            reply.offset(r)
        }
    }
}

impl Inner {
    /// Answers a CREATE with the new (or existing) file opened for write; entry TTL 0 because
    /// the file is pending until this handle closes.
    fn reply_created(
        &self,
        parent: u64,
        path: &VolPath,
        md: &Metadata,
        file: File,
        reply: ReplyCreate,
    ) {
        let ino = lock(&self.inodes).acquire(parent, path, false, View::Real, true, md.ino());
        let attr = attr_from(md, ino);
        let (fh, backing) = self.open_real(ino, path, file, true, |f| reply.open_backing(f));
        let fh = FileHandle(fh);
        match backing {
            Some(b) => reply.created_passthrough(
                &NO_TTL,
                &attr,
                Generation(0),
                fh,
                FopenFlags::empty(),
                &b,
            ),
            None => reply.created(&NO_TTL, &attr, Generation(0), fh, FopenFlags::empty()),
        }
    }
    /// `open(O_CREAT)` without `O_EXCL` on an existing name: an open for write of that file.
    fn create_existing(
        &self,
        req: &Request,
        parent: INodeNo,
        path: &VolPath,
        md: &Metadata,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let r = (|| {
            let caller = self.caller(req.uid())?;
            let f = self.facts(&caller, path, Some(md))?;
            Self::deny(&rules::open_write(&caller, Target { path, facts: &f }))?;
            let lp = self.lower_path(path);
            let file = Self::open_lower(&lp, flags, false).map_err(|e| errno_of(&e))?;
            if flags & libc::O_TRUNC != 0 {
                file.set_len(0).map_err(|e| errno_of(&e))?;
            }
            let md = file.metadata().map_err(|e| errno_of(&e))?;
            Ok((file, md))
        })();
        let (file, md) = match r {
            Ok(v) => v,
            Err(e) => return reply.error(e),
        };
        self.reply_created(parent.0, path, &md, file, reply);
    }
}

/// Applies location ranges to bytes read at `offset`; reads that touch no range copy nothing.
fn redact_in_place(ranges: &[LocationRange], offset: u64, data: &mut [u8]) {
    if overlaps(ranges, offset, data.len() as u64) {
        apply_ranges(ranges, offset, data);
    }
}

fn renameat2(old: &Path, new: &Path, flags: u32) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let o = CString::new(old.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let n = CString::new(new.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            o.as_ptr(),
            libc::AT_FDCWD,
            n.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_times(path: &Path, atime: Option<TimeOrNow>, mtime: Option<TimeOrNow>) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
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
    let times = [ts(atime), ts(mtime)];
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: valid path and a two-element timespec array, as utimensat requires.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            p.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
