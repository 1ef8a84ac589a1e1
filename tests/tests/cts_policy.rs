//! CTS-style policy suite (SPEC §4, §5; anchor §4.1-4.3): one shared `mediaproviderd serve`,
//! real apps registered with `mediaproviderd app`, real syscalls made by forked children running
//! as the apps' uids, and the errno each one sees.
//!
//! Every test works in its own freshly created directories with its own packages, so tests run
//! in parallel against the one daemon.

use mediaproviderd_tests::*;
use std::time::Duration;

const RMI: &str = "READ_MEDIA_IMAGES";
const RMV: &str = "READ_MEDIA_VIDEO";
const RMA: &str = "READ_MEDIA_AUDIO";
const RVUS: &str = "READ_MEDIA_VISUAL_USER_SELECTED";
const RES: &str = "READ_EXTERNAL_STORAGE";
const WES: &str = "WRITE_EXTERNAL_STORAGE";
const MES: &str = "MANAGE_EXTERNAL_STORAGE";
const RIP: &str = "REQUEST_INSTALL_PACKAGES";
const WMI: &str = "WRITE_MEDIA_IMAGES";
const WMV: &str = "WRITE_MEDIA_VIDEO";

const RD: i32 = libc::O_RDONLY;
const WR: i32 = libc::O_WRONLY;
const RDWR: i32 = libc::O_RDWR;
const EXCL: i32 = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY;

const DEFAULT_DIRS: [&str; 12] = [
    "Alarms",
    "Audiobooks",
    "DCIM",
    "Documents",
    "Download",
    "Movies",
    "Music",
    "Notifications",
    "Pictures",
    "Podcasts",
    "Recordings",
    "Ringtones",
];

/// Recognisable content for a file: its creation path.
fn body(p: &str) -> Vec<u8> {
    format!("content of {p}\n").into_bytes()
}

fn create_ok(u: &User, p: &str) {
    assert_eq!(u.create(p, &body(p)), Ok(()), "uid {} creating {p}", u.uid);
}

/// Volume-relative path of another app's package dir, e.g. `Android/data/<pkg>`.
fn app_dir(area: &str, pkg: &str) -> String {
    format!("Android/{area}/{pkg}")
}

/// `mkdir Android/<area>/<pkg>` (and below) as the package itself.
fn make_app_dir(a: &App, area: &str, sub: &[&str]) -> String {
    let mut p = app_dir(area, &a.pkg);
    assert_eq!(a.mkdir(&p), Ok(()), "{} mkdir {p}", a.pkg);
    for s in sub {
        p = format!("{p}/{s}");
        assert_eq!(a.mkdir(&p), Ok(()), "{} mkdir {p}", a.pkg);
    }
    p
}

/// Another app "B" (no permissions) with one file of each kind in fresh directories.
struct Others {
    b: App,
    dcim: String,
    dl: String,
    jpg: String,
    mp4: String,
    srt: String,
    mp3: String,
    m3u: String,
    pdf: String,
    dl_jpg: String,
}

fn others(fx: &Fixture, tag: &str) -> Others {
    let b = fx.add_app(&format!("{tag}_b"), &[]);
    let dcim = fx.dir("DCIM", tag);
    let movies = fx.dir("Movies", tag);
    let music = fx.dir("Music", tag);
    let dl = fx.dir("Download", tag);
    let o = Others {
        jpg: format!("{dcim}/b.jpg"),
        mp4: format!("{movies}/b.mp4"),
        srt: format!("{movies}/b.srt"),
        mp3: format!("{music}/b.mp3"),
        m3u: format!("{music}/b.m3u"),
        pdf: format!("{dl}/b.pdf"),
        dl_jpg: format!("{dl}/b.jpg"),
        dcim,
        dl,
        b,
    };
    for p in [&o.jpg, &o.mp4, &o.srt, &o.mp3, &o.m3u, &o.pdf, &o.dl_jpg] {
        create_ok(&o.b, p);
    }
    o
}

fn names(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

// =============================================================================================
// Mount and volume layout (SPEC §3)
// =============================================================================================

#[test]
fn mount_looks_like_vold() {
    let fx = shared_fixture!();
    let m = fuse_mount_at(&fx.mnt).expect("mounted");
    let opts: Vec<&str> = m.mount_options.split(',').collect();
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(
            opts.contains(&o),
            "mount options {:?} lack {o}",
            m.mount_options
        );
    }
    let sopts: Vec<&str> = m.super_options.split(',').collect();
    assert!(
        sopts.contains(&"allow_other"),
        "super options {:?} lack allow_other",
        m.super_options
    );
    assert!(
        !sopts.contains(&"default_permissions"),
        "super options {:?}: the daemon must make every decision",
        m.super_options
    );
}

#[test]
fn serve_creates_default_dirs_and_android_dirs_in_lower() {
    let fx = shared_fixture!();
    for d in DEFAULT_DIRS {
        assert!(fx.l(d).is_dir(), "lower/{d} missing");
    }
    for d in ["Android/data", "Android/obb", "Android/media"] {
        assert!(fx.l(d).is_dir(), "lower/{d} missing");
    }
}

#[test]
fn every_app_lists_the_volume_root_with_default_dirs() {
    let fx = shared_fixture!();
    let a = fx.add_app("rootlist", &[]);
    let ls = a.ls("").expect("scoped app lists the volume root");
    for d in DEFAULT_DIRS.iter().chain(["Android"].iter()) {
        assert!(ls.iter().any(|n| n == d), "root listing {ls:?} lacks {d}");
    }
}

#[test]
fn every_app_lists_every_shared_dir() {
    // CTS testOpendirRestrictions: DCIM, Download, Movies, Music and the root list fine.
    let fx = shared_fixture!();
    let a = fx.add_app("opendir", &[]);
    for d in [
        "",
        "DCIM",
        "Download",
        "Movies",
        "Music",
        "Pictures",
        "Android",
        "Android/media",
    ] {
        assert!(a.ls(d).is_ok(), "listing '{d}': {:?}", a.ls(d));
    }
}

// =============================================================================================
// §5.1 Private app dirs
// =============================================================================================

#[test]
fn own_android_data_dir_full_access() {
    // CTS testCreateFileInAppExternalDir + testCreateAndDeleteEmptyDir.
    let fx = shared_fixture!();
    let a = fx.add_app("owndata", &[]);
    let files = make_app_dir(&a, "data", &["files"]);
    let f = format!("{files}/x.bin");
    create_ok(&a, &f);
    assert_eq!(a.read(&f), Ok(body(&f)));
    assert_eq!(a.overwrite(&f, b"second"), Ok(()));
    assert_eq!(a.read(&f), Ok(b"second".to_vec()));
    assert_eq!(a.unlink(&f), Ok(()));
    assert_eq!(a.stat(&f).err(), Some(ENOENT));
    create_ok(&a, &f);
    assert_eq!(fs_read(fx, &f), body(&f));
    let nested = format!("{files}/a/b/c");
    assert_eq!(a.mkdir(&format!("{files}/a")), Ok(()));
    assert_eq!(a.mkdir(&format!("{files}/a/b")), Ok(()));
    assert_eq!(a.mkdir(&nested), Ok(()));
    assert_eq!(a.rmdir(&nested), Ok(()));
    assert_eq!(a.rmdir(&format!("{files}/a/b")), Ok(()));
    assert_eq!(a.rmdir(&format!("{files}/a")), Ok(()));
    assert_eq!(a.ls(&files), Ok(vec!["x.bin".to_string()]));
}

fn fs_read(fx: &Fixture, rel: &str) -> Vec<u8> {
    slurp(&fx.l(rel))
}

#[test]
fn other_apps_android_data_is_enoent_even_for_lookup() {
    let fx = shared_fixture!();
    let a = fx.add_app("privdata", &[]);
    let files = make_app_dir(&a, "data", &["files"]);
    let f = format!("{files}/secret.txt");
    create_ok(&a, &f);
    let b = fx.add_app("privdata_other", &[RMI, RMV, RMA]);
    let pkgdir = app_dir("data", &a.pkg);
    assert_eq!(b.stat(&pkgdir).err(), Some(ENOENT));
    assert_eq!(b.stat(&files).err(), Some(ENOENT));
    assert_eq!(b.stat(&f).err(), Some(ENOENT));
    assert_eq!(b.access(&f, libc::F_OK), Err(ENOENT));
    assert_eq!(b.read(&f).err(), Some(ENOENT));
    assert_eq!(b.open(&f, WR), Err(ENOENT));
    assert_eq!(b.ls(&pkgdir).err(), Some(ENOENT));
    assert_eq!(b.unlink(&f), Err(ENOENT));
    assert!(fx.l(&f).is_file(), "the owner's file must survive");
    // The owner still sees it.
    assert_eq!(a.read(&f), Ok(body(&f)));
}

#[test]
fn other_apps_android_obb_is_enoent() {
    let fx = shared_fixture!();
    let a = fx.add_app("privobb", &[]);
    let dir = make_app_dir(&a, "obb", &[]);
    let f = format!("{dir}/main.1.obb");
    create_ok(&a, &f);
    let b = fx.add_app("privobb_other", &[MES]);
    assert_eq!(b.stat(&dir).err(), Some(ENOENT));
    assert_eq!(b.stat(&f).err(), Some(ENOENT));
    assert_eq!(b.read(&f).err(), Some(ENOENT));
    assert_eq!(b.ls(&dir).err(), Some(ENOENT));
    assert_eq!(a.read(&f), Ok(body(&f)));
}

#[test]
fn other_apps_private_dir_case_variants_are_enoent() {
    let fx = shared_fixture!();
    let a = fx.add_app("privcase", &[]);
    let files = make_app_dir(&a, "data", &["files"]);
    let f = format!("{files}/secret.txt");
    create_ok(&a, &f);
    let b = fx.add_app("privcase_other", &[]);
    let upper = format!("ANDROID/DATA/{}/files/secret.txt", a.pkg.to_uppercase());
    assert_eq!(b.stat(&upper).err(), Some(ENOENT));
    assert_eq!(b.read(&upper).err(), Some(ENOENT));
}

#[test]
fn nonexistent_and_existing_package_dirs_look_the_same() {
    // CTS testCreateFileInOtherAppExternalDir: both ENOENT, no package-existence leak.
    let fx = shared_fixture!();
    let a = fx.add_app("privexist", &[]);
    make_app_dir(&a, "data", &["files"]);
    let b = fx.add_app("privexist_other", &[]);
    let ghost = format!("Android/data/no.such.package.u{}", fx.fresh_uid());
    for (what, dir) in [
        ("existing", app_dir("data", &a.pkg)),
        ("missing", ghost.clone()),
    ] {
        assert_eq!(b.stat(&dir).err(), Some(ENOENT), "{what} stat");
        assert_eq!(
            b.create(&format!("{dir}/x.txt"), b"x"),
            Err(ENOENT),
            "{what} create"
        );
        assert_eq!(
            b.create(&format!("{dir}/files/x.txt"), b"x"),
            Err(ENOENT),
            "{what} nested create"
        );
    }
    // mkdir of another package's dir (CTS testCreateAndDeleteEmptyDir): ENOENT too.
    assert_eq!(b.mkdir(&ghost), Err(ENOENT));
    assert!(!fx.l(&ghost).exists());
    let ghost_obb = format!("Android/obb/no.such.package.u{}", fx.fresh_uid());
    assert_eq!(b.mkdir(&ghost_obb), Err(ENOENT));
}

#[test]
fn android_data_and_obb_lookup_works_but_opendir_is_eacces() {
    // CTS testListFilesFromExternalFilesDirectory.
    let fx = shared_fixture!();
    let a = fx.add_app("dataroot", &[RMI, RMV, RMA]);
    for d in ["Android/data", "Android/obb"] {
        let st = a.stat(d).unwrap_or_else(|e| panic!("stat {d}: {e}"));
        assert!(st.is_dir(), "{d} is a directory");
        assert_eq!(a.ls(d).err(), Some(EACCES), "opendir {d}");
    }
    let ls = a.ls("Android").expect("list Android");
    for n in ["data", "media", "obb"] {
        assert!(
            ls.iter().any(|x| x == n),
            "Android listing {ls:?} lacks {n}"
        );
    }
}

#[test]
fn android_data_opendir_is_eacces_for_mes_and_unregistered() {
    let fx = shared_fixture!();
    let m = fx.add_app("dataroot_mes", &[MES]);
    assert_eq!(m.ls("Android/data").err(), Some(EACCES));
    assert_eq!(m.ls("Android/obb").err(), Some(EACCES));
    let u = fx.user(fx.fresh_uid());
    assert_eq!(u.ls("Android/data").err(), Some(EACCES));
    assert!(u.stat("Android/data").is_ok());
}

#[test]
fn own_android_data_dir_is_listable_by_owner() {
    let fx = shared_fixture!();
    let a = fx.add_app("ownlist", &[]);
    let dir = make_app_dir(&a, "data", &[]);
    create_ok(&a, &format!("{dir}/one.txt"));
    assert_eq!(a.ls(&dir), Ok(vec!["one.txt".to_string()]));
}

#[test]
fn mes_cannot_touch_other_apps_android_data() {
    // CTS testManageExternalStorageCantReadWriteOtherAppExternalDir.
    let fx = shared_fixture!();
    let a = fx.add_app("mesdata", &[]);
    let files = make_app_dir(&a, "data", &["files"]);
    let f = format!("{files}/secret.txt");
    create_ok(&a, &f);
    let m = fx.add_app("mesdata_fm", &[MES]);
    assert_eq!(m.stat(&f).err(), Some(ENOENT));
    assert_eq!(m.read(&f).err(), Some(ENOENT));
    assert_eq!(m.open(&f, RDWR), Err(ENOENT));
    assert_eq!(m.unlink(&f), Err(ENOENT));
    assert_eq!(m.create(&format!("{files}/new.txt"), b"x"), Err(ENOENT));
    assert!(fx.l(&f).is_file());
    assert!(!fx.l(&format!("{files}/new.txt")).exists());
}

#[test]
fn installer_can_read_other_apps_obb() {
    // CTS testCheckInstallerAppAccessToObbDirs.
    let fx = shared_fixture!();
    let a = fx.add_app("obbowner", &[]);
    let dir = make_app_dir(&a, "obb", &[]);
    let f = format!("{dir}/main.2.obb");
    create_ok(&a, &f);
    let inst = fx.add_app("installer", &[RIP]);
    assert!(inst.stat(&f).is_ok());
    assert_eq!(inst.read(&f), Ok(body(&f)));
    let plain = fx.add_app("obb_noinstaller", &[]);
    assert_eq!(plain.read(&f).err(), Some(ENOENT));
}

#[test]
fn installer_cannot_access_other_apps_data() {
    // CTS testCheckInstallerAppCannotAccessDataDirs.
    let fx = shared_fixture!();
    let a = fx.add_app("dataowner", &[]);
    let files = make_app_dir(&a, "data", &["files"]);
    let f = format!("{files}/secret.txt");
    create_ok(&a, &f);
    let inst = fx.add_app("installer_data", &[RIP]);
    assert_eq!(inst.stat(&f).err(), Some(ENOENT));
    assert_eq!(inst.read(&f).err(), Some(ENOENT));
}

