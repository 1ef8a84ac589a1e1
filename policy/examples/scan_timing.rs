//! Prints the location ranges of files and the CPU time one scan takes.
//!
//! `cargo run --release -p mediaprovider_policy --example scan_timing -- [--json] [--iters N] FILE...`

use std::time::{Duration, Instant};

use mediaprovider_policy::redact::{scan, scan_path};

/// CPU time of this (single-threaded) process, user + system, from the scheduler's
/// nanosecond counter, so the preads' syscall time is included.
fn cpu_time() -> Duration {
    let t = std::fs::read_to_string("/proc/self/schedstat").unwrap_or_default();
    let ns = t
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

fn main() {
    let mut json = false;
    let mut iters = 0u32;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--iters" => iters = args.next().and_then(|v| v.parse().ok()).unwrap_or(1000),
            _ => files.push(a),
        }
    }
    for f in files {
        let r = match scan_path(std::path::Path::new(&f)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{f}: {e}");
                continue;
            }
        };
        if json {
            println!("{}", r.to_json());
        } else {
            println!("{f}: {} {} ranges", r.format, r.ranges.len());
        }
        if iters > 0 {
            let file = match std::fs::File::open(&f) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("{f}: {e}");
                    continue;
                }
            };
            let (c0, w0) = (cpu_time(), Instant::now());
            for _ in 0..iters {
                std::hint::black_box(scan(&file));
            }
            let (cpu, wall) = (cpu_time() - c0, w0.elapsed());
            println!(
                "  {iters} scans: {:.1} us CPU/scan, {:.1} us wall/scan",
                cpu.as_secs_f64() * 1e6 / f64::from(iters),
                wall.as_secs_f64() * 1e6 / f64::from(iters)
            );
        }
    }
}
