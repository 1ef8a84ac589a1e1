//! vold-style `/dev/fuse` handoff and live `packages.list` following, against the real binary.
//!
//! The test plays the mounter as root: it opens `/dev/fuse`, mounts it with
//! `fd=N,rootmode=40000,allow_other,user_id=0,group_id=0` (nosuid,nodev,noexec, like vold), then
//! gives the fd to `mediaproviderd serve` either as an inherited fd (`--fuse-fd N`) or over a
//! unix socket with SCM_RIGHTS (`--fuse-socket PATH`, bound by the daemon or inherited from
//! "init" through `ANDROID_SOCKET_<name>`), and checks real file access through the mount and
//! a clean SIGTERM (exit 0, mount gone).
//!
//! Needs root and `/dev/fuse` (and CAP_SYS_ADMIN for mount): otherwise each test prints
//! `SKIP: …` and passes, unless `CI=true`, where that is a failure.

use mediaproviderd_tests::{daemon_bin, in_ci};
use serde_json::Value;
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the daemon may take to apply a rewritten packages.list.
const APPLY_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Local harness
// ---------------------------------------------------------------------------------------------

fn skip_or_fail(what: &str, why: &str) -> bool {
    if in_ci() {
        panic!("{what}: cannot run under CI=true: {why}");
    }
    eprintln!("SKIP: {what}: {why}");
    false
}

