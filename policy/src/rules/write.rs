//! Writes to existing files, deletes and file creation (SPEC §5.3, §5.4).

use super::dirs::dir_write;
use super::gates::{
    app_dir_access, gate, name_denial, private_denial, special_name_denial, AppDirAccess, Need,
};
use super::types::{Decision, Grant, Io, Target};
use crate::errno::Errno;
use crate::identity::Caller;
use crate::mime::{media_type_of, MediaType};
use crate::paths::VolPath;

/// Scoped write access to an existing file (SPEC §5.3); READ_* never grants writes.
fn scoped_write(caller: &Caller, t: Target) -> Option<&'static str> {
    if caller.gallery() && t.media().is_visual() {
        Some("gallery-role")
    } else if t.owned_by(caller) {
        Some("owner")
    } else if t.facts.grant == Grant::Write && special_name_denial(t.path).is_none() {
        Some("write-grant")
    } else {
        None
    }
}

/// Modifying an existing file. `None`: a scoped app without write access, whose errno
/// depends on the operation.
fn write_access(caller: &Caller, t: Target, need: Need) -> Option<Decision> {
    gate(caller, &t.path.info(), need).or_else(|| scoped_write(caller, t).map(Decision::allow))
}

pub(super) fn may_write(caller: &Caller, t: Target) -> bool {
    write_access(caller, t, Need::Write(Errno::EACCES)).is_some_and(|d| d.allowed())
}

/// Write open (also `O_RDWR`); never redacted.
pub fn open_write(caller: &Caller, t: Target) -> Decision {
    access_write(caller, t).with_io(Io::Passthrough)
}

/// `access(W_OK)`: a file answers like a write open, a directory like creating inside it.
pub fn access_write(caller: &Caller, t: Target) -> Decision {
    if t.facts.is_dir {
        return dir_write(caller, t.path);
    }
    write_access(caller, t, Need::Write(Errno::EACCES))
        .unwrap_or(Decision::deny(Errno::EACCES, "no-write-access"))
}

/// Path-based setattr (truncate, utimes) needs write access, like `access(W_OK)`; chmod/chown
/// are ignored by the daemon before they get here.
pub fn setattr(caller: &Caller, t: Target) -> Decision {
    access_write(caller, t)
}

/// Deleting a file. Android deletes through the caller's write filter, so a file the caller
/// may not write matched no row: ENOENT, not EACCES (§5.3).
pub fn unlink(caller: &Caller, t: Target) -> Decision {
    write_access(caller, t, Need::Write(Errno::EPERM))
        .unwrap_or(Decision::deny(Errno::ENOENT, "delete-not-writable"))
}

// ---- create ----------------------------------------------------------------------------------

/// Which media types a default top-level dir accepts for a new file (§5.4's table).
fn dir_accepts(top: &str, media: MediaType) -> bool {
    use MediaType::*;
    match top {
        "DCIM" | "Pictures" => matches!(media, Image | Video),
        "Movies" => matches!(media, Video | Subtitle | Playlist),
        "Music" => matches!(media, Audio | Playlist | Subtitle),
        "Alarms" | "Audiobooks" | "Notifications" | "Podcasts" | "Recordings" | "Ringtones" => {
            media == Audio
        }
        "Download" | "Documents" => true,
        _ => false,
    }
}

/// May a scoped app put a file named like `path` there (§5.4)? Answers for creates and for
/// every file a rename moves. `Ok(rule)` allows, `Err(rule)` denies.
///
/// `in_dir_rename`: the gallery role's "image/video anywhere" is Android's bypass gate, which
/// looks at the *renamed path's* name; a directory never passes it, so files moved along with
/// a directory must suit the target dir (CTS `testSystemGalleryCanRenameImageAndVideoDirs`).
pub(super) fn placement(
    caller: &Caller,
    path: &VolPath,
    in_dir_rename: bool,
) -> Result<&'static str, &'static str> {
    let info = path.info();
    let media = media_type_of(path.file_name());
    if app_dir_access(caller, &info) == AppDirAccess::Own && info.depth >= 4 {
        return Ok("own-app-dir");
    }
    if !in_dir_rename && caller.gallery() && media.is_visual() {
        return Ok("gallery-role");
    }
    if info.depth <= 1 {
        return Err("no-files-in-root");
    }
    // Covers another app's Android/media/<pkg>: shared for reading, but nobody else's to fill.
    if info.in_android {
        return Err("android-dir-not-shared");
    }
    match info.default_top {
        None => Err("non-default-top-dir"),
        Some(top) if dir_accepts(top, media) => Ok("type-allowed-in-dir"),
        Some(_) => Err("type-not-allowed-in-dir"),
    }
}

/// Creating a new file at `t.path` (`t.facts` describes any existing entry with that name).
/// An existing name answers EEXIST before any permission check, as the kernel does on its
/// positive dentry (lookup is not secret); only another app's private dir hides it.
pub fn create(caller: &Caller, t: Target) -> Decision {
    let info = t.path.info();
    if let Some(d) = private_denial(caller, &info) {
        return d;
    }
    if t.facts.exists {
        return Decision::deny(Errno::EEXIST, "name-exists");
    }
    if let Some(d) = name_denial(caller, t.path) {
        return d;
    }
    gate(caller, &info, Need::Write(Errno::EPERM))
        .unwrap_or_else(|| match placement(caller, t.path, false) {
            Ok(rule) => Decision::allow(rule),
            Err(rule) => Decision::deny(Errno::EPERM, rule),
        })
        .with_io(Io::Passthrough)
}
