//! Fact gathering: the one place that turns a store row, what the lower tree says and a caller
//! into the [`FileFacts`] the rule engine decides on. The daemon and `explain` both call it, so
//! they always decide the same way; the lower tree is reached through [`LowerFacts`], which
//! each of them implements over its own file access.

use crate::identity::Caller;
use crate::mime::classify_name;
use crate::paths::{dir_is_hidden, is_hidden_name, VolPath};
use crate::rules::{FileFacts, Grant};
use crate::store::{implied_owner, Result, Store};
use std::collections::HashMap;

/// What only the lower tree can answer.
pub trait LowerFacts {
    /// Does directory `dir` hold a `.nomedia` file now (added behind the daemon's back too)?
    fn has_nomedia(&self, dir: &VolPath) -> bool;
    /// Does the current content of file `path` carry location? Unknown or unreadable → true
    /// (fail closed).
    fn has_location(&self, path: &VolPath) -> bool;
}

/// The lower entry a decision is about, as the caller of [`gather`] found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowerEntry {
    pub is_dir: bool,
    pub size: u64,
    pub mtime_ns: i64,
    /// Someone holds it open for writing: its content (and location) may change under a
    /// reader at any moment, so its location is treated as present (fail closed).
    pub being_written: bool,
}

/// Hidden media directory (SPEC §5.2): a dot-dir on the way, or a `.nomedia` in it or above.
pub fn dir_hidden(lower: &dyn LowerFacts, dir: &VolPath) -> bool {
    dir_is_hidden(dir, |d| lower.has_nomedia(d))
}

/// Facts about `path` for `caller`; `entry` is `None` when the lower tree has no such entry.
pub fn gather(
    store: &Store,
    lower: &dyn LowerFacts,
    caller: &Caller,
    path: &VolPath,
    entry: Option<LowerEntry>,
) -> Result<FileFacts> {
    if entry.is_some_and(|e| e.is_dir) {
        return Ok(FileFacts::dir());
    }
    let dir = path.parent().unwrap_or_default();
    let found = store.decision_row(caller, path)?;
    let in_hidden_dir = dir_hidden(lower, &dir);
    let hidden = in_hidden_dir || is_hidden_name(path.file_name());
    let mut facts = match &found {
        Some((row, grant)) => Store::row_facts(row, in_hidden_dir, *grant),
        None => FileFacts {
            exists: true,
            media_type: Some(classify_name(path.file_name()).1),
            hidden,
            // Not indexed yet (added behind our back): the owner it will get when indexed.
            owner: implied_owner(path),
            ..FileFacts::default()
        },
    };
    let Some(entry) = entry else {
        facts.exists = false;
        facts.has_location = false;
        return Ok(facts);
    };
    facts.exists = true;
    let fresh = found
        .as_ref()
        .filter(|(r, _)| r.size == entry.size && r.mtime_ns == entry.mtime_ns)
        .and_then(|(r, _)| r.location);
    facts.has_location = entry.being_written
        || match fresh {
            Some(known) => known,
            None => lower.has_location(path),
        };
    Ok(facts)
}

/// Facts of every file row below `dir`, for a directory rename (SPEC §5.6: the caller must be
/// able to move each of them).
pub fn rename_contents(
    store: &Store,
    lower: &dyn LowerFacts,
    caller: &Caller,
    dir: &VolPath,
) -> Result<Vec<(VolPath, FileFacts)>> {
    let grants = store.grants_of(caller)?;
    let mut hidden_dirs: HashMap<VolPath, bool> = HashMap::new();
    let mut out = Vec::new();
    for row in store.list_tree(dir)? {
        let parent = row.path.parent().unwrap_or_default();
        let hidden = *hidden_dirs
            .entry(parent)
            .or_insert_with_key(|d| dir_hidden(lower, d));
        let grant = grants.get(&row.id).copied().unwrap_or(Grant::None);
        out.push((row.path.clone(), Store::row_facts(&row, hidden, grant)));
    }
    Ok(out)
}
