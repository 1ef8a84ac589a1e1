//! Regression suite for the holes an adversarial review found (SPEC §4, §5.6, §6, §9): each test
//! mounts the real daemon, acts as real uids and fails on the code before the fix.

use mediaproviderd_tests::*;

const MES: &str = "MANAGE_EXTERNAL_STORAGE";
const WES: &str = "WRITE_EXTERNAL_STORAGE";
const RMI: &str = "READ_MEDIA_IMAGES";

/// An app with a secret in its own `Android/data/<pkg>`.
fn victim_with_secret(fx: &Fixture, tag: &str) -> (App, String, Vec<u8>) {
    let v = fx.add_app(&format!("{tag}_victim"), &[]);
    let dir = format!("Android/data/{}", v.pkg);
    assert_eq!(v.mkdir(&dir), Ok(()));
    let secret = format!("{dir}/secret.txt");
    let body = format!("secret of {}\n", v.pkg).into_bytes();
    assert_eq!(v.create(&secret, &body), Ok(()));
    (v, secret, body)
}

#[test]
fn renaming_android_data_obb_or_media_is_eacces_for_everyone() {
    // Item 1: MES or legacy+WES renamed `Android/data` to `Download/x` and read others' data.
    let fx = shared_fixture!();
    let (v, secret, body) = victim_with_secret(fx, "renpriv");
    let mes = fx.add_app("renpriv_mes", &[MES]);
    let legacy = fx.add_app_with("renpriv_legacy", &[WES], Some(29), true);
    let root = fx.root_user();
    let dl = fx.dir("Download", "renpriv");
    for (who, uid) in [("mes", mes.uid), ("legacy", legacy.uid), ("root", root.uid)] {
        let u = fx.user(uid);
        for from in [
            "Android/data",
            "android/DATA",
            "Android/obb",
            "ANDROID/Media",
        ] {
            let to = format!("{dl}/{who}-x");
            assert_eq!(u.rename(from, &to), Err(EACCES), "{who} renaming {from}");
            assert!(!fx.l(&to).exists(), "{who}: {from} moved to {to}");
        }
        // Nor may anything be put in their place.
        let decoy = format!("{dl}/{who}-decoy");
        assert_eq!(u.mkdir(&decoy), Ok(()));
        assert_eq!(u.rename2(&decoy, "Android/data", 0), Err(EACCES), "{who}");
    }
    assert_eq!(v.read(&secret), Ok(body), "the owner still reads its data");
    assert!(fx.l("Android/data").is_dir() && fx.l("Android/obb").is_dir());
}

#[test]
fn another_android_users_uid_reaches_nothing() {
    // Item 11: a registered app of user 10 (uid 1010100 + n) read user 0's files. The shared
    // daemon serves user 0 (the default of `serve --user`).
    let fx = shared_fixture!();
    let owner = fx.add_app("xuser_owner", &[]);
    let dcim = fx.dir("DCIM", "xuser");
    let jpg = format!("{dcim}/mine.jpg");
    assert_eq!(owner.create(&jpg, b"not for user 10"), Ok(()));
    // Names nobody has looked up yet, so the kernel must ask the daemon (a name already in the
    // kernel's dcache is answered by the kernel; on a device other users never see this mount).
    fx.put_lower(&format!("{dcim}/fresh.jpg"), b"fresh");
    let uid = 1_010_000 + (fx.fresh_uid() % 100_000).max(10_000);
    let other = fx.add_package(
        &format!("com.mpt.xuser.u{uid}"),
        uid,
        &[MES, RMI],
        None,
        false,
    );
    assert_eq!(other.stat(&format!("{dcim}/fresh.jpg")).err(), Some(EACCES));
    assert_eq!(other.read(&jpg), Err(EACCES));
    assert_eq!(other.open(&jpg, libc::O_WRONLY), Err(EACCES));
    assert_eq!(other.ls(&dcim), Err(EACCES));
    assert_eq!(other.create(&format!("{dcim}/x.jpg"), b"x"), Err(EACCES));
    assert_eq!(other.mkdir(&format!("{dcim}/sub")), Err(EACCES));
    assert_eq!(other.unlink(&jpg), Err(EACCES));
    assert_eq!(other.rename(&jpg, &format!("{dcim}/y.jpg")), Err(EACCES));
    assert_eq!(owner.read(&jpg), Ok(b"not for user 10".to_vec()));
    // An unregistered uid of user 10 likewise, and root still sees everything.
    let stranger = fx.user(1_010_000 + 10_999);
    assert_eq!(stranger.ls(&dcim), Err(EACCES));
    assert_eq!(fx.root_user().read(&jpg), Ok(b"not for user 10".to_vec()));
}