/// Root and a usable `/dev/fuse`, or skip (fail under CI).
fn can_run(what: &str) -> bool {
    if unsafe { libc::geteuid() } != 0 {
        return skip_or_fail(
            what,
            "not running as root (the test mounts /dev/fuse itself)",
        );
    }
    match fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
    {
        Ok(_) => true,
        Err(e) => skip_or_fail(what, &format!("/dev/fuse is not usable: {e}")),
    }
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path with NUL")
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// A fresh temporary tree: `lower/`, `mnt/`, and room for the store, log and sockets.
struct Tree {
    root: PathBuf,
    lower: PathBuf,
    mnt: PathBuf,
    db: PathBuf,
}

impl Tree {
    fn new(tag: &str) -> Tree {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let root =
            std::env::temp_dir().join(format!("mpd-handoff-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let lower = root.join("lower");
        let mnt = root.join("mnt");
        fs::create_dir_all(&lower).unwrap();
        fs::create_dir_all(&mnt).unwrap();
        for d in [&root, &mnt] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let db = root.join("store.db");
        Tree {
            root,
            lower,
            mnt,
            db,
        }
    }

    fn ctl_socket(&self) -> PathBuf {
        let mut p = self.db.as_os_str().to_owned();
        p.push(".ctl");
        PathBuf::from(p)
    }

    fn serve_args(&self) -> Vec<String> {
        [
            "serve",
            "--lower",
            &self.lower.display().to_string(),
            "--mount",
            &self.mnt.display().to_string(),
            "--db",
            &self.db.display().to_string(),
            "--threads",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// `mediaproviderd app list`: the package names.
    fn app_list(&self) -> Vec<String> {
        let out = Command::new(daemon_bin())
            .args(["app", "list", "--db"])
            .arg(&self.db)
            .stdin(Stdio::null())
            .output()
            .expect("run mediaproviderd app list");
        assert!(
            out.status.success(),
            "app list failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("app list prints JSON lines");
                v["package"].as_str().expect("package name").to_string()
            })
            .collect()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        force_unmount(&self.mnt);
        if std::env::var_os("MPD_TEST_KEEP").is_none() && !is_fuse_mounted(&self.mnt) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

fn is_fuse_mounted(mnt: &Path) -> bool {
    let want = mnt.to_string_lossy();
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines().any(|l| {
        let Some((pre, post)) = l.split_once(" - ") else {
            return false;
        };
        pre.split(' ').nth(4) == Some(&*want) && post.starts_with("fuse")
    })
}

fn force_unmount(mnt: &Path) {
    for _ in 0..4 {
        if !is_fuse_mounted(mnt) {
            return;
        }
        let c = cpath(mnt);
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// What vold does: open `/dev/fuse` (close-on-exec) and mount it at `mnt`. `None`: mounting is
/// not permitted here (skip).
fn vold_mount(mnt: &Path) -> Option<OwnedFd> {
    let dev = cpath(Path::new("/dev/fuse"));
    let fd = unsafe { libc::open(dev.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    assert!(fd >= 0, "open /dev/fuse: {}", errno());
    // SAFETY: just opened, owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let opts = CString::new(format!(
        "fd={},rootmode=40000,allow_other,user_id=0,group_id=0",
        fd.as_raw_fd()
    ))
    .unwrap();
    let src = CString::new("mediaproviderd").unwrap();
    let fstype = CString::new("fuse.mediaproviderd").unwrap();
    let target = cpath(mnt);
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            opts.as_ptr().cast(),
        )
    };
    if rc != 0 {
        let e = errno();
        if e.raw_os_error() == Some(libc::EPERM) {
            skip_or_fail(
                "fd handoff",
                &format!("mount(2) of FUSE not permitted: {e}"),
            );
            return None;
        }
        panic!("mount fuse at {}: {e}", mnt.display());
    }
    assert!(is_fuse_mounted(mnt), "mount did not appear in mountinfo");
    Some(fd)
}

/// A running `serve`, killed (and its mount detached) on drop.
struct Serve {
    child: Option<Child>,
    log: PathBuf,
    mnt: PathBuf,
}

impl Serve {
    /// Spawns `mediaproviderd ARGS`; `keep_fds` stay open (not close-on-exec) in the child;
    /// `env` is added to its environment.
    fn spawn(tree: &Tree, args: &[String], keep_fds: &[RawFd], env: &[(&str, String)]) -> Serve {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let log = tree
            .root
            .join(format!("serve-{}.log", SEQ.fetch_add(1, Ordering::SeqCst)));
        let mut cmd = Command::new(daemon_bin());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .env(
                "MEDIAPROVIDERD_LOG",
                std::env::var("MPD_TEST_LOG").unwrap_or_else(|_| "info".into()),
            );
        for (k, v) in env {
            cmd.env(k, v);
        }
        let keep: Vec<RawFd> = keep_fds.to_vec();
        // SAFETY: only async-signal-safe calls (fcntl, prctl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &keep {
                    if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn mediaproviderd serve");
        Serve {
            child: Some(child),
            log,
            mnt: tree.mnt.clone(),
        }
    }

    fn log_tail(&self) -> String {
        let t = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = t.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits until `ready()` holds; panics (with the log) if the daemon exits or times out.
    fn wait_for(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while !ready() {
            if let Some(st) = self.try_wait() {
                panic!(
                    "serve exited ({st}) while waiting for {what}:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "serve: no {what} within {READY_TIMEOUT:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; returns the exit status (panics if it does not exit in time).
    fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("already stopped");
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve did not exit within {EXIT_TIMEOUT:?} of SIGTERM:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while !matches!(child.try_wait(), Ok(Some(_))) {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        force_unmount(&self.mnt);
    }
}

/// Sends `fd` over `stream` with SCM_RIGHTS (and one data byte, as stream sockets need).
fn send_fd(stream: &UnixStream, fd: RawFd) -> std::io::Result<()> {
    let mut byte = [b'F'];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    // u64 backing keeps the control buffer aligned for cmsghdr.
    let mut buf = vec![0u64; space.div_ceil(8)];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points at `space` bytes, enough for one cmsghdr carrying one fd.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
    }
    let n = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n == 1 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// Runs `f` on a thread and fails if it takes longer than `limit` (a hung FUSE request must
/// fail the test, not hang it; the guards then kill the daemon, which unblocks the thread).
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no answer within {limit:?}")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// Real file access as root through the mount: create, read back, see it in the lower tree,
/// list it with `ls`.
fn check_file_access(tree: &Tree, tag: &str) {
    let mnt = tree.mnt.clone();
    let lower = tree.lower.clone();
    let name = format!("handoff-{tag}.txt");
    let data = format!("written through a handed-over /dev/fuse fd ({tag})\n").into_bytes();
    within(
        Duration::from_secs(60),
        "file access through the mount",
        move || {
            let top: Vec<String> = fs::read_dir(&mnt)
                .expect("readdir of the mount root")
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(top.iter().any(|n| n == "DCIM"), "mount root lists {top:?}");
            let via_mount = mnt.join("DCIM").join(&name);
            fs::write(&via_mount, &data).expect("create a file in DCIM through the mount");
            assert_eq!(fs::read(&via_mount).expect("read it back"), data);
            assert_eq!(
                fs::read(lower.join("DCIM").join(&name)).expect("the file is in the lower tree"),
                data
            );
            let ls = Command::new("ls")
                .arg("-la")
                .arg(mnt.join("DCIM"))
                .output()
                .expect("run ls");
            assert!(
                ls.status.success(),
                "ls failed: {}",
                String::from_utf8_lossy(&ls.stderr)
            );
            assert!(
                String::from_utf8_lossy(&ls.stdout).contains(&name),
                "ls of DCIM lacks {name}:\n{}",
                String::from_utf8_lossy(&ls.stdout)
            );
        },
    );
}

fn assert_clean_exit(serve: &mut Serve, tree: &Tree) {
    let st = serve.terminate();
    assert_eq!(
        st.code(),
        Some(0),
        "serve exited with {st} (signal {:?}) after SIGTERM:\n{}",
        st.signal(),
        serve.log_tail()
    );
    assert!(
        !is_fuse_mounted(&tree.mnt),
        "the mount is still there after SIGTERM"
    );
}

// ---------------------------------------------------------------------------------------------
// fd handoff
// ---------------------------------------------------------------------------------------------

#[test]
fn serve_takes_an_inherited_fuse_fd() {
    if !can_run("serve --fuse-fd") {
        return;
    }
    let _ = daemon_bin();
    let tree = Tree::new("fd");
    let Some(fuse) = vold_mount(&tree.mnt) else {
        return;
    };
    let n = fuse.as_raw_fd();
    let mut args = tree.serve_args();
    args.extend(["--fuse-fd".to_string(), n.to_string()]);
    let mut serve = Serve::spawn(&tree, &args, &[n], &[]);
    // The daemon owns the connection now (as after vold's handoff); with our copy closed, a
    // dead daemon means ENOTCONN instead of a hang.
    drop(fuse);
    let ctl = tree.ctl_socket();
    serve.wait_for("control socket (session initialised)", || ctl.exists());
    check_file_access(&tree, "fd");
    assert_clean_exit(&mut serve, &tree);
}

#[test]
fn serve_receives_the_fuse_fd_over_its_socket() {
    if !can_run("serve --fuse-socket") {
        return;
    }
    let _ = daemon_bin();
    let tree = Tree::new("sock");
    let sock = tree.root.join("fuse.sock");
    let mut args = tree.serve_args();
    args.extend(["--fuse-socket".to_string(), sock.display().to_string()]);
    let mut serve = Serve::spawn(&tree, &args, &[], &[]);
    serve.wait_for("the handoff socket", || sock.exists());
    let mode = fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "handoff socket mode");

    let Some(fuse) = vold_mount(&tree.mnt) else {
        return;
    };
    // A connection with the wrong fd is dropped; the daemon keeps waiting.
    let null = fs::File::open("/dev/null").unwrap();
    let bad = UnixStream::connect(&sock).expect("connect to the handoff socket");
    send_fd(&bad, null.as_raw_fd()).expect("send /dev/null");
    drop(bad);
    let good = UnixStream::connect(&sock).expect("connect to the handoff socket again");
    send_fd(&good, fuse.as_raw_fd()).expect("send the /dev/fuse fd");
    drop(good);
    drop(fuse);

    let ctl = tree.ctl_socket();
    serve.wait_for("control socket (session initialised)", || ctl.exists());
    assert!(
        !sock.exists(),
        "the bound handoff socket is removed once used"
    );
    let log = fs::read_to_string(&serve.log).unwrap_or_default();
    assert!(
        log.contains("rejected a connection"),
        "the /dev/null handoff was not reported:\n{log}"
    );
    check_file_access(&tree, "sock");
    assert_clean_exit(&mut serve, &tree);
}

#[test]
fn serve_uses_the_socket_init_created() {
    if !can_run("serve --fuse-socket (init socket)") {
        return;
    }
    let _ = daemon_bin();
    let tree = Tree::new("init");
    // What init does for `socket mediaproviderd_fuse stream 0660 …`: bind and listen, then pass
    // the fd as ANDROID_SOCKET_<name>.
    let sock = tree.root.join("mediaproviderd_fuse");
    let listener = UnixListener::bind(&sock).expect("bind the init socket");
    let lfd = listener.as_raw_fd();
    let mut args = tree.serve_args();
    args.extend(["--fuse-socket".to_string(), sock.display().to_string()]);
    let env = [("ANDROID_SOCKET_mediaproviderd_fuse", lfd.to_string())];
    let mut serve = Serve::spawn(&tree, &args, &[lfd], &env);
    drop(listener);

    let Some(fuse) = vold_mount(&tree.mnt) else {
        return;
    };
    // The socket already listens: connecting and sending works before serve even looks at it.
    let conn = UnixStream::connect(&sock).expect("connect to the init socket");
    send_fd(&conn, fuse.as_raw_fd()).expect("send the /dev/fuse fd");
    drop(conn);
    drop(fuse);

    let ctl = tree.ctl_socket();
    serve.wait_for("control socket (session initialised)", || ctl.exists());
    assert!(sock.exists(), "init's socket file is not serve's to remove");
    check_file_access(&tree, "init");
    assert_clean_exit(&mut serve, &tree);
}

#[test]
fn sigterm_while_waiting_for_the_fd_exits_0() {
    // Needs neither root nor FUSE: the daemon never gets an fd.
    let tree = Tree::new("wait");
    let sock = tree.root.join("fuse.sock");
    let mut args = tree.serve_args();
    args.extend(["--fuse-socket".to_string(), sock.display().to_string()]);
    let mut serve = Serve::spawn(&tree, &args, &[], &[]);
    serve.wait_for("the handoff socket", || sock.exists());
    let st = serve.terminate();
    assert_eq!(
        st.code(),
        Some(0),
        "exit status {st}:\n{}",
        serve.log_tail()
    );
    assert!(!sock.exists(), "the handoff socket is removed on exit");
}

#[test]
fn fuse_fd_and_fuse_socket_are_mutually_exclusive() {
    let tree = Tree::new("excl");
    let mut args = tree.serve_args();
    args.extend([
        "--fuse-fd".to_string(),
        "7".to_string(),
        "--fuse-socket".to_string(),
        tree.root.join("s").display().to_string(),
    ]);
    let out = Command::new(daemon_bin())
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run serve");
    assert_eq!(
        out.status.code(),
        Some(2),
        "usage error expected: {:?}",
        out
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mutually exclusive"), "stderr: {err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "one-line error expected: {err}"
    );
}

// ---------------------------------------------------------------------------------------------
// packages.list
// ---------------------------------------------------------------------------------------------

fn pkg_line(name: &str, uid: u32, sdk: u32) -> String {
    format!("{name} {uid} 0 /data/user/0/{name} default:targetSdkVersion={sdk}:complete none 0 1 1 @null\n")
}

/// PackageManager's way: write a temporary file, rename it over packages.list.
fn rewrite_atomically(list: &Path, text: &str) {
    let tmp = list.with_extension("list.tmp");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, list).unwrap();
}

fn poll_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_follows_packages_list() {
    if !can_run("serve --packages-list") {
        return;
    }
    let tree = Tree::new("pkgs");
    let keep = "com.example.keep";
    let gone = "com.example.gone";
    let third = "com.example.third";
    let list = tree.root.join("packages.list");
    fs::write(
        &list,
        format!("{}{}", pkg_line(keep, 10101, 30), pkg_line(gone, 10102, 34)),
    )
    .unwrap();
    let gone_dir = tree.lower.join("Android/data").join(gone);
    fs::create_dir_all(gone_dir.join("files")).unwrap();
    fs::write(gone_dir.join("files/state.bin"), b"app data").unwrap();
    let keep_dir = tree.lower.join("Android/data").join(keep);
    fs::create_dir_all(&keep_dir).unwrap();

    let mut args = tree.serve_args();
    args.extend(["--packages-list".to_string(), list.display().to_string()]);
    let mut serve = Serve::spawn(&tree, &args, &[], &[]);
    let (ctl, mnt) = (tree.ctl_socket(), tree.mnt.clone());
    serve.wait_for("mount and control socket", || {
        ctl.exists() && is_fuse_mounted(&mnt)
    });

    // Imported at startup, target SDK taken from the seinfo.
    let listed = tree.app_list();
    assert!(
        listed.contains(&keep.to_string()) && listed.contains(&gone.to_string()),
        "app list after startup: {listed:?}\n{}",
        serve.log_tail()
    );
    // The app dir is visible through the mount (so the kernel caches its dentry).
    let through_mount = tree.mnt.join("Android/data").join(gone);
    let m = through_mount.clone();
    assert!(within(
        Duration::from_secs(30),
        "stat through the mount",
        move || m.is_dir()
    ));

    // Uninstall of `gone`: PackageManager renames a new file over the old one.
    rewrite_atomically(&list, &pkg_line(keep, 10101, 30));
    let ok = poll_until(APPLY_TIMEOUT, || {
        !tree.app_list().contains(&gone.to_string()) && !gone_dir.exists()
    });
    assert!(
        ok,
        "uninstall not applied within {APPLY_TIMEOUT:?}: app list {:?}, dir exists {}\n{}",
        tree.app_list(),
        gone_dir.exists(),
        serve.log_tail()
    );
    assert!(
        tree.app_list().contains(&keep.to_string()),
        "{keep} was removed too"
    );
    assert!(keep_dir.is_dir(), "{keep}'s dir was deleted");
    let m = through_mount.clone();
    assert!(
        !within(
            Duration::from_secs(30),
            "stat through the mount",
            move || m.exists()
        ),
        "the uninstalled app's dir is still visible through the mount"
    );

    // A version with a broken line where `keep` was: the new package is installed, but the
    // broken line does not read as `keep` being uninstalled. (Second replacement: the watch
    // must have been re-armed on the new file.)
    rewrite_atomically(
        &list,
        &format!(
            "{keep} 10101 0 /data/user/0\n{}",
            pkg_line(third, 10103, 33)
        ),
    );
    let ok = poll_until(APPLY_TIMEOUT, || {
        tree.app_list().contains(&third.to_string())
    });
    assert!(ok, "install of {third} not applied:\n{}", serve.log_tail());
    assert!(
        tree.app_list().contains(&keep.to_string()),
        "a broken line uninstalled {keep}:\n{}",
        serve.log_tail()
    );
    assert!(keep_dir.is_dir(), "a broken line deleted {keep}'s dir");

    // An empty file never uninstalls everything; an in-place rewrite (no rename) is seen too.
    let fourth = "com.example.fourth";
    fs::write(&list, "").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    fs::write(
        &list,
        format!(
            "{}{}{}",
            pkg_line(keep, 10101, 30),
            pkg_line(third, 10103, 33),
            pkg_line(fourth, 10104, 34)
        ),
    )
    .unwrap();
    let ok = poll_until(APPLY_TIMEOUT, || {
        tree.app_list().contains(&fourth.to_string())
    });
    assert!(ok, "in-place rewrite not applied:\n{}", serve.log_tail());
    let listed = tree.app_list();
    assert!(
        listed.contains(&keep.to_string()) && listed.contains(&third.to_string()),
        "app list after an empty version: {listed:?}\n{}",
        serve.log_tail()
    );

    assert_clean_exit(&mut serve, &tree);
}
