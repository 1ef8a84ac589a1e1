//! What the volume should hold: every file (owner, content, model id for grants), every
//! directory, every app's identity and per-file grants — each as a [`History`], so racing
//! operations are judged against every state they could have seen. The policy facts for a path
//! are derived from this model (never from the daemon's store), then handed to the policy
//! library's own decision functions by the oracle.

use super::content::Content;
use super::history::History;
use mediaprovider_policy::mime::media_type_of;
use mediaprovider_policy::paths::{fold, is_hidden_name, nomedia_dirs};
use mediaprovider_policy::{Caller, FileFacts, Grant, VolPath};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// One file as the model knows it.
#[derive(Clone, Debug)]
pub struct FileState {
    /// Model identity of the row: per-file grants follow it through renames.
    pub id: u64,
    /// The name as created (the volume is case-insensitive; keys are folded).
    pub path: VolPath,
    pub owner: Option<String>,
    pub content: Arc<Content>,
    /// The bytes are not known exactly (a write was cut short by ENOSPC, a kill, or is in flight).
    pub partial: bool,
    /// Created through FUSE and not closed yet.
    pub fuse_pending: bool,
}

/// Everything one decision needs, in one of the states a racing operation could have seen.
#[derive(Clone, Debug)]
pub struct World {
    pub caller: Caller,
    pub facts: FileFacts,
    pub state: Option<FileState>,
}

pub fn key(p: &VolPath) -> String {
    fold(p.as_str())
}

pub fn parent_key(p: &VolPath) -> String {
    key(&p.parent().unwrap_or_default())
}

#[derive(Default)]
pub struct Model {
    tick: u64,
    next_id: u64,
    running: BTreeMap<u64, usize>,
    pub files: HashMap<String, History<Option<FileState>>>,
    pub dirs: HashMap<String, History<Option<VolPath>>>,
    pub callers: HashMap<u32, History<Caller>>,
    pub grants: HashMap<(u32, u64), History<Grant>>,
    /// Keys (files or directory prefixes) whose fate a kill or a failed write left open; the
    /// invariant check resolves them against the lower tree.
    pub dirty: HashSet<String>,
    /// Changes made behind the daemon's back since the last scan (each may be unindexed).
    pub unseen_lower_changes: u64,
    /// Files changed most recently: readers aim at them, so that reads race writes.
    pub hot: std::collections::VecDeque<String>,
}

const HOT: usize = 24;

impl Model {
    fn tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// An operation starts: returns its start tick.
    pub fn op_start(&mut self) -> u64 {
        let t = self.tick();
        *self.running.entry(t).or_default() += 1;
        t
    }

    /// The operation that started at `t0` ends: returns its end tick.
    pub fn op_end(&mut self, t0: u64) -> u64 {
        if let Some(n) = self.running.get_mut(&t0) {
            *n -= 1;
            if *n == 0 {
                self.running.remove(&t0);
            }
        }
        let t1 = self.tick();
        if t1.is_multiple_of(256) {
            self.prune();
        }
        t1
    }

    fn prune(&mut self) {
        let oldest = self.running.keys().next().copied().unwrap_or(self.tick);
        self.files.values_mut().for_each(|h| h.prune(oldest));
        self.dirs.values_mut().for_each(|h| h.prune(oldest));
        self.callers.values_mut().for_each(|h| h.prune(oldest));
        self.grants.values_mut().for_each(|h| h.prune(oldest));
        self.files
            .retain(|_, h| h.current.is_some() || !h.is_quiet());
    }

    // ---- changes ------------------------------------------------------------------------------

    pub fn begin_file(&mut self, k: &str, during: Vec<Option<FileState>>) -> (u64, u64) {
        let (id, t) = (self.new_id(), self.tick());
        if self.hot.len() >= HOT {
            self.hot.pop_front();
        }
        self.hot.push_back(k.to_string());
        self.files
            .entry(k.to_string())
            .or_insert_with(|| History::new(None))
            .begin(id, t, during);
        (id, t)
    }

