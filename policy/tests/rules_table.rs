//! Table-driven acceptance cases for the rule engine (SPEC §4, §5, §6 first paragraph).
//!
//! One line per case: caller, operation, path, what the store knows about the path, the
//! expected outcome (errno, or allowed with the open's I/O mode) and the rule that must decide.
//! Every rule name the engine can return must be exercised by at least one case
//! (`every_rule_is_exercised`).

use std::collections::BTreeSet;
use std::panic::Location;

use mediaprovider_policy::identity::{Caller, Package, PermSet, Permission, Permission::*};
use mediaprovider_policy::mime::media_type_of;
use mediaprovider_policy::rules::{self, Decision, FileFacts, Grant, Io, Op, Op::*, Target};
use mediaprovider_policy::{Errno, VolPath};

// ---- callers ---------------------------------------------------------------------------------

/// The package of every single-package app caller.
const ME: &str = "com.example.me";
/// The package that owns "other" files.
const OTHER: &str = "com.example.other";
const SHARED_ONE: &str = "com.example.shared.one";
const SHARED_TWO: &str = "com.example.shared.two";

fn pkg(name: &str, uid: u32, target_sdk: u32, legacy: bool, perms: &[Permission]) -> Package {
    Package {
        name: name.to_string(),
        uid,
        target_sdk,
        legacy,
        perms: PermSet::of(perms),
    }
}

fn app(target_sdk: u32, legacy: bool, perms: &[Permission]) -> Caller {
    Caller::new(10001, &[pkg(ME, 10001, target_sdk, legacy, perms)])
}

/// The callers of the tables, by short name.
fn caller(name: &str) -> Caller {
    match name {
        "root" => Caller::unregistered(0),
        "system" => Caller::unregistered(1000),
        "media_rw" => Caller::unregistered(1023),
        "shell" => Caller::unregistered(2000),
        "unregistered" => Caller::unregistered(10999),
        "scoped" => app(34, false, &[]),
        "images" => app(34, false, &[ReadMediaImages]),
        "video" => app(34, false, &[ReadMediaVideo]),
        "audio" => app(34, false, &[ReadMediaAudio]),
        "images_aml" => app(34, false, &[ReadMediaImages, AccessMediaLocation]),
        "aml" => app(34, false, &[AccessMediaLocation]),
        "res32" => app(32, false, &[ReadExternalStorage]),
        "res33" => app(33, false, &[ReadExternalStorage]),
        "vus" => app(34, false, &[ReadMediaVisualUserSelected]),
        "vus_aml" => app(
            34,
            false,
            &[ReadMediaVisualUserSelected, AccessMediaLocation],
        ),
        "gallery" => app(34, false, &[WriteMediaImages, WriteMediaVideo]),
        "write_images" => app(34, false, &[WriteMediaImages]),
        "wes" => app(34, false, &[WriteExternalStorage]),
        "mes" => app(34, false, &[ManageExternalStorage]),
        "installer" => app(34, false, &[RequestInstallPackages]),
        "legacy_none" => app(29, true, &[]),
        "legacy_r" => app(29, true, &[ReadExternalStorage]),
        "legacy_w" => app(29, true, &[WriteExternalStorage]),
        "legacy_rw" => app(29, true, &[ReadExternalStorage, WriteExternalStorage]),
        // `--legacy` is ignored from target SDK 30: a scoped app whose READ counts as media reads.
        "legacy30_rw" => app(30, true, &[ReadExternalStorage, WriteExternalStorage]),
        // One uid, two packages: permissions add up, either package owns files and app dirs.
        "shared" => Caller::new(
            10050,
            &[
                pkg(SHARED_ONE, 10050, 34, false, &[ReadMediaImages]),
                pkg(SHARED_TWO, 10050, 34, false, &[ReadMediaAudio]),
            ],
        ),
        // SPEC §4: one daemon serves one Android user's volume (user 0 here).
        "user10_mes" => Caller::new(
            1_010_001,
            &[pkg(
                ME,
                1_010_001,
                34,
                false,
                &[ManageExternalStorage, ReadMediaImages],
            )],
        )
        .on_volume_of_user(0),
        "user10_unregistered" => Caller::unregistered(1_010_999).on_volume_of_user(0),
        "user10_on_own_volume" => {
            Caller::new(1_010_001, &[pkg(ME, 1_010_001, 34, false, &[])]).on_volume_of_user(10)
        }
        "root_on_user10_volume" => Caller::unregistered(0).on_volume_of_user(10),
        "shell_on_user10_volume" => Caller::unregistered(2000).on_volume_of_user(10),
        _ => panic!("unknown caller {name}"),
    }
}

// ---- file facts ------------------------------------------------------------------------------

/// What the store knows about the case's path; the media type follows the path's name, as the
/// store derives it.
#[derive(Clone, Debug)]
struct F {
    exists: bool,
    dir: bool,
    owner: Option<&'static str>,
    hidden: bool,
    fuse_pending: bool,
    location: bool,
    grant: Grant,
}

const fn file(owner: Option<&'static str>) -> F {
    F {
        exists: true,
        dir: false,
        owner,
        hidden: false,
        fuse_pending: false,
        location: false,
        grant: Grant::None,
    }
}

/// A file the caller's (first) package owns.
fn mine() -> F {
    file(Some(ME))
}
/// A file another app owns.
fn other() -> F {
    file(Some(OTHER))
}
/// A file nobody owns (added behind the daemon's back, or its owner was uninstalled).
fn nobody() -> F {
    file(None)
}
fn owned_by(pkg: &'static str) -> F {
    file(Some(pkg))
}
fn dir() -> F {
    F {
        dir: true,
        ..file(None)
    }
}
/// No entry with that name.
fn absent() -> F {
    F {
        exists: false,
        ..file(None)
    }
}

impl F {
    /// Hidden media: dot-name, dot-dir or a `.nomedia` dir (the store computes this).
    fn hidden(self) -> F {
        F {
            hidden: true,
            ..self
        }
    }
    /// Created through FUSE, not yet closed.
    fn fuse_pending(self) -> F {
        F {
            fuse_pending: true,
            ..self
        }
    }
    /// The content carries location.
    fn gps(self) -> F {
        F {
            location: true,
            ..self
        }
    }
    fn grant(self, grant: Grant) -> F {
        F { grant, ..self }
    }

    fn facts(&self, path: &VolPath) -> FileFacts {
        FileFacts {
            exists: self.exists,
            is_dir: self.dir,
            owner: self.owner.map(str::to_string),
            media_type: (self.exists && !self.dir).then(|| media_type_of(path.file_name())),
            hidden: self.hidden,
            fuse_pending: self.fuse_pending,
            has_location: self.location,
            grant: self.grant,
        }
    }
}

// ---- expectations ----------------------------------------------------------------------------

/// `Ok(io)`: allowed (with the I/O mode for opens and creates, `None` otherwise); `Err`: errno.
type Exp = Result<Option<Io>, Errno>;

const PASS: Exp = Ok(Some(Io::Passthrough));
const REDACT: Exp = Ok(Some(Io::Redacted));
const OK: Exp = Ok(None);
const EPERM: Exp = Err(Errno::EPERM);
const ENOENT: Exp = Err(Errno::ENOENT);
const EACCES: Exp = Err(Errno::EACCES);
const EEXIST: Exp = Err(Errno::EEXIST);
const EINVAL: Exp = Err(Errno::EINVAL);

const NOREPLACE: u32 = rules::RENAME_NOREPLACE;
const EXCHANGE: u32 = 2;
const WHITEOUT: u32 = 4;

fn outcome(d: &Decision) -> Exp {
    match d.errno {
        Some(e) => Err(e),
        None => Ok(d.io),
    }
}

// ---- cases -----------------------------------------------------------------------------------

/// What a single-path case runs: an `explain` operation, or `access(X_OK)`.
#[derive(Clone, Copy, Debug)]
enum Act {
    Op(Op),
    Exec,
}

impl From<Op> for Act {
    fn from(op: Op) -> Act {
        Act::Op(op)
    }
}

#[allow(non_upper_case_globals)]
const AccessExec: Act = Act::Exec;

struct Case {
    caller: &'static str,
    act: Act,
    path: &'static str,
    facts: F,
    exp: Exp,
    rule: &'static str,
    line: u32,
}

#[track_caller]
fn c(
    caller: &'static str,
    act: impl Into<Act>,
    path: &'static str,
    facts: F,
    exp: Exp,
    rule: &'static str,
) -> Case {
    Case {
        caller,
        act: act.into(),
        path,
        facts,
        exp,
        rule,
        line: Location::caller().line(),
    }
}

