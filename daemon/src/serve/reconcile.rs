//! Startup reconcile, in the background: the volume is mounted first and usable at once
//! (lookups and listings index what they see on first sight, SPEC §5.11), while this thread
//! walks the lower tree by fd and records it in short batches, then drops rows whose files
//! are gone, then hands over to the location indexer.

use super::indexer;
use crate::lower::Lower;
use crate::moving::Moving;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::store::{FoundFile, Store, StoreError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const BATCH: usize = 4096;
/// Deepest directory nesting walked (deeper trees are indexed on first sight only).
const MAX_DEPTH: usize = 256;

/// `recover`: the store was rebuilt, so once every file has a row, owners, grants and
/// favorites come back from the backups on the lower files (SPEC §9).
pub fn spawn(db: PathBuf, lower: PathBuf, recover: bool, moving: Arc<Moving>) {
    let spawned = std::thread::Builder::new()
        .name("reconcile".into())
        .spawn(move || {
            match run(&db, &lower, &moving) {
                Ok(()) if recover => match Store::open(&db) {
                    Ok(store) => super::recover_ownership(&store, &lower),
                    Err(e) => log::error!("store rebuilt, ownership recovery cannot open it: {e}"),
                },
                Ok(()) => {}
                Err(e) => log::error!("background reconcile stopped: {e}"),
            }
            indexer::run_logged(&db, &lower);
        });
    if let Err(e) = spawned {
        log::error!("cannot start the background reconcile: {e}");
    }
}

#[derive(Debug)]
enum Error {
    Store(StoreError),
    Io(std::io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Store(e) => write!(f, "store: {e}"),
            Error::Io(e) => write!(f, "lower tree: {e}"),
        }
    }
}

fn run(db: &std::path::Path, lower: &std::path::Path, moving: &Moving) -> Result<(), Error> {
    let t = Instant::now();
    let store = Store::open(db).map_err(Error::Store)?;
    let tree = Lower::open(lower).map_err(Error::Io)?;
    let gen = store.reconcile_generation().map_err(Error::Store)?;
    let (mut files, mut added, mut skipped) = (0u64, 0u64, 0u64);
    let mut batch = Vec::with_capacity(BATCH);
    let mut stack = vec![(VolPath::root(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match tree.scan_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                log::warn!("reconcile: cannot read {dir}: {e}");
                skipped += 1;
                continue;
            }
        };
        for (name, st) in entries {
            let Ok(path) = dir.join(&name) else {
                skipped += 1;
                continue;
            };
            if st.is_dir() {
                if depth + 1 < MAX_DEPTH {
                    stack.push((path, depth + 1));
                } else {
                    skipped += 1;
                }
                continue;
            }
            files += 1;
            batch.push(FoundFile {
                path,
                size: st.size(),
                mtime_ns: st.mtime_ns(),
            });
            if batch.len() >= BATCH {
                added += store.reconcile_batch(&batch, gen).map_err(Error::Store)?;
                batch.clear();
            }
        }
    }
    added += store.reconcile_batch(&batch, gen).map_err(Error::Store)?;
    // Rows the walk did not see: gone, unless the file exists after all (created or renamed
    // through FUSE while the walk ran).
    let (mut removed, mut after) = (0u64, 0i64);
    loop {
        let rows = store
            .reconcile_unseen(gen, after, BATCH)
            .map_err(Error::Store)?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (id, path) in rows {
            if matches!(tree.stat(&path), Ok(None))
                && !moving.covers(&path)
                && store
                    .reconcile_remove(id, &path, gen)
                    .map_err(Error::Store)?
            {
                removed += 1;
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    log::info!(
        "reconciled {files} files in {secs:.3}s ({:.0} files/s; {added} added, {removed} removed, {skipped} skipped) in the background",
        files as f64 / secs.max(1e-9)
    );
    Ok(())
}
