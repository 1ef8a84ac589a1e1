//! `serve --fuse-socket PATH`: receive an already-mounted `/dev/fuse` fd from the mounter.
//!
//! The mounter (vold-style: open `/dev/fuse`, mount with `fd=N,…`) connects to a unix stream
//! socket and sends the fd with `SCM_RIGHTS` (at least one data byte, as stream sockets need).
//! Under init the socket already exists and listens (`socket mediaproviderd_fuse stream …` in
//! the .rc): init passes it as `ANDROID_SOCKET_<name>` (libcutils' `android_get_control_socket`
//! naming: the basename of PATH, non-alphanumerics as `_`). Otherwise `serve` binds PATH itself
//! (mode 0660) and removes it again once the fd arrived.
//!
//! Connections that deliver no fd, several fds, or an fd that is not `/dev/fuse` opened
//! read-write are logged and dropped; the daemon keeps waiting for a valid one. SIGTERM/SIGINT
//! while waiting stop the wait (the caller exits 0).

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{getsockopt, recvmsg, sockopt, ControlMessageOwned, MsgFlags, UnixAddr};
use nix::sys::stat::{fstat, SFlag};
use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `/dev/fuse` is the misc character device 10:229.
const FUSE_MAJOR: u64 = 10;
const FUSE_MINOR: u64 = 229;

/// How long one connection may take to deliver its fd.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// The fds a single message may carry before it is rejected as malformed (only one is wanted;
/// room for a few so extra ones are received, and closed, instead of truncating the message).
const MAX_FDS: usize = 4;

/// The environment variable init uses to pass the socket named like `path`'s basename.
pub fn init_socket_env(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("ANDROID_SOCKET_{name}")
}

/// The listening handoff socket.
pub struct FuseSocket {
    listener: UnixListener,
    /// The socket file this process bound (removed on drop); `None` for init's socket.
    bound: Option<PathBuf>,
}

impl FuseSocket {
    /// Takes init's socket from the environment if it is there, else binds `path`.
    ///
    /// Also blocks SIGTERM and SIGINT in the calling thread (`serve` blocks them anyway before
    /// it starts threads), so that a stop request from here on is seen by [`receive`] and ends
    /// in a clean exit instead of killing the process with the socket file left behind.
    ///
    /// [`receive`]: FuseSocket::receive
    pub fn open(path: &Path) -> Result<FuseSocket, String> {
        stop_signals()
            .thread_block()
            .map_err(|e| format!("--fuse-socket: blocking signals: {e}"))?;
        let var = init_socket_env(path);
        if let Some(value) = std::env::var_os(&var) {
            let value = value.to_string_lossy().into_owned();
            let listener = inherited_listener(&value)
                .map_err(|e| format!("--fuse-socket: ${var}={value}: {e}"))?;
            log::info!("waiting for the /dev/fuse fd on init's socket (fd {value})");
            return Ok(FuseSocket {
                listener,
                bound: None,
            });
        }
        let listener = bind(path).map_err(|e| format!("--fuse-socket {}: {e}", path.display()))?;
        log::info!("waiting for the /dev/fuse fd on {}", path.display());
        Ok(FuseSocket {
            listener,
            bound: Some(path.to_path_buf()),
        })
    }

    /// Waits for a mounter to hand over a `/dev/fuse` fd. `Ok(None)`: SIGTERM or SIGINT came
    /// first. Call with SIGTERM and SIGINT blocked (as `serve` does before it starts threads),
    /// so that they are seen here and still pending for whoever waits for them later.
    pub fn receive(self) -> Result<Option<OwnedFd>, String> {
        let sigfd = SignalFd::with_flags(
            &stop_signals(),
            SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
        )
        .map_err(|e| format!("--fuse-socket: signalfd: {e}"))?;
        loop {
            let mut fds = [
                PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
                PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("--fuse-socket: poll: {e}")),
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            if ready(&fds[1]) {
                // Not read: the signal stays pending for the caller.
                log::info!("signal received while waiting for the /dev/fuse fd");
                return Ok(None);
            }
            if !ready(&fds[0]) {
                continue;
            }
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(format!("--fuse-socket: accept: {e}")),
            };
            let peer = peer_description(&stream);
            match receive_fuse_fd(&stream) {
                Ok(fd) => {
                    log::info!("received the /dev/fuse fd from {peer}");
                    return Ok(Some(fd));
                }
                Err(e) => log::warn!("--fuse-socket: rejected a connection from {peer}: {e}"),
            }
        }
    }
}

