//! Who is calling: Android uids, packages (shared uids), permissions and the capabilities the
//! rules derive from them (SPEC §4).

use std::fmt;

pub type Uid = u32;

pub const AID_ROOT: Uid = 0;
pub const AID_SYSTEM: Uid = 1000;
pub const AID_MEDIA_RW: Uid = 1023;
pub const AID_SHELL: Uid = 2000;
pub const AID_APP_START: u32 = 10000;
pub const PER_USER_RANGE: u32 = 100000;

/// Owner package recorded for files created by the shell uid.
pub const SHELL_PACKAGE: &str = "com.android.shell";

/// Target SDK assumed when `app add` is given none (current platform).
pub const DEFAULT_TARGET_SDK: u32 = 34;

pub fn user_id(uid: Uid) -> u32 {
    uid / PER_USER_RANGE
}

pub fn app_id(uid: Uid) -> u32 {
    uid % PER_USER_RANGE
}

/// Android permissions and app-ops the policy understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    ReadExternalStorage,
    WriteExternalStorage,
    ReadMediaImages,
    ReadMediaVideo,
    ReadMediaAudio,
    ReadMediaVisualUserSelected,
    AccessMediaLocation,
    ManageExternalStorage,
    RequestInstallPackages,
    WriteMediaImages,
    WriteMediaVideo,
}

pub const ALL_PERMISSIONS: [Permission; 11] = [
    Permission::ReadExternalStorage,
    Permission::WriteExternalStorage,
    Permission::ReadMediaImages,
    Permission::ReadMediaVideo,
    Permission::ReadMediaAudio,
    Permission::ReadMediaVisualUserSelected,
    Permission::AccessMediaLocation,
    Permission::ManageExternalStorage,
    Permission::RequestInstallPackages,
    Permission::WriteMediaImages,
    Permission::WriteMediaVideo,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPermission(pub String);

impl fmt::Display for UnknownPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown permission '{}'", self.0)
    }
}

impl std::error::Error for UnknownPermission {}

impl Permission {
    /// The short Android name, without the `android.permission.` prefix.
    pub fn name(self) -> &'static str {
        match self {
            Permission::ReadExternalStorage => "READ_EXTERNAL_STORAGE",
            Permission::WriteExternalStorage => "WRITE_EXTERNAL_STORAGE",
            Permission::ReadMediaImages => "READ_MEDIA_IMAGES",
            Permission::ReadMediaVideo => "READ_MEDIA_VIDEO",
            Permission::ReadMediaAudio => "READ_MEDIA_AUDIO",
            Permission::ReadMediaVisualUserSelected => "READ_MEDIA_VISUAL_USER_SELECTED",
            Permission::AccessMediaLocation => "ACCESS_MEDIA_LOCATION",
            Permission::ManageExternalStorage => "MANAGE_EXTERNAL_STORAGE",
            Permission::RequestInstallPackages => "REQUEST_INSTALL_PACKAGES",
            Permission::WriteMediaImages => "WRITE_MEDIA_IMAGES",
            Permission::WriteMediaVideo => "WRITE_MEDIA_VIDEO",
        }
    }

    /// Accepts `READ_MEDIA_IMAGES` and `android.permission.READ_MEDIA_IMAGES`.
    pub fn parse(s: &str) -> Result<Permission, UnknownPermission> {
        let short = s.strip_prefix("android.permission.").unwrap_or(s);
        ALL_PERMISSIONS
            .iter()
            .copied()
            .find(|p| p.name() == short)
            .ok_or_else(|| UnknownPermission(s.to_string()))
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of permissions, stored as a bitmask (also in the store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PermSet(pub u16);

impl PermSet {
    pub fn empty() -> PermSet {
        PermSet(0)
    }
    pub fn of(perms: &[Permission]) -> PermSet {
        let mut s = PermSet::empty();
        for p in perms {
            s.insert(*p);
        }
        s
    }
    pub fn has(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }
    pub fn insert(&mut self, p: Permission) {
        self.0 |= p.bit();
    }
    pub fn remove(&mut self, p: Permission) {
        self.0 &= !p.bit();
    }
    pub fn union(self, other: PermSet) -> PermSet {
        PermSet(self.0 | other.0)
    }
    pub fn names(self) -> Vec<&'static str> {
        ALL_PERMISSIONS
            .iter()
            .filter(|p| self.has(**p))
            .map(|p| p.name())
            .collect()
    }
}

/// One installed package as registered with `app add`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub uid: Uid,
    pub target_sdk: u32,
    pub legacy: bool,
    pub perms: PermSet,
}

