//! HEIF/HEIC/AVIF items (ISO 23008-12): the `Exif` item and XMP (`mime`
//! `application/rdf+xml`) items, located through `iinf` + `iloc` (+ `idat`) of the top-level
//! `meta`. Items with several extents are scanned as one logical stream.

use super::bmff::{next_box, BoxHdr};
use super::read::{Bound, Src};
use super::{exif, scan_parts, xmp, Out};

/// Children of `meta` examined.
const MAX_META_CHILDREN: u64 = 4096;
/// `infe` entries read, and Exif/XMP items kept.
const MAX_INFE: u64 = 1 << 16;
const MAX_WANTED: usize = 256;
/// `iloc` items and extents read in total, and extents kept per wanted item.
const MAX_ILOC_READS: u32 = 1 << 20;
const MAX_EXTENTS: usize = 64;

#[derive(Clone, Copy, PartialEq)]
enum Item {
    Exif,
    Xmp,
    /// XMP with a content encoding (e.g. deflate): cannot be redacted in place.
    EncodedXmp,
}

struct Loc {
    id: u32,
    method: u16,
    /// (offset, length) with base_offset applied; length 0 = to the end.
    extents: Vec<(u64, u64)>,
    overflow: bool,
}

pub(crate) fn scan_items(src: &mut Src, start: u64, end: u64, out: &mut Out) {
    let (mut iinf, mut iloc, mut idat) = (None, None, None);
    let mut off = start;
    let mut children = Bound::new(MAX_META_CHILDREN, "heif meta children");
    while src.within(&mut children) {
        let Some(b) = next_box(src, off, end) else {
            break;
        };
        off = b.end;
        let last = b.truncated;
        match &b.typ {
            b"iinf" => iinf = Some(b),
            b"iloc" => iloc = Some(b),
            b"idat" => idat = Some(b),
            _ => {}
        }
        if last {
            break;
        }
    }
    let (Some(iinf), Some(iloc)) = (iinf, iloc) else {
        return;
    };
    let wanted = item_infos(src, &iinf);
    if wanted.is_empty() {
        return;
    }
    for loc in locations(src, &iloc, &wanted) {
        let Some(&(_, item)) = wanted.iter().find(|(id, _)| *id == loc.id) else {
            continue;
        };
        let parts = match resolve(src, &loc, idat.as_ref()) {
            Some(p) => p,
            None => {
                log::debug!("redact: HEIF item {} has an unsupported location", loc.id);
                continue;
            }
        };
        if loc.overflow || item == Item::EncodedXmp {
            // Cannot read the whole item or redact it in place: blank what we can delimit.
            for (s, l) in parts {
                if item == Item::Exif {
                    out.fill(s, s + l, 0, exif::KIND_UNPARSED);
                } else {
                    xmp::blank(s, s + l, out);
                }
            }
            continue;
        }
        match item {
            Item::Exif => scan_parts(src, &parts, out, exif_item),
            _ => scan_parts(src, &parts, out, |s, total, o| xmp::scan(s, 0, total, o)),
        }
    }
}

/// File segments (offset, len) of the `Exif` item of a top-level `meta` whose children span
/// `[start, end)`: the metadata extractor reads the same item the scanner redacts.
pub(crate) fn exif_item_parts(src: &mut Src, start: u64, end: u64) -> Option<Vec<(u64, u64)>> {
    let (mut iinf, mut iloc, mut idat) = (None, None, None);
    let mut off = start;
    for _ in 0..MAX_META_CHILDREN {
        let b = next_box(src, off, end)?;
        off = b.end;
        let last = b.truncated;
        match &b.typ {
            b"iinf" => iinf = Some(b),
            b"iloc" => iloc = Some(b),
            b"idat" => idat = Some(b),
            _ => {}
        }
        if last || off >= end {
            break;
        }
    }
    let (iinf, iloc) = (iinf?, iloc?);
    let wanted: Vec<(u32, Item)> = item_infos(src, &iinf)
        .into_iter()
        .filter(|(_, i)| *i == Item::Exif)
        .collect();
    let loc = locations(src, &iloc, &wanted).into_iter().next()?;
    resolve(src, &loc, idat.as_ref())
}

/// Exif item payload: u32 offset to the TIFF header (usually 6, past `Exif\0\0`), then data.
fn exif_item(s: &mut Src, total: u64, o: &mut Out) {
    if let Some(h) = s.be32(0) {
        let mut base = 4 + u64::from(h);
        if s.starts_with(base, b"Exif\0\0") {
            base += 6;
        }
        if exif::scan_tiff(s, base, total, false, 1, o) {
            return;
        }
    }
    // Writers that omit the offset field start with `Exif\0\0` directly.
    exif::scan_block(s, 0, total, 1, o);
}

/// Item IDs of Exif and XMP items from `iinf` (only `infe` versions 2 and 3 have types).
fn item_infos(src: &mut Src, iinf: &BoxHdr) -> Vec<(u32, Item)> {
    let mut res = Vec::new();
    let Some(ver) = src.u8(iinf.body()) else {
        return res;
    };
    let mut off = iinf.body() + 4 + if ver == 0 { 2 } else { 4 };
    let mut entries = Bound::new(MAX_INFE, "heif infe entries");
    while src.within(&mut entries) {
        let Some(b) = next_box(src, off, iinf.end) else {
            break;
        };
        off = b.end;
        if &b.typ == b"infe" {
            if let Some(x) = infe(src, &b) {
                if res.len() >= MAX_WANTED {
                    src.bound_reached("heif exif/xmp items");
                    break;
                }
                res.push(x);
            }
        }
        if b.truncated {
            break;
        }
    }
    res
}

