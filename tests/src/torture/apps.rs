//! The apps of a run: a spread of identities over the SPEC's permission model, registered
//! through the real `mediaproviderd app add`, each with a partition of the volume where only it
//! creates, rewrites, renames and deletes (so its own mutations are checked exactly; other apps
//! read them and try, and are expected to fail, to change them).

use mediaprovider_policy::identity::{Package, PermSet, Permission, DEFAULT_TARGET_SDK};
use mediaprovider_policy::{Caller, VolPath};

/// One identity profile.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub role: &'static str,
    /// `None`: an app uid registered with `app add`; `Some(uid)`: a system uid (root, shell).
    pub system_uid: Option<u32>,
    pub perms: &'static [&'static str],
    pub target_sdk: Option<u32>,
    pub legacy: bool,
    /// Which permissions the run grants and revokes while this app works.
    pub toggles: &'static [&'static str],
}

const fn app(role: &'static str, perms: &'static [&'static str]) -> Profile {
    Profile {
        role,
        system_uid: None,
        perms,
        target_sdk: None,
        legacy: false,
        toggles: &[],
    }
}

/// The profiles, most telling first (a run with K apps takes the first K, cycling).
pub const PROFILES: &[Profile] = &[
    Profile {
        toggles: &["READ_MEDIA_IMAGES", "ACCESS_MEDIA_LOCATION"],
        ..app("none", &[])
    },
    Profile {
        toggles: &["ACCESS_MEDIA_LOCATION", "READ_MEDIA_VIDEO"],
        ..app("images", &["READ_MEDIA_IMAGES"])
    },
    app("user_selected", &["READ_MEDIA_VISUAL_USER_SELECTED"]),
    app(
        "location",
        &[
            "READ_MEDIA_IMAGES",
            "READ_MEDIA_VIDEO",
            "ACCESS_MEDIA_LOCATION",
        ],
    ),
    app("gallery", &["WRITE_MEDIA_IMAGES", "WRITE_MEDIA_VIDEO"]),
    app("mes", &["MANAGE_EXTERNAL_STORAGE"]),
    Profile {
        target_sdk: Some(29),
        legacy: true,
        ..app(
            "legacy_rw",
            &["READ_EXTERNAL_STORAGE", "WRITE_EXTERNAL_STORAGE"],
        )
    },
    Profile {
        system_uid: Some(2000),
        ..app("shell", &[])
    },
    Profile {
        target_sdk: Some(29),
        legacy: true,
        toggles: &["WRITE_EXTERNAL_STORAGE"],
        ..app("legacy_r", &["READ_EXTERNAL_STORAGE"])
    },
    Profile {
        system_uid: Some(0),
        ..app("root", &[])
    },
    Profile {
        toggles: &["READ_MEDIA_IMAGES"],
        ..app("video_audio", &["READ_MEDIA_VIDEO", "READ_MEDIA_AUDIO"])
    },
    app(
        "installer",
        &["REQUEST_INSTALL_PACKAGES", "READ_MEDIA_AUDIO"],
    ),
];

/// The top-level dirs an app's partition spans (one `t<index>` subdir in each).
pub const PARTITION_TOPS: &[&str] = &[
    "DCIM",
    "Pictures",
    "Music",
    "Movies",
    "Download",
    "Documents",
];

/// One app of the run.
#[derive(Clone, Debug)]
pub struct AppSpec {
    pub index: usize,
    pub profile: Profile,
    pub uid: u32,
    /// Registered package (none for root and shell).
    pub pkg: Option<String>,
    /// The directories only this app mutates in (volume-relative).
    pub partition: Vec<VolPath>,
}

impl AppSpec {
    pub fn new(index: usize, profile: Profile, uid: u32) -> AppSpec {
        let pkg = profile
            .system_uid
            .is_none()
            .then(|| format!("com.torture.{}.a{index}", profile.role));
        let mut partition: Vec<VolPath> = PARTITION_TOPS
            .iter()
            .filter_map(|t| VolPath::parse(&format!("{t}/t{index}")).ok())
            .collect();
        if let Some(p) = &pkg {
            for area in ["media", "data"] {
                if let Ok(v) = VolPath::parse(&format!("Android/{area}/{p}")) {
                    partition.push(v);
                }
            }
        }
        AppSpec {
            index,
            profile,
            uid,
            pkg,
            partition,
        }
    }

    pub fn label(&self) -> String {
        format!("a{}:{}(uid {})", self.index, self.profile.role, self.uid)
    }

    /// The package as the policy library sees it, with `perms`.
    pub fn package(&self, perms: &[&str]) -> Option<Package> {
        let name = self.pkg.clone()?;
        let perms: Vec<Permission> = perms
            .iter()
            .filter_map(|p| Permission::parse(p).ok())
            .collect();
        Some(Package {
            name,
            uid: self.uid,
            target_sdk: self.profile.target_sdk.unwrap_or(DEFAULT_TARGET_SDK),
            legacy: self.profile.legacy,
            perms: PermSet::of(&perms),
        })
    }

    /// The identity the policy derives for this app holding `perms` (`installed` false: after
    /// uninstall, an unregistered uid).
    pub fn caller(&self, perms: &[&str], installed: bool) -> Caller {
        match (installed, self.package(perms)) {
            (true, Some(p)) => Caller::new(self.uid, &[p]),
            _ => Caller::unregistered(self.uid),
        }
    }

    pub fn owns(&self, p: &VolPath) -> bool {
        self.partition.iter().any(|d| p.starts_with(d))
    }
}

/// The run's apps: the first `k` profiles (cycling), uids from 10001 (system uids as they are).
pub fn roster(k: usize) -> Vec<AppSpec> {
    (0..k)
        .map(|i| {
            let profile = PROFILES[i % PROFILES.len()];
            let uid = profile.system_uid.unwrap_or(10_001 + i as u32);
            // A second root or shell would share the first one's partition rules but not its
            // files; cycle them into plain apps instead.
            let profile = if profile.system_uid.is_some() && i >= PROFILES.len() {
                PROFILES[0]
            } else {
                profile
            };
            let uid = if profile.system_uid.is_none() {
                10_001 + i as u32
            } else {
                uid
            };
            AppSpec::new(i, profile, uid)
        })
        .collect()
}
