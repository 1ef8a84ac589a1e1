//! Races between apps, and between the daemon and the lower tree, found after the core rebuild:
//! a listing during a rename, the write-ahead log under many readers, `.nomedia` verdicts after
//! changes behind the daemon's back, a name unlinked through another case, and a path truncate
//! while another app holds a write handle. Real daemon, real uids; never timings.

use mediaprovider_policy::store::Store;
use mediaproviderd_tests::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const RMI: &str = "READ_MEDIA_IMAGES";

fn fx() -> Option<&'static Fixture> {
    Fixture::shared()
}

fn own(opts: ServeOpts) -> Option<Fixture> {
    can_run("cts_core_races").then(|| Fixture::start(opts))
}

/// A rename moves the lower entry before its row: a listing in between must not take the row
/// for a vanished file (the moved file would be indexed again without its owner). A shim holds
/// each lower rename for 30 ms, so every rename's window is wide open to the listings.
#[test]
fn listing_while_files_and_dirs_are_renamed_never_loses_their_owner() {
    if !can_run("cts_core") {
        return;
    }
    let shim_dir = Fixture::make_root();
    let so = match shim::build(&shim_dir, "slow_rename", &shim::slow_rename_source(30)) {
        Ok(so) => so,
        Err(e) => {
            assert!(!in_ci(), "{e}");
            skip_note(&format!("cts_core: {e}"));
            return;
        }
    };
    let Some(fx) = own(ServeOpts {
        env: vec![("LD_PRELOAD".into(), so.display().to_string())],
        ..ServeOpts::default()
    }) else {
        return;
    };
    let creator = fx.add_app("mv_creator", &[]);
    let lister = fx.add_app("mv_lister", &[]);
    let dir = fx.dir("Download", "moves");
    const N: usize = 20;
    const D: usize = 4;
    let made = creator.run(|| {
        for i in 0..N {
            create(&creator.path(&format!("{dir}/f{i}.txt")), b"x")?;
        }
        for d in 0..D {
            mkdir(&creator.path(&format!("{dir}/d{d}")))?;
            create(&creator.path(&format!("{dir}/d{d}/in.txt")), b"y")?;
        }
        Ok::<_, Errno>(())
    });
    assert_eq!(made, Ok(()));
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (done_ref, dir_ref, lister_ref) = (&done, &dir, &lister);
        let l = s.spawn(move || {
            while !done_ref.load(Ordering::SeqCst) {
                let _ = lister_ref.user.ls(dir_ref);
                for d in 0..D {
                    let _ = lister_ref.user.ls(&format!("{dir_ref}/e{d}"));
                }
            }
        });
        let moved = creator.run(|| {
            for i in 0..N {
                let a = creator.path(&format!("{dir}/f{i}.txt"));
                rename(&a, &creator.path(&format!("{dir}/g{i}.txt")))?;
            }
            for d in 0..D {
                let a = creator.path(&format!("{dir}/d{d}"));
                rename(&a, &creator.path(&format!("{dir}/e{d}")))?;
            }
            Ok::<_, Errno>(())
        });
        done.store(true, Ordering::SeqCst);
        l.join().unwrap();
        assert_eq!(moved, Ok(()));
    });
    let r = creator.run(|| {
        let mut failed = Vec::new();
        let names = (0..N)
            .map(|i| format!("{dir}/g{i}.txt"))
            .chain((0..D).map(|d| format!("{dir}/e{d}/in.txt")));
        for rel in names {
            let b = creator.path(&format!("{rel}.2"));
            if let Err(e) = rename(&creator.path(&rel), &b) {
                failed.push(format!("rename {rel}: {e}"));
            } else if let Err(e) = unlink(&b) {
                failed.push(format!("unlink {rel}: {e}"));
            }
        }
        failed.join(", ")
    });
    assert_eq!(
        r, "",
        "renamed files lost their owner under a concurrent listing"
    );
    let _ = std::fs::remove_dir_all(&shim_dir);
}

/// Readers that never all pause at once keep SQLite from rewinding the write-ahead log (8 apps
/// for 5 s grew it to 216 MB here, and every read slows as it grows). A reader held open while
/// apps write stands in for them; once it ends, the daemon's checkpointer must bring the log
/// back under its bound (SQLite alone rewinds it but never shrinks the file).
#[test]
fn write_ahead_log_is_brought_back_under_its_bound_after_a_long_reader() {
    let Some(fx) = own(ServeOpts::default()) else {
        return;
    };
    let app = fx.add_app("wal_writer", &[]);
    let dir = fx.dir("Download", "wal");
    let reader = Store::open(&fx.db).unwrap();
    reader.connection().execute_batch("BEGIN").unwrap();
    let rows: i64 = reader
        .connection()
        .query_row("SELECT count(*) FROM files", [], |r| r.get(0))
        .unwrap();
    assert!(rows >= 0);
    let made = app.run(|| {
        for i in 0..1500 {
            create(&app.path(&format!("{dir}/f{i}.txt")), b"x")?;
        }
        Ok::<_, Errno>(())
    });
    assert_eq!(made, Ok(()));
    let mut wal = fx.db.clone().into_os_string();
    wal.push("-wal");
    let grown = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    reader.connection().execute_batch("COMMIT").unwrap();
    drop(reader);
    // The checkpointer looks once a second.
    std::thread::sleep(Duration::from_millis(2500));
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        size <= 16 << 20,
        "write-ahead log at {size} bytes after the reader ended (grew to {grown})"
    );
}

