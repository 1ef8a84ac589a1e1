//! CTS-style location-redaction suite (SPEC §6, §7; anchor §4.4): every corpus file is put in
//! the lower tree and read through the mount by an app with READ_MEDIA_IMAGES/VIDEO but no
//! ACCESS_MEDIA_LOCATION; the bytes must pass `shared/tools/check_redaction.py --strict`, equal
//! `mediaproviderd ranges` applied to the original, and never reach an entitled reader (owner,
//! AML holder, bypass callers), who gets the original bytes — also concurrently, through held
//! fds, and through mmap.

use mediaproviderd_tests::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const RMI: &str = "READ_MEDIA_IMAGES";
const RMV: &str = "READ_MEDIA_VIDEO";
const AML: &str = "ACCESS_MEDIA_LOCATION";

/// A JPEG with EXIF and XMP GPS, and an MP4 with a location atom (CTS fixtures).
const JPEG_GPS: &str = "aosp-mediaprovider/lg_g4_iso_800_jpg.jpg";
const MP4_GPS: &str = "aosp-mediaprovider/test_video_gps.mp4";

struct Env {
    fx: &'static Fixture,
    corpus: PathBuf,
    has_location: HashMap<String, bool>,
    /// READ_MEDIA_IMAGES + READ_MEDIA_VIDEO, no ACCESS_MEDIA_LOCATION: gets redacted bytes.
    reader: App,
    /// The same plus ACCESS_MEDIA_LOCATION: gets the original bytes.
    aml: App,
}

fn skip_or_fail(why: &str) {
    if in_ci() {
        panic!("cts_redaction cannot run under CI=true: {why}");
    }
    skip_note(&format!("cts_redaction: {why}"));
}

fn env() -> Option<&'static Env> {
    static ENV: OnceLock<Option<Env>> = OnceLock::new();
    let fx = Fixture::shared()?;
    let e = ENV.get_or_init(|| {
        let corpus = shared_dir().join("corpus");
        let expected = corpus.join("expected.json");
        let Ok(text) = std::fs::read_to_string(&expected) else {
            return None;
        };
        let v: Value = serde_json::from_str(&text).expect("corpus/expected.json is JSON");
        let has_location = v
            .as_array()
            .expect("expected.json is an array")
            .iter()
            .map(|e| {
                (
                    e["file"].as_str().unwrap().to_string(),
                    e["has_location"].as_bool().unwrap(),
                )
            })
            .collect();
        Some(Env {
            fx,
            corpus,
            has_location,
            reader: fx.add_app("redact_reader", &[RMI, RMV]),
            aml: fx.add_app("redact_aml", &[RMI, RMV, AML]),
        })
    });
    if e.is_none() {
        skip_or_fail(&format!(
            "corpus not found at {} (expected.json)",
            shared_dir().join("corpus").display()
        ));
    }
    e.as_ref()
}

/// Is the oracle (python3 + Pillow + pillow-heif, exiftool, ffmpeg) usable here?
fn oracle_ok() -> bool {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    let r = OK.get_or_init(|| {
        let run = |cmd: &str, args: &[&str]| {
            Command::new(cmd)
                .args(args)
                .output()
                .map_err(|e| format!("{cmd}: {e}"))
                .and_then(|o| {
                    if o.status.success() {
                        Ok(())
                    } else {
                        Err(format!("{cmd} {args:?} failed"))
                    }
                })
        };
        run("python3", &["-c", "import PIL, pillow_heif"])?;
        run("exiftool", &["-ver"])?;
        run("ffmpeg", &["-version"])?;
        Ok(())
    });
    match r {
        Ok(()) => true,
        Err(why) => {
            skip_or_fail(&format!(
                "the redaction oracle cannot run ({why}); install: apt-get install -y \
                 libimage-exiftool-perl ffmpeg; pip install Pillow pillow-heif"
            ));
            false
        }
    }
}

impl Env {
    fn original(&self, file: &str) -> Vec<u8> {
        slurp(&self.corpus.join(file))
    }

    fn has_location(&self, file: &str) -> bool {
        *self
            .has_location
            .get(file)
            .unwrap_or_else(|| panic!("{file} is not in corpus/expected.json"))
    }

    /// Copies a corpus file into the lower tree (behind the daemon's back) under
    /// `<top>/<fresh dir>/`, returning its volume-relative path.
    fn place(&self, top: &str, file: &str) -> String {
        let name = Path::new(file)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let rel = format!("{top}/{}/{name}", self.fx.unique("rd"));
        self.fx.put_lower(&rel, &self.original(file));
        rel
    }

    /// The bytes a redacted reader must get for the lower file at `rel`.
    fn expected_redacted(&self, rel: &str) -> Vec<u8> {
        let p = self.fx.l(rel);
        apply_ranges_cli(&p, &slurp(&p))
    }

