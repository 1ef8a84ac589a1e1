//! The EXIF values a query returns, read from one TIFF structure (JPEG APP1, TIFF/DNG, PNG
//! `eXIf`, WebP `EXIF`, HEIF Exif item, CR3 `CMT*`): DateTimeOriginal + OffsetTimeOriginal,
//! Orientation, GPS position, and image size for TIFF-based files. Bounded like the scanner:
//! a fixed number of IFDs and entries, and values read only when short.

use super::MediaMeta;
use crate::redact::read::Src;

const TAG_WIDTH: u16 = 0x0100;
const TAG_HEIGHT: u16 = 0x0101;
const TAG_ORIENTATION: u16 = 0x0112;
const TAG_SUBFILE_TYPE: u16 = 0x00FE;
const TAG_SUB_IFDS: u16 = 0x014A;
const TAG_EXIF_IFD: u16 = 0x8769;
const TAG_GPS_IFD: u16 = 0x8825;
const TAG_DATE_ORIGINAL: u16 = 0x9003;
const TAG_OFFSET_ORIGINAL: u16 = 0x9011;
const TAG_PIXEL_X: u16 = 0xA002;
const TAG_PIXEL_Y: u16 = 0xA003;
const GPS_LAT_REF: u16 = 1;
const GPS_LAT: u16 = 2;
const GPS_LON_REF: u16 = 3;
const GPS_LON: u16 = 4;

const MAX_IFDS: usize = 16;
const MAX_ENTRIES: u16 = 1024;
const MAX_SUB_IFDS: u32 = 8;

/// What one TIFF structure says. `*_tiff` sizes come from IFD0/SubIFDs (TIFF, DNG); `pixel_*`
/// from the Exif IFD (a fallback for containers without their own size field).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ExifValues {
    pub date_original: Option<String>,
    pub offset_original: Option<String>,
    pub orientation: Option<u16>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Full-resolution image size (the IFD with NewSubfileType 0, largest first).
    pub tiff_size: Option<(i64, i64)>,
    pub pixel_size: Option<(i64, i64)>,
}

impl ExifValues {
    /// Folds these values into `m` where `m` has none yet.
    pub(crate) fn apply(&self, m: &mut MediaMeta) {
        if m.date_taken_ms.is_none() {
            m.date_taken_ms = self
                .date_original
                .as_deref()
                .and_then(|d| super::time::exif_datetime_ms(d, self.offset_original.as_deref()));
        }
        if m.orientation.is_none() {
            m.orientation = self.orientation.and_then(orientation_degrees);
        }
        if m.latitude.is_none() && m.longitude.is_none() {
            if let (Some(la), Some(lo)) = (self.latitude, self.longitude) {
                m.latitude = Some(la);
                m.longitude = Some(lo);
            }
        }
    }
}

/// EXIF Orientation → clockwise degrees (mirrored variants count as their rotation).
fn orientation_degrees(o: u16) -> Option<i64> {
    match o {
        1 | 2 => Some(0),
        3 | 4 => Some(180),
        5 | 6 => Some(90),
        7 | 8 => Some(270),
        _ => None,
    }
}

struct Entry {
    tag: u16,
    typ: u16,
    count: u32,
    /// Absolute offset of the value (inline or out of line).
    at: u64,
}

struct Tiff {
    base: u64,
    end: u64,
    le: bool,
}

impl Tiff {
    fn entries(&self, src: &mut Src, ifd: u64) -> Vec<Entry> {
        let mut v = Vec::new();
        let at = self.base.saturating_add(ifd);
        let Some(n) = src.u16(at, self.le) else {
            return v;
        };
        for i in 0..u64::from(n.min(MAX_ENTRIES)) {
            let e = at + 2 + i * 12;
            if e + 12 > self.end || !src.spend(1) {
                break;
            }
            let (Some(tag), Some(typ), Some(count)) = (
                src.u16(e, self.le),
                src.u16(e + 2, self.le),
                src.u32(e + 4, self.le),
            ) else {
                break;
            };
            let size = u64::from(type_size(typ)).saturating_mul(u64::from(count));
            let at = if size <= 4 {
                e + 8
            } else {
                match src.u32(e + 8, self.le) {
                    Some(o) => self.base.saturating_add(u64::from(o)),
                    None => break,
                }
            };
            v.push(Entry {
                tag,
                typ,
                count,
                at,
            });
        }
        v
    }

