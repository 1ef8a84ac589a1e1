//! The provider half on the store (SPEC §11): generations and tombstones across create,
//! rewrite, rename, delete and trash; the store version; queries' visibility, paging and
//! location columns; the v1 → v2 migration on a store made by the v1 schema.

use mediaprovider_policy::identity::{Caller, Package, PermSet, Permission};
use mediaprovider_policy::lifecycle::{self, Action, Plan};
use mediaprovider_policy::meta::MediaMeta;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::query::{self, Collection, Query};
use mediaprovider_policy::store::{NewFile, SortKey, Store};
use serde_json::Value;

fn p(s: &str) -> VolPath {
    VolPath::parse(s).unwrap()
}

fn add(store: &Store, path: &str, owner: Option<&str>, size: u64) -> i64 {
    store
        .upsert_file(&NewFile {
            path: &p(path),
            owner,
            size,
            mtime_ns: 1_000_000_000,
            fuse_pending: false,
        })
        .unwrap()
        .id
}

fn app(uid: u32, name: &str, perms: &[Permission]) -> (Package, Caller) {
    let pkg = Package {
        name: name.into(),
        uid,
        target_sdk: 34,
        legacy: false,
        perms: PermSet::of(perms),
    };
    let c = Caller::new(uid, std::slice::from_ref(&pkg));
    (pkg, c)
}

fn changes(store: &Store, caller: &Caller, since: i64) -> Vec<Value> {
    let mut v = Vec::new();
    query::run_changes(store, caller, since, &mut |r| v.push(r)).unwrap();
    v
}

fn query(store: &Store, caller: &Caller, q: &Query) -> Vec<Value> {
    let mut v = Vec::new();
    query::run_query(store, caller, q, &mut |r| v.push(r)).unwrap();
    v
}

fn paths(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn generations_and_tombstones_follow_every_change() {
    let store = Store::open_in_memory().unwrap();
    let root = Caller::new(0, &[]);
    let g0 = store.generation().unwrap();
    let version = store.version().unwrap();
    assert_eq!(version.len(), 32, "random 128-bit store version");

    // Create.
    let id = add(&store, "DCIM/a.jpg", Some("com.o"), 10);
    let g1 = store.generation().unwrap();
    assert!(g1 > g0);
    let c = changes(&store, &root, g0);
    assert_eq!(paths(&c), ["DCIM/a.jpg"]);
    assert_eq!(c[0]["generation_added"], g1);
    assert_eq!(c[0]["generation_modified"], g1);
    assert!(
        changes(&store, &root, g1).is_empty(),
        "nothing after the newest generation"
    );

    // Re-indexing unchanged content is not a change.
    add(&store, "DCIM/a.jpg", Some("com.o"), 10);
    assert_eq!(store.generation().unwrap(), g1);

    // Rewrite (content changes): modified, not added.
    store
        .finish_write(&p("DCIM/a.jpg"), 20, 2_000_000_000, Some(false))
        .unwrap();
    let g2 = store.generation().unwrap();
    assert!(g2 > g1);
    let c = changes(&store, &root, g1);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["id"], id);
    assert_eq!(c[0]["generation_added"], g1);
    assert_eq!(c[0]["generation_modified"], g2);

    // Metadata arriving later is a change too (a client that synced early refetches it).
    store
        .set_metadata(&[(
            id,
            20,
            2_000_000_000,
            MediaMeta {
                width: Some(4),
                ..Default::default()
            },
        )])
        .unwrap();
    let g3 = store.generation().unwrap();
    assert!(g3 > g2);
    assert_eq!(changes(&store, &root, g2)[0]["width"], 4);

    // Rename keeps the id.
    store
        .rename_file(&p("DCIM/a.jpg"), &p("DCIM/b.jpg"))
        .unwrap();
    let g4 = store.generation().unwrap();
    let c = changes(&store, &root, g3);
    assert_eq!(paths(&c), ["DCIM/b.jpg"]);
    assert_eq!(c[0]["id"], id);
    assert_eq!(c[0]["generation_modified"], g4);

    // Trash: a rename to the trashed name, with its expiry.
    let owner = app(10_001, "com.o", &[]).1;
    let plan = lifecycle::plan(&store, &owner, Action::Trash, &p("DCIM/b.jpg"), 1000).unwrap();
    let Plan::Rename { from, to } = plan else {
        panic!("{plan:?}")
    };
    assert_eq!(
        to.as_str(),
        format!("DCIM/.trashed-{}-b.jpg", 1000 + lifecycle::TRASH_SECONDS)
    );
    store.rename_file(&from, &to).unwrap();
    let c = changes(&store, &root, g4);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["is_trashed"], true);
    assert_eq!(c[0]["display_name"], "b.jpg");
    assert_eq!(c[0]["date_expires"], 1000 + lifecycle::TRASH_SECONDS);
    let g5 = store.generation().unwrap();

    // Favorite.
    store.set_favorite(&to, true).unwrap();
    let c = changes(&store, &root, g5);
    assert_eq!(c[0]["is_favorite"], true);
    let g6 = store.generation().unwrap();

    // Delete leaves a tombstone; earlier `since` values see it too, in order.
    store.delete_file(&to).unwrap();
    let c = changes(&store, &root, g6);
    assert_eq!(c, vec![serde_json::json!({"deleted": id})]);
    assert_eq!(
        changes(&store, &root, g0),
        vec![serde_json::json!({"deleted": id})]
    );
    assert!(store.generation().unwrap() > g6);
    assert_eq!(
        store.version().unwrap(),
        version,
        "version only changes on rebuild"
    );

    // A replaced row (rename onto an existing name) is a deletion too.
    let x = add(&store, "DCIM/x.jpg", None, 1);
    add(&store, "DCIM/y.jpg", None, 1);
    let g7 = store.generation().unwrap();
    store
        .rename_file(&p("DCIM/y.jpg"), &p("DCIM/x.jpg"))
        .unwrap();
    let c = changes(&store, &root, g7);
    assert!(c.contains(&serde_json::json!({"deleted": x})), "{c:?}");
}

