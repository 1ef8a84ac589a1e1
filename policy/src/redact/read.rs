//! Positioned reads: the `PositionedRead` trait, a small block cache (`Src`) that every format
//! parser reads through, and `Concat`, a view that stitches file segments into one logical
//! stream (multi-extent HEIF items, ExtendedXMP chunks).

use std::io;

/// A `pread`-like source. Implementations must not move any shared file position.
pub trait PositionedRead {
    /// Reads up to `buf.len()` bytes at `off`; returns 0 at or past the end.
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize>;
    /// Total length in bytes.
    fn len(&self) -> io::Result<u64>;
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

#[cfg(unix)]
impl PositionedRead for std::fs::File {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, off)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl PositionedRead for &[u8] {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        Ok(slice_read_at(self, buf, off))
    }
    fn len(&self) -> io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
}

impl PositionedRead for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        Ok(slice_read_at(self, buf, off))
    }
    fn len(&self) -> io::Result<u64> {
        Ok(Vec::len(self) as u64)
    }
}

fn slice_read_at(data: &[u8], buf: &mut [u8], off: u64) -> usize {
    let Ok(off) = usize::try_from(off) else {
        return 0;
    };
    let Some(src) = data.get(off..) else {
        return 0;
    };
    let n = src.len().min(buf.len());
    buf[..n].copy_from_slice(&src[..n]);
    n
}

/// Block size of the read cache: headers, IFDs and box trees are mostly read in small pieces
/// that sit close together, so one 4 KiB pread usually serves many of them.
const CACHE: usize = 4096;
/// Read size after a far jump (next PNG chunk or box header past image data): usually only a
/// header is needed there, and copying a whole block per chunk doubles a PNG scan's cost.
const SMALL: usize = 256;
/// Hard cap on physical reads per scan (each loop is bounded too; this is the backstop).
const MAX_READS: u64 = 4 << 20;
/// Structural work per scan: IFD entries, segments, chunks, boxes, embedded images. Every
/// per-structure cap multiplied out is still large for hostile nesting; this bounds the total.
/// Legitimate files stay far below it (a 20 MB PNG has ~2,600 chunks).
const MAX_WORK: u64 = if cfg!(test) { 1 << 20 } else { 8 << 20 };

/// The iteration bound of one structural loop; see [`Src::within`].
pub(crate) struct Bound {
    left: u64,
    what: &'static str,
}

impl Bound {
    pub(crate) fn new(max: u64, what: &'static str) -> Bound {
        Bound { left: max, what }
    }
}

/// Cached, bounds-checked reader used by all parsers. Every accessor returns `None`/`false`
/// instead of failing, so parsers simply stop (and fail closed) at truncation.
pub(crate) struct Src<'a> {
    r: &'a dyn PositionedRead,
    len: u64,
    cache: Vec<u8>,
    c_off: u64,
    c_len: usize,
    reads: u64,
    work: u64,
    /// First real I/O error (not EOF); `scan` turns this into a whole-file blank.
    pub(crate) err: Option<io::Error>,
}