    /// Writes `bytes` to a scratch file with the same extension as `file`.
    fn scratch(&self, file: &str, bytes: &[u8]) -> PathBuf {
        let dir = self.fx.root.join("out");
        std::fs::create_dir_all(&dir).unwrap();
        let ext = Path::new(file)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let p = dir.join(format!("{}.{ext}", self.fx.unique("redacted")));
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

// =============================================================================================
// Per-corpus-file tests
// =============================================================================================

/// Redacted read through the mount passes the oracle (same size, only location ranges changed,
/// no location left, all other tags and pixels/frames unchanged).
fn redacted_read_passes_oracle(file: &str) {
    let Some(e) = env() else { return };
    if !oracle_ok() {
        return;
    }
    let rel = e.place("DCIM", file);
    let orig = e.original(file);
    let got = e
        .reader
        .read(&rel)
        .unwrap_or_else(|err| panic!("reader open {rel}: {err}"));
    assert_eq!(
        got.len(),
        orig.len(),
        "{file}: redaction must keep the size"
    );
    if e.has_location(file) {
        assert_ne!(
            got, orig,
            "{file} carries location: the reader must not get the original bytes"
        );
    }
    let out = e.scratch(file, &got);
    if let Err(report) = check_redaction(&e.corpus.join(file), &out) {
        panic!("{file}: check_redaction.py --strict failed:\n{report}");
    }
    let _ = std::fs::remove_file(out);
}

/// The reader's bytes are exactly `mediaproviderd ranges` applied to the original (SPEC §3).
fn redacted_read_matches_ranges(file: &str) {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", file);
    let want = e.expected_redacted(&rel);
    let got = e
        .reader
        .read(&rel)
        .unwrap_or_else(|err| panic!("reader open {rel}: {err}"));
    if got != want {
        let first = got.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "{file}: redacted read differs from `ranges` applied to the original (len {} vs {}, first difference at {first:?})",
            got.len(),
            want.len()
        );
    }
    // Reading in odd-sized preads gives the same bytes as one sequential read.
    let chunked = e.reader.read_chunked(&rel, 4093).unwrap();
    assert!(
        chunked == want,
        "{file}: pread in 4093-byte chunks differs from the whole-file read"
    );
}

/// An ACCESS_MEDIA_LOCATION holder gets the original bytes.
fn aml_reads_original(file: &str) {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", file);
    let got = e
        .aml
        .read(&rel)
        .unwrap_or_else(|err| panic!("AML open {rel}: {err}"));
    assert!(
        got == e.original(file),
        "{file}: AML holder must read the original bytes"
    );
}

/// Uploaded through the mount by an app: the owner reads back the original; after the close
/// the file is scanned and a reader without AML gets the redacted bytes.
fn owner_upload(file: &str) {
    let Some(e) = env() else { return };
    let owner = e.fx.add_app("uploader", &[]);
    let dir = e.fx.dir("DCIM", "upload");
    let name = Path::new(file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let rel = format!("{dir}/{name}");
    let orig = e.original(file);
    assert_eq!(owner.create(&rel, &orig), Ok(()), "upload {rel}");
    assert!(
        slurp(&e.fx.l(&rel)) == orig,
        "{file}: upload landed intact in the lower tree"
    );
    let back = owner.read(&rel).unwrap();
    assert!(
        back == orig,
        "{file}: the owner reads its own file unredacted"
    );
    let got = e.reader.read(&rel).unwrap();
    let want = e.expected_redacted(&rel);
    assert!(
        got == want,
        "{file}: after the upload is closed, a reader gets the redacted bytes"
    );
    if e.has_location(file) {
        assert!(
            got != orig,
            "{file}: location must be redacted for the reader"
        );
    }
}

macro_rules! corpus_tests {
    ($($ident:ident: $file:literal;)*) => {
        /// Every file the macro generates tests for (checked against expected.json).
        const CORPUS_FILES: &[&str] = &[$($file),*];
        $(
            mod $ident {
                #[test]
                fn redacted_read_passes_oracle() {
                    super::redacted_read_passes_oracle($file);
                }
                #[test]
                fn redacted_read_matches_ranges() {
                    super::redacted_read_matches_ranges($file);
                }
                #[test]
                fn aml_reads_original() {
                    super::aml_reads_original($file);
                }
                #[test]
                fn owner_upload() {
                    super::owner_upload($file);
                }
            }
        )*
    };
}

corpus_tests! {
    aosp_lg_g4_iso_800_dng_dng: "aosp-mediaprovider/lg_g4_iso_800_dng.dng";
    aosp_lg_g4_iso_800_jpg_jpg: "aosp-mediaprovider/lg_g4_iso_800_jpg.jpg";
    aosp_test_image_jpg: "aosp-mediaprovider/test_image.jpg";
    aosp_test_image_xmp_malformed_jpg: "aosp-mediaprovider/test_image_xmp_malformed.jpg";
    aosp_test_non_animated_webp_webp: "aosp-mediaprovider/test_non_animated_webp.webp";
    aosp_test_video_mp4: "aosp-mediaprovider/test_video.mp4";
    aosp_test_video_gps_mp4: "aosp-mediaprovider/test_video_gps.mp4";
    aosp_test_video_gps_ilst_tag_mp4: "aosp-mediaprovider/test_video_gps_ilst_tag.mp4";
    aosp_test_video_xmp_mp4: "aosp-mediaprovider/test_video_xmp.mp4";
    aosp_test_video_xmp_malformed_mp4: "aosp-mediaprovider/test_video_xmp_malformed.mp4";
    aosp_testvideo_meta_mp4: "aosp-mediaprovider/testvideo_meta.mp4";
    derived_dscn0010_xmp_attr_gps_jpg: "derived/DSCN0010_xmp_attr_gps.jpg";
    derived_png_exif_gps_png: "derived/PNG_exif_gps.png";
    derived_proto_loci_3gp: "derived/proto_loci.3gp";
    samples_canon_40d_jpg: "exif-samples/Canon_40D.jpg";
    samples_dscn0010_jpg: "exif-samples/DSCN0010.jpg";
    samples_dscn0021_jpg: "exif-samples/DSCN0021.jpg";
    samples_dscn0042_jpg: "exif-samples/DSCN0042.jpg";
    samples_hmd_nokia_8_3_5g_jpg: "exif-samples/HMD_Nokia_8.3_5G.jpg";
    samples_hmd_nokia_8_3_5g_hdr_heif: "exif-samples/HMD_Nokia_8.3_5G_hdr.heif";
    samples_img_5195_heic: "exif-samples/IMG_5195.HEIC";
    samples_iphone_13_pro_max_heic: "exif-samples/iphone_13_pro_max.HEIC";
    samples_iphone_hdr_yes_jpg: "exif-samples/iphone_hdr_YES.jpg";
    samples_jolla_jpg: "exif-samples/jolla.jpg";
    exiftool_apple_jpg: "exiftool/Apple.jpg";
    exiftool_dng_dng: "exiftool/DNG.dng";
    exiftool_extendedxmp_jpg: "exiftool/ExtendedXMP.jpg";
    exiftool_gps_jpg: "exiftool/GPS.jpg";
    exiftool_gopro_jpg: "exiftool/GoPro.jpg";
    exiftool_google_jpg: "exiftool/Google.jpg";
    exiftool_infiray_jpg: "exiftool/InfiRay.jpg";
    exiftool_mwg_jpg: "exiftool/MWG.jpg";
    exiftool_motorola_jpg: "exiftool/Motorola.jpg";
    exiftool_png_png: "exiftool/PNG.png";
    exiftool_quicktime_heic: "exiftool/QuickTime.heic";
    exiftool_quicktime_mov: "exiftool/QuickTime.mov";
    exiftool_riff_webp: "exiftool/RIFF.webp";
    exiftool_ricoh2_jpg: "exiftool/Ricoh2.jpg";
    nom_3gp_640x360_3gp: "nom-exif/3gp_640x360.3gp";
    nom_canon_r6_cr3: "nom-exif/canon-r6.cr3";
    nom_exif_legacy_png: "nom-exif/exif-legacy.png";
    nom_exif_one_entry_heic: "nom-exif/exif-one-entry.heic";
    nom_exif_avif: "nom-exif/exif.avif";
    nom_exif_png: "nom-exif/exif.png";
    nom_meta_mov: "nom-exif/meta.mov";
    nom_meta_mp4: "nom-exif/meta.mp4";
    nom_motion_photo_pixel_synth_jpg: "nom-exif/motion_photo_pixel_synth.jpg";
}

#[test]
fn every_corpus_file_has_tests() {
    let Some(e) = env() else { return };
    let mut listed: Vec<&str> = CORPUS_FILES.to_vec();
    listed.sort();
    let mut expected: Vec<&str> = e.has_location.keys().map(String::as_str).collect();
    expected.sort();
    assert_eq!(
        listed, expected,
        "corpus_tests! must list exactly the files of expected.json"
    );
}

// =============================================================================================
// Who gets which view
// =============================================================================================

/// Places `file`, then checks that `who` reads the original (`true`) or redacted bytes.
fn view_of(e: &Env, who: &User, top: &str, file: &str) -> (String, bool) {
    let rel = e.place(top, file);
    let got = who
        .read(&rel)
        .unwrap_or_else(|err| panic!("uid {} open {rel}: {err}", who.uid));
    let orig = e.original(file);
    if got == orig {
        return (rel, true);
    }
    let want = e.expected_redacted(&rel);
    assert!(
        got == want,
        "uid {}: {rel} is neither the original nor the redacted bytes",
        who.uid
    );
    (rel, false)
}

#[test]
fn reader_without_aml_gets_redacted_jpeg_and_mp4() {
    let Some(e) = env() else { return };
    for f in [JPEG_GPS, MP4_GPS] {
        assert!(!view_of(e, &e.reader, "DCIM", f).1, "{f}");
    }
}

#[test]
fn read_external_storage_below_33_is_redacted() {
    let Some(e) = env() else { return };
    let r =
        e.fx.add_app_with("res30_redact", &["READ_EXTERNAL_STORAGE"], Some(30), false);
    assert!(!view_of(e, &r, "Pictures", JPEG_GPS).1);
}

#[test]
fn gallery_role_reads_original() {
    let Some(e) = env() else { return };
    let g =
        e.fx.add_app("gal_redact", &["WRITE_MEDIA_IMAGES", "WRITE_MEDIA_VIDEO"]);
    for f in [JPEG_GPS, MP4_GPS] {
        assert!(view_of(e, &g, "DCIM", f).1, "{f}");
    }
}

#[test]
fn mes_reads_original() {
    let Some(e) = env() else { return };
    let m = e.fx.add_app("mes_redact", &["MANAGE_EXTERNAL_STORAGE"]);
    for f in [JPEG_GPS, MP4_GPS] {
        assert!(view_of(e, &m, "DCIM", f).1, "{f}");
    }
}

#[test]
fn legacy_reader_reads_original() {
    let Some(e) = env() else { return };
    let l =
        e.fx.add_app_with("legacy_redact", &["READ_EXTERNAL_STORAGE"], Some(29), true);
    assert!(view_of(e, &l, "DCIM", JPEG_GPS).1);
}

#[test]
fn privileged_and_shell_uids_read_original() {
    let Some(e) = env() else { return };
    for uid in [0u32, 1000, 1023, 2000] {
        assert!(view_of(e, &e.fx.user(uid), "DCIM", JPEG_GPS).1, "uid {uid}");
    }
}

#[test]
fn read_grant_without_permissions_is_redacted() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let c = e.fx.add_app("rgrant_redact", &[]);
    c.grant_file(&[&rel]);
    assert!(c.read(&rel).unwrap() == e.expected_redacted(&rel));
}

#[test]
fn user_selected_grant_is_redacted() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let c =
        e.fx.add_app("usel_redact", &["READ_MEDIA_VISUAL_USER_SELECTED"]);
    c.grant_file(&[&rel]);
    assert!(c.read(&rel).unwrap() == e.expected_redacted(&rel));
}

