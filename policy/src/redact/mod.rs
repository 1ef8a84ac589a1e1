//! Location-range scanner and redacted reads (SPEC §6).
//!
//! [`scan`] sniffs the container from content, walks only headers/IFDs/box trees through
//! positioned reads, and returns absolute, sorted, non-overlapping half-open byte ranges, each
//! with the bytes to serve instead ([`Replacement`]). [`apply_ranges`] patches a buffer read
//! from the lower file; [`overlaps`] tells the read path whether it needs to.
//!
//! Bounds: every loop, recursion depth and allocation is capped (XMP packets at
//! [`xmp::MAX_PACKET`], legacy PNG hex at 4 MiB, IFDs, boxes, chunks, segments by count). Past a
//! cap, or when a structure cannot be parsed, the scanner fails closed: the enclosing metadata
//! segment (XMP packet, EXIF block, compressed chunk) is blanked whole. A real I/O error, or a
//! hostile file exhausting the per-scan work budget, blanks the whole file ([`scan_path`]
//! reports it as an error instead; its caller must then not serve the file unredacted).
//!
//! Known gaps (no in-place redaction possible or no samples): GoPro GPMF / Sony rtmd / DJI
//! telemetry tracks inside `mdat`, a video appended after a JPEG's EOI (motion photo),
//! compressed QuickTime `cmov` headers, MakerNote-private GPS copies.

pub(crate) mod bmff;
pub(crate) mod cr3;
mod crc;
mod exif;
pub(crate) mod heif;
mod jpeg;
mod json;
mod png;
pub(crate) mod read;
mod tiff;
mod webp;
mod xmp;

use std::borrow::Cow;

pub use read::PositionedRead;
use read::Src;

/// Nesting limit for containers inside containers (thumbnail JPEG in EXIF, MPF images, ...).
pub(crate) const MAX_DEPTH: u32 = 4;
/// Ranges collected before they are compacted; see [`Out::push`].
const MAX_RANGES: usize = 1 << 16;

/// What a redacted reader gets instead of the original bytes of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replacement {
    /// Every byte of the range is served as this byte.
    Fill(u8),
    /// Exactly these bytes (`len == end - start`), e.g. a recomputed PNG CRC.
    Bytes(Vec<u8>),
}

/// One half-open range `[start, end)` of absolute file offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationRange {
    pub start: u64,
    pub end: u64,
    /// What the bytes are, e.g. `"exif-gps-value"`; free-form, for logs and `ranges` output.
    /// Borrowed for scanner output, owned only when parsed from unknown JSON.
    pub kind: Cow<'static, str>,
    pub replacement: Replacement,
}

impl LocationRange {
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The replacement byte at absolute offset `pos` (which must lie in the range).
    fn byte_at(&self, pos: u64) -> u8 {
        match &self.replacement {
            Replacement::Fill(b) => *b,
            Replacement::Bytes(v) => {
                let i = pos.saturating_sub(self.start) as usize;
                v.get(i).copied().unwrap_or(0)
            }
        }
    }
}

/// Result of [`scan`]: the sniffed container and its location ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanResult {
    /// `"jpeg" "png" "tiff" "webp" "heif" "isobmff" "cr3" "raf" "unknown"`
    pub format: &'static str,
    /// Sorted, non-overlapping, adjacent equal fills merged.
    pub ranges: Vec<LocationRange>,
}

impl ScanResult {
    /// True if a redacted reader would see any byte differ from the file.
    pub fn has_location(&self) -> bool {
        !self.ranges.is_empty()
    }

    /// The `mediaproviderd ranges` JSON object (SPEC §3).
    pub fn to_json(&self) -> serde_json::Value {
        json::to_json(self)
    }

    /// Inverse of [`ScanResult::to_json`]; None unless the ranges are valid (sorted,
    /// non-overlapping, fills are bytes, hex has the range's length).
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        json::from_json(v)
    }
}

/// Container formats [`scan`] can report.
pub(crate) const FORMATS: &[&str] = &[
    "jpeg", "png", "tiff", "webp", "heif", "isobmff", "cr3", "raf", "unknown",
];

