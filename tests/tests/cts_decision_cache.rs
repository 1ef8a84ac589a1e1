//! The daemon's decision cache is never stale (SPEC §10, issue 9): a grant revoked, a file
//! trashed, an owner changed take effect on the very next access, though the access before was
//! answered from memory. Each change is made by another process: the `app` and `trash`
//! commands, and this test process writing the store directly without telling the daemon at
//! all. Real daemon, real uids; never timings.

use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::store::Store;
use mediaproviderd_tests::*;

fn body(p: &str) -> Vec<u8> {
    format!("content of {p}\n").into_bytes()
}

fn create_ok(u: &User, p: &str) {
    assert_eq!(u.create(p, &body(p)), Ok(()), "uid {} creating {p}", u.uid);
}

/// Reads `p` as `u` three times: the first decision fills the cache, the others hit it.
fn read_thrice(u: &User, p: &str) -> Vec<R<Vec<u8>>> {
    (0..3).map(|_| u.read(p)).collect()
}

#[test]
fn a_revoked_grant_takes_effect_on_the_next_open() {
    let fx = shared_fixture!();
    let owner = fx.add_app("dc_grant_owner", &[]);
    let picker = fx.add_app("dc_grant_picker", &[]);
    let d = fx.dir("DCIM", "dc_grant");
    let p = format!("{d}/granted.jpg");
    create_ok(&owner, &p);
    assert_eq!(picker.read(&p).err(), Some(EACCES));
    picker.grant_file(&[&p]);
    assert_eq!(read_thrice(&picker, &p), vec![Ok(body(&p)); 3]);
    picker.revoke_file(&[&p]);
    assert_eq!(
        picker.read(&p).err(),
        Some(EACCES),
        "the revoked grant still opened the file"
    );
    picker.grant_file(&[&p]);
    assert_eq!(picker.read(&p), Ok(body(&p)), "the grant given again");
}

#[test]
fn a_trashed_file_takes_effect_on_the_next_access() {
    let fx = shared_fixture!();
    let owner = fx.add_app("dc_trash_owner", &[]);
    let gallery = fx.add_app("dc_trash_gallery", &["READ_MEDIA_IMAGES"]);
    let d = fx.dir("DCIM", "dc_trash");
    let p = format!("{d}/shot.jpg");
    create_ok(&owner, &p);
    assert_eq!(read_thrice(&gallery, &p), vec![Ok(body(&p)); 3]);
    let db = fx.db.display().to_string();
    let uid = owner.uid.to_string();
    let out = mpd_ok(&["trash", "--db", &db, "--uid", &uid, &p]);
    let v: serde_json::Value =
        serde_json::from_str(out.lines().next().unwrap_or_default()).unwrap();
    let trashed = v["path"].as_str().expect("trashed path").to_string();
    assert_eq!(
        gallery.read(&p).err(),
        Some(ENOENT),
        "the old name still opens"
    );
    assert!(
        gallery.read(&trashed).is_err(),
        "another app opened a trashed file"
    );
    assert_eq!(owner.read(&trashed), Ok(body(&p)));
}

/// The store written by a process that never tells the daemon: the cache notices the commit
/// by itself (the WAL-index header changes), so the next open decides on the new owner.
#[test]
fn an_owner_changed_behind_the_daemon_takes_effect_on_the_next_open() {
    let fx = shared_fixture!();
    let first = fx.add_app("dc_owner_first", &[]);
    let second = fx.add_app("dc_owner_second", &[]);
    let d = fx.dir("Download", "dc_owner");
    let p = format!("{d}/report.pdf");
    create_ok(&first, &p);
    assert_eq!(read_thrice(&first, &p), vec![Ok(body(&p)); 3]);
    assert_eq!(
        read_thrice(&second, &p),
        vec![Err(EACCES); 3],
        "another app's document"
    );
    let store = Store::open(&fx.db).unwrap();
    let path = VolPath::parse(&p).unwrap();
    store.set_owner(&path, Some(&second.pkg)).unwrap();
    assert_eq!(
        second.read(&p),
        Ok(body(&p)),
        "the new owner was refused its file"
    );
    assert_eq!(
        first.read(&p).err(),
        Some(EACCES),
        "the old owner still opened the file"
    );
    store.set_owner(&path, Some(&first.pkg)).unwrap();
    assert_eq!(second.read(&p).err(), Some(EACCES), "owner given back");
    assert_eq!(first.read(&p), Ok(body(&p)));
}
