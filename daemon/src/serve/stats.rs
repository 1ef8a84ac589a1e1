//! Request counters, written as JSON to the `--stats` file on SIGUSR1 (tests use them to prove
//! that passthrough reads never reach the daemon).

use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Stats {
    pub lookup: AtomicU64,
    pub getattr: AtomicU64,
    pub open: AtomicU64,
    pub create: AtomicU64,
    pub read: AtomicU64,
    pub write: AtomicU64,
    pub opendir: AtomicU64,
    pub readdirplus: AtomicU64,
    pub setattr: AtomicU64,
    pub unlink: AtomicU64,
    pub rename: AtomicU64,
    pub mkdir: AtomicU64,
    pub flush: AtomicU64,
    pub release: AtomicU64,
    pub forget: AtomicU64,
    pub statfs: AtomicU64,
    pub access: AtomicU64,
    pub readdir: AtomicU64,
    pub passthrough_opens: AtomicU64,
    pub redacted_opens: AtomicU64,
    /// Files copied before a write open because restricted readers held them (`lower/copy.rs`).
    pub write_copies: AtomicU64,
}

/// State sizes sampled when the stats are written.
pub struct Gauges {
    /// Whole-directory reads of the lower tree (getdents passes).
    pub dir_reads: u64,
    /// Kernel nodes the daemon holds (bounded by the kernel's forgets).
    pub nodes: u64,
    pub handles: u64,
    /// Names held by the case-insensitive name index.
    pub indexed_names: u64,
}

impl Stats {
    pub fn to_json(&self, gauges: &Gauges) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "dir_reads": gauges.dir_reads,
            "nodes": gauges.nodes,
            "handles": gauges.handles,
            "indexed_names": gauges.indexed_names,
            "lookup": g(&self.lookup),
            "getattr": g(&self.getattr),
            "open": g(&self.open),
            "create": g(&self.create),
            "read": g(&self.read),
            "write": g(&self.write),
            "opendir": g(&self.opendir),
            "readdirplus": g(&self.readdirplus),
            "setattr": g(&self.setattr),
            "unlink": g(&self.unlink),
            "rename": g(&self.rename),
            "mkdir": g(&self.mkdir),
            "flush": g(&self.flush),
            "release": g(&self.release),
            "forget": g(&self.forget),
            "statfs": g(&self.statfs),
            "access": g(&self.access),
            "readdir": g(&self.readdir),
            "passthrough_opens": g(&self.passthrough_opens),
            "redacted_opens": g(&self.redacted_opens),
            "write_copies": g(&self.write_copies),
        })
    }
}
