//! The provider half's rows (SPEC §11): selecting rows with their extracted metadata in a
//! requested order, recording metadata, favorites, and finding expired trashed/pending rows.
//! Who may see a row is not decided here: see `crate::query`.

use super::files::row_from;
use super::{FileRow, Result, Store};
use crate::meta::MediaMeta;
use crate::mime::MediaType;
use crate::paths::VolPath;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Row};

/// A `files` row with everything a query returns.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaRow {
    pub file: FileRow,
    pub date_added: Option<i64>,
    pub meta: MediaMeta,
    pub is_favorite: bool,
    pub date_expires: Option<i64>,
    pub generation_added: i64,
    pub generation_modified: i64,
}

const MEDIA_COLUMNS: &str = "id, path, owner, mime, media_type, size, mtime_ns, is_pending, \
     is_trashed, fuse_pending, location, date_added, date_taken, width, height, orientation, \
     duration_ms, latitude, longitude, is_favorite, date_expires, generation_added, \
     generation_modified";

fn media_row(r: &Row) -> rusqlite::Result<MediaRow> {
    Ok(MediaRow {
        file: row_from(r)?,
        date_added: r.get(11)?,
        meta: MediaMeta {
            date_taken_ms: r.get(12)?,
            width: r.get(13)?,
            height: r.get(14)?,
            orientation: r.get(15)?,
            duration_ms: r.get(16)?,
            latitude: r.get(17)?,
            longitude: r.get(18)?,
        },
        is_favorite: r.get(19)?,
        date_expires: r.get(20)?,
        generation_added: r.get(21)?,
        generation_modified: r.get(22)?,
    })
}

/// Sort orders of `query --sort` (each backed by an index or the rowid where it matters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    DateTaken,
    DateModified,
    DateAdded,
    DisplayName,
    Size,
    Generation,
}

impl SortKey {
    pub fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "date_taken" => SortKey::DateTaken,
            "date_modified" => SortKey::DateModified,
            "date_added" => SortKey::DateAdded,
            "display_name" => SortKey::DisplayName,
            "size" => SortKey::Size,
            "generation" => SortKey::Generation,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            SortKey::DateTaken => "date_taken",
            SortKey::DateModified => "mtime_ns",
            SortKey::DateAdded => "date_added",
            SortKey::DisplayName => "display_name COLLATE NOCASE",
            SortKey::Size => "size",
            SortKey::Generation => "generation_modified",
        }
    }
}

/// Row-level filters that need no knowledge of the caller.
#[derive(Clone, Debug, Default)]
pub struct RowFilter {
    /// Only these media types (`None`: any).
    pub media_types: Option<Vec<MediaType>>,
    /// Only rows at or below this directory.
    pub under: Option<VolPath>,
    pub mime: Option<String>,
    pub include_pending: bool,
    pub include_trashed: bool,
    pub favorites_only: bool,
    /// Only rows with `generation_modified > since`.
    pub since: Option<i64>,
}

