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
    // 1 → 2: the provider half (SPEC §11): extracted metadata, favorites, generations,
    // tombstones and the store version. Generations are kept by triggers, so every write path
    // (FUSE, reconcile, app commands, lifecycle) counts without knowing about them.
    PROVIDER_SCHEMA,
    // 2 → 3: the insert trigger leaves alone rows inserted already stamped with a generation
    // (bulk reconcile batches), so those statements need no per-row statement journal; the
    // new trigger is created by `migrate` from `INSERT_TRIGGER`.
    "DROP TRIGGER IF EXISTS files_generation_insert;",
];

const PROVIDER_SCHEMA: &str = "
    ALTER TABLE files ADD COLUMN date_added INTEGER;
    ALTER TABLE files ADD COLUMN date_taken INTEGER;
    ALTER TABLE files ADD COLUMN width INTEGER;
    ALTER TABLE files ADD COLUMN height INTEGER;
    ALTER TABLE files ADD COLUMN orientation INTEGER;
    ALTER TABLE files ADD COLUMN duration_ms INTEGER;
    ALTER TABLE files ADD COLUMN latitude REAL;
    ALTER TABLE files ADD COLUMN longitude REAL;
    ALTER TABLE files ADD COLUMN is_favorite INTEGER NOT NULL DEFAULT 0;
    -- 1 once metadata was extracted from the current content (size, mtime).
    ALTER TABLE files ADD COLUMN meta_done INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN generation_added INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN generation_modified INTEGER NOT NULL DEFAULT 0;
    -- The last path component, for sorting by display_name.
    ALTER TABLE files ADD COLUMN display_name TEXT
        GENERATED ALWAYS AS (substr(path, length(rtrim(path, replace(path, '/', ''))) + 1)) VIRTUAL;

    CREATE TABLE generation(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
    INSERT INTO generation VALUES(1, (SELECT COALESCE(MAX(id), 0) FROM files));
    UPDATE files SET generation_added = id, generation_modified = id,
        date_added = mtime_ns / 1000000000;
    CREATE TABLE tombstones(id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
    CREATE INDEX tombstones_generation ON tombstones(generation);
    INSERT OR IGNORE INTO settings(key, value) VALUES('store_version', lower(hex(randomblob(16))));

    CREATE INDEX files_date_taken ON files(date_taken);
    CREATE INDEX files_date_modified ON files(mtime_ns);
    CREATE INDEX files_generation ON files(generation_modified);
    CREATE INDEX files_meta_todo ON files(id) WHERE meta_done = 0;
";

/// Keeps generations on insert. A row inserted with `generation_added` already set (a bulk
/// writer stamps a whole batch with one generation) is left alone: the trigger then costs no
/// row write, and the bulk statement no per-row journal of the pages the trigger would touch.
pub(super) const INSERT_TRIGGER: &str = "
    CREATE TRIGGER files_generation_insert AFTER INSERT ON files
        WHEN NEW.generation_added = 0 BEGIN
        UPDATE generation SET value = value + 1;
        UPDATE files SET generation_added = (SELECT value FROM generation),
                         generation_modified = (SELECT value FROM generation),
                         date_added = COALESCE(NEW.date_added, CAST(strftime('%s', 'now') AS INTEGER))
            WHERE id = NEW.id;
    END;
";

/// The triggers that keep generations, tombstones and metadata staleness for every other
/// write path (with `INSERT_TRIGGER`, the set `install_generation_triggers` creates).
/// A directory rename, which rewrites many rows at once, suspends them inside its transaction
/// and does the same bookkeeping set-wise.
const UPDATE_DELETE_TRIGGERS: &str = "
    -- Any change a client must hear of; a content change also marks the metadata for
    -- extraction again (one row write for both).
    CREATE TRIGGER files_generation_update
        AFTER UPDATE OF path, size, mtime_ns, owner, is_pending, is_trashed, is_favorite, meta_done
        ON files
        WHEN OLD.path IS NOT NEW.path OR OLD.size IS NOT NEW.size
          OR OLD.mtime_ns IS NOT NEW.mtime_ns OR OLD.owner IS NOT NEW.owner
          OR OLD.is_pending IS NOT NEW.is_pending OR OLD.is_trashed IS NOT NEW.is_trashed
          OR OLD.is_favorite IS NOT NEW.is_favorite OR OLD.meta_done IS NOT NEW.meta_done BEGIN
        UPDATE generation SET value = value + 1;
        UPDATE files SET generation_modified = (SELECT value FROM generation),
                         meta_done = CASE WHEN OLD.size IS NOT NEW.size
                                           OR OLD.mtime_ns IS NOT NEW.mtime_ns
                                      THEN 0 ELSE NEW.meta_done END
            WHERE id = NEW.id;
    END;
    CREATE TRIGGER files_tombstone AFTER DELETE ON files BEGIN
        UPDATE generation SET value = value + 1;
        INSERT OR REPLACE INTO tombstones(id, generation)
            VALUES(OLD.id, (SELECT value FROM generation));
    END;
";

/// Creates every generation trigger (the provider migration, and bulk paths resuming them).
pub(super) fn install_generation_triggers(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(INSERT_TRIGGER)?;
    conn.execute_batch(UPDATE_DELETE_TRIGGERS)
}

pub(super) const DROP_GENERATION_TRIGGERS: &str = "
    DROP TRIGGER files_generation_insert;
    DROP TRIGGER files_generation_update;
    DROP TRIGGER files_tombstone;
";

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
/// The version whose migration adds the generation triggers.
const PROVIDER_VERSION: i64 = 2;
/// The version whose migration replaces the insert trigger by `INSERT_TRIGGER`.
const STAMPED_INSERT_VERSION: i64 = 3;

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
            if version + 1 == PROVIDER_VERSION {
                install_generation_triggers(conn)?;
            }
            if version + 1 == STAMPED_INSERT_VERSION {
                conn.execute_batch(INSERT_TRIGGER)?;
            }
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
