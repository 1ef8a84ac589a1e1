//! Startup reconcile, in the background: the volume is mounted first and usable at once
//! (lookups and listings index what they see on first sight, SPEC §5.11), while this thread
//! walks the lower tree by fd (walkers in `reconcile_walk`) and records it in short batches,
//! then drops rows whose files are gone, then hands over to the location indexer.

use super::indexer;
use super::reconcile_walk::walk_and_record;
use crate::lower::Lower;
use crate::moving::Moving;
use mediaprovider_policy::store::{Store, StoreError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Set while the startup walk records the tree: the metadata extractor waits for it (it reads
/// every new file's header, which at a million files would take the walk's CPU and store
/// write lock for minutes; rows get their metadata right after).
static WALK_RUNNING: AtomicBool = AtomicBool::new(false);

/// Is the startup reconcile still recording the tree?
pub fn walk_running() -> bool {
    WALK_RUNNING.load(Ordering::Relaxed)
}

/// Clears `WALK_RUNNING` when dropped, so that extraction resumes however the walk ends.
struct WalkRunning;

impl Drop for WalkRunning {
    fn drop(&mut self) {
        WALK_RUNNING.store(false, Ordering::Relaxed);
    }
}

/// Rows checked per query of the sweep for vanished files.
const UNSEEN_PAGE: usize = 4096;

/// `recover`: the store was rebuilt, so once every file has a row, owners, grants and
/// favorites come back from the backups on the lower files (SPEC §9).
pub fn spawn(db: PathBuf, lower: PathBuf, recover: bool, moving: Arc<Moving>) {
    WALK_RUNNING.store(true, Ordering::Relaxed);
    let spawned = std::thread::Builder::new()
        .name("reconcile".into())
        .spawn(move || {
            let outcome = {
                let _running = WalkRunning;
                run(&db, &lower, &moving)
            };
            match outcome {
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
        WALK_RUNNING.store(false, Ordering::Relaxed);
        log::error!("cannot start the background reconcile: {e}");
    }
}

#[derive(Debug)]
pub(super) enum Error {
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
    store.tune_for_bulk_writes().map_err(Error::Store)?;
    let tree = Lower::open(lower).map_err(Error::Io)?;
    let gen = store.reconcile_generation().map_err(Error::Store)?;
    let (walked, added) = walk_and_record(&tree, &store, gen)?;
    let (files, skipped) = (walked.files, walked.skipped);
    let walk_secs = t.elapsed().as_secs_f64();
    // Rows the walk did not see: gone, unless the file exists after all (created or renamed
    // through FUSE while the walk ran).
    let (mut removed, mut after) = (0u64, 0i64);
    loop {
        let rows = store
            .reconcile_unseen(gen, after, UNSEEN_PAGE)
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
        "reconciled {files} files in {secs:.3}s ({:.0} files/s; {added} added, {removed} removed, {skipped} skipped; walk and record {walk_secs:.3}s, sweep {:.3}s) in the background",
        files as f64 / secs.max(1e-9),
        secs - walk_secs
    );
    Ok(())
}
