//! ISO-BMFF / QuickTime / 3GP / M4A box walker: `©xyz`, `loci`, `gps `, `gps0` boxes anywhere
//! in the walked tree, Apple `mdta` items keyed `com.apple.quicktime.location.*`, XMP in
//! `uuid`/`XMP_`, HEIF items of the top-level `meta`, and Canon CR3 `CMT*` boxes.
//!
//! Location boxes lose their type and payload but keep the size field (as Android does), so
//! the box tree still parses. For a 64-bit box the largesize field is kept too.

use super::read::{Bound, Src};
use super::{cr3, heif, xmp, Out};

pub(crate) const KIND_BOX: &str = "iso-location-box";
pub(crate) const KIND_MDTA: &str = "iso-mdta-location";

const XMP_UUID: [u8; 16] = *b"\xbe\x7a\xcf\xcb\x97\xa9\x42\xe8\x9c\x71\x99\x94\x91\xe3\xaf\xac";
/// Boxes visited per file (fragmented recordings have a few per fragment).
const MAX_BOXES: u32 = 1 << 20;
const MAX_NESTING: u32 = 16;
/// Entries read from an mdta `keys` box.
const MAX_KEYS: u32 = 1 << 16;
/// Children of a `meta` searched for its `keys` box.
const MAX_META_CHILDREN: u64 = 4096;
const LOCATION_KEY: &[u8] = b"com.apple.quicktime.location";

const LOCATION_BOXES: [&[u8; 4]; 4] = [b"\xa9xyz", b"loci", b"gps ", b"gps0"];
const CONTAINERS: [&[u8; 4]; 21] = [
    b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl", b"edts", b"udta", b"ipro", b"sinf",
    b"hnti", b"hinf", b"jp2h", b"ilst", b"moof", b"traf", b"mfra", b"tref", b"iprp", b"ipco",
    b"mvex",
];

const HEIF_BRANDS: [&[u8; 4]; 12] = [
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1",
    b"avif", b"avis",
];

/// Container name from the first bytes, or None if this is not ISO-BMFF/QuickTime.
pub(crate) fn sniff(head: &[u8]) -> Option<&'static str> {
    let t = head.get(4..8)?;
    if t == b"ftyp" {
        let brand = |b: &[u8]| {
            if b == b"crx " {
                Some("cr3")
            } else if HEIF_BRANDS.iter().any(|h| &h[..] == b) {
                Some("heif")
            } else {
                None
            }
        };
        let major = head.get(8..12)?;
        if let Some(f) = brand(major) {
            return Some(f);
        }
        let size = head
            .get(0..4)
            .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
        let compat_end = (size as usize).min(head.len());
        let compat = head.get(16..compat_end).unwrap_or(&[]);
        return Some(compat.chunks_exact(4).find_map(brand).unwrap_or("isobmff"));
    }
    const TOP: [&[u8; 4]; 8] = [
        b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid", b"meta",
    ];
    TOP.iter().any(|b| &b[..] == t).then_some("isobmff")
}

/// One box header. `end` is clipped to the parent; `truncated` says the declared size ran past.
pub(crate) struct BoxHdr {
    pub(crate) off: u64,
    pub(crate) typ: [u8; 4],
    /// Header length: 8, or 16 with a 64-bit largesize.
    pub(crate) hdr: u64,
    pub(crate) end: u64,
    pub(crate) truncated: bool,
}

impl BoxHdr {
    pub(crate) fn body(&self) -> u64 {
        self.off + self.hdr
    }
}

/// Parses the box at `off` inside a parent ending at `end`. Size 0 runs to the parent's end.
pub(crate) fn next_box(src: &mut Src, off: u64, end: u64) -> Option<BoxHdr> {
    if off.checked_add(8)? > end || !src.spend(1) {
        return None;
    }
    let size = src.be32(off)?;
    let typ = src.arr::<4>(off + 4)?;
    let (size, hdr) = match size {
        1 => {
            if off + 16 > end {
                return None;
            }
            (src.be64(off + 8)?, 16)
        }
        0 => (end - off, 8),
        s => (u64::from(s), 8),
    };
    if size < hdr {
        return None;
    }
    let declared = off.saturating_add(size);
    Some(BoxHdr {
        off,
        typ,
        hdr,
        end: declared.min(end),
        truncated: declared > end,
    })
}

/// Blanks a box's type and payload, keeping its size (and largesize) fields.
pub(crate) fn blank_box(b: &BoxHdr, kind: &'static str, out: &mut Out) {
    out.fill(b.off + 4, (b.off + 8).min(b.end), 0, kind);
    out.fill(b.body(), b.end, 0, kind);
}

pub(crate) fn scan(src: &mut Src, out: &mut Out) {
    let mut w = Walker { boxes: 0 };
    w.walk(src, 0, src.len(), None, 0, out);
}

