//! PNG: `eXIf`, XMP in `iTXt`/`tEXt` (`XML:com.adobe.xmp`), ImageMagick's legacy hex
//! `Raw profile type exif|APP1|xmp` text chunks, and a recomputed CRC for every chunk whose
//! bytes change (decoders such as Pillow reject a chunk with a bad CRC).
//!
//! Compressed copies (`zTXt`, compressed `iTXt`) cannot be redacted in place; their compressed
//! text is zero-filled (fail closed; the chunk's CRC is still served valid).

use super::crc::Crc32;
use super::read::{Bound, Src};
use super::{apply_ranges, exif, normalize, xmp, LocationRange, Out, Replacement};

pub(crate) const KIND_CRC: &str = "png-crc";
pub(crate) const KIND_LEGACY_HEX: &str = "png-legacy-hex";
pub(crate) const KIND_COMPRESSED: &str = "png-compressed-metadata";

/// Chunks walked; IDAT streams of multi-GB images stay below this.
const MAX_CHUNKS: u64 = 1 << 20;
/// Legacy hex text read into memory (decodes to half of it).
const MAX_HEX_TEXT: u64 = 4 << 20;
/// Bytes searched for the NUL-terminated keyword/language fields.
const MAX_FIELD: u64 = 1024;

pub(crate) fn scan(src: &mut Src, out: &mut Out) {
    let mut i = 8u64;
    let mut chunks = Bound::new(MAX_CHUNKS, "png chunks");
    while src.within(&mut chunks) {
        if !src.spend(1) {
            break;
        }
        let (Some(n), Some(typ)) = (src.be32(i), src.arr::<4>(i + 4)) else {
            break;
        };
        if n > 0x7FFF_FFFF {
            break;
        }
        let ds = i + 8;
        let full_end = ds + u64::from(n);
        let de = full_end.min(src.len());
        let mut local = Out::default();
        match &typ {
            b"eXIf" => exif::scan_block(src, ds, de, 0, &mut local),
            b"tEXt" | b"zTXt" | b"iTXt" => text_chunk(src, &typ, ds, de, &mut local),
            _ => {}
        }
        if !local.v.is_empty() {
            let ranges = normalize(local.v);
            if full_end + 4 <= src.len() {
                if let Some(c) = chunk_crc(src, i + 4, full_end, &ranges) {
                    out.bytes(full_end, c.to_be_bytes().to_vec(), KIND_CRC);
                }
            }
            for r in ranges {
                out.push(r);
            }
        }
        if &typ == b"IEND" {
            break;
        }
        i = full_end + 4;
    }
}

/// CRC over type + data as a redacted reader sees them.
fn chunk_crc(src: &mut Src, from: u64, to: u64, ranges: &[LocationRange]) -> Option<u32> {
    let mut c = Crc32::default();
    let mut buf = [0u8; 4096];
    let mut off = from;
    while off < to {
        let n = (to - off).min(buf.len() as u64) as usize;
        if !src.read(off, &mut buf[..n]) {
            return None;
        }
        apply_ranges(ranges, off, &mut buf[..n]);
        c.update(&buf[..n]);
        off += n as u64;
    }
    Some(c.finish())
}

/// Offset just past the NUL that ends a field starting at `at`.
fn after_nul(src: &mut Src, at: u64, end: u64) -> Option<u64> {
    let n = end.saturating_sub(at).min(MAX_FIELD);
    let b = src.vec(at, n, MAX_FIELD as usize)?;
    b.iter().position(|&c| c == 0).map(|p| at + p as u64 + 1)
}

enum Payload {
    Xmp,
    LegacyExif,
    LegacyXmp,
}

fn text_chunk(src: &mut Src, typ: &[u8; 4], ds: u64, de: u64, out: &mut Out) {
    let Some(kw_end) = after_nul(src, ds, de) else {
        return;
    };
    let Some(kw) = src.vec(ds, kw_end - 1 - ds, 80) else {
        return;
    };
    let payload = match kw.as_slice() {
        b"XML:com.adobe.xmp" => Payload::Xmp,
        b"Raw profile type exif" | b"Raw profile type APP1" => Payload::LegacyExif,
        b"Raw profile type xmp" => Payload::LegacyXmp,
        _ => return,
    };
    let (text, compressed) = match typ {
        b"tEXt" => (kw_end, false),
        b"zTXt" => (kw_end + 1, true),
        _ => {
            // iTXt: compression flag, method, language tag\0, translated keyword\0, text.
            let compressed = src.u8(kw_end).is_none_or(|f| f != 0);
            let lang_end = after_nul(src, kw_end + 2, de);
            match lang_end.and_then(|l| after_nul(src, l, de)) {
                Some(t) => (t, compressed),
                None => {
                    out.fill(kw_end, de, 0, KIND_COMPRESSED);
                    return;
                }
            }
        }
    };
    if compressed {
        log::debug!("redact: compressed PNG metadata at {text}..{de} blanked");
        out.fill(text, de, 0, KIND_COMPRESSED);
        return;
    }
    match payload {
        Payload::Xmp => xmp::scan(src, text, de, out),
        Payload::LegacyExif | Payload::LegacyXmp => {
            legacy_hex(src, text, de, matches!(payload, Payload::LegacyXmp), out)
        }
    }
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|v| v as u8)
}

