//! Installed packages, their permissions and per-item grants.

use super::{Result, Store, StoreError};
use crate::identity::{Caller, Package, PermSet, Uid};
use crate::paths::{fold, VolPath};
use crate::rules::Grant;
use rusqlite::{params, OptionalExtension, Row};

fn package_from_row(r: &Row) -> rusqlite::Result<Package> {
    Ok(Package {
        name: r.get(0)?,
        uid: r.get(1)?,
        target_sdk: r.get(2)?,
        legacy: r.get(3)?,
        perms: PermSet(r.get(4)?),
    })
}

const PACKAGE_COLUMNS: &str = "name, uid, target_sdk, legacy, perms";

impl Store {
    /// Registers a package. A second package for an existing uid makes a shared uid.
    pub fn add_package(&self, pkg: &Package) -> Result<()> {
        if self.package(&pkg.name)?.is_some() {
            return Err(StoreError::PackageExists(pkg.name.clone()));
        }
        self.conn.execute(
            "INSERT INTO packages(name, uid, target_sdk, legacy, perms, seq)
             VALUES(?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(seq), 0) + 1 FROM packages))",
            params![pkg.name, pkg.uid, pkg.target_sdk, pkg.legacy, pkg.perms.0],
        )?;
        Ok(())
    }

    pub fn package(&self, name: &str) -> Result<Option<Package>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {PACKAGE_COLUMNS} FROM packages WHERE name=?1"),
                [name],
                package_from_row,
            )
            .optional()?)
    }

    fn require_package(&self, name: &str) -> Result<Package> {
        self.package(name)?
            .ok_or_else(|| StoreError::UnknownPackage(name.to_string()))
    }

    /// All packages in registration order.
    pub fn packages(&self) -> Result<Vec<Package>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {PACKAGE_COLUMNS} FROM packages ORDER BY seq"
        ))?;
        let rows = st.query_map([], package_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Packages of one uid, first-registered first.
    pub fn packages_for_uid(&self, uid: Uid) -> Result<Vec<Package>> {
        Ok(self.with_stmt(
            "SELECT name, uid, target_sdk, legacy, perms FROM packages WHERE uid=?1 ORDER BY seq",
            |st| st.query_map([uid], package_from_row)?.collect(),
        )?)
    }

    /// The policy identity of `uid` as the store knows it now.
    /// Seen from the volume of the Android user `serve --user` recorded: another user's uids
    /// reach nothing (SPEC §4).
    pub fn caller(&self, uid: Uid) -> Result<Caller> {
        let caller = Caller::new(uid, &self.packages_for_uid(uid)?);
        Ok(caller.on_volume_of_user(self.volume_user()?))
    }

    /// The Android user whose volume this store describes (`serve --user N`; 0 if never set).
    pub fn volume_user(&self) -> Result<u32> {
        Ok(self
            .setting(super::SETTING_USER)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Adds and removes permissions of one package; returns the updated package.
    pub fn update_permissions(&self, name: &str, add: PermSet, remove: PermSet) -> Result<Package> {
        let mut pkg = self.require_package(name)?;
        pkg.perms = PermSet((pkg.perms.0 | add.0) & !remove.0);
        self.conn.execute(
            "UPDATE packages SET perms=?1 WHERE name=?2",
            params![pkg.perms.0, name],
        )?;
        Ok(pkg)
    }

    /// Uninstall (SPEC §5.9): drops the package, its grants and the rows of its app-specific
    /// dirs; its other files stay with no owner. Returns the removed package. Deleting the
    /// directories themselves is the caller's job (the daemon or the CLI).
    pub fn remove_package(&self, name: &str) -> Result<Package> {
        let pkg = self.require_package(name)?;
        // Files whose backup names the package (owned or granted): rewritten after the commit,
        // so a rebuilt store cannot hand them back to a later install of the same name.
        let touched: Vec<String> = self.with_stmt(
            "SELECT path FROM files WHERE owner=?1 COLLATE NOCASE
             UNION SELECT f.path FROM files f JOIN grants g ON g.file_id=f.id WHERE g.package=?1",
            |st| st.query_map([&pkg.name], |r| r.get(0))?.collect(),
        )?;
        let tx = self.write_tx()?;
        tx.execute("DELETE FROM grants WHERE package=?1", [name])?;
        for area in ["data", "obb", "media"] {
            let prefix = format!("android/{area}/{}", fold(&pkg.name));
            tx.execute(
                "DELETE FROM files WHERE path_key=?1 OR substr(path_key, 1, length(?1) + 1) = ?1 || '/'",
                [&prefix],
            )?;
        }
        tx.execute(
            "UPDATE files SET owner=NULL WHERE owner=?1 COLLATE NOCASE",
            [&pkg.name],
        )?;
        tx.execute("DELETE FROM packages WHERE name=?1", [name])?;
        tx.commit()?;
        for p in touched.iter().filter_map(|p| VolPath::parse(p).ok()) {
            self.sync_backup(&p);
        }
        Ok(pkg)
    }

    /// Per-item grant (`grant-file`); a write grant implies read. The file must be indexed.
    pub fn grant_file(&self, package: &str, path: &VolPath, write: bool) -> Result<()> {
        self.require_package(package)?;
        let id = self.require_file_id(path)?;
        self.conn.execute(
            "INSERT INTO grants(package, file_id, write) VALUES(?1, ?2, ?3)
             ON CONFLICT(package, file_id) DO UPDATE SET write = MAX(write, excluded.write)",
            params![package, id, write],
        )?;
        self.sync_backup(path);
        Ok(())
    }

    pub fn revoke_file(&self, package: &str, path: &VolPath) -> Result<()> {
        self.require_package(package)?;
        let id = self.require_file_id(path)?;
        self.conn.execute(
            "DELETE FROM grants WHERE package=?1 AND file_id=?2",
            params![package, id],
        )?;
        self.sync_backup(path);
        Ok(())
    }

    /// The strongest grant any of `caller`'s packages holds on file row `file_id`.
    pub fn grant_for(&self, caller: &Caller, file_id: i64) -> Result<Grant> {
        if caller.packages.is_empty() {
            return Ok(Grant::None);
        }
        Ok(
            self.with_stmt("SELECT package, write FROM grants WHERE file_id=?1", |st| {
                let mut rows = st.query([file_id])?;
                let mut best = Grant::None;
                while let Some(r) = rows.next()? {
                    let pkg: String = r.get(0)?;
                    let write: bool = r.get(1)?;
                    if caller.owns_package(&pkg) {
                        best = best.max(if write { Grant::Write } else { Grant::Read });
                    }
                }
                Ok(best)
            })?,
        )
    }
}

impl Store {
    /// Every per-item grant held by any of `caller`'s packages, by file id (one query; grants
    /// are few, so listings look them up in memory).
    pub fn grants_of(&self, caller: &Caller) -> Result<std::collections::HashMap<i64, Grant>> {
        let mut out = std::collections::HashMap::new();
        if caller.packages.is_empty() {
            return Ok(out);
        }
        let mut st = self
            .conn
            .prepare("SELECT package, file_id, write FROM grants")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let pkg: String = r.get(0)?;
            if !caller.owns_package(&pkg) {
                continue;
            }
            let g = if r.get::<_, bool>(2)? {
                Grant::Write
            } else {
                Grant::Read
            };
            let e = out.entry(r.get::<_, i64>(1)?).or_insert(Grant::None);
            *e = (*e).max(g);
        }
        Ok(out)
    }
}