#[test]
fn rename_into_other_apps_private_dir_is_eacces() {
    let fx = shared_fixture!();
    let a = fx.add_app("renpriv", &[]);
    let b = fx.add_app("renpriv_victim", &[]);
    make_app_dir(&b, "data", &[]);
    let dl = fx.dir("Download", "renpriv");
    let f = format!("{dl}/x.txt");
    create_ok(&a, &f);
    let sub = format!("{dl}/sub");
    assert_eq!(a.mkdir(&sub), Ok(()));
    // Onto an existing package dir's name, and onto a package that does not exist.
    assert_eq!(a.rename(&sub, &app_dir("data", &b.pkg)), Err(EACCES));
    let ghost = format!("Android/data/no.such.pkg.u{}", fx.fresh_uid());
    assert_eq!(a.rename(&sub, &ghost), Err(EACCES));
    assert_eq!(a.rename(&f, &ghost), Err(EACCES));
    let ghost_obb = format!("Android/obb/no.such.pkg.u{}", fx.fresh_uid());
    assert_eq!(a.rename(&sub, &ghost_obb), Err(EACCES));
    assert!(fx.l(&f).is_file() && fx.l(&sub).is_dir());
    assert!(!fx.l(&ghost).exists());
}

#[test]
fn rename_android_is_eacces_even_for_mes() {
    // CTS testManageExternalStorageCannotRenameAndroid.
    let fx = shared_fixture!();
    let a = fx.add_app("renandroid", &[]);
    let m = fx.add_app("renandroid_fm", &[MES]);
    let to = format!("Androidfoo{}", fx.fresh_uid());
    assert_eq!(a.rename("Android", &to), Err(EACCES));
    assert_eq!(m.rename("Android", &to), Err(EACCES));
    assert!(fx.l("Android/data").is_dir());
}

#[test]
fn android_media_of_other_app_is_shared_storage() {
    // CTS testAndroidMedia.
    let fx = shared_fixture!();
    let b = fx.add_app("amedia_owner", &[]);
    let dir = make_app_dir(&b, "media", &[]);
    let jpg = format!("{dir}/abc.jpg");
    let bin = format!("{dir}/abc.bin");
    create_ok(&b, &jpg);
    create_ok(&b, &bin);
    let r = fx.add_app("amedia_reader", &[RMI, RMV, RMA]);
    assert_eq!(r.read(&jpg), Ok(body(&jpg)));
    assert!(r.stat(&bin).is_ok(), "exists() is true for others' files");
    assert_eq!(r.read(&bin).err(), Some(EACCES));
    assert_eq!(r.access(&jpg, libc::R_OK), Ok(()));
    assert_eq!(r.access(&bin, libc::R_OK), Err(EACCES));
    assert_eq!(r.access(&bin, libc::F_OK), Ok(()));
    let none = fx.add_app("amedia_none", &[]);
    assert_eq!(none.read(&jpg).err(), Some(EACCES));
    // The owner has full access.
    assert_eq!(b.overwrite(&bin, b"new"), Ok(()));
    assert_eq!(b.read(&bin), Ok(b"new".to_vec()));
    assert_eq!(b.unlink(&bin), Ok(()));
}

#[test]
fn create_in_other_apps_android_media_is_eperm() {
    let fx = shared_fixture!();
    let b = fx.add_app("amedia2_owner", &[]);
    let dir = make_app_dir(&b, "media", &[]);
    let a = fx.add_app("amedia2_other", &[RMI]);
    for name in ["x.jpg", "x.pdf"] {
        let p = format!("{dir}/{name}");
        assert_eq!(a.create(&p, b"x"), Err(EPERM), "create {p}");
        assert!(!fx.l(&p).exists());
    }
}

#[test]
fn owner_has_full_access_in_own_android_media() {
    let fx = shared_fixture!();
    let a = fx.add_app("amedia_full", &[]);
    let dir = make_app_dir(&a, "media", &["sub"]);
    let pdf = format!("{dir}/doc.pdf");
    let mp3 = format!("{dir}/song.mp3");
    create_ok(&a, &pdf);
    create_ok(&a, &mp3);
    assert_eq!(a.read(&pdf), Ok(body(&pdf)));
    let renamed = format!("{dir}/doc2.pdf");
    assert_eq!(a.rename(&pdf, &renamed), Ok(()));
    assert_eq!(a.read(&renamed), Ok(body(&pdf)));
    assert_eq!(a.unlink(&renamed), Ok(()));
    assert_eq!(a.unlink(&mp3), Ok(()));
    assert_eq!(a.rmdir(&dir), Ok(()));
}

#[test]
fn listing_android_media_shows_other_apps_media() {
    // CTS testListFilesFromExternalMediaDirectory.
    let fx = shared_fixture!();
    let b = fx.add_app("amedia_list", &[]);
    let dir = make_app_dir(&b, "media", &[]);
    create_ok(&b, &format!("{dir}/v.mp4"));
    create_ok(&b, &format!("{dir}/n.bin"));
    let r = fx.add_app("amedia_lister", &[RMV]);
    let top = r.ls("Android/media").expect("list Android/media");
    assert!(
        top.contains(&b.pkg),
        "Android/media listing {top:?} lacks {}",
        b.pkg
    );
    assert_eq!(r.ls(&dir), Ok(vec!["v.mp4".to_string()]));
    assert_eq!(b.ls(&dir), Ok(names(&["n.bin", "v.mp4"])));
}

// =============================================================================================
// §5.2 Reading others' files
// =============================================================================================

#[test]
fn own_files_are_readable_without_permissions() {
    let fx = shared_fixture!();
    let a = fx.add_app("ownread", &[]);
    let dl = fx.dir("Download", "ownread");
    let dcim = fx.dir("DCIM", "ownread");
    for p in [
        format!("{dl}/a.pdf"),
        format!("{dcim}/a.jpg"),
        format!("{dl}/a.mp3"),
    ] {
        create_ok(&a, &p);
        assert_eq!(a.read(&p), Ok(body(&p)), "{p}");
    }
}

#[test]
fn others_image_needs_read_media_images() {
    let fx = shared_fixture!();
    let o = others(fx, "img");
    let none = fx.add_app("img_none", &[]);
    let rmi = fx.add_app("img_rmi", &[RMI]);
    let rmv = fx.add_app("img_rmv", &[RMV]);
    let rma = fx.add_app("img_rma", &[RMA]);
    assert_eq!(none.read(&o.jpg).err(), Some(EACCES));
    assert_eq!(rmi.read(&o.jpg), Ok(body(&o.jpg)));
    assert_eq!(
        rmi.read(&o.dl_jpg),
        Ok(body(&o.dl_jpg)),
        "an image in Download is still an image"
    );
    assert_eq!(rmv.read(&o.jpg).err(), Some(EACCES));
    assert_eq!(rma.read(&o.jpg).err(), Some(EACCES));
}

#[test]
fn others_video_needs_read_media_video() {
    let fx = shared_fixture!();
    let o = others(fx, "vid");
    let none = fx.add_app("vid_none", &[]);
    let rmv = fx.add_app("vid_rmv", &[RMV]);
    let rmi = fx.add_app("vid_rmi", &[RMI]);
    assert_eq!(none.read(&o.mp4).err(), Some(EACCES));
    assert_eq!(rmv.read(&o.mp4), Ok(body(&o.mp4)));
    assert_eq!(rmi.read(&o.mp4).err(), Some(EACCES));
}

#[test]
fn others_audio_and_playlists_need_read_media_audio() {
    let fx = shared_fixture!();
    let o = others(fx, "aud");
    let none = fx.add_app("aud_none", &[]);
    let rma = fx.add_app("aud_rma", &[RMA]);
    let visual = fx.add_app("aud_visual", &[RMI, RMV]);
    for p in [&o.mp3, &o.m3u] {
        assert_eq!(none.read(p).err(), Some(EACCES), "{p}");
        assert_eq!(rma.read(p), Ok(body(p)), "{p}");
        assert_eq!(visual.read(p).err(), Some(EACCES), "{p}");
    }
}

#[test]
fn subtitles_are_readable_with_audio_or_video() {
    let fx = shared_fixture!();
    let o = others(fx, "srt");
    let rma = fx.add_app("srt_rma", &[RMA]);
    let rmv = fx.add_app("srt_rmv", &[RMV]);
    let rmi = fx.add_app("srt_rmi", &[RMI]);
    assert_eq!(rma.read(&o.srt), Ok(body(&o.srt)));
    assert_eq!(rmv.read(&o.srt), Ok(body(&o.srt)));
    assert_eq!(rmi.read(&o.srt).err(), Some(EACCES));
}

#[test]
fn read_external_storage_counts_as_media_below_sdk_33() {
    let fx = shared_fixture!();
    let o = others(fx, "res30");
    let r = fx.add_app_with("res30", &[RES], Some(30), false);
    assert_eq!(r.read(&o.jpg), Ok(body(&o.jpg)));
    assert_eq!(r.read(&o.mp4), Ok(body(&o.mp4)));
    assert_eq!(r.read(&o.mp3), Ok(body(&o.mp3)));
    assert_eq!(
        r.read(&o.pdf).err(),
        Some(EACCES),
        "RES never opens others' documents"
    );
}

#[test]
fn read_external_storage_is_nothing_at_sdk_33() {
    let fx = shared_fixture!();
    let o = others(fx, "res33");
    let r = fx.add_app_with("res33", &[RES], Some(33), false);
    for p in [&o.jpg, &o.mp4, &o.mp3] {
        assert_eq!(r.read(p).err(), Some(EACCES), "{p}");
    }
}

#[test]
fn others_non_media_is_never_readable_by_scoped_apps() {
    let fx = shared_fixture!();
    let o = others(fx, "nonmedia");
    let all = fx.add_app("nonmedia_all", &[RMI, RMV, RMA, WMI, WMV]);
    let res = fx.add_app_with("nonmedia_res", &[RES], Some(30), false);
    let bin = format!("{}/b.bin", o.dl);
    let txt = format!("{}/b.txt", o.dl);
    create_ok(&o.b, &bin);
    create_ok(&o.b, &txt);
    for p in [&o.pdf, &bin, &txt] {
        assert_eq!(all.read(p).err(), Some(EACCES), "{p}");
        assert_eq!(res.read(p).err(), Some(EACCES), "{p}");
    }
}

#[test]
fn others_files_can_be_statted_but_not_opened() {
    // CTS testCantAccessOtherAppsContents.
    let fx = shared_fixture!();
    let o = others(fx, "stat");
    let c = fx.add_app("stat_none", &[]);
    for p in [&o.jpg, &o.pdf, &o.mp3] {
        let st = c.stat(p).unwrap_or_else(|e| panic!("stat {p}: {e}"));
        assert!(st.is_file());
        assert_eq!(st.size, body(p).len() as u64, "size of {p}");
        assert_eq!(c.open(p, RD), Err(EACCES), "read-open {p}");
        assert_eq!(c.open(p, WR), Err(EACCES), "write-open {p}");
        assert_eq!(c.open(p, RDWR), Err(EACCES), "rw-open {p}");
    }
}

#[test]
fn others_non_media_is_hidden_from_listings() {
    // CTS testListDirectoriesWithNonMediaFiles.
    let fx = shared_fixture!();
    let o = others(fx, "lsnm");
    let all = fx.add_app("lsnm_all", &[RMI, RMV, RMA]);
    assert_eq!(o.b.ls(&o.dl), Ok(names(&["b.jpg", "b.pdf"])));
    assert_eq!(all.ls(&o.dl), Ok(names(&["b.jpg"])));
    let none = fx.add_app("lsnm_none", &[]);
    assert_eq!(none.ls(&o.dl), Ok(vec![]));
}

#[test]
fn media_listing_follows_read_permission() {
    // CTS testListDirectoriesWithMediaFiles.
    let fx = shared_fixture!();
    let b = fx.add_app("lsm_b", &[]);
    let d = fx.dir("DCIM", "lsm");
    let sub = format!("{d}/sub");
    assert_eq!(b.mkdir(&sub), Ok(()));
    let v = format!("{sub}/v.mp4");
    create_ok(&b, &v);
    let none = fx.add_app("lsm_none", &[]);
    let rmv = fx.add_app("lsm_rmv", &[RMV]);
    assert_eq!(
        none.ls(&d),
        Ok(vec!["sub".to_string()]),
        "subdirectories come from the lower tree"
    );
    assert_eq!(none.ls(&sub), Ok(vec![]));
    assert_eq!(rmv.ls(&sub), Ok(vec!["v.mp4".to_string()]));
    assert_eq!(b.ls(&sub), Ok(vec!["v.mp4".to_string()]));
}

#[test]
fn access_on_files() {
    // CTS testAccess_file.
    let fx = shared_fixture!();
    let o = others(fx, "access");
    let c = fx.add_app("access_rmi", &[RMI]);
    let own = format!("{}/own.pdf", o.dl);
    create_ok(&c, &own);
    assert_eq!(c.access(&own, libc::R_OK | libc::W_OK), Ok(()));
    assert_eq!(c.access(&o.jpg, libc::F_OK), Ok(()));
    assert_eq!(c.access(&o.jpg, libc::R_OK), Ok(()));
    assert_eq!(c.access(&o.jpg, libc::W_OK), Err(EACCES));
    assert_eq!(c.access(&o.pdf, libc::F_OK), Ok(()));
    assert_eq!(c.access(&o.pdf, libc::R_OK), Err(EACCES));
    assert_eq!(c.access(&o.pdf, libc::W_OK), Err(EACCES));
    assert_eq!(
        c.access(&format!("{}/missing.pdf", o.dl), libc::F_OK),
        Err(ENOENT)
    );
}

#[test]
fn access_on_shell_file_in_root_is_exists_only() {
    let fx = shared_fixture!();
    let shell = fx.user(2000);
    let p = format!("{}.pdf", fx.unique("shellroot"));
    create_ok(&shell, &p);
    let c = fx.add_app("shellroot_rmi", &[RMI, RMV, RMA]);
    assert_eq!(c.access(&p, libc::F_OK), Ok(()));
    assert_eq!(c.access(&p, libc::R_OK), Err(EACCES));
    assert_eq!(c.access(&p, libc::W_OK), Err(EACCES));
}

#[test]
fn access_on_directories() {
    // CTS testAccess_directory.
    let fx = shared_fixture!();
    let a = fx.add_app("accdir", &[RMI]);
    let b = fx.add_app("accdir_b", &[]);
    let bdir = make_app_dir(&b, "data", &["files"]);
    let own = make_app_dir(&a, "data", &[]);
    assert_eq!(a.access(&bdir, libc::F_OK), Err(ENOENT));
    assert_eq!(a.access(&bdir, libc::R_OK), Err(ENOENT));
    assert_eq!(a.access(&own, libc::R_OK | libc::W_OK), Ok(()));
    assert_eq!(a.access("DCIM", libc::F_OK), Ok(()));
    assert_eq!(a.access("DCIM", libc::R_OK), Ok(()));
    assert_eq!(a.access("DCIM", libc::W_OK), Ok(()));
    assert_eq!(a.access("", libc::R_OK), Ok(()));
    assert_eq!(a.access("", libc::W_OK), Err(EACCES));
    assert_eq!(a.access("Android", libc::R_OK), Ok(()));
    assert_eq!(a.access("Android", libc::W_OK), Err(EACCES));
}

#[test]
fn access_x_ok_on_files_is_eacces() {
    let fx = shared_fixture!();
    let o = others(fx, "xok");
    let a = fx.add_app("xok_a", &[RMI]);
    let own = format!("{}/own.sh", o.dl);
    create_ok(&a, &own);
    assert_eq!(a.access(&own, libc::X_OK), Err(EACCES));
    assert_eq!(a.access(&o.jpg, libc::X_OK), Err(EACCES));
    assert_eq!(o.b.access(&o.jpg, libc::X_OK), Err(EACCES));
    assert_eq!(
        fx.root_user().access(&own, libc::X_OK),
        Err(EACCES),
        "noexec holds for root too"
    );
}

#[test]
fn exec_is_refused_on_the_noexec_mount() {
    let fx = shared_fixture!();
    let a = fx.add_app("execve", &[]);
    let dl = fx.dir("Download", "execve");
    let p = format!("{dl}/run.sh");
    assert_eq!(a.create(&p, b"#!/bin/sh\nexit 0\n"), Ok(()));
    assert_eq!(a.chmod(&p, 0o755), Ok(()));
    assert_eq!(a.exec(&p), Err(EACCES));
}

