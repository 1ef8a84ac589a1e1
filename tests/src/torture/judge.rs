//! The other half of [`super::exec`]: what a plan may answer (the policy's decisions in every
//! world, widened only by injected faults), listings, and how the model follows the answer.

use super::changes::Pending;
use super::content::Content;
use super::exec::{Ctx, Expect, Obs, EIO_MARK};
use super::model::{key, parent_key, FileState, Model};
use super::ops::{AccessMode, Plan};
use super::oracle::{self, Outcomes};
use mediaprovider_policy::paths::fold;
use mediaprovider_policy::rules::{self, Op};
use mediaprovider_policy::{FileFacts, VolPath};
use std::collections::HashMap;
use std::sync::Arc;

fn ok_only() -> Outcomes {
    [None].into_iter().collect()
}

impl Ctx {
    pub(super) fn expect(&self, m: &Model, plan: &Plan, t0: u64, t1: u64, skip: &[u64]) -> Expect {
        let uid = self.app.uid;
        let single = |op: Op, p: &VolPath| {
            let w = m.worlds_except(uid, p, t0, t1, skip);
            let ds = oracle::decide_all(op, p, &w);
            (w, ds)
        };
        let mut steps = Vec::new();
        let (worlds, decisions, mut outcomes) = match plan {
            Plan::Rename {
                from,
                to,
                noreplace,
            } => {
                let (wo, wn) = (
                    m.worlds_except(uid, from, t0, t1, skip),
                    m.worlds_except(uid, to, t0, t1, skip),
                );
                let contents: Vec<(VolPath, FileFacts)> = m
                    .files_under(&key(from))
                    .into_iter()
                    .filter_map(|f| {
                        let w = m.worlds(uid, &f.path, t0, t0).into_iter().next()?;
                        Some((f.path, w.facts))
                    })
                    .collect();
                let flags = if *noreplace {
                    rules::RENAME_NOREPLACE
                } else {
                    0
                };
                let ds = oracle::rename_all(from, to, flags, &wo, &wn, &contents);
                let mut o = oracle::outcomes(&ds);
                // The kernel looks both names up before RENAME reaches the daemon: a path in
                // another app's private dir fails there, with ENOENT.
                let private =
                    |p: &VolPath| wo.iter().any(|w| !rules::lookup(&w.caller, p).allowed());
                if private(from) || private(&to.parent().unwrap_or_default()) {
                    o.insert(Some(libc::ENOENT));
                }
                (wo, ds, o)
            }
            Plan::Create {
                path, rdonly: true, ..
            } => {
                let w = m.worlds_except(uid, path, t0, t1, skip);
                let ds = oracle::create_or_open_all(path, &w);
                let o = oracle::outcomes(&ds);
                (w, ds, o)
            }
            Plan::Rmdir { path } => {
                let (w, ds) = single(Op::Rmdir, path);
                let k = key(path);
                let full = !m.files_under(&k).is_empty() || !m.dirs_under(&k).is_empty();
                let o = oracle::rmdir_outcomes(&ds, !full, full);
                (w, ds, o)
            }
            _ => {
                let (op, path) = match plan {
                    Plan::Create { path, .. } | Plan::CaseRecreate { path, .. } => {
                        (Op::Create, path)
                    }
                    Plan::Rewrite { path, .. }
                    | Plan::WriteAt { path, .. }
                    | Plan::OpenWrite { path } => (Op::OpenWrite, path),
                    Plan::Truncate { path, .. } => (Op::Setattr, path),
                    Plan::Unlink { path } => (Op::Unlink, path),
                    Plan::Mkdir { path } => (Op::Mkdir, path),
                    Plan::Read { path, .. } | Plan::FstatUnlinked { path } => (Op::OpenRead, path),
                    Plan::Stat { path } => (Op::Getattr, path),
                    Plan::Access { path, mode } => (
                        match mode {
                            AccessMode::Exists => Op::Lookup,
                            AccessMode::Read => Op::AccessRead,
                            AccessMode::Write => Op::AccessWrite,
                        },
                        path,
                    ),
                    Plan::Readdir { path } => (Op::Opendir, path),
                    Plan::Rename { from, .. } | Plan::Rmdir { path: from } => (Op::Lookup, from),
                };
                let (w, ds) = single(op, path);
                let o = oracle::outcomes(&ds);
                (w, ds, o)
            }
        };
        let main = plan.paths()[0].clone();
        let marked = self.faults.eio && fold(main.file_name()).contains(EIO_MARK);
        let writes_data = matches!(
            plan,
            Plan::Create { rdonly: false, .. }
                | Plan::Rewrite { .. }
                | Plan::WriteAt { .. }
                | Plan::Mkdir { .. }
                | Plan::CaseRecreate { .. }
        );
        let opens_lower = matches!(
            plan,
            Plan::Create { .. }
                | Plan::Rewrite { .. }
                | Plan::WriteAt { .. }
                | Plan::OpenWrite { .. }
                | Plan::Read { .. }
                | Plan::FstatUnlinked { .. }
        );
        if marked && opens_lower && outcomes.remove(&None) {
            // The daemon must open the lower file to serve this: the injected EIO must reach the app.
            outcomes.insert(Some(libc::EIO));
        } else if marked {
            outcomes.insert(Some(libc::EIO));
        }
        if self.faults.enospc && writes_data && outcomes.contains(&None) {
            outcomes.insert(Some(libc::ENOSPC));
        }
        // A parent directory that may be gone answers ENOENT before any policy.
        let parent_may_be_absent = m.dirs.get(&parent_key(&main)).is_none_or(|h| {
            h.candidates_except(t0, t1, skip)
                .iter()
                .any(Option::is_none)
        });
        if parent_may_be_absent {
            outcomes.insert(Some(libc::ENOENT));
        }
        match plan {
            Plan::FstatUnlinked { path } => {
                let (_, du) = single(Op::Unlink, path);
                steps = vec![outcomes.clone(), oracle::outcomes(&du), ok_only()];
            }
            Plan::CaseRecreate { .. } => {
                let mut again = ok_only();
                if self.faults.enospc {
                    again.insert(Some(libc::ENOSPC));
                }
                steps = vec![outcomes.clone(), ok_only(), again, ok_only()];
            }
            _ => {}
        }
        let mut rules: Vec<&'static str> = decisions.iter().map(|d| d.rule).collect();
        rules.sort();
        rules.dedup();
        Expect {
            outcomes,
            worlds,
            decisions,
            rules,
            steps,
        }
    }

