//! Checks made while the daemon is down (after each kill, and at the end): the lower tree holds
//! exactly the model's files with the content their last writer wrote; the store has a row for
//! each, with the owner the model says and nothing pending that was closed; and `scan` finds
//! nothing to add or remove. Paths a kill left open are settled from the lower tree first.

use super::admin::CHAOS_DIRS;
use super::content::Content;
use super::live::mpd_timed;
use super::model::{key, FileState, Model};
use super::report::Report;
use mediaprovider_policy::store::Store;
use mediaprovider_policy::{FileRow, VolPath};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Runs every check; `when` names the moment for the messages.
pub fn check(m: &mut Model, report: &Report, lower: &Path, db: &Path, when: &str) {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    super::lower::walk(lower, &VolPath::root(), &mut files, &mut dirs);
    let lower_files: HashMap<String, VolPath> = files.into_iter().map(|p| (key(&p), p)).collect();
    let lower_dirs: HashSet<String> = dirs.iter().map(key).collect();
    let rows = match store_rows(db, &dirs) {
        Ok(r) => r,
        Err(e) => {
            report.violation("store-unreadable", &format!("{when}: {e}"), &[]);
            return;
        }
    };
    let open = |k: &str| {
        m.dirty
            .iter()
            .any(|d| k == d || k.starts_with(&format!("{d}/")))
    };
    // 1. Settle what kills left open, from the lower tree (and the store, for owners).
    let lenient: HashSet<String> = m
        .files
        .keys()
        .chain(lower_files.keys())
        .filter(|k| open(k))
        .cloned()
        .collect();
    let lenient_dirs: Vec<String> = m
        .dirs
        .keys()
        .cloned()
        .chain(lower_dirs.iter().cloned())
        .filter(|k| open(k))
        .collect();
    // A rename the kill cut short may have moved a file to a key the model did not expect:
    // it is the same row (same id, so grants follow it), recognised by its content.
    let moved_from: HashMap<u64, FileState> = lenient
        .iter()
        .filter(|k| !lower_files.contains_key(*k))
        .filter_map(|k| m.file(k).cloned())
        .map(|f| (f.content.hash, f))
        .collect();
    for k in &lenient {
        let after = lower_files.get(k).and_then(|p| {
            let bytes = std::fs::read(lower.join(p.as_str())).ok()?;
            let old = m
                .file(k)
                .cloned()
                .or_else(|| moved_from.get(&super::content::fnv(&bytes)).cloned());
            Some(FileState {
                id: old.as_ref().map_or(0, |o| o.id),
                path: p.clone(),
                owner: rows.get(k).and_then(|r| r.owner.clone()),
                content: Content::new("lower-after-kill".into(), bytes),
                partial: false,
                // A create the kill cut short stays pending (hidden from others' listings).
                fuse_pending: rows.get(k).is_some_and(|r| r.fuse_pending),
            })
        });
        let after = after.map(|mut f| {
            if f.id == 0 {
                f.id = m.new_id();
            }
            f
        });
        m.end_file(k, 0, after);
    }
    for k in lenient_dirs {
        let after = dirs.iter().find(|d| key(d) == k).cloned();
        m.end_dir(&k, 0, after);
    }
    // 2. The lower tree holds exactly the model's files, with their content.
    let mut fixes: Vec<(String, Option<FileState>)> = Vec::new();
    for (k, h) in &m.files {
        let Some(f) = &h.current else { continue };
        match lower_files.get(k) {
            None => {
                report.violation(
                    "lower-missing",
                    &format!(
                        "{when}: {} ({}) is not in the lower tree",
                        f.path, f.content.label
                    ),
                    std::slice::from_ref(k),
                );
                fixes.push((k.clone(), None));
            }
            Some(p) => {
                let bytes = std::fs::read(lower.join(p.as_str())).unwrap_or_default();
                if !f.partial && bytes != f.content.bytes {
                    report.violation(
                        "lower-content",
                        &format!(
                            "{when}: {} holds {} bytes, its last writer wrote {} ({})",
                            f.path,
                            bytes.len(),
                            f.content.bytes.len(),
                            f.content.label
                        ),
                        std::slice::from_ref(k),
                    );
                }
                if f.partial || bytes != f.content.bytes {
                    let content = Content::new("lower".into(), bytes);
                    fixes.push((
                        k.clone(),
                        Some(FileState {
                            content,
                            partial: false,
                            ..f.clone()
                        }),
                    ));
                }
            }
        }
    }
    for (k, p) in &lower_files {
        if m.file(k).is_none() {
            report.violation(
                "lower-stray",
                &format!("{when}: the lower tree has {p}, which no operation left there"),
                std::slice::from_ref(k),
            );
        }
    }
    for (k, f) in fixes {
        m.end_file(&k, 0, f);
    }
    // 3. The store: one row per file, the model's owner, nothing pending.
    let chaos = |k: &str| {
        CHAOS_DIRS
            .iter()
            .any(|d| k.starts_with(&mediaprovider_policy::paths::fold(d)))
    };
    let mut owner_fixes = Vec::new();
    for (k, h) in &m.files {
        let Some(f) = &h.current else { continue };
        match rows.get(k) {
            None if chaos(k) && m.unseen_lower_changes > 0 => {}
            None => report.violation(
                "store-missing-row",
                &format!("{when}: {} has no row in the store", f.path),
                std::slice::from_ref(k),
            ),
            Some(r) => {
                let same = match (&r.owner, &f.owner) {
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    (None, None) => true,
                    _ => false,
                };
                if !same && !lenient.contains(k) {
                    report.violation(
                        "store-owner",
                        &format!(
                            "{when}: {} is owned by {:?} in the store, the model says {:?}",
                            f.path, r.owner, f.owner
                        ),
                        std::slice::from_ref(k),
                    );
                }
                if !same {
                    owner_fixes.push((k.clone(), r.owner.clone()));
                }
                // A create cut short by a kill was never closed: it may stay pending.
                if (r.is_pending || r.fuse_pending) && !lenient.contains(k) {
                    report.violation(
                        "store-pending",
                        &format!(
                            "{when}: {} is still pending in the store after its close",
                            f.path
                        ),
                        std::slice::from_ref(k),
                    );
                }
            }
        }
    }
    for (k, r) in &rows {
        let unseen_removal = chaos(k) && m.unseen_lower_changes > 0;
        if m.file(k).is_none() && !lenient.contains(k) && !unseen_removal {
            report.violation(
                "store-stale-row",
                &format!(
                    "{when}: the store has a row for {}, which does not exist",
                    r.path
                ),
                std::slice::from_ref(k),
            );
        }
    }
    for (k, owner) in owner_fixes {
        if let Some(f) = m.file(&k).cloned() {
            m.end_file(&k, 0, Some(FileState { owner, ..f }));
        }
    }
    // 4. `scan` agrees: nothing to add or remove beyond what changed behind the daemon's back.
    let args: Vec<String> = vec![
        "scan".into(),
        "--db".into(),
        db.display().to_string(),
        "--lower".into(),
        lower.display().to_string(),
    ];
    match mpd_timed(&args) {
        Ok((true, out, _)) => {
            let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_default();
            let (added, removed) = (
                v["added"].as_u64().unwrap_or(0),
                v["removed"].as_u64().unwrap_or(0),
            );
            let bound = m.unseen_lower_changes + lenient.len() as u64;
            if added > bound || removed > bound {
                report.violation(
                    "scan-mismatch",
                    &format!(
                        "{when}: scan added {added} and removed {removed} rows; at most {bound} were open \
                         ({} lower changes unseen, {} paths a kill left open)",
                        m.unseen_lower_changes,
                        lenient.len()
                    ),
                    &[],
                );
            }
        }
        Ok((false, _, err)) => report.violation("scan-failed", &format!("{when}: {err}"), &[]),
        Err(e) => report.violation("scan-failed", &format!("{when}: {e}"), &[]),
    }
    m.unseen_lower_changes = 0;
    m.dirty.clear();
}

/// Every row of the store (below each top-level dir, and the root's own files).
fn store_rows(db: &Path, dirs: &[VolPath]) -> Result<HashMap<String, FileRow>, String> {
    let store = Store::open(db).map_err(|e| format!("open {}: {e}", db.display()))?;
    let mut out = HashMap::new();
    let root_rows = store
        .list_dir(&VolPath::root())
        .map_err(|e| format!("list root: {e}"))?;
    for r in root_rows {
        out.insert(key(&r.path), r);
    }
    for d in dirs.iter().filter(|d| d.depth() == 1) {
        for r in store.list_tree(d).map_err(|e| format!("list {d}: {e}"))? {
            out.insert(key(&r.path), r);
        }
    }
    Ok(out)
}