#[test]
fn a_new_store_has_a_new_version() {
    let a = Store::open_in_memory().unwrap().version().unwrap();
    let b = Store::open_in_memory().unwrap().version().unwrap();
    assert_ne!(a, b);
}

#[test]
fn queries_page_sort_and_filter_by_visibility() {
    let store = Store::open_in_memory().unwrap();
    let (pa, reader) = app(10_010, "com.reader", &[Permission::ReadMediaImages]);
    let (pb, locator) = app(
        10_011,
        "com.locator",
        &[Permission::ReadMediaImages, Permission::AccessMediaLocation],
    );
    store.add_package(&pa).unwrap();
    store.add_package(&pb).unwrap();
    let mut ids = Vec::new();
    for i in 0..10 {
        let id = add(&store, &format!("DCIM/{i}.jpg"), None, i);
        let meta = MediaMeta {
            date_taken_ms: Some(1000 * (10 - i as i64)),
            latitude: Some(1.5),
            longitude: Some(2.5),
            ..Default::default()
        };
        store.set_metadata(&[(id, i, 1_000_000_000, meta)]).unwrap();
        ids.push(id);
    }
    add(&store, "DCIM/v.mp4", None, 1);
    add(&store, "Download/d.pdf", Some("com.reader"), 1);
    add(&store, "Download/other.pdf", None, 1);

    // Images, newest taken first, second page of 3.
    let q = Query {
        collection: Collection::Images,
        sort: SortKey::DateTaken,
        desc: true,
        limit: Some(3),
        offset: 3,
        ..Query::default()
    };
    let rows = query(&store, &reader, &q);
    assert_eq!(paths(&rows), ["DCIM/3.jpg", "DCIM/4.jpg", "DCIM/5.jpg"]);
    // No ACCESS_MEDIA_LOCATION: the open would be redacted, so no position.
    assert!(rows
        .iter()
        .all(|r| r["latitude"].is_null() && r["longitude"].is_null()));
    let rows = query(&store, &locator, &q);
    assert!(rows
        .iter()
        .all(|r| r["latitude"] == 1.5 && r["longitude"] == 2.5));

    // Collections: the reader sees no video; downloads are its own pdf only.
    let v = Query {
        collection: Collection::Video,
        ..Query::default()
    };
    assert!(query(&store, &reader, &v).is_empty());
    let d = Query {
        collection: Collection::Downloads,
        ..Query::default()
    };
    assert_eq!(paths(&query(&store, &reader, &d)), ["Download/d.pdf"]);
    let root = Caller::new(0, &[]);
    assert_eq!(query(&store, &root, &d).len(), 2);
    // A path prefix outside the collection's directory gives nothing.
    let none = Query {
        collection: Collection::Downloads,
        path_prefix: Some(p("DCIM")),
        ..Query::default()
    };
    assert!(query(&store, &root, &none).is_empty());
    let mime = Query {
        mime: Some("VIDEO/MP4".into()),
        ..Query::default()
    };
    assert_eq!(paths(&query(&store, &root, &mime)), ["DCIM/v.mp4"]);
}

/// The v1 schema exactly as the previous code created it, with rows as it wrote them.
const V1_SCHEMA: &str = include_str!("data/schema_v1.sql");

