//! TIFF/EXIF IFD walker shared by every container (JPEG APP1, TIFF/DNG files, PNG `eXIf`,
//! WebP `EXIF`, HEIF Exif items, CR3 `CMT*`).
//!
//! For each GPS IFD it blanks the whole IFD table (count, entries, next pointer), which removes
//! every GPS tag for any reader, plus the out-of-line value bytes of every entry, so no
//! coordinate survives as orphan data either. Inline values sit inside the table. The 0x8825
//! pointer itself is left alone: it then points at an empty IFD, which readers accept.

use super::read::Src;
use super::{jpeg, xmp, Out, MAX_DEPTH};

pub(crate) const KIND_GPS_IFD: &str = "exif-gps-ifd";
pub(crate) const KIND_GPS_VALUE: &str = "exif-gps-value";
pub(crate) const KIND_UNPARSED: &str = "exif-unparsed";

const TAG_GPS_IFD: u16 = 0x8825;
const TAG_EXIF_IFD: u16 = 0x8769;
const TAG_INTEROP_IFD: u16 = 0xA005;
const TAG_SUB_IFDS: u16 = 0x014A;
const TAG_XMP: u16 = 0x02BC;
const TAG_THUMB_OFFSET: u16 = 0x0201;
const TAG_THUMB_LENGTH: u16 = 0x0202;

/// IFDs visited per TIFF structure (IFD0 chain, Exif, Interop, SubIFDs, GPS).
const MAX_IFDS: usize = 64;
/// SubIFD pointers followed per 0x014A tag.
const MAX_SUB_IFDS: u64 = 32;
/// BigTIFF counts are u64; no real IFD is larger than a classic one.
const MAX_ENTRIES: u64 = 65535;

/// Element size of a TIFF field type; 0 for unknown types.
fn type_size(t: u16) -> u64 {
    match t {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => 0,
    }
}

/// Byte order and layout of one TIFF structure; all offsets inside are relative to `base`.
#[derive(Clone, Copy)]
struct Tiff {
    base: u64,
    end: u64,
    le: bool,
    /// BigTIFF: u64 counts/offsets, 20-byte entries, 8-byte value fields.
    big: bool,
}

struct Entry {
    tag: u16,
    typ: u16,
    count: u64,
    /// Absolute offset of the value field inside the entry.
    field: u64,
}

impl Tiff {
    fn count_size(&self) -> u64 {
        if self.big {
            8
        } else {
            2
        }
    }
    fn entry_size(&self) -> u64 {
        if self.big {
            20
        } else {
            12
        }
    }
    fn field_size(&self) -> u64 {
        if self.big {
            8
        } else {
            4
        }
    }

    fn word(&self, src: &mut Src, off: u64) -> Option<u64> {
        if self.big {
            src.u64(off, self.le)
        } else {
            src.u32(off, self.le).map(u64::from)
        }
    }

    /// Absolute offset for a value stored relative to the TIFF header.
    fn abs(&self, rel: u64) -> Option<u64> {
        self.base.checked_add(rel).filter(|&a| a < self.end)
    }

    fn entry_count(&self, src: &mut Src, ifd: u64) -> Option<u64> {
        if ifd.checked_add(self.count_size())? > self.end {
            return None;
        }
        let n = if self.big {
            src.u64(ifd, self.le)?
        } else {
            u64::from(src.u16(ifd, self.le)?)
        };
        if n > MAX_ENTRIES {
            src.bound_reached("tiff ifd entries");
        }
        Some(n.min(MAX_ENTRIES))
    }

    fn entry(&self, src: &mut Src, ifd: u64, i: u64) -> Option<Entry> {
        if !src.spend(1) {
            return None;
        }
        let at = ifd + self.count_size() + i * self.entry_size();
        if at + self.entry_size() > self.end {
            return None;
        }
        let tag = src.u16(at, self.le)?;
        let typ = src.u16(at + 2, self.le)?;
        let count = self.word(src, at + 4)?;
        Some(Entry {
            tag,
            typ,
            count,
            field: at + 4 + self.field_size(),
        })
    }

