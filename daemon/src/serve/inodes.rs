//! The inode table: kernel node ids ↔ names, with lookup counts. A node is a name in its
//! parent node, not a path: paths are rebuilt on demand, so a directory rename moves one node
//! whatever lies below it, and a node costs 48 bytes plus two 8-byte index buckets (a million nodes,
//! what one traversal of a 1M-file tree leaves the kernel holding, fit in ~80 MiB). A name is
//! keyed by its folded spelling (case-insensitive) and its view: a location-bearing file has a
//! real node and a redacted-view node, two distinct kernel inodes (SPEC §7).

use super::slot_index::SlotIndex;
use mediaprovider_policy::paths::{eq_fold, VolPath, NAME_MAX};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

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

/// A file name, inline when short (most media names are), so most nodes own no heap.
#[derive(Clone, Debug)]
enum Name {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}
const INLINE: usize = 22;

impl Name {
    fn new(s: &str) -> Name {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Name::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            Name::Heap(s.into())
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Built from a &str, so always valid UTF-8; "" would only ever follow a bug.
            Name::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or("")
            }
            Name::Heap(s) => s,
        }
    }
}

const LIVE: u8 = 1;
const DIR: u8 = 2;
const REDACTED: u8 = 4;
const DETACHED: u8 = 8;

#[derive(Clone, Debug)]
struct Node {
    /// The kernel's node id (also the st_ino reported).
    ino: u64,
    name: Name,
    parent: u32,
    /// Kernel lookups; saturates (and then the node is never dropped).
    nlookup: u32,
    /// Live nodes naming this one as parent: a node is only dropped without any, so a parent
    /// walk never reaches a reused slot.
    children: u32,
    flags: u8,
}

impl Node {
    fn view(&self) -> View {
        if self.flags & REDACTED != 0 {
            View::Redacted
        } else {
            View::Real
        }
    }
}