#[test]
fn write_grant_reads_original() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let c = e.fx.add_app("wgrant_redact", &[]);
    c.grant_file_write(&[&rel]);
    assert!(c.read(&rel).unwrap() == e.original(JPEG_GPS));
}

#[test]
fn write_open_by_owner_is_never_redacted() {
    let Some(e) = env() else { return };
    let owner = e.fx.add_app("wopen_owner", &[]);
    let dir = e.fx.dir("DCIM", "wopen");
    let rel = format!("{dir}/g.jpg");
    let orig = e.original(JPEG_GPS);
    assert_eq!(owner.create(&rel, &orig), Ok(()));
    let p = e.fx.m(&rel);
    let via_rdwr = owner.run(|| open(&p, libc::O_RDWR, 0)?.read_all());
    assert!(
        via_rdwr == Ok(orig),
        "O_RDWR read by the owner is the original"
    );
}

#[test]
fn readers_cannot_open_the_redacted_view_for_writing() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    assert_eq!(e.reader.open(&rel, libc::O_RDWR), Err(EACCES));
    assert_eq!(e.reader.open(&rel, libc::O_WRONLY), Err(EACCES));
}

#[test]
fn location_in_android_media_of_another_app_is_redacted() {
    let Some(e) = env() else { return };
    let b = e.fx.add_app("amedia_redact", &[]);
    let rel = format!("Android/media/{}/g.jpg", b.pkg);
    e.fx.put_lower(&rel, &e.original(JPEG_GPS));
    assert!(e.reader.read(&rel).unwrap() == e.expected_redacted(&rel));
    assert!(
        b.read(&rel).unwrap() == e.original(JPEG_GPS),
        "the owning package reads the original"
    );
}

