-- The v2 schema (the provider half, before the insert trigger skipped stamped rows), dumped from
-- a store the previous code created; used to test the v2 -> v3 migration.
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
    , date_added INTEGER, date_taken INTEGER, width INTEGER, height INTEGER, orientation INTEGER, duration_ms INTEGER, latitude REAL, longitude REAL, is_favorite INTEGER NOT NULL DEFAULT 0, meta_done INTEGER NOT NULL DEFAULT 0, generation_added INTEGER NOT NULL DEFAULT 0, generation_modified INTEGER NOT NULL DEFAULT 0, display_name TEXT
        GENERATED ALWAYS AS (substr(path, length(rtrim(path, replace(path, '/', ''))) + 1)) VIRTUAL);
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
CREATE TABLE generation(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
CREATE TABLE tombstones(id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
CREATE INDEX tombstones_generation ON tombstones(generation);
CREATE INDEX files_date_taken ON files(date_taken);
CREATE INDEX files_date_modified ON files(mtime_ns);
CREATE INDEX files_generation ON files(generation_modified);
CREATE INDEX files_meta_todo ON files(id) WHERE meta_done = 0;
CREATE TRIGGER files_generation_insert AFTER INSERT ON files BEGIN
        UPDATE generation SET value = value + 1;
        UPDATE files SET generation_added = (SELECT value FROM generation),
                         generation_modified = (SELECT value FROM generation),
                         date_added = COALESCE(NEW.date_added, CAST(strftime('%s', 'now') AS INTEGER))
            WHERE id = NEW.id;
    END;
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
INSERT INTO generation VALUES(1, 0);
INSERT INTO settings(key, value) VALUES('store_version', '00112233445566778899aabbccddeeff');
PRAGMA user_version=2;
