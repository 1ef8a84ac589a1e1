//! The fixture: a temporary lower tree, mount point and store with a running `serve`.

use crate::daemon::daemon_bin;
use crate::live::{lock_live, process_setup, spawn_daemon, stop_pid, Live, TMP_PREFIX};
use crate::mounts::{force_unmount, fuse_mount_at, premount, HANDOFF_FD};
use crate::run_as::run_as;
use crate::skip::can_run;
use crate::sys;
use crate::user::User;
use serde_json::Value;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// `let fx = shared_fixture!();` in a test: the binary's shared daemon, or return (skip).
#[macro_export]
macro_rules! shared_fixture {
    () => {
        match $crate::Fixture::shared() {
            Some(fx) => fx,
            None => return,
        }
    };
}

/// How to start `serve`.
#[derive(Clone, Debug)]
pub struct ServeOpts {
    pub threads: u32,
    pub passthrough: bool,
    pub stats: bool,
    /// Mount `/dev/fuse` here, vold-style, and hand the fd over with `--fuse-fd`.
    pub fuse_fd: bool,
    /// Wait until the daemon answers a request on the mount before returning from `start`.
    pub wait_ready: bool,
    pub extra: Vec<String>,
    /// Extra environment for the daemon (an `LD_PRELOAD` shim, say).
    pub env: Vec<(String, String)>,
}

