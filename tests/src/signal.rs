//! A one-shot signal between forked children and test threads.

use std::time::{Duration, Instant};

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