#[test]
fn user_selected_app_sees_only_granted_items() {
    let fx = shared_fixture!();
    let b = fx.add_app("usel_b", &[]);
    let d = fx.dir("DCIM", "usel");
    let (p1, p2, v) = (
        format!("{d}/one.jpg"),
        format!("{d}/two.jpg"),
        format!("{d}/v.mp4"),
    );
    for p in [&p1, &p2, &v] {
        create_ok(&b, p);
    }
    let u = fx.add_app("usel", &[RVUS]);
    assert_eq!(u.read(&p1).err(), Some(EACCES));
    u.grant_file(&[&p1, &v]);
    assert_eq!(u.read(&p1), Ok(body(&p1)));
    assert_eq!(u.read(&v), Ok(body(&v)));
    assert_eq!(u.read(&p2).err(), Some(EACCES));
    assert_eq!(u.ls(&d), Ok(names(&["one.jpg", "v.mp4"])));
    assert_eq!(
        u.open(&p1, WR),
        Err(EACCES),
        "a read grant is not a write grant"
    );
    u.revoke_file(&[&p1]);
    assert_eq!(u.read(&p1).err(), Some(EACCES));
    assert_eq!(u.ls(&d), Ok(names(&["v.mp4"])));
    // Its own files stay visible.
    let own = format!("{d}/mine.jpg");
    create_ok(&u, &own);
    assert_eq!(u.read(&own), Ok(body(&own)));
}

#[test]
fn read_grant_opens_reads_only() {
    let fx = shared_fixture!();
    let o = others(fx, "rgrant");
    let c = fx.add_app("rgrant_c", &[]);
    c.grant_file(&[&o.pdf]);
    assert_eq!(c.read(&o.pdf), Ok(body(&o.pdf)));
    assert!(c.lists(&o.dl, "b.pdf"));
    assert_eq!(c.open(&o.pdf, WR), Err(EACCES));
    assert_eq!(c.truncate(&o.pdf, 0), Err(EACCES));
    assert_eq!(c.unlink(&o.pdf), Err(ENOENT));
    assert!(fx.l(&o.pdf).is_file());
}

#[test]
fn grant_file_accepts_absolute_mount_paths() {
    let fx = shared_fixture!();
    let o = others(fx, "absgrant");
    let c = fx.add_app("absgrant_c", &[]);
    let abs = fx.m(&o.pdf).display().to_string();
    c.grant_file(&[&abs]);
    assert_eq!(c.read(&o.pdf), Ok(body(&o.pdf)));
}

#[test]
fn others_hidden_file_is_invisible_to_readers() {
    // CTS testListHiddenFile.
    let fx = shared_fixture!();
    let b = fx.add_app("hid_b", &[]);
    let d = fx.dir("DCIM", "hid");
    let h = format!("{d}/.hidden.jpg");
    let v = format!("{d}/visible.jpg");
    create_ok(&b, &h);
    create_ok(&b, &v);
    let r = fx.add_app("hid_rmi", &[RMI]);
    assert_eq!(r.read(&h).err(), Some(EACCES));
    assert_eq!(r.ls(&d), Ok(names(&["visible.jpg"])));
    assert!(r.stat(&h).is_ok(), "stat is not secret");
    let g = fx.add_app("hid_gallery", &[WMI, WMV]);
    assert!(
        !g.lists(&d, ".hidden.jpg"),
        "gallery does not list others' hidden media"
    );
    let m = fx.add_app("hid_fm", &[MES]);
    assert!(m.lists(&d, ".hidden.jpg"));
    assert_eq!(m.read(&h), Ok(body(&h)));
    assert!(b.lists(&d, ".hidden.jpg"));
    assert_eq!(b.read(&h), Ok(body(&h)));
}

#[test]
fn own_hidden_file_lifecycle() {
    // CTS testCanCreateHiddenFile.
    let fx = shared_fixture!();
    let a = fx.add_app("ownhid", &[]);
    let d = fx.dir("Download", "ownhid");
    let h = format!("{d}/.hidden_x.jpg");
    create_ok(&a, &h);
    assert_eq!(a.append(&h, b"more"), Ok(()));
    let mut want = body(&h);
    want.extend_from_slice(b"more");
    assert_eq!(a.read(&h), Ok(want));
    assert!(a.lists(&d, ".hidden_x.jpg"));
    assert_eq!(a.unlink(&h), Ok(()));
    assert!(!fx.l(&h).exists());
}

#[test]
fn files_in_dot_dirs_are_invisible_to_readers() {
    let fx = shared_fixture!();
    let b = fx.add_app("dotdir_b", &[]);
    let d = fx.dir("DCIM", "dotdir");
    let hd = format!("{d}/.hdir");
    assert_eq!(b.mkdir(&hd), Ok(()));
    let p = format!("{hd}/x.jpg");
    create_ok(&b, &p);
    let r = fx.add_app("dotdir_rmi", &[RMI]);
    assert_eq!(r.read(&p).err(), Some(EACCES));
    assert_eq!(r.ls(&hd), Ok(vec![]));
    assert_eq!(b.read(&p), Ok(body(&p)));
}

#[test]
fn nomedia_hides_a_directory_until_removed() {
    // CTS testHiddenDirectory_nomedia.
    let fx = shared_fixture!();
    let b = fx.add_app("nomedia_b", &[]);
    let d = fx.dir("Download", "nomedia");
    let nm = format!("{d}/.nomedia");
    create_ok(&b, &nm);
    let p = format!("{d}/x.jpg");
    create_ok(&b, &p);
    let r = fx.add_app("nomedia_rmi", &[RMI]);
    assert_eq!(r.read(&p).err(), Some(EACCES));
    assert!(!r.lists(&d, "x.jpg"));
    assert_eq!(b.unlink(&nm), Ok(()));
    assert_eq!(
        r.read(&p),
        Ok(body(&p)),
        "no .nomedia any more: x.jpg is media"
    );
    assert!(r.lists(&d, "x.jpg"));
}

#[test]
fn nomedia_in_a_parent_hides_subdirectories() {
    let fx = shared_fixture!();
    let b = fx.add_app("nomedia2_b", &[]);
    let d = fx.dir("Download", "nomedia2");
    create_ok(&b, &format!("{d}/.nomedia"));
    let sub = format!("{d}/deeper");
    assert_eq!(b.mkdir(&sub), Ok(()));
    let p = format!("{sub}/x.png");
    create_ok(&b, &p);
    let r = fx.add_app("nomedia2_rmi", &[RMI]);
    assert_eq!(r.read(&p).err(), Some(EACCES));
}

#[test]
fn nomedia_in_dcim_camera_does_not_hide() {
    // CTS testCanWriteToDCIMCameraWithNomedia.
    let fx = shared_fixture!();
    let root = fx.root_user();
    match root.mkdir("DCIM/Camera") {
        Ok(()) | Err(EEXIST) => {}
        Err(e) => panic!("mkdir DCIM/Camera: {e}"),
    }
    match root.create("DCIM/Camera/.nomedia", b"") {
        Ok(()) | Err(EEXIST) => {}
        Err(e) => panic!("create DCIM/Camera/.nomedia: {e}"),
    }
    let b = fx.add_app("camnm_b", &[]);
    let p = format!("DCIM/Camera/{}.jpg", fx.unique("cam"));
    create_ok(&b, &p);
    assert_eq!(b.write_at(&p, 0, b"C"), Ok(()));
    let r = fx.add_app("camnm_rmi", &[RMI]);
    let mut want = body(&p);
    want[0] = b'C';
    assert_eq!(r.read(&p), Ok(want));
}

#[test]
fn nomedia_in_screenshots_dir_does_not_hide() {
    let fx = shared_fixture!();
    let root = fx.root_user();
    match root.mkdir("Pictures/Screenshots") {
        Ok(()) | Err(EEXIST) => {}
        Err(e) => panic!("mkdir Pictures/Screenshots: {e}"),
    }
    match root.create("Pictures/Screenshots/.nomedia", b"") {
        Ok(()) | Err(EEXIST) => {}
        Err(e) => panic!("create .nomedia: {e}"),
    }
    let b = fx.add_app("shotnm_b", &[]);
    let p = format!("Pictures/Screenshots/{}.png", fx.unique("shot"));
    create_ok(&b, &p);
    let r = fx.add_app("shotnm_rmi", &[RMI]);
    assert_eq!(r.read(&p), Ok(body(&p)));
}

// =============================================================================================
// §5.3 Writing, deleting, setattr on existing files
// =============================================================================================

#[test]
fn own_file_write_append_truncate() {
    // CTS testLowLevelFileIO.
    let fx = shared_fixture!();
    let a = fx.add_app("lowio", &[]);
    let d = fx.dir("Download", "lowio");
    let p = format!("{d}/f.txt");
    assert_eq!(a.create(&p, b"hello"), Ok(()));
    assert_eq!(a.create(&p, b"again"), Err(EEXIST));
    assert_eq!(a.append(&p, b" world"), Ok(()));
    assert_eq!(a.read(&p), Ok(b"hello world".to_vec()));
    assert_eq!(a.overwrite(&p, b"x"), Ok(()));
    assert_eq!(a.read(&p), Ok(b"x".to_vec()));
    assert_eq!(fs_read(fx, &p), b"x");
    assert_eq!(a.open(&p, RDWR), Ok(()));
}

#[test]
fn read_permission_never_grants_write() {
    let fx = shared_fixture!();
    let o = others(fx, "rnw");
    let r = fx.add_app("rnw_r", &[RMI, RMV, RMA]);
    for p in [&o.jpg, &o.mp4, &o.mp3] {
        assert_eq!(r.open(p, WR), Err(EACCES), "{p}");
        assert_eq!(r.open(p, RDWR), Err(EACCES), "{p}");
        assert_eq!(r.access(p, libc::W_OK), Err(EACCES), "{p}");
        assert_eq!(r.unlink(p), Err(ENOENT), "{p}");
        assert_eq!(r.read(p), Ok(body(p)), "{p} untouched");
    }
}

#[test]
fn unlink_of_others_files_is_enoent() {
    // CTS testCantDeleteOtherAppsContents.
    let fx = shared_fixture!();
    let o = others(fx, "unl");
    let c = fx.add_app("unl_c", &[]);
    for p in [&o.jpg, &o.pdf, &o.mp3, &o.mp4] {
        assert_eq!(c.unlink(p), Err(ENOENT), "{p}");
        assert!(fx.l(p).is_file(), "{p} must survive");
    }
    // The owner can.
    assert_eq!(o.b.unlink(&o.pdf), Ok(()));
    assert!(!fx.l(&o.pdf).exists());
}

#[test]
fn setattr_on_others_files_is_eacces() {
    // CTS testCantSetAttrOtherAppsFile.
    let fx = shared_fixture!();
    let b = fx.add_app("setattr_b", &[]);
    let dir = make_app_dir(&b, "media", &[]);
    let v = format!("{dir}/x.mp4");
    create_ok(&b, &v);
    let r = fx.add_app("setattr_r", &[RMV]);
    assert_eq!(r.truncate(&v, 0), Err(EACCES));
    assert_eq!(r.utimes(&v, 1_000_000), Err(EACCES));
    assert_eq!(fs_read(fx, &v), body(&v));
    let o = others(fx, "setattr2");
    assert_eq!(r.truncate(&o.mp4, 1), Err(EACCES));
    assert_eq!(r.truncate(&o.pdf, 1), Err(EACCES));
    assert_eq!(r.utimes(&o.pdf, 1_000_000), Err(EACCES));
    assert_eq!(fs_read(fx, &o.mp4), body(&o.mp4));
}

#[test]
fn setattr_on_own_files_works_and_chmod_is_accepted() {
    let fx = shared_fixture!();
    let a = fx.add_app("setattr_own", &[]);
    let d = fx.dir("Download", "setattr_own");
    let p = format!("{d}/f.bin");
    assert_eq!(a.create(&p, b"0123456789"), Ok(()));
    assert_eq!(a.truncate(&p, 4), Ok(()));
    assert_eq!(a.stat(&p).map(|s| s.size), Ok(4));
    assert_eq!(fs_read(fx, &p), b"0123");
    assert_eq!(a.utimes(&p, 1_234_567), Ok(()));
    let mtime = std::fs::metadata(fx.l(&p))
        .map(|m| std::os::unix::fs::MetadataExt::mtime(&m))
        .unwrap();
    assert_eq!(mtime, 1_234_567, "utimes lands in the lower file");
    assert_eq!(a.chmod(&p, 0o600), Ok(()));
    assert_eq!(a.read(&p), Ok(b"0123".to_vec()));
}

#[test]
fn gallery_can_write_and_delete_others_images_and_videos() {
    // CTS testSystemGalleryAppHasFullAccessToImages.
    let fx = shared_fixture!();
    let o = others(fx, "galw");
    let g = fx.add_app("galw", &[WMI, WMV]);
    assert_eq!(g.read(&o.jpg), Ok(body(&o.jpg)));
    assert_eq!(g.overwrite(&o.jpg, b"gallery edit"), Ok(()));
    assert_eq!(fs_read(fx, &o.jpg), b"gallery edit");
    assert_eq!(g.open(&o.mp4, RDWR), Ok(()));
    assert_eq!(g.truncate(&o.mp4, 3), Ok(()));
    assert_eq!(g.unlink(&o.mp4), Ok(()));
    assert!(!fx.l(&o.mp4).exists());
}

#[test]
fn gallery_has_no_access_to_others_audio_or_documents() {
    // CTS testSystemGalleryAppHasNoFullAccessToAudio.
    let fx = shared_fixture!();
    let o = others(fx, "galaudio");
    let g = fx.add_app("galaudio", &[WMI, WMV]);
    for p in [&o.mp3, &o.pdf] {
        assert_eq!(g.open(p, RD), Err(EACCES), "{p}");
        assert_eq!(g.open(p, WR), Err(EACCES), "{p}");
        assert_eq!(g.unlink(p), Err(ENOENT), "{p}");
        assert!(fx.l(p).is_file());
    }
}

#[test]
fn gallery_needs_both_write_media_app_ops() {
    let fx = shared_fixture!();
    let o = others(fx, "galhalf");
    let only_images = fx.add_app("galhalf_i", &[WMI]);
    assert_eq!(only_images.open(&o.jpg, WR), Err(EACCES));
    assert_eq!(only_images.unlink(&o.jpg), Err(ENOENT));
}

#[test]
fn mes_can_write_and_delete_others_files() {
    // CTS testManageExternalStorageCanDeleteOtherAppsContents / QueryOtherAppsFile.
    let fx = shared_fixture!();
    let o = others(fx, "mesw");
    let h = format!("{}/.hidden.jpg", o.dcim);
    create_ok(&o.b, &h);
    let m = fx.add_app("mesw", &[MES]);
    for p in [&o.pdf, &o.jpg, &o.mp3, &h] {
        assert_eq!(m.read(p), Ok(body(p)), "{p}");
        assert_eq!(m.open(p, RDWR), Ok(()), "{p}");
    }
    assert_eq!(m.overwrite(&o.pdf, b"mes"), Ok(()));
    assert_eq!(fs_read(fx, &o.pdf), b"mes");
    for p in [&o.pdf, &o.jpg, &o.mp3] {
        assert_eq!(m.unlink(p), Ok(()), "{p}");
        assert!(!fx.l(p).exists());
    }
}

