//! Canon CR3: the `uuid` 85c0b687-820f-11e0-8111-f4ce462b6a48 box in `moov` holds TIFF
//! structures `CMT1` (IFD0), `CMT2` (Exif IFD), `CMT3` (MakerNotes) and `CMT4`, whose IFD0
//! *is* the GPS IFD.

use super::bmff::next_box;
use super::read::{Bound, Src};
use super::{exif, Out};

pub(crate) const CANON_UUID: [u8; 16] =
    *b"\x85\xc0\xb6\x87\x82\x0f\x11\xe0\x81\x11\xf4\xce\x46\x2b\x6a\x48";
const MAX_CHILDREN: u64 = 256;

pub(crate) fn scan(src: &mut Src, start: u64, end: u64, out: &mut Out) {
    let mut off = start;
    let mut children = Bound::new(MAX_CHILDREN, "cr3 uuid children");
    while src.within(&mut children) {
        let Some(b) = next_box(src, off, end) else {
            break;
        };
        match &b.typ {
            // GPS-only block: if it cannot be parsed, none of it may survive.
            b"CMT4" if !exif::scan_tiff(src, b.body(), b.end, true, 1, out) => {
                out.fill(b.body(), b.end, 0, exif::KIND_UNPARSED);
            }
            b"CMT1" | b"CMT2" => {
                exif::scan_tiff(src, b.body(), b.end, false, 1, out);
            }
            _ => {}
        }
        if b.truncated {
            break;
        }
        off = b.end;
    }
}
