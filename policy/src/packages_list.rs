//! Parser for Android's `/data/system/packages.list`.
//!
//! PackageManager rewrites the file on every install, update and uninstall
//! (frameworks/base `services/core/java/com/android/server/pm/Settings.java`,
//! `writePackageListLPr`), one line per package, fields separated by single spaces:
//!
//! ```text
//! name uid debuggable dataDir seinfo gids [profileableFromShell versionCode profileable installer]
//! com.example.app 10123 0 /data/user/0/com.example.app default:targetSdkVersion=34:complete 3003,9997 0 42 1 com.android.vending
//! ```
//!
//! * `uid` is the app's uid in user 0, i.e. its app id (`uid % 100000`); the uid in user `u` is
//!   `u * 100000 + uid` ([`PackagesListEntry::uid_for_user`]). Shared-uid packages repeat a uid.
//! * `debuggable`, `profileableFromShell`, `profileable`: `0` or `1`.
//! * `seinfo` is the SELinux seinfo string; since Android 10 it embeds
//!   `targetSdkVersion=N` ([`PackagesListEntry::target_sdk`]).
//! * `gids`: comma-separated supplementary gids, or `none`.
//! * The last four fields were appended over releases (Q: profileableFromShell and versionCode,
//!   S: profileable and installer: a package name or `@system`, `@product`, `@null`). Only the
//!   first six are required, as in system/core/libpackagelistparser; later fields, including
//!   ones future releases may append, are tolerated.
//!
//! Blank lines and lines starting with `#` are skipped. Errors name the 1-based line.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// Android's per-user uid range (`UserHandle.PER_USER_RANGE`).
pub const PER_USER_RANGE: u32 = 100_000;

/// Longest package name Android accepts for a directory name component.
const MAX_PACKAGE_NAME: usize = 255;

/// One line of packages.list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagesListEntry {
    /// Package name, validated like PackageManager does (dot-separated Java identifiers).
    pub package: String,
    /// Uid in user 0 (= app id).
    pub uid: u32,
    pub debuggable: bool,
    /// Private data directory, e.g. `/data/user/0/<package>`.
    pub data_dir: String,
    pub seinfo: String,
    /// Supplementary gids (`none` = empty).
    pub gids: Vec<u32>,
    pub profileable_from_shell: Option<bool>,
    pub version_code: Option<i64>,
    pub profileable: Option<bool>,
    /// Installer package, or `@system` / `@product` / `@null`.
    pub installer: Option<String>,
}

impl PackagesListEntry {
    /// `targetSdkVersion=N` from the seinfo string, if present.
    pub fn target_sdk(&self) -> Option<u32> {
        self.seinfo
            .split(':')
            .find_map(|part| part.strip_prefix("targetSdkVersion="))
            .and_then(|n| n.parse().ok())
    }

    /// The package's uid in Android user `user_id`; `None` if it would overflow.
    pub fn uid_for_user(&self, user_id: u32) -> Option<u32> {
        user_id.checked_mul(PER_USER_RANGE)?.checked_add(self.uid)
    }

    /// Identity used by [`diff`]: a package is the same install while name and uid stay equal.
    fn key(&self) -> (&str, u32) {
        (&self.package, self.uid)
    }
}

/// A malformed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagesListError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for PackagesListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "packages.list:{}: {}", self.line, self.message)
    }
}

impl std::error::Error for PackagesListError {}

/// Parse the whole file; the first malformed line (or a duplicate package) is an error.
pub fn parse(text: &str) -> Result<Vec<PackagesListEntry>, PackagesListError> {
    let (entries, mut errors) = parse_lenient(text);
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors.swap_remove(0))
    }
}

