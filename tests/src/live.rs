//! The daemons this process started: spawning them, stopping them by pid, and cleaning up
//! (at exit, and after earlier test processes that died without cleaning).

use crate::mounts::{force_unmount, fuse_mount_at};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub(crate) struct Live {
    pub(crate) pid: i32,
    pub(crate) mnt: PathBuf,
    pub(crate) root: PathBuf,
}

static LIVE: Mutex<Vec<Live>> = Mutex::new(Vec::new());

pub(crate) fn lock_live() -> std::sync::MutexGuard<'static, Vec<Live>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

fn pid_alive(pid: i32) -> bool {
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// Stops a daemon by pid: `sig`, wait up to `timeout`, then SIGKILL and a lazy unmount.
/// Returns the wait status if it was reaped here.
pub(crate) fn stop_pid(pid: i32, mnt: &Path, sig: i32, timeout: Duration) -> Option<i32> {
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

extern "C" fn cleanup_at_exit() {
    let live: Vec<Live> = std::mem::take(&mut *lock_live());
    for l in live {
        stop_pid(l.pid, &l.mnt, libc::SIGTERM, Duration::from_secs(10));
        if std::env::var_os("MPD_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&l.root);
        }
    }
}

pub(crate) const TMP_PREFIX: &str = "mpd-tests-";

/// Once per process: register the exit hook and clean up after earlier test processes that
/// died without cleaning (their mounts and temp dirs, identified by a dead pid in the name).
pub(crate) fn process_setup() {
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
pub(crate) fn spawn_daemon(cmd: Command) -> std::io::Result<Child> {
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