    pub(super) fn step_outcomes_ok(&self, obs: &Obs, exp: &Expect) -> bool {
        match obs {
            Obs::Steps(v) if !exp.steps.is_empty() => {
                v.iter().enumerate().all(|(i, r)| {
                    exp.steps
                        .get(i)
                        .is_some_and(|o| o.contains(&r.as_ref().err().map(|e| e.0)))
                }) && (v.len() == exp.steps.len() || v.last().is_some_and(|r| r.is_err()))
            }
            other => exp.outcomes.contains(&other.result()),
        }
    }

    /// A listing must hold every file each world shows this caller, none that no world shows,
    /// every stable subdirectory, and nothing the model does not know.
    pub(super) fn check_listing(
        &self,
        m: &Model,
        dir: &VolPath,
        names: &[String],
        t0: u64,
        t1: u64,
    ) -> Vec<(&'static str, String)> {
        let dk = key(dir);
        let listed: HashMap<String, &String> = names.iter().map(|n| (fold(n), n)).collect();
        let mut known: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for fk in m.file_keys_in(&dk, t0, t1) {
            let name = fk.rsplit('/').next().unwrap_or(&fk).to_string();
            known.push(name.clone());
            let Some(path) = m.files.get(&fk).and_then(|h| {
                h.candidates(t0, t1)
                    .into_iter()
                    .flatten()
                    .next()
                    .map(|f| f.path)
            }) else {
                continue;
            };
            let vis: Vec<bool> = m
                .worlds(self.app.uid, &path, t0, t1)
                .iter()
                .map(|w| w.facts.exists && rules::visible_in_listing(&w.caller, &path, &w.facts))
                .collect();
            let shown = listed.contains_key(&name);
            if vis.iter().all(|&v| v) && !shown {
                out.push((
                    "listing-missing",
                    format!(
                        "{}: readdir {dir} lacks {path}, which the policy shows it",
                        self.actor_label()
                    ),
                ));
            } else if vis.iter().all(|&v| !v) && shown {
                out.push((
                    "listing-leak",
                    format!(
                        "{}: readdir {dir} shows {path}, which the policy hides from it",
                        self.actor_label()
                    ),
                ));
            }
        }
        for (k, h) in m
            .dirs
            .iter()
            .filter(|(k, _)| parent_key_of(k) == dk && !k.is_empty())
        {
            let name = k.rsplit('/').next().unwrap_or(k).to_string();
            known.push(name.clone());
            if !h.busy() && h.is_quiet() && h.current.is_some() && !listed.contains_key(&name) {
                out.push((
                    "listing-missing",
                    format!(
                        "{}: readdir {dir} lacks subdirectory {name}",
                        self.actor_label()
                    ),
                ));
            }
        }
        for (f, n) in &listed {
            if !known.contains(f) && !m.dirty.iter().any(|d| dk.starts_with(d.as_str())) {
                out.push((
                    "listing-unknown",
                    format!(
                        "{}: readdir {dir} shows {n}, which the model does not have",
                        self.actor_label()
                    ),
                ));
            }
        }
        out
    }

