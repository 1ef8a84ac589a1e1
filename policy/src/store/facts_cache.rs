//! The decision hot path's store lookups, in memory: the file row a decision reads and the
//! caller's grant on it, for recently decided paths (SPEC §10: a decision in < 5 µs at 1M
//! files). Shared by every connection of one [`Opener`] (the daemon's worker pool).
//!
//! Never stale: every entry carries the store version it was read at (the WAL-index header,
//! see `wal_version.rs`), and a hit counts only while the version is unchanged. Any commit to
//! the store, by any connection of this process or by another process (an `app` command
//! writes the store directly, then tells the daemon), changes it, so the next decision after
//! a write reads the store again: no write path has to remember to invalidate anything.
//! The version is read before the store is queried, so an entry filled while a commit lands
//! carries the older version and is never hit.
//!
//! Bounded: two generations of at most [`GENERATION_ENTRIES`] paths each; when the young one
//! fills, the old one is dropped. Not a copy of the table.

use super::wal_version::{Version, WalVersion};
use super::{FileRow, Result, Store};
use crate::identity::Caller;
use crate::paths::VolPath;
use crate::rules::Grant;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Paths per generation: two generations bound the cache at 24k entries, ~600 bytes each
/// (key, row, grants by caller; measured with camera-style paths), so ~15 MiB at most
/// whatever the store's size.
const GENERATION_ENTRIES: usize = 12 * 1024;
/// Callers remembered per path (the grant differs per caller).
const CALLERS_PER_PATH: usize = 8;

/// A file row and `caller`'s grant on it, as a decision reads them.
pub type DecisionRow = (Arc<FileRow>, Grant);

/// What one path's entry knows: the row (or that there is none), and grants by caller.
struct Slot {
    row: Option<Arc<FileRow>>,
    grants: Vec<(Vec<String>, Grant)>,
}

impl Slot {
    fn empty() -> Slot {
        Slot {
            row: None,
            grants: Vec::new(),
        }
    }

    /// `Some(None)`: no such row (for anyone); `None`: this caller's grant is not known.
    fn lookup(&self, packages: &[String]) -> Option<Option<DecisionRow>> {
        let Some(row) = &self.row else {
            return Some(None);
        };
        let grant = self
            .grants
            .iter()
            .find(|(p, _)| p.as_slice() == packages)?
            .1;
        Some(Some((row.clone(), grant)))
    }
}

#[derive(Default)]
struct Generations {
    version: Option<Version>,
    young: HashMap<String, Slot>,
    old: HashMap<String, Slot>,
}

impl Generations {
    /// Drops everything read at another version.
    fn at(&mut self, version: &Version) {
        if self.version.as_ref() != Some(version) {
            self.young.clear();
            self.old.clear();
            self.version = Some(*version);
        }
    }

    /// What `key`'s entry says for a caller with `packages`; an entry found in the old
    /// generation moves to the young one (recently decided paths stay).
    fn lookup(&mut self, key: &str, packages: &[String]) -> Option<Option<DecisionRow>> {
        if let Some(slot) = self.young.get(key) {
            return slot.lookup(packages);
        }
        let (k, slot) = self.old.remove_entry(key)?;
        let found = slot.lookup(packages);
        self.make_room();
        self.young.insert(k, slot);
        found
    }

    /// The young-generation entry of `key`, made (empty) if there is none.
    fn slot_mut(&mut self, key: String) -> &mut Slot {
        if !self.young.contains_key(&key) {
            let slot = self.old.remove(&key).unwrap_or_else(Slot::empty);
            self.make_room();
            self.young.insert(key.clone(), slot);
        }
        self.young.entry(key).or_insert_with(Slot::empty)
    }

    fn make_room(&mut self) {
        if self.young.len() >= GENERATION_ENTRIES {
            self.old = std::mem::take(&mut self.young);
        }
    }
}