    /// `[start, end)` of an entry's value bytes, clipped to the structure.
    fn value_span(&self, src: &mut Src, e: &Entry) -> Option<(u64, u64)> {
        let size = type_size(e.typ).checked_mul(e.count)?;
        if size == 0 {
            return None;
        }
        let start = if size <= self.field_size() {
            e.field
        } else {
            self.abs(self.word(src, e.field)?)?
        };
        Some((start, start.saturating_add(size).min(self.end)))
    }

    /// Pointer-valued entry (IFD offsets): u32, or u64 for 8-byte types in BigTIFF.
    fn pointer(&self, src: &mut Src, e: &Entry) -> Option<u64> {
        let rel = if self.big && type_size(e.typ) == 8 {
            src.u64(e.field, self.le)?
        } else {
            u64::from(src.u32(e.field, self.le)?)
        };
        self.abs(rel)
    }
}

/// Parses the TIFF header at `base` (bounded by `end`); None if it is not one.
fn header(src: &mut Src, base: u64, end: u64) -> Option<(Tiff, u64)> {
    let le = match src.arr::<2>(base)? {
        [b'I', b'I'] => true,
        [b'M', b'M'] => false,
        _ => return None,
    };
    let mut t = Tiff {
        base,
        end: end.min(src.len()),
        le,
        big: false,
    };
    let magic = src.u16(base + 2, le)?;
    let ifd0 = if magic == 43 {
        t.big = true;
        if base + 16 > t.end {
            return None;
        }
        src.u64(base + 8, le)?
    } else {
        if base + 8 > t.end {
            return None;
        }
        u64::from(src.u32(base + 4, le)?)
    };
    let ifd0 = t.abs(ifd0)?;
    t.entry_count(src, ifd0)?;
    Some((t, ifd0))
}

/// Blanks one GPS IFD: the table and every out-of-line value.
fn gps_ifd(src: &mut Src, t: &Tiff, ifd: u64, out: &mut Out) {
    let Some(n) = t.entry_count(src, ifd) else {
        return;
    };
    let table_end = ifd + t.count_size() + n * t.entry_size() + t.field_size();
    out.fill(ifd, table_end.min(t.end), 0, KIND_GPS_IFD);
    for i in 0..n {
        let Some(e) = t.entry(src, ifd, i) else {
            break;
        };
        // Inline values fall inside the table range and merge with it.
        if let Some((s, end)) = t.value_span(src, &e) {
            out.fill(s, end, 0, KIND_GPS_VALUE);
        }
    }
}

