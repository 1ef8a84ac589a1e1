//! `ranges` JSON (SPEC §3): `{"format":"jpeg","ranges":[{"start":N,"end":N,"kind":"…",
//! "fill":0} | {…,"hex":"…"}]}`. Also the store's cache encoding, hence the strict parser.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use super::{bmff, exif, png, xmp};
use super::{LocationRange, Replacement, ScanResult, FORMATS};

/// Kinds the scanner emits; parsed JSON maps these back to static strings (no allocation).
const KINDS: &[&str] = &[
    exif::KIND_GPS_IFD,
    exif::KIND_GPS_VALUE,
    exif::KIND_UNPARSED,
    xmp::KIND_ELEMENT,
    xmp::KIND_ATTR,
    xmp::KIND_PACKET,
    bmff::KIND_BOX,
    bmff::KIND_MDTA,
    png::KIND_CRC,
    png::KIND_LEGACY_HEX,
    png::KIND_COMPRESSED,
    "scan-failed",
    "too-many-ranges",
];

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(super) fn to_json(r: &ScanResult) -> Value {
    let ranges: Vec<Value> = r
        .ranges
        .iter()
        .map(|x| {
            let mut m = Map::new();
            m.insert("start".into(), json!(x.start));
            m.insert("end".into(), json!(x.end));
            m.insert("kind".into(), json!(x.kind));
            match &x.replacement {
                Replacement::Fill(b) => m.insert("fill".into(), json!(b)),
                Replacement::Bytes(v) => {
                    let mut s = String::with_capacity(v.len() * 2);
                    for b in v {
                        s.push(HEX[usize::from(b >> 4)] as char);
                        s.push(HEX[usize::from(b & 15)] as char);
                    }
                    m.insert("hex".into(), json!(s))
                }
            };
            Value::Object(m)
        })
        .collect();
    json!({ "format": r.format, "ranges": ranges })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let d = |c: u8| (c as char).to_digit(16).map(|v| v as u8);
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(d(p[0])? << 4 | d(p[1])?))
        .collect()
}

pub(super) fn from_json(v: &Value) -> Option<ScanResult> {
    let f = v.get("format")?.as_str()?;
    let format = *FORMATS.iter().find(|&&k| k == f)?;
    let mut ranges = Vec::new();
    let mut prev_end = 0u64;
    for x in v.get("ranges")?.as_array()? {
        let start = x.get("start")?.as_u64()?;
        let end = x.get("end")?.as_u64()?;
        if start >= end || start < prev_end {
            return None;
        }
        prev_end = end;
        let k = x.get("kind")?.as_str()?;
        let kind = match KINDS.iter().find(|&&s| s == k) {
            Some(s) => Cow::Borrowed(*s),
            None => Cow::Owned(k.to_owned()),
        };
        let replacement = match (x.get("fill"), x.get("hex")) {
            (Some(f), None) => Replacement::Fill(u8::try_from(f.as_u64()?).ok()?),
            (None, Some(h)) => {
                let b = unhex(h.as_str()?)?;
                if b.len() as u64 != end - start {
                    return None;
                }
                Replacement::Bytes(b)
            }
            _ => return None,
        };
        ranges.push(LocationRange {
            start,
            end,
            kind,
            replacement,
        });
    }
    Some(ScanResult { format, ranges })
}
