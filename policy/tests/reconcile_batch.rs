//! The background reconcile's batch writer (`Store::reconcile_batch`) keeps the provider
//! half's generations (SPEC §11) while stamping a whole batch with one generation, and the
//! v2 → v3 migration (the insert trigger skips stamped rows) keeps a store's rows, generations
//! and triggers.

use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::meta::MediaMeta;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::query;
use mediaprovider_policy::store::{FoundFile, NewFile, Store};
use serde_json::Value;

fn p(s: &str) -> VolPath {
    VolPath::parse(s).unwrap()
}

fn found(path: &str, size: u64) -> FoundFile {
    FoundFile {
        path: p(path),
        size,
        mtime_ns: 5_000_000_000,
    }
}

/// An ordinary one-row insert (the trigger-stamped path); returns the row id.
fn insert(store: &Store, path: &str) -> i64 {
    store
        .upsert_file(&NewFile {
            path: &p(path),
            owner: None,
            size: 1,
            mtime_ns: 1,
            fuse_pending: false,
        })
        .unwrap()
        .id
}

fn changes(store: &Store, since: i64) -> Vec<Value> {
    let mut v = Vec::new();
    query::run_changes(store, &Caller::new(0, &[]), since, &mut |r| v.push(r)).unwrap();
    v
}

