//! The inode table: kernel node ids ↔ names, with lookup counts. A node is a name in its
//! parent node, not a path: paths are rebuilt on demand, so a directory rename moves one node
//! whatever lies below it, and a node costs about 50 bytes (see `table`). A name is keyed by
//! its folded spelling (case-insensitive) and its view: a location-bearing file has a real node
//! and a redacted-view node, two distinct kernel inodes (SPEC §7).

mod table;

use mediaprovider_policy::paths::{eq_fold, hash_folded, VolPath};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use table::{Index, Node, Table, DETACHED, DIR, LIVE, REDACTED};

pub const ROOT_INO: u64 = 1;
/// Redacted views: the lower inode number with this bit set (a distinct st_ino per view).
const VIEW_BIT: u64 = 1 << 48;
/// Ids handed out when the natural one is taken (hard links, inode reuse while the kernel
/// still holds the old node).
const FALLBACK_BASE: u64 = 1 << 56;
const ROOT_SLOT: u32 = 0;
/// Deeper than any path the lower tree can hold (PATH_MAX / 2): a bound on parent walks.
const MAX_DEPTH: usize = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// The lower file as it is (passthrough for entitled callers).
    Real,
    /// Location bytes rewritten; served by the daemon, read-only.
    Redacted,
}

/// What a request is about: a node as the table has it now.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub path: VolPath,
    pub is_dir: bool,
    pub view: View,
    /// The lower file's inode number (0 for the root).
    pub lower_ino: u64,
    /// The parent's node id.
    pub parent: u64,
    /// The name no longer resolves to this node (unlinked or renamed over): whatever the name
    /// holds now is another file, even with the same inode number (the lower filesystem reuses
    /// them).
    pub detached: bool,
}

pub struct Inodes {
    t: Table,
    /// Keyed hashing: names come from apps, which must not be able to pile them on one chain.
    hasher: RandomState,
    /// Lower inode numbers of nodes whose id is not derived from it (rare).
    fallback_lower: HashMap<u64, u64>,
    next: u64,
}

impl Default for Inodes {
    fn default() -> Self {
        Self::new()
    }
}

/// The node id a lower inode naturally gets in a view.
fn natural_ino(lower_ino: u64, view: View) -> u64 {
    match view {
        View::Real => lower_ino,
        View::Redacted => lower_ino | VIEW_BIT,
    }
}

