//! `mediaproviderd scan --db FILE --lower DIR`: reconcile the store with the lower tree.

use super::{args, open_store, print_json, CliError, StoreContext};
use mediaprovider_policy::meta;
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::store::SETTING_LOWER;
use std::path::Path;
use std::time::Instant;

pub fn run(argv: &[String]) -> Result<(), CliError> {
    let a = args::parse(argv, &["db", "lower"], &[])?;
    a.no_positionals()?;
    let lower = Path::new(a.require("lower")?);
    if !lower.is_dir() {
        return Err(CliError::usage(format!(
            "--lower: {} is not a directory",
            lower.display()
        )));
    }
    let store = open_store(a.require("db")?)?;
    let t = Instant::now();
    let s = store
        .reconcile(lower)
        .doing(|| format!("reconciling with {}", lower.display()))?;
    let secs = t.elapsed().as_secs_f64();
    // Provider half (SPEC §11): metadata of new or changed files; the lower root is recorded
    // so that lifecycle commands can rename files without a running daemon.
    let metadata = index_metadata(&store, lower)?;
    print_json(&serde_json::json!({
        "files": s.files,
        "dirs": s.dirs,
        "added": s.added,
        "removed": s.removed,
        "skipped": s.skipped,
        "metadata_extracted": metadata,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "files_per_second": if secs > 0.0 { (s.files as f64 / secs).round() } else { 0.0 },
    }));
    Ok(())
}

fn index_metadata(store: &mediaprovider_policy::Store, lower: &Path) -> Result<usize, CliError> {
    let root = lower
        .canonicalize()
        .map_err(|e| CliError::failed(format!("--lower: {e}")))?;
    if store.setting(SETTING_LOWER)?.is_none() {
        store.set_setting(SETTING_LOWER, &root.to_string_lossy())?;
    }
    let open = |p: &VolPath| crate::provider::open_lower(&root, p);
    Ok(meta::index_pending(store, &open, usize::MAX)?)
}