    fn next_ifd(&self, src: &mut Src, ifd: u64) -> Option<u64> {
        let at = self.base.saturating_add(ifd);
        let n = u64::from(src.u16(at, self.le)?);
        let next = src.u32(at + 2 + n * 12, self.le)?;
        (next != 0).then_some(u64::from(next))
    }

    fn uint(&self, src: &mut Src, e: &Entry, i: u32) -> Option<u64> {
        if i >= e.count {
            return None;
        }
        let at = e.at + u64::from(i) * u64::from(type_size(e.typ));
        match e.typ {
            1 | 7 => src.u8(at).map(u64::from),
            3 => src.u16(at, self.le).map(u64::from),
            4 | 13 => src.u32(at, self.le).map(u64::from),
            _ => None,
        }
    }

    fn rational(&self, src: &mut Src, e: &Entry, i: u32) -> Option<f64> {
        if !matches!(e.typ, 5 | 10) || i >= e.count {
            return None;
        }
        let at = e.at + u64::from(i) * 8;
        let (n, d) = (src.u32(at, self.le)?, src.u32(at + 4, self.le)?);
        // Some writers use SRATIONAL for GPS coordinates.
        let (n, d) = if e.typ == 10 {
            (f64::from(n as i32), f64::from(d as i32))
        } else {
            (f64::from(n), f64::from(d))
        };
        (d != 0.0).then(|| n / d)
    }

    fn ascii(&self, src: &mut Src, e: &Entry) -> Option<String> {
        if e.typ != 2 || e.count > 64 {
            return None;
        }
        let b = src.vec(e.at, u64::from(e.count), 64)?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        let s = String::from_utf8_lossy(&b[..end]).trim().to_string();
        (!s.is_empty()).then_some(s)
    }

    /// Degrees from a GPS (deg, min, sec) rational triple and its N/S/E/W reference.
    fn coordinate(&self, src: &mut Src, v: &Entry, r: Option<&Entry>, neg: u8) -> Option<f64> {
        let d = self.rational(src, v, 0)?;
        let m = self.rational(src, v, 1).unwrap_or(0.0);
        let s = self.rational(src, v, 2).unwrap_or(0.0);
        let deg = d + m / 60.0 + s / 3600.0;
        let sign = match r.and_then(|r| src.u8(r.at)) {
            Some(c) if c.eq_ignore_ascii_case(&neg) => -1.0,
            _ => 1.0,
        };
        deg.is_finite().then_some(sign * deg)
    }
}

fn type_size(t: u16) -> u32 {
    match t {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => 0,
    }
}

