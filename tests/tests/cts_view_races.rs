//! Races between a file's readers and its writers around location.
//! - A file's view (real or redacted) for a reader without ACCESS_MEDIA_LOCATION changes with
//!   its content and with writers holding it open. The kernel retries an open refused with
//!   ESTALE once; a writer that rewrites the file in place flips the view faster than that,
//!   and such reads failed with ESTALE (~0.3% of reads here; torture seed 636811173).
//! - A reader without ACCESS_MEDIA_LOCATION holding a photo without location open through its
//!   real view saw location the owner wrote into it afterwards.
//!
//! Real daemon, real uids; never timings.

use mediaproviderd_tests::*;
use std::fs;

const ROUNDS: usize = 400;

/// A JPEG with GPS from the corpus, or `None` (skipped) when the corpus is absent.
fn located_jpeg() -> Option<Vec<u8>> {
    let p = shared_dir().join("corpus/exiftool/GPS.jpg");
    match fs::read(&p) {
        Ok(b) => Some(b),
        Err(e) => {
            assert!(!in_ci(), "{}: {e}", p.display());
            skip_note(&format!(
                "cts_view_races: corpus not found at {}",
                p.display()
            ));
            None
        }
    }
}

/// A JPEG with no metadata at all.
fn plain_jpeg() -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    b.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    b.extend(std::iter::repeat_n(0u8, 4000));
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

#[test]
fn reads_while_the_owner_rewrites_location_in_and_out_never_fail_or_leak() {
    let fx = shared_fixture!();
    let Some(located) = located_jpeg() else {
        return;
    };
    let plain = plain_jpeg();
    let owner = fx.add_app("vr_owner", &["READ_MEDIA_IMAGES", "ACCESS_MEDIA_LOCATION"]);
    let reader = fx.add_app("vr_reader", &["READ_MEDIA_IMAGES"]);
    let d = fx.dir("DCIM", "view_races");
    let rel = format!("{d}/flip.jpg");
    assert_eq!(owner.create(&rel, &plain), Ok(()));
    let (wp, rp) = (owner.path(&rel), reader.path(&rel));
    let failures = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            owner.run(|| {
                for i in 0..ROUNDS {
                    let body = if i % 2 == 0 { &located } else { &plain };
                    if let Err(e) = fs::write(&wp, body) {
                        return format!("rewrite {i}: {e}");
                    }
                }
                String::new()
            })
        });
        let read = reader.run(|| {
            let failures: Vec<String> = (0..ROUNDS * 2)
                .filter_map(|i| fs::read(&rp).err().map(|e| format!("read {i}: {e}")))
                .collect();
            failures.join(", ")
        });
        assert_eq!(writer.join().unwrap(), "", "the owner's rewrites failed");
        read
    });
    assert_eq!(
        failures, "",
        "reads failed while the owner rewrote the file"
    );
    // The last rewrite (an odd round) left the plain version: the reader gets it as it is.
    assert_eq!(reader.read(&rel), Ok(plain));
}

/// How the owner puts location into the file the reader holds open.
#[derive(Clone, Copy, Debug)]
enum Rewrite {
    /// open(O_TRUNC) + write: what most editors do.
    Truncating,
    /// pwrite at 0 into the open file, no truncation (in-place EXIF editors).
    InPlace,
}

/// A reader without ACCESS_MEDIA_LOCATION opens a photo that has no location: it gets the real
/// file. The owner then writes location into that photo. The reader's open fd must not show it
/// (Android's does: its redaction is decided once, at open). The held fd keeps the version it
/// was entitled to; a new open gets the new version, redacted.
fn held_real_fd_never_shows_location_written_after_the_open(fx: &Fixture, how: Rewrite) {
    let Some(located) = located_jpeg() else {
        return;
    };
    let copies_before = Fixture::counter(&fx.stats(), "write_copies");
    let scan = mediaprovider_policy::redact::scan(&located);
    assert!(scan.has_location(), "the corpus file has no location");
    let leaks = |bytes: &[u8]| {
        scan.ranges.iter().any(|r| {
            let (a, b) = (r.start as usize, r.end as usize);
            b <= bytes.len() && b > a + 1 && bytes[a..b] == located[a..b]
        })
    };
    let plain = plain_jpeg();
    let owner = fx.add_app("held_owner", &[]);
    let reader = fx.add_app("held_reader", &["READ_MEDIA_IMAGES"]);
    let rel = format!("{}/p.jpg", fx.dir("DCIM", "held_real"));
    assert_eq!(owner.create(&rel, &plain), Ok(()));
    let (rp, wp) = (reader.path(&rel), owner.path(&rel));
    let (opened, rewritten) = (Signal::new(), Signal::new());
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            reader.run(|| {
                let fd = sys::open(&rp, libc::O_RDONLY, 0)?;
                let first = fd.read_all()?;
                opened.send();
                rewritten.wait(std::time::Duration::from_secs(60));
                let after = fd.pread(0, located.len().max(plain.len()))?;
                Ok::<_, Errno>((first, after))
            })
        });
        assert!(opened.wait(std::time::Duration::from_secs(60)));
        let wrote = owner.run(|| match how {
            Rewrite::Truncating => fs::write(&wp, &located).map_err(|e| e.to_string()),
            Rewrite::InPlace => {
                use std::os::unix::fs::FileExt;
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(&wp)
                    .map_err(|e| e.to_string())?;
                f.write_all_at(&located, 0).map_err(|e| e.to_string())
            }
        });
        assert_eq!(wrote, Ok(()), "{how:?}: the owner's rewrite");
        rewritten.send();
        let (first, after) = holder.join().unwrap().expect("the reader's fd");
        assert_eq!(
            first, plain,
            "{how:?}: the reader starts with the plain photo"
        );
        assert!(
            !leaks(&after),
            "{how:?}: the reader's open fd showed location written after it was opened"
        );
    });
    assert_eq!(
        Fixture::counter(&fx.stats(), "write_copies") - copies_before,
        1,
        "{how:?}: the write open copied the file the reader held"
    );
    let now = reader.read(&rel).expect("a new open");
    assert!(!leaks(&now), "{how:?}: a new open showed the location");
    assert_eq!(
        now.len(),
        located.len().max(if matches!(how, Rewrite::InPlace) {
            plain.len()
        } else {
            0
        })
    );
}

/// A daemon of this file's own with `--stats` (and without passthrough, when asked).
fn own(passthrough: bool) -> Option<Fixture> {
    can_run("cts_view_races").then(|| {
        Fixture::start(ServeOpts {
            passthrough,
            stats: true,
            ..ServeOpts::default()
        })
    })
}

#[test]
fn held_real_fd_never_shows_location_written_by_a_truncating_rewrite() {
    let Some(fx) = own(true) else { return };
    held_real_fd_never_shows_location_written_after_the_open(&fx, Rewrite::Truncating);
}

#[test]
fn held_real_fd_never_shows_location_written_in_place() {
    let Some(fx) = own(true) else { return };
    held_real_fd_never_shows_location_written_after_the_open(&fx, Rewrite::InPlace);
}

/// Without passthrough the reader's fd is served by the daemon from the real view's page
/// cache: the same must hold.
#[test]
fn held_daemon_served_fd_never_shows_location_written_after_the_open() {
    let Some(fx) = own(false) else { return };
    held_real_fd_never_shows_location_written_after_the_open(&fx, Rewrite::Truncating);
    held_real_fd_never_shows_location_written_after_the_open(&fx, Rewrite::InPlace);
}
