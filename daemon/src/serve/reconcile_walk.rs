//! The startup reconcile's walk, pipelined: walker threads read the lower tree (one
//! `getdents` pass and one `fstatat` per entry, the kernel's cost) and hand batches of found
//! files over a short queue to the calling thread, which records them in the store. Walking
//! and recording overlap instead of taking turns, and no store transaction is open while a
//! directory is read.

use super::reconcile::Error;
use crate::lower::Lower;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::store::{FoundFile, Store, RECONCILE_BATCH};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Files per store transaction (the store's advice: see `RECONCILE_BATCH`).
const BATCH: usize = RECONCILE_BATCH;
/// Batches in flight between the walkers and the recorder (bounds the memory held).
const QUEUE_DEPTH: usize = 4;
/// Walker threads: two keep the recorder fed on a 2-vCPU machine while a directory read
/// waits on the disk.
const WALKERS: usize = 2;
/// Deepest directory nesting walked (deeper trees are indexed on first sight only).
const MAX_DEPTH: usize = 256;

/// What the walkers saw.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Walked {
    pub files: u64,
    /// Entries not followed or not recorded: unreadable dirs, bad names, too deep.
    pub skipped: u64,
}

/// Walks the whole lower tree and records every regular file with walk generation `gen`.
/// Returns what was walked and how many rows were new.
pub(super) fn walk_and_record(
    tree: &Lower,
    store: &Store,
    gen: i64,
) -> Result<(Walked, u64), Error> {
    let queue = DirQueue::new(VolPath::root());
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel(QUEUE_DEPTH);
        let mut walkers = Vec::new();
        for i in 0..WALKERS {
            let (tx, queue) = (tx.clone(), &queue);
            let spawned = std::thread::Builder::new()
                .name(format!("reconcile-walk{i}"))
                .spawn_scoped(scope, move || walk(tree, queue, &tx));
            match spawned {
                Ok(w) => walkers.push(w),
                // Fewer walkers only make it slower; none at all is handled below.
                Err(e) => log::warn!("reconcile: cannot start a walker: {e}"),
            }
        }
        drop(tx);
        if walkers.is_empty() {
            queue.stop();
            return Err(Error::Io(std::io::Error::other(
                "no walker thread could start",
            )));
        }
        let recorded = record(store, rx, gen);
        // On a store error the receiver is gone: walkers stop at their next batch; stopping
        // the queue as well ends them without reading further directories.
        queue.stop();
        let mut walked = Walked::default();
        for w in walkers {
            match w.join() {
                Ok(c) => {
                    walked.files += c.files;
                    walked.skipped += c.skipped;
                }
                Err(_) => log::error!("reconcile: a walker thread panicked"),
            }
        }
        Ok((walked, recorded?))
    })
}

/// The recorder: one short transaction per batch, as batches arrive.
fn record(store: &Store, rx: Receiver<Vec<FoundFile>>, gen: i64) -> Result<u64, Error> {
    let mut added = 0;
    for batch in rx {
        added += store.reconcile_batch(&batch, gen).map_err(Error::Store)?;
    }
    Ok(added)
}

/// One walker: takes directories from the shared queue until none are left.
fn walk(tree: &Lower, queue: &DirQueue, out: &SyncSender<Vec<FoundFile>>) -> Walked {
    let mut walked = Walked::default();
    let mut batch = Vec::with_capacity(BATCH);
    while let Some((dir, depth)) = queue.next() {
        // Hands the subdirectories back (and the claim on the queue) however this ends.
        let mut claim = Claim {
            queue,
            subdirs: Vec::new(),
        };
        match tree.scan_dir(&dir) {
            Err(e) => {
                log::warn!("reconcile: cannot read {dir}: {e}");
                walked.skipped += 1;
            }
            Ok(entries) => {
                for (name, st) in entries {
                    let Ok(path) = dir.join(&name) else {
                        walked.skipped += 1;
                        continue;
                    };
                    if st.is_dir() {
                        if depth + 1 < MAX_DEPTH {
                            claim.subdirs.push((path, depth + 1));
                        } else {
                            walked.skipped += 1;
                        }
                        continue;
                    }
                    walked.files += 1;
                    batch.push(FoundFile {
                        path,
                        size: st.size(),
                        mtime_ns: st.mtime_ns(),
                    });
                    if batch.len() >= BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if out.send(full).is_err() {
                            // The recorder stopped (store error): nothing more to do.
                            queue.stop();
                            return walked;
                        }
                    }
                }
            }
        }
    }
    if !batch.is_empty() {
        let _ = out.send(batch);
    }
    walked
}