struct Walker {
    boxes: u32,
}

impl Walker {
    /// Walks the boxes of `[start, end)`. `keys` holds the 1-based indices of location keys
    /// when the parent is the `ilst` of an `mdta` meta.
    fn walk(
        &mut self,
        src: &mut Src,
        start: u64,
        end: u64,
        keys: Option<&[u32]>,
        depth: u32,
        out: &mut Out,
    ) {
        let mut off = start;
        while let Some(b) = next_box(src, off, end) {
            self.boxes += 1;
            if self.boxes > MAX_BOXES {
                src.bound_reached("iso-bmff boxes");
                return;
            }
            self.visit(src, &b, keys, depth, out);
            if b.truncated {
                break;
            }
            off = b.end;
        }
    }

    fn visit(
        &mut self,
        src: &mut Src,
        b: &BoxHdr,
        keys: Option<&[u32]>,
        depth: u32,
        out: &mut Out,
    ) {
        let t = &b.typ;
        if LOCATION_BOXES.contains(&t) {
            blank_box(b, KIND_BOX, out);
            return;
        }
        if let Some(keys) = keys {
            // mdta ilst children are typed by their 1-based key index.
            if keys.binary_search(&u32::from_be_bytes(*t)).is_ok() {
                blank_box(b, KIND_MDTA, out);
            }
            return;
        }
        match t {
            b"uuid" => {
                let Some(u) = src.arr::<16>(b.body()) else {
                    return;
                };
                let body = b.body() + 16;
                if u == XMP_UUID {
                    xmp::scan(src, body, b.end, out);
                } else if u == cr3::CANON_UUID {
                    cr3::scan(src, body, b.end, out);
                }
            }
            b"XMP_" => xmp::scan(src, b.body(), b.end, out),
            b"meta" => {
                // ISO meta is a FullBox; QuickTime meta has no version/flags, so its first
                // child's type sits where an ISO meta has its first child's size.
                let qt = src
                    .arr::<4>(b.body() + 4)
                    .is_some_and(|t| matches!(&t, b"hdlr" | b"keys" | b"ilst"));
                let cs = if qt { b.body() } else { b.body() + 4 };
                if depth == 0 {
                    heif::scan_items(src, cs, b.end, out);
                }
                let keys = location_keys(src, cs, b.end);
                if depth < MAX_NESTING {
                    self.walk_meta(src, cs, b.end, &keys, depth + 1, out);
                } else {
                    src.bound_reached("iso-bmff nesting");
                }
            }
            _ if CONTAINERS.contains(&t) => {
                if depth < MAX_NESTING {
                    self.walk(src, b.body(), b.end, None, depth + 1, out);
                } else {
                    src.bound_reached("iso-bmff nesting");
                }
            }
            _ => {}
        }
    }

    /// Children of a `meta`: its `ilst` is keyed by `keys` if there are any.
    fn walk_meta(
        &mut self,
        src: &mut Src,
        start: u64,
        end: u64,
        keys: &[u32],
        depth: u32,
        out: &mut Out,
    ) {
        let mut off = start;
        while let Some(b) = next_box(src, off, end) {
            self.boxes += 1;
            if self.boxes > MAX_BOXES {
                src.bound_reached("iso-bmff boxes");
                return;
            }
            if &b.typ == b"ilst" && !keys.is_empty() {
                self.walk(src, b.body(), b.end, Some(keys), depth + 1, out);
            } else {
                self.visit(src, &b, None, depth, out);
            }
            if b.truncated {
                break;
            }
            off = b.end;
        }
    }
}

/// 1-based indices (ascending) of `keys` entries naming `com.apple.quicktime.location*`.
fn location_keys(src: &mut Src, start: u64, end: u64) -> Vec<u32> {
    let mut res = Vec::new();
    let mut off = start;
    let mut children = Bound::new(MAX_META_CHILDREN, "meta children before keys");
    while src.within(&mut children) {
        let Some(b) = next_box(src, off, end) else {
            break;
        };
        if &b.typ == b"keys" {
            let Some(n) = src.be32(b.body() + 4) else {
                break;
            };
            let mut p = b.body() + 8;
            if n > MAX_KEYS {
                src.bound_reached("mdta keys");
            }
            for idx in 1..=n.min(MAX_KEYS) {
                if !src.spend(1) {
                    break;
                }
                let Some(ks) = src.be32(p) else { break };
                let ks = u64::from(ks);
                if ks < 8 || p + ks > b.end {
                    break;
                }
                let name_len = (ks - 8).min(LOCATION_KEY.len() as u64);
                if name_len == LOCATION_KEY.len() as u64 && src.starts_with(p + 8, LOCATION_KEY) {
                    res.push(idx);
                }
                p += ks;
            }
            break;
        }
        if b.truncated {
            break;
        }
        off = b.end;
    }
    res
}
