//! Listing, creating and removing directories (SPEC §5.5).

use super::gates::{gate, name_denial, other_user_denial, private_denial, Need};
use super::types::{Decision, Target};
use crate::errno::Errno;
use crate::identity::{Caller, CallerKind};
use crate::paths::VolPath;

/// opendir/readdir: every app, even an unregistered uid, may list every shared dir; the
/// content is filtered per file by [`visible_in_listing`](super::visible_in_listing).
/// `Android/data` and `Android/obb` themselves are not listable, so apps cannot enumerate
/// installed packages.
pub fn opendir(caller: &Caller, path: &VolPath) -> Decision {
    if let Some(d) = other_user_denial(caller) {
        return d;
    }
    let info = path.info();
    let confined = matches!(caller.kind, CallerKind::App | CallerKind::Unregistered);
    if confined && info.is_data_or_obb_root() {
        return Decision::deny(Errno::EACCES, "android-data-obb-not-listable");
    }
    let listing = Decision::allow("list-shared-dir");
    if caller.kind == CallerKind::Unregistered {
        return private_denial(caller, &info).unwrap_or(listing);
    }
    gate(caller, &info, Need::Read).unwrap_or(listing)
}

/// Creating a directory at `path`, or creating inside the existing directory `path`
/// (`access(W_OK)`, setattr): SPEC §5.5.
pub(super) fn dir_write(caller: &Caller, path: &VolPath) -> Decision {
    let info = path.info();
    if let Some(d) = gate(caller, &info, Need::Write(Errno::EACCES)) {
        return d;
    }
    if info.depth == 0 {
        return Decision::deny(Errno::EACCES, "root-not-writable");
    }
    if info.is_android_dir() || info.is_app_area_root() {
        return Decision::deny(Errno::EACCES, "android-dir-reserved");
    }
    match (info.depth, info.default_top) {
        (1, Some(_)) => Decision::allow("top-level-default"),
        (1, None) => Decision::deny(Errno::EACCES, "top-level-not-default"),
        _ => Decision::allow("deeper-dir"),
    }
}

/// mkdir; an existing name is EEXIST first, as for [`create`](super::create).
pub fn mkdir(caller: &Caller, t: Target) -> Decision {
    if let Some(d) = private_denial(caller, &t.path.info()) {
        return d;
    }
    if t.facts.exists {
        return Decision::deny(Errno::EEXIST, "name-exists");
    }
    if let Some(d) = name_denial(caller, t.path) {
        return d;
    }
    dir_write(caller, t.path)
}

/// rmdir; ENOTEMPTY is the lower filesystem's answer (invisible files count). Top-level dirs
/// are kept by scoped apps; `Android` and `Android/{data,obb,media}` by everyone but uids that
/// have full access.
pub fn rmdir(caller: &Caller, path: &VolPath) -> Decision {
    let info = path.info();
    let d = gate(caller, &info, Need::Write(Errno::EACCES)).unwrap_or_else(|| {
        if info.depth <= 1 {
            Decision::deny(Errno::EACCES, "top-level-dir")
        } else {
            Decision::allow("deeper-dir")
        }
    });
    let reserved = info.is_android_dir() || info.is_app_area_root();
    if d.allowed() && reserved && !caller.is_privileged() {
        return Decision::deny(Errno::EACCES, "android-dir-reserved");
    }
    d
}
