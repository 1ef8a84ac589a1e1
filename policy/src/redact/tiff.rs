//! TIFF-based files (TIFF, DNG, CR2, NEF, ARW, ORF, RW2, PEF, BigTIFF) and Fuji RAF, whose
//! metadata lives in an embedded JPEG.

use super::read::Src;
use super::{exif, jpeg, Out};

pub(crate) fn sniff(head: &[u8]) -> bool {
    const MAGICS: [&[u8]; 7] = [
        b"II*\0", b"MM\0*", b"II+\0", b"MM\0+", b"IIRO", b"IIRS", b"MMOR",
    ];
    MAGICS.iter().any(|m| head.starts_with(m)) || head.starts_with(b"IIU\0")
}

pub(crate) fn scan(src: &mut Src, out: &mut Out) {
    // A TIFF file is its own EXIF block; nothing around it to blank if IFD0 is unreadable.
    if !exif::scan_tiff(src, 0, src.len(), false, 0, out) {
        log::debug!("redact: TIFF header/IFD0 unreadable");
    }
}

/// RAF: big-endian u32 offset/length of the embedded JPEG at bytes 84/88.
pub(crate) fn scan_raf(src: &mut Src, out: &mut Out) {
    if let (Some(off), Some(len)) = (src.be32(84), src.be32(88)) {
        let off = u64::from(off);
        jpeg::scan_at(src, off, off + u64::from(len), 0, out);
    }
}