/// ImageMagick legacy profile: `\n<name>\n<spaces><decimal length>\n` then hex digits in lines.
/// Decodes it, scans the decoded bytes, and maps the ranges back onto the hex digits.
fn legacy_hex(src: &mut Src, start: u64, end: u64, is_xmp: bool, out: &mut Out) {
    if !src.spend(1 + end.saturating_sub(start) / 16) {
        return;
    }
    let Some(text) = src.vec(start, end.saturating_sub(start), MAX_HEX_TEXT as usize) else {
        // Too large to decode: zero every byte of the text (digits become '0').
        out.fill(start, end, b'0', KIND_LEGACY_HEX);
        return;
    };
    let Some((body, declared)) = legacy_header(&text) else {
        return;
    };
    let digits = text[body..]
        .iter()
        .filter(|c| hex_val(**c).is_some())
        .count();
    let n = declared.min(digits / 2);
    let mut decoded = Vec::with_capacity(n);
    let mut hi: Option<u8> = None;
    for &c in &text[body..] {
        if decoded.len() >= n {
            break;
        }
        if let Some(v) = hex_val(c) {
            match hi.take() {
                None => hi = Some(v),
                Some(h) => decoded.push(h << 4 | v),
            }
        }
    }
    let mut sub = Src::new(&decoded);
    let mut found = Out::default();
    if is_xmp {
        xmp::scan(&mut sub, 0, decoded.len() as u64, &mut found);
    } else {
        exif::scan_block(&mut sub, 0, decoded.len() as u64, 1, &mut found);
    }
    if let Some(e) = sub.err.take() {
        src.err.get_or_insert(e);
    }
    let ranges = normalize(found.v);
    map_hex(&text[body..], start + body as u64, &ranges, n, out);
}

/// Returns (offset of the hex body, declared decoded length).
fn legacy_header(t: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    let ws = |c: u8| c.is_ascii_whitespace();
    while i < t.len() && ws(t[i]) {
        i += 1;
    }
    while i < t.len() && !ws(t[i]) {
        i += 1; // profile name
    }
    while i < t.len() && ws(t[i]) {
        i += 1;
    }
    let d0 = i;
    let mut len: usize = 0;
    while i < t.len() && t[i].is_ascii_digit() {
        len = len.checked_mul(10)?.checked_add(usize::from(t[i] - b'0'))?;
        i += 1;
    }
    if i == d0 || i >= t.len() || t[i] != b'\n' {
        return None;
    }
    Some((i + 1, len))
}

/// Emits file ranges over the hex digits whose decoded bytes fall in `ranges`, each digit
/// replaced by the matching nibble of the replacement byte (fill 0 → '0').
fn map_hex(body: &[u8], body_off: u64, ranges: &[LocationRange], n: usize, out: &mut Out) {
    let mut run: Option<(u64, Vec<u8>)> = None;
    let flush = |run: &mut Option<(u64, Vec<u8>)>, out: &mut Out| {
        if let Some((s, chars)) = run.take() {
            if chars.iter().all(|&c| c == chars[0]) {
                out.fill(s, s + chars.len() as u64, chars[0], KIND_LEGACY_HEX);
            } else {
                out.push(LocationRange {
                    start: s,
                    end: s + chars.len() as u64,
                    kind: KIND_LEGACY_HEX.into(),
                    replacement: Replacement::Bytes(chars),
                });
            }
        }
    };
    let mut ri = 0;
    let mut d = 0usize;
    for (p, &c) in body.iter().enumerate() {
        if hex_val(c).is_none() {
            continue;
        }
        let k = (d / 2) as u64;
        let hi = d.is_multiple_of(2);
        d += 1;
        if k >= n as u64 {
            break;
        }
        while ri < ranges.len() && ranges[ri].end <= k {
            ri += 1;
        }
        let Some(r) = ranges.get(ri) else { break };
        if k < r.start {
            continue;
        }
        let b = r.byte_at(k);
        let nib = if hi { b >> 4 } else { b & 15 };
        let ch = b"0123456789abcdef"[usize::from(nib)];
        let pos = body_off + p as u64;
        match &mut run {
            Some((s, chars)) if *s + chars.len() as u64 == pos => chars.push(ch),
            _ => {
                flush(&mut run, out);
                run = Some((pos, vec![ch]));
            }
        }
    }
    flush(&mut run, out);
}