/// The `.nomedia` verdicts the daemon remembers per directory follow changes made behind its
/// back in an ancestor, in either direction, and a case variant counts.
#[test]
fn nomedia_verdicts_follow_ancestor_changes_behind_the_daemons_back() {
    let Some(fx) = fx() else { return };
    let owner = fx.add_app("nm2_owner", &[]);
    let reader = fx.add_app("nm2_reader", &[RMI]);
    let top = fx.dir("Pictures", "nm_top");
    let dir = format!("{top}/inner");
    std::fs::create_dir_all(fx.l(&dir)).unwrap();
    let rel = format!("{dir}/p.jpg");
    assert_eq!(owner.create(&rel, b"not really a jpeg"), Ok(()));
    // Verdicts for both directories are now remembered.
    assert_eq!(reader.read(&rel).map(|v| v.len()), Ok(17));
    let marker = fx.l(&format!("{top}/.NoMedia"));
    std::fs::write(&marker, b"").unwrap();
    assert_eq!(
        reader.read(&rel),
        Err(Errno(libc::EACCES)),
        "ancestor hides"
    );
    std::fs::remove_file(&marker).unwrap();
    assert_eq!(
        reader.read(&rel).map(|v| v.len()),
        Ok(17),
        "visible again once the ancestor's .nomedia is gone"
    );
}

/// Unlinking or renaming over a file through another spelling leaves the kernel's dentry of
/// the spelling others looked up; `access` and `stat` through it must not answer from cache
/// (torture seed 417026573: `access f3.jpg` → ok right after `unlink F3.JPG`).
#[test]
fn a_name_unlinked_through_another_case_is_gone_for_everyone_at_once() {
    let Some(fx) = fx() else { return };
    let owner = fx.add_app("case_gone_owner", &[RMI]);
    let other = fx.add_app("case_gone_other", &[]);
    let dir = fx.dir("Pictures", "case_gone");
    let rel = format!("{dir}/f3.jpg");
    assert_eq!(owner.create(&rel, b"not really a jpeg"), Ok(()));
    // Both cache the exact spelling (entry and attributes, TTL 1 s).
    assert!(other.stat(&rel).is_ok());
    assert!(owner.stat(&rel).is_ok());
    assert_eq!(owner.unlink(&format!("{dir}/F3.JPG")), Ok(()));
    assert_eq!(other.access(&rel, libc::F_OK), Err(Errno(libc::ENOENT)));
    assert_eq!(owner.stat(&rel).map(|_| ()), Err(Errno(libc::ENOENT)));
    // Renamed over through another spelling: the old file's cached name must not answer.
    let a = format!("{dir}/a.jpg");
    let b = format!("{dir}/b.jpg");
    assert_eq!(owner.create(&a, b"aaaa"), Ok(()));
    assert_eq!(owner.create(&b, b"bb"), Ok(()));
    assert_eq!(other.stat(&b).map(|s| s.size), Ok(2));
    assert_eq!(owner.rename(&a, &format!("{dir}/B.JPG")), Ok(()));
    assert_eq!(
        other.stat(&b).map(|s| s.size),
        Ok(4),
        "the new file, not the cached old one"
    );
}

/// A path-based truncate or utimes (no handle in the request) is decided for its caller, even
/// while another app holds the file open for writing (torture seed 417026573: an app that may
/// not read another's file truncated it to 0 through the owner's write handle).
#[test]
fn truncate_by_path_never_borrows_another_apps_write_handle() {
    let Some(fx) = fx() else { return };
    let owner = fx.add_app("borrow_owner", &[]);
    let stranger = fx.add_app("borrow_stranger", &[RMI]);
    let rel = format!("{}/kept.jpg", fx.dir("Pictures", "borrow"));
    assert_eq!(owner.create(&rel, b"owner's bytes"), Ok(()));
    let p = owner.path(&rel);
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            owner.run(|| {
                let fd = open(&p, libc::O_WRONLY, 0)?;
                std::thread::sleep(Duration::from_millis(1500));
                drop(fd);
                Ok::<_, Errno>(())
            })
        });
        std::thread::sleep(Duration::from_millis(400));
        let r = stranger.truncate(&rel, 0);
        assert!(
            matches!(r, Err(Errno(libc::EACCES | libc::EPERM))),
            "stranger's truncate: {r:?}"
        );
        assert_eq!(holder.join().unwrap(), Ok(()));
    });
    assert_eq!(std::fs::read(fx.l(&rel)).unwrap(), b"owner's bytes");
}