struct RenameCase {
    caller: &'static str,
    old: (&'static str, F),
    new: (&'static str, F),
    flags: u32,
    contents: Vec<(&'static str, F)>,
    exp: Exp,
    rule: &'static str,
    line: u32,
}

/// A file (or empty-dir) rename: old path and facts, new path and facts, flags.
#[track_caller]
#[allow(clippy::too_many_arguments)]
fn rn(
    caller: &'static str,
    old: &'static str,
    of: F,
    new: &'static str,
    nf: F,
    flags: u32,
    exp: Exp,
    rule: &'static str,
) -> RenameCase {
    RenameCase {
        caller,
        old: (old, of),
        new: (new, nf),
        flags,
        contents: Vec::new(),
        exp,
        rule,
        line: Location::caller().line(),
    }
}

/// A directory rename onto a free name; `contents` lists every file below `old`.
#[track_caller]
fn rn_dir(
    caller: &'static str,
    old: &'static str,
    new: &'static str,
    contents: &[(&'static str, F)],
    exp: Exp,
    rule: &'static str,
) -> RenameCase {
    RenameCase {
        contents: contents.to_vec(),
        line: Location::caller().line(),
        ..rn(caller, old, dir(), new, absent(), 0, exp, rule)
    }
}

struct ListCase {
    caller: &'static str,
    path: &'static str,
    facts: F,
    visible: bool,
    line: u32,
}

#[track_caller]
fn ls(caller: &'static str, path: &'static str, facts: F, visible: bool) -> ListCase {
    ListCase {
        caller,
        path,
        facts,
        visible,
        line: Location::caller().line(),
    }
}

const PENDING_JPG: &str = "DCIM/.pending-1700000000-a.jpg";
const TRASHED_MP4: &str = "DCIM/.trashed-1700000000-b.mp4";
const PENDING_PDF: &str = "Download/.pending-1700000000-doc.pdf";
const TRASHED_PDF: &str = "Download/.trashed-1700000000-doc.pdf";

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        // ---- §4 root, system, media_rw: full access everywhere, never redacted --------------
        c("root", OpenRead, "Android/data/com.example.other/files/x.bin", other(), PASS, "privileged-uid"),
        c("root", OpenRead, "DCIM/a.jpg", other().gps(), PASS, "privileged-uid"),
        c("system", OpenWrite, "Download/doc.pdf", other(), PASS, "privileged-uid"),
        c("media_rw", Unlink, "Music/song.mp3", other(), OK, "privileged-uid"),
        c("root", Create, "report.pdf", absent(), PASS, "privileged-uid"),
        c("root", Create, "Download/a<b.txt", absent(), PASS, "privileged-uid"),
        c("system", Mkdir, "Android/data/com.example.other/cache", absent(), OK, "privileged-uid"),
        c("root", Rmdir, "DCIM", dir(), OK, "privileged-uid"),
        c("media_rw", Rmdir, "Android/data", dir(), OK, "privileged-uid"),
        c("root", Opendir, "Android/data", dir(), OK, "privileged-uid"),
        c("system", AccessWrite, "", dir(), OK, "privileged-uid"),
        c("root", Setattr, "DCIM/a.jpg", other(), OK, "privileged-uid"),
        c("media_rw", Lookup, "Android/data/com.example.other", dir(), OK, "stat-not-secret"),
        c("root", AccessExec, "DCIM/a.jpg", mine(), EACCES, "noexec-mount"),
        // ---- §4 shell: no read checks; writes allowed and recorded as com.android.shell -----
        c("shell", OpenRead, "Download/doc.pdf", other(), PASS, "shell"),
        c("shell", OpenRead, "DCIM/a.jpg", other().gps(), PASS, "shell"),
        c("shell", OpenRead, "Android/data/com.example.other/f.txt", other(), PASS, "shell"),
        c("shell", Readdir, "Android/obb", dir(), OK, "shell"),
        c("shell", Create, "report.pdf", absent(), PASS, "shell"),
        c("shell", Create, "Download/a|b.txt", absent(), EPERM, "fat-invalid-name"),
        c("shell", Create, "Download/x.pdf", other(), EEXIST, "name-exists"),
        c("shell", Unlink, "Music/song.mp3", other(), OK, "shell"),
        c("shell", Mkdir, "Scratch", absent(), OK, "shell"),
        c("shell", Rmdir, "Scratch", dir(), OK, "shell"),
        c("shell", Rmdir, "Android/media", dir(), EACCES, "android-dir-reserved"),
        // ---- §4 unregistered uid: may stat and list shared dirs, nothing else ---------------
        c("unregistered", Lookup, "DCIM/a.jpg", other(), OK, "stat-not-secret"),
        c("unregistered", Getattr, "Download/doc.pdf", other(), OK, "stat-not-secret"),
        c("unregistered", Lookup, "Android/data/com.example.other", dir(), ENOENT, "private-dir-other-app"),
        c("unregistered", Opendir, "DCIM", dir(), OK, "list-shared-dir"),
        c("unregistered", Readdir, "", dir(), OK, "list-shared-dir"),
        c("unregistered", AccessRead, "Music", dir(), OK, "list-shared-dir"),
        c("unregistered", Opendir, "Android/data", dir(), EACCES, "android-data-obb-not-listable"),
        c("unregistered", Opendir, "Android/obb/com.example.other", dir(), ENOENT, "private-dir-other-app"),
        c("unregistered", OpenRead, "DCIM/a.jpg", other(), EACCES, "unregistered-uid"),
        c("unregistered", OpenRead, "DCIM/b.jpg", nobody(), EACCES, "unregistered-uid"),
        c("unregistered", OpenWrite, "Download/x.pdf", nobody(), EACCES, "unregistered-uid"),
        c("unregistered", Create, "Download/new.txt", absent(), EACCES, "unregistered-uid"),
        c("unregistered", Create, "Download/a<b.txt", absent(), EACCES, "unregistered-uid"),
        c("unregistered", Mkdir, "DCIM/Trip", absent(), EACCES, "unregistered-uid"),
        c("unregistered", Rmdir, "DCIM/Trip", dir(), EACCES, "unregistered-uid"),
        c("unregistered", Unlink, "DCIM/a.jpg", other(), EACCES, "unregistered-uid"),
        c("unregistered", AccessRead, "DCIM/a.jpg", other(), EACCES, "unregistered-uid"),
        c("unregistered", AccessWrite, "DCIM", dir(), EACCES, "unregistered-uid"),
        c("unregistered", Setattr, "DCIM/a.jpg", other(), EACCES, "unregistered-uid"),
        c("unregistered", Setattr, "DCIM", dir(), EACCES, "unregistered-uid"),
        // ---- §4 another Android user's uid: EACCES for everything, lookup included ---------
        c("user10_mes", Lookup, "DCIM/a.jpg", other(), EACCES, "other-user"),
        c("user10_mes", Getattr, "Download", dir(), EACCES, "other-user"),
        c("user10_mes", Lookup, "Android/data/com.example.other", dir(), EACCES, "other-user"),
        c("user10_mes", Lookup, "DCIM/gone.jpg", absent(), EACCES, "other-user"),
        c("user10_mes", Opendir, "DCIM", dir(), EACCES, "other-user"),
        c("user10_mes", Readdir, "", dir(), EACCES, "other-user"),
        c("user10_mes", OpenRead, "DCIM/a.jpg", other(), EACCES, "other-user"),
        c("user10_mes", OpenRead, "DCIM/mine.jpg", mine(), EACCES, "other-user"),
        c("user10_mes", OpenWrite, "Download/x.pdf", other(), EACCES, "other-user"),
        c("user10_mes", Create, "Download/new.txt", absent(), EACCES, "other-user"),
        c("user10_mes", Mkdir, "DCIM/Trip", absent(), EACCES, "other-user"),
        c("user10_mes", Rmdir, "DCIM/Trip", dir(), EACCES, "other-user"),
        c("user10_mes", Unlink, "DCIM/a.jpg", other(), EACCES, "other-user"),
        c("user10_mes", AccessRead, "DCIM/a.jpg", other(), EACCES, "other-user"),
        c("user10_mes", AccessRead, "Music", dir(), EACCES, "other-user"),
        c("user10_mes", AccessWrite, "DCIM", dir(), EACCES, "other-user"),
        c("user10_mes", Setattr, "DCIM/a.jpg", other(), EACCES, "other-user"),
        c("user10_unregistered", Lookup, "DCIM/a.jpg", other(), EACCES, "other-user"),
        c("user10_unregistered", Opendir, "DCIM", dir(), EACCES, "other-user"),
        c("user10_on_own_volume", Create, "Download/new.txt", absent(), PASS, "type-allowed-in-dir"),
        c("user10_on_own_volume", Lookup, "DCIM/a.jpg", other(), OK, "stat-not-secret"),
        c("root_on_user10_volume", OpenRead, "DCIM/a.jpg", other(), PASS, "privileged-uid"),
        c("shell_on_user10_volume", Lookup, "DCIM/a.jpg", other(), OK, "stat-not-secret"),
        // ---- §5.1 others' Android/data|obb/<pkg>: ENOENT for everything, package or not -----
        c("scoped", Lookup, "Android/data/com.example.other", dir(), ENOENT, "private-dir-other-app"),
        c("scoped", Lookup, "Android/data/com.example.nosuchpkg/files", absent(), ENOENT, "private-dir-other-app"),
        c("scoped", Getattr, "android/DATA/com.example.other/files/a.txt", other(), ENOENT, "private-dir-other-app"),
        c("scoped", Opendir, "Android/data/com.example.other", dir(), ENOENT, "private-dir-other-app"),
        c("scoped", OpenRead, "Android/data/com.example.other/files/a.txt", other(), ENOENT, "private-dir-other-app"),
        c("scoped", OpenWrite, "Android/obb/com.example.other/main.obb", other(), ENOENT, "private-dir-other-app"),
        c("scoped", Create, "Android/data/com.example.other/files/new.txt", absent(), ENOENT, "private-dir-other-app"),
        c("scoped", Create, "Android/data/com.example.nosuchpkg/new.txt", absent(), ENOENT, "private-dir-other-app"),
        c("scoped", Create, "Android/data/com.example.other/a.txt", other(), ENOENT, "private-dir-other-app"),
        c("scoped", Mkdir, "Android/data/com.example.other", absent(), ENOENT, "private-dir-other-app"),
        c("scoped", Mkdir, "Android/obb/com.example.other/x", absent(), ENOENT, "private-dir-other-app"),
        c("scoped", Rmdir, "Android/data/com.example.other/files", dir(), ENOENT, "private-dir-other-app"),
        c("scoped", Unlink, "Android/obb/com.example.other/main.obb", other(), ENOENT, "private-dir-other-app"),
        c("scoped", AccessRead, "Android/data/com.example.other", dir(), ENOENT, "private-dir-other-app"),
        c("scoped", AccessRead, "Android/obb/com.example.other/x", absent(), ENOENT, "private-dir-other-app"),
        c("scoped", AccessWrite, "Android/data/com.example.other/files/a.txt", other(), ENOENT, "private-dir-other-app"),
        c("scoped", Setattr, "Android/data/com.example.other/files/a.txt", other(), ENOENT, "private-dir-other-app"),
        c("scoped", Setattr, "Android/data/com.example.other", dir(), ENOENT, "private-dir-other-app"),
        c("scoped", AccessExec, "Android/data/com.example.other", dir(), ENOENT, "private-dir-other-app"),
        c("scoped", OpenRead, "Android/Data/Com.Example.Other/files/a.txt", other(), ENOENT, "private-dir-other-app"),
        c("mes", OpenRead, "Android/data/com.example.other/files/a.txt", other(), ENOENT, "private-dir-other-app"),
        c("mes", Create, "Android/data/com.example.other/new.txt", absent(), ENOENT, "private-dir-other-app"),
        c("mes", Unlink, "Android/data/com.example.other/files/a.txt", other(), ENOENT, "private-dir-other-app"),
        c("legacy_rw", Mkdir, "Android/data/com.example.other/x", absent(), ENOENT, "private-dir-other-app"),
        c("legacy_rw", Create, "Android/data/com.android.shell/x.txt", absent(), ENOENT, "private-dir-other-app"),
        c("legacy_rw", OpenRead, "Android/obb/com.example.other/main.obb", other(), ENOENT, "private-dir-other-app"),
        c("gallery", OpenRead, "Android/data/com.example.other/files/a.jpg", other(), ENOENT, "private-dir-other-app"),
        c("images", OpenRead, "Android/obb/com.example.other/a.jpg", other(), ENOENT, "private-dir-other-app"),
        // Android/data and Android/obb themselves: lookup works, listing does not.
        c("scoped", Lookup, "Android/data", dir(), OK, "stat-not-secret"),
        c("scoped", Opendir, "Android/data", dir(), EACCES, "android-data-obb-not-listable"),
        c("scoped", AccessRead, "Android/obb", dir(), EACCES, "android-data-obb-not-listable"),
        c("mes", Opendir, "Android/obb", dir(), EACCES, "android-data-obb-not-listable"),
        c("legacy_r", Readdir, "Android/data", dir(), EACCES, "android-data-obb-not-listable"),
        // Installers get others' Android/obb (not Android/data).
        c("installer", OpenRead, "Android/obb/com.example.other/main.obb", other(), PASS, "installer-obb"),
        c("installer", OpenWrite, "Android/obb/com.example.other/main.obb", other(), PASS, "installer-obb"),
        c("installer", Create, "Android/obb/com.example.other/patch.obb", absent(), PASS, "installer-obb"),
        c("installer", Mkdir, "Android/obb/com.example.other", absent(), OK, "installer-obb"),
        c("installer", Unlink, "Android/obb/com.example.other/main.obb", other(), OK, "installer-obb"),
        c("installer", Opendir, "Android/obb/com.example.other", dir(), OK, "installer-obb"),
        c("installer", OpenRead, "Android/data/com.example.other/files/a.txt", other(), ENOENT, "private-dir-other-app"),
        c("installer", Opendir, "Android/obb", dir(), EACCES, "android-data-obb-not-listable"),
        c("installer", OpenRead, "DCIM/a.jpg", other(), EACCES, "no-read-permission"),
        // The owner has full access to its own app dirs, whatever its permissions.
        c("scoped", Opendir, "Android/data/com.example.me", dir(), OK, "own-app-dir"),
        c("scoped", Create, "Android/data/com.example.me/files/notes.bin", absent(), PASS, "own-app-dir"),
        c("scoped", Create, "ANDROID/Data/COM.EXAMPLE.ME/files/x.bin", absent(), PASS, "own-app-dir"),
        c("scoped", Create, "Android/media/com.example.me/notes.txt", absent(), PASS, "own-app-dir"),
        c("scoped", Mkdir, "Android/data/com.example.me", absent(), OK, "own-app-dir"),
        c("scoped", Mkdir, "Android/obb/com.example.me", absent(), OK, "own-app-dir"),
        c("scoped", Mkdir, "Android/media/com.example.me", absent(), OK, "own-app-dir"),
        c("scoped", OpenRead, "Android/data/com.example.me/files/a.jpg", mine().gps(), PASS, "own-app-dir"),
        c("scoped", OpenWrite, "Android/obb/com.example.me/main.obb", mine(), PASS, "own-app-dir"),
        c("scoped", Unlink, "Android/media/com.example.me/clip.mp4", mine(), OK, "own-app-dir"),
        c("scoped", Rmdir, "Android/data/com.example.me/cache", dir(), OK, "own-app-dir"),
        c("scoped", Rmdir, "Android/media/com.example.me", dir(), OK, "own-app-dir"),
        // Android/media/<other>: shared storage, read like DCIM/Download, not writable.
        c("images", OpenRead, "Android/media/com.example.other/abc.jpg", other(), PASS, "read-media-images"),
        c("res32", OpenRead, "Android/media/com.example.other/abc.bin", other(), EACCES, "non-media-other-app"),
        c("res32", Lookup, "Android/media/com.example.other/abc.bin", other(), OK, "stat-not-secret"),
        c("scoped", Opendir, "Android/media/com.example.other", dir(), OK, "list-shared-dir"),
        c("images", Setattr, "Android/media/com.example.other/x.mp4", other(), EACCES, "no-write-access"),
        c("scoped", Create, "Android/media/com.example.other/x.jpg", absent(), EPERM, "android-dir-not-shared"),
        c("gallery", Create, "Android/media/com.example.other/x.jpg", absent(), PASS, "gallery-role"),
        c("mes", Create, "Android/media/com.example.other/x.pdf", absent(), PASS, "manage-external-storage"),
        c("scoped", Rmdir, "Android/media/com.example.other", dir(), OK, "deeper-dir"),
        // ---- §5.2 reading others' files ------------------------------------------------------
        c("scoped", OpenRead, "DCIM/a.jpg", other(), EACCES, "no-read-permission"),
        c("scoped", AccessRead, "DCIM/a.jpg", other(), EACCES, "no-read-permission"),
        c("scoped", Lookup, "DCIM/a.jpg", other(), OK, "stat-not-secret"),
        c("scoped", OpenRead, "DCIM/mine.jpg", mine().gps(), PASS, "owner"),
        c("scoped", OpenRead, "Download/doc.pdf", mine(), PASS, "owner"),
        c("scoped", OpenRead, "Download/doc.pdf", other(), EACCES, "non-media-other-app"),
        c("scoped", OpenRead, "DCIM/.mine.jpg", mine().hidden(), PASS, "owner"),
        c("images", OpenRead, "DCIM/a.jpg", other(), PASS, "read-media-images"),
        c("images", OpenRead, "Pictures/A.JPEG", nobody(), PASS, "read-media-images"),
        c("images", OpenRead, "DCIM/Camera/IMG_1.heic", other(), PASS, "read-media-images"),
        c("images", AccessRead, "DCIM/a.jpg", other(), OK, "read-media-images"),
        c("images", OpenRead, "Movies/clip.mp4", other(), EACCES, "no-read-permission"),
        c("images", OpenRead, "Music/song.mp3", other(), EACCES, "no-read-permission"),
        c("images", OpenRead, "Download/doc.pdf", other(), EACCES, "non-media-other-app"),
        c("images", OpenRead, "Download/blob.bin", nobody(), EACCES, "non-media-other-app"),
        c("images", AccessRead, "Download/doc.pdf", other(), EACCES, "non-media-other-app"),
        c("images", OpenRead, "DCIM/.hidden.jpg", other().hidden(), EACCES, "hidden-media-other-app"),
        c("images", OpenRead, "Pictures/Private/a.jpg", other().hidden(), EACCES, "hidden-media-other-app"),
        c("images", OpenRead, "DCIM/.thumbnails/t.jpg", other().hidden(), EACCES, "hidden-media-other-app"),
        c("video", OpenRead, "Movies/clip.mp4", other(), PASS, "read-media-video"),
        c("video", OpenRead, "DCIM/b.webm", other(), PASS, "read-media-video"),
        c("video", OpenRead, "Movies/subs.srt", other(), PASS, "read-media-video"),
        c("video", OpenRead, "DCIM/a.jpg", other(), EACCES, "no-read-permission"),
        c("video", OpenRead, "Music/song.mp3", other(), EACCES, "no-read-permission"),
        c("audio", OpenRead, "Music/song.mp3", other(), PASS, "read-media-audio"),
        c("audio", OpenRead, "Music/list.m3u", other(), PASS, "read-media-audio"),
        c("audio", OpenRead, "Music/lyrics.srt", other(), PASS, "read-media-audio"),
        c("audio", OpenRead, "Ringtones/ring.ogg", nobody(), PASS, "read-media-audio"),
        c("audio", OpenRead, "DCIM/a.jpg", other(), EACCES, "no-read-permission"),
        c("audio", OpenRead, "Download/notes.txt", other(), EACCES, "non-media-other-app"),
        c("res32", OpenRead, "DCIM/a.jpg", other(), PASS, "read-media-images"),
        c("res32", OpenRead, "Movies/clip.mp4", other(), PASS, "read-media-video"),
        c("res32", OpenRead, "Music/song.mp3", other(), PASS, "read-media-audio"),
        c("res32", OpenRead, "Download/doc.pdf", other(), EACCES, "non-media-other-app"),
        c("res32", OpenRead, "DCIM/.hidden.jpg", other().hidden(), EACCES, "hidden-media-other-app"),
        c("res33", OpenRead, "DCIM/a.jpg", other(), EACCES, "no-read-permission"),
        c("res33", OpenRead, "Music/song.mp3", other(), EACCES, "no-read-permission"),
        c("res33", OpenRead, "Download/doc.pdf", mine(), PASS, "owner"),
        c("vus", OpenRead, "DCIM/a.jpg", other(), EACCES, "no-read-permission"),
        c("vus", OpenRead, "DCIM/a.jpg", other().grant(Grant::Read), PASS, "read-grant"),
        c("vus", OpenRead, "Movies/clip.mp4", other().grant(Grant::Read), PASS, "read-grant"),
        c("vus", OpenRead, "DCIM/mine.jpg", mine(), PASS, "owner"),
        c("vus", OpenWrite, "DCIM/a.jpg", other().grant(Grant::Read), EACCES, "no-write-access"),
        c("scoped", OpenRead, "Download/doc.pdf", other().grant(Grant::Read), PASS, "read-grant"),
        c("scoped", OpenRead, "DCIM/.h.jpg", other().hidden().grant(Grant::Read), PASS, "read-grant"),
        c("scoped", OpenRead, "Download/doc.pdf", other().grant(Grant::Write), PASS, "write-grant"),
        c("scoped", OpenWrite, "DCIM/a.jpg", other().grant(Grant::Write), PASS, "write-grant"),
        c("scoped", Unlink, "DCIM/a.jpg", other().grant(Grant::Write), OK, "write-grant"),
        c("aml", OpenRead, "DCIM/a.jpg", other().gps(), EACCES, "no-read-permission"),
        c("write_images", OpenRead, "DCIM/a.jpg", other(), PASS, "read-media-images"),
        c("write_images", OpenWrite, "DCIM/a.jpg", other(), EACCES, "no-write-access"),
        c("wes", OpenRead, "DCIM/a.jpg", other(), EACCES, "no-read-permission"),
        c("wes", OpenWrite, "DCIM/a.jpg", other(), EACCES, "no-write-access"),
        c("wes", Create, "notes.txt", absent(), EPERM, "no-files-in-root"),
        // X_OK: the mount is noexec; directories may be traversed.
        c("images", AccessExec, "DCIM/a.jpg", other(), EACCES, "noexec-mount"),
        c("mes", AccessExec, "Download/run.sh", mine(), EACCES, "noexec-mount"),
        c("scoped", AccessExec, "DCIM", dir(), OK, "dir-traverse"),
        // ---- §5.3 writing, deleting existing files --------------------------------------------
        c("scoped", OpenWrite, "DCIM/mine.jpg", mine(), PASS, "owner"),
        c("scoped", AccessWrite, "Download/doc.pdf", mine(), OK, "owner"),
        c("scoped", Setattr, "Download/doc.pdf", mine(), OK, "owner"),
        c("scoped", Unlink, "Download/doc.pdf", mine(), OK, "owner"),
        c("scoped", Unlink, "DCIM/a.jpg", other(), ENOENT, "delete-not-writable"),
        c("scoped", Setattr, "DCIM/a.jpg", other(), EACCES, "no-write-access"),
        c("images", OpenWrite, "DCIM/a.jpg", other(), EACCES, "no-write-access"),
        c("images", AccessWrite, "DCIM/a.jpg", other(), EACCES, "no-write-access"),
        c("images", Unlink, "DCIM/a.jpg", other(), ENOENT, "delete-not-writable"),
        c("res32", Unlink, "Download/doc.pdf", nobody(), ENOENT, "delete-not-writable"),
        c("gallery", OpenWrite, "DCIM/a.jpg", other(), PASS, "gallery-role"),
        c("gallery", OpenWrite, "Movies/clip.mp4", other(), PASS, "gallery-role"),
        c("gallery", OpenRead, "DCIM/a.jpg", other().gps(), PASS, "gallery-role"),
        c("gallery", OpenRead, "DCIM/.hidden.jpg", other().hidden(), PASS, "gallery-role"),
        c("gallery", Unlink, "Pictures/b.png", other(), OK, "gallery-role"),
        c("gallery", Setattr, "DCIM/a.jpg", other(), OK, "gallery-role"),
        c("gallery", OpenRead, "Music/song.mp3", other(), EACCES, "no-read-permission"),
        c("gallery", OpenWrite, "Music/song.mp3", other(), EACCES, "no-write-access"),
        c("gallery", Unlink, "Music/song.mp3", other(), ENOENT, "delete-not-writable"),
        c("gallery", OpenRead, "Download/doc.pdf", other(), EACCES, "non-media-other-app"),
        c("mes", OpenWrite, "DCIM/a.jpg", other(), PASS, "manage-external-storage"),
        c("mes", OpenRead, "Download/doc.pdf", other(), PASS, "manage-external-storage"),
        c("mes", OpenRead, "DCIM/a.jpg", other().gps(), PASS, "manage-external-storage"),
        c("mes", OpenRead, "DCIM/.hidden.jpg", other().hidden(), PASS, "manage-external-storage"),
        c("mes", Unlink, "Download/doc.pdf", other(), OK, "manage-external-storage"),
        c("mes", Setattr, "Music/song.mp3", other(), OK, "manage-external-storage"),
        // ---- §5.4 creating files: the top-level dir decides the type --------------------------
        c("scoped", Create, "DCIM/a.jpg", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "DCIM/clip.mp4", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "DCIM/Camera/IMG_1.dng", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "DCIM/song.mp3", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "DCIM/doc.pdf", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "DCIM/subs.srt", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "DCIM/noext", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Pictures/b.png", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Pictures/clip.mkv", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Pictures/list.m3u", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Movies/clip.mp4", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Movies/subs.srt", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Movies/list.m3u", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Movies/a.jpg", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Movies/song.mp3", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Music/song.mp3", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Music/list.m3u8", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Music/lyrics.vtt", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Music/clip.mp4", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Music/a.jpg", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Music/doc.pdf", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Alarms/wake.ogg", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Audiobooks/book.m4b", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Notifications/ding.wav", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Podcasts/ep1.mp3", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Recordings/memo.amr", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Ringtones/ring.flac", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Recordings/clip.mp4", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Ringtones/list.m3u", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Podcasts/subs.srt", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Alarms/a.jpg", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Notifications/doc.pdf", absent(), EPERM, "type-not-allowed-in-dir"),
        c("scoped", Create, "Download/doc.pdf", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Download/blob.bin", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Download/a.jpg", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Download/.hidden.jpg", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Documents/notes.txt", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Documents/song.mp3", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "notes.txt", absent(), EPERM, "no-files-in-root"),
        c("scoped", Create, "a.jpg", absent(), EPERM, "no-files-in-root"),
        c("scoped", Create, "Scratch/a.jpg", absent(), EPERM, "non-default-top-dir"),
        c("scoped", Create, "Backups/old/x.pdf", absent(), EPERM, "non-default-top-dir"),
        c("scoped", Create, "Android/x.txt", absent(), EPERM, "android-dir-not-shared"),
        c("scoped", Create, "Android/media/x.jpg", absent(), EPERM, "android-dir-not-shared"),
        // An existing name, visible or not, is EEXIST before any type check.
        c("scoped", Create, "DCIM/a.jpg", other(), EEXIST, "name-exists"),
        c("scoped", Create, "DCIM/.hidden.jpg", other().hidden(), EEXIST, "name-exists"),
        c("scoped", Create, "notes.txt", nobody(), EEXIST, "name-exists"),
        c("legacy_none", Create, "Download/doc.pdf", other(), EEXIST, "name-exists"),
        // Names FAT cannot hold.
        c("scoped", Create, "Download/<>", absent(), EPERM, "fat-invalid-name"),
        c("scoped", Create, "Download/a?b.txt", absent(), EPERM, "fat-invalid-name"),
        c("scoped", Create, "DCIM/a*b.jpg", absent(), EPERM, "fat-invalid-name"),
        c("scoped", Create, "Download/a:b.txt", absent(), EPERM, "fat-invalid-name"),
        c("scoped", Create, "Download/quote\".txt", absent(), EPERM, "fat-invalid-name"),
        c("scoped", Create, "Download/back\\slash.txt", absent(), EPERM, "fat-invalid-name"),
        c("scoped", Create, "Download/bell\u{7}.txt", absent(), EPERM, "fat-invalid-name"),
        c("scoped", Create, "Android/data/com.example.me/a|b", absent(), EPERM, "fat-invalid-name"),
        c("mes", Create, "Download/a>b.txt", absent(), EPERM, "fat-invalid-name"),
        // MES and legacy + WRITE create anything anywhere in shared storage.
        c("mes", Create, "report.pdf", absent(), PASS, "manage-external-storage"),
        c("mes", Create, "Movies/song.mp3", absent(), PASS, "manage-external-storage"),
        c("mes", Create, "Scratch/x.bin", absent(), PASS, "manage-external-storage"),
        c("legacy_rw", Create, "notes.txt", absent(), PASS, "legacy-write"),
        c("legacy_rw", Create, "DCIM/song.mp3", absent(), PASS, "legacy-write"),
        c("legacy_w", Create, "notes.txt", absent(), PASS, "legacy-write"),
        // The gallery role creates image/video anywhere, root included, and nothing else beyond the table.
        c("gallery", Create, "a.jpg", absent(), PASS, "gallery-role"),
        c("gallery", Create, "Music/a.jpg", absent(), PASS, "gallery-role"),
        c("gallery", Create, "Scratch/clip.mp4", absent(), PASS, "gallery-role"),
        c("gallery", Create, "Download/doc.pdf", absent(), PASS, "type-allowed-in-dir"),
        c("gallery", Create, "Music/song.mp3", absent(), PASS, "type-allowed-in-dir"),
        c("gallery", Create, "song.mp3", absent(), EPERM, "no-files-in-root"),
        c("gallery", Create, "Pictures/song.mp3", absent(), EPERM, "type-not-allowed-in-dir"),
        // ---- §5.5 directories -------------------------------------------------------------------
        c("scoped", Opendir, "", dir(), OK, "list-shared-dir"),
        c("scoped", Readdir, "DCIM", dir(), OK, "list-shared-dir"),
        c("scoped", Opendir, "Android", dir(), OK, "list-shared-dir"),
        c("scoped", Opendir, "Android/media", dir(), OK, "list-shared-dir"),
        c("scoped", Opendir, "Scratch/deep", dir(), OK, "list-shared-dir"),
        c("scoped", AccessRead, "", dir(), OK, "list-shared-dir"),
        c("mes", Opendir, "DCIM", dir(), OK, "manage-external-storage"),
        c("scoped", Mkdir, "Music", absent(), OK, "top-level-default"),
        c("scoped", Mkdir, "podcasts", absent(), OK, "top-level-default"),
        c("scoped", Mkdir, "Scratch", absent(), EACCES, "top-level-not-default"),
        c("scoped", Mkdir, "DCIM/Trip", absent(), OK, "deeper-dir"),
        c("scoped", Mkdir, "Scratch/sub", absent(), OK, "deeper-dir"),
        c("scoped", Mkdir, "Download/a<b", absent(), EPERM, "fat-invalid-name"),
        c("scoped", Mkdir, "DCIM", dir(), EEXIST, "name-exists"),
        c("scoped", Mkdir, "Android", absent(), EACCES, "android-dir-reserved"),
        c("scoped", Mkdir, "Android/data", absent(), EACCES, "android-dir-reserved"),
        c("scoped", Rmdir, "DCIM", dir(), EACCES, "top-level-dir"),
        c("scoped", Rmdir, "Scratch", dir(), EACCES, "top-level-dir"),
        c("scoped", Rmdir, "Android", dir(), EACCES, "top-level-dir"),
        c("scoped", Rmdir, "Android/data", dir(), EACCES, "android-dir-reserved"),
        c("scoped", Rmdir, "DCIM/Trip", dir(), OK, "deeper-dir"),
        c("scoped", AccessWrite, "DCIM", dir(), OK, "top-level-default"),
        c("scoped", AccessWrite, "DCIM/Trip", dir(), OK, "deeper-dir"),
        c("scoped", AccessWrite, "Scratch", dir(), EACCES, "top-level-not-default"),
        c("scoped", AccessWrite, "", dir(), EACCES, "root-not-writable"),
        c("scoped", AccessWrite, "Android", dir(), EACCES, "android-dir-reserved"),
        c("scoped", Setattr, "DCIM/Trip", dir(), OK, "deeper-dir"),
        c("mes", Mkdir, "Scratch", absent(), OK, "manage-external-storage"),
        c("mes", Rmdir, "Scratch", dir(), OK, "manage-external-storage"),
        c("mes", Rmdir, "Android", dir(), EACCES, "android-dir-reserved"),
        c("mes", AccessWrite, "", dir(), OK, "manage-external-storage"),
        c("legacy_rw", Mkdir, "Scratch", absent(), OK, "legacy-write"),
        c("legacy_rw", Rmdir, "Scratch", dir(), OK, "legacy-write"),
        c("legacy_rw", Rmdir, "Android/obb", dir(), EACCES, "android-dir-reserved"),
        c("gallery", Mkdir, "Scratch", absent(), EACCES, "top-level-not-default"),
        // ---- §5.7 pending and trashed names -----------------------------------------------------
        c("scoped", OpenRead, PENDING_JPG, mine(), PASS, "owner"),
        c("scoped", OpenWrite, TRASHED_MP4, mine(), PASS, "owner"),
        c("scoped", Unlink, TRASHED_PDF, mine(), OK, "owner"),
        c("images", OpenRead, PENDING_JPG, other(), EACCES, "pending-owner-only"),
        c("images", OpenRead, "DCIM/.PENDING-1700000000-A.JPG", other(), EACCES, "pending-owner-only"),
        c("res32", OpenRead, TRASHED_MP4, other(), EACCES, "trashed-owner-only"),
        c("images", AccessRead, PENDING_JPG, other(), EACCES, "pending-owner-only"),
        c("images", Unlink, PENDING_JPG, other(), ENOENT, "delete-not-writable"),
        c("images", OpenRead, PENDING_JPG, other().grant(Grant::Read), EACCES, "pending-owner-only"),
        c("scoped", OpenWrite, TRASHED_MP4, other().grant(Grant::Write), EACCES, "no-write-access"),
        c("mes", OpenRead, PENDING_PDF, other(), PASS, "manage-external-storage"),
        c("mes", OpenWrite, PENDING_PDF, other(), PASS, "manage-external-storage"),
        c("mes", Unlink, TRASHED_PDF, other(), OK, "manage-external-storage"),
        c("gallery", OpenRead, PENDING_JPG, other(), PASS, "gallery-role"),
        c("gallery", Unlink, TRASHED_MP4, other(), OK, "gallery-role"),
        c("gallery", OpenRead, PENDING_PDF, other(), EACCES, "pending-owner-only"),
        c("gallery", OpenWrite, TRASHED_PDF, other(), EACCES, "no-write-access"),
        c("gallery", Unlink, PENDING_PDF, other(), ENOENT, "delete-not-writable"),
        c("legacy_r", OpenRead, TRASHED_PDF, other(), PASS, "legacy-read"),
        // A FUSE-created file still pending: openable by path with the matching permission.
        c("images", OpenRead, "DCIM/new.jpg", other().fuse_pending(), PASS, "read-media-images"),
        c("scoped", OpenRead, "DCIM/new.jpg", other().fuse_pending(), EACCES, "no-read-permission"),
        // ---- §5.8 legacy apps (target SDK ≤ 29 with --legacy) ----------------------------------
        c("legacy_none", OpenRead, "DCIM/a.jpg", other(), EACCES, "legacy-no-permission"),
        c("legacy_none", OpenRead, "DCIM/mine.jpg", mine(), EACCES, "legacy-no-permission"),
        c("legacy_none", Create, "DCIM/new.jpg", absent(), EPERM, "legacy-no-write-permission"),
        c("legacy_none", Create, "Music/x.mp3", absent(), EPERM, "legacy-no-write-permission"),
        c("legacy_none", Unlink, "DCIM/mine.jpg", mine(), EPERM, "legacy-no-write-permission"),
        c("legacy_none", Mkdir, "Music/Albums", absent(), EACCES, "legacy-no-write-permission"),
        c("legacy_none", Opendir, "Music", dir(), EACCES, "legacy-no-permission"),
        c("legacy_none", Opendir, "", dir(), EACCES, "legacy-no-permission"),
        c("legacy_none", AccessWrite, "DCIM", dir(), EACCES, "legacy-no-write-permission"),
        c("legacy_none", Lookup, "DCIM/a.jpg", other(), OK, "stat-not-secret"),
        c("legacy_none", Opendir, "Android/data/com.example.me", dir(), OK, "own-app-dir"),
        c("legacy_none", Create, "Android/data/com.example.me/files/a.txt", absent(), PASS, "own-app-dir"),
        c("legacy_none", OpenRead, "Android/media/com.example.me/a.jpg", mine(), PASS, "own-app-dir"),
        c("legacy_r", OpenRead, "Download/doc.pdf", other(), PASS, "legacy-read"),
        c("legacy_r", OpenRead, "DCIM/a.jpg", other().gps(), PASS, "legacy-read"),
        c("legacy_r", Opendir, "Music", dir(), OK, "legacy-read"),
        c("legacy_r", OpenWrite, "DCIM/a.jpg", other(), EACCES, "legacy-no-write-permission"),
        c("legacy_r", OpenWrite, "DCIM/mine.jpg", mine(), EACCES, "legacy-no-write-permission"),
        c("legacy_r", Setattr, "DCIM/mine.jpg", mine(), EACCES, "legacy-no-write-permission"),
        c("legacy_r", Unlink, "DCIM/a.jpg", other(), EPERM, "legacy-no-write-permission"),
        c("legacy_r", Create, "Download/new.txt", absent(), EPERM, "legacy-no-write-permission"),
        c("legacy_r", Mkdir, "DCIM/Trip", absent(), EACCES, "legacy-no-write-permission"),
        c("legacy_w", Mkdir, "Scratch", absent(), OK, "legacy-write"),
        c("legacy_w", Opendir, "Music", dir(), EACCES, "legacy-no-permission"),
        c("legacy_w", OpenRead, "DCIM/a.jpg", other(), EACCES, "legacy-no-permission"),
        c("legacy_w", OpenWrite, "DCIM/a.jpg", other(), PASS, "legacy-write"),
        c("legacy_rw", OpenRead, "Download/doc.pdf", other(), PASS, "legacy-read"),
        c("legacy_rw", OpenWrite, "DCIM/a.jpg", other(), PASS, "legacy-write"),
        c("legacy_rw", Unlink, "Download/doc.pdf", other(), OK, "legacy-write"),
        c("legacy_rw", Opendir, "", dir(), OK, "legacy-read"),
        c("legacy_rw", Create, "Download/a:b.txt", absent(), EPERM, "fat-invalid-name"),
        c("legacy30_rw", OpenRead, "Download/doc.pdf", other(), EACCES, "non-media-other-app"),
        c("legacy30_rw", OpenRead, "DCIM/a.jpg", other(), PASS, "read-media-images"),
        c("legacy30_rw", OpenWrite, "DCIM/a.jpg", other(), EACCES, "no-write-access"),
        c("legacy30_rw", Unlink, "Download/doc.pdf", other(), ENOENT, "delete-not-writable"),
        c("legacy30_rw", Create, "notes.txt", absent(), EPERM, "no-files-in-root"),
        c("legacy30_rw", Mkdir, "Scratch", absent(), EACCES, "top-level-not-default"),
        c("legacy30_rw", Opendir, "Music", dir(), OK, "list-shared-dir"),
        // ---- shared uid: permissions add up, either package owns ------------------------------
        c("shared", OpenRead, "DCIM/a.jpg", other(), PASS, "read-media-images"),
        c("shared", OpenRead, "Music/song.mp3", other(), PASS, "read-media-audio"),
        c("shared", OpenRead, "Movies/clip.mp4", other(), EACCES, "no-read-permission"),
        c("shared", OpenWrite, "DCIM/a.jpg", owned_by(SHARED_TWO), PASS, "owner"),
        c("shared", Unlink, "Download/doc.pdf", owned_by("COM.EXAMPLE.SHARED.ONE"), OK, "owner"),
        c("shared", OpenRead, "Android/data/com.example.shared.two/files/x.bin", owned_by(SHARED_TWO), PASS, "own-app-dir"),
        c("shared", Opendir, "Android/data/com.example.shared.one", dir(), OK, "own-app-dir"),
        c("shared", OpenRead, "Android/data/com.example.other/files/x.bin", other(), ENOENT, "private-dir-other-app"),
        // ---- §5.10 names are case-insensitive ----------------------------------------------------
        c("scoped", Create, "dcim/Holiday/IMG.JPG", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "MUSIC/song.MP3", absent(), PASS, "type-allowed-in-dir"),
        c("scoped", Create, "Download/FOO", mine(), EEXIST, "name-exists"),
        c("scoped", Mkdir, "PICTURES", absent(), OK, "top-level-default"),
        c("scoped", Rmdir, "dcim", dir(), EACCES, "top-level-dir"),
        // ---- §6 redaction: read-only opens of location-bearing files -----------------------------
        c("images", OpenRead, "DCIM/a.jpg", other().gps(), REDACT, "read-media-images"),
        c("images", OpenRead, "DCIM/b.jpg", nobody().gps(), REDACT, "read-media-images"),
        c("video", OpenRead, "Movies/clip.mp4", other().gps(), REDACT, "read-media-video"),
        c("audio", OpenRead, "Music/song.m4a", other().gps(), REDACT, "read-media-audio"),
        c("res32", OpenRead, "DCIM/a.jpg", other().gps(), REDACT, "read-media-images"),
        c("vus", OpenRead, "DCIM/a.jpg", other().gps().grant(Grant::Read), REDACT, "read-grant"),
        c("images", OpenRead, "DCIM/mine.jpg", mine().gps(), PASS, "owner"),
        c("images_aml", OpenRead, "DCIM/a.jpg", other().gps(), PASS, "read-media-images"),
        c("vus_aml", OpenRead, "DCIM/a.jpg", other().gps().grant(Grant::Read), PASS, "read-grant"),
        c("scoped", OpenRead, "DCIM/a.jpg", other().gps().grant(Grant::Write), PASS, "write-grant"),
        c("scoped", OpenWrite, "DCIM/a.jpg", other().gps().grant(Grant::Write), PASS, "write-grant"),
        c("shared", OpenRead, "DCIM/a.jpg", owned_by(SHARED_TWO).gps(), PASS, "owner"),
        c("installer", OpenRead, "Android/obb/com.example.other/cover.jpg", other().gps(), PASS, "installer-obb"),
        c("media_rw", OpenRead, "DCIM/a.jpg", other().gps(), PASS, "privileged-uid"),
        // ---- missing targets and argument errors -------------------------------------------------
        c("images", OpenRead, "DCIM/gone.jpg", absent(), ENOENT, "no-such-file"),
        c("scoped", Unlink, "Download/gone.txt", absent(), ENOENT, "no-such-file"),
        c("scoped", Lookup, "DCIM/gone.jpg", absent(), ENOENT, "no-such-file"),
        c("scoped", Opendir, "DCIM/Gone", absent(), ENOENT, "no-such-file"),
        c("scoped", Rename, "Download/a.txt", mine(), EINVAL, "rename-needs-two-paths"),
    ]
}

#[rustfmt::skip]
fn rename_cases() -> Vec<RenameCase> {
    let mine_jpg = || ("DCIM/Trip/a.jpg", mine());
    let mine_mp4 = || ("DCIM/Trip/b.mp4", mine());
    let other_jpg = || ("DCIM/Trip/a.jpg", other());
    let other_mp4 = || ("DCIM/Trip/b.mp4", other());
    vec![
        // Flags: only RENAME_NOREPLACE is supported, for every caller.
        rn("scoped", "Download/a.txt", mine(), "Download/b.txt", absent(), EXCHANGE, EINVAL, "rename-flags"),
        rn("root", "Download/a.txt", mine(), "Download/b.txt", mine(), EXCHANGE, EINVAL, "rename-flags"),
        rn("mes", "Download/a.txt", mine(), "Download/b.txt", absent(), WHITEOUT, EINVAL, "rename-flags"),
        rn("scoped", "Download/a.txt", mine(), "Download/b.txt", absent(), NOREPLACE, OK, "rename-file"),
        rn("scoped", "Download/a.txt", mine(), "Download/b.txt", mine(), NOREPLACE, EEXIST, "rename-noreplace"),
        rn("scoped", "Download/a.txt", mine(), "Download/c.txt", other(), NOREPLACE, EEXIST, "rename-noreplace"),
        rn("mes", "Download/a.txt", other(), "Download/b.txt", other(), NOREPLACE, EEXIST, "rename-noreplace"),
        rn("scoped", "Download/gone.txt", absent(), "Download/b.txt", absent(), 0, ENOENT, "no-such-file"),
        // Android itself and others' private dirs: EACCES for everyone.
        rn("mes", "Android", dir(), "Androidfoo", absent(), 0, EACCES, "rename-android"),
        rn("root", "Android", dir(), "Android2", absent(), 0, EACCES, "rename-android"),
        rn("legacy_rw", "Scratch", dir(), "android", absent(), 0, EACCES, "rename-android"),
        // Android/{data,obb,media} themselves, in any spelling, either side (private-data theft).
        rn("mes", "Android/data", dir(), "Download/x", absent(), 0, EACCES, "rename-android"),
        rn("legacy_rw", "android/DATA", dir(), "Download/x", absent(), 0, EACCES, "rename-android"),
        rn("mes", "Android/obb", dir(), "Download/y", absent(), 0, EACCES, "rename-android"),
        rn("root", "Android/media", dir(), "Download/z", absent(), 0, EACCES, "rename-android"),
        rn("legacy_rw", "Download/evil", dir(), "Android/data", absent(), 0, EACCES, "rename-android"),
        rn("mes", "Download/evil", dir(), "ANDROID/Obb", absent(), NOREPLACE, EACCES, "rename-android"),
        rn("scoped", "Android/data/com.example.other/f.txt", other(), "Download/f.txt", absent(), 0, EACCES, "private-dir-other-app"),
        rn("mes", "Download/a.txt", other(), "Android/data/com.example.other/a.txt", absent(), 0, EACCES, "private-dir-other-app"),
        rn("legacy_rw", "Android/obb/com.example.other/x.obb", other(), "Download/x.obb", absent(), 0, EACCES, "private-dir-other-app"),
        rn("unregistered", "Download/a.txt", nobody(), "Download/b.txt", absent(), 0, EACCES, "unregistered-uid"),
        rn("user10_mes", "Download/a.txt", mine(), "Download/b.txt", absent(), 0, EACCES, "other-user"),
        // Names FAT cannot hold.
        rn("scoped", "Download/a.txt", mine(), "Download/<>", absent(), 0, EPERM, "fat-invalid-name"),
        rn("mes", "Download/a.txt", other(), "Download/a?.txt", absent(), 0, EPERM, "fat-invalid-name"),
        rn("root", "Download/a.txt", other(), "Download/a?.txt", absent(), 0, OK, "privileged-uid"),
        rn("scoped", "Download/a.txt", mine(), "Download/it's ~!@#$%^& ()_+-={}[];'.txt", absent(), 0, OK, "rename-file"),
        // Uids with full access, MES and legacy + WRITE: otherwise unrestricted.
        rn("shell", "Download/a.txt", other(), "b.txt", absent(), 0, OK, "shell"),
        rn("mes", "Download/doc.pdf", other(), "doc.pdf", absent(), 0, OK, "manage-external-storage"),
        rn("mes", "doc.pdf", other(), "Pictures/doc.pdf", absent(), 0, OK, "manage-external-storage"),
        rn("mes", "Pictures/doc.pdf", other(), "Pictures/doc.mp3", absent(), 0, OK, "manage-external-storage"),
        rn("mes", "DCIM", dir(), "DCIM2", absent(), 0, OK, "manage-external-storage"),
        rn("mes", "Download/a.txt", other(), "Download/b.txt", other(), 0, OK, "manage-external-storage"),
        rn("legacy_rw", "Download/a.txt", other(), "a.txt", absent(), 0, OK, "legacy-write"),
        rn("legacy_w", "Music/song.mp3", other(), "DCIM/song.mp3", absent(), 0, OK, "legacy-write"),
        rn("legacy_r", "Download/a.txt", mine(), "Download/b.txt", absent(), 0, EACCES, "legacy-no-write-permission"),
        rn("legacy_none", "Android/data/com.example.me/a.txt", mine(), "Android/data/com.example.me/b.txt", absent(), 0, OK, "own-app-dir"),
        rn("legacy_none", "Android/data/com.example.me/a.jpg", mine(), "DCIM/a.jpg", absent(), 0, EACCES, "legacy-no-write-permission"),
        rn("scoped", "Android/data/com.example.me/a.txt", mine(), "Android/media/com.example.me/a.txt", absent(), 0, OK, "own-app-dir"),
        rn("installer", "Android/obb/com.example.other/a.obb", other(), "Android/obb/com.example.other/b.obb", absent(), 0, OK, "installer-obb"),
        // Scoped apps: default dirs stay, nothing goes into the root or Android (but Android/media/<x>).
        rn("scoped", "DCIM", dir(), "Photos", absent(), 0, EPERM, "rename-default-dir"),
        rn("gallery", "Pictures", dir(), "DCIM/Pictures", absent(), 0, EPERM, "rename-default-dir"),
        rn("scoped", "dcim", dir(), "DCIM/Old", absent(), 0, EPERM, "rename-default-dir"),
        rn("scoped", "Scratch", dir(), "Scratch2", absent(), 0, EPERM, "rename-into-root"),
        rn("scoped", "Scratch", dir(), "DCIM/Scratch", absent(), 0, OK, "rename-dir"),
        rn("scoped", "DCIM/a.jpg", mine(), "a.jpg", absent(), 0, EPERM, "rename-into-root"),
        rn("scoped", "DCIM/a.jpg", mine(), "Android/a.jpg", absent(), 0, EPERM, "rename-into-android"),
        rn("scoped", "DCIM/a.jpg", mine(), "Android/media/a.jpg", absent(), 0, EPERM, "rename-into-android"),
        rn("scoped", "DCIM/a.jpg", mine(), "Android/data/com.example.me/files/a.jpg", absent(), 0, EPERM, "rename-into-android"),
        rn("scoped", "Android/notes.txt", nobody(), "Download/notes.txt", absent(), 0, EPERM, "rename-from-android"),
        rn("scoped", "DCIM/a.jpg", mine(), "Android/media/com.example.me/a.jpg", absent(), 0, OK, "rename-file"),
        rn("scoped", "Download/x.pdf", mine(), "Android/media/com.example.me/x.pdf", absent(), 0, OK, "rename-file"),
        rn("scoped", "DCIM/a.jpg", mine(), "Android/media/com.example.other/a.jpg", absent(), 0, EPERM, "rename-type-not-allowed-in-dir"),
        rn("scoped", "Android/data/com.example.me/files/a.jpg", mine(), "DCIM/a.jpg", absent(), 0, OK, "rename-file"),
        rn("scoped", "Android/media/com.example.other/a.jpg", other(), "DCIM/a.jpg", absent(), 0, EPERM, "rename-not-writable"),
        rn("images", "Android/media/com.example.other/a.jpg", other().grant(Grant::Write), "DCIM/a.jpg", absent(), 0, OK, "rename-file"),
        // The new name must suit the target dir; the media type follows the name.
        rn("scoped", "Download/a.pdf", mine(), "Download/Sub/a.pdf", absent(), 0, OK, "rename-file"),
        rn("scoped", "Download/x.pdf", mine(), "DCIM/x.pdf", absent(), 0, EPERM, "rename-type-not-allowed-in-dir"),
        rn("scoped", "Download/x.pdf", mine(), "DCIM/y.mp4", absent(), 0, OK, "rename-file"),
        rn("scoped", "Download/x.pdf", mine(), "Music/x.pdf", absent(), 0, EPERM, "rename-type-not-allowed-in-dir"),
        rn("scoped", "Download/x.pdf", mine(), "Movies/x.pdf", absent(), 0, EPERM, "rename-type-not-allowed-in-dir"),
        rn("scoped", "DCIM/clip.mp4", mine(), "Movies/clip.mp4", absent(), 0, OK, "rename-file"),
        rn("scoped", "Movies/clip.mp4", mine(), "Download/clip.mp4", absent(), 0, OK, "rename-file"),
        rn("scoped", "DCIM/a.jpg", mine(), "Scratch/a.jpg", absent(), 0, EPERM, "rename-type-not-allowed-in-dir"),
        rn("scoped", "Download/.hidden.jpg", mine(), "Download/shown.jpg", absent(), 0, OK, "rename-file"),
        // The caller must be able to write the file, and the file it replaces.
        rn("images", "DCIM/a.jpg", other(), "DCIM/b.jpg", absent(), 0, EPERM, "rename-not-writable"),
        rn("vus", "DCIM/a.jpg", other().grant(Grant::Read), "DCIM/b.jpg", absent(), 0, EPERM, "rename-not-writable"),
        rn("scoped", "DCIM/a.jpg", other().grant(Grant::Write), "DCIM/b.jpg", absent(), 0, OK, "rename-file"),
        rn("scoped", "DCIM/mine.jpg", mine(), "DCIM/old.jpg", mine(), 0, OK, "rename-file"),
        rn("scoped", "DCIM/mine.jpg", mine(), "DCIM/theirs.jpg", other(), 0, EPERM, "rename-target-not-writable"),
        rn("images", "DCIM/mine.jpg", mine(), "DCIM/.theirs.jpg", other().hidden(), 0, EPERM, "rename-target-not-writable"),
        rn("scoped", "DCIM/mine.jpg", mine(), "DCIM/granted.jpg", other().grant(Grant::Write), 0, OK, "rename-file"),
        rn("shared", "DCIM/a.jpg", owned_by(SHARED_TWO), "Pictures/a.jpg", absent(), 0, OK, "rename-file"),
        // The gallery role moves image/video files anywhere, root included.
        rn("gallery", "DCIM/clip.mp4", other(), "Pictures/clip.mp4", absent(), 0, OK, "rename-file"),
        rn("gallery", "Pictures/clip.mp4", other(), "clip.mp4", absent(), 0, OK, "rename-file"),
        rn("gallery", "clip.mp4", other(), "Pictures/clip.jpg", absent(), 0, OK, "rename-file"),
        rn("gallery", "DCIM/a.jpg", other(), "Scratch/a.jpg", absent(), 0, OK, "rename-file"),
        rn("gallery", "Pictures/x.jpg", other(), "Music/x.mp3", absent(), 0, OK, "rename-file"),
        rn("gallery", "Pictures/x.jpg", other(), "Pictures/x.mp3", absent(), 0, EPERM, "rename-type-not-allowed-in-dir"),
        rn("gallery", "Pictures/x.jpg", other(), "x.mp3", absent(), 0, EPERM, "rename-into-root"),
        rn("gallery", "Music/song.mp3", other(), "Music/song2.mp3", absent(), 0, EPERM, "rename-not-writable"),
        rn("gallery", "DCIM/mine.jpg", mine(), "DCIM/theirs.jpg", other(), 0, OK, "rename-file"),
        // Directory renames need every contained file to suit the target and be writable.
        rn_dir("scoped", "DCIM/Trip", "Pictures/Trip", &[mine_jpg(), mine_mp4()], OK, "rename-dir"),
        rn_dir("scoped", "DCIM/Empty", "Movies/Empty2", &[], OK, "rename-dir"),
        rn_dir("scoped", "DCIM/Trip", "Download/Trip", &[mine_jpg(), other_mp4()], EPERM, "rename-not-writable"),
        rn_dir("images", "DCIM/Trip", "Download/Trip", &[mine_jpg(), ("DCIM/Trip/.x.jpg", other().hidden())], EPERM, "rename-not-writable"),
        rn_dir("scoped", "Download/Stuff", "DCIM/Stuff", &[("Download/Stuff/a.jpg", mine()), ("Download/Stuff/doc.pdf", mine())], EPERM, "rename-type-not-allowed-in-dir"),
        rn_dir("scoped", "DCIM/Trip", "Movies/Trip", &[("DCIM/Trip/day1/clip.mp4", mine()), ("DCIM/Trip/day2/a.jpg", mine())], EPERM, "rename-type-not-allowed-in-dir"),
        rn_dir("scoped", "DCIM/Trip", "Trip", &[mine_jpg()], EPERM, "rename-into-root"),
        rn_dir("scoped", "Android/media/com.example.me/Album", "DCIM/Album", &[("Android/media/com.example.me/Album/a.jpg", mine())], OK, "rename-dir"),
        rn_dir("gallery", "DCIM/Trip", "Pictures/Trip", &[other_jpg(), other_mp4()], OK, "rename-dir"),
        rn_dir("gallery", "DCIM/Trip", "Podcasts/Trip", &[other_jpg()], EPERM, "rename-type-not-allowed-in-dir"),
        rn_dir("gallery", "DCIM/Trip", "Trip", &[other_jpg()], EPERM, "rename-into-root"),
        rn_dir("gallery", "DCIM/Trip", "Pictures/Trip", &[other_jpg(), ("DCIM/Trip/notes.pdf", other())], EPERM, "rename-type-not-allowed-in-dir"),
        rn_dir("gallery", "Download/Trip", "Download/Trip2", &[("Download/Trip/notes.pdf", other())], EPERM, "rename-not-writable"),
        rn_dir("mes", "DCIM/Trip", "Trip", &[other_jpg(), ("DCIM/Trip/doc.pdf", other())], OK, "manage-external-storage"),
    ]
}

#[rustfmt::skip]
fn listing_cases() -> Vec<ListCase> {
    vec![
        // §5.2: others' non-media and hidden media are never listed for scoped apps.
        ls("images", "DCIM/a.jpg", other(), true),
        ls("scoped", "DCIM/a.jpg", other(), false),
        ls("unregistered", "DCIM/a.jpg", other(), false),
        ls("user10_mes", "DCIM/a.jpg", other(), false),
        ls("res32", "Download/doc.pdf", other(), false),
        ls("res32", "DCIM/doc.pdf", other(), false),
        ls("res32", "Music/clip.mp4", other(), true),
        ls("scoped", "Download/doc.pdf", mine(), true),
        ls("legacy_r", "Download/doc.pdf", other(), true),
        ls("mes", "Download/doc.pdf", other(), true),
        ls("vus", "DCIM/a.jpg", other().grant(Grant::Read), true),
        ls("vus", "DCIM/b.jpg", other(), false),
        ls("images", "DCIM/.hidden.jpg", other().hidden(), false),
        ls("res32", "Pictures/Private/a.jpg", other().hidden(), false),
        ls("gallery", "DCIM/.hidden.jpg", other().hidden(), false),
        ls("gallery", "DCIM/.mine.jpg", mine().hidden(), true),
        ls("gallery", "DCIM/a.jpg", other(), true),
        ls("mes", "DCIM/.hidden.jpg", other().hidden(), true),
        ls("legacy_r", "DCIM/.hidden.jpg", other().hidden(), true),
        ls("scoped", "DCIM/.mine.jpg", mine().hidden(), true),
        ls("images", "DCIM/Camera/a.jpg", other(), true),
        // §5.7: pending/trashed names for owner, MES and the gallery role (image/video).
        ls("scoped", PENDING_JPG, mine(), true),
        ls("images", PENDING_JPG, other(), false),
        ls("images", TRASHED_MP4, other(), false),
        ls("mes", PENDING_PDF, other(), true),
        ls("gallery", PENDING_JPG, other(), true),
        ls("gallery", TRASHED_PDF, other(), false),
        // §5.7: another app's FUSE-pending file is left out of store-based listings.
        ls("images", "DCIM/new.jpg", other().fuse_pending(), false),
        ls("images", "DCIM/new.jpg", other().fuse_pending().grant(Grant::Read), false),
        ls("gallery", "DCIM/new.jpg", other().fuse_pending(), false),
        ls("scoped", "DCIM/new.jpg", mine().fuse_pending(), true),
        ls("mes", "DCIM/new.jpg", other().fuse_pending(), true),
        ls("legacy_r", "DCIM/new.jpg", other().fuse_pending(), true),
        ls("root", "DCIM/new.jpg", other().fuse_pending(), true),
        ls("shell", "DCIM/new.jpg", other().fuse_pending(), true),
        // §5.1: others' private dirs list nothing; own app dirs list everything.
        ls("mes", "Android/data/com.example.other/files/a.txt", other(), false),
        ls("legacy_none", "Android/media/com.example.me/x.bin", mine(), true),
    ]
}

// ---- runners ---------------------------------------------------------------------------------

fn path(s: &str) -> VolPath {
    VolPath::parse(s).unwrap_or_else(|e| panic!("bad path {s:?}: {e}"))
}

fn check(failures: &mut Vec<String>, line: u32, what: String, d: &Decision, exp: Exp, rule: &str) {
    let got = outcome(d);
    if got != exp || d.rule != rule {
        failures.push(format!(
            "line {line}: {what}\n    expected {exp:?} by {rule:?}\n    got      {got:?} by {:?}",
            d.rule
        ));
    }
}

fn report(kind: &str, total: usize, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} of {total} {kind} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn single_path_table() {
    let cases = cases();
    let mut failures = Vec::new();
    for k in &cases {
        let who = caller(k.caller);
        let p = path(k.path);
        let facts = k.facts.facts(&p);
        let t = Target {
            path: &p,
            facts: &facts,
        };
        let d = match k.act {
            Act::Op(op) => rules::decide(&who, op, t),
            Act::Exec => rules::access_exec(&who, t),
        };
        let what = format!("{} {:?} {:?} {:?}", k.caller, k.act, k.path, k.facts);
        check(&mut failures, k.line, what, &d, k.exp, k.rule);
    }
    report("single-path", cases.len(), failures);
}

#[test]
fn rename_table() {
    let cases = rename_cases();
    let mut failures = Vec::new();
    for k in &cases {
        let who = caller(k.caller);
        let (op, np) = (path(k.old.0), path(k.new.0));
        let (of, nf) = (k.old.1.facts(&op), k.new.1.facts(&np));
        let contents: Vec<(VolPath, FileFacts)> = k
            .contents
            .iter()
            .map(|(s, f)| {
                let p = path(s);
                let facts = f.facts(&p);
                (p, facts)
            })
            .collect();
        let d = rules::rename(
            &who,
            Target {
                path: &op,
                facts: &of,
            },
            Target {
                path: &np,
                facts: &nf,
            },
            k.flags,
            &contents,
        );
        let what = format!(
            "{} rename {:?} -> {:?} flags {}",
            k.caller, k.old.0, k.new.0, k.flags
        );
        check(&mut failures, k.line, what, &d, k.exp, k.rule);
    }
    report("rename", cases.len(), failures);
}

#[test]
fn listing_table() {
    let cases = listing_cases();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|k| {
            let p = path(k.path);
            let visible = rules::visible_in_listing(&caller(k.caller), &p, &k.facts.facts(&p));
            (visible != k.visible).then(|| {
                format!(
                    "line {}: {} lists {:?} {:?}: expected visible={}, got {visible}",
                    k.line, k.caller, k.path, k.facts, k.visible
                )
            })
        })
        .collect();
    report("listing", cases.len(), failures);
}

#[test]
fn enough_cases() {
    let total = cases().len() + rename_cases().len() + listing_cases().len();
    assert!(total >= 250, "only {total} cases");
}

/// The files of the rules module (name, text), its root `rules.rs` first. Android.bp's
/// compile_data lists the same files.
const RULES_SOURCES: [(&str, &str); 8] = [
    ("rules", include_str!("../src/rules.rs")),
    ("dirs", include_str!("../src/rules/dirs.rs")),
    ("gates", include_str!("../src/rules/gates.rs")),
    ("listing", include_str!("../src/rules/listing.rs")),
    ("read", include_str!("../src/rules/read.rs")),
    ("rename", include_str!("../src/rules/rename.rs")),
    ("types", include_str!("../src/rules/types.rs")),
    ("write", include_str!("../src/rules/write.rs")),
];

/// A file added to the rules module must be read by [`every_rule_is_exercised`] too, or its
/// rule names would go unchecked.
#[test]
fn every_rules_file_is_read() {
    let declared: BTreeSet<&str> = RULES_SOURCES[0]
        .1
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let read: BTreeSet<&str> = RULES_SOURCES[1..].iter().map(|(name, _)| *name).collect();
    assert_eq!(
        declared, read,
        "rules.rs declares other modules than RULES_SOURCES reads"
    );
}

/// Every rule name the rules module can return is expected by at least one case, so a new rule
/// cannot land untested. Rule names are the kebab-case string literals of its files, minus the
/// operation and I/O-mode names.
#[test]
fn every_rule_is_exercised() {
    let src: String = RULES_SOURCES.iter().map(|(_, text)| *text).collect();
    let not_rules: BTreeSet<&str> = Op::ALL
        .iter()
        .map(|o| o.name())
        .chain([Io::Passthrough, Io::Redacted, Io::Daemon].map(Io::name))
        .collect();
    let engine_rules: BTreeSet<&str> = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(|l| l.split('"').skip(1).step_by(2))
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        .filter(|s| !not_rules.contains(s))
        .collect();
    let tested: BTreeSet<&str> = cases()
        .iter()
        .map(|k| k.rule)
        .chain(rename_cases().iter().map(|k| k.rule))
        .collect();
    let untested: Vec<_> = engine_rules.difference(&tested).collect();
    assert!(untested.is_empty(), "rules without a case: {untested:?}");
    let unknown: Vec<_> = tested.difference(&engine_rules).collect();
    assert!(
        unknown.is_empty(),
        "cases expect rules the engine lacks: {unknown:?}"
    );
}