    pub fn end_file(&mut self, k: &str, id: u64, after: Option<FileState>) {
        let t = self.tick();
        self.files
            .entry(k.to_string())
            .or_insert_with(|| History::new(None))
            .end(id, t, after);
    }

    pub fn begin_dir(&mut self, k: &str, during: Vec<Option<VolPath>>) -> u64 {
        let (id, t) = (self.new_id(), self.tick());
        self.dirs
            .entry(k.to_string())
            .or_insert_with(|| History::new(None))
            .begin(id, t, during);
        id
    }

    pub fn end_dir(&mut self, k: &str, id: u64, after: Option<VolPath>) {
        let t = self.tick();
        self.dirs
            .entry(k.to_string())
            .or_insert_with(|| History::new(None))
            .end(id, t, after);
    }

    /// An identity change starts; `after`: what it will be if the change succeeds.
    pub fn begin_caller(&mut self, uid: u32, after: Caller) -> u64 {
        let (id, t) = (self.new_id(), self.tick());
        if let Some(h) = self.callers.get_mut(&uid) {
            h.begin(id, t, vec![after]);
        }
        id
    }

    pub fn end_caller(&mut self, uid: u32, id: u64, after: Caller) {
        let t = self.tick();
        self.callers
            .entry(uid)
            .or_insert_with(|| History::new(after.clone()))
            .end(id, t, after);
    }

    pub fn begin_grant(&mut self, uid: u32, file: u64, after: Grant) -> u64 {
        let (id, t) = (self.new_id(), self.tick());
        self.grants
            .entry((uid, file))
            .or_insert_with(|| History::new(Grant::None))
            .begin(id, t, vec![after]);
        id
    }

    pub fn end_grant(&mut self, uid: u32, file: u64, id: u64, after: Grant) {
        let t = self.tick();
        self.grants
            .entry((uid, file))
            .or_insert_with(|| History::new(Grant::None))
            .end(id, t, after);
    }

    // ---- queries ------------------------------------------------------------------------------

    pub fn file(&self, k: &str) -> Option<&FileState> {
        self.files.get(k).and_then(|h| h.current.as_ref())
    }

    pub fn dir_exists(&self, k: &str) -> bool {
        self.dirs.get(k).is_some_and(|h| h.current.is_some())
    }

    /// True when something is changing `k` right now.
    pub fn busy(&self, k: &str) -> bool {
        self.files.get(k).is_some_and(History::busy) || self.dirs.get(k).is_some_and(History::busy)
    }

    pub fn caller(&self, uid: u32) -> Option<Caller> {
        self.callers.get(&uid).map(|h| h.current.clone())
    }

    /// Current files directly in directory `dk`.
    pub fn files_in(&self, dk: &str) -> Vec<FileState> {
        self.files
            .values()
            .filter_map(|h| h.current.as_ref())
            .filter(|f| parent_key(&f.path) == dk)
            .cloned()
            .collect()
    }