#[test]
fn write_grant_allows_write_and_delete() {
    let fx = shared_fixture!();
    let o = others(fx, "wgrant");
    let c = fx.add_app("wgrant_c", &[]);
    c.grant_file_write(&[&o.jpg, &o.pdf]);
    assert_eq!(c.read(&o.jpg), Ok(body(&o.jpg)));
    assert_eq!(c.overwrite(&o.jpg, b"edited"), Ok(()));
    assert_eq!(fs_read(fx, &o.jpg), b"edited");
    assert_eq!(c.truncate(&o.pdf, 2), Ok(()));
    assert_eq!(c.unlink(&o.pdf), Ok(()));
    assert!(!fx.l(&o.pdf).exists());
    // Not granted: still denied.
    assert_eq!(c.open(&o.mp3, WR), Err(EACCES));
}

#[test]
fn shell_reads_everything_and_owns_what_it_creates() {
    let fx = shared_fixture!();
    let o = others(fx, "shell");
    let a = fx.add_app("shell_priv", &[]);
    let files = make_app_dir(&a, "data", &["files"]);
    let secret = format!("{files}/s.txt");
    create_ok(&a, &secret);
    let shell = fx.user(2000);
    assert_eq!(shell.read(&o.pdf), Ok(body(&o.pdf)));
    assert_eq!(shell.read(&secret), Ok(body(&secret)));
    assert!(shell.lists(&o.dl, "b.pdf"));
    let s = format!("{}/shell.pdf", o.dl);
    create_ok(&shell, &s);
    assert_eq!(shell.overwrite(&s, b"shell2"), Ok(()));
    // Owned by com.android.shell: apps see it as someone else's document.
    assert_eq!(o.b.read(&s).err(), Some(EACCES));
    assert_eq!(o.b.unlink(&s), Err(ENOENT));
    assert_eq!(shell.unlink(&s), Ok(()));
    assert!(!fx.l(&s).exists());
}

#[test]
fn privileged_uids_have_full_access() {
    let fx = shared_fixture!();
    let o = others(fx, "priv");
    let a = fx.add_app("priv_data", &[]);
    let files = make_app_dir(&a, "data", &["files"]);
    let secret = format!("{files}/s.txt");
    create_ok(&a, &secret);
    for uid in [0u32, 1000, 1023] {
        let u = fx.user(uid);
        assert_eq!(u.read(&secret), Ok(body(&secret)), "uid {uid}");
        assert_eq!(u.read(&o.pdf), Ok(body(&o.pdf)), "uid {uid}");
        assert!(
            u.ls("Android/data").map(|v| v.contains(&a.pkg)) == Ok(true),
            "uid {uid} lists Android/data"
        );
        assert_eq!(u.open(&o.pdf, RDWR), Ok(()), "uid {uid}");
    }
    let p = format!("{}.txt", fx.unique("system_root_file"));
    create_ok(&fx.user(1000), &p);
    assert_eq!(fx.user(1023).unlink(&p), Ok(()));
}

#[test]
fn unregistered_uid_may_only_list_and_stat() {
    let fx = shared_fixture!();
    let o = others(fx, "unreg");
    let u = fx.user(fx.fresh_uid());
    assert!(u.ls(&o.dcim).is_ok());
    assert_eq!(
        u.ls(&o.dcim),
        Ok(vec![]),
        "owns nothing and has no permissions"
    );
    assert!(u.stat(&o.jpg).is_ok());
    assert_eq!(u.read(&o.jpg).err(), Some(EACCES));
    assert_eq!(u.access(&o.jpg, libc::R_OK), Err(EACCES));
    assert_eq!(u.create(&format!("{}/u.pdf", o.dl), b"x"), Err(EACCES));
    assert_eq!(u.mkdir(&format!("{}/udir", o.dl)), Err(EACCES));
    assert_eq!(u.unlink(&o.jpg), Err(EACCES));
    assert_eq!(
        u.rename(&o.pdf, &format!("{}/moved.pdf", o.dl)),
        Err(EACCES)
    );
    assert!(fx.l(&o.jpg).is_file() && fx.l(&o.pdf).is_file());
}

// =============================================================================================
// §5.4 Creating files: the type/dir table (CTS testTypePathConformity)
// =============================================================================================

macro_rules! create_in_top_dir {
    ($($name:ident: $dir:literal, $ext:literal => $expect:expr;)*) => {$(
        #[test]
        fn $name() {
            let fx = shared_fixture!();
            let a = fx.add_app(stringify!($name), &[]);
            let file = format!("{}.{}", fx.unique("new"), $ext);
            let p = if $dir.is_empty() { file } else { format!("{}/{}", $dir, file) };
            let want: Result<(), Errno> = $expect;
            assert_eq!(a.create(&p, &body(&p)), want, "create {p}");
            if want.is_ok() {
                assert_eq!(fs_read(fx, &p), body(&p), "{p} landed in the lower tree");
                assert_eq!(a.read(&p), Ok(body(&p)));
            } else {
                assert!(!fx.l(&p).exists(), "{p} must not exist after a refused create");
            }
        }
    )*};
}

create_in_top_dir! {
    create_dcim_jpg: "DCIM", "jpg" => Ok(());
    create_dcim_png: "DCIM", "png" => Ok(());
    create_dcim_mp4: "DCIM", "mp4" => Ok(());
    create_dcim_upper_case_ext: "DCIM", "JPG" => Ok(());
    create_dcim_mp3_eperm: "DCIM", "mp3" => Err(EPERM);
    create_dcim_pdf_eperm: "DCIM", "pdf" => Err(EPERM);
    create_dcim_srt_eperm: "DCIM", "srt" => Err(EPERM);
    create_dcim_m3u_eperm: "DCIM", "m3u" => Err(EPERM);
    create_dcim_txt_eperm: "DCIM", "txt" => Err(EPERM);
    create_pictures_jpg: "Pictures", "jpg" => Ok(());
    create_pictures_webp: "Pictures", "webp" => Ok(());
    create_pictures_mp4: "Pictures", "mp4" => Ok(());
    create_pictures_m3u_eperm: "Pictures", "m3u" => Err(EPERM);
    create_pictures_mp3_eperm: "Pictures", "mp3" => Err(EPERM);
    create_pictures_pdf_eperm: "Pictures", "pdf" => Err(EPERM);
    create_movies_mp4: "Movies", "mp4" => Ok(());
    create_movies_srt: "Movies", "srt" => Ok(());
    create_movies_m3u: "Movies", "m3u" => Ok(());
    create_movies_jpg_eperm: "Movies", "jpg" => Err(EPERM);
    create_movies_mp3_eperm: "Movies", "mp3" => Err(EPERM);
    create_movies_pdf_eperm: "Movies", "pdf" => Err(EPERM);
    create_music_mp3: "Music", "mp3" => Ok(());
    create_music_m3u: "Music", "m3u" => Ok(());
    create_music_srt: "Music", "srt" => Ok(());
    create_music_mp4_eperm: "Music", "mp4" => Err(EPERM);
    create_music_jpg_eperm: "Music", "jpg" => Err(EPERM);
    create_music_pdf_eperm: "Music", "pdf" => Err(EPERM);
    create_alarms_mp3: "Alarms", "mp3" => Ok(());
    create_alarms_mp4_eperm: "Alarms", "mp4" => Err(EPERM);
    create_audiobooks_m4a: "Audiobooks", "m4a" => Ok(());
    create_audiobooks_m3u_eperm: "Audiobooks", "m3u" => Err(EPERM);
    create_notifications_ogg: "Notifications", "ogg" => Ok(());
    create_notifications_jpg_eperm: "Notifications", "jpg" => Err(EPERM);
    create_podcasts_mp3: "Podcasts", "mp3" => Ok(());
    create_podcasts_pdf_eperm: "Podcasts", "pdf" => Err(EPERM);
    create_recordings_wav: "Recordings", "wav" => Ok(());
    create_recordings_mp4_eperm: "Recordings", "mp4" => Err(EPERM);
    create_ringtones_ogg: "Ringtones", "ogg" => Ok(());
    create_ringtones_srt_eperm: "Ringtones", "srt" => Err(EPERM);
    create_download_pdf: "Download", "pdf" => Ok(());
    create_download_jpg: "Download", "jpg" => Ok(());
    create_download_mp3: "Download", "mp3" => Ok(());
    create_download_bin: "Download", "bin" => Ok(());
    create_download_zip: "Download", "zip" => Ok(());
    create_documents_txt: "Documents", "txt" => Ok(());
    create_documents_mp4: "Documents", "mp4" => Ok(());
    create_root_txt_eperm: "", "txt" => Err(EPERM);
    create_root_jpg_eperm: "", "jpg" => Err(EPERM);
    create_root_mp3_eperm: "", "mp3" => Err(EPERM);
    create_android_txt_eperm: "Android", "txt" => Err(EPERM);
    create_android_media_root_eperm: "Android/media", "jpg" => Err(EPERM);
}

#[test]
fn create_in_deeper_dirs_follows_the_top_level_dir() {
    let fx = shared_fixture!();
    let a = fx.add_app("deepcreate", &[]);
    let d = fx.dir("DCIM", "deep");
    let sub = format!("{d}/a");
    assert_eq!(a.mkdir(&sub), Ok(()));
    assert_eq!(a.create(&format!("{sub}/x.jpg"), b"x"), Ok(()));
    assert_eq!(a.create(&format!("{sub}/x.pdf"), b"x"), Err(EPERM));
    let m = fx.dir("Music", "deep");
    assert_eq!(a.create(&format!("{m}/x.mp3"), b"x"), Ok(()));
    assert_eq!(a.create(&format!("{m}/x.jpg"), b"x"), Err(EPERM));
}

#[test]
fn create_without_extension() {
    let fx = shared_fixture!();
    let a = fx.add_app("noext", &[]);
    let dl = fx.dir("Download", "noext");
    let dcim = fx.dir("DCIM", "noext");
    assert_eq!(a.create(&format!("{dl}/README"), b"x"), Ok(()));
    assert_eq!(a.create(&format!("{dcim}/README"), b"x"), Err(EPERM));
}

#[test]
fn create_in_non_default_top_level_dir_is_eperm() {
    let fx = shared_fixture!();
    let top = fx.unique("NotDefault");
    assert_eq!(fx.root_user().mkdir(&top), Ok(()));
    let a = fx.add_app("nondefault", &[RMI]);
    for ext in ["jpg", "pdf", "mp3"] {
        let p = format!("{top}/x.{ext}");
        assert_eq!(a.create(&p, b"x"), Err(EPERM), "{p}");
    }
    assert_eq!(
        a.mkdir(&format!("{top}/sub")),
        Ok(()),
        "deeper dirs are free"
    );
    assert_eq!(a.create(&format!("{top}/sub/x.jpg"), b"x"), Err(EPERM));
}

#[test]
fn create_in_own_app_dirs_allows_anything() {
    let fx = shared_fixture!();
    let a = fx.add_app("ownareas", &[]);
    for area in ["data", "obb", "media"] {
        let dir = make_app_dir(&a, area, &[]);
        for name in ["x.pdf", "y.mp3", "z.bin", "README"] {
            let p = format!("{dir}/{name}");
            create_ok(&a, &p);
            assert_eq!(a.read(&p), Ok(body(&p)), "{p}");
        }
    }
}

#[test]
fn o_excl_on_an_existing_name_is_eexist_even_if_invisible() {
    let fx = shared_fixture!();
    let o = others(fx, "excl");
    let a = fx.add_app("excl_a", &[]);
    let own = format!("{}/own.txt", o.dl);
    create_ok(&a, &own);
    assert_eq!(a.create(&own, b"x"), Err(EEXIST));
    assert_eq!(
        a.create(&o.pdf, b"x"),
        Err(EEXIST),
        "others' invisible pdf still takes the name"
    );
    assert_eq!(a.create(&o.jpg, b"x"), Err(EEXIST));
    assert_eq!(fs_read(fx, &o.pdf), body(&o.pdf));
}

#[test]
fn o_creat_on_others_existing_file_is_a_denied_open() {
    let fx = shared_fixture!();
    let o = others(fx, "creat");
    let a = fx.add_app("creat_a", &[]);
    assert_eq!(
        a.create_flags(&o.pdf, libc::O_CREAT | libc::O_WRONLY, b"x"),
        Err(EACCES)
    );
    assert_eq!(
        a.create_flags(&o.pdf, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, b"x"),
        Err(EACCES)
    );
    assert_eq!(fs_read(fx, &o.pdf), body(&o.pdf));
}

#[test]
fn create_marks_owner_and_clears_pending_on_close() {
    // CTS testContributeMediaFile / testPendingFromFuse.
    let fx = shared_fixture!();
    let a = fx.add_app("contrib", &[]);
    let d = fx.dir("DCIM", "contrib");
    let p = format!("{d}/c.jpg");
    create_ok(&a, &p);
    let r = fx.add_app("contrib_rmi", &[RMI]);
    assert!(r.lists(&d, "c.jpg"), "closed: no longer pending");
    assert_eq!(r.read(&p), Ok(body(&p)));
    assert_eq!(r.open(&p, WR), Err(EACCES), "owned by the creator");
    assert_eq!(a.open(&p, WR), Ok(()));
    assert_eq!(r.stat(&p).map(|s| s.size), Ok(body(&p).len() as u64));
    assert_eq!(a.unlink(&p), Ok(()));
    assert!(!r.lists(&d, "c.jpg"));
}

#[test]
fn fuse_pending_file_is_unlisted_but_openable_by_path() {
    // SPEC §5.7 last sentence; CTS testOpenOtherPendingFilesFromFuse.
    let fx = shared_fixture!();
    let a = fx.add_app("fpend", &[]);
    let d = fx.dir("DCIM", "fpend");
    let p = format!("{d}/p.jpg");
    let r = fx.add_app("fpend_rmi", &[RMI]);
    let none = fx.add_app("fpend_none", &[]);
    let (ready, go) = (Signal::new(), Signal::new());
    let full = fx.m(&p);
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            a.run(|| {
                let fd = open(&full, EXCL, 0o644)?;
                fd.write_all(b"pending bytes")?;
                ready.send();
                go.wait(Duration::from_secs(60));
                fd.close()
            })
        });
        assert!(
            ready.wait(Duration::from_secs(60)),
            "creator never got its fd"
        );
        let listed_by_reader = r.ls(&d);
        let read_by_reader = r.read(&p);
        let read_by_none = none.read(&p);
        let listed_by_owner = a.ls(&d);
        go.send();
        assert_eq!(holder.join().unwrap(), Ok(()));
        assert_eq!(
            listed_by_reader,
            Ok(vec![]),
            "pending: hidden from other apps' listings"
        );
        assert_eq!(
            read_by_reader,
            Ok(b"pending bytes".to_vec()),
            "pending: openable by path"
        );
        assert_eq!(read_by_none.err(), Some(EACCES));
        assert_eq!(listed_by_owner, Ok(vec!["p.jpg".to_string()]));
    });
    assert_eq!(r.ls(&d), Ok(vec!["p.jpg".to_string()]), "closed: listed");
}

macro_rules! fat_name_cases {
    ($($name:ident: $bad:literal;)*) => {$(
        #[test]
        fn $name() {
            let fx = shared_fixture!();
            let a = fx.add_app(stringify!($name), &[]);
            let d = fx.dir("Download", "fat");
            let p = format!("{d}/a{}b.txt", $bad);
            assert_eq!(a.create(&p, b"x"), Err(EPERM), "create {p:?}");
            assert_eq!(a.mkdir(&format!("{d}/dir{}x", $bad)), Err(EPERM), "mkdir");
            assert_eq!(fx.l(&d).read_dir().unwrap().count(), 0, "nothing created");
        }
    )*};
}

fat_name_cases! {
    fat_name_less_than: "<";
    fat_name_greater_than: ">";
    fat_name_colon: ":";
    fat_name_double_quote: "\"";
    fat_name_backslash: "\\";
    fat_name_pipe: "|";
    fat_name_question_mark: "?";
    fat_name_asterisk: "*";
    fat_name_control_char: "\u{1}";
    fat_name_tab: "\t";
}

