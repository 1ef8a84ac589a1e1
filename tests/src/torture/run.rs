//! One torture run: mount the real daemon over a scratch lower tree, register the apps, let
//! them (and the admin and the lower-tree changer) loose in parallel, SIGKILL and restart the
//! daemon at random moments, check the invariants after every kill and at the end, and report.

use super::admin::{Admin, CHAOS_DIRS};
use super::apps::{roster, AppSpec};
use super::config::Config;
use super::content::Palette;
use super::exec::{lock, Ctx, Faults, EIO_MARK};
use super::faults;
use super::history::History;
use super::invariants;
use super::live::{connection_of, timed_as, Live, Timed};
use super::model::{key, Model};
use super::plan::Planner;
use super::report::Report;
use super::rng::Rng;
use mediaprovider_policy::VolPath;
use mediaproviderd_tests::{can_run, daemon_bin, shared_dir, sys, Fixture, ServeOpts};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Seconds a SIGKILLed daemon gets to exit and release its connection.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Exit codes: 0 clean, 1 violations, 2 the harness could not run.
pub fn run(cfg: &Config) -> i32 {
    if !can_run("torture") {
        return 0;
    }
    eprintln!(
        "torture: seed {} — {} s, {} apps, {} kills, {}, serve --threads {}, lower {}",
        cfg.seed,
        cfg.seconds,
        cfg.apps,
        cfg.kills,
        if cfg.passthrough {
            "passthrough"
        } else {
            "--no-passthrough"
        },
        cfg.threads,
        if cfg.lower_mib > 0 {
            format!("tmpfs {} MiB", cfg.lower_mib)
        } else {
            "plain dir".into()
        }
    );
    match Run::setup(cfg) {
        Ok(mut r) => r.go(),
        Err(e) => {
            eprintln!("torture: setup failed: {e}");
            2
        }
    }
}

struct Run {
    cfg: Config,
    fx: Option<Fixture>,
    root: PathBuf,
    lower: PathBuf,
    mnt: PathBuf,
    db: PathBuf,
    apps: Arc<Vec<AppSpec>>,
    model: Arc<Mutex<Model>>,
    report: Arc<Report>,
    live: Arc<Live>,
    palette: Arc<Palette>,
    log_path: PathBuf,
    exit_ms: Vec<u128>,
}

fn catch<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{what}: {msg}")
    })
}

impl Run {
    fn setup(cfg: &Config) -> Result<Run, String> {
        let palette = Arc::new(Palette::load(&shared_dir())?);
        catch("building mediaproviderd", daemon_bin)?;
        let root = Fixture::make_root();
        let lower = root.join("lower");
        if cfg.lower_mib > 0 {
            faults::mount_tmpfs(&lower, cfg.lower_mib)?;
        } else {
            std::fs::create_dir_all(&lower).map_err(|e| e.to_string())?;
        }
        if cfg.eio {
            let so = faults::build_eio_shim(&root, EIO_MARK)?;
            // Before any thread exists; only `serve` processes act on it.
            std::env::set_var("LD_PRELOAD", &so);
        }
        let opts = ServeOpts {
            threads: cfg.threads,
            passthrough: cfg.passthrough,
            stats: false,
            ..ServeOpts::default()
        };
        let (r2, l2) = (root.clone(), lower.clone());
        let fx = catch("starting serve", move || Fixture::start_on(r2, l2, opts))?;
        let log_path = std::env::temp_dir().join(format!("mpd-torture-{}.log", cfg.seed));
        let live = Arc::new(Live::new());
        live.pid.store(fx.pid(), Ordering::SeqCst);
        live.conn
            .store(connection_of(&fx.mnt).unwrap_or(0), Ordering::SeqCst);
        let apps = Arc::new(roster(cfg.apps));
        let mut run = Run {
            cfg: cfg.clone(),
            mnt: fx.mnt.clone(),
            db: fx.db.clone(),
            fx: Some(fx),
            root,
            lower,
            apps,
            model: Arc::new(Mutex::new(Model::default())),
            report: Arc::new(Report::new(cfg.seed, &log_path)),
            live,
            palette,
            log_path,
            exit_ms: Vec::new(),
        };
        run.register()?;
        if cfg.eio && !run.eio_injection_works() {
            eprintln!(
                "torture: NOTE: the EIO shim does not reach this daemon's lower-file opens \
                 (raw syscalls?); EIO checks are off for this run"
            );
            run.cfg.eio = false;
        }
        Ok(run)
    }

