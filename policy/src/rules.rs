//! The scoped-storage rule engine (SPEC §5, §6 first paragraph). One decision function per
//! operation; each returns allow/deny with the errno the app sees, the I/O mode for opens and the
//! name of the rule that decided. Pure: the caller supplies everything known about the file.

use crate::errno::Errno;
use crate::identity::{Caller, CallerKind};
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

impl Target<'_> {
    /// Media type of the row; a name the store has no row for is typed by its extension.
    fn media(&self) -> MediaType {
        self.facts
            .media_type
            .unwrap_or_else(|| media_type_of(self.path.file_name()))
    }

    fn owned_by(&self, caller: &Caller) -> bool {
        self.facts
            .owner
            .as_deref()
            .is_some_and(|o| caller.owns_package(o))
    }
}

// ---- shared gates ----------------------------------------------------------------------------

/// Where a caller stands relative to an app-specific area of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AppDirAccess {
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

fn is_other_private(caller: &Caller, info: &PathInfo) -> bool {
    app_dir_access(caller, info) == AppDirAccess::OtherPrivate
}

/// SPEC §4: a uid of another Android user gets EACCES for everything on this volume, lookup
/// included. Every public decision asks this first (directly or through [`private_denial`] or
/// [`gate`]).
fn other_user_denial(caller: &Caller) -> Option<Decision> {
    (caller.kind == CallerKind::OtherUser).then(|| Decision::deny(Errno::EACCES, "other-user"))
}

/// SPEC §5.1: another app's `Android/{data,obb}/<pkg>` answers ENOENT to everything, so that
/// nobody can tell whether the package exists. (Another user's uid is refused before that.)
fn private_denial(caller: &Caller, info: &PathInfo) -> Option<Decision> {
    other_user_denial(caller).or_else(|| {
        is_other_private(caller, info)
            .then(|| Decision::deny(Errno::ENOENT, "private-dir-other-app"))
    })
}

/// Names FAT cannot hold are refused to every caller that is confined at all (SPEC §5.4).
/// Unregistered uids are left to [`uid_gate`], which refuses them everything with EACCES.
fn name_denial(caller: &Caller, path: &VolPath) -> Option<Decision> {
    let confined = matches!(caller.kind, CallerKind::App | CallerKind::Shell);
    (confined && is_fat_invalid_name(path.file_name()))
        .then(|| Decision::deny(Errno::EPERM, "fat-invalid-name"))
}

/// What an operation needs of the caller's storage-wide grants. `Write` carries the errno a
/// legacy app without WRITE_EXTERNAL_STORAGE gets: Android denies such apps outright, with an
/// errno that depends on the operation (open EACCES, create/unlink EPERM, dirs EACCES).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Read,
    Write(Errno),
}

