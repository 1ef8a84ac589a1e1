//! What happens to apps while they work: permissions granted and revoked, per-file grants,
//! an uninstall, and files changed in the lower tree behind the daemon's back. Every change goes
//! through the real command line (or the real lower tree) and into the model as a change with a
//! window, so operations racing it are judged against both sides.

use super::apps::AppSpec;
use super::content::{Content, Palette};
use super::exec::{lock, EIO_MARK};
use super::live::{mpd_timed, timed_as, Live, Timed};
use super::model::{key, FileState, Model};
use super::report::Report;
use super::rng::Rng;
use mediaprovider_policy::store::Store;
use mediaprovider_policy::{Caller, Grant, VolPath};
use mediaproviderd_tests::sys;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where files appear behind the daemon's back (nobody owns them).
pub const CHAOS_DIRS: &[&str] = &["Download/chaos", "Pictures/chaos"];

pub struct Admin {
    pub apps: Arc<Vec<AppSpec>>,
    pub perms: Vec<Vec<String>>,
    pub installed: Vec<bool>,
    pub app_locks: Arc<Vec<Mutex<()>>>,
    pub model: Arc<Mutex<Model>>,
    pub report: Arc<Report>,
    pub live: Arc<Live>,
    pub palette: Arc<Palette>,
    pub db: PathBuf,
    pub lower: PathBuf,
    pub mnt: PathBuf,
    pub rng: Rng,
    pub eio_names: bool,
    pub uninstall_at: Option<Instant>,
    pub counter: u64,
}

impl Admin {
    fn app_cmd(&self, args: &[&str]) -> Result<String, String> {
        let mut a: Vec<String> = vec!["app".into(), args[0].into(), "--db".into()];
        a.push(self.db.display().to_string());
        a.extend(args[1..].iter().map(|s| s.to_string()));
        match mpd_timed(&a) {
            Ok((true, out, _)) => Ok(out),
            Ok((false, _, err)) => Err(err.trim().to_string()),
            Err(e) => {
                self.live.hang(&self.report, &e, &[]);
                Err(e)
            }
        }
    }

    pub fn run(mut self) {
        while !self.live.stopping() && !self.report.is_fatal() {
            let pause = 80 + self.rng.below(250) as u64;
            std::thread::sleep(Duration::from_millis(pause));
            let live = Arc::clone(&self.live);
            if self.uninstall_at.is_some_and(|t| Instant::now() >= t) {
                // Not cut by a kill: whether `app remove` reached the store and the lower tree
                // halfway would be guesswork.
                let _admin = live.admin.lock().unwrap_or_else(|e| e.into_inner());
                let _g = live.gate.read().unwrap_or_else(|e| e.into_inner());
                self.uninstall_at = None;
                self.uninstall();
                continue;
            }
            // Permission and grant commands may be cut short by a kill (that is when the
            // daemon is busy invalidating dentries); the store then says what happened.
            let _g = live.gate.read().unwrap_or_else(|e| e.into_inner());
            if self.live.stopping() {
                break;
            }
            match self.rng.below(10) {
                0..=3 => self.toggle_permission(),
                4..=5 => self.grant_file(),
                6 => self.revoke_file(),
                _ => self.lower_change(),
            }
        }
    }

    fn toggle_permission(&mut self) {
        let candidates: Vec<usize> = (0..self.apps.len())
            .filter(|&i| self.installed[i] && !self.apps[i].profile.toggles.is_empty())
            .collect();
        let Some(&i) = self.rng.pick(&candidates) else {
            return;
        };
        let app = self.apps[i].clone();
        let Some(pkg) = app.pkg.clone() else { return };
        let Some(&perm) = self.rng.pick(app.profile.toggles) else {
            return;
        };
        let held = self.perms[i].iter().any(|p| p == perm);
        let sub = if held { "revoke" } else { "grant" };
        let mut next: Vec<&str> = self.perms[i].iter().map(String::as_str).collect();
        if held {
            next.retain(|p| *p != perm);
        } else {
            next.push(perm);
        }
        let id = lock(&self.model).begin_caller(app.uid, app.caller(&next, true));
        let t = self.moment();
        let res = self.app_cmd(&[sub, "--package", &pkg, perm]);
        let cut = res.is_err() && self.cut_short(t);
        let after = match (&res, cut) {
            (Ok(_), _) => {
                let c = app.caller(&next, true);
                let owned: Vec<String> = next.iter().map(|s| s.to_string()).collect();
                self.perms[i] = owned;
                c
            }
            (Err(_), true) => match self.stored_caller(app.uid) {
                Some(c) => {
                    self.perms[i] = c.perms.names().iter().map(|s| s.to_string()).collect();
                    c
                }
                None => {
                    let perms: Vec<&str> = self.perms[i].iter().map(String::as_str).collect();
                    app.caller(&perms, true)
                }
            },
            (Err(_), false) => {
                let perms: Vec<&str> = self.perms[i].iter().map(String::as_str).collect();
                app.caller(&perms, true)
            }
        };
        lock(&self.model).end_caller(app.uid, id, after);
        let what = format!("app {sub} {pkg} {perm}");
        self.log(&what, vec![format!("uid:{}", app.uid)], &res);
        if let (Err(e), false) = (res, cut) {
            self.report
                .violation("app-command-failed", &format!("{what}: {e}"), &[]);
        }
    }

