//! I/O path and lifecycle suite (SPEC §3 `serve`, §7, §9): request counters from
//! `serve --stats FILE` (rewritten on SIGUSR1) prove that entitled reads and writes go through
//! FUSE passthrough (no READ/WRITE request reaches the daemon) and that `--no-passthrough` and
//! redacted reads are daemon-served; SIGTERM/SIGINT/external unmount end `serve` with exit 0;
//! a `/dev/fuse` fd handed over with `--fuse-fd` is served; restarts keep the store.

use mediaproviderd_tests::*;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

const MIB: usize = 1 << 20;
const BIG: usize = 16 * MIB;

/// The shared daemon with passthrough (default options, `--stats`).
fn pt() -> Option<&'static Fixture> {
    Fixture::shared()
}

/// A second shared daemon with `--no-passthrough --stats`.
fn nopt() -> Option<&'static Fixture> {
    static F: OnceLock<Fixture> = OnceLock::new();
    if !can_run("cts_passthrough") {
        return None;
    }
    Some(F.get_or_init(|| {
        Fixture::start(ServeOpts {
            passthrough: false,
            ..ServeOpts::default()
        })
    }))
}

/// A daemon of this test's own (for lifecycle tests).
fn own(opts: ServeOpts) -> Option<Fixture> {
    can_run("cts_passthrough").then(|| Fixture::start(opts))
}

fn delta(before: &HashMap<String, u64>, after: &HashMap<String, u64>, key: &str) -> u64 {
    Fixture::counter(after, key) - Fixture::counter(before, key)
}

/// Reads a file as `u` and compares it with `want` in the child (no 16 MiB round trip).
fn reads_back(u: &User, rel: &str, want: &[u8]) -> R<bool> {
    let p = u.path(rel);
    u.run(|| read_file(&p).map(|b| b == want))
}

// =============================================================================================
// Passthrough keeps data off the daemon
// =============================================================================================

#[test]
fn stats_file_is_written_on_sigusr1_with_request_counters() {
    let Some(fx) = pt() else { return };
    let s = fx.stats();
    for k in ["read", "write", "open", "lookup"] {
        assert!(s.contains_key(k), "--stats lacks \"{k}\": {s:?}");
    }
    // Counters are live: ten opens of a file are ten OPEN requests.
    let a = fx.add_app("stats_live", &[]);
    let d = fx.dir("Download", "stats");
    let p = format!("{d}/s.txt");
    assert_eq!(a.create(&p, b"x"), Ok(()));
    let before = fx.stats();
    let path = fx.m(&p);
    let opened = a.run(|| {
        (0..10)
            .map(|_| open_close(&path, libc::O_RDONLY))
            .filter(|r| r.is_ok())
            .count() as u32
    });
    assert_eq!(opened, 10);
    let after = fx.stats();
    assert!(
        delta(&before, &after, "open") >= 10,
        "open counter: {before:?} -> {after:?}"
    );
}

#[test]
fn owner_read_of_16_mib_makes_no_daemon_reads() {
    let Some(fx) = pt() else { return };
    let a = fx.add_app("pt_owner", &[]);
    let d = fx.dir("Download", "pt_owner");
    let p = format!("{d}/big.bin");
    let data = pattern(BIG, 1);
    assert_eq!(a.create(&p, &data), Ok(()));
    assert!(
        slurp(&fx.l(&p)) == data,
        "the upload landed in the lower file"
    );
    let before = fx.stats();
    assert_eq!(reads_back(&a, &p, &data), Ok(true));
    let after = fx.stats();
    assert!(
        delta(&before, &after, "open") >= 1,
        "the open itself reaches the daemon"
    );
    assert_eq!(
        delta(&before, &after, "read"),
        0,
        "passthrough: no READ request for 16 MiB"
    );
}

