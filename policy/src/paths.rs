//! The path model: volume-relative paths and what a path means to the policy (SPEC §5).
//! Every comparison here is case-insensitive, like Android's casefolded `/data/media` (§5.10).

use std::fmt;

/// The 12 default top-level directories, in Android's order.
pub const DEFAULT_DIRS: [&str; 12] = [
    "Music",
    "Podcasts",
    "Ringtones",
    "Alarms",
    "Notifications",
    "Pictures",
    "Movies",
    "Download",
    "DCIM",
    "Documents",
    "Audiobooks",
    "Recordings",
];

/// Longest name a component may have (Linux NAME_MAX).
pub const NAME_MAX: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// `.`/`..`, NUL, or an empty component in the middle.
    Invalid(String),
    /// A component longer than NAME_MAX.
    TooLong,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Invalid(p) => write!(f, "invalid path '{}'", p.escape_debug()),
            PathError::TooLong => write!(f, "path component longer than {NAME_MAX} bytes"),
        }
    }
}

impl std::error::Error for PathError {}

/// A normalised path relative to the volume root: components joined by `/`, no leading or
/// trailing slash, no `.` or `..`. The empty path is the volume root.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct VolPath(String);

impl VolPath {
    pub fn root() -> VolPath {
        VolPath(String::new())
    }

    /// Parses a relative path (`DCIM/a.jpg`, `/DCIM//a.jpg/` is accepted too). `..` and NUL are
    /// rejected so that no path can leave the volume.
    pub fn parse(s: &str) -> Result<VolPath, PathError> {
        let mut out = String::with_capacity(s.len());
        for comp in s.split('/') {
            if comp.is_empty() {
                continue;
            }
            validate_component(comp)?;
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(comp);
        }
        Ok(VolPath(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    pub fn depth(&self) -> usize {
        self.components().count()
    }

    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    pub fn parent(&self) -> Option<VolPath> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => VolPath(self.0[..i].to_string()),
            None => VolPath::root(),
        })
    }

    /// Appends one component (validated).
    pub fn join(&self, name: &str) -> Result<VolPath, PathError> {
        validate_component(name)?;
        if name.contains('/') {
            return Err(PathError::Invalid(name.to_string()));
        }
        Ok(if self.is_root() {
            VolPath(name.to_string())
        } else {
            VolPath(format!("{}/{}", self.0, name))
        })
    }

    /// The case-folded key the store indexes on.
    pub fn key(&self) -> String {
        fold(&self.0)
    }

    /// True if `self` is `other` or lies below it (case-insensitive).
    pub fn starts_with(&self, other: &VolPath) -> bool {
        if other.is_root() {
            return true;
        }
        // Component by component, without allocating: directory renames test every node.
        let mut mine = self.components();
        other
            .components()
            .all(|y| mine.next().is_some_and(|x| eq_fold(x, y)))
    }

    /// Replaces the prefix `from` with `to` (for directory renames).
    pub fn rebase(&self, from: &VolPath, to: &VolPath) -> Option<VolPath> {
        if !self.starts_with(from) {
            return None;
        }
        let rest: Vec<&str> = self.components().skip(from.depth()).collect();
        let mut s = to.0.clone();
        for c in rest {
            if !s.is_empty() {
                s.push('/');
            }
            s.push_str(c);
        }
        Some(VolPath(s))
    }

    /// What this path means to the policy.
    pub fn info(&self) -> PathInfo {
        PathInfo::of(self)
    }
}

impl fmt::Display for VolPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate_component(comp: &str) -> Result<(), PathError> {
    if comp == "." || comp == ".." || comp.contains('\0') {
        return Err(PathError::Invalid(comp.to_string()));
    }
    if comp.len() > NAME_MAX {
        return Err(PathError::TooLong);
    }
    Ok(())
}

