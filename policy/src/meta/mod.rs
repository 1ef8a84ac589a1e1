//! Media metadata for the provider half (SPEC §11): `date_taken`, size, orientation, duration
//! and GPS position, extracted at indexing time with the scanner's bounded, header-only reader
//! (`redact::read::Src`: capped reads and work, never a whole file) for every format §6 covers.
//! Formats are sniffed from content, like the scanner.

mod bmff;
mod exif;
mod image;
mod time;

use crate::paths::VolPath;
use crate::redact::read::{PositionedRead, Src};
use crate::store::{Store, StoreError};
use std::fs::File;

/// What a query returns about a file's content. Every field is `None` when absent or when the
/// format does not carry it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MediaMeta {
    /// Milliseconds since the Unix epoch (EXIF DateTimeOriginal + OffsetTimeOriginal, else the
    /// movie's `mvhd` creation time).
    pub date_taken_ms: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// Clockwise degrees: 0, 90, 180 or 270 (EXIF Orientation).
    pub orientation: Option<i64>,
    /// Audio/video duration.
    pub duration_ms: Option<i64>,
    /// Decimal degrees; only ever shown to callers who may read the file unredacted.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl MediaMeta {
    fn set_size(&mut self, size: Option<(i64, i64)>) {
        if let Some((w, h)) = size.filter(|(w, h)| *w > 0 && *h > 0) {
            self.width = Some(w);
            self.height = Some(h);
        }
    }
}

/// Extracts the metadata of one file. Never fails: unreadable or unknown content gives
/// whatever was found before the problem (often nothing).
pub fn extract(r: &dyn PositionedRead) -> MediaMeta {
    let mut src = Src::new(r);
    let mut m = MediaMeta::default();
    let mut head = [0u8; 16];
    let n = src.len().min(16) as usize;
    if !src.read(0, &mut head[..n]) {
        return m;
    }
    let head = &head[..n];
    let still = if head.starts_with(&[0xFF, 0xD8]) {
        Some(image::jpeg(&mut src))
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(image::png(&mut src))
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(image::webp(&mut src))
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Some(image::tiff(&mut src))
    } else {
        None
    };
    if let Some(s) = still {
        m.set_size(s.size);
        if let Some(e) = &s.exif {
            e.apply(&mut m);
        }
        return m;
    }
    if crate::redact::bmff::sniff(head).is_some() {
        let mv = bmff::parse(&mut src);
        // Stills (HEIF, CR3) take EXIF first; movies their own header.
        if let Some(e) = &mv.exif {
            e.apply(&mut m);
        }
        if !mv.still {
            m.date_taken_ms = mv.created_ms.or(m.date_taken_ms);
        } else if m.date_taken_ms.is_none() {
            m.date_taken_ms = mv.created_ms;
        }
        let size = if mv.still {
            mv.ispe_size.or(mv.track_size)
        } else {
            mv.track_size.or(mv.ispe_size)
        };
        m.set_size(size.or_else(|| mv.exif.as_ref().and_then(|e| e.tiff_size.or(e.pixel_size))));
        m.duration_ms = mv.duration_ms;
        if let Some((la, lo)) = mv.location {
            m.latitude = Some(la);
            m.longitude = Some(lo);
        }
    }
    m
}

/// Rows whose metadata is extracted per transaction (short, so FUSE writers never wait long).
const BATCH: usize = 256;

/// The one indexing entry point: extracts metadata for every row whose content changed since
/// its metadata was last extracted (new rows, rewrites, files found by scan or first sight),
/// up to `limit` rows. `open` opens a row's lower file safely (beneath the lower root, no
/// symlinks); files that cannot be opened are recorded with no metadata until they change.
/// Returns how many rows were processed.
pub fn index_pending(
    store: &Store,
    open: &dyn Fn(&VolPath) -> std::io::Result<File>,
    limit: usize,
) -> Result<usize, StoreError> {
    let mut done = 0;
    while done < limit {
        let todo = store.metadata_todo(BATCH.min(limit - done))?;
        if todo.is_empty() {
            break;
        }
        let n = todo.len();
        // File reads happen outside any transaction; only the batch write takes the lock.
        let results: Vec<_> = todo
            .into_iter()
            .map(|(id, path, size, mtime)| {
                let meta = open(&path).map(|f| extract(&f)).unwrap_or_default();
                (id, size, mtime, meta)
            })
            .collect();
        store.set_metadata(&results)?;
        done += n;
        if n < BATCH {
            break;
        }
    }
    Ok(done)
}
