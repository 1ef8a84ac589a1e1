//! The metadata extractor on hostile input (SPEC §9, §11): deterministic mutations of the
//! corpus and of small synthetic headers (bit flips, huge counts and sizes, truncation) must
//! never panic, and whatever comes out stays within the columns' ranges. The cargo-fuzz target
//! `policy/fuzz/fuzz_targets/meta.rs` explores the same space without bounds.

use mediaprovider_policy::meta::{extract, MediaMeta};
use std::path::{Path, PathBuf};

fn corpus_files() -> Vec<PathBuf> {
    let dir = std::env::var_os("MEDIAPROVIDERD_CORPUS")
        .map(PathBuf::from)
        .or_else(|| {
            // atest installs Android.bp's `data:` beside the test binary.
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.join("testdata/corpus")).filter(|d| d.is_dir())
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    let mut out = Vec::new();
    let mut todo = vec![dir];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if !matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "md")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Small valid-looking headers of every container the extractor knows.
fn seeds() -> Vec<Vec<u8>> {
    let tiff_le = b"II*\0\x08\0\0\0\x02\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\x25\x88\x04\0\x01\0\0\0\x26\0\0\0\0\0\0\0\x02\0\x01\0\x02\0\x02\0\0\0N\0\0\0\x02\0\x05\0\x03\0\0\0\x44\0\0\0\0\0\0\0".to_vec();
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
    jpeg.extend_from_slice(&((tiff_le.len() + 8) as u16).to_be_bytes());
    jpeg.extend_from_slice(b"Exif\0\0");
    jpeg.extend_from_slice(&tiff_le);
    jpeg.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0, 2, 0, 3, 1, 1, 0x11, 0, 0xFF, 0xD9]);
    let mut png =
        b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0\0\0\0\0".to_vec();
    png.extend_from_slice(&(tiff_le.len() as u32).to_be_bytes());
    png.extend_from_slice(b"eXIf");
    png.extend_from_slice(&tiff_le);
    png.extend_from_slice(b"\0\0\0\0");
    let webp = b"RIFF\x20\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0\x0f\0\0\x07\0\0".to_vec();
    let mp4 = b"\0\0\0\x14ftypisom\0\0\0\0isom\0\0\0\x74moov\0\0\0\x6cmvhd\0\0\0\0\x7c\x25\xb0\x81\0\0\0\0\0\0\x03\xe8\0\0\x27\x10".iter().copied().chain(std::iter::repeat_n(0, 80)).collect();
    vec![tiff_le, jpeg, png, webp, mp4]
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    // Mutations concentrate on the headers, where the parsers look.
    let mut v = base[..base.len().min(64 << 10)].to_vec();
    let head = v.len().min(4096);
    for _ in 0..1 + rng.below(8) {
        if v.is_empty() {
            break;
        }
        let i = rng.below(head);
        match rng.below(4) {
            0 => v[i] ^= 1 << rng.below(8),
            1 => v[i] = 0xFF,
            2 => {
                let end = (i + 4).min(v.len());
                v[i..end].iter_mut().for_each(|b| *b = 0xFF);
            }
            _ => {
                let end = (i + 4).min(v.len());
                v[i..end].iter_mut().for_each(|b| *b = 0);
            }
        }
    }
    if rng.below(4) == 0 {
        let cut = rng.below(v.len() + 1);
        v.truncate(cut);
    }
    v
}

fn sane(m: &MediaMeta) -> bool {
    m.orientation
        .is_none_or(|o| matches!(o, 0 | 90 | 180 | 270))
        && m.latitude.is_none_or(|l| (-90.0..=90.0).contains(&l))
        && m.longitude.is_none_or(|l| (-180.0..=180.0).contains(&l))
        && m.latitude.is_some() == m.longitude.is_some()
        && m.width.is_none_or(|w| w > 0)
        && m.height.is_none_or(|h| h > 0)
}

#[test]
fn mutated_inputs_never_panic() {
    let mut bases = seeds();
    for p in corpus_files() {
        if let Ok(d) = std::fs::read(&p) {
            bases.push(d);
        }
    }
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut runs = 0;
    for base in &bases {
        assert!(sane(&extract(&base.as_slice())));
        for _ in 0..150 {
            let m = mutate(&mut rng, base);
            assert!(
                sane(&extract(&m.as_slice())),
                "insane result from a mutation"
            );
            runs += 1;
        }
    }
    // Empty and tiny inputs.
    for n in 0..16 {
        let v = vec![0xFFu8; n];
        assert_eq!(extract(&v.as_slice()), MediaMeta::default());
    }
    assert!(runs >= 150 * 5);
}
