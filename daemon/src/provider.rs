//! The provider half's requests (SPEC §11), shared by the command line and the query socket:
//! one request model (the command line as JSON), one executor, one `maintain`. Who sees what is
//! decided in `mediaprovider_policy::query` / `lifecycle`; this layer touches the lower tree.

use crate::lower;
use mediaprovider_policy::identity::Caller;
use mediaprovider_policy::lifecycle::{self, Action, Plan};
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::query::{self, Collection, Query};
use mediaprovider_policy::store::{SortKey, Store, SETTING_LOWER, SETTING_MOUNT};
use mediaprovider_policy::{meta, Errno};
use serde_json::{json, Map, Value};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A refused or malformed request: the errno name clients see and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReqError {
    pub errno: &'static str,
    pub message: String,
}

impl ReqError {
    pub fn new(errno: Errno, message: impl Into<String>) -> ReqError {
        ReqError {
            errno: errno.name(),
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> ReqError {
        ReqError::new(Errno::EINVAL, message)
    }
    pub fn to_json(&self) -> Value {
        json!({"error": self.errno, "message": self.message})
    }
}

#[derive(Clone, Debug)]
pub enum Command {
    Query(Query),
    Changes { since: i64 },
    Lifecycle { action: Action, paths: Vec<String> },
}

/// One request: the command and the uid it names (`None`: the asker's own).
#[derive(Clone, Debug)]
pub struct Request {
    pub cmd: Command,
    pub uid: Option<u32>,
}

const QUERY_KEYS: &[&str] = &[
    "collection",
    "path-prefix",
    "mime",
    "include-pending",
    "include-trashed",
    "favorites",
    "sort",
    "desc",
    "limit",
    "offset",
];

/// Parses a JSON request (`{"cmd": "query", "collection": "images", ...}`). Unknown keys and
/// wrongly typed values are refused, so typos never widen a query silently.
pub fn parse(v: &Value) -> Result<Request, ReqError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ReqError::invalid("a request is one JSON object"))?;
    let cmd = str_key(obj, "cmd")?.ok_or_else(|| ReqError::invalid("missing \"cmd\""))?;
    let allowed: &[&str] = match cmd {
        "query" => QUERY_KEYS,
        "changes" => &["since"],
        _ if Action::parse(cmd).is_some() => &["paths"],
        other => return Err(ReqError::invalid(format!("unknown cmd '{other}'"))),
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "cmd" | "uid") && !allowed.contains(&k.as_str()))
    {
        return Err(ReqError::invalid(format!("unknown key \"{k}\" for {cmd}")));
    }
    let uid = match obj.get("uid") {
        None | Some(Value::Null) => None,
        Some(u) => Some(
            u.as_u64()
                .and_then(|u| u32::try_from(u).ok())
                .ok_or_else(|| ReqError::invalid("\"uid\" must be a uid"))?,
        ),
    };
    let cmd = match cmd {
        "query" => Command::Query(parse_query(obj)?),
        "changes" => Command::Changes {
            since: uint_key(obj, "since")?
                .ok_or_else(|| ReqError::invalid("changes needs \"since\""))?
                as i64,
        },
        other => {
            let paths = match obj.get("paths") {
                Some(Value::Array(a)) if !a.is_empty() => a
                    .iter()
                    .map(|p| p.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| ReqError::invalid("\"paths\" must be strings"))?,
                _ => return Err(ReqError::invalid(format!("{other} needs \"paths\""))),
            };
            Command::Lifecycle {
                action: Action::parse(other).ok_or_else(|| ReqError::invalid("unknown cmd"))?,
                paths,
            }
        }
    };
    Ok(Request { cmd, uid })
}

fn parse_query(obj: &Map<String, Value>) -> Result<Query, ReqError> {
    let mut q = Query::default();
    if let Some(c) = str_key(obj, "collection")? {
        q.collection = Collection::parse(c).ok_or_else(|| {
            ReqError::invalid(format!(
                "collection '{c}': expected images, video, audio, downloads or files"
            ))
        })?;
    }
    if let Some(p) = str_key(obj, "path-prefix")? {
        let p = p.trim_end_matches('/');
        q.path_prefix = Some(if p.is_empty() {
            VolPath::root()
        } else {
            VolPath::parse(p).map_err(|e| ReqError::invalid(format!("path-prefix '{p}': {e}")))?
        });
    }
    q.mime = str_key(obj, "mime")?.map(str::to_string);
    q.include_pending = bool_key(obj, "include-pending")?;
    q.include_trashed = bool_key(obj, "include-trashed")?;
    q.favorites = bool_key(obj, "favorites")?;
    q.desc = bool_key(obj, "desc")?;
    if let Some(s) = str_key(obj, "sort")? {
        q.sort = SortKey::parse(s).ok_or_else(|| {
            ReqError::invalid(format!(
                "sort '{s}': expected date_taken, date_modified, date_added, display_name, size or generation"
            ))
        })?;
    }
    q.limit = uint_key(obj, "limit")?.map(|n| n as usize);
    q.offset = uint_key(obj, "offset")?.unwrap_or(0) as usize;
    Ok(q)
}

