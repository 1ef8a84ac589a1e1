//! Directory listing (SPEC §5.5): subdirectories from the lower tree, files from the store
//! filtered by the read rules; files found on disk without a row are indexed, rows whose file
//! vanished are dropped — never a row being created (SPEC §9).

use super::entry::NO_TTL;
use super::state::{lock, Inner};
use super::sys::{attr_from, io_errno, Res, StoreCtx};
use crate::serve::handles::{DirEntry, DirSnapshot, RowState};
use crate::serve::inodes::ROOT_INO;
use fuser::{Errno, FileAttr, FileHandle, INodeNo, Request};
use mediaprovider_policy::facts;
use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::paths::{fold, VolPath};
use mediaprovider_policy::rules;
use mediaprovider_policy::store::{FoundFile, Store};
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// One READDIRPLUS entry.
pub struct PlusEntry<'a> {
    pub name: &'a str,
    pub attr: FileAttr,
    pub ttl: Duration,
}

impl Inner {
    fn list(&self, caller: &Caller, dir: &VolPath) -> Res<Vec<DirEntry>> {
        let on_disk = self.lower.list(dir).map_err(|e| io_errno(&e))?;
        let mut subdirs = Vec::new();
        let mut files: HashMap<String, String> = HashMap::new();
        for (name, is_dir) in on_disk {
            if is_dir {
                subdirs.push(name);
            } else {
                files.insert(fold(&name), name);
            }
        }
        let dir_fd = self.lower.dir(dir).map_err(|e| io_errno(&e))?;
        let hidden = facts::dir_hidden(&self.probe(), dir);
        let visible = self
            .stores
            .with(|store| {
                let mut rows: HashMap<String, _> = store
                    .list_dir(dir)?
                    .into_iter()
                    .map(|r| (fold(r.path.file_name()), r))
                    .collect();
                // Files seen for the first time: indexed in one short transaction (no owner
                // is ever overwritten: an existing row keeps its owner and pending state).
                let mut found = Vec::new();
                for (key, name) in &files {
                    if rows.contains_key(key) {
                        continue;
                    }
                    let (Ok(path), Ok(Some(st))) =
                        (dir.join(name), self.lower.stat_in(dir_fd.as_fd(), name))
                    else {
                        continue;
                    };
                    found.push(FoundFile {
                        path,
                        size: st.size(),
                        mtime_ns: st.mtime_ns(),
                    });
                }
                if !found.is_empty() {
                    store.reconcile_batch(&found, 0)?;
                    rows = store
                        .list_dir(dir)?
                        .into_iter()
                        .map(|r| (fold(r.path.file_name()), r))
                        .collect();
                }
                let grants = store.grants_of(caller)?;
                let mut out = Vec::new();
                for (key, row) in rows {
                    let Some(disk_name) = files.get(&key) else {
                        // Not in our read of the directory: gone, unless it appeared since.
                        // (Checked after the stat: a rename marks its source before moving it.)
                        if matches!(self.lower.stat(&row.path), Ok(None))
                            && !self.moving.covers(&row.path)
                        {
                            store.delete_vanished(&row)?;
                        }
                        continue;
                    };
                    let grant = grants.get(&row.id).copied().unwrap_or_default();
                    let f = Store::row_facts(&row, hidden, grant);
                    if rules::visible_in_listing(caller, &row.path, &f) {
                        out.push(DirEntry {
                            name: disk_name.clone(),
                            is_dir: false,
                            row: Some(RowState {
                                size: row.size,
                                mtime_ns: row.mtime_ns,
                                location: row.location,
                                fuse_pending: row.fuse_pending,
                            }),
                        });
                    }
                }
                Ok(out)
            })
            .map_err(StoreCtx::log("listing a directory"))?;
        let mut entries: Vec<DirEntry> = subdirs
            .into_iter()
            .map(|name| DirEntry {
                name,
                is_dir: true,
                row: None,
            })
            .collect();
        entries.extend(visible);
        Ok(entries)
    }

    pub(super) fn opendir_op(&self, req: &Request, ino: INodeNo) -> Res<u64> {
        self.stats.opendir.fetch_add(1, Ordering::Relaxed);
        let n = self.dir_node(ino)?;
        let caller = self.caller(req.uid())?;
        Inner::deny(&rules::opendir(&caller, &n.path))?;
        let entries = self.list(&caller, &n.path)?;
        let parent = if ino.0 == ROOT_INO {
            ROOT_INO
        } else {
            n.parent
        };
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.dirs).insert(
            fh,
            Arc::new(DirSnapshot {
                path: n.path,
                ino: ino.0,
                parent,
                entries,
            }),
        );
        Ok(fh)
    }

    pub(super) fn snapshot(&self, fh: FileHandle) -> Res<Arc<DirSnapshot>> {
        lock(&self.dirs).get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    pub(super) fn releasedir_op(&self, fh: FileHandle) {
        lock(&self.dirs).remove(&fh.0);
    }

    /// Entries of a READDIRPLUS from `offset`, passed to `add` until it says the reply is
    /// full. An entry the reply could not take gives its lookup count back.
    pub(super) fn readdirplus_op(
        &self,
        req: &Request,
        fh: FileHandle,
        offset: u64,
        mut add: impl FnMut(u64, PlusEntry) -> bool,
    ) -> Res<()> {
        self.stats.readdirplus.fetch_add(1, Ordering::Relaxed);
        let snap = self.snapshot(fh)?;
        let caller = self.caller(req.uid())?;
        let dir_st = self
            .lower
            .stat(&snap.path)
            .map_err(|e| io_errno(&e))?
            .ok_or(Errno::ENOENT)?;
        let dir_fd = self.lower.dir(&snap.path).map_err(|e| io_errno(&e))?;
        let mut i = offset as usize;
        while i < snap.entries.len() + 2 {
            let cookie = (i + 1) as u64;
            if i < 2 {
                // "." and ".." carry no entry for the kernel to link (and no lookup count).
                let ino = if i == 0 { snap.ino } else { snap.parent };
                let e = PlusEntry {
                    name: if i == 0 { "." } else { ".." },
                    attr: attr_from(&dir_st, ino),
                    ttl: NO_TTL,
                };
                if add(cookie, e) {
                    break;
                }
                i += 1;
                continue;
            }
            let e = &snap.entries[i - 2];
            i += 1;
            let Ok(path) = snap.path.join(&e.name) else {
                continue;
            };
            // Vanished since opendir: skip it.
            let Ok(Some(st)) = self.lower.stat_in(dir_fd.as_fd(), &e.name) else {
                continue;
            };
            let Ok((attr, ttl)) = self.entry_known(&caller, snap.ino, &path, &st, &e.name, e.row)
            else {
                continue;
            };
            let ino = attr.ino.0;
            let full = add(
                cookie,
                PlusEntry {
                    name: &e.name,
                    attr,
                    ttl,
                },
            );
            if full {
                self.forget_op(INodeNo(ino), 1);
                break;
            }
        }
        Ok(())
    }
}
