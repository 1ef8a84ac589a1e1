//! ISO-BMFF / QuickTime (mp4, mov, 3gp, m4a, HEIF/AVIF, CR3): `mvhd` creation time and
//! duration, `tkhd` size, `mdhd` duration, location (`©xyz`, `loci`, `mdta`
//! `com.apple.quicktime.location.ISO6709`), HEIF primary-item `ispe` and Exif item, CR3 `CMT*`.

use super::exif::{self, ExifValues};
use super::time;
use crate::redact::bmff::{next_box, BoxHdr};
use crate::redact::cr3::CANON_UUID;
use crate::redact::heif;
use crate::redact::read::{Concat, Src};

const MAX_BOXES: u32 = 1 << 14;
const MAX_DEPTH: u32 = 6;
const MAX_PROPS: usize = 1024;

#[derive(Default)]
pub(crate) struct Movie {
    /// Still-image brand (HEIF, AVIF, CR3): no duration, EXIF before `mvhd`.
    pub still: bool,
    pub created_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub track_size: Option<(i64, i64)>,
    pub ispe_size: Option<(i64, i64)>,
    pub location: Option<(f64, f64)>,
    pub exif: Option<ExifValues>,
}

pub(crate) fn parse(src: &mut Src) -> Movie {
    let mut p = Parser {
        m: Movie::default(),
        boxes: 0,
        mdhd_ms: None,
    };
    let end = src.len();
    p.walk(src, 0, end, 0);
    if p.m.duration_ms.is_none() {
        p.m.duration_ms = p.mdhd_ms;
    }
    if p.m.still {
        p.m.duration_ms = None;
    }
    p.m
}

struct Parser {
    m: Movie,
    boxes: u32,
    mdhd_ms: Option<i64>,
}

impl Parser {
    fn walk(&mut self, src: &mut Src, start: u64, end: u64, depth: u32) {
        let mut off = start;
        while let Some(b) = next_box(src, off, end) {
            self.boxes += 1;
            if self.boxes > MAX_BOXES {
                return;
            }
            self.visit(src, &b, depth);
            if b.truncated || b.end <= off {
                break;
            }
            off = b.end;
        }
    }

    fn visit(&mut self, src: &mut Src, b: &BoxHdr, depth: u32) {
        let body = b.body();
        match &b.typ {
            b"ftyp" => self.m.still = still_brand(src, b),
            b"moov" | b"trak" | b"mdia" | b"udta" if depth < MAX_DEPTH => {
                self.walk(src, body, b.end, depth + 1)
            }
            b"mvhd" => self.mvhd(src, body),
            b"tkhd" if self.m.track_size.is_none() => self.tkhd(src, body),
            b"mdhd" if self.mdhd_ms.is_none() => self.mdhd_ms = header_duration(src, body),
            b"\xa9xyz" if self.m.location.is_none() => {
                let len = src.be16(body).map(u64::from).unwrap_or(0);
                self.m.location = src.vec(body + 4, len.min(64), 64).and_then(|s| iso6709(&s));
            }
            b"loci" if self.m.location.is_none() => self.m.location = loci(src, b),
            b"meta" if depth < MAX_DEPTH => self.meta(src, b, depth),
            b"uuid" if src.arr::<16>(body) == Some(CANON_UUID) => self.canon(src, body + 16, b.end),
            _ => {}
        }
    }

    fn mvhd(&mut self, src: &mut Src, body: u64) {
        let v1 = src.u8(body) == Some(1);
        let created = if v1 {
            src.be64(body + 4)
        } else {
            src.be32(body + 4).map(u64::from)
        };
        self.m.created_ms = created.and_then(time::bmff_time_ms);
        self.m.duration_ms = header_duration(src, body);
    }

