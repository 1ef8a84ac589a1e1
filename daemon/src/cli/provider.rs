//! `query`, `changes`, `trash|untrash|favorite|unfavorite` and `maintain` (SPEC §11). The
//! options become the same JSON request the query socket takes and run through the same
//! executor (`crate::provider`). Lifecycle changes and `maintain` go through a running daemon's
//! query socket when there is one, so the daemon renames/deletes and keeps the FUSE view
//! consistent; without a daemon they work on the store and lower tree directly.

use super::{args, open_store, print_json, CliError};
use crate::provider::{self, Command, Ctx, ReqError};
use serde_json::{json, Map, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Commands this module answers.
pub const COMMANDS: &[&str] = &[
    "query",
    "changes",
    "trash",
    "untrash",
    "favorite",
    "unfavorite",
    "maintain",
];

pub fn run(cmd: &str, argv: &[String]) -> Result<(), CliError> {
    if cmd == "maintain" {
        return maintain(argv);
    }
    let (valued, switches): (&[&'static str], &[&'static str]) = match cmd {
        "query" => (
            &[
                "db",
                "uid",
                "collection",
                "path-prefix",
                "mime",
                "sort",
                "limit",
                "offset",
            ],
            &["include-pending", "include-trashed", "favorites", "desc"],
        ),
        "changes" => (&["db", "uid", "since"], &[]),
        _ => (&["db", "uid"], &[]),
    };
    let a = args::parse(argv, valued, switches)?;
    let db = a.require("db")?;
    let uid: u32 = a
        .number("uid")?
        .ok_or_else(|| CliError::usage("missing --uid"))?;
    let mut req = Map::new();
    req.insert("cmd".into(), json!(cmd));
    for k in valued.iter().filter(|k| !matches!(**k, "db" | "uid")) {
        if let Some(v) = a.get(k) {
            // Numbers are typed as the socket would see them; anything else is a string.
            let value = match *k {
                "limit" | "offset" | "since" => json!(v.parse::<u64>().map_err(|_| {
                    CliError::usage(format!("--{k}: '{v}' is not a non-negative number"))
                })?),
                _ => json!(v),
            };
            req.insert((*k).into(), value);
        }
    }
    for s in switches {
        if a.has(s) {
            req.insert((*s).into(), json!(true));
        }
    }
    if cmd == "query" || cmd == "changes" {
        a.no_positionals()?;
    } else {
        if a.positional.is_empty() {
            return Err(CliError::usage(format!("{cmd}: no path given")));
        }
        req.insert("paths".into(), json!(a.positional));
    }
    let mut parsed = provider::parse(&Value::Object(req.clone())).map_err(cli_error)?;
    parsed.uid = Some(uid);
    let store = open_store(db)?;
    if matches!(parsed.cmd, Command::Lifecycle { .. }) {
        req.insert("uid".into(), json!(uid));
        if let Some(lines) = via_daemon(db, &Value::Object(req))? {
            for l in lines.iter().filter(|l| l.get("end").is_none()) {
                print_json(l);
            }
            return Ok(());
        }
    }
    let caller = store.caller(uid)?;
    let lower = provider::recorded_lower(&store);
    let ctx = Ctx {
        store: &store,
        lower: lower.as_deref(),
        name_changed: &|_, _| {},
        moving: None,
    };
    let mut emit = |v: Value| print_json(&v);
    provider::execute(&ctx, &caller, &parsed, &mut emit, now()).map_err(cli_error)?;
    if !matches!(parsed.cmd, Command::Lifecycle { .. }) {
        print_json(&provider::end_line(&store));
    }
    Ok(())
}

fn maintain(argv: &[String]) -> Result<(), CliError> {
    let a = args::parse(argv, &["db", "lower", "now"], &[])?;
    a.no_positionals()?;
    let db = a.require("db")?;
    let lower = Path::new(a.require("lower")?);
    if !lower.is_dir() {
        return Err(CliError::usage(format!(
            "--lower: {} is not a directory",
            lower.display()
        )));
    }
    let now: i64 = a.number("now")?.unwrap_or_else(now);
    let store = open_store(db)?;
    if let Some(lines) = via_daemon(db, &json!({"cmd": "maintain", "now": now}))? {
        for l in lines.iter().filter(|l| l.get("end").is_none()) {
            print_json(l);
        }
        return Ok(());
    }
    let ctx = Ctx {
        store: &store,
        lower: Some(lower),
        name_changed: &|_, _| {},
        moving: None,
    };
    let m = provider::maintain(&ctx, lower, now).map_err(cli_error)?;
    print_json(&maintained_json(&m, now));
    Ok(())
}

pub fn maintained_json(m: &provider::Maintained, now: i64) -> Value {
    json!({"deleted": m.deleted, "kept_open": m.kept_open, "failed": m.failed, "now": now})
}

/// Sends one request to a running daemon's query socket and collects the answer lines up to
/// the end line. `Ok(None)`: no daemon is listening. A refusal is returned as the CLI error.
fn via_daemon(db: &str, req: &Value) -> Result<Option<Vec<Value>>, CliError> {
    let candidates = [
        provider::socket_path_for(Path::new(db)),
        Path::new(provider::DEVICE_QUERY_SOCKET).to_path_buf(),
    ];
    // The device socket only counts where it exists (a device); `<db>.query` on a host.
    let Some(stream) = candidates
        .iter()
        .filter(|p| cfg!(target_os = "android") || !p.starts_with("/dev/socket"))
        .find_map(|p| UnixStream::connect(p).ok())
    else {
        return Ok(None);
    };
    let timeout = Some(Duration::from_secs(60));
    let _ = stream.set_read_timeout(timeout);
    let _ = stream.set_write_timeout(timeout);
    let mut w = &stream;
    writeln!(w, "{req}").map_err(|e| CliError::failed(format!("query socket: {e}")))?;
    let mut lines = Vec::new();
    for line in BufReader::new(&stream).lines() {
        let line = line.map_err(|e| CliError::failed(format!("query socket: {e}")))?;
        let v: Value = serde_json::from_str(&line)
            .map_err(|_| CliError::failed("query socket: bad reply from the daemon"))?;
        if let Some(errno) = v.get("error").and_then(Value::as_str) {
            let message = v.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(cli_error(ReqError {
                errno: errno_static(errno),
                message: message.to_string(),
            }));
        }
        let end = v.get("end").is_some();
        lines.push(v);
        if end {
            return Ok(Some(lines));
        }
    }
    Err(CliError::failed(
        "query socket: the daemon closed the connection",
    ))
}

fn errno_static(name: &str) -> &'static str {
    match name {
        "EINVAL" => "EINVAL",
        "EACCES" => "EACCES",
        "ENOENT" => "ENOENT",
        "EEXIST" => "EEXIST",
        "EPERM" => "EPERM",
        _ => "EIO",
    }
}

/// Bad input exits 2; a refusal or a failure while working exits 1. One line either way.
fn cli_error(e: ReqError) -> CliError {
    let msg = format!("{}: {}", e.errno, e.message);
    if e.errno == "EINVAL" {
        CliError::usage(msg)
    } else {
        CliError::failed(msg)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
