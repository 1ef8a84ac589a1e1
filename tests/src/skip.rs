//! Whether the suites can run here (root, `/dev/fuse`), and the `SKIP:` notes when not.

use std::fs;
use std::sync::Mutex;

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
