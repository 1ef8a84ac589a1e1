//! Harness for the CTS-style integration suites (`tests/tests/cts_*.rs`): builds and starts the
//! real `mediaproviderd serve` on a temporary lower tree, registers apps through the real
//! `mediaproviderd app` command line, and performs syscalls as real uids (a forked child that
//! drops to the uid with `setresuid`), handing back the errno the app saw.
//!
//! Environment:
//! * not root, or no usable `/dev/fuse`: every suite prints `SKIP: …` and passes — unless
//!   `CI=true`, where that is a failure;
//! * `MEDIAPROVIDERD_BIN=PATH`: use this daemon binary instead of building it with cargo;
//! * `MPD_TEST_LOG=LEVEL`: the daemon's log level (its stderr goes to `<tmp>/serve-N.log`);
//! * `MPD_TEST_KEEP=1`: keep the temporary directories of stopped daemons.

pub mod shim;
pub mod sys;
pub mod wire;

pub use sys::*;
pub use wire::Wire;

use serde_json::Value;
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Environment checks
// ---------------------------------------------------------------------------------------------

/// True when `CI=true` (or `CI=1`): missing prerequisites are failures, not skips.
pub fn in_ci() -> bool {
    matches!(
        std::env::var("CI").as_deref(),
        Ok("true") | Ok("1") | Ok("TRUE")
    )
}

/// Why these suites cannot run here, if they cannot.
pub fn missing_prerequisite() -> Option<String> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (the suites mount FUSE and switch uids)".into());
    }
    match fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
    {
        Ok(_) => None,
        Err(e) => Some(format!("/dev/fuse is not usable: {e}")),
    }
}

/// Prints `SKIP: msg` once per process and message, straight to fd 2 so that libtest's output
/// capture does not swallow it.
pub fn skip_note(msg: &str) {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.iter().any(|m| m == msg) {
        return;
    }
    seen.push(msg.to_string());
    let line = format!(
        "SKIP: {msg} (the affected tests pass without running; CI=true makes this a failure)\n"
    );
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

/// Returns false (after printing `SKIP: …`) when the suite cannot run; panics instead under CI.
pub fn can_run(what: &str) -> bool {
    match missing_prerequisite() {
        None => true,
        Some(why) => {
            if in_ci() {
                panic!("{what}: cannot run under CI=true: {why}");
            }
            skip_note(&format!("{what}: {why}"));
            false
        }
    }
}

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

// ---------------------------------------------------------------------------------------------
// Running code as a uid
// ---------------------------------------------------------------------------------------------

const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// Forks; the child drops to `uid` (gid = uid, no supplementary groups), runs `f` and sends its
/// result back through a pipe. uid 0 keeps root. Panics in the child are re-raised here.
pub fn run_as<R: Wire, F: FnOnce() -> R>(uid: u32, f: F) -> R {
    let mut fds = [0 as libc::c_int; 2];
    assert_eq!(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) },
        0,
        "pipe2"
    );
    let (rd, wr) = (fds[0], fds[1]);
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", Errno::last());
    if pid == 0 {
        unsafe { libc::close(rd) };
        let msg = child_body(uid, f);
        let mut frame = (msg.len() as u64).to_le_bytes().to_vec();
        frame.extend_from_slice(&msg);
        let _ = Fd(wr).write_all(&frame);
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::close(wr) };
    let rd = Fd(rd);
    unsafe { libc::fcntl(rd.0, libc::F_SETFL, libc::O_NONBLOCK) };
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let mut buf: Vec<u8> = Vec::new();
    let mut exited: Option<i32> = None;
    loop {
        // Read what is there.
        let mut chunk = [0u8; 65536];
        loop {
            let n = unsafe { libc::read(rd.0, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n > 0 {
                buf.extend_from_slice(&chunk[..n as usize]);
            } else {
                break;
            }
        }
        if buf.len() >= 8 {
            let len = u64::from_le_bytes(buf[..8].try_into().unwrap()) as usize;
            if buf.len() >= 8 + len {
                break;
            }
        }
        if let Some(status) = exited {
            panic!("child (uid {uid}) exited without a result (wait status {status:#x})");
        }
        let mut status = 0;
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            exited = Some(status);
            continue; // drain once more
        }
        if Instant::now() > deadline {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("child (uid {uid}) timed out after {CHILD_TIMEOUT:?} (daemon hung?)");
        }
        let mut pfd = libc::pollfd {
            fd: rd.0,
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut pfd, 1, 50) };
    }
    if exited.is_none() {
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    let len = u64::from_le_bytes(buf[..8].try_into().unwrap()) as usize;
    let msg = &buf[8..8 + len];
    match msg.first() {
        Some(0) => wire::decode::<R>(&msg[1..])
            .unwrap_or_else(|| panic!("child (uid {uid}): undecodable result")),
        Some(1) => panic!(
            "child (uid {uid}) panicked: {}",
            String::from_utf8_lossy(&msg[1..])
        ),
        _ => panic!(
            "child (uid {uid}) failed to switch identity: {}",
            String::from_utf8_lossy(&msg[1..])
        ),
    }
}

