//! Lower-filesystem faults without touching the daemon: a small tmpfs as the lower tree
//! (ENOSPC) and an `LD_PRELOAD` shim, built here from C, that makes the `serve` process's opens
//! of names containing [`super::exec::EIO_MARK`] fail with EIO (as a failing disk would).
//! The shim is inert in every other process (the `app`/`scan` commands, the harness).

use mediaproviderd_tests::cpath;
use std::path::{Path, PathBuf};

const SHIM_C: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>

static int active;
static long (*real_syscall)(long, ...);

__attribute__((constructor)) static void torture_eio_init(int argc, char **argv) {
    active = argc > 1 && argv && argv[1] && strcmp(argv[1], "serve") == 0;
    /* Resolved once: syscall(2) carries futexes, too hot for a dlsym per call. */
    real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
}

static int marked(const char *path) {
    if (!active || !path) return 0;
    const char *base = strrchr(path, '/');
    return strstr(base ? base + 1 : path, "MARK") != NULL;
}

static mode_t mode_of(int flags, va_list ap) {
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_of(flags, ap); va_end(ap);
    if (marked(path)) { errno = EIO; return -1; }
    int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, "open");
    return real(path, flags, m);
}
int open64(const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_of(flags, ap); va_end(ap);
    if (marked(path)) { errno = EIO; return -1; }
    int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, "open64");
    return real(path, flags, m);
}
int openat(int dirfd, const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_of(flags, ap); va_end(ap);
    if (marked(path)) { errno = EIO; return -1; }
    int (*real)(int, const char *, int, ...) = dlsym(RTLD_NEXT, "openat");
    return real(dirfd, path, flags, m);
}
int openat64(int dirfd, const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_of(flags, ap); va_end(ap);
    if (marked(path)) { errno = EIO; return -1; }
    int (*real)(int, const char *, int, ...) = dlsym(RTLD_NEXT, "openat64");
    return real(dirfd, path, flags, m);
}
/* openat2 has no glibc wrapper: daemons call it through syscall(2). */
long syscall(long n, ...) {
    va_list ap; va_start(ap, n);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
#ifdef SYS_openat2
    if (n == SYS_openat2 && marked((const char *)a[1])) { errno = EIO; return -1; }
#endif
    return real_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
"#;

/// Builds the EIO shim into `dir` with the system C compiler; the path of the `.so`.
pub fn build_eio_shim(dir: &Path, mark: &str) -> Result<PathBuf, String> {
    mediaproviderd_tests::shim::build(dir, "eio_shim", &SHIM_C.replace("MARK", mark))
}

/// Mounts a tmpfs of `mib` MiB at `dir` (the lower tree), world-traversable.
pub fn mount_tmpfs(dir: &Path, mib: u64) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let target = cpath(dir);
    let src = cpath(Path::new("torture-lower"));
    let fstype = cpath(Path::new("tmpfs"));
    let data = cpath(Path::new(&format!("size={mib}m,mode=0755")));
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "mount tmpfs at {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

pub fn unmount(dir: &Path) {
    let c = cpath(dir);
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
}
