//! The metadata store: MediaProvider's `files` table and friends in SQLite (WAL, versioned
//! schema). Paths are matched case-insensitively through a folded `path_key` column with a
//! unique index, so a lookup by path is O(log n) whatever the lower filesystem's case rules.

mod background;
mod facts_cache;
mod files;
mod generations;
mod media;
mod packages;
mod reconcile;
mod recovery;
mod schema;
mod wal_version;

pub use background::{FoundFile, RECONCILE_BATCH};
pub use facts_cache::{DecisionRow, Opener};
pub use files::{implied_owner, FileRow, NewFile};
pub use generations::SETTING_VERSION;
pub use media::{MediaRow, RowFilter, SortKey};
pub use reconcile::{mtime_ns, ReconcileStats};
pub use recovery::Recovery;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Statement};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
pub enum StoreError {
    Sqlite(rusqlite::Error),
    /// The file is not a usable database (corrupt, or another format).
    Corrupt(String),
    /// The schema is newer than this build understands.
    TooNew(i64),
    UnknownPackage(String),
    PackageExists(String),
    /// A uid the store refuses (not an app uid, for instance).
    BadUid(u32),
    Io(std::io::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "store: {e}"),
            StoreError::Corrupt(m) => write!(f, "store is corrupt: {m}"),
            StoreError::TooNew(v) => write!(f, "store schema version {v} is newer than this build"),
            StoreError::UnknownPackage(p) => write!(f, "unknown package '{p}'"),
            StoreError::PackageExists(p) => write!(f, "package '{p}' is already registered"),
            StoreError::BadUid(u) => write!(f, "uid {u} is not an app uid"),
            StoreError::Io(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, msg)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
                ) =>
            {
                StoreError::Corrupt(msg.clone().unwrap_or_else(|| f.to_string()))
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Why the daemon started from an empty store (SPEC §9: every rebuild is logged with its cause).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RebuildCause {
    Missing,
    Empty,
    Corrupt(String),
    NewerSchema(i64),
}

impl fmt::Display for RebuildCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RebuildCause::Missing => write!(f, "the store file was missing"),
            RebuildCause::Empty => write!(f, "the store file was empty"),
            RebuildCause::Corrupt(m) => write!(f, "the store was corrupt ({m}); moved aside"),
            RebuildCause::NewerSchema(v) => {
                write!(
                    f,
                    "the store has schema version {v}, newer than this build; moved aside"
                )
            }
        }
    }
}

/// Settings keys `serve` records so that `app` commands can find the running daemon.
pub const SETTING_LOWER: &str = "lower_root";
pub const SETTING_MOUNT: &str = "mount_point";
pub const SETTING_CONTROL: &str = "control_socket";
/// The Android user whose volume `serve --user N` serves (SPEC §4).
pub const SETTING_USER: &str = "volume_user";

/// The path an in-memory store reports.
const IN_MEMORY: &str = ":memory:";

/// One connection to the store. Not `Sync`: the daemon locks it (or gives each thread its own).
pub struct Store {
    // Declared before `conn` so cached statements are finalized before the connection closes.
    stmts: RefCell<HashMap<&'static str, Statement<'static>>>,
    conn: Box<Connection>,
    path: PathBuf,
    /// Decision facts recently read, shared with the connections of [`Store::opener`].
    facts_cache: Arc<facts_cache::FactsCache>,
}

// SAFETY: a Store moves between threads as a whole: its cached statements only refer to its own
// boxed connection (stable address), and rusqlite connections are `Send` (SQLite opened in
// multi-thread mode). `Store` stays `!Sync`, so no two threads use the statements at once.
unsafe impl Send for Store {}