/// Parse the whole file, keeping every good line and reporting every bad one (for the live
/// watcher: one bad line must not make every package disappear). Of duplicate package names
/// the first line wins and later ones are reported.
pub fn parse_lenient(text: &str) -> (Vec<PackagesListEntry>, Vec<PackagesListError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(trimmed) {
            Ok(entry) => {
                if let Some(first) = first_line.get(&entry.package) {
                    errors.push(PackagesListError {
                        line,
                        message: format!(
                            "duplicate package {} (first listed on line {first})",
                            entry.package
                        ),
                    });
                } else {
                    first_line.insert(entry.package.clone(), line);
                    entries.push(entry);
                }
            }
            Err(message) => errors.push(PackagesListError { line, message }),
        }
    }
    (entries, errors)
}

/// Parse one non-blank line.
pub fn parse_line(line: &str) -> Result<PackagesListEntry, String> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    if fields.len() < 6 {
        return Err(format!(
            "too few fields ({}, need at least 6: name uid debuggable dataDir seinfo gids)",
            fields.len()
        ));
    }
    let package = fields[0];
    validate_package(package)?;
    let uid = parse_uid(fields[1])?;
    let debuggable = parse_flag("debuggable", fields[2])?;
    let data_dir = fields[3];
    if !data_dir.starts_with('/') {
        return Err(format!("dataDir {data_dir:?} is not an absolute path"));
    }
    let seinfo = fields[4];
    let gids = parse_gids(fields[5])?;
    let profileable_from_shell = fields
        .get(6)
        .map(|f| parse_flag("profileableFromShell", f))
        .transpose()?;
    let version_code = fields
        .get(7)
        .map(|f| {
            f.parse::<i64>()
                .map_err(|_| format!("versionCode {f:?} is not an integer"))
        })
        .transpose()?;
    let profileable = fields
        .get(8)
        .map(|f| parse_flag("profileable", f))
        .transpose()?;
    let installer = fields.get(9).map(|f| (*f).to_owned());
    Ok(PackagesListEntry {
        package: package.to_owned(),
        uid,
        debuggable,
        data_dir: data_dir.to_owned(),
        seinfo: seinfo.to_owned(),
        gids,
        profileable_from_shell,
        version_code,
        profileable,
        installer,
    })
}

/// Package names become directory names (`Android/data/<pkg>`): accept only what
/// PackageManager accepts (FrameworkParsingPackageUtils.validateName): dot-separated segments,
/// each a letter followed by letters, digits or `_`.
fn validate_package(name: &str) -> Result<(), String> {
    if name.len() > MAX_PACKAGE_NAME {
        return Err(format!("package name longer than {MAX_PACKAGE_NAME} bytes"));
    }
    for segment in name.split('.') {
        let mut chars = segment.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("invalid package name {name:?}"));
        }
    }
    Ok(())
}

fn parse_uid(field: &str) -> Result<u32, String> {
    let uid: u32 = match field.parse() {
        Ok(u) if field.bytes().all(|b| b.is_ascii_digit()) => u,
        _ => {
            return Err(format!(
                "bad uid {field:?}: not a non-negative decimal number"
            ))
        }
    };
    if uid >= PER_USER_RANGE {
        return Err(format!(
            "bad uid {uid}: packages.list holds user-0 uids (app ids), which are below {PER_USER_RANGE}"
        ));
    }
    Ok(uid)
}

fn parse_flag(what: &str, field: &str) -> Result<bool, String> {
    match field {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("{what} must be 0 or 1, got {field:?}")),
    }
}

fn parse_gids(field: &str) -> Result<Vec<u32>, String> {
    if field == "none" {
        return Ok(Vec::new());
    }
    field
        .split(',')
        .map(|g| {
            g.parse::<u32>()
                .ok()
                .filter(|_| g.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("bad gid {g:?} in gids {field:?}"))
        })
        .collect()
}

