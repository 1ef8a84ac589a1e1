//! `apply_ranges` / `overlaps`: reads that start, end or sit inside a range, span several
//! ranges, touch adjacent ranges, or touch nothing; plus an exhaustive check against a naive
//! byte-by-byte model.

// In a `redact` module so `cargo test -p mediaprovider_policy redact` selects these tests.
mod redact {

    use std::borrow::Cow;

    use mediaprovider_policy::redact::{apply_ranges, overlaps, LocationRange, Replacement};

    fn fill(start: u64, end: u64, b: u8) -> LocationRange {
        LocationRange {
            start,
            end,
            kind: Cow::Borrowed("t"),
            replacement: Replacement::Fill(b),
        }
    }

    fn bytes(start: u64, v: &[u8]) -> LocationRange {
        LocationRange {
            start,
            end: start + v.len() as u64,
            kind: Cow::Borrowed("t"),
            replacement: Replacement::Bytes(v.to_vec()),
        }
    }

    /// File bytes are their own offset (mod 256) so every patched byte is visible.
    fn read(ranges: &[LocationRange], off: u64, len: usize) -> Vec<u8> {
        let mut b: Vec<u8> = (off..off + len as u64)
            .map(|i| (i % 251) as u8 + 1)
            .collect();
        apply_ranges(ranges, off, &mut b);
        b
    }

    fn orig(off: u64, len: usize) -> Vec<u8> {
        (off..off + len as u64)
            .map(|i| (i % 251) as u8 + 1)
            .collect()
    }

    /// [10,20) fill 0, [20,24) bytes ABCD (adjacent), [30,32) fill ' ', [100,110) fill 0
    fn sample() -> Vec<LocationRange> {
        vec![
            fill(10, 20, 0),
            bytes(20, b"ABCD"),
            fill(30, 32, b' '),
            fill(100, 110, 0),
        ]
    }

    #[test]
    fn read_touching_nothing_is_untouched() {
        let r = sample();
        assert_eq!(read(&r, 0, 10), orig(0, 10));
        assert_eq!(read(&r, 24, 6), orig(24, 6));
        assert_eq!(read(&r, 110, 50), orig(110, 50));
        assert!(!overlaps(&r, 0, 10));
        assert!(!overlaps(&r, 24, 6));
        assert!(!overlaps(&r, 32, 68));
        assert!(!overlaps(&r, 110, u64::MAX - 110));
        assert!(!overlaps(&r, 15, 0));
        assert!(!overlaps(&[], 0, 100));
    }

    #[test]
    fn read_starting_inside_a_range() {
        let r = sample();
        let mut want = vec![0; 5];
        want.extend_from_slice(b"ABCD");
        want.extend(orig(24, 2));
        assert_eq!(read(&r, 15, 11), want);
        assert!(overlaps(&r, 15, 11));
    }

    #[test]
    fn read_ending_inside_a_range() {
        let r = sample();
        let mut want = orig(5, 5);
        want.extend([0, 0]);
        assert_eq!(read(&r, 5, 7), want);
        assert!(overlaps(&r, 5, 6));
        assert!(!overlaps(&r, 5, 5));
    }

    #[test]
    fn read_inside_one_range() {
        let r = sample();
        assert_eq!(read(&r, 12, 3), vec![0, 0, 0]);
        assert_eq!(read(&r, 21, 2), b"BC".to_vec());
        assert_eq!(read(&r, 101, 1), vec![0]);
    }

    #[test]
    fn read_spanning_several_and_adjacent_ranges() {
        let r = sample();
        let got = read(&r, 8, 30);
        let mut want = orig(8, 2);
        want.extend([0; 10]);
        want.extend_from_slice(b"ABCD");
        want.extend(orig(24, 6));
        want.extend(b"  ");
        want.extend(orig(32, 6));
        assert_eq!(got, want);
        // the whole file
        let all = read(&r, 0, 200);
        assert_eq!(&all[100..110], &[0; 10]);
        assert_eq!(&all[110..], &orig(110, 90)[..]);
    }

    #[test]
    fn empty_buffer_and_far_offsets() {
        let r = sample();
        let mut b: [u8; 0] = [];
        apply_ranges(&r, 15, &mut b);
        let mut b = [7u8; 4];
        apply_ranges(&r, u64::MAX - 2, &mut b);
        assert_eq!(b, [7; 4]);
        let huge = [fill(u64::MAX - 10, u64::MAX, 0)];
        let mut b = [7u8; 4];
        apply_ranges(&huge, u64::MAX - 3, &mut b);
        assert_eq!(b, [0, 0, 0, 7]); // the last byte would be offset 2^64
    }

    #[test]
    fn malformed_bytes_replacement_never_leaks() {
        // a Bytes range whose vector is too short (e.g. hand-edited JSON) serves zeros
        let r = [LocationRange {
            start: 4,
            end: 8,
            kind: Cow::Borrowed("t"),
            replacement: Replacement::Bytes(vec![1]),
        }];
        assert_eq!(read(&r, 0, 10)[4..8], [0, 0, 0, 0]);
    }

    #[test]
    fn matches_naive_model_for_every_window() {
        let r = sample();
        let model = |i: u64| -> Option<u8> {
            r.iter()
                .find(|x| x.start <= i && i < x.end)
                .map(|x| match &x.replacement {
                    Replacement::Fill(b) => *b,
                    Replacement::Bytes(v) => v[(i - x.start) as usize],
                })
        };
        for off in 0..120u64 {
            for len in 0..40usize {
                let got = read(&r, off, len);
                let want: Vec<u8> = (off..off + len as u64)
                    .map(|i| model(i).unwrap_or((i % 251) as u8 + 1))
                    .collect();
                assert_eq!(got, want, "off {off} len {len}");
                let any = (off..off + len as u64).any(|i| model(i).is_some());
                assert_eq!(overlaps(&r, off, len as u64), any, "off {off} len {len}");
            }
        }
    }
}