#[test]
fn renamed_file_stays_redacted() {
    let Some(e) = env() else { return };
    let owner = e.fx.add_app("ren_redact", &[]);
    let dir = e.fx.dir("DCIM", "ren_redact");
    let rel = format!("{dir}/a.jpg");
    assert_eq!(owner.create(&rel, &e.original(JPEG_GPS)), Ok(()));
    let want = e.expected_redacted(&rel);
    assert!(e.reader.read(&rel).unwrap() == want);
    let pics = e.fx.dir("Pictures", "ren_redact");
    let moved = format!("{pics}/b.jpg");
    assert_eq!(owner.rename(&rel, &moved), Ok(()));
    assert!(
        e.reader.read(&moved).unwrap() == want,
        "still redacted under its new name"
    );
    assert!(owner.read(&moved).unwrap() == e.original(JPEG_GPS));
}

#[test]
fn aml_grant_and_revoke_flip_the_view() {
    // CTS testAccessMediaLocationInvalidation.
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let orig = e.original(JPEG_GPS);
    let red = e.expected_redacted(&rel);
    let c = e.fx.add_app("aml_flip", &[RMI]);
    assert!(c.read(&rel).unwrap() == red, "no AML: redacted");
    c.grant(&[AML]);
    assert!(c.read(&rel).unwrap() == orig, "AML granted: original");
    c.revoke(&[AML]);
    assert!(c.read(&rel).unwrap() == red, "AML revoked: redacted again");
    c.grant(&[AML]);
    assert!(c.read(&rel).unwrap() == orig, "AML granted again: original");
}

