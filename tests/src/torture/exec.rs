//! Running one planned operation as its app's uid and judging it: the model's states in the
//! operation's window give the worlds, the policy's decisions give the allowed answers, the
//! answer the app got is checked against them, and the model follows what really happened.

use super::apps::AppSpec;
use super::changes::{begin_changes, end_unknown, Pending};
use super::live::{timed_as, Live, Timed};
use super::model::{key, Model, World};
use super::ops::{AccessMode, Plan, ReadHow};
use super::oracle::{self, Outcomes};
use super::report::Report;
use mediaprovider_policy::rules::Decision;
use mediaprovider_policy::VolPath;
use mediaproviderd_tests::{sys, Stat, R};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

/// Lower-filesystem faults the run injects, which widen what some operations may answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// The lower tree is a small tmpfs: writes may fail with ENOSPC.
    pub enospc: bool,
    /// The daemon's opens of names containing [`EIO_MARK`] fail with EIO.
    pub eio: bool,
}

pub const EIO_MARK: &str = "eiofault";

/// What one app thread works with.
pub struct Ctx {
    pub app: AppSpec,
    pub apps: Arc<Vec<AppSpec>>,
    pub mnt: PathBuf,
    pub lower: PathBuf,
    pub model: Arc<Mutex<Model>>,
    pub report: Arc<Report>,
    pub live: Arc<Live>,
    pub faults: Faults,
}

pub fn lock(m: &Mutex<Model>) -> MutexGuard<'_, Model> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the app saw.
#[derive(Debug)]
pub(super) enum Obs {
    Unit(R<()>),
    Bytes(R<Vec<u8>>),
    Names(R<Vec<String>>),
    Stat(R<Stat>),
    Steps(Vec<R<()>>),
}

impl Obs {
    /// The first error, or success.
    pub(super) fn result(&self) -> Option<i32> {
        let e = match self {
            Obs::Unit(r) => r.as_ref().err(),
            Obs::Bytes(r) => r.as_ref().err(),
            Obs::Names(r) => r.as_ref().err(),
            Obs::Stat(r) => r.as_ref().err(),
            Obs::Steps(v) => v.iter().find_map(|r| r.as_ref().err()),
        };
        e.map(|e| e.0)
    }
}

fn show(o: Option<i32>) -> String {
    o.map_or_else(|| "ok".to_string(), super::live::errno_name)
}

fn is_mutation(p: &Plan) -> bool {
    !matches!(
        p,
        Plan::Read { .. } | Plan::Stat { .. } | Plan::Access { .. } | Plan::Readdir { .. }
    )
}

impl Ctx {
    fn m(&self, rel: &VolPath) -> PathBuf {
        if rel.is_root() {
            self.mnt.clone()
        } else {
            self.mnt.join(rel.as_str())
        }
    }

    fn actor(&self) -> String {
        self.app.label()
    }

