//! The scoped-storage rule engine (SPEC §5, §6 first paragraph). One decision function per
//! operation; each returns allow/deny with the errno the app sees, the I/O mode for opens and the
//! name of the rule that decided. Pure: the caller supplies everything known about the file.

use crate::errno::Errno;
use crate::identity::Caller;
use crate::mime::{media_type_of, MediaType};
use crate::paths::{
    is_fat_invalid_name, parse_special_name, AppArea, PathInfo, SpecialName, VolPath,
};

/// The operations of SPEC §3 `explain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lookup,
    Getattr,
    OpenRead,
    OpenWrite,
    Create,
    Mkdir,
    Rmdir,
    Unlink,
    Rename,
    Opendir,
    Readdir,
    AccessRead,
    AccessWrite,
    Setattr,
}

impl Op {
    pub const ALL: [Op; 14] = [
        Op::Lookup,
        Op::Getattr,
        Op::OpenRead,
        Op::OpenWrite,
        Op::Create,
        Op::Mkdir,
        Op::Rmdir,
        Op::Unlink,
        Op::Rename,
        Op::Opendir,
        Op::Readdir,
        Op::AccessRead,
        Op::AccessWrite,
        Op::Setattr,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Lookup => "lookup",
            Op::Getattr => "getattr",
            Op::OpenRead => "open-read",
            Op::OpenWrite => "open-write",
            Op::Create => "create",
            Op::Mkdir => "mkdir",
            Op::Rmdir => "rmdir",
            Op::Unlink => "unlink",
            Op::Rename => "rename",
            Op::Opendir => "opendir",
            Op::Readdir => "readdir",
            Op::AccessRead => "access-read",
            Op::AccessWrite => "access-write",
            Op::Setattr => "setattr",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|o| o.name() == s)
    }
}

/// How an allowed open is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io {
    /// Handed to the kernel with a backing id: lower-filesystem speed.
    Passthrough,
    /// Served by the daemon with location ranges rewritten.
    Redacted,
    /// Served by the daemon unmodified (passthrough unavailable or disabled).
    Daemon,
}

impl Io {
    pub fn name(self) -> &'static str {
        match self {
            Io::Passthrough => "passthrough",
            Io::Redacted => "redacted",
            Io::Daemon => "daemon",
        }
    }
}

/// A policy decision: `errno == None` means allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub errno: Option<Errno>,
    pub io: Option<Io>,
    pub rule: &'static str,
}

impl Decision {
    pub fn allow(rule: &'static str) -> Decision {
        Decision {
            errno: None,
            io: None,
            rule,
        }
    }
    pub fn deny(errno: Errno, rule: &'static str) -> Decision {
        Decision {
            errno: Some(errno),
            io: None,
            rule,
        }
    }
    fn with_io(mut self, io: Io) -> Decision {
        if self.errno.is_none() {
            self.io = Some(io);
        }
        self
    }
    pub fn allowed(&self) -> bool {
        self.errno.is_none()
    }
    pub fn result(&self) -> Result<(), Errno> {
        match self.errno {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// A per-item grant (`app grant-file`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Grant {
    #[default]
    None,
    Read,
    Write,
}

/// What the store and the lower tree know about one file, for one caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileFacts {
    pub exists: bool,
    pub is_dir: bool,
    pub owner: Option<String>,
    /// Media type of the row (follows the name).
    pub media_type: Option<MediaType>,
    /// Hidden media: dot-name, or in a hidden dir (`.nomedia`, dot-dir), per SPEC §5.2.
    pub hidden: bool,
    /// Created through FUSE and not yet closed (`is_pending` without a `.pending-` name).
    pub fuse_pending: bool,
    /// The content carries location (scanner found ranges).
    pub has_location: bool,
    /// This caller's per-item grant on the row.
    pub grant: Grant,
}

impl FileFacts {
    pub fn file(owner: Option<&str>, name: &str) -> FileFacts {
        FileFacts {
            exists: true,
            owner: owner.map(str::to_string),
            media_type: Some(media_type_of(name)),
            ..FileFacts::default()
        }
    }
    pub fn dir() -> FileFacts {
        FileFacts {
            exists: true,
            is_dir: true,
            ..FileFacts::default()
        }
    }
    pub fn absent() -> FileFacts {
        FileFacts::default()
    }
}

/// Everything one decision needs about one path.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub path: &'a VolPath,
    pub facts: &'a FileFacts,
}

