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
    /// Taken around the request path's write transactions. SQLite lets one connection write at
    /// a time and makes the others poll (its busy handler); with several FUSE threads writing
    /// at once the polling cost more than the writes (`--threads 4`, 8 apps: 13 sleeps and 20
    /// page re-reads per operation). Blocked here, a writer sleeps until the one before it is
    /// done and then finds the lock free. Held only across SQL: never across lower-file I/O.
    writer: Mutex<()>,
}

impl StorePool {
    pub fn new(first: Store) -> StorePool {
        StorePool {
            opener: first.opener(),
            idle: Mutex::new(vec![first]),
            writer: Mutex::new(()),
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

    /// [`StorePool::with`] for a closure that writes: one such closure runs at a time.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _turn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.with(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn writers_take_turns() {
        let dir = std::env::temp_dir().join(format!("mpd-pool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = Arc::new(StorePool::new(Store::open(&dir.join("db")).unwrap()));
        let (writing, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (pool, writing, most) = (pool.clone(), writing.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        pool.write(|s| {
                            let now = writing.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            s.set_setting("k", "v")?;
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            writing.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "two writers ran at once");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
