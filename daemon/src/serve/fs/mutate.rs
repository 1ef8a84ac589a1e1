//! Namespace and attribute changes: mknod, mkdir, unlink, rmdir, rename, setattr, access.

use super::state::{lock, Inner};
use super::sys::{attr_from, io_errno, timespecs, Res, StoreCtx};
use crate::facts::stat_of;
use crate::lower::Stat;
use crate::serve::inodes::View;
use fuser::{AccessFlags, Errno, FileAttr, FileHandle, INodeNo, Request, TimeOrNow};
use mediaprovider_policy::facts;
use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::paths::{eq_fold, VolPath};
use mediaprovider_policy::rules::{self, FileFacts, Target};
use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::time::Duration;

impl Inner {
    /// The existing lower entry `name` in directory `parent`, after the lookup policy (other
    /// apps' private dirs look absent).
    fn existing_child(
        &self,
        caller: &Caller,
        parent: INodeNo,
        name: &OsStr,
    ) -> Res<(VolPath, Stat)> {
        let dir = self.dir_node(parent)?;
        let path = Inner::child_path(&dir.path, name)?;
        Inner::deny(&rules::lookup(caller, &path))?;
        self.find_lower(&path)?.ok_or(Errno::ENOENT)
    }

    pub(super) fn mknod_op(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
    ) -> Res<(FileAttr, Duration)> {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Errno::EPERM);
        }
        let caller = self.caller(req.uid())?;
        let dir = self.dir_node(parent)?;
        let path = Inner::child_path(&dir.path, name)?;
        let existing = self.find_lower(&path)?;
        let (path, st, _) = self.create_new(&caller, &path, existing, None)?;
        let ino = lock(&self.inodes)
            .acquire(parent.0, &path, false, View::Real, true, st.ino())
            .ok_or(Errno::ENOENT)?;
        Ok((attr_from(&st, ino), super::entry::NO_TTL))
    }

    pub(super) fn mkdir_op(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
    ) -> Res<(FileAttr, Duration)> {
        let caller = self.caller(req.uid())?;
        let dir = self.dir_node(parent)?;
        let path = Inner::child_path(&dir.path, name)?;
        let facts = if self.find_lower(&path)?.is_some() {
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
        let st = self.lower.mkdir(&path).map_err(|e| io_errno(&e))?;
        self.entry(&caller, parent.0, &path, &st, path.file_name())
    }

    pub(super) fn unlink_op(&self, req: &Request, parent: INodeNo, name: &OsStr) -> Res<()> {
        let caller = self.caller(req.uid())?;
        let (actual, st) = self.existing_child(&caller, parent, name)?;
        if st.is_dir() {
            return Err(Errno::EISDIR);
        }
        let f = self.facts(&caller, &actual, Some(&st))?;
        Inner::deny(&rules::unlink(
            &caller,
            Target {
                path: &actual,
                facts: &f,
            },
        ))?;
        self.lower
            .remove(&actual, false)
            .map_err(|e| io_errno(&e))?;
        self.stores
            .write(|s| s.delete_file(&actual))
            .map_err(StoreCtx::log("deleting a file's row"))?;
        let gone = lock(&self.inodes).detach_name(parent.0, actual.file_name());
        self.forget_attrs_of(gone);
        Ok(())
    }

    pub(super) fn rmdir_op(&self, req: &Request, parent: INodeNo, name: &OsStr) -> Res<()> {
        let caller = self.caller(req.uid())?;
        let (actual, st) = self.existing_child(&caller, parent, name)?;
        if !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Inner::deny(&rules::rmdir(&caller, &actual))?;
        self.lower.remove(&actual, true).map_err(|e| io_errno(&e))?;
        self.stores
            .write(|s| s.delete_tree(&actual))
            .map_err(StoreCtx::log("deleting a directory's rows"))?;
        let gone = lock(&self.inodes).detach_name(parent.0, actual.file_name());
        self.forget_attrs_of(gone);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn rename_op(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: u32,
    ) -> Res<()> {
        if flags & !rules::RENAME_NOREPLACE != 0 {
            return Err(Errno::EINVAL);
        }
        let caller = self.caller(req.uid())?;
        let from = self.dir_node(parent)?;
        let to = self.dir_node(newparent)?;
        let old = Inner::child_path(&from.path, name)?;
        let new = Inner::child_path(&to.path, newname)?;
        let private = |p: &VolPath| !rules::lookup(&caller, p).allowed();
        if private(&old) || private(&new) {
            return Err(Errno::EACCES);
        }
        let (old_actual, old_st) = self.find_lower(&old)?.ok_or(Errno::ENOENT)?;
        let existing = self.find_lower(&new)?;
        // A case-only rename of the same entry keeps the new spelling as given.
        let same_entry = parent == newparent && eq_fold(old.file_name(), new.file_name());
        let (new_actual, new_st) = match existing {
            Some((p, st)) if !same_entry => (p, Some(st)),
            _ => (new.clone(), None),
        };
        let of = self.facts(&caller, &old_actual, Some(&old_st))?;
        let nf = match &new_st {
            Some(st) => self.facts(&caller, &new_actual, Some(st))?,
            None => FileFacts::absent(),
        };
        let contents = if old_st.is_dir() {
            self.stores
                .with(|s| facts::rename_contents(s, &self.probe(), &caller, &old_actual))
                .map_err(StoreCtx::log("gathering a directory's files for a rename"))?
        } else {
            Vec::new()
        };
        Inner::deny(&rules::rename(
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
        ))?;
        if let Some(st) = &new_st {
            if st.is_dir() != old_st.is_dir() {
                return Err(if st.is_dir() {
                    Errno::EISDIR
                } else {
                    Errno::ENOTDIR
                });
            }
        }
        let _in_flight = self.moving.start(&old_actual);
        self.lower
            .rename(&old_actual, &new_actual, flags)
            .map_err(|e| io_errno(&e))?;
        let moved = self.stores.write(|s| {
            if old_st.is_dir() {
                s.rename_tree(&old_actual, &new_actual).map(|_| ())
            } else {
                s.rename_file(&old_actual, &new_actual)
            }
        });
        if let Err(e) = moved {
            log::error!("store: rename {old_actual} -> {new_actual}: {e}");
        }
        let replaced =
            lock(&self.inodes).rename(parent.0, old_actual.file_name(), newparent.0, &new_actual);
        self.forget_attrs_of(replaced);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn setattr_op(
        &self,
        req: &Request,
        ino: INodeNo,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<FileHandle>,
    ) -> Res<FileAttr> {
        let n = self.node(ino)?;
        // ftruncate arrives with the handle; futimens and fstat-like calls on a file that
        // may be unlinked by now are served through a handle the caller itself opened.
        let handle = fh
            .and_then(|fh| self.handle(fh).ok())
            .or_else(|| self.own_handle_of(ino.0, req.uid()));
        let current = |h: &Option<std::sync::Arc<crate::serve::handles::Handle>>| match h {
            Some(h) => stat_of(&h.file).map_err(|e| io_errno(&e)),
            None => self.node_stat(&n),
        };
        // chmod/chown are accepted and ignored (SPEC §5.3).
        if size.is_none() && atime.is_none() && mtime.is_none() {
            return Ok(attr_from(&current(&handle)?, ino.0));
        }
        if n.view == View::Redacted {
            return Err(Errno::EACCES);
        }
        let by_handle = handle.filter(|h| h.writable);
        if by_handle.is_none() {
            // Path-based truncate/utimes needs write access to the file.
            let caller = self.caller(req.uid())?;
            let st = self.node_stat(&n)?;
            let f = self.facts(&caller, &n.path, Some(&st))?;
            Inner::deny(&rules::setattr(
                &caller,
                Target {
                    path: &n.path,
                    facts: &f,
                },
            ))?;
        }
        if let Some(size) = size {
            if n.is_dir {
                return Err(Errno::EISDIR);
            }
            match &by_handle {
                Some(h) => {
                    h.file.set_len(size).map_err(|e| io_errno(&e))?;
                    h.finished
                        .store(false, std::sync::atomic::Ordering::Relaxed);
                }
                None => self
                    .lower
                    .open_file(&n.path, libc::O_WRONLY)
                    .and_then(|f| f.set_len(size))
                    .map_err(|e| io_errno(&e))?,
            }
        }
        if atime.is_some() || mtime.is_some() {
            let times = timespecs(atime, mtime);
            match &by_handle {
                Some(h) => crate::lower::set_times_fd(h.file.as_fd(), &times),
                None => self.lower.set_times(&n.path, &times),
            }
            .map_err(|e| io_errno(&e))?;
        }
        Ok(attr_from(&current(&by_handle)?, ino.0))
    }

    pub(super) fn access_op(&self, req: &Request, ino: INodeNo, mask: AccessFlags) -> Res<()> {
        let n = self.node(ino)?;
        let caller = self.caller(req.uid())?;
        Inner::deny(&rules::lookup(&caller, &n.path))?;
        // Even F_OK asks the lower tree: a dentry the kernel kept for another spelling of a name
        // unlinked since must answer ENOENT (or ESTALE, and the kernel looks it up again).
        let st = self.node_stat(&n)?;
        let mask = mask.bits();
        if mask == libc::F_OK {
            return Ok(());
        }
        if mask & libc::X_OK != 0 && !n.is_dir {
            return Err(Errno::EACCES);
        }
        let f = if n.is_dir {
            FileFacts::dir()
        } else {
            self.facts(&caller, &n.path, Some(&st))?
        };
        let t = Target {
            path: &n.path,
            facts: &f,
        };
        if mask & libc::R_OK != 0 {
            Inner::deny(&rules::access_read(&caller, t))?;
        }
        if mask & libc::W_OK != 0 {
            Inner::deny(&rules::access_write(&caller, t))?;
        }
        Ok(())
    }
}