impl<'a> Src<'a> {
    pub(crate) fn new(r: &'a dyn PositionedRead) -> Self {
        let (len, err) = match r.len() {
            Ok(l) => (l, None),
            Err(e) => (0, Some(e)),
        };
        Src {
            r,
            len,
            cache: Vec::new(),
            c_off: 0,
            c_len: 0,
            reads: 0,
            work: 0,
            err,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Accounts for `n` units of structural work. Exhausting the budget is treated like an
    /// I/O error (the scan cannot vouch for what it did not look at): all further reads fail
    /// and `scan` blanks the whole file.
    pub(crate) fn spend(&mut self, n: u64) -> bool {
        self.work = self.work.saturating_add(n);
        if self.work > MAX_WORK && self.err.is_none() {
            self.err = Some(io::Error::other("scan work budget exhausted"));
        }
        self.err.is_none()
    }

    /// A structural bound (segments, boxes, chunks, IFDs, depth) was reached before the scan
    /// saw every place location could be. Like an exhausted budget, the scan then cannot vouch
    /// for the rest of the file, so `scan` blanks all of it (SPEC §6, §9: fail closed).
    pub(crate) fn bound_reached(&mut self, what: &'static str) {
        if self.err.is_none() {
            self.err = Some(io::Error::other(format!("scan bound reached: {what}")));
        }
    }

    /// One more iteration of a bounded structural loop (`while src.within(&mut b)`): false at
    /// the natural end of the budget *and* records that the bound was reached, because the
    /// loop only asks for another iteration when the structure goes on.
    pub(crate) fn within(&mut self, b: &mut Bound) -> bool {
        if b.left == 0 {
            self.bound_reached(b.what);
            return false;
        }
        b.left -= 1;
        self.err.is_none()
    }

    /// The underlying reader, for building views (`Concat`) over parts of it.
    pub(crate) fn reader(&self) -> &'a dyn PositionedRead {
        self.r
    }

    /// One physical read loop into `buf` at `off`; returns bytes read (short only at EOF).
    fn raw(&mut self, off: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            if self.err.is_some() {
                break;
            }
            self.reads += 1;
            if self.reads > MAX_READS {
                self.err = Some(io::Error::other("scan read budget exhausted"));
                break;
            }
            match self.r.read_at(&mut buf[done..], off + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n.min(buf.len() - done),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.err = Some(e);
                    break;
                }
            }
        }
        done
    }

    /// Reads exactly `buf.len()` bytes at `off`; false on truncation or error.
    pub(crate) fn read(&mut self, off: u64, buf: &mut [u8]) -> bool {
        if self.err.is_some() {
            return false;
        }
        let n = buf.len() as u64;
        match off.checked_add(n) {
            Some(e) if e <= self.len => {}
            _ => return false,
        }
        if n == 0 {
            return true;
        }
        if buf.len() > CACHE {
            return self.raw(off, buf) == buf.len();
        }
        let hit = off >= self.c_off && off + n <= self.c_off + self.c_len as u64;
        if !hit {
            if self.cache.is_empty() {
                self.cache = vec![0; CACHE];
            }
            let near = self.c_len == 0
                || (off >= self.c_off && off <= self.c_off + (self.c_len + CACHE) as u64);
            let block = if near { CACHE } else { SMALL.max(buf.len()) };
            let want = (self.len - off).min(block as u64) as usize;
            let mut cache = std::mem::take(&mut self.cache);
            let got = self.raw(off, &mut cache[..want]);
            self.cache = cache;
            self.c_off = off;
            self.c_len = got;
            if (got as u64) < n {
                return false;
            }
        }
        let s = (off - self.c_off) as usize;
        buf.copy_from_slice(&self.cache[s..s + buf.len()]);
        true
    }

    pub(crate) fn arr<const N: usize>(&mut self, off: u64) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.read(off, &mut b).then_some(b)
    }

    pub(crate) fn u8(&mut self, off: u64) -> Option<u8> {
        self.arr::<1>(off).map(|b| b[0])
    }

    pub(crate) fn u16(&mut self, off: u64, le: bool) -> Option<u16> {
        self.arr(off).map(|b| {
            if le {
                u16::from_le_bytes(b)
            } else {
                u16::from_be_bytes(b)
            }
        })
    }

    pub(crate) fn u32(&mut self, off: u64, le: bool) -> Option<u32> {
        self.arr(off).map(|b| {
            if le {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        })
    }

    pub(crate) fn u64(&mut self, off: u64, le: bool) -> Option<u64> {
        self.arr(off).map(|b| {
            if le {
                u64::from_le_bytes(b)
            } else {
                u64::from_be_bytes(b)
            }
        })
    }

    pub(crate) fn be16(&mut self, off: u64) -> Option<u16> {
        self.u16(off, false)
    }

    pub(crate) fn be32(&mut self, off: u64) -> Option<u32> {
        self.u32(off, false)
    }

    pub(crate) fn be64(&mut self, off: u64) -> Option<u64> {
        self.u64(off, false)
    }

    /// Reads `[off, off+len)` into a new buffer, refusing anything above `cap` bytes.
    pub(crate) fn vec(&mut self, off: u64, len: u64, cap: usize) -> Option<Vec<u8>> {
        if len > cap as u64 {
            return None;
        }
        let mut v = vec![0; len as usize];
        self.read(off, &mut v).then_some(v)
    }

    /// The NUL-terminated string at `at` (searched up to `max` bytes, not past `end`) and the
    /// offset just past its NUL.
    pub(crate) fn cstr(&mut self, at: u64, end: u64, max: usize) -> Option<(Vec<u8>, u64)> {
        let n = end.saturating_sub(at).min(max as u64);
        let mut b = self.vec(at, n, max)?;
        let p = b.iter().position(|&c| c == 0)?;
        b.truncate(p);
        Some((b, at + p as u64 + 1))
    }

    /// True if the bytes at `off` equal `pat`.
    pub(crate) fn starts_with(&mut self, off: u64, pat: &[u8]) -> bool {
        if pat.len() > 64 {
            return false;
        }
        let mut b = [0u8; 64];
        let b = &mut b[..pat.len()];
        self.read(off, b) && b == pat
    }
}

/// Logical concatenation of file segments `(file_offset, len)`, readable as one stream.
pub(crate) struct Concat<'a> {
    r: &'a dyn PositionedRead,
    /// (logical start, file offset, len)
    segs: Vec<(u64, u64, u64)>,
    total: u64,
}

impl<'a> Concat<'a> {
    pub(crate) fn new(r: &'a dyn PositionedRead, parts: &[(u64, u64)]) -> Self {
        let mut segs = Vec::with_capacity(parts.len());
        let mut total = 0u64;
        for &(off, len) in parts {
            segs.push((total, off, len));
            total = total.saturating_add(len);
        }
        Concat { r, segs, total }
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Maps logical `[start, end)` to file segments, calling `f(file_start, file_end, skip)`
    /// where `skip` is how many logical bytes precede this piece within the range.
    pub(crate) fn map(&self, start: u64, end: u64, mut f: impl FnMut(u64, u64, u64)) {
        for &(ls, fo, len) in &self.segs {
            let le = ls.saturating_add(len);
            let s = start.max(ls);
            let e = end.min(le);
            if s < e {
                f(fo + (s - ls), fo + (e - ls), s - start);
            }
        }
    }
}

impl PositionedRead for Concat<'_> {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        // Only serve from the one segment holding `off`; callers loop for the rest.
        for &(ls, fo, len) in &self.segs {
            if off >= ls && off - ls < len {
                let n = (len - (off - ls)).min(buf.len() as u64) as usize;
                return self.r.read_at(&mut buf[..n], fo + (off - ls));
            }
        }
        Ok(0)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.total)
    }
}
