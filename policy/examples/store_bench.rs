//! Store benchmark (SPEC §10): reconcile of a generated tree and the cost of one policy
//! decision including the store lookup.
//!
//!   cargo run --release -p mediaprovider_policy --example store_bench -- [FILES] [WORKDIR]

use mediaprovider_policy::facts::{self, LowerEntry, LowerFacts};
use mediaprovider_policy::identity::{Package, PermSet, Permission};
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::rules::{self, Target};
use mediaprovider_policy::store::Store;
use std::path::PathBuf;
use std::time::Instant;

/// A lower tree without `.nomedia` files whose files carry no location.
struct NoLower;

impl LowerFacts for NoLower {
    fn has_nomedia(&self, _dir: &VolPath) -> bool {
        false
    }
    fn has_location(&self, _path: &VolPath) -> bool {
        false
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let files: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let work = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mpd-store-bench"));
    // MPD_BENCH_KEEP=1 keeps the generated tree (and reuses one of the same size) between runs.
    let keep = std::env::var_os("MPD_BENCH_KEEP").is_some();
    let lower = work.join("lower");
    let complete = work.join(format!("complete-{files}"));
    if !(keep && complete.exists()) {
        let _ = std::fs::remove_dir_all(&work);
    }
    let _ = std::fs::remove_file(work.join("media.db"));
    let _ = std::fs::remove_file(work.join("media.db-wal"));
    let _ = std::fs::remove_file(work.join("media.db-shm"));
    let per_dir = 1000;
    let exts = ["jpg", "mp4", "mp3", "pdf", "png"];
    let t = Instant::now();
    for i in 0..if complete.exists() { 0 } else { files } {
        let dir = lower.join(format!("DCIM/d{:04}", i / per_dir));
        if i % per_dir == 0 {
            std::fs::create_dir_all(&dir)?;
        }
        std::fs::write(dir.join(format!("f{i}.{}", exts[i % exts.len()])), b"x")?;
    }
    eprintln!(
        "generated {files} files in {:.2}s",
        t.elapsed().as_secs_f64()
    );

    let store = Store::open(&work.join("media.db"))?;
    let t = Instant::now();
    let s = store.reconcile(&lower)?;
    let secs = t.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let s2 = store.reconcile(&lower)?;
    let secs2 = t2.elapsed().as_secs_f64();

    store.add_package(&Package {
        name: "com.bench".into(),
        uid: 10500,
        target_sdk: 34,
        legacy: false,
        perms: PermSet::of(&[Permission::ReadMediaImages]),
    })?;
    let caller = store.caller(10500)?;
    let paths: Vec<VolPath> = (0..files)
        .step_by((files / 10_000).max(1))
        .map(|i| {
            VolPath::parse(&format!(
                "DCIM/d{:04}/f{i}.{}",
                i / per_dir,
                exts[i % exts.len()]
            ))
        })
        .collect::<Result<_, _>>()?;
    let rounds = 10;
    // The decision as the daemon makes it: facts::gather (row + grant in one query, hidden-dir
    // check) and the rule. The lower tree's answers are constant here: this times the store.
    let entry = LowerEntry {
        is_dir: false,
        size: 1,
        mtime_ns: 0,
        being_written: false,
    };
    // The first round reads every row from the store (and fills the decision cache); later
    // rounds decide the same paths again, as an app re-opening what it just listed does.
    let mut allowed = 0usize;
    let mut first_round_s = 0.0;
    let t = Instant::now();
    for round in 0..rounds {
        for p in &paths {
            let f = facts::gather(&store, &NoLower, &caller, p, Some(entry))?;
            if rules::open_read(&caller, Target { path: p, facts: &f }).allowed() {
                allowed += 1;
            }
        }
        if round == 0 {
            first_round_s = t.elapsed().as_secs_f64();
        }
    }
    let total_s = t.elapsed().as_secs_f64();
    let n = rounds * paths.len();
    // Only the decisions above are timed.
    let per_decision = total_s / n as f64 * 1e6;
    let first_round = first_round_s / paths.len() as f64 * 1e6;
    let later_rounds = (total_s - first_round_s) / (n - paths.len()).max(1) as f64 * 1e6;
    let (cache_hits, cache_misses) = store.decision_cache_counts();
    let t3 = Instant::now();
    for p in &paths {
        let _ = store.file(p)?;
    }
    eprintln!(
        "file(): {:.2}us",
        t3.elapsed().as_secs_f64() / paths.len() as f64 * 1e6
    );
    let t3 = Instant::now();
    for p in &paths {
        let _ = store.dir_hidden(&p.parent().unwrap_or_default());
    }
    eprintln!(
        "dir_hidden(): {:.2}us",
        t3.elapsed().as_secs_f64() / paths.len() as f64 * 1e6
    );
    let t3 = Instant::now();
    for _ in &paths {
        let _ = store.grant_for(&caller, 5)?;
    }
    eprintln!(
        "grant_for(): {:.2}us",
        t3.elapsed().as_secs_f64() / paths.len() as f64 * 1e6
    );
    println!(
        "{}",
        serde_json::json!({
            "files": s.files,
            "reconcile_first_s": (secs * 1000.0).round() / 1000.0,
            "reconcile_first_files_per_s": (s.files as f64 / secs).round(),
            "reconcile_again_s": (secs2 * 1000.0).round() / 1000.0,
            "reconcile_again_files_per_s": (s2.files as f64 / secs2).round(),
            "decisions": n,
            "decision_us": (per_decision * 100.0).round() / 100.0,
            "decision_first_round_us": (first_round * 100.0).round() / 100.0,
            "decision_later_rounds_us": (later_rounds * 100.0).round() / 100.0,
            "decision_cache_hits": cache_hits,
            "decision_cache_misses": cache_misses,
            "allowed": allowed,
        })
    );
    if keep {
        std::fs::write(&complete, b"")?;
    } else {
        std::fs::remove_dir_all(&work)?;
    }
    Ok(())
}
