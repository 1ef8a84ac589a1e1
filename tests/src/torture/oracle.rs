//! The oracle: what each operation may answer, from the policy library's own decision functions
//! (`mediaprovider_policy::rules`) applied to the model's facts in every state a racing
//! operation could have seen; and what a read may return (the last content its writer wrote,
//! redacted by the library's own scanner ranges when the decision says so, and never a byte of
//! location for a reader the policy does not entitle to it).

use super::model::World;
use mediaprovider_policy::rules::{self, Decision, Io, Op, Target};
use mediaprovider_policy::{FileFacts, VolPath};
use std::collections::BTreeSet;

/// Allowed results: `None` = success, `Some(errno)`.
pub type Outcomes = BTreeSet<Option<i32>>;

pub fn outcome_of(d: &Decision) -> Option<i32> {
    d.errno.map(|e| e.raw())
}

/// Decisions for a single-path `op` in every world.
pub fn decide_all(op: Op, path: &VolPath, worlds: &[World]) -> Vec<Decision> {
    worlds
        .iter()
        .map(|w| {
            rules::decide(
                &w.caller,
                op,
                Target {
                    path,
                    facts: &w.facts,
                },
            )
        })
        .collect()
}

pub fn outcomes(ds: &[Decision]) -> Outcomes {
    ds.iter().map(outcome_of).collect()
}

/// Decisions for a rename in every pair of worlds of the same caller. `contents` are the files
/// a directory rename moves (path, facts), the same in every world (the mover's own partition).
pub fn rename_all(
    old: &VolPath,
    new: &VolPath,
    flags: u32,
    wo: &[World],
    wn: &[World],
    contents: &[(VolPath, FileFacts)],
) -> Vec<Decision> {
    let mut out = Vec::new();
    for a in wo {
        for b in wn.iter().filter(|b| b.caller == a.caller) {
            out.push(rules::rename(
                &a.caller,
                Target {
                    path: old,
                    facts: &a.facts,
                },
                Target {
                    path: new,
                    facts: &b.facts,
                },
                flags,
                contents,
            ));
        }
    }
    out
}

/// rmdir: the policy's answer, and ENOTEMPTY where it allows a directory that (may) hold entries.
pub fn rmdir_outcomes(ds: &[Decision], may_be_empty: bool, may_be_full: bool) -> Outcomes {
    let mut o = Outcomes::new();
    for d in ds {
        if d.allowed() {
            if may_be_empty {
                o.insert(None);
            }
            if may_be_full {
                o.insert(Some(libc::ENOTEMPTY));
            }
        } else {
            o.insert(outcome_of(d));
        }
    }
    o
}

pub fn show(o: &Outcomes) -> String {
    let v: Vec<&str> = o
        .iter()
        .map(|x| match x {
            None => "ok",
            Some(e) => super::live::errno_name(*e),
        })
        .collect();
    v.join("|")
}

/// A read's problem, if any: `(class, detail)`.
pub type ReadProblem = (&'static str, String);

/// Checks bytes served by an allowed read against every world in which the read was allowed.
pub fn check_read(served: &[u8], worlds: &[World], ds: &[Decision]) -> Option<ReadProblem> {
    let allowing: Vec<(Io, &super::model::FileState)> = worlds
        .iter()
        .zip(ds)
        .filter(|(_, d)| d.allowed())
        .filter_map(|(w, d)| Some((d.io.unwrap_or(Io::Passthrough), w.state.as_ref()?)))
        .collect();
    if allowing.is_empty() {
        return None;
    }
    // Location first: a reader no world entitles to the original must never get its location.
    if allowing.iter().all(|(io, _)| *io == Io::Redacted) {
        for (_, s) in &allowing {
            if let Some((a, b)) = s.content.leaks_into(served) {
                return Some((
                    "location-leak",
                    format!(
                        "{}: served {} bytes keep the location bytes {a}..{b} of {} (version {:x})",
                        s.path,
                        served.len(),
                        s.content.label,
                        s.content.hash
                    ),
                ));
            }
        }
    }
    // Content: exact unless a write was in flight.
    if allowing.iter().any(|(_, s)| s.partial) {
        return None;
    }
    let matches = allowing.iter().any(|(io, s)| {
        if *io == Io::Redacted {
            s.content.redacted() == served
        } else {
            s.content.bytes == served
        }
    });
    if matches {
        return None;
    }
    let expected: Vec<String> = allowing
        .iter()
        .map(|(io, s)| {
            format!(
                "{} {} ({} bytes, {})",
                s.content.label,
                io.name(),
                s.content.bytes.len(),
                if *io == Io::Redacted { "redacted" } else { "original" }
            )
        })
        .collect();
    let first_diff = allowing
        .first()
        .map(|(io, s)| {
            let want = if *io == Io::Redacted {
                s.content.redacted()
            } else {
                s.content.bytes.clone()
            };
            want.iter()
                .zip(served)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(served.len()))
        })
        .unwrap_or(0);
    Some((
        "content-mismatch",
        format!(
            "{}: served {} bytes (fnv {:x}, first difference at {first_diff}), expected one of [{}]",
            allowing[0].1.path,
            served.len(),
            super::content::fnv(served),
            expected.join("; ")
        ),
    ))
}
