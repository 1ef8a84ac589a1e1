//! The inode table: kernel node ids ↔ volume paths, with lookup counts. A name is keyed by its
//! folded spelling (case-insensitive) and its view: a location-bearing file has a real node and
//! a redacted-view node, two distinct kernel inodes (SPEC §7).

use mediaprovider_policy::paths::{fold, VolPath};
use std::collections::HashMap;

pub const ROOT_INO: u64 = 1;
/// Redacted views: the lower inode number with this bit set (a distinct st_ino per view).
const VIEW_BIT: u64 = 1 << 48;
/// Ids handed out when the natural one is taken (hard links, inode reuse while the kernel
/// still holds the old node).
const FALLBACK_BASE: u64 = 1 << 56;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// The lower file as it is (passthrough for entitled callers).
    Real,
    /// Location bytes rewritten; served by the daemon, read-only.
    Redacted,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub path: VolPath,
    /// The lower file's inode number: node ids derive from it, so a file keeps its st_ino
    /// while it exists even after the kernel forgot its node.
    lower_ino: u64,
    pub parent: u64,
    pub is_dir: bool,
    pub view: View,
    nlookup: u64,
    /// The name no longer resolves to this node (unlinked or renamed over).
    detached: bool,
}

type NameKey = (u64, String, View);

pub struct Inodes {
    nodes: HashMap<u64, Node>,
    by_name: HashMap<NameKey, u64>,
    next: u64,
}

impl Default for Inodes {
    fn default() -> Self {
        Self::new()
    }
}

impl Node {
    pub fn lower_ino(&self) -> u64 {
        self.lower_ino
    }

    /// Its name was unlinked or replaced: whatever the name holds now is another file, even
    /// with the same inode number (the lower filesystem reuses them).
    pub fn is_detached(&self) -> bool {
        self.detached
    }
}