    fn tkhd(&mut self, src: &mut Src, body: u64) {
        let at = if src.u8(body) == Some(1) {
            body + 4 + 84
        } else {
            body + 4 + 72
        };
        if let (Some(w), Some(h)) = (src.be32(at), src.be32(at + 4)) {
            let (w, h) = (i64::from(w >> 16), i64::from(h >> 16));
            if w > 0 && h > 0 {
                self.m.track_size = Some((w, h));
            }
        }
    }

    /// ISO `meta` (FullBox, HEIF items) or QuickTime `meta` (keys + ilst).
    fn meta(&mut self, src: &mut Src, b: &BoxHdr, depth: u32) {
        let qt = src
            .arr::<4>(b.body() + 4)
            .is_some_and(|t| matches!(&t, b"hdlr" | b"keys" | b"ilst"));
        let cs = if qt { b.body() } else { b.body() + 4 };
        if depth == 0 && self.m.exif.is_none() {
            self.m.exif =
                heif::exif_item_parts(src, cs, b.end).and_then(|parts| heif_exif(src, &parts));
        }
        if depth == 0 && self.m.ispe_size.is_none() {
            self.m.ispe_size = primary_ispe(src, cs, b.end);
        }
        let (mut keys, mut ilst) = (None, None);
        let mut off = cs;
        for _ in 0..MAX_PROPS {
            let Some(c) = next_box(src, off, b.end) else {
                break;
            };
            match &c.typ {
                b"keys" => keys = Some((c.body(), c.end)),
                b"ilst" => ilst = Some((c.body(), c.end)),
                _ => {}
            }
            if c.truncated || c.end <= off {
                break;
            }
            off = c.end;
        }
        if let (Some(k), Some(i), None) = (keys, ilst, self.m.location) {
            self.m.location = mdta_location(src, k, i);
        }
        if let (Some(i), None) = (ilst, self.m.location) {
            self.m.location = ilst_item(src, i, *b"\xa9xyz").and_then(|s| iso6709(&s));
        }
    }

    fn canon(&mut self, src: &mut Src, start: u64, end: u64) {
        let mut off = start;
        let mut exif = self.m.exif.take().unwrap_or_default();
        for _ in 0..64 {
            let Some(c) = next_box(src, off, end) else {
                break;
            };
            let got = match &c.typ {
                b"CMT1" | b"CMT2" => exif::read_tiff(src, c.body(), c.end),
                b"CMT4" => exif::read_gps_tiff(src, c.body(), c.end),
                _ => None,
            };
            if let Some(g) = got {
                merge(&mut exif, g);
            }
            if c.truncated || c.end <= off {
                break;
            }
            off = c.end;
        }
        self.m.exif = Some(exif);
    }
}

fn merge(into: &mut ExifValues, g: ExifValues) {
    into.date_original = into.date_original.take().or(g.date_original);
    into.offset_original = into.offset_original.take().or(g.offset_original);
    into.orientation = into.orientation.or(g.orientation);
    if into.latitude.is_none() {
        into.latitude = g.latitude;
        into.longitude = g.longitude;
    }
    into.tiff_size = into.tiff_size.or(g.tiff_size);
    into.pixel_size = into.pixel_size.or(g.pixel_size);
}

/// `duration / timescale` of an `mvhd` or `mdhd` FullBox body, in ms.
fn header_duration(src: &mut Src, body: u64) -> Option<i64> {
    let v1 = src.u8(body) == Some(1);
    let (scale, dur) = if v1 {
        (src.be32(body + 4 + 16)?, src.be64(body + 4 + 20)?)
    } else {
        (src.be32(body + 4 + 8)?, u64::from(src.be32(body + 4 + 12)?))
    };
    if scale == 0 || dur == u64::MAX || (!v1 && dur == u64::from(u32::MAX)) {
        return None;
    }
    let ms = (dur as f64) * 1000.0 / f64::from(scale);
    (ms.is_finite() && ms < 1e15).then(|| ms.round() as i64)
}

