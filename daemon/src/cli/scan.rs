//! `mediaproviderd scan --db FILE --lower DIR`: reconcile the store with the lower tree.

use super::{args, open_store, print_json, CliError, StoreContext};
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
    print_json(&serde_json::json!({
        "files": s.files,
        "dirs": s.dirs,
        "added": s.added,
        "removed": s.removed,
        "skipped": s.skipped,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "files_per_second": if secs > 0.0 { (s.files as f64 / secs).round() } else { 0.0 },
    }));
    Ok(())
}
