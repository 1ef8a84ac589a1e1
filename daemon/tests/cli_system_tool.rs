//! The command line behaves like a system tool (issue 12): `--version`, `CMD --help` on
//! stdout with exit 0 for every command, the full usage for a bare `mediaproviderd`, stores
//! created only by `serve` and `app add`, no silent `mkdir -p` of `--db`'s directory, and a
//! `--fuse-fd` that is not an open /dev/fuse fd refused with a reason.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mediaproviderd");

/// Every command of SPEC §3 and §11, as the words that select it.
const COMMANDS: &[&str] = &[
    "serve",
    "app",
    "app add",
    "app grant",
    "app revoke",
    "app grant-file",
    "app revoke-file",
    "app remove",
    "app list",
    "app import-packages-list",
    "scan",
    "explain",
    "ranges",
    "query",
    "changes",
    "trash",
    "untrash",
    "favorite",
    "unfavorite",
    "maintain",
];

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mpd-cli-tool-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Fails with `code`, one line on stderr containing `needle`, nothing on stdout.
fn fails(o: &Output, code: i32, needle: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
    assert!(err.contains(needle), "want {needle:?} in: {err}");
    assert!(o.stdout.is_empty(), "stdout: {}", text(&o.stdout));
}

#[test]
fn version_is_printed_on_stdout() {
    for flag in ["--version", "-V"] {
        let o = run(&[flag]);
        assert!(o.status.success());
        assert_eq!(
            text(&o.stdout).trim_end(),
            format!("mediaproviderd {}", env!("CARGO_PKG_VERSION"))
        );
        assert!(o.stderr.is_empty());
    }
}

#[test]
fn every_command_has_help_on_stdout_with_exit_zero() {
    for cmd in COMMANDS {
        let mut args: Vec<&str> = cmd.split(' ').collect();
        for flag in ["--help", "-h"] {
            args.push(flag);
            let o = run(&args);
            let out = text(&o.stdout);
            assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
            assert!(
                out.starts_with(&format!("usage: mediaproviderd {cmd} ")),
                "{args:?}: {out}"
            );
            assert!(out.lines().count() >= 3, "{args:?}: no description: {out}");
            assert!(o.stderr.is_empty(), "{args:?}: {}", text(&o.stderr));
            args.pop();
        }
    }
    // Help wins over other flags, and `help CMD` is the same page.
    let o = run(&["scan", "--db", "/nonexistent/x.db", "--help"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout), text(&run(&["help", "scan"]).stdout));
    // After `--` it is an argument, not a request for help.
    let o = run(&["ranges", "--", "--help"]);
    fails(&o, 2, "--help: not a regular file");
}

#[test]
fn bare_invocation_prints_the_full_usage() {
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let usage = text(&o.stderr);
    for cmd in COMMANDS.iter().filter(|c| **c != "app") {
        assert!(
            usage.contains(&format!("  mediaproviderd {cmd} ")),
            "usage lacks {cmd}: {usage}"
        );
    }
    // Asked for, it is not an error: stdout and exit 0.
    for args in [&["--help"][..], &["help"]] {
        let o = run(args);
        assert!(o.status.success());
        assert_eq!(text(&o.stdout), usage);
    }
    fails(&run(&["help", "nope"]), 2, "unknown command 'nope'");
    fails(&run(&["nope", "--help"]), 2, "unknown command 'nope'");
}

