//! Store behaviour: migrations, case-insensitive lookup, packages and grants, reconcile,
//! renames and uninstall.

use mediaprovider_policy::identity::{Package, PermSet, Permission};
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::rules::Grant;
use mediaprovider_policy::store::{NewFile, RebuildCause, Store, StoreError, SETTING_LOWER};
use std::fs;
use std::path::PathBuf;

fn p(s: &str) -> VolPath {
    VolPath::parse(s).unwrap()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mpd-store-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn pkg(name: &str, uid: u32, perms: &[Permission]) -> Package {
    Package {
        name: name.into(),
        uid,
        target_sdk: 34,
        legacy: false,
        perms: PermSet::of(perms),
    }
}

fn add(store: &Store, path: &str, owner: Option<&str>) {
    store
        .upsert_file(&NewFile {
            path: &p(path),
            owner,
            size: 1,
            mtime_ns: 1,
            fuse_pending: false,
        })
        .unwrap();
}

#[test]
fn migrates_an_empty_file_and_reopens() {
    let d = tmpdir("migrate");
    let db = d.join("media.db");
    {
        let s = Store::open(&db).unwrap();
        s.add_package(&pkg("com.a", 10001, &[])).unwrap();
    }
    let s = Store::open(&db).unwrap();
    let v: i64 = s
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(v >= 1);
    let mode: String = s
        .connection()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(s.packages().unwrap().len(), 1);
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn refuses_a_newer_schema_and_rebuilds_a_corrupt_file() {
    let d = tmpdir("corrupt");
    let db = d.join("media.db");
    {
        let s = Store::open(&db).unwrap();
        s.connection()
            .execute_batch("PRAGMA user_version=999")
            .unwrap();
    }
    assert!(matches!(Store::open(&db), Err(StoreError::TooNew(999))));
    // The daemon moves a newer store aside (a downgrade) and says why.
    let (_, cause) = Store::open_or_rebuild(&db).unwrap();
    assert_eq!(cause, Some(RebuildCause::NewerSchema(999)));
    assert!(d.join("media.newer").exists());
    let junk = d.join("junk.db");
    fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    let (s, rebuilt) = Store::open_or_rebuild(&junk).unwrap();
    assert!(
        matches!(rebuilt, Some(RebuildCause::Corrupt(_))),
        "{rebuilt:?}"
    );
    assert_eq!(s.count_files().unwrap(), 0);
    assert!(d.join("junk.corrupt").exists());
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn every_rebuild_has_a_cause_and_a_healthy_store_none() {
    let d = tmpdir("causes");
    let db = d.join("media.db");
    assert_eq!(
        Store::open_or_rebuild(&db).unwrap().1,
        Some(RebuildCause::Missing)
    );
    assert_eq!(Store::open_or_rebuild(&db).unwrap().1, None);
    let empty = d.join("empty.db");
    fs::write(&empty, b"").unwrap();
    assert_eq!(
        Store::open_or_rebuild(&empty).unwrap().1,
        Some(RebuildCause::Empty)
    );
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn owners_and_grants_survive_a_lost_store_through_the_backup() {
    let d = tmpdir("backup");
    let lower = d.join("lower");
    fs::create_dir_all(lower.join("Download")).unwrap();
    let file = lower.join("Download/a.pdf");
    fs::write(&file, b"pdf").unwrap();
    let db = d.join("media.db");
    {
        let s = Store::open(&db).unwrap();
        s.set_setting(SETTING_LOWER, &lower.to_string_lossy())
            .unwrap();
        s.add_package(&pkg("com.owner", 10001, &[])).unwrap();
        s.add_package(&pkg("com.friend", 10002, &[])).unwrap();
        s.reconcile(&lower).unwrap();
        // The daemon records the owner on the fd it created the file with.
        let f = fs::File::open(&file).unwrap();
        if let Err(e) = mediaprovider_policy::backup::write_owner(
            std::os::fd::AsFd::as_fd(&f),
            Some("com.owner"),
        ) {
            eprintln!("SKIP: no user xattrs on {}: {e}", d.display());
            return;
        }
        s.set_owner(&p("Download/a.pdf"), Some("com.owner"))
            .unwrap();
        s.grant_file("com.friend", &p("download/A.PDF"), true)
            .unwrap();
    }
    fs::remove_file(&db).unwrap();
    let (s, cause) = Store::open_or_rebuild(&db).unwrap();
    assert_eq!(cause, Some(RebuildCause::Missing));
    s.set_setting(SETTING_LOWER, &lower.to_string_lossy())
        .unwrap();
    s.reconcile(&lower).unwrap();
    let r = s.recover_from_backups(&lower).unwrap();
    assert_eq!(
        (r.files_with_backup, r.owners_restored, r.grants_restored),
        (1, 1, 1)
    );
    let names: Vec<&str> = r.unregistered_packages.iter().map(String::as_str).collect();
    assert_eq!(
        names,
        ["com.friend", "com.owner"],
        "registrations were lost with the store"
    );
    let row = s.file(&p("Download/a.pdf")).unwrap().unwrap();
    assert_eq!(row.owner.as_deref(), Some("com.owner"));
    s.add_package(&pkg("com.friend", 10002, &[])).unwrap();
    let friend = s.caller(10002).unwrap();
    assert_eq!(s.grant_for(&friend, row.id).unwrap(), Grant::Write);
    // Uninstall clears the backup, so a rebuilt store cannot hand the file to a reinstall.
    s.add_package(&pkg("com.owner", 10001, &[])).unwrap();
    s.remove_package("com.owner").unwrap();
    s.remove_package("com.friend").unwrap();
    drop(s);
    fs::remove_file(&db).unwrap();
    let (s, _) = Store::open_or_rebuild(&db).unwrap();
    s.reconcile(&lower).unwrap();
    let r = s.recover_from_backups(&lower).unwrap();
    assert_eq!((r.files_with_backup, r.owners_restored), (0, 0));
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn lookup_is_case_insensitive_and_indexed() {
    let s = Store::open_in_memory().unwrap();
    add(&s, "DCIM/Camera/IMG_1.JPG", Some("com.a"));
    let row = s.file(&p("dcim/camera/img_1.jpg")).unwrap().unwrap();
    assert_eq!(row.path.as_str(), "DCIM/Camera/IMG_1.JPG");
    assert_eq!(row.owner.as_deref(), Some("com.a"));
    assert_eq!(row.mime, "image/jpeg");
    // Same name in another case refreshes the same row and keeps its owner.
    add(&s, "dcim/CAMERA/img_1.jpg", Some("com.b"));
    assert_eq!(s.count_files().unwrap(), 1);
    assert_eq!(
        s.file(&p("DCIM/Camera/IMG_1.JPG"))
            .unwrap()
            .unwrap()
            .owner
            .as_deref(),
        Some("com.a")
    );
    // Non-ASCII names fold too.
    add(&s, "Music/ÄRGER.mp3", None);
    assert!(s.file(&p("music/ärger.MP3")).unwrap().is_some());
    let plan: String = s
        .connection()
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM files WHERE path_key='x'",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(
        plan.contains("INDEX") && plan.contains("path_key=?"),
        "{plan}"
    );
}

#[test]
fn packages_shared_uid_permissions_and_errors() {
    let s = Store::open_in_memory().unwrap();
    s.add_package(&pkg("com.a", 10001, &[Permission::ReadMediaImages]))
        .unwrap();
    s.add_package(&pkg("com.a.helper", 10001, &[Permission::ReadMediaVideo]))
        .unwrap();
    assert!(matches!(
        s.add_package(&pkg("COM.A", 10002, &[])),
        Err(StoreError::PackageExists(_))
    ));
    let c = s.caller(10001).unwrap();
    assert_eq!(c.packages, vec!["com.a", "com.a.helper"]);
    assert_eq!(c.owner_package(), Some("com.a"));
    assert!(c.read_images() && c.read_video());
    s.update_permissions(
        "com.a",
        PermSet::of(&[Permission::AccessMediaLocation]),
        PermSet::of(&[Permission::ReadMediaImages]),
    )
    .unwrap();
    let c = s.caller(10001).unwrap();
    assert!(!c.read_images() && c.location());
    assert!(matches!(
        s.update_permissions("nope", PermSet::empty(), PermSet::empty()),
        Err(StoreError::UnknownPackage(_))
    ));
}

#[test]
fn data_version_moves_when_another_connection_commits() {
    let d = tmpdir("dv");
    let db = d.join("media.db");
    let reader = Store::open(&db).unwrap();
    let writer = Store::open(&db).unwrap();
    let v0 = reader.data_version().unwrap();
    assert_eq!(reader.data_version().unwrap(), v0);
    writer.add_package(&pkg("com.a", 10001, &[])).unwrap();
    assert_ne!(reader.data_version().unwrap(), v0);
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn grants_follow_renames_and_go_with_uninstall() {
    let s = Store::open_in_memory().unwrap();
    s.add_package(&pkg("com.a", 10001, &[])).unwrap();
    s.add_package(&pkg("com.b", 10002, &[])).unwrap();
    add(&s, "DCIM/x.jpg", Some("com.a"));
    add(&s, "Android/media/com.b/y.jpg", Some("com.b"));
    add(&s, "Download/b.pdf", Some("com.b"));
    s.grant_file("com.b", &p("dcim/X.JPG"), false).unwrap();
    let row = s.file(&p("DCIM/x.jpg")).unwrap().unwrap();
    let b = s.caller(10002).unwrap();
    assert_eq!(s.grant_for(&b, row.id).unwrap(), Grant::Read);
    s.grant_file("com.b", &p("DCIM/x.jpg"), true).unwrap();
    assert_eq!(s.grant_for(&b, row.id).unwrap(), Grant::Write);
    s.rename_file(&p("DCIM/x.jpg"), &p("Pictures/z.jpg"))
        .unwrap();
    let row2 = s.file(&p("Pictures/z.jpg")).unwrap().unwrap();
    assert_eq!(row2.id, row.id);
    assert_eq!(s.grant_for(&b, row.id).unwrap(), Grant::Write);
    let f = s.facts(&b, &p("pictures/Z.JPG"), true, false).unwrap();
    assert_eq!((f.grant, f.owner.as_deref()), (Grant::Write, Some("com.a")));
    let a = s.caller(10001).unwrap();
    assert_eq!(
        s.facts(&a, &p("Pictures/z.jpg"), true, false)
            .unwrap()
            .grant,
        Grant::None
    );
    s.revoke_file("com.b", &p("Pictures/z.jpg")).unwrap();
    assert_eq!(s.grant_for(&b, row.id).unwrap(), Grant::None);
    s.grant_file("com.b", &p("Pictures/z.jpg"), false).unwrap();
    s.remove_package("com.b").unwrap();
    assert!(s.file(&p("Android/media/com.b/y.jpg")).unwrap().is_none());
    let pdf = s.file(&p("Download/b.pdf")).unwrap().unwrap();
    assert_eq!(pdf.owner, None);
    let n: i64 = s
        .connection()
        .query_row("SELECT COUNT(*) FROM grants", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn directory_rename_moves_every_row_in_one_transaction() {
    let s = Store::open_in_memory().unwrap();
    add(&s, "Pictures/Trip/a.jpg", None);
    add(&s, "Pictures/Trip/sub/b.jpg", None);
    add(&s, "Pictures/Tripod.jpg", None);
    assert_eq!(
        s.rename_tree(&p("pictures/trip"), &p("DCIM/Holiday"))
            .unwrap(),
        2
    );
    assert!(s.file(&p("DCIM/Holiday/sub/b.jpg")).unwrap().is_some());
    assert!(s.file(&p("Pictures/Tripod.jpg")).unwrap().is_some());
    assert_eq!(s.list_dir(&p("dcim/holiday")).unwrap().len(), 1);
    assert_eq!(s.list_tree(&p("DCIM")).unwrap().len(), 2);
}

#[test]
fn pending_trashed_and_media_type_follow_the_name() {
    let s = Store::open_in_memory().unwrap();
    add(&s, "DCIM/.pending-1700000000-a.jpg", Some("com.a"));
    let r = s
        .file(&p("DCIM/.pending-1700000000-a.jpg"))
        .unwrap()
        .unwrap();
    assert!(r.is_pending && !r.is_trashed);
    s.rename_file(&p("DCIM/.pending-1700000000-a.jpg"), &p("DCIM/a.mp4"))
        .unwrap();
    let r = s.file(&p("DCIM/a.mp4")).unwrap().unwrap();
    assert!(!r.is_pending);
    assert_eq!(r.mime, "video/mp4");
}

#[test]
fn hidden_by_name_dot_dir_and_nomedia() {
    let s = Store::open_in_memory().unwrap();
    add(&s, "Pictures/Private/.nomedia", None);
    add(&s, "Pictures/Private/a.jpg", None);
    add(&s, "DCIM/Camera/.nomedia", None);
    add(&s, "DCIM/Camera/b.jpg", None);
    assert!(s.is_hidden(&p("Pictures/Private/a.jpg")));
    assert!(s.is_hidden(&p("Pictures/Private/deeper/c.jpg")));
    assert!(!s.is_hidden(&p("DCIM/Camera/b.jpg")));
    assert!(s.is_hidden(&p("DCIM/.thumbnails/t.jpg")));
    assert!(s.is_hidden(&p("DCIM/.secret.jpg")));
    assert!(!s.is_hidden(&p("DCIM/.pending-12-v.jpg")));
    // The decision path (one query, or the fallback for deep paths) agrees.
    add(&s, "Pictures/A/B/C/D/deep.jpg", None);
    add(&s, "Pictures/A/.nomedia", None);
    add(&s, "Pictures/Shown/s.jpg", None);
    let c = s.caller(10001).unwrap();
    let hidden = |path: &str| s.facts(&c, &p(path), true, false).unwrap().hidden;
    assert!(hidden("Pictures/Private/a.jpg"));
    assert!(!hidden("DCIM/Camera/b.jpg"));
    assert!(hidden("Pictures/A/B/C/D/deep.jpg"));
    assert!(!hidden("Pictures/Shown/s.jpg"));
    s.delete_file(&p("Pictures/A/.nomedia")).unwrap();
    assert!(!hidden("Pictures/A/B/C/D/deep.jpg"));
}

#[test]
fn reconcile_indexes_refreshes_and_drops() {
    let d = tmpdir("reconcile");
    let lower = d.join("lower");
    fs::create_dir_all(lower.join("DCIM/Camera")).unwrap();
    fs::create_dir_all(lower.join("Android/media/com.a/Pics")).unwrap();
    fs::create_dir_all(lower.join("Android/data/com.b/files")).unwrap();
    fs::write(lower.join("DCIM/Camera/a.jpg"), b"a").unwrap();
    fs::write(lower.join("DCIM/.trashed-99-old.jpg"), b"t").unwrap();
    fs::write(lower.join("Android/media/com.a/Pics/m.jpg"), b"m").unwrap();
    fs::write(lower.join("Android/data/com.b/files/d.bin"), b"d").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", lower.join("DCIM/link.jpg")).unwrap();
    let s = Store::open(&d.join("media.db")).unwrap();
    let st = s.reconcile(&lower).unwrap();
    assert_eq!((st.files, st.added, st.removed), (4, 4, 0));
    assert_eq!(st.skipped, 1, "the symlink is skipped");
    assert_eq!(
        s.file(&p("DCIM/Camera/a.jpg")).unwrap().unwrap().owner,
        None
    );
    assert_eq!(
        s.file(&p("Android/media/com.a/Pics/m.jpg"))
            .unwrap()
            .unwrap()
            .owner
            .as_deref(),
        Some("com.a")
    );
    assert_eq!(
        s.file(&p("Android/data/com.b/files/d.bin"))
            .unwrap()
            .unwrap()
            .owner
            .as_deref(),
        Some("com.b")
    );
    assert!(
        s.file(&p("DCIM/.trashed-99-old.jpg"))
            .unwrap()
            .unwrap()
            .is_trashed
    );
    // Owners given through the daemon survive a rescan; vanished files lose their rows.
    s.set_owner(&p("DCIM/Camera/a.jpg"), Some("com.x")).unwrap();
    fs::remove_file(lower.join("DCIM/.trashed-99-old.jpg")).unwrap();
    fs::write(lower.join("DCIM/new.mp4"), b"v").unwrap();
    let st = s.reconcile(&lower).unwrap();
    assert_eq!((st.files, st.added, st.removed), (4, 1, 1));
    assert_eq!(
        s.file(&p("DCIM/Camera/a.jpg"))
            .unwrap()
            .unwrap()
            .owner
            .as_deref(),
        Some("com.x")
    );
    fs::remove_dir_all(&d).unwrap();
}

/// A listing reads the directory, then the store: a row it listed while the file was being
/// created (row first, file second) may be complete by the time it acts. Dropping it then
/// would leave the file ownerless (CI caught this as a lost owner under concurrent listing).
#[test]
fn a_listing_drops_only_the_vanished_row_it_saw() {
    let s = Store::open_in_memory().unwrap();
    let path = p("Download/new.txt");
    let new = |fuse_pending, size| NewFile {
        path: &path,
        owner: Some("com.creator"),
        size,
        mtime_ns: 0,
        fuse_pending,
    };
    // Listed while being created; completed before the listing acted.
    let listed = s.upsert_file(&new(true, 0)).unwrap();
    s.finish_write(&path, 5, 7, Some(false)).unwrap();
    assert!(!s.delete_vanished(&listed).unwrap());
    // Listed complete, then rewritten: a different file now, kept.
    let listed = s.file(&path).unwrap().unwrap();
    s.finish_write(&path, 9, 8, Some(false)).unwrap();
    assert!(!s.delete_vanished(&listed).unwrap());
    let row = s.file(&path).unwrap().unwrap();
    assert_eq!(row.owner.as_deref(), Some("com.creator"));
    // Listed complete and unchanged: really gone, dropped.
    assert!(s.delete_vanished(&row).unwrap());
    assert!(s.file(&path).unwrap().is_none());
}

/// The set-wise move: every row below the old name (spelled as stored) moves with its id,
/// owner and parent key; stale rows already below the new name are dropped and tombstoned.
#[test]
fn directory_rename_moves_rows_set_wise_and_drops_stale_rows_at_the_target() {
    let s = Store::open_in_memory().unwrap();
    add(&s, "DCIM/Trip/a.jpg", Some("com.a"));
    add(&s, "DCIM/Trip/sub/deeper/b.jpg", Some("com.a"));
    add(&s, "DCIM/Trip2/c.jpg", Some("com.c"));
    add(&s, "DCIM/Holiday/stale.jpg", None);
    let moved_id = s.file(&p("DCIM/Trip/a.jpg")).unwrap().unwrap().id;
    let stale_id = s.file(&p("DCIM/Holiday/stale.jpg")).unwrap().unwrap().id;
    let before = s.generation().unwrap();
    assert_eq!(
        s.rename_tree(&p("DCIM/Trip"), &p("DCIM/Holiday")).unwrap(),
        2
    );
    let a = s.file(&p("dcim/holiday/a.jpg")).unwrap().unwrap();
    assert_eq!((a.id, a.owner.as_deref()), (moved_id, Some("com.a")));
    assert_eq!(a.path.as_str(), "DCIM/Holiday/a.jpg");
    assert_eq!(s.list_dir(&p("DCIM/Holiday/sub/deeper")).unwrap().len(), 1);
    assert!(s.file(&p("DCIM/Holiday/stale.jpg")).unwrap().is_none());
    assert!(s.deleted_since(before).unwrap().contains(&stale_id));
    assert!(s.list_tree(&p("DCIM/Trip")).unwrap().is_empty());
    assert!(
        s.file(&p("DCIM/Trip2/c.jpg")).unwrap().is_some(),
        "sibling untouched"
    );
    assert!(s.generation().unwrap() > before);
}

/// The daemon's checkpointer empties the write-ahead log even while other connections are
/// open (with many readers, SQLite's own checkpoints could not rewind it: 369 MB measured).
#[test]
fn checkpoint_empties_the_write_ahead_log_with_other_connections_open() {
    let d = tmpdir("wal");
    let db = d.join("media.db");
    let writer = Store::open(&db).unwrap();
    let reader = Store::open(&db).unwrap();
    for i in 0..500 {
        add(&writer, &format!("Download/f{i}.txt"), Some("com.a"));
    }
    assert!(reader.file(&p("Download/f1.txt")).unwrap().is_some());
    let wal = d.join("media.db-wal");
    assert!(fs::metadata(&wal).unwrap().len() > 0);
    assert!(writer.checkpoint_wal().unwrap());
    assert_eq!(fs::metadata(&wal).unwrap().len(), 0);
    assert!(reader.file(&p("Download/f499.txt")).unwrap().is_some());
    let _ = fs::remove_dir_all(&d);
}