// ---- shared gates ----------------------------------------------------------------------------

/// Where a caller stands relative to an app-specific area of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AppDirAccess {
    /// Not in `Android/{data,obb,media}/<pkg>`.
    NotAppDir,
    /// The caller's own `Android/{data,obb,media}/<pkg>`: full access, no DB checks.
    Own,
    /// Another app's `Android/obb/<pkg>` opened by an installer.
    InstallerObb,
    /// Another app's `Android/media/<pkg>`: shared storage.
    OtherMedia,
    /// Another app's `Android/{data,obb}/<pkg>`: must look as if it did not exist.
    OtherPrivate,
}

fn app_dir_access(caller: &Caller, info: &PathInfo) -> AppDirAccess {
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

/// Scoped read access to an existing file owned by someone else (SPEC §5.2); `None` = allowed.
fn scoped_read_denial(caller: &Caller, path: &VolPath, f: &FileFacts) -> Option<&'static str> {
    let owner = f.owner.as_deref().is_some_and(|o| caller.owns_package(o));
    let media = f.media_type.unwrap_or(MediaType::None);
    if owner || f.grant != Grant::None {
        return None;
    }
    // Pending/trashed names: owner, MES and the gallery role for image/video only (§5.7).
    match parse_special_name(path.file_name()) {
        Some(SpecialName::Pending { .. }) => return Some("pending-owner-only"),
        Some(SpecialName::Trashed { .. }) => return Some("trashed-owner-only"),
        None => {}
    }
    let permitted = match media {
        MediaType::Image => caller.read_images(),
        MediaType::Video => caller.read_video(),
        MediaType::Audio | MediaType::Playlist => caller.read_audio(),
        MediaType::Subtitle => caller.read_audio() || caller.read_video(),
        MediaType::None | MediaType::Document => return Some("non-media-other-app"),
    };
    if f.hidden {
        return Some("hidden-media-other-app");
    }
    if permitted {
        None
    } else {
        Some("no-read-permission")
    }
}

/// May the caller write (modify, delete, rename) an existing file? `Ok(rule)` names why.
fn write_access(caller: &Caller, path: &VolPath, f: &FileFacts) -> Result<&'static str, ()> {
    if caller.is_privileged() {
        return Ok("privileged-uid");
    }
    if caller.is_shell() {
        return Ok("shell");
    }
    match app_dir_access(caller, &path.info()) {
        AppDirAccess::Own => return Ok("own-app-dir"),
        AppDirAccess::InstallerObb => return Ok("installer-obb"),
        _ => {}
    }
    if caller.mes() {
        return Ok("manage-external-storage");
    }
    if caller.legacy_write() {
        return Ok("legacy-write");
    }
    let media = f.media_type.unwrap_or(MediaType::None);
    if caller.gallery() && media.is_visual() {
        return Ok("gallery-role");
    }
    if f.owner.as_deref().is_some_and(|o| caller.owns_package(o)) {
        return Ok("owner");
    }
    if f.grant == Grant::Write {
        return Ok("write-grant");
    }
    Err(())
}

// ---- lookup / getattr ------------------------------------------------------------------------

/// Lookup and getattr are not secret (CTS asserts `exists()` on others' files), except inside
/// another app's private dir, which must look absent (§5.1).
pub fn lookup(caller: &Caller, path: &VolPath) -> Decision {
    if app_dir_access(caller, &path.info()) == AppDirAccess::OtherPrivate {
        return Decision::deny(Errno::ENOENT, "private-dir-other-app");
    }
    Decision::allow("stat-not-secret")
}

// ---- open / access / setattr -----------------------------------------------------------------

/// Read-only open. On success `io` says whether the caller gets the original bytes
/// (passthrough) or the redacted view (§6).
pub fn open_read(caller: &Caller, t: Target) -> Decision {
    let d = read_decision(caller, t);
    if !d.allowed() {
        return d;
    }
    if t.facts.has_location && needs_redaction(caller, t, d.rule) {
        d.with_io(Io::Redacted)
    } else {
        d.with_io(Io::Passthrough)
    }
}