#[test]
fn serve_user_n_serves_that_users_apps_only() {
    if !can_run("serve --user") {
        return;
    }
    let fx = Fixture::start(ServeOpts {
        extra: vec!["--user".into(), "10".into()],
        ..ServeOpts::default()
    });
    let mine = fx.add_package("com.mpt.user10.app", 1_010_123, &[], None, false);
    let user0 = fx.add_package("com.mpt.user0.app", 10_123, &[MES], None, false);
    let f = "Download/user10.txt";
    assert_eq!(mine.create(f, b"u10"), Ok(()));
    assert_eq!(mine.read(f), Ok(b"u10".to_vec()));
    assert_eq!(user0.read(f), Err(EACCES));
    assert_eq!(user0.ls("Download"), Err(EACCES));
    assert_eq!(user0.create("Download/user0.txt", b"u0"), Err(EACCES));
    // `explain` reads the volume's user from the store.
    let (_, out, _) = mpd(&[
        "explain",
        "--db",
        &fx.db.display().to_string(),
        "--lower",
        &fx.lower.display().to_string(),
        "--uid",
        "10123",
        "--op",
        "open-read",
        f,
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_default();
    assert_eq!(v["errno"], "EACCES", "{out}");
    assert_eq!(v["rule"], "other-user", "{out}");
}

/// `jpeg` with `n` empty APP2 segments inserted after SOI (EXIF offsets are relative to the
/// TIFF header, so the file stays valid and its GPS stays where exiftool finds it).
fn with_app_segments(jpeg: &[u8], n: usize) -> Vec<u8> {
    let mut d = jpeg[..2].to_vec();
    for _ in 0..n {
        d.extend_from_slice(&[0xFF, 0xE2, 0x00, 0x02]);
    }
    d.extend_from_slice(&jpeg[2..]);
    d
}

#[test]
fn thousands_of_segments_before_exif_never_leak_gps() {
    // Item 5: with 4,096+ APP segments before EXIF the scanner found no ranges and a
    // redacted reader got the GPS intact.
    let fx = shared_fixture!();
    let src = shared_dir().join("corpus/aosp-mediaprovider/lg_g4_iso_800_jpg.jpg");
    let Ok(orig) = std::fs::read(&src) else {
        skip_note(&format!("corpus file {} absent", src.display()));
        return;
    };
    let reader = fx.add_app("segs_reader", &[RMI]);
    let dcim = fx.dir("DCIM", "segs");
    for n in [4096usize, 5000] {
        let rel = format!("{dcim}/segs{n}.jpg");
        let file = with_app_segments(&orig, n);
        fx.put_lower(&rel, &file);
        let served = reader.read(&rel).expect("redacted read");
        let (o, r) = (
            fx.root.join(format!("o{n}.jpg")),
            fx.root.join(format!("r{n}.jpg")),
        );
        std::fs::write(&o, &file).unwrap();
        std::fs::write(&r, &served).unwrap();
        check_redaction(&o, &r).unwrap_or_else(|e| panic!("{n} segments: {e}"));
    }
    // Past the scanner's bound: the whole file is withheld rather than risk it.
    let rel = format!("{dcim}/segs-many.jpg");
    fx.put_lower(&rel, &with_app_segments(&orig, 70_000));
    let served = reader.read(&rel).expect("redacted read");
    assert!(
        served.iter().all(|&b| b == 0),
        "served bytes past the bound"
    );
}

#[test]
fn a_lost_store_is_said_and_owners_and_grants_come_back() {
    // Item 8: a deleted or 0-byte store was rebuilt silently and every owner and grant was lost.
    if !can_run("store loss") {
        return;
    }
    for loss in ["deleted", "emptied"] {
        let fx = Fixture::start(ServeOpts::default());
        let owner = fx.add_app("lost_owner", &[]);
        let friend = fx.add_app("lost_friend", &[]);
        let f = "Download/mine.pdf";
        assert_eq!(owner.create(f, b"owned"), Ok(()));
        friend.grant_file(&[f]);
        assert_eq!(friend.read(f), Ok(b"owned".to_vec()));
        let (_, fx) = fx.restart_after(libc::SIGTERM, |fx| {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", fx.db.display()));
            }
            if loss == "emptied" {
                std::fs::write(&fx.db, b"").unwrap();
            }
        });
        // Ownership comes back in the background, once the reconcile has indexed every file:
        // wait for its report (it names the lost registrations) before relying on it.
        let log = fx.log_once_it_says(&owner.pkg);
        let cause = if loss == "deleted" {
            "missing"
        } else {
            "empty"
        };
        assert!(
            log.contains("store rebuilt") && log.contains(cause),
            "{loss}: the rebuild and its cause are logged:\n{}",
            fx.log_tail(20)
        );
        assert!(
            log.contains(&owner.pkg),
            "{loss}: the lost registrations are named"
        );
        // On a host the registrations come back by `app add`; ownership and grants are back.
        let owner = fx.add_package(&owner.pkg, owner.uid, &[], None, false);
        let friend = fx.add_package(&friend.pkg, friend.uid, &[], None, false);
        assert_eq!(
            friend.read(f),
            Ok(b"owned".to_vec()),
            "{loss}: grant restored"
        );
        assert_eq!(
            owner.rename(f, "Download/moved.pdf"),
            Ok(()),
            "{loss}: owner restored"
        );
        assert_eq!(owner.unlink("Download/moved.pdf"), Ok(()));
    }
}
