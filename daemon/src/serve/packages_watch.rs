//! `serve --packages-list FILE`: follow Android's `/data/system/packages.list` and apply
//! installs and uninstalls while serving.
//!
//! * At startup the file is imported like `app import-packages-list`: packages the store lacks
//!   are added (no permissions; target SDK from the seinfo `targetSdkVersion=N` if present).
//!   Nothing is removed at startup: packages registered with `app add` are not in the file.
//! * Then the file itself is watched with inotify (the policy allows `watch` on
//!   `packages_list_file`, not on `/data/system`). PackageManager writes a new file and renames
//!   it over the old one, so the watch is re-armed on the new inode whenever the watched one is
//!   replaced, moved or deleted (and, as a fallback, when a periodic `stat` finds another inode
//!   at the path). Events are debounced, then the file is re-read, parsed leniently and
//!   diffed against the last applied version (by name and uid: an app update is not an
//!   uninstall; a uid change is an uninstall plus an install).
//! * An uninstall is SPEC §5.9: `Store::remove_package`, then the app dirs are deleted through
//!   the file system (`Inner::remove_package_dirs`, which also invalidates their dentries).
//! * A damaged file never reads as a mass uninstall: with any bad line no package is removed
//!   (removals wait for a clean version), a file with no valid line or more bad lines than good
//!   ones is skipped entirely, and an empty file is never applied as "uninstall everything".
//!
//! The daemon serves user 0, so packages are registered with their user-0 uid.

use super::fs::Inner;
use mediaprovider_policy::identity::{Package, PermSet, DEFAULT_TARGET_SDK};
use mediaprovider_policy::packages_list::{diff, parse_lenient, PackagesListEntry};
use mediaprovider_policy::store::Store;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Quiet time after the last event before the file is read.
const DEBOUNCE: Duration = Duration::from_millis(150);
/// Longest a stream of events may delay a read.
const MAX_DELAY: Duration = Duration::from_secs(2);
/// How often the path is checked for a replaced inode or (while missing) for reappearing.
const RECHECK: Duration = Duration::from_secs(1);
/// packages.list is a few hundred bytes per package; anything larger is not one.
const MAX_FILE_SIZE: u64 = 16 << 20;

/// Imports the file now, then follows it on a thread of its own with its own store connection.
pub fn start(file: &Path, db: &Path, fs: Arc<Inner>) -> Result<(), String> {
    let store =
        Store::open(db).map_err(|e| format!("--packages-list: store {}: {e}", db.display()))?;
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
        .map_err(|e| format!("--packages-list: inotify: {e}"))?;
    let mut w = Watcher {
        path: file.to_path_buf(),
        store,
        fs,
        inotify,
        watch: None,
        baseline: None,
        arm_failure: None,
    };
    w.arm();
    w.update();
    std::thread::Builder::new()
        .name("packages.list".into())
        .spawn(move || w.run())
        .map_err(|e| format!("--packages-list: watcher thread: {e}"))?;
    Ok(())
}

struct Watcher {
    path: PathBuf,
    store: Store,
    fs: Arc<Inner>,
    inotify: Inotify,
    /// The current watch and the (dev, ino) the path had when it was armed.
    watch: Option<(WatchDescriptor, (u64, u64))>,
    /// The last applied version; `None` until the file was read once.
    baseline: Option<Vec<PackagesListEntry>>,
    /// The last arming error logged (logged again only when it changes).
    arm_failure: Option<String>,
}

impl Watcher {
    fn run(mut self) {
        // When to re-read the file, and when the current burst of events started.
        let mut due: Option<(Instant, Instant)> = None;
        loop {
            if self.watch.is_none() && self.arm() {
                // A new inode: it may hold anything.
                due = Some(schedule(due));
            }
            let now = Instant::now();
            let wait = match due {
                Some((at, _)) => at.saturating_duration_since(now),
                None => RECHECK,
            };
            let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(n) if n > 0 => {
                    if self.drain_events() {
                        due = Some(schedule(due));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    log::error!("packages.list: poll: {e}");
                    std::thread::sleep(RECHECK);
                }
            }
            if due.is_some_and(|(at, _)| Instant::now() >= at) {
                due = None;
                self.update();
            }
            if due.is_none() && self.replaced() {
                self.disarm();
            }
        }
    }

