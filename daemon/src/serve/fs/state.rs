//! The filesystem's shared state and the first steps of every request's pipeline:
//! `request → caller → target (node, lower entry, facts) → decision`.

use super::super::handles::{DirSnapshot, Handle, NodeOpens};
use super::super::inodes::{Inodes, View};
use super::super::stats::Stats;
use super::super::store_pool::StorePool;
use super::sys::{policy_errno, Res, StoreCtx};
use super::view_misses::ViewMisses;
use crate::facts::{LocationCache, Probe};
use crate::lower::{Lower, Stat};
use crate::moving::Moving;
use fuser::{Errno, INodeNo};
use mediaprovider_policy::facts::{self, LowerEntry};
use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::rules::{self, Decision, FileFacts};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock, RwLock};

/// Kernel cache invalidations, queued for the invalidation thread (never sent from a request
/// handler, and only kinds that cannot block on a FUSE request: see `serve::inval`).
pub enum Inval {
    /// Drop a redacted view's cached attributes (its content changed); the kernel then drops
    /// its pages itself on the next access (FUSE_AUTO_INVAL_DATA).
    Attrs(u64),
}

pub struct Options {
    pub passthrough: bool,
}

pub struct Inner {
    pub lower: Lower,
    pub(super) stores: StorePool,
    callers: RwLock<HashMap<u32, Arc<Caller>>>,
    pub(super) inodes: Mutex<Inodes>,
    pub(super) handles: RwLock<HashMap<u64, Arc<Handle>>>,
    pub(super) dirs: Mutex<HashMap<u64, Arc<DirSnapshot>>>,
    pub(super) opens: Mutex<NodeOpens>,
    pub(super) next_fh: AtomicU64,
    pub(super) passthrough: AtomicBool,
    pub(super) passthrough_refused: Once,
    pub(super) locations: LocationCache,
    /// Callers just refused the real view of a file (see `view_misses.rs`).
    pub(super) view_misses: ViewMisses,
    inval: Mutex<Sender<Inval>>,
    unimplemented: Mutex<HashSet<&'static str>>,
    pub stats: Arc<Stats>,
    /// Renames in flight: their rows are never taken for vanished files meanwhile.
    pub moving: Arc<Moving>,
    /// The session's notifier, for attribute invalidations a reply must not overtake.
    pub notifier: OnceLock<fuser::Notifier>,
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler must not take the whole daemon down with a poisoned lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub use super::super::inodes::NodeInfo;

impl Inner {
    pub fn new(
        opts: Options,
        lower: Lower,
        stores: StorePool,
        inval: Sender<Inval>,
        stats: Arc<Stats>,
    ) -> Inner {
        Inner {
            lower,
            stores,
            callers: RwLock::new(HashMap::new()),
            inodes: Mutex::new(Inodes::new()),
            handles: RwLock::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            opens: Mutex::new(NodeOpens::default()),
            next_fh: AtomicU64::new(1),
            view_misses: ViewMisses::default(),
            passthrough: AtomicBool::new(opts.passthrough),
            passthrough_refused: Once::new(),
            locations: LocationCache::default(),
            inval: Mutex::new(inval),
            unimplemented: Mutex::new(HashSet::new()),
            stats,
            moving: Arc::new(Moving::default()),
            notifier: OnceLock::new(),
        }
    }

    // ---- identity --------------------------------------------------------------------------