fn mix(ino: u64) -> u64 {
    // splitmix64's finalizer: inode numbers are dense, the index wants them spread.
    let mut z = ino.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn view_of(flags: u8) -> View {
    if flags & REDACTED != 0 {
        View::Redacted
    } else {
        View::Real
    }
}

fn name_hash(hasher: &RandomState, parent: u32, view: View, name: &str) -> u64 {
    let mut h = hasher.build_hasher();
    (parent, view).hash(&mut h);
    hash_folded(name, &mut h);
    h.finish()
}

/// Index callbacks: a node's hash in each index (`None`: not in it).
fn ino_hash_of(t: &Table, slot: u32) -> Option<u64> {
    Some(mix(t.node(slot).ino()))
}

impl Inodes {
    pub fn new() -> Inodes {
        let mut t = Table::default();
        let root = t.add(Node::new(ROOT_INO, ROOT_SLOT, 1, LIVE | DIR), "");
        t.link(Index::Ino, mix(ROOT_INO), root, ino_hash_of);
        Inodes {
            t,
            hasher: RandomState::new(),
            fallback_lower: HashMap::new(),
            next: FALLBACK_BASE,
        }
    }

    pub fn len(&self) -> usize {
        self.t.live()
    }

    fn slot_of(&self, ino: u64) -> Option<u32> {
        self.t
            .find(Index::Ino, mix(ino), |s| self.t.node(s).ino() == ino)
    }

    fn node_name_hash(&self, slot: u32) -> u64 {
        let n = self.t.node(slot);
        name_hash(&self.hasher, n.parent, view_of(n.flags), self.t.name(slot))
    }

    fn find_slot(&self, parent: u32, name: &str, view: View) -> Option<u32> {
        let hash = name_hash(&self.hasher, parent, view, name);
        self.t.find(Index::Name, hash, |s| {
            let n = self.t.node(s);
            n.parent == parent && view_of(n.flags) == view && eq_fold(self.t.name(s), name)
        })
    }

    fn link_name(&mut self, slot: u32) {
        let hash = self.node_name_hash(slot);
        let hasher = &self.hasher;
        self.t.link(Index::Name, hash, slot, |t, s| {
            let n = t.node(s);
            (s != ROOT_SLOT && n.flags & DETACHED == 0)
                .then(|| name_hash(hasher, n.parent, view_of(n.flags), t.name(s)))
        });
    }

    /// Takes a node out of the name index and marks it detached.
    fn detach(&mut self, slot: u32) {
        if self.t.node(slot).flags & DETACHED == 0 {
            let hash = self.node_name_hash(slot);
            self.t.unlink(Index::Name, hash, slot);
            self.t.node_mut(slot).flags |= DETACHED;
        }
    }

    fn lower_ino_of(&self, slot: u32) -> u64 {
        let ino = self.t.node(slot).ino();
        if ino == ROOT_INO {
            0
        } else if ino < FALLBACK_BASE {
            ino & !VIEW_BIT
        } else {
            self.fallback_lower.get(&ino).copied().unwrap_or(0)
        }
    }

    /// The volume path of a node, rebuilt from its ancestors.
    fn path_of(&self, slot: u32) -> Option<VolPath> {
        let mut names = Vec::new();
        let mut s = slot;
        while s != ROOT_SLOT {
            if !self.t.is_live(s) || names.len() > MAX_DEPTH {
                return None;
            }
            names.push(self.t.name(s));
            s = self.t.node(s).parent;
        }
        if names.is_empty() {
            return Some(VolPath::root());
        }
        let mut p = String::with_capacity(names.iter().map(|n| n.len() + 1).sum());
        for (i, name) in names.iter().rev().enumerate() {
            if i > 0 {
                p.push('/');
            }
            p.push_str(name);
        }
        VolPath::parse(&p).ok()
    }

    /// A node as it is now (its path rebuilt from its ancestors).
    pub fn get(&self, ino: u64) -> Option<NodeInfo> {
        let slot = self.slot_of(ino)?;
        let n = self.t.node(slot);
        Some(NodeInfo {
            path: self.path_of(slot)?,
            is_dir: n.flags & DIR != 0,
            view: view_of(n.flags),
            lower_ino: self.lower_ino_of(slot),
            parent: self.t.node(n.parent).ino(),
            detached: n.flags & DETACHED != 0,
        })
    }

    /// The node for `path` (child of node `parent`) in `view`, created if needed; counts one
    /// kernel lookup when `count` is set. `lower_ino` is the lower file's st_ino. `None` when
    /// the parent is not (any longer) a node.
    pub fn acquire(
        &mut self,
        parent: u64,
        path: &VolPath,
        is_dir: bool,
        view: View,
        count: bool,
        lower_ino: u64,
    ) -> Option<u64> {
        let parent = self.slot_of(parent)?;
        let name = path.file_name();
        if let Some(slot) = self.find_slot(parent, name, view) {
            let n = self.t.node(slot);
            if (n.flags & DIR != 0) == is_dir && self.lower_ino_of(slot) == lower_ino {
                if count {
                    let n = self.t.node_mut(slot);
                    n.nlookup = n.nlookup.saturating_add(1);
                }
                // Keep the on-disk spelling current (case-only renames behind our back; the
                // folded name, and so the hash, stays the same).
                if self.t.name(slot) != name {
                    self.t.set_name(slot, name);
                }
                return Some(self.t.node(slot).ino());
            }
            // The name now refers to another lower entry: detach the old node.
            self.detach(slot);
        }
        let natural = natural_ino(lower_ino, view);
        let ino =
            if natural > ROOT_INO && natural < FALLBACK_BASE && self.slot_of(natural).is_none() {
                natural
            } else {
                self.next += 1;
                self.fallback_lower.insert(self.next, lower_ino);
                self.next
            };
        let mut flags = LIVE;
        if is_dir {
            flags |= DIR;
        }
        if view == View::Redacted {
            flags |= REDACTED;
        }
        let slot = self
            .t
            .add(Node::new(ino, parent, u32::from(count), flags), name);
        self.t.node_mut(parent).children += 1;
        self.t.link(Index::Ino, mix(ino), slot, ino_hash_of);
        self.link_name(slot);
        Some(ino)
    }

    /// The kernel dropped `n` lookups; the node goes when none remain (and nothing holds it).
    pub fn forget(&mut self, ino: u64, n: u64, held_open: bool) {
        if ino == ROOT_INO {
            return;
        }
        let Some(slot) = self.slot_of(ino) else {
            return;
        };
        let node = self.t.node_mut(slot);
        if node.nlookup == u32::MAX {
            return; // saturated: the count is unknown, keep it
        }
        node.nlookup = node
            .nlookup
            .saturating_sub(u32::try_from(n).unwrap_or(u32::MAX));
        if node.nlookup == 0 && !held_open {
            self.drop_unused(slot);
        }
    }

    /// Drops a node with no lookups left once its last handle closes.
    pub fn release_if_unused(&mut self, ino: u64) {
        if let Some(slot) = self.slot_of(ino) {
            if slot != ROOT_SLOT && self.t.node(slot).nlookup == 0 {
                self.drop_unused(slot);
            }
        }
    }

    /// Drops `slot` if nothing refers to it, then its parent if that was all that kept it (a
    /// directory the kernel forgot while a child was still held open).
    fn drop_unused(&mut self, mut slot: u32) {
        loop {
            let n = self.t.node(slot);
            if slot == ROOT_SLOT || n.nlookup != 0 || n.children != 0 || n.flags & LIVE == 0 {
                return;
            }
            let (parent, ino) = (n.parent, n.ino());
            self.detach(slot);
            self.t.unlink(Index::Ino, mix(ino), slot);
            if ino >= FALLBACK_BASE {
                self.fallback_lower.remove(&ino);
            }
            self.t.remove(slot);
            let p = self.t.node_mut(parent);
            p.children = p.children.saturating_sub(1);
            slot = parent;
        }
    }

    /// Both views of a name that went away (unlink, rmdir, replaced by rename).
    pub fn detach_name(&mut self, parent: u64, name: &str) -> Vec<u64> {
        let mut gone = Vec::new();
        let Some(parent) = self.slot_of(parent) else {
            return gone;
        };
        for view in [View::Real, View::Redacted] {
            if let Some(slot) = self.find_slot(parent, name, view) {
                self.detach(slot);
                gone.push(self.t.node(slot).ino());
            }
        }
        gone
    }

    /// Moves a name; whatever lies below a directory moves with it (paths are rebuilt from
    /// parents). Returns the nodes the target name held (now detached).
    pub fn rename(
        &mut self,
        parent: u64,
        name: &str,
        new_parent: u64,
        new_path: &VolPath,
    ) -> Vec<u64> {
        let new_name = new_path.file_name();
        let (Some(from), Some(to)) = (self.slot_of(parent), self.slot_of(new_parent)) else {
            return self.detach_name(new_parent, new_name);
        };
        // A case-only rename detaches the node too: the lower may hold the other spelling as
        // a different file, which the rename just replaced (the kernel looks the name up again).
        let replaced = self.detach_name(new_parent, new_name);
        for view in [View::Real, View::Redacted] {
            let Some(slot) = self.find_slot(from, name, view) else {
                continue;
            };
            self.detach(slot);
            let n = self.t.node_mut(slot);
            n.flags &= !DETACHED;
            n.parent = to;
            self.t.set_name(slot, new_name);
            let f = self.t.node_mut(from);
            f.children = f.children.saturating_sub(1);
            self.t.node_mut(to).children += 1;
            self.link_name(slot);
        }
        replaced
    }

    /// The node currently bound to a name, if the kernel knows it.
    pub fn find(&self, parent: u64, name: &str, view: View) -> Option<u64> {
        let parent = self.slot_of(parent)?;
        self.find_slot(parent, name, view)
            .map(|s| self.t.node(s).ino())
    }

    #[cfg(test)]
    fn slots(&self) -> usize {
        self.t.slots()
    }
}

#[cfg(test)]
mod tests;
