//! `.nomedia` verdicts per directory, remembered with the directory's identity and version.
//!
//! Every decision asks whether a `.nomedia` hides the file (SPEC §5.2), once per ancestor.
//! Answered from scratch that is an `openat2`, two stats and a close per ancestor; with this
//! memo it is one `lstat` per ancestor. A verdict holds while the directory is the same inode
//! at the same (mtime, ctime): adding or removing `.nomedia` in it — through the daemon or
//! behind its back — moves both, so the next check answers from scratch. The `lstat` resolves
//! the path from the root without `RESOLVE_BENEATH`, which is safe here because the verdict is
//! only used when the inode and version match one found by a checked walk: whatever the path
//! reaches, it is that same directory, unchanged.

use super::{DirKey, DirVersion};
use std::collections::HashMap;
use std::sync::Mutex;

/// Most directories remembered; the memo is dropped wholesale when full (it is a cache).
const MAX_DIRS: usize = 64 * 1024;

#[derive(Default)]
pub struct NomediaMemo {
    dirs: Mutex<HashMap<String, (DirKey, DirVersion, bool)>>,
}

impl NomediaMemo {
    fn dirs(&self) -> std::sync::MutexGuard<'_, HashMap<String, (DirKey, DirVersion, bool)>> {
        self.dirs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The remembered verdict for `dir` if it is still this inode at this version.
    pub fn get(&self, dir: &str, key: DirKey, version: DirVersion) -> Option<bool> {
        match self.dirs().get(dir) {
            Some(&(k, v, verdict)) if k == key && v == version => Some(verdict),
            _ => None,
        }
    }

    /// Remembers a verdict reached from scratch at `version` (read before the check, so a
    /// `.nomedia` added meanwhile changes the version and is seen next time).
    pub fn put(&self, dir: &str, key: DirKey, version: DirVersion, verdict: bool) {
        let mut dirs = self.dirs();
        if dirs.len() >= MAX_DIRS {
            dirs.clear();
        }
        dirs.insert(dir.to_string(), (key, version, verdict));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_holds_only_for_the_same_inode_and_version() {
        let m = NomediaMemo::default();
        m.put("DCIM", (1, 2), (10, 11), true);
        assert_eq!(m.get("DCIM", (1, 2), (10, 11)), Some(true));
        assert_eq!(m.get("DCIM", (1, 3), (10, 11)), None, "another inode");
        assert_eq!(m.get("DCIM", (1, 2), (10, 12)), None, "changed since");
        assert_eq!(m.get("Music", (1, 2), (10, 11)), None);
    }
}
