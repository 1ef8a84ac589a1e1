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

pub struct Handle {
    pub file: File,
    pub ino: u64,
    /// The lower file's inode number (writers are counted per lower file).
    pub lower_ino: u64,
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
}

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

    pub fn writers_of_lower(&self, lower_ino: u64) -> u32 {
        self.writers.get(&lower_ino).copied().unwrap_or(0)
    }

    /// Counts an open of node `ino`; `writer` is the lower inode of a writable open.
    pub fn opened(&mut self, ino: u64, backing: Option<Arc<BackingId>>, writer: Option<u64>) {
        if let Some(w) = writer {
            *self.writers.entry(w).or_default() += 1;
        }
        let o = self.map.entry(ino).or_default();
        o.count += 1;
        if o.backing.is_none() {
            o.backing = backing;
        }
    }

    /// Returns true when that was the last open of the inode (its backing id is dropped).
    pub fn closed(&mut self, ino: u64, writer: Option<u64>) -> bool {
        if let Some(w) = writer {
            if let Some(n) = self.writers.get_mut(&w) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.writers.remove(&w);
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