/// A directory being read: its subdirectories go back to the queue when it is dropped, so a
/// walker that stops early never leaves the others waiting for it.
struct Claim<'a> {
    queue: &'a DirQueue,
    subdirs: Vec<(VolPath, usize)>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.queue.done(std::mem::take(&mut self.subdirs));
    }
}

/// Directories still to read, shared by the walkers (depth first, to keep the queue short).
struct DirQueue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

struct QueueState {
    dirs: Vec<(VolPath, usize)>,
    /// Walkers reading a directory now (they may still add subdirectories).
    busy: usize,
    stopped: bool,
}

impl DirQueue {
    fn new(root: VolPath) -> DirQueue {
        DirQueue {
            state: Mutex::new(QueueState {
                dirs: vec![(root, 0)],
                busy: 0,
                stopped: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A walker that panicked cannot leave the state half-changed (plain pushes and
        // counters): keep going with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next directory to read, or `None` once the walk is over (nothing queued and no
    /// walker still reading) or stopped.
    fn next(&self) -> Option<(VolPath, usize)> {
        let mut s = self.lock();
        loop {
            if s.stopped {
                return None;
            }
            if let Some(d) = s.dirs.pop() {
                s.busy += 1;
                return Some(d);
            }
            if s.busy == 0 {
                return None;
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// A walker finished a directory and found `subdirs` in it.
    fn done(&self, subdirs: Vec<(VolPath, usize)>) {
        let mut s = self.lock();
        s.dirs.extend(subdirs);
        s.busy = s.busy.saturating_sub(1);
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Several walkers over nested directories (more files than one batch, more directories
    /// than walkers, an empty one, one deeper than the others) record every file exactly
    /// once and then all stop; a second walk finds nothing new.
    #[test]
    fn walkers_record_every_file_once_and_finish() {
        let root = std::env::temp_dir().join(format!("mpd-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut expected = 0u64;
        for d in 0..7 {
            let dir = root.join(format!("Download/d{d}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..(BATCH / 3) {
                std::fs::write(dir.join(format!("f{f}.jpg")), b"x").unwrap();
                expected += 1;
            }
        }
        std::fs::create_dir_all(root.join("DCIM/empty")).unwrap();
        std::fs::create_dir_all(root.join("Android/data/com.x/files/a/b")).unwrap();
        std::fs::write(root.join("Android/data/com.x/files/a/b/deep.mp4"), b"y").unwrap();
        expected += 1;

        let tree = Lower::open(&root).unwrap();
        let store = Store::open_in_memory().unwrap();
        let gen = store.reconcile_generation().unwrap();
        let (walked, added) = walk_and_record(&tree, &store, gen).unwrap();
        assert_eq!(
            (walked.files, added, walked.skipped),
            (expected, expected, 0)
        );
        assert_eq!(store.count_files().unwrap(), expected);
        let deep = store
            .file(&VolPath::parse("Android/data/com.x/files/a/b/deep.mp4").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(deep.owner.as_deref(), Some("com.x"));

        let (again, added) = walk_and_record(&tree, &store, gen + 1).unwrap();
        assert_eq!((again.files, added), (expected, 0));
        assert!(store.reconcile_unseen(gen + 1, 0, 10).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }
}
