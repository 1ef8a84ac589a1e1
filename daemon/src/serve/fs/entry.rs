//! Names → kernel entries: lookup, getattr, forget, and the view (real or redacted) and TTL a
//! name resolves to for one caller (SPEC §7).

use super::state::{lock, Inner};
use super::sys::{attr_from, Res, StoreCtx};
use crate::lower::Stat;
use crate::serve::handles::RowState;
use crate::serve::inodes::View;
use fuser::{Errno, FileAttr, FileHandle, INodeNo, Request};
use mediaprovider_policy::facts::LowerFacts;
use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::rules;
use mediaprovider_policy::store::{implied_owner, NewFile};
use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Directories: the same for every caller, changed only through this daemon in practice.
pub const DIR_TTL: Duration = Duration::from_secs(60);
/// Ordinary files: entry and attribute TTL are one value (fuser 0.17 has no separate attr
/// TTL), so keep it short enough for size/mtime changes made behind our back.
pub const FILE_TTL: Duration = Duration::from_secs(1);
/// Names whose view or visibility depends on the caller (SPEC §7): never cached.
pub const NO_TTL: Duration = Duration::ZERO;
/// getattr replies: per inode (each view has its own), so briefly cacheable.
pub const ATTR_TTL: Duration = Duration::from_secs(1);

/// Entry TTL 0 for names inside `Android/{data,obb,media}/<pkg>` dirs' roots and below private
/// dirs: whether they exist depends on who asks.
fn caller_dependent_path(path: &VolPath) -> bool {
    let info = path.info();
    info.private_package().is_some() || (info.app_dir_package().is_some() && info.depth == 3)
}

impl Inner {
    pub(super) fn lookup_op(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
    ) -> Res<(FileAttr, Duration)> {
        self.stats.lookup.fetch_add(1, Ordering::Relaxed);
        let caller = self.caller(req.uid())?;
        let dir = self.dir_node(parent)?;
        let path = Inner::child_path(&dir.path, name)?;
        Inner::deny(&rules::lookup(&caller, &path))?;
        let (actual, st) = self.find_lower(&path)?.ok_or(Errno::ENOENT)?;
        self.entry(&caller, parent.0, &actual, &st, path.file_name())
    }

    /// Makes sure a lower file has a row (files added behind our back, SPEC §5.11; never
    /// touching a row being created) and says whether it carries location and is still
    /// being created. Returns (has_location, fuse_pending).
    pub(super) fn index_file(
        &self,
        path: &VolPath,
        st: &Stat,
        known: Option<RowState>,
    ) -> Res<(bool, bool)> {
        if let Some(k) = known {
            return Ok(self.location_and_pending(path, st, k));
        }
        let row = self
            .stores
            .with(|s| match s.file(path)? {
                Some(r) => Ok(r),
                None => s.index_found(&NewFile {
                    path,
                    owner: implied_owner(path).as_deref(),
                    size: st.size(),
                    mtime_ns: st.mtime_ns(),
                    fuse_pending: false,
                }),
            })
            .map_err(StoreCtx::log("indexing a file found in the lower tree"))?;
        let k = RowState {
            size: row.size,
            mtime_ns: row.mtime_ns,
            location: row.location,
            fuse_pending: row.fuse_pending,
        };
        Ok(self.location_and_pending(path, st, k))
    }

    fn location_and_pending(&self, path: &VolPath, st: &Stat, row: RowState) -> (bool, bool) {
        let entry = self.lower_entry(st);
        let unchanged = row.size == st.size() && row.mtime_ns == st.mtime_ns();
        let location = entry.being_written
            || match row.location {
                Some(l) if unchanged => l,
                // Not scanned yet (the background indexer will record it) or changed behind
                // our back: scan now, remember in memory only.
                _ => self.probe().has_location(path),
            };
        (location, row.fuse_pending)
    }

    /// The kernel entry for an existing lower entry, resolved to the view `caller` is entitled
    /// to. `requested` is the spelling the kernel asked for (a case mismatch is never cached).
    pub(super) fn entry(
        &self,
        caller: &Caller,
        parent: u64,
        path: &VolPath,
        st: &Stat,
        requested: &str,
    ) -> Res<(FileAttr, Duration)> {
        self.entry_known(caller, parent, path, st, requested, None)
    }

    /// [`Inner::entry`] with the store row already read (listings).
    pub(super) fn entry_known(
        &self,
        caller: &Caller,
        parent: u64,
        path: &VolPath,
        st: &Stat,
        requested: &str,
        known: Option<RowState>,
    ) -> Res<(FileAttr, Duration)> {
        let mut ttl = if caller_dependent_path(path) || requested != path.file_name() {
            NO_TTL
        } else if st.is_dir() {
            DIR_TTL
        } else {
            FILE_TTL
        };
        let view = if st.is_dir() {
            View::Real
        } else {
            let (location, pending) = self.index_file(path, st, known)?;
            if location || pending {
                ttl = NO_TTL;
            }
            // One location verdict for the whole lookup (the file may change meanwhile).
            let steered = !location && self.view_misses.recent(caller.uid, st.ino());
            if steered {
                ttl = NO_TTL;
            }
            if (location || steered)
                && Inner::redacted_were_it_located(
                    caller,
                    path,
                    self.facts(caller, path, Some(st))?,
                )
            {
                View::Redacted
            } else {
                View::Real
            }
        };
        let ino = lock(&self.inodes)
            .acquire(parent, path, st.is_dir(), view, true, st.ino())
            .ok_or(Errno::ENOENT)?;
        Ok((attr_from(st, ino), ttl))
    }

    pub(super) fn forget_op(&self, ino: INodeNo, nlookup: u64) {
        let held = lock(&self.opens).is_open(ino.0);
        lock(&self.inodes).forget(ino.0, nlookup, held);
    }

    pub(super) fn getattr_op(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: Option<FileHandle>,
    ) -> Res<FileAttr> {
        self.stats.getattr.fetch_add(1, Ordering::Relaxed);
        // Through an open handle (fstat), the file itself answers, unlinked or not (SPEC §9).
        let open = fh
            .and_then(|fh| self.handle(fh).ok())
            .or_else(|| self.own_handle_of(ino.0, req.uid()));
        if let Some(h) = open {
            let st = crate::facts::stat_of(&h.file).map_err(|e| super::sys::io_errno(&e))?;
            return Ok(attr_from(&st, ino.0));
        }
        let n = self.node(ino)?;
        let caller = self.caller(req.uid())?;
        Inner::deny(&rules::lookup(&caller, &n.path))?;
        let st = self.node_stat(&n)?;
        Ok(attr_from(&st, ino.0))
    }
}
