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

    /// Settings for a connection that writes batch after batch for a long time (the startup
    /// reconcile): its statement journals stay in memory (they are rewritten for every
    /// statement; Android's SQLite keeps every temporary file in memory anyway), and its
    /// commits leave checkpoints to the daemon's checkpoint thread instead of running them
    /// inline. (A larger page cache measured no faster at 200,000 files.)
    pub fn tune_for_bulk_writes(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=0;")?;
        Ok(())
    }

    /// Records one batch of found files in one short transaction: new rows get the implied
    /// owner; existing rows keep theirs and their location verdict unless the file changed.
    /// Returns how many rows were new.
    pub fn reconcile_batch(&self, files: &[FoundFile], gen: i64) -> Result<u64> {
        let tx = self.write_tx()?;
        let added = self.record_found(files, gen)?;
        tx.commit()?;
        Ok(added)
    }

    /// The batch writer, inside the caller's write transaction. New rows are stamped with one
    /// generation for the whole batch (SPEC §11; the insert trigger skips stamped rows), so
    /// a row costs one index insert per index and nothing more; a changed existing row goes
    /// through the update trigger like any other write. Rows are written `CHUNK` to a
    /// statement: a statement on a table with triggers journals every page it changes, once
    /// per statement, so one row per statement would journal each touched page per row.
    pub(super) fn record_found(&self, files: &[FoundFile], gen: i64) -> Result<u64> {
        if files.is_empty() {
            return Ok(0);
        }
        // New rows are those above the largest id (AUTOINCREMENT never reuses ids).
        let (stamp, max_id): (i64, i64) = self.with_stmt(
            "SELECT (SELECT value FROM generation) + 1, (SELECT COALESCE(MAX(id), 0) FROM files)",
            |st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))),
        )?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut chunks = files.chunks_exact(CHUNK);
        for chunk in &mut chunks {
            self.with_stmt(chunk_sql(), |st| bind_found(st, chunk, gen, stamp, now))?;
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // A short tail (a small directory listed for the first time, a walk's last
            // batch): prepared for its length, once.
            let mut st = self.conn.prepare(&upsert_sql(rest.len()))?;
            bind_found(&mut st, rest, gen, stamp, now)?;
        }
        let added: i64 = self.with_stmt("SELECT COUNT(*) FROM files WHERE id > ?1", |st| {
            st.query_row([max_id], |r| r.get(0))
        })?;
        if added > 0 {
            // The stamp becomes the newest generation handed out (an update trigger that
            // fired meanwhile may have gone past it already).
            self.with_stmt("UPDATE generation SET value = ?1 WHERE value < ?1", |st| {
                st.execute([stamp])
            })?;
        }
        Ok(added.max(0) as u64)
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

/// Parameters every row of a batch shares: ?1 seen, ?2 the generation stamp, ?3 date_added.
const SHARED_PARAMS: usize = 3;
/// Parameters of one row (see `bind_found`).
const ROW_PARAMS: usize = 11;
/// Rows per statement: as many as SQLite's smallest default parameter limit (999, older
/// platform builds) allows.
const CHUNK: usize = (999 - SHARED_PARAMS) / ROW_PARAMS;
/// A good batch for `reconcile_batch`: ~4,000 rows (a commit's fixed cost vanishes, FUSE
/// writers wait behind it for milliseconds only), a whole number of statements (a shorter
/// tail statement is prepared for each batch, and preparing ~1,000 parameters is not free).
pub const RECONCILE_BATCH: usize = CHUNK * 45;

/// The upsert for a full chunk, built once (the statement cache is keyed by `&'static str`).
fn chunk_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| upsert_sql(CHUNK))
}

/// The upsert for `rows` rows. An existing row keeps its owner, pending state and stamp; its
/// location verdict only while size and mtime are unchanged.
fn upsert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size, mtime_ns,
                           is_pending, is_trashed, date_expires,
                           seen, generation_added, generation_modified, date_added) VALUES",
    );
    for row in 0..rows {
        let p = SHARED_PARAMS + row * ROW_PARAMS;
        let cols: Vec<String> = (1..=ROW_PARAMS).map(|i| format!("?{}", p + i)).collect();
        sql.push_str(if row == 0 { "(" } else { ",(" });
        sql.push_str(&cols.join(","));
        sql.push_str(",?1,?2,?2,?3)");
    }
    sql.push_str(
        " ON CONFLICT(path_key) DO UPDATE SET
            location = CASE WHEN files.size = excluded.size
                             AND files.mtime_ns = excluded.mtime_ns
                        THEN files.location ELSE NULL END,
            size = excluded.size, mtime_ns = excluded.mtime_ns, seen = excluded.seen",
    );
    sql
}

/// Binds `rows` (in `ROW_PARAMS` order) and the shared parameters, and runs the statement.
fn bind_found(
    st: &mut rusqlite::Statement<'_>,
    rows: &[FoundFile],
    seen: i64,
    stamp: i64,
    now: i64,
) -> rusqlite::Result<usize> {
    st.raw_bind_parameter(1, seen)?;
    st.raw_bind_parameter(2, stamp)?;
    st.raw_bind_parameter(3, now)?;
    // Files come directory by directory: fold each parent once.
    let mut parent: Option<(VolPath, String)> = None;
    for (row, f) in rows.iter().enumerate() {
        let p = SHARED_PARAMS + row * ROW_PARAMS;
        let dir = f.path.parent().unwrap_or_default();
        if parent.as_ref().is_none_or(|(d, _)| *d != dir) {
            let key = dir.key();
            parent = Some((dir, key));
        }
        let parent_key = parent.as_ref().map_or("", |(_, k)| k.as_str());
        let n = NameColumns::of(f.path.file_name());
        st.raw_bind_parameter(p + 1, f.path.as_str())?;
        st.raw_bind_parameter(p + 2, f.path.key())?;
        st.raw_bind_parameter(p + 3, parent_key)?;
        st.raw_bind_parameter(p + 4, implied_owner(&f.path))?;
        st.raw_bind_parameter(p + 5, n.mime)?;
        st.raw_bind_parameter(p + 6, n.media)?;
        st.raw_bind_parameter(p + 7, f.size as i64)?;
        st.raw_bind_parameter(p + 8, f.mtime_ns)?;
        st.raw_bind_parameter(p + 9, n.pending)?;
        st.raw_bind_parameter(p + 10, n.trashed)?;
        st.raw_bind_parameter(p + 11, n.expires)?;
    }
    st.raw_execute()
}