#[test]
fn migration_from_v1_keeps_rows_and_starts_generations() {
    let dir = std::env::temp_dir().join(format!("mpd-migrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("v1.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(V1_SCHEMA).unwrap();
        conn.execute_batch(
            "INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size, mtime_ns)
               VALUES('DCIM/a.jpg', 'dcim/a.jpg', 'dcim', 'com.o', 'image/jpeg', 1, 5, 7000000000);
             INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size, mtime_ns)
               VALUES('Download/b.pdf', 'download/b.pdf', 'download', NULL, 'application/pdf', 6, 1, 0);
             PRAGMA user_version=1;",
        )
        .unwrap();
    }
    let store = Store::open(&db).unwrap();
    let root = Caller::new(0, &[]);
    let rows = changes(&store, &root, 0);
    assert_eq!(paths(&rows), ["DCIM/a.jpg", "Download/b.pdf"]);
    assert_eq!(
        rows[0]["date_added"], 7,
        "existing rows get date_added from their mtime"
    );
    assert_eq!(rows[0]["generation_added"], rows[0]["id"]);
    let g = store.generation().unwrap();
    assert_eq!(g, 2);
    assert_eq!(store.version().unwrap().len(), 32);
    // New rows continue after the migrated ones; metadata is pending for the old rows.
    add(&store, "DCIM/c.jpg", None, 1);
    assert_eq!(store.generation().unwrap(), 3);
    assert_eq!(store.metadata_todo(10).unwrap().len(), 3);
    drop(store);
    // Reopening does not migrate again.
    let store = Store::open(&db).unwrap();
    assert_eq!(store.generation().unwrap(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reconcile records generations set-wise (one stamp per batch; the insert trigger skips
/// stamped rows): new files, changed files and removed files all show up in `changes`, and
/// the triggers work for every later write.
#[test]
fn reconcile_keeps_generations_and_tombstones() {
    let dir = std::env::temp_dir().join(format!("mpd-gen-reconcile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let lower = dir.join("lower");
    std::fs::create_dir_all(lower.join("DCIM")).unwrap();
    std::fs::write(lower.join("DCIM/a.jpg"), b"a").unwrap();
    std::fs::write(lower.join("DCIM/b.jpg"), b"b").unwrap();
    let store = Store::open(&dir.join("media.db")).unwrap();
    let root = Caller::new(0, &[]);
    let g0 = store.generation().unwrap();
    store.reconcile(&lower).unwrap();
    let added = changes(&store, &root, g0);
    assert_eq!(paths(&added).len(), 2);
    assert!(added
        .iter()
        .all(|r| r["generation_added"].as_i64() > Some(g0)));
    assert!(added.iter().all(|r| r["date_added"].as_i64().is_some()));
    assert_eq!(store.metadata_todo(10).unwrap().len(), 2);
    for (id, size, mtime) in store
        .metadata_todo(10)
        .unwrap()
        .into_iter()
        .map(|(i, _, s, m)| (i, s, m))
    {
        store
            .set_metadata(&[(id, size, mtime, MediaMeta::default())])
            .unwrap();
    }
    let g1 = store.generation().unwrap();
    let b_id = added.iter().find(|r| r["path"] == "DCIM/b.jpg").unwrap()["id"].clone();

    // Unchanged: nothing to report.
    store.reconcile(&lower).unwrap();
    assert!(changes(&store, &root, g1).is_empty());

    // Changed content and a removal.
    std::fs::write(lower.join("DCIM/a.jpg"), b"longer").unwrap();
    std::fs::remove_file(lower.join("DCIM/b.jpg")).unwrap();
    store.reconcile(&lower).unwrap();
    let c = changes(&store, &root, g1);
    assert_eq!(paths(&c), ["DCIM/a.jpg"]);
    assert!(c.contains(&serde_json::json!({ "deleted": b_id })), "{c:?}");
    assert_eq!(
        store.metadata_todo(10).unwrap().len(),
        1,
        "changed content is re-extracted"
    );

    // The triggers are back: an ordinary write bumps the generation again.
    let g2 = store.generation().unwrap();
    store.set_favorite(&p("DCIM/a.jpg"), true).unwrap();
    assert!(store.generation().unwrap() > g2);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A directory rename (bulk, triggers suspended) reports every moved row and a tombstone for a
/// row it replaced, and leaves the triggers in place.
#[test]
fn directory_rename_keeps_generations_and_tombstones() {
    let store = Store::open_in_memory().unwrap();
    let root = Caller::new(0, &[]);
    let a = add(&store, "DCIM/old/a.jpg", None, 1);
    let b = add(&store, "DCIM/old/b.jpg", None, 1);
    let replaced = add(&store, "DCIM/new/a.jpg", None, 1);
    let g0 = store.generation().unwrap();
    assert_eq!(
        store.rename_tree(&p("DCIM/old"), &p("DCIM/new")).unwrap(),
        2
    );
    let c = changes(&store, &root, g0);
    let moved: Vec<(Value, &str)> = c
        .iter()
        .filter_map(|r| Some((r["id"].clone(), r["path"].as_str()?)))
        .collect();
    assert!(moved.contains(&(a.into(), "DCIM/new/a.jpg")), "{c:?}");
    assert!(moved.contains(&(b.into(), "DCIM/new/b.jpg")), "{c:?}");
    assert!(
        c.contains(&serde_json::json!({ "deleted": replaced })),
        "{c:?}"
    );
    let g1 = store.generation().unwrap();
    assert!(g1 > g0);
    store.set_favorite(&p("DCIM/new/b.jpg"), true).unwrap();
    assert!(store.generation().unwrap() > g1, "triggers are back");
}
