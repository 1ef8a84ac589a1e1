//! The inode table's storage: a slab of 36-byte nodes, their names in one byte arena, and two
//! hash indexes chained through the nodes themselves (4 bytes a bucket, one bucket per node).
//! A million nodes, what one traversal of a 1M-file tree leaves the kernel holding, take about
//! 36 MiB of nodes, 8 MiB of buckets and the names' bytes.

pub const NONE: u32 = u32::MAX;

pub const LIVE: u8 = 1;
pub const DIR: u8 = 2;
pub const REDACTED: u8 = 4;
/// Out of the name index: unlinked, renamed over, or replaced behind our back.
pub const DETACHED: u8 = 8;

#[derive(Clone, Debug)]
pub struct Node {
    /// The kernel's node id (also the st_ino reported), as two halves: with no 8-byte field
    /// the node packs into 36 bytes instead of 40 (4 MiB a million nodes).
    ino_lo: u32,
    ino_hi: u32,
    name_at: u32,
    pub parent: u32,
    /// Kernel lookups; saturates (and then the node is never dropped).
    pub nlookup: u32,
    /// Live nodes naming this one as parent: a node is only dropped without any, so a parent
    /// walk never reaches a reused slot.
    pub children: u32,
    next_ino: u32,
    next_name: u32,
    name_len: u8,
    pub flags: u8,
}

impl Node {
    pub fn new(ino: u64, parent: u32, nlookup: u32, flags: u8) -> Node {
        Node {
            ino_lo: ino as u32,
            ino_hi: (ino >> 32) as u32,
            name_at: 0,
            parent,
            nlookup,
            children: 0,
            next_ino: NONE,
            next_name: NONE,
            name_len: 0,
            flags,
        }
    }

    pub fn ino(&self) -> u64 {
        (u64::from(self.ino_hi) << 32) | u64::from(self.ino_lo)
    }
}

/// Bucket heads of a chained index; the chains run through the nodes.
#[derive(Default)]
struct Heads {
    heads: Vec<u32>,
    len: usize,
}

impl Heads {
    fn bucket(&self, hash: u64) -> usize {
        hash as usize & (self.heads.len() - 1)
    }
}

#[derive(Clone, Copy)]
pub enum Index {
    Ino,
    Name,
}

#[derive(Default)]
pub struct Table {
    nodes: Vec<Node>,
    free: Vec<u32>,
    live: usize,
    names: Vec<u8>,
    dead_name_bytes: usize,
    by_ino: Heads,
    by_name: Heads,
}

impl Table {
    pub fn live(&self) -> usize {
        self.live
    }

    #[cfg(test)]
    pub fn slots(&self) -> usize {
        self.nodes.len()
    }

    pub fn node(&self, slot: u32) -> &Node {
        &self.nodes[slot as usize]
    }

    pub fn node_mut(&mut self, slot: u32) -> &mut Node {
        &mut self.nodes[slot as usize]
    }

    pub fn is_live(&self, slot: u32) -> bool {
        self.nodes
            .get(slot as usize)
            .is_some_and(|n| n.flags & LIVE != 0)
    }

    pub fn name(&self, slot: u32) -> &str {
        let n = &self.nodes[slot as usize];
        let at = n.name_at as usize;
        // Stored from a &str, so always valid UTF-8; "" would only ever follow a bug.
        std::str::from_utf8(&self.names[at..at + usize::from(n.name_len)]).unwrap_or("")
    }

    /// Stores `node` named `name` in a free slot.
    pub fn add(&mut self, node: Node, name: &str) -> u32 {
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
        self.store_name(slot, name);
        slot
    }

    /// Frees a node already out of both indexes.
    pub fn remove(&mut self, slot: u32) {
        let n = &mut self.nodes[slot as usize];
        n.flags = 0;
        self.dead_name_bytes += usize::from(n.name_len);
        n.name_len = 0;
        self.free.push(slot);
        self.live -= 1;
    }

    /// Renames a node (out of the name index while it changes).
    pub fn set_name(&mut self, slot: u32, name: &str) {
        let n = &self.nodes[slot as usize];
        if usize::from(n.name_len) == name.len() {
            // Same length (a case change, mostly): in place.
            let at = n.name_at as usize;
            self.names[at..at + name.len()].copy_from_slice(name.as_bytes());
        } else {
            self.dead_name_bytes += usize::from(n.name_len);
            self.store_name(slot, name);
        }
    }

    fn store_name(&mut self, slot: u32, name: &str) {
        if self.dead_name_bytes > 1 << 20 && self.dead_name_bytes > self.names.len() / 2 {
            self.compact_names();
        }
        let at = self.names.len() as u32;
        // Names are at most NAME_MAX (255) bytes: the request layer refuses longer ones.
        let len = name.len().min(usize::from(u8::MAX));
        self.names.extend_from_slice(&name.as_bytes()[..len]);
        let n = &mut self.nodes[slot as usize];
        n.name_at = at;
        n.name_len = len as u8;
    }

    /// Drops the bytes of names no node uses any more.
    fn compact_names(&mut self) {
        let mut fresh = Vec::with_capacity(self.names.len() - self.dead_name_bytes);
        for n in self.nodes.iter_mut().filter(|n| n.flags & LIVE != 0) {
            let at = n.name_at as usize;
            let new_at = fresh.len() as u32;
            fresh.extend_from_slice(&self.names[at..at + usize::from(n.name_len)]);
            n.name_at = new_at;
        }
        self.names = fresh;
        self.dead_name_bytes = 0;
    }