fn str_key<'a>(obj: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, ReqError> {
    match obj.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ReqError::invalid(format!("\"{k}\" must be a string"))),
    }
}

fn bool_key(obj: &Map<String, Value>, k: &str) -> Result<bool, ReqError> {
    match obj.get(k) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ReqError::invalid(format!("\"{k}\" must be true or false"))),
    }
}

fn uint_key(obj: &Map<String, Value>, k: &str) -> Result<Option<u64>, ReqError> {
    match obj.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= i64::MAX as u64)
            .map(Some)
            .ok_or_else(|| ReqError::invalid(format!("\"{k}\" must be a non-negative integer"))),
    }
}

/// Called after a lifecycle rename or a `maintain` deletion, so a running daemon can fix its
/// inode table and invalidate the kernel's dentries (`new == None`: deleted).
pub type NameChanged<'a> = &'a dyn Fn(&VolPath, Option<&VolPath>);

/// Where a request runs: the store connection, the lower root (for lifecycle renames and
/// metadata catch-up) and the daemon's view-consistency hook.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub lower: Option<&'a Path>,
    pub name_changed: NameChanged<'a>,
    /// The serving daemon's renames in flight (`None` from the command line, no daemon).
    pub moving: Option<&'a std::sync::Arc<crate::moving::Moving>>,
}

/// Rows extracted before a query answers (catch-up for files written since the last pass).
const CATCH_UP_ROWS: usize = 4096;

/// Executes `req` for `caller`, emitting result lines; the caller writes the end line.
pub fn execute(
    ctx: &Ctx,
    caller: &Caller,
    req: &Request,
    emit: &mut dyn FnMut(Value),
    now: i64,
) -> Result<(), ReqError> {
    let store_err =
        |e: mediaprovider_policy::StoreError| ReqError::new(Errno::EIO, format!("store: {e}"));
    match &req.cmd {
        Command::Query(q) => {
            catch_up(ctx);
            query::run_query(ctx.store, caller, q, emit).map_err(store_err)
        }
        Command::Changes { since } => {
            catch_up(ctx);
            query::run_changes(ctx.store, caller, *since, emit).map_err(store_err)
        }
        Command::Lifecycle { action, paths } => {
            for raw in paths {
                let path = volume_path(ctx.store, raw)?;
                let plan = lifecycle::plan(ctx.store, caller, *action, &path, now)
                    .map_err(|(e, m)| ReqError::new(e, m))?;
                let done = apply(ctx, &plan)?;
                emit(done);
            }
            Ok(())
        }
    }
}

/// The query socket init creates on a device (`daemon/mediaproviderd.rc`).
pub const DEVICE_QUERY_SOCKET: &str = "/dev/socket/mediaproviderd_query";

/// The query socket of the daemon serving store `db` on a host: `<db>.query` (SPEC §11).
pub fn socket_path_for(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".query");
    PathBuf::from(p)
}

/// The end line of every answer.
pub fn end_line(store: &Store) -> Value {
    json!({
        "end": true,
        "generation": store.generation().unwrap_or(0),
        "version": store.version().unwrap_or_default(),
    })
}

fn catch_up(ctx: &Ctx) {
    let Some(lower) = ctx.lower else { return };
    let open = |p: &VolPath| open_lower(lower, p);
    if let Err(e) = meta::index_pending(ctx.store, &open, CATCH_UP_ROWS) {
        log::warn!("metadata catch-up: {e}");
    }
}

/// Carries out a plan: lower rename first, then the row, then the daemon's view.
fn apply(ctx: &Ctx, plan: &Plan) -> Result<Value, ReqError> {
    let store_err =
        |e: mediaprovider_policy::StoreError| ReqError::new(Errno::EIO, format!("store: {e}"));
    match plan {
        Plan::Favorite { path, on } => {
            ctx.store.set_favorite(path, *on).map_err(store_err)?;
            Ok(json!({"path": path.as_str(), "is_favorite": on}))
        }
        Plan::Rename { from, to } => {
            if from != to {
                let lower = ctx.lower.ok_or_else(|| {
                    ReqError::new(
                        Errno::EIO,
                        "the store records no lower tree (run serve or scan)",
                    )
                })?;
                let (old, _) = lower::resolve(lower, from).ok().flatten().ok_or_else(|| {
                    ReqError::new(Errno::ENOENT, format!("{from}: not in the lower tree"))
                })?;
                let new = old.with_file_name(to.file_name());
                if new.symlink_metadata().is_ok() {
                    return Err(ReqError::new(Errno::EEXIST, format!("{to} exists")));
                }
                let _in_flight = ctx.moving.map(|m| m.start(from));
                std::fs::rename(&old, &new)
                    .map_err(|e| ReqError::new(Errno::EIO, format!("rename {from}: {e}")))?;
                ctx.store.rename_file(from, to).map_err(store_err)?;
                (ctx.name_changed)(from, Some(to));
            }
            let row = ctx.store.media_row(to).map_err(store_err)?;
            Ok(json!({
                "path": to.as_str(),
                "id": row.as_ref().map(|r| r.file.id),
                "is_trashed": row.as_ref().map(|r| r.file.is_trashed),
                "date_expires": row.and_then(|r| r.date_expires),
            }))
        }
    }
}

