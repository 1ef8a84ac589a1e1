//! The daemon binary: where it is (built once per test process) and running its commands.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;

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

#[cfg(test)]
mod tests {
    use super::*;

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
