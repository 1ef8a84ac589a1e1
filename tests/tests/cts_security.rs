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
    let (v, secret, body) = victim_with_secret(&fx, "renpriv");
    let mes = fx.add_app("renpriv_mes", &[MES]);
    let legacy = fx.add_app_with("renpriv_legacy", &[WES], Some(29), true);
    let root = fx.root_user();
    let dl = fx.dir("Download", "renpriv");
    for (who, uid) in [("mes", mes.uid), ("legacy", legacy.uid), ("root", root.uid)] {
        let u = fx.user(uid);
        for from in ["Android/data", "android/DATA", "Android/obb", "ANDROID/Media"] {
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
