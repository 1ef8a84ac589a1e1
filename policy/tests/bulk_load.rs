//! The first load of an empty store defers the provider-only indexes and builds them at its
//! end (`Store::begin_bulk_load` / `end_bulk_load`); a store that already has files is left
//! alone; a load cut short (the process killed) leaves the indexes to the next load, and the
//! store answers queries correctly throughout.

use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::query;
use mediaprovider_policy::store::{FoundFile, Store};

const DEFERRED: [&str; 5] = [
    "files_date_modified",
    "files_date_taken",
    "files_generation",
    "files_meta_todo",
    "files_owner",
];

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mpd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn batch(dir: &str, n: usize) -> Vec<FoundFile> {
    (0..n)
        .map(|i| FoundFile {
            path: VolPath::parse(&format!("{dir}/f{i}.jpg")).unwrap(),
            size: 16,
            mtime_ns: 1_700_000_000_000_000_000 + i as i64,
        })
        .collect()
}

fn changed_paths(store: &Store) -> usize {
    let mut n = 0;
    query::run_changes(store, &Caller::new(0, &[]), 0, &mut |r| {
        n += usize::from(r["path"].is_string())
    })
    .unwrap();
    n
}

fn missing(store: &Store) -> Vec<String> {
    let have = store.file_indexes().unwrap();
    DEFERRED
        .iter()
        .filter(|i| !have.iter().any(|h| h == *i))
        .map(|i| i.to_string())
        .collect()
}

#[test]
fn an_empty_store_loads_without_the_provider_indexes_and_gets_them_back() {
    let d = tmp("bulk-empty");
    let store = Store::open(&d.join("m.db")).unwrap();
    let before = store.file_indexes().unwrap();
    assert!(missing(&store).is_empty(), "a new store has every index");
    assert!(store.begin_bulk_load().unwrap());
    assert_eq!(
        missing(&store).len(),
        DEFERRED.len(),
        "deferred during the load"
    );
    assert!(store
        .file_indexes()
        .unwrap()
        .contains(&"files_parent".to_string()));
    let gen = store.reconcile_generation().unwrap();
    assert_eq!(
        store.reconcile_batch(&batch("DCIM/a", 300), gen).unwrap(),
        300
    );
    assert_eq!(
        changed_paths(&store),
        300,
        "queries work without the indexes"
    );
    assert_eq!(store.end_bulk_load().unwrap(), DEFERRED.len());
    assert_eq!(store.file_indexes().unwrap(), before, "every index is back");
    assert_eq!(store.end_bulk_load().unwrap(), 0, "nothing left to build");
    assert_eq!(changed_paths(&store), 300);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_store_with_files_keeps_its_indexes() {
    let d = tmp("bulk-full");
    let store = Store::open(&d.join("m.db")).unwrap();
    let gen = store.reconcile_generation().unwrap();
    store.reconcile_batch(&batch("DCIM/a", 3), gen).unwrap();
    assert!(!store.begin_bulk_load().unwrap());
    assert!(missing(&store).is_empty());
    assert_eq!(store.end_bulk_load().unwrap(), 0);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_load_cut_short_leaves_the_indexes_to_the_next_load() {
    let d = tmp("bulk-cut");
    let db = d.join("m.db");
    {
        let store = Store::open(&db).unwrap();
        assert!(store.begin_bulk_load().unwrap());
        let gen = store.reconcile_generation().unwrap();
        store.reconcile_batch(&batch("DCIM/a", 50), gen).unwrap();
        // Dropped here without end_bulk_load: the process was killed.
    }
    let store = Store::open(&db).unwrap();
    assert_eq!(missing(&store).len(), DEFERRED.len());
    assert!(!store.begin_bulk_load().unwrap(), "the store has files now");
    assert_eq!(changed_paths(&store), 50);
    assert_eq!(store.end_bulk_load().unwrap(), DEFERRED.len());
    assert!(missing(&store).is_empty(), "the next load built them");
    let _ = std::fs::remove_dir_all(&d);
}