#[test]
fn mes_can_create_anywhere_in_shared_storage() {
    // CTS testManageExternalStorageCanCreateFilesAnywhere.
    let fx = shared_fixture!();
    let m = fx.add_app("mescreate", &[MES]);
    let root_pdf = format!("{}.pdf", fx.unique("mes_root"));
    let movies_mp3 = format!("Movies/{}.mp3", fx.unique("mes"));
    let dcim_pdf = format!("DCIM/{}.pdf", fx.unique("mes"));
    for p in [&root_pdf, &movies_mp3, &dcim_pdf] {
        create_ok(&m, p);
        assert_eq!(fs_read(fx, p), body(p));
    }
    let top = fx.unique("MesTop");
    assert_eq!(m.mkdir(&top), Ok(()));
    assert!(fx.l(&top).is_dir());
}

#[test]
fn gallery_creates_images_anywhere_but_not_audio() {
    // CTS testSystemGalleryAppHasFullAccessToImages / NoFullAccessToAudio.
    let fx = shared_fixture!();
    let g = fx.add_app("galcreate", &[WMI, WMV]);
    let root_jpg = format!("{}.jpg", fx.unique("gal_root"));
    let music_jpg = format!("Music/{}.jpg", fx.unique("gal"));
    let root_mp4 = format!("{}.mp4", fx.unique("gal_root"));
    for p in [&root_jpg, &music_jpg, &root_mp4] {
        create_ok(&g, p);
    }
    let root_mp3 = format!("{}.mp3", fx.unique("gal_root"));
    let pics_mp3 = format!("Pictures/{}.mp3", fx.unique("gal"));
    assert_eq!(g.create(&root_mp3, b"x"), Err(EPERM));
    assert_eq!(g.create(&pics_mp3, b"x"), Err(EPERM));
}

// =============================================================================================
// §5.5 Directories
// =============================================================================================

#[test]
fn mkdir_below_top_level_is_free() {
    let fx = shared_fixture!();
    let a = fx.add_app("mkfree", &[]);
    for top in ["DCIM", "Download", "Music", "Ringtones"] {
        let d = format!("{top}/{}", fx.unique("mk"));
        assert_eq!(a.mkdir(&d), Ok(()), "{d}");
        assert_eq!(a.mkdir(&format!("{d}/x")), Ok(()));
        assert_eq!(a.mkdir(&format!("{d}/x/y")), Ok(()));
        assert!(fx.l(&format!("{d}/x/y")).is_dir());
        assert_eq!(a.mkdir(&d), Err(EEXIST));
        assert_eq!(a.rmdir(&format!("{d}/x/y")), Ok(()));
    }
}

#[test]
fn mkdir_of_non_default_top_level_dir_is_eacces() {
    let fx = shared_fixture!();
    let a = fx.add_app("mktop", &[RMI, RMV, RMA, WMI, WMV]);
    let top = fx.unique("MyTopDir");
    assert_eq!(a.mkdir(&top), Err(EACCES));
    assert!(!fx.l(&top).exists());
}

#[test]
fn mkdir_of_existing_default_dir_in_any_case_is_eexist() {
    // CTS testInsertDefaultPrimaryCaseInsensitiveCheck.
    let fx = shared_fixture!();
    let a = fx.add_app("mkdefault", &[]);
    assert_eq!(a.mkdir("podcasts"), Err(EEXIST));
    assert_eq!(a.mkdir("DCIM"), Err(EEXIST));
    assert_eq!(a.mkdir("dcim"), Err(EEXIST));
    assert_eq!(a.stat("podcasts").map(|s| s.is_dir()), Ok(true));
    let p = format!("podcasts/{}.mp3", fx.unique("lc"));
    create_ok(&a, &p);
    assert_eq!(a.read(&p.replacen("podcasts", "Podcasts", 1)), Ok(body(&p)));
}

#[test]
fn rmdir_of_top_level_dirs_is_eacces() {
    let fx = shared_fixture!();
    let a = fx.add_app("rmtop", &[RMI]);
    for d in ["Ringtones", "Alarms", "Android", "DCIM"] {
        assert_eq!(a.rmdir(d), Err(EACCES), "rmdir {d}");
        assert!(fx.l(d).is_dir());
    }
    let m = fx.add_app("rmtop_fm", &[MES]);
    assert_eq!(m.rmdir("Android"), Err(EACCES));
    assert_eq!(m.rmdir("Android/data"), Err(EACCES));
}

#[test]
fn rmdir_of_non_empty_dir_counts_invisible_files() {
    // CTS testCantDeleteOtherAppsContents.
    let fx = shared_fixture!();
    let a = fx.add_app("rmne", &[RMI]);
    let b = fx.add_app("rmne_b", &[]);
    let d = format!("Download/{}", fx.unique("rmne"));
    assert_eq!(a.mkdir(&d), Ok(()));
    let f = format!("{d}/b.pdf");
    create_ok(&b, &f);
    assert_eq!(a.ls(&d), Ok(vec![]), "a cannot see b.pdf");
    assert_eq!(a.rmdir(&d), Err(ENOTEMPTY));
    assert_eq!(a.unlink(&f), Err(ENOENT));
    assert_eq!(b.unlink(&f), Ok(()));
    assert_eq!(a.rmdir(&d), Ok(()));
    assert!(!fx.l(&d).exists());
}

#[test]
fn rmdir_of_own_empty_dirs_works() {
    let fx = shared_fixture!();
    let a = fx.add_app("rmown", &[]);
    let d = format!("DCIM/{}", fx.unique("rmown"));
    assert_eq!(a.mkdir(&d), Ok(()));
    assert_eq!(a.rmdir(&d), Ok(()));
    assert_eq!(a.stat(&d).err(), Some(ENOENT));
}

#[test]
fn legacy_writer_can_mkdir_anywhere() {
    // CTS testMkdirInRandomPlaces_hasW.
    let fx = shared_fixture!();
    let l = fx.add_app_with("legmk", &[RES, WES], Some(29), true);
    let top = fx.unique("LegacyTop");
    assert_eq!(l.mkdir(&top), Ok(()));
    assert!(fx.l(&top).is_dir());
    let b = fx.add_app("legmk_b", &[]);
    make_app_dir(&b, "data", &[]);
    assert_eq!(
        l.mkdir(&format!("{}/x", app_dir("data", &b.pkg))),
        Err(ENOENT)
    );
}

// =============================================================================================
// §5.6 Rename
// =============================================================================================

#[test]
fn rename_exchange_is_einval() {
    let fx = shared_fixture!();
    let a = fx.add_app("renx", &[]);
    let d = fx.dir("Download", "renx");
    let (x, y) = (format!("{d}/x.txt"), format!("{d}/y.txt"));
    create_ok(&a, &x);
    create_ok(&a, &y);
    assert_eq!(a.rename2(&x, &y, RENAME_EXCHANGE), Err(EINVAL));
    assert_eq!(fs_read(fx, &x), body(&x));
    assert_eq!(fs_read(fx, &y), body(&y));
}

#[test]
fn rename_noreplace_works_and_keeps_working() {
    let fx = shared_fixture!();
    let a = fx.add_app("rennr", &[]);
    let d = fx.dir("Download", "rennr");
    let (x, y, z, w) = (
        format!("{d}/x.txt"),
        format!("{d}/y.txt"),
        format!("{d}/z.txt"),
        format!("{d}/w.txt"),
    );
    create_ok(&a, &x);
    create_ok(&a, &y);
    assert_eq!(a.rename2(&x, &y, RENAME_NOREPLACE), Err(EEXIST));
    assert_eq!(fs_read(fx, &y), body(&y));
    assert_eq!(a.rename2(&x, &z, RENAME_NOREPLACE), Ok(()));
    assert_eq!(
        a.rename2(&z, &w, RENAME_NOREPLACE),
        Ok(()),
        "a second flagged rename still works"
    );
    assert_eq!(a.read(&w), Ok(body(&x)));
    assert_eq!(a.stat(&x).err(), Some(ENOENT));
    assert_eq!(a.stat(&z).err(), Some(ENOENT));
    assert!(fx.l(&w).is_file() && !fx.l(&x).exists());
}

#[test]
fn rename_file_type_follows_the_new_name() {
    // CTS testRenameFileType.
    let fx = shared_fixture!();
    let a = fx.add_app("rentype", &[]);
    let dl = fx.dir("Download", "rentype");
    let dcim = fx.dir("DCIM", "rentype");
    let pdf = format!("{dl}/x.pdf");
    create_ok(&a, &pdf);
    assert_eq!(a.rename(&pdf, &format!("{dcim}/x.pdf")), Err(EPERM));
    let mp4 = format!("{dcim}/y.mp4");
    assert_eq!(a.rename(&pdf, &mp4), Ok(()));
    assert_eq!(fs_read(fx, &mp4), body(&pdf));
    let rmv = fx.add_app("rentype_rmv", &[RMV]);
    let rmi = fx.add_app("rentype_rmi", &[RMI]);
    assert_eq!(rmv.read(&mp4), Ok(body(&pdf)), "it is a video now");
    assert_eq!(rmi.read(&mp4).err(), Some(EACCES));
    assert_eq!(a.overwrite(&mp4, b"still mine"), Ok(()), "owner kept");
}

#[test]
fn rename_document_into_media_dirs_is_eperm() {
    // CTS testRenameFile.
    let fx = shared_fixture!();
    let a = fx.add_app("rendoc", &[]);
    let dl = fx.dir("Download", "rendoc");
    let pdf = format!("{dl}/x.pdf");
    create_ok(&a, &pdf);
    for top in ["DCIM", "Music", "Movies", "Pictures", "Ringtones"] {
        let d = fx.dir(top, "rendoc");
        assert_eq!(
            a.rename(&pdf, &format!("{d}/x.pdf")),
            Err(EPERM),
            "into {top}"
        );
    }
    let sub = format!("{dl}/sub");
    assert_eq!(a.mkdir(&sub), Ok(()));
    assert_eq!(a.rename(&pdf, &format!("{sub}/x.pdf")), Ok(()));
    let docs = fx.dir("Documents", "rendoc");
    assert_eq!(
        a.rename(&format!("{sub}/x.pdf"), &format!("{docs}/x.pdf")),
        Ok(())
    );
    assert_eq!(fs_read(fx, &format!("{docs}/x.pdf")), body(&pdf));
}

#[test]
fn rename_video_across_dirs() {
    // CTS testRenameFile (second half).
    let fx = shared_fixture!();
    let a = fx.add_app("renvid", &[]);
    let dcim = fx.dir("DCIM", "renvid");
    let movies = fx.dir("Movies", "renvid");
    let dl = fx.dir("Download", "renvid");
    let v1 = format!("{dcim}/v.mp4");
    let (v2, v3) = (format!("{movies}/v.mp4"), format!("{dl}/v.mp4"));
    create_ok(&a, &v1);
    assert_eq!(a.rename(&v1, &v2), Ok(()));
    assert_eq!(a.rename(&v2, &v3), Ok(()));
    assert_eq!(a.read(&v3), Ok(body(&v1)));
    assert_eq!(
        a.open(&v3, WR),
        Ok(()),
        "the owner still owns it after two renames"
    );
    assert_eq!(a.stat(&v1).err(), Some(ENOENT));
    assert_eq!(a.stat(&v2).err(), Some(ENOENT));
    // Music does not take videos.
    let music = fx.dir("Music", "renvid");
    assert_eq!(a.rename(&v3, &format!("{music}/v.mp4")), Err(EPERM));
}

#[test]
fn rename_of_default_top_level_dir_is_eperm() {
    let fx = shared_fixture!();
    let a = fx.add_app("rendef", &[RMI, RMV, RMA]);
    assert_eq!(a.rename("Music", &fx.unique("Music")), Err(EPERM));
    let d = fx.dir("Download", "rendef");
    assert_eq!(a.rename("Ringtones", &format!("{d}/Ringtones")), Err(EPERM));
    assert!(fx.l("Music").is_dir() && fx.l("Ringtones").is_dir());
}

#[test]
fn rename_into_the_volume_root_is_eperm() {
    // CTS testCantRenameToTopLevelDirectory.
    let fx = shared_fixture!();
    let a = fx.add_app("renroot", &[]);
    let d = fx.dir("DCIM", "renroot");
    let f = format!("{d}/x.jpg");
    create_ok(&a, &f);
    let sub = format!("{d}/sub");
    assert_eq!(a.mkdir(&sub), Ok(()));
    assert_eq!(
        a.rename(&f, &format!("{}.jpg", fx.unique("rootjpg"))),
        Err(EPERM)
    );
    assert_eq!(a.rename(&sub, &fx.unique("RootDir")), Err(EPERM));
    // A non-default top-level dir: → another root name EPERM, → DCIM/x fine.
    let top = fx.unique("TopLevel");
    assert_eq!(fx.root_user().mkdir(&top), Ok(()));
    assert_eq!(a.rename(&top, &fx.unique("TopLevel2")), Err(EPERM));
    let into = format!("{d}/moved_top");
    assert_eq!(a.rename(&top, &into), Ok(()));
    assert!(fx.l(&into).is_dir() && !fx.l(&top).exists());
}

#[test]
fn rename_into_android_is_eperm_except_android_media() {
    let fx = shared_fixture!();
    let a = fx.add_app("renand", &[]);
    let media = make_app_dir(&a, "media", &[]);
    let data = make_app_dir(&a, "data", &[]);
    let d = fx.dir("Download", "renand");
    let f = format!("{d}/x.txt");
    create_ok(&a, &f);
    assert_eq!(
        a.rename(&f, &format!("Android/{}.txt", fx.unique("x"))),
        Err(EPERM)
    );
    assert_eq!(
        a.rename(&f, &format!("Android/media/{}.txt", fx.unique("x"))),
        Err(EPERM)
    );
    assert_eq!(a.rename(&f, &format!("{data}/x.txt")), Err(EPERM));
    let into = format!("{media}/x.txt");
    assert_eq!(a.rename(&f, &into), Ok(()));
    assert_eq!(a.read(&into), Ok(body(&f)));
}

#[test]
fn rename_of_others_files_is_eperm() {
    // CTS testRenameFileNotOwned.
    let fx = shared_fixture!();
    let o = others(fx, "rennot");
    let a = fx.add_app("rennot_a", &[RMI, RMV, RMA]);
    assert_eq!(
        a.rename(&o.jpg, &format!("{}/mine.jpg", o.dcim)),
        Err(EPERM)
    );
    assert_eq!(a.rename(&o.pdf, &format!("{}/mine.pdf", o.dl)), Err(EPERM));
    let own = format!("{}/own.jpg", o.dcim);
    create_ok(&a, &own);
    assert_eq!(
        a.rename(&own, &o.jpg),
        Err(EPERM),
        "onto a file it may not write"
    );
    assert_eq!(fs_read(fx, &o.jpg), body(&o.jpg));
    assert_eq!(fs_read(fx, &own), body(&own));
}

#[test]
fn rename_over_own_file_replaces_it() {
    // CTS testRenameAndReplaceFile.
    let fx = shared_fixture!();
    let a = fx.add_app("renrep", &[]);
    let d = fx.dir("DCIM", "renrep");
    let (x, y) = (format!("{d}/x.jpg"), format!("{d}/y.jpg"));
    create_ok(&a, &x);
    create_ok(&a, &y);
    assert_eq!(a.rename(&x, &y), Ok(()));
    assert_eq!(a.read(&y), Ok(body(&x)));
    assert_eq!(a.read(&x).err(), Some(ENOENT));
    assert_eq!(a.ls(&d), Ok(vec!["y.jpg".to_string()]));
}