fn child_body<R: Wire, F: FnOnce() -> R>(uid: u32, f: F) -> Vec<u8> {
    if uid != 0 {
        let fail = |what: &str| {
            let mut m = vec![2u8];
            m.extend_from_slice(format!("{what}: {}", Errno::last()).as_bytes());
            m
        };
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0 {
                return fail("setgroups");
            }
            if libc::setresgid(uid, uid, uid) != 0 {
                return fail("setresgid");
            }
            if libc::setresuid(uid, uid, uid) != 0 {
                return fail("setresuid");
            }
        }
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => {
            let mut m = vec![0u8];
            v.put(&mut m);
            m
        }
        Err(p) => {
            let s = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            let mut m = vec![1u8];
            m.extend_from_slice(s.as_bytes());
            m
        }
    }
}

/// A calling identity on one mount: every method performs the syscall as `uid` on
/// `<mount>/<rel>` and returns what the app would see.
#[derive(Clone, Debug)]
pub struct User {
    pub uid: u32,
    pub mnt: PathBuf,
}

impl User {
    pub fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.mnt.clone()
        } else {
            self.mnt.join(rel)
        }
    }

    /// Runs `f` as this uid.
    pub fn run<R: Wire, F: FnOnce() -> R>(&self, f: F) -> R {
        run_as(self.uid, f)
    }

    pub fn read(&self, rel: &str) -> R<Vec<u8>> {
        let p = self.path(rel);
        self.run(|| sys::read_file(&p))
    }
    /// pread of `len` bytes at `off` through one O_RDONLY open.
    pub fn read_at(&self, rel: &str, off: u64, len: usize) -> R<Vec<u8>> {
        let p = self.path(rel);
        self.run(|| sys::open(&p, libc::O_RDONLY, 0)?.pread(off, len))
    }
    /// Reads the whole file in `chunk`-byte preads.
    pub fn read_chunked(&self, rel: &str, chunk: usize) -> R<Vec<u8>> {
        let p = self.path(rel);
        self.run(|| {
            let fd = sys::open(&p, libc::O_RDONLY, 0)?;
            let mut out = Vec::new();
            loop {
                let b = fd.pread(out.len() as u64, chunk)?;
                if b.is_empty() {
                    return Ok(out);
                }
                out.extend_from_slice(&b);
            }
        })
    }
    /// `O_CREAT|O_EXCL|O_WRONLY`, write, close.
    pub fn create(&self, rel: &str, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::create(&p, &d))
    }
    pub fn create_flags(&self, rel: &str, flags: i32, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::create_flags(&p, flags, &d))
    }
    /// open(flags) + close.
    pub fn open(&self, rel: &str, flags: i32) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::open_close(&p, flags))
    }
    /// `O_WRONLY|O_TRUNC` + write.
    pub fn overwrite(&self, rel: &str, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::overwrite(&p, &d))
    }
    pub fn write_at(&self, rel: &str, off: u64, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::write_at(&p, off, &d))
    }
    pub fn append(&self, rel: &str, data: &[u8]) -> R<()> {
        let p = self.path(rel);
        let d = data.to_vec();
        self.run(|| sys::append(&p, &d))
    }
    pub fn stat(&self, rel: &str) -> R<Stat> {
        let p = self.path(rel);
        self.run(|| sys::stat(&p))
    }
    pub fn exists(&self, rel: &str) -> bool {
        self.stat(rel).is_ok()
    }
    pub fn access(&self, rel: &str, mode: i32) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::access(&p, mode))
    }
    pub fn mkdir(&self, rel: &str) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::mkdir(&p))
    }
    pub fn rmdir(&self, rel: &str) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::rmdir(&p))
    }
    pub fn unlink(&self, rel: &str) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::unlink(&p))
    }
    pub fn rename(&self, a: &str, b: &str) -> R<()> {
        let (pa, pb) = (self.path(a), self.path(b));
        self.run(|| sys::rename(&pa, &pb))
    }
    pub fn rename2(&self, a: &str, b: &str, flags: u32) -> R<()> {
        let (pa, pb) = (self.path(a), self.path(b));
        self.run(|| sys::rename2(&pa, &pb, flags))
    }
    /// Sorted names in a directory.
    pub fn ls(&self, rel: &str) -> R<Vec<String>> {
        let p = self.path(rel);
        self.run(|| sys::readdir(&p))
    }
    /// True if `name` shows up in the listing of `dir` (panics if the listing fails).
    pub fn lists(&self, dir: &str, name: &str) -> bool {
        match self.ls(dir) {
            Ok(v) => v.iter().any(|n| n == name),
            Err(e) => panic!("uid {}: readdir {dir}: {e}", self.uid),
        }
    }
    pub fn truncate(&self, rel: &str, len: u64) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::truncate(&p, len))
    }
    pub fn utimes(&self, rel: &str, secs: i64) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::utimes(&p, secs))
    }
    pub fn chmod(&self, rel: &str, mode: u32) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::chmod(&p, mode))
    }
    pub fn mmap(&self, rel: &str, shared: bool) -> R<Vec<u8>> {
        let p = self.path(rel);
        self.run(|| sys::mmap_read(&p, shared))
    }
    pub fn exec(&self, rel: &str) -> R<()> {
        let p = self.path(rel);
        self.run(|| sys::exec(&p))
    }
}