#[test]
fn file_without_location_is_identical_for_readers() {
    let Some(e) = env() else { return };
    // Files whose scanner finds nothing at all (Canon_40D.jpg, by contrast, has a GPS IFD with
    // only GPSVersionID, which is redacted like any GPS IFD).
    for f in [
        "aosp-mediaprovider/test_video.mp4",
        "exiftool/DNG.dng",
        "nom-exif/3gp_640x360.3gp",
    ] {
        assert!(!e.has_location(f));
        let rel = e.place("DCIM", f);
        assert!(e.reader.read(&rel).unwrap() == e.original(f), "{f}");
    }
}

// =============================================================================================
// Two kernel inodes per name (SPEC §7, reference/view-inodes.md)
// =============================================================================================

#[test]
fn entitled_and_redacted_views_have_different_inodes() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let x = e.aml.stat(&rel).unwrap();
    let y = e.reader.stat(&rel).unwrap();
    assert_ne!(x.ino, y.ino, "each view needs its own st_ino");
    assert_eq!(x.size, y.size, "both views have the original size");
    let root = e.fx.root_user().stat(&rel).unwrap();
    assert_ne!(
        root.ino, y.ino,
        "root gets the real view, not the redacted one"
    );
}

#[test]
fn st_ino_is_stable_across_view_switches() {
    // A file keeps its st_ino while it exists (POSIX; tar/rsync/find and Java's isSameFile
    // rely on (st_dev, st_ino)), even though the other uid's walk makes the kernel forget it.
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let x = e.aml.stat(&rel).unwrap().ino;
    let y = e.reader.stat(&rel).unwrap().ino;
    let mut seen_x = vec![x];
    let mut seen_y = vec![y];
    for _ in 0..3 {
        seen_x.push(e.aml.stat(&rel).unwrap().ino);
        seen_y.push(e.reader.stat(&rel).unwrap().ino);
    }
    seen_x.push(e.fx.root_user().stat(&rel).unwrap().ino);
    assert!(
        seen_x.iter().all(|&i| i == x),
        "real view st_ino changed across view switches: {seen_x:?}"
    );
    assert!(
        seen_y.iter().all(|&i| i == y),
        "redacted view st_ino changed across view switches: {seen_y:?}"
    );
}

#[test]
fn concurrent_stats_never_show_the_other_view() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let p = e.fx.m(&rel);
    let size = e.original(JPEG_GPS).len() as u64;
    let results: Vec<(bool, (Vec<u64>, u32))> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let entitled = i % 2 == 0;
                let u = if entitled {
                    &e.aml.user
                } else {
                    &e.reader.user
                };
                let p = &p;
                s.spawn(move || {
                    let r = u.run(|| {
                        let (mut inos, mut errors) = (Vec::<u64>::new(), 0u32);
                        for _ in 0..400 {
                            match stat(p) {
                                Ok(st) if st.size == size => {
                                    if !inos.contains(&st.ino) {
                                        inos.push(st.ino);
                                    }
                                }
                                _ => errors += 1,
                            }
                        }
                        (inos, errors)
                    });
                    (entitled, r)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut x_inos = Vec::new();
    let mut y_inos = Vec::new();
    for (entitled, (inos, errors)) in results {
        assert_eq!(errors, 0, "stat errors (entitled={entitled})");
        if entitled {
            x_inos.extend(inos)
        } else {
            y_inos.extend(inos)
        }
    }
    let leaked: Vec<&u64> = x_inos.iter().filter(|i| y_inos.contains(i)).collect();
    assert!(
        leaked.is_empty(),
        "an st_ino was seen by both views: {leaked:?} (real {x_inos:?}, redacted {y_inos:?})"
    );
}

#[test]
fn fstat_of_each_fd_shows_its_own_view() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", MP4_GPS);
    let p = e.fx.m(&rel);
    let via_fd = |u: &User| {
        u.run(|| Ok::<_, Errno>((open(&p, libc::O_RDONLY, 0)?.fstat()?.ino, stat(&p)?.ino)))
    };
    let (xf, xs) = via_fd(&e.aml.user).unwrap();
    let (yf, ys) = via_fd(&e.reader.user).unwrap();
    assert_eq!(xf, xs);
    assert_eq!(yf, ys);
    assert_ne!(xf, yf);
}

#[test]
fn listing_then_reading_gives_each_caller_its_view() {
    // A READDIRPLUS by one uid must not leave a dentry that serves its view to the other.
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let dir = rel.rsplit_once('/').unwrap().0.to_string();
    let red = e.expected_redacted(&rel);
    let orig = e.original(JPEG_GPS);
    for _ in 0..5 {
        assert!(e.aml.ls(&dir).unwrap().len() == 1);
        assert!(
            e.reader.read(&rel).unwrap() == red,
            "reader after AML listing"
        );
        assert!(e.reader.ls(&dir).unwrap().len() == 1);
        assert!(
            e.aml.read(&rel).unwrap() == orig,
            "AML after reader listing"
        );
    }
}

