//! The lower-tree side of fact gathering, for the daemon and `explain` alike: `.nomedia`
//! presence and location verdicts, each tied to one version of the lower file (inode, size,
//! mtime, ctime; SPEC §9). The rules that combine them live in `mediaprovider_policy::facts`.

use crate::lower::{FileVersion, Lower, Stat};
use mediaprovider_policy::facts::LowerFacts;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::redact::{self, LocationRange};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};

/// Scans kept in memory. One costs about 190 bytes (map entry, `Scan`, its ranges' `Arc`):
/// 200,000 of them were 38 MiB after one listing of a large unindexed tree. The cache only
/// bridges until the indexer records the verdicts in the store and covers what a gallery opens
/// again and again; 32,768 is plenty for that and bounds it at ~6 MiB.
const MAX_CACHED: usize = 32 * 1024;
/// Attempts at reading a file that a writer keeps rewriting (header scans here, redacted
/// reads in `serve/fs/io.rs`) before failing closed.
pub const CHANGING_FILE_ATTEMPTS: u32 = 8;

/// Before attempt `attempt` at reading a changing file: 0.2, 0.4, … 12.8 ms (25 ms in all)
/// for its writer to pause.
pub fn pause_before(attempt: u32) {
    if attempt > 0 {
        std::thread::sleep(std::time::Duration::from_micros(100 << attempt));
    }
}

/// The scanner's answer for one version of a file.
pub struct Scan {
    pub version: FileVersion,
    pub ranges: Arc<Vec<LocationRange>>,
}

impl Scan {
    pub fn has_location(&self) -> bool {
        !self.ranges.is_empty()
    }
}

/// Verdicts by file version: a changed file has a new version, so a stale entry is never hit.
#[derive(Default)]
pub struct LocationCache {
    map: Mutex<HashMap<FileVersion, Arc<Scan>>>,
}

impl LocationCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FileVersion, Arc<Scan>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, v: &FileVersion) -> Option<Arc<Scan>> {
        self.lock().get(v).cloned()
    }

    pub fn put(&self, scan: Arc<Scan>) {
        let mut m = self.lock();
        if m.len() >= MAX_CACHED {
            m.clear();
        }
        m.insert(scan.version, scan);
    }

    /// The scan of `file`'s current version, from the cache or by scanning its headers.
    pub fn scan(&self, file: &File) -> io::Result<Arc<Scan>> {
        let v = version_of(file)?;
        if let Some(s) = self.get(&v) {
            return Ok(s);
        }
        let s = Arc::new(scan_file(file)?);
        self.put(s.clone());
        Ok(s)
    }
}

pub fn version_of(file: &File) -> io::Result<FileVersion> {
    crate::lower::fstat(file.as_fd()).map(|s| s.version())
}

/// Scans an open file's headers; the result is tagged with the version it was read from. A
/// file that changes while being scanned is scanned again; one that keeps changing fails.
pub fn scan_file(file: &File) -> io::Result<Scan> {
    for attempt in 0..CHANGING_FILE_ATTEMPTS {
        pause_before(attempt);
        let before = version_of(file)?;
        let result = redact::scan(file);
        if version_of(file)? == before {
            return Ok(Scan {
                version: before,
                ranges: Arc::new(result.ranges),
            });
        }
    }
    Err(io::Error::new(
        io::ErrorKind::WouldBlock,
        "file kept changing while its headers were scanned",
    ))
}

/// [`LowerFacts`] over the lower tree, with the verdict cache.
pub struct Probe<'a> {
    pub lower: &'a Lower,
    pub cache: &'a LocationCache,
}

impl LowerFacts for Probe<'_> {
    fn has_nomedia(&self, dir: &VolPath) -> bool {
        self.lower.has_nomedia(dir)
    }

    fn has_location(&self, path: &VolPath) -> bool {
        let scan = self
            .lower
            .open_file(path, libc::O_RDONLY)
            .and_then(|f| self.cache.scan(&f));
        match scan {
            // In memory only: a read path writes nothing; the indexer stores verdicts.
            Ok(s) => s.has_location(),
            // Fail closed: a file that cannot be scanned is treated as location-bearing.
            Err(_) => true,
        }
    }
}

/// The stat of a lower entry, for callers outside this module.
pub fn stat_of(file: &File) -> io::Result<Stat> {
    crate::lower::fstat(file.as_fd())
}
