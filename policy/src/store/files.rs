//! File rows: lookup by path, insert, delete, rename (files and whole directories), listing,
//! and the facts the rule engine needs about one path for one caller.

use super::{Result, Store, StoreError};
use crate::identity::Caller;
use crate::mime::{classify_name, MediaType};
use crate::paths::{dir_is_hidden, is_hidden_name, parse_special_name, SpecialName, VolPath};
use crate::rules::{FileFacts, Grant};
use rusqlite::{params, OptionalExtension, Row};

/// One row of the `files` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    pub id: i64,
    pub path: VolPath,
    pub owner: Option<String>,
    pub mime: String,
    pub media_type: MediaType,
    pub size: u64,
    pub mtime_ns: i64,
    pub is_pending: bool,
    pub is_trashed: bool,
    /// Created through FUSE and not closed yet.
    pub fuse_pending: bool,
    /// `Some(true)` if the content carries location, `None` if not scanned yet.
    pub location: Option<bool>,
}

const ROW_COLUMNS: &str = "id, path, owner, mime, media_type, size, mtime_ns, is_pending, \
     is_trashed, fuse_pending, location";
const FILE_WITH_GRANT: &str = "SELECT id, path, owner, mime, media_type, size, mtime_ns, \
     is_pending, is_trashed, fuse_pending, location, \
     (SELECT MAX(write) + 1 FROM grants WHERE file_id = files.id AND package IN (?2, ?3)) \
     FROM files WHERE path_key=?1";
const FILE_BY_KEY: &str = "SELECT id, path, owner, mime, media_type, size, mtime_ns, is_pending, \
     is_trashed, fuse_pending, location FROM files WHERE path_key=?1";

/// Rows strictly below the directory whose key is `?1`: a range over the unique `path_key`
/// index (`'0'` is the byte after `'/'`), not a scan of the table.
pub(super) const BELOW: &str = "path_key >= ?1 || '/' AND path_key < ?1 || '0'";

/// What a file's name alone says about its row: MIME and media type by extension, and the
/// pending/trashed state with its expiry, which live in the name (SPEC §5.7).
pub(super) struct NameColumns {
    pub mime: &'static str,
    pub media: i64,
    pub pending: bool,
    pub trashed: bool,
    pub expires: Option<i64>,
}

impl NameColumns {
    pub fn of(name: &str) -> NameColumns {
        let (mime, media) = classify_name(name);
        let (pending, trashed, expires) = match parse_special_name(name) {
            Some(SpecialName::Pending { expires }) => (true, false, Some(expires as i64)),
            Some(SpecialName::Trashed { expires }) => (false, true, Some(expires as i64)),
            None => (false, false, None),
        };
        NameColumns {
            mime,
            media: media as i64,
            pending,
            trashed,
            expires,
        }
    }
}

pub(super) fn row_from(r: &Row) -> rusqlite::Result<FileRow> {
    let path: String = r.get(1)?;
    Ok(FileRow {
        id: r.get(0)?,
        // Rows are only written from validated VolPaths; a hand-edited bad row reads as root
        // rather than failing every query.
        path: VolPath::parse(&path).unwrap_or_default(),
        owner: r.get(2)?,
        mime: r.get(3)?,
        media_type: MediaType::from_i64(r.get(4)?),
        size: r.get::<_, i64>(5)?.max(0) as u64,
        mtime_ns: r.get(6)?,
        is_pending: r.get(7)?,
        is_trashed: r.get(8)?,
        fuse_pending: r.get(9)?,
        location: r.get(10)?,
    })
}

/// What to record for a new file.
#[derive(Clone, Debug)]
pub struct NewFile<'a> {
    pub path: &'a VolPath,
    pub owner: Option<&'a str>,
    pub size: u64,
    pub mtime_ns: i64,
    /// Created through FUSE and still open for writing.
    pub fuse_pending: bool,
}