    /// (epoch, down) now, to tell later whether a kill cut a command short.
    fn moment(&self) -> (u64, bool) {
        (
            self.live.epoch.load(Ordering::SeqCst),
            self.live.down.load(Ordering::SeqCst),
        )
    }

    fn cut_short(&self, before: (u64, bool)) -> bool {
        let now = self.moment();
        before.1 || now.1 || before.0 != now.0
    }

    /// The identity the store holds for `uid` (after a command a kill cut short).
    fn stored_caller(&self, uid: u32) -> Option<Caller> {
        Store::open(&self.db).ok()?.caller(uid).ok()
    }

    /// The grant the store holds for `uid` on `path`.
    fn stored_grant(&self, uid: u32, path: &VolPath) -> Option<Grant> {
        let store = Store::open(&self.db).ok()?;
        let caller = store.caller(uid).ok()?;
        let row = store.file(path).ok()??;
        store.grant_for(&caller, row.id).ok()
    }

    fn log(&self, what: &str, keys: Vec<String>, res: &Result<String, String>) {
        let outcome = match res {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("failed: {e}"),
        };
        self.report.record("admin", what, keys, &outcome);
    }

    fn grant_file(&mut self) {
        let candidates: Vec<usize> = (0..self.apps.len())
            .filter(|&i| self.installed[i] && self.apps[i].pkg.is_some())
            .collect();
        // The user-selected app is the one grants matter most to.
        let i = match candidates
            .iter()
            .find(|&&i| self.apps[i].profile.role == "user_selected")
        {
            Some(&i) if self.rng.chance(60) => i,
            _ => match self.rng.pick(&candidates) {
                Some(&i) => i,
                None => return,
            },
        };
        let app = self.apps[i].clone();
        let Some(pkg) = app.pkg.clone() else { return };
        let write = self.rng.chance(30);
        let file = {
            let m = lock(&self.model);
            let files: Vec<FileState> = m
                .files
                .values()
                .filter(|h| !h.busy())
                .filter_map(|h| h.current.clone())
                .filter(|f| !app.owns(&f.path) && !f.path.as_str().starts_with("Android/"))
                .collect();
            match self.rng.pick(&files) {
                Some(f) => f.clone(),
                None => return,
            }
        };
        let id = {
            let mut m = lock(&self.model);
            let before = m
                .grants
                .get(&(app.uid, file.id))
                .map_or(Grant::None, |h| h.current);
            let after = if write {
                Grant::Write
            } else {
                before.max(Grant::Read)
            };
            m.begin_grant(app.uid, file.id, after)
        };
        let path = file.path.to_string();
        let mut args = vec!["grant-file", "--package", &pkg];
        if write {
            args.push("--write");
        }
        args.push(&path);
        let t = self.moment();
        let res = self.app_cmd(&args);
        let cut = res.is_err() && self.cut_short(t);
        let stored = if cut {
            self.stored_grant(app.uid, &file.path)
        } else {
            None
        };
        let mut m = lock(&self.model);
        let before = m
            .grants
            .get(&(app.uid, file.id))
            .map_or(Grant::None, |h| h.current);
        let after = match (&res, write, stored) {
            (Ok(_), true, _) => Grant::Write,
            (Ok(_), false, _) => before.max(Grant::Read),
            (Err(_), _, Some(g)) => g,
            (Err(_), _, None) => before,
        };
        m.end_grant(app.uid, file.id, id, after);
        // A file changed meanwhile (renamed, deleted, not indexed yet) may refuse the grant.
        let stable =
            m.file(&key(&file.path)).is_some_and(|f| f.id == file.id) && !m.busy(&key(&file.path));
        drop(m);
        let what = format!(
            "app grant-file {pkg}{} {path}",
            if write { " --write" } else { "" }
        );
        self.log(
            &what,
            vec![key(&file.path), format!("uid:{}", app.uid)],
            &res,
        );
        if let (Err(e), true, false) = (&res, stable, cut) {
            if !CHAOS_DIRS.iter().any(|d| path.starts_with(d)) {
                self.report.violation(
                    "app-command-failed",
                    &format!("{what}: {e}"),
                    &[key(&file.path)],
                );
            }
        }
    }

