//! Direct access to the lower tree (as root, behind the daemon's back): finding a name
//! case-insensitively, reading what a write really left there, walking the tree.

use mediaprovider_policy::paths::fold;
use mediaprovider_policy::VolPath;
use std::path::{Path, PathBuf};

/// The lower file or directory that `p` names (case-insensitively), with its real path.
pub fn find(lower: &Path, p: &VolPath) -> Option<(VolPath, PathBuf)> {
    let mut real = lower.to_path_buf();
    let mut rel: Vec<String> = Vec::new();
    for comp in p.components() {
        let exact = real.join(comp);
        let name = if exact.symlink_metadata().is_ok() {
            comp.to_string()
        } else {
            let want = fold(comp);
            std::fs::read_dir(&real)
                .ok()?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| fold(n) == want)?
        };
        real = real.join(&name);
        rel.push(name);
    }
    Some((VolPath::parse(&rel.join("/")).ok()?, real))
}

/// The bytes of the lower file `p` names, if it is a regular file.
pub fn read(lower: &Path, p: &VolPath) -> Option<(VolPath, Vec<u8>)> {
    let (vp, real) = find(lower, p)?;
    if !real.symlink_metadata().ok()?.is_file() {
        return None;
    }
    Some((vp, std::fs::read(&real).ok()?))
}

/// Every regular file and directory below `dir` (volume-relative), depth first.
pub fn walk(lower: &Path, dir: &VolPath, files: &mut Vec<VolPath>, dirs: &mut Vec<VolPath>) {
    let real = if dir.is_root() {
        lower.to_path_buf()
    } else {
        lower.join(dir.as_str())
    };
    let Ok(rd) = std::fs::read_dir(&real) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(child) = dir.join(&name) else { continue };
        match e.file_type() {
            Ok(t) if t.is_dir() => {
                dirs.push(child.clone());
                walk(lower, &child, files, dirs);
            }
            Ok(t) if t.is_file() => files.push(child),
            _ => {}
        }
    }
}
