//! An open-addressing index of table slots (`u32`): the keys live in the table the slots point
//! into, so the caller supplies each entry's hash and equality. A bucket keeps the slot and the
//! low 32 bits of its hash: probes skip entries of other hashes without touching the table (a
//! cache miss each), and growing or removing never needs the table either. Linear probing with
//! backward-shift deletion (no tombstones), grown at 3/4 load. 8 bytes a bucket.

const EMPTY: u64 = u64::MAX;

#[derive(Default)]
pub struct SlotIndex {
    buckets: Vec<u64>,
    len: usize,
}

fn tag(hash: u64) -> u64 {
    hash & 0xffff_ffff
}

impl SlotIndex {
    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    fn home(&self, bucket: u64) -> usize {
        (bucket >> 32) as usize & self.mask()
    }

    /// The first entry with `hash` for which `eq` holds, with its bucket.
    pub fn find(&self, hash: u64, eq: impl Fn(u32) -> bool) -> Option<(usize, u32)> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.mask();
        let want = tag(hash);
        let mut i = want as usize & mask;
        loop {
            let b = self.buckets[i];
            if b == EMPTY {
                return None;
            }
            let slot = b as u32;
            if b >> 32 == want && eq(slot) {
                return Some((i, slot));
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `slot` under `hash`.
    pub fn insert(&mut self, hash: u64, slot: u32) {
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.grow();
        }
        self.place((tag(hash) << 32) | u64::from(slot));
        self.len += 1;
    }

    fn place(&mut self, bucket: u64) {
        let mask = self.mask();
        let mut i = self.home(bucket);
        while self.buckets[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.buckets[i] = bucket;
    }

    fn grow(&mut self) {
        let size = (self.buckets.len() * 2).max(16);
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; size]);
        for b in old.into_iter().filter(|&b| b != EMPTY) {
            self.place(b);
        }
    }

    /// Removes the entry in bucket `pos` (from [`SlotIndex::find`]); entries after it on its
    /// run move back so every chain stays unbroken.
    pub fn remove_at(&mut self, pos: usize) {
        let mask = self.mask();
        self.buckets[pos] = EMPTY;
        self.len -= 1;
        let (mut hole, mut j) = (pos, pos);
        loop {
            j = (j + 1) & mask;
            let b = self.buckets[j];
            if b == EMPTY {
                return;
            }
            let home = self.home(b);
            // The entry may stay unless its home lies cyclically outside (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.buckets[hole] = b;
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
                t.insert(hash(s), s);
            }
            let mut gone = Vec::new();
            for k in 0..11u32 {
                let victim = (k * (order + 2) + order) % 11;
                if gone.contains(&victim) {
                    continue;
                }
                let (pos, _) = t.find(hash(victim), |s| s == victim).unwrap();
                t.remove_at(pos);
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
