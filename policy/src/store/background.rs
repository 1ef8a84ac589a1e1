//! Reconcile in the background, while the volume is served: the daemon walks the lower tree
//! itself and hands the store short batches, so FUSE requests never wait behind one long write
//! transaction. Rows the walk did not see are removal candidates only; the caller checks the
//! lower tree again before dropping one (a file created or renamed through FUSE meanwhile
//! keeps its row).

use super::files::implied_owner;
use super::files::NameColumns;
use super::{Result, Store};
use crate::paths::VolPath;
use rusqlite::params;

/// A regular file the walk found.
#[derive(Clone, Debug)]
pub struct FoundFile {
    pub path: VolPath,
    pub size: u64,
    pub mtime_ns: i64,
}

impl Store {
    /// The generation a new walk marks the rows it sees with.
    pub fn reconcile_generation(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(seen), 0) + 1 FROM files", [], |r| {
                r.get(0)
            })?)
    }

    /// Records one batch of found files in one short transaction: new rows get the implied
    /// owner; existing rows keep theirs and their location verdict unless the file changed.
    /// Returns how many rows were new.
    pub fn reconcile_batch(&self, files: &[FoundFile], gen: i64) -> Result<u64> {
        let tx = self.write_tx()?;
        let before: i64 = tx.query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))?;
        {
            let mut upsert = tx.prepare(
                "INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size,
                                   mtime_ns, is_pending, is_trashed, date_expires, seen)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(path_key) DO UPDATE SET
                    location = CASE WHEN files.size = excluded.size
                                     AND files.mtime_ns = excluded.mtime_ns
                                THEN files.location ELSE NULL END,
                    size = excluded.size, mtime_ns = excluded.mtime_ns, seen = excluded.seen",
            )?;
            for f in files {
                let n = NameColumns::of(f.path.file_name());
                upsert.execute(params![
                    f.path.as_str(),
                    f.path.key(),
                    f.path.parent().map(|p| p.key()).unwrap_or_default(),
                    implied_owner(&f.path),
                    n.mime,
                    n.media,
                    f.size as i64,
                    f.mtime_ns,
                    n.pending,
                    n.trashed,
                    n.expires,
                    gen
                ])?;
            }
        }
        let after: i64 = tx.query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))?;
        tx.commit()?;
        Ok((after - before).max(0) as u64)
    }

    /// Up to `limit` rows after id `after` that walk `gen` did not see (and that are not
    /// being created through FUSE right now).
    pub fn reconcile_unseen(
        &self,
        gen: i64,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, VolPath)>> {
        let mut st = self.conn.prepare(
            "SELECT id, path FROM files WHERE seen <> ?1 AND fuse_pending = 0 AND id > ?2
             ORDER BY id LIMIT ?3",
        )?;
        let rows = st.query_map(params![gen, after, limit as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, path) = row?;
            if let Ok(p) = VolPath::parse(&path) {
                out.push((id, p));
            }
        }
        Ok(out)
    }

    /// Drops the row `id` if it still has that path and was not seen since.
    pub fn reconcile_remove(&self, id: i64, path: &VolPath, gen: i64) -> Result<bool> {
        Ok(self.with_stmt(
            "DELETE FROM files WHERE id=?1 AND path_key=?2 AND seen <> ?3 AND fuse_pending = 0",
            |st| st.execute(params![id, path.key(), gen]),
        )? > 0)
    }
}
