//! Unit tests of internals: normalization, XMP tokenizer, legacy hex mapping, views, sniffing.
//! Byte-exact per-format cases live in `policy/tests/redact_formats.rs`.

use std::borrow::Cow;

use super::read::{Concat, PositionedRead, Src};
use super::*;

fn fill(start: u64, end: u64, b: u8, kind: &'static str) -> LocationRange {
    LocationRange {
        start,
        end,
        kind: Cow::Borrowed(kind),
        replacement: Replacement::Fill(b),
    }
}

fn bytes(start: u64, v: &[u8], kind: &'static str) -> LocationRange {
    LocationRange {
        start,
        end: start + v.len() as u64,
        kind: Cow::Borrowed(kind),
        replacement: Replacement::Bytes(v.to_vec()),
    }
}

#[test]
fn normalize_merges_same_fill_and_keeps_different_fills_apart() {
    // Android's RedactionInfoTest case: {10,20},{8,14},{14,24},{12,16} -> [8,24)
    let v = vec![
        fill(10, 20, 0, "a"),
        fill(8, 14, 0, "b"),
        fill(14, 24, 0, "c"),
        fill(12, 16, 0, "d"),
    ];
    assert_eq!(normalize(v), vec![fill(8, 24, 0, "b")]);
    // adjacent, same fill -> merged; adjacent, different fill -> kept
    let v = vec![
        fill(0, 4, 0, "a"),
        fill(4, 8, 0, "b"),
        fill(8, 10, 0x20, "x"),
    ];
    assert_eq!(
        normalize(v),
        vec![fill(0, 8, 0, "a"), fill(8, 10, 0x20, "x")]
    );
    // empty ranges dropped
    assert_eq!(normalize(vec![fill(5, 5, 0, "e")]), vec![]);
}

#[test]
fn normalize_resolves_overlaps_between_replacements() {
    let v = vec![
        fill(0, 10, 0, "a"),
        bytes(6, b"ABCDEF", "crc"),
        fill(2, 4, 0x20, "in"),
    ];
    assert_eq!(
        normalize(v),
        vec![fill(0, 10, 0, "a"), bytes(10, b"EF", "crc")]
    );
}

#[test]
fn out_drops_malformed_and_collapses_when_flooded() {
    let mut o = Out::default();
    o.push(LocationRange {
        start: 0,
        end: 3,
        kind: Cow::Borrowed("bad"),
        replacement: Replacement::Bytes(vec![1]),
    });
    assert!(o.v.is_empty());
    for i in 0..(MAX_RANGES as u64) {
        o.fill(i * 2, i * 2 + 1, 0, "x");
    }
    assert_eq!(o.v.len(), 1);
    assert_eq!((o.v[0].start, o.v[0].end), (0, MAX_RANGES as u64 * 2 - 1));
}

