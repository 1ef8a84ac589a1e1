//! Checks shared by every operation: who asks (uid, other user, private dirs, storage-wide
//! permissions) before what the row says.

use super::types::Decision;
use crate::errno::Errno;
use crate::identity::{Caller, CallerKind};
use crate::paths::{
    is_fat_invalid_name, parse_special_name, AppArea, PathInfo, SpecialName, VolPath,
};

/// Where a caller stands relative to an app-specific area of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AppDirAccess {
    /// Not in `Android/{data,obb,media}/<pkg>`.
    NotAppDir,
    /// The caller's own `Android/{data,obb,media}/<pkg>`, or a uid below 10000: no confinement.
    Own,
    /// Another app's `Android/obb/<pkg>`, reached by an installer.
    InstallerObb,
    /// Another app's `Android/media/<pkg>`: shared storage.
    OtherMedia,
    /// Another app's `Android/{data,obb}/<pkg>`: must look as if it did not exist.
    OtherPrivate,
}

pub(super) fn app_dir_access(caller: &Caller, info: &PathInfo) -> AppDirAccess {
    let Some((area, pkg)) = info.app_dir_package() else {
        return AppDirAccess::NotAppDir;
    };
    // uids below 10000 (root, system, shell) are not confined to their own dirs (Android's
    // `is_app_accessible_path` bypass).
    if caller.is_privileged() || caller.is_shell() || caller.owns_package(pkg) {
        return AppDirAccess::Own;
    }
    match area {
        AppArea::Media => AppDirAccess::OtherMedia,
        AppArea::Obb if caller.installer() => AppDirAccess::InstallerObb,
        _ => AppDirAccess::OtherPrivate,
    }
}

pub(super) fn is_other_private(caller: &Caller, info: &PathInfo) -> bool {
    app_dir_access(caller, info) == AppDirAccess::OtherPrivate
}

/// SPEC §4: a uid of another Android user gets EACCES for everything on this volume, lookup
/// included. Every public decision asks this first (directly or through [`private_denial`] or
/// [`gate`]).
pub(super) fn other_user_denial(caller: &Caller) -> Option<Decision> {
    (caller.kind == CallerKind::OtherUser).then(|| Decision::deny(Errno::EACCES, "other-user"))
}

/// SPEC §5.1: another app's `Android/{data,obb}/<pkg>` answers ENOENT to everything, so that
/// nobody can tell whether the package exists. (Another user's uid is refused before that.)
pub(super) fn private_denial(caller: &Caller, info: &PathInfo) -> Option<Decision> {
    other_user_denial(caller).or_else(|| {
        is_other_private(caller, info)
            .then(|| Decision::deny(Errno::ENOENT, "private-dir-other-app"))
    })
}

/// Names FAT cannot hold are refused to every caller that is confined at all (SPEC §5.4).
/// Unregistered uids are left to [`uid_gate`], which refuses them everything with EACCES.
pub(super) fn name_denial(caller: &Caller, path: &VolPath) -> Option<Decision> {
    let confined = matches!(caller.kind, CallerKind::App | CallerKind::Shell);
    (confined && is_fat_invalid_name(path.file_name()))
        .then(|| Decision::deny(Errno::EPERM, "fat-invalid-name"))
}

/// What an operation needs of the caller's storage-wide grants. `Write` carries the errno a
/// legacy app without WRITE_EXTERNAL_STORAGE gets: Android denies such apps outright, with an
/// errno that depends on the operation (open EACCES, create/unlink EPERM, dirs EACCES).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Need {
    Read,
    Write(Errno),
}

/// Callers decided by their uid alone (SPEC §4).
pub(super) fn uid_gate(caller: &Caller) -> Option<Decision> {
    match caller.kind {
        CallerKind::Privileged => Some(Decision::allow("privileged-uid")),
        CallerKind::Shell => Some(Decision::allow("shell")),
        CallerKind::Unregistered => Some(Decision::deny(Errno::EACCES, "unregistered-uid")),
        CallerKind::OtherUser => other_user_denial(caller),
        CallerKind::App => None,
    }
}

/// Android's storage-wide bypass for app callers (legacy with the matching permission, MES),
/// then the outright denial of legacy apps lacking it (anchor §2.1). A legacy app runs with
/// Android 10's rules, so without the permission it gets nothing, not even scoped access.
pub(super) fn storage_gate(caller: &Caller, need: Need) -> Option<Decision> {
    let (legacy_ok, rule) = match need {
        Need::Read => (caller.legacy_read(), "legacy-read"),
        Need::Write(_) => (caller.legacy_write(), "legacy-write"),
    };
    if legacy_ok {
        return Some(Decision::allow(rule));
    }
    if caller.mes() {
        return Some(Decision::allow("manage-external-storage"));
    }
    if !caller.is_legacy() {
        return None;
    }
    Some(match need {
        Need::Read => Decision::deny(Errno::EACCES, "legacy-no-permission"),
        Need::Write(errno) => Decision::deny(errno, "legacy-no-write-permission"),
    })
}

/// Every check that depends on who asks rather than on the row, in Android's order: private
/// dirs, uids below 10000 and unregistered uids, own app dirs and installers, then the storage
/// bypass. `None` means a scoped app: the row and the directory decide.
pub(super) fn gate(caller: &Caller, info: &PathInfo, need: Need) -> Option<Decision> {
    if let Some(d) = other_user_denial(caller) {
        return Some(d);
    }
    let area = app_dir_access(caller, info);
    if area == AppDirAccess::OtherPrivate {
        return private_denial(caller, info);
    }
    if let Some(d) = uid_gate(caller) {
        return Some(d);
    }
    match area {
        AppDirAccess::Own => Some(Decision::allow("own-app-dir")),
        AppDirAccess::InstallerObb => Some(Decision::allow("installer-obb")),
        _ => storage_gate(caller, need),
    }
}

/// Pending and trashed on-disk names are owner-only for scoped apps, grants notwithstanding
/// (SPEC §5.7); the gallery role and bypass callers are decided before this is asked.
pub(super) fn special_name_denial(path: &VolPath) -> Option<&'static str> {
    parse_special_name(path.file_name()).map(|s| match s {
        SpecialName::Pending { .. } => "pending-owner-only",
        SpecialName::Trashed { .. } => "trashed-owner-only",
    })
}
