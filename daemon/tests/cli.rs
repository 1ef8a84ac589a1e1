//! Drives the `mediaproviderd` binary: JSON output, one-line errors and exit codes, and
//! `explain` agreeing with the policy library for the same store and tree.

use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::rules::{self, Op, Target};
use mediaprovider_policy::store::Store;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mediaproviderd");

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mpd-cli-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn fails(args: &[&str], code: i32, needle: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(code), "{args:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
    assert!(err.contains(needle), "{err}");
    assert!(o.stdout.is_empty());
}

struct Env {
    dir: PathBuf,
    db: String,
    lower: String,
}

fn setup(tag: &str) -> Env {
    let dir = tmp(tag);
    let lower = dir.join("lower");
    for d in [
        "DCIM/Camera",
        "Download",
        "Android/data/com.owner/files",
        "Pictures/Priv",
    ] {
        fs::create_dir_all(lower.join(d)).unwrap();
    }
    fs::write(lower.join("DCIM/Camera/a.jpg"), b"\xff\xd8\xff\xd9").unwrap();
    fs::write(lower.join("Download/doc.pdf"), b"%PDF").unwrap();
    fs::write(lower.join("Pictures/Priv/.nomedia"), b"").unwrap();
    fs::write(lower.join("Pictures/Priv/p.jpg"), b"\xff\xd8\xff\xd9").unwrap();
    fs::write(lower.join("Android/data/com.owner/files/x.bin"), b"x").unwrap();
    // Only `serve` and `app add` create a store; the other commands need one to exist.
    Store::open(&dir.join("media.db")).unwrap();
    let db = dir.join("media.db").to_string_lossy().into_owned();
    let lower = lower.to_string_lossy().into_owned();
    Env { dir, db, lower }
}

#[test]
fn app_commands_print_json_and_validate_input() {
    let e = setup("app");
    let db = e.db.as_str();
    let p = ok_json(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.a",
        "--uid",
        "10001",
        "--grant",
        "android.permission.READ_MEDIA_IMAGES",
        "--grant",
        "ACCESS_MEDIA_LOCATION",
    ]);
    assert_eq!(p["package"], "com.a");
    assert_eq!(p["uid"], 10001);
    assert_eq!(
        p["permissions"],
        serde_json::json!(["READ_MEDIA_IMAGES", "ACCESS_MEDIA_LOCATION"])
    );
    let p = ok_json(&[
        "app",
        "revoke",
        "--db",
        db,
        "--package",
        "com.a",
        "ACCESS_MEDIA_LOCATION",
    ]);
    assert_eq!(p["permissions"], serde_json::json!(["READ_MEDIA_IMAGES"]));
    let p = ok_json(&[
        "app",
        "grant",
        "--db",
        db,
        "--package",
        "com.a",
        "WRITE_MEDIA_IMAGES",
        "WRITE_MEDIA_VIDEO",
    ]);
    assert_eq!(p["permissions"].as_array().unwrap().len(), 3);
    ok_json(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.a.shared",
        "--uid",
        "10001",
        "--target-sdk",
        "29",
        "--legacy",
    ]);
    let list = run(&["app", "list", "--db", db]);
    let lines: Vec<Value> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["legacy"], true);
    assert_eq!(lines[1]["target_sdk"], 29);

    fails(
        &[
            "app",
            "add",
            "--db",
            db,
            "--package",
            "com.b",
            "--uid",
            "10002",
            "--grant",
            "READ_CONTACTS",
        ],
        2,
        "unknown permission",
    );
    fails(
        &[
            "app",
            "add",
            "--db",
            db,
            "--package",
            "com.b",
            "--uid",
            "1000",
        ],
        2,
        "not an app uid",
    );
    fails(
        &["app", "add", "--db", db, "--package", "com.b", "--uid", "x"],
        2,
        "not a valid number",
    );
    fails(
        &[
            "app",
            "add",
            "--db",
            db,
            "--package",
            "com.a",
            "--uid",
            "10003",
        ],
        2,
        "already registered",
    );
    fails(
        &[
            "app",
            "grant",
            "--db",
            db,
            "--package",
            "com.nope",
            "READ_MEDIA_AUDIO",
        ],
        2,
        "unknown package",
    );
    fails(
        &["app", "list", "--db", "/nonexistent/dir/x.db"],
        2,
        "does not exist",
    );
    fails(&["app", "frobnicate", "--db", db], 2, "unknown subcommand");
    fails(
        &["app", "add", "--db", db, "--package", "com.b"],
        2,
        "missing --uid",
    );
    fails(&["nope"], 2, "unknown command");
    fs::remove_dir_all(&e.dir).unwrap();
}