    fn revoke_file(&mut self) {
        let pick = {
            let m = lock(&self.model);
            let v: Vec<(u32, FileState)> = m
                .grants
                .iter()
                .filter(|(_, h)| h.current != Grant::None && !h.busy())
                .filter_map(|((uid, fid), _)| {
                    let f = m.files.values().find_map(|h| {
                        h.current
                            .as_ref()
                            .filter(|f| f.id == *fid && !h.busy())
                            .cloned()
                    })?;
                    Some((*uid, f))
                })
                .collect();
            self.rng.pick(&v).cloned()
        };
        let Some((uid, file)) = pick else { return };
        let Some(app) = self.apps.iter().find(|a| a.uid == uid).cloned() else {
            return;
        };
        let Some(pkg) = app.pkg.clone() else { return };
        let id = lock(&self.model).begin_grant(uid, file.id, Grant::None);
        let path = file.path.to_string();
        let res = self.app_cmd(&["revoke-file", "--package", &pkg, &path]);
        {
            let mut m = lock(&self.model);
            let before = m
                .grants
                .get(&(uid, file.id))
                .map_or(Grant::None, |h| h.current);
            let after = if res.is_ok() { Grant::None } else { before };
            m.end_grant(uid, file.id, id, after);
        }
        let what = format!("app revoke-file {pkg} {path}");
        self.log(&what, vec![key(&file.path), format!("uid:{uid}")], &res);
    }

    /// A file added, rewritten or removed straight in the lower tree, then looked up through
    /// the mount (as root) so the daemon sees it.
    fn lower_change(&mut self) {
        let Some(dir) = self
            .rng
            .pick(CHAOS_DIRS)
            .and_then(|d| VolPath::parse(d).ok())
        else {
            return;
        };
        let existing: Vec<FileState> = lock(&self.model).files_in(&key(&dir));
        let nomedia = dir.join(".nomedia").ok();
        let (path, after_content) = match self.rng.below(5) {
            // Issue 8 item 7: a `.nomedia` that appears behind the daemon's back must hide the
            // directory's media from other apps from the first lookup on.
            4 if dir.as_str().starts_with("Pictures") => {
                let Some(p) = nomedia else { return };
                let exists = lock(&self.model).file(&key(&p)).is_some();
                let content = (!exists).then(|| Content::new("nomedia".into(), Vec::new()));
                (p, content)
            }
            0 if !existing.is_empty() => {
                let Some(f) = self.rng.pick(&existing) else {
                    return;
                };
                (f.path.clone(), None)
            }
            1 if !existing.is_empty() => {
                let Some(f) = self.rng.pick(&existing) else {
                    return;
                };
                let ext = f
                    .path
                    .file_name()
                    .rsplit('.')
                    .next()
                    .unwrap_or("bin")
                    .to_string();
                let c = self.palette.pick(&mut self.rng, &ext, 32 * 1024);
                (f.path.clone(), Some(c))
            }
            _ => {
                self.counter += 1;
                let ext = if dir.as_str().starts_with("Pictures") {
                    "jpg"
                } else {
                    "pdf"
                };
                let mark = if self.eio_names && self.rng.chance(20) {
                    format!("-{EIO_MARK}")
                } else {
                    String::new()
                };
                let Ok(p) = dir.join(&format!("x{}{mark}.{ext}", self.counter)) else {
                    return;
                };
                let c = self.palette.pick(&mut self.rng, ext, 32 * 1024);
                (p, Some(c))
            }
        };
        let k = key(&path);
        let (before, cid) = {
            let mut m = lock(&self.model);
            let before = m.file(&k).cloned();
            let during = after_content.as_ref().map(|c| FileState {
                id: before.as_ref().map_or(0, |b| b.id),
                path: path.clone(),
                owner: None,
                content: Arc::clone(c),
                partial: true,
                fuse_pending: false,
            });
            let (cid, _) = m.begin_file(&k, vec![during]);
            m.unseen_lower_changes += 1;
            (before, cid)
        };
        let real = self.lower.join(path.as_str());
        let res = match &after_content {
            Some(c) => std::fs::write(&real, &c.bytes),
            None => std::fs::remove_file(&real),
        };
        let mp = self.mnt.join(path.as_str());
        let seen = match timed_as(0, move || sys::stat(&mp).map(|_| ())) {
            Timed::Hung => {
                self.live.hang(
                    &self.report,
                    &format!("root stat {path} after a lower change"),
                    std::slice::from_ref(&k),
                );
                Err(mediaproviderd_tests::EIO)
            }
            Timed::Crashed(_) => Err(mediaproviderd_tests::EIO),
            Timed::Done(r) => r,
        };
        let mut m = lock(&self.model);
        let after = match (&res, after_content) {
            (Ok(()), Some(c)) => Some(FileState {
                id: before.as_ref().map_or_else(|| m.new_id(), |b| b.id),
                path: path.clone(),
                owner: None,
                content: c,
                partial: false,
                fuse_pending: false,
            }),
            (Ok(()), None) => None,
            // A write the tmpfs cut short (ENOSPC) leaves what it leaves: ask the lower tree.
            (Err(_), _) => super::lower::read(&self.lower, &path).map(|(vp, bytes)| FileState {
                id: before.as_ref().map_or_else(|| m.new_id(), |b| b.id),
                path: vp,
                owner: None,
                content: Content::new("lower-after-failed-write".into(), bytes),
                partial: false,
                fuse_pending: false,
            }),
        };
        m.end_file(&k, cid, after);
        drop(m);
        let what = format!(
            "lower {} {path}",
            if res.is_ok() {
                "change"
            } else {
                "change failed"
            }
        );
        self.report.record(
            "lower",
            &what,
            vec![k],
            &format!(
                "root stat: {}",
                seen.map_or_else(|e| e.name().to_string(), |_| "ok".into())
            ),
        );
    }

