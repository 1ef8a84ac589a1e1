//! Still-image containers: JPEG (SOF size, APP1 EXIF), PNG (IHDR, `eXIf`, ImageMagick's legacy
//! hex EXIF text), WebP (VP8/VP8L/VP8X size, `EXIF`). Headers only, every loop bounded.

use super::exif::{self, ExifValues};
use crate::redact::read::Src;

const MAX_SEGMENTS: u32 = 4096;
const MAX_CHUNKS: u32 = 1 << 16;
/// Decoded legacy hex EXIF kept in memory.
const MAX_LEGACY_EXIF: usize = 256 << 10;

/// Image size and EXIF values of one file.
#[derive(Default)]
pub(crate) struct Still {
    pub size: Option<(i64, i64)>,
    pub exif: Option<ExifValues>,
}

pub(crate) fn jpeg(src: &mut Src) -> Still {
    let mut out = Still::default();
    let end = src.len();
    let mut pos = 2u64;
    for _ in 0..MAX_SEGMENTS {
        if !src.spend(1) {
            break;
        }
        // Fill bytes (0xFF runs) may precede a marker.
        let Some(m) = src.arr::<2>(pos) else { break };
        if m[0] != 0xFF {
            break;
        }
        if m[1] == 0xFF {
            pos += 1;
            continue;
        }
        let marker = m[1];
        if marker == 0xD9 || marker == 0xDA {
            break; // EOI, or SOS: entropy-coded data follows, no more headers that matter.
        }
        if (0xD0..=0xD8).contains(&marker) || marker == 0x01 {
            pos += 2;
            continue;
        }
        let Some(len) = src.be16(pos + 2) else { break };
        let (ds, de) = (pos + 4, (pos + 2 + u64::from(len)).min(end));
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof && out.size.is_none() {
            if let (Some(h), Some(w)) = (src.be16(ds + 1), src.be16(ds + 3)) {
                out.size = Some((i64::from(w), i64::from(h)));
            }
        } else if marker == 0xE1 && out.exif.is_none() && src.starts_with(ds, b"Exif\0\0") {
            out.exif = exif::read_block(src, ds, de);
        }
        pos += 2 + u64::from(len);
    }
    if out.size.is_none() {
        out.size = out.exif.as_ref().and_then(|e| e.pixel_size);
    }
    out
}

pub(crate) fn png(src: &mut Src) -> Still {
    let mut out = Still::default();
    if src.starts_with(12, b"IHDR") {
        if let (Some(w), Some(h)) = (src.be32(16), src.be32(20)) {
            out.size = Some((i64::from(w), i64::from(h)));
        }
    }
    let end = src.len();
    let mut i = 8u64;
    for _ in 0..MAX_CHUNKS {
        if !src.spend(1) {
            break;
        }
        let (Some(n), Some(typ)) = (src.be32(i), src.arr::<4>(i + 4)) else {
            break;
        };
        let (ds, de) = (i + 8, (i + 8 + u64::from(n)).min(end));
        match &typ {
            b"eXIf" if out.exif.is_none() => out.exif = exif::read_block(src, ds, de),
            b"tEXt" if out.exif.is_none() => out.exif = legacy_exif(src, ds, de),
            b"IEND" => break,
            _ => {}
        }
        i = ds + u64::from(n) + 4;
    }
    out
}

/// `tEXt` "Raw profile type exif" (or APP1): `\nexif\n   <len>\n<hex lines>`, decoded.
fn legacy_exif(src: &mut Src, ds: u64, de: u64) -> Option<ExifValues> {
    let (key, text_at) = src.cstr(ds, de, 80)?;
    if !key.eq_ignore_ascii_case(b"Raw profile type exif")
        && !key.eq_ignore_ascii_case(b"Raw profile type APP1")
    {
        return None;
    }
    let text = src.vec(
        text_at,
        de.saturating_sub(text_at),
        MAX_LEGACY_EXIF * 2 + 64,
    )?;
    let mut lines = text.split(|&c| c == b'\n').filter(|l| !l.is_empty());
    let _name = lines.next()?;
    let len: usize = std::str::from_utf8(lines.next()?)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let len = len.min(MAX_LEGACY_EXIF);
    let mut bytes = Vec::with_capacity(len);
    let mut hi = None;
    for c in lines.flatten() {
        let Some(v) = (*c as char).to_digit(16) else {
            continue;
        };
        match hi.take() {
            None => hi = Some(v as u8),
            Some(h) => bytes.push(h << 4 | v as u8),
        }
        if bytes.len() >= len {
            break;
        }
    }
    let mut inner = Src::new(&bytes);
    let total = inner.len();
    exif::read_block(&mut inner, 0, total)
}

pub(crate) fn webp(src: &mut Src) -> Still {
    let mut out = Still::default();
    let end = src.len();
    let mut i = 12u64;
    for _ in 0..MAX_CHUNKS {
        if !src.spend(1) {
            break;
        }
        let (Some(typ), Some(n)) = (src.arr::<4>(i), src.u32(i + 4, true)) else {
            break;
        };
        let (ds, n) = (i + 8, u64::from(n));
        let de = (ds + n).min(end);
        match &typ {
            b"VP8X" => {
                let (Some(w), Some(h)) = (src.arr::<3>(ds + 4), src.arr::<3>(ds + 7)) else {
                    break;
                };
                out.size = Some((u24(w) + 1, u24(h) + 1));
            }
            // Lossy key frame: start code, then 14-bit width and height.
            b"VP8 " if out.size.is_none() && src.starts_with(ds + 3, &[0x9D, 0x01, 0x2A]) => {
                if let (Some(w), Some(h)) = (src.u16(ds + 6, true), src.u16(ds + 8, true)) {
                    out.size = Some((i64::from(w & 0x3FFF), i64::from(h & 0x3FFF)));
                }
            }
            // Lossless: signature 0x2F, then (width-1, height-1) as 14-bit fields.
            b"VP8L" if out.size.is_none() && src.u8(ds) == Some(0x2F) => {
                if let Some(b) = src.u32(ds + 1, true) {
                    let w = i64::from(b & 0x3FFF) + 1;
                    let h = i64::from((b >> 14) & 0x3FFF) + 1;
                    out.size = Some((w, h));
                }
            }
            b"EXIF" if out.exif.is_none() => out.exif = exif::read_block(src, ds, de),
            _ => {}
        }
        i = ds + n + (n & 1);
        if i >= end {
            break;
        }
    }
    out
}

fn u24(b: [u8; 3]) -> i64 {
    i64::from(b[0]) | i64::from(b[1]) << 8 | i64::from(b[2]) << 16
}

/// TIFF-based files (TIFF, DNG): the full-resolution IFD's size.
pub(crate) fn tiff(src: &mut Src) -> Still {
    let end = src.len();
    let exif = exif::read_tiff(src, 0, end);
    Still {
        size: exif.as_ref().and_then(|e| e.tiff_size.or(e.pixel_size)),
        exif,
    }
}