    /// Runs `plan`; returns false if it was skipped (the guard refused it).
    pub fn run(&self, plan: &Plan) -> bool {
        let uid = self.app.uid;
        // Logged under its paths; a violation also pulls in the caller's identity changes.
        let keys: Vec<String> = plan.paths().iter().map(|p| key(p)).collect();
        let mut blame = keys.clone();
        blame.push(format!("uid:{uid}"));
        // …and the `.nomedia` files that decide whether its directories hide it.
        let mut dir = plan.paths()[0].parent();
        while let Some(d) = dir {
            blame.push(format!("{}/.nomedia", key(&d)));
            dir = d.parent();
        }
        let mut m = lock(&self.model);
        let t0 = m.op_start();
        // Mutations outside the app's partition are only tried where the policy refuses them
        // in every state: an allowed one would race the owner's own changes.
        let foreign = plan.paths().iter().any(|p| !self.app.owns(p));
        if is_mutation(plan) && foreign {
            let pre = self.expect(&m, plan, t0, t0, &[]);
            if pre.outcomes.contains(&None) {
                m.op_end(t0);
                self.report
                    .counters
                    .skipped_plans
                    .fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        let changes = if foreign {
            Vec::new()
        } else {
            begin_changes(&mut m, plan, uid)
        };
        drop(m);
        let e0 = self.live.epoch.load(Ordering::SeqCst);
        let down0 = self.live.down.load(Ordering::SeqCst);
        let timed = self.execute(plan);
        let down1 = self.live.down.load(Ordering::SeqCst);
        let e1 = self.live.epoch.load(Ordering::SeqCst);
        let killed = e0 != e1 || down0 || down1;
        let mut m = lock(&self.model);
        let t1 = m.op_end(t0);
        self.report.counters.ops.fetch_add(1, Ordering::Relaxed);
        let obs = match timed {
            Timed::Done(o) => o,
            Timed::Hung => {
                drop(m);
                self.report
                    .record(&self.actor(), &plan.describe(), keys.clone(), "HUNG");
                self.live.hang(&self.report, &plan.describe(), &blame);
                return true;
            }
            Timed::Crashed(msg) => {
                // A mapping of a file that shrank meanwhile may SIGBUS: only a crash on a file
                // nothing changed is a violation.
                // Files rewritten behind the daemon's back may keep a stale cached size for
                // the attribute timeout (no FUSE file system sees such changes): not judged.
                let raced = plan.paths().iter().any(|p| {
                    super::admin::CHAOS_DIRS
                        .iter()
                        .any(|d| p.as_str().starts_with(d))
                        || m.files
                            .get(&key(p))
                            .is_some_and(|h| h.candidates(t0, t1).len() > 1)
                });
                end_unknown(&mut m, &changes);
                drop(m);
                self.report
                    .record(&self.actor(), &plan.describe(), keys.clone(), "CRASHED");
                if !killed && !raced {
                    self.report.violation(
                        "child-crashed",
                        &format!("{}: {} — {msg}", self.actor(), plan.describe()),
                        &blame,
                    );
                }
                return true;
            }
        };
        let got = obs.result();
        if killed {
            // A kill happened while it ran: any answer is possible; the check after the restart
            // settles what the lower tree and the store kept.
            self.report
                .counters
                .indeterminate
                .fetch_add(1, Ordering::Relaxed);
            end_unknown(&mut m, &changes);
            drop(m);
            self.report.record(
                &self.actor(),
                &plan.describe(),
                keys,
                &format!("{} (during a kill)", show(got)),
            );
            return true;
        }
        let own: Vec<u64> = changes.iter().map(Pending::id).collect();
        let exp = self.expect(&m, plan, t0, t1, &own);
        let mut problems: Vec<(&'static str, String)> = Vec::new();
        if !self.step_outcomes_ok(&obs, &exp) {
            problems.push((
                "errno-mismatch",
                format!(
                    "{}: {} -> {}, the policy allows {} (rules: {})",
                    self.actor(),
                    plan.describe(),
                    describe_obs(&obs),
                    oracle::show(&exp.outcomes),
                    exp.rules.join(",")
                ),
            ));
        }
        let behind_back = plan.paths().iter().any(|p| {
            super::admin::CHAOS_DIRS
                .iter()
                .any(|d| p.as_str().starts_with(d))
        });
        if let Obs::Bytes(Ok(bytes)) = &obs {
            let held = matches!(
                plan,
                Plan::Read {
                    how: ReadHow::Held,
                    ..
                }
            );
            let exact = oracle::read_is_exact(held, behind_back, &exp.worlds);
            if let Some((class, d)) = oracle::check_read(bytes, &exp.worlds, &exp.decisions, exact)
            {
                problems.push((
                    class,
                    format!("{}: {} — {d}", self.actor(), plan.describe()),
                ));
            }
        }
        if let (Plan::Readdir { path }, Obs::Names(Ok(names))) = (plan, &obs) {
            problems.extend(self.check_listing(&m, path, names, t0, t1));
        }
        match got {
            Some(libc::ENOSPC) => self.report.counters.enospc.fetch_add(1, Ordering::Relaxed),
            Some(libc::EIO) => self.report.counters.eio.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        let steps_ok = match &obs {
            Obs::Steps(v) => v.iter().take_while(|r| r.is_ok()).count(),
            other => usize::from(other.result().is_none()),
        };
        self.apply(&mut m, plan, got, steps_ok, &changes);
        drop(m);
        if let (Plan::Rename { from, to, .. }, true, None) = (plan, foreign, got) {
            self.undo_rename(from, to);
        }
        let outcome = format!(
            "{} (allowed {})",
            describe_obs(&obs),
            oracle::show(&exp.outcomes)
        );
        self.report
            .record(&self.actor(), &plan.describe(), keys.clone(), &outcome);
        for (class, d) in problems {
            let answer = if class == "errno-mismatch" {
                format!(
                    " -> {} (allowed {})",
                    describe_obs(&obs),
                    oracle::show(&exp.outcomes)
                )
            } else {
                String::new()
            };
            let sig = format!(
                "{class}: {}{answer}{}",
                plan.name(),
                if behind_back {
                    " [file changed behind the daemon's back]"
                } else {
                    ""
                }
            );
            self.report.violation_as(class, &sig, &d, &blame);
        }
        true
    }

    /// A foreign rename the policy refuses went through: move it back (as root), so one
    /// violation does not turn into hundreds.
    fn undo_rename(&self, from: &VolPath, to: &VolPath) {
        let (a, b) = (self.m(to), self.m(from));
        let back = matches!(
            timed_as(0, move || sys::rename(&a, &b)),
            Timed::Done(Ok(()))
        );
        if back {
            let mut m = lock(&self.model);
            let undo = Plan::Rename {
                from: to.clone(),
                to: from.clone(),
                noreplace: false,
            };
            self.apply(&mut m, &undo, None, 1, &[]);
        }
        self.report.record(
            "repair",
            &format!("root rename {to} -> {from}"),
            vec![key(from), key(to)],
            if back { "ok" } else { "failed" },
        );
    }

    fn execute(&self, plan: &Plan) -> Timed<Obs> {
        let uid = self.app.uid;
        macro_rules! as_uid {
            ($wrap:path, $body:expr) => {
                match timed_as(uid, $body) {
                    Timed::Done(r) => Timed::Done($wrap(r)),
                    Timed::Hung => Timed::Hung,
                    Timed::Crashed(m) => Timed::Crashed(m),
                }
            };
        }
        match plan.clone() {
            Plan::Create {
                path,
                content,
                rdonly,
            } => {
                let p = self.m(&path);
                if rdonly {
                    as_uid!(Obs::Unit, move || sys::open(
                        &p,
                        libc::O_RDONLY | libc::O_CREAT,
                        0o644
                    )?
                    .close())
                } else {
                    as_uid!(Obs::Unit, move || sys::create(&p, &content.bytes))
                }
            }
            Plan::Rewrite { path, content } => {
                let p = self.m(&path);
                as_uid!(Obs::Unit, move || sys::overwrite(&p, &content.bytes))
            }
            Plan::WriteAt { path, off, data } => {
                let p = self.m(&path);
                as_uid!(Obs::Unit, move || sys::write_at(&p, off, &data))
            }
            Plan::Truncate { path, len } => {
                let p = self.m(&path);
                as_uid!(Obs::Unit, move || sys::truncate(&p, len))
            }
            Plan::OpenWrite { path } => {
                let p = self.m(&path);
                as_uid!(Obs::Unit, move || sys::open_close(&p, libc::O_WRONLY))
            }
            Plan::Unlink { path } => {
                let p = self.m(&path);
                as_uid!(Obs::Unit, move || sys::unlink(&p))
            }
            Plan::Rename {
                from,
                to,
                noreplace,
            } => {
                let (a, b) = (self.m(&from), self.m(&to));
                let flags = if noreplace { sys::RENAME_NOREPLACE } else { 0 };
                as_uid!(Obs::Unit, move || sys::rename2(&a, &b, flags))
            }
            Plan::Mkdir { path } => {
                let p = self.m(&path);
                as_uid!(Obs::Unit, move || sys::mkdir(&p))
            }
            Plan::Rmdir { path } => {
                let p = self.m(&path);
                as_uid!(Obs::Unit, move || sys::rmdir(&p))
            }
            Plan::Read { path, how } => {
                let p = self.m(&path);
                as_uid!(Obs::Bytes, move || match how {
                    ReadHow::Read => sys::read_file(&p),
                    ReadHow::Held => {
                        let fd = sys::open(&p, libc::O_RDONLY, 0)?;
                        let first = fd.read_all()?;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        let again = fd.pread(0, first.len() + (1 << 20))?;
                        fd.close()?;
                        Ok(again)
                    }
                    ReadHow::MmapShared => sys::mmap_read(&p, true),
                    ReadHow::MmapPrivate => sys::mmap_read(&p, false),
                })
            }
            Plan::Stat { path } => {
                let p = self.m(&path);
                as_uid!(Obs::Stat, move || sys::stat(&p))
            }
            Plan::Access { path, mode } => {
                let p = self.m(&path);
                let mode = match mode {
                    AccessMode::Exists => libc::F_OK,
                    AccessMode::Read => libc::R_OK,
                    AccessMode::Write => libc::W_OK,
                };
                as_uid!(Obs::Unit, move || sys::access(&p, mode))
            }
            Plan::Readdir { path } => {
                let p = self.m(&path);
                as_uid!(Obs::Names, move || sys::readdir(&p))
            }
            Plan::FstatUnlinked { path } => {
                let p = self.m(&path);
                as_uid!(Obs::Steps, move || {
                    let fd = match sys::open(&p, libc::O_RDONLY, 0) {
                        Ok(fd) => fd,
                        Err(e) => return vec![Err(e)],
                    };
                    let un = sys::unlink(&p);
                    let st = fd.fstat().map(|_| ());
                    vec![Ok(()), un, st]
                })
            }
            Plan::CaseRecreate { path, content } => {
                let p = self.m(&path);
                let upper = self.m(&shouted(&path));
                // SPEC §5.10 / issue 8 item 10: create foo, unlink FOO, create FOO, read foo.
                as_uid!(Obs::Steps, move || {
                    let c = &content.bytes;
                    let steps: [&dyn Fn() -> R<()>; 4] = [
                        &|| sys::create(&p, c),
                        &|| sys::unlink(&upper),
                        &|| sys::create(&upper, c),
                        &|| match sys::read_file(&p) {
                            Ok(b) if &b == c => Ok(()),
                            Ok(_) => Err(mediaproviderd_tests::ENODATA),
                            Err(e) => Err(e),
                        },
                    ];
                    let mut v = Vec::new();
                    for step in steps {
                        let r = step();
                        let failed = r.is_err();
                        v.push(r);
                        if failed {
                            break;
                        }
                    }
                    v
                })
            }
        }
    }
}

pub(super) fn shouted(p: &VolPath) -> VolPath {
    p.parent()
        .unwrap_or_default()
        .join(&p.file_name().to_ascii_uppercase())
        .unwrap_or_else(|_| p.clone())
}

fn describe_obs(o: &Obs) -> String {
    match o {
        Obs::Bytes(Ok(b)) => format!("ok ({} bytes)", b.len()),
        Obs::Names(Ok(n)) => format!("ok ({} names)", n.len()),
        Obs::Steps(v) => {
            let s: Vec<String> = v
                .iter()
                .map(|r| {
                    r.as_ref()
                        .map_or_else(|e| e.name().to_string(), |_| "ok".into())
                })
                .collect();
            format!("[{}]", s.join(","))
        }
        other => show(other.result()).to_string(),
    }
}

/// The allowed answers of one plan and the worlds/decisions behind them.
pub struct Expect {
    pub outcomes: Outcomes,
    pub worlds: Vec<World>,
    pub decisions: Vec<Decision>,
    pub rules: Vec<&'static str>,
    /// For multi-step plans: the allowed answers of each step.
    pub steps: Vec<Outcomes>,
}