#[test]
fn root_read_of_a_lower_file_makes_no_daemon_reads() {
    let Some(fx) = pt() else { return };
    let p = format!("Download/{}/lower.bin", fx.unique("pt_root"));
    let data = pattern(BIG, 2);
    fx.put_lower(&p, &data);
    let before = fx.stats();
    assert_eq!(reads_back(&fx.root_user(), &p, &data), Ok(true));
    let after = fx.stats();
    assert_eq!(delta(&before, &after, "read"), 0);
}

#[test]
fn media_reader_read_of_others_video_makes_no_daemon_reads() {
    let Some(fx) = pt() else { return };
    let b = fx.add_app("pt_video_owner", &[]);
    let d = fx.dir("Movies", "pt_video");
    let p = format!("{d}/clip.mp4");
    let data = pattern(BIG, 3);
    assert_eq!(b.create(&p, &data), Ok(()));
    let r = fx.add_app("pt_video_reader", &["READ_MEDIA_VIDEO"]);
    let before = fx.stats();
    assert_eq!(reads_back(&r, &p, &data), Ok(true));
    let after = fx.stats();
    assert_eq!(
        delta(&before, &after, "read"),
        0,
        "no location: the reader is entitled to passthrough"
    );
}

#[test]
fn mmap_of_a_passthrough_file_reads_the_lower_bytes() {
    let Some(fx) = pt() else { return };
    let a = fx.add_app("pt_mmap", &[]);
    let d = fx.dir("Download", "pt_mmap");
    let p = format!("{d}/m.bin");
    let data = pattern(4 * MIB, 4);
    assert_eq!(a.create(&p, &data), Ok(()));
    let before = fx.stats();
    assert!(a.mmap(&p, true).unwrap() == data, "MAP_SHARED");
    assert!(a.mmap(&p, false).unwrap() == data, "MAP_PRIVATE");
    let after = fx.stats();
    assert_eq!(delta(&before, &after, "read"), 0);
}

#[test]
fn owner_writes_to_an_existing_file_make_no_daemon_writes() {
    let Some(fx) = pt() else { return };
    let a = fx.add_app("pt_write", &[]);
    let d = fx.dir("Download", "pt_write");
    let p = format!("{d}/w.bin");
    assert_eq!(a.create(&p, b"seed"), Ok(()));
    let data = pattern(BIG, 5);
    let before = fx.stats();
    let path = fx.m(&p);
    let r = a.run(|| {
        let fd = open(&path, libc::O_WRONLY | libc::O_TRUNC, 0)?;
        for (i, chunk) in data.chunks(MIB).enumerate() {
            fd.pwrite_all((i * MIB) as u64, chunk)?;
        }
        fd.close()
    });
    assert_eq!(r, Ok(()));
    let after = fx.stats();
    assert!(slurp(&fx.l(&p)) == data, "writes land in the lower file");
    assert_eq!(
        delta(&before, &after, "write"),
        0,
        "passthrough: no WRITE request for 16 MiB"
    );
    assert_eq!(a.stat(&p).map(|s| s.size), Ok(BIG as u64));
}

#[test]
fn writes_through_a_created_file_make_no_daemon_writes() {
    let Some(fx) = pt() else { return };
    let a = fx.add_app("pt_create", &[]);
    let d = fx.dir("DCIM", "pt_create");
    let p = format!("{d}/new.mp4");
    let data = pattern(4 * MIB, 6);
    let before = fx.stats();
    assert_eq!(a.create(&p, &data), Ok(()));
    let after = fx.stats();
    assert!(slurp(&fx.l(&p)) == data);
    assert_eq!(delta(&before, &after, "write"), 0);
    assert!(delta(&before, &after, "create") >= 1);
}

#[test]
fn appends_through_passthrough_land_at_the_end() {
    let Some(fx) = pt() else { return };
    let a = fx.add_app("pt_append", &[]);
    let d = fx.dir("Download", "pt_append");
    let p = format!("{d}/log.txt");
    assert_eq!(a.create(&p, b"one\n"), Ok(()));
    assert_eq!(a.append(&p, b"two\n"), Ok(()));
    assert_eq!(a.append(&p, b"three\n"), Ok(()));
    assert_eq!(slurp(&fx.l(&p)), b"one\ntwo\nthree\n");
    assert_eq!(a.read(&p), Ok(b"one\ntwo\nthree\n".to_vec()));
}

