//! The provider half's background work inside `serve` (SPEC §11): metadata extraction for
//! every row whose content changed (startup backlog, closes after write, files first seen by
//! lookup or listing — found through the store, so no FUSE path needs to call it), and the
//! daily `maintain`. Its own store connection and thread; file reads happen outside any
//! transaction, so FUSE requests never wait on it for long.

use super::query_socket::NameHook;
use crate::provider::{self, Ctx};
use mediaprovider_policy::meta;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::store::Store;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often the store is checked for new work (a cheap `PRAGMA data_version` read).
const POLL: Duration = Duration::from_secs(2);
const DAY: Duration = Duration::from_secs(86_400);
/// The first `maintain` runs shortly after startup (not during the startup reconcile).
const FIRST_MAINTAIN: Duration = Duration::from_secs(60);

pub fn spawn(db: &Path, lower: &Path, hook: NameHook) {
    let (db, lower) = (db.to_path_buf(), lower.to_path_buf());
    let spawned = std::thread::Builder::new()
        .name("provider".into())
        .spawn(move || {
            if let Err(e) = run(&db, &lower, &hook) {
                log::warn!("provider tasks stopped: {e}");
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the provider tasks: {e}");
    }
}

fn run(db: &Path, lower: &Path, hook: &NameHook) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(db)?;
    let open = |p: &VolPath| provider::open_lower(lower, p);
    let mut seen_version = None;
    let mut next_maintain = Instant::now() + FIRST_MAINTAIN;
    loop {
        let version = store.data_version()?;
        if seen_version != Some(version) && !super::reconcile::walk_running() {
            let t = Instant::now();
            let n = meta::index_pending(&store, &open, usize::MAX)?;
            if n > 0 {
                log::info!(
                    "extracted metadata of {n} files in {:.2}s",
                    t.elapsed().as_secs_f64()
                );
            }
            // Our own writes bump the version too; re-read it so they do not count as news.
            seen_version = Some(store.data_version()?);
        }
        if Instant::now() >= next_maintain {
            let ctx = Ctx {
                store: &store,
                lower: Some(lower),
                name_changed: &|old: &VolPath, new: Option<&VolPath>| (hook.changed)(old, new),
                moving: Some(&hook.moving),
            };
            match provider::maintain(&ctx, lower, unix_now()) {
                Ok(m) if m.deleted + m.failed > 0 => log::info!(
                    "maintain: deleted {} expired items ({} held open, {} failed)",
                    m.deleted,
                    m.kept_open,
                    m.failed
                ),
                Ok(_) => {}
                Err(e) => log::warn!("maintain: {}", e.message),
            }
            next_maintain = Instant::now() + DAY;
        }
        std::thread::sleep(POLL);
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