    /// `app remove` of the user-selected app while the others work.
    fn uninstall(&mut self) {
        let Some(i) = (0..self.apps.len())
            .find(|&i| self.installed[i] && self.apps[i].profile.role == "user_selected")
        else {
            return;
        };
        let app = self.apps[i].clone();
        let Some(pkg) = app.pkg.clone() else { return };
        let locks = Arc::clone(&self.app_locks);
        let _paused = locks[i].lock().unwrap_or_else(|e| e.into_inner());
        let private: Vec<VolPath> = ["data", "media"]
            .iter()
            .filter_map(|a| VolPath::parse(&format!("Android/{a}/{pkg}")).ok())
            .collect();
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        let cid = {
            let mut m = lock(&self.model);
            let cid = m.begin_caller(app.uid, app.caller(&[], false));
            let owned: Vec<FileState> = m
                .files
                .values()
                .filter_map(|h| h.current.clone())
                .filter(|f| {
                    f.owner.as_deref() == Some(&pkg)
                        || private.iter().any(|d| f.path.starts_with(d))
                })
                .collect();
            for f in owned {
                let k = key(&f.path);
                let gone = private.iter().any(|d| f.path.starts_with(d));
                let after = (!gone).then_some(FileState { owner: None, ..f });
                let (id, _) = m.begin_file(&k, vec![after.clone()]);
                files.push((k, id, after));
            }
            for d in &private {
                let mut all = m.dirs_under(&key(d));
                all.push(d.clone());
                for x in all {
                    let k = key(&x);
                    let id = m.begin_dir(&k, vec![None]);
                    dirs.push((k, id));
                }
            }
            cid
        };
        let res = self.app_cmd(&["remove", "--package", &pkg]);
        let mut m = lock(&self.model);
        if res.is_ok() {
            self.installed[i] = false;
            m.end_caller(app.uid, cid, app.caller(&[], false));
            for (k, id, after) in files {
                m.end_file(&k, id, after);
            }
            for (k, id) in dirs {
                m.end_dir(&k, id, None);
            }
            let grants: Vec<(u32, u64)> = m
                .grants
                .keys()
                .filter(|(u, _)| *u == app.uid)
                .copied()
                .collect();
            for (u, f) in grants {
                let id = m.begin_grant(u, f, Grant::None);
                m.end_grant(u, f, id, Grant::None);
            }
        } else {
            let perms: Vec<&str> = self.perms[i].iter().map(String::as_str).collect();
            m.end_caller(app.uid, cid, app.caller(&perms, true));
            for (k, id, _) in files {
                let before = m.file(&k).cloned();
                m.end_file(&k, id, before);
            }
            for (k, id) in dirs {
                let before = m.dirs.get(&k).and_then(|h| h.current.clone());
                m.end_dir(&k, id, before);
            }
        }
        drop(m);
        let what = format!("app remove {pkg}");
        self.log(&what, vec![format!("uid:{}", app.uid)], &res);
        if let Err(e) = res {
            self.report
                .violation("app-command-failed", &format!("{what}: {e}"), &[]);
        }
    }
}