    fn actor_label(&self) -> String {
        self.app.label()
    }

    /// The model follows the answer the app got.
    pub(super) fn apply(
        &self,
        m: &mut Model,
        plan: &Plan,
        got: Option<i32>,
        steps_ok: usize,
        changes: &[Pending],
    ) {
        let ok = got.is_none();
        let owner = m
            .caller(self.app.uid)
            .and_then(|c| c.owner_package().map(str::to_string));
        let mut files: HashMap<String, Option<FileState>> = HashMap::new();
        let mut dirs: HashMap<String, Option<VolPath>> = HashMap::new();
        let current = |m: &Model, p: &VolPath| m.file(&key(p)).cloned();
        let resync = |m: &mut Model, p: &VolPath| -> Option<FileState> {
            let (vp, bytes) = super::lower::read(&self.lower, p)?;
            let old = m.file(&key(p)).cloned();
            Some(FileState {
                id: old.as_ref().map_or_else(|| m.new_id(), |o| o.id),
                path: vp,
                owner: old.map_or_else(|| owner.clone(), |o| o.owner),
                content: Content::new("lower-after-fault".into(), bytes),
                partial: false,
                fuse_pending: false,
            })
        };
        match plan {
            Plan::Create {
                path,
                content,
                rdonly,
            } => {
                let after = if ok && *rdonly && current(m, path).is_some() {
                    // O_CREAT without O_EXCL opened the file that was there.
                    current(m, path)
                } else if ok {
                    let content = if *rdonly {
                        Content::new("empty".into(), Vec::new())
                    } else {
                        Arc::clone(content)
                    };
                    Some(FileState {
                        id: m.new_id(),
                        path: path.clone(),
                        owner: owner.clone(),
                        content,
                        partial: false,
                        fuse_pending: false,
                    })
                } else if got == Some(libc::ENOSPC) {
                    resync(m, path)
                } else {
                    current(m, path)
                };
                files.insert(key(path), after);
            }
            Plan::CaseRecreate { path, content } => {
                let after = if ok && steps_ok == 4 {
                    Some(FileState {
                        id: m.new_id(),
                        path: super::exec::shouted(path),
                        owner: owner.clone(),
                        content: Arc::clone(content),
                        partial: false,
                        fuse_pending: false,
                    })
                } else if steps_ok == 0 && got != Some(libc::ENOSPC) {
                    current(m, path)
                } else {
                    resync(m, path)
                };
                files.insert(key(path), after);
            }
            Plan::Rewrite { path, content } => {
                let after = match (ok, got, current(m, path)) {
                    (true, _, Some(f)) => Some(FileState {
                        content: Arc::clone(content),
                        ..f
                    }),
                    (false, Some(libc::ENOSPC), _) => resync(m, path),
                    (_, _, cur) => cur,
                };
                files.insert(key(path), after);
            }
            Plan::WriteAt { path, off, data } => {
                let after = match (ok, got, current(m, path)) {
                    (true, _, Some(f)) => {
                        let mut b = f.content.bytes.clone();
                        let (s, e) = (*off as usize, *off as usize + data.len());
                        if b.len() < e {
                            b.resize(e, 0);
                        }
                        b[s..e].copy_from_slice(data);
                        Some(FileState {
                            content: Content::new(format!("{}+write", f.content.label), b),
                            ..f
                        })
                    }
                    (false, Some(libc::ENOSPC), _) => resync(m, path),
                    (_, _, cur) => cur,
                };
                files.insert(key(path), after);
            }
            Plan::Truncate { path, len } => {
                let after = match (ok, current(m, path)) {
                    (true, Some(f)) => {
                        let mut b = f.content.bytes.clone();
                        b.resize(*len as usize, 0);
                        Some(FileState {
                            content: Content::new(format!("{}+truncate", f.content.label), b),
                            ..f
                        })
                    }
                    (_, cur) => cur,
                };
                files.insert(key(path), after);
            }
            Plan::Unlink { path } => {
                files.insert(key(path), if ok { None } else { current(m, path) });
            }
            Plan::FstatUnlinked { path } => {
                let gone = steps_ok >= 2;
                files.insert(key(path), if gone { None } else { current(m, path) });
            }
            Plan::Rename { from, to, .. } if ok => {
                let fk = key(from);
                if m.dir_exists(&fk) {
                    for f in m.files_under(&fk) {
                        files.entry(key(&f.path)).or_insert(None);
                        if let Some(n) = f.path.rebase(from, to) {
                            files.insert(key(&n), Some(FileState { path: n, ..f }));
                        }
                    }
                    let mut all = m.dirs_under(&fk);
                    all.push(from.clone());
                    for d in all {
                        dirs.entry(key(&d)).or_insert(None);
                        if let Some(n) = d.rebase(from, to) {
                            dirs.insert(key(&n), Some(n));
                        }
                    }
                } else if let Some(f) = current(m, from) {
                    files.insert(fk, None);
                    files.insert(
                        key(to),
                        Some(FileState {
                            path: to.clone(),
                            ..f
                        }),
                    );
                }
            }
            Plan::Mkdir { path } if ok => {
                dirs.insert(key(path), Some(path.clone()));
            }
            Plan::Rmdir { path } if ok => {
                dirs.insert(key(path), None);
            }
            _ => {}
        }
        for c in changes {
            match c {
                Pending::File { key, id, before } => {
                    let after = files.remove(key).unwrap_or_else(|| before.clone());
                    m.end_file(key, *id, after);
                }
                Pending::Dir { key, id, before } => {
                    let after = dirs.remove(key).unwrap_or_else(|| before.clone());
                    m.end_dir(key, *id, after);
                }
            }
        }
        // Foreign changes the policy should have refused but that happened all the same.
        for (k, after) in files {
            m.end_file(&k, 0, after);
        }
        for (k, after) in dirs {
            m.end_dir(&k, 0, after);
        }
    }
}

fn parent_key_of(k: &str) -> String {
    match k.rfind('/') {
        Some(i) => k[..i].to_string(),
        None => String::new(),
    }
}