impl Store {
    /// Opens (creating if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Self::setup(conn, path)
    }

    /// An in-memory store (tests, benchmarks).
    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory()?, Path::new(IN_MEMORY))
    }

    fn setup(conn: Connection, path: &Path) -> Result<Store> {
        conn.busy_handler(Some(wait_for_writer))?;
        // Switching a brand-new file to WAL while another process creates it too can answer
        // "busy" without consulting the busy handler: retry for a while, like the handler would.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let r = conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
                .and_then(|_| {
                    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
                })
                .map_err(StoreError::from)
                .and_then(|_| schema::migrate(&conn));
            match r {
                Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)))
                    if matches!(
                        f.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other?,
            }
        }
        let on_disk = (path != Path::new(IN_MEMORY)).then_some(path);
        Ok(Store {
            stmts: RefCell::new(HashMap::new()),
            conn: Box::new(conn),
            path: path.to_path_buf(),
            facts_cache: Arc::new(facts_cache::FactsCache::new(on_disk)),
        })
    }

    /// Opens the store for the daemon. A store that is missing or empty is created, one that
    /// is corrupt or from a newer build is moved aside (`.corrupt` / `.newer`) and started
    /// afresh; each of these is a rebuild, returned with its cause so that the caller says so
    /// and restores ownership from the backups (`recover_from_backups`) after reconciling.
    pub fn open_or_rebuild(path: &Path) -> Result<(Store, Option<RebuildCause>)> {
        let cause = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(RebuildCause::Missing),
            Ok(md) if md.len() == 0 => Some(RebuildCause::Empty),
            _ => None,
        };
        let (aside, cause) = match Self::open(path).and_then(|s| s.check_integrity().map(|_| s)) {
            Ok(s) => return Ok((s, cause)),
            Err(StoreError::Corrupt(m)) => ("corrupt", RebuildCause::Corrupt(m)),
            Err(StoreError::TooNew(v)) => ("newer", RebuildCause::NewerSchema(v)),
            Err(e) => return Err(e),
        };
        std::fs::rename(path, path.with_extension(aside))?;
        for ext in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(ext);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        Ok((Self::open(path)?, Some(cause)))
    }

    fn check_integrity(&self) -> Result<()> {
        let r: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if r == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(r))
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes whenever another connection commits: a cheap "did anything change" probe for
    /// caches in long-running readers (`PRAGMA data_version`).
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.with_stmt("PRAGMA data_version", |st| st.query_row([], |r| r.get(0)))?)
    }

    /// Copies the write-ahead log back into the database and empties it, waiting at most about
    /// 50 ms for the write lock and for readers still on old frames: the checkpoint holds the
    /// write lock while it waits, so a long wait would stall every writer. Returns whether it
    /// completed (`false`: busy; try again later).
    pub fn checkpoint_wal(&self) -> Result<bool> {
        self.conn.busy_handler(Some(wait_briefly))?;
        let busy = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
        self.conn.busy_handler(Some(wait_for_writer))?;
        Ok(busy? == 0)
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key=?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings(key,value) VALUES(?1,?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    pub fn clear_setting(&self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM settings WHERE key=?1", [key])?;
        Ok(())
    }

    /// Runs `f` with the prepared statement for `sql`, preparing it once per connection (AOSP's
    /// rusqlite is built without the `cache` feature, and preparing costs more than running a
    /// point query). The statement is taken out of the cache while in use, so nested calls with
    /// other statements are fine.
    pub(crate) fn with_stmt<T>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut Statement<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let cached = self.stmts.borrow_mut().remove(sql);
        let mut stmt = match cached {
            Some(s) => s,
            None => {
                let s = self.conn.prepare(sql)?;
                // SAFETY: the statement borrows `*self.conn`, which is boxed (its address never
                // changes) and outlives every cached statement (field order above, and entries
                // are dropped with `self`).
                unsafe { std::mem::transmute::<Statement<'_>, Statement<'static>>(s) }
            }
        };
        let r = f(&mut stmt);
        self.stmts.borrow_mut().insert(sql, stmt);
        r
    }

    /// A write transaction that takes the write lock up front (`BEGIN IMMEDIATE`), so it waits
    /// for other writers through the busy handler instead of failing on a read→write upgrade.
    pub(crate) fn write_tx(&self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
    }

    /// Raw connection, for the daemon's own prepared statements.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// How long a connection waits for another writer before answering "busy": 10 s, about.
const BUSY_WAIT_LIMIT_US: u64 = 10_000_000;
/// How long a checkpoint may hold writers back: 50 ms, about.
const CHECKPOINT_WAIT_LIMIT_US: u64 = 50_000;

/// Busy handler: another connection holds the write lock (the daemon's per-thread connections,
/// its background passes, a command-line tool). SQLite's own timeout handler sleeps 1, 2, 5,
/// 10… 100 ms between tries, so a create that meets a concurrent commit lost milliseconds;
/// write transactions here last tens of microseconds, so try again soon, backing off slowly.
fn wait_for_writer(tries: i32) -> bool {
    wait_up_to(tries, BUSY_WAIT_LIMIT_US)
}

/// The checkpointer's handler: the same polling (it must win the write lock against writers
/// that poll this fast), for a much shorter time.
fn wait_briefly(tries: i32) -> bool {
    wait_up_to(tries, CHECKPOINT_WAIT_LIMIT_US)
}

fn wait_up_to(tries: i32, limit_us: u64) -> bool {
    let tries = tries.max(0) as u64;
    let (pause_us, waited_us) = match tries {
        0..20 => (20, tries * 20),
        20..200 => (100, 400 + (tries - 20) * 100),
        _ => (2_000, 18_400 + (tries - 200) * 2_000),
    };
    if waited_us >= limit_us {
        return false;
    }
    std::thread::sleep(Duration::from_micros(pause_us));
    true
}
