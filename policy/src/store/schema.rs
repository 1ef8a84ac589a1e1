//! Versioned schema. `PRAGMA user_version` holds the version; each migration moves one step
//! inside one transaction, so a crash mid-migration leaves the previous version intact.

use super::{Result, StoreError};
use rusqlite::Connection;

/// Each entry upgrades from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the initial schema.
    "
    CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE packages(
        name TEXT PRIMARY KEY COLLATE NOCASE,
        uid INTEGER NOT NULL,
        target_sdk INTEGER NOT NULL,
        legacy INTEGER NOT NULL,
        perms INTEGER NOT NULL,
        seq INTEGER NOT NULL
    );
    CREATE INDEX packages_uid ON packages(uid, seq);
    CREATE TABLE files(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL,
        path_key TEXT NOT NULL UNIQUE,
        parent_key TEXT NOT NULL,
        owner TEXT,
        mime TEXT NOT NULL,
        media_type INTEGER NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        mtime_ns INTEGER NOT NULL DEFAULT 0,
        is_pending INTEGER NOT NULL DEFAULT 0,
        is_trashed INTEGER NOT NULL DEFAULT 0,
        fuse_pending INTEGER NOT NULL DEFAULT 0,
        date_expires INTEGER,
        location INTEGER,
        seen INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX files_parent ON files(parent_key);
    CREATE INDEX files_owner ON files(owner);
    CREATE TABLE grants(
        package TEXT NOT NULL COLLATE NOCASE,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        write INTEGER NOT NULL,
        PRIMARY KEY(package, file_id)
    );
    CREATE INDEX grants_file ON grants(file_id);
    CREATE TABLE ranges_cache(
        ino INTEGER PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        ranges TEXT NOT NULL
    );
    ",
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub fn migrate(conn: &Connection) -> Result<()> {
    loop {
        let version = user_version(conn)?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if !(0..=SCHEMA_VERSION).contains(&version) {
            return Err(StoreError::TooNew(version));
        }
        // Another process (an `app` command racing `serve` on a new store) may be migrating
        // too: take the write lock first, then re-read the version under it.
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let step = (|| {
            if user_version(conn)? != version {
                return Ok(());
            }
            conn.execute_batch(MIGRATIONS[version as usize])?;
            conn.execute_batch(&format!("PRAGMA user_version={}", version + 1))
        })();
        match step {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}
