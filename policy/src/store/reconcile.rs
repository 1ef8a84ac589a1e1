//! Reconcile the store with the lower tree (`scan`, daemon startup): new files are indexed
//! (owner: the `Android/*/<pkg>` package, else nobody), changed files refreshed, vanished files
//! dropped. One transaction, one prepared upsert, mark-and-sweep by generation: the whole store
//! is never loaded into memory, so a million rows cost no more RAM than ten.

use super::files::implied_owner;
use super::files::NameColumns;
use super::{Result, Store};
use crate::paths::VolPath;
use rusqlite::params;
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
        // Provider half (SPEC §11): generations for this pass are recorded set-wise below.
        let change_gen = super::generations::suspend_triggers(&tx)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let gen: i64 = tx.query_row("SELECT COALESCE(MAX(seen), 0) + 1 FROM files", [], |r| {
            r.get(0)
        })?;
        let before: i64 = tx.query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))?;
        let mut stats = ReconcileStats::default();
        {
            let mut upsert = tx.prepare(
                "INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size,
                                   mtime_ns, is_pending, is_trashed, date_expires, seen,
                                   generation_added, generation_modified, date_added)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14)
                 ON CONFLICT(path_key) DO UPDATE SET
                    location = CASE WHEN files.size = excluded.size
                                     AND files.mtime_ns = excluded.mtime_ns
                                THEN files.location ELSE NULL END,
                    meta_done = CASE WHEN files.size = excluded.size
                                      AND files.mtime_ns = excluded.mtime_ns
                                 THEN files.meta_done ELSE 0 END,
                    generation_modified = CASE WHEN files.size = excluded.size
                                                AND files.mtime_ns = excluded.mtime_ns
                                           THEN files.generation_modified
                                           ELSE excluded.generation_modified END,
                    size = excluded.size, mtime_ns = excluded.mtime_ns, seen = excluded.seen",
            )?;
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
                let parent_key = vdir.key();
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
                    let n = NameColumns::of(name);
                    upsert.execute(params![
                        vpath.as_str(),
                        vpath.key(),
                        parent_key,
                        implied_owner(&vpath),
                        n.mime,
                        n.media,
                        md.size() as i64,
                        mtime_ns(&md),
                        n.pending,
                        n.trashed,
                        n.expires,
                        gen,
                        change_gen,
                        now
                    ])?;
                    stats.files += 1;
                }
            }
        }
        super::generations::tombstone_where_unseen(&tx, gen, change_gen)?;
        stats.removed = tx.execute("DELETE FROM files WHERE seen <> ?1", [gen])? as u64;
        let after: i64 = tx.query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))?;
        stats.added = (after - (before - stats.removed as i64)).max(0) as u64;
        super::generations::resume_triggers(&tx)?;
        tx.commit()?;
        Ok(stats)
    }
}

pub fn mtime_ns(md: &fs::Metadata) -> i64 {
    md.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.mtime_nsec())
}
