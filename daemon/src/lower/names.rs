//! Case-insensitive name index, one map per lower directory: folded name → on-disk name.
//!
//! A lookup miss or a create must not read a whole directory (SPEC §10). A directory is read
//! once, its names kept with the version of the directory they were read at (inode, mtime,
//! ctime); the daemon's own creates, unlinks and renames update the map and its version, so it
//! stays valid while only the daemon changes the directory. A change behind the daemon's back
//! moves mtime/ctime, and the next miss reads the directory again. The maps are a cache: they
//! are bounded and dropped wholesale when the bound is reached. A name costs its bytes and
//! about 30 bytes of map: folded names are kept as a keyed hash, not a second string (two
//! names with one hash only cost a directory read: see [`NameIndex::lookup`]).

use mediaprovider_policy::paths::{eq_fold, hash_folded};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

/// Most names kept in memory across all directories (about 45 bytes each: ~3 MiB). A
/// directory with more entries is read on each lookup miss instead.
const MAX_NAMES: usize = 64 * 1024;

/// A directory's identity and version: (device, inode) and (mtime, ctime) in nanoseconds.
pub type DirKey = (u64, u64);
pub type DirVersion = (i64, i64);

struct DirNames {
    version: DirVersion,
    /// Folded-name hash → where the on-disk spelling sits in `bytes`.
    names: HashMap<u64, (u32, u8)>,
    bytes: String,
    /// Bytes of `bytes` that current names use (the rest were removed or replaced).
    live: usize,
}

impl DirNames {
    fn get(&self, key: u64) -> Option<&str> {
        let &(at, len) = self.names.get(&key)?;
        self.bytes.get(at as usize..at as usize + usize::from(len))
    }

    fn insert(&mut self, key: u64, name: &str) -> bool {
        // Names are at most NAME_MAX bytes; anything longer is simply not indexed.
        let Ok(len) = u8::try_from(name.len()) else {
            return false;
        };
        if self.bytes.len() > 2 * self.live + 4096 {
            self.compact();
        }
        let at = self.bytes.len() as u32;
        self.bytes.push_str(name);
        self.live += name.len();
        match self.names.insert(key, (at, len)) {
            Some((_, old)) => {
                self.live -= usize::from(old);
                false
            }
            None => true,
        }
    }

    /// Removes `name`; `None` when another name holds its hash (the map can no longer answer
    /// for that one: the caller drops the map).
    fn remove(&mut self, key: u64, name: &str) -> Option<bool> {
        match self.get(key) {
            None => Some(false),
            Some(held) if !eq_fold(held, name) => None,
            Some(_) => {
                if let Some((_, len)) = self.names.remove(&key) {
                    self.live -= usize::from(len);
                }
                Some(true)
            }
        }
    }

    /// Drops the bytes of removed names.
    fn compact(&mut self) {
        let mut bytes = String::new();
        for (at, len) in self.names.values_mut() {
            let start = *at as usize;
            let name = self
                .bytes
                .get(start..start + usize::from(*len))
                .unwrap_or("");
            *at = bytes.len() as u32;
            bytes.push_str(name);
        }
        self.bytes = bytes;
    }
}

#[derive(Default)]
pub struct NameIndex {
    state: Mutex<State>,
    hasher: RandomState,
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

    fn key(&self, name: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        hash_folded(name, &mut h);
        h.finish()
    }

    pub fn lookup(&self, dir: DirKey, version: DirVersion, name: &str) -> Known {
        let key = self.key(name);
        let st = self.state();
        match st.dirs.get(&dir) {
            Some(d) if d.version == version => match d.get(key) {
                Some(actual) if eq_fold(actual, name) => Known::Present(actual.to_string()),
                // Another name with the same hash (or a name too long to index): read.
                Some(_) => Known::Unknown,
                None => Known::Absent,
            },
            _ => Known::Unknown,
        }
    }

    /// Records a full read of `dir` at `version`.
    pub fn fill(&self, dir: DirKey, version: DirVersion, names: &[String]) {
        // A name longer than NAME_MAX cannot be indexed, and an index without it would
        // answer "absent": such a directory is read on every miss instead.
        if names.len() > MAX_NAMES || names.iter().any(|n| n.len() > usize::from(u8::MAX)) {
            return;
        }
        let mut map = DirNames {
            version,
            names: HashMap::with_capacity(names.len()),
            bytes: String::with_capacity(names.iter().map(|n| n.len()).sum()),
            live: 0,
        };
        for n in names {
            // Two spellings of one folded name on disk: the last one read answers.
            map.insert(self.key(n), n);
        }
        let mut st = self.state();
        let n = map.names.len();
        if st.total + n > MAX_NAMES {
            st.dirs.clear();
            st.total = 0;
        }
        st.total += n;
        if let Some(old) = st.dirs.insert(dir, map) {
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
            match d.remove(self.key(r), r) {
                Some(true) => delta -= 1,
                Some(false) => {}
                None => {
                    let n = d.names.len();
                    st.dirs.remove(&dir);
                    st.total -= n;
                    return;
                }
            }
        }
        if let Some(a) = added {
            if a.len() > usize::from(u8::MAX) {
                // Not indexable (see `fill`): read the directory from now on.
                let n = d.names.len();
                st.dirs.remove(&dir);
                st.total -= n;
                return;
            }
            if d.insert(self.key(a), a) {
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

    #[test]
    fn churn_in_one_directory_keeps_its_bytes_bounded() {
        let idx = NameIndex::default();
        let d = (1, 2);
        idx.fill(d, (0, 0), &["keep.txt".to_string()]);
        for i in 0..100_000i64 {
            let name = format!("a-rather-long-file-name-number-{i}.jpg");
            idx.changed(d, (i, i), (i, i + 1), Some(&name), None);
            idx.changed(d, (i, i + 1), (i + 1, i + 1), None, Some(&name));
        }
        let v = (100_000, 100_000);
        assert_eq!(
            idx.lookup(d, v, "KEEP.TXT"),
            Known::Present("keep.txt".into())
        );
        assert_eq!(
            idx.lookup(d, v, "a-rather-long-file-name-number-7.jpg"),
            Known::Absent
        );
        assert_eq!(idx.len(), 1);
        let st = idx.state();
        assert!(
            st.dirs[&d].bytes.len() < 8192,
            "{}",
            st.dirs[&d].bytes.len()
        );
    }
}
