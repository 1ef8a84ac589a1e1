//! The provider half against the real mount (SPEC §11): for many kinds of caller, the set of
//! paths `query` returns equals the set of files that caller can open through FUSE; the query
//! socket takes the uid from `SO_PEERCRED`; lifecycle changes through the running daemon keep
//! the FUSE view consistent; generations and tombstones follow changes made through the mount.

use mediaproviderd_tests::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

const RMI: &str = "READ_MEDIA_IMAGES";
const RMV: &str = "READ_MEDIA_VIDEO";
const RMA: &str = "READ_MEDIA_AUDIO";
const RVUS: &str = "READ_MEDIA_VISUAL_USER_SELECTED";
const AML: &str = "ACCESS_MEDIA_LOCATION";
const MES: &str = "MANAGE_EXTERNAL_STORAGE";
const RES: &str = "READ_EXTERNAL_STORAGE";
const WMI: &str = "WRITE_MEDIA_IMAGES";
const WMV: &str = "WRITE_MEDIA_VIDEO";

const OWNER: &str = "com.prov.owner";
const OWNER_UID: u32 = 10_500;

fn corpus(rel: &str) -> Vec<u8> {
    fs::read(shared_dir().join("corpus").join(rel)).unwrap_or_else(|_| {
        // Without the corpus: a JPEG/MP4 stub (no location; the location checks then skip).
        if rel.ends_with(".mp4") {
            b"\0\0\0\x18ftypisom\0\0\0\0isommp41".to_vec()
        } else {
            vec![0xFF, 0xD8, 0xFF, 0xD9]
        }
    })
}

