//! The model changes an operation registers before it runs (each showing, while in flight, its
//! old value, its intermediate states and its success value), and how they end.

use super::content::Content;
use super::model::{key, FileState, Model};
use super::ops::Plan;
use mediaprovider_policy::VolPath;
use std::sync::Arc;

/// A change the operation registered on the model, to be ended when it returns.
pub enum Pending {
    File {
        key: String,
        id: u64,
        before: Option<FileState>,
    },
    Dir {
        key: String,
        id: u64,
        before: Option<VolPath>,
    },
}

pub(super) fn begin_changes(m: &mut Model, plan: &Plan, uid: u32) -> Vec<Pending> {
    let owner = m
        .caller(uid)
        .and_then(|c| c.owner_package().map(str::to_string));
    let mut out = Vec::new();
    // Each change may show, while in flight, its old value, `during` and its success value.
    let mut file = |m: &mut Model, p: &VolPath, during: Vec<Option<FileState>>| {
        let k = key(p);
        let before = m.file(&k).cloned();
        let (id, _) = m.begin_file(&k, during);
        out.push(Pending::File { key: k, id, before });
    };
    let new_state =
        |p: &VolPath, c: &Arc<Content>, old: Option<&FileState>, partial: bool| FileState {
            id: old.map_or(0, |f| f.id),
            path: old.map_or_else(|| p.clone(), |f| f.path.clone()),
            owner: old.map_or_else(|| owner.clone(), |f| f.owner.clone()),
            content: Arc::clone(c),
            partial,
            fuse_pending: partial && old.is_none(),
        };
    match plan {
        Plan::Create { path, content, .. } | Plan::CaseRecreate { path, content } => {
            let during = vec![
                None,
                Some(new_state(path, content, None, true)),
                Some(new_state(path, content, None, false)),
            ];
            file(m, path, during);
        }
        Plan::Rewrite { path, content } => {
            let old = m.file(&key(path)).cloned();
            let during = vec![
                Some(new_state(path, content, old.as_ref(), true)),
                Some(new_state(path, content, old.as_ref(), false)),
            ];
            file(m, path, during);
        }
        Plan::WriteAt { path, .. } | Plan::Truncate { path, .. } => {
            let old = m.file(&key(path)).cloned();
            let during = old
                .as_ref()
                .map(|o| Some(new_state(path, &o.content, Some(o), true)))
                .into_iter()
                .collect();
            file(m, path, during);
        }
        Plan::Unlink { path } | Plan::FstatUnlinked { path } => file(m, path, vec![None]),
        Plan::Rename { from, to, .. } => {
            let fk = key(from);
            if m.dir_exists(&fk) {
                for f in m.files_under(&fk) {
                    file(m, &f.path, vec![None]);
                    if let Some(n) = f.path.rebase(from, to) {
                        let moved = FileState {
                            path: n.clone(),
                            ..f.clone()
                        };
                        file(m, &n, vec![Some(moved)]);
                    }
                }
                let mut dirs = m.dirs_under(&fk);
                dirs.push(from.clone());
                for d in dirs {
                    let moved = d.rebase(from, to);
                    let mut dir = |m: &mut Model, p: &VolPath, after: Option<VolPath>| {
                        let k = key(p);
                        let before = m.dirs.get(&k).and_then(|h| h.current.clone());
                        let id = m.begin_dir(&k, vec![after]);
                        out.push(Pending::Dir { key: k, id, before });
                    };
                    dir(m, &d, None);
                    if let Some(n) = moved {
                        dir(m, &n, Some(n.clone()));
                    }
                }
            } else {
                let moved = m.file(&fk).cloned().map(|f| FileState {
                    path: to.clone(),
                    ..f
                });
                file(m, from, vec![None]);
                file(m, to, vec![moved]);
            }
        }
        Plan::Mkdir { path } | Plan::Rmdir { path } => {
            let k = key(path);
            let before = m.dirs.get(&k).and_then(|h| h.current.clone());
            let after = matches!(plan, Plan::Mkdir { .. }).then(|| path.clone());
            let id = m.begin_dir(&k, vec![after]);
            out.push(Pending::Dir { key: k, id, before });
        }
        _ => {}
    }
    out
}

impl Pending {
    pub(super) fn id(&self) -> u64 {
        match self {
            Pending::File { id, .. } | Pending::Dir { id, .. } => *id,
        }
    }
}

/// Ends every change with its old value and marks the keys for the next lower-tree check.
pub(super) fn end_unknown(m: &mut Model, changes: &[Pending]) {
    for c in changes {
        match c {
            Pending::File { key, id, before } => {
                m.end_file(key, *id, before.clone());
                m.dirty.insert(key.clone());
            }
            Pending::Dir { key, id, before } => {
                m.end_dir(key, *id, before.clone());
                m.dirty.insert(key.clone());
            }
        }
    }
}
