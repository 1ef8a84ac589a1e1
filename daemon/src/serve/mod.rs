//! `mediaproviderd serve`: prepare the lower tree and the store, mount (or take a mounted
//! `/dev/fuse` fd), and serve until SIGTERM/SIGINT or until the mount goes away.

mod checkpoint;
mod fs;
mod handles;
mod handoff;
mod indexer;
mod inodes;
mod inval;
mod packages_watch;
mod provider_tasks;
mod query_socket;
mod quiet_log;
mod reconcile;
mod reconcile_walk;
mod session;
mod stats;
mod store_pool;
mod trim;

use crate::cli::{args, CliError};
use crate::control::{self, Request};
use crate::lower::Lower;
use fs::{Inner, Inval, MediaFs, Options};
use fuser::{Config, MountOption, SessionACL};
use mediaprovider_policy::paths::{VolPath, DEFAULT_DIRS};
use mediaprovider_policy::store::{
    Store, SETTING_CONTROL, SETTING_LOWER, SETTING_MOUNT, SETTING_USER,
};
use nix::sys::signal::{SigSet, Signal};
#[cfg_attr(target_os = "android", allow(unused_imports))]
pub use quiet_log::QuietInterrupts;
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
            "user",
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
    if let Some(fd) = fuse_fd {
        handoff::check_inherited_fd(fd)
            .map_err(|e| CliError::usage(format!("--fuse-fd {fd}: {e}")))?;
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
    // One daemon serves one Android user's volume (SPEC §4); other users' uids get EACCES.
    let user: u32 = a.number("user")?.unwrap_or(0);
    let threads: usize = a.number("threads")?.unwrap_or(DEFAULT_THREADS).clamp(1, 64);
    let db = PathBuf::from(a.get("db").unwrap_or(DEFAULT_DB));
    if db.starts_with(&lower) {
        return Err(CliError::usage("--db must be outside the lower tree"));
    }
    if a.get("db").is_some() {
        // An explicit store's directory must exist: a typo must not mkdir -p a new tree.
        crate::cli::check_db_dir(&db)?;
    } else if let Some(dir) = db.parent() {
        // The documented default location is ours to create.
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
    if let Some(cause) = &rebuilt {
        log::warn!("store rebuilt from the lower tree: {cause}");
    }
    let sock = control::socket_path_for(&db);
    let record = |k: &str, v: &Path| store.set_setting(k, &v.to_string_lossy());
    record(SETTING_LOWER, &lower)
        .and_then(|_| record(SETTING_MOUNT, &mount))
        .and_then(|_| record(SETTING_CONTROL, &sock))
        .and_then(|_| store.set_setting(SETTING_USER, &user.to_string()))
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
    let lower_tree =
        Lower::open(&lower).map_err(|e| CliError::failed(format!("lower tree: {e}")))?;
    let fs = Arc::new(Inner::new(
        Options {
            passthrough: !a.has("no-passthrough"),
        },
        lower_tree,
        store_pool::StorePool::new(store),
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
    config.n_threads = Some(session::usable_threads(threads));
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
    let fuse = match (handed_over, fuse_fd) {
        (Some(owned), _) => session::Fuse::Fd(owned),
        (None, Some(fd)) => {
            if fd < 3 {
                return Err(CliError::usage("--fuse-fd must be an inherited fd >= 3"));
            }
            // SAFETY: the mounter handed this fd over for us to own; it is not used elsewhere.
            session::Fuse::Fd(unsafe { OwnedFd::from_raw_fd(fd) })
        }
        (None, None) => session::Fuse::Mount(mount.clone()),
    };
    let session = session::open(MediaFs(fs.clone()), fuse, config)
        .map_err(|e| CliError::failed(format!("mount {}: {e}", mount.display())))?;
    log::info!(
        "serving {} at {} ({} threads)",
        lower.display(),
        mount.display(),
        threads
    );

    let _ = fs.notifier.set(session.notifier());
    inval::spawn(session.notifier(), rx);
    checkpoint::spawn(&db);
    trim::spawn();
    // Mount first, reconcile behind it (then the location indexer).
    reconcile::spawn(
        db.clone(),
        lower.clone(),
        rebuilt.is_some(),
        fs.moving.clone(),
    );
    spawn_control(&sock, fs.clone())?;
    start_provider(&db, &lower, fs.clone())?; // provider half (SPEC §11): query socket + tasks
    let stats_file = a.get("stats").map(PathBuf::from);
    let fs_for_stats = fs.clone();
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
                        let json = stats.to_json(&fs_for_stats.gauges());
                        let _ = std::fs::write(p, json.to_string());
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
                    // The spawned session owns fuser's mount guard: unmount by path.
                    if let Err(e) =
                        nix::mount::umount2(&mount_for_signals, nix::mount::MntFlags::empty())
                    {
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

    let result = session::serve(session);
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
    let tree = Lower::open(lower)?;
    let mut wanted: Vec<String> = DEFAULT_DIRS.iter().map(|d| d.to_string()).collect();
    wanted.push("Android".into());
    for sub in ["data", "obb", "media"] {
        wanted.push(format!("Android/{sub}"));
    }
    for rel in wanted {
        let Ok(p) = VolPath::parse(&rel) else {
            continue;
        };
        if tree.resolve(&p)?.is_some() {
            continue;
        }
        // The parent in its on-disk spelling (e.g. an existing `android`).
        let parent = match p.parent() {
            Some(pp) if !pp.is_root() => match tree.resolve(&pp)? {
                Some((d, _)) => d,
                None => continue,
            },
            _ => VolPath::root(),
        };
        let Ok(dir) = parent.join(p.file_name()) else {
            continue;
        };
        tree.mkdir(&dir)?;
    }
    Ok(())
}

/// The provider half: the `<db>.query` socket and the background metadata/maintain tasks,
/// both telling the FUSE side about names they change.
fn start_provider(db: &Path, lower: &Path, fs: Arc<Inner>) -> Result<(), CliError> {
    let hook = query_socket::NameHook {
        moving: fs.moving.clone(),
        changed: Arc::new(move |old, new| fs.name_changed(old, new)),
    };
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

/// After a rebuild: owners, grants and favorites come back from the backups on the lower files
/// (SPEC §9). Registrations lived in the lost store: name the packages that must come back.
fn recover_ownership(store: &Store, lower: &Path) {
    match store.recover_from_backups(lower) {
        Ok(r) => {
            log::warn!(
                "store rebuilt: restored {} owners, {} grants, {} favorites from the backups of {} files",
                r.owners_restored,
                r.grants_restored,
                r.favorites_restored,
                r.files_with_backup
            );
            if !r.unregistered_packages.is_empty() {
                let names: Vec<&str> = r.unregistered_packages.iter().map(String::as_str).collect();
                log::warn!(
                    "store rebuilt: app registrations were lost with it; {} packages own or hold \
                     grants on files and are not registered: {} (re-register them with `app add` \
                     or --packages-list; their files are theirs again once registered)",
                    names.len(),
                    names.join(" ")
                );
            }
        }
        Err(e) => log::error!("store rebuilt, but ownership recovery failed: {e}"),
    }
}
