//! Running code as a uid: a forked child drops to the uid, runs a closure and sends the
//! result (or its panic) back through a pipe.

use crate::sys::{Errno, Fd};
use crate::wire::{self, Wire};
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{self, EACCES};
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

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
}