    /// Watches the inode now at the path. False if there is none (or it cannot be watched).
    fn arm(&mut self) -> bool {
        // stat before add_watch: if the file is replaced in between, the recorded inode is the
        // old one, the next check sees a difference and re-arms (never the other way round).
        let id = match std::fs::metadata(&self.path) {
            Ok(md) => (md.dev(), md.ino()),
            Err(e) => {
                self.arm_failed(format!("{}: {e}", self.path.display()));
                return false;
            }
        };
        let mask = AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_ATTRIB;
        match self.inotify.add_watch(&self.path, mask) {
            Ok(wd) => {
                self.watch = Some((wd, id));
                if self.arm_failure.take().is_some() {
                    log::info!("packages.list: watching {} again", self.path.display());
                }
                true
            }
            Err(e) => {
                self.arm_failed(format!("inotify watch on {}: {e}", self.path.display()));
                false
            }
        }
    }

    fn arm_failed(&mut self, message: String) {
        if self.arm_failure.as_deref() != Some(message.as_str()) {
            log::warn!(
                "packages.list: {message}; retrying every {}s",
                RECHECK.as_secs()
            );
            self.arm_failure = Some(message);
        }
    }

    fn disarm(&mut self) {
        if let Some((wd, _)) = self.watch.take() {
            // EINVAL when the kernel already dropped it (file deleted): nothing to do.
            let _ = self.inotify.rm_watch(wd);
        }
    }

    /// Reads all queued events; true if any may mean new content. Disarms when the watched
    /// inode was replaced, moved or deleted (or events were lost).
    fn drain_events(&mut self) -> bool {
        let mut any = false;
        let gone = AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_IGNORED
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_UNMOUNT;
        loop {
            let events = match self.inotify.read_events() {
                Ok(ev) if !ev.is_empty() => ev,
                Ok(_) | Err(nix::errno::Errno::EAGAIN) => return any,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    log::error!("packages.list: reading inotify events: {e}");
                    self.disarm();
                    return true;
                }
            };
            for ev in events {
                any = true;
                let current = self.watch.map(|(wd, _)| wd) == Some(ev.wd);
                if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW)
                    || (current && ev.mask.intersects(gone))
                {
                    self.disarm();
                }
            }
        }
    }

    /// True if the path now names another inode than the watched one (or none).
    fn replaced(&self) -> bool {
        let Some((_, id)) = self.watch else {
            return false;
        };
        match std::fs::metadata(&self.path) {
            Ok(md) => (md.dev(), md.ino()) != id,
            Err(_) => true,
        }
    }

    /// Re-reads the file and applies what changed since the last applied version.
    fn update(&mut self) {
        let text = match read_capped(&self.path) {
            Ok(t) => t,
            Err(e) => {
                // Missing or unreadable: wait for the next version.
                if self.arm_failure.is_none() {
                    log::warn!("packages.list: {}: {e}", self.path.display());
                }
                return;
            }
        };
        let plan = match plan(self.baseline.as_deref(), &text) {
            Ok(p) => p,
            Err(e) => {
                log::warn!(
                    "packages.list: {}: {e}; update skipped",
                    self.path.display()
                );
                return;
            }
        };
        let fs = self.fs.clone();
        let done = apply(&self.store, &plan, &mut |pkg| fs.remove_package_dirs(pkg));
        if done.added + done.removed > 0 {
            self.fs.refresh_identities();
        }
        let initial = self.baseline.is_none();
        if initial || done.added + done.removed > 0 || !plan.deferred.is_empty() {
            log::info!(
                "packages.list{}: {} packages listed, {} added, {} removed{}",
                if initial { " (initial import)" } else { "" },
                plan.listed,
                done.added,
                done.removed,
                if plan.deferred.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} removal(s) deferred until the file parses cleanly",
                        plan.deferred.len()
                    )
                }
            );
        }
        self.baseline = Some(plan.baseline);
    }
}

/// The next read time after an event: `DEBOUNCE` after it, but no later than `MAX_DELAY`
/// after the first event of the burst.
fn schedule(due: Option<(Instant, Instant)>) -> (Instant, Instant) {
    let now = Instant::now();
    let first = due.map_or(now, |(_, first)| first);
    ((now + DEBOUNCE).min(first + MAX_DELAY), first)
}

fn read_capped(path: &Path) -> std::io::Result<String> {
    let f = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_SIZE} bytes; not a packages.list"
        )));
    }
    // A stray non-UTF-8 byte spoils its line only (reported as a bad line).
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What one version of the file asks for.
#[derive(Debug, Default)]
struct Plan {
    /// Valid lines in the file.
    listed: usize,
    add: Vec<PackagesListEntry>,
    remove: Vec<PackagesListEntry>,
    /// Removals not applied because the file had bad lines (applied once it parses cleanly).
    deferred: Vec<PackagesListEntry>,
    /// What the next version is compared with.
    baseline: Vec<PackagesListEntry>,
}