#[test]
fn redacted_reads_are_served_by_the_daemon() {
    let Some(fx) = pt() else { return };
    let src = shared_dir().join("corpus/aosp-mediaprovider/lg_g4_iso_800_jpg.jpg");
    if !src.is_file() {
        assert!(!in_ci(), "corpus missing under CI: {}", src.display());
        skip_note(&format!("corpus missing: {}", src.display()));
        return;
    }
    let orig = slurp(&src);
    let p = format!("DCIM/{}/gps.jpg", fx.unique("pt_redact"));
    fx.put_lower(&p, &orig);
    let r = fx.add_app("pt_redact_reader", &["READ_MEDIA_IMAGES"]);
    let before = fx.stats();
    let got = r.read(&p).unwrap();
    let after = fx.stats();
    assert_eq!(got.len(), orig.len());
    assert!(got != orig, "location redacted");
    assert!(
        delta(&before, &after, "read") > 0,
        "the redacted view is daemon-served"
    );
    // The entitled view of the same name stays passthrough.
    let before = fx.stats();
    assert_eq!(reads_back(&fx.root_user(), &p, &orig), Ok(true));
    let after = fx.stats();
    assert_eq!(delta(&before, &after, "read"), 0);
}

// =============================================================================================
// --no-passthrough: everything is daemon-served, and still correct
// =============================================================================================

#[test]
fn no_passthrough_reads_go_through_the_daemon() {
    let Some(fx) = nopt() else { return };
    let p = format!("Download/{}/lower.bin", fx.unique("nopt_read"));
    let data = pattern(BIG, 7);
    fx.put_lower(&p, &data);
    let before = fx.stats();
    assert_eq!(reads_back(&fx.root_user(), &p, &data), Ok(true));
    let after = fx.stats();
    assert!(
        delta(&before, &after, "read") > 0,
        "--no-passthrough: READs reach the daemon"
    );
}

#[test]
fn no_passthrough_owner_read_goes_through_the_daemon() {
    let Some(fx) = nopt() else { return };
    let a = fx.add_app("nopt_owner", &[]);
    let p = format!("Android/media/{}/own.bin", a.pkg);
    let data = pattern(2 * MIB, 8);
    fx.put_lower(&p, &data);
    let before = fx.stats();
    assert_eq!(reads_back(&a, &p, &data), Ok(true));
    let after = fx.stats();
    assert!(delta(&before, &after, "read") > 0);
}

#[test]
fn no_passthrough_writes_land_in_the_lower_file() {
    let Some(fx) = nopt() else { return };
    let a = fx.add_app("nopt_write", &[]);
    let d = fx.dir("Download", "nopt_write");
    let p = format!("{d}/w.bin");
    let data = pattern(4 * MIB, 9);
    let before = fx.stats();
    assert_eq!(a.create(&p, &data), Ok(()));
    let after = fx.stats();
    assert!(
        delta(&before, &after, "write") > 0,
        "--no-passthrough: WRITEs reach the daemon"
    );
    assert!(slurp(&fx.l(&p)) == data);
    assert_eq!(reads_back(&a, &p, &data), Ok(true));
}

#[test]
fn no_passthrough_append_and_truncate() {
    // Daemon-served opens strip O_APPEND: the kernel's offsets must be honoured.
    let Some(fx) = nopt() else { return };
    let a = fx.add_app("nopt_append", &[]);
    let d = fx.dir("Download", "nopt_append");
    let p = format!("{d}/log.txt");
    assert_eq!(a.create(&p, b"one\n"), Ok(()));
    assert_eq!(a.append(&p, b"two\n"), Ok(()));
    assert_eq!(a.write_at(&p, 0, b"ONE"), Ok(()));
    assert_eq!(slurp(&fx.l(&p)), b"ONE\ntwo\n");
    assert_eq!(a.overwrite(&p, b"x"), Ok(()));
    assert_eq!(slurp(&fx.l(&p)), b"x");
    assert_eq!(a.read(&p), Ok(b"x".to_vec()));
}

