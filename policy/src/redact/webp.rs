//! WebP (RIFF): `EXIF` and `XMP ` chunks. No checksums, so plain fills are safe.

use super::read::{Bound, Src};
use super::{exif, xmp, Out};

/// Chunks walked (animated files have one ANMF per frame).
const MAX_CHUNKS: u64 = 1 << 20;

pub(crate) fn scan(src: &mut Src, out: &mut Out) {
    // The RIFF size is not trusted as a bound: a lenient reader may look past it.
    let end = src.len();
    let mut i = 12u64;
    let mut chunks = Bound::new(MAX_CHUNKS, "webp chunks");
    while src.within(&mut chunks) {
        if !src.spend(1) {
            break;
        }
        let (Some(typ), Some(n)) = (src.arr::<4>(i), src.u32(i + 4, true)) else {
            break;
        };
        let ds = i + 8;
        let n = u64::from(n);
        let de = (ds + n).min(end);
        match &typ {
            b"EXIF" => exif::scan_block(src, ds, de, 0, out),
            b"XMP " => xmp::scan(src, ds, de, out),
            _ => {}
        }
        i = ds + n + (n & 1);
        if i >= end {
            break;
        }
    }
}
