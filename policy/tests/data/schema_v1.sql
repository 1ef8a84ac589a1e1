-- The v1 schema (policy/src/store/schema.rs at commit 0bcb345, before the provider half),
-- used to test the v1 -> v2 migration on a store the previous code made.
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