fn read_decision(caller: &Caller, t: Target) -> Decision {
    let info = t.path.info();
    match app_dir_access(caller, &info) {
        AppDirAccess::OtherPrivate => return Decision::deny(Errno::ENOENT, "private-dir-other-app"),
        AppDirAccess::Own if caller.is_privileged() => return Decision::allow("privileged-uid"),
        AppDirAccess::Own if caller.is_shell() => return Decision::allow("shell"),
        AppDirAccess::Own => return Decision::allow("own-app-dir"),
        AppDirAccess::InstallerObb => return Decision::allow("installer-obb"),
        AppDirAccess::OtherMedia | AppDirAccess::NotAppDir => {}
    }
    if caller.is_privileged() {
        return Decision::allow("privileged-uid");
    }
    if caller.is_shell() {
        return Decision::allow("shell");
    }
    if caller.kind == crate::identity::CallerKind::Unregistered {
        return Decision::deny(Errno::EACCES, "unregistered-uid");
    }
    if caller.is_legacy() {
        return if caller.legacy_read() {
            Decision::allow("legacy-read")
        } else {
            Decision::deny(Errno::EACCES, "legacy-no-permission")
        };
    }
    if caller.mes() {
        return Decision::allow("manage-external-storage");
    }
    let media = t.facts.media_type.unwrap_or(MediaType::None);
    if caller.gallery() && media.is_visual() {
        return Decision::allow("gallery-role");
    }
    if t.facts.owner.as_deref().is_some_and(|o| caller.owns_package(o)) {
        return Decision::allow("owner");
    }
    match scoped_read_denial(caller, t.path, t.facts) {
        Some(rule) => Decision::deny(Errno::EACCES, rule),
        None if t.facts.grant == Grant::Write => Decision::allow("write-grant"),
        None if t.facts.grant == Grant::Read => Decision::allow("read-grant"),
        None => Decision::allow(match media {
            MediaType::Image => "read-media-images",
            MediaType::Video => "read-media-video",
            MediaType::Subtitle if caller.read_video() && !caller.read_audio() => {
                "read-media-video"
            }
            _ => "read-media-audio",
        }),
    }
}

/// SPEC §6: redact for read-only opens unless the caller holds ACCESS_MEDIA_LOCATION, owns the
/// file, has a write grant, or is a bypass caller.
fn needs_redaction(caller: &Caller, t: Target, rule: &str) -> bool {
    if caller.location() {
        return false;
    }
    !matches!(
        rule,
        "privileged-uid"
            | "shell"
            | "own-app-dir"
            | "installer-obb"
            | "legacy-read"
            | "manage-external-storage"
            | "gallery-role"
            | "owner"
            | "write-grant"
    ) && !t.facts.owner.as_deref().is_some_and(|o| caller.owns_package(o))
}

/// Write open (also `O_RDWR`); never redacted.
pub fn open_write(caller: &Caller, t: Target) -> Decision {
    write_like(caller, t, Errno::EACCES).with_io(Io::Passthrough)
}

/// `access(R_OK)`: same answer as a read open, without I/O mode.
pub fn access_read(caller: &Caller, t: Target) -> Decision {
    if t.facts.is_dir {
        return dir_access_read(caller, t.path);
    }
    read_decision(caller, t)
}

/// `access(W_OK)`: same answer as a write open.
pub fn access_write(caller: &Caller, t: Target) -> Decision {
    if t.facts.is_dir {
        return dir_access_write(caller, t.path);
    }
    write_like(caller, t, Errno::EACCES)
}

/// Path-based setattr (truncate, utimes) needs write access; chmod/chown are ignored by the
/// daemon before they get here.
pub fn setattr(caller: &Caller, t: Target) -> Decision {
    if t.facts.is_dir {
        return match app_dir_access(caller, &t.path.info()) {
            AppDirAccess::OtherPrivate => Decision::deny(Errno::ENOENT, "private-dir-other-app"),
            _ => dir_access_write(caller, t.path),
        };
    }
    write_like(caller, t, Errno::EACCES)
}

