//! The control socket between `app` commands and a running `serve`: one JSON request line,
//! one JSON reply line. The command commits to the store first, then asks the daemon to apply
//! the change (refresh identities, invalidate dentries, delete an uninstalled app's dirs) and
//! returns only once the daemon has answered, so the change holds for every later operation.

use serde_json::{json, Value};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What an `app` command asks of the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Identities or grants changed: drop cached callers and invalidate cached dentries.
    Refresh,
    /// A package was uninstalled: delete its app-specific directories, then refresh.
    Remove { package: String },
}

impl Request {
    pub fn to_json(&self) -> Value {
        match self {
            Request::Refresh => json!({"op": "refresh"}),
            Request::Remove { package } => json!({"op": "remove", "package": package}),
        }
    }

    pub fn from_json(v: &Value) -> Option<Request> {
        match v.get("op")?.as_str()? {
            "refresh" => Some(Request::Refresh),
            "remove" => Some(Request::Remove {
                package: v.get("package")?.as_str()?.to_string(),
            }),
            _ => None,
        }
    }
}

/// Sends `req` to the daemon listening at `socket`. `Ok(false)`: no daemon is running there.
pub fn send(socket: &Path, req: &Request) -> Result<bool, String> {
    let stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(false)
        }
        Err(e) => return Err(format!("control socket {}: {e}", socket.display())),
    };
    let timeout = Some(Duration::from_secs(30));
    let _ = stream.set_read_timeout(timeout);
    let _ = stream.set_write_timeout(timeout);
    let mut w = &stream;
    writeln!(w, "{}", req.to_json()).map_err(|e| format!("control socket: {e}"))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(|e| format!("control socket: no answer from the daemon: {e}"))?;
    let reply: Value =
        serde_json::from_str(&line).map_err(|_| "control socket: bad reply".to_string())?;
    if reply.get("ok").and_then(Value::as_bool) == Some(true) {
        Ok(true)
    } else {
        Err(format!(
            "daemon refused: {}",
            reply
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
        ))
    }
}

/// Where `serve` puts its socket: next to the store (outside the lower tree), or in /tmp when
/// that path is too long for a unix socket address.
pub fn socket_path_for(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".ctl");
    let p = PathBuf::from(p);
    if p.as_os_str().len() < 100 {
        p
    } else {
        std::env::temp_dir().join(format!("mediaproviderd-{}.ctl", std::process::id()))
    }
}

/// Binds the socket (replacing a stale one from a killed daemon), root/owner only.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    bind_with_mode(path, 0o600)
}

/// Binds a listening socket at `path` with `mode`: bound under a temporary name, given its
/// mode, then renamed into place, so it never appears under its real name with the umask's
/// mode (a peer or a check could see it in between).
pub fn bind_with_mode(path: &Path, mode: u32) -> io::Result<UnixListener> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp)?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(listener)
}

/// Serves requests until the listener fails; `handle` applies one request.
pub fn serve(listener: UnixListener, handle: impl Fn(&Request) -> Result<(), String>) {
    for conn in listener.incoming() {
        let Ok(stream) = conn else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_err() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(&line)
            .ok()
            .as_ref()
            .and_then(Request::from_json)
        {
            Some(req) => match handle(&req) {
                Ok(()) => json!({"ok": true}),
                Err(e) => json!({"ok": false, "error": e}),
            },
            None => json!({"ok": false, "error": "bad request"}),
        };
        let mut w = &stream;
        let _ = writeln!(w, "{reply}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_over_a_socket() {
        let p = std::env::temp_dir().join(format!("mpd-ctl-test-{}.ctl", std::process::id()));
        assert_eq!(send(&p, &Request::Refresh), Ok(false));
        let l = bind(&p).unwrap();
        std::thread::spawn(move || {
            serve(l, |r| match r {
                Request::Refresh => Ok(()),
                Request::Remove { .. } => Err("nope".into()),
            })
        });
        assert_eq!(send(&p, &Request::Refresh), Ok(true));
        assert!(send(
            &p,
            &Request::Remove {
                package: "x".into()
            }
        )
        .is_err());
        let _ = std::fs::remove_file(&p);
    }
}
