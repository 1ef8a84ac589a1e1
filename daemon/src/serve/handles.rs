//! Open file and directory handles, and per-inode open state: passthrough is per inode and
//! exclusive (SPEC §7), so an inode's first open decides its mode until its last close, and
//! its backing id lives exactly that long.

use crate::facts::Scan;
use crate::lower::FileVersion;
use fuser::BackingId;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::redact::LocationRange;
use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Handle {
    pub file: File,
    pub ino: u64,
    pub path: VolPath,
    /// The uid that opened it: only that uid's requests without a handle may borrow it.
    pub opener: u32,
    pub writable: bool,
    /// Location ranges for the redacted view, and the file version they belong to.
    pub redaction: Option<Mutex<Redaction>>,
    /// Keeps the inode's backing id alive until this handle is released.
    pub _backing: Option<Arc<BackingId>>,
    /// The store has seen this handle's last changes (a writable handle is finished at
    /// close: flush, or release when no flush came).
    pub finished: AtomicBool,
    /// What this open is to its lower file.
    pub lower_use: LowerUse,
}

/// What an open is to its lower file, for the rules that look at the other opens of it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LowerUse {
    /// Nothing to count (a redacted handle rescans whenever its file changes).
    Plain,
    /// A writable open: while any exists, the file's location is unknown.
    Writer(u64),
    /// A real-view read by a caller who would be redacted were the file located: no writer
    /// may change the bytes under it (a write open gets a copy of the file first).
    RestrictedReader(u64),
}

/// Why an open of a lower file could not be counted.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenClash {
    /// A writer meets restricted readers: the file must be copied first.
    RestrictedReaders,
    /// A restricted reader meets a writer: the file's location is unknown.
    Writer,
}

/// Ranges valid for exactly one version of the lower file (SPEC §9).
#[derive(Clone)]
pub struct Redaction {
    pub version: FileVersion,
    pub ranges: Arc<Vec<LocationRange>>,
}

impl From<Arc<Scan>> for Redaction {
    fn from(s: Arc<Scan>) -> Redaction {
        Redaction {
            version: s.version,
            ranges: s.ranges.clone(),
        }
    }
}

pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
    /// What the store said about a file at opendir (READDIRPLUS needs no query per entry).
    pub row: Option<RowState>,
}

/// The store's view of one file row, enough to pick its view and TTL.
#[derive(Clone, Copy, Debug)]
pub struct RowState {
    pub size: u64,
    pub mtime_ns: i64,
    pub location: Option<bool>,
    pub fuse_pending: bool,
}

/// A listing taken at opendir: stable offsets for the whole handle.
pub struct DirSnapshot {
    pub path: VolPath,
    pub ino: u64,
    pub parent: u64,
    pub entries: Vec<DirEntry>,
}

#[derive(Default)]
struct NodeOpen {
    count: u32,
    backing: Option<Arc<BackingId>>,
}

#[derive(Default)]
pub struct NodeOpens {
    map: HashMap<u64, NodeOpen>,
    /// Open writable handles per lower inode: while any exists, location is unknown.
    writers: HashMap<u64, u32>,
    /// Open restricted real-view reads per lower inode (see [`LowerUse::RestrictedReader`]).
    restricted: HashMap<u64, u32>,
    /// Copies made for a writer that is about to open them (its retry after ESTALE): held
    /// for it against restricted readers, or readers opening in a loop could starve it.
    reserved: HashMap<u64, Instant>,
}

/// How long a copy stays reserved for the writer it was made for.
const RESERVED_FOR_WRITER: Duration = Duration::from_secs(2);

impl NodeOpens {
    /// May a new open of `ino` use passthrough? Not while it is open daemon-served.
    pub fn may_passthrough(&self, ino: u64) -> bool {
        self.map
            .get(&ino)
            .is_none_or(|o| o.count == 0 || o.backing.is_some())
    }

    pub fn backing(&self, ino: u64) -> Option<Arc<BackingId>> {
        self.map.get(&ino).and_then(|o| o.backing.clone())
    }

    /// Is the lower file open for writing, or about to be (a copy reserved for its writer)?
    /// Then its content, and so its location, may change at any moment.
    pub fn being_written(&self, lower_ino: u64) -> bool {
        self.writers.get(&lower_ino).is_some_and(|&n| n > 0)
            || self
                .reserved
                .get(&lower_ino)
                .is_some_and(|t| t.elapsed() < RESERVED_FOR_WRITER)
    }

    /// Counts an open of node `ino`, unless it clashes with another open of its lower file
    /// (checked and counted under one lock, so of two racing opens one sees the other).
    pub fn opened(
        &mut self,
        ino: u64,
        backing: Option<Arc<BackingId>>,
        lower_use: LowerUse,
    ) -> Result<(), OpenClash> {
        match lower_use {
            LowerUse::Plain => {}
            LowerUse::Writer(l) => {
                if self.restricted.get(&l).is_some_and(|&n| n > 0) {
                    return Err(OpenClash::RestrictedReaders);
                }
                self.reserved.remove(&l);
                *self.writers.entry(l).or_default() += 1;
            }
            LowerUse::RestrictedReader(l) => {
                if self.being_written(l) {
                    return Err(OpenClash::Writer);
                }
                *self.restricted.entry(l).or_default() += 1;
            }
        }
        let o = self.map.entry(ino).or_default();
        o.count += 1;
        if o.backing.is_none() {
            o.backing = backing;
        }
        Ok(())
    }

    /// Holds the copy `lower_ino` for the writer it was made for (see `reserved`).
    pub fn reserve_for_writer(&mut self, lower_ino: u64) {
        self.reserved
            .retain(|_, t| t.elapsed() < RESERVED_FOR_WRITER);
        self.reserved.insert(lower_ino, Instant::now());
    }

    /// Returns true when that was the last open of the inode (its backing id is dropped).
    pub fn closed(&mut self, ino: u64, lower_use: LowerUse) -> bool {
        let counts = match lower_use {
            LowerUse::Plain => None,
            LowerUse::Writer(l) => Some((&mut self.writers, l)),
            LowerUse::RestrictedReader(l) => Some((&mut self.restricted, l)),
        };
        if let Some((counts, l)) = counts {
            if let Some(n) = counts.get_mut(&l) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&l);
                }
            }
        }
        let Some(o) = self.map.get_mut(&ino) else {
            return true;
        };
        o.count = o.count.saturating_sub(1);
        if o.count == 0 {
            self.map.remove(&ino);
            true
        } else {
            false
        }
    }

    pub fn is_open(&self, ino: u64) -> bool {
        self.map.get(&ino).is_some_and(|o| o.count > 0)
    }
}
