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
    pub passthrough_opens: AtomicU64,
    pub redacted_opens: AtomicU64,
}

impl Stats {
    pub fn to_json(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "lookup": g(&self.lookup),
            "getattr": g(&self.getattr),
            "open": g(&self.open),
            "create": g(&self.create),
            "read": g(&self.read),
            "write": g(&self.write),
            "opendir": g(&self.opendir),
            "readdirplus": g(&self.readdirplus),
            "passthrough_opens": g(&self.passthrough_opens),
            "redacted_opens": g(&self.redacted_opens),
        })
    }
}
