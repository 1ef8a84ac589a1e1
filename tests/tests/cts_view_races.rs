//! A file's view (real or redacted) for a reader without ACCESS_MEDIA_LOCATION changes with its
//! content and with writers holding it open. The kernel retries an open refused with ESTALE
//! once; a writer that rewrites the file in place flips the view faster than that, and every
//! such read failed with ESTALE (~0.3% of reads here; torture seed 636811173). Real daemon,
//! real uids; never timings.

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