pub struct Inodes {
    nodes: Vec<Node>,
    free: Vec<u32>,
    live: usize,
    by_ino: SlotIndex,
    /// Non-detached nodes by (parent slot, view, folded name).
    by_name: SlotIndex,
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

impl Inodes {
    pub fn new() -> Inodes {
        let root = Node {
            ino: ROOT_INO,
            name: Name::new(""),
            parent: ROOT_SLOT,
            nlookup: 1,
            children: 0,
            flags: LIVE | DIR,
        };
        let mut by_ino = SlotIndex::default();
        by_ino.insert(mix(ROOT_INO), ROOT_SLOT);
        Inodes {
            nodes: vec![root],
            free: Vec::new(),
            live: 1,
            by_ino,
            by_name: SlotIndex::default(),
            hasher: RandomState::new(),
            fallback_lower: HashMap::new(),
            next: FALLBACK_BASE,
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    fn slot_of(&self, ino: u64) -> Option<u32> {
        let nodes = &self.nodes;
        self.by_ino
            .find(mix(ino), |s| nodes[s as usize].ino == ino)
            .map(|(_, s)| s)
    }

    fn name_hash(&self, parent: u32, view: View, name: &str) -> u64 {
        name_hash_with(&self.hasher, parent, view, name)
    }

    fn node_name_hash(&self, slot: u32) -> u64 {
        let n = &self.nodes[slot as usize];
        self.name_hash(n.parent, n.view(), n.name.as_str())
    }

    fn find_slot(&self, parent: u32, name: &str, view: View) -> Option<(usize, u32)> {
        let nodes = &self.nodes;
        self.by_name.find(self.name_hash(parent, view, name), |s| {
            let n = &nodes[s as usize];
            n.parent == parent && n.view() == view && eq_fold(n.name.as_str(), name)
        })
    }

    fn lower_ino_of(&self, n: &Node) -> u64 {
        if n.ino == ROOT_INO {
            0
        } else if n.ino < FALLBACK_BASE {
            n.ino & !VIEW_BIT
        } else {
            self.fallback_lower.get(&n.ino).copied().unwrap_or(0)
        }
    }

    /// The volume path of a node, rebuilt from its ancestors.
    fn path_of(&self, slot: u32) -> Option<VolPath> {
        let mut names = Vec::new();
        let mut s = slot;
        while s != ROOT_SLOT {
            let n = self.nodes.get(s as usize).filter(|n| n.flags & LIVE != 0)?;
            names.push(n.name.as_str());
            if names.len() > MAX_DEPTH {
                return None;
            }
            s = n.parent;
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
        let n = &self.nodes[slot as usize];
        Some(NodeInfo {
            path: self.path_of(slot)?,
            is_dir: n.flags & DIR != 0,
            view: n.view(),
            lower_ino: self.lower_ino_of(n),
            parent: self.nodes[n.parent as usize].ino,
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
        if let Some((pos, slot)) = self.find_slot(parent, name, view) {
            let n = &self.nodes[slot as usize];
            if (n.flags & DIR != 0) == is_dir && self.lower_ino_of(n) == lower_ino {
                let n = &mut self.nodes[slot as usize];
                if count {
                    n.nlookup = n.nlookup.saturating_add(1);
                }
                // Keep the on-disk spelling current (case-only renames behind our back).
                if n.name.as_str() != name {
                    n.name = Name::new(name);
                }
                return Some(n.ino);
            }
            // The name now refers to another lower entry: detach the old node.
            self.unindex_name(pos, slot);
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
        let node = Node {
            ino,
            name: Name::new(name),
            parent,
            nlookup: u32::from(count),
            children: 0,
            flags,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.nodes[s as usize] = node;
                s
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.live += 1;
        self.nodes[parent as usize].children += 1;
        self.index(slot);
        Some(ino)
    }

    fn index(&mut self, slot: u32) {
        self.by_ino.insert(mix(self.nodes[slot as usize].ino), slot);
        self.by_name.insert(self.node_name_hash(slot), slot);
    }

    /// Takes a node out of the name index (at `pos`) and marks it detached.
    fn unindex_name(&mut self, pos: usize, slot: u32) {
        self.by_name.remove_at(pos);
        self.nodes[slot as usize].flags |= DETACHED;
    }

    /// The kernel dropped `n` lookups; the node goes when none remain (and nothing holds it).
    pub fn forget(&mut self, ino: u64, n: u64, held_open: bool) {
        if ino == ROOT_INO {
            return;
        }
        let Some(slot) = self.slot_of(ino) else {
            return;
        };
        let node = &mut self.nodes[slot as usize];
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
            if slot != ROOT_SLOT && self.nodes[slot as usize].nlookup == 0 {
                self.drop_unused(slot);
            }
        }
    }

    /// Drops `slot` if nothing refers to it, then its parent if that was all that kept it.
    fn drop_unused(&mut self, mut slot: u32) {
        loop {
            let n = &self.nodes[slot as usize];
            if slot == ROOT_SLOT || n.nlookup != 0 || n.children != 0 || n.flags & LIVE == 0 {
                return;
            }
            let parent = n.parent;
            let ino = n.ino;
            if n.flags & DETACHED == 0 {
                if let Some((pos, _)) = self.find_slot_exact(slot) {
                    self.unindex_name(pos, slot);
                }
            }
            if let Some((pos, _)) = self.by_ino.find(mix(ino), |s| s == slot) {
                self.by_ino.remove_at(pos);
            }
            if ino >= FALLBACK_BASE {
                self.fallback_lower.remove(&ino);
            }
            let n = &mut self.nodes[slot as usize];
            n.flags = 0;
            n.name = Name::new("");
            self.free.push(slot);
            self.live -= 1;
            let p = &mut self.nodes[parent as usize];
            p.children = p.children.saturating_sub(1);
            // A directory the kernel forgot while a child was still held open goes now.
            slot = parent;
        }
    }

    /// Where `slot` sits in the name index.
    fn find_slot_exact(&self, slot: u32) -> Option<(usize, u32)> {
        self.by_name.find(self.node_name_hash(slot), |s| s == slot)
    }

    /// Both views of a name that went away (unlink, rmdir, replaced by rename).
    pub fn detach_name(&mut self, parent: u64, name: &str) -> Vec<u64> {
        let mut gone = Vec::new();
        let Some(parent) = self.slot_of(parent) else {
            return gone;
        };
        for view in [View::Real, View::Redacted] {
            if let Some((pos, slot)) = self.find_slot(parent, name, view) {
                self.unindex_name(pos, slot);
                gone.push(self.nodes[slot as usize].ino);
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
        if from == to && eq_fold(name, new_name) {
            // A case-only rename: the same name, spelled anew.
            for view in [View::Real, View::Redacted] {
                if let Some((_, slot)) = self.find_slot(from, name, view) {
                    self.nodes[slot as usize].name = Name::new(new_name);
                }
            }
            return Vec::new();
        }
        let replaced = self.detach_name(new_parent, new_name);
        for view in [View::Real, View::Redacted] {
            let Some((pos, slot)) = self.find_slot(from, name, view) else {
                continue;
            };
            self.unindex_name(pos, slot);
            let n = &mut self.nodes[slot as usize];
            n.flags &= !DETACHED;
            n.parent = to;
            n.name = Name::new(new_name);
            let f = &mut self.nodes[from as usize];
            f.children = f.children.saturating_sub(1);
            self.nodes[to as usize].children += 1;
            self.by_name.insert(self.node_name_hash(slot), slot);
        }
        replaced
    }

    /// The node currently bound to a name, if the kernel knows it.
    pub fn find(&self, parent: u64, name: &str, view: View) -> Option<u64> {
        let parent = self.slot_of(parent)?;
        self.find_slot(parent, name, view)
            .map(|(_, s)| self.nodes[s as usize].ino)
    }
}

fn name_hash_with(hasher: &RandomState, parent: u32, view: View, name: &str) -> u64 {
    let mut buf = [0u8; NAME_MAX + 1];
    if name.is_ascii() && name.len() <= buf.len() {
        let b = &mut buf[..name.len()];
        b.copy_from_slice(name.as_bytes());
        b.make_ascii_lowercase();
        hasher.hash_one((parent, view, &*b))
    } else {
        hasher.hash_one((
            parent,
            view,
            mediaprovider_policy::paths::fold(name).as_bytes(),
        ))
    }
}

#[cfg(test)]
mod tests;