    /// Registers the apps through `mediaproviderd app add` and makes their partitions (as
    /// root, through the mount).
    fn register(&mut self) -> Result<(), String> {
        let fx = self.fx.as_ref().ok_or("no daemon")?;
        let mut m = lock(&self.model);
        for app in self.apps.iter() {
            if let Some(pkg) = &app.pkg {
                let p = app.profile;
                catch("app add", || {
                    fx.add_package(pkg, app.uid, p.perms, p.target_sdk, p.legacy)
                })?;
            }
            m.end_caller(app.uid, 0, app.caller(app.profile.perms, true));
        }
        let mut dirs: Vec<String> = vec![String::new(), "Android".into(), "Torture".into()];
        for top in [
            "Alarms",
            "Audiobooks",
            "DCIM",
            "Documents",
            "Download",
            "Movies",
            "Music",
            "Notifications",
            "Pictures",
            "Podcasts",
            "Recordings",
            "Ringtones",
        ] {
            dirs.push(top.into());
        }
        for a in ["data", "media", "obb"] {
            dirs.push(format!("Android/{a}"));
        }
        let mut make: Vec<String> = vec!["Torture".into()];
        make.extend(CHAOS_DIRS.iter().map(|s| s.to_string()));
        for app in self.apps.iter() {
            make.extend(app.partition.iter().map(|p| p.to_string()));
        }
        for d in make.iter() {
            let p = self.mnt.join(d);
            match timed_as(0, move || sys::mkdir(&p)) {
                Timed::Done(Ok(())) | Timed::Done(Err(mediaproviderd_tests::EEXIST)) => {}
                Timed::Done(Err(e)) => return Err(format!("root mkdir {d}: {e}")),
                _ => return Err(format!("root mkdir {d} hung or crashed")),
            }
        }
        dirs.extend(make);
        for d in dirs {
            let vp = VolPath::parse(&d).map_err(|e| format!("{d}: {e}"))?;
            m.dirs.insert(key(&vp), History::new(Some(vp)));
        }
        Ok(())
    }

    /// Does creating a marked name through the mount fail with EIO? (If the daemon opens lower
    /// files without going through libc, the shim cannot inject anything.)
    fn eio_injection_works(&self) -> bool {
        let p = self
            .mnt
            .join(format!("Download/torture-probe-{EIO_MARK}.bin"));
        let q = p.clone();
        let got = timed_as(0, move || sys::create(&q, b"probe"));
        if matches!(got, Timed::Done(Ok(()))) {
            let _ = timed_as(0, move || sys::unlink(&p));
        }
        matches!(got, Timed::Done(Err(e)) if e.0 == libc::EIO)
    }