/// What kind of uid is calling; decides which checks apply at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerKind {
    /// root, system, media_rw: full access, never redacted.
    Privileged,
    /// shell: bypasses read checks, but its writes are recorded as `com.android.shell`.
    Shell,
    /// An app uid with at least one registered package.
    App,
    /// An app uid nobody registered: no permissions, owns nothing.
    Unregistered,
    /// An app uid of another Android user than the one this volume belongs to (SPEC §4):
    /// reaches nothing here, registered or not.
    OtherUser,
}

/// The resolved identity of a FUSE caller, built from the store's packages for its uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: Uid,
    pub kind: CallerKind,
    /// Package names of this uid, first-registered first (that one owns new files).
    pub packages: Vec<String>,
    pub target_sdk: u32,
    pub legacy_flag: bool,
    pub perms: PermSet,
}

impl Caller {
    /// Builds the caller for `uid` from its packages (in registration order).
    pub fn new(uid: Uid, packages: &[Package]) -> Caller {
        let kind = match uid {
            AID_ROOT | AID_SYSTEM | AID_MEDIA_RW => CallerKind::Privileged,
            AID_SHELL => CallerKind::Shell,
            _ if packages.is_empty() => CallerKind::Unregistered,
            _ => CallerKind::App,
        };
        let mut perms = PermSet::empty();
        for p in packages {
            perms = perms.union(p.perms);
        }
        let (target_sdk, legacy_flag) = packages
            .first()
            .map(|p| (p.target_sdk, p.legacy))
            .unwrap_or((DEFAULT_TARGET_SDK, false));
        let mut names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
        if kind == CallerKind::Shell && names.is_empty() {
            names.push(SHELL_PACKAGE.to_string());
        }
        Caller {
            uid,
            kind,
            packages: names,
            target_sdk,
            legacy_flag,
            perms,
        }
    }

    /// The same caller as seen by the volume of Android user `volume_user`: an app uid of any
    /// other user becomes [`CallerKind::OtherUser`]. Uids below 10000 (root, system, media_rw,
    /// shell) are not per-user.
    pub fn on_volume_of_user(mut self, volume_user: u32) -> Caller {
        let app = matches!(self.kind, CallerKind::App | CallerKind::Unregistered);
        if app && user_id(self.uid) != volume_user {
            self.kind = CallerKind::OtherUser;
        }
        self
    }

    /// A caller with no packages (tests and unregistered uids).
    pub fn unregistered(uid: Uid) -> Caller {
        Caller::new(uid, &[])
    }

    pub fn has(&self, p: Permission) -> bool {
        self.kind == CallerKind::App && self.perms.has(p)
    }

    /// Package that owns files this caller creates.
    pub fn owner_package(&self) -> Option<&str> {
        self.packages.first().map(|s| s.as_str())
    }

    /// True if `pkg` is one of this uid's packages (case-insensitive, like Android).
    pub fn owns_package(&self, pkg: &str) -> bool {
        self.packages.iter().any(|p| p.eq_ignore_ascii_case(pkg))
    }

    pub fn is_privileged(&self) -> bool {
        self.kind == CallerKind::Privileged
    }
    pub fn is_shell(&self) -> bool {
        self.kind == CallerKind::Shell
    }