/// Range collector used by the format parsers.
#[derive(Default)]
pub(crate) struct Out {
    pub(crate) v: Vec<LocationRange>,
}

impl Out {
    pub(crate) fn fill(&mut self, start: u64, end: u64, fill: u8, kind: &'static str) {
        if start < end {
            self.push(LocationRange {
                start,
                end,
                kind: Cow::Borrowed(kind),
                replacement: Replacement::Fill(fill),
            });
        }
    }

    pub(crate) fn bytes(&mut self, start: u64, bytes: Vec<u8>, kind: &'static str) {
        if !bytes.is_empty() {
            self.push(LocationRange {
                start,
                end: start.saturating_add(bytes.len() as u64),
                kind: Cow::Borrowed(kind),
                replacement: Replacement::Bytes(bytes),
            });
        }
    }

    /// Appends; past [`MAX_RANGES`] the list is compacted, and if a hostile file still
    /// produces too many, everything is collapsed into one zero-filled span (fail closed).
    pub(crate) fn push(&mut self, r: LocationRange) {
        if r.end < r.start
            || (matches!(&r.replacement, Replacement::Bytes(b) if b.len() as u64 != r.end - r.start))
        {
            return;
        }
        self.v.push(r);
        if self.v.len() >= MAX_RANGES {
            self.v = normalize(std::mem::take(&mut self.v));
            if self.v.len() >= MAX_RANGES / 2 {
                let start = self.v.first().map_or(0, |r| r.start);
                let end = self.v.last().map_or(0, |r| r.end);
                log::warn!("redact: too many ranges, blanking {start}..{end} whole");
                self.v = vec![LocationRange {
                    start,
                    end,
                    kind: Cow::Borrowed("too-many-ranges"),
                    replacement: Replacement::Fill(0),
                }];
            }
        }
    }
}

/// Runs `f` over the logical concatenation of file segments `parts` (multi-extent HEIF
/// items, ExtendedXMP chunks) and maps the ranges it finds back to file offsets.
pub(crate) fn scan_parts(
    src: &mut Src,
    parts: &[(u64, u64)],
    out: &mut Out,
    f: impl FnOnce(&mut Src, u64, &mut Out),
) {
    let view = read::Concat::new(src.reader(), parts);
    let mut sub = Src::new(&view);
    let mut logical = Out::default();
    f(&mut sub, view.total(), &mut logical);
    if let Some(e) = sub.err.take() {
        src.err.get_or_insert(e);
    }
    for r in normalize(logical.v) {
        view.map(r.start, r.end, |s, e, skip| {
            let replacement = match &r.replacement {
                Replacement::Fill(b) => Replacement::Fill(*b),
                Replacement::Bytes(v) => {
                    let from = skip as usize;
                    Replacement::Bytes(v.get(from..from + (e - s) as usize).unwrap_or(&[]).to_vec())
                }
            };
            out.push(LocationRange {
                start: s,
                end: e,
                kind: r.kind.clone(),
                replacement,
            });
        });
    }
}

/// Sorts, drops empty ranges, merges overlapping or adjacent ranges with the same fill byte,
/// and resolves overlaps between different replacements (the earlier range wins).
pub(crate) fn normalize(mut v: Vec<LocationRange>) -> Vec<LocationRange> {
    v.retain(|r| r.start < r.end);
    v.sort_by_key(|r| (r.start, r.end));
    let mut res: Vec<LocationRange> = Vec::with_capacity(v.len());
    for mut r in v {
        let Some(cur) = res.last_mut() else {
            res.push(r);
            continue;
        };
        if r.start > cur.end {
            res.push(r);
            continue;
        }
        let same_fill = matches!((&cur.replacement, &r.replacement),
            (Replacement::Fill(a), Replacement::Fill(b)) if a == b);
        if same_fill {
            cur.end = cur.end.max(r.end);
            continue;
        }
        if r.end <= cur.end {
            continue;
        }
        if r.start < cur.end {
            let cut = cur.end - r.start;
            if let Replacement::Bytes(b) = &mut r.replacement {
                b.drain(..cut as usize);
            }
            r.start = cur.end;
        }
        res.push(r);
    }
    res
}

