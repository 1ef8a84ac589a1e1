//! JPEG: APP1 Exif, APP1 XMP, APP1 ExtendedXMP (reassembled across segments), and MPF
//! (APP2) secondary images, which are whole JPEGs with their own APP1 Exif.

use super::read::{Bound, Src};
use super::{exif, scan_parts, xmp, Out};

const XMP_SIG: &[u8] = b"http://ns.adobe.com/xap/1.0/";
const EXT_XMP_SIG: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";
/// Segments walked before SOS; real files have a few dozen.
const MAX_SEGMENTS: u64 = 1 << 16;
/// 0xFF fill bytes tolerated between segments.
const MAX_FILL: u64 = 4096;
/// ExtendedXMP chunks kept (each ≤ 64 KiB, so this also bounds the packet size).
const MAX_EXT_CHUNKS: usize = 256;
/// MPF secondary images followed.
const MAX_MPF_IMAGES: u64 = 64;

struct ExtChunk {
    guid: [u8; 32],
    total: u32,
    offset: u32,
    data: u64,
    len: u64,
}

/// Scans the JPEG that starts at `pos` and must end by `end`.
pub(crate) fn scan_at(src: &mut Src, pos: u64, end: u64, depth: u32, out: &mut Out) {
    let end = end.min(src.len());
    // Embedded images (MPF, thumbnails) nest; weigh each like a big structure.
    if !src.spend(if depth > 0 { 4096 } else { 1 }) || !src.starts_with(pos, &[0xFF, 0xD8]) {
        return;
    }
    let mut ext: Vec<ExtChunk> = Vec::new();
    let mut mpf: Option<(u64, u64)> = None;
    let mut i = pos + 2;
    let mut segments = Bound::new(MAX_SEGMENTS, "jpeg segments");
    while src.within(&mut segments) {
        if !src.spend(1) || src.u8(i) != Some(0xFF) {
            break;
        }
        let mut fills = Bound::new(MAX_FILL, "jpeg fill bytes");
        while src.u8(i) == Some(0xFF) && src.within(&mut fills) {
            i += 1;
        }
        let Some(m) = src.u8(i) else { break };
        i += 1;
        if m == 0xD8 || m == 0x01 || (0xD0..=0xD7).contains(&m) {
            continue;
        }
        if m == 0xD9 || m == 0xDA || m == 0xFF {
            break;
        }
        let Some(len) = src.be16(i) else { break };
        if len < 2 {
            break;
        }
        let ds = i + 2;
        let de = (i + u64::from(len)).min(end);
        if m == 0xE1 {
            app1(src, ds, de, depth, out, &mut ext);
        } else if m == 0xE2 && src.starts_with(ds, b"MPF\0") {
            mpf = Some((ds + 4, de));
        }
        i += u64::from(len);
        if i >= end {
            break;
        }
    }
    if !ext.is_empty() {
        extended_xmp(src, ext, out);
    }
    // Only a primary image lists MP entries; not following them from secondary images keeps
    // hostile files from fanning out.
    if let Some((base, seg_end)) = mpf {
        if depth == 0 {
            for (s, len) in mpf_images(src, base, seg_end) {
                if let Some(s) = base.checked_add(s) {
                    if s > pos && s < end {
                        scan_at(src, s, s.saturating_add(len).min(end), depth + 1, out);
                    }
                }
            }
        }
    }
}

fn app1(src: &mut Src, ds: u64, de: u64, depth: u32, out: &mut Out, ext: &mut Vec<ExtChunk>) {
    if src.starts_with(ds, b"Exif\0") {
        exif::scan_block(src, ds, de, depth, out);
    } else if src.starts_with(ds, EXT_XMP_SIG) {
        let h = ds + EXT_XMP_SIG.len() as u64;
        let (Some(guid), Some(total), Some(offset)) =
            (src.arr::<32>(h), src.be32(h + 32), src.be32(h + 36))
        else {
            return;
        };
        let data = h + 40;
        if data <= de && ext.len() < MAX_EXT_CHUNKS {
            ext.push(ExtChunk {
                guid,
                total,
                offset,
                data,
                len: de - data,
            });
        } else if data < de {
            xmp::blank(data, de, out);
        }
    } else if src.starts_with(ds, XMP_SIG) {
        // The signature's NUL is not checked: lenient readers accept any separator.
        xmp::scan(src, ds + XMP_SIG.len() as u64 + 1, de, out);
    }
}

/// Reassembles each ExtendedXMP packet (chunks may arrive in any order) and scans it as one;
/// ranges are mapped back to the chunks. Inconsistent chunk sets are blanked whole.
fn extended_xmp(src: &mut Src, mut ext: Vec<ExtChunk>, out: &mut Out) {
    ext.sort_by_key(|c| (c.guid, c.offset));
    let mut start = 0;
    while start < ext.len() {
        let guid = ext[start].guid;
        let n = ext[start..].iter().take_while(|c| c.guid == guid).count();
        let group = &ext[start..start + n];
        start += n;
        let total = u64::from(group[0].total);
        let mut expect = 0u64;
        let mut ok = true;
        for c in group {
            if u64::from(c.offset) != expect || u64::from(c.total) != u64::from(group[0].total) {
                ok = false;
                break;
            }
            expect += c.len;
        }
        if !ok || expect != total {
            log::debug!("redact: inconsistent ExtendedXMP chunks, blanked");
            for c in group {
                xmp::blank(c.data, c.data + c.len, out);
            }
            continue;
        }
        let parts: Vec<(u64, u64)> = group.iter().map(|c| (c.data, c.len)).collect();
        scan_parts(src, &parts, out, |sub, total, o| {
            xmp::scan(sub, 0, total, o)
        });
    }
}

/// (offset relative to the MPF header, size) of every MP entry (CIPA DC-007).
fn mpf_images(src: &mut Src, base: u64, end: u64) -> Vec<(u64, u64)> {
    let mut res = Vec::new();
    let le = match src.arr::<2>(base) {
        Some([b'I', b'I']) => true,
        Some([b'M', b'M']) => false,
        _ => return res,
    };
    let Some(ifd) = src.u32(base + 4, le).map(|o| base + u64::from(o)) else {
        return res;
    };
    if ifd + 2 > end {
        return res;
    }
    let n = src.u16(ifd, le).unwrap_or(0);
    for k in 0..u64::from(n) {
        let ent = ifd + 2 + 12 * k;
        if ent + 12 > end {
            break;
        }
        if src.u16(ent, le) != Some(0xB002) {
            continue;
        }
        let (Some(cnt), Some(val)) = (src.u32(ent + 4, le), src.u32(ent + 8, le)) else {
            break;
        };
        let p = base + u64::from(val);
        if u64::from(cnt) / 16 > MAX_MPF_IMAGES {
            src.bound_reached("mpf images");
        }
        for j in 0..(u64::from(cnt) / 16).min(MAX_MPF_IMAGES) {
            let q = p + 16 * j;
            if q + 16 > end {
                break;
            }
            if let (Some(size), Some(off)) = (src.u32(q + 4, le), src.u32(q + 8, le)) {
                if off != 0 {
                    res.push((u64::from(off), u64::from(size)));
                }
            }
        }
    }
    res
}