fn write_like(caller: &Caller, t: Target, denial: Errno) -> Decision {
    let info = t.path.info();
    if app_dir_access(caller, &info) == AppDirAccess::OtherPrivate {
        return Decision::deny(Errno::ENOENT, "private-dir-other-app");
    }
    if caller.kind == crate::identity::CallerKind::Unregistered {
        return Decision::deny(Errno::EACCES, "unregistered-uid");
    }
    if caller.is_legacy() && !caller.legacy_write() && app_dir_access(caller, &info) != AppDirAccess::Own {
        return Decision::deny(denial, "legacy-no-write-permission");
    }
    match write_access(caller, t.path, t.facts) {
        Ok(rule) => Decision::allow(rule),
        Err(()) => Decision::deny(denial, "no-write-access"),
    }
}

// ---- unlink ----------------------------------------------------------------------------------

/// Deleting a file: a file the caller may not write looks like it matched no row → ENOENT.
pub fn unlink(caller: &Caller, t: Target) -> Decision {
    let info = t.path.info();
    if app_dir_access(caller, &info) == AppDirAccess::OtherPrivate {
        return Decision::deny(Errno::ENOENT, "private-dir-other-app");
    }
    if caller.kind == crate::identity::CallerKind::Unregistered {
        return Decision::deny(Errno::EACCES, "unregistered-uid");
    }
    if caller.is_legacy() && !caller.legacy_write() && app_dir_access(caller, &info) != AppDirAccess::Own {
        return Decision::deny(Errno::EPERM, "legacy-no-write-permission");
    }
    match write_access(caller, t.path, t.facts) {
        Ok(rule) => Decision::allow(rule),
        Err(()) => Decision::deny(Errno::ENOENT, "delete-not-writable"),
    }
}

// ---- create ----------------------------------------------------------------------------------