fn spans(x: &str) -> Result<Vec<(usize, usize, &'static str)>, &'static str> {
    xmp::gps_spans(x.as_bytes())
}

#[test]
fn xmp_element_attribute_and_self_closing_forms() {
    let x = r#"<rdf:Description a:b="1" exif:GPSLatitude='53,50N' x:GPSAltitude = "12"><exif:GPSLongitude>10,41E</exif:GPSLongitude ><Iptc4xmpExt:GPSLatitude/><exif:DateTime>t</exif:DateTime></rdf:Description>"#;
    let s = spans(x).unwrap();
    let got: Vec<&str> = s.iter().map(|(a, b, _)| &x[*a..*b]).collect();
    assert_eq!(
        got,
        vec![
            "exif:GPSLatitude='53,50N'",
            "x:GPSAltitude = \"12\"",
            "<exif:GPSLongitude>10,41E</exif:GPSLongitude >",
            "<Iptc4xmpExt:GPSLatitude/>",
        ]
    );
    assert_eq!(s[0].2, xmp::KIND_ATTR);
    assert_eq!(s[2].2, xmp::KIND_ELEMENT);
}

#[test]
fn xmp_tolerates_junk_inside_gps_element_and_skips_longer_names() {
    let x =
        "<a><exif:GPSLatitude>a<exif:oops  </exif:GPSLatitudeRef></exif:GPSLatitude><b>GPS</b></a>";
    let s = spans(x).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(
        &x[s[0].0..s[0].1],
        "<exif:GPSLatitude>a<exif:oops  </exif:GPSLatitudeRef></exif:GPSLatitude>"
    );
}

#[test]
fn xmp_unparseable_packets() {
    for bad in [
        "<exif:GPSLatitude>1",                                    // no end tag
        "<a b='1>",                                               // unterminated attribute
        "<a><!-- <exif:GPSLatitude>1</exif:GPSLatitude>",         // unterminated comment
        "<a><!-- <exif:GPSLatitude>1</exif:GPSLatitude> --></a>", // GPS hidden in a comment
        "<a><![CDATA[<x:GPSLatitude>]]></a>",                     // GPS hidden in CDATA
        "<a b></a>",                                              // attribute without value
        "\0<\0a\0>",                                              // UTF-16
    ] {
        assert!(spans(bad).is_err(), "{bad:?}");
    }
    assert_eq!(spans("\u{feff}<a>GPS</a>").unwrap(), vec![]);
    assert_eq!(spans("").unwrap(), vec![]);
}

#[test]
fn xmp_scan_blanks_whole_packet_on_error_and_oversize() {
    let data = b"....<x:GPSLatitude>1....".to_vec();
    let mut src = Src::new(&data);
    let mut o = Out::default();
    xmp::scan(&mut src, 4, data.len() as u64, &mut o);
    assert_eq!(o.v, vec![fill(4, 24, b' ', xmp::KIND_PACKET)]);
}

struct Huge;
impl PositionedRead for Huge {
    fn read_at(&self, buf: &mut [u8], _off: u64) -> std::io::Result<usize> {
        buf.fill(b' ');
        Ok(buf.len())
    }
    fn len(&self) -> std::io::Result<u64> {
        Ok(1 << 40)
    }
}

#[test]
fn oversized_xmp_is_blanked_without_reading() {
    let mut src = Src::new(&Huge);
    let mut o = Out::default();
    xmp::scan(&mut src, 10, 10 + xmp::MAX_PACKET + 1, &mut o);
    assert_eq!(
        o.v,
        vec![fill(10, 11 + xmp::MAX_PACKET, b' ', xmp::KIND_PACKET)]
    );
}

struct Failing;
impl PositionedRead for Failing {
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> std::io::Result<usize> {
        Err(std::io::Error::other("EIO"))
    }
    fn len(&self) -> std::io::Result<u64> {
        Ok(100)
    }
}

#[test]
fn io_error_blanks_whole_file() {
    let r = scan(&Failing);
    assert_eq!(r.ranges, vec![fill(0, 100, 0, "scan-failed")]);
}

#[test]
fn concat_view_reads_and_maps_across_segments() {
    let data: Vec<u8> = (0u8..100).collect();
    let v = Concat::new(&data, &[(10, 5), (50, 5), (90, 10)]);
    assert_eq!(v.total(), 20);
    let mut s = Src::new(&v);
    let mut b = [0u8; 8];
    assert!(s.read(3, &mut b));
    assert_eq!(b, [13, 14, 50, 51, 52, 53, 54, 90]);
    let mut got = Vec::new();
    v.map(3, 12, |a, e, skip| got.push((a, e, skip)));
    assert_eq!(got, vec![(13, 15, 0), (50, 55, 2), (90, 92, 7)]);
}

#[test]
fn scan_parts_splits_bytes_replacements() {
    let data: Vec<u8> = vec![0; 100];
    let mut src = Src::new(&data);
    let mut o = Out::default();
    scan_parts(&mut src, &[(10, 2), (50, 2)], &mut o, |_, _, lo| {
        lo.bytes(1, b"abc".to_vec(), "t")
    });
    assert_eq!(o.v, vec![bytes(11, b"a", "t"), bytes(50, b"bc", "t")]);
}

#[test]
fn src_is_bounds_checked() {
    let data = vec![1u8, 2, 3];
    let mut s = Src::new(&data);
    assert_eq!(s.u8(2), Some(3));
    assert_eq!(s.be16(2), None);
    assert_eq!(s.u32(u64::MAX - 1, true), None);
    assert!(s.vec(0, 4, 10).is_none());
    assert!(s.vec(0, 3, 2).is_none());
    assert_eq!(s.cstr(0, 3, 10), None);
}

#[test]
fn sniffing_ignores_extension_and_recognizes_brands() {
    assert_eq!(
        bmff::sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
        Some("heif")
    );
    assert_eq!(
        bmff::sniff(b"\0\0\0\x18ftypcrx \0\0\0\x01crx isom"),
        Some("cr3")
    );
    assert_eq!(
        bmff::sniff(b"\0\0\0\x18ftypmif1\0\0\0\0mif1avif"),
        Some("heif")
    );
    assert_eq!(
        bmff::sniff(b"\0\0\0\x14ftypisom\0\0\x02\0mp41"),
        Some("isobmff")
    );
    assert_eq!(bmff::sniff(b"\0\0\0\x08wide"), Some("isobmff"));
    assert_eq!(bmff::sniff(b"\0\0\0\x08junk"), None);
    let r = scan(&b"GIF89a....".as_slice());
    assert_eq!((r.format, r.ranges.len()), ("unknown", 0));
    assert_eq!(scan(&b"".as_slice()).format, "unknown");
}

#[test]
fn work_budget_exhaustion_fails_closed() {
    let data = vec![0u8; 16];
    let mut s = Src::new(&data);
    assert!(s.spend(1000));
    assert!(!s.spend(u64::MAX));
    assert!(s.err.is_some());
    assert_eq!(s.u8(0), None);
}

/// (Unit tests run with a 1 Mi budget.) `eXIf` chunks whose IFD0 has 65,535 SubIFDs entries pointing at 32 more overlapping
/// 65,535-entry IFDs: more structural work than the budget allows, so the whole file is
/// blanked instead of being walked for seconds.
#[test]
fn hostile_ifd_fan_out_blanks_whole_file() {
    const N: u32 = 65535;
    let array = 10 + 12 * N + 4;
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&(N as u16).to_le_bytes());
    for _ in 0..N {
        // SubIFDs, LONG, count 0xFFFF (its low half doubles as the next IFDs' entry count)
        tiff.extend_from_slice(&0x014Au16.to_le_bytes());
        tiff.extend_from_slice(&4u16.to_le_bytes());
        tiff.extend_from_slice(&N.to_le_bytes());
        tiff.extend_from_slice(&array.to_le_bytes());
    }
    tiff.extend_from_slice(&0u32.to_le_bytes());
    for j in 0..32u32 {
        tiff.extend_from_slice(&(14 + 12 * j).to_le_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for _ in 0..2 {
        png.extend_from_slice(&(tiff.len() as u32).to_be_bytes());
        png.extend_from_slice(b"eXIf");
        png.extend_from_slice(&tiff);
        png.extend_from_slice(&[0; 4]);
    }
    let r = scan(&png);
    assert_eq!(r.ranges, vec![fill(0, png.len() as u64, 0, "scan-failed")]);
}

#[test]
fn xmp_finds_names_at_every_alignment() {
    for pad in 0..20 {
        let x = format!(
            "{}<a:GPSLatitude>1</a:GPSLatitude>{}",
            " ".repeat(pad),
            " ".repeat(pad)
        );
        let s = spans(&x).unwrap();
        assert_eq!(s, vec![(pad, pad + 32, xmp::KIND_ELEMENT)], "pad {pad}");
    }
}

/// 65,535 XMLPacket entries all pointing at one 1 MiB packet: scanning is charged by size,
/// so this ends in the budget (whole file blanked) instead of 64 GiB of tokenizing.
#[test]
fn repeated_big_xmp_is_charged() {
    const N: u32 = 65535;
    let packet_at = 8 + 2 + 12 * N + 4;
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&(N as u16).to_le_bytes());
    for _ in 0..N {
        tiff.extend_from_slice(&0x02BCu16.to_le_bytes());
        tiff.extend_from_slice(&7u16.to_le_bytes());
        tiff.extend_from_slice(&(1u32 << 20).to_le_bytes());
        tiff.extend_from_slice(&packet_at.to_le_bytes());
    }
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.resize(tiff.len() + (1 << 20), b' ');
    let r = scan(&tiff);
    assert_eq!(r.ranges, vec![fill(0, tiff.len() as u64, 0, "scan-failed")]);
}