impl Default for ServeOpts {
    fn default() -> Self {
        ServeOpts {
            threads: 4,
            passthrough: true,
            stats: true,
            fuse_fd: false,
            wait_ready: true,
            extra: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// A temporary lower tree, mount point and store with a running `serve`.
pub struct Fixture {
    pub root: PathBuf,
    pub lower: PathBuf,
    pub mnt: PathBuf,
    pub db: PathBuf,
    pub stats_path: Option<PathBuf>,
    pub log: PathBuf,
    pub opts: ServeOpts,
    child: Mutex<Option<Child>>,
    pid: i32,
    next_id: AtomicU32,
    probe: AtomicU32,
    stopped: Mutex<Option<ExitStatus>>,
    keep_dir: std::sync::atomic::AtomicBool,
}

static FIXTURE_SEQ: AtomicU32 = AtomicU32::new(0);

impl Fixture {
    /// The daemon shared by every test of this test binary (started on first use, stopped and
    /// unmounted at process exit). `None` (after printing SKIP) if the suites cannot run here.
    pub fn shared() -> Option<&'static Fixture> {
        static SHARED: OnceLock<Fixture> = OnceLock::new();
        if !can_run("mediaproviderd integration suite") {
            return None;
        }
        Some(SHARED.get_or_init(|| Fixture::start(ServeOpts::default())))
    }

    /// Creates a fresh temporary tree and starts `serve` on it.
    pub fn start(opts: ServeOpts) -> Fixture {
        let root = Self::make_root();
        let lower = root.join("lower");
        fs::create_dir_all(&lower).unwrap();
        Self::start_on(root, lower, opts)
    }

    /// A fresh temporary root (0755, so app uids can reach the mount point below it).
    pub fn make_root() -> PathBuf {
        process_setup();
        let n = FIXTURE_SEQ.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("{TMP_PREFIX}{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        root
    }

    /// Starts `serve` with `root/{mnt,store.db,serve.log,stats.json}` over `lower` (which may
    /// be a lower tree a previous fixture left behind).
    pub fn start_on(root: PathBuf, lower: PathBuf, opts: ServeOpts) -> Fixture {
        let mnt = root.join("mnt");
        fs::create_dir_all(&mnt).unwrap();
        fs::set_permissions(&mnt, fs::Permissions::from_mode(0o755)).unwrap();
        let db = root.join("store.db");
        let log = root.join(format!(
            "serve-{}.log",
            FIXTURE_SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let stats_path = opts.stats.then(|| root.join("stats.json"));
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--lower".into(),
            lower.display().to_string(),
            "--mount".into(),
            mnt.display().to_string(),
            "--db".into(),
            db.display().to_string(),
            "--threads".into(),
            opts.threads.to_string(),
        ];
        if !opts.passthrough {
            args.push("--no-passthrough".into());
        }
        if let Some(s) = &stats_path {
            args.push("--stats".into());
            args.push(s.display().to_string());
        }
        args.extend(opts.extra.iter().cloned());
        let handoff = opts.fuse_fd.then(|| {
            args.push("--fuse-fd".into());
            args.push(HANDOFF_FD.to_string());
            premount(&mnt)
        });
        let mut cmd = Command::new(daemon_bin());
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(root.join("serve.stdout")).unwrap())
            .stderr(fs::File::create(&log).unwrap())
            .env(
                "MEDIAPROVIDERD_LOG",
                std::env::var("MPD_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(opts.env.iter().map(|(k, v)| (k, v)));
        let handoff_raw = handoff.as_ref().map(|f| f.0);
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(fd) = handoff_raw {
                    // dup2 clears FD_CLOEXEC on the new descriptor; dup2(9, 9) would not.
                    let rc = if fd == HANDOFF_FD {
                        libc::fcntl(fd, libc::F_SETFD, 0)
                    } else {
                        libc::dup2(fd, HANDOFF_FD)
                    };
                    if rc < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = spawn_daemon(cmd).expect("spawn mediaproviderd serve");
        drop(handoff); // the daemon has its own copy now
        let pid = child.id() as i32;
        lock_live().push(Live {
            pid,
            mnt: mnt.clone(),
            root: root.clone(),
        });
        let fx = Fixture {
            root,
            lower,
            mnt,
            db,
            stats_path,
            log,
            opts,
            child: Mutex::new(Some(child)),
            pid,
            next_id: AtomicU32::new(10_001),
            probe: AtomicU32::new(0),
            stopped: Mutex::new(None),
            keep_dir: std::sync::atomic::AtomicBool::new(false),
        };
        fx.wait_mounted(&args);
        fx
    }

    fn wait_mounted(&self, args: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if fuse_mount_at(&self.mnt).is_some() {
                if !self.opts.wait_ready {
                    return;
                }
                // The daemon answers: INIT is done and the store is open (with --fuse-fd the
                // mount exists before the daemon has even started).
                let mnt = self.mnt.clone();
                match run_as(0, move || sys::stat(&mnt)) {
                    Ok(_) => return,
                    Err(e) => panic!(
                        "mediaproviderd {}: stat of the mount point failed ({e}):\n{}",
                        args.join(" "),
                        self.log_tail(40)
                    ),
                }
            }
            if let Some(st) = self.try_wait() {
                panic!(
                    "mediaproviderd {} exited ({st}) before mounting:\n{}",
                    args.join(" "),
                    self.log_tail(40)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "mediaproviderd did not mount {} within 30 s:\n{}",
                    self.mnt.display(),
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The daemon's stderr once it contains `needle` (work the daemon logs from a background
    /// thread, e.g. the reconcile's), or as it is after 60 s.
    pub fn log_once_it_says(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let t = fs::read_to_string(&self.log).unwrap_or_default();
            if t.contains(needle) || std::time::Instant::now() >= deadline {
                return t;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The last `n` lines of the daemon's stderr.
    pub fn log_tail(&self, n: usize) -> String {
        let t = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = t.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Non-blocking: the exit status if the daemon has exited.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        if let Some(s) = *self.stopped.lock().unwrap() {
            return Some(s);
        }
        let mut g = self.child.lock().unwrap();
        let st = g.as_mut()?.try_wait().ok()??;
        *self.stopped.lock().unwrap() = Some(st);
        Some(st)
    }

    /// Waits up to `timeout` for the daemon to exit by itself.
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait() {
                self.forget_live();
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig` without waiting.
    pub fn signal(&self, sig: i32) {
        if self.try_wait().is_none() {
            unsafe { libc::kill(self.pid, sig) };
        }
    }

    /// Sends `sig` and waits (up to 20 s, then SIGKILL + lazy unmount). Returns the exit status.
    pub fn stop_with(&self, sig: i32) -> Option<ExitStatus> {
        if let Some(s) = self.try_wait() {
            self.forget_live();
            force_unmount(&self.mnt);
            return Some(s);
        }
        let status = stop_pid(self.pid, &self.mnt, sig, Duration::from_secs(20));
        self.forget_live();
        let st = status.map(ExitStatus::from_raw);
        // Never signal this pid again (it may be reused): remember it as stopped either way.
        *self.stopped.lock().unwrap() =
            Some(st.unwrap_or_else(|| ExitStatus::from_raw(libc::SIGKILL)));
        // The Child must not try to reap again.
        if let Some(c) = self.child.lock().unwrap().take() {
            std::mem::forget(c);
        }
        st
    }

    /// Stops the daemon with `sig` and starts a new one on the same lower tree and store
    /// (same mount point and options). Returns the old daemon's exit status and the new fixture.
    pub fn restart(self, sig: i32) -> (Option<ExitStatus>, Fixture) {
        self.restart_after(sig, |_| {})
    }

    /// Like [`Fixture::restart`], running `between` while the daemon is stopped (e.g. to lose
    /// the store).
    pub fn restart_after(
        self,
        sig: i32,
        between: impl FnOnce(&Fixture),
    ) -> (Option<ExitStatus>, Fixture) {
        let st = self.stop_with(sig);
        force_unmount(&self.mnt);
        between(&self);
        self.keep_dir.store(true, Ordering::SeqCst);
        let (root, lower, opts) = (self.root.clone(), self.lower.clone(), self.opts.clone());
        let next = self.next_id.load(Ordering::SeqCst);
        drop(self);
        let fx = Fixture::start_on(root, lower, opts);
        // Apps registered before the restart keep their uids: never hand them out again.
        fx.next_id.store(next, Ordering::SeqCst);
        (st, fx)
    }

    fn forget_live(&self) {
        lock_live().retain(|l| l.pid != self.pid);
    }

    /// Path of `rel` under the mount point.
    pub fn m(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.mnt.clone()
        } else {
            self.mnt.join(rel)
        }
    }

    /// Path of `rel` in the lower tree.
    pub fn l(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.lower.clone()
        } else {
            self.lower.join(rel)
        }
    }

    /// A caller with an arbitrary uid (root, shell, system, unregistered…).
    pub fn user(&self, uid: u32) -> User {
        User {
            uid,
            mnt: self.mnt.clone(),
        }
    }

    pub fn root_user(&self) -> User {
        self.user(0)
    }

    /// A fresh app uid nobody registered.
    pub fn fresh_uid(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    /// A unique name with `tag` in it.
    pub fn unique(&self, tag: &str) -> String {
        format!("{tag}_{}", self.next_id.fetch_add(1, Ordering::SeqCst))
    }

    /// Creates (as root, through the mount) a fresh directory `<top>/<tag>_<n>` and returns its
    /// volume-relative path.
    pub fn dir(&self, top: &str, tag: &str) -> String {
        let rel = format!("{top}/{}", self.unique(tag));
        sys::mkdir(&self.m(&rel)).unwrap_or_else(|e| panic!("root mkdir {rel}: {e}"));
        rel
    }

    /// Writes a file straight into the lower tree (behind the daemon's back), creating parents.
    pub fn put_lower(&self, rel: &str, data: &[u8]) {
        let p = self.l(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
    }

    // -- statistics (`serve --stats FILE`, rewritten on SIGUSR1) ---------------------------------

    /// Asks the daemon for its request counters: removes the file, sends SIGUSR1, pokes the
    /// mount (a lookup of a never-seen name) until the file reappears as a JSON object.
    pub fn stats(&self) -> HashMap<String, u64> {
        let path = self
            .stats_path
            .as_ref()
            .expect("fixture started without --stats");
        let _ = fs::remove_file(path);
        unsafe { libc::kill(self.pid, libc::SIGUSR1) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = fs::read_to_string(path) {
                if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&text) {
                    return m
                        .into_iter()
                        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_u64()?)))
                        .collect();
                }
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not write --stats {} within 10 s of SIGUSR1",
                path.display()
            );
            let n = self.probe.fetch_add(1, Ordering::SeqCst);
            let _ = sys::stat(&self.m(&format!(".mpd-stats-probe-{n}")));
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// One counter from [`Fixture::stats`] (panics if the daemon does not report it).
    pub fn counter(stats: &HashMap<String, u64>, key: &str) -> u64 {
        *stats
            .get(key)
            .unwrap_or_else(|| panic!("--stats has no \"{key}\" counter: {stats:?}"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            self.stop_with(libc::SIGTERM);
        } else {
            self.forget_live();
            force_unmount(&self.mnt);
        }
        if std::env::var_os("MPD_TEST_KEEP").is_none()
            && !self.keep_dir.load(Ordering::SeqCst)
            && fuse_mount_at(&self.mnt).is_none()
        {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}
