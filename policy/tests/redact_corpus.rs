//! Corpus oracle: every media file under the shared corpus is scanned, a copy is redacted
//! through the daemon's read path (`overlaps` + `apply_ranges` on 4 KiB reads), and
//! `tools/check_redaction.py ORIG COPY --strict` must pass. Files that `expected.json` marks as
//! carrying location must yield `has_location()`.
//!
//! Corpus: `$MEDIAPROVIDERD_CORPUS`, else `testdata/corpus` beside the test binary (atest's
//! `data:`), else `<policy>/../../shared/corpus`; the checker is
//! `<corpus>/../tools/check_redaction.py`. Without the corpus or the checker's dependencies
//! (python3 + Pillow + pillow-heif, exiftool, ffmpeg/ffprobe) the test prints why and passes,
//! unless `CI=true`, where it fails.

// In a `redact` module so `cargo test -p mediaprovider_policy redact` selects these tests.
mod redact {

    use std::fs;
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::Mutex;

    use mediaprovider_policy::redact::{apply_ranges, overlaps, scan_path};

    fn skip_or_fail(why: &str) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("redact_corpus: {why} (CI=true: dependencies are mandatory)");
        }
        eprintln!("redact_corpus: SKIPPED: {why}");
    }

    fn ok(cmd: &str, args: &[&str]) -> bool {
        Command::new(cmd)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
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

    /// Copies `orig` to `dst` the way a redacted reader sees it.
    fn redact_copy(orig: &Path, dst: &Path) -> Result<bool, String> {
        let r = scan_path(orig).map_err(|e| format!("scan: {e}"))?;
        let data = fs::read(orig).map_err(|e| e.to_string())?;
        let mut f = fs::File::create(dst).map_err(|e| e.to_string())?;
        for (i, chunk) in data.chunks(4096).enumerate() {
            let off = (i * 4096) as u64;
            let mut buf = chunk.to_vec();
            if overlaps(&r.ranges, off, buf.len() as u64) {
                apply_ranges(&r.ranges, off, &mut buf);
            }
            f.write_all(&buf).map_err(|e| e.to_string())?;
        }
        Ok(r.has_location())
    }

    /// `$MEDIAPROVIDERD_CORPUS`; else `testdata/corpus` beside the test binary, where atest
    /// installs Android.bp's `data:`; else the shared corpus next to the Cargo workspace.
    fn corpus_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("MEDIAPROVIDERD_CORPUS") {
            return PathBuf::from(dir);
        }
        let beside_binary = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("testdata/corpus")));
        match beside_binary {
            Some(d) if d.is_dir() => d,
            _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
        }
    }

    #[test]
    fn corpus_passes_strict_oracle() {
        let corpus = corpus_dir();
        let checker = corpus.join("../tools/check_redaction.py");
        if !corpus.is_dir() || !checker.is_file() {
            return skip_or_fail(&format!("no corpus/checker at {}", corpus.display()));
        }
        let deps = [
            (
                "python3 with Pillow and pillow-heif",
                ok("python3", &["-c", "import PIL, pillow_heif"]),
            ),
            ("exiftool", ok("exiftool", &["-ver"])),
            ("ffmpeg", ok("ffmpeg", &["-version"])),
            ("ffprobe", ok("ffprobe", &["-version"])),
        ];
        let missing: Vec<&str> = deps.iter().filter(|d| !d.1).map(|d| d.0).collect();
        if !missing.is_empty() {
            return skip_or_fail(&format!("missing {}", missing.join(", ")));
        }
        let expected: serde_json::Value =
            serde_json::from_slice(&fs::read(corpus.join("expected.json")).expect("expected.json"))
                .expect("expected.json parses");
        let with_location: Vec<String> = expected
            .as_array()
            .expect("expected.json is a list")
            .iter()
            .filter(|e| e["has_location"] == true)
            .filter_map(|e| e["file"].as_str().map(String::from))
            .collect();

        let mut files = Vec::new();
        media_files(&corpus, &mut files);
        assert!(!files.is_empty(), "no media files in {}", corpus.display());
        let tmp = std::env::temp_dir().join(format!("redact_corpus_{}", std::process::id()));
        fs::create_dir_all(&tmp).unwrap();

        let next = Mutex::new(0usize);
        let failures = Mutex::new(Vec::new());
        let work = || loop {
            let i = {
                let mut n = next.lock().unwrap();
                *n += 1;
                *n - 1
            };
            let Some(orig) = files.get(i) else { break };
            let rel = orig
                .strip_prefix(&corpus)
                .unwrap_or(orig)
                .to_string_lossy()
                .into_owned();
            let dst = tmp.join(rel.replace('/', "__"));
            let res = redact_copy(orig, &dst).and_then(|has| {
                if with_location.contains(&rel) && !has {
                    return Err("expected.json says it has location, scanner found none".into());
                }
                let o = Command::new("python3")
                    .arg(&checker)
                    .arg(orig)
                    .arg(&dst)
                    .arg("--strict")
                    .output()
                    .map_err(|e| e.to_string())?;
                if o.status.success() {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&o.stdout).into_owned())
                }
            });
            match res {
                Ok(()) => eprintln!("ok   {rel}"),
                Err(e) => {
                    eprintln!("FAIL {rel}\n{e}");
                    failures.lock().unwrap().push(rel);
                }
            }
        };
        std::thread::scope(|s| {
            for _ in 0..std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(4)
            {
                s.spawn(work);
            }
        });
        let _ = fs::remove_dir_all(&tmp);
        let failures = failures.into_inner().unwrap();
        eprintln!(
            "redact_corpus: {}/{} passed",
            files.len() - failures.len(),
            files.len()
        );
        assert!(failures.is_empty(), "failed: {failures:?}");
    }
}
