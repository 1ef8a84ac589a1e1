//! Query benchmark (SPEC §10, §11): a page of 100 rows sorted by `date_taken` from a store of
//! ROWS files (default 1,000,000: 1,000 dirs × 1,000 mixed files), for several callers, through
//! the same `query::run_query` the CLI and the socket use. Prints medians in milliseconds.
//!
//!   cargo run --release -p mediaprovider_policy --example query_bench -- [ROWS] [DB]

use mediaprovider_policy::identity::{Package, PermSet, Permission};
use mediaprovider_policy::query::{self, Collection, Query};
use mediaprovider_policy::store::{SortKey, Store};
use rusqlite::params;
use std::path::PathBuf;
use std::time::Instant;

const RUNS: usize = 41;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: i64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let db = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mpd-query-bench.db"));
    let store = Store::open(&db)?;
    if store.count_files()? as i64 != rows {
        drop(store);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
        }
        let store = Store::open(&db)?;
        fill(&store, rows)?;
    }
    let store = Store::open(&db)?;
    for (name, uid, perms) in [
        ("reader", 10_800, vec![Permission::ReadMediaImages]),
        (
            "locator",
            10_801,
            vec![Permission::ReadMediaImages, Permission::AccessMediaLocation],
        ),
        ("owner-only", 10_802, vec![]),
    ] {
        if store.package(&format!("com.bench.{name}"))?.is_none() {
            store.add_package(&Package {
                name: format!("com.bench.{name}"),
                uid,
                target_sdk: 34,
                legacy: false,
                perms: PermSet::of(&perms),
            })?;
        }
    }
    let cases = [
        ("root, all files", 0, Collection::Files),
        ("READ_MEDIA_IMAGES, images", 10_800, Collection::Images),
        (
            "READ_MEDIA_IMAGES + ACCESS_MEDIA_LOCATION, images",
            10_801,
            Collection::Images,
        ),
        (
            "READ_MEDIA_IMAGES, all files (skips others' non-images)",
            10_800,
            Collection::Files,
        ),
    ];
    println!("store: {rows} rows ({})", db.display());
    for (what, uid, collection) in cases {
        let caller = store.caller(uid)?;
        let q = Query {
            collection,
            sort: SortKey::DateTaken,
            desc: true,
            limit: Some(100),
            ..Query::default()
        };
        let mut times = Vec::with_capacity(RUNS);
        let mut n = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            n = 0;
            query::run_query(&store, &caller, &q, &mut |_| n += 1)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "query page of {n} sorted by date_taken desc — {what}: median {:.2} ms, p90 {:.2} ms",
            times[RUNS / 2],
            times[RUNS * 9 / 10]
        );
    }
    Ok(())
}

/// Inserts `rows` rows in one transaction (the triggers run as for any insert).
fn fill(store: &Store, rows: i64) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let conn = store.connection();
    conn.execute_batch("BEGIN")?;
    {
        let mut ins = conn.prepare(
            "INSERT INTO files(path, path_key, parent_key, owner, mime, media_type, size,
                               mtime_ns, date_taken, width, height, latitude, longitude,
                               meta_done, location)
             VALUES(?1, lower(?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, 4000, 3000, ?9, ?10, 1, ?11)",
        )?;
        let kinds = [
            ("jpg", "image/jpeg", 1),
            ("mp4", "video/mp4", 3),
            ("jpg", "image/jpeg", 1),
            ("mp3", "audio/mpeg", 2),
            ("pdf", "application/pdf", 6),
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..rows {
            // xorshift: dates spread over ~10 years, in no relation to insertion order.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (ext, mime, media) = kinds[(i % 5) as usize];
            let dir = format!("DCIM/d{:04}", i / 1000);
            let owner = (i % 97 == 0).then_some("com.bench.owner-only");
            let taken = 1_400_000_000_000i64 + (x % 315_360_000_000) as i64;
            let gps = i % 3 == 0;
            ins.execute(params![
                format!("{dir}/f{i}.{ext}"),
                dir.to_lowercase(),
                owner,
                mime,
                media,
                1000 + i,
                taken * 1_000_000,
                taken,
                gps.then_some(48.85),
                gps.then_some(2.35),
                gps
            ])?;
        }
    }
    conn.execute_batch("COMMIT")?;
    eprintln!("filled {rows} rows in {:.1}s", t.elapsed().as_secs_f64());
    Ok(())
}
