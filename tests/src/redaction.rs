//! Redaction helpers (expected bytes from `ranges`, the Python oracle) and test data.

use crate::daemon::{mpd_ok, shared_dir};
use serde_json::Value;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

/// `mediaproviderd ranges FILE` applied to `orig`: the bytes a redacted reader must get.
pub fn apply_ranges_cli(file: &Path, orig: &[u8]) -> Vec<u8> {
    let out = mpd_ok(&["ranges", &file.display().to_string()]);
    let v: Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("ranges output {out:?}: {e}"));
    apply_ranges(&v, orig)
}

pub fn apply_ranges(v: &Value, orig: &[u8]) -> Vec<u8> {
    let mut out = orig.to_vec();
    for r in v["ranges"].as_array().expect("ranges: no \"ranges\" array") {
        let s = r["start"].as_u64().expect("range start") as usize;
        let e = r["end"].as_u64().expect("range end") as usize;
        assert!(
            s <= e && e <= out.len(),
            "range {s}..{e} outside the file ({})",
            out.len()
        );
        if let Some(fill) = r.get("fill").and_then(Value::as_u64) {
            out[s..e].iter_mut().for_each(|b| *b = fill as u8);
        } else if let Some(hex) = r.get("hex").and_then(Value::as_str) {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            assert_eq!(bytes.len(), e - s, "hex length of range {s}..{e}");
            out[s..e].copy_from_slice(&bytes);
        } else {
            panic!("range {r} has neither fill nor hex");
        }
    }
    out
}

/// Runs `python3 shared/tools/check_redaction.py ORIG REDACTED --strict`; Err(report) on failure.
pub fn check_redaction(orig: &Path, redacted: &Path) -> Result<(), String> {
    let tool = shared_dir().join("tools/check_redaction.py");
    let out = Command::new("python3")
        .arg(&tool)
        .arg(orig)
        .arg(redacted)
        .arg("--strict")
        .output()
        .map_err(|e| format!("cannot run python3 {}: {e}", tool.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Reads all of a file into memory (panics with the path on failure).
pub fn slurp(p: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    fs::File::open(p)
        .and_then(|mut f| f.read_to_end(&mut v))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    v
}