    fn heads(&self, index: Index) -> &Heads {
        match index {
            Index::Ino => &self.by_ino,
            Index::Name => &self.by_name,
        }
    }

    fn next_of(&self, index: Index, slot: u32) -> u32 {
        let n = &self.nodes[slot as usize];
        match index {
            Index::Ino => n.next_ino,
            Index::Name => n.next_name,
        }
    }

    fn set_next(&mut self, index: Index, slot: u32, next: u32) {
        let n = &mut self.nodes[slot as usize];
        match index {
            Index::Ino => n.next_ino = next,
            Index::Name => n.next_name = next,
        }
    }

    /// The first node on `hash`'s chain for which `eq` holds.
    pub fn find(&self, index: Index, hash: u64, eq: impl Fn(u32) -> bool) -> Option<u32> {
        let h = self.heads(index);
        if h.heads.is_empty() {
            return None;
        }
        let mut s = h.heads[h.bucket(hash)];
        while s != NONE {
            if eq(s) {
                return Some(s);
            }
            s = self.next_of(index, s);
        }
        None
    }

    /// Puts `slot` on `hash`'s chain. `rehash` gives every indexed node's hash when the index
    /// grows (one bucket per node).
    pub fn link(
        &mut self,
        index: Index,
        hash: u64,
        slot: u32,
        rehash: impl Fn(&Table, u32) -> Option<u64>,
    ) {
        let h = self.heads(index);
        if h.len + 1 > h.heads.len() {
            self.grow(index, slot, rehash);
        }
        let h = match index {
            Index::Ino => &mut self.by_ino,
            Index::Name => &mut self.by_name,
        };
        let b = h.bucket(hash);
        let first = std::mem::replace(&mut h.heads[b], slot);
        h.len += 1;
        self.set_next(index, slot, first);
    }

    /// Takes `slot` off `hash`'s chain (a no-op if it is not there).
    pub fn unlink(&mut self, index: Index, hash: u64, slot: u32) {
        let h = self.heads(index);
        if h.heads.is_empty() {
            return;
        }
        let b = h.bucket(hash);
        let mut prev = NONE;
        let mut s = h.heads[b];
        while s != NONE && s != slot {
            prev = s;
            s = self.next_of(index, s);
        }
        if s == NONE {
            return;
        }
        let after = self.next_of(index, slot);
        if prev == NONE {
            match index {
                Index::Ino => self.by_ino.heads[b] = after,
                Index::Name => self.by_name.heads[b] = after,
            }
        } else {
            self.set_next(index, prev, after);
        }
        self.set_next(index, slot, NONE);
        match index {
            Index::Ino => self.by_ino.len -= 1,
            Index::Name => self.by_name.len -= 1,
        }
    }

    /// Doubles the buckets and re-chains every indexed node but `adding` (linked after).
    fn grow(&mut self, index: Index, adding: u32, rehash: impl Fn(&Table, u32) -> Option<u64>) {
        let size = (self.heads(index).heads.len() * 2).max(64);
        let mut heads = vec![NONE; size];
        let mask = size - 1;
        for slot in 0..self.nodes.len() as u32 {
            if slot == adding || self.nodes[slot as usize].flags & LIVE == 0 {
                continue;
            }
            if let Some(hash) = rehash(self, slot) {
                let b = hash as usize & mask;
                let first = std::mem::replace(&mut heads[b], slot);
                self.set_next(index, slot, first);
            }
        }
        match index {
            Index::Ino => self.by_ino.heads = heads,
            Index::Name => self.by_name.heads = heads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_survive_unlinks_in_any_order_and_growth() {
        let mut t = Table::default();
        // Every node hashes to one of three buckets: long chains.
        let hash = |s: u32| u64::from(s % 3);
        let rehash = |t: &Table, s: u32| Some(t.node(s).ino() % 3);
        for i in 0..200u32 {
            let s = t.add(Node::new(u64::from(i), 0, 1, LIVE), &format!("n{i}"));
            assert_eq!(s, i);
            t.link(Index::Ino, hash(s), s, rehash);
        }
        for victim in (0..200u32).filter(|v| v % 7 == 3) {
            t.unlink(Index::Ino, hash(victim), victim);
            t.remove(victim);
        }
        for s in 0..200u32 {
            let found = t.find(Index::Ino, hash(s), |x| x == s).is_some();
            assert_eq!(found, s % 7 != 3, "slot {s}");
        }
        assert_eq!(t.name(198), "n198");
    }

    #[test]
    fn names_survive_compaction() {
        let mut t = Table::default();
        let long = "x".repeat(200);
        let mut kept = Vec::new();
        for i in 0..20_000u32 {
            let s = t.add(Node::new(u64::from(i), 0, 1, LIVE), &format!("{long}{i}"));
            if i % 2 == 0 {
                t.set_name(s, &format!("renamed-{i}"));
                kept.push((s, format!("renamed-{i}")));
            } else {
                t.remove(s);
            }
        }
        assert!(
            t.names.len() < 20_000 * 100,
            "dead names were compacted away"
        );
        for (s, name) in kept {
            assert_eq!(t.name(s), name);
        }
    }
}
