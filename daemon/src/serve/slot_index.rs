//! An open-addressing index of table slots (`u32`), 4 bytes per bucket: the keys live in the
//! table the slots point into, so the caller supplies each entry's hash and equality. Linear
//! probing with backward-shift deletion (no tombstones), grown at 3/4 load.

const EMPTY: u32 = u32::MAX;

#[derive(Default)]
pub struct SlotIndex {
    buckets: Vec<u32>,
    len: usize,
}

impl SlotIndex {
    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    /// The first entry on `hash`'s chain for which `eq` holds, with its bucket.
    pub fn find(&self, hash: u64, eq: impl Fn(u32) -> bool) -> Option<(usize, u32)> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let s = self.buckets[i];
            if s == EMPTY {
                return None;
            }
            if eq(s) {
                return Some((i, s));
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `slot` under `hash`; `rehash` gives any present entry's hash (to grow).
    pub fn insert(&mut self, hash: u64, slot: u32, rehash: impl Fn(u32) -> u64) {
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.grow(&rehash);
        }
        self.place(hash, slot);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, slot: u32) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        while self.buckets[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.buckets[i] = slot;
    }

    fn grow(&mut self, rehash: &impl Fn(u32) -> u64) {
        let size = (self.buckets.len() * 2).max(16);
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; size]);
        for s in old.into_iter().filter(|&s| s != EMPTY) {
            self.place(rehash(s), s);
        }
    }

    /// Removes the entry in bucket `pos` (from [`SlotIndex::find`]); entries after it on its
    /// run move back so every chain stays unbroken.
    pub fn remove_at(&mut self, pos: usize, rehash: impl Fn(u32) -> u64) {
        let mask = self.mask();
        self.buckets[pos] = EMPTY;
        self.len -= 1;
        let (mut hole, mut j) = (pos, pos);
        loop {
            j = (j + 1) & mask;
            let s = self.buckets[j];
            if s == EMPTY {
                return;
            }
            let home = rehash(s) as usize & mask;
            // `s` may stay unless its home lies cyclically outside (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.buckets[hole] = s;
                self.buckets[j] = EMPTY;
                hole = j;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_entries_survive_removals_in_any_order() {
        // Every key hashes to one of three homes: long, wrapping runs.
        let hash = |s: u32| u64::from(s % 3) * 5 + 13;
        for order in 0..6u32 {
            let mut t = SlotIndex::default();
            for s in 0..11 {
                t.insert(hash(s), s, hash);
            }
            let mut gone = Vec::new();
            for k in 0..11u32 {
                let victim = (k * (order + 2) + order) % 11;
                if gone.contains(&victim) {
                    continue;
                }
                let (pos, _) = t.find(hash(victim), |s| s == victim).unwrap();
                t.remove_at(pos, hash);
                gone.push(victim);
                for s in 0..11 {
                    assert_eq!(
                        t.find(hash(s), |x| x == s).is_some(),
                        !gone.contains(&s),
                        "order {order}, slot {s} after removing {gone:?}"
                    );
                }
            }
        }
    }
}
