//! Store generations, tombstones and the store version (SPEC §11). The counters themselves are
//! kept by triggers (see `schema.rs`), so every write path bumps them; this is the read side.

use super::schema::{install_generation_triggers, DROP_GENERATION_TRIGGERS};
use super::{Result, Store};
use rusqlite::{params, Connection, OptionalExtension};

/// Settings key of the random id made with the store (renewed when it is rebuilt from scratch).
pub const SETTING_VERSION: &str = "store_version";

impl Store {
    /// The newest generation handed out (0 for an empty new store).
    pub fn generation(&self) -> Result<i64> {
        Ok(self
            .with_stmt("SELECT value FROM generation WHERE id = 1", |st| {
                st.query_row([], |r| r.get::<_, i64>(0)).optional()
            })?
            .unwrap_or(0))
    }

    /// The store's random version id: a client that sees it change must resync.
    pub fn version(&self) -> Result<String> {
        Ok(self.setting(SETTING_VERSION)?.unwrap_or_default())
    }

    /// Ids of rows deleted after generation `since`, oldest deletion first.
    pub fn deleted_since(&self, since: i64) -> Result<Vec<i64>> {
        Ok(self.with_stmt(
            "SELECT id FROM tombstones WHERE generation > ?1 ORDER BY generation",
            |st| st.query_map(params![since], |r| r.get(0))?.collect(),
        )?)
    }
}

// ---- bulk paths ---------------------------------------------------------------------------
// Inside one write transaction a bulk rewriter (a directory rename) drops the triggers,
// records the same facts set-wise with one new generation for the whole batch, and recreates
// them before it commits. Other connections never see the triggers missing (the write lock is
// held, readers see the last commit), and a crash rolls the drop back. (Reconcile batches,
// which only insert, keep the triggers: the insert trigger skips rows they stamp.)

/// Suspends the triggers for the rest of `tx` and returns the batch's generation.
pub(super) fn suspend_triggers(tx: &Connection) -> Result<i64> {
    tx.execute_batch(DROP_GENERATION_TRIGGERS)?;
    Ok(tx.query_row(
        "UPDATE generation SET value = value + 1 RETURNING value",
        [],
        |r| r.get(0),
    )?)
}

/// Tombstones, at generation `g`, every row below the directory with key `dir_key`, which a
/// bulk rename is about to replace.
pub(super) fn tombstone_below(tx: &Connection, dir_key: &str, g: i64) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO tombstones(id, generation) SELECT id, ?2 FROM files WHERE {}",
            super::files::BELOW
        ),
        params![dir_key, g],
    )?;
    Ok(())
}

pub(super) fn resume_triggers(tx: &Connection) -> Result<()> {
    install_generation_triggers(tx)?;
    Ok(())
}
