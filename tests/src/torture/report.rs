//! The run's record: a log of every operation (a file, plus a ring in memory), the violations
//! found, and counters. A violation is printed at once with the shortest log that shows it: the
//! operations and app changes that touched the same paths and the same caller.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// One logged operation.
#[derive(Clone, Debug)]
pub struct OpRecord {
    pub seq: u64,
    pub ms: u128,
    pub actor: String,
    pub what: String,
    /// Model keys (folded paths) and `uid:N` tags the operation touched.
    pub keys: Vec<String>,
    pub outcome: String,
}

struct Log {
    ring: VecDeque<OpRecord>,
    file: Option<BufWriter<File>>,
}

const RING: usize = 50_000;
const MINIMAL_LOG_LINES: usize = 40;
/// Violations printed in full per signature (a frequent defect must not hide the others).
const DETAILED_PER_SIGNATURE: usize = 3;

#[derive(Default)]
pub struct Counters {
    pub ops: AtomicU64,
    pub indeterminate: AtomicU64,
    pub enospc: AtomicU64,
    pub eio: AtomicU64,
    pub kills: AtomicU64,
    pub restarts: AtomicU64,
    pub skipped_plans: AtomicU64,
}

pub struct Report {
    start: Instant,
    seed: u64,
    seq: AtomicU64,
    log: Mutex<Log>,
    violations: Mutex<BTreeMap<&'static str, Vec<String>>>,
    /// Violations grouped by what went wrong (class, operation, answer): count, first detail.
    signatures: Mutex<BTreeMap<String, (usize, String)>>,
    pub counters: Counters,
    /// Set by a violation that makes going on pointless (a hang, a daemon that will not die).
    pub fatal: AtomicBool,
}

impl Report {
    pub fn new(seed: u64, log_path: &Path) -> Report {
        Report {
            start: Instant::now(),
            seed,
            seq: AtomicU64::new(0),
            log: Mutex::new(Log {
                ring: VecDeque::new(),
                file: File::create(log_path).ok().map(BufWriter::new),
            }),
            violations: Mutex::new(BTreeMap::new()),
            signatures: Mutex::new(BTreeMap::new()),
            counters: Counters::default(),
            fatal: AtomicBool::new(false),
        }
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Logs one operation; returns its sequence number.
    pub fn record(&self, actor: &str, what: &str, keys: Vec<String>, outcome: &str) -> u64 {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let rec = OpRecord {
            seq,
            ms: self.start.elapsed().as_millis(),
            actor: actor.to_string(),
            what: what.to_string(),
            keys,
            outcome: outcome.to_string(),
        };
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = log.file.as_mut() {
            let _ = writeln!(f, "{}", line(&rec));
        }
        if log.ring.len() >= RING {
            log.ring.pop_front();
        }
        log.ring.push_back(rec);
        seq
    }

    /// The operations that touched any of `keys` (a path's key also matches its parent
    /// directories' keys), oldest first, at most [`MINIMAL_LOG_LINES`].
    pub fn minimal_log(&self, keys: &[String]) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        // The same path or caller; a parent directory only when the operation moved it.
        let related = |r: &OpRecord| {
            let moves = r.what.starts_with("rename") || r.what.starts_with("app remove");
            r.keys.iter().any(|k| {
                keys.iter().any(|w| {
                    k == w || (moves && !k.starts_with("uid:") && w.starts_with(&format!("{k}/")))
                })
            })
        };
        let mut v: Vec<String> = log
            .ring
            .iter()
            .rev()
            .filter(|r| related(r))
            .take(MINIMAL_LOG_LINES)
            .map(line)
            .collect();
        v.reverse();
        v
    }

    /// Records a violation of `class` and prints it with its minimal log.
    pub fn violation(&self, class: &'static str, detail: &str, keys: &[String]) {
        self.violation_as(class, class, detail, keys);
    }

    /// [`Report::violation`], grouped under `signature` (e.g. class, operation and answer).
    pub fn violation_as(
        &self,
        class: &'static str,
        signature: &str,
        detail: &str,
        keys: &[String],
    ) {
        self.violations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(class)
            .or_default()
            .push(detail.to_string());
        let n = {
            let mut sigs = self.signatures.lock().unwrap_or_else(|e| e.into_inner());
            let e = sigs
                .entry(signature.to_string())
                .or_insert_with(|| (0, detail.to_string()));
            e.0 += 1;
            e.0
        };
        if let Some(f) = self
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .file
            .as_mut()
        {
            let _ = writeln!(f, "VIOLATION [{class}] {detail}");
        }
        if n > DETAILED_PER_SIGNATURE {
            return;
        }
        let mut msg = format!(
            "VIOLATION [{class}] (seed {}, t={:.1}s) {detail}\n",
            self.seed,
            self.elapsed_secs()
        );
        let log = self.minimal_log(keys);
        if !log.is_empty() {
            msg.push_str("  operation log (oldest first):\n");
            for l in log {
                msg.push_str(&format!("    {l}\n"));
            }
        }
        eprint!("{msg}");
    }

    pub fn fatal(&self, class: &'static str, detail: &str, keys: &[String]) {
        self.violation(class, detail, keys);
        self.fatal.store(true, Ordering::SeqCst);
    }

    pub fn is_fatal(&self) -> bool {
        self.fatal.load(Ordering::SeqCst)
    }

    /// Violations by class: (class, count, first detail).
    pub fn violations(&self) -> Vec<(&'static str, usize, String)> {
        let v = self.violations.lock().unwrap_or_else(|e| e.into_inner());
        v.iter()
            .map(|(c, l)| (*c, l.len(), l.first().cloned().unwrap_or_default()))
            .collect()
    }

    /// Violations by signature, most frequent first: (signature, count, first detail).
    pub fn signatures(&self) -> Vec<(String, usize, String)> {
        let s = self.signatures.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(String, usize, String)> = s
            .iter()
            .map(|(k, (n, d))| (k.clone(), *n, d.clone()))
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.1));
        v
    }

    pub fn flush(&self) {
        if let Some(f) = self
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .file
            .as_mut()
        {
            let _ = f.flush();
        }
    }
}

fn line(r: &OpRecord) -> String {
    format!(
        "#{} {:>8}ms {} {} -> {}",
        r.seq, r.ms, r.actor, r.what, r.outcome
    )
}