/// Patches `buf`, which holds lower-file bytes `[offset, offset + buf.len())`, in place.
/// `ranges` must be sorted and non-overlapping (as [`scan`] returns them).
pub fn apply_ranges(ranges: &[LocationRange], offset: u64, buf: &mut [u8]) {
    let end = offset.saturating_add(buf.len() as u64);
    let first = ranges.partition_point(|r| r.end <= offset);
    for r in &ranges[first..] {
        if r.start >= end {
            break;
        }
        let s = r.start.max(offset);
        let e = r.end.min(end);
        if s >= e {
            continue;
        }
        let dst = &mut buf[(s - offset) as usize..(e - offset) as usize];
        match &r.replacement {
            Replacement::Fill(b) => dst.fill(*b),
            Replacement::Bytes(v) => {
                let from = (s - r.start) as usize;
                match v.get(from..from + dst.len()) {
                    Some(src) => dst.copy_from_slice(src),
                    // Malformed range (wrong length): never leak, serve zeros.
                    None => dst.fill(0),
                }
            }
        }
    }
}

/// True if any range intersects `[offset, offset + len)`. O(log n).
pub fn overlaps(ranges: &[LocationRange], offset: u64, len: u64) -> bool {
    if len == 0 {
        return false;
    }
    let end = offset.saturating_add(len);
    let first = ranges.partition_point(|r| r.end <= offset);
    ranges.get(first).is_some_and(|r| r.start < end)
}

/// Finds the location ranges of one file. Never fails: unparseable metadata is blanked
/// (fail closed), and an I/O error or exhausted work budget blanks the whole file.
pub fn scan(r: &dyn PositionedRead) -> ScanResult {
    let (format, res) = scan_checked(r);
    let ranges = res.unwrap_or_else(|e| {
        log::warn!("redact: scan failed ({e}); serving the whole file blanked");
        let end = r.len().ok().filter(|&l| l > 0).unwrap_or(u64::MAX);
        vec![LocationRange {
            start: 0,
            end,
            kind: Cow::Borrowed("scan-failed"),
            replacement: Replacement::Fill(0),
        }]
    });
    ScanResult { format, ranges }
}

/// Opens and scans a file. Unlike [`scan`], a read error (or an exhausted work budget) is
/// returned rather than blanked, so a caller that caches results does not cache a transient
/// failure. On `Err` the caller must not serve the file unredacted (fail the open, or use
/// `scan`'s whole-file blank).
pub fn scan_path(p: &std::path::Path) -> std::io::Result<ScanResult> {
    let f = std::fs::File::open(p)?;
    let (format, res) = scan_checked(&f);
    Ok(ScanResult {
        format,
        ranges: res?,
    })
}

fn scan_checked(r: &dyn PositionedRead) -> (&'static str, std::io::Result<Vec<LocationRange>>) {
    let mut src = Src::new(r);
    let mut out = Out::default();
    let format = scan_src(&mut src, &mut out);
    match src.err.take() {
        Some(e) => (format, Err(e)),
        None => (format, Ok(normalize(out.v))),
    }
}

/// Sniffs the container and runs its parser.
fn scan_src(src: &mut Src, out: &mut Out) -> &'static str {
    let mut head = [0u8; 32];
    let n = (src.len().min(32)) as usize;
    if !src.read(0, &mut head[..n]) {
        return "unknown";
    }
    let head = &head[..n];
    if head.starts_with(&[0xFF, 0xD8]) {
        jpeg::scan_at(src, 0, src.len(), 0, out);
        "jpeg"
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        png::scan(src, out);
        "png"
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        webp::scan(src, out);
        "webp"
    } else if tiff::sniff(head) {
        tiff::scan(src, out);
        "tiff"
    } else if head.starts_with(b"FUJIFILMCCD-RAW ") {
        tiff::scan_raf(src, out);
        "raf"
    } else if let Some(fmt) = bmff::sniff(head) {
        bmff::scan(src, out);
        fmt
    } else {
        "unknown"
    }
}

#[cfg(test)]
mod tests;