    /// Keys of files directly in `dk` that exist now or may have existed between `t0` and `t1`.
    pub fn file_keys_in(&self, dk: &str, t0: u64, t1: u64) -> Vec<String> {
        self.files
            .iter()
            .filter(|(_, h)| {
                h.candidates(t0, t1)
                    .iter()
                    .flatten()
                    .any(|f| parent_key(&f.path) == dk)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Current files anywhere below directory `dk`.
    pub fn files_under(&self, dk: &str) -> Vec<FileState> {
        let prefix = format!("{dk}/");
        self.files
            .values()
            .filter_map(|h| h.current.as_ref())
            .filter(|f| key(&f.path).starts_with(&prefix))
            .cloned()
            .collect()
    }

    /// Current directories anywhere below `dk`.
    pub fn dirs_under(&self, dk: &str) -> Vec<VolPath> {
        let prefix = format!("{dk}/");
        self.dirs
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(_, h)| h.current.clone())
            .collect()
    }

    fn caller_cands(&self, uid: u32, t0: u64, t1: u64) -> Vec<Caller> {
        let mut v = match self.callers.get(&uid) {
            Some(h) => h.candidates(t0, t1),
            None => vec![Caller::unregistered(uid)],
        };
        v.dedup();
        v
    }

    fn grant_cands(&self, uid: u32, file: u64, t0: u64, t1: u64) -> Vec<Grant> {
        let mut v = match self.grants.get(&(uid, file)) {
            Some(h) => h.candidates(t0, t1),
            None => vec![Grant::None],
        };
        v.sort();
        v.dedup();
        v
    }

    /// Whether a `.nomedia` file could make `dir`'s contents hidden: the set of possible answers.
    fn hidden_dir_cands(&self, dir: &VolPath, t0: u64, t1: u64, skip: &[u64]) -> Vec<bool> {
        let Some(dirs) = nomedia_dirs(dir) else {
            return vec![true];
        };
        let (mut may, mut must) = (false, false);
        for d in dirs {
            let nk = format!("{}/.nomedia", key(&d));
            let c: Vec<bool> = match self.files.get(&nk) {
                Some(h) => h
                    .candidates_except(t0, t1, skip)
                    .iter()
                    .map(Option::is_some)
                    .collect(),
                None => vec![false],
            };
            may |= c.iter().any(|&b| b);
            must |= c.iter().all(|&b| b);
        }
        match (may, must) {
            (_, true) => vec![true],
            (true, false) => vec![true, false],
            _ => vec![false],
        }
    }

    /// The states `path` (a file or a directory) could have been in between `t0` and `t1`, as
    /// `uid` would be judged, one [`World`] each; `skip`: the judged operation's own changes.
    pub fn worlds(&self, uid: u32, path: &VolPath, t0: u64, t1: u64) -> Vec<World> {
        self.worlds_except(uid, path, t0, t1, &[])
    }

    pub fn worlds_except(
        &self,
        uid: u32,
        path: &VolPath,
        t0: u64,
        t1: u64,
        skip: &[u64],
    ) -> Vec<World> {
        let k = key(path);
        let callers = self.caller_cands(uid, t0, t1);
        let mut out = Vec::new();
        if let Some(h) = self.dirs.get(&k) {
            for c in &callers {
                for d in h.candidates_except(t0, t1, skip) {
                    let facts = if d.is_some() {
                        FileFacts::dir()
                    } else {
                        FileFacts::absent()
                    };
                    out.push(World {
                        caller: c.clone(),
                        facts,
                        state: None,
                    });
                }
            }
            if !out.is_empty() && !self.files.contains_key(&k) {
                return out;
            }
        }
        let states = match self.files.get(&k) {
            Some(h) => h.candidates_except(t0, t1, skip),
            None => vec![None],
        };
        let hidden_dir = self.hidden_dir_cands(&path.parent().unwrap_or_default(), t0, t1, skip);
        for c in &callers {
            for s in &states {
                let Some(f) = s else {
                    out.push(World {
                        caller: c.clone(),
                        facts: FileFacts::absent(),
                        state: None,
                    });
                    continue;
                };
                let name = f.path.file_name();
                let locs: &[bool] = if f.partial {
                    &[true, false]
                } else if f.content.has_location() {
                    &[true]
                } else {
                    &[false]
                };
                for &hd in &hidden_dir {
                    for g in self.grant_cands(uid, f.id, t0, t1) {
                        for &loc in locs {
                            out.push(World {
                                caller: c.clone(),
                                facts: FileFacts {
                                    exists: true,
                                    is_dir: false,
                                    owner: f.owner.clone(),
                                    media_type: Some(media_type_of(name)),
                                    hidden: hd || is_hidden_name(name),
                                    fuse_pending: f.fuse_pending,
                                    has_location: loc,
                                    grant: g,
                                },
                                state: Some(f.clone()),
                            });
                        }
                    }
                }
            }
        }
        out
    }
}