#[test]
fn no_passthrough_o_direct_read() {
    let Some(fx) = nopt() else { return };
    let p = format!("Download/{}/direct.bin", fx.unique("nopt_direct"));
    let data = pattern(MIB, 10);
    fx.put_lower(&p, &data);
    let path = fx.m(&p);
    let got = fx.root_user().run(|| {
        let fd = open(&path, libc::O_RDONLY | libc::O_DIRECT, 0)?;
        let mut buf: *mut libc::c_void = std::ptr::null_mut();
        assert_eq!(unsafe { libc::posix_memalign(&mut buf, 4096, MIB) }, 0);
        let n = unsafe { libc::pread(fd.0, buf, MIB, 0) };
        let r = if n < 0 {
            Err(Errno::last())
        } else {
            Ok(unsafe { std::slice::from_raw_parts(buf as *const u8, n as usize) }.to_vec())
        };
        unsafe { libc::free(buf) };
        r
    });
    assert!(
        got.as_ref().map(|b| b == &data) == Ok(true),
        "O_DIRECT read: {:?}",
        got.map(|b| b.len())
    );
}

#[test]
fn no_passthrough_mmap_shared_and_private() {
    let Some(fx) = nopt() else { return };
    let a = fx.add_app("nopt_mmap", &[]);
    let d = fx.dir("Download", "nopt_mmap");
    let p = format!("{d}/m.bin");
    let data = pattern(MIB + 123, 11);
    assert_eq!(a.create(&p, &data), Ok(()));
    assert!(a.mmap(&p, true).unwrap() == data);
    assert!(a.mmap(&p, false).unwrap() == data);
}

#[test]
fn no_passthrough_policy_still_applies() {
    let Some(fx) = nopt() else { return };
    let b = fx.add_app("nopt_policy_b", &[]);
    let d = fx.dir("Download", "nopt_policy");
    let p = format!("{d}/b.pdf");
    assert_eq!(b.create(&p, b"doc"), Ok(()));
    let c = fx.add_app("nopt_policy_c", &["READ_MEDIA_IMAGES"]);
    assert_eq!(c.read(&p).err(), Some(EACCES));
    assert_eq!(b.read(&p), Ok(b"doc".to_vec()));
}

// =============================================================================================
// Lifecycle (SPEC §3 serve)
// =============================================================================================

fn assert_clean_exit(fx: &Fixture, st: Option<std::process::ExitStatus>, how: &str) {
    let st = st.unwrap_or_else(|| panic!("serve did not exit after {how}:\n{}", fx.log_tail(30)));
    assert!(
        st.success(),
        "serve exit status after {how}: {st}\n{}",
        fx.log_tail(30)
    );
    assert!(
        fuse_mount_at(&fx.mnt).is_none(),
        "mount left behind after {how}"
    );
}

#[test]
fn sigterm_unmounts_and_exits_zero() {
    let Some(fx) = own(ServeOpts::default()) else {
        return;
    };
    let a = fx.add_app("sigterm", &[]);
    let p = format!("Download/{}.txt", fx.unique("kept"));
    assert_eq!(a.create(&p, b"kept"), Ok(()));
    let st = fx.stop_with(libc::SIGTERM);
    assert_clean_exit(&fx, st, "SIGTERM");
    assert_eq!(slurp(&fx.l(&p)), b"kept");
}

#[test]
fn sigint_unmounts_and_exits_zero() {
    let Some(fx) = own(ServeOpts::default()) else {
        return;
    };
    assert!(fx.root_user().ls("").is_ok());
    let st = fx.stop_with(libc::SIGINT);
    assert_clean_exit(&fx, st, "SIGINT");
}

