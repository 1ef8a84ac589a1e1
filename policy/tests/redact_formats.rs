//! Byte-exact location ranges for hand-built inputs of every supported format and range kind.

// In a `redact` module so `cargo test -p mediaprovider_policy redact` selects these tests.
mod redact {

    use std::borrow::Cow;

    use mediaprovider_policy::redact::{
        apply_ranges, scan, LocationRange, Replacement, ScanResult,
    };

    // ---------------------------------------------------------------- helpers

    fn fill(start: usize, end: usize, kind: &'static str, b: u8) -> LocationRange {
        LocationRange {
            start: start as u64,
            end: end as u64,
            kind: Cow::Borrowed(kind),
            replacement: Replacement::Fill(b),
        }
    }

    fn hexr(start: usize, v: Vec<u8>, kind: &'static str) -> LocationRange {
        LocationRange {
            start: start as u64,
            end: (start + v.len()) as u64,
            kind: Cow::Borrowed(kind),
            replacement: Replacement::Bytes(v),
        }
    }

    fn check(data: &[u8], format: &'static str, ranges: Vec<LocationRange>) {
        let got = scan(&data);
        let want = ScanResult { format, ranges };
        assert_eq!(got, want, "\n got: {got:#?}\nwant: {want:#?}");
        // the JSON form round-trips
        assert_eq!(ScanResult::from_json(&got.to_json()), Some(got));
    }

