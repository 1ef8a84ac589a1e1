//! File contents the apps write: real media from `../shared/corpus` (with and without
//! location) and synthetic bytes. Each content knows its location ranges, computed once by the
//! policy library's own scanner, so the oracle can tell location bytes in what a reader got.

use super::rng::Rng;
use mediaprovider_policy::redact::{self, ScanResult};
use std::path::Path;
use std::sync::Arc;

/// One version of a file's bytes.
#[derive(Debug)]
pub struct Content {
    /// Where it came from (corpus file name or `synthetic-N`), for logs.
    pub label: String,
    pub bytes: Vec<u8>,
    pub scan: ScanResult,
    pub hash: u64,
}

impl Content {
    pub fn new(label: String, bytes: Vec<u8>) -> Arc<Content> {
        let scan = redact::scan(&bytes);
        let hash = fnv(&bytes);
        Arc::new(Content {
            label,
            bytes,
            scan,
            hash,
        })
    }

    pub fn has_location(&self) -> bool {
        self.scan.has_location()
    }

    /// The bytes a redacted reader must get.
    pub fn redacted(&self) -> Vec<u8> {
        let mut out = self.bytes.clone();
        redact::apply_ranges(&self.scan.ranges, 0, &mut out);
        out
    }

    /// Does `served` carry this content's location? True when, in some location range, every
    /// byte that redaction changes (at least two) was served with its original value.
    pub fn leaks_into(&self, served: &[u8]) -> Option<(u64, u64)> {
        let red = self.redacted();
        for r in &self.scan.ranges {
            let (s, e) = (r.start as usize, (r.end as usize).min(self.bytes.len()));
            if s >= e || e > served.len() {
                continue;
            }
            let differing: Vec<usize> = (s..e).filter(|&i| self.bytes[i] != red[i]).collect();
            if differing.len() >= 2 && differing.iter().all(|&i| served[i] == self.bytes[i]) {
                return Some((r.start, r.end));
            }
        }
        None
    }
}

/// FNV-1a: a content checksum for logs and comparisons.
pub fn fnv(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What an app can write into a file of a given extension.
pub struct Palette {
    /// Corpus files by lower-case extension: (ext, content).
    media: Vec<(String, Arc<Content>)>,
}

/// Corpus files larger than this are left out (the lower tree may be a small tmpfs).
const MAX_CORPUS_FILE: u64 = 400 * 1024;

impl Palette {
    /// Loads the corpus files listed in `expected.json` (small ones only).
    pub fn load(shared: &Path) -> Result<Palette, String> {
        let corpus = shared.join("corpus");
        let text = std::fs::read_to_string(corpus.join("expected.json"))
            .map_err(|e| format!("{}: {e}", corpus.join("expected.json").display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("expected.json: {e}"))?;
        let mut media = Vec::new();
        for e in v.as_array().map(Vec::as_slice).unwrap_or_default() {
            let (Some(file), Some(size)) = (e["file"].as_str(), e["size"].as_u64()) else {
                continue;
            };
            if size > MAX_CORPUS_FILE {
                continue;
            }
            let Some(ext) = Path::new(file).extension().and_then(|x| x.to_str()) else {
                continue;
            };
            let bytes = std::fs::read(corpus.join(file)).map_err(|e| format!("{file}: {e}"))?;
            media.push((
                ext.to_ascii_lowercase(),
                Content::new(file.to_string(), bytes),
            ));
        }
        if !media.iter().any(|(_, c)| c.has_location()) {
            return Err("no corpus file with location found".into());
        }
        Ok(Palette { media })
    }

    /// Content for a new file named `*.ext`: a corpus file of that type when there is one
    /// (mostly), else synthetic bytes of `len` up to `max_len`.
    pub fn pick(&self, rng: &mut Rng, ext: &str, max_len: usize) -> Arc<Content> {
        let same: Vec<&Arc<Content>> = self
            .media
            .iter()
            .filter(|(e, _)| e == ext)
            .map(|(_, c)| c)
            .collect();
        if !same.is_empty() && rng.chance(80) {
            if let Some(c) = rng.pick(&same) {
                return Arc::clone(c);
            }
        }
        synthetic(rng, max_len)
    }

    /// A located corpus file (for rewrite races).
    pub fn located(&self, rng: &mut Rng, ext: &str) -> Option<Arc<Content>> {
        let v: Vec<&Arc<Content>> = self
            .media
            .iter()
            .filter(|(e, c)| e == ext && c.has_location())
            .map(|(_, c)| c)
            .collect();
        rng.pick(&v).map(|c| Arc::clone(c))
    }
}

/// Pseudo-random bytes (never media: no magic number survives by chance in the first bytes).
pub fn synthetic(rng: &mut Rng, max_len: usize) -> Arc<Content> {
    let len = rng.below(max_len.max(1)) + 1;
    let seed = rng.next_u64();
    let mut bytes = mediaproviderd_tests::pattern(len, seed);
    if let Some(b) = bytes.first_mut() {
        *b = b'#'; // not a JPEG/PNG/ISO signature
    }
    Content::new(format!("synthetic-{seed:x}-{len}"), bytes)
}