#[test]
fn sigterm_while_files_are_open_still_exits_zero() {
    let Some(fx) = own(ServeOpts::default()) else {
        return;
    };
    let a = fx.add_app("sigterm_busy", &[]);
    let p = format!("Download/{}.bin", fx.unique("busy"));
    assert_eq!(a.create(&p, &pattern(MIB, 12)), Ok(()));
    let path = fx.m(&p);
    let (opened, go) = (Signal::new(), Signal::new());
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            a.run(|| {
                let fd = open(&path, libc::O_RDONLY, 0);
                opened.send();
                go.wait(Duration::from_secs(60));
                fd.map(|_| ())
            })
        });
        assert!(opened.wait(Duration::from_secs(60)));
        fx.signal(libc::SIGTERM);
        let st = fx.wait_exit(Duration::from_secs(20));
        let left_mounted = fuse_mount_at(&fx.mnt).is_some();
        go.send();
        assert_eq!(holder.join().unwrap(), Ok(()));
        let st = st.unwrap_or_else(|| panic!("serve did not exit:\n{}", fx.log_tail(30)));
        assert!(
            st.success(),
            "exit status {st} with a file open (a busy mount must still go)\n{}",
            fx.log_tail(30)
        );
        assert!(
            !left_mounted,
            "mount left behind after SIGTERM with a file open"
        );
    });
    force_unmount(&fx.mnt);
}

