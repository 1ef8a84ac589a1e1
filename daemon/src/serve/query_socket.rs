//! The query socket (SPEC §11): `<db>.query`, mode 0666, JSON-lines requests answered with one
//! JSON row per line and an end line. The caller's uid comes from `SO_PEERCRED` — the kernel's
//! word — never from the request; only root/system may name another uid (and run `maintain`).
//! Each connection has its own store connection and thread, so queries never hold the FUSE
//! side's store lock or wait on a FUSE request.

use crate::provider::{self, Ctx, ReqError};
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::store::Store;
use mediaprovider_policy::Errno;
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use serde_json::Value;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub type NameChangedFn = dyn Fn(&VolPath, Option<&VolPath>) + Send + Sync;

/// What lifecycle requests tell the serving daemon: names they changed (see
/// `Inner::name_changed`) and renames in flight (so no listing drops their rows meanwhile).
#[derive(Clone)]
pub struct NameHook {
    pub changed: Arc<NameChangedFn>,
    pub moving: Arc<crate::moving::Moving>,
}

/// Connections served at once; more are told to retry (bounds threads and store connections).
const MAX_CONNECTIONS: usize = 32;
/// Longest request line accepted.
const MAX_LINE: u64 = 64 << 10;
/// An idle connection is closed after this long.
const IDLE: Duration = Duration::from_secs(300);

const AID_ROOT: u32 = 0;
const AID_SYSTEM: u32 = 1000;

/// On a device init creates the socket (`socket mediaproviderd_query` in the .rc) and passes it
/// in this variable; the host binds `<db>.query` itself.
const INIT_SOCKET_ENV: &str = "ANDROID_SOCKET_mediaproviderd_query";

/// Takes init's query socket, or binds `<db>.query` (replacing a stale socket), and serves it
/// on a background thread.
pub fn start(db: &Path, lower: &Path, hook: NameHook) -> Result<PathBuf, String> {
    if let Some(v) = std::env::var_os(INIT_SOCKET_ENV) {
        let v = v.to_string_lossy().into_owned();
        let listener = super::handoff::inherited_listener(&v)
            .map_err(|e| format!("query socket: ${INIT_SOCKET_ENV}={v}: {e}"))?;
        spawn_accept(listener, db, lower, hook)?;
        return Ok(PathBuf::from(provider::DEVICE_QUERY_SOCKET));
    }
    let path = provider::socket_path_for(db);
    let _ = std::fs::remove_file(&path);
    // Every app may ask; what it gets is decided per peer uid.
    let listener = crate::control::bind_with_mode(&path, 0o666)
        .map_err(|e| format!("query socket {}: {e}", path.display()))?;
    spawn_accept(listener, db, lower, hook)?;
    Ok(path)
}

fn spawn_accept(
    listener: UnixListener,
    db: &Path,
    lower: &Path,
    hook: NameHook,
) -> Result<(), String> {
    let (db, lower) = (db.to_path_buf(), lower.to_path_buf());
    std::thread::Builder::new()
        .name("query-socket".into())
        .spawn(move || accept_loop(listener, db, lower, hook))
        .map_err(|e| format!("query socket thread: {e}"))?;
    Ok(())
}

fn accept_loop(listener: UnixListener, db: PathBuf, lower: PathBuf, hook: NameHook) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let mut w = &stream;
            let e = ReqError {
                errno: "EAGAIN",
                message: "too many query connections; retry".into(),
            };
            let _ = writeln!(w, "{}", e.to_json());
            continue;
        }
        let (db, lower, hook, active2) = (db.clone(), lower.clone(), hook.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("query".into())
            .spawn(move || {
                if let Err(e) = serve_connection(stream, &db, &lower, &hook) {
                    log::debug!("query connection: {e}");
                }
                active2.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn serve_connection(
    stream: UnixStream,
    db: &Path,
    lower: &Path,
    hook: &NameHook,
) -> std::io::Result<()> {
    let peer = getsockopt(&stream, PeerCredentials)
        .map_err(std::io::Error::from)?
        .uid();
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_write_timeout(Some(IDLE))?;
    let mut out = BufWriter::new(&stream);
    let store = match Store::open(db) {
        Ok(s) => s,
        Err(e) => {
            let e = ReqError::new(Errno::EIO, format!("store: {e}"));
            writeln!(out, "{}", e.to_json())?;
            return out.flush();
        }
    };
    let mut reader = BufReader::new(&stream);
    loop {
        let mut line = String::new();
        let n = (&mut reader).take(MAX_LINE).read_line(&mut line)?;
        if n == 0 {
            return Ok(());
        }
        if !line.ends_with('\n') && n as u64 >= MAX_LINE {
            let e = ReqError::invalid("request line too long");
            writeln!(out, "{}", e.to_json())?;
            out.flush()?;
            return Ok(()); // the rest of the line cannot be told from the next request
        }
        if line.trim().is_empty() {
            continue;
        }
        let ctx = Ctx {
            store: &store,
            lower: Some(lower),
            name_changed: &|old: &VolPath, new: Option<&VolPath>| (hook.changed)(old, new),
            moving: Some(&hook.moving),
        };
        match answer(&ctx, peer, &line, &mut out) {
            Ok(()) => writeln!(out, "{}", provider::end_line(&store))?,
            Err(e) => writeln!(out, "{}", e.to_json())?,
        }
        out.flush()?;
    }
}

/// Answers one request line, writing result rows to `out` (the end line is the caller's).
fn answer(ctx: &Ctx, peer: u32, line: &str, out: &mut dyn Write) -> Result<(), ReqError> {
    let v: Value = serde_json::from_str(line)
        .map_err(|e| ReqError::invalid(format!("not a JSON request: {e}")))?;
    let privileged = peer == AID_ROOT || peer == AID_SYSTEM;
    if v.get("cmd").and_then(Value::as_str) == Some("maintain") {
        if !privileged {
            return Err(ReqError::new(Errno::EACCES, "maintain is for root/system"));
        }
        let now = v
            .get("now")
            .and_then(Value::as_i64)
            .ok_or_else(|| ReqError::invalid("maintain needs \"now\""))?;
        let m = provider::maintain(ctx, ctx.lower.unwrap_or(Path::new("/")), now)?;
        let line = crate::cli::provider::maintained_json(&m, now);
        return writeln!(out, "{line}").map_err(|e| ReqError::new(Errno::EIO, e.to_string()));
    }
    let req = provider::parse(&v)?;
    let uid = match req.uid {
        Some(u) if u != peer && !privileged => {
            return Err(ReqError::new(
                Errno::EACCES,
                format!("uid {peer} may not ask on behalf of uid {u}"),
            ))
        }
        Some(u) => u,
        None => peer,
    };
    let caller = ctx
        .store
        .caller(uid)
        .map_err(|e| ReqError::new(Errno::EIO, format!("store: {e}")))?;
    let mut write_err = None;
    let mut emit = |row: Value| {
        if write_err.is_none() {
            if let Err(e) = writeln!(out, "{row}") {
                write_err = Some(e);
            }
        }
    };
    provider::execute(ctx, &caller, &req, &mut emit, now())?;
    match write_err {
        Some(e) => Err(ReqError::new(Errno::EIO, format!("write: {e}"))),
        None => Ok(()),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