impl Drop for FuseSocket {
    fn drop(&mut self) {
        if let Some(p) = &self.bound {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn stop_signals() -> SigSet {
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    stop
}

/// Validates and takes ownership of init's listening socket passed as fd number `value`.
pub(super) fn inherited_listener(value: &str) -> Result<UnixListener, String> {
    let fd: RawFd = value
        .trim()
        .parse()
        .ok()
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| "not an fd number".to_string())?;
    // SAFETY: only borrowed for the checks below; fstat fails with EBADF if it is not open.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let st = fstat(borrowed).map_err(|e| format!("fd {fd}: {e}"))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        return Err(format!("fd {fd} is not a socket"));
    }
    match getsockopt(&borrowed, sockopt::AcceptConn) {
        Ok(true) => {}
        Ok(false) => return Err(format!("fd {fd} is not a listening socket")),
        Err(e) => return Err(format!("fd {fd}: {e}")),
    }
    // init leaves it inheritable; nothing this daemon starts should get it.
    nix::fcntl::fcntl(
        borrowed,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| format!("fd {fd}: {e}"))?;
    // SAFETY: init created this listening socket for this service and handed it over; nothing
    // else in this process knows the number, so the listener becomes its only owner.
    Ok(unsafe { UnixListener::from_raw_fd(fd) })
}

/// Binds `path` (replacing a stale socket from an earlier run), mode 0660.
fn bind(path: &Path) -> Result<UnixListener, String> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|e| format!("removing the stale socket: {e}"))?
        }
        Ok(_) => return Err("exists and is not a socket".into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.to_string()),
    }
    crate::control::bind_with_mode(path, 0o660).map_err(|e| format!("bind (mode 0660): {e}"))
}

fn peer_description(stream: &UnixStream) -> String {
    match getsockopt(stream, sockopt::PeerCredentials) {
        Ok(c) => format!("pid {} uid {}", c.pid(), c.uid()),
        Err(_) => "an unknown peer".into(),
    }
}

/// Receives exactly one fd from one connection and checks that it is `/dev/fuse`, read-write.
pub fn receive_fuse_fd(stream: &UnixStream) -> Result<OwnedFd, String> {
    stream
        .set_read_timeout(Some(RECV_TIMEOUT))
        .map_err(|e| format!("setting a receive timeout: {e}"))?;
    let mut data = [0u8; 64];
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
    let (bytes, truncated, mut fds) = loop {
        let mut iov = [IoSliceMut::new(&mut data)];
        match recvmsg::<UnixAddr>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let mut fds: Vec<OwnedFd> = Vec::new();
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmRights(raw) = c {
                            // SAFETY: SCM_RIGHTS just installed these fds in this process;
                            // nothing else refers to them.
                            fds.extend(raw.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
                        }
                    }
                }
                break (msg.bytes, msg.flags.contains(MsgFlags::MSG_CTRUNC), fds);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) => {
                return Err(format!("no message within {}s", RECV_TIMEOUT.as_secs()))
            }
            Err(e) => return Err(format!("recvmsg: {e}")),
        }
    };
    if truncated {
        return Err("control message truncated (too many fds)".into());
    }
    let fd = match (fds.len(), bytes) {
        (0, 0) => return Err("connection closed without sending an fd".into()),
        (0, _) => return Err("message carried no fd (send it with SCM_RIGHTS)".into()),
        (1, _) => fds.remove(0),
        (n, _) => return Err(format!("{n} fds sent, expected exactly one")),
    };
    check_fuse_fd(fd.as_fd())?;
    Ok(fd)
}

/// `--fuse-fd FD`: an inherited, open /dev/fuse fd (not stdin/stdout/stderr).
pub fn check_inherited_fd(fd: RawFd) -> Result<(), String> {
    if fd < 3 {
        return Err("must be an inherited fd >= 3".into());
    }
    // SAFETY: F_GETFD only reads the fd's flags; an fd that is not open yields EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EBADF) {
            "not an open file descriptor (the mounter must pass it without FD_CLOEXEC)".into()
        } else {
            format!("{e}")
        });
    }
    // SAFETY: the fd is open (checked above) and stays open for the duration of the check.
    check_fuse_fd(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// The kernel's split of a device number (nix has no major/minor for Android).
fn major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000);
    let minor = (dev & 0xff) | ((dev >> 12) & 0xffff_ff00);
    (major, minor)
}