/// Parses the TIFF structure at `base` (byte-order mark first) ending at `end`.
pub(crate) fn read_tiff(src: &mut Src, base: u64, end: u64) -> Option<ExifValues> {
    let le = match &src.arr::<4>(base)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let t = Tiff { base, end, le };
    let first = u64::from(src.u32(base + 4, le)?);
    let mut out = ExifValues::default();
    // (ifd offset, kind): 0 = image IFD, 1 = Exif IFD, 2 = GPS IFD.
    let mut todo = vec![(first, 0u8)];
    let mut seen = Vec::new();
    let mut image_ifds = 0;
    while let Some((ifd, kind)) = todo.pop() {
        if seen.len() >= MAX_IFDS || seen.contains(&ifd) || !src.spend(1) {
            continue;
        }
        seen.push(ifd);
        let entries = t.entries(src, ifd);
        let find = |tag: u16| entries.iter().find(|e| e.tag == tag);
        match kind {
            0 => {
                if image_ifds == 0 {
                    out.orientation = find(TAG_ORIENTATION)
                        .and_then(|e| t.uint(src, e, 0))
                        .map(|v| v as u16);
                    if let Some(n) = t.next_ifd(src, ifd) {
                        todo.push((n, 0));
                    }
                }
                image_ifds += 1;
                let full = find(TAG_SUBFILE_TYPE)
                    .and_then(|e| t.uint(src, e, 0))
                    .unwrap_or(0)
                    == 0;
                let w = find(TAG_WIDTH).and_then(|e| t.uint(src, e, 0));
                let h = find(TAG_HEIGHT).and_then(|e| t.uint(src, e, 0));
                if let (true, Some(w), Some(h)) = (full, w, h) {
                    let bigger = out
                        .tiff_size
                        .is_none_or(|(ow, oh)| (w * h) as i64 > ow * oh);
                    if bigger {
                        out.tiff_size = Some((w as i64, h as i64));
                    }
                }
                if let Some(e) = find(TAG_EXIF_IFD) {
                    if let Some(o) = t.uint(src, e, 0) {
                        todo.push((o, 1));
                    }
                }
                if let Some(e) = find(TAG_GPS_IFD) {
                    if let Some(o) = t.uint(src, e, 0) {
                        todo.push((o, 2));
                    }
                }
                if let Some(e) = find(TAG_SUB_IFDS) {
                    for i in 0..e.count.min(MAX_SUB_IFDS) {
                        if let Some(o) = t.uint(src, e, i) {
                            todo.push((o, 0));
                        }
                    }
                }
            }
            1 => {
                out.date_original = find(TAG_DATE_ORIGINAL).and_then(|e| t.ascii(src, e));
                out.offset_original = find(TAG_OFFSET_ORIGINAL).and_then(|e| t.ascii(src, e));
                let w = find(TAG_PIXEL_X).and_then(|e| t.uint(src, e, 0));
                let h = find(TAG_PIXEL_Y).and_then(|e| t.uint(src, e, 0));
                if let (Some(w), Some(h)) = (w, h) {
                    out.pixel_size = Some((w as i64, h as i64));
                }
            }
            _ => gps(src, &t, &entries, &mut out),
        }
    }
    Some(out)
}

/// A GPS IFD (also CR3's `CMT4`, whose IFD0 is the GPS IFD).
fn gps(src: &mut Src, t: &Tiff, entries: &[Entry], out: &mut ExifValues) {
    let find = |tag: u16| entries.iter().find(|e| e.tag == tag);
    let lat = find(GPS_LAT).and_then(|e| t.coordinate(src, e, find(GPS_LAT_REF), b'S'));
    let lon = find(GPS_LON).and_then(|e| t.coordinate(src, e, find(GPS_LON_REF), b'W'));
    // Out-of-range values are corrupt data, not a position.
    if let (Some(la), Some(lo)) = (lat, lon) {
        if (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&lo) {
            out.latitude = Some(la);
            out.longitude = Some(lo);
        }
    }
}

/// A TIFF structure whose IFD0 is a GPS IFD (CR3 `CMT4`).
pub(crate) fn read_gps_tiff(src: &mut Src, base: u64, end: u64) -> Option<ExifValues> {
    let le = match &src.arr::<4>(base)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let t = Tiff { base, end, le };
    let first = u64::from(src.u32(base + 4, le)?);
    let entries = t.entries(src, first);
    let mut out = ExifValues::default();
    gps(src, &t, &entries, &mut out);
    Some(out)
}

/// An EXIF block that may start with `Exif\0\0` (JPEG APP1, WebP, PNG) before the TIFF header.
pub(crate) fn read_block(src: &mut Src, start: u64, end: u64) -> Option<ExifValues> {
    let base = if src.starts_with(start, b"Exif\0\0") {
        start + 6
    } else {
        start
    };
    read_tiff(src, base, end)
}