#[test]
fn scan_counts_and_grant_file_and_remove() {
    let e = setup("scan");
    let db = e.db.as_str();
    let s = ok_json(&["scan", "--db", db, "--lower", &e.lower]);
    assert_eq!(s["files"], 5);
    assert_eq!(s["added"], 5);
    let s = ok_json(&["scan", "--db", db, "--lower", &e.lower]);
    assert_eq!(
        (s["added"].as_u64(), s["removed"].as_u64()),
        (Some(0), Some(0))
    );
    ok_json(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.picker",
        "--uid",
        "10010",
        "--grant",
        "READ_MEDIA_VISUAL_USER_SELECTED",
    ]);
    let g = ok_json(&[
        "app",
        "grant-file",
        "--db",
        db,
        "--package",
        "com.picker",
        "dcim/camera/A.JPG",
    ]);
    assert_eq!(g["paths"], serde_json::json!(["dcim/camera/A.JPG"]));
    fails(
        &[
            "app",
            "grant-file",
            "--db",
            db,
            "--package",
            "com.picker",
            "DCIM/none.jpg",
        ],
        2,
        "no such file",
    );
    fails(
        &[
            "app",
            "grant-file",
            "--db",
            db,
            "--package",
            "com.picker",
            "../etc/passwd",
        ],
        2,
        "invalid path",
    );
    // Uninstall without a daemon: the store change and the app dirs.
    ok_json(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.owner",
        "--uid",
        "10011",
    ]);
    ok_json(&["app", "remove", "--db", db, "--package", "com.owner"]);
    fails(
        &["app", "remove", "--db", db, "--package", "com.owner"],
        2,
        "unknown package",
    );
    fs::remove_dir_all(&e.dir).unwrap();
}

