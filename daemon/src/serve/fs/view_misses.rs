//! Opens refused with ESTALE because the name's view changed since the lookup.
//!
//! The kernel retries such an open once, after a fresh lookup. A writer can flip a file
//! between "no location" and "location" (or "open for writing") faster than that retry, so
//! the retry's lookup answers the redacted view for a caller who was just refused: a redacted
//! node can always be opened (its handle removes whatever location the file holds by then).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a refusal steers the caller's lookups of that file to the redacted view.
const STEER: Duration = Duration::from_secs(1);
/// Bound on remembered refusals; the oldest go first.
const MAX_MISSES: usize = 1024;

#[derive(Default)]
pub struct ViewMisses {
    /// (uid, lower inode) → when an open of the real view was refused.
    at: HashMap<(u32, u64), Instant>,
}

impl ViewMisses {
    pub fn record(&mut self, uid: u32, lower_ino: u64) {
        let now = Instant::now();
        if self.at.len() >= MAX_MISSES {
            self.at.retain(|_, t| now.duration_since(*t) < STEER);
            if self.at.len() >= MAX_MISSES {
                self.at.clear();
            }
        }
        self.at.insert((uid, lower_ino), now);
    }

    /// Was `uid` refused the real view of this file a moment ago?
    pub fn recent(&self, uid: u32, lower_ino: u64) -> bool {
        self.at
            .get(&(uid, lower_ino))
            .is_some_and(|t| t.elapsed() < STEER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_caller_and_file_and_stays_bounded() {
        let mut m = ViewMisses::default();
        m.record(10001, 7);
        assert!(m.recent(10001, 7));
        assert!(!m.recent(10002, 7));
        assert!(!m.recent(10001, 8));
        for ino in 0..(MAX_MISSES as u64 * 2) {
            m.record(1, 100 + ino);
        }
        assert!(m.at.len() <= MAX_MISSES);
    }
}
