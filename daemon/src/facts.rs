//! Gathering what the rule engine needs about one path — shared by `explain` and the daemon so
//! both always decide the same way.

use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::redact::{self, ScanResult};
use mediaprovider_policy::rules::FileFacts;
use mediaprovider_policy::store::{implied_owner, mtime_ns, Store, StoreError};
use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Facts for `path` whose lower entry is `lower` (`None`: it does not exist). `known_location`
/// is a scanner verdict the caller already holds for this exact file version, used when the
/// store has none, so the file is not scanned twice.
pub fn gather(
    store: &Store,
    caller: &Caller,
    path: &VolPath,
    lower: Option<(&Path, &Metadata)>,
    known_location: Option<bool>,
) -> Result<FileFacts, StoreError> {
    let Some((lpath, md)) = lower else {
        return store.facts(caller, path, false, false);
    };
    if md.is_dir() {
        return store.facts(caller, path, true, true);
    }
    let row = store.file(path)?;
    let mut facts = match &row {
        Some(r) => {
            let hidden = store.dir_hidden(&path.parent().unwrap_or_default());
            store.facts_for_row(caller, r, hidden)?
        }
        None => {
            // Not indexed yet (added behind our back): the owner it will get when indexed.
            let mut f = store.facts(caller, path, true, false)?;
            f.owner = implied_owner(path);
            f
        }
    };
    let fresh = row
        .as_ref()
        .filter(|r| r.size == md.size() && r.mtime_ns == mtime_ns(md));
    facts.has_location = match fresh.and_then(|r| r.location).or(known_location) {
        Some(known) => known,
        None => location_ranges(store, lpath, md)
            .map(|s| s.has_location())
            .unwrap_or(true),
    };
    Ok(facts)
}

/// The scanner's ranges for a lower file, from the cache when the file is unchanged
/// (same inode, size and mtime), else by scanning its headers and caching the result.
pub fn location_ranges(store: &Store, lpath: &Path, md: &Metadata) -> std::io::Result<ScanResult> {
    let (ino, size, mtime) = (md.ino(), md.size(), mtime_ns(md));
    if let Ok(Some(json)) = store.cached_ranges(ino, size, mtime) {
        if let Some(r) = serde_json::from_str(&json)
            .ok()
            .and_then(|v| ScanResult::from_json(&v))
        {
            return Ok(r);
        }
    }
    let file = File::open(lpath)?;
    let result = redact::scan(&file);
    // Only location-bearing files need their ranges again (at open); "no location" lives in
    // the file's row, so the common case costs no store write.
    if result.has_location() {
        let _ = store.put_ranges(ino, size, mtime, &result.to_json().to_string());
    }
    Ok(result)
}
