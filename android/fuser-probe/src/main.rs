//! `fuser_probe MOUNTPOINT THREADS`: mounts the probe, stats 64 names from 8 client threads at
//! once, unmounts, and prints one JSON line: how many session threads served lookups and the
//! most lookups that were in flight together. Exits 1 if the session could not start.

use fuser_probe::{start, Seen};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mountpoint), Some(threads)) = (
        args.get(1).map(PathBuf::from),
        args.get(2).and_then(|t| t.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: fuser_probe MOUNTPOINT THREADS");
        std::process::exit(2);
    };
    let seen = Arc::new(Seen::default());
    let session = match start(&mountpoint, threads, seen.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fuser_probe: session did not start: {e}");
            std::process::exit(1);
        }
    };
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let dir = mountpoint.clone();
            std::thread::spawn(move || {
                (0..8)
                    .filter(|i| std::fs::metadata(dir.join(format!("f{}", c * 8 + i))).is_ok())
                    .count()
            })
        })
        .collect();
    let found: usize = clients.into_iter().map(|c| c.join().unwrap_or(0)).sum();
    let joined = session.umount_and_join();
    let threads_used = seen.threads.lock().map(|t| t.len()).unwrap_or(0);
    println!(
        "{{\"threads\":{threads},\"found\":{found},\"threads_used\":{threads_used},\"max_in_flight\":{},\"joined\":{}}}",
        seen.max_in_flight.load(Ordering::SeqCst),
        joined.is_ok()
    );
}
