//! Store connections for the FUSE threads: one connection per concurrently running request
//! (WAL lets readers run beside one writer), taken from an idle list and put back, so no lock
//! is held while a connection is in use and no request waits behind another one's I/O.
//! Every connection of the pool shares the first one's decision cache (`Store::opener`), so a
//! fact read by one worker serves the next decision on any other.
//!
//! Durability: the store runs `synchronous=NORMAL` in WAL mode. A power cut can lose the last
//! committed transactions but never corrupts the database; what they recorded (a new row, a
//! rename) is re-derived from the lower tree by the startup reconcile, and the lower tree's
//! own data is not at stake. Owners of files created in that window are the one loss, which
//! is why the store keeps the change short rather than fsyncing every create.

use mediaprovider_policy::store::{Opener, Store, StoreError};
use std::sync::Mutex;

/// Idle connections kept beyond this are closed (more than the FUSE threads plus helpers).
const MAX_IDLE: usize = 16;

pub struct StorePool {
    opener: Opener,
    idle: Mutex<Vec<Store>>,
}

impl StorePool {
    pub fn new(first: Store) -> StorePool {
        StorePool {
            opener: first.opener(),
            idle: Mutex::new(vec![first]),
        }
    }

    fn take(&self) -> Result<Store, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(s) => Ok(s),
            None => self.opener.open(),
        }
    }

    fn put(&self, s: Store) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(s);
        }
    }

    /// Runs `f` on a connection of its own.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let s = self.take()?;
        let r = f(&s);
        self.put(s);
        r
    }
}
