//! Store generations, tombstones and the store version (SPEC §11). The counters themselves are
//! kept by triggers (see `schema.rs`), so every write path bumps them; this is the read side.

use super::{Result, Store};
use rusqlite::{params, OptionalExtension};

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