/// Which media types a top-level dir accepts for a new file (§5.4); `None` = none at all.
fn dir_accepts(info: &PathInfo, media: MediaType) -> bool {
    use MediaType::*;
    let Some(top) = info.default_top else {
        return false;
    };
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

/// May `caller` place a file named like `path` there, by type and directory (ignoring whether
/// the name exists)? Used by create and by rename's target check.
fn placement(caller: &Caller, path: &VolPath, errno_if_denied: Errno) -> Decision {
    let info = path.info();
    match app_dir_access(caller, &info) {
        AppDirAccess::OtherPrivate => return Decision::deny(Errno::ENOENT, "private-dir-other-app"),
        AppDirAccess::Own if caller.is_privileged() => return Decision::allow("privileged-uid"),
        AppDirAccess::Own if caller.is_shell() => return Decision::allow("shell"),
        AppDirAccess::Own if info.depth >= 4 => return Decision::allow("own-app-dir"),
        AppDirAccess::InstallerObb if info.depth >= 4 => return Decision::allow("installer-obb"),
        _ => {}
    }
    if caller.is_privileged() {
        return Decision::allow("privileged-uid");
    }
    if caller.is_shell() {
        return Decision::allow("shell");
    }
    if caller.kind == crate::identity::CallerKind::Unregistered {
        return Decision::deny(Errno::EACCES, "unregistered-uid");
    }
    if caller.is_legacy() && !caller.legacy_write() {
        return Decision::deny(Errno::EPERM, "legacy-no-write-permission");
    }
    if caller.writes_anywhere() {
        return Decision::allow(if caller.mes() {
            "manage-external-storage"
        } else {
            "legacy-write"
        });
    }
    let media = media_type_of(path.file_name());
    if caller.gallery() && media.is_visual() {
        return Decision::allow("gallery-role");
    }
    if info.depth <= 1 {
        return Decision::deny(errno_if_denied, "no-files-in-root");
    }
    if info.in_android {
        return Decision::deny(errno_if_denied, "android-dir-not-shared");
    }
    if info.default_top.is_none() {
        return Decision::deny(errno_if_denied, "non-default-top-dir");
    }
    if dir_accepts(&info, media) {
        Decision::allow("type-allowed-in-dir")
    } else {
        Decision::deny(errno_if_denied, "type-not-allowed-in-dir")
    }
}

/// Creating a new file at `t.path` (`t.facts` describes any existing entry with that name).
pub fn create(caller: &Caller, t: Target) -> Decision {
    if !caller.is_privileged() && is_fat_invalid_name(t.path.file_name()) {
        return Decision::deny(Errno::EPERM, "fat-invalid-name");
    }
    let d = placement(caller, t.path, Errno::EPERM);
    if d.errno == Some(Errno::ENOENT) {
        return d;
    }
    if t.facts.exists {
        return Decision::deny(Errno::EEXIST, "name-exists");
    }
    d.with_io(Io::Passthrough)
}

// ---- directories -----------------------------------------------------------------------------

/// opendir/readdir: every app may list every shared dir; content is filtered per file.
pub fn opendir(caller: &Caller, path: &VolPath) -> Decision {
    dir_access_read(caller, path)
}

fn dir_access_read(caller: &Caller, path: &VolPath) -> Decision {
    let info = path.info();
    match app_dir_access(caller, &info) {
        AppDirAccess::OtherPrivate => return Decision::deny(Errno::ENOENT, "private-dir-other-app"),
        AppDirAccess::Own if caller.is_privileged() => return Decision::allow("privileged-uid"),
        AppDirAccess::Own if caller.is_shell() => return Decision::allow("shell"),
        AppDirAccess::Own => return Decision::allow("own-app-dir"),
        AppDirAccess::InstallerObb => return Decision::allow("installer-obb"),
        _ => {}
    }
    if caller.is_privileged() {
        return Decision::allow("privileged-uid");
    }
    if caller.is_shell() {
        return Decision::allow("shell");
    }
    if info.is_data_or_obb_root() {
        return Decision::deny(Errno::EACCES, "android-data-obb-not-listable");
    }
    if caller.is_legacy() && !caller.legacy_read() {
        return Decision::deny(Errno::EACCES, "legacy-no-permission");
    }
    Decision::allow("list-shared-dir")
}

fn dir_access_write(caller: &Caller, path: &VolPath) -> Decision {
    let d = mkdir_placement(caller, path);
    if d.allowed() || d.errno == Some(Errno::ENOENT) {
        return d;
    }
    // W_OK on an existing directory: its contents may be created in, which mkdir's rules
    // answer for deeper dirs; top-level default dirs accept files too.
    if path.info().depth == 1 && path.info().default_top.is_some() {
        return Decision::allow("top-level-default");
    }
    d
}

fn mkdir_placement(caller: &Caller, path: &VolPath) -> Decision {
    let info = path.info();
    match app_dir_access(caller, &info) {
        AppDirAccess::OtherPrivate => return Decision::deny(Errno::ENOENT, "private-dir-other-app"),
        AppDirAccess::Own if caller.is_privileged() => return Decision::allow("privileged-uid"),
        AppDirAccess::Own if caller.is_shell() => return Decision::allow("shell"),
        AppDirAccess::Own => return Decision::allow("own-app-dir"),
        AppDirAccess::InstallerObb => return Decision::allow("installer-obb"),
        _ => {}
    }
    if caller.is_privileged() {
        return Decision::allow("privileged-uid");
    }
    if caller.is_shell() {
        return Decision::allow("shell");
    }
    if caller.kind == crate::identity::CallerKind::Unregistered {
        return Decision::deny(Errno::EACCES, "unregistered-uid");
    }
    if caller.is_legacy() && !caller.legacy_write() {
        return Decision::deny(Errno::EACCES, "legacy-no-write-permission");
    }
    if caller.writes_anywhere() {
        if info.is_data_or_obb_root() || info.is_android_dir() {
            return Decision::deny(Errno::EACCES, "android-dir-reserved");
        }
        return Decision::allow(if caller.mes() {
            "manage-external-storage"
        } else {
            "legacy-write"
        });
    }
    if info.is_app_area_root() || info.is_android_dir() {
        return Decision::deny(Errno::EACCES, "android-dir-reserved");
    }
    if info.depth == 1 {
        return if info.default_top.is_some() {
            Decision::allow("top-level-default")
        } else {
            Decision::deny(Errno::EACCES, "top-level-not-default")
        };
    }
    Decision::allow("deeper-dir")
}

pub fn mkdir(caller: &Caller, t: Target) -> Decision {
    if !caller.is_privileged() && is_fat_invalid_name(t.path.file_name()) {
        return Decision::deny(Errno::EPERM, "fat-invalid-name");
    }
    let d = mkdir_placement(caller, t.path);
    if !d.allowed() {
        return d;
    }
    if t.facts.exists {
        return Decision::deny(Errno::EEXIST, "name-exists");
    }
    d
}

/// rmdir; ENOTEMPTY is the lower filesystem's answer (invisible files count).
pub fn rmdir(caller: &Caller, path: &VolPath) -> Decision {
    let info = path.info();
    match app_dir_access(caller, &info) {
        AppDirAccess::OtherPrivate => return Decision::deny(Errno::ENOENT, "private-dir-other-app"),
        AppDirAccess::Own if caller.is_privileged() => return Decision::allow("privileged-uid"),
        AppDirAccess::Own if caller.is_shell() => return Decision::allow("shell"),
        AppDirAccess::Own => return Decision::allow("own-app-dir"),
        AppDirAccess::InstallerObb => return Decision::allow("installer-obb"),
        _ => {}
    }
    if caller.is_privileged() {
        return Decision::allow("privileged-uid");
    }
    if info.depth <= 1 {
        return Decision::deny(Errno::EACCES, "top-level-dir");
    }
    if info.is_app_area_root() {
        return Decision::deny(Errno::EACCES, "android-dir-reserved");
    }
    if caller.is_shell() {
        return Decision::allow("shell");
    }
    if caller.kind == crate::identity::CallerKind::Unregistered {
        return Decision::deny(Errno::EACCES, "unregistered-uid");
    }
    if caller.is_legacy() && !caller.legacy_write() {
        return Decision::deny(Errno::EACCES, "legacy-no-write-permission");
    }
    if caller.writes_anywhere() {
        return Decision::allow(if caller.mes() {
            "manage-external-storage"
        } else {
            "legacy-write"
        });
    }
    Decision::allow("deeper-dir")
}

// ---- rename ----------------------------------------------------------------------------------

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
    let oi = old.path.info();
    let ni = new.path.info();
    if oi.is_android_dir() || ni.is_android_dir() {
        return Decision::deny(Errno::EACCES, "rename-android");
    }
    if app_dir_access(caller, &oi) == AppDirAccess::OtherPrivate
        || app_dir_access(caller, &ni) == AppDirAccess::OtherPrivate
    {
        return Decision::deny(Errno::EACCES, "private-dir-other-app");
    }
    if !caller.is_privileged() && is_fat_invalid_name(new.path.file_name()) {
        return Decision::deny(Errno::EPERM, "fat-invalid-name");
    }
    let d = rename_checks(caller, old, new, contents);
    if d.allowed() && new.facts.exists && flags & RENAME_NOREPLACE != 0 {
        return Decision::deny(Errno::EEXIST, "rename-noreplace");
    }
    d
}