/// A volume path from a request: volume-relative, or absolute under the mount or lower root.
pub fn volume_path(store: &Store, raw: &str) -> Result<VolPath, ReqError> {
    let bad = |m: &str| ReqError::invalid(format!("path '{raw}': {m}"));
    if raw.starts_with('/') {
        for key in [SETTING_MOUNT, SETTING_LOWER] {
            if let Ok(Some(prefix)) = store.setting(key) {
                if let Ok(rest) = Path::new(raw).strip_prefix(&prefix) {
                    let rest = rest.to_str().ok_or_else(|| bad("not UTF-8"))?;
                    return VolPath::parse(rest).map_err(|e| bad(&e.to_string()));
                }
            }
        }
        return Err(bad("absolute path is not under the mount point"));
    }
    VolPath::parse(raw).map_err(|e| bad(&e.to_string()))
}

/// Opens a row's lower file for reading: resolved beneath the lower root component by
/// component without following symlinks (`lower::resolve`), opened with `O_NOFOLLOW`.
pub fn open_lower(lower: &Path, path: &VolPath) -> std::io::Result<File> {
    let (p, md) = lower::resolve(lower, path)?
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
    if !md.is_file() {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(p)
}

/// The lower root `serve` (or `scan`) recorded in the store.
pub fn recorded_lower(store: &Store) -> Option<PathBuf> {
    store
        .setting(SETTING_LOWER)
        .ok()
        .flatten()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
}

/// What one `maintain` pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Maintained {
    pub deleted: u64,
    pub kept_open: u64,
    pub failed: u64,
}

/// Deletes expired trashed items and pending items older than 7 days that nobody holds open
/// (any process with an fd on the lower file, the daemon's own passthrough and daemon-served
/// handles included).
pub fn maintain(ctx: &Ctx, lower: &Path, now: i64) -> Result<Maintained, ReqError> {
    let rows = lifecycle::expired(ctx.store, now)
        .map_err(|e| ReqError::new(Errno::EIO, format!("store: {e}")))?;
    let mut m = Maintained::default();
    if rows.is_empty() {
        return Ok(m);
    }
    let open = open_files();
    for row in rows {
        let Ok(Some((p, _))) = lower::resolve(lower, &row.path) else {
            // Already gone from the lower tree: drop the row.
            let _ = ctx.store.delete_file(&row.path);
            m.deleted += 1;
            continue;
        };
        let real = p.canonicalize().unwrap_or_else(|_| p.clone());
        if open.contains(&real) {
            m.kept_open += 1;
            continue;
        }
        match std::fs::remove_file(&p) {
            Ok(()) => {
                let _ = ctx.store.delete_file(&row.path);
                (ctx.name_changed)(&row.path, None);
                m.deleted += 1;
            }
            Err(e) => {
                log::warn!("maintain: cannot delete {}: {e}", row.path);
                m.failed += 1;
            }
        }
    }
    Ok(m)
}

/// Every regular file some process holds open (targets of `/proc/*/fd/*`).
fn open_files() -> std::collections::HashSet<PathBuf> {
    let mut set = std::collections::HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return set;
    };
    for p in procs.flatten() {
        if !p
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(t) = std::fs::read_link(fd.path()) {
                set.insert(t);
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_strictly() {
        let r = parse(&json!({"cmd": "query", "collection": "images", "limit": 5, "desc": true}))
            .unwrap();
        match r.cmd {
            Command::Query(q) => {
                assert_eq!(q.collection, Collection::Images);
                assert_eq!(q.limit, Some(5));
                assert!(q.desc);
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            json!({"cmd": "query", "colection": "images"}),
            json!({"cmd": "query", "limit": -1}),
            json!({"cmd": "query", "sort": "nope"}),
            json!({"cmd": "changes"}),
            json!({"cmd": "trash"}),
            json!({"cmd": "trash", "paths": [1]}),
            json!({"cmd": "drop"}),
            json!([1, 2]),
            json!({"cmd": "query", "uid": "10001"}),
        ] {
            let e = parse(&bad).unwrap_err();
            assert_eq!(e.errno, "EINVAL", "{bad}");
        }
        let r = parse(&json!({"cmd": "trash", "paths": ["DCIM/a.jpg"], "uid": 10001})).unwrap();
        assert_eq!(r.uid, Some(10001));
    }
}
