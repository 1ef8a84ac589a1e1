//! open and create: the decision, then the I/O mode, chosen once: passthrough (one backing id
//! per inode), daemon-served, or redacted (daemon-served with location ranges tied to the
//! file version they were computed from).

use super::state::{lock, Inner};
use super::sys::{attr_from, io_errno, lower_open_flags, Res, StoreCtx};
use crate::facts::stat_of;
use crate::lower::{Lower, Stat};
use crate::serve::handles::{Handle, LowerUse, OpenClash, Redaction};
use crate::serve::inodes::View;
use fuser::{BackingId, Errno, FileAttr, FopenFlags, INodeNo, Request};
use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::rules::{self, FileFacts, Io, Target};
use mediaprovider_policy::store::NewFile;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What an open or create hands back to the kernel.
pub struct Opened {
    pub fh: u64,
    pub flags: FopenFlags,
    pub backing: Option<Arc<BackingId>>,
}

pub struct Created {
    pub attr: FileAttr,
    pub opened: Opened,
}

impl Inner {
    pub(super) fn open_op(
        &self,
        req: &Request,
        ino: INodeNo,
        flags: i32,
        open_backing: impl FnOnce(&File) -> io::Result<BackingId>,
    ) -> Res<Opened> {
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        let n = self.node(ino)?;
        if n.is_dir {
            return Err(Errno::EISDIR);
        }
        let caller = self.caller(req.uid())?;
        let writable = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let (parent, st) = self.node_stat_with_parent(&n)?;
        let f = self.facts(&caller, &n.path, Some(&st))?;
        let t = Target {
            path: &n.path,
            facts: &f,
        };
        let d = if writable {
            rules::open_write(&caller, t)
        } else {
            rules::open_read(&caller, t)
        };
        Inner::deny(&d)?;
        if n.view == View::Redacted && writable {
            return Err(Errno::EACCES);
        }
        let served_as_is = n.view == View::Redacted && !f.has_location;
        if (d.io == Some(Io::Redacted)) != (n.view == View::Redacted) && !served_as_is {
            // The name resolved to the other view (entitlement or content changed since the
            // lookup): make the kernel walk the path again (it retries on ESTALE, once).
            // A redacted node whose file has no location now is served as it is, redacted:
            // the scan of the opened file removes whatever location it holds by then. A
            // writer flips content faster than the kernel's one retry, and the retry's lookup
            // answers the redacted view while the file is open for writing; after a refused
            // real view it answers the redacted one (`view_misses.rs`).
            if n.view == View::Real {
                self.view_misses.record(req.uid(), st.ino());
            }
            log::debug!(
                "{}: open by uid {}: view changed, ESTALE",
                n.path,
                req.uid()
            );
            return Err(Errno::ESTALE);
        }
        let file = match &parent {
            Some(dir) => Lower::open_in(dir.as_fd(), n.path.file_name(), lower_open_flags(flags)),
            None => self.lower.open_file(&n.path, lower_open_flags(flags)),
        }
        .map_err(|e| io_errno(&e))?;
        let opened_st = stat_of(&file).map_err(|e| io_errno(&e))?;
        if opened_st.ino() != st.ino() {
            log::debug!(
                "{}: replaced between the decision and the open, ESTALE",
                n.path
            );
            return Err(Errno::ESTALE);
        }
        if n.view == View::Redacted {
            return self.open_redacted(req.uid(), ino.0, &n.path, file);
        }
        let flush = if writable {
            FopenFlags::empty()
        } else {
            FopenFlags::FOPEN_NOFLUSH
        };
        // A reader of a file without location that would be redacted were it located: no
        // writer may change the bytes under its real-view open (`lower/copy.rs`). (With
        // location, a real-view reader is entitled to it.)
        let restricted =
            !writable && !f.has_location && Inner::redacted_were_it_located(&caller, &n.path, f);
        let use_ = match (writable, restricted) {
            (true, _) => LowerUse::Writer(st.ino()),
            (false, true) => LowerUse::RestrictedReader(st.ino()),
            (false, false) => LowerUse::Plain,
        };
        let (fh, backing) = self
            .open_real(req.uid(), ino.0, &n.path, file, use_, false, open_backing)
            .map_err(|clash| self.resolve_clash(req.uid(), &n.path, st.ino(), clash))?;
        Ok(Opened {
            fh,
            flags: flush,
            backing,
        })
    }

