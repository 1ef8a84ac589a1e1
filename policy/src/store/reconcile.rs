//! Reconcile the store with the lower tree (`scan`, daemon startup): new files are indexed
//! (owner: the `Android/*/<pkg>` package, else nobody), changed files refreshed, vanished files
//! dropped. One transaction, the batch writer of `background.rs`, mark-and-sweep by walk
//! generation: the whole store is never loaded into memory, so a million rows cost no more
//! RAM than ten.

use super::background::{FoundFile, RECONCILE_BATCH};
use super::{Result, Store};
use crate::paths::VolPath;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileStats {
    pub files: u64,
    pub dirs: u64,
    pub added: u64,
    pub removed: u64,
    /// Entries skipped: symlinks, special files, names that are not UTF-8, unreadable dirs.
    pub skipped: u64,
}

/// Deepest directory nesting followed; deeper trees are skipped (and counted), not recursed.
const MAX_DEPTH: usize = 256;

impl Store {
    pub fn reconcile(&self, lower: &Path) -> Result<ReconcileStats> {
        let tx = self.write_tx()?;
        // Rows are recorded by the background reconcile's batch writer (one home for the
        // upsert and its generations, SPEC §11), all inside this one transaction.
        let gen: i64 = tx.query_row("SELECT COALESCE(MAX(seen), 0) + 1 FROM files", [], |r| {
            r.get(0)
        })?;
        let mut stats = ReconcileStats::default();
        let mut batch = Vec::with_capacity(RECONCILE_BATCH);
        // Iterative walk: (lower dir, volume path, depth).
        let mut stack = vec![(lower.to_path_buf(), VolPath::root(), 0usize)];
        while let Some((dir, vdir, depth)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    log::warn!("reconcile: cannot read a directory: {e}");
                    stats.skipped += 1;
                    continue;
                }
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else {
                    stats.skipped += 1;
                    continue;
                };
                let Ok(vpath) = vdir.join(name) else {
                    stats.skipped += 1;
                    continue;
                };
                // file_type() does not follow symlinks: links are never indexed or walked.
                let Ok(ft) = entry.file_type() else {
                    stats.skipped += 1;
                    continue;
                };
                if ft.is_dir() {
                    stats.dirs += 1;
                    if depth + 1 < MAX_DEPTH {
                        stack.push((entry.path(), vpath, depth + 1));
                    } else {
                        stats.skipped += 1;
                    }
                    continue;
                }
                if !ft.is_file() {
                    stats.skipped += 1;
                    continue;
                }
                let Ok(md) = entry.metadata() else {
                    stats.skipped += 1;
                    continue;
                };
                batch.push(FoundFile {
                    path: vpath,
                    size: md.size(),
                    mtime_ns: mtime_ns(&md),
                });
                stats.files += 1;
                if batch.len() >= RECONCILE_BATCH {
                    stats.added += self.record_found(&batch, gen)?;
                    batch.clear();
                }
            }
        }
        stats.added += self.record_found(&batch, gen)?;
        // The delete trigger tombstones every dropped row (SPEC §11).
        stats.removed = tx.execute("DELETE FROM files WHERE seen <> ?1", [gen])? as u64;
        tx.commit()?;
        Ok(stats)
    }
}

pub fn mtime_ns(md: &fs::Metadata) -> i64 {
    md.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.mtime_nsec())
}