/// Packages installed and uninstalled between two versions of the file: `(added, removed)`.
///
/// A package is identified by (name, uid). An update that keeps the uid (new version code,
/// new target SDK, new gids) is in neither list — see [`changed`] — so that the watcher never
/// treats an update as an uninstall (which deletes the app's private directories). A package
/// whose uid changed was uninstalled and reinstalled: it is in both lists.
pub fn diff(
    old: &[PackagesListEntry],
    new: &[PackagesListEntry],
) -> (Vec<PackagesListEntry>, Vec<PackagesListEntry>) {
    let old_keys: BTreeSet<(&str, u32)> = old.iter().map(PackagesListEntry::key).collect();
    let new_keys: BTreeSet<(&str, u32)> = new.iter().map(PackagesListEntry::key).collect();
    let added = new
        .iter()
        .filter(|e| !old_keys.contains(&e.key()))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|e| !new_keys.contains(&e.key()))
        .cloned()
        .collect();
    (added, removed)
}

/// Packages present in both versions (same name and uid) whose other fields changed; returns
/// the new entries (e.g. an app update that raised its target SDK).
pub fn changed(old: &[PackagesListEntry], new: &[PackagesListEntry]) -> Vec<PackagesListEntry> {
    let old_by_key: BTreeMap<(&str, u32), &PackagesListEntry> =
        old.iter().map(|e| (e.key(), e)).collect();
    new.iter()
        .filter(|e| old_by_key.get(&e.key()).is_some_and(|o| *o != *e))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
com.android.shell 2000 0 /data/user_de/0/com.android.shell platform:privapp:targetSdkVersion=34:complete 3003,1007,1015,1028 0 34 1 @system
com.example.camera 10123 1 /data/user/0/com.example.camera default:targetSdkVersion=29:complete none 0 7 1 com.android.vending
com.example.gallery 10124 0 /data/user/0/com.example.gallery default:targetSdkVersion=34:complete 9997
";

    #[test]
    fn parses_real_format() {
        let v = parse(SAMPLE).expect("parses");
        assert_eq!(v.len(), 3);
        let shell = &v[0];
        assert_eq!(shell.package, "com.android.shell");
        assert_eq!(shell.uid, 2000);
        assert!(!shell.debuggable);
        assert_eq!(shell.gids, [3003, 1007, 1015, 1028]);
        assert_eq!(shell.target_sdk(), Some(34));
        assert_eq!(shell.installer.as_deref(), Some("@system"));
        assert_eq!(shell.profileable, Some(true));
        let cam = &v[1];
        assert!(cam.debuggable);
        assert!(cam.gids.is_empty());
        assert_eq!(cam.version_code, Some(7));
        assert_eq!(cam.target_sdk(), Some(29));
        assert_eq!(cam.uid_for_user(10), Some(1_010_123));
        // Six-field line (pre-Q format): optional fields absent.
        let gal = &v[2];
        assert_eq!(gal.gids, [9997]);
        assert_eq!(gal.profileable_from_shell, None);
        assert_eq!(gal.version_code, None);
        assert_eq!(gal.installer, None);
    }

    #[test]
    fn skips_blank_and_comment_lines_and_tolerates_extra_fields() {
        let text = "\n# comment\n   \ncom.a.b 10001 0 /data/user/0/com.a.b default none 0 1 0 @null future\r\n";
        let v = parse(text).expect("parses");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].package, "com.a.b");
        assert_eq!(v[0].installer.as_deref(), Some("@null"));
        assert_eq!(v[0].target_sdk(), None);
    }

    #[test]
    fn errors_carry_line_numbers() {
        let text =
            "com.ok.app 10001 0 /data/user/0/com.ok.app default none\n\ncom.bad 10x 0 /d s none\n";
        let e = parse(text).expect_err("bad uid");
        assert_eq!(e.line, 3);
        assert!(e.to_string().starts_with("packages.list:3: bad uid"), "{e}");
    }

    #[test]
    fn rejects_bad_uids() {
        for uid in [
            "-1",
            "",
            "abc",
            "+5",
            "4294967296",
            "100000",
            "1010123",
            "0x10",
        ] {
            let line = format!("com.a.b {uid} 0 /data/user/0/com.a.b default none");
            assert!(parse_line(&line).is_err(), "uid {uid:?} accepted");
        }
        assert!(parse_line("com.a.b 0 0 /data default none").is_ok());
        assert!(parse_line("com.a.b 99999 0 /data default none").is_ok());
    }

    #[test]
    fn rejects_malformed_fields() {
        let bad = [
            "com.a.b 10001 0 /data/user/0/com.a.b default", // too few fields
            "com.a.b 10001 2 /data/user/0/com.a.b default none", // debuggable
            "com.a.b 10001 0 data/user/0/com.a.b default none", // relative dataDir
            "com.a.b 10001 0 /d default 1,,2",              // empty gid
            "com.a.b 10001 0 /d default 1,-2",              // negative gid
            "com.a.b 10001 0 /d default none x",            // profileableFromShell
            "com.a.b 10001 0 /d default none 0 seven",      // versionCode
            "../evil 10001 0 /d default none",              // path traversal
            "com/evil 10001 0 /d default none",             // slash
            ".hidden 10001 0 /d default none",              // empty segment
            "com..a 10001 0 /d default none",               // empty segment
            "com.1a 10001 0 /d default none",               // segment starts with digit
            "com._a 10001 0 /d default none",               // segment starts with _
        ];
        for line in bad {
            assert!(parse_line(line).is_err(), "accepted: {line}");
        }
        let long = format!("{} 10001 0 /d default none", "a".repeat(256));
        assert!(parse_line(&long).is_err());
        assert!(parse_line("android 1000 0 /data/system default none").is_ok());
    }

    #[test]
    fn duplicate_packages() {
        let text = "com.a.b 10001 0 /d default none\ncom.a.b 10002 0 /d default none\n";
        let e = parse(text).expect_err("duplicate");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("first listed on line 1"), "{e}");
        let (ok, errs) = parse_lenient(text);
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].uid, 10001);
        assert_eq!(errs.len(), 1);
    }

    #[test]
    fn lenient_keeps_good_lines() {
        let text = "com.a.b 10001 0 /d default none\ngarbage\ncom.c.d 10002 0 /d default none\n";
        let (ok, errs) = parse_lenient(text);
        assert_eq!(ok.len(), 2);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 2);
    }

    #[test]
    fn diff_reports_installs_and_uninstalls_not_updates() {
        let old = parse(SAMPLE).expect("parses");
        let mut text = SAMPLE.replace(
            "com.example.camera 10123 1 /data/user/0/com.example.camera default:targetSdkVersion=29:complete none 0 7",
            "com.example.camera 10123 1 /data/user/0/com.example.camera default:targetSdkVersion=33:complete none 0 8",
        );
        text = text.replace("com.example.gallery 10124", "com.example.gallery 10200");
        text.push_str("com.example.new 10300 0 /data/user/0/com.example.new default none\n");
        let new = parse(&text).expect("parses");

        let (added, removed) = diff(&old, &new);
        let names = |v: &[PackagesListEntry]| -> Vec<(String, u32)> {
            v.iter().map(|e| (e.package.clone(), e.uid)).collect()
        };
        assert_eq!(
            names(&added),
            [
                ("com.example.gallery".to_owned(), 10200),
                ("com.example.new".to_owned(), 10300)
            ]
        );
        assert_eq!(names(&removed), [("com.example.gallery".to_owned(), 10124)]);

        let upd = changed(&old, &new);
        assert_eq!(upd.len(), 1);
        assert_eq!(upd[0].package, "com.example.camera");
        assert_eq!(upd[0].target_sdk(), Some(33));

        let (a, r) = diff(&new, &new);
        assert!(a.is_empty() && r.is_empty());
        assert!(changed(&new, &new).is_empty());
    }

    #[test]
    fn never_panics_on_junk() {
        let junk = [
            "\u{0}\u{1} \u{ff}",
            "a 1 0 / s none 0 9223372036854775808",
            "é.b 1 0 /d s none",
            "a 1 0 /d s ,",
            &"x ".repeat(10_000),
        ];
        for j in junk {
            let _ = parse_lenient(j);
        }
    }
}