#[test]
fn rename_directory_holding_documents_into_dcim_is_eperm() {
    // CTS testRenameDirectory.
    let fx = shared_fixture!();
    let a = fx.add_app("rendirdoc", &[]);
    let dl = fx.dir("Download", "rendirdoc");
    let sub = format!("{dl}/sub");
    assert_eq!(a.mkdir(&sub), Ok(()));
    create_ok(&a, &format!("{sub}/x.pdf"));
    let dcim = fx.dir("DCIM", "rendirdoc");
    assert_eq!(a.rename(&sub, &format!("{dcim}/sub")), Err(EPERM));
    assert!(fx.l(&format!("{sub}/x.pdf")).is_file());
}

#[test]
fn rename_media_directory_across_top_dirs() {
    let fx = shared_fixture!();
    let a = fx.add_app("rendirmed", &[]);
    let dcim = fx.dir("DCIM", "rendirmed");
    let dl = fx.dir("Download", "rendirmed");
    let movies = fx.dir("Movies", "rendirmed");
    let d1 = format!("{dcim}/clips");
    assert_eq!(a.mkdir(&d1), Ok(()));
    assert_eq!(a.mkdir(&format!("{d1}/inner")), Ok(()));
    create_ok(&a, &format!("{d1}/v.mp4"));
    create_ok(&a, &format!("{d1}/inner/w.mp4"));
    let (d2, d3) = (format!("{dl}/clips"), format!("{movies}/clips"));
    assert_eq!(a.rename(&d1, &d2), Ok(()));
    assert_eq!(a.rename(&d2, &d3), Ok(()));
    assert_eq!(
        a.read(&format!("{d3}/v.mp4")),
        Ok(body(&format!("{d1}/v.mp4")))
    );
    assert_eq!(
        a.overwrite(&format!("{d3}/inner/w.mp4"), b"w2"),
        Ok(()),
        "rows moved with the dir"
    );
    let rmv = fx.add_app("rendirmed_rmv", &[RMV]);
    assert_eq!(rmv.ls(&d3), Ok(names(&["inner", "v.mp4"])));
    assert_eq!(rmv.read(&format!("{d3}/inner/w.mp4")), Ok(b"w2".to_vec()));
    assert_eq!(a.stat(&d1).err(), Some(ENOENT));
}

#[test]
fn rename_empty_directory() {
    // CTS testRenameEmptyDirectory.
    let fx = shared_fixture!();
    let a = fx.add_app("renempty", &[]);
    let dcim = fx.dir("DCIM", "renempty");
    let movies = fx.dir("Movies", "renempty");
    let (x, y) = (format!("{dcim}/x"), format!("{movies}/y"));
    assert_eq!(a.mkdir(&x), Ok(()));
    assert_eq!(a.rename(&x, &y), Ok(()));
    assert!(fx.l(&y).is_dir() && !fx.l(&x).exists());
}

#[test]
fn rename_directory_holding_others_files_is_eperm() {
    // CTS testRenameDirectoryNotOwned.
    let fx = shared_fixture!();
    let a = fx.add_app("rendirnot", &[RMV]);
    let b = fx.add_app("rendirnot_b", &[]);
    let d = fx.dir("DCIM", "rendirnot");
    let sub = format!("{d}/sub");
    assert_eq!(a.mkdir(&sub), Ok(()));
    let f = format!("{sub}/b.mp4");
    create_ok(&b, &f);
    assert_eq!(a.rename(&sub, &format!("{d}/sub2")), Err(EPERM));
    assert_eq!(fs_read(fx, &f), body(&f));
}

#[test]
fn gallery_renames_others_images_and_videos_even_into_root() {
    // CTS testSystemGalleryCanRenameImagesAndVideos.
    let fx = shared_fixture!();
    let o = others(fx, "galren");
    let g = fx.add_app("galren", &[WMI, WMV]);
    let pics = fx.dir("Pictures", "galren");
    let p1 = format!("{pics}/b.mp4");
    assert_eq!(g.rename(&o.jpg, &format!("{pics}/b.jpg")), Ok(()));
    // The mp4 lives in Movies in `others`; move it around.
    assert_eq!(g.rename(&o.mp4, &p1), Ok(()));
    let root = format!("{}.mp4", fx.unique("galroot"));
    assert_eq!(g.rename(&p1, &root), Ok(()));
    let as_jpg = format!("{}.jpg", fx.unique("galroot"));
    assert_eq!(g.rename(&root, &as_jpg), Ok(()));
    assert_eq!(fs_read(fx, &as_jpg), body(&o.mp4), "content preserved");
    // Not audio.
    assert_eq!(g.rename(&o.mp3, &format!("{pics}/b.mp3")), Err(EPERM));
}

#[test]
fn gallery_renames_media_dirs_but_not_into_audio_dirs() {
    // CTS testSystemGalleryCanRenameImageAndVideoDirs.
    let fx = shared_fixture!();
    let b = fx.add_app("galdir_b", &[]);
    let d = fx.dir("DCIM", "galdir");
    let sub = format!("{d}/album");
    assert_eq!(b.mkdir(&sub), Ok(()));
    create_ok(&b, &format!("{sub}/a.jpg"));
    create_ok(&b, &format!("{sub}/a.mp4"));
    let g = fx.add_app("galdir", &[WMI, WMV]);
    let pics = fx.dir("Pictures", "galdir");
    let moved = format!("{pics}/album");
    assert_eq!(g.rename(&sub, &moved), Ok(()));
    assert_eq!(
        fs_read(fx, &format!("{moved}/a.jpg")),
        body(&format!("{sub}/a.jpg"))
    );
    let pod = fx.dir("Podcasts", "galdir");
    assert_eq!(g.rename(&moved, &format!("{pod}/album")), Err(EPERM));
    assert!(fx.l(&moved).is_dir());
}

#[test]
fn mes_renames_others_files_anywhere() {
    // CTS testManageExternalStorageCanRenameOtherAppsContents.
    let fx = shared_fixture!();
    let o = others(fx, "mesren");
    let m = fx.add_app("mesren", &[MES]);
    let root = format!("{}.pdf", fx.unique("mesren_root"));
    assert_eq!(m.rename(&o.pdf, &root), Ok(()));
    let pics = fx.dir("Pictures", "mesren");
    let p = format!("{pics}/b.pdf");
    assert_eq!(m.rename(&root, &p), Ok(()));
    let mp3 = format!("{pics}/b.mp3");
    assert_eq!(m.rename(&p, &mp3), Ok(()));
    assert_eq!(fs_read(fx, &mp3), body(&o.pdf));
}

#[test]
fn rename_to_fat_invalid_name_is_eperm() {
    // CTS testCantCreateOrRenameFileWithInvalidName.
    let fx = shared_fixture!();
    let a = fx.add_app("renfat", &[]);
    let d = fx.dir("Download", "renfat");
    let f = format!("{d}/ok.txt");
    create_ok(&a, &f);
    assert_eq!(a.rename(&f, &format!("{d}/<>.txt")), Err(EPERM));
    assert_eq!(a.rename(&f, &format!("{d}/a|b.txt")), Err(EPERM));
    assert!(fx.l(&f).is_file());
}

#[test]
fn rename_with_special_characters() {
    // CTS testRenameWithSpecialChars.
    let fx = shared_fixture!();
    let a = fx.add_app("renspecial", &[]);
    let d = fx.dir("Download", "renspecial");
    let f = format!("{d}/plain.txt");
    create_ok(&a, &f);
    let special = format!("{d}/'`~!@#$%^& ()_+-={{}}[];'.txt");
    assert_eq!(a.rename(&f, &special), Ok(()));
    assert_eq!(a.read(&special), Ok(body(&f)));
    let sub = format!("{d}/plaindir");
    assert_eq!(a.mkdir(&sub), Ok(()));
    let special_dir = format!("{d}/'`~!@#$%^& ()_+-={{}}[];'");
    assert_eq!(a.rename(&sub, &special_dir), Ok(()));
    assert!(fx.l(&special_dir).is_dir());
}

#[test]
fn hiding_and_unhiding_by_rename_flips_media_visibility() {
    // CTS testCanRenameHiddenFile.
    let fx = shared_fixture!();
    let a = fx.add_app("renhid", &[]);
    let d = fx.dir("DCIM", "renhid");
    let h = format!("{d}/.h.jpg");
    let v = format!("{d}/v.jpg");
    create_ok(&a, &h);
    let r = fx.add_app("renhid_rmi", &[RMI]);
    assert_eq!(r.read(&h).err(), Some(EACCES));
    assert_eq!(a.rename(&h, &v), Ok(()));
    assert_eq!(r.read(&v), Ok(body(&h)));
    let h2 = format!("{d}/.h2.jpg");
    assert_eq!(a.rename(&v, &h2), Ok(()));
    assert_eq!(r.read(&h2).err(), Some(EACCES));
    assert!(!r.lists(&d, ".h2.jpg"));
}

// =============================================================================================
// §5.7 Pending and trashed names (CTS testOpen/List/DeletePendingAndTrashed)
// =============================================================================================

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Owner,
    Reader,
    Mes,
    Gallery,
}

/// Creates `<prefix>-<epoch>-x.<ext>` as its owner, then checks open/list/delete for `role`.
fn special_name_case(tag: &str, prefix: &str, ext: &str, role: Role, allowed: bool) {
    let fx = shared_fixture!();
    let owner = fx.add_app(&format!("{tag}_owner"), &[]);
    let top = if ext == "pdf" { "Download" } else { "DCIM" };
    let d = fx.dir(top, tag);
    let name = format!("{prefix}-4102444800-x.{ext}");
    let p = format!("{d}/{name}");
    create_ok(&owner, &p);
    let who: App = match role {
        Role::Owner => owner.clone(),
        Role::Reader => fx.add_app(&format!("{tag}_reader"), &[RMI, RMV, RMA]),
        Role::Mes => fx.add_app(&format!("{tag}_fm"), &[MES]),
        Role::Gallery => fx.add_app(&format!("{tag}_gallery"), &[WMI, WMV]),
    };
    if allowed {
        assert_eq!(who.read(&p), Ok(body(&p)), "{role:?} reads {name}");
        assert_eq!(who.open(&p, RDWR), Ok(()), "{role:?} opens {name} rw");
        assert!(
            who.lists(&d, &name),
            "{role:?} lists {name} by its on-disk name"
        );
        assert_eq!(who.unlink(&p), Ok(()), "{role:?} deletes {name}");
        assert!(!fx.l(&p).exists());
    } else {
        assert_eq!(who.read(&p).err(), Some(EACCES), "{role:?} reads {name}");
        assert_eq!(who.open(&p, RDWR), Err(EACCES), "{role:?} opens {name} rw");
        assert!(!who.lists(&d, &name), "{role:?} must not list {name}");
        assert_eq!(who.unlink(&p), Err(ENOENT), "{role:?} deletes {name}");
        assert!(fx.l(&p).is_file());
    }
}

#[test]
fn pending_name_owner() {
    special_name_case("pend_own", ".pending", "jpg", Role::Owner, true);
}
#[test]
fn pending_name_reader_denied() {
    special_name_case("pend_rd", ".pending", "jpg", Role::Reader, false);
}
#[test]
fn pending_name_mes() {
    special_name_case("pend_fm", ".pending", "pdf", Role::Mes, true);
}
#[test]
fn pending_name_gallery_image() {
    special_name_case("pend_gal", ".pending", "jpg", Role::Gallery, true);
}
#[test]
fn pending_name_gallery_video() {
    special_name_case("pend_galv", ".pending", "mp4", Role::Gallery, true);
}
#[test]
fn pending_name_gallery_document_denied() {
    special_name_case("pend_galpdf", ".pending", "pdf", Role::Gallery, false);
}
#[test]
fn trashed_name_owner() {
    special_name_case("trash_own", ".trashed", "mp4", Role::Owner, true);
}
#[test]
fn trashed_name_reader_denied() {
    special_name_case("trash_rd", ".trashed", "jpg", Role::Reader, false);
}
#[test]
fn trashed_name_mes() {
    special_name_case("trash_fm", ".trashed", "jpg", Role::Mes, true);
}
#[test]
fn trashed_name_gallery_image() {
    special_name_case("trash_gal", ".trashed", "jpg", Role::Gallery, true);
}
#[test]
fn trashed_name_gallery_document_denied() {
    special_name_case("trash_galpdf", ".trashed", "pdf", Role::Gallery, false);
}

// =============================================================================================
// §5.8 Legacy apps (CTS-LEG)
// =============================================================================================

#[test]
fn legacy_without_permissions_is_locked_out() {
    // CTS testCantAccessExternalStorage.
    let fx = shared_fixture!();
    let o = others(fx, "legnone");
    let l = fx.add_app_with("legnone", &[], Some(29), true);
    assert_eq!(l.read(&o.jpg).err(), Some(EACCES));
    assert_eq!(l.ls(&o.dcim).err(), Some(EACCES));
    assert_eq!(l.create(&format!("{}/l.jpg", o.dcim), b"x"), Err(EPERM));
    assert_eq!(l.unlink(&o.jpg), Err(EPERM));
    assert_eq!(l.mkdir(&format!("{}/ldir", o.dl)), Err(EACCES));
    assert!(fx.l(&o.jpg).is_file());
    // Its own app dirs work.
    for area in ["data", "media"] {
        let dir = make_app_dir(&l, area, &[]);
        let p = format!("{dir}/own.txt");
        create_ok(&l, &p);
        assert_eq!(l.read(&p), Ok(body(&p)));
        assert!(l.lists(&dir, "own.txt"));
    }
}

#[test]
fn legacy_reader_reads_everything_writes_nothing() {
    // CTS testReadOnlyExternalStorage_hasR / testListFiles_hasR / testCantRename_hasR.
    let fx = shared_fixture!();
    let o = others(fx, "legr");
    let l = fx.add_app_with("legr", &[RES], Some(29), true);
    assert!(l.lists(&o.dl, "b.pdf"), "legacy + RES lists non-media too");
    assert_eq!(l.read(&o.pdf), Ok(body(&o.pdf)));
    assert_eq!(l.read(&o.jpg), Ok(body(&o.jpg)));
    assert_eq!(l.open(&o.pdf, WR), Err(EACCES));
    assert_eq!(l.create(&format!("{}/l.pdf", o.dl), b"x"), Err(EPERM));
    assert_eq!(l.mkdir(&format!("{}/ldir", o.dl)), Err(EACCES));
    assert_eq!(l.unlink(&o.pdf), Err(EPERM));
    assert_ne!(l.rename(&o.pdf, &format!("{}/moved.pdf", o.dl)), Ok(()));
    assert!(fx.l(&o.pdf).is_file());
}

#[test]
fn legacy_writer_creates_renames_and_deletes_anywhere() {
    // CTS testCreateFilesInRandomPlaces_hasW / testCanRename_hasRW / testCanDeleteAllFiles_hasRW.
    let fx = shared_fixture!();
    let o = others(fx, "legw");
    let l = fx.add_app_with("legw", &[RES, WES], Some(29), true);
    let root_txt = format!("{}.txt", fx.unique("legroot"));
    create_ok(&l, &root_txt);
    let dcim_mp3 = format!("{}/l.mp3", o.dcim);
    create_ok(&l, &dcim_mp3);
    assert_eq!(l.overwrite(&o.pdf, b"legacy"), Ok(()));
    let moved = format!("{}/moved.pdf", o.dcim);
    assert_eq!(l.rename(&o.pdf, &moved), Ok(()));
    assert_eq!(fs_read(fx, &moved), b"legacy");
    assert_eq!(l.unlink(&o.jpg), Ok(()));
    assert!(!fx.l(&o.jpg).exists());
    let b2 = fx.add_app("legw_victim", &[]);
    make_app_dir(&b2, "data", &[]);
    assert_eq!(
        l.create(&format!("{}/x.txt", app_dir("data", &b2.pkg)), b"x"),
        Err(ENOENT)
    );
}