    fn find(hay: &[u8], pat: &[u8]) -> usize {
        hay.windows(pat.len())
            .position(|w| w == pat)
            .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(pat)))
    }

    fn find_after(hay: &[u8], from: usize, pat: &[u8]) -> usize {
        from + find(&hay[from..], pat)
    }

    /// Bitwise CRC-32 (independent of the crate's table version).
    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    /// Endian-aware writer for TIFF structures.
    struct W {
        le: bool,
        b: Vec<u8>,
    }

    impl W {
        fn new(le: bool) -> Self {
            W { le, b: Vec::new() }
        }
        fn u16(&mut self, v: u16) -> &mut Self {
            let x = if self.le {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            self.b.extend_from_slice(&x);
            self
        }
        fn u32(&mut self, v: u32) -> &mut Self {
            let x = if self.le {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            self.b.extend_from_slice(&x);
            self
        }
        fn raw(&mut self, v: &[u8]) -> &mut Self {
            self.b.extend_from_slice(v);
            self
        }
        fn entry(&mut self, tag: u16, typ: u16, count: u32, value: u32) -> &mut Self {
            self.u16(tag).u16(typ).u32(count).u32(value)
        }
        fn entry_inline(&mut self, tag: u16, typ: u16, count: u32, value: [u8; 4]) -> &mut Self {
            self.u16(tag).u16(typ).u32(count).raw(&value)
        }
        fn header(&mut self) -> &mut Self {
            let bo: &[u8] = if self.le { b"II" } else { b"MM" };
            self.raw(bo).u16(42).u32(8)
        }
        fn rationals(&mut self, n: u32) -> &mut Self {
            for i in 0..n {
                self.u32(10 + i).u32(1);
            }
            self
        }
    }

    /// A TIFF (relative offsets) with IFD0 {Make, GPS pointer}, a GPS IFD {VersionID and
    /// LatitudeRef inline, Latitude and Longitude out of line, not adjacent to the IFD}.
    /// Returns the bytes and the expected relative ranges.
    fn tiff(le: bool) -> (Vec<u8>, Vec<(usize, usize, &'static str)>) {
        let mut w = W::new(le);
        w.header();
        w.u16(2)
            .entry(0x010F, 2, 6, 38)
            .entry(0x8825, 4, 1, 44)
            .u32(0); // IFD0 @8..38
        w.raw(b"Canon\0"); // @38..44
        w.u16(4)
            .entry_inline(0x0000, 1, 4, [2, 3, 0, 0])
            .entry_inline(0x0001, 2, 2, *b"N\0\0\0")
            .entry(0x0002, 5, 3, 108)
            .entry(0x0004, 5, 3, 136)
            .u32(0); // GPS IFD @44..98
        w.raw(b"XXXXXXXXXX"); // @98..108, not location
        w.rationals(3); // @108..132
        w.raw(b"YYYY"); // @132..136
        w.rationals(3); // @136..160
        assert_eq!(w.b.len(), 160);
        (
            w.b,
            vec![
                (44, 98, "exif-gps-ifd"),
                (108, 132, "exif-gps-value"),
                (136, 160, "exif-gps-value"),
            ],
        )
    }

    fn shifted(rel: &[(usize, usize, &'static str)], base: usize) -> Vec<LocationRange> {
        rel.iter()
            .map(|&(s, e, k)| fill(base + s, base + e, k, 0))
            .collect()
    }

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn exif_app1(tiff: &[u8]) -> Vec<u8> {
        let mut p = b"Exif\0\0".to_vec();
        p.extend_from_slice(tiff);
        segment(0xE1, &p)
    }

    fn xmp_app1(packet: &str) -> Vec<u8> {
        let mut p = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
        p.extend_from_slice(packet.as_bytes());
        segment(0xE1, &p)
    }

    /// SOI + segments + SOS with entropy data that looks like markers + EOI.
    fn jpeg(segments: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        for s in segments {
            v.extend_from_slice(s);
        }
        v.extend_from_slice(&segment(0xDB, &[0; 4]));
        v.extend_from_slice(&segment(0xDA, &[1, 2, 3]));
        v.extend_from_slice(b"\x12\xFF\x00\xFF\xE1\x00\x10Exif\0\0MM\0*");
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    const XMP_ELEMENTS: &str = "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>\n<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>\n<rdf:Description rdf:about='' xmlns:exif='http://ns.adobe.com/exif/1.0/' xmlns:crs='http://ns.adobe.com/camera-raw-settings/1.0/'>\n <crs:LensProfileSetup>LensDefaults</crs:LensProfileSetup>\n <exif:GPSLatitude>53,50.070500N</exif:GPSLatitude>\n <exif:GPSLongitude>10,41.751000E</exif:GPSLongitude>\n <exif:GPSVersionID/>\n</rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end='w'?>";

    /// Expected element ranges of `XMP_ELEMENTS` placed at `at`.
    fn xmp_element_ranges(data: &[u8], at: usize) -> Vec<LocationRange> {
        let lat = find_after(data, at, b"<exif:GPSLatitude>");
        let lat_end = find_after(data, at, b"</exif:GPSLatitude>") + 19;
        let lon = find_after(data, at, b"<exif:GPSLongitude>");
        let lon_end = find_after(data, at, b"</exif:GPSLongitude>") + 20;
        let ver = find_after(data, at, b"<exif:GPSVersionID/>");
        vec![
            fill(lat, lat_end, "xmp-gps-element", b' '),
            fill(lon, lon_end, "xmp-gps-element", b' '),
            fill(ver, ver + 20, "xmp-gps-element", b' '),
        ]
    }

    // ---------------------------------------------------------------- TIFF

    #[test]
    fn tiff_little_endian() {
        let (t, rel) = tiff(true);
        check(&t, "tiff", shifted(&rel, 0));
    }

    #[test]
    fn tiff_big_endian() {
        let (t, rel) = tiff(false);
        assert_eq!(&t[..4], b"MM\0*");
        check(&t, "tiff", shifted(&rel, 0));
    }

    #[test]
    fn tiff_gps_pointer_in_exif_subifd_and_ifd1_chain() {
        // IFD0 {ExifIFD ptr} -> next IFD1 {Make}; ExifIFD {GPS ptr}; GPS IFD with 1 inline entry.
        let mut w = W::new(false);
        w.header();
        w.u16(1).entry(0x8769, 4, 1, 26).u32(44); // IFD0 @8..26, next = IFD1 @44
        w.u16(1).entry(0x8825, 4, 1, 62).u32(0); // ExifIFD @26..44
        w.u16(1)
            .entry(0x010F, 2, 4, u32::from_be_bytes(*b"abc\0"))
            .u32(0); // IFD1 @44..62
        w.u16(1).entry_inline(0x0005, 1, 1, [1, 0, 0, 0]).u32(0); // GPS IFD @62..80
        check(&w.b, "tiff", vec![fill(62, 80, "exif-gps-ifd", 0)]);
    }

    #[test]
    fn tiff_xmlpacket_tag_700() {
        let packet = "<x:xmpmeta><rdf:Description exif:GPSLongitude=\"10E\"/></x:xmpmeta>";
        let mut w = W::new(true);
        w.header();
        w.u16(1).entry(0x02BC, 7, packet.len() as u32, 26).u32(0); // IFD0 @8..26
        w.raw(packet.as_bytes());
        let a = find(&w.b, b"exif:GPSLongitude");
        check(&w.b, "tiff", vec![fill(a, a + 23, "xmp-gps-attr", b' ')]);
    }

    #[test]
    fn bigtiff_gps_ifd() {
        // II 2B 00 08 00 00 | u64 ifd0=16 ; IFD: u64 count, 20-byte entries, u64 next
        let mut b = b"II+\0\x08\0\0\0".to_vec();
        b.extend_from_slice(&16u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes()); // IFD0 @16
        b.extend_from_slice(&0x8825u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes()); // LONG8
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&52u64.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes()); // next; IFD0 ends @52
        b.extend_from_slice(&1u64.to_le_bytes()); // GPS IFD @52
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&5u16.to_le_bytes()); // RATIONAL x3 = 24 bytes, out of line
        b.extend_from_slice(&3u64.to_le_bytes());
        b.extend_from_slice(&100u64.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes()); // GPS IFD ends @88
        b.resize(100, b'.');
        b.extend_from_slice(&[7; 24]); // @100..124
        check(
            &b,
            "tiff",
            vec![
                fill(52, 88, "exif-gps-ifd", 0),
                fill(100, 124, "exif-gps-value", 0),
            ],
        );
    }

    // ---------------------------------------------------------------- JPEG

    #[test]
    fn jpeg_exif_both_endians_and_xmp_elements() {
        for le in [true, false] {
            let (t, rel) = tiff(le);
            let d = jpeg(&[
                segment(0xE0, b"JFIF\0\x01\x02"),
                exif_app1(&t),
                xmp_app1(XMP_ELEMENTS),
            ]);
            let base = 2 + 11 + 4 + 6; // SOI, APP0, APP1 header, "Exif\0\0"
            assert_eq!(&d[base..base + 2], if le { b"II" } else { b"MM" });
            let mut want = shifted(&rel, base);
            want.extend(xmp_element_ranges(&d, base + t.len()));
            check(&d, "jpeg", want);
        }
    }

    #[test]
    fn jpeg_xmp_attribute_form() {
        let packet = "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><rdf:Description rdf:about='' xmlns:e='http://ns.adobe.com/exif/1.0/'\n e:GPSLatitude=\"53,50.0705N\"\n e:GPSMapDatum='WGS-84'\n dc:title='t'/></rdf:RDF></x:xmpmeta>";
        let d = jpeg(&[xmp_app1(packet)]);
        let a = find(&d, b"e:GPSLatitude");
        let m = find(&d, b"e:GPSMapDatum");
        check(
            &d,
            "jpeg",
            vec![
                fill(a, a + 27, "xmp-gps-attr", b' '),
                fill(m, m + 22, "xmp-gps-attr", b' '),
            ],
        );
    }

    #[test]
    fn jpeg_unparseable_xmp_is_blanked_whole() {
        let packet = "<x:xmpmeta><exif:GPSLatitude>53N</x:xmpmeta>";
        let d = jpeg(&[xmp_app1(packet)]);
        let s = find(&d, b"<x:xmpmeta>");
        check(
            &d,
            "jpeg",
            vec![fill(s, s + packet.len(), "xmp-packet", b' ')],
        );
    }

    #[test]
    fn jpeg_unparseable_exif_is_blanked_whole() {
        let d = jpeg(&[segment(0xE1, b"Exif\0\0XX garbage")]);
        check(&d, "jpeg", vec![fill(6, 6 + 16, "exif-unparsed", 0)]);
    }

    #[test]
    fn jpeg_extended_xmp_reassembled_across_chunks_in_any_order() {
        let ext = "<x:xmpmeta><rdf:Description><exif:GPSAltitude>123</exif:GPSAltitude></rdf:Description></x:xmpmeta>";
        let split = ext.find("Altitude>123").unwrap(); // GPS element straddles the chunk boundary
        let (a, b) = ext.split_at(split);
        let chunk = |off: usize, part: &str| {
            let mut p = b"http://ns.adobe.com/xmp/extension/\0".to_vec();
            p.extend_from_slice(b"0123456789ABCDEF0123456789ABCDEF");
            p.extend_from_slice(&(ext.len() as u32).to_be_bytes());
            p.extend_from_slice(&(off as u32).to_be_bytes());
            p.extend_from_slice(part.as_bytes());
            segment(0xE1, &p)
        };
        let d = jpeg(&[xmp_app1("<x:xmpmeta/>"), chunk(split, b), chunk(0, a)]);
        let second_start = find(&d, b"Altitude>123");
        let first_start = find(&d, b"<exif:GPS");
        check(
            &d,
            "jpeg",
            vec![
                fill(
                    second_start,
                    second_start + b.find("</rdf").unwrap(),
                    "xmp-gps-element",
                    b' ',
                ),
                fill(
                    first_start,
                    first_start + (a.len() - ext.find("<exif").unwrap()),
                    "xmp-gps-element",
                    b' ',
                ),
            ],
        );
    }

    #[test]
    fn jpeg_mpf_secondary_image_exif() {
        let (t, rel) = tiff(true);
        let secondary = jpeg(&[exif_app1(&t)]);
        // Primary: APP2 MPF whose MP entry 2 points at the secondary image after the EOI.
        let mpf_len = 4 + 8 + 2 + 12 + 4 + 32;
        let primary_len = 2 + (4 + mpf_len) + jpeg(&[]).len() - 2;
        let mpf_base = 2 + 4 + 4; // SOI, APP2 header, "MPF\0"
        let mut w = W::new(false);
        w.raw(b"MM").u16(42).u32(8);
        w.u16(1).entry(0xB002, 7, 32, 26).u32(0); // MP Index IFD @8..26, entries @26
        w.u32(0x2003_0000).u32(primary_len as u32).u32(0).u32(0);
        w.u32(0x0001_0000)
            .u32(secondary.len() as u32)
            .u32((primary_len - mpf_base) as u32)
            .u32(0);
        let mut app2 = b"MPF\0".to_vec();
        app2.extend_from_slice(&w.b);
        assert_eq!(app2.len(), mpf_len);
        let mut d = jpeg(&[segment(0xE2, &app2)]);
        assert_eq!(d.len(), primary_len);
        d.extend_from_slice(&secondary);
        check(&d, "jpeg", shifted(&rel, primary_len + 2 + 4 + 6));
    }

    #[test]
    fn jpeg_exif_thumbnail_with_its_own_gps() {
        let (t, rel) = tiff(true);
        let thumb = jpeg(&[exif_app1(&t)]);
        // Outer TIFF: IFD0 {JPEGInterchangeFormat, JPEGInterchangeFormatLength}, thumbnail after it.
        let mut w = W::new(true);
        w.header();
        w.u16(2)
            .entry(0x0201, 4, 1, 38)
            .entry(0x0202, 4, 1, thumb.len() as u32)
            .u32(0);
        w.raw(&thumb);
        let d = jpeg(&[exif_app1(&w.b)]);
        let outer_base = 2 + 4 + 6;
        check(&d, "jpeg", shifted(&rel, outer_base + 38 + 2 + 4 + 6));
    }

    // ---------------------------------------------------------------- PNG

    fn chunk(typ: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(typ);
        v.extend_from_slice(data);
        let mut c = typ.to_vec();
        c.extend_from_slice(data);
        v.extend_from_slice(&crc32(&c).to_be_bytes());
        v
    }

    /// The CRC range a redacted reader must get for the chunk at `at` given the redacted file.
    fn crc_range(redacted: &[u8], at: usize) -> LocationRange {
        let n = u32::from_be_bytes(redacted[at..at + 4].try_into().unwrap()) as usize;
        let c = crc32(&redacted[at + 4..at + 8 + n]);
        hexr(at + 8 + n, c.to_be_bytes().to_vec(), "png-crc")
    }

    fn redacted(d: &[u8], ranges: &[LocationRange]) -> Vec<u8> {
        let mut r = d.to_vec();
        apply_ranges(ranges, 0, &mut r);
        r
    }

    #[test]
    fn png_exif_xmp_and_crcs() {
        let (t, rel) = tiff(false);
        let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
        itxt.extend_from_slice(XMP_ELEMENTS.as_bytes());
        let mut exif = b"Exif\0\0".to_vec(); // some writers keep the JPEG prefix
        exif.extend_from_slice(&t);
        let mut d = b"\x89PNG\r\n\x1a\n".to_vec();
        d.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
        let exif_at = d.len();
        d.extend(chunk(b"eXIf", &exif));
        d.extend(chunk(b"tEXt", b"Comment\0GPS is fine here"));
        let itxt_at = d.len();
        d.extend(chunk(b"iTXt", &itxt));
        d.extend(chunk(b"IDAT", &[1, 2, 3]));
        d.extend(chunk(b"IEND", &[]));
        let mut want = shifted(&rel, exif_at + 8 + 6);
        let mut x = xmp_element_ranges(&d, itxt_at);
        let r = redacted(&d, &[want.clone(), x.clone()].concat());
        want.push(crc_range(&r, exif_at));
        x.push(crc_range(&r, itxt_at));
        want.extend(x);
        check(&d, "png", want);
    }

    /// ImageMagick-style legacy hex text: returns the text and the file-relative positions of
    /// every hex digit.
    fn legacy_text(payload: &[u8]) -> (Vec<u8>, Vec<usize>) {
        let mut t = format!("\nexif\n{:8}\n", payload.len()).into_bytes();
        let mut pos = Vec::new();
        for (i, b) in payload.iter().enumerate() {
            if i > 0 && i % 36 == 0 {
                t.push(b'\n');
            }
            for c in format!("{b:02x}").bytes() {
                pos.push(t.len());
                t.push(c);
            }
        }
        t.push(b'\n');
        (t, pos)
    }

    #[test]
    fn png_legacy_raw_profile_hex_and_compressed_copy() {
        let (t, rel) = tiff(true);
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&t);
        let (text, pos) = legacy_text(&payload);
        let mut data = b"Raw profile type exif\0".to_vec();
        let text_at = data.len();
        data.extend_from_slice(&text);
        let mut d = b"\x89PNG\r\n\x1a\n".to_vec();
        d.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
        let c_at = d.len();
        d.extend(chunk(b"tEXt", &data));
        let z_at = d.len();
        d.extend(chunk(
            b"zTXt",
            b"Raw profile type APP1\0\0x\x9c\x01\x02\x03",
        ));
        d.extend(chunk(b"IEND", &[]));
        // Each decoded range maps to runs of digit positions (newlines skipped), filled with '0'.
        let mut want = Vec::new();
        for (s, e, _kind) in rel {
            let digits = &pos[2 * (s + 6)..2 * (e + 6)];
            let mut run = digits[0];
            for w in digits.windows(2) {
                if w[1] != w[0] + 1 {
                    want.push(fill(
                        c_at + 8 + text_at + run,
                        c_at + 8 + text_at + w[0] + 1,
                        "png-legacy-hex",
                        b'0',
                    ));
                    run = w[1];
                }
            }
            let last = *digits.last().unwrap();
            want.push(fill(
                c_at + 8 + text_at + run,
                c_at + 8 + text_at + last + 1,
                "png-legacy-hex",
                b'0',
            ));
        }
        let z_text = z_at + 8 + 22 + 1;
        let zr = fill(z_text, z_text + 5, "png-compressed-metadata", 0);
        let r = redacted(&d, &[want.clone(), vec![zr.clone()]].concat());
        let mut all = want;
        all.push(crc_range(&r, c_at));
        all.push(zr);
        all.push(crc_range(&r, z_at));
        check(&d, "png", all);
    }

    // ---------------------------------------------------------------- WebP

    #[test]
    fn webp_exif_and_xmp_with_odd_padding() {
        let (t, rel) = tiff(true);
        let mut packet = XMP_ELEMENTS.to_string();
        if packet.len().is_multiple_of(2) {
            packet.push(' '); // odd length -> the chunk gets a pad byte
        }
        let mut body = b"WEBP".to_vec();
        body.extend_from_slice(b"VP8X\x0a\0\0\0\x0c\0\0\0\0\0\0\0\0\0");
        let xmp_at = 12 + body.len() - 4;
        body.extend_from_slice(b"XMP ");
        body.extend_from_slice(&(packet.len() as u32).to_le_bytes());
        body.extend_from_slice(packet.as_bytes());
        body.push(0);
        let exif_at = 8 + body.len();
        body.extend_from_slice(b"EXIF");
        body.extend_from_slice(&(t.len() as u32).to_le_bytes());
        body.extend_from_slice(&t);
        let mut d = b"RIFF".to_vec();
        d.extend_from_slice(&(body.len() as u32).to_le_bytes());
        d.extend_from_slice(&body);
        let mut want = xmp_element_ranges(&d, xmp_at);
        want.extend(shifted(&rel, exif_at + 8));
        check(&d, "webp", want);
    }

    // ---------------------------------------------------------------- ISO-BMFF

    fn bx(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(typ);
        v.extend_from_slice(payload);
        v
    }

    fn bx64(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = 1u32.to_be_bytes().to_vec();
        v.extend_from_slice(typ);
        v.extend_from_slice(&((payload.len() + 16) as u64).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn bx0(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = 0u32.to_be_bytes().to_vec();
        v.extend_from_slice(typ);
        v.extend_from_slice(payload);
        v
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    const XYZ: &[u8] = b"\x00\x12\x15\xc7+37.4217-122.0834/";

    #[test]
    fn mp4_location_boxes_64bit_size0_moov_at_end() {
        let loci =
            b"\0\0\0\0\x15\xc7Home\0\0\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00Earth\0\0";
        let d = cat(&[
            bx(b"ftyp", b"isom\0\0\x02\0isommp41"),
            bx64(b"mdat", &[0xAA; 40]), // 64-bit mdat before moov
            bx0(
                // size-0 moov: runs to the end of the file
                b"moov",
                &cat(&[
                    bx(b"mvhd", &[0; 20]),
                    bx(b"trak", &bx(b"udta", &bx64(b"loci", loci))),
                    bx(
                        b"udta",
                        &cat(&[bx(b"\xa9nam", b"name"), bx0(b"\xa9xyz", XYZ)]),
                    ),
                ]),
            ),
        ]);
        let loci_at = find(&d, b"loci") - 4;
        let xyz_at = find(&d, b"\xa9xyz") - 4;
        check(
            &d,
            "isobmff",
            vec![
                fill(loci_at + 4, loci_at + 8, "iso-location-box", 0),
                fill(
                    loci_at + 16,
                    loci_at + 16 + loci.len(),
                    "iso-location-box",
                    0,
                ),
                fill(xyz_at + 4, d.len(), "iso-location-box", 0),
            ],
        );
    }

    #[test]
    fn mp4_ilst_xyz_gps_boxes_and_xmp() {
        let xmp_uuid = b"\xbe\x7a\xcf\xcb\x97\xa9\x42\xe8\x9c\x71\x99\x94\x91\xe3\xaf\xac";
        let mut uuid_payload = xmp_uuid.to_vec();
        uuid_payload.extend_from_slice(XMP_ELEMENTS.as_bytes());
        let ilst = bx(
            b"ilst",
            &bx(
                b"\xa9xyz",
                &bx(b"data", b"\0\0\0\x01\0\0\0\0+48.8584+002.2945/"),
            ),
        );
        let meta = bx(b"meta", &cat(&[vec![0; 4], bx(b"hdlr", &[0; 24]), ilst]));
        let d = cat(&[
            bx(b"ftyp", b"mp42\0\0\0\0mp42isom"),
            bx(
                b"moov",
                &cat(&[
                    bx(
                        b"udta",
                        &cat(&[meta, bx(b"gps ", b"$GPRMC,1"), bx(b"gps0", b"x")]),
                    ),
                    bx(b"uuid", &uuid_payload),
                ]),
            ),
            bx(b"mdat", &[0; 8]),
        ]);
        let xyz = find(&d, b"\xa9xyz") - 4;
        let gps = find(&d, b"gps ") - 4;
        let gps0 = find(&d, b"gps0") - 4;
        let mut want = vec![
            fill(xyz + 4, xyz + 8 + 8 + 8 + 18, "iso-location-box", 0),
            fill(gps + 4, gps + 16, "iso-location-box", 0),
            fill(gps0 + 4, gps0 + 9, "iso-location-box", 0),
        ];
        want.extend(xmp_element_ranges(&d, find(&d, b"<?xpacket")));
        check(&d, "isobmff", want);
    }

    #[test]
    fn mov_mdta_location_keys_and_xmp_box() {
        let key = |name: &[u8]| {
            cat(&[
                ((name.len() + 8) as u32).to_be_bytes().to_vec(),
                b"mdta".to_vec(),
                name.to_vec(),
            ])
        };
        let keys = bx(
            b"keys",
            &cat(&[
                vec![0, 0, 0, 0, 0, 0, 0, 3],
                key(b"com.apple.quicktime.make"),
                key(b"com.apple.quicktime.location.ISO6709"),
                key(b"com.apple.quicktime.location.accuracy.horizontal"),
            ]),
        );
        // ilst items are typed by their 1-based key index
        let item = |idx: u32, v: &[u8]| {
            let inner = bx(b"data", &cat(&[vec![0, 0, 0, 1, 0, 0, 0, 0], v.to_vec()]));
            bx(&idx.to_be_bytes(), &inner)
        };
        let ilst = bx(
            b"ilst",
            &cat(&[
                item(1, b"Apple"),
                item(2, b"+35.6895+139.6917+040.000/"),
                item(3, b"14.5"),
            ]),
        );
        // QuickTime meta: no version/flags, hdlr first
        let meta = bx(
            b"meta",
            &cat(&[
                bx(b"hdlr", b"\0\0\0\0\0\0\0\0mdta\0\0\0\0\0\0\0\0\0\0\0\0\0"),
                keys,
                ilst,
            ]),
        );
        let packet = "<x:xmpmeta><rdf:Description exif:GPSLatitude='1'/></x:xmpmeta>";
        let d = cat(&[
            bx(b"ftyp", b"qt  \0\0\0\0qt  "),
            bx(b"wide", &[]),
            bx(b"mdat", &[0; 16]),
            bx(
                b"moov",
                &cat(&[meta, bx(b"udta", &bx(b"XMP_", packet.as_bytes()))]),
            ),
        ]);
        let i2 = find(&d, b"+35.6895") - 16 - 8;
        let i3 = find(&d, b"14.5") - 16 - 8;
        let a = find(&d, b"exif:GPSLatitude");
        check(
            &d,
            "isobmff",
            vec![
                fill(i2 + 4, i2 + 24 + 26, "iso-mdta-location", 0),
                fill(i3 + 4, i3 + 24 + 4, "iso-mdta-location", 0),
                fill(a, a + 20, "xmp-gps-attr", b' '),
            ],
        );
    }

    #[test]
    fn truncated_moov_is_still_walked() {
        let mut d = cat(&[
            bx(b"ftyp", b"isom\0\0\0\0isom"),
            bx(b"moov", &bx(b"udta", &bx(b"\xa9xyz", XYZ))),
        ]);
        let xyz = find(&d, b"\xa9xyz") - 4;
        // moov and udta claim more than the file holds
        let moov = find(&d, b"moov") - 4;
        d[moov + 3] = 0xFF;
        d[moov + 11] = 0xF0;
        check(
            &d,
            "isobmff",
            vec![fill(xyz + 4, d.len(), "iso-location-box", 0)],
        );
    }

    // ---------------------------------------------------------------- HEIF

    fn infe(id: u16, typ: &[u8; 4], extra: &[u8]) -> Vec<u8> {
        let mut p = vec![2, 0, 0, 0];
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(typ);
        p.push(0); // empty item name
        p.extend_from_slice(extra);
        bx(b"infe", &p)
    }

    #[test]
    fn heif_exif_item_two_extents_and_xmp_in_idat() {
        let (t, rel) = tiff(false);
        let mut payload = 6u32.to_be_bytes().to_vec();
        payload.extend_from_slice(b"Exif\0\0");
        payload.extend_from_slice(&t);
        let cut = 60; // inside the GPS IFD (logical 10+44 .. 10+98)
        let (p1, p2) = payload.split_at(cut);
        let iinf = bx(
            b"iinf",
            &cat(&[
                vec![0, 0, 0, 0, 0, 3],
                infe(1, b"hvc1", b""),
                infe(2, b"Exif", b""),
                infe(3, b"mime", b"application/rdf+xml\0"),
            ]),
        );
        let idat = bx(b"idat", XMP_ELEMENTS.as_bytes());
        // Placeholder iloc to learn the layout, then patch absolute offsets in.
        let build = |o1: u32, o2: u32| {
            let mut p = vec![1, 0, 0, 0, 0x44, 0x00, 0, 2];
            p.extend_from_slice(&[0, 2, 0, 0, 0, 0, 0, 2]); // item 2, method 0, dref 0, 2 extents
            p.extend_from_slice(&o1.to_be_bytes());
            p.extend_from_slice(&(p1.len() as u32).to_be_bytes());
            p.extend_from_slice(&o2.to_be_bytes());
            p.extend_from_slice(&(p2.len() as u32).to_be_bytes());
            p.extend_from_slice(&[0, 3, 0, 1, 0, 0, 0, 1]); // item 3, method 1 (idat), 1 extent
            p.extend_from_slice(&0u32.to_be_bytes());
            p.extend_from_slice(&(XMP_ELEMENTS.len() as u32).to_be_bytes());
            let meta = bx(
                b"meta",
                &cat(&[
                    vec![0; 4],
                    bx(b"hdlr", &[0; 24]),
                    bx(b"iloc", &p),
                    iinf.clone(),
                    idat.clone(),
                ]),
            );
            cat(&[
                bx(b"ftyp", b"heic\0\0\0\0mif1heic"),
                meta,
                bx(
                    b"mdat",
                    &cat(&[vec![0xEE; 7], p2.to_vec(), vec![0xEE; 5], p1.to_vec()]),
                ),
            ])
        };
        let d0 = build(0, 0);
        let mdat = find(&d0, b"mdat") + 4;
        let o2 = mdat + 7;
        let o1 = o2 + p2.len() + 5;
        let d = build(o1 as u32, o2 as u32);
        // logical ranges (TIFF base = 10) split at the extent boundary `cut`
        let mut want = Vec::new();
        for (s, e, k) in rel {
            let (s, e) = (s + 10, e + 10);
            if s < cut {
                want.push(fill(o1 + s, o1 + e.min(cut), k, 0));
            }
            if e > cut {
                want.push(fill(o2 + s.max(cut) - cut, o2 + e - cut, k, 0));
            }
        }
        want.extend(xmp_element_ranges(&d, find(&d, b"idat")));
        want.sort_by_key(|r| r.start);
        check(&d, "heif", want);
    }

    // ---------------------------------------------------------------- CR3

    #[test]
    fn cr3_cmt4_gps_ifd0() {
        let canon = b"\x85\xc0\xb6\x87\x82\x0f\x11\xe0\x81\x11\xf4\xce\x46\x2b\x6a\x48";
        let mut cmt1 = W::new(true);
        cmt1.header();
        cmt1.u16(1)
            .entry(0x010F, 2, 4, u32::from_le_bytes(*b"abc\0"))
            .u32(0);
        let mut cmt4 = W::new(true);
        cmt4.header();
        cmt4.u16(2)
            .entry_inline(0x0001, 2, 2, *b"N\0\0\0")
            .entry(0x0002, 5, 3, 42)
            .u32(0); // @8..38
        cmt4.raw(b"PAD!"); // @38..42
        cmt4.rationals(3); // @42..66
        let mut u = canon.to_vec();
        u.extend(bx(b"CMT1", &cmt1.b));
        u.extend(bx(b"CMT4", &cmt4.b));
        let d = cat(&[
            bx(b"ftyp", b"crx \0\0\0\x01crx isom"),
            bx(b"moov", &bx(b"uuid", &u)),
            bx(b"mdat", &[0; 4]),
        ]);
        let body = find(&d, b"CMT4") + 4;
        check(
            &d,
            "cr3",
            vec![
                fill(body + 8, body + 38, "exif-gps-ifd", 0),
                fill(body + 42, body + 66, "exif-gps-value", 0),
            ],
        );
    }

    // ---------------------------------------------------------------- other

    #[test]
    fn raf_embedded_jpeg() {
        let (t, rel) = tiff(false);
        let j = jpeg(&[exif_app1(&t)]);
        let mut d = b"FUJIFILMCCD-RAW 0201FF383501".to_vec();
        d.resize(84, b' ');
        d.extend_from_slice(&100u32.to_be_bytes());
        d.extend_from_slice(&(j.len() as u32).to_be_bytes());
        d.resize(100, 0);
        d.extend_from_slice(&j);
        check(&d, "raf", shifted(&rel, 100 + 12));
    }

    #[test]
    fn content_not_extension_decides() {
        let (t, rel) = tiff(true);
        let d = jpeg(&[exif_app1(&t)]);
        let dir = std::env::temp_dir().join(format!("redact_sniff_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("looks_like.mp4");
        std::fs::write(&p, &d).unwrap();
        let r = mediaprovider_policy::redact::scan_path(&p).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            r,
            ScanResult {
                format: "jpeg",
                ranges: shifted(&rel, 12)
            }
        );
    }
}
