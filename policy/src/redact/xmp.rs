//! XMP packets: blank GPS properties with spaces (0x20) so the packet stays well-formed XML.
//!
//! Matching is by local name, not by namespace: every element or attribute whose local name
//! starts with `GPS` goes (this covers `exif:`, `exifEX:`, `Iptc4xmpExt:` and whatever prefix a
//! writer binds to them, including a default namespace). Element form is blanked from `<`
//! through the end tag's `>`, attribute form from the name through the closing quote.
//!
//! The tokenizer is deliberately tolerant inside a GPS element (its end tag is found by text
//! search, so junk such as `<exif:GPSLatitude>a<oops </exif:GPSLatitude>` is still removed),
//! and fails closed everywhere else: an unterminated construct, a GPS element without end tag,
//! a non-UTF-8 encoding, or any `:GPS`/`<GPS` left outside a blanked span blanks the packet.

use super::read::Src;
use super::Out;

/// Largest packet parsed; a bigger one is blanked whole without being read.
pub(crate) const MAX_PACKET: u64 = 4 << 20;
pub(crate) const KIND_ELEMENT: &str = "xmp-gps-element";
pub(crate) const KIND_ATTR: &str = "xmp-gps-attr";
pub(crate) const KIND_PACKET: &str = "xmp-packet";

/// Blanks a whole packet (fail closed).
pub(crate) fn blank(start: u64, end: u64, out: &mut Out) {
    out.fill(start, end, b' ', KIND_PACKET);
}

/// Scans the packet at `[start, end)`.
pub(crate) fn scan(src: &mut Src, start: u64, end: u64, out: &mut Out) {
    let end = end.min(src.len());
    if start >= end {
        return;
    }
    // Charged by size: many IFD entries/items may point at the same big packet.
    if !src.spend(1 + (end - start) / 16) {
        return;
    }
    let Some(buf) = src.vec(start, end - start, MAX_PACKET as usize) else {
        log::debug!("redact: XMP packet at {start}..{end} too large or unreadable, blanked");
        blank(start, end, out);
        return;
    };
    match gps_spans(&buf) {
        Ok(spans) => {
            for (s, e, kind) in spans {
                out.fill(start + s as u64, start + e as u64, b' ', kind);
            }
        }
        Err(why) => {
            log::debug!("redact: XMP packet at {start}..{end} unparseable ({why}), blanked");
            blank(start, end, out);
        }
    }
}