/// Default owner of a file found behind the daemon's back: the package of the
/// `Android/{data,obb,media}/<pkg>` dir it is in, else nobody (SPEC §5.11).
pub fn implied_owner(path: &VolPath) -> Option<String> {
    path.info()
        .app_dir_package()
        .filter(|_| path.depth() >= 4)
        .map(|(_, p)| p.to_string())
}

fn parent_key(path: &VolPath) -> String {
    path.parent().map(|p| p.key()).unwrap_or_default()
}

impl Store {
    pub fn file(&self, path: &VolPath) -> Result<Option<FileRow>> {
        Ok(self.with_stmt(FILE_BY_KEY, |st| {
            st.query_row([path.key()], row_from).optional()
        })?)
    }

    pub(super) fn require_file_id(&self, path: &VolPath) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT id FROM files WHERE path_key=?1",
                [path.key()],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                StoreError::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no file '{path}' in the store (run scan?)"),
                ))
            })
    }

    /// Inserts a row, or refreshes the existing row with that name (case-insensitively).
    /// The owner of an existing row is kept unless it had none.
    pub fn upsert_file(&self, f: &NewFile) -> Result<FileRow> {
        let n = NameColumns::of(f.path.file_name());
        self.with_stmt(
            "INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size, mtime_ns,
                               is_pending, is_trashed, fuse_pending, date_expires)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(path_key) DO UPDATE SET
                owner = COALESCE(files.owner, excluded.owner),
                size = excluded.size, mtime_ns = excluded.mtime_ns,
                fuse_pending = excluded.fuse_pending,
                location = NULL",
            |st| {
                st.execute(params![
                    f.path.as_str(),
                    f.path.key(),
                    parent_key(f.path),
                    f.owner,
                    n.mime,
                    n.media,
                    f.size as i64,
                    f.mtime_ns,
                    n.pending || f.fuse_pending,
                    n.trashed,
                    f.fuse_pending,
                    n.expires
                ])
            },
        )?;
        self.file(f.path)?
            .ok_or_else(|| StoreError::Io(std::io::Error::other("row vanished right after insert")))
    }

    /// After a write handle is closed: new size/mtime, pending cleared, location re-derived.
    pub fn finish_write(
        &self,
        path: &VolPath,
        size: u64,
        mtime_ns: i64,
        location: Option<bool>,
    ) -> Result<()> {
        self.with_stmt(
            "UPDATE files SET size=?2, mtime_ns=?3, location=?4,
                 is_pending = CASE WHEN fuse_pending=1 THEN 0 ELSE is_pending END, fuse_pending=0
             WHERE path_key=?1",
            |st| st.execute(params![path.key(), size as i64, mtime_ns, location]),
        )?;
        Ok(())
    }

    /// Records the scanner's verdict for a row.
    pub fn set_location(&self, path: &VolPath, location: bool) -> Result<()> {
        self.with_stmt("UPDATE files SET location=?2 WHERE path_key=?1", |st| {
            st.execute(params![path.key(), location])
        })?;
        Ok(())
    }

    /// Takes over ownership of a row (legacy apps writing an unowned file, §2.4).
    pub fn set_owner(&self, path: &VolPath, owner: Option<&str>) -> Result<()> {
        self.with_stmt("UPDATE files SET owner=?2 WHERE path_key=?1", |st| {
            st.execute(params![path.key(), owner])
        })?;
        Ok(())
    }

    pub fn delete_file(&self, path: &VolPath) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM files WHERE path_key=?1", [path.key()])?
            > 0)
    }

    /// Deletes every row at or below `dir`.
    pub fn delete_tree(&self, dir: &VolPath) -> Result<usize> {
        let key = dir.key();
        Ok(self.conn.execute(
            &format!("DELETE FROM files WHERE path_key=?1 OR {BELOW}"),
            [&key],
        )?)
    }

    /// Renames one file row; a row already at `new` is replaced. Grants follow the row.
    pub fn rename_file(&self, old: &VolPath, new: &VolPath) -> Result<()> {
        let tx = self.write_tx()?;
        if old.key() != new.key() {
            self.with_stmt("DELETE FROM files WHERE path_key=?1", |st| {
                st.execute([new.key()])
            })?;
        }
        let n = NameColumns::of(new.file_name());
        self.with_stmt(
            "UPDATE files SET path=?2, path_key=?3, parent_key=?4, mime=?5, media_type=?6,
                 is_pending=?7, is_trashed=?8, location=location, date_expires=?9
             WHERE path_key=?1",
            |st| {
                st.execute(params![
                    old.key(),
                    new.as_str(),
                    new.key(),
                    parent_key(new),
                    n.mime,
                    n.media,
                    n.pending,
                    n.trashed,
                    n.expires,
                ])
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Renames every row below directory `old` to sit below `new`, in one transaction, set-wise
    /// over index ranges: stale rows already below `new` are tombstoned and dropped (the lower
    /// rename succeeded, so nothing lives there), then every row spelled below `old` is moved by
    /// one UPDATE. Rows whose stored spelling of `old` differs (a case change behind the
    /// daemon's back) are moved one by one.
    pub fn rename_tree(&self, old: &VolPath, new: &VolPath) -> Result<usize> {
        let tx = self.write_tx()?;
        // Provider half (SPEC §11): generations for this bulk rename are recorded set-wise.
        let change_gen = super::generations::suspend_triggers(&tx)?;
        let (old_key, new_key) = (old.key(), new.key());
        if old_key != new_key {
            super::generations::tombstone_below(&tx, &new_key, change_gen)?;
            tx.execute(&format!("DELETE FROM files WHERE {BELOW}"), [&new_key])?;
        }
        // substr() counts characters: the prefixes are replaced by their character lengths.
        let old_prefix = format!("{}/", old.as_str());
        let mut n = tx.execute(
            &format!(
                "UPDATE files SET path = ?2 || substr(path, ?3),
                                  path_key = ?4 || substr(path_key, ?5),
                                  parent_key = ?4 || substr(parent_key, ?5),
                                  generation_modified = ?6
                 WHERE {BELOW} AND substr(path, 1, ?7) = ?8"
            ),
            params![
                old_key,
                new.as_str(),
                old.as_str().chars().count() as i64 + 1,
                new_key,
                old_key.chars().count() as i64 + 1,
                change_gen,
                old_prefix.chars().count() as i64,
                old_prefix
            ],
        )?;
        let others = {
            let mut st = tx.prepare(&format!("SELECT id, path FROM files WHERE {BELOW}"))?;
            let rows = st.query_map([&old_key], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        if !others.is_empty() {
            let mut up = tx.prepare(
                "UPDATE files SET path=?2, path_key=?3, parent_key=?4, generation_modified=?5
                 WHERE id=?1",
            )?;
            for (id, path) in others {
                let Some(np) = VolPath::parse(&path).ok().and_then(|p| p.rebase(old, new)) else {
                    continue;
                };
                up.execute(params![
                    id,
                    np.as_str(),
                    np.key(),
                    parent_key(&np),
                    change_gen
                ])?;
                n += 1;
            }
        }
        super::generations::resume_triggers(&tx)?;
        tx.commit()?;
        Ok(n)
    }

    /// Every row directly in `dir` (one indexed query).
    pub fn list_dir(&self, dir: &VolPath) -> Result<Vec<FileRow>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM files WHERE parent_key=?1"
        ))?;
        let rows = st.query_map([dir.key()], row_from)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every row at any depth below `dir` (directory renames and uninstall).
    pub fn list_tree(&self, dir: &VolPath) -> Result<Vec<FileRow>> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {ROW_COLUMNS} FROM files WHERE {BELOW}"))?;
        let rows = st.query_map([dir.key()], row_from)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn count_files(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM files", [], |r| r.get::<_, i64>(0))?
            .max(0) as u64)
    }

    /// Does directory `dir` itself hold a `.nomedia` row?
    pub fn has_nomedia(&self, dir: &VolPath) -> bool {
        let key = if dir.is_root() {
            ".nomedia".to_string()
        } else {
            format!("{}/.nomedia", dir.key())
        };
        self.with_stmt("SELECT 1 FROM files WHERE path_key=?1", |st| {
            st.exists([key])
        })
        .unwrap_or(false)
    }

    /// Hidden media (SPEC §5.2): a dot-name, or inside a hidden directory.
    pub fn is_hidden(&self, path: &VolPath) -> bool {
        is_hidden_name(path.file_name()) || self.dir_hidden(&path.parent().unwrap_or_default())
    }

    pub fn dir_hidden(&self, dir: &VolPath) -> bool {
        dir_is_hidden(dir, |d| self.has_nomedia(d))
    }

    /// Facts for one existing file row, given its hidden state and the caller's grant on it
    /// (listings and directory renames look grants up once for all rows).
    pub fn row_facts(row: &FileRow, dir_hidden: bool, grant: Grant) -> FileFacts {
        FileFacts {
            exists: true,
            is_dir: false,
            owner: row.owner.clone(),
            media_type: Some(row.media_type),
            hidden: dir_hidden || is_hidden_name(row.path.file_name()),
            fuse_pending: row.fuse_pending,
            has_location: row.location.unwrap_or(false),
            grant,
        }
    }

    /// Facts for one existing file row, as `caller` sees it.
    pub fn facts_for_row(
        &self,
        caller: &Caller,
        row: &FileRow,
        dir_hidden: bool,
    ) -> Result<FileFacts> {
        let grant = if caller.packages.is_empty() {
            Grant::None
        } else {
            self.grant_for(caller, row.id)?
        };
        Ok(Self::row_facts(row, dir_hidden, grant))
    }

    /// Facts for `path`: from its row if it has one; `exists`/`is_dir` come from the caller,
    /// who knows the lower tree.
    pub fn facts(
        &self,
        caller: &Caller,
        path: &VolPath,
        exists: bool,
        is_dir: bool,
    ) -> Result<FileFacts> {
        if is_dir {
            return Ok(FileFacts {
                exists,
                is_dir: true,
                ..FileFacts::default()
            });
        }
        let found = self.file_with_grant(caller, path)?.map(|(row, grant)| {
            let hidden = self.dir_hidden(&path.parent().unwrap_or_default());
            (row, grant, hidden)
        });
        match found {
            Some((row, grant, dir_hidden)) => {
                let mut f = Self::row_facts(&row, dir_hidden, grant);
                f.exists = exists;
                Ok(f)
            }
            None => Ok(FileFacts {
                exists,
                media_type: Some(classify_name(path.file_name()).1),
                hidden: self.is_hidden(path),
                ..FileFacts::default()
            }),
        }
    }

    /// A row and `caller`'s grant on it in one query (the decision hot path); callers with more
    /// than two packages (rare shared uids) take a second query.
    pub fn file_with_grant(
        &self,
        caller: &Caller,
        path: &VolPath,
    ) -> Result<Option<(FileRow, Grant)>> {
        let (p1, p2) = match caller.packages.as_slice() {
            [] => ("", ""),
            [a] => (a.as_str(), a.as_str()),
            [a, b] => (a.as_str(), b.as_str()),
            _ => {
                return match self.file(path)? {
                    Some(row) => {
                        let g = self.grant_for(caller, row.id)?;
                        Ok(Some((row, g)))
                    }
                    None => Ok(None),
                }
            }
        };
        Ok(self.with_stmt(FILE_WITH_GRANT, |st| {
            st.query_row(params![path.key(), p1, p2], |r| {
                let grant = match r.get::<_, Option<i64>>(11)? {
                    Some(2) => Grant::Write,
                    Some(1) => Grant::Read,
                    _ => Grant::None,
                };
                Ok((row_from(r)?, grant))
            })
            .optional()
        })?)
    }

    /// Cached scanner result for an unchanged file (keyed by inode, size and mtime).
    pub fn cached_ranges(&self, ino: u64, size: u64, mtime_ns: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT ranges FROM ranges_cache WHERE ino=?1 AND size=?2 AND mtime_ns=?3",
                params![ino as i64, size as i64, mtime_ns],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn put_ranges(&self, ino: u64, size: u64, mtime_ns: i64, json: &str) -> Result<()> {
        self.with_stmt(
            "INSERT INTO ranges_cache(ino, size, mtime_ns, ranges) VALUES(?1, ?2, ?3, ?4)
             ON CONFLICT(ino) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,
                 ranges=excluded.ranges",
            |st| st.execute(params![ino as i64, size as i64, mtime_ns, json]),
        )?;
        Ok(())
    }
}

impl Store {
    /// Up to `limit` rows after row id `after` whose content has not been scanned for
    /// location yet, in id order (so a caller pages through them once).
    pub fn unscanned(&self, after: i64, limit: usize) -> Result<Vec<(i64, VolPath, u64, i64)>> {
        let mut st = self.conn.prepare(
            "SELECT id, path, size, mtime_ns FROM files WHERE location IS NULL AND id > ?1
             ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![after, limit as i64], |r| {
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
            if let Ok(p) = VolPath::parse(&path) {
                out.push((id, p, size.max(0) as u64, mtime));
            }
        }
        Ok(out)
    }

    /// Records scanner verdicts for many rows in one transaction. A row whose size or mtime
    /// changed meanwhile keeps its unknown state (it will be scanned again).
    pub fn set_locations(&self, verdicts: &[(i64, u64, i64, bool)]) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut st =
                tx.prepare("UPDATE files SET location=?4 WHERE id=?1 AND size=?2 AND mtime_ns=?3")?;
            for (id, size, mtime, loc) in verdicts {
                st.execute(params![id, *size as i64, mtime, loc])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl Store {
    /// Indexes a file found in the lower tree (lookup, listing) unless a row of that name
    /// exists: a row being created through FUSE already carries its owner, and a listing
    /// must never overwrite or clear it (SPEC §9, ownership is not lost).
    pub fn index_found(&self, f: &NewFile) -> Result<FileRow> {
        let n = NameColumns::of(f.path.file_name());
        self.with_stmt(
            "INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size, mtime_ns,
                               is_pending, is_trashed, fuse_pending, date_expires)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11)
             ON CONFLICT(path_key) DO NOTHING",
            |st| {
                st.execute(params![
                    f.path.as_str(),
                    f.path.key(),
                    parent_key(f.path),
                    f.owner,
                    n.mime,
                    n.media,
                    f.size as i64,
                    f.mtime_ns,
                    n.pending,
                    n.trashed,
                    n.expires
                ])
            },
        )?;
        self.file(f.path)?
            .ok_or_else(|| StoreError::Io(std::io::Error::other("row vanished right after insert")))
    }

    /// Drops `listed`, the row of a file a listing found missing from the lower tree, only if
    /// the row is still exactly as listed and was not being created through FUSE: the listing's
    /// read of the directory and of the store are not atomic, so a row listed while its file
    /// was being created (row first, then the file) may be closed and complete by now.
    pub fn delete_vanished(&self, listed: &FileRow) -> Result<bool> {
        if listed.fuse_pending {
            return Ok(false);
        }
        let n = self.with_stmt(
            "DELETE FROM files WHERE id=?1 AND path_key=?2 AND fuse_pending=0
                                 AND size=?3 AND mtime_ns=?4",
            |st| {
                st.execute(params![
                    listed.id,
                    listed.path.key(),
                    listed.size as i64,
                    listed.mtime_ns
                ])
            },
        )?;
        Ok(n > 0)
    }
}