/// Decides what to apply; `Err` means the version is skipped (the baseline stays).
fn plan(baseline: Option<&[PackagesListEntry]>, text: &str) -> Result<Plan, String> {
    let (entries, errors) = parse_lenient(text);
    for e in errors.iter().take(5) {
        log::warn!("{e}");
    }
    if errors.len() > 5 {
        log::warn!("packages.list: {} more bad lines", errors.len() - 5);
    }
    if entries.is_empty() {
        if !errors.is_empty() {
            return Err(format!("no valid line ({} bad)", errors.len()));
        }
        if baseline.is_some_and(|b| !b.is_empty()) {
            return Err("the file lists no package; not applying that as uninstalling all".into());
        }
    }
    if errors.len() > entries.len() {
        return Err(format!(
            "more bad lines ({}) than valid ones ({})",
            errors.len(),
            entries.len()
        ));
    }
    let listed = entries.len();
    let Some(base) = baseline else {
        // First read: import only.
        return Ok(Plan {
            listed,
            add: entries.clone(),
            baseline: entries,
            ..Plan::default()
        });
    };
    let (add, removed) = diff(base, &entries);
    let (remove, deferred) = if errors.is_empty() {
        (removed, Vec::new())
    } else {
        // A package on a bad line would look uninstalled: remove nothing from this version,
        // and keep comparing with the removed entries until a clean version shows them gone.
        (Vec::new(), removed)
    };
    let mut next = entries;
    next.extend(deferred.iter().cloned());
    Ok(Plan {
        listed,
        add,
        remove,
        deferred,
        baseline: next,
    })
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Applied {
    added: usize,
    removed: usize,
}

/// Applies removals (then additions, so a uid change reinstalls) to the store;
/// `remove_dirs` deletes an uninstalled package's app dirs.
fn apply(
    store: &Store,
    plan: &Plan,
    remove_dirs: &mut dyn FnMut(&str) -> Result<(), String>,
) -> Applied {
    let mut done = Applied::default();
    for r in &plan.remove {
        match store.package(&r.package) {
            Ok(Some(p)) if p.uid == r.uid => match store.remove_package(&r.package) {
                Ok(_) => {
                    done.removed += 1;
                    log::info!("packages.list: {} (uid {}) uninstalled", r.package, r.uid);
                    if let Err(e) = remove_dirs(&r.package) {
                        log::error!("packages.list: deleting the app dirs of {}: {e}", r.package);
                    }
                }
                Err(e) => log::error!("packages.list: removing {}: {e}", r.package),
            },
            Ok(Some(p)) => log::warn!(
                "packages.list: {} left the list with uid {}, but the store has it with uid {}; \
                 not removed",
                r.package,
                r.uid,
                p.uid
            ),
            Ok(None) => {}
            Err(e) => log::error!("packages.list: looking up {}: {e}", r.package),
        }
    }
    for a in &plan.add {
        match store.package(&a.package) {
            Ok(None) => {
                let pkg = Package {
                    name: a.package.clone(),
                    uid: a.uid,
                    target_sdk: a.target_sdk().unwrap_or(DEFAULT_TARGET_SDK),
                    legacy: false,
                    perms: PermSet::empty(),
                };
                match store.add_package(&pkg) {
                    Ok(()) => {
                        done.added += 1;
                        log::debug!("packages.list: {} (uid {}) installed", a.package, a.uid);
                    }
                    Err(e) => log::error!("packages.list: adding {}: {e}", a.package),
                }
            }
            Ok(Some(p)) if p.uid == a.uid => {}
            Ok(Some(p)) => log::warn!(
                "packages.list: {} is listed with uid {}, but the store has it with uid {}; \
                 not changed",
                a.package,
                a.uid,
                p.uid
            ),
            Err(e) => log::error!("packages.list: looking up {}: {e}", a.package),
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "com.example.a 10001 0 /data/user/0/com.example.a default:targetSdkVersion=29:complete none 0 1 1 @null\n";
    const B: &str = "com.example.b 10002 0 /data/user/0/com.example.b default none\n";
    const C: &str = "com.example.c 10003 0 /data/user/0/com.example.c default none\n";

    fn names(v: &[PackagesListEntry]) -> Vec<&str> {
        v.iter().map(|e| e.package.as_str()).collect()
    }

    fn no_dirs(_: &str) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn first_read_imports_only() {
        let p = plan(None, &format!("{A}{B}")).unwrap();
        assert_eq!(names(&p.add), ["com.example.a", "com.example.b"]);
        assert!(p.remove.is_empty());
        assert_eq!(p.baseline.len(), 2);
    }

    #[test]
    fn diff_against_the_last_version() {
        let base = plan(None, &format!("{A}{B}")).unwrap().baseline;
        let p = plan(Some(&base), &format!("{A}{C}")).unwrap();
        assert_eq!(names(&p.add), ["com.example.c"]);
        assert_eq!(names(&p.remove), ["com.example.b"]);
        // An update (same name and uid) is neither.
        let upd = A.replace("targetSdkVersion=29", "targetSdkVersion=34");
        let p = plan(Some(&base), &format!("{upd}{B}")).unwrap();
        assert!(p.add.is_empty() && p.remove.is_empty());
    }

    #[test]
    fn damaged_versions_never_uninstall() {
        let base = plan(None, &format!("{A}{B}{C}")).unwrap().baseline;
        // Empty file.
        assert!(plan(Some(&base), "").is_err());
        assert!(plan(Some(&base), "\n# only a comment\n").is_err());
        // Only garbage, or mostly garbage.
        assert!(plan(Some(&base), "garbage\n").is_err());
        assert!(plan(Some(&base), &format!("{A}x\ny\n")).is_err());
        // One bad line (B truncated): additions apply, the removal waits.
        let p = plan(Some(&base), &format!("{A}com.example.b 10002 0\n{C}")).unwrap();
        assert!(p.remove.is_empty());
        assert_eq!(names(&p.deferred), ["com.example.b"]);
        // ... and is applied once a clean version still lacks it.
        let p = plan(Some(&p.baseline), &format!("{A}{C}")).unwrap();
        assert_eq!(names(&p.remove), ["com.example.b"]);
        // An empty file with nothing applied before is just empty.
        assert!(plan(None, "").unwrap().add.is_empty());
    }

    #[test]
    fn applies_to_the_store() {
        let store = Store::open_in_memory().unwrap();
        store
            .add_package(&Package {
                name: "com.example.manual".into(),
                uid: 10050,
                target_sdk: 30,
                legacy: false,
                perms: PermSet::empty(),
            })
            .unwrap();
        let p = plan(None, &format!("{A}{B}")).unwrap();
        assert_eq!(
            apply(&store, &p, &mut no_dirs),
            Applied {
                added: 2,
                removed: 0
            }
        );
        let a = store.package("com.example.a").unwrap().unwrap();
        assert_eq!((a.uid, a.target_sdk), (10001, 29));
        let b = store.package("com.example.b").unwrap().unwrap();
        assert_eq!(b.target_sdk, DEFAULT_TARGET_SDK);
        // Re-applying is a no-op.
        assert_eq!(apply(&store, &p, &mut no_dirs), Applied::default());

        // B uninstalled, A reinstalled with another uid.
        let a2 = A.replace("10001", "10077");
        let p2 = plan(Some(&p.baseline), &a2).unwrap();
        let mut deleted = Vec::new();
        let done = apply(&store, &p2, &mut |pkg| {
            deleted.push(pkg.to_string());
            Ok(())
        });
        assert_eq!(
            done,
            Applied {
                added: 1,
                removed: 2
            }
        );
        deleted.sort();
        assert_eq!(deleted, ["com.example.a", "com.example.b"]);
        assert!(store.package("com.example.b").unwrap().is_none());
        assert_eq!(store.package("com.example.a").unwrap().unwrap().uid, 10077);
        // Packages registered by hand are never touched by the file.
        assert!(store.package("com.example.manual").unwrap().is_some());
    }

    #[test]
    fn uid_mismatch_leaves_the_store_alone() {
        let store = Store::open_in_memory().unwrap();
        store
            .add_package(&Package {
                name: "com.example.b".into(),
                uid: 10099,
                target_sdk: 30,
                legacy: false,
                perms: PermSet::empty(),
            })
            .unwrap();
        let base = plan(None, &format!("{A}{B}")).unwrap().baseline;
        let p = plan(Some(&base), A).unwrap();
        assert_eq!(names(&p.remove), ["com.example.b"]);
        assert_eq!(apply(&store, &p, &mut no_dirs).removed, 0);
        assert_eq!(store.package("com.example.b").unwrap().unwrap().uid, 10099);
    }
}
