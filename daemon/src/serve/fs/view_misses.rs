//! Opens refused with ESTALE because the name's view changed since the lookup.
//!
//! The kernel retries such an open once, after a fresh lookup. A writer can flip a file
//! between "no location" and "location" (or "open for writing") faster than that retry, so
//! the retry's lookup answers the redacted view for a caller who was just refused: a redacted
//! node can always be opened (its handle removes whatever location the file holds by then).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a refusal steers the caller's lookups of that file to the redacted view.
const STEER: Duration = Duration::from_secs(1);
/// Bound on remembered refusals; the oldest go first.
const MAX_MISSES: usize = 1024;

#[derive(Default)]
pub struct ViewMisses {
    /// (uid, lower inode) → when an open of the real view was refused.
    at: Mutex<HashMap<(u32, u64), Instant>>,
    /// Whether `at` may hold anything: every lookup asks, and almost always it is empty.
    any: AtomicBool,
}

impl ViewMisses {
    pub fn record(&self, uid: u32, lower_ino: u64) {
        let now = Instant::now();
        let mut at = self.at.lock().unwrap_or_else(|e| e.into_inner());
        if at.len() >= MAX_MISSES {
            at.retain(|_, t| now.duration_since(*t) < STEER);
            if at.len() >= MAX_MISSES {
                at.clear();
            }
        }
        at.insert((uid, lower_ino), now);
        self.any.store(true, Ordering::Release);
    }

    /// Was `uid` refused the real view of this file a moment ago?
    pub fn recent(&self, uid: u32, lower_ino: u64) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let mut at = self.at.lock().unwrap_or_else(|e| e.into_inner());
        let hit = at
            .get(&(uid, lower_ino))
            .is_some_and(|t| t.elapsed() < STEER);
        if !hit && at.values().all(|t| t.elapsed() >= STEER) {
            // All expired: forget them, so lookups skip the lock again.
            at.clear();
            self.any.store(false, Ordering::Release);
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_caller_and_file_and_stays_bounded() {
        let m = ViewMisses::default();
        assert!(!m.recent(10001, 7));
        m.record(10001, 7);
        assert!(m.recent(10001, 7));
        assert!(!m.recent(10002, 7));
        assert!(!m.recent(10001, 8));
        for ino in 0..(MAX_MISSES as u64 * 2) {
            m.record(1, 100 + ino);
        }
        assert!(m.at.lock().unwrap().len() <= MAX_MISSES);
    }
}
