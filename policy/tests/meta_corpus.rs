//! Metadata oracle: every corpus file's extracted metadata (`meta::extract`) agrees with
//! exiftool: size, EXIF orientation, date taken (EXIF DateTimeOriginal + OffsetTimeOriginal,
//! else QuickTime CreateDate), duration (audio/video) and GPS position.
//!
//! Corpus: `$MEDIAPROVIDERD_CORPUS`, else `<policy>/../../shared/corpus`. Without the corpus or
//! exiftool the test prints `SKIP:` and passes, unless `CI=true`, where it fails.

use mediaprovider_policy::meta::{extract, MediaMeta};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn skip_or_fail(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("meta_corpus: {why} (CI=true: dependencies are mandatory)");
    }
    eprintln!("SKIP: meta_corpus: {why}");
}

fn corpus() -> PathBuf {
    std::env::var_os("MEDIAPROVIDERD_CORPUS")
        .map(PathBuf::from)
        .or_else(|| {
            // atest installs Android.bp's `data:` beside the test binary.
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.join("testdata/corpus")).filter(|d| d.is_dir())
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"))
}

fn media_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            media_files(&p, out);
        } else if !matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "md")) {
            out.push(p);
        }
    }
}

fn exiftool(p: &Path) -> Option<serde_json::Map<String, Value>> {
    let out = Command::new("exiftool")
        .args(["-a", "-G1", "-n", "-j", "-api", "LargeFileSupport=1"])
        .arg(p)
        .output()
        .ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get(0)?.as_object().cloned()
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// exiftool's `YYYY:MM:DD HH:MM:SS[+HH:MM]` (offset may come separately) → ms since epoch.
fn exif_ms(date: &str, offset: Option<&str>) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| date.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    if y == 0 {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    let off = offset.or_else(|| date.get(19..)).filter(|o| o.len() >= 6);
    if let Some(o) = off {
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let (oh, om) = (
            o.get(1..3)?.parse::<i64>().ok()?,
            o.get(4..6)?.parse::<i64>().ok()?,
        );
        secs -= sign * (oh * 3600 + om * 60);
    }
    Some(secs * 1000)
}

/// What exiftool says, in `MediaMeta` terms.
fn expected(t: &serde_json::Map<String, Value>) -> MediaMeta {
    let s = |k: &str| t.get(k).and_then(Value::as_str);
    let f = |k: &str| t.get(k).and_then(Value::as_f64);
    let mime = s("File:MIMEType").unwrap_or("");
    let timed = mime.starts_with("video/") || mime.starts_with("audio/");
    let mut m = MediaMeta::default();
    // Size: a movie's first visual track (tkhd), else the file's own size, else Composite.
    let track = (1..16).find_map(|i| {
        let w = f(&format!("Track{i}:ImageWidth")).filter(|w| *w > 0.0)?;
        let h = f(&format!("Track{i}:ImageHeight")).filter(|h| *h > 0.0)?;
        Some((w as i64, h as i64))
    });
    let file = f("File:ImageWidth")
        .zip(f("File:ImageHeight"))
        .map(|(w, h)| (w as i64, h as i64));
    let composite = s("Composite:ImageSize").and_then(|v| {
        let (w, h) = v.split_once(' ')?;
        Some((w.parse().ok()?, h.parse().ok()?))
    });
    let size = if timed {
        track.or(file)
    } else {
        file.or(track)
    }
    .or(composite);
    m.width = size.map(|s| s.0);
    m.height = size.map(|s| s.1);
    m.orientation = f("IFD0:Orientation").and_then(|o| match o as i64 {
        1 | 2 => Some(0),
        3 | 4 => Some(180),
        5 | 6 => Some(90),
        7 | 8 => Some(270),
        _ => None,
    });
    let exif_date = s("ExifIFD:DateTimeOriginal")
        .and_then(|d| exif_ms(d, s("ExifIFD:OffsetTimeOriginal").filter(|o| !o.is_empty())));
    let movie_date = s("QuickTime:CreateDate").and_then(|d| exif_ms(d, Some("+00:00")));
    m.date_taken_ms = if timed {
        movie_date.or(exif_date)
    } else {
        exif_date.or(movie_date)
    };
    if timed {
        m.duration_ms = f("QuickTime:Duration").map(|d| (d * 1000.0).round() as i64);
    }
    m.latitude = f("Composite:GPSLatitude");
    m.longitude = f("Composite:GPSLongitude");
    m
}

fn close(a: Option<f64>, b: Option<f64>, tol: f64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tol,
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn metadata_agrees_with_exiftool_on_the_corpus() {
    let dir = corpus();
    if !dir.is_dir() {
        return skip_or_fail(&format!("no corpus at {}", dir.display()));
    }
    if Command::new("exiftool").arg("-ver").output().is_err() {
        return skip_or_fail("exiftool is not installed (Debian: libimage-exiftool-perl)");
    }
    let mut files = Vec::new();
    media_files(&dir, &mut files);
    assert!(
        !files.is_empty(),
        "corpus at {} has no media",
        dir.display()
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for p in &files {
        let Some(tags) = exiftool(p) else {
            failures.push(format!("{}: exiftool gave no answer", p.display()));
            continue;
        };
        let want = expected(&tags);
        let got = extract(&fs::File::open(p).expect("corpus file opens"));
        let mut bad = Vec::new();
        if (got.width, got.height) != (want.width, want.height) {
            bad.push(format!(
                "size {:?}x{:?} want {:?}x{:?}",
                got.width, got.height, want.width, want.height
            ));
        }
        if got.orientation != want.orientation {
            bad.push(format!(
                "orientation {:?} want {:?}",
                got.orientation, want.orientation
            ));
        }
        if got.date_taken_ms != want.date_taken_ms {
            bad.push(format!(
                "date_taken {:?} want {:?}",
                got.date_taken_ms, want.date_taken_ms
            ));
        }
        let dur_ok = match (got.duration_ms, want.duration_ms) {
            (Some(a), Some(b)) => (a - b).abs() <= 1,
            (a, b) => a == b,
        };
        if !dur_ok {
            bad.push(format!(
                "duration {:?} want {:?}",
                got.duration_ms, want.duration_ms
            ));
        }
        // exiftool prints 16.16 fixed-point and ISO 6709 values rounded to 4–6 places.
        if !close(got.latitude, want.latitude, 5e-5) || !close(got.longitude, want.longitude, 5e-5)
        {
            bad.push(format!(
                "position {:?},{:?} want {:?},{:?}",
                got.latitude, got.longitude, want.latitude, want.longitude
            ));
        }
        if !bad.is_empty() {
            failures.push(format!("{}: {}", p.display(), bad.join("; ")));
        }
        checked += 1;
    }
    eprintln!("meta_corpus: {checked} files checked against exiftool");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