#[test]
fn external_umount_makes_serve_exit_zero() {
    let Some(fx) = own(ServeOpts::default()) else {
        return;
    };
    assert!(fx.root_user().ls("").is_ok());
    let out = std::process::Command::new("umount")
        .arg(&fx.mnt)
        .output()
        .expect("run umount");
    assert!(
        out.status.success(),
        "umount: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = fx.wait_exit(Duration::from_secs(20));
    assert_clean_exit(&fx, st, "an external umount");
}

#[test]
fn external_lazy_umount_makes_serve_exit_zero() {
    let Some(fx) = own(ServeOpts::default()) else {
        return;
    };
    assert!(fx.root_user().ls("").is_ok());
    let out = std::process::Command::new("umount")
        .arg("-l")
        .arg(&fx.mnt)
        .output()
        .expect("run umount");
    assert!(
        out.status.success(),
        "umount -l: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = fx.wait_exit(Duration::from_secs(20));
    assert_clean_exit(&fx, st, "umount -l");
}

#[test]
fn fuse_fd_handoff_serves_a_premounted_fd() {
    let Some(fx) = own(ServeOpts {
        fuse_fd: true,
        ..ServeOpts::default()
    }) else {
        return;
    };
    let b = fx.add_app("handoff_b", &[]);
    let d = fx.dir("Download", "handoff");
    let p = format!("{d}/b.pdf");
    assert_eq!(b.create(&p, b"handed over"), Ok(()));
    assert_eq!(slurp(&fx.l(&p)), b"handed over");
    let c = fx.add_app("handoff_c", &["READ_MEDIA_IMAGES"]);
    assert_eq!(
        c.read(&p).err(),
        Some(EACCES),
        "policy applies on a handed-over fd"
    );
    assert_eq!(b.read(&p), Ok(b"handed over".to_vec()));
    let st = fx.stop_with(libc::SIGTERM);
    assert_clean_exit(&fx, st, "SIGTERM (handed-over fd)");
}

#[test]
fn app_commands_racing_a_starting_daemon_on_a_new_store() {
    // vold-style start: the mount exists before `serve` runs, so an `app` command may open the
    // brand-new store while `serve` is still creating it. Both must succeed.
    let Some(fx) = own(ServeOpts {
        fuse_fd: true,
        wait_ready: false,
        ..ServeOpts::default()
    }) else {
        return;
    };
    let (st, _, err) = fx.app_try(
        "add",
        &["--package", "com.mpt.race.first", "--uid", "10777"],
    );
    assert!(
        st.success(),
        "app add racing serve's store creation failed: {err}"
    );
    let served = run_as(0, || stat(&fx.mnt).map(|_| ()));
    assert_eq!(
        served,
        Ok(()),
        "serve died racing an app command:\n{}",
        fx.log_tail(20)
    );
    assert!(
        fx.try_wait().is_none(),
        "serve exited:\n{}",
        fx.log_tail(20)
    );
}

#[test]
fn restart_keeps_owners_and_grants() {
    let Some(fx) = own(ServeOpts::default()) else {
        return;
    };
    let a = fx.add_app("restart_owner", &[]);
    let b = fx.add_app("restart_other", &["READ_MEDIA_IMAGES"]);
    let c = fx.add_app("restart_granted", &[]);
    let d = fx.dir("DCIM", "restart");
    let p = format!("{d}/a.jpg");
    let doc = format!("Download/{}.pdf", fx.unique("restart_doc"));
    assert_eq!(a.create(&p, b"photo"), Ok(()));
    assert_eq!(a.create(&doc, b"doc"), Ok(()));
    c.grant_file(&[&doc]);
    let (st, _fx) = fx.restart(libc::SIGTERM); // _fx keeps the new daemon alive
    assert!(st.is_some_and(|s| s.success()), "first serve exit: {st:?}");
    assert_eq!(
        a.open(&p, libc::O_WRONLY),
        Ok(()),
        "owner kept across restart"
    );
    assert_eq!(b.read(&p), Ok(b"photo".to_vec()));
    assert_eq!(b.open(&p, libc::O_WRONLY), Err(EACCES));
    assert_eq!(
        c.read(&doc),
        Ok(b"doc".to_vec()),
        "grant kept across restart"
    );
    assert_eq!(b.read(&doc).err(), Some(EACCES));
}

#[test]
fn sigkill_and_restart_leave_store_and_tree_consistent() {
    let Some(fx) = own(ServeOpts::default()) else {
        return;
    };
    let a = fx.add_app("kill_owner", &[]);
    let d = fx.dir("Download", "kill");
    for i in 0..20 {
        assert_eq!(
            a.create(&format!("{d}/f{i}.txt"), format!("{i}").as_bytes()),
            Ok(())
        );
    }
    for i in 0..5 {
        assert_eq!(a.unlink(&format!("{d}/f{i}.txt")), Ok(()));
    }
    assert_eq!(
        a.rename(&format!("{d}/f5.txt"), &format!("{d}/renamed.txt")),
        Ok(())
    );
    let (_, fx) = fx.restart(libc::SIGKILL);
    let mut want: Vec<String> = (6..20).map(|i| format!("f{i}.txt")).collect();
    want.push("renamed.txt".into());
    want.sort();
    assert_eq!(a.ls(&d), Ok(want.clone()));
    assert_eq!(
        a.open(&format!("{d}/renamed.txt"), libc::O_WRONLY),
        Ok(()),
        "owner kept after SIGKILL"
    );
    let other = fx.add_app(
        "kill_other",
        &["READ_MEDIA_IMAGES", "READ_MEDIA_VIDEO", "READ_MEDIA_AUDIO"],
    );
    assert_eq!(
        other.read(&format!("{d}/f7.txt")).err(),
        Some(EACCES),
        "still someone else's document"
    );
    assert_eq!(other.ls(&d), Ok(vec![]));
}

#[test]
fn serve_refuses_a_missing_lower_dir() {
    if !can_run("cts_passthrough") {
        return;
    }
    let root = Fixture::make_root();
    let mnt = root.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let missing = root.join("no-such-lower");
    let (st, out, err) = mpd(&[
        "serve",
        "--lower",
        &missing.display().to_string(),
        "--mount",
        &mnt.display().to_string(),
        "--db",
        &root.join("s.db").display().to_string(),
    ]);
    assert!(!st.success(), "serve with a missing lower dir must fail");
    assert!(out.trim().is_empty(), "no JSON on failure: {out}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
    assert!(fuse_mount_at(&mnt).is_none());
    let _ = std::fs::remove_dir_all(root);
}

// =============================================================================================
// Starting on an existing lower tree with a missing or corrupt store (SPEC §3, §9)
// =============================================================================================

/// A lower tree populated before any daemon ran, with `pkg`'s Android/media dir.
fn populated_root(pkg: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let root = Fixture::make_root();
    let lower = root.join("lower");
    for (rel, data) in [
        ("DCIM/Old/a.jpg", &b"old photo"[..]),
        ("Download/old.pdf", &b"old doc"[..]),
        (&*format!("Android/media/{pkg}/m.pdf"), &b"pkg doc"[..]),
    ] {
        let p = lower.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    (root, lower)
}

fn check_reconciled(fx: &Fixture, pkg: &str) {
    let uid = fx.fresh_uid();
    let owner = fx.add_package(pkg, uid, &[], None, false);
    let m = format!("Android/media/{pkg}/m.pdf");
    assert_eq!(
        owner.read(&m),
        Ok(b"pkg doc".to_vec()),
        "Android/media/<pkg> files belong to pkg"
    );
    assert_eq!(owner.overwrite(&m, b"mine"), Ok(()));
    let r = fx.add_app("reconciled_reader", &["READ_MEDIA_IMAGES"]);
    assert_eq!(r.read("DCIM/Old/a.jpg"), Ok(b"old photo".to_vec()));
    assert_eq!(
        r.open("DCIM/Old/a.jpg", libc::O_WRONLY),
        Err(EACCES),
        "pre-existing files are nobody's"
    );
    assert_eq!(r.read("Download/old.pdf").err(), Some(EACCES));
    assert!(r.lists("DCIM/Old", "a.jpg"));
    for d in ["DCIM", "Download", "Music", "Android/data", "Android/obb"] {
        assert!(fx.l(d).is_dir(), "{d} created");
    }
}

#[test]
fn first_start_on_a_populated_lower_tree_indexes_it() {
    if !can_run("cts_passthrough") {
        return;
    }
    let pkg = "com.mpt.preexisting.one";
    let (root, lower) = populated_root(pkg);
    let fx = Fixture::start_on(root, lower, ServeOpts::default());
    check_reconciled(&fx, pkg);
}

#[test]
fn corrupt_store_is_rebuilt_from_the_lower_tree() {
    if !can_run("cts_passthrough") {
        return;
    }
    let pkg = "com.mpt.preexisting.two";
    let (root, lower) = populated_root(pkg);
    std::fs::write(
        root.join("store.db"),
        b"this is not an SQLite database\n".repeat(200),
    )
    .unwrap();
    let fx = Fixture::start_on(root, lower, ServeOpts::default());
    check_reconciled(&fx, pkg);
    let log = std::fs::read_to_string(&fx.log)
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        log.contains("corrupt") || log.contains("rebuil"),
        "the daemon must say that it rebuilt the store:\n{}",
        fx.log_tail(20)
    );
}

#[test]
fn files_removed_while_stopped_are_gone_after_restart() {
    let Some(fx) = own(ServeOpts::default()) else {
        return;
    };
    let a = fx.add_app("removed_owner", &[]);
    let d = fx.dir("DCIM", "removed_stopped");
    let (x, y) = (format!("{d}/x.jpg"), format!("{d}/y.jpg"));
    assert_eq!(a.create(&x, b"x"), Ok(()));
    assert_eq!(a.create(&y, b"y"), Ok(()));
    fx.stop_with(libc::SIGTERM);
    std::fs::remove_file(fx.l(&x)).unwrap();
    let (_, fx) = fx.restart(libc::SIGTERM);
    let r = fx.add_app("removed_reader", &["READ_MEDIA_IMAGES"]);
    assert_eq!(r.ls(&d), Ok(vec!["y.jpg".to_string()]));
    assert_eq!(r.stat(&x).err(), Some(ENOENT));
    // The name is free again, for anyone.
    assert_eq!(r.create(&x, b"new"), Ok(()));
    assert_eq!(
        r.open(&x, libc::O_WRONLY),
        Ok(()),
        "and owned by its new creator"
    );
}