fn infe(src: &mut Src, b: &BoxHdr) -> Option<(u32, Item)> {
    let v = src.u8(b.body())?;
    let mut q = b.body() + 4;
    let id = match v {
        2 => {
            q += 2;
            u32::from(src.be16(q - 2)?)
        }
        3 => {
            q += 4;
            src.be32(q - 4)?
        }
        _ => return None,
    };
    q += 2; // protection index
    let typ = src.arr::<4>(q)?;
    q += 4;
    match &typ {
        b"Exif" => Some((id, Item::Exif)),
        b"mime" => {
            let (_, q) = src.cstr(q, b.end, 1024)?; // item name
            let (ctype, q) = src.cstr(q, b.end, 256)?;
            if !ctype.eq_ignore_ascii_case(b"application/rdf+xml") {
                return None;
            }
            let encoded = src.cstr(q, b.end, 256).is_some_and(|(e, _)| !e.is_empty());
            Some((id, if encoded { Item::EncodedXmp } else { Item::Xmp }))
        }
        _ => None,
    }
}

/// `iloc` entries of the wanted items.
fn locations(src: &mut Src, iloc: &BoxHdr, wanted: &[(u32, Item)]) -> Vec<Loc> {
    let mut res = Vec::new();
    let mut r = Reader {
        src,
        p: iloc.body(),
        end: iloc.end,
        reads: 0,
    };
    let Some(v) = r.n(1) else { return res };
    r.p += 3; // flags
    let (Some(a), Some(b)) = (r.n(1), r.n(1)) else {
        return res;
    };
    let (osz, lsz, bsz) = (a >> 4, a & 15, b >> 4);
    let isz = if v == 1 || v == 2 { b & 15 } else { 0 };
    if [osz, lsz, bsz, isz].iter().any(|s| ![0, 4, 8].contains(s)) || v > 2 {
        return res;
    }
    let Some(count) = r.n(if v < 2 { 2 } else { 4 }) else {
        return res;
    };
    for _ in 0..count {
        let Some(id) = r.n(if v < 2 { 2 } else { 4 }) else {
            break;
        };
        let method = if v == 1 || v == 2 {
            match r.n(2) {
                Some(m) => (m & 15) as u16,
                None => break,
            }
        } else {
            0
        };
        r.p += 2; // data_reference_index
        let (Some(base), Some(n_ext)) = (r.n(bsz), r.n(2)) else {
            break;
        };
        let keep = wanted.iter().any(|(w, _)| u64::from(*w) == id);
        let mut loc = Loc {
            id: id as u32,
            method,
            extents: Vec::new(),
            overflow: false,
        };
        for _ in 0..n_ext {
            r.p += isz;
            let (Some(eo), Some(el)) = (r.n(osz), r.n(lsz)) else {
                return res;
            };
            if keep {
                if loc.extents.len() < MAX_EXTENTS {
                    loc.extents.push((base.saturating_add(eo), el));
                } else {
                    loc.overflow = true;
                }
            }
        }
        if keep {
            res.push(loc);
        }
        if r.reads > MAX_ILOC_READS {
            r.src.bound_reached("heif iloc entries");
            break;
        }
    }
    res
}

/// Big-endian unsigned reader over an `iloc` body with a read budget.
struct Reader<'s, 'a> {
    src: &'s mut Src<'a>,
    p: u64,
    end: u64,
    reads: u32,
}

impl Reader<'_, '_> {
    fn n(&mut self, size: u64) -> Option<u64> {
        self.reads += 1;
        if !self.src.spend(1) {
            return None;
        }
        if self.reads > MAX_ILOC_READS || self.p + size > self.end {
            return None;
        }
        let v = match size {
            0 => 0,
            1 => u64::from(self.src.u8(self.p)?),
            2 => u64::from(self.src.be16(self.p)?),
            4 => u64::from(self.src.be32(self.p)?),
            8 => self.src.be64(self.p)?,
            _ => return None,
        };
        self.p += size;
        Some(v)
    }
}

/// File segments of an item; None for construction methods we cannot map (2 = item refs).
fn resolve(src: &Src, loc: &Loc, idat: Option<&BoxHdr>) -> Option<Vec<(u64, u64)>> {
    let (origin, limit) = match loc.method {
        0 => (0, src.len()),
        1 => {
            let d = idat?;
            (d.body(), d.end)
        }
        _ => return None,
    };
    let mut parts = Vec::with_capacity(loc.extents.len());
    for &(o, l) in &loc.extents {
        let s = origin.checked_add(o)?;
        if s >= limit {
            continue;
        }
        let e = if l == 0 {
            limit
        } else {
            s.saturating_add(l).min(limit)
        };
        parts.push((s, e - s));
    }
    (!parts.is_empty()).then_some(parts)
}
