//! Renames of files and directories (SPEC §5.6).

use super::gates::{
    app_dir_access, is_other_private, name_denial, other_user_denial, storage_gate, uid_gate,
    AppDirAccess, Need,
};
use super::types::{Decision, FileFacts, Target};
use super::write::{may_write, placement};
use crate::errno::Errno;
use crate::identity::Caller;
use crate::mime::media_type_of;
use crate::paths::{AppArea, PathInfo, VolPath};

/// `RENAME_NOREPLACE`; every other flag is EINVAL.
pub const RENAME_NOREPLACE: u32 = 1;

/// Renaming `old` to `new`. `contents` lists every file below `old` when it is a directory
/// (path, facts), so a directory rename is allowed only if every contained file may move.
pub fn rename(
    caller: &Caller,
    old: Target,
    new: Target,
    flags: u32,
    contents: &[(VolPath, FileFacts)],
) -> Decision {
    if flags & !RENAME_NOREPLACE != 0 {
        return Decision::deny(Errno::EINVAL, "rename-flags");
    }
    if let Some(d) = other_user_denial(caller) {
        return d;
    }
    let (oi, ni) = (old.path.info(), new.path.info());
    if is_other_private(caller, &oi) || is_other_private(caller, &ni) {
        return Decision::deny(Errno::EACCES, "private-dir-other-app");
    }
    if !old.facts.exists {
        return Decision::deny(Errno::ENOENT, "no-such-file");
    }
    // The kernel answers this on the target's positive dentry, before asking the daemon.
    if flags & RENAME_NOREPLACE != 0 && new.facts.exists {
        return Decision::deny(Errno::EEXIST, "rename-noreplace");
    }
    // `Android` and `Android/{data,obb,media}` hold other apps' private dirs: moving one (or
    // putting something in its place) would hand their contents to the mover (SPEC §9).
    let reserved = |i: &PathInfo| i.is_android_dir() || i.is_app_area_root();
    if reserved(&oi) || reserved(&ni) {
        return Decision::deny(Errno::EACCES, "rename-android");
    }
    if let Some(d) = name_denial(caller, new.path).or_else(|| uid_gate(caller)) {
        return d;
    }
    // Moves between app dirs the caller fully controls skip the shared-storage checks.
    let unconfined = |i: &PathInfo| match app_dir_access(caller, i) {
        AppDirAccess::Own => Some("own-app-dir"),
        AppDirAccess::InstallerObb => Some("installer-obb"),
        _ => None,
    };
    if let (Some(_), Some(rule)) = (unconfined(&oi), unconfined(&ni)) {
        return Decision::allow(rule);
    }
    storage_gate(caller, Need::Write(Errno::EACCES))
        .unwrap_or_else(|| scoped_rename(caller, old, new, contents))
}

/// `Android/media/<pkg>/…`: the only part of `Android/` a scoped app may rename into.
fn in_app_media_dir(info: &PathInfo) -> bool {
    info.depth >= 4 && matches!(info.app_dir_package(), Some((AppArea::Media, _)))
}

/// SPEC §5.6 for callers without MES or legacy write access.
fn scoped_rename(
    caller: &Caller,
    old: Target,
    new: Target,
    contents: &[(VolPath, FileFacts)],
) -> Decision {
    let (oi, ni) = (old.path.info(), new.path.info());
    let eperm = |rule| Decision::deny(Errno::EPERM, rule);
    if oi.depth == 1 && oi.default_top.is_some() {
        return eperm("rename-default-dir");
    }
    let own_old = app_dir_access(caller, &oi) == AppDirAccess::Own;
    if oi.in_android && !own_old && !in_app_media_dir(&oi) {
        return eperm("rename-from-android");
    }
    if ni.in_android && !in_app_media_dir(&ni) {
        return eperm("rename-into-android");
    }
    let gallery_file =
        !old.facts.is_dir && caller.gallery() && media_type_of(new.path.file_name()).is_visual();
    if ni.depth <= 1 && !gallery_file {
        return eperm("rename-into-root");
    }
    let denial = if old.facts.is_dir {
        contents.iter().find_map(|(p, f)| {
            let to = p.rebase(old.path, new.path)?;
            move_denial(caller, Target { path: p, facts: f }, &to, true)
        })
    } else {
        move_denial(caller, old, new.path, false)
    };
    if let Some(rule) = denial {
        return eperm(rule);
    }
    // Replacing a file deletes it, which needs write access to it.
    if new.facts.exists && !new.facts.is_dir && !may_write(caller, new) {
        return eperm("rename-target-not-writable");
    }
    Decision::allow(if old.facts.is_dir {
        "rename-dir"
    } else {
        "rename-file"
    })
}

/// Why one file may not move from `from` to `to`: its new name must suit the target dir
/// (its media type follows the new name) and the caller must be able to write it.
fn move_denial(
    caller: &Caller,
    from: Target,
    to: &VolPath,
    in_dir_rename: bool,
) -> Option<&'static str> {
    if placement(caller, to, in_dir_rename).is_err() {
        return Some("rename-type-not-allowed-in-dir");
    }
    if !may_write(caller, from) {
        return Some("rename-not-writable");
    }
    None
}
