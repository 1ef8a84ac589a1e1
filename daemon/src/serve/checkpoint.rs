//! Keeps the store's write-ahead log short. SQLite checkpoints after commits, but it can only
//! rewind the log when no reader is on it, and with several worker connections reading
//! nonstop that moment may never come: measured here, 8 apps for 15 s grew the log to 369 MB,
//! and every page read searches a log index that grows with it (throughput fell 4× rep over
//! rep). This thread checks the log's size every second and, past a bound, checkpoints it in
//! TRUNCATE mode (holding writers back for at most 50 ms while readers leave the old frames; a reader
//! that stays longer defers it to the next second).

use mediaprovider_policy::store::Store;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Log size that triggers a checkpoint (SQLite's own autocheckpoint is at ~4 MiB).
const WAL_LIMIT: u64 = 16 << 20;
const EVERY: Duration = Duration::from_secs(1);

pub fn spawn(db: &Path) {
    let db = db.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("checkpoint".into())
        .spawn(move || run(&db));
    if let Err(e) = spawned {
        log::warn!("cannot start the log checkpointer: {e}");
    }
}

fn wal_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn run(db: &Path) {
    let store = match Store::open(db) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("log checkpointer cannot open the store: {e}");
            return;
        }
    };
    let wal = wal_of(db);
    loop {
        std::thread::sleep(EVERY);
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if size <= WAL_LIMIT {
            continue;
        }
        match store.checkpoint_wal() {
            Ok(true) => log::debug!("store log checkpointed at {} MiB", size >> 20),
            Ok(false) => log::debug!("store log checkpoint deferred (busy)"),
            Err(e) => log::warn!("store log checkpoint: {e}"),
        }
    }
}