fn rows_named(rows: &[Value], path: &str) -> Vec<Value> {
    rows.iter().filter(|r| r["path"] == path).cloned().collect()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mpd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A batch larger than one statement's worth of rows (several statements and a tail): every
/// row is new, counted once, stamped with one generation newer than any before the batch,
/// and handed out as the store's generation; per-row trigger bumps would have moved the
/// generation once per row.
#[test]
fn a_batch_stamps_its_new_rows_with_one_newer_generation() {
    let store = Store::open_in_memory().unwrap();
    let before = {
        let id = insert(&store, "DCIM/old.jpg");
        assert!(id > 0);
        store.generation().unwrap()
    };
    let batch: Vec<FoundFile> = (0..250)
        .map(|i| found(&format!("Download/d{}/f{i:03}.jpg", i / 100), i))
        .chain([found("Android/data/com.own/files/x.mp4", 3)])
        .collect();
    let gen = store.reconcile_generation().unwrap();
    assert_eq!(store.reconcile_batch(&batch, gen).unwrap(), 251);
    let g = store.generation().unwrap();
    assert_eq!(g, before + 1, "one generation for the whole batch");

    let new = changes(&store, before);
    assert_eq!(new.len(), 251);
    for r in &new {
        assert_eq!(r["generation_added"], g, "{r}");
        assert_eq!(r["generation_modified"], g, "{r}");
        assert!(r["date_added"].as_i64().unwrap() > 1_600_000_000, "{r}");
    }
    let own = rows_named(&new, "Android/data/com.own/files/x.mp4");
    assert_eq!(own[0]["owner_package"], "com.own", "implied owner");
    assert_eq!(rows_named(&new, "Download/d2/f249.jpg")[0]["size"], 249);
    assert_eq!(store.metadata_todo(1000).unwrap().len(), 252);

    // The same files again: nothing new, nothing changed, no generation spent.
    assert_eq!(store.reconcile_batch(&batch, gen + 1).unwrap(), 0);
    assert_eq!(store.generation().unwrap(), g);
    assert!(changes(&store, g).is_empty());
}

/// A changed file found by a later batch is reported as modified (newer generation, metadata
/// extracted again) and keeps its row, owner and generation_added; a row removed after the
/// walk leaves a tombstone; a batch holding two spellings of one name keeps one row.
#[test]
fn batch_changes_and_removals_reach_clients() {
    let store = Store::open_in_memory().unwrap();
    let gen = store.reconcile_generation().unwrap();
    store
        .reconcile_batch(&[found("DCIM/a.jpg", 1), found("DCIM/b.jpg", 1)], gen)
        .unwrap();
    for (id, _, size, mtime) in store.metadata_todo(10).unwrap() {
        store
            .set_metadata(&[(id, size, mtime, MediaMeta::default())])
            .unwrap();
    }
    let g1 = store.generation().unwrap();
    let a_before = rows_named(&changes(&store, 0), "DCIM/a.jpg")[0].clone();

    let gen2 = gen + 1;
    let added = store
        .reconcile_batch(
            &[
                found("DCIM/a.jpg", 7),
                found("DCIM/c.jpg", 1),
                found("DCIM/C.JPG", 2),
            ],
            gen2,
        )
        .unwrap();
    assert_eq!(added, 1, "c.jpg and C.JPG are one row");
    let c = changes(&store, g1);
    let a = &rows_named(&c, "DCIM/a.jpg")[0];
    assert!(a["generation_modified"].as_i64() > Some(g1));
    assert_eq!(a["generation_added"], a_before["generation_added"]);
    assert_eq!(a["id"], a_before["id"]);
    assert_eq!(a["size"], 7);
    let todo: Vec<String> = store
        .metadata_todo(10)
        .unwrap()
        .into_iter()
        .map(|(_, p, _, _)| p.as_str().to_string())
        .collect();
    assert!(todo.contains(&"DCIM/a.jpg".to_string()), "{todo:?}");
    assert_eq!(
        c.iter().filter(|r| r["path"].is_string()).count(),
        2,
        "a and one of c/C: {c:?}"
    );
    assert!(store.generation().unwrap() >= a["generation_modified"].as_i64().unwrap());

    // b.jpg was not seen by walk gen2: the sweep drops it and clients hear of it.
    let g2 = store.generation().unwrap();
    let unseen = store.reconcile_unseen(gen2, 0, 10).unwrap();
    assert_eq!(unseen.len(), 1);
    let (id, path) = &unseen[0];
    assert!(store.reconcile_remove(*id, path, gen2).unwrap());
    assert!(changes(&store, g2).contains(&serde_json::json!({ "deleted": id })));
}

/// The v2 schema as the previous code made it (every insert fired the trigger), migrated:
/// rows, generations and tombstones stay; the insert trigger now skips stamped rows and still
/// stamps every other insert; the update and delete triggers keep working.
#[test]
fn migration_from_v2_keeps_rows_generations_and_triggers() {
    let dir = tmp("migrate-v2");
    let db = dir.join("v2.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(include_str!("data/schema_v2.sql"))
            .unwrap();
        conn.execute_batch(
            "INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size, mtime_ns)
               VALUES('DCIM/a.jpg', 'dcim/a.jpg', 'dcim', 'com.o', 'image/jpeg', 1, 5, 7000000000);
             INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size, mtime_ns)
               VALUES('DCIM/gone.jpg', 'dcim/gone.jpg', 'dcim', NULL, 'image/jpeg', 1, 1, 0);
             DELETE FROM files WHERE path_key = 'dcim/gone.jpg';",
        )
        .unwrap();
    }
    let store = Store::open(&db).unwrap();
    let version: i64 = store
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
    assert_eq!(store.generation().unwrap(), 3, "two inserts and a delete");
    assert_eq!(store.version().unwrap(), "00112233445566778899aabbccddeeff");
    let all = changes(&store, 0);
    let a = &rows_named(&all, "DCIM/a.jpg")[0];
    assert_eq!(a["generation_added"], 1);
    assert_eq!(a["owner_package"], "com.o");
    assert!(
        all.contains(&serde_json::json!({ "deleted": 2 })),
        "{all:?}"
    );

    // An ordinary insert still gets its own generation from the trigger.
    let id = insert(&store, "DCIM/new.jpg");
    assert_eq!(store.generation().unwrap(), 4);
    let new = &rows_named(&changes(&store, 3), "DCIM/new.jpg")[0];
    assert_eq!(
        (new["id"].as_i64(), new["generation_added"].as_i64()),
        (Some(id), Some(4))
    );
    // A batch stamps its rows with one generation.
    let gen = store.reconcile_generation().unwrap();
    store
        .reconcile_batch(&[found("DCIM/b1.jpg", 1), found("DCIM/b2.jpg", 1)], gen)
        .unwrap();
    assert_eq!(store.generation().unwrap(), 5);
    assert_eq!(changes(&store, 4).len(), 2);
    // Update and delete triggers: a favorite and a deletion each move the generation.
    assert!(store.set_favorite(&p("DCIM/a.jpg"), true).unwrap());
    assert_eq!(store.generation().unwrap(), 6);
    assert!(store.delete_file(&p("DCIM/b1.jpg")).unwrap());
    assert_eq!(store.generation().unwrap(), 7);
    drop(store);
    // Reopening does not migrate again.
    let store = Store::open(&db).unwrap();
    assert_eq!(store.generation().unwrap(), 7);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `scan` records through the batch writer with the triggers in place: the schema does not
/// change under other connections (dropping and recreating the triggers did, which made every
/// open connection re-prepare its statements), and generations are still kept.
#[test]
fn scan_keeps_the_schema_and_generations() {
    let dir = tmp("scan-schema");
    let lower = dir.join("lower");
    std::fs::create_dir_all(lower.join("DCIM")).unwrap();
    for i in 0..3 {
        std::fs::write(lower.join(format!("DCIM/{i}.jpg")), b"a").unwrap();
    }
    let store = Store::open(&dir.join("media.db")).unwrap();
    let schema = |s: &Store| -> i64 {
        s.connection()
            .query_row("PRAGMA schema_version", [], |r| r.get(0))
            .unwrap()
    };
    let (before, g0) = (schema(&store), store.generation().unwrap());
    let st = store.reconcile(&lower).unwrap();
    assert_eq!((st.files, st.added), (3, 3));
    assert_eq!(schema(&store), before);
    assert_eq!(store.generation().unwrap(), g0 + 1);
    assert_eq!(changes(&store, g0).len(), 3);

    std::fs::remove_file(lower.join("DCIM/0.jpg")).unwrap();
    let st = store.reconcile(&lower).unwrap();
    assert_eq!((st.added, st.removed), (0, 1));
    assert_eq!(schema(&store), before);
    assert_eq!(changes(&store, g0 + 1).len(), 1, "the tombstone");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