impl Inodes {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn new() -> Inodes {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT_INO,
            Node {
                path: VolPath::root(),
                lower_ino: 0,
                parent: ROOT_INO,
                is_dir: true,
                view: View::Real,
                nlookup: 1,
                detached: false,
            },
        );
        Inodes {
            nodes,
            by_name: HashMap::new(),
            next: FALLBACK_BASE,
        }
    }

    pub fn get(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    /// The node for `path` (child of `parent`) in `view`, created if needed; counts one kernel
    /// lookup when `count` is set. `lower_ino` is the lower file's st_ino.
    pub fn acquire(
        &mut self,
        parent: u64,
        path: &VolPath,
        is_dir: bool,
        view: View,
        count: bool,
        lower_ino: u64,
    ) -> u64 {
        let key = (parent, fold(path.file_name()), view);
        if let Some(&ino) = self.by_name.get(&key) {
            if let Some(n) = self.nodes.get_mut(&ino) {
                if n.is_dir == is_dir && n.lower_ino == lower_ino {
                    if count {
                        n.nlookup += 1;
                    }
                    // Keep the on-disk spelling current (case-only renames behind our back).
                    if n.path.as_str() != path.as_str() {
                        n.path = path.clone();
                    }
                    return ino;
                }
                // The name now refers to another lower entry: detach the old node.
                n.detached = true;
            }
        }
        let natural = match view {
            View::Real => lower_ino,
            View::Redacted => lower_ino | VIEW_BIT,
        };
        let ino = if natural > ROOT_INO
            && natural < FALLBACK_BASE
            && !self.nodes.contains_key(&natural)
        {
            natural
        } else {
            self.next += 1;
            self.next
        };
        self.nodes.insert(
            ino,
            Node {
                path: path.clone(),
                lower_ino,
                parent,
                is_dir,
                view,
                nlookup: u64::from(count),
                detached: false,
            },
        );
        self.by_name.insert(key, ino);
        ino
    }

    /// The kernel dropped `n` lookups; the node goes when none remain (and nothing holds it).
    pub fn forget(&mut self, ino: u64, n: u64, held_open: bool) {
        if ino == ROOT_INO {
            return;
        }
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        node.nlookup = node.nlookup.saturating_sub(n);
        if node.nlookup == 0 && !held_open {
            self.drop_node(ino);
        }
    }

    /// Drops a node with no lookups left once its last handle closes.
    pub fn release_if_unused(&mut self, ino: u64) {
        if self.nodes.get(&ino).is_some_and(|n| n.nlookup == 0) && ino != ROOT_INO {
            self.drop_node(ino);
        }
    }

    fn drop_node(&mut self, ino: u64) {
        if let Some(node) = self.nodes.remove(&ino) {
            let key = (node.parent, fold(node.path.file_name()), node.view);
            if self.by_name.get(&key) == Some(&ino) {
                self.by_name.remove(&key);
            }
        }
    }

    /// Both views of a name that went away (unlink, rmdir, replaced by rename).
    pub fn detach_name(&mut self, parent: u64, name: &str) -> Vec<u64> {
        let mut gone = Vec::new();
        for view in [View::Real, View::Redacted] {
            if let Some(ino) = self.by_name.remove(&(parent, fold(name), view)) {
                if let Some(n) = self.nodes.get_mut(&ino) {
                    n.detached = true;
                }
                gone.push(ino);
            }
        }
        gone
    }

    /// Moves a name; a directory's descendants get their paths rebased. Returns the nodes the
    /// target name held (now detached).
    pub fn rename(
        &mut self,
        parent: u64,
        name: &str,
        new_parent: u64,
        new_path: &VolPath,
    ) -> Vec<u64> {
        let replaced = self.detach_name(new_parent, new_path.file_name());
        for view in [View::Real, View::Redacted] {
            let Some(ino) = self.by_name.remove(&(parent, fold(name), view)) else {
                continue;
            };
            let Some(node) = self.nodes.get_mut(&ino) else {
                continue;
            };
            let old_path = std::mem::replace(&mut node.path, new_path.clone());
            node.parent = new_parent;
            let is_dir = node.is_dir;
            self.by_name
                .insert((new_parent, fold(new_path.file_name()), view), ino);
            if is_dir {
                for n in self.nodes.values_mut() {
                    if n.path != *new_path && n.path.starts_with(&old_path) {
                        if let Some(p) = n.path.rebase(&old_path, new_path) {
                            n.path = p;
                        }
                    }
                }
            }
        }
        replaced
    }

    /// The node currently bound to a name, if the kernel knows it.
    pub fn find(&self, parent: u64, name: &str, view: View) -> Option<u64> {
        self.by_name.get(&(parent, fold(name), view)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> VolPath {
        VolPath::parse(s).unwrap()
    }

    #[test]
    fn views_are_distinct_and_names_case_insensitive() {
        let mut t = Inodes::new();
        let d = t.acquire(ROOT_INO, &p("DCIM"), true, View::Real, true, 100);
        let x = t.acquire(d, &p("DCIM/a.jpg"), false, View::Real, true, 101);
        let y = t.acquire(d, &p("DCIM/a.jpg"), false, View::Redacted, true, 101);
        assert_ne!(x, y);
        assert_eq!(
            t.acquire(d, &p("DCIM/A.JPG"), false, View::Real, true, 101),
            x
        );
        assert_eq!(x, 101);
        assert_eq!(y, 101 | VIEW_BIT);
        t.forget(x, 2, false);
        assert!(t.get(x).is_none());
        assert!(t.get(y).is_some());
        // Forgotten and looked up again: the same st_ino.
        assert_eq!(
            t.acquire(d, &p("DCIM/a.jpg"), false, View::Real, true, 101),
            x
        );
        // Replaced behind our back (new lower inode): a new node.
        assert_eq!(
            t.acquire(d, &p("DCIM/a.jpg"), false, View::Real, true, 102),
            102
        );
    }

    #[test]
    fn rename_rebases_descendants() {
        let mut t = Inodes::new();
        let d = t.acquire(ROOT_INO, &p("Pictures"), true, View::Real, true, 10);
        let s = t.acquire(d, &p("Pictures/Trip"), true, View::Real, true, 11);
        let f = t.acquire(s, &p("Pictures/Trip/a.jpg"), false, View::Real, true, 12);
        t.rename(d, "trip", d, &p("Pictures/Holiday"));
        assert_eq!(t.get(f).unwrap().path.as_str(), "Pictures/Holiday/a.jpg");
        assert_eq!(t.find(d, "HOLIDAY", View::Real), Some(s));
        assert_eq!(t.find(d, "Trip", View::Real), None);
    }
}