    /// A redacted handle: ranges from the version of the file just opened; every read checks
    /// that version again (see `io.rs`).
    fn open_redacted(&self, opener: u32, ino: u64, path: &VolPath, file: File) -> Res<Opened> {
        let scan = self.locations.scan(&file).map_err(|e| {
            log::warn!("{path}: cannot scan for location ({e}); refusing the redacted open");
            Errno::EIO
        })?;
        lock(&self.opens)
            .opened(ino, None, LowerUse::Plain)
            .map_err(|_| Errno::ESTALE)?;
        let fh = self.new_fh(Handle {
            file,
            ino,
            path: path.clone(),
            opener,
            writable: false,
            redaction: Some(Mutex::new(Redaction::from(scan))),
            _backing: None,
            finished: AtomicBool::new(true),
            lower_use: LowerUse::Plain,
        });
        self.stats.redacted_opens.fetch_add(1, Ordering::Relaxed);
        // Page-cached (no KEEP_CACHE: each open drops stale pages), so mmap works.
        Ok(Opened {
            fh,
            flags: FopenFlags::FOPEN_NOFLUSH,
            backing: None,
        })
    }

    pub(super) fn new_fh(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fh, Arc::new(h));
        fh
    }

    /// Opens the real view: passthrough with one backing id per inode when possible, else
    /// daemon-served. Fails when the open clashes with another open of the lower file.
    #[allow(clippy::too_many_arguments)]
    fn open_real(
        &self,
        opener: u32,
        ino: u64,
        path: &VolPath,
        file: File,
        lower_use: LowerUse,
        created: bool,
        open_backing: impl FnOnce(&File) -> io::Result<BackingId>,
    ) -> Result<(u64, Option<Arc<BackingId>>), OpenClash> {
        let writable = matches!(lower_use, LowerUse::Writer(_));
        let mut opens = lock(&self.opens);
        let mut backing = None;
        if self.passthrough.load(Ordering::Relaxed) && opens.may_passthrough(ino) {
            backing = match opens.backing(ino) {
                Some(b) => Some(b),
                // A kernel call, but one that never waits on a FUSE request.
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
        opens.opened(ino, backing.clone(), lower_use)?;
        drop(opens);
        let fh = self.new_fh(Handle {
            file,
            ino,
            path: path.clone(),
            opener,
            writable,
            redaction: None,
            _backing: backing.clone(),
            // A created file is finished (pending cleared) at close even if nothing was written.
            finished: AtomicBool::new(!writable && !created),
            lower_use,
        });
        if backing.is_some() {
            self.stats.passthrough_opens.fetch_add(1, Ordering::Relaxed);
        }
        Ok((fh, backing))
    }

    /// An open that clashed with other opens of its lower file answers ESTALE, and the kernel
    /// looks the name up again. A writer first gives the name a copy of the file, so that
    /// restricted readers keep the bytes they hold and the writer gets a new node; a restricted
    /// reader meeting a writer finds the redacted view on its retry (location unknown).
    fn resolve_clash(&self, uid: u32, path: &VolPath, lower_ino: u64, clash: OpenClash) -> Errno {
        match clash {
            OpenClash::RestrictedReaders => {
                let reserve = |new_ino| lock(&self.opens).reserve_for_writer(new_ino);
                if let Err(e) = self.lower.replace_with_copy(path, reserve) {
                    log::warn!("{path}: cannot copy the file before a write open ({e})");
                    return io_errno(&e);
                }
                self.stats.write_copies.fetch_add(1, Ordering::Relaxed);
            }
            // The retry's lookup answers this reader the redacted view (`view_misses.rs`).
            OpenClash::Writer => self.view_misses.record(uid, lower_ino),
        }
        log::debug!("{path}: open clashed with other opens of the file ({clash:?}), ESTALE");
        Errno::ESTALE
    }

    pub(super) fn create_op(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        flags: i32,
        open_backing: impl FnOnce(&File) -> io::Result<BackingId>,
    ) -> Res<Created> {
        let caller = self.caller(req.uid())?;
        let dir = self.dir_node(parent)?;
        let path = Inner::child_path(&dir.path, name)?;
        let existing = self.find_lower(&path)?;
        if let Some((actual, st)) = &existing {
            // An existing name (any case) without O_EXCL is an open of that file.
            if flags & libc::O_EXCL == 0 && !st.is_dir() {
                return self.create_existing(&caller, parent.0, actual, st, flags, open_backing);
            }
        }
        let (path, st, file) = self.create_new(&caller, &path, existing, Some(flags))?;
        let file = file.ok_or(Errno::EIO)?;
        self.created_reply(caller.uid, parent.0, &path, &st, file, open_backing)
    }

    /// The new file opened by CREATE; entry TTL 0 because it is pending until this handle
    /// closes.
    fn created_reply(
        &self,
        opener: u32,
        parent: u64,
        path: &VolPath,
        st: &Stat,
        file: File,
        open_backing: impl FnOnce(&File) -> io::Result<BackingId>,
    ) -> Res<Created> {
        let ino = lock(&self.inodes)
            .acquire(parent, path, false, View::Real, true, st.ino())
            .ok_or(Errno::ENOENT)?;
        let (fh, backing) = self
            .open_real(
                opener,
                ino,
                path,
                file,
                LowerUse::Writer(st.ino()),
                true,
                open_backing,
            )
            .map_err(|clash| {
                // The kernel never gets this entry: give back the lookup counted for it.
                self.forget_op(INodeNo(ino), 1);
                self.resolve_clash(opener, path, st.ino(), clash)
            })?;
        Ok(Created {
            attr: attr_from(st, ino),
            opened: Opened {
                fh,
                flags: FopenFlags::empty(),
                backing,
            },
        })
    }

    /// `open(O_CREAT)` without `O_EXCL` on an existing name: an open of that file.
    fn create_existing(
        &self,
        caller: &Caller,
        parent: u64,
        path: &VolPath,
        st: &Stat,
        flags: i32,
        open_backing: impl FnOnce(&File) -> io::Result<BackingId>,
    ) -> Res<Created> {
        let f = self.facts(caller, path, Some(st))?;
        let t = Target { path, facts: &f };
        let writable = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let d = if writable {
            rules::open_write(caller, t)
        } else {
            rules::open_read(caller, t)
        };
        Inner::deny(&d)?;
        if d.io == Some(Io::Redacted) {
            // CREATE answers with the real inode: a redacted reader must come through LOOKUP.
            return Err(Errno::ESTALE);
        }
        let file = self
            .lower
            .open_file(path, lower_open_flags(flags))
            .map_err(|e| io_errno(&e))?;
        if flags & libc::O_TRUNC != 0 && writable {
            file.set_len(0).map_err(|e| io_errno(&e))?;
        }
        let st = stat_of(&file).map_err(|e| io_errno(&e))?;
        self.created_reply(caller.uid, parent, path, &st, file, open_backing)
    }

    /// Creates a new file after the create decision: its row (owner = caller, pending) is
    /// written in one statement before the file exists, so no listing or lookup can index it
    /// ownerless first (SPEC §9). `flags` is `None` for mknod (no handle).
    pub(super) fn create_new(
        &self,
        caller: &Caller,
        path: &VolPath,
        existing: Option<(VolPath, Stat)>,
        flags: Option<i32>,
    ) -> Res<(VolPath, Stat, Option<File>)> {
        let facts = match &existing {
            Some((actual, st)) => self.facts(caller, actual, Some(st))?,
            None => FileFacts::absent(),
        };
        Inner::deny(&rules::create(
            caller,
            Target {
                path,
                facts: &facts,
            },
        ))?;
        if existing.is_some() {
            return Err(Errno::EEXIST);
        }
        let owner = caller.owner_package().map(str::to_string);
        self.stores
            .write(|s| {
                s.upsert_file(&NewFile {
                    path,
                    owner: owner.as_deref(),
                    size: 0,
                    mtime_ns: 0,
                    fuse_pending: true,
                })
            })
            .map_err(StoreCtx::log("recording a new file"))?;
        let mode = flags.map_or(libc::O_RDONLY, lower_open_flags);
        let file = match self.lower.create_file(path, mode) {
            Ok(f) => f,
            Err(e) => {
                let _ = self.stores.write(|s| s.delete_file(path));
                return Err(io_errno(&e));
            }
        };
        if let Some(o) = owner.as_deref() {
            // The owner's backup outside the store (SPEC §9); a lower filesystem without user
            // xattrs simply keeps none.
            if let Err(e) = mediaprovider_policy::backup::write_owner(file.as_fd(), Some(o)) {
                log::debug!("ownership backup not written: {e}");
            }
        }
        let st = stat_of(&file).map_err(|e| io_errno(&e))?;
        self.stats.create.fetch_add(1, Ordering::Relaxed);
        if flags.is_none() {
            // mknod: nothing will be written through a handle; the row is final now.
            self.stores
                .write(|s| s.finish_write(path, st.size(), st.mtime_ns(), Some(false)))
                .map_err(StoreCtx::log("finishing a new file"))?;
            return Ok((path.clone(), st, None));
        }
        Ok((path.clone(), st, Some(file)))
    }
}