impl Store {
    /// Calls `f` with every row matching `filter`, in `sort` order (ties by id), until `f`
    /// returns false. Rows stream from SQLite: a page costs what it reads, not the store size.
    pub fn for_each_media_row(
        &self,
        filter: &RowFilter,
        sort: SortKey,
        desc: bool,
        mut f: impl FnMut(MediaRow) -> bool,
    ) -> Result<()> {
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        if let Some(types) = &filter.media_types {
            let list: Vec<String> = types.iter().map(|t| (*t as i64).to_string()).collect();
            clauses.push(format!("media_type IN ({})", list.join(",")));
        }
        if let Some(dir) = filter.under.as_ref().filter(|d| !d.is_root()) {
            args.push(Value::Text(format!("{}/", dir.key())));
            clauses.push(format!(
                "substr(path_key, 1, length(?{n})) = ?{n}",
                n = args.len()
            ));
        }
        if let Some(mime) = &filter.mime {
            args.push(Value::Text(mime.to_ascii_lowercase()));
            clauses.push(format!("lower(mime) = ?{}", args.len()));
        }
        if !filter.include_pending {
            clauses.push("is_pending = 0".into());
        }
        if !filter.include_trashed {
            clauses.push("is_trashed = 0".into());
        }
        if filter.favorites_only {
            clauses.push("is_favorite = 1".into());
        }
        if let Some(g) = filter.since {
            args.push(Value::Integer(g));
            clauses.push(format!("generation_modified > ?{}", args.len()));
        }
        let dir = if desc { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {MEDIA_COLUMNS} FROM files {} {} ORDER BY {} {dir}, id {dir}",
            if clauses.is_empty() { "" } else { "WHERE" },
            clauses.join(" AND "),
            sort.column(),
        );
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            if !f(media_row(r)?) {
                break;
            }
        }
        Ok(())
    }

    /// One row with its metadata, by path.
    pub fn media_row(&self, path: &VolPath) -> Result<Option<MediaRow>> {
        let sql = format!("SELECT {MEDIA_COLUMNS} FROM files WHERE path_key = ?1");
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query([path.key()])?;
        Ok(match rows.next()? {
            Some(r) => Some(media_row(r)?),
            None => None,
        })
    }

    /// Up to `limit` rows whose metadata was not extracted from their current content:
    /// (id, path, size, mtime_ns).
    pub fn metadata_todo(&self, limit: usize) -> Result<Vec<(i64, VolPath, u64, i64)>> {
        let mut st = self.conn.prepare(
            "SELECT id, path, size, mtime_ns FROM files WHERE meta_done = 0 ORDER BY id LIMIT ?1",
        )?;
        let rows = st.query_map(params![limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, path, size, mtime) = row?;
            // An unparseable stored path cannot be opened: mark it done with no metadata.
            let path = VolPath::parse(&path).unwrap_or_default();
            out.push((id, path, size.max(0) as u64, mtime));
        }
        Ok(out)
    }

    /// Records extracted metadata in one transaction. A row whose size or mtime changed since
    /// it was read keeps its "to do" state (it is extracted again).
    pub fn set_metadata(&self, done: &[(i64, u64, i64, MediaMeta)]) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut st = tx.prepare(
                "UPDATE files SET date_taken=?4, width=?5, height=?6, orientation=?7,
                     duration_ms=?8, latitude=?9, longitude=?10, meta_done=1
                 WHERE id=?1 AND size=?2 AND mtime_ns=?3",
            )?;
            for (id, size, mtime, m) in done {
                st.execute(params![
                    id,
                    *size as i64,
                    mtime,
                    m.date_taken_ms,
                    m.width,
                    m.height,
                    m.orientation,
                    m.duration_ms,
                    m.latitude,
                    m.longitude
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets or clears `is_favorite`; false if there is no such row.
    /// The favorite flag is kept in the ownership backup too (SPEC §9).
    pub fn set_favorite(&self, path: &VolPath, favorite: bool) -> Result<bool> {
        let changed =
            self.with_stmt("UPDATE files SET is_favorite=?2 WHERE path_key=?1", |st| {
                st.execute(params![path.key(), favorite])
            })? > 0;
        if changed {
            self.sync_backup(path);
        }
        Ok(changed)
    }

    /// Rows `maintain` deletes at time `now` (seconds): trashed rows whose expiry passed, and
    /// pending rows older than `pending_max_age` seconds (by their `.pending-<expiry>` name, or
    /// by when they were added for FUSE-created files still open for writing).
    pub fn expired_rows(&self, now: i64, pending_max_age: i64) -> Result<Vec<FileRow>> {
        let sql = "SELECT id, path, owner, mime, media_type, size, mtime_ns, is_pending, \
             is_trashed, fuse_pending, location FROM files \
             WHERE (is_trashed = 1 AND date_expires < ?1) \
                OR (is_pending = 1 AND COALESCE(date_expires, date_added + ?2) < ?1)";
        let mut st = self.conn.prepare(sql)?;
        let rows = st.query_map(params![now, pending_max_age], row_from)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
