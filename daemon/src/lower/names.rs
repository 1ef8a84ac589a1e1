//! Case-insensitive name index, one map per lower directory: folded name → on-disk name.
//!
//! A lookup miss or a create must not read a whole directory (SPEC §10). A directory is read
//! once, its names kept with the version of the directory they were read at (inode, mtime,
//! ctime); the daemon's own creates, unlinks and renames update the map and its version, so it
//! stays valid while only the daemon changes the directory. A change behind the daemon's back
//! moves mtime/ctime, and the next miss reads the directory again. The maps are a cache: they
//! are bounded and dropped wholesale when the bound is reached.

use mediaprovider_policy::paths::fold;
use std::collections::HashMap;
use std::sync::Mutex;

/// Most names kept in memory across all directories (about 100 bytes each).
const MAX_NAMES: usize = 256 * 1024;

/// A directory's identity and version: (device, inode) and (mtime, ctime) in nanoseconds.
pub type DirKey = (u64, u64);
pub type DirVersion = (i64, i64);

struct DirNames {
    version: DirVersion,
    names: HashMap<String, String>,
}

#[derive(Default)]
pub struct NameIndex {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    dirs: HashMap<DirKey, DirNames>,
    total: usize,
}

/// What the index knows about a name in one directory version.
#[derive(Debug, PartialEq, Eq)]
pub enum Known {
    /// The directory holds this on-disk spelling of the name.
    Present(String),
    /// The directory holds no spelling of the name.
    Absent,
    /// The index has no current map of this directory: read it.
    Unknown,
}

impl NameIndex {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lookup(&self, dir: DirKey, version: DirVersion, name: &str) -> Known {
        let st = self.state();
        match st.dirs.get(&dir) {
            Some(d) if d.version == version => match d.names.get(&fold(name)) {
                Some(actual) => Known::Present(actual.clone()),
                None => Known::Absent,
            },
            _ => Known::Unknown,
        }
    }

    /// Records a full read of `dir` at `version`.
    pub fn fill(&self, dir: DirKey, version: DirVersion, names: &[String]) {
        if names.len() > MAX_NAMES {
            return;
        }
        let map: HashMap<String, String> = names.iter().map(|n| (fold(n), n.clone())).collect();
        let mut st = self.state();
        if st.total + map.len() > MAX_NAMES {
            st.dirs.clear();
            st.total = 0;
        }
        st.total += map.len();
        if let Some(old) = st.dirs.insert(
            dir,
            DirNames {
                version,
                names: map,
            },
        ) {
            st.total -= old.names.len();
        }
    }

    /// The daemon itself changed `dir` (which was at `before`) and it is now at `after`:
    /// apply the change to a current map, or drop a stale one.
    pub fn changed(
        &self,
        dir: DirKey,
        before: DirVersion,
        after: DirVersion,
        added: Option<&str>,
        removed: Option<&str>,
    ) {
        let mut st = self.state();
        let Some(d) = st.dirs.get_mut(&dir) else {
            return;
        };
        if d.version != before {
            let n = d.names.len();
            st.dirs.remove(&dir);
            st.total -= n;
            return;
        }
        let mut delta: isize = 0;
        if let Some(r) = removed {
            if d.names.remove(&fold(r)).is_some() {
                delta -= 1;
            }
        }
        if let Some(a) = added {
            if d.names.insert(fold(a), a.to_string()).is_none() {
                delta += 1;
            }
        }
        d.version = after;
        st.total = st.total.saturating_add_signed(delta);
    }

    /// Drops the map of one directory (it changed in a way the daemon did not track).
    pub fn forget(&self, dir: DirKey) {
        let mut st = self.state();
        if let Some(d) = st.dirs.remove(&dir) {
            st.total -= d.names.len();
        }
    }

    pub fn len(&self) -> usize {
        self.state().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_versions_and_own_changes() {
        let idx = NameIndex::default();
        let d = (1, 2);
        assert_eq!(idx.lookup(d, (1, 1), "a"), Known::Unknown);
        idx.fill(d, (1, 1), &["Foo.txt".to_string()]);
        assert_eq!(
            idx.lookup(d, (1, 1), "FOO.TXT"),
            Known::Present("Foo.txt".into())
        );
        assert_eq!(idx.lookup(d, (1, 1), "bar"), Known::Absent);
        // Changed behind our back: unknown until read again.
        assert_eq!(idx.lookup(d, (2, 2), "bar"), Known::Unknown);
        // Our own change from the indexed version keeps it current.
        idx.changed(d, (1, 1), (3, 3), Some("BAR"), Some("foo.TXT"));
        assert_eq!(idx.lookup(d, (3, 3), "bar"), Known::Present("BAR".into()));
        assert_eq!(idx.lookup(d, (3, 3), "foo.txt"), Known::Absent);
        assert_eq!(idx.len(), 1);
        // A change from a version we did not index drops the map.
        idx.changed(d, (9, 9), (10, 10), Some("x"), None);
        assert_eq!(idx.lookup(d, (10, 10), "x"), Known::Unknown);
        assert_eq!(idx.len(), 0);
    }
}
