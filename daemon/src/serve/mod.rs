//! `mediaproviderd serve`: prepare the lower tree and the store, mount (or take a mounted
//! `/dev/fuse` fd), and serve until SIGTERM/SIGINT or until the mount goes away.

mod fs;
mod handles;
mod handoff;
mod indexer;
mod inodes;
mod packages_watch;
mod provider_tasks;
mod query_socket;
mod stats;

use crate::cli::{args, CliError};
use crate::control::{self, Request};
use fs::{Inner, Inval, MediaFs, Options};
use fuser::{Config, INodeNo, MountOption, Notifier, Session, SessionACL};
use mediaprovider_policy::paths::{VolPath, DEFAULT_DIRS};
use mediaprovider_policy::store::{Store, SETTING_CONTROL, SETTING_LOWER, SETTING_MOUNT};
use nix::sys::signal::{SigSet, Signal};
use std::ffi::OsString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

/// Where the store lives when `--db` is not given (outside any lower tree).
pub const DEFAULT_DB: &str = "/var/lib/mediaproviderd/media.db";
const DEFAULT_THREADS: usize = 4;

pub fn run(argv: &[String]) -> Result<(), CliError> {
    let a = args::parse(
        argv,
        &[
            "lower",
            "mount",
            "db",
            "threads",
            "fuse-fd",
            "fuse-socket",
            "packages-list",
            "stats",
        ],
        &["no-passthrough"],
    )?;
    a.no_positionals()?;
    let lower = PathBuf::from(a.require("lower")?);
    let mount = PathBuf::from(a.require("mount")?);
    let fuse_fd: Option<i32> = a.number("fuse-fd")?;
    let fuse_socket = a.get("fuse-socket").map(PathBuf::from);
    if fuse_fd.is_some() && fuse_socket.is_some() {
        return Err(CliError::usage(
            "--fuse-fd and --fuse-socket are mutually exclusive",
        ));
    }
    if !lower.is_dir() {
        return Err(CliError::usage(format!(
            "--lower: {} is not a directory",
            lower.display()
        )));
    }
    if fuse_fd.is_none() && fuse_socket.is_none() && !mount.is_dir() {
        return Err(CliError::usage(format!(
            "--mount: {} is not a directory",
            mount.display()
        )));
    }
    let lower = lower
        .canonicalize()
        .map_err(|e| CliError::usage(format!("--lower: {e}")))?;
    let mount = mount.canonicalize().unwrap_or(mount);
    if mount.starts_with(&lower) {
        return Err(CliError::usage("--mount must not be inside --lower"));
    }
    let threads: usize = a.number("threads")?.unwrap_or(DEFAULT_THREADS).clamp(1, 64);
    let db = PathBuf::from(a.get("db").unwrap_or(DEFAULT_DB));
    if db.starts_with(&lower) {
        return Err(CliError::usage("--db must be outside the lower tree"));
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failed(format!("--db directory {}: {e}", dir.display())))?;
    }
    // Listen now (a mounter may connect early); the fd is taken once the store is ready.
    let handoff = fuse_socket
        .as_deref()
        .map(handoff::FuseSocket::open)
        .transpose()
        .map_err(CliError::failed)?;

    create_default_dirs(&lower).map_err(|e| CliError::failed(format!("lower tree: {e}")))?;
    let (store, rebuilt) = Store::open_or_rebuild(&db)
        .map_err(|e| CliError::failed(format!("store {}: {e}", db.display())))?;
    if rebuilt {
        log::warn!("store was corrupt; moved aside and rebuilding it from the lower tree");
    }
    let t = std::time::Instant::now();
    let st = store
        .reconcile(&lower)
        .map_err(|e| CliError::failed(format!("reconcile: {e}")))?;
    log::info!(
        "reconciled {} files in {:.3}s ({} added, {} removed)",
        st.files,
        t.elapsed().as_secs_f64(),
        st.added,
        st.removed
    );
    let sock = control::socket_path_for(&db);
    let record = |k: &str, v: &Path| store.set_setting(k, &v.to_string_lossy());
    record(SETTING_LOWER, &lower)
        .and_then(|_| record(SETTING_MOUNT, &mount))
        .and_then(|_| record(SETTING_CONTROL, &sock))
        .map_err(|e| CliError::failed(format!("store: {e}")))?;

    // Signals are taken by one thread with sigwait: block them before any thread starts.
    let mut sigs = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGUSR1,
        Signal::SIGHUP,
    ] {
        sigs.add(s);
    }
    sigs.thread_block()
        .map_err(|e| CliError::failed(format!("blocking signals: {e}")))?;

    let (tx, rx) = mpsc::channel::<Inval>();
    let stats = Arc::new(stats::Stats::default());
    let fs = Arc::new(Inner::new(
        Options {
            lower: lower.clone(),
            passthrough: !a.has("no-passthrough"),
        },
        store,
        tx,
        stats.clone(),
    ));
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("mediaproviderd".into()),
        MountOption::Subtype("mediaproviderd".into()),
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoExec,
        MountOption::NoAtime,
    ];
    config.acl = SessionACL::All;
    config.n_threads = Some(threads);
    config.clone_fd = true;

    if let Some(list) = a.get("packages-list") {
        packages_watch::start(Path::new(list), &db, fs.clone()).map_err(CliError::failed)?;
    }
    let handed_over = match handoff {
        Some(h) => match h.receive().map_err(CliError::failed)? {
            Some(fd) => Some(fd),
            None => return Ok(()), // SIGTERM/SIGINT before a mounter handed over the fd
        },
        None => None,
    };
    let mut session = match (handed_over, fuse_fd) {
        (Some(owned), _) => Session::from_fd(MediaFs(fs.clone()), owned, SessionACL::All, config),
        (None, Some(fd)) => {
            if fd < 3 {
                return Err(CliError::usage("--fuse-fd must be an inherited fd >= 3"));
            }
            // SAFETY: the mounter handed this fd over for us to own; it is not used elsewhere.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            Session::from_fd(MediaFs(fs.clone()), owned, SessionACL::All, config)
        }
        (None, None) => Session::new(MediaFs(fs.clone()), &mount, &config),
    }
    .map_err(|e| CliError::failed(format!("mount {}: {e}", mount.display())))?;
    log::info!(
        "serving {} at {} ({} threads)",
        lower.display(),
        mount.display(),
        threads
    );

    spawn_notifier(session.notifier(), rx);
    indexer::spawn(db.clone(), lower.clone());
    spawn_control(&sock, fs.clone())?;
    start_provider(&db, &lower, fs.clone())?; // provider half (SPEC §11): query socket + tasks
    let mut unmounter = session.unmount_callable();
    let stats_file = a.get("stats").map(PathBuf::from);
    let mount_for_signals = mount.clone();
    let inherited = fuse_fd.is_some() || fuse_socket.is_some();
    let (db_for_signals, sock_for_signals) = (db.clone(), sock.clone());
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let Ok(sig) = sigs.wait() else { continue };
            match sig {
                Signal::SIGUSR1 => {
                    if let Some(p) = &stats_file {
                        let _ = std::fs::write(p, stats.to_json().to_string());
                    }
                }
                Signal::SIGHUP => {}
                _ => {
                    log::info!("{sig}: unmounting");
                    if inherited {
                        let _ = nix::mount::umount2(
                            &mount_for_signals,
                            nix::mount::MntFlags::MNT_DETACH,
                        );
                        forget_control(&db_for_signals, &sock_for_signals);
                        std::process::exit(0);
                    }
                    if let Err(e) = unmounter.unmount() {
                        // Busy (files held open): detach it; it goes once they close.
                        log::info!("unmount: {e}; detaching the mount");
                        if let Err(e) = nix::mount::umount2(
                            &mount_for_signals,
                            nix::mount::MntFlags::MNT_DETACH,
                        ) {
                            log::error!("unmount: {e}");
                            std::process::exit(1);
                        }
                    }
                    // The mount is detached; files still held open keep the connection alive,
                    // and the session would serve them until they close. Give it a moment to
                    // end on its own, then leave (closing /dev/fuse aborts the connection).
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    forget_control(&db_for_signals, &sock_for_signals);
                    log::info!("open files still reference the detached mount; exiting");
                    std::process::exit(0);
                }
            }
        })
        .map_err(|e| CliError::failed(format!("signal thread: {e}")))?;

    let result = session.run();
    forget_control(&db, &sock);
    result.map_err(|e| CliError::failed(format!("session: {e}")))?;
    log::info!("unmounted; exiting");
    Ok(())
}