    /// `requestLegacyExternalStorage` honoured: flag set and target SDK ≤ 29.
    pub fn is_legacy(&self) -> bool {
        self.kind == CallerKind::App && self.legacy_flag && self.target_sdk <= 29
    }
    /// Legacy + READ_EXTERNAL_STORAGE. WRITE_EXTERNAL_STORAGE alone does not imply it (CTS
    /// `LegacyStorageTest#testMkdirInRandomPlaces_hasW`: no listing without READ).
    pub fn legacy_read(&self) -> bool {
        self.is_legacy() && self.perms.has(Permission::ReadExternalStorage)
    }
    pub fn legacy_write(&self) -> bool {
        self.is_legacy() && self.perms.has(Permission::WriteExternalStorage)
    }
    pub fn mes(&self) -> bool {
        self.has(Permission::ManageExternalStorage)
    }
    /// The system-gallery role: both WRITE_MEDIA_IMAGES and WRITE_MEDIA_VIDEO app-ops.
    pub fn gallery(&self) -> bool {
        self.has(Permission::WriteMediaImages) && self.has(Permission::WriteMediaVideo)
    }
    pub fn installer(&self) -> bool {
        self.has(Permission::RequestInstallPackages)
    }
    pub fn location(&self) -> bool {
        self.has(Permission::AccessMediaLocation)
    }
    /// READ_EXTERNAL_STORAGE stands for the READ_MEDIA_* trio only below target SDK 33.
    fn res_counts_as_media(&self) -> bool {
        self.has(Permission::ReadExternalStorage) && self.target_sdk < 33
    }
    pub fn read_images(&self) -> bool {
        self.has(Permission::ReadMediaImages)
            || self.res_counts_as_media()
            || self.has(Permission::WriteMediaImages)
    }
    pub fn read_video(&self) -> bool {
        self.has(Permission::ReadMediaVideo)
            || self.res_counts_as_media()
            || self.has(Permission::WriteMediaVideo)
    }
    pub fn read_audio(&self) -> bool {
        self.has(Permission::ReadMediaAudio) || self.res_counts_as_media()
    }
    /// Callers whose writes go anywhere in shared storage (MES, legacy + WES).
    pub fn writes_anywhere(&self) -> bool {
        self.mes() || self.legacy_write()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_with_and_without_prefix() {
        assert_eq!(
            Permission::parse("android.permission.READ_MEDIA_IMAGES"),
            Ok(Permission::ReadMediaImages)
        );
        assert_eq!(
            Permission::parse("WRITE_MEDIA_VIDEO"),
            Ok(Permission::WriteMediaVideo)
        );
        assert!(Permission::parse("READ_CONTACTS").is_err());
        assert!(Permission::parse("read_media_images").is_err());
        for p in ALL_PERMISSIONS {
            assert_eq!(Permission::parse(p.name()), Ok(p));
        }
    }

    #[test]
    fn uid_split() {
        assert_eq!(user_id(1010123), 10);
        assert_eq!(app_id(1010123), 10123);
        assert_eq!(user_id(10123), 0);
    }

    #[test]
    fn res_counts_as_media_only_below_33() {
        let pkg = |sdk| Package {
            name: "a".into(),
            uid: 10001,
            target_sdk: sdk,
            legacy: false,
            perms: PermSet::of(&[Permission::ReadExternalStorage]),
        };
        assert!(Caller::new(10001, &[pkg(32)]).read_images());
        assert!(!Caller::new(10001, &[pkg(33)]).read_images());
    }

    #[test]
    fn special_uids() {
        assert_eq!(Caller::unregistered(0).kind, CallerKind::Privileged);
        assert_eq!(Caller::unregistered(1023).kind, CallerKind::Privileged);
        let shell = Caller::unregistered(2000);
        assert_eq!(shell.kind, CallerKind::Shell);
        assert_eq!(shell.owner_package(), Some(SHELL_PACKAGE));
        assert_eq!(Caller::unregistered(10999).kind, CallerKind::Unregistered);
    }
}
