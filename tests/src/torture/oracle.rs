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

/// Decisions for `open(O_CREAT)` without `O_EXCL` in every world. The kernel looks the name up
/// first: a name the caller is shown is opened as it is (OPEN, never CREATE), and only a name it
/// is not shown reaches the daemon as a CREATE.
pub fn create_or_open_all(path: &VolPath, worlds: &[World]) -> Vec<Decision> {
    worlds
        .iter()
        .map(|w| {
            let target = Target {
                path,
                facts: &w.facts,
            };
            let shown = w.facts.exists && rules::decide(&w.caller, Op::Lookup, target).allowed();
            let op = if shown { Op::OpenRead } else { Op::Create };
            rules::decide(&w.caller, op, target)
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
    let v: Vec<String> = o
        .iter()
        .map(|x| match x {
            None => "ok".to_string(),
            Some(e) => super::live::errno_name(*e),
        })
        .collect();
    v.join("|")
}

/// A read's problem, if any: `(class, detail)`.
pub type ReadProblem = (&'static str, String);

/// Must a read's bytes be one of the versions the path held? Not for files changed behind
/// the daemon's back (the kernel may keep their old size for an attribute timeout), nor for a
/// read through a held fd when the path may have lost its file meanwhile: the fd follows its
/// file through a rename, and a rewrite at the new name is no version the path held.
pub fn read_is_exact(held: bool, behind_back: bool, worlds: &[World]) -> bool {
    let fd_may_have_moved = held && worlds.iter().any(|w| w.state.is_none());
    !(behind_back || fd_may_have_moved)
}

/// Checks bytes served by an allowed read against every world in which the read was allowed.
/// `exact`: whether the content must match a known version (false for files changed behind
/// the daemon's back, whose old size the kernel may keep for an attribute timeout); location
/// is checked either way.
pub fn check_read(
    served: &[u8],
    worlds: &[World],
    ds: &[Decision],
    exact: bool,
) -> Option<ReadProblem> {
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
    if !exact || allowing.iter().any(|(_, s)| s.partial) {
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
                if *io == Io::Redacted {
                    "redacted"
                } else {
                    "original"
                }
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

#[cfg(test)]
mod tests {
    use super::super::content::Content;
    use super::super::model::{FileState, Model};
    use super::*;
    use mediaprovider_policy::identity::{Package, PermSet, Permission};
    use mediaprovider_policy::Caller;
    use std::sync::Arc;

    fn gps_jpeg() -> Arc<Content> {
        let p = mediaproviderd_tests::shared_dir().join("corpus/exiftool/GPS.jpg");
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let c = Content::new("GPS.jpg".into(), bytes);
        assert!(c.has_location(), "the scanner finds GPS.jpg's location");
        c
    }

    /// A model with one located photo owned by `owner` and a reader app holding `perms`.
    fn setup(perms: &[Permission]) -> (Model, VolPath, Arc<Content>) {
        let mut m = Model::default();
        let reader = Package {
            name: "com.reader".into(),
            uid: 10_100,
            target_sdk: 34,
            legacy: false,
            perms: PermSet::of(perms),
        };
        m.end_caller(10_100, 0, Caller::new(10_100, &[reader]));
        let path = VolPath::parse("DCIM/t0/a.jpg").unwrap();
        let content = gps_jpeg();
        let f = FileState {
            id: 1,
            path: path.clone(),
            owner: Some("com.owner".into()),
            content: Arc::clone(&content),
            partial: false,
            fuse_pending: false,
        };
        m.end_file(&super::super::model::key(&path), 0, Some(f));
        (m, path, content)
    }

    fn judge(m: &Model, path: &VolPath, served: &[u8]) -> Option<ReadProblem> {
        let w = m.worlds(10_100, path, 1, 1);
        let ds = decide_all(Op::OpenRead, path, &w);
        check_read(served, &w, &ds, true)
    }

    #[test]
    fn original_bytes_to_a_reader_without_location_access_are_a_leak() {
        let (m, path, c) = setup(&[Permission::ReadMediaImages]);
        let p = judge(&m, &path, &c.bytes).expect("a leak");
        assert_eq!(p.0, "location-leak", "{p:?}");
        assert_eq!(judge(&m, &path, &c.redacted()), None);
        // One range put back is enough to leak.
        let mut partly = c.redacted();
        let r = &c.scan.ranges[c.scan.ranges.len() - 1];
        partly[r.start as usize..r.end as usize]
            .copy_from_slice(&c.bytes[r.start as usize..r.end as usize]);
        if partly != c.redacted() {
            assert_eq!(
                judge(&m, &path, &partly).map(|p| p.0),
                Some("location-leak")
            );
        }
    }

    #[test]
    fn entitled_reader_must_get_the_original() {
        let (m, path, c) = setup(&[Permission::ReadMediaImages, Permission::AccessMediaLocation]);
        assert_eq!(judge(&m, &path, &c.bytes), None);
        let p = judge(&m, &path, &c.redacted()).expect("redacted bytes are wrong here");
        assert_eq!(p.0, "content-mismatch");
    }

    /// Torture seed 636811173: an fd held on CASE1.JPG while the file was renamed to f2.JPG
    /// and rewritten there served the rewrite, which is right; the oracle called it a mismatch.
    #[test]
    fn a_held_read_is_exact_only_while_the_path_surely_kept_its_file() {
        let (mut m, path, _) = setup(&[Permission::ReadMediaImages]);
        let t = m.op_start();
        let kept = m.worlds(10_100, &path, t, t);
        assert!(read_is_exact(true, false, &kept));
        assert!(read_is_exact(false, false, &kept));
        assert!(!read_is_exact(false, true, &kept));
        let k = super::super::model::key(&path);
        let (id, _) = m.begin_file(&k, vec![None]);
        let t = m.op_start();
        let moving = m.worlds(10_100, &path, t, t);
        assert!(
            !read_is_exact(true, false, &moving),
            "renamed away meanwhile"
        );
        assert!(
            read_is_exact(false, false, &moving),
            "a fresh open reads the path"
        );
        m.end_file(&k, id, None);
    }

    #[test]
    fn a_rename_in_flight_allows_both_names() {
        let (mut m, path, _) = setup(&[Permission::ReadMediaImages]);
        let k = super::super::model::key(&path);
        let (id, _) = m.begin_file(&k, vec![None]);
        let t = m.op_start();
        let during = outcomes(&decide_all(
            Op::OpenRead,
            &path,
            &m.worlds(10_100, &path, t, t),
        ));
        assert!(during.contains(&None) && during.contains(&Some(libc::ENOENT)));
        m.end_file(&k, id, None);
        let t2 = m.op_start();
        let after = outcomes(&decide_all(
            Op::OpenRead,
            &path,
            &m.worlds(10_100, &path, t2, t2),
        ));
        assert_eq!(
            show(&after),
            "ENOENT",
            "after the rename only the new state counts"
        );
    }

    /// Torture seed 712525741: `open(O_RDONLY|O_CREAT)` of another app's photo the caller is
    /// shown opened it (the kernel's lookup found it, so no CREATE was sent); the oracle had
    /// judged it as a CREATE and wanted EEXIST.
    #[test]
    fn create_without_excl_opens_a_name_the_caller_is_shown() {
        let (m, path, _) = setup(&[Permission::ReadMediaImages]);
        let w = m.worlds(10_100, &path, 1, 1);
        assert_eq!(show(&outcomes(&create_or_open_all(&path, &w))), "ok");
        assert_eq!(
            show(&outcomes(&decide_all(Op::Create, &path, &w))),
            "EEXIST",
            "O_EXCL stays a CREATE"
        );
        // A caller that may not read it is shown the name all the same (lookups check only
        // the directory), so it gets the open's answer.
        let (m, path, _) = setup(&[]);
        let w = m.worlds(10_100, &path, 1, 1);
        assert_eq!(
            show(&outcomes(&create_or_open_all(&path, &w))),
            show(&outcomes(&decide_all(Op::OpenRead, &path, &w))),
        );
    }
}
