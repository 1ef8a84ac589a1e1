//! Random sorted, non-overlapping ranges and a random read window: `apply_ranges` and
//! `overlaps` must match a byte-by-byte model.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use mediaprovider_policy::redact::{apply_ranges, overlaps, LocationRange, Replacement};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let off = u64::from(u16::from_le_bytes([data[0], data[1]]));
    let len = usize::from(data[2]) * 4 + usize::from(data[3] & 3);
    let mut ranges = Vec::new();
    let mut pos = 0u64;
    for c in data[4..].chunks_exact(3) {
        let start = pos + u64::from(c[0]);
        let n = u64::from(c[1] % 64) + 1;
        let replacement = if c[2] & 1 == 0 {
            Replacement::Fill(c[2])
        } else {
            Replacement::Bytes((0..n).map(|i| c[2].wrapping_add(i as u8)).collect())
        };
        ranges.push(LocationRange {
            start,
            end: start + n,
            kind: Cow::Borrowed("fuzz"),
            replacement,
        });
        pos = start + n;
    }
    let orig = |i: u64| (i % 253) as u8;
    let model = |i: u64| {
        ranges
            .iter()
            .find(|r| r.start <= i && i < r.end)
            .map(|r| match &r.replacement {
                Replacement::Fill(b) => *b,
                Replacement::Bytes(v) => v[(i - r.start) as usize],
            })
    };
    let mut buf: Vec<u8> = (off..off + len as u64).map(orig).collect();
    apply_ranges(&ranges, off, &mut buf);
    let want: Vec<u8> = (off..off + len as u64)
        .map(|i| model(i).unwrap_or(orig(i)))
        .collect();
    assert_eq!(buf, want);
    let any = (off..off + len as u64).any(|i| model(i).is_some());
    assert_eq!(overlaps(&ranges, off, len as u64), any);
});