#[test]
fn held_entitled_fd_and_new_redacted_open_coexist() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let p = e.fx.m(&rel);
    let orig = e.original(JPEG_GPS);
    let red = e.expected_redacted(&rel);
    for entitled_first in [true, false] {
        let (first, second, want_first, want_second) = if entitled_first {
            (&e.aml.user, &e.reader.user, &orig, &red)
        } else {
            (&e.reader.user, &e.aml.user, &red, &orig)
        };
        let (opened, go) = (Signal::new(), Signal::new());
        std::thread::scope(|s| {
            let holder = s.spawn(|| {
                first.run(|| {
                    let fd = open(&p, libc::O_RDONLY, 0)?;
                    let a = fd.read_all()?;
                    opened.send();
                    go.wait(Duration::from_secs(60));
                    let b = fd.pread(0, a.len() + 1)?;
                    Ok::<_, Errno>((a, b))
                })
            });
            assert!(opened.wait(Duration::from_secs(60)));
            let other = second.read(&rel);
            go.send();
            let (a, b) = holder.join().unwrap().expect("holder reads");
            assert!(
                other.as_ref() == Ok(want_second),
                "second opener (entitled_first={entitled_first}) gets its own view: {:?}",
                other.as_ref().map(|v| v.len())
            );
            assert!(&a == want_first, "holder's first read");
            assert!(
                &b == want_first,
                "holder's read after the other view was opened"
            );
        });
    }
}

#[test]
fn mmap_shared_of_redacted_view_shows_redacted_bytes() {
    let Some(e) = env() else { return };
    for f in [JPEG_GPS, MP4_GPS] {
        let rel = e.place("DCIM", f);
        let red = e.expected_redacted(&rel);
        assert!(e.reader.mmap(&rel, true).unwrap() == red, "{f}: MAP_SHARED");
        assert!(
            e.aml.mmap(&rel, true).unwrap() == e.original(f),
            "{f}: entitled MAP_SHARED"
        );
    }
}

#[test]
fn mmap_private_of_redacted_view_shows_redacted_bytes() {
    let Some(e) = env() else { return };
    for f in [JPEG_GPS, MP4_GPS] {
        let rel = e.place("DCIM", f);
        let red = e.expected_redacted(&rel);
        assert!(
            e.reader.mmap(&rel, false).unwrap() == red,
            "{f}: MAP_PRIVATE"
        );
        assert!(
            e.aml.mmap(&rel, false).unwrap() == e.original(f),
            "{f}: entitled MAP_PRIVATE"
        );
    }
}

#[test]
fn concurrent_mmaps_of_both_views() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let p = e.fx.m(&rel);
    let orig = e.original(JPEG_GPS);
    let red = e.expected_redacted(&rel);
    let (mapped, go) = (Signal::new(), Signal::new());
    std::thread::scope(|s| {
        // The entitled app keeps a MAP_SHARED mapping (and its fd) while the reader maps.
        let holder = s.spawn(|| {
            e.aml.run(|| {
                let fd = open(&p, libc::O_RDONLY, 0)?;
                let len = fd.fstat()?.size as usize;
                let m = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        len,
                        libc::PROT_READ,
                        libc::MAP_SHARED,
                        fd.0,
                        0,
                    )
                };
                if m == libc::MAP_FAILED {
                    return Err(Errno::last());
                }
                let before = unsafe { std::slice::from_raw_parts(m as *const u8, len) }.to_vec();
                mapped.send();
                go.wait(Duration::from_secs(60));
                let after = unsafe { std::slice::from_raw_parts(m as *const u8, len) }.to_vec();
                unsafe { libc::munmap(m, len) };
                Ok((before, after))
            })
        });
        assert!(mapped.wait(Duration::from_secs(60)));
        let shared = e.reader.mmap(&rel, true);
        let private = e.reader.mmap(&rel, false);
        go.send();
        let (before, after) = holder.join().unwrap().expect("entitled mmap");
        assert!(
            shared.as_ref() == Ok(&red),
            "reader MAP_SHARED while entitled map is live"
        );
        assert!(
            private.as_ref() == Ok(&red),
            "reader MAP_PRIVATE while entitled map is live"
        );
        assert!(
            before == orig && after == orig,
            "entitled mapping keeps the original bytes"
        );
    });
}

