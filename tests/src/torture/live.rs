//! Liveness: every call into the mount and every `mediaproviderd` command runs with a deadline.
//! A call past [`HANG`] is a hang: the daemon's thread stacks are printed, the FUSE connection is
//! aborted (so nothing stays stuck) and the run stops. Also the daemon's pid and connection id.

use super::report::Report;
use mediaproviderd_tests::{daemon_bin, run_as, Errno, Wire};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, RwLock};
use std::time::Duration;

/// Any single call taking longer than this is a hang.
pub const HANG: Duration = Duration::from_secs(10);

/// What every thread needs to know about the running daemon.
pub struct Live {
    pub pid: AtomicI32,
    /// `/sys/fs/fuse/connections/<conn>` of the current mount.
    pub conn: AtomicU64,
    /// Bumped just before every kill: an operation that saw it change is indeterminate.
    pub epoch: AtomicU64,
    /// True from just before a kill until the restarted daemon serves: an operation that saw
    /// it set is indeterminate.
    pub down: AtomicBool,
    /// App operations hold it shared; kills and checks take it exclusively.
    pub gate: RwLock<()>,
    /// Held around each `app` command and lower-tree change: a kill waits for it, so the model
    /// never has to guess whether a command the kill cut short reached the store.
    pub admin: Mutex<()>,
    pub stop: AtomicBool,
}

impl Live {
    pub fn new() -> Live {
        Live {
            pid: AtomicI32::new(0),
            conn: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            down: AtomicBool::new(false),
            gate: RwLock::new(()),
            admin: Mutex::new(()),
            stop: AtomicBool::new(false),
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Stacks of every daemon thread (`/proc/PID/task/*/{comm,wchan,stack}`).
    pub fn stacks(&self) -> String {
        stacks(self.pid.load(Ordering::SeqCst))
    }

    /// Aborts the FUSE connection (every waiting request fails with ENOTCONN).
    pub fn abort_connection(&self) -> bool {
        let conn = self.conn.load(Ordering::SeqCst);
        std::fs::write(format!("/sys/fs/fuse/connections/{conn}/abort"), "1").is_ok()
    }

    /// Reports a hang with the daemon's stacks, aborts the connection and stops the run.
    pub fn hang(&self, report: &Report, what: &str, keys: &[String]) {
        let stacks = self.stacks();
        report.fatal(
            "hang",
            &format!(
                "{what} did not return within {}s; daemon thread stacks:\n{stacks}",
                HANG.as_secs()
            ),
            keys,
        );
        let aborted = self.abort_connection();
        eprintln!("torture: FUSE connection aborted after the hang: {aborted}");
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

pub fn stacks(pid: i32) -> String {
    let mut out = String::new();
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return format!("(no /proc/{pid}/task)");
    };
    let mut tids: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    tids.sort();
    for t in tids {
        let read = |f: &str| std::fs::read_to_string(t.join(f)).unwrap_or_default();
        out.push_str(&format!(
            "  task {} ({}) wchan={}\n",
            t.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            read("comm").trim(),
            read("wchan").trim()
        ));
        for l in read("stack").lines() {
            out.push_str(&format!("      {l}\n"));
        }
    }
    out
}

/// The kernel's FUSE connection id of the mount at `mnt` (its `st_dev`, kernel encoding).
pub fn connection_of(mnt: &Path) -> Option<u64> {
    let c = mediaproviderd_tests::cpath(mnt);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::stat(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let (maj, min) = (libc::major(st.st_dev) as u64, libc::minor(st.st_dev) as u64);
    Some((maj << 20) | min)
}

/// How a bounded call ended.
pub enum Timed<T> {
    Done(T),
    /// The forked child died without answering (e.g. SIGBUS on a mapping of a shrinking file).
    Crashed(String),
    Hung,
}

/// Runs `f` as `uid` in a forked child (the harness's `run_as`), giving up after [`HANG`].
pub fn timed_as<R, F>(uid: u32, f: F) -> Timed<R>
where
    R: Wire + Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("as-{uid}"))
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_as(uid, f)));
            let _ = tx.send(r.map_err(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into())
            }));
        });
    if let Err(e) = spawned {
        return Timed::Crashed(format!("cannot spawn a thread: {e}"));
    }
    match rx.recv_timeout(HANG) {
        Ok(Ok(r)) => Timed::Done(r),
        Ok(Err(msg)) => Timed::Crashed(msg),
        Err(mpsc::RecvTimeoutError::Timeout) => Timed::Hung,
        Err(mpsc::RecvTimeoutError::Disconnected) => Timed::Crashed("thread vanished".into()),
    }
}

/// `mediaproviderd ARGS…` with a deadline: `Ok((success, stdout, stderr))`, or `Err` on a hang
/// (the command is killed by its pid) or when it cannot start.
pub fn mpd_timed(args: &[String]) -> Result<(bool, String, String), String> {
    let child = Command::new(daemon_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run mediaproviderd: {e}"))?;
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG) {
        Ok(Ok(out)) => Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )),
        Ok(Err(e)) => Err(format!("mediaproviderd {args:?}: {e}")),
        Err(_) => {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            Err(format!(
                "mediaproviderd {args:?} did not finish within {}s",
                HANG.as_secs()
            ))
        }
    }
}

/// An errno as the oracle prints it.
pub fn errno_name(e: i32) -> String {
    match Errno(e).name() {
        "E?" => format!("errno {e}"),
        n => n.to_string(),
    }
}