    fn go(&mut self) -> i32 {
        let start = Instant::now();
        let end = start + Duration::from_secs(self.cfg.seconds);
        let mut rng = Rng::new(self.cfg.seed);
        let mut kills: Vec<Duration> = (0..self.cfg.kills)
            .map(|_| {
                let span = self.cfg.seconds * 1000;
                Duration::from_millis(span / 10 + rng.below((span * 8 / 10).max(1) as usize) as u64)
            })
            .collect();
        kills.sort();
        let app_locks: Arc<Vec<Mutex<()>>> =
            Arc::new(self.apps.iter().map(|_| Mutex::new(())).collect());
        let mut handles = Vec::new();
        for app in self.apps.iter().cloned() {
            let ctx = Ctx {
                app,
                apps: Arc::clone(&self.apps),
                mnt: self.mnt.clone(),
                lower: self.lower.clone(),
                model: Arc::clone(&self.model),
                report: Arc::clone(&self.report),
                live: Arc::clone(&self.live),
                faults: Faults {
                    enospc: self.cfg.lower_mib > 0,
                    eio: self.cfg.eio,
                },
            };
            let planner = Planner {
                rng: Rng::new(self.cfg.seed ^ ((ctx.app.index as u64 + 1) << 32)),
                counter: 0,
                eio_names: self.cfg.eio,
                max_own_files: 40,
            };
            let (locks, palette) = (Arc::clone(&app_locks), Arc::clone(&self.palette));
            handles.push(std::thread::spawn(move || {
                app_loop(ctx, planner, locks, palette)
            }));
        }
        let admin = Admin {
            apps: Arc::clone(&self.apps),
            perms: self
                .apps
                .iter()
                .map(|a| a.profile.perms.iter().map(|s| s.to_string()).collect())
                .collect(),
            installed: self.apps.iter().map(|a| a.pkg.is_some()).collect(),
            app_locks: Arc::clone(&app_locks),
            model: Arc::clone(&self.model),
            report: Arc::clone(&self.report),
            live: Arc::clone(&self.live),
            palette: Arc::clone(&self.palette),
            db: self.db.clone(),
            lower: self.lower.clone(),
            mnt: self.mnt.clone(),
            rng: Rng::new(self.cfg.seed ^ 0xad),
            eio_names: self.cfg.eio,
            uninstall_at: Some(start + Duration::from_secs(self.cfg.seconds) / 2),
            counter: 0,
        };
        handles.push(std::thread::spawn(move || admin.run()));
        let mut next_report = start + Duration::from_secs(30);
        while Instant::now() < end && !self.report.is_fatal() {
            std::thread::sleep(Duration::from_millis(100));
            if kills.first().is_some_and(|&k| start.elapsed() >= k) {
                kills.remove(0);
                if !self.kill_and_restart() {
                    break;
                }
            }
            if Instant::now() >= next_report {
                next_report += Duration::from_secs(30);
                self.progress();
            }
        }
        self.live.stop.store(true, Ordering::SeqCst);
        for h in handles {
            let _ = h.join();
        }
        self.finish(start.elapsed())
    }

    fn progress(&self) {
        let c = &self.report.counters;
        let nv: usize = self.report.violations().iter().map(|v| v.1).sum();
        eprintln!(
            "torture: t={:.0}s ops={} kills={} violations={}",
            self.report.elapsed_secs(),
            c.ops.load(Ordering::Relaxed),
            c.kills.load(Ordering::Relaxed),
            nv
        );
    }

    /// SIGKILL under load; the daemon must exit and its mount stop answering within seconds.
    /// Then the invariants, then a restart on the same store. False if the run cannot go on.
    fn kill_and_restart(&mut self) -> bool {
        let live = Arc::clone(&self.live);
        let _admin = live.admin.lock().unwrap_or_else(|e| e.into_inner());
        let Some(fx) = self.fx.take() else {
            return false;
        };
        self.live.down.store(true, Ordering::SeqCst);
        self.live.epoch.fetch_add(1, Ordering::SeqCst);
        let t = Instant::now();
        fx.signal(libc::SIGKILL);
        self.report
            .record("orchestrator", "SIGKILL serve", vec![], "sent");
        if fx.wait_exit(EXIT_GRACE).is_none() {
            self.report.violation(
                "kill-no-exit",
                &format!(
                    "serve (pid {}) still alive {} s after SIGKILL; thread stacks:\n{}",
                    fx.pid(),
                    EXIT_GRACE.as_secs(),
                    self.live.stacks()
                ),
                &[],
            );
            let aborted = self.live.abort_connection();
            eprintln!("torture: aborted the FUSE connection: {aborted}");
            if fx.wait_exit(Duration::from_secs(10)).is_none() {
                self.report.fatal(
                    "kill-no-exit",
                    "serve survives SIGKILL even after the abort",
                    &[],
                );
                std::mem::forget(fx);
                return false;
            }
        }
        self.exit_ms.push(t.elapsed().as_millis());
        // A name never seen before must reach the daemon: with the daemon gone it has to fail
        // at once (ENOTCONN), not hang.
        let probe = self
            .mnt
            .join(format!(".torture-probe-{}", self.exit_ms.len()));
        match timed_as(0, move || sys::stat(&probe).map(|_| ())) {
            Timed::Hung => {
                self.report.violation(
                    "mount-not-released",
                    "a lookup on the mount hangs after the daemon died",
                    &[],
                );
                self.live.abort_connection();
            }
            Timed::Done(Ok(())) => self.report.violation(
                "mount-not-released",
                "a lookup of a new name succeeded after the daemon died",
                &[],
            ),
            _ => {}
        }
        let _quiet = live.gate.write().unwrap_or_else(|e| e.into_inner());
        self.report.counters.kills.fetch_add(1, Ordering::Relaxed);
        {
            let mut m = lock(&self.model);
            let n = self.report.counters.kills.load(Ordering::Relaxed);
            invariants::check(
                &mut m,
                &self.report,
                &self.lower,
                &self.db,
                &format!("after kill {n}"),
            );
        }
        match catch("restart", move || fx.restart(libc::SIGKILL)) {
            Ok((_, fx2)) => {
                self.live.pid.store(fx2.pid(), Ordering::SeqCst);
                self.live
                    .conn
                    .store(connection_of(&fx2.mnt).unwrap_or(0), Ordering::SeqCst);
                self.fx = Some(fx2);
                // Operations that started while the daemon was down are indeterminate too.
                self.live.epoch.fetch_add(1, Ordering::SeqCst);
                self.live.down.store(false, Ordering::SeqCst);
                self.report
                    .counters
                    .restarts
                    .fetch_add(1, Ordering::Relaxed);
                self.report
                    .record("orchestrator", "restart serve", vec![], "mounted");
                true
            }
            Err(e) => {
                self.report.fatal("restart-failed", &e, &[]);
                false
            }
        }
    }