/// Scans a TIFF structure at `[base, end)`. With `ifd0_is_gps` (Canon CR3 `CMT4`) IFD0 itself
/// is the GPS IFD. Returns false if no TIFF header/IFD0 could be read.
pub(crate) fn scan_tiff(
    src: &mut Src,
    base: u64,
    end: u64,
    ifd0_is_gps: bool,
    depth: u32,
    out: &mut Out,
) -> bool {
    let Some((t, ifd0)) = header(src, base, end) else {
        return false;
    };
    if ifd0_is_gps {
        gps_ifd(src, &t, ifd0, out);
        return true;
    }
    let mut todo = vec![ifd0];
    let mut seen: Vec<u64> = Vec::new();
    while let Some(ifd) = todo.pop() {
        if seen.len() >= MAX_IFDS {
            src.bound_reached("tiff ifds");
            break;
        }
        if seen.contains(&ifd) {
            continue;
        }
        seen.push(ifd);
        let Some(n) = t.entry_count(src, ifd) else {
            continue;
        };
        let mut thumb: (Option<u64>, Option<u64>) = (None, None);
        for i in 0..n {
            let Some(e) = t.entry(src, ifd, i) else {
                break;
            };
            match e.tag {
                TAG_GPS_IFD => {
                    if let Some(g) = t.pointer(src, &e) {
                        if !seen.contains(&g) {
                            seen.push(g);
                            gps_ifd(src, &t, g, out);
                        }
                    }
                }
                TAG_EXIF_IFD | TAG_INTEROP_IFD => {
                    if let Some(p) = t.pointer(src, &e) {
                        push_ifd(src, &mut todo, p);
                    }
                }
                TAG_SUB_IFDS => sub_ifds(src, &t, &e, &mut todo),
                TAG_XMP if depth >= MAX_DEPTH => src.bound_reached("tiff xmp nesting"),
                TAG_XMP => {
                    if let Some((s, end)) = t.value_span(src, &e) {
                        if end - s > t.field_size() {
                            xmp::scan(src, s, end, out);
                        }
                    }
                }
                TAG_THUMB_OFFSET => thumb.0 = t.pointer(src, &e),
                TAG_THUMB_LENGTH => thumb.1 = src.u32(e.field, t.le).map(u64::from),
                _ => {}
            }
        }
        // An EXIF thumbnail is a whole JPEG and may carry its own APP1 with GPS.
        if let (Some(s), Some(len)) = thumb {
            if depth < MAX_DEPTH {
                jpeg::scan_at(src, s, s.saturating_add(len).min(t.end), depth + 1, out);
            } else {
                src.bound_reached("tiff thumbnail nesting");
            }
        }
        let next_at = ifd + t.count_size() + n * t.entry_size();
        if next_at + t.field_size() <= t.end {
            if let Some(next) = t.word(src, next_at) {
                if next != 0 {
                    if let Some(p) = t.abs(next) {
                        push_ifd(src, &mut todo, p);
                    }
                }
            }
        }
    }
    true
}

/// Bounded work list: hostile IFDs full of pointer tags must not grow it without limit.
fn push_ifd(src: &mut Src, todo: &mut Vec<u64>, p: u64) {
    if todo.contains(&p) {
        return;
    }
    if todo.len() >= MAX_IFDS {
        src.bound_reached("tiff ifd work list");
        return;
    }
    todo.push(p);
}

fn sub_ifds(src: &mut Src, t: &Tiff, e: &Entry, todo: &mut Vec<u64>) {
    let w = if t.big && type_size(e.typ) == 8 { 8 } else { 4 };
    if e.count > MAX_SUB_IFDS {
        src.bound_reached("tiff sub-ifds");
    }
    let n = e.count.min(MAX_SUB_IFDS);
    let arr = if e.count * w <= t.field_size() {
        e.field
    } else {
        match t.word(src, e.field).and_then(|r| t.abs(r)) {
            Some(a) => a,
            None => return,
        }
    };
    for i in 0..n {
        let at = arr + i * w;
        if at + w > t.end {
            break;
        }
        let rel = if w == 8 {
            src.u64(at, t.le)
        } else {
            src.u32(at, t.le).map(u64::from)
        };
        if let Some(p) = rel.and_then(|r| t.abs(r)) {
            push_ifd(src, todo, p);
        }
    }
}

/// An EXIF payload as stored by JPEG/PNG/WebP/HEIF: an optional `Exif\0\0` prefix, then TIFF.
/// Fails closed: if no TIFF structure can be read, the whole payload is blanked.
pub(crate) fn scan_block(src: &mut Src, start: u64, end: u64, depth: u32, out: &mut Out) {
    let mut base = start;
    if src.starts_with(start, b"Exif\0\0") || src.starts_with(start, b"Exif\0\xff") {
        base += 6;
    }
    if !scan_tiff(src, base, end, false, depth, out) {
        log::debug!("redact: unparseable EXIF at {start}..{end}, blanked whole");
        out.fill(start, end.min(src.len()), 0, KIND_UNPARSED);
    }
}
