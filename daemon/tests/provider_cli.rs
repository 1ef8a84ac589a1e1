//! The provider half's command line without a daemon (SPEC §11): `query`/`changes` output and
//! paging, lifecycle commands needing write access (EACCES, exit 1), `maintain --now` expiry,
//! and bad input → exit 2 with one line.

use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mediaproviderd");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn lines(args: &[&str]) -> Vec<Value> {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// Result rows (without the end line) and the end line.
fn rows(args: &[&str]) -> (Vec<Value>, Value) {
    let mut v = lines(args);
    let end = v.pop().expect("an end line");
    assert_eq!(end["end"], true, "last line is the end line: {end}");
    (v, end)
}

fn paths(rows: &[Value]) -> Vec<&str> {
    rows.iter().filter_map(|r| r["path"].as_str()).collect()
}

fn fails(args: &[&str], code: i32, needle: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(code), "{args:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout");
}

struct Env {
    dir: PathBuf,
    db: String,
    lower: String,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn setup(tag: &str) -> Env {
    let dir = std::env::temp_dir().join(format!("mpd-provider-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let lower = dir.join("lower");
    for d in ["DCIM/Camera", "Download", "Android/media/com.owner"] {
        fs::create_dir_all(lower.join(d)).unwrap();
    }
    // Minimal JPEGs: SOI, SOF0 (size), EOI, then `pad` bytes (distinct file sizes).
    let jpeg = |w: u8, h: u8, pad: usize| {
        let mut v = vec![
            0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, h, 0, w, 1, 1, 0x11, 0, 0xFF, 0xD9,
        ];
        v.resize(v.len() + pad, 0);
        v
    };
    fs::write(lower.join("DCIM/Camera/a.jpg"), jpeg(3, 2, 0)).unwrap();
    fs::write(lower.join("DCIM/Camera/b.jpg"), jpeg(5, 4, 5)).unwrap();
    fs::write(lower.join("Download/doc.pdf"), b"%PDF").unwrap();
    fs::write(lower.join("Android/media/com.owner/o.jpg"), jpeg(1, 1, 10)).unwrap();
    let db = dir.join("media.db").to_string_lossy().into_owned();
    let lower = lower.to_string_lossy().into_owned();
    let e = Env { dir, db, lower };
    for (pkg, uid, perm) in [
        ("com.reader", "10001", "READ_MEDIA_IMAGES"),
        ("com.owner", "10002", "READ_MEDIA_AUDIO"),
    ] {
        lines(&[
            "app",
            "add",
            "--db",
            &e.db,
            "--package",
            pkg,
            "--uid",
            uid,
            "--grant",
            perm,
        ]);
    }
    let scan = lines(&["scan", "--db", &e.db, "--lower", &e.lower]);
    assert_eq!(scan[0]["metadata_extracted"], 4);
    e
}

#[test]
fn query_changes_and_lifecycle_through_the_command_line() {
    let e = setup("flow");
    let db = e.db.as_str();
    let (r, end) = rows(&["query", "--db", db, "--uid", "10001", "--sort", "size"]);
    assert_eq!(
        paths(&r),
        [
            "DCIM/Camera/a.jpg",
            "DCIM/Camera/b.jpg",
            "Android/media/com.owner/o.jpg"
        ]
    );
    assert_eq!(r[1]["width"], 5);
    assert_eq!(r[1]["height"], 4);
    assert_eq!(r[1]["relative_path"], "DCIM/Camera/");
    let version = end["version"].as_str().unwrap().to_string();
    let g0 = end["generation"].as_i64().unwrap();
    // The owner sees only its own file (it holds no image permission).
    let (r, _) = rows(&["query", "--db", db, "--uid", "10002"]);
    assert_eq!(paths(&r), ["Android/media/com.owner/o.jpg"]);
    // Paging.
    let (r, _) = rows(&[
        "query",
        "--db",
        db,
        "--uid",
        "0",
        "--collection",
        "images",
        "--sort",
        "display_name",
        "--desc",
        "--limit",
        "1",
        "--offset",
        "1",
    ]);
    assert_eq!(paths(&r), ["DCIM/Camera/b.jpg"]);

    // A reader may not trash or favorite someone else's file: EACCES, exit 1, one line.
    fails(
        &["trash", "--db", db, "--uid", "10001", "DCIM/Camera/a.jpg"],
        1,
        "EACCES",
    );
    fails(
        &[
            "favorite",
            "--db",
            db,
            "--uid",
            "10001",
            "DCIM/Camera/a.jpg",
        ],
        1,
        "EACCES",
    );
    // The owner may.
    let t = lines(&[
        "trash",
        "--db",
        db,
        "--uid",
        "10002",
        "Android/media/com.owner/o.jpg",
    ]);
    let trashed = t[0]["path"].as_str().unwrap().to_string();
    assert!(
        trashed.starts_with("Android/media/com.owner/.trashed-"),
        "{trashed}"
    );
    assert!(
        fs::metadata(format!("{}/{trashed}", e.lower)).is_ok(),
        "renamed on disk"
    );
    lines(&["favorite", "--db", db, "--uid", "10002", &trashed]);
    // Trashed rows: only with --include-trashed, only for those who may open them.
    let (r, _) = rows(&["query", "--db", db, "--uid", "10002"]);
    assert!(r.is_empty());
    let (r, _) = rows(&[
        "query",
        "--db",
        db,
        "--uid",
        "10002",
        "--include-trashed",
        "--favorites",
    ]);
    assert_eq!(paths(&r), [trashed.as_str()]);
    assert_eq!(r[0]["is_trashed"], true);
    assert_eq!(r[0]["is_favorite"], true);
    let (r, _) = rows(&["query", "--db", db, "--uid", "10001", "--include-trashed"]);
    assert!(
        !paths(&r).contains(&trashed.as_str()),
        "trashed names are owner-only"
    );

    // changes since g0: the trashed+favorited row, seen by its owner.
    let (c, end) = rows(&[
        "changes",
        "--db",
        db,
        "--uid",
        "10002",
        "--since",
        &g0.to_string(),
    ]);
    assert_eq!(paths(&c), [trashed.as_str()]);
    assert!(end["generation"].as_i64().unwrap() > g0);
    assert_eq!(end["version"], version.as_str());

    // Untrash restores the name.
    let u = lines(&["untrash", "--db", db, "--uid", "10002", &trashed]);
    assert_eq!(u[0]["path"], "Android/media/com.owner/o.jpg");
    assert_eq!(u[0]["is_trashed"], false);

    // Deleted behind the daemon's back and rescanned: a tombstone.
    let (before, end) = rows(&[
        "query",
        "--db",
        db,
        "--uid",
        "0",
        "--path-prefix",
        "Download",
    ]);
    let id = before[0]["id"].clone();
    let g1 = end["generation"].as_i64().unwrap().to_string();
    fs::remove_file(format!("{}/Download/doc.pdf", e.lower)).unwrap();
    lines(&["scan", "--db", db, "--lower", &e.lower]);
    let (c, _) = rows(&["changes", "--db", db, "--uid", "10001", "--since", &g1]);
    assert_eq!(c, vec![serde_json::json!({ "deleted": id })]);
}

#[test]
fn maintain_deletes_what_expired_at_the_given_time() {
    let e = setup("maintain");
    let db = e.db.as_str();
    let t = lines(&["trash", "--db", db, "--uid", "0", "DCIM/Camera/a.jpg"]);
    let expires = t[0]["date_expires"].as_i64().unwrap();
    let trashed = t[0]["path"].as_str().unwrap().to_string();
    // A pending file from a week and a bit ago, found by scan.
    let old = expires - 40 * 86_400;
    let pending = format!("DCIM/Camera/.pending-{old}-p.jpg");
    fs::write(format!("{}/{pending}", e.lower), b"x").unwrap();
    lines(&["scan", "--db", db, "--lower", &e.lower]);

    let m = lines(&[
        "maintain",
        "--db",
        db,
        "--lower",
        &e.lower,
        "--now",
        &(old - 1).to_string(),
    ]);
    assert_eq!(m[0]["deleted"], 0, "nothing expired yet: {m:?}");
    let m = lines(&[
        "maintain",
        "--db",
        db,
        "--lower",
        &e.lower,
        "--now",
        &(old + 1).to_string(),
    ]);
    assert_eq!(m[0]["deleted"], 1, "the old pending file: {m:?}");
    assert!(fs::metadata(format!("{}/{pending}", e.lower)).is_err());
    assert!(
        fs::metadata(format!("{}/{trashed}", e.lower)).is_ok(),
        "trash not expired yet"
    );
    let m = lines(&[
        "maintain",
        "--db",
        db,
        "--lower",
        &e.lower,
        "--now",
        &(expires + 1).to_string(),
    ]);
    assert_eq!(m[0]["deleted"], 1, "{m:?}");
    assert!(fs::metadata(format!("{}/{trashed}", e.lower)).is_err());
    let (r, _) = rows(&[
        "query",
        "--db",
        db,
        "--uid",
        "0",
        "--include-trashed",
        "--include-pending",
    ]);
    assert!(!paths(&r)
        .iter()
        .any(|p| p.contains(".trashed-") || p.contains(".pending-")));
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let e = setup("bad");
    let db = e.db.as_str();
    fails(&["query", "--db", db], 2, "--uid");
    fails(&["query", "--db", db, "--uid", "x"], 2, "--uid");
    fails(
        &["query", "--db", db, "--uid", "0", "--sort", "nope"],
        2,
        "sort",
    );
    fails(
        &["query", "--db", db, "--uid", "0", "--collection", "pics"],
        2,
        "collection",
    );
    fails(
        &["query", "--db", db, "--uid", "0", "--limit", "-3"],
        2,
        "--limit",
    );
    fails(
        &["query", "--db", db, "--uid", "0", "--path-prefix", "../etc"],
        2,
        "path-prefix",
    );
    fails(
        &["query", "--db", db, "--uid", "0", "--bogus"],
        2,
        "--bogus",
    );
    fails(&["query", "--db", db, "--uid", "0", "extra"], 2, "extra");
    fails(&["changes", "--db", db, "--uid", "0"], 2, "since");
    fails(
        &["changes", "--db", db, "--uid", "0", "--since", "-1"],
        2,
        "--since",
    );
    fails(&["trash", "--db", db, "--uid", "0"], 2, "no path");
    fails(&["trash", "--db", db, "--uid", "0", "../x.jpg"], 2, "path");
    fails(&["maintain", "--db", db], 2, "--lower");
    fails(
        &["maintain", "--db", db, "--lower", &e.lower, "--now", "soon"],
        2,
        "--now",
    );
    fails(
        &["query", "--db", "/nonexistent-dir/x.db", "--uid", "0"],
        2,
        "--db",
    );
    // A missing file is a failure of the work, not of the input.
    fails(
        &["untrash", "--db", db, "--uid", "0", "DCIM/none.jpg"],
        1,
        "ENOENT",
    );
}