/// `mediaproviderd ARGS…` lines as JSON (the end line included).
fn mpd_lines(args: &[&str]) -> Vec<Value> {
    mpd_ok(args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn query_rows(fx: &Fixture, uid: u32, extra: &[&str]) -> Vec<Value> {
    let db = fx.db.display().to_string();
    let uid = uid.to_string();
    let mut a = vec!["query", "--db", db.as_str(), "--uid", uid.as_str()];
    a.extend_from_slice(extra);
    let mut v = mpd_lines(&a);
    let end = v.pop().expect("end line");
    assert_eq!(end["end"], true);
    v
}

fn path_set(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .collect()
}

/// One request over the query socket as `uid`; the answer lines (rows, then end or error).
fn socket_as(fx: &Fixture, uid: u32, requests: &[Value]) -> Vec<Value> {
    let sock = format!("{}.query", fx.db.display());
    let reqs: Vec<String> = requests.iter().map(|r| r.to_string()).collect();
    let text: String = run_as(uid, move || {
        let s = match UnixStream::connect(&sock) {
            Ok(s) => s,
            Err(e) => return format!("{{\"connect\":\"{e}\"}}\n"),
        };
        let mut out = String::new();
        let mut reader = BufReader::new(&s);
        for r in &reqs {
            let mut w = &s;
            if writeln!(w, "{r}").is_err() {
                break;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return out;
                }
                out.push_str(&line);
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                if v.get("end").is_some() || v.get("error").is_some() {
                    break;
                }
            }
        }
        out
    });
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// Files that `u` can open for reading through the mount, among `candidates`.
fn openable(u: &User, candidates: &[String]) -> BTreeSet<String> {
    candidates
        .iter()
        .filter(|p| u.open(p, libc::O_RDONLY).is_ok())
        .cloned()
        .collect()
}

/// The populated tree: files of many kinds, owners and hiding rules, written into the lower
/// tree before the daemon starts (indexed by the startup reconcile, owner from the path).
fn populate(lower: &Path, future: u64) -> Vec<String> {
    let files: Vec<(String, Vec<u8>)> = vec![
        (
            "DCIM/Camera/gps.jpg".into(),
            corpus("exif-samples/DSCN0010.jpg"),
        ),
        (
            "DCIM/Camera/plain.jpg".into(),
            corpus("exiftool/Canon_40D.jpg"),
        ),
        (
            "DCIM/Camera/clip.mp4".into(),
            corpus("aosp-mediaprovider/test_video_gps.mp4"),
        ),
        ("Music/song.mp3".into(), b"ID3\x03\0\0\0\0\0\0".to_vec()),
        ("Music/list.m3u".into(), b"#EXTM3U\n".to_vec()),
        ("Download/doc.pdf".into(), b"%PDF-1.4\n".to_vec()),
        ("Download/pic.png".into(), corpus("exiftool/PNG.png")),
        ("Pictures/.hidden.jpg".into(), corpus("exiftool/GPS.jpg")),
        ("Pictures/Secret/.nomedia".into(), Vec::new()),
        ("Pictures/Secret/s.jpg".into(), corpus("exiftool/GPS.jpg")),
        (
            format!("DCIM/Camera/.trashed-{future}-old.jpg"),
            corpus("exiftool/GPS.jpg"),
        ),
        (
            format!("DCIM/Camera/.pending-{future}-new.jpg"),
            corpus("exiftool/GPS.jpg"),
        ),
        (
            format!("Android/media/{OWNER}/mine.jpg"),
            corpus("exif-samples/DSCN0021.jpg"),
        ),
        (
            format!("Android/media/{OWNER}/notes.txt"),
            b"notes".to_vec(),
        ),
        (
            format!("Android/data/{OWNER}/files/private.jpg"),
            corpus("exiftool/GPS.jpg"),
        ),
        (
            format!("Android/media/{OWNER}/.trashed-{future}-gone.jpg"),
            corpus("exiftool/GPS.jpg"),
        ),
    ];
    let mut names = Vec::new();
    for (rel, data) in files {
        let p = lower.join(&rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        names.push(rel);
    }
    names
}

#[test]
fn query_returns_exactly_what_each_caller_can_open() {
    if !can_run("provider differential suite") {
        return;
    }
    let root = Fixture::make_root();
    let lower = root.join("lower");
    let future = 4_000_000_000u64;
    let mut candidates = populate(&lower, future);
    let fx = Fixture::start_on(root, lower, ServeOpts::default());
    let owner = fx.add_package(OWNER, OWNER_UID, &[], None, false);
    // The owner also creates files through the mount (owner recorded at create).
    for p in ["DCIM/Camera/by_owner.jpg", "Download/by_owner.pdf"] {
        assert_eq!(owner.create(p, &corpus("exiftool/GPS.jpg")), Ok(()), "{p}");
        candidates.push(p.to_string());
    }
    let users = vec![
        ("no permissions", fx.add_app("none", &[])),
        ("READ_MEDIA_IMAGES", fx.add_app("rmi", &[RMI])),
        ("READ_MEDIA_VIDEO", fx.add_app("rmv", &[RMV])),
        ("READ_MEDIA_AUDIO", fx.add_app("rma", &[RMA])),
        ("USER_SELECTED + grants", fx.add_app("rvus", &[RVUS])),
        (
            "images + ACCESS_MEDIA_LOCATION",
            fx.add_app("aml", &[RMI, AML]),
        ),
        ("MANAGE_EXTERNAL_STORAGE", fx.add_app("mes", &[MES])),
        (
            "legacy + READ_EXTERNAL_STORAGE",
            fx.add_app_with("legacy", &[RES], Some(29), true),
        ),
        ("gallery role", fx.add_app("gallery", &[WMI, WMV])),
    ];
    users[4]
        .1
        .grant_file(&["DCIM/Camera/plain.jpg", "Download/doc.pdf"]);
    let mut callers: Vec<(&str, u32)> = users.iter().map(|(n, a)| (*n, a.uid)).collect();
    callers.push(("owner", OWNER_UID));
    callers.push(("unregistered uid", fx.fresh_uid()));
    callers.push(("root", 0));

    for (what, uid) in callers {
        let can_open = openable(&fx.user(uid), &candidates);
        let everything = query_rows(&fx, uid, &["--include-pending", "--include-trashed"]);
        assert_eq!(
            path_set(&everything),
            can_open,
            "{what} (uid {uid}): query --include-pending --include-trashed vs. opens"
        );
        // By default pending and trashed rows are left out, nothing else.
        let plain: BTreeSet<String> = can_open
            .iter()
            .filter(|p| !p.contains("/.trashed-") && !p.contains("/.pending-"))
            .cloned()
            .collect();
        assert_eq!(
            path_set(&query_rows(&fx, uid, &[])),
            plain,
            "{what}: default query"
        );
    }

    // Location columns only for callers who read the file unredacted.
    if shared_dir()
        .join("corpus/exif-samples/DSCN0010.jpg")
        .exists()
    {
        let gps = |uid: u32| {
            query_rows(
                &fx,
                uid,
                &["--path-prefix", "DCIM/Camera", "--collection", "images"],
            )
            .into_iter()
            .find(|r| r["path"] == "DCIM/Camera/gps.jpg")
            .expect("gps.jpg visible")
        };
        let redacted = gps(users[1].1.uid);
        assert!(redacted["latitude"].is_null() && redacted["longitude"].is_null());
        let located = gps(users[5].1.uid);
        assert!((located["latitude"].as_f64().unwrap() - 43.46744833).abs() < 1e-6);
        assert_eq!(located["width"], 640);
        assert_eq!(located["date_taken"], 1_224_692_919_000i64);
    }
}

#[test]
fn the_socket_takes_the_uid_from_the_peer() {
    let fx = shared_fixture!();
    let dir = fx.dir("DCIM", "sock");
    let reader = fx.add_app("sockreader", &[RMI]);
    let nobody = fx.add_app("socknobody", &[]);
    let pic = format!("{dir}/x.jpg");
    assert_eq!(
        fx.root_user().create(&pic, &corpus("exiftool/GPS.jpg")),
        Ok(())
    );
    let q = json!({"cmd": "query", "path-prefix": dir});

    // Each app gets its own view, whatever it claims.
    let r = socket_as(fx, reader.uid, std::slice::from_ref(&q));
    assert_eq!(path_set(&r), BTreeSet::from([pic.clone()]), "{r:?}");
    assert_eq!(r.last().unwrap()["end"], true);
    let r = socket_as(fx, nobody.uid, std::slice::from_ref(&q));
    assert_eq!(r.len(), 1, "only the end line: {r:?}");
    // Naming another uid is refused; the connection stays usable.
    let mut as_other = q.clone();
    as_other["uid"] = json!(reader.uid);
    let r = socket_as(
        fx,
        nobody.uid,
        &[as_other.clone(), json!({"cmd": "nope"}), q.clone()],
    );
    assert_eq!(r[0]["error"], "EACCES", "{r:?}");
    assert_eq!(r[1]["error"], "EINVAL", "{r:?}");
    assert_eq!(r[2]["end"], true, "{r:?}");
    // maintain is for root/system only.
    let r = socket_as(fx, nobody.uid, &[json!({"cmd": "maintain", "now": 0})]);
    assert_eq!(r[0]["error"], "EACCES");
    // root and system may ask on behalf of an app, and get exactly that app's view.
    for privileged in [0, 1000] {
        let r = socket_as(fx, privileged, &[as_other.clone()]);
        assert_eq!(
            path_set(&r),
            BTreeSet::from([pic.clone()]),
            "uid {privileged}: {r:?}"
        );
    }
    let mut for_nobody = q.clone();
    for_nobody["uid"] = json!(nobody.uid);
    assert_eq!(socket_as(fx, 0, &[for_nobody]).len(), 1);
    // The socket is open to every app (mode 0666).
    let md = fs::metadata(format!("{}.query", fx.db.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(md.permissions().mode() & 0o777, 0o666);
}

#[test]
fn lifecycle_through_the_daemon_keeps_the_mount_consistent() {
    let fx = shared_fixture!();
    let dir = fx.dir("Pictures", "life");
    let owner = fx.add_app("lifeowner", &[]);
    let other = fx.add_app("lifeother", &[RMI]);
    let p = format!("{dir}/a.jpg");
    assert_eq!(owner.create(&p, &corpus("exiftool/GPS.jpg")), Ok(()));
    // Cache the dentry in the kernel for both apps.
    assert!(owner.stat(&p).is_ok());
    assert!(other.stat(&p).is_ok());

    // Someone without write access is refused.
    let r = socket_as(fx, other.uid, &[json!({"cmd": "trash", "paths": [p]})]);
    assert_eq!(r[0]["error"], "EACCES", "{r:?}");
    let r = socket_as(fx, other.uid, &[json!({"cmd": "favorite", "paths": [p]})]);
    assert_eq!(r[0]["error"], "EACCES", "{r:?}");

    let r = socket_as(fx, owner.uid, &[json!({"cmd": "trash", "paths": [p]})]);
    let trashed = r[0]["path"].as_str().expect("trashed path").to_string();
    assert!(trashed.starts_with(&format!("{dir}/.trashed-")), "{r:?}");
    // The old name is gone for everyone at once, the new one is the owner's only.
    assert!(!owner.exists(&p), "old name still cached for the owner");
    assert!(!other.exists(&p), "old name still cached for another app");
    assert_eq!(
        owner.read(&trashed).map(|d| d.len()),
        Ok(corpus("exiftool/GPS.jpg").len())
    );
    assert!(other.open(&trashed, libc::O_RDONLY).is_err());
    assert!(!other.lists(&dir, "a.jpg"));

    let r = socket_as(
        fx,
        owner.uid,
        &[json!({"cmd": "untrash", "paths": [trashed]})],
    );
    assert_eq!(r[0]["path"], p.as_str(), "{r:?}");
    assert!(owner.exists(&p));
    assert!(!owner.exists(&trashed));
    assert_eq!(other.open(&p, libc::O_RDONLY), Ok(()));

    // Favorites, and the CLI going through the running daemon too.
    let db = fx.db.display().to_string();
    let uid = owner.uid.to_string();
    mpd_ok(&["favorite", "--db", &db, "--uid", &uid, &p]);
    let fav = query_rows(fx, owner.uid, &["--favorites", "--path-prefix", &dir]);
    assert_eq!(path_set(&fav), BTreeSet::from([p.clone()]));
    let out = mpd_ok(&["trash", "--db", &db, "--uid", &uid, &p]);
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let trashed = v["path"].as_str().unwrap();
    assert!(!owner.exists(&p));
    assert!(owner.exists(trashed));
}

#[test]
fn generations_and_tombstones_follow_changes_through_the_mount() {
    let fx = shared_fixture!();
    let dir = fx.dir("DCIM", "gen");
    let app = fx.add_app("genapp", &[]);
    let end = |fx: &Fixture| {
        let db = fx.db.display().to_string();
        mpd_lines(&["query", "--db", &db, "--uid", "0", "--limit", "0"])
            .pop()
            .unwrap()
    };
    let changes = |since: i64| {
        let db = fx.db.display().to_string();
        let uid = app.uid.to_string();
        let mut v = mpd_lines(&[
            "changes",
            "--db",
            &db,
            "--uid",
            &uid,
            "--since",
            &since.to_string(),
        ]);
        let end = v.pop().unwrap();
        (v, end["generation"].as_i64().unwrap())
    };
    let version = end(fx)["version"].clone();
    let g0 = end(fx)["generation"].as_i64().unwrap();

    // Create.
    let a = format!("{dir}/a.jpg");
    assert_eq!(app.create(&a, &corpus("exiftool/Canon_40D.jpg")), Ok(()));
    let (c, g1) = changes(g0);
    let row = c
        .iter()
        .find(|r| r["path"] == a.as_str())
        .expect("created row");
    let id = row["id"].clone();
    assert!(row["generation_added"].as_i64().unwrap() > g0);
    assert_eq!(row["is_pending"], false, "closed after write");

    // Rewrite: same id, later generation, metadata from the new content.
    assert_eq!(app.overwrite(&a, &corpus("exiftool/GPS.jpg")), Ok(()));
    let (c, g2) = changes(g1);
    let row = c.iter().find(|r| r["id"] == id).expect("rewritten row");
    assert_eq!(row["width"], 120, "metadata of the new content: {row}");
    assert!(row["generation_modified"].as_i64().unwrap() > g1);

    // Rename through the mount keeps the id.
    let b = format!("{dir}/b.jpg");
    assert_eq!(app.rename(&a, &b), Ok(()));
    let (c, g3) = changes(g2);
    assert!(
        c.iter().any(|r| r["id"] == id && r["path"] == b.as_str()),
        "{c:?}"
    );

    // Trash through the socket.
    let r = socket_as(fx, app.uid, &[json!({"cmd": "trash", "paths": [b]})]);
    assert!(r[0]["path"].as_str().is_some(), "{r:?}");
    let (c, g4) = changes(g3);
    assert!(
        c.iter().any(|r| r["id"] == id && r["is_trashed"] == true),
        "{c:?}"
    );

    // Delete through the mount: a tombstone.
    let trashed = r[0]["path"].as_str().unwrap().to_string();
    assert_eq!(app.unlink(&trashed), Ok(()));
    let (c, g5) = changes(g4);
    assert!(c.contains(&json!({"deleted": id.clone()})), "{c:?}");
    assert!(g5 > g4);
    let (c, _) = changes(g0);
    assert!(
        c.contains(&json!({"deleted": id})),
        "deletions stay visible from older points"
    );
    assert_eq!(end(fx)["version"], version);
}