/// A one-shot signal between processes and threads: a pipe created before forking, so forked
/// children (and the test thread) can `send` and `wait` on it.
pub struct Signal {
    r: libc::c_int,
    w: libc::c_int,
}

impl Signal {
    pub fn new() -> Signal {
        let mut fds = [0 as libc::c_int; 2];
        assert_eq!(
            unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) },
            0,
            "pipe2"
        );
        Signal {
            r: fds[0],
            w: fds[1],
        }
    }

    pub fn send(&self) {
        let b = [1u8];
        unsafe { libc::write(self.w, b.as_ptr().cast(), 1) };
    }

    /// Waits for one `send`; false on timeout.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: self.r,
                events: libc::POLLIN,
                revents: 0,
            };
            let n =
                unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
            if n > 0 {
                let mut b = [0u8];
                if unsafe { libc::read(self.r, b.as_mut_ptr().cast(), 1) } == 1 {
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }
}

impl Default for Signal {
    fn default() -> Self {
        Signal::new()
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        unsafe {
            libc::close(self.r);
            libc::close(self.w);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The daemon binary
// ---------------------------------------------------------------------------------------------

/// The workspace root (parent of this crate).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `../shared` next to the workspace (corpus, oracle tools).
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Path of the `mediaproviderd` binary, built (once per test process) with the same cargo,
/// target directory and profile as this test binary, so the suites never test a stale daemon.
pub fn daemon_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("MEDIAPROVIDERD_BIN") {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "MEDIAPROVIDERD_BIN={} does not exist",
                p.display()
            );
            return p;
        }
        // <target>/<profile>/deps/<test binary>
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary is not in <target>/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let profile = profile_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let bin = profile_dir.join("mediaproviderd");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(&cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "mediaproviderd",
            "--bin",
            "mediaproviderd",
        ])
        .current_dir(workspace_dir())
        .env("CARGO_TARGET_DIR", &target_dir);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        match cmd.output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "building mediaproviderd failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) if bin.is_file() => {
                eprintln!(
                    "note: cannot run {cargo} ({e}); using the existing {}",
                    bin.display()
                )
            }
            Err(e) => panic!("cannot run {cargo} to build mediaproviderd: {e}"),
        }
        assert!(bin.is_file(), "{} missing after build", bin.display());
        bin
    })
}