/// On the way out: `app` commands must not try to reach this daemon any more.
fn forget_control(db: &Path, sock: &Path) {
    let _ = std::fs::remove_file(crate::provider::socket_path_for(db));
    if let Ok(store) = Store::open(db) {
        let _ = store.clear_setting(SETTING_CONTROL);
    }
    let _ = std::fs::remove_file(sock);
}

/// Creates the default top-level dirs and `Android/{data,obb,media}` unless a directory of
/// that name exists in any case.
fn create_default_dirs(lower: &Path) -> std::io::Result<()> {
    let mut wanted: Vec<String> = DEFAULT_DIRS.iter().map(|d| d.to_string()).collect();
    wanted.push("Android".into());
    for sub in ["data", "obb", "media"] {
        wanted.push(format!("Android/{sub}"));
    }
    for rel in wanted {
        let Ok(p) = VolPath::parse(&rel) else {
            continue;
        };
        if crate::lower::resolve(lower, &p)?.is_some() {
            continue;
        }
        let parent = match p.parent() {
            Some(pp) if !pp.is_root() => match crate::lower::resolve(lower, &pp)? {
                Some((d, _)) => d,
                None => continue,
            },
            _ => lower.to_path_buf(),
        };
        let dir = parent.join(p.file_name());
        std::fs::create_dir(&dir)?;
    }
    Ok(())
}

