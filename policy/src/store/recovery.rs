//! Keeping the ownership backup (`crate::backup`) in step with the store, and restoring the store
//! from it after a rebuild (SPEC §9: owners, grants and favorites are never lost with the store).

use super::{Result, Store, SETTING_LOWER};
use crate::backup::{self, FileBackup};
use crate::paths::VolPath;
use rusqlite::params;
use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// What a recovery found and restored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Files whose backup said anything.
    pub files_with_backup: u64,
    pub owners_restored: u64,
    pub grants_restored: u64,
    pub favorites_restored: u64,
    /// Packages the backups name that are not registered in this store (their registrations
    /// were in the lost store: they come back from packages.list on a device, by `app add` on
    /// a host; their files are theirs again as soon as they are registered).
    pub unregistered_packages: BTreeSet<String>,
}

impl Store {
    fn lower_root(&self) -> Option<PathBuf> {
        self.setting(SETTING_LOWER)
            .ok()
            .flatten()
            .map(PathBuf::from)
    }

    /// The store's view of one file's backup (`None` if the store has no row for it).
    pub fn backup_of(&self, path: &VolPath) -> Result<Option<FileBackup>> {
        let Some(row) = self.file(path)? else {
            return Ok(None);
        };
        let grants = self.with_stmt(
            "SELECT package, write FROM grants WHERE file_id=?1 ORDER BY package",
            |st| {
                st.query_map([row.id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
                })?
                .collect()
            },
        )?;
        let favorite = self.has_column("files", "is_favorite")
            && self
                .conn
                .query_row("SELECT is_favorite FROM files WHERE id=?1", [row.id], |r| {
                    r.get::<_, bool>(0)
                })
                .unwrap_or(false);
        Ok(Some(FileBackup {
            owner: row.owner,
            grants,
            favorite,
        }))
    }

    /// Rewrites one file's backup from the store, after a change to its grants, owner or
    /// favorite made outside the create path. Best effort: a failure is logged and never
    /// undoes the store change (the store stays the authority while it exists).
    pub fn sync_backup(&self, path: &VolPath) {
        let Some(lower) = self.lower_root() else {
            return;
        };
        // The row's spelling is the on-disk one (the caller's may differ in case).
        let on_disk = match self.file(path) {
            Ok(Some(row)) => row.path,
            _ => return,
        };
        let r = self
            .backup_of(path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                let Some(b) = b else { return Ok(()) };
                let f = backup::open_beneath(&lower, &on_disk).map_err(|e| e.to_string())?;
                backup::write(f.as_fd(), &b).map_err(|e| e.to_string())
            });
        if let Err(e) = r {
            log::warn!("ownership backup not updated for a file: {e}");
        }
    }

    fn has_column(&self, table: &str, column: &str) -> bool {
        self.conn
            .prepare(&format!("SELECT {column} FROM {table} LIMIT 0"))
            .is_ok()
    }

    /// After the store was rebuilt: reads every indexed file's backup and restores owners
    /// (where the row has none yet), grants and favorites, in one transaction.
    pub fn recover_from_backups(&self, lower: &Path) -> Result<Recovery> {
        let rows: Vec<(i64, String, Option<String>)> = {
            let mut st = self.conn.prepare("SELECT id, path, owner FROM files")?;
            let v = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            v
        };
        let registered: BTreeSet<String> = self
            .packages()?
            .into_iter()
            .map(|p| p.name.to_ascii_lowercase())
            .collect();
        let favorites = self.has_column("files", "is_favorite");
        let mut rec = Recovery::default();
        let mut found = Vec::new();
        let mut unsupported_logged = false;
        for (id, path, owner) in rows {
            let Ok(vpath) = VolPath::parse(&path) else {
                continue;
            };
            let b = match backup::open_beneath(lower, &vpath).and_then(|f| backup::read(f.as_fd()))
            {
                Ok(b) if !b.is_empty() => b,
                Ok(_) => continue,
                Err(e) if backup::unsupported(&e) => {
                    if !unsupported_logged {
                        log::warn!("ownership backup unreadable on the lower filesystem: {e}");
                        unsupported_logged = true;
                    }
                    continue;
                }
                Err(_) => continue,
            };
            rec.files_with_backup += 1;
            let names = b.owner.iter().chain(b.grants.iter().map(|(p, _)| p));
            for p in names {
                if !registered.contains(&p.to_ascii_lowercase()) {
                    rec.unregistered_packages.insert(p.clone());
                }
            }
            found.push((id, owner.is_none(), b));
        }
        let tx = self.write_tx()?;
        for (id, ownerless, b) in &found {
            if let (true, Some(o)) = (ownerless, &b.owner) {
                rec.owners_restored +=
                    tx.execute("UPDATE files SET owner=?2 WHERE id=?1", params![id, o])? as u64;
            }
            for (pkg, write) in &b.grants {
                rec.grants_restored += tx.execute(
                    "INSERT INTO grants(package, file_id, write) VALUES(?1, ?2, ?3)
                     ON CONFLICT(package, file_id) DO UPDATE SET write = MAX(write, excluded.write)",
                    params![pkg, id, write],
                )? as u64;
            }
            if favorites && b.favorite {
                rec.favorites_restored += tx.execute(
                    "UPDATE files SET is_favorite=1 WHERE id=?1 AND is_favorite=0",
                    [id],
                )? as u64;
            }
        }
        tx.commit()?;
        Ok(rec)
    }
}