/// The fd must be the FUSE character device (10:229), opened read-write.
pub fn check_fuse_fd(fd: BorrowedFd<'_>) -> Result<(), String> {
    let st = fstat(fd).map_err(|e| format!("fstat of the received fd: {e}"))?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind != SFlag::S_IFCHR {
        return Err("the received fd is not a character device".into());
    }
    #[allow(clippy::useless_conversion)] // dev_t is narrower than u64 on some targets
    let (maj, min) = major_minor(u64::from(st.st_rdev));
    if (maj, min) != (FUSE_MAJOR, FUSE_MINOR) {
        return Err(format!(
            "the received fd is device {maj}:{min}, not /dev/fuse ({FUSE_MAJOR}:{FUSE_MINOR})"
        ));
    }
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)
        .map_err(|e| format!("F_GETFL of the received fd: {e}"))?;
    if flags & libc::O_ACCMODE != libc::O_RDWR {
        return Err("the received /dev/fuse fd is not open read-write".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{sendmsg, ControlMessage};
    use std::io::{IoSlice, Write};

    fn send_fds(s: &UnixStream, fds: &[RawFd], data: &[u8]) {
        let iov = [IoSlice::new(data)];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
        sendmsg::<UnixAddr>(s.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None).unwrap();
    }

    #[test]
    fn device_numbers_split_like_the_kernel() {
        // /dev/fuse (10:229), and a large one: makedev(0x12345, 0x6789a).
        assert_eq!(major_minor(libc::makedev(10, 229)), (10, 229));
        assert_eq!(
            major_minor(libc::makedev(0x12345, 0x6789a)),
            (0x12345, 0x6789a)
        );
    }

    #[test]
    fn env_name_follows_libcutils() {
        assert_eq!(
            init_socket_env(Path::new("/dev/socket/mediaproviderd_fuse")),
            "ANDROID_SOCKET_mediaproviderd_fuse"
        );
        assert_eq!(
            init_socket_env(Path::new("/tmp/a-b.sock")),
            "ANDROID_SOCKET_a_b_sock"
        );
    }

    #[test]
    fn rejects_missing_extra_and_wrong_fds() {
        let null = std::fs::File::open("/dev/null").unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        send_fds(&a, &[], b"x");
        assert!(receive_fuse_fd(&b).unwrap_err().contains("no fd"));

        let (a, b) = UnixStream::pair().unwrap();
        send_fds(&a, &[null.as_raw_fd()], b"x");
        assert!(receive_fuse_fd(&b).unwrap_err().contains("not /dev/fuse"));

        let (a, b) = UnixStream::pair().unwrap();
        send_fds(&a, &[null.as_raw_fd(), null.as_raw_fd()], b"x");
        assert!(receive_fuse_fd(&b).unwrap_err().contains("2 fds"));

        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"").unwrap();
        drop(a);
        assert!(receive_fuse_fd(&b).unwrap_err().contains("closed"));
    }

    #[test]
    fn accepts_dev_fuse_read_write_only() {
        let Ok(fuse) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
        else {
            eprintln!("SKIP: /dev/fuse not openable");
            return;
        };
        let (a, b) = UnixStream::pair().unwrap();
        send_fds(&a, &[fuse.as_raw_fd()], b"x");
        let got = receive_fuse_fd(&b).unwrap();
        assert!(check_fuse_fd(got.as_fd()).is_ok());

        if let Ok(ro) = std::fs::File::open("/dev/fuse") {
            let (a, b) = UnixStream::pair().unwrap();
            send_fds(&a, &[ro.as_raw_fd()], b"x");
            assert!(receive_fuse_fd(&b).unwrap_err().contains("read-write"));
        }
    }

    #[test]
    fn bound_socket_hands_over_and_cleans_up() {
        let dir = std::env::temp_dir().join(format!("mpd-handoff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fuse.sock");
        std::fs::write(&path, b"not a socket").unwrap();
        assert!(
            FuseSocket::open(&path).is_err(),
            "a regular file is not replaced"
        );
        std::fs::remove_file(&path).unwrap();
        // A stale socket is replaced.
        drop(UnixListener::bind(&path).unwrap());
        let sock = FuseSocket::open(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let null = std::fs::File::open("/dev/null").unwrap();
        let bad = UnixStream::connect(&path).unwrap();
        send_fds(&bad, &[null.as_raw_fd()], b"x");
        let (conn, _) = sock.listener.accept().unwrap();
        assert!(receive_fuse_fd(&conn)
            .unwrap_err()
            .contains("not /dev/fuse"));
        drop(sock);
        assert!(!path.exists(), "the bound socket is removed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