fn spawn_notifier(notifier: Notifier, rx: mpsc::Receiver<Inval>) {
    let _ = std::thread::Builder::new()
        .name("inval".into())
        .spawn(move || {
            for msg in rx {
                // ENOENT means the kernel holds no such entry: nothing to invalidate.
                let _ = match msg {
                    Inval::Entry(parent, name) => {
                        notifier.inval_entry(INodeNo(parent), &OsString::from(name))
                    }
                    Inval::Inode(ino) => notifier.inval_inode(INodeNo(ino), 0, 0),
                };
            }
        });
}

/// The provider half: the `<db>.query` socket and the background metadata/maintain tasks,
/// both telling the FUSE side about names they change.
fn start_provider(db: &Path, lower: &Path, fs: Arc<Inner>) -> Result<(), CliError> {
    let hook: query_socket::NameHook = Arc::new(move |old, new| fs.name_changed(old, new));
    // Serving files matters more than answering queries: a socket that cannot be bound (a
    // path longer than a socket address holds, say) is logged, not fatal.
    match query_socket::start(db, lower, hook.clone()) {
        Ok(path) => log::info!("query socket at {}", path.display()),
        Err(e) => log::error!("{e}; MediaStore queries only through the command line"),
    }
    provider_tasks::spawn(db, lower, hook);
    Ok(())
}

fn spawn_control(sock: &Path, fs: Arc<Inner>) -> Result<(), CliError> {
    let listener = control::bind(sock)
        .map_err(|e| CliError::failed(format!("control socket {}: {e}", sock.display())))?;
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            control::serve(listener, |req| match req {
                Request::Refresh => {
                    fs.refresh_identities();
                    Ok(())
                }
                Request::Remove { package } => fs.remove_package_dirs(package),
            })
        })
        .map_err(|e| CliError::failed(format!("control thread: {e}")))?;
    Ok(())
}