/// HEIF/AVIF/CR3 brands describe still images.
fn still_brand(src: &mut Src, b: &BoxHdr) -> bool {
    let still = |t: &[u8; 4]| {
        matches!(
            t,
            b"heic" | b"heix" | b"heim" | b"heis" | b"mif1" | b"msf1" | b"avif" | b"avis" | b"crx "
        )
    };
    let Some(major) = src.arr::<4>(b.body()) else {
        return false;
    };
    // Video brands list mif1 among compatible brands only rarely; the major brand decides.
    still(&major)
}

/// An Exif item: a u32 offset to the TIFF header (after an optional `Exif\0\0`), then TIFF.
fn heif_exif(src: &mut Src, parts: &[(u64, u64)]) -> Option<ExifValues> {
    let view = Concat::new(src.reader(), parts);
    let mut s = Src::new(&view);
    let total = s.len();
    let skip = u64::from(s.be32(0)?);
    exif::read_block(&mut s, 4 + skip, total).or_else(|| exif::read_block(&mut s, 0, total))
}

/// The `ispe` (width, height) associated with the primary item (`pitm`) through `ipma`, else
/// the largest `ispe` in `ipco`.
fn primary_ispe(src: &mut Src, start: u64, end: u64) -> Option<(i64, i64)> {
    let (mut primary, mut iprp) = (None, None);
    let mut off = start;
    for _ in 0..MAX_PROPS {
        let Some(c) = next_box(src, off, end) else {
            break;
        };
        match &c.typ {
            b"pitm" => {
                primary = if src.u8(c.body()) == Some(0) {
                    src.be16(c.body() + 4).map(u32::from)
                } else {
                    src.be32(c.body() + 4)
                }
            }
            b"iprp" => iprp = Some((c.body(), c.end)),
            _ => {}
        }
        if c.truncated || c.end <= off {
            break;
        }
        off = c.end;
    }
    let (ps, pe) = iprp?;
    let (mut props, mut ipma) = (Vec::new(), None);
    let mut off = ps;
    for _ in 0..MAX_PROPS {
        let Some(c) = next_box(src, off, pe) else {
            break;
        };
        match &c.typ {
            b"ipco" => {
                let mut p = c.body();
                while props.len() < MAX_PROPS {
                    let Some(x) = next_box(src, p, c.end) else {
                        break;
                    };
                    let size = (&x.typ == b"ispe")
                        .then(|| Some((src.be32(x.body() + 4)?, src.be32(x.body() + 8)?)))
                        .flatten();
                    props.push(size);
                    if x.truncated || x.end <= p {
                        break;
                    }
                    p = x.end;
                }
            }
            b"ipma" => ipma = Some((c.body(), c.end)),
            _ => {}
        }
        if c.truncated || c.end <= off {
            break;
        }
        off = c.end;
    }
    let from_primary = primary
        .zip(ipma)
        .and_then(|(id, (s, e))| associated_ispe(src, s, e, id, &props));
    let largest = props
        .iter()
        .flatten()
        .max_by_key(|(w, h)| u64::from(*w) * u64::from(*h))
        .copied();
    from_primary
        .or(largest)
        .map(|(w, h)| (i64::from(w), i64::from(h)))
}

fn associated_ispe(
    src: &mut Src,
    body: u64,
    end: u64,
    item: u32,
    props: &[Option<(u32, u32)>],
) -> Option<(u32, u32)> {
    let v = src.u8(body)?;
    let flags = src.be32(body)? & 0xFF_FFFF;
    let count = src.be32(body + 4)?;
    let mut p = body + 8;
    for _ in 0..count.min(1 << 16) {
        if p >= end || !src.spend(1) {
            return None;
        }
        let id = if v < 1 {
            p += 2;
            u32::from(src.be16(p - 2)?)
        } else {
            p += 4;
            src.be32(p - 4)?
        };
        let n = src.u8(p)?;
        p += 1;
        for _ in 0..n {
            let idx = if flags & 1 == 1 {
                p += 2;
                u32::from(src.be16(p - 2)? & 0x7FFF)
            } else {
                p += 1;
                u32::from(src.u8(p - 1)? & 0x7F)
            };
            if id == item && idx > 0 {
                if let Some(Some(s)) = props.get(idx as usize - 1) {
                    return Some(*s);
                }
            }
        }
    }
    None
}