pub(crate) struct FactsCache {
    /// `None` for an in-memory store (a single connection: nothing to share, nothing to gain).
    db: Option<PathBuf>,
    wal: OnceLock<Option<WalVersion>>,
    entries: Mutex<Generations>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl FactsCache {
    pub(crate) fn new(db: Option<&Path>) -> FactsCache {
        FactsCache {
            db: db.map(Path::to_path_buf),
            wal: OnceLock::new(),
            entries: Mutex::new(Generations::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The store's version now; `None`: unknown, do not use the cache. The WAL index is mapped
    /// on first use; threads that race there each open it without waiting on one another (the
    /// open is file I/O), and all but the first drop theirs.
    fn version(&self) -> Option<Version> {
        let wal = match self.wal.get() {
            Some(w) => w,
            None => {
                let opened = self.db.as_deref().and_then(WalVersion::open);
                self.wal.get_or_init(|| opened)
            }
        };
        wal.as_ref()?.read()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Some(found)` if `key` was decided at `version` for a caller with `packages`.
    fn get(
        &self,
        version: &Version,
        key: &str,
        packages: &[String],
    ) -> Option<Option<DecisionRow>> {
        let mut g = self.lock();
        g.at(version);
        g.lookup(key, packages)
    }

    /// Records what the store said at `version` (read before the store was queried).
    fn put(
        &self,
        version: &Version,
        key: String,
        packages: &[String],
        found: &Option<DecisionRow>,
    ) {
        let mut g = self.lock();
        if g.version.as_ref() != Some(version) {
            // Either this read is older than the cache (drop it) or newer (start afresh at
            // its version, if that is still the store's).
            drop(g);
            if self.version().as_ref() != Some(version) {
                return;
            }
            g = self.lock();
            g.at(version);
        }
        let slot = g.slot_mut(key);
        match found {
            None => {
                slot.row = None;
                slot.grants.clear();
            }
            Some((row, grant)) => {
                slot.row = Some(row.clone());
                slot.grants.retain(|(p, _)| p.as_slice() != packages);
                if slot.grants.len() >= CALLERS_PER_PATH {
                    slot.grants.remove(0);
                }
                slot.grants.push((packages.to_vec(), *grant));
            }
        }
    }
}

/// Opens more connections to one store that share its decision cache (the daemon's pool).
#[derive(Clone)]
pub struct Opener {
    db: PathBuf,
    cache: Arc<FactsCache>,
}

impl Opener {
    pub fn open(&self) -> Result<Store> {
        let mut s = Store::open(&self.db)?;
        s.facts_cache = self.cache.clone();
        Ok(s)
    }

    pub fn path(&self) -> &Path {
        &self.db
    }
}

impl Store {
    /// An opener of further connections sharing this one's decision cache.
    pub fn opener(&self) -> Opener {
        Opener {
            db: self.path.clone(),
            cache: self.facts_cache.clone(),
        }
    }

    /// The row of `path` and `caller`'s grant on it, for a decision: from the cache when the
    /// store has not changed since it was read, else one indexed query (`file_with_grant`).
    pub fn decision_row(&self, caller: &Caller, path: &VolPath) -> Result<Option<DecisionRow>> {
        // Inside an open transaction this connection sees its own uncommitted writes, which no
        // version reflects yet: ask the store.
        let version = if self.conn.is_autocommit() {
            self.facts_cache.version()
        } else {
            None
        };
        let Some(version) = version else {
            return self.decision_row_uncached(caller, path);
        };
        let key = path.key();
        let cache = &self.facts_cache;
        if let Some(hit) = cache.get(&version, &key, &caller.packages) {
            cache.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        cache.misses.fetch_add(1, Ordering::Relaxed);
        let found = self.decision_row_uncached(caller, path)?;
        cache.put(&version, key, &caller.packages, &found);
        Ok(found)
    }

    fn decision_row_uncached(
        &self,
        caller: &Caller,
        path: &VolPath,
    ) -> Result<Option<DecisionRow>> {
        Ok(self
            .file_with_grant(caller, path)?
            .map(|(row, grant)| (Arc::new(row), grant)))
    }

    /// Decisions answered from the cache and from the store so far, by every connection that
    /// shares this one's cache (tests and `--stats`).
    pub fn decision_cache_counts(&self) -> (u64, u64) {
        (
            self.facts_cache.hits.load(Ordering::Relaxed),
            self.facts_cache.misses.load(Ordering::Relaxed),
        )
    }
}