fn rename_checks(
    caller: &Caller,
    old: Target,
    new: Target,
    contents: &[(VolPath, FileFacts)],
) -> Decision {
    let oi = old.path.info();
    let ni = new.path.info();
    if caller.is_privileged() {
        return Decision::allow("privileged-uid");
    }
    if caller.is_shell() {
        return Decision::allow("shell");
    }
    if caller.kind == crate::identity::CallerKind::Unregistered {
        return Decision::deny(Errno::EACCES, "unregistered-uid");
    }
    let old_own = app_dir_access(caller, &oi) == AppDirAccess::Own && oi.depth >= 4;
    let new_own = app_dir_access(caller, &ni) == AppDirAccess::Own && ni.depth >= 4;
    if old_own && new_own {
        return Decision::allow("own-app-dir");
    }
    if caller.is_legacy() && !caller.legacy_write() {
        return Decision::deny(Errno::EACCES, "legacy-no-write-permission");
    }
    if caller.writes_anywhere() {
        return Decision::allow(if caller.mes() {
            "manage-external-storage"
        } else {
            "legacy-write"
        });
    }
    if oi.depth == 1 && oi.default_top.is_some() {
        return Decision::deny(Errno::EPERM, "rename-default-dir");
    }
    if oi.in_android && !old_own && !matches!(oi.app_dir_package(), Some((AppArea::Media, _)) if oi.depth >= 4)
    {
        return Decision::deny(Errno::EPERM, "rename-from-android");
    }
    if ni.in_android && !new_own && !matches!(ni.app_dir_package(), Some((AppArea::Media, _)) if ni.depth >= 4)
    {
        return Decision::deny(Errno::EPERM, "rename-into-android");
    }
    if ni.depth <= 1 {
        let gallery_file = !old.facts.is_dir
            && caller.gallery()
            && media_type_of(new.path.file_name()).is_visual();
        if !gallery_file {
            return Decision::deny(Errno::EPERM, "rename-into-root");
        }
    }
    if old.facts.is_dir {
        for (p, f) in contents {
            let Some(np) = p.rebase(old.path, new.path) else {
                continue;
            };
            if let Some(rule) = file_move_denial(caller, Target { path: p, facts: f }, &np) {
                return Decision::deny(Errno::EPERM, rule);
            }
        }
    } else if let Some(rule) = file_move_denial(caller, old, new.path) {
        return Decision::deny(Errno::EPERM, rule);
    }
    if new.facts.exists && !new.facts.is_dir && write_access(caller, new.path, new.facts).is_err()
    {
        return Decision::deny(Errno::EPERM, "rename-target-not-writable");
    }
    Decision::allow(if old.facts.is_dir {
        "rename-dir"
    } else {
        "rename-file"
    })
}