/// Position of the first `c` in `hay`, eight bytes at a time: packets are often mostly
/// padding (64 KiB of spaces is common), scanned twice per packet.
fn memchr(c: u8, hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pat = LO * u64::from(c);
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for ch in &mut chunks {
        let w = u64::from_le_bytes([ch[0], ch[1], ch[2], ch[3], ch[4], ch[5], ch[6], ch[7]]);
        let x = w ^ pat;
        // some byte of x is zero <=> some byte of w equals c
        if x.wrapping_sub(LO) & !x & HI != 0 {
            if let Some(p) = ch.iter().position(|&b| b == c) {
                return Some(base + p);
            }
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == c)
        .map(|p| base + p)
}

/// First occurrence of `pat` at or after `from`.
fn find(hay: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    let (&first, rest) = pat.split_first()?;
    let mut i = from;
    loop {
        let at = i + memchr(first, hay.get(i..)?)?;
        if hay.get(at + 1..at + 1 + rest.len())? == rest {
            return Some(at);
        }
        i = at + 1;
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

fn is_gps_name(qname: &[u8]) -> bool {
    let local = match qname.iter().rposition(|&c| c == b':') {
        Some(p) => &qname[p + 1..],
        None => qname,
    };
    local.starts_with(b"GPS") && !qname.starts_with(b"xmlns")
}

/// Reads an XML name at `i`; Err on an empty name or one containing markup characters.
fn name_end(b: &[u8], i: usize) -> Result<usize, &'static str> {
    let mut j = i;
    while j < b.len() && !is_ws(b[j]) && !matches!(b[j], b'>' | b'/' | b'=') {
        if matches!(b[j], b'<' | b'"' | b'\'') {
            return Err("bad name");
        }
        j += 1;
    }
    if j == i {
        return Err("empty name");
    }
    Ok(j)
}

/// Byte spans `(start, end, kind)` of GPS properties in an XMP packet.
pub(crate) fn gps_spans(b: &[u8]) -> Result<Vec<(usize, usize, &'static str)>, &'static str> {
    let mut i = if b.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    // UTF-16/32 packets would hide names from a byte scan; treat as unparseable.
    if let Some(0x00 | 0xFE | 0xFF) = b.get(skip_ws(b, i)) {
        return Err("not UTF-8");
    }
    let mut spans = Vec::new();
    while let Some(lt) = find(b, i, b"<") {
        let rest = &b[lt..];
        if rest.starts_with(b"<!--") {
            i = find(b, lt + 4, b"-->").ok_or("unterminated comment")? + 3;
        } else if rest.starts_with(b"<![CDATA[") {
            i = find(b, lt + 9, b"]]>").ok_or("unterminated CDATA")? + 3;
        } else if rest.starts_with(b"<?") {
            i = find(b, lt + 2, b"?>").ok_or("unterminated PI")? + 2;
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") {
            i = find(b, lt + 2, b">").ok_or("unterminated tag")? + 1;
        } else {
            i = start_tag(b, lt, &mut spans)?;
        }
    }
    residual_check(b, &mut spans)?;
    Ok(spans)
}

/// Parses the start tag at `lt`; returns where scanning resumes.
fn start_tag(
    b: &[u8],
    lt: usize,
    spans: &mut Vec<(usize, usize, &'static str)>,
) -> Result<usize, &'static str> {
    let ne = name_end(b, lt + 1)?;
    let qname = &b[lt + 1..ne];
    let mut j = ne;
    let (gt, self_closing) = loop {
        j = skip_ws(b, j);
        match b.get(j) {
            None => return Err("unterminated tag"),
            Some(b'>') => break (j, false),
            Some(b'/') if b.get(j + 1) == Some(&b'>') => break (j + 1, true),
            _ => {}
        }
        let an = name_end(b, j)?;
        let attr = (j, an);
        j = skip_ws(b, an);
        if b.get(j) != Some(&b'=') {
            return Err("attribute without value");
        }
        j = skip_ws(b, j + 1);
        let q = match b.get(j) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Err("unquoted attribute"),
        };
        let close = b[j + 1..]
            .iter()
            .position(|&c| c == q)
            .ok_or("unterminated attribute")?
            + j
            + 1;
        if is_gps_name(&b[attr.0..attr.1]) {
            spans.push((attr.0, close + 1, KIND_ATTR));
        }
        j = close + 1;
    };
    if !is_gps_name(qname) {
        return Ok(gt + 1);
    }
    if self_closing {
        spans.push((lt, gt + 1, KIND_ELEMENT));
        return Ok(gt + 1);
    }
    // Find `</qname` + optional whitespace + `>`; content in between is not parsed.
    let mut k = gt + 1;
    loop {
        let c = find(b, k, b"</").ok_or("GPS element without end tag")?;
        let after = c + 2 + qname.len();
        if b.get(c + 2..after) == Some(qname) {
            let e = skip_ws(b, after);
            if b.get(e) == Some(&b'>') {
                spans.push((lt, e + 1, KIND_ELEMENT));
                return Ok(e + 1);
            }
        }
        k = c + 2;
    }
}

/// Every `:GPS` / `<GPS` must lie in a blanked span; anything else means the tokenizer missed
/// a property (comment, CDATA, odd syntax), so the packet is treated as unparseable.
fn residual_check(
    b: &[u8],
    spans: &mut [(usize, usize, &'static str)],
) -> Result<(), &'static str> {
    spans.sort_unstable();
    let mut next = 0;
    let mut covered_to = 0;
    let mut from = 0;
    while let Some(p) = find(b, from, b"GPS") {
        from = p + 3;
        if p == 0 || !matches!(b[p - 1], b':' | b'<') {
            continue;
        }
        while next < spans.len() && spans[next].0 <= p {
            covered_to = covered_to.max(spans[next].1);
            next += 1;
        }
        if p >= covered_to {
            return Err("GPS name outside a parsed property");
        }
    }
    Ok(())
}