#[test]
fn commands_refuse_a_store_that_does_not_exist() {
    let dir = tmp("nostore");
    let lower = dir.join("lower");
    fs::create_dir_all(lower.join("DCIM")).unwrap();
    let list = dir.join("packages.list");
    fs::write(
        &list,
        "com.a 10100 0 /data/user/0/com.a default:targetSdkVersion=34 3003 0 1\n",
    )
    .unwrap();
    let db_path = dir.join("missing.db");
    let (db, lower, list) = (
        db_path.to_str().unwrap(),
        lower.to_str().unwrap(),
        list.to_str().unwrap(),
    );
    let cases: &[&[&str]] = &[
        &["scan", "--db", db, "--lower", lower],
        &[
            "explain", "--db", db, "--lower", lower, "--uid", "10100", "--op", "opendir", "DCIM",
        ],
        &[
            "app",
            "grant",
            "--db",
            db,
            "--package",
            "com.a",
            "READ_MEDIA_IMAGES",
        ],
        &[
            "app",
            "revoke",
            "--db",
            db,
            "--package",
            "com.a",
            "READ_MEDIA_IMAGES",
        ],
        &[
            "app",
            "grant-file",
            "--db",
            db,
            "--package",
            "com.a",
            "DCIM/x.jpg",
        ],
        &[
            "app",
            "revoke-file",
            "--db",
            db,
            "--package",
            "com.a",
            "DCIM/x.jpg",
        ],
        &["app", "remove", "--db", db, "--package", "com.a"],
        &["app", "list", "--db", db],
        &["app", "import-packages-list", "--db", db, list],
    ];
    for args in cases {
        fails(&run(args), 2, "no such store");
        assert!(!db_path.exists(), "{args:?} created {db}");
    }
    // `query` (SPEC §11) reads a store too: never an empty new one.
    let o = run(&["query", "--db", db, "--uid", "0"]);
    assert!(!o.status.success());
    assert!(!db_path.exists(), "query created {db}");

    // `app add` is the one `app` command that creates it.
    let o = run(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.a",
        "--uid",
        "10100",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(db_path.is_file());
    let o = run(&["app", "list", "--db", db]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("\"com.a\""));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_db_directory_is_an_error_not_a_mkdir() {
    let dir = tmp("nodir");
    let lower = dir.join("lower");
    let mount = dir.join("mnt");
    fs::create_dir_all(&lower).unwrap();
    fs::create_dir_all(&mount).unwrap();
    let missing = dir.join("no/such/dir");
    let db = missing.join("media.db");
    let (db, lower_s, mount_s) = (
        db.to_str().unwrap(),
        lower.to_str().unwrap(),
        mount.to_str().unwrap(),
    );
    let o = run(&["serve", "--lower", lower_s, "--mount", mount_s, "--db", db]);
    fails(&o, 2, "does not exist");
    let o = run(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.a",
        "--uid",
        "10100",
    ]);
    fails(&o, 2, "does not exist");
    assert!(!dir.join("no").exists(), "a --db directory was created");
    // Nothing was mounted or created in the lower tree either.
    assert_eq!(fs::read_dir(&lower).unwrap().count(), 0);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fuse_fd_must_be_an_open_dev_fuse_fd() {
    let dir = tmp("fusefd");
    let lower = dir.join("lower");
    let mount = dir.join("mnt");
    fs::create_dir_all(&lower).unwrap();
    fs::create_dir_all(&mount).unwrap();
    let db = dir.join("media.db");
    let serve = |fd: &str| -> Command {
        let mut c = Command::new(BIN);
        c.args(["serve", "--lower", lower.to_str().unwrap()])
            .args(["--mount", mount.to_str().unwrap()])
            .args(["--db", db.to_str().unwrap(), "--fuse-fd", fd]);
        c
    };
    // Rust opens every fd with CLOEXEC: fd 57 is not open in the child.
    fails(
        &serve("57").output().unwrap(),
        2,
        "--fuse-fd 57: not an open file descriptor",
    );
    fails(&serve("1").output().unwrap(), 2, "inherited fd >= 3");
    // An open fd that is not /dev/fuse.
    let plain = fs::File::open(Path::new(BIN)).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&plain);
    let mut c = serve("9");
    // SAFETY: dup2 is async-signal-safe; it runs in the child between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 9) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    fails(&c.output().unwrap(), 2, "not a character device");
    assert!(
        !db.exists(),
        "the store was opened before the fd was checked"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn store_errors_say_which_store() {
    let dir = tmp("corrupt");
    let db = dir.join("media.db");
    fs::write(&db, vec![0x5a; 8192]).unwrap();
    let lower = dir.join("lower");
    fs::create_dir_all(&lower).unwrap();
    let o = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "--lower",
        lower.to_str().unwrap(),
    ]);
    fails(&o, 1, &format!("--db {}: ", db.display()));
    fs::remove_dir_all(&dir).unwrap();
}