/// Why one file may not move from `from` to `to`, if it may not.
fn file_move_denial(caller: &Caller, from: Target, to: &VolPath) -> Option<&'static str> {
    let ti = to.info();
    let into_own_or_media = match app_dir_access(caller, &ti) {
        AppDirAccess::Own | AppDirAccess::OtherMedia => ti.depth >= 4,
        _ => false,
    };
    if !into_own_or_media {
        let media = media_type_of(to.file_name());
        let gallery_ok = caller.gallery() && media.is_visual();
        if !gallery_ok && (ti.default_top.is_none() || !dir_accepts(&ti, media)) {
            return Some("rename-type-not-allowed-in-dir");
        }
    }
    if write_access(caller, from.path, from.facts).is_err() {
        return Some("rename-not-writable");
    }
    None
}

// ---- readdir filtering -----------------------------------------------------------------------

/// Is a file in a listing visible to `caller`? Mirrors the read rules, and additionally hides
/// other apps' FUSE-pending files (§5.7). `path` is the file's path.
pub fn visible_in_listing(caller: &Caller, path: &VolPath, f: &FileFacts) -> bool {
    if f.fuse_pending && !f.owner.as_deref().is_some_and(|o| caller.owns_package(o)) {
        let bypass = caller.is_privileged()
            || caller.is_shell()
            || caller.mes()
            || caller.legacy_read()
            || (caller.gallery() && f.media_type.unwrap_or(MediaType::None).is_visual())
            || app_dir_access(caller, &path.info()) == AppDirAccess::Own;
        if !bypass {
            return false;
        }
    }
    read_decision(caller, Target { path, facts: f }).allowed()
}

/// One `explain` decision for `op` (rename uses [`rename`] directly).
pub fn decide(caller: &Caller, op: Op, t: Target) -> Decision {
    match op {
        Op::Lookup | Op::Getattr => lookup(caller, t.path),
        Op::OpenRead => open_read(caller, t),
        Op::OpenWrite => open_write(caller, t),
        Op::Create => create(caller, t),
        Op::Mkdir => mkdir(caller, t),
        Op::Rmdir => rmdir(caller, t.path),
        Op::Unlink => unlink(caller, t),
        Op::Opendir | Op::Readdir => opendir(caller, t.path),
        Op::AccessRead => access_read(caller, t),
        Op::AccessWrite => access_write(caller, t),
        Op::Setattr => setattr(caller, t),
        Op::Rename => Decision::deny(Errno::EINVAL, "rename-needs-two-paths"),
    }
}