/// 3GPP `loci`: name (NUL-terminated, UTF-8 or UTF-16), role, then 16.16 longitude, latitude.
fn loci(src: &mut Src, b: &BoxHdr) -> Option<(f64, f64)> {
    let name_at = b.body() + 6;
    let after = if src.arr::<2>(name_at) == Some([0xFE, 0xFF]) {
        let mut p = name_at + 2;
        for _ in 0..256 {
            if src.be16(p)? == 0 {
                break;
            }
            p += 2;
        }
        p + 2
    } else {
        src.cstr(name_at, b.end, 256)?.1
    };
    let fixed = |v: u32| f64::from(v as i32) / 65536.0;
    let lon = fixed(src.be32(after + 1)?);
    let lat = fixed(src.be32(after + 5)?);
    valid(lat, lon)
}

/// The `data` payload of the `ilst` item of type `typ` (an index for `mdta` items).
fn ilst_item(src: &mut Src, ilst: (u64, u64), typ: [u8; 4]) -> Option<Vec<u8>> {
    let mut off = ilst.0;
    for _ in 0..1024 {
        let item = next_box(src, off, ilst.1)?;
        if item.typ == typ {
            let data = next_box(src, item.body(), item.end)?;
            if &data.typ != b"data" {
                return None;
            }
            return src.vec(
                data.body() + 8,
                data.end.saturating_sub(data.body() + 8),
                64,
            );
        }
        if item.truncated || item.end <= off {
            return None;
        }
        off = item.end;
    }
    None
}

/// QuickTime `keys` + `ilst`: the value of `com.apple.quicktime.location.ISO6709`.
fn mdta_location(src: &mut Src, keys: (u64, u64), ilst: (u64, u64)) -> Option<(f64, f64)> {
    const KEY: &[u8] = b"com.apple.quicktime.location.ISO6709";
    let count = src.be32(keys.0 + 4)?;
    let mut p = keys.0 + 8;
    let mut index = None;
    for i in 1..=count.min(1024) {
        let size = u64::from(src.be32(p)?);
        if size < 8 || p + size > keys.1 {
            return None;
        }
        if size - 8 == KEY.len() as u64 && src.starts_with(p + 8, KEY) {
            index = Some(i);
            break;
        }
        p += size;
    }
    let index = index?;
    ilst_item(src, ilst, index.to_be_bytes()).and_then(|s| iso6709(&s))
}

/// ISO 6709 `±DD.DDDD±DDD.DDDD[±AAA.A]/`.
pub(crate) fn iso6709(s: &[u8]) -> Option<(f64, f64)> {
    let s = std::str::from_utf8(s).ok()?.trim_end_matches('\0');
    let mut starts = s
        .char_indices()
        .filter(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i);
    let (a, b) = (starts.next()?, starts.next()?);
    let c = starts.next().or_else(|| s.find('/')).unwrap_or(s.len());
    let lat: f64 = s.get(a..b)?.parse().ok()?;
    let lon: f64 = s.get(b..c)?.parse().ok()?;
    valid(lat, lon)
}

fn valid(lat: f64, lon: f64) -> Option<(f64, f64)> {
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

#[cfg(test)]
mod tests {
    use super::iso6709;

    #[test]
    fn iso6709_forms() {
        assert_eq!(iso6709(b"+37.4217-122.0834/"), Some((37.4217, -122.0834)));
        assert_eq!(
            iso6709(b"+27.1281+100.2508+002.000/"),
            Some((27.1281, 100.2508))
        );
        assert_eq!(iso6709(b"+58+011/"), Some((58.0, 11.0)));
        assert_eq!(iso6709(b"garbage"), None);
        assert_eq!(iso6709(b"+91.0+000.0/"), None);
    }
}
