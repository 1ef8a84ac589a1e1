//! Registered packages: `mediaproviderd app` through the fixture's store.

use crate::daemon::{mpd, mpd_ok};
use crate::fixture::Fixture;
use crate::user::User;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitStatus;

/// A registered package and its uid.
#[derive(Clone, Debug)]
pub struct App {
    pub pkg: String,
    pub user: User,
    db: PathBuf,
}

impl std::ops::Deref for App {
    type Target = User;
    fn deref(&self) -> &User {
        &self.user
    }
}

impl App {
    fn cmd(&self, sub: &str, extra: &[&str]) {
        let db = self.db.display().to_string();
        let mut a = vec![
            "app",
            sub,
            "--db",
            db.as_str(),
            "--package",
            self.pkg.as_str(),
        ];
        a.extend_from_slice(extra);
        mpd_ok(&a);
    }
    pub fn grant(&self, perms: &[&str]) {
        self.cmd("grant", perms);
    }
    pub fn revoke(&self, perms: &[&str]) {
        self.cmd("revoke", perms);
    }
    /// `grant-file` (read) for volume-relative paths.
    pub fn grant_file(&self, paths: &[&str]) {
        self.cmd("grant-file", paths);
    }
    pub fn grant_file_write(&self, paths: &[&str]) {
        let mut a = vec!["--write"];
        a.extend_from_slice(paths);
        self.cmd("grant-file", &a);
    }
    pub fn revoke_file(&self, paths: &[&str]) {
        self.cmd("revoke-file", paths);
    }
    /// Uninstall (`app remove`).
    pub fn remove(&self) {
        self.cmd("remove", &[]);
    }
}

// Registering packages in this fixture's store.
impl Fixture {
    /// Runs `mediaproviderd app SUB --db DB ARGS…`; panics on failure; returns the JSON lines.
    pub fn app_cmd(&self, sub: &str, args: &[&str]) -> Vec<Value> {
        let (st, out, err) = self.app_try(sub, args);
        assert!(
            st.success(),
            "mediaproviderd app {sub} {args:?} failed ({st}): {err}"
        );
        out
    }

    pub fn app_try(&self, sub: &str, args: &[&str]) -> (ExitStatus, Vec<Value>, String) {
        let db = self.db.display().to_string();
        let mut a = vec!["app", sub, "--db", db.as_str()];
        a.extend_from_slice(args);
        let (st, out, err) = mpd(&a);
        let vals = out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("app {sub}: non-JSON output {l:?}: {e}"))
            })
            .collect();
        (st, vals, err)
    }

    /// Registers a new package on a fresh uid (target SDK = default) with `perms`.
    pub fn add_app(&self, role: &str, perms: &[&str]) -> App {
        self.add_app_with(role, perms, None, false)
    }

    /// Registers a new package on a fresh uid with an explicit target SDK and legacy flag.
    pub fn add_app_with(
        &self,
        role: &str,
        perms: &[&str],
        target_sdk: Option<u32>,
        legacy: bool,
    ) -> App {
        let uid = self.fresh_uid();
        let role: String = role
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let pkg = format!("com.mpt.{role}.u{uid}");
        self.add_package(&pkg, uid, perms, target_sdk, legacy)
    }

    /// Registers `pkg` on `uid` (a second package on a uid makes a shared uid).
    pub fn add_package(
        &self,
        pkg: &str,
        uid: u32,
        perms: &[&str],
        target_sdk: Option<u32>,
        legacy: bool,
    ) -> App {
        let uid_s = uid.to_string();
        let sdk_s = target_sdk.map(|s| s.to_string());
        let mut args: Vec<&str> = vec!["--package", pkg, "--uid", &uid_s];
        if let Some(s) = &sdk_s {
            args.extend(["--target-sdk", s.as_str()]);
        }
        if legacy {
            args.push("--legacy");
        }
        for p in perms {
            args.extend(["--grant", p]);
        }
        self.app_cmd("add", &args);
        App {
            pkg: pkg.to_string(),
            user: self.user(uid),
            db: self.db.clone(),
        }
    }
}
