//! Case-insensitive name resolution over any lower filesystem (SPEC §5.10), without following
//! symlinks: a link in the lower tree is treated as absent, so no path ever leaves the tree.

use mediaprovider_policy::paths::{eq_fold, VolPath};
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Largest directory scanned for a case-insensitive match; beyond it only exact names resolve
/// (bounds the work a hostile lookup can cause).
const MAX_SCAN_ENTRIES: usize = 1_000_000;

/// Finds `name` in lower directory `dir`: the exact spelling first (one lstat), else the
/// entry that matches case-insensitively. Returns the on-disk name and its lstat metadata.
pub fn find_child(dir: &Path, name: &str) -> io::Result<Option<(String, Metadata)>> {
    match fs::symlink_metadata(dir.join(name)) {
        Ok(md) => return Ok(usable(md).map(|md| (name.to_string(), md))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    for entry in fs::read_dir(dir)?.take(MAX_SCAN_ENTRIES) {
        let entry = entry?;
        let os = entry.file_name();
        let Some(candidate) = os.to_str() else {
            continue;
        };
        if eq_fold(candidate, name) {
            let md = entry.metadata()?;
            return Ok(usable(md).map(|md| (candidate.to_string(), md)));
        }
    }
    Ok(None)
}

/// Symlinks and device/socket/fifo nodes are not served.
fn usable(md: Metadata) -> Option<Metadata> {
    let ft = md.file_type();
    if ft.is_symlink()
        || ft.is_block_device()
        || ft.is_char_device()
        || ft.is_socket()
        || ft.is_fifo()
    {
        None
    } else {
        Some(md)
    }
}

/// Resolves a whole volume path below `root`; `None` if any component is missing.
pub fn resolve(root: &Path, path: &VolPath) -> io::Result<Option<(PathBuf, Metadata)>> {
    let mut cur = root.to_path_buf();
    let mut md = fs::symlink_metadata(root)?;
    for comp in path.components() {
        if !md.is_dir() {
            return Ok(None);
        }
        match find_child(&cur, comp)? {
            Some((actual, m)) => {
                cur.push(actual);
                md = m;
            }
            None => return Ok(None),
        }
    }
    Ok(Some((cur, md)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_case_insensitively_and_ignores_symlinks() {
        let dir = std::env::temp_dir().join(format!("mpd-lower-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("DCIM/Camera")).unwrap();
        fs::write(dir.join("DCIM/Camera/A.jpg"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("DCIM/escape")).unwrap();
        let p = VolPath::parse("dcim/camera/a.JPG").unwrap();
        let (lp, md) = resolve(&dir, &p).unwrap().unwrap();
        assert_eq!(lp, dir.join("DCIM/Camera/A.jpg"));
        assert!(md.is_file());
        assert!(
            resolve(&dir, &VolPath::parse("DCIM/escape/passwd").unwrap())
                .unwrap()
                .is_none()
        );
        assert!(resolve(&dir, &VolPath::parse("DCIM/escape").unwrap())
            .unwrap()
            .is_none());
        fs::remove_dir_all(&dir).unwrap();
    }
}