#[test]
fn legacy_app_owns_its_files() {
    // CTS testLegacyAppCanOwnAFile_hasW.
    let fx = shared_fixture!();
    let l = fx.add_app_with("legown", &[WES], Some(29), true);
    let d = fx.dir("Pictures", "legown");
    let p = format!("{d}/own.jpg");
    create_ok(&l, &p);
    let r = fx.add_app("legown_rmi", &[RMI]);
    assert_eq!(r.read(&p), Ok(body(&p)));
    assert_eq!(r.open(&p, WR), Err(EACCES));
}

#[test]
fn legacy_flag_is_ignored_above_sdk_29() {
    let fx = shared_fixture!();
    let o = others(fx, "leg30");
    let l = fx.add_app_with("leg30", &[RES, WES], Some(30), true);
    assert_eq!(
        l.create(&format!("{}.txt", fx.unique("leg30root")), b"x"),
        Err(EPERM)
    );
    assert_eq!(l.read(&o.pdf).err(), Some(EACCES));
    assert_eq!(
        l.read(&o.jpg),
        Ok(body(&o.jpg)),
        "RES below 33 still reads media"
    );
    assert_eq!(l.open(&o.jpg, WR), Err(EACCES));
}

// =============================================================================================
// §5.9 Uninstall
// =============================================================================================

#[test]
fn uninstall_deletes_app_dirs_and_orphans_shared_files() {
    // CTS testClearPackageData.
    let fx = shared_fixture!();
    let a = fx.add_app("uninst", &[]);
    let data = make_app_dir(&a, "data", &["files"]);
    let obb = make_app_dir(&a, "obb", &[]);
    let media = make_app_dir(&a, "media", &[]);
    for p in [
        format!("{data}/d.txt"),
        format!("{obb}/o.obb"),
        format!("{media}/m.jpg"),
    ] {
        create_ok(&a, &p);
    }
    let dcim = fx.dir("DCIM", "uninst");
    let dl = fx.dir("Download", "uninst");
    let (jpg, pdf) = (format!("{dcim}/a.jpg"), format!("{dl}/a.pdf"));
    create_ok(&a, &jpg);
    create_ok(&a, &pdf);
    a.remove();
    for area in ["data", "obb", "media"] {
        let dir = app_dir(area, &a.pkg);
        assert!(!fx.l(&dir).exists(), "lower {dir} deleted by app remove");
        assert_eq!(
            fx.root_user().stat(&dir).err(),
            Some(ENOENT),
            "{dir} gone through the mount"
        );
    }
    assert!(
        fx.l(&jpg).is_file() && fx.l(&pdf).is_file(),
        "shared files stay"
    );
    let r = fx.add_app("uninst_rmi", &[RMI]);
    assert_eq!(r.read(&jpg), Ok(body(&jpg)));
    // Reinstalled under the same name and uid: the files are nobody's now.
    let again = fx.add_package(&a.pkg, a.uid, &[], None, false);
    assert_eq!(again.open(&jpg, WR), Err(EACCES));
    assert_eq!(again.read(&pdf).err(), Some(EACCES));
    assert_eq!(again.unlink(&jpg), Err(ENOENT));
}

#[test]
fn uninstalled_uid_loses_everything() {
    let fx = shared_fixture!();
    let a = fx.add_app("uninst2", &[]);
    let dl = fx.dir("Download", "uninst2");
    let pdf = format!("{dl}/a.pdf");
    create_ok(&a, &pdf);
    a.remove();
    // The uid is unregistered now: EACCES for everything but listing and stat.
    assert_eq!(a.read(&pdf).err(), Some(EACCES));
    assert_eq!(a.create(&format!("{dl}/b.pdf"), b"x"), Err(EACCES));
    assert!(a.stat(&pdf).is_ok());
}

#[test]
fn reinstall_without_permission_loses_access() {
    // CTS testAppReinstallInvalidation.
    let fx = shared_fixture!();
    let o = others(fx, "reinst");
    let c = fx.add_app("reinst", &[RMI]);
    assert_eq!(c.read(&o.jpg), Ok(body(&o.jpg)));
    c.remove();
    let c2 = fx.add_package(&c.pkg, c.uid, &[], None, false);
    assert_eq!(c2.read(&o.jpg).err(), Some(EACCES));
}

// =============================================================================================
// §5.10 Case-insensitivity
// =============================================================================================

#[test]
fn names_are_case_insensitive_for_open_and_stat() {
    let fx = shared_fixture!();
    let a = fx.add_app("case_open", &[]);
    let d = fx.dir("Download", "case_open");
    let p = format!("{d}/foo.txt");
    create_ok(&a, &p);
    let upper = format!("{d}/FOO.TXT");
    assert_eq!(a.read(&upper), Ok(body(&p)));
    assert_eq!(a.stat(&upper).map(|s| s.ino), a.stat(&p).map(|s| s.ino));
    let d_upper = d.to_uppercase();
    assert_eq!(
        a.read(&format!("{d_upper}/Foo.Txt")),
        Ok(body(&p)),
        "directories too"
    );
}

macro_rules! create_delete_recreate {
    ($($name:ident: $create:literal, $delete:literal;)*) => {$(
        #[test]
        fn $name() {
            // CTS testCreate*Delete*Case.
            let fx = shared_fixture!();
            let a = fx.add_app(stringify!($name), &[]);
            let d = fx.dir("Download", "cdr");
            let c = format!("{d}/{}", $create);
            let x = format!("{d}/{}", $delete);
            assert_eq!(a.create(&c, b"one"), Ok(()));
            assert_eq!(a.unlink(&x), Ok(()), "unlink via another case");
            assert_eq!(a.stat(&c).err(), Some(ENOENT));
            assert_eq!(a.create(&c, b"two"), Ok(()), "recreate");
            assert_eq!(a.read(&x), Ok(b"two".to_vec()));
            assert_eq!(std::fs::read_dir(fx.l(&d)).unwrap().count(), 1);
        }
    )*};
}

create_delete_recreate! {
    create_lower_case_delete_upper_case: "foo.txt", "FOO.TXT";
    create_upper_case_delete_lower_case: "BAR.TXT", "bar.txt";
    create_mixed_case_delete_other_mixed_case: "bAz.TxT", "BaZ.tXt";
}

#[test]
fn o_excl_on_another_case_is_eexist() {
    let fx = shared_fixture!();
    let a = fx.add_app("case_excl", &[]);
    let d = fx.dir("DCIM", "case_excl");
    create_ok(&a, &format!("{d}/Photo.jpg"));
    assert_eq!(a.create(&format!("{d}/PHOTO.JPG"), b"x"), Err(EEXIST));
    assert_eq!(a.create(&format!("{d}/photo.jpg"), b"x"), Err(EEXIST));
    let b = fx.add_app("case_excl_b", &[]);
    assert_eq!(b.create(&format!("{d}/pHoTo.JpG"), b"x"), Err(EEXIST));
    assert_eq!(a.ls(&d), Ok(vec!["Photo.jpg".to_string()]));
}

#[test]
fn o_creat_on_another_case_opens_the_existing_file() {
    // CTS testCacheConsistencyForCaseInsensitivity.
    let fx = shared_fixture!();
    let a = fx.add_app("case_creat", &[]);
    let d = fx.dir("Download", "case_creat");
    let (upper, lower) = (format!("{d}/X.txt"), format!("{d}/x.txt"));
    assert_eq!(a.create(&upper, b"one"), Ok(()));
    assert_eq!(
        a.create_flags(
            &lower,
            libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            b"two"
        ),
        Ok(())
    );
    assert_eq!(a.read(&upper), Ok(b"two".to_vec()));
    assert_eq!(
        a.ls(&d),
        Ok(vec!["X.txt".to_string()]),
        "one entry, original case"
    );
    let lower_names: Vec<String> = std::fs::read_dir(fx.l(&d))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(lower_names, vec!["X.txt".to_string()]);
}

#[test]
fn android_data_and_obb_in_any_case_are_the_same_dirs() {
    // CTS testAndroidDataObbDoesNotForgetMount.
    let fx = shared_fixture!();
    let a = fx.add_app("case_android", &[]);
    let root_dev = a.stat("").unwrap().dev;
    for (x, y) in [
        ("Android/data", "ANDROID/DATA"),
        ("Android/obb", "android/OBB"),
    ] {
        let (sx, sy) = (a.stat(x).unwrap(), a.stat(y).unwrap());
        assert_eq!(sx.ino, sy.ino, "{x} vs {y}");
        assert_eq!(sx.dev, root_dev);
        assert_eq!(sy.dev, root_dev);
    }
}

#[test]
fn case_insensitive_default_and_sub_dirs() {
    let fx = shared_fixture!();
    let a = fx.add_app("case_dirs", &[]);
    let sub = fx.unique("casesub");
    let d = format!("DCIM/{sub}");
    assert_eq!(a.mkdir(&d), Ok(()));
    create_ok(&a, &format!("{d}/x.jpg"));
    let other = format!("dcim/{}/X.JPG", sub.to_uppercase());
    assert_eq!(a.read(&other), Ok(body(&format!("{d}/x.jpg"))));
    assert_eq!(
        a.mkdir(&format!("dcim/{}", sub.to_uppercase())),
        Err(EEXIST)
    );
}

// =============================================================================================
// §5.11 Files added behind the daemon's back
// =============================================================================================

#[test]
fn lower_media_file_is_visible_and_owned_by_nobody() {
    let fx = shared_fixture!();
    let d = format!("DCIM/{}", fx.unique("lowermedia"));
    let p = format!("{d}/l.jpg");
    fx.put_lower(&p, &body(&p));
    let r = fx.add_app("lowermedia_rmi", &[RMI]);
    let none = fx.add_app("lowermedia_none", &[]);
    assert!(r.lists(&d, "l.jpg"));
    assert_eq!(r.read(&p), Ok(body(&p)));
    assert!(none.stat(&p).is_ok());
    assert_eq!(none.read(&p).err(), Some(EACCES), "nobody owns it");
    assert_eq!(none.open(&p, WR), Err(EACCES));
    assert_eq!(none.unlink(&p), Err(ENOENT));
    assert_eq!(r.open(&p, WR), Err(EACCES));
    assert_eq!(fx.root_user().read(&p), Ok(body(&p)));
}

#[test]
fn lower_document_is_invisible_to_scoped_apps() {
    let fx = shared_fixture!();
    let d = format!("Download/{}", fx.unique("lowerdoc"));
    let p = format!("{d}/l.pdf");
    fx.put_lower(&p, &body(&p));
    let all = fx.add_app("lowerdoc_all", &[RMI, RMV, RMA]);
    assert!(all.stat(&p).is_ok());
    assert_eq!(all.read(&p).err(), Some(EACCES));
    assert!(!all.lists(&d, "l.pdf"));
    let m = fx.add_app("lowerdoc_fm", &[MES]);
    assert_eq!(m.read(&p), Ok(body(&p)));
    assert!(m.lists(&d, "l.pdf"));
}

#[test]
fn lower_file_under_android_media_is_owned_by_the_package() {
    let fx = shared_fixture!();
    let a = fx.add_app("lowerpkg", &[]);
    let p = format!("Android/media/{}/sub/m.pdf", a.pkg);
    fx.put_lower(&p, &body(&p));
    let jpg = format!("Android/media/{}/sub/m.jpg", a.pkg);
    fx.put_lower(&jpg, &body(&jpg));
    assert_eq!(a.read(&p), Ok(body(&p)));
    assert_eq!(a.overwrite(&p, b"mine"), Ok(()));
    let other = fx.add_app("lowerpkg_other", &[RMI, RMV, RMA]);
    assert_eq!(other.read(&p).err(), Some(EACCES));
    assert_eq!(other.read(&jpg), Ok(body(&jpg)));
    assert_eq!(other.open(&jpg, WR), Err(EACCES));
    assert_eq!(a.unlink(&p), Ok(()));
    assert!(!fx.l(&p).exists());
}

#[test]
fn lower_file_under_android_data_is_owned_by_the_package() {
    let fx = shared_fixture!();
    let a = fx.add_app("lowerdata", &[]);
    let p = format!("Android/data/{}/files/d.bin", a.pkg);
    fx.put_lower(&p, &body(&p));
    assert_eq!(a.read(&p), Ok(body(&p)));
    assert_eq!(a.overwrite(&p, b"x"), Ok(()));
    let other = fx.add_app("lowerdata_other", &[MES]);
    assert_eq!(other.stat(&p).err(), Some(ENOENT));
}

#[test]
fn lower_files_are_listed_on_first_readdir() {
    let fx = shared_fixture!();
    let d = format!("Pictures/{}", fx.unique("lowerls"));
    for n in ["a.jpg", "b.png", "c.mp4"] {
        let p = format!("{d}/{n}");
        fx.put_lower(&p, &body(&p));
    }
    let r = fx.add_app("lowerls_rmi", &[RMI]);
    assert_eq!(r.ls(&d), Ok(names(&["a.jpg", "b.png"])));
    let rv = fx.add_app("lowerls_rmv", &[RMV]);
    assert_eq!(rv.ls(&d), Ok(names(&["c.mp4"])));
}

// =============================================================================================
// Identity changes while mounted (SPEC §3; CTS *Invalidation)
// =============================================================================================

#[test]
fn read_permission_changes_apply_to_the_next_syscall() {
    // CTS testReadStorageInvalidation.
    let fx = shared_fixture!();
    let o = others(fx, "inv_read");
    let c = fx.add_app("inv_read", &[]);
    assert_eq!(c.read(&o.jpg).err(), Some(EACCES));
    c.grant(&[RMI]);
    assert_eq!(c.read(&o.jpg), Ok(body(&o.jpg)));
    c.revoke(&[RMI]);
    assert_eq!(c.read(&o.jpg).err(), Some(EACCES));
    c.grant(&["android.permission.READ_MEDIA_IMAGES"]);
    assert_eq!(c.read(&o.jpg), Ok(body(&o.jpg)));
}

#[test]
fn listing_follows_permission_changes() {
    let fx = shared_fixture!();
    let o = others(fx, "inv_ls");
    let c = fx.add_app("inv_ls", &[]);
    assert!(!c.lists(&o.dcim, "b.jpg"));
    c.grant(&[RMI]);
    assert!(c.lists(&o.dcim, "b.jpg"));
    c.revoke(&[RMI]);
    assert!(!c.lists(&o.dcim, "b.jpg"));
}

#[test]
fn mes_changes_apply_to_the_next_syscall() {
    // CTS testManageStorageInvalidation.
    let fx = shared_fixture!();
    let o = others(fx, "inv_mes");
    let c = fx.add_app("inv_mes", &[]);
    assert_eq!(c.open(&o.pdf, WR), Err(EACCES));
    c.grant(&[MES]);
    assert_eq!(c.open(&o.pdf, WR), Ok(()));
    c.revoke(&[MES]);
    assert_eq!(c.open(&o.pdf, WR), Err(EACCES));
}

#[test]
fn gallery_changes_apply_to_the_next_syscall() {
    // CTS testWriteImagesInvalidation / testWriteVideoInvalidation.
    let fx = shared_fixture!();
    let o = others(fx, "inv_gal");
    let c = fx.add_app("inv_gal", &[]);
    assert_eq!(c.open(&o.jpg, WR), Err(EACCES));
    c.grant(&[WMI, WMV]);
    assert_eq!(c.open(&o.jpg, WR), Ok(()));
    assert_eq!(c.open(&o.mp4, WR), Ok(()));
    c.revoke(&[WMV]);
    assert_eq!(c.open(&o.jpg, WR), Err(EACCES));
}

#[test]
fn legacy_write_changes_apply_to_the_next_syscall() {
    // CTS testWriteStorageInvalidation.
    let fx = shared_fixture!();
    let o = others(fx, "inv_wes");
    let l = fx.add_app_with("inv_wes", &[RES], Some(29), true);
    assert_eq!(l.open(&o.pdf, WR), Err(EACCES));
    l.grant(&[WES]);
    assert_eq!(l.open(&o.pdf, WR), Ok(()));
    l.revoke(&[WES]);
    assert_eq!(l.open(&o.pdf, WR), Err(EACCES));
}