/// Case folding used for every name comparison and store key.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// Feeds `name`'s folded spelling to `state` (no allocation for ASCII names), so that names
/// equal under [`eq_fold`] hash alike.
pub fn hash_folded<H: std::hash::Hasher>(name: &str, state: &mut H) {
    if name.is_ascii() {
        let mut buf = [0u8; 64];
        for chunk in name.as_bytes().chunks(buf.len()) {
            let b = &mut buf[..chunk.len()];
            b.copy_from_slice(chunk);
            b.make_ascii_lowercase();
            state.write(b);
        }
    } else {
        state.write(fold(name).as_bytes());
    }
    state.write_u8(0xff);
}

pub fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold(a) == fold(b)
    }
}

/// The default top-level directory `name` names, in its canonical spelling.
pub fn default_dir(name: &str) -> Option<&'static str> {
    DEFAULT_DIRS.iter().copied().find(|d| eq_fold(d, name))
}

/// Names FAT cannot hold: `<>:"\|?*` and control characters (SPEC §5.4).
pub fn is_fat_invalid_name(name: &str) -> bool {
    name.chars()
        .any(|c| matches!(c, '<' | '>' | ':' | '"' | '\\' | '|' | '?' | '*') || c.is_control())
}

/// Which of Android's app-specific areas a path is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppArea {
    Data,
    Obb,
    Media,
}

impl AppArea {
    fn parse(s: &str) -> Option<AppArea> {
        if eq_fold(s, "data") {
            Some(AppArea::Data)
        } else if eq_fold(s, "obb") {
            Some(AppArea::Obb)
        } else if eq_fold(s, "media") {
            Some(AppArea::Media)
        } else {
            None
        }
    }
}

/// A path's meaning: its top-level dir and its place in `Android/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathInfo {
    pub depth: usize,
    /// The first component as written, if any.
    pub top: Option<String>,
    /// Canonical default dir name if the first component is one of the 12.
    pub default_top: Option<&'static str>,
    /// `Android` itself or anything below it.
    pub in_android: bool,
    /// `Android/{data,obb,media}` and, if present, the package component below it.
    pub app_area: Option<(AppArea, Option<String>)>,
}

impl PathInfo {
    pub fn of(p: &VolPath) -> PathInfo {
        let comps: Vec<&str> = p.components().take(3).collect();
        let top = comps.first().map(|s| s.to_string());
        let default_top = comps.first().and_then(|t| default_dir(t));
        let in_android = comps.first().is_some_and(|t| eq_fold(t, "Android"));
        let app_area = if in_android {
            comps
                .get(1)
                .and_then(|a| AppArea::parse(a))
                .map(|area| (area, comps.get(2).map(|s| s.to_string())))
        } else {
            None
        };
        PathInfo {
            depth: p.depth(),
            top,
            default_top,
            in_android,
            app_area,
        }
    }

    /// `Android/data/<pkg>/…` or `Android/obb/<pkg>/…`: returns the area and package.
    pub fn private_package(&self) -> Option<(AppArea, &str)> {
        match &self.app_area {
            Some((area @ (AppArea::Data | AppArea::Obb), Some(pkg))) => Some((*area, pkg)),
            _ => None,
        }
    }

    /// `Android/{data,obb,media}/<pkg>/…`: the package whose app-specific dir this is.
    pub fn app_dir_package(&self) -> Option<(AppArea, &str)> {
        match &self.app_area {
            Some((area, Some(pkg))) => Some((*area, pkg)),
            _ => None,
        }
    }

    /// `Android/data` or `Android/obb` themselves.
    pub fn is_data_or_obb_root(&self) -> bool {
        self.depth == 2 && matches!(self.app_area, Some((AppArea::Data | AppArea::Obb, None)))
    }

    /// `Android/data`, `Android/obb` or `Android/media` themselves.
    pub fn is_app_area_root(&self) -> bool {
        self.depth == 2 && matches!(self.app_area, Some((_, None)))
    }

    pub fn is_android_dir(&self) -> bool {
        self.depth == 1 && self.in_android
    }
}