#[test]
fn concurrent_entitled_and_redacted_readers_each_see_their_bytes() {
    let Some(e) = env() else { return };
    for f in [JPEG_GPS, MP4_GPS] {
        let rel = e.place("DCIM", f);
        let p = e.fx.m(&rel);
        let orig = e.original(f);
        let red = e.expected_redacted(&rel);
        const ITERS: u32 = 150;
        let results: Vec<(bool, (u32, u32, u32))> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    let entitled = i % 2 == 0;
                    let (u, want) = if entitled {
                        (&e.aml.user, &orig)
                    } else {
                        (&e.reader.user, &red)
                    };
                    let p = &p;
                    s.spawn(move || {
                        let r = u.run(|| {
                            let (mut wrong, mut errors, mut mmap_wrong) = (0u32, 0u32, 0u32);
                            for n in 0..ITERS {
                                match read_file(p) {
                                    Ok(b) if &b == want => {}
                                    Ok(_) => wrong += 1,
                                    Err(_) => errors += 1,
                                }
                                if n % 10 == 0 {
                                    match mmap_read(p, n % 20 == 0) {
                                        Ok(b) if &b == want => {}
                                        Ok(_) => mmap_wrong += 1,
                                        Err(_) => errors += 1,
                                    }
                                }
                            }
                            (wrong, errors, mmap_wrong)
                        });
                        (entitled, r)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (entitled, (wrong, errors, mmap_wrong)) in results {
            assert_eq!(
                (wrong, errors, mmap_wrong),
                (0, 0, 0),
                "{f}: {} reader: (wrong bytes, errors, wrong mmap bytes) over {ITERS} iterations",
                if entitled { "entitled" } else { "redacted" }
            );
        }
    }
}

// =============================================================================================
// The redacted view follows changes to the lower file (SPEC §7: inval_inode)
// =============================================================================================

/// An offset of `len` bytes lying outside every location range of the lower file at `rel`.
fn offset_outside_ranges(e: &Env, rel: &str, len: usize) -> u64 {
    let out = mpd_ok(&["ranges", &e.fx.l(rel).display().to_string()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let ranges: Vec<(u64, u64)> = v["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["start"].as_u64().unwrap(), r["end"].as_u64().unwrap()))
        .collect();
    let size = std::fs::metadata(e.fx.l(rel)).unwrap().len();
    // Near the end: compressed image data, far from the metadata at the start.
    let mut off = size - 64 - len as u64;
    while ranges.iter().any(|&(s, t)| off < t && s < off + len as u64) {
        off -= 1;
    }
    off
}

#[test]
fn owner_write_is_seen_by_a_new_redacted_open() {
    let Some(e) = env() else { return };
    let owner = e.fx.add_app("inval_owner", &[]);
    let dir = e.fx.dir("DCIM", "inval");
    let rel = format!("{dir}/g.jpg");
    assert_eq!(owner.create(&rel, &e.original(JPEG_GPS)), Ok(()));
    let before = e.reader.read(&rel).unwrap();
    assert!(before == e.expected_redacted(&rel));
    let off = offset_outside_ranges(e, &rel, 8);
    let patch: Vec<u8> = before[off as usize..off as usize + 8]
        .iter()
        .map(|b| b ^ 0xff)
        .collect();
    assert_eq!(owner.write_at(&rel, off, &patch), Ok(()));
    let after = e.reader.read(&rel).unwrap();
    assert!(
        after[off as usize..off as usize + 8] == patch[..],
        "reader sees the owner's write"
    );
    assert!(
        after == e.expected_redacted(&rel),
        "and the location is still redacted"
    );
}

#[test]
fn owner_write_reaches_a_held_redacted_fd() {
    let Some(e) = env() else { return };
    let owner = e.fx.add_app("inval_held", &[]);
    let dir = e.fx.dir("DCIM", "inval_held");
    let rel = format!("{dir}/g.jpg");
    assert_eq!(owner.create(&rel, &e.original(JPEG_GPS)), Ok(()));
    let off = offset_outside_ranges(e, &rel, 8);
    let p = e.fx.m(&rel);
    let (opened, go) = (Signal::new(), Signal::new());
    let patch = [0x5au8; 8];
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            e.reader.run(|| {
                let fd = open(&p, libc::O_RDONLY, 0)?;
                let first = fd.read_all()?;
                opened.send();
                go.wait(Duration::from_secs(60));
                // Give an asynchronous invalidation a moment (up to 5 s) to land.
                let mut again = fd.pread(off, 8)?;
                for _ in 0..250 {
                    if again == patch {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    again = fd.pread(off, 8)?;
                }
                Ok::<_, Errno>((first, again))
            })
        });
        assert!(opened.wait(Duration::from_secs(60)));
        assert_eq!(owner.write_at(&rel, off, &patch), Ok(()));
        go.send();
        let (first, again) = holder.join().unwrap().unwrap();
        assert!(
            first[..] != e.original(JPEG_GPS)[..],
            "holder has the redacted view"
        );
        assert_eq!(
            again,
            patch.to_vec(),
            "a held redacted fd sees the owner's write (inval_inode on change)"
        );
    });
}

#[test]
fn lower_file_change_is_seen_by_the_redacted_view() {
    let Some(e) = env() else { return };
    let rel = e.place("DCIM", JPEG_GPS);
    let before = e.reader.read(&rel).unwrap();
    assert!(before == e.expected_redacted(&rel));
    let off = offset_outside_ranges(e, &rel, 16) as usize;
    let mut bytes = slurp(&e.fx.l(&rel));
    for b in &mut bytes[off..off + 16] {
        *b ^= 0xa5;
    }
    // Rewrite in place (same inode, same size), as an app writing the lower file would.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(e.fx.l(&rel))
            .unwrap();
        f.write_all_at(&bytes[off..off + 16], off as u64).unwrap();
    }
    let mut after = e.reader.read(&rel).unwrap();
    for _ in 0..250 {
        if after[off..off + 16] == bytes[off..off + 16] {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        after = e.reader.read(&rel).unwrap();
    }
    assert!(
        after[off..off + 16] == bytes[off..off + 16],
        "redacted view shows the new lower bytes"
    );
    assert!(after == e.expected_redacted(&rel));
}

// =============================================================================================
// Sniffing and fail-closed behaviour (SPEC §6)
// =============================================================================================

/// Location values exiftool still finds in a file (latitude/longitude/position/coordinates).
fn location_seen_by_exiftool(p: &Path) -> Vec<String> {
    let out = Command::new("exiftool")
        .args(["-j", "-G", "-a", "-n"])
        .arg(p)
        .output()
        .expect("run exiftool");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let mut found = Vec::new();
    if let Some(obj) = v.get(0).and_then(Value::as_object) {
        for (k, val) in obj {
            let key = k.to_ascii_lowercase();
            let locational = [
                "gpslatitude",
                "gpslongitude",
                "gpsposition",
                "gpscoordinates",
                "locationinformation",
            ]
            .iter()
            .any(|t| key.contains(t));
            let empty = match val {
                Value::Null => true,
                Value::Number(n) => n.as_f64() == Some(0.0),
                Value::String(s) => s.trim().is_empty() || s.trim() == "0",
                _ => false,
            };
            if locational && !empty {
                found.push(format!("{k}={val}"));
            }
        }
    }
    found
}

#[test]
fn format_is_sniffed_from_content_not_extension() {
    let Some(e) = env() else { return };
    let orig = e.original(JPEG_GPS);
    for name in ["disguised.png", "disguised.mp4", "disguised.heic"] {
        let rel = format!("DCIM/{}/{name}", e.fx.unique("sniff"));
        e.fx.put_lower(&rel, &orig);
        let got = e.reader.read(&rel).unwrap();
        assert!(
            got != orig,
            "{name}: JPEG content with GPS must be redacted whatever the extension"
        );
        assert!(got == e.expected_redacted(&rel), "{name}: matches `ranges`");
    }
}

#[test]
fn granted_document_with_location_is_redacted() {
    let Some(e) = env() else { return };
    let rel = format!("Download/{}/photo.bin", e.fx.unique("docgps"));
    e.fx.put_lower(&rel, &e.original(JPEG_GPS));
    let c = e.fx.add_app("docgps_reader", &[]);
    c.grant_file(&[&rel]);
    let got = c.read(&rel).unwrap();
    assert!(
        got != e.original(JPEG_GPS),
        "a read grant is not a location grant"
    );
    assert!(got == e.expected_redacted(&rel));
}

#[test]
fn truncated_media_is_still_redacted() {
    let Some(e) = env() else { return };
    if !oracle_ok() {
        return;
    }
    // exiftool finds no location in a truncated MP4 at all, so only JPEGs (metadata at the
    // front, surviving the cut) make a meaningful case.
    for (f, keep) in [(JPEG_GPS, 0.6), ("exif-samples/DSCN0010.jpg", 0.3)] {
        let orig = e.original(f);
        let cut = &orig[..(orig.len() as f64 * keep) as usize];
        let name = Path::new(f)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let rel = format!("DCIM/{}/{name}", e.fx.unique("trunc"));
        e.fx.put_lower(&rel, cut);
        let before = location_seen_by_exiftool(&e.fx.l(&rel));
        assert!(
            !before.is_empty(),
            "{f}: the truncated original still carries location"
        );
        let got = e.reader.read(&rel).unwrap();
        assert_eq!(got.len(), cut.len(), "{f}: size kept");
        let out = e.scratch(f, &got);
        let after = location_seen_by_exiftool(&out);
        assert!(after.is_empty(), "{f} truncated to {keep}: location left for the reader: {after:?} (original had {before:?})");
        let _ = std::fs::remove_file(out);
    }
}

#[test]
fn hostile_media_does_not_break_the_daemon() {
    let Some(e) = env() else { return };
    let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff];
    jpeg.extend_from_slice(b"Exif\0\0MM\0\x2a\xff\xff\xff\xf0");
    jpeg.extend(pattern(64 * 1024, 77));
    let mut mp4 = Vec::new();
    mp4.extend_from_slice(&[0, 0, 0, 0x18]);
    mp4.extend_from_slice(b"ftypisom\0\0\0\0isommp42");
    mp4.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    mp4.extend_from_slice(b"moov");
    mp4.extend_from_slice(&[0, 0, 0, 1]);
    mp4.extend_from_slice(b"udta");
    mp4.extend_from_slice(&u64::MAX.to_be_bytes());
    mp4.extend(pattern(32 * 1024, 78));
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    png.extend_from_slice(b"eXIf");
    png.extend(pattern(4096, 79));
    let tiny = vec![0xff, 0xd8];
    for (name, bytes) in [
        ("h.jpg", &jpeg),
        ("h.mp4", &mp4),
        ("h.png", &png),
        ("tiny.jpg", &tiny),
    ] {
        let rel = format!("DCIM/{}/{name}", e.fx.unique("hostile"));
        e.fx.put_lower(&rel, bytes);
        let got = e.reader.read(&rel);
        let got = got.unwrap_or_else(|err| panic!("{name}: reader open failed: {err}"));
        assert_eq!(got.len(), bytes.len(), "{name}: size kept");
        assert!(
            e.aml.read(&rel).unwrap() == *bytes,
            "{name}: entitled bytes untouched"
        );
    }
    assert!(
        e.fx.try_wait().is_none(),
        "the daemon survived:\n{}",
        e.fx.log_tail(20)
    );
    assert!(e.fx.root_user().ls("DCIM").is_ok());
}
