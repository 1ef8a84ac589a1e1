//! `LD_PRELOAD` shims for the daemon, built from C with the system compiler: faults and delays
//! a real lower filesystem cannot be made to produce on demand. Each shim acts only in the
//! `serve` process (its first argument), never in the harness or the command-line tools.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `source` into `dir/<stem>.so`; the path of the `.so`.
pub fn build(dir: &Path, stem: &str, source: &str) -> Result<PathBuf, String> {
    let src = dir.join(format!("{stem}.c"));
    let so = dir.join(format!("{stem}.so"));
    std::fs::write(&src, source).map_err(|e| format!("{}: {e}", src.display()))?;
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&so)
        .arg(&src)
        .arg("-ldl")
        .output()
        .map_err(|e| format!("cannot run cc to build {stem}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cc failed building {stem}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(so)
}

/// A shim that holds every successful `renameat2` of the `serve` process for `ms` before
/// returning: the window between a rename's lower move and its store update, made wide.
pub fn slow_rename_source(ms: u32) -> String {
    format!(
        r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

static int active;
static long (*real_syscall)(long, ...);

__attribute__((constructor)) static void slow_rename_init(int argc, char **argv) {{
    active = argc > 1 && argv && argv[1] && strcmp(argv[1], "serve") == 0;
    real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
}}

long syscall(long n, ...) {{
    va_list ap; va_start(ap, n);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    long r = real_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (active && n == SYS_renameat2 && r == 0) {{
        struct timespec ts = {{0, {ms} * 1000000L}};
        nanosleep(&ts, 0);
    }}
    return r;
}}
"#
    )
}