    fn finish(&mut self, took: Duration) -> i32 {
        if let Some(fx) = self.fx.take() {
            let fatal = self.report.is_fatal();
            let st = fx.stop_with(libc::SIGTERM);
            if !fatal && !st.is_some_and(|s| s.success()) {
                self.report.violation(
                    "sigterm-exit",
                    &format!("serve did not exit 0 on SIGTERM: {st:?}"),
                    &[],
                );
            }
            if !fatal {
                let mut m = lock(&self.model);
                invariants::check(&mut m, &self.report, &self.lower, &self.db, "at the end");
            }
            if self.cfg.lower_mib > 0 {
                faults::unmount(&self.lower);
            }
            drop(fx);
        }
        self.report.flush();
        self.summary(took)
    }

    fn summary(&self, took: Duration) -> i32 {
        let c = &self.report.counters;
        let ops = c.ops.load(Ordering::Relaxed);
        let secs = took.as_secs_f64().max(0.001);
        let v = self.report.violations();
        let total: usize = v.iter().map(|x| x.1).sum();
        let max_exit = self.exit_ms.iter().max().copied().unwrap_or(0);
        let summary = serde_json::json!({
            "seed": self.cfg.seed,
            "seconds": (secs * 10.0).round() / 10.0,
            "apps": self.cfg.apps,
            "passthrough": self.cfg.passthrough,
            "ops": ops,
            "ops_per_second": (ops as f64 / secs * 10.0).round() / 10.0,
            "kills_survived": c.restarts.load(Ordering::Relaxed),
            "kills": c.kills.load(Ordering::Relaxed),
            "max_exit_ms_after_sigkill": max_exit,
            "indeterminate_ops": c.indeterminate.load(Ordering::Relaxed),
            "enospc": c.enospc.load(Ordering::Relaxed),
            "eio": c.eio.load(Ordering::Relaxed),
            "skipped_plans": c.skipped_plans.load(Ordering::Relaxed),
            "violations": total,
            "by_class": v.iter().map(|(k, n, _)| (k.to_string(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
            "log": self.log_path.display().to_string(),
        });
        println!("{summary}");
        for (sig, n, first) in self.report.signatures() {
            let first: String = first
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(300)
                .collect();
            eprintln!("torture: {n} × {sig}\n    first: {first}");
        }
        eprintln!(
            "torture: seed {} — {} violations; replay with --seed {} (same flags)",
            self.cfg.seed, total, self.cfg.seed
        );
        let _ = (&self.root, Path::new(""));
        if total > 0 {
            1
        } else {
            0
        }
    }
}

fn app_loop(ctx: Ctx, mut planner: Planner, locks: Arc<Vec<Mutex<()>>>, palette: Arc<Palette>) {
    let i = ctx.app.index;
    while !ctx.live.stopping() && !ctx.report.is_fatal() {
        let _paused = locks[i].lock().unwrap_or_else(|e| e.into_inner());
        let _g = ctx.live.gate.read().unwrap_or_else(|e| e.into_inner());
        if ctx.live.stopping() {
            break;
        }
        let plan = {
            let m = lock(&ctx.model);
            planner.next(&ctx.app, &ctx.apps, &m, &palette)
        };
        if let Some(p) = plan {
            ctx.run(&p);
        }
    }
}