/// Runs `mediaproviderd ARGS…`; returns (exit status, stdout, stderr).
pub fn mpd(args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new(daemon_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mediaproviderd");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `mediaproviderd ARGS…`, panicking unless it exits 0; returns stdout.
pub fn mpd_ok(args: &[&str]) -> String {
    let (st, out, err) = mpd(args);
    assert!(st.success(), "mediaproviderd {args:?} failed ({st}): {err}");
    out
}

// ---------------------------------------------------------------------------------------------
// Mounts and cleanup
// ---------------------------------------------------------------------------------------------

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One mount from /proc/self/mountinfo.
#[derive(Clone, Debug)]
pub struct MountEntry {
    pub mount_point: String,
    pub mount_options: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

pub fn mounts() -> Vec<MountEntry> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let f: Vec<&str> = pre.split(' ').collect();
            let g: Vec<&str> = post.split(' ').collect();
            Some(MountEntry {
                mount_point: unescape_mountinfo(f.get(4)?),
                mount_options: f.get(5)?.to_string(),
                fstype: g.first()?.to_string(),
                source: g.get(1).unwrap_or(&"").to_string(),
                super_options: g.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// The FUSE mount at `mnt`, if one is there.
pub fn fuse_mount_at(mnt: &Path) -> Option<MountEntry> {
    let want = mnt.to_string_lossy();
    mounts()
        .into_iter()
        .rev()
        .find(|m| m.mount_point == want && m.fstype.starts_with("fuse"))
}

struct Live {
    pid: i32,
    mnt: PathBuf,
    root: PathBuf,
}

static LIVE: Mutex<Vec<Live>> = Mutex::new(Vec::new());

fn lock_live() -> std::sync::MutexGuard<'static, Vec<Live>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

fn pid_alive(pid: i32) -> bool {
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// Stops a daemon by pid: `sig`, wait up to `timeout`, then SIGKILL and a lazy unmount.
/// Returns the wait status if it was reaped here.
fn stop_pid(pid: i32, mnt: &Path, sig: i32, timeout: Duration) -> Option<i32> {
    unsafe { libc::kill(pid, sig) };
    let deadline = Instant::now() + timeout;
    let mut status = 0;
    let mut reaped = None;
    loop {
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            reaped = Some(status);
            break;
        }
        if r < 0 {
            break; // not our child (or already reaped)
        }
        if Instant::now() > deadline {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    force_unmount(mnt);
    reaped
}

/// Detaches whatever FUSE mount is still at `mnt`.
pub fn force_unmount(mnt: &Path) {
    for _ in 0..4 {
        if fuse_mount_at(mnt).is_none() {
            return;
        }
        let c = cpath(mnt);
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

extern "C" fn cleanup_at_exit() {
    let live: Vec<Live> = std::mem::take(&mut *lock_live());
    for l in live {
        stop_pid(l.pid, &l.mnt, libc::SIGTERM, Duration::from_secs(10));
        if std::env::var_os("MPD_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&l.root);
        }
    }
}

const TMP_PREFIX: &str = "mpd-tests-";

/// Once per process: register the exit hook and clean up after earlier test processes that
/// died without cleaning (their mounts and temp dirs, identified by a dead pid in the name).
fn process_setup() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        unsafe { libc::atexit(cleanup_at_exit) };
        let tmp = std::env::temp_dir();
        let Ok(rd) = fs::read_dir(&tmp) else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(TMP_PREFIX) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            if pid == std::process::id() as i32 || pid_alive(pid) {
                continue;
            }
            let root = e.path();
            force_unmount(&root.join("mnt"));
            if fuse_mount_at(&root.join("mnt")).is_none() {
                let _ = fs::remove_dir_all(&root);
            }
        }
    });
}

/// Spawns from one long-lived thread: the daemon has `PR_SET_PDEATHSIG`, which fires when the
/// *thread* that forked it exits, and test threads end with their test.
fn spawn_daemon(cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("mpd-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The channel lives in a static: this loop never ends before the process.
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    let (rtx, rrx) = mpsc::channel();
    tx.lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, rtx))
        .expect("spawner gone");
    rrx.recv().expect("spawner gone")
}

// ---------------------------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------------------------

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

/// The fd number a handed-over `/dev/fuse` gets in the daemon.
pub const HANDOFF_FD: i32 = 9;

/// Mounts FUSE at `mnt` the way vold does (nosuid,nodev,noexec, allow_other, no
/// default_permissions) and returns the `/dev/fuse` fd serving it.
pub fn premount(mnt: &Path) -> Fd {
    let dev = std::ffi::CString::new("/dev/fuse").unwrap();
    let fd = unsafe { libc::open(dev.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    assert!(fd >= 0, "open /dev/fuse: {}", Errno::last());
    let fd = Fd(fd);
    let data = std::ffi::CString::new(format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,allow_other",
        fd.0
    ))
    .unwrap();
    let (src, fstype) = (
        std::ffi::CString::new("mediaproviderd").unwrap(),
        std::ffi::CString::new("fuse.mediaproviderd").unwrap(),
    );
    let target = cpath(mnt);
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_NOATIME;
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    };
    assert_eq!(rc, 0, "mount fuse at {}: {}", mnt.display(), Errno::last());
    fd
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

// ---------------------------------------------------------------------------------------------
// Redaction helpers
// ---------------------------------------------------------------------------------------------

/// `mediaproviderd ranges FILE` applied to `orig`: the bytes a redacted reader must get.
pub fn apply_ranges_cli(file: &Path, orig: &[u8]) -> Vec<u8> {
    let out = mpd_ok(&["ranges", &file.display().to_string()]);
    let v: Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("ranges output {out:?}: {e}"));
    apply_ranges(&v, orig)
}

pub fn apply_ranges(v: &Value, orig: &[u8]) -> Vec<u8> {
    let mut out = orig.to_vec();
    for r in v["ranges"].as_array().expect("ranges: no \"ranges\" array") {
        let s = r["start"].as_u64().expect("range start") as usize;
        let e = r["end"].as_u64().expect("range end") as usize;
        assert!(
            s <= e && e <= out.len(),
            "range {s}..{e} outside the file ({})",
            out.len()
        );
        if let Some(fill) = r.get("fill").and_then(Value::as_u64) {
            out[s..e].iter_mut().for_each(|b| *b = fill as u8);
        } else if let Some(hex) = r.get("hex").and_then(Value::as_str) {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            assert_eq!(bytes.len(), e - s, "hex length of range {s}..{e}");
            out[s..e].copy_from_slice(&bytes);
        } else {
            panic!("range {r} has neither fill nor hex");
        }
    }
    out
}

/// Runs `python3 shared/tools/check_redaction.py ORIG REDACTED --strict`; Err(report) on failure.
pub fn check_redaction(orig: &Path, redacted: &Path) -> Result<(), String> {
    let tool = shared_dir().join("tools/check_redaction.py");
    let out = Command::new("python3")
        .arg(&tool)
        .arg(orig)
        .arg(redacted)
        .arg("--strict")
        .output()
        .map_err(|e| format!("cannot run python3 {}: {e}", tool.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Reads all of a file into memory (panics with the path on failure).
pub fn slurp(p: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    fs::File::open(p)
        .and_then(|mut f| f.read_to_end(&mut v))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_as_switches_uid_and_returns_errno() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIP: not root");
            return;
        }
        let (uid, gid) = run_as(54321, || unsafe { (libc::getuid(), libc::getgid()) });
        assert_eq!((uid, gid), (54321, 54321));
        // A root-only directory is closed to the child.
        let dir = std::env::temp_dir().join(format!("mpd-runas-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let p = dir.join("x");
        assert_eq!(run_as(54321, || sys::create(&p, b"x")), Err(EACCES));
        assert_eq!(run_as(0, || sys::create(&p, b"x")), Ok(()));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    #[should_panic(expected = "child (uid 54322) panicked: boom")]
    fn run_as_reraises_child_panics() {
        if unsafe { libc::geteuid() } != 0 {
            panic!("child (uid 54322) panicked: boom");
        }
        run_as(54322, || -> u32 { panic!("boom") });
    }

    #[test]
    fn builds_the_daemon() {
        let bin = daemon_bin();
        assert!(bin.is_file());
        // Help is asked for: stdout, exit 0.
        let (st, out, err) = mpd(&["--help"]);
        assert!(st.success(), "{err}");
        assert!(out.contains("serve"), "{out}");
    }
}
