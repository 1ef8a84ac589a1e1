//! The decision cache (`Store::decision_row`) answers exactly what the store says after every
//! kind of write: through the same connection, through another connection sharing the cache
//! (the daemon's pool), and through a connection that knows nothing of the cache (another
//! process, such as an `app` command, writes the store the same way). Each check first makes
//! sure the answer before the write came from the cache, so a stale entry would be caught.

use mediaprovider_policy::identity::{Caller, Package, PermSet};
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::rules::Grant;
use mediaprovider_policy::store::{FileRow, NewFile, Store};
use std::fs;
use std::path::PathBuf;

fn p(s: &str) -> VolPath {
    VolPath::parse(s).unwrap()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mpd-facts-cache-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn pkg(name: &str, uid: u32) -> Package {
    Package {
        name: name.into(),
        uid,
        target_sdk: 34,
        legacy: false,
        perms: PermSet::of(&[]),
    }
}

fn add(store: &Store, path: &str, owner: Option<&str>) {
    store
        .upsert_file(&NewFile {
            path: &p(path),
            owner,
            size: 1,
            mtime_ns: 1,
            fuse_pending: false,
        })
        .unwrap();
}

const PATHS: [&str; 6] = [
    "DCIM/a.jpg",
    "DCIM/b.jpg",
    "DCIM/new.jpg",
    "DCIM/sub/c.jpg",
    "Moved/sub/c.jpg",
    "Pictures/d.png",
];

/// One answer: the row and the caller's grant, or no row.
type Answer = Option<(FileRow, Grant)>;

struct World {
    dir: PathBuf,
    /// Decides (the daemon's worker connection).
    decider: Store,
    /// Another worker connection of the same pool (shares the cache).
    sibling: Store,
    /// A connection that shares nothing (stands for another process).
    outsider: Store,
    callers: Vec<Caller>,
}

impl World {
    fn new(tag: &str) -> World {
        let dir = tmpdir(tag);
        let decider = Store::open(&dir.join("media.db")).unwrap();
        decider.add_package(&pkg("com.a", 10001)).unwrap();
        decider.add_package(&pkg("com.b", 10002)).unwrap();
        add(&decider, "DCIM/a.jpg", Some("com.a"));
        add(&decider, "DCIM/b.jpg", Some("com.b"));
        add(&decider, "DCIM/sub/c.jpg", Some("com.a"));
        add(&decider, "Pictures/d.png", None);
        decider
            .grant_file("com.b", &p("DCIM/a.jpg"), false)
            .unwrap();
        let sibling = decider.opener().open().unwrap();
        let outsider = Store::open(&dir.join("media.db")).unwrap();
        let callers = [10001, 10002, 10003]
            .iter()
            .map(|u| decider.caller(*u).unwrap())
            .collect();
        World {
            dir,
            decider,
            sibling,
            outsider,
            callers,
        }
    }

    /// Every (caller, path) answer through the cache, checked against the store itself.
    fn answers(&self) -> Vec<Answer> {
        let mut out = Vec::new();
        for c in &self.callers {
            for path in PATHS {
                let cached = self
                    .decider
                    .decision_row(c, &p(path))
                    .unwrap()
                    .map(|(r, g)| ((*r).clone(), g));
                let truth = self.outsider.file_with_grant(c, &p(path)).unwrap();
                assert_eq!(cached, truth, "caller {} path {path}", c.uid);
                out.push(cached);
            }
        }
        out
    }

    /// Fills the cache, proves the next round is answered from it, applies `write`, and
    /// checks every answer against the store; returns (before, after).
    fn after(&self, write: impl FnOnce(&World)) -> (Vec<Answer>, Vec<Answer>) {
        self.answers();
        let (hits, _) = self.decider.decision_cache_counts();
        let before = self.answers();
        let (hits_now, _) = self.decider.decision_cache_counts();
        let asked = (self.callers.len() * PATHS.len()) as u64;
        assert_eq!(
            hits_now - hits,
            asked,
            "the second round must come from the cache"
        );
        write(self);
        (before, self.answers())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn row<'a>(answers: &'a [Answer], caller: usize, path: &str) -> &'a Answer {
    let i = PATHS.iter().position(|x| *x == path).unwrap();
    &answers[caller * PATHS.len() + i]
}

/// Every write, each from the three kinds of connection.
fn each_writer(tag: &str, write: impl Fn(&Store), check: impl Fn(&[Answer], &[Answer])) {
    for (name, pick) in [
        ("same connection", 0usize),
        ("sibling connection", 1),
        ("outside connection", 2),
    ] {
        let w = World::new(&format!("{tag}-{pick}"));
        let (before, after) = w.after(|w| {
            let s = match pick {
                0 => &w.decider,
                1 => &w.sibling,
                _ => &w.outsider,
            };
            write(s)
        });
        assert_ne!(
            before, after,
            "{tag} through {name}: the write changed nothing?"
        );
        check(&before, &after);
    }
}

fn owner(a: &Answer) -> Option<String> {
    a.as_ref().and_then(|(r, _)| r.owner.clone())
}

fn grant(a: &Answer) -> Grant {
    a.as_ref().map(|(_, g)| *g).unwrap_or(Grant::None)
}

#[test]
fn owner_change_is_seen_next_decision() {
    each_writer(
        "owner",
        |s| s.set_owner(&p("DCIM/b.jpg"), Some("com.a")).unwrap(),
        |_, after| assert_eq!(owner(row(after, 0, "DCIM/b.jpg")).as_deref(), Some("com.a")),
    );
}

#[test]
fn grant_and_revoke_are_seen_next_decision() {
    each_writer(
        "revoke",
        |s| s.revoke_file("com.b", &p("DCIM/a.jpg")).unwrap(),
        |before, after| {
            assert_eq!(grant(row(before, 1, "DCIM/a.jpg")), Grant::Read);
            assert_eq!(grant(row(after, 1, "DCIM/a.jpg")), Grant::None);
        },
    );
    each_writer(
        "grant",
        |s| s.grant_file("com.a", &p("DCIM/b.jpg"), true).unwrap(),
        |_, after| assert_eq!(grant(row(after, 0, "DCIM/b.jpg")), Grant::Write),
    );
}

#[test]
fn insert_and_delete_are_seen_next_decision() {
    each_writer(
        "insert",
        |s| add(s, "DCIM/new.jpg", Some("com.b")),
        |before, after| {
            assert_eq!(row(before, 1, "DCIM/new.jpg"), &None);
            assert_eq!(
                owner(row(after, 1, "DCIM/new.jpg")).as_deref(),
                Some("com.b")
            );
        },
    );
    each_writer(
        "delete",
        |s| assert!(s.delete_file(&p("DCIM/a.jpg")).unwrap()),
        |_, after| assert_eq!(row(after, 0, "DCIM/a.jpg"), &None),
    );
    each_writer(
        "delete-tree",
        |s| assert_eq!(s.delete_tree(&p("DCIM/sub")).unwrap(), 1),
        |_, after| assert_eq!(row(after, 0, "DCIM/sub/c.jpg"), &None),
    );
    each_writer(
        "index-found",
        |s| {
            s.index_found(&NewFile {
                path: &p("DCIM/new.jpg"),
                owner: None,
                size: 3,
                mtime_ns: 3,
                fuse_pending: false,
            })
            .unwrap();
        },
        |_, after| assert!(row(after, 2, "DCIM/new.jpg").is_some()),
    );
}

#[test]
fn renames_are_seen_next_decision() {
    each_writer(
        "rename-file",
        |s| s.rename_file(&p("DCIM/a.jpg"), &p("DCIM/new.jpg")).unwrap(),
        |_, after| {
            assert_eq!(row(after, 0, "DCIM/a.jpg"), &None);
            assert_eq!(
                owner(row(after, 0, "DCIM/new.jpg")).as_deref(),
                Some("com.a")
            );
            // The grant followed the row.
            assert_eq!(grant(row(after, 1, "DCIM/new.jpg")), Grant::Read);
        },
    );
    each_writer(
        "rename-tree",
        |s| assert_eq!(s.rename_tree(&p("DCIM/sub"), &p("Moved/sub")).unwrap(), 1),
        |_, after| {
            assert_eq!(row(after, 0, "DCIM/sub/c.jpg"), &None);
            assert!(row(after, 0, "Moved/sub/c.jpg").is_some());
        },
    );
    // Trashing is a rename to a `.trashed-` name: the old name has no row any more.
    each_writer(
        "trash",
        |s| {
            s.rename_file(&p("DCIM/b.jpg"), &p("DCIM/.trashed-1999999999-b.jpg"))
                .unwrap()
        },
        |_, after| assert_eq!(row(after, 1, "DCIM/b.jpg"), &None),
    );
}

#[test]
fn content_and_pending_changes_are_seen_next_decision() {
    each_writer(
        "pending",
        |s| {
            s.upsert_file(&NewFile {
                path: &p("DCIM/a.jpg"),
                owner: None,
                size: 9,
                mtime_ns: 9,
                fuse_pending: true,
            })
            .unwrap();
        },
        |_, after| {
            let (r, _) = row(after, 0, "DCIM/a.jpg").as_ref().unwrap();
            assert!(r.fuse_pending);
            assert_eq!((r.size, r.mtime_ns), (9, 9));
        },
    );
    each_writer(
        "finish-write",
        |s| s.finish_write(&p("DCIM/a.jpg"), 7, 7, Some(true)).unwrap(),
        |_, after| {
            let (r, _) = row(after, 0, "DCIM/a.jpg").as_ref().unwrap();
            assert_eq!((r.size, r.mtime_ns, r.location), (7, 7, Some(true)));
        },
    );
    each_writer(
        "location",
        |s| s.set_location(&p("Pictures/d.png"), true).unwrap(),
        |_, after| {
            let (r, _) = row(after, 2, "Pictures/d.png").as_ref().unwrap();
            assert_eq!(r.location, Some(true));
        },
    );
}

#[test]
fn uninstall_is_seen_next_decision() {
    each_writer(
        "uninstall",
        |s| {
            s.remove_package("com.a").unwrap();
        },
        |_, after| {
            assert_eq!(owner(row(after, 1, "DCIM/a.jpg")), None);
            assert_eq!(owner(row(after, 1, "DCIM/sub/c.jpg")), None);
        },
    );
}

#[test]
fn a_write_inside_an_open_transaction_is_seen_by_that_connection() {
    let w = World::new("tx");
    w.answers();
    w.decider.connection().execute_batch("BEGIN").unwrap();
    w.decider
        .set_owner(&p("DCIM/b.jpg"), Some("com.a"))
        .unwrap();
    let c = &w.callers[0];
    let (r, _) = w
        .decider
        .decision_row(c, &p("DCIM/b.jpg"))
        .unwrap()
        .unwrap();
    assert_eq!(r.owner.as_deref(), Some("com.a"));
    w.decider.connection().execute_batch("ROLLBACK").unwrap();
    let (r, _) = w
        .decider
        .decision_row(c, &p("DCIM/b.jpg"))
        .unwrap()
        .unwrap();
    assert_eq!(r.owner.as_deref(), Some("com.b"));
}

#[test]
fn the_cache_stays_bounded() {
    let w = World::new("bounded");
    let c = &w.callers[0];
    // Far more distinct paths than the cache holds: each is a miss (no row), none is kept
    // forever, and a path decided long ago is read from the store again.
    for i in 0..150_000 {
        assert!(w
            .decider
            .decision_row(c, &p(&format!("Many/f{i}.jpg")))
            .unwrap()
            .is_none());
    }
    let (_, misses) = w.decider.decision_cache_counts();
    w.decider.decision_row(c, &p("Many/f0.jpg")).unwrap();
    let (_, misses_now) = w.decider.decision_cache_counts();
    assert_eq!(
        misses_now,
        misses + 1,
        "an entry evicted long ago is read again"
    );
}

#[test]
fn an_in_memory_store_answers_without_a_cache() {
    let s = Store::open_in_memory().unwrap();
    s.add_package(&pkg("com.a", 10001)).unwrap();
    add(&s, "DCIM/a.jpg", Some("com.a"));
    let c = s.caller(10001).unwrap();
    for owner in ["com.a", "com.b"] {
        s.set_owner(&p("DCIM/a.jpg"), Some(owner)).unwrap();
        let (r, _) = s.decision_row(&c, &p("DCIM/a.jpg")).unwrap().unwrap();
        assert_eq!(r.owner.as_deref(), Some(owner));
    }
    assert_eq!(s.decision_cache_counts().0, 0);
}

/// Decisions racing commits: once a write has returned, no decision that starts afterwards
/// may answer from before it (a fill that read the store while the commit landed must not be
/// served later). The writer publishes each owner it committed; readers check theirs is never
/// older than what was published when they started.
#[test]
fn a_decision_started_after_a_commit_never_answers_from_before_it() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let w = World::new("race");
    let path = p("DCIM/a.jpg");
    let committed = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let seq_of = |r: &Option<mediaprovider_policy::store::DecisionRow>| -> u64 {
        r.as_ref()
            .and_then(|(row, _)| row.owner.as_deref()?.strip_prefix("seq")?.parse().ok())
            .unwrap_or(0)
    };
    std::thread::scope(|s| {
        for _ in 0..2 {
            let reader = w.decider.opener().open().unwrap();
            let caller = &w.callers[0];
            let (committed, done, path) = (&committed, &done, &path);
            s.spawn(move || {
                let mut checked = 0u64;
                while !done.load(Ordering::Acquire) {
                    let floor = committed.load(Ordering::Acquire);
                    let seen = seq_of(&reader.decision_row(caller, path).unwrap());
                    assert!(
                        seen >= floor,
                        "answered seq{seen} after seq{floor} was committed"
                    );
                    checked += 1;
                }
                assert!(checked > 0);
            });
        }
        let writer = w.decider.opener().open().unwrap();
        for k in 1..=1500u64 {
            writer.set_owner(&path, Some(&format!("seq{k}"))).unwrap();
            committed.store(k, Ordering::Release);
        }
        done.store(true, Ordering::Release);
    });
    let (hits, _) = w.decider.decision_cache_counts();
    assert!(
        hits > 0,
        "the readers never hit the cache: the race was not exercised"
    );
}