/// Pending or trashed on-disk names: `.pending-<epoch>-<name>`, `.trashed-<epoch>-<name>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialName {
    Pending { expires: u64 },
    Trashed { expires: u64 },
}

pub fn parse_special_name(name: &str) -> Option<SpecialName> {
    let (rest, pending) = if let Some(r) = strip_prefix_fold(name, ".pending-") {
        (r, true)
    } else if let Some(r) = strip_prefix_fold(name, ".trashed-") {
        (r, false)
    } else {
        return None;
    };
    let dash = rest.find('-')?;
    let digits = &rest[..dash];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || dash + 1 >= rest.len() {
        return None;
    }
    let expires = digits.parse().ok()?;
    Some(if pending {
        SpecialName::Pending { expires }
    } else {
        SpecialName::Trashed { expires }
    })
}

fn strip_prefix_fold<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// A name that makes its file hidden media: dot-prefixed, but not a pending/trashed name.
pub fn is_hidden_name(name: &str) -> bool {
    name.starts_with('.') && parse_special_name(name).is_none()
}

/// Directories that are never hidden, even with a `.nomedia` inside: the top-level default
/// dirs, `DCIM/Camera` and Screenshots dirs (Android deletes such a `.nomedia`).
pub fn dir_never_hidden(dir: &VolPath) -> bool {
    let comps: Vec<&str> = dir.components().collect();
    match comps.as_slice() {
        [] => true,
        [top] => default_dir(top).is_some(),
        [top, sub] => {
            (eq_fold(top, "DCIM") && eq_fold(sub, "Camera")) || eq_fold(sub, "Screenshots")
        }
        _ => comps.last().is_some_and(|c| eq_fold(c, "Screenshots")),
    }
}

/// The directories whose `.nomedia` would hide `dir`'s contents (it and its ancestors, minus
/// the exempt ones), or `None` when a dot-named component hides them already.
pub fn nomedia_dirs(dir: &VolPath) -> Option<Vec<VolPath>> {
    let mut out = Vec::new();
    let mut cur = VolPath::root();
    for comp in dir.components() {
        cur = VolPath(if cur.is_root() {
            comp.to_string()
        } else {
            format!("{}/{}", cur.0, comp)
        });
        if dir_never_hidden(&cur) {
            continue;
        }
        if comp.starts_with('.') {
            return None;
        }
        out.push(cur.clone());
    }
    Some(out)
}

