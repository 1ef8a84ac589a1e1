//! Any input: `scan` must not panic, hang or over-allocate, and its result must be well-formed
//! (sorted, non-overlapping, inside the file, exact-length byte replacements, JSON round trip).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediaprovider_policy::redact::{apply_ranges, overlaps, scan, Replacement, ScanResult};

fuzz_target!(|data: &[u8]| {
    let r = scan(&data);
    let mut prev = 0u64;
    for x in &r.ranges {
        assert!(x.start < x.end, "empty range {x:?}");
        assert!(x.start >= prev, "unsorted/overlapping {x:?}");
        assert!(x.end <= data.len() as u64, "past EOF {x:?}");
        if let Replacement::Bytes(v) = &x.replacement {
            assert_eq!(v.len() as u64, x.end - x.start);
        }
        prev = x.end;
    }
    assert_eq!(ScanResult::from_json(&r.to_json()).as_ref(), Some(&r));
    // The read path: whole-file and 7-byte windows must agree.
    let mut whole = data.to_vec();
    apply_ranges(&r.ranges, 0, &mut whole);
    let mut pieced = data.to_vec();
    for (i, w) in pieced.chunks_mut(7).enumerate() {
        let off = (i * 7) as u64;
        if overlaps(&r.ranges, off, w.len() as u64) {
            apply_ranges(&r.ranges, off, w);
        }
    }
    assert_eq!(whole, pieced);
});
