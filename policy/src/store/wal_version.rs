//! "Has anyone committed to the store since?" in a few nanoseconds, for any connection of any
//! process: the header of SQLite's WAL index (the `-shm` file, SQLite file format §4.5) is
//! rewritten by every commit, whoever makes it (the daemon's worker connections, its background
//! passes, an `app` command in another process), and readers find the newest commit from it.
//! Reading it costs no system call, where `PRAGMA data_version` costs a read transaction (two
//! `fcntl` locks) and only sees other connections.
//!
//! The header is read through SQLite's own mapping of the `-shm` file (the VFS `xShmMap`
//! method) on a connection this type keeps open: opening the file ourselves and closing it
//! would drop SQLite's POSIX locks on it, and the open connection keeps the mapping (and the
//! file) alive for as long as the header is read.

use rusqlite::{ffi, Connection, OpenFlags};
use std::ffi::c_void;
use std::path::Path;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::Duration;

/// The WAL-index header is 48 bytes, kept twice (SQLite writes copy 1, then copy 0; a reader
/// that sees two equal copies saw a whole header).
const HEADER_WORDS: usize = 12;
/// Size of one WAL-index region (what SQLite maps; the header is at its start).
const REGION_BYTES: i32 = 32 * 1024;
/// Attempts at reading an untorn header before answering "unknown".
const READ_ATTEMPTS: usize = 4;

/// The state of the store's newest commit: equal versions mean nothing was committed between
/// the two reads.
pub type Version = [u32; HEADER_WORDS];

pub struct WalVersion {
    header: *const AtomicU32,
    // Keeps SQLite's mapping of the WAL index alive; dropped after the pointer's last use.
    _anchor: Connection,
}

// SAFETY: `header` points into a shared mapping owned by `_anchor`, which lives as long as
// `self` and is never used after setup; the header is only read, with atomic loads (another
// process writes it concurrently, which is why plain references are never formed).
unsafe impl Send for WalVersion {}
unsafe impl Sync for WalVersion {}

impl WalVersion {
    /// Maps the WAL index of the store at `db`. `None` when the store is not in WAL mode
    /// (in-memory stores, a filesystem without shared memory): callers then cannot cache.
    pub fn open(db: &Path) -> Option<WalVersion> {
        let anchor = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        // Opened once per cache: a writer or a checkpoint holding the lock must not leave the
        // cache off for good.
        anchor.busy_timeout(Duration::from_secs(2)).ok()?;
        let mode: String = anchor
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .ok()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return None;
        }
        // A first read opens the connection's WAL and its shared-memory index.
        anchor
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .ok()?;
        let header = map_first_region(&anchor)?;
        let v = WalVersion {
            header: header.cast::<AtomicU32>(),
            _anchor: anchor,
        };
        v.read().map(|_| v)
    }

    /// The current version, or `None` if the header could not be read whole (a commit was
    /// writing it every time we looked): treat as "changed".
    pub fn read(&self) -> Option<Version> {
        for _ in 0..READ_ATTEMPTS {
            let first = self.copy(0);
            fence(Ordering::Acquire);
            let second = self.copy(HEADER_WORDS);
            // Byte 12 is `isInit`: zero while the index is being rebuilt.
            if first == second && first[3] & 0xff != 0 {
                return Some(first);
            }
        }
        None
    }

    fn copy(&self, from: usize) -> Version {
        let mut out = [0u32; HEADER_WORDS];
        for (i, word) in out.iter_mut().enumerate() {
            // SAFETY: the region is REGION_BYTES long and mapped while `_anchor` is open; the
            // two header copies are its first 96 bytes, 4-byte aligned (page-aligned mapping).
            *word = unsafe { (*self.header.add(from + i)).load(Ordering::Acquire) };
        }
        out
    }
}

/// SQLite's mapping of region 0 of `conn`'s WAL index, through the VFS.
fn map_first_region(conn: &Connection) -> Option<*const c_void> {
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: documented file-control call on an open connection; it stores the main
    // database's `sqlite3_file` pointer (owned by the connection) into `file`.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&mut file as *mut *mut ffi::sqlite3_file).cast::<c_void>(),
        )
    };
    if rc != ffi::SQLITE_OK || file.is_null() {
        return None;
    }
    // SAFETY: `file` is the connection's open database file; `pMethods` is set while it is
    // open. xShmMap exists from I/O methods version 2 on.
    let methods = unsafe { (*file).pMethods.as_ref()? };
    if methods.iVersion < 2 {
        return None;
    }
    let shm_map = methods.xShmMap?;
    let mut region: *mut c_void = std::ptr::null_mut();
    // SAFETY: maps (or returns the existing mapping of) region 0 without growing the file; the
    // mapping is released when the connection closes.
    let rc = unsafe { shm_map(file, 0, REGION_BYTES, 0, &mut region) };
    if rc != ffi::SQLITE_OK || region.is_null() {
        return None;
    }
    Some(region.cast_const())
}