/// True when the directory makes its contents hidden: one of its components (not exempt) is a
/// dot-dir, or one of it or its ancestors (not exempt) holds a `.nomedia` file according to
/// `has_nomedia`.
pub fn dir_is_hidden(dir: &VolPath, has_nomedia: impl Fn(&VolPath) -> bool) -> bool {
    match nomedia_dirs(dir) {
        None => true,
        Some(dirs) => dirs.iter().any(has_nomedia),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_equal_under_eq_fold_hash_alike() {
        use std::hash::{BuildHasher, Hasher};
        let rs = std::collections::hash_map::RandomState::new();
        let h = |n: &str| {
            let mut s = rs.build_hasher();
            hash_folded(n, &mut s);
            s.finish()
        };
        let long = "A".repeat(200);
        for (a, b) in [
            ("IMG_1.JPG", "img_1.jpg"),
            ("\u{212A}elvin", "kelvin"),
            ("Ünïcode", "üNÏCODE"),
            (long.as_str(), &long.to_lowercase()),
        ] {
            assert!(eq_fold(a, b), "{a} {b}");
            assert_eq!(h(a), h(b), "{a} {b}");
        }
        assert_ne!(h("a"), h("b"));
        // A name is not confused with a longer one that starts like it.
        assert_ne!(h("ab"), h("abc"));
    }

    fn p(s: &str) -> VolPath {
        VolPath::parse(s).unwrap()
    }

    #[test]
    fn parse_normalises_and_rejects_escapes() {
        assert_eq!(p("/DCIM//Camera/a.jpg/").as_str(), "DCIM/Camera/a.jpg");
        assert!(p("").is_root());
        assert!(VolPath::parse("DCIM/../etc").is_err());
        assert!(VolPath::parse("./x").is_err());
        assert!(VolPath::parse("a\0b").is_err());
        assert_eq!(
            VolPath::parse(&"x".repeat(256)).unwrap_err(),
            PathError::TooLong
        );
        assert!(p("DCIM").join("a/b").is_err());
    }

    #[test]
    fn parent_name_and_rebase() {
        let x = p("DCIM/Camera/a.jpg");
        assert_eq!(x.file_name(), "a.jpg");
        assert_eq!(x.parent().unwrap().as_str(), "DCIM/Camera");
        assert_eq!(p("DCIM").parent().unwrap(), VolPath::root());
        assert!(x.starts_with(&p("dcim/CAMERA")));
        assert!(!p("DCIMX/a").starts_with(&p("DCIM")));
        assert_eq!(
            x.rebase(&p("dcim/camera"), &p("Pictures/Old"))
                .unwrap()
                .as_str(),
            "Pictures/Old/a.jpg"
        );
    }

    #[test]
    fn app_areas() {
        let i = p("Android/data/com.foo/files/x").info();
        assert_eq!(i.private_package(), Some((AppArea::Data, "com.foo")));
        let i = p("android/OBB/com.foo").info();
        assert_eq!(i.private_package(), Some((AppArea::Obb, "com.foo")));
        let i = p("Android/media/com.foo/x.jpg").info();
        assert_eq!(i.private_package(), None);
        assert_eq!(i.app_dir_package(), Some((AppArea::Media, "com.foo")));
        assert!(p("Android/data").info().is_data_or_obb_root());
        assert!(!p("Android/media").info().is_data_or_obb_root());
        assert!(p("Android").info().is_android_dir());
        assert_eq!(p("dcim/x").info().default_top, Some("DCIM"));
        assert_eq!(p("Foo/x").info().default_top, None);
    }

    #[test]
    fn special_and_hidden_names() {
        assert_eq!(
            parse_special_name(".pending-1700000000-a.jpg"),
            Some(SpecialName::Pending {
                expires: 1700000000
            })
        );
        assert_eq!(
            parse_special_name(".trashed-5-b.mp4"),
            Some(SpecialName::Trashed { expires: 5 })
        );
        assert_eq!(parse_special_name(".pending--a.jpg"), None);
        assert_eq!(parse_special_name(".pending-12-"), None);
        assert!(is_hidden_name(".secret.jpg"));
        assert!(is_hidden_name(".nomedia"));
        assert!(!is_hidden_name(".pending-1-a.jpg"));
        assert!(!is_hidden_name("a.jpg"));
    }

    #[test]
    fn hidden_dirs() {
        let none = |_: &VolPath| false;
        assert!(dir_is_hidden(&p("DCIM/.thumbs"), none));
        assert!(!dir_is_hidden(&p("DCIM/Camera"), none));
        let nomedia_in = |d: &'static str| move |x: &VolPath| x.key() == d;
        assert!(dir_is_hidden(
            &p("Pictures/Priv/sub"),
            nomedia_in("pictures/priv")
        ));
        assert!(!dir_is_hidden(&p("DCIM/Camera"), nomedia_in("dcim/camera")));
        assert!(!dir_is_hidden(&p("Pictures"), nomedia_in("pictures")));
        assert!(!dir_is_hidden(
            &p("Pictures/Screenshots"),
            nomedia_in("pictures/screenshots")
        ));
    }

    #[test]
    fn fat_names() {
        for bad in [
            "a<b", "a>b", "a:b", "a\"b", "a\\b", "a|b", "a?b", "a*b", "a\u{1}b",
        ] {
            assert!(is_fat_invalid_name(bad), "{bad:?}");
        }
        assert!(!is_fat_invalid_name("ordinary name (1).jpg"));
    }
}
