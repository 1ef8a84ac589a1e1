//! Every structural bound of the scanner fails closed (SPEC §6, §9): a file whose structure goes
//! on past a bound before the scanner has seen every place location could be is blanked whole,
//! never served with location intact. Just under each bound, location is found exactly.

mod redact {
    use mediaprovider_policy::redact::{scan, LocationRange};

    /// A little-endian TIFF whose IFD0 points at a GPS IFD holding `GPSLatitudeRef = "N"`.
    fn gps_tiff() -> Vec<u8> {
        let mut t = b"II*\0\x08\0\0\0".to_vec();
        // IFD0 at 8: one entry (GPS IFD pointer -> 26), next IFD 0.
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&0x8825u16.to_le_bytes());
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&26u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        // GPS IFD at 26: GPSLatitudeRef ASCII[2] "N\0" inline, next IFD 0.
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&2u32.to_le_bytes());
        t.extend_from_slice(b"N\0\0\0");
        t.extend_from_slice(&0u32.to_le_bytes());
        t
    }

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    /// A JPEG with `n` empty APP2 segments before its EXIF block.
    fn jpeg_with_segments_before_exif(n: usize) -> (Vec<u8>, usize) {
        let mut d = vec![0xFF, 0xD8];
        for _ in 0..n {
            d.extend_from_slice(&segment(0xE2, b""));
        }
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&gps_tiff());
        let gps_at = d.len() + 4 + 6 + 26;
        d.extend_from_slice(&segment(0xE1, &app1));
        d.extend_from_slice(&[0xFF, 0xD9]);
        (d, gps_at)
    }

    /// Does a redacted read leave any byte of the GPS IFD (12 bytes from `gps_at`) intact?
    fn gps_survives(data: &[u8], ranges: &[LocationRange], gps_at: usize) -> bool {
        let covered = |i: u64| ranges.iter().any(|r| r.start <= i && i < r.end);
        (gps_at..gps_at + 14).any(|i| !covered(i as u64) && data[i] != 0)
    }

    fn blanked_whole(data: &[u8], ranges: &[LocationRange]) -> bool {
        ranges.len() == 1 && ranges[0].start == 0 && ranges[0].end >= data.len() as u64
    }

    #[test]
    fn jpeg_many_segments_before_exif_are_walked_or_fail_closed() {
        // 4,096 segments used to be the bound: EXIF after them came back with no ranges.
        for n in [4095, 4096, 5000] {
            let (d, gps) = jpeg_with_segments_before_exif(n);
            let r = scan(&d.as_slice()).ranges;
            assert!(!gps_survives(&d, &r, gps), "{n} segments: GPS intact");
            assert!(
                !blanked_whole(&d, &r),
                "{n} segments: a real file is not blanked"
            );
        }
        let (d, gps) = jpeg_with_segments_before_exif((1 << 16) + 1);
        let r = scan(&d.as_slice()).ranges;
        assert!(!gps_survives(&d, &r, gps) && blanked_whole(&d, &r), "{r:?}");
    }

    #[test]
    fn jpeg_endless_fill_bytes_fail_closed() {
        let mut d = vec![0xFF, 0xD8];
        d.extend(std::iter::repeat_n(0xFF, 5000));
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&gps_tiff());
        d.extend_from_slice(&segment(0xE1, &app1)[1..]);
        let r = scan(&d.as_slice()).ranges;
        assert!(blanked_whole(&d, &r), "{r:?}");
    }

    fn chunk(typ: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(typ);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0, 0, 0, 0]); // CRC: not checked by the scanner
        c
    }

    #[test]
    fn png_more_chunks_than_walked_fail_closed() {
        let mut d = b"\x89PNG\r\n\x1a\n".to_vec();
        let filler = chunk(b"abCd", b"");
        for _ in 0..(1 << 20) {
            d.extend_from_slice(&filler);
        }
        let gps = d.len() + 8 + 26;
        d.extend_from_slice(&chunk(b"eXIf", &gps_tiff()));
        d.extend_from_slice(&chunk(b"IEND", b""));
        let r = scan(&d.as_slice()).ranges;
        assert!(!gps_survives(&d, &r, gps) && blanked_whole(&d, &r));
    }

    fn bx(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(typ);
        b.extend_from_slice(payload);
        b
    }

    /// `©xyz` inside `depth` nested `udta` boxes of a `moov`.
    fn mp4_with_xyz_at_depth(depth: usize) -> (Vec<u8>, usize) {
        let xyz = bx(b"\xa9xyz", b"\0\x11\x15\xc7+52.5200+013.4050/");
        let mut inner = xyz;
        for _ in 0..depth {
            inner = bx(b"udta", &inner);
        }
        let moov = bx(b"moov", &inner);
        let mut d = bx(b"ftyp", b"isom\0\0\0\0isom");
        let at = d.len() + 8 + 8 * depth + 8;
        d.extend_from_slice(&moov);
        (d, at)
    }

    #[test]
    fn iso_bmff_nesting_past_the_bound_fails_closed() {
        let (d, at) = mp4_with_xyz_at_depth(10);
        let r = scan(&d.as_slice()).ranges;
        assert!(
            r.iter()
                .any(|x| x.start <= at as u64 && at as u64 + 4 < x.end),
            "{r:?}"
        );
        assert!(!blanked_whole(&d, &r));
        let (d, _) = mp4_with_xyz_at_depth(40);
        let r = scan(&d.as_slice()).ranges;
        assert!(blanked_whole(&d, &r), "{r:?}");
    }

    #[test]
    fn tiff_ifd_chain_longer_than_walked_fails_closed() {
        // 100 empty IFDs chained: past the 64 the walk follows, GPS could still come.
        let mut t = b"II*\0\x08\0\0\0".to_vec();
        let ifds = 100u32;
        for k in 0..ifds {
            let at = 8 + k * 6;
            let next = if k + 1 < ifds { at + 6 } else { 0 };
            assert_eq!(t.len() as u32, at);
            t.extend_from_slice(&0u16.to_le_bytes());
            t.extend_from_slice(&next.to_le_bytes());
        }
        let r = scan(&t.as_slice()).ranges;
        assert!(blanked_whole(&t, &r), "{r:?}");
    }
}