#[test]
fn app_add_applies_to_a_uid_already_using_the_mount() {
    let fx = shared_fixture!();
    let uid = fx.fresh_uid();
    let u = fx.user(uid);
    let d = fx.dir("Download", "inv_add");
    let p = format!("{d}/x.pdf");
    assert_eq!(u.create(&p, b"x"), Err(EACCES));
    let pkg = format!("com.mpt.invadd.u{uid}");
    let a = fx.add_package(&pkg, uid, &[], None, false);
    assert_eq!(a.create(&p, b"x"), Ok(()));
}

#[test]
fn shared_uid_packages_share_access_and_first_package_owns() {
    let fx = shared_fixture!();
    let uid = fx.fresh_uid();
    let p1 = fx.add_package(&format!("com.mpt.shared.one.u{uid}"), uid, &[], None, false);
    let p2 = fx.add_package(&format!("com.mpt.shared.two.u{uid}"), uid, &[], None, false);
    let d2 = make_app_dir(&p2, "data", &[]);
    create_ok(&p1, &format!("{d2}/by_uid.txt"));
    let d = fx.dir("Download", "shareduid");
    let f = format!("{d}/f.pdf");
    create_ok(&p1, &f);
    p1.remove();
    // The file was owned by the first package; with it gone, the uid (still p2) cannot write it.
    assert_eq!(p2.open(&f, WR), Err(EACCES));
    assert_eq!(
        p2.read(&format!("{d2}/by_uid.txt")),
        Ok(body(&format!("{d2}/by_uid.txt")))
    );
}

// =============================================================================================
// More syscalls: mknod, chmod/chown, unicode case folding, invisible names
// =============================================================================================

fn mknod_as(u: &User, rel: &str) -> R<()> {
    let p = u.path(rel);
    u.run(|| {
        let c = cpath(&p);
        if unsafe { libc::mknod(c.as_ptr(), libc::S_IFREG | 0o644, 0) } == 0 {
            Ok(())
        } else {
            Err(Errno::last())
        }
    })
}

#[test]
fn mknod_of_a_regular_file_follows_the_create_rules() {
    let fx = shared_fixture!();
    let a = fx.add_app("mknod", &[]);
    let dl = fx.dir("Download", "mknod");
    let dcim = fx.dir("DCIM", "mknod");
    let ok = format!("{dl}/n.pdf");
    assert_eq!(mknod_as(&a, &ok), Ok(()));
    assert!(fx.l(&ok).is_file());
    assert_eq!(mknod_as(&a, &format!("{dcim}/n.pdf")), Err(EPERM));
    assert_eq!(mknod_as(&a, &format!("{dl}/a|b.pdf")), Err(EPERM));
    assert_eq!(mknod_as(&a, &ok), Err(EEXIST));
    // The node belongs to its creator.
    assert_eq!(a.overwrite(&ok, b"made by mknod"), Ok(()));
    let r = fx.add_app("mknod_reader", &[RMI, RMV, RMA]);
    assert_eq!(r.read(&ok).err(), Some(EACCES));
    assert_eq!(
        fx.user(fx.fresh_uid()).run({
            let p = fx.m(&format!("{dl}/u.pdf"));
            move || {
                let c = cpath(&p);
                if unsafe { libc::mknod(c.as_ptr(), libc::S_IFREG | 0o644, 0) } == 0 {
                    Ok(())
                } else {
                    Err(Errno::last())
                }
            }
        }),
        Err(EACCES),
        "unregistered uid"
    );
}

#[test]
fn chmod_and_chown_are_accepted_and_ignored() {
    let fx = shared_fixture!();
    let a = fx.add_app("chmodown", &[]);
    let d = fx.dir("Download", "chmodown");
    let p = format!("{d}/f.txt");
    create_ok(&a, &p);
    let before = a.stat(&p).unwrap();
    assert_eq!(a.chmod(&p, 0o600), Ok(()));
    assert_eq!(a.chmod(&p, 0o4777), Ok(()));
    let path = fx.m(&p);
    let chown = a.run(|| {
        let c = cpath(&path);
        if unsafe { libc::chown(c.as_ptr(), 0, 0) } == 0 {
            Ok(())
        } else {
            Err(Errno::last())
        }
    });
    assert_eq!(chown, Ok(()));
    let after = a.stat(&p).unwrap();
    assert_eq!(after.mode, before.mode, "chmod is ignored");
    assert_eq!(
        (after.uid, after.gid),
        (before.uid, before.gid),
        "chown is ignored"
    );
    assert_eq!(a.read(&p), Ok(body(&p)));
}

#[test]
fn unicode_names_are_case_insensitive() {
    let fx = shared_fixture!();
    let a = fx.add_app("unicode", &[]);
    let d = fx.dir("Download", "unicode");
    let p = format!("{d}/Ärger.txt");
    create_ok(&a, &p);
    assert_eq!(a.read(&format!("{d}/ärger.txt")), Ok(body(&p)));
    assert_eq!(a.read(&format!("{d}/ÄRGER.TXT")), Ok(body(&p)));
    assert_eq!(a.create(&format!("{d}/äRGER.txt"), b"x"), Err(EEXIST));
    assert_eq!(a.ls(&d), Ok(vec!["Ärger.txt".to_string()]));
}

#[test]
fn mkdir_over_an_invisible_file_is_eexist() {
    let fx = shared_fixture!();
    let o = others(fx, "mkinvis");
    let a = fx.add_app("mkinvis_a", &[]);
    let f = format!("{}/plain", o.dl);
    create_ok(&o.b, &f);
    assert_eq!(a.mkdir(&f), Err(EEXIST));
    assert_eq!(a.mkdir(&o.pdf), Err(EEXIST));
    assert!(fx.l(&f).is_file());
}

#[test]
fn long_names_up_to_255_bytes_work() {
    let fx = shared_fixture!();
    let a = fx.add_app("longname", &[]);
    let d = fx.dir("Download", "longname");
    let name = format!("{}.txt", "n".repeat(251));
    let p = format!("{d}/{name}");
    create_ok(&a, &p);
    assert_eq!(a.read(&p), Ok(body(&p)));
    let too_long = format!("{d}/{}.txt", "n".repeat(252));
    assert_eq!(
        a.create(&too_long, b"x").err().map(|e| e.0),
        Some(libc::ENAMETOOLONG)
    );
}

// =============================================================================================
// `explain` agrees with what the daemon does (SPEC §3)
// =============================================================================================

/// `mediaproviderd explain` for one decision: `None` if allowed, else the errno name.
fn explain(fx: &Fixture, uid: u32, op: &str, paths: &[&str]) -> Option<String> {
    let (db, lower, uid) = (
        fx.db.display().to_string(),
        fx.lower.display().to_string(),
        uid.to_string(),
    );
    let mut args = vec![
        "explain", "--db", &db, "--lower", &lower, "--uid", &uid, "--op", op,
    ];
    args.extend_from_slice(paths);
    let out = mpd_ok(&args);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("explain prints JSON");
    match v["allowed"].as_bool() {
        Some(true) => None,
        _ => Some(v["errno"].as_str().unwrap_or("?").to_string()),
    }
}

fn errno_name(r: R<()>) -> Option<String> {
    r.err().map(|e| e.name().to_string())
}

#[test]
fn explain_agrees_with_the_daemon() {
    let fx = shared_fixture!();
    let o = others(fx, "explain");
    let priv_owner = fx.add_app("explain_priv", &[]);
    let files = make_app_dir(&priv_owner, "data", &["files"]);
    let r = fx.add_app("explain_rmi", &[RMI]);
    let top = fx.unique("ExplainTop");
    let new_pdf = format!("{}/new.pdf", o.dcim);
    let new_jpg = format!("{}/new.jpg", o.dcim);
    let moved = format!("{}/moved.jpg", o.dcim);
    type Case<'a> = (&'a str, Vec<&'a str>, Box<dyn Fn() -> R<()> + 'a>);
    let cases: Vec<Case> = vec![
        ("open-read", vec![&o.jpg], Box::new(|| r.open(&o.jpg, RD))),
        ("open-read", vec![&o.pdf], Box::new(|| r.open(&o.pdf, RD))),
        ("open-read", vec![&o.mp4], Box::new(|| r.open(&o.mp4, RD))),
        ("open-write", vec![&o.jpg], Box::new(|| r.open(&o.jpg, WR))),
        (
            "access-read",
            vec![&o.pdf],
            Box::new(|| r.access(&o.pdf, libc::R_OK)),
        ),
        (
            "access-write",
            vec![&o.jpg],
            Box::new(|| r.access(&o.jpg, libc::W_OK)),
        ),
        ("setattr", vec![&o.jpg], Box::new(|| r.truncate(&o.jpg, 0))),
        ("unlink", vec![&o.jpg], Box::new(|| r.unlink(&o.jpg))),
        (
            "create",
            vec![&new_pdf],
            Box::new(|| r.create(&new_pdf, b"x")),
        ),
        ("mkdir", vec![&top], Box::new(|| r.mkdir(&top))),
        (
            "opendir",
            vec!["Android/data"],
            Box::new(|| r.ls("Android/data").map(|_| ())),
        ),
        (
            "lookup",
            vec![&files],
            Box::new(|| r.stat(&files).map(|_| ())),
        ),
        (
            "rmdir",
            vec!["Ringtones"],
            Box::new(|| r.rmdir("Ringtones")),
        ),
        (
            "rename",
            vec![&o.jpg, &moved],
            Box::new(|| r.rename(&o.jpg, &moved)),
        ),
        (
            "create",
            vec![&new_jpg],
            Box::new(|| r.create(&new_jpg, b"x")),
        ),
    ];
    for (op, paths, syscall) in cases {
        // Ask first: the syscall may change the answer (create, rename).
        let predicted = explain(fx, r.uid, op, &paths);
        assert_eq!(
            predicted,
            errno_name(syscall()),
            "explain --op {op} {paths:?} vs the syscall"
        );
    }
}

// =============================================================================================
// Reliability (SPEC §9)
// =============================================================================================

#[test]
fn symlinks_in_the_lower_tree_do_not_escape_it() {
    let fx = shared_fixture!();
    // A root-only directory outside the lower tree.
    let outside = fx.root.join(fx.unique("outside"));
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"TOP SECRET").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o700)).unwrap();
    let d = format!("Download/{}", fx.unique("symlinks"));
    std::fs::create_dir_all(fx.l(&d)).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), fx.l(&format!("{d}/abs.txt"))).unwrap();
    // lower/Download/<d>/../../../<outside>: the same file, relatively.
    let rel_target = format!(
        "../../../{}/secret.txt",
        outside.file_name().unwrap().to_string_lossy()
    );
    std::os::unix::fs::symlink(&rel_target, fx.l(&format!("{d}/rel.txt"))).unwrap();
    std::os::unix::fs::symlink(&outside, fx.l(&format!("{d}/dirlink"))).unwrap();
    for who in [
        fx.add_app("symlink_fm", &[MES]),
        fx.add_app_with("symlink_legacy", &[RES], Some(29), true),
    ] {
        for f in ["abs.txt", "rel.txt", "dirlink/secret.txt"] {
            let got = who.read(&format!("{d}/{f}"));
            assert!(
                got != Ok(b"TOP SECRET".to_vec()),
                "{}: {d}/{f} leaked a file outside the lower tree",
                who.pkg
            );
        }
        if let Ok(names) = who.ls(&format!("{d}/dirlink")) {
            assert!(
                !names.contains(&"secret.txt".to_string()),
                "{}: dirlink listed the outside dir",
                who.pkg
            );
        }
    }
}

#[test]
fn huge_directory_is_listed_completely_and_filtered() {
    let fx = shared_fixture!();
    let d = format!("Pictures/{}", fx.unique("huge"));
    std::fs::create_dir_all(fx.l(&d)).unwrap();
    const N: usize = 1500;
    for i in 0..N {
        std::fs::write(fx.l(&format!("{d}/img_{i:05}.jpg")), b"j").unwrap();
        std::fs::write(fx.l(&format!("{d}/doc_{i:05}.pdf")), b"p").unwrap();
    }
    let r = fx.add_app("huge_rmi", &[RMI]);
    let m = fx.add_app("huge_fm", &[MES]);
    let seen = r.ls(&d).expect("list the huge dir");
    let want: Vec<String> = (0..N).map(|i| format!("img_{i:05}.jpg")).collect();
    assert_eq!(seen.len(), N, "reader sees exactly the images");
    assert_eq!(seen, want);
    let all = m.ls(&d).expect("MES lists the huge dir");
    assert_eq!(all.len(), 2 * N, "MES sees everything");
    assert_eq!(fx.root_user().ls(&d).map(|v| v.len()), Ok(2 * N));
}

#[test]
fn concurrent_apps_keep_store_and_tree_in_agreement() {
    let fx = shared_fixture!();
    let d = fx.dir("Download", "stress");
    let apps: Vec<App> = (0..4)
        .map(|i| fx.add_app(&format!("stress{i}"), &[]))
        .collect();
    const N: usize = 30;
    std::thread::scope(|s| {
        for (i, a) in apps.iter().enumerate() {
            let dir = fx.m(&d);
            s.spawn(move || {
                let r = a.run(|| {
                    for n in 0..N {
                        create(
                            &dir.join(format!("a{i}_{n}.txt")),
                            format!("{i}/{n}").as_bytes(),
                        )?;
                    }
                    for n in 0..N / 2 {
                        rename(
                            &dir.join(format!("a{i}_{n}.txt")),
                            &dir.join(format!("b{i}_{n}.txt")),
                        )?;
                    }
                    for n in 0..N / 4 {
                        unlink(&dir.join(format!("b{i}_{n}.txt")))?;
                    }
                    Ok::<(), Errno>(())
                });
                assert_eq!(r, Ok(()), "app {i}");
            });
        }
    });
    let mut all = Vec::new();
    for (i, a) in apps.iter().enumerate() {
        let mut want: Vec<String> = (N / 4..N / 2).map(|n| format!("b{i}_{n}.txt")).collect();
        want.extend((N / 2..N).map(|n| format!("a{i}_{n}.txt")));
        want.sort();
        assert_eq!(
            a.ls(&d),
            Ok(want.clone()),
            "app {i} sees exactly its own files"
        );
        for name in &want {
            assert_eq!(
                a.open(&format!("{d}/{name}"), WR),
                Ok(()),
                "app {i} owns {name}"
            );
        }
        let other = &apps[(i + 1) % apps.len()];
        assert_eq!(other.open(&format!("{d}/{}", want[0]), RD), Err(EACCES));
        all.extend(want);
    }
    all.sort();
    let mut lower: Vec<String> = std::fs::read_dir(fx.l(&d))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    lower.sort();
    assert_eq!(lower, all, "the lower tree agrees");
    let m = fx.add_app("stress_fm", &[MES]);
    assert_eq!(m.ls(&d), Ok(all));
}

#[test]
fn files_removed_behind_the_back_disappear_from_listings() {
    let fx = shared_fixture!();
    let d = format!("DCIM/{}", fx.unique("removed"));
    let (keep, gone) = (format!("{d}/keep.jpg"), format!("{d}/gone.jpg"));
    fx.put_lower(&keep, b"k");
    fx.put_lower(&gone, b"g");
    let r = fx.add_app("removed_rmi", &[RMI]);
    assert_eq!(r.ls(&d), Ok(names(&["gone.jpg", "keep.jpg"])));
    std::fs::remove_file(fx.l(&gone)).unwrap();
    assert_eq!(r.ls(&d), Ok(names(&["keep.jpg"])));
}