/// `explain` on the command line must match the library on the same store and tree.
#[test]
fn explain_matches_the_library() {
    let e = setup("explain");
    let db = e.db.as_str();
    ok_json(&["scan", "--db", db, "--lower", &e.lower]);
    ok_json(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.img",
        "--uid",
        "10020",
        "--grant",
        "READ_MEDIA_IMAGES",
    ]);
    ok_json(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.mes",
        "--uid",
        "10021",
        "--grant",
        "MANAGE_EXTERNAL_STORAGE",
    ]);
    ok_json(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.none",
        "--uid",
        "10022",
    ]);
    ok_json(&[
        "app",
        "add",
        "--db",
        db,
        "--package",
        "com.owner",
        "--uid",
        "10023",
    ]);
    let uids = [0u32, 2000, 10020, 10021, 10022, 10023, 10099];
    let paths = [
        "DCIM/Camera/a.jpg",
        "dcim/camera/A.JPG",
        "Download/doc.pdf",
        "Pictures/Priv/p.jpg",
        "Android/data/com.owner/files/x.bin",
        "Android/data",
        "DCIM",
        "DCIM/new.jpg",
        "Download/new.txt",
        "new.txt",
        "NotDefault",
    ];
    let ops = [
        Op::Lookup,
        Op::OpenRead,
        Op::OpenWrite,
        Op::Create,
        Op::Mkdir,
        Op::Rmdir,
        Op::Unlink,
        Op::Opendir,
        Op::AccessRead,
        Op::AccessWrite,
        Op::Setattr,
    ];
    let store = Store::open(Path::new(db)).unwrap();
    let lower = Path::new(&e.lower);
    let mut checked = 0;
    for uid in uids {
        let caller = store.caller(uid).unwrap();
        for path in paths {
            let vp = VolPath::parse(path).unwrap();
            let md = resolve(lower, &vp);
            let mut facts = store
                .facts(
                    &caller,
                    &vp,
                    md.is_some(),
                    md.as_ref().is_some_and(|m| m.is_dir()),
                )
                .unwrap();
            if md.is_some() && !facts.is_dir && store.file(&vp).unwrap().is_none() {
                facts.owner = mediaprovider_policy::store::implied_owner(&vp);
            }
            for op in ops {
                let want = if !facts.exists && !matches!(op, Op::Create | Op::Mkdir) {
                    let d = rules::lookup(&caller, &vp);
                    if d.allowed() {
                        (false, Some("ENOENT"), "no-such-file")
                    } else {
                        (false, d.errno.map(|e| e.name()), d.rule)
                    }
                } else {
                    let d = rules::decide(
                        &caller,
                        op,
                        Target {
                            path: &vp,
                            facts: &facts,
                        },
                    );
                    (d.allowed(), d.errno.map(|e| e.name()), d.rule)
                };
                let got = ok_json(&[
                    "explain",
                    "--db",
                    db,
                    "--lower",
                    &e.lower,
                    "--uid",
                    &uid.to_string(),
                    "--op",
                    op.name(),
                    path,
                ]);
                assert_eq!(
                    got["allowed"].as_bool(),
                    Some(want.0),
                    "{uid} {op:?} {path}: {got}"
                );
                assert_eq!(got["errno"].as_str(), want.1, "{uid} {op:?} {path}: {got}");
                assert_eq!(
                    got["rule"].as_str(),
                    Some(want.2),
                    "{uid} {op:?} {path}: {got}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, uids.len() * paths.len() * ops.len());
    // Rename takes two paths and agrees too.
    let got = ok_json(&[
        "explain",
        "--db",
        db,
        "--lower",
        &e.lower,
        "--uid",
        "10022",
        "--op",
        "rename",
        "Download/doc.pdf",
        "DCIM/doc.mp4",
    ]);
    assert_eq!(got["allowed"], false);
    assert_eq!(got["errno"], "EPERM");
    fails(
        &[
            "explain",
            "--db",
            db,
            "--lower",
            &e.lower,
            "--uid",
            "10022",
            "--op",
            "rename",
            "Download/doc.pdf",
        ],
        2,
        "NEWPATH",
    );
    fails(
        &[
            "explain", "--db", db, "--lower", &e.lower, "--uid", "10022", "--op", "fly", "x",
        ],
        2,
        "unknown operation",
    );
    fs::remove_dir_all(&e.dir).unwrap();
}

fn resolve(lower: &Path, p: &VolPath) -> Option<fs::Metadata> {
    let mut cur = lower.to_path_buf();
    for c in p.components() {
        let found = fs::read_dir(&cur)
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(c))?;
        cur = found.path();
    }
    fs::symlink_metadata(cur).ok()
}

#[test]
fn ranges_prints_the_spec_shape() {
    let dir = tmp("ranges");
    let f = dir.join("plain.bin");
    fs::write(&f, b"no media here").unwrap();
    let v = ok_json(&["ranges", f.to_str().unwrap()]);
    assert!(v["format"].is_string());
    assert_eq!(v["ranges"], serde_json::json!([]));
    fails(&["ranges", "/nonexistent.jpg"], 2, "not a regular file");
    fails(&["ranges"], 2, "exactly one FILE");
    fs::remove_dir_all(&dir).unwrap();
}