    /// The caller for `uid`, cached until an `app` change (the control socket and the
    /// packages.list watcher call [`Inner::refresh_identities`] before the change returns).
    pub fn caller(&self, uid: u32) -> Res<Arc<Caller>> {
        if let Some(c) = self
            .callers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&uid)
        {
            return Ok(c.clone());
        }
        let c = Arc::new(
            self.stores
                .with(|s| s.caller(uid))
                .map_err(StoreCtx::log("identity"))?,
        );
        self.callers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid, c.clone());
        Ok(c)
    }

    /// Drops every cached identity (after an `app` command).
    pub fn refresh_identities(&self) {
        self.callers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Applies an uninstall: deletes the package's app-specific dirs. Their names are
    /// caller-dependent (entry TTL 0), so no kernel dentry outlives this.
    pub fn remove_package_dirs(&self, package: &str) -> Result<(), String> {
        self.lower
            .delete_app_dirs(package)
            .map_err(|e| format!("deleting app dirs of {package}: {e}"))?;
        self.refresh_identities();
        Ok(())
    }

    /// The provider half renamed (`Some(new)`: trash/untrash) or deleted (`None`: maintain) a
    /// file outside any FUSE request. The old name's nodes are detached, so a kernel dentry
    /// still holding them answers ESTALE and the kernel looks the name up again; the new name
    /// resolves on its first lookup. No entry invalidation is sent (they can block: SPEC §9).
    pub fn name_changed(&self, old: &VolPath, _new: Option<&VolPath>) {
        let gone = {
            let mut inodes = lock(&self.inodes);
            let mut dir = super::super::inodes::ROOT_INO;
            for comp in old.parent().unwrap_or_default().components() {
                match inodes.find(dir, comp, View::Real) {
                    Some(i) => dir = i,
                    None => return, // never looked up: nothing cached in the kernel
                }
            }
            inodes.detach_name(dir, old.file_name())
        };
        self.forget_attrs_of(gone);
    }

    /// Nodes whose name was unlinked, renamed over or changed: their attributes are invalidated
    /// in the kernel. A dentry the kernel still holds for them under another spelling (a file
    /// unlinked as `F3.JPG` after a lookup of `f3.jpg`) would otherwise answer `access` and
    /// `stat` from cache for up to its TTL; with the attributes gone the kernel asks, gets
    /// ESTALE from the detached node and looks the name up again (ENOENT).
    ///
    /// Sent from the request's own thread before it replies, so the caller's next call already
    /// sees it. That is safe where an entry invalidation is not: an attribute-only
    /// invalidation (negative offset) takes no directory or page lock in the kernel and never
    /// waits on a FUSE request (SPEC §9).
    pub(super) fn forget_attrs_of(&self, nodes: Vec<u64>) {
        for ino in nodes {
            match self.notifier.get() {
                // ENOENT: the kernel holds no such inode; nothing to invalidate.
                Some(n) => {
                    let _ = n.inval_inode(fuser::INodeNo(ino), -1, 0);
                }
                None => self.send_inval(Inval::Attrs(ino)),
            }
        }
    }

    pub(super) fn send_inval(&self, i: Inval) {
        let _ = lock(&self.inval).send(i);
    }

    /// Logs an unimplemented request kind once, at debug (apps probe for these routinely).
    pub(super) fn unimplemented(&self, kind: &'static str) {
        if lock(&self.unimplemented).insert(kind) {
            log::debug!("{kind}: not supported on this volume (ENOSYS); further calls not logged");
        }
    }

    pub fn gauges(&self) -> crate::serve::stats::Gauges {
        crate::serve::stats::Gauges {
            dir_reads: self
                .lower
                .dir_reads
                .load(std::sync::atomic::Ordering::Relaxed),
            nodes: lock(&self.inodes).len() as u64,
            handles: self.handles.read().unwrap_or_else(|e| e.into_inner()).len() as u64,
            indexed_names: self.lower.indexed_names() as u64,
        }
    }

    // ---- targets ---------------------------------------------------------------------------

    pub(super) fn node(&self, ino: INodeNo) -> Res<NodeInfo> {
        lock(&self.inodes).get(ino.0).ok_or(Errno::ENOENT)
    }

    /// A directory node (ENOTDIR otherwise).
    pub(super) fn dir_node(&self, ino: INodeNo) -> Res<NodeInfo> {
        let n = self.node(ino)?;
        if n.is_dir {
            Ok(n)
        } else {
            Err(Errno::ENOTDIR)
        }
    }

    pub(super) fn child_path(parent: &VolPath, name: &OsStr) -> Res<VolPath> {
        let name = name.to_str().ok_or(Errno::EINVAL)?;
        if name.len() > mediaprovider_policy::paths::NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        parent.join(name).map_err(|_| Errno::EINVAL)
    }

    /// Finds `path`'s entry in the lower tree (last component case-insensitively).
    pub(super) fn find_lower(&self, path: &VolPath) -> Res<Option<(VolPath, Stat)>> {
        self.lower.find(path).map_err(|e| super::sys::io_errno(&e))
    }

    /// The lower entry a node names now. A name that now refers to another lower file (it was
    /// replaced, e.g. unlinked and created again in another case) answers ESTALE: the kernel
    /// then looks the path up again instead of using its cached dentry (SPEC §5.10).
    pub(super) fn node_stat(&self, n: &NodeInfo) -> Res<Stat> {
        self.node_stat_with_parent(n).map(|(_, st)| st)
    }

    /// [`Inner::node_stat`] with the parent directory's fd (`None` for the root), so an open
    /// that follows resolves the parent once, not twice.
    pub(super) fn node_stat_with_parent(&self, n: &NodeInfo) -> Res<(Option<OwnedFd>, Stat)> {
        let replaced = |st: &Stat| {
            let stale = n.detached || (n.lower_ino != 0 && st.ino() != n.lower_ino);
            if stale {
                log::debug!("{}: the node names another file now, ESTALE", n.path);
            }
            stale
        };
        match self
            .lower
            .stat_with_parent(&n.path)
            .map_err(|e| super::sys::io_errno(&e))?
        {
            Some((_, st)) if replaced(&st) => Err(Errno::ESTALE),
            Some(found) => Ok(found),
            // Gone in this spelling; another spelling of the name may be a new file.
            None => match self.find_lower(&n.path)? {
                Some((_, st)) if replaced(&st) => Err(Errno::ESTALE),
                _ => Err(Errno::ENOENT),
            },
        }
    }

    pub(super) fn probe(&self) -> Probe<'_> {
        Probe {
            lower: &self.lower,
            cache: &self.locations,
        }
    }

    pub(super) fn lower_entry(&self, st: &Stat) -> LowerEntry {
        LowerEntry {
            is_dir: st.is_dir(),
            size: st.size(),
            mtime_ns: st.mtime_ns(),
            being_written: !st.is_dir() && lock(&self.opens).being_written(st.ino()),
        }
    }

    /// Facts for `path` (whose lower entry is `st`, `None` when absent) as `caller` sees them.
    pub(super) fn facts(
        &self,
        caller: &Caller,
        path: &VolPath,
        st: Option<&Stat>,
    ) -> Res<FileFacts> {
        let entry = st.map(|s| self.lower_entry(s));
        self.stores
            .with(|s| facts::gather(s, &self.probe(), caller, path, entry))
            .map_err(StoreCtx::log("gathering facts"))
    }

    /// Would `caller`'s read open of this file be served redacted, were it to carry location?
    /// (The lookup's view for a file whose location is unknown, and whether a real-view
    /// reader must be protected from writers: `open.rs`.)
    pub(super) fn redacted_were_it_located(
        caller: &Caller,
        path: &VolPath,
        mut facts: FileFacts,
    ) -> bool {
        facts.has_location = true;
        let t = rules::Target {
            path,
            facts: &facts,
        };
        rules::open_read(caller, t).io == Some(rules::Io::Redacted)
    }

    pub(super) fn deny(d: &Decision) -> Res<()> {
        match d.errno {
            None => Ok(()),
            Some(e) => Err(policy_errno(e)),
        }
    }

    // ---- handles ---------------------------------------------------------------------------

    pub(super) fn handle(&self, fh: fuser::FileHandle) -> Res<Arc<Handle>> {
        self.handles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&fh.0)
            .cloned()
            .ok_or(Errno::EBADF)
    }

    /// An open handle of node `ino` that `uid` opened: the file itself even after its name
    /// was unlinked (fstat/futimens on an unlinked file work through it, SPEC §9). Never
    /// another uid's: a request without a handle must not borrow another app's write access.
    pub(super) fn own_handle_of(&self, ino: u64, uid: u32) -> Option<Arc<Handle>> {
        if !lock(&self.opens).is_open(ino) {
            return None;
        }
        self.handles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .find(|h| h.ino == ino && h.opener == uid)
            .cloned()
    }
}