/// Callers decided by their uid alone (SPEC §4).
fn uid_gate(caller: &Caller) -> Option<Decision> {
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
fn storage_gate(caller: &Caller, need: Need) -> Option<Decision> {
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
fn gate(caller: &Caller, info: &PathInfo, need: Need) -> Option<Decision> {
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
fn special_name_denial(path: &VolPath) -> Option<&'static str> {
    parse_special_name(path.file_name()).map(|s| match s {
        SpecialName::Pending { .. } => "pending-owner-only",
        SpecialName::Trashed { .. } => "trashed-owner-only",
    })
}

// ---- lookup / getattr ------------------------------------------------------------------------

/// Lookup and getattr are not secret (CTS asserts `exists()` on others' files), except inside
/// another app's private dir, which must look absent (§5.1).
pub fn lookup(caller: &Caller, path: &VolPath) -> Decision {
    private_denial(caller, &path.info()).unwrap_or(Decision::allow("stat-not-secret"))
}

// ---- reads -----------------------------------------------------------------------------------

/// Why a read was allowed; decides redaction (§6) and listing visibility (§5.2, §5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadBasis {
    /// Decided by the gate (uid below 10000, own app dir, installer, MES, legacy + READ): these
    /// callers see the lower tree as it is, never redacted.
    Bypass,
    /// The gallery role on an image/video: never redacted, but its listings come from the store.
    Gallery,
    /// The owner or the holder of a write grant: never redacted.
    Writer,
    /// A read permission or a read grant: location is redacted unless the caller holds
    /// ACCESS_MEDIA_LOCATION.
    Reader,
}

/// May the caller read an existing file? `Ok((rule, basis))` or the denial.
fn read_access(caller: &Caller, t: Target) -> Result<(&'static str, ReadBasis), Decision> {
    if let Some(d) = gate(caller, &t.path.info(), Need::Read) {
        return if d.allowed() {
            Ok((d.rule, ReadBasis::Bypass))
        } else {
            Err(d)
        };
    }
    let media = t.media();
    // Android's gallery bypass goes by the name's media type, so it also opens others' hidden
    // and pending/trashed images and videos.
    if caller.gallery() && media.is_visual() {
        return Ok(("gallery-role", ReadBasis::Gallery));
    }
    if t.owned_by(caller) {
        return Ok(("owner", ReadBasis::Writer));
    }
    let deny = |rule| Err(Decision::deny(Errno::EACCES, rule));
    if let Some(rule) = special_name_denial(t.path) {
        return deny(rule);
    }
    match t.facts.grant {
        Grant::Write => return Ok(("write-grant", ReadBasis::Writer)),
        Grant::Read => return Ok(("read-grant", ReadBasis::Reader)),
        Grant::None => {}
    }
    let (permitted, rule) = match media {
        MediaType::Image => (caller.read_images(), "read-media-images"),
        MediaType::Video => (caller.read_video(), "read-media-video"),
        MediaType::Audio | MediaType::Playlist => (caller.read_audio(), "read-media-audio"),
        MediaType::Subtitle if caller.read_audio() => (true, "read-media-audio"),
        MediaType::Subtitle => (caller.read_video(), "read-media-video"),
        // Android indexes others' non-media files for nobody but MES and legacy apps.
        MediaType::None | MediaType::Document => return deny("non-media-other-app"),
    };
    // Hidden media is indexed as non-media (media_type 0), so no read permission covers it.
    if t.facts.hidden {
        return deny("hidden-media-other-app");
    }
    if !permitted {
        return deny("no-read-permission");
    }
    Ok((rule, ReadBasis::Reader))
}

/// Read-only open. On success `io` says whether the caller gets the original bytes
/// (passthrough) or the location-redacted view (§6).
pub fn open_read(caller: &Caller, t: Target) -> Decision {
    match read_access(caller, t) {
        Err(d) => d,
        Ok((rule, basis)) => {
            let redact = basis == ReadBasis::Reader && t.facts.has_location && !caller.location();
            Decision::allow(rule).with_io(if redact {
                Io::Redacted
            } else {
                Io::Passthrough
            })
        }
    }
}

/// `access(R_OK)`: a file answers like a read open (without I/O mode), a directory like opendir.
pub fn access_read(caller: &Caller, t: Target) -> Decision {
    if t.facts.is_dir {
        return opendir(caller, t.path);
    }
    read_access(caller, t).map_or_else(|d| d, |(rule, _)| Decision::allow(rule))
}

/// `access(X_OK)`: the mount is `noexec`, so regular files are never executable, for any
/// caller (the kernel itself answers EACCES); directories may be traversed wherever lookup works.
pub fn access_exec(caller: &Caller, t: Target) -> Decision {
    if let Some(d) = private_denial(caller, &t.path.info()) {
        return d;
    }
    if t.facts.is_dir {
        Decision::allow("dir-traverse")
    } else {
        Decision::deny(Errno::EACCES, "noexec-mount")
    }
}

// ---- writes to existing files ----------------------------------------------------------------

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

fn may_write(caller: &Caller, t: Target) -> bool {
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
fn placement(
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

// ---- directories -----------------------------------------------------------------------------

/// opendir/readdir: every app, even an unregistered uid, may list every shared dir; the
/// content is filtered per file by [`visible_in_listing`]. `Android/data` and `Android/obb`
/// themselves are not listable, so apps cannot enumerate installed packages.
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
fn dir_write(caller: &Caller, path: &VolPath) -> Decision {
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

/// mkdir; an existing name is EEXIST first, as for [`create`].
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

// ---- readdir filtering -----------------------------------------------------------------------

/// Is a file in a listing visible to `caller`? The read rules decide, and then store-based
/// listings (everyone but bypass callers, whose listing is the lower tree) additionally leave
/// out another app's FUSE-pending file (§5.7: it may still be opened by path) and, for the
/// gallery role, another app's hidden media (§5.2; the gallery may open it by path, as on
/// Android, whose gallery bypass goes by the file name). `path` is the file's path.
pub fn visible_in_listing(caller: &Caller, path: &VolPath, f: &FileFacts) -> bool {
    let t = Target { path, facts: f };
    let Ok((_, basis)) = read_access(caller, t) else {
        return false;
    };
    if basis == ReadBasis::Bypass || t.owned_by(caller) {
        return true;
    }
    let left_out = f.fuse_pending || (basis == ReadBasis::Gallery && f.hidden);
    !left_out
}

/// One `explain` decision for `op` (rename uses [`rename`] directly). Every operation but
/// create and mkdir needs an existing target; a missing one is ENOENT, as the kernel's lookup
/// would report it, after the policy has had its say about private dirs.
pub fn decide(caller: &Caller, op: Op, t: Target) -> Decision {
    let creates = matches!(op, Op::Create | Op::Mkdir | Op::Rename);
    if !creates && !t.facts.exists {
        return private_denial(caller, &t.path.info())
            .unwrap_or(Decision::deny(Errno::ENOENT, "no-such-file"));
    }
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
