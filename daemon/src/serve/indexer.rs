//! Background location indexer: after the startup reconcile, scans the headers of every file
//! whose location status is unknown and records the verdicts in batches, so lookups and
//! listings find them in the store instead of scanning on the request path.

use crate::lower::Lower;
use mediaprovider_policy::redact;
use mediaprovider_policy::store::Store;
use std::time::Instant;

const BATCH: usize = 512;

/// Runs the indexer on the calling thread (after the background reconcile), logging failure.
pub fn run_logged(db: &std::path::Path, lower: &std::path::Path) {
    if let Err(e) = run(db, lower) {
        log::warn!("location indexer stopped: {e}");
    }
}

fn run(db: &std::path::Path, lower: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(db)?;
    let tree = Lower::open(lower)?;
    let t = Instant::now();
    let (mut after, mut scanned, mut with_location) = (0i64, 0u64, 0u64);
    loop {
        let rows = store.unscanned(after, BATCH)?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let mut verdicts = Vec::with_capacity(rows.len());
        for (id, path, size, mtime) in rows {
            // Vanished or unreadable files stay unknown (and are scanned when opened).
            let Ok(f) = tree.open_file(&path, libc::O_RDONLY) else {
                continue;
            };
            let has = redact::scan(&f).has_location();
            with_location += u64::from(has);
            scanned += 1;
            verdicts.push((id, size, mtime, has));
        }
        store.set_locations(&verdicts)?;
    }
    if scanned > 0 {
        log::info!(
            "indexed location of {scanned} files ({with_location} with location) in {:.2}s",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
